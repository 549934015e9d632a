// SPDX-License-Identifier: MIT
/* TAP file descriptor, link setup with libnl-route, non-blocking frame I/O
 * (see netvsp/tap.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "netvsp/netvsp.h"
#include "tap-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put);

int tap_nl_errno(int nle) {
        switch (nle < 0 ? -nle : nle) {
        case 0: return 0;
        case NLE_PERM: return -EPERM;
        case NLE_NOMEM: return -ENOMEM;
        case NLE_EXIST: return -EEXIST;
        case NLE_INVAL: return -EINVAL;
        case NLE_RANGE: return -ERANGE;
        case NLE_BUSY: return -EBUSY;
        case NLE_AGAIN: return -EAGAIN;
        case NLE_NODEV:
        case NLE_OBJ_NOTFOUND: return -ENODEV;
        case NLE_OPNOTSUPP: return -EOPNOTSUPP;
        default: return -EIO;
        }
}

int tap_nl_connect(struct nl_sock **out) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        int r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return tap_nl_errno(r);
        *out = TAKE_PTR(sk);
        return 0;
}

/* Checksummed, unsegmented frames from the kernel until the guest takes
 * coalesced frames (tap_set_rx_gso); our writes may carry them anyway. */
static int tun_configure(int fd, bool vnet_hdr) {
        int hdr = TAP_VNET_HDR_LEN;
        if (vnet_hdr && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
                return negative_errno();
        if (ioctl(fd, TUNSETOFFLOAD, 0u) < 0)
                return negative_errno();
        return fd_set_nonblock(fd, true);
}

static int tun_attach(const char *name, bool multi_queue, int *fd_out, char name_out[TAP_IFNAME_MAX]) {
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0) };
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name[0] ? name : "vmtap%d");
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return negative_errno();
        snprintf(name_out, TAP_IFNAME_MAX, "%s", ifr.ifr_name);
        *fd_out = TAKE_FD(fd);
        return 0;
}

/* MAC, MTU, master bridge and IFF_UP in one RTM_NEWLINK change. */
static int link_setup(struct tap *t, uint32_t mtu, const char *bridge, const uint8_t *mac) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL, *change = NULL, *br = NULL;
        int r = tap_nl_connect(&sk);
        if (r < 0)
                return r;
        r = rtnl_link_get_kernel(sk, 0, t->name, &link);
        if (r < 0)
                return tap_nl_errno(r);
        t->ifindex = rtnl_link_get_ifindex(link);
        change = rtnl_link_alloc();
        if (!change)
                return -ENOMEM;
        if (mtu)
                rtnl_link_set_mtu(change, mtu);
        if (mac) {
                _cleanup_(nl_addr_putp) struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
                if (!a)
                        return -ENOMEM;
                rtnl_link_set_addr(change, a);
        }
        if (bridge && bridge[0]) {
                r = rtnl_link_get_kernel(sk, 0, bridge, &br);
                if (r < 0)
                        return tap_nl_errno(r);
                rtnl_link_set_master(change, rtnl_link_get_ifindex(br));
        }
        rtnl_link_set_flags(change, IFF_UP);
        return tap_nl_errno(rtnl_link_change(sk, link, change, 0));
}

static struct tap *tap_new(int fd, const char *name, bool vnet_hdr, bool multi_queue) {
        struct tap *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->fd = fd;
        t->vnet_hdr = vnet_hdr;
        t->multi_queue = multi_queue;
        pthread_mutex_init(&t->link_lock, NULL);
        snprintf(t->name, sizeof t->name, "%s", name);
        return t;
}

int tap_open(const struct tap_config *cfg, struct tap **out) {
        _cleanup_close_ int fd = -1;
        _cleanup_tap_close_ struct tap *t = NULL;
        char name[TAP_IFNAME_MAX];
        int r;

        if (!cfg || !out || (!cfg->create && !cfg->name[0]) || (cfg->mtu && (cfg->mtu < 68 || cfg->mtu > 65521)))
                return -EINVAL;
        if (!cfg->create && if_nametoindex(cfg->name) == 0)
                return -ENODEV; /* TUNSETIFF would silently create it */
        r = tun_attach(cfg->name, cfg->queues > 1, &fd, name);
        if (r < 0)
                return log_debug_errno(r, "tap %s: TUNSETIFF: %m", cfg->name);
        r = tun_configure(fd, true);
        if (r < 0)
                return r;
        t = tap_new(fd, name, true, cfg->queues > 1);
        if (!t)
                return -ENOMEM;
        fd = -1;
        r = link_setup(t, cfg->mtu, cfg->bridge, cfg->create && cfg->set_mac ? cfg->mac : NULL);
        if (r < 0)
                return log_debug_errno(r, "tap %s: link setup: %m", name);
        *out = TAKE_PTR(t);
        return 0;
}

/* The interface index by name over rtnetlink (0 if unknown), rather than
 * if_nametoindex(), whose ioctl socket a worker that adopts a TAP while
 * the VM runs (NIC hot add, docs/netvsp.md) may not create: its sandbox
 * allows netlink sockets only (docs/sandbox.md). */
static int lookup_ifindex(const char *name) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        if (tap_nl_connect(&sk) < 0 || rtnl_link_get_kernel(sk, 0, name, &link) < 0)
                return 0;
        return rtnl_link_get_ifindex(link);
}

