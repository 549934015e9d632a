// SPDX-License-Identifier: MIT
/* TAP devices for a VM's NICs. vmms creates them (it is privileged; the
 * worker will be sandboxed) and hands the open queue fds to the worker. A TAP
 * that is not persistent lives exactly as long as an fd to it is open, so a
 * VM's TAPs go away with its worker and survive a vmms restart. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/rss-steer.h"
#include "core/daemon.h"
#include "host/host.h"

/* "vt" + 8 hex digits of the VM id + NIC index: unique per VM and NIC, within
 * IFNAMSIZ, and recognisable in `ip link`. */
static void tap_default_name(const struct guid *id, unsigned index, char *ifname) {
        snprintf(ifname, IFNAMSIZ, "vt%02x%02x%02x%02x%u", id->b[3], id->b[2], id->b[1], id->b[0], index);
}

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        return ioctl(s, req, ifr) < 0 ? -errno : 0;
}

/* A NIC added to a running VM (hotplug.c) cannot take its index's name:
 * after a removal the later NICs keep their TAPs, and names, while their
 * indices move down. The first name from index on that no interface has;
 * at the next start each NIC gets its index's again. */
int vmms_tap_free_name(const struct guid *id, unsigned index, char *ifname) {
        for (unsigned k = index; k <= index + 2 * VM_NICS_MAX; k++) {
                struct ifreq ifr = { 0 };
                tap_default_name(id, k, ifr.ifr_name);
                int r = ifreq_ioctl(SIOCGIFINDEX, &ifr);
                if (r == -ENODEV) {
                        snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        return -EADDRINUSE;
}

/* The host side's MAC: FE and the guest's last five bytes, as libvirt does.
 * Stable, so that a TAP created again for the same NIC (the next start, a
 * resume from the Saved state, a reboot) has the address the last one had:
 * a bridge takes the lowest MAC of its ports as its own unless one was set,
 * and a bridge whose address changed is not reached by a guest that cached
 * the old one (its ARP entry stays valid for a while). FE is high, so a
 * physical port's MAC stays the bridge's. */
static int tap_set_mac(const struct vm_nic_config *nic, const char *ifname) {
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
        ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
        ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
        memcpy(ifr.ifr_hwaddr.sa_data + 1, nic->mac + 1, 5);
        return ifreq_ioctl(SIOCSIFHWADDR, &ifr);
}

static int tap_configure(const struct vm_nic_config *nic, const char *ifname, char *err, size_t errlen) {
        struct ifreq ifr = { 0 };
        int r;
        if ((r = tap_set_mac(nic, ifname)) < 0) {
                snprintf(err, errlen, "%s: cannot set its MAC address: %s", ifname, strerror(-r));
                return r;
        }
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
        ifr.ifr_mtu = (int)nic->mtu;
        if ((r = ifreq_ioctl(SIOCSIFMTU, &ifr)) < 0) {
                snprintf(err, errlen, "%s: cannot set MTU %u: %s", ifname, nic->mtu, strerror(-r));
                return r;
        }
        if (nic->bridge[0]) {
                struct ifreq br = { 0 }, idx = { 0 };
                snprintf(idx.ifr_name, IFNAMSIZ, "%s", ifname);
                snprintf(br.ifr_name, IFNAMSIZ, "%s", nic->bridge);
                if ((r = ifreq_ioctl(SIOCGIFINDEX, &idx)) >= 0) {
                        br.ifr_ifindex = idx.ifr_ifindex;
                        r = ifreq_ioctl(SIOCBRADDIF, &br);
                }
                if (r < 0) {
                        snprintf(err, errlen, "%s: cannot attach to bridge %s: %s", ifname, nic->bridge,
                                 strerror(-r));
                        return r;
                }
        }
        if ((r = ifreq_ioctl(SIOCGIFFLAGS, &ifr)) < 0)
                return r;
        ifr.ifr_flags |= IFF_UP;
        if ((r = ifreq_ioctl(SIOCSIFFLAGS, &ifr)) < 0) {
                snprintf(err, errlen, "%s: cannot bring the interface up: %s", ifname, strerror(-r));
                return r;
        }
        return 0;
}

/* TUNSETIFF on a new /dev/net/tun fd: one queue of the TAP ifr names. */
static int tun_queue(struct ifreq *ifr) {
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || ioctl(fd, TUNSETIFF, ifr) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int vmms_tap_open(const struct vm_nic_config *nic, const struct guid *id, unsigned index, uint32_t queues, int *fds,
                  int *steer_fd, char *ifname, char *err, size_t errlen) {
        struct ifreq ifr = { 0 };
        *steer_fd = -1;
        /* Ethernet frames with a virtio-net header and no packet-info
         * prefix: the header carries checksum and segmentation offload
         * between the guest's netvsc and the host stack (netvsp finds the
         * flag on the fd; documented in common/proto.h). More than one
         * queue: a multi-queue TAP, one fd per channel (vRSS). */
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
        if (nic->tap[0])
                snprintf(ifr.ifr_name, IFNAMSIZ, "%s", nic->tap);
        else
                tap_default_name(id, index, ifr.ifr_name);
        struct ifreq probe = ifr;
        bool existed = nic->tap[0] && ifreq_ioctl(SIOCGIFINDEX, &probe) == 0;
        int fd = tun_queue(&ifr);
        if (fd == -EINVAL && existed && queues > 1) { /* the admin's TAP is not multi_queue: one queue */
                ifr.ifr_flags &= ~IFF_MULTI_QUEUE;
                queues = 1;
                fd = tun_queue(&ifr);
        }
        if (fd == -EBUSY && !nic->tap[0]) {
                /* Our own name, held by another process: a second vmms on
                 * this host taking this VM in a migration while the source's
                 * worker still has it. The next name no interface has. */
                char busy[IFNAMSIZ];
                snprintf(busy, sizeof busy, "%s", ifr.ifr_name);
                if (vmms_tap_free_name(id, index, ifr.ifr_name) == 0 && (fd = tun_queue(&ifr)) >= 0)
                        log_notice("nics[%u]: TAP %s is in use by another process; this one is %s", index, busy,
                                   ifr.ifr_name);
        }
        if (fd < 0) {
                snprintf(err, errlen, "nics[%u]: cannot create TAP %s: %s", index, ifr.ifr_name, strerror(-fd));
                return fd;
        }
        fds[0] = fd;
        uint32_t n = 1;
        int r = 0;
        for (; n < queues && r >= 0; n++)
                if ((r = fds[n] = tun_queue(&ifr)) < 0)
                        snprintf(err, errlen, "nics[%u]: TAP %s, queue %u: %s", index, ifr.ifr_name, n, strerror(-r));
        snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
        /* A pre-created TAP ("tap" in the configuration, present before we
         * attached) is the admin's: its MTU, bridge and link state are left
         * as they are. One we created, under its configured name or ours,
         * is configured and brought up. */
        if (r >= 0 && !existed)
                r = tap_configure(nic, ifname, err, errlen);
        if (r < 0) {
                for (uint32_t k = 0; k < n; k++)
                        if (fds[k] >= 0)
                                safe_close(fds[k]);
                return r;
        }
        /* the guest's RSS table decides which queue a frame for it takes
         * (docs/netvsp.md "vRSS", step 7); without the program tun's flow
         * table does, which follows the channel each flow was sent on */
        char why[256];
        int m = n > 1 ? rss_steer_attach(fds[0], why, sizeof why) : -1;
        if (m >= 0)
                *steer_fd = m;
        else if (n > 1)
                log_notice("nics[%u]: TAP %s: %s; flows follow the channel they were sent on instead", index, ifname,
                           why);
        return (int)n;
}