int tap_adopt_fd(int fd, struct tap **out) {
        struct ifreq ifr = { 0 };
        struct tap *t;
        int r;

        if (fd < 0 || !out)
                return -EINVAL;
        if (ioctl(fd, TUNGETIFF, &ifr) < 0)
                return negative_errno();
        if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI)) != (IFF_TAP | IFF_NO_PI))
                return -EINVAL;
        bool vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
        r = tun_configure(fd, vnet_hdr);
        if (r < 0)
                return r;
        t = tap_new(fd, ifr.ifr_name, vnet_hdr, ifr.ifr_flags & IFF_MULTI_QUEUE);
        if (!t)
                return -ENOMEM;
        t->ifindex = lookup_ifindex(t->name);
        *out = t;
        return 0;
}

int tap_open_queue(const struct tap *first, struct tap **out) {
        _cleanup_close_ int fd = -1;
        char name[TAP_IFNAME_MAX];
        if (!first || !out || !first->multi_queue)
                return -EINVAL;
        int r = tun_attach(first->name, true, &fd, name);
        if (r < 0)
                return log_debug_errno(r, "tap %s: another queue: %m", first->name);
        r = tun_configure(fd, true);
        if (r < 0)
                return r;
        struct tap *t = tap_new(fd, name, true, true);
        if (!t)
                return -ENOMEM;
        fd = -1;
        t->ifindex = first->ifindex;
        *out = t;
        return 0;
}

int tap_set_queue(struct tap *t, bool attach) {
        struct ifreq ifr = { .ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };
        if (!t->multi_queue)
                return -EINVAL;
        return ioctl(t->fd, TUNSETQUEUE, &ifr) < 0 ? negative_errno() : 0;
}

bool tap_multi_queue(const struct tap *t) {
        return t->multi_queue;
}

void tap_close(struct tap *t) {
        if (!t)
                return;
        if (t->mon)
                nl_socket_free(t->mon);
        safe_close(t->fd);
        pthread_mutex_destroy(&t->link_lock);
        free(t);
}

int tap_fd(const struct tap *t) {
        return t->fd;
}
const char *tap_name(const struct tap *t) {
        return t->name;
}
int tap_ifindex(const struct tap *t) {
        return t->ifindex;
}
bool tap_removed(const struct tap *t) {
        return atomic_load_explicit(&t->gone, memory_order_relaxed);
}
bool tap_has_vnet_hdr(const struct tap *t) {
        return t->vnet_hdr;
}

/* A tun file whose device was deleted answers EBADFD (tun_get() fails). */
static int io_errno(struct tap *t) {
        int e = errno;
        if (e == EBADFD || e == ENODEV || e == ENXIO) {
                tap_mark_removed(t);
                return -ENODEV;
        }
        return e == EWOULDBLOCK ? -EAGAIN : -e;
}

/* Without IFF_VNET_HDR the kernel neither reads nor writes the header:
 * skip iov[0] (the caller's TAP_VNET_HDR_LEN bytes) and account for it. */
static bool vnet_iov_ok(const struct iovec *iov, int n) {
        return n >= 2 && iov[0].iov_len == TAP_VNET_HDR_LEN;
}

ssize_t tap_readv(struct tap *t, const struct iovec *iov, int n) {
        if (tap_removed(t))
                return -ENODEV;
        if (!t->vnet_hdr && !vnet_iov_ok(iov, n))
                return -EINVAL;
        for (;;) {
                ssize_t r = t->vnet_hdr ? readv(t->fd, iov, n) : readv(t->fd, iov + 1, n - 1);
                if (r >= 0 && !t->vnet_hdr) {
                        memset(iov[0].iov_base, 0, TAP_VNET_HDR_LEN); /* nothing to do for the reader */
                        return r + TAP_VNET_HDR_LEN;
                }
                if (r >= 0)
                        return r;
                if (errno != EINTR)
                        return io_errno(t);
        }
}

int tap_set_rx_gso(struct tap *t, bool tcp4, bool tcp6) {
        unsigned off = tcp4 || tcp6 ? TUN_F_CSUM | TUN_F_TSO_ECN : 0u;
        off |= (tcp4 ? TUN_F_TSO4 : 0u) | (tcp6 ? TUN_F_TSO6 : 0u);
        if (tap_removed(t))
                return -ENODEV;
        if (!t->vnet_hdr)
                return off ? -EOPNOTSUPP : 0;
        return ioctl(t->fd, TUNSETOFFLOAD, off) < 0 ? negative_errno() : 0;
}

int tap_writev(struct tap *t, const struct iovec *iov, int n) {
        if (tap_removed(t))
                return -ENODEV;
        if (!t->vnet_hdr && !vnet_iov_ok(iov, n))
                return -EINVAL;
        /* flags and gso_type: a checksum or GSO request this TAP cannot pass
         * on would leave the frame corrupt: refuse it (counted as dropped). */
        if (!t->vnet_hdr && (((const uint8_t *)iov[0].iov_base)[0] || ((const uint8_t *)iov[0].iov_base)[1]))
                return -EOPNOTSUPP;
        for (;;) {
                ssize_t r = t->vnet_hdr ? writev(t->fd, iov, n) : writev(t->fd, iov + 1, n - 1);
                if (r >= 0)
                        return 0; /* tun takes a frame whole or not at all */
                if (errno != EINTR)
                        return io_errno(t);
        }
}

/* The TAP as a netvsp backend. */
static int tap_backend_tx(void *be, const struct iovec *iov, int n) {
        return tap_writev(be, iov, n);
}
static ssize_t tap_backend_rx(void *be, const struct iovec *iov, int n) {
        return tap_readv(be, iov, n);
}
static int tap_backend_set_rx_gso(void *be, unsigned gso) {
        return tap_set_rx_gso(be, gso & NETVSP_BE_GSO_TCPV4, gso & NETVSP_BE_GSO_TCPV6);
}
const struct netvsp_backend_ops netvsp_tap_backend = {
        .tx = tap_backend_tx, .rx = tap_backend_rx, .set_rx_gso = tap_backend_set_rx_gso,
};
