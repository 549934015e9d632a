// SPDX-License-Identifier: MIT
/* The VM's NICs: one netvsp device per vm_nic_config (docs/netvsp.md,
 * docs/vmwp.md). Where the TAP comes from:
 *   - vmms mode: every NIC with a "tap" name arrives with its fd (common/
 *     proto.h, in NIC order); the worker adopts it and needs no privilege;
 *   - vmwp --config: a NIC with a "tap" name opens that existing TAP, one
 *     without creates a TAP (CAP_NET_ADMIN) and attaches it to "bridge".
 * The server owns each NIC once added (provider destroy frees it). */
#include <errno.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "common/macro.h"
#include "netvsp/provider.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vm-net.h"
#include "vmbus/server.h"
#include "vmwp/sandbox.h"
#include "netvsp/netvsp.h"

/* What netvsp's threads call once the worker is sandboxed (docs/sandbox.md):
 * OPENCHANNEL (a VP thread) makes the channel's device worker (an epoll set
 * and its kick eventfd) and starts its thread; the thread waits in
 * epoll_wait, reads the link watch (poll, recvmsg) and, after lost link
 * notifications (ENOBUFS), asks the kernel again over a fresh NETLINK_ROUTE
 * socket (tap-link.c refresh(): socket, setsockopt for libnl's buffer
 * sizes, bind, getsockname, sendmsg, recvmsg). TAP I/O is readv/writev
 * (base). Only netlink sockets: socket() is allowed for AF_NETLINK alone.
 * The first resume after a restore adds the announce timer on the thread
 * (a timerfd, re-armed for each RARP: docs/netvsp.md "Saved state"). A
 * sub-channel's thread attaches its TAP queue when it starts and detaches
 * it when it ends (TUNSETQUEUE: vRSS, docs/netvsp.md). */
static const struct sandbox_rule netvsp_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_create1), SANDBOX_ALLOW(__NR_epoll_ctl), SANDBOX_ALLOW(__NR_epoll_wait),
        SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_eventfd2), SANDBOX_ALLOW(__NR_poll),
        SANDBOX_ALLOW(__NR_ppoll), SANDBOX_ALLOW(__NR_recvmsg), SANDBOX_ALLOW(__NR_recvfrom),
        SANDBOX_ALLOW(__NR_sendmsg), SANDBOX_ALLOW(__NR_sendto), SANDBOX_ALLOW_ARG(__NR_socket, 0, AF_NETLINK),
        SANDBOX_ALLOW(__NR_bind), SANDBOX_ALLOW(__NR_setsockopt), SANDBOX_ALLOW(__NR_getsockopt),
        SANDBOX_ALLOW(__NR_getsockname), SANDBOX_ALLOW(__NR_timerfd_create), SANDBOX_ALLOW(__NR_timerfd_settime),
        SANDBOX_IOCTL(TUNSETQUEUE),
};

static const struct sandbox_policy netvsp_policy = {
        .name = "netvsp", .rules = netvsp_rules, .n_rules = ARRAY_SIZE(netvsp_rules),
};

static int map_guest(void *opaque, uint64_t gpa, size_t len, void **host) {
        return gm_map(opaque, gpa, len, host);
}

/* What the worker can be told to do about a failed TAP, for the message. */
static const char *hint(int r, const struct netvsp_nic_config *nc) {
        if (nc->tap_fd >= 0)
                return "";
        if (r == -EPERM || r == -EACCES)
                return " (needs CAP_NET_ADMIN; or let vmms pass the TAP)";
        if (r == -ENODEV && !nc->tap.create)
                return " (no such TAP: create it first, or leave \"tap\" empty to have one created)";
        if (r == -ENODEV && nc->tap.bridge[0])
                return " (does the bridge exist?)";
        return "";
}

/* Each NIC's row of the device table (docs/vm-state.md): quiesce parks its
 * channel worker (no ring read, guest RAM write, interrupt or TAP read).
 * Everything the guest sees of a NIC is its channel's (section NVCH,
 * through the VMBus server's row): the row saves nothing of its own, and
 * its restore leaves the NIC quiesced for the first resume. */
static int nic_row_quiesce(void *dev) {
        return netvsp_nic_quiesce(dev);
}

static void nic_row_resume(void *dev) {
        netvsp_nic_resume(dev);
}

static int nic_row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return 0;
}

static int nic_row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return netvsp_nic_restored(dev);
}

static const uint32_t nic_tags[] = { NETVSP_STATE_TAG, 0 };

static const struct vmwp_device_ops nic_row = {
        .name = "netvsp", .quiesce = nic_row_quiesce, .resume = nic_row_resume,
        .save = nic_row_save, .restore = nic_row_restore, .tags = nic_tags,
};

static int add_nic(struct vmwp_vm *vm, uint32_t i, const int *fds, uint32_t n_fds, char *err, size_t errlen) {
        const struct vm_nic_config *c = &vm->cfg.nics[i];
        int fd = n_fds ? fds[0] : -1;
        struct netvsp_nic_config nc = { .tap_fd = fd, .gm = { map_guest, vm->p } };
        for (uint32_t k = 1; k < n_fds; k++) /* the TAP's other queues (vRSS) */
                nc.queue_fds[nc.n_queue_fds++] = fds[k];
        if (vm->sandbox) { /* each channel thread narrows itself to "netvsp" */
                nc.thread_policy = sandbox_thread_hook;
                nc.thread_policy_opaque = vm->sandbox;
        }
        int r = netvsp_config_from_vm_nic(c, &nc.dev, &nc.tap);
        nc.dev.queues = vm_nic_queues(c, vm->cfg.vcpus);
        if (r < 0) {
                for (uint32_t k = 0; k < n_fds; k++)
                        safe_close(fds[k]);
                snprintf(err, errlen, "nics[%u]: MAC/MTU not usable for a synthetic NIC", i);
                return r;
        }
        struct netvsp_nic *nic;
        const char *why = "";
        r = netvsp_nic_new(&nc, &nic, &why); /* takes the fd, also on failure */
        if (r < 0 && fd >= 0) {
                snprintf(err, errlen, "nics[%u]: %s (%s): %s", i, why, c->tap, strerror(-r));
                return r;
        }
        if (r < 0) {
                snprintf(err, errlen, "nics[%u]: %s %s%s%s: %s%s", i, why, nc.tap.name[0] ? nc.tap.name : "vmtap%d",
                         nc.tap.bridge[0] ? " on bridge " : "", nc.tap.bridge, strerror(-r), hint(r, &nc));
                return r;
        }
        struct vmbus_device_config dc = { .ops = &netvsp_provider_ops, .instance_id = c->instance, .data = nic };
        struct vmbus_device *dev;
        r = vmbus_server_add_device(vm->vmbus, &dc, &dev);
        if (r < 0) {
                netvsp_nic_free(nic);
                return errorf(err, errlen, r, "nics[%u]: adding the VMBus device: %s", i, strerror(-r));
        }
        /* after the server's row: quiesced before it (reverse order) */
        if ((r = vmwp_devices_add(&vm->devices, &nic_row, nic)) < 0)
                return errorf(err, errlen, r, "nics[%u]: the device table: %s", i, strerror(-r));
        return 0;
}

int vmwp_vm_add_nics(struct vmwp_vm *vm, char *err, size_t errlen) {
        size_t next_fd = 0;
        if (vm->cfg.n_nics > 0 && vm->sandbox) {
                int r = sandbox_register_policy(vm->sandbox, &netvsp_policy);
                if (r < 0)
                        return snprintf(err, errlen, "sandbox: netvsp policy: %s", strerror(-r)), r;
        }
        for (uint32_t i = 0; i < vm->cfg.n_nics; i++) {
                int fds[NETVSP_MAX_QUEUES];
                uint32_t n = 0;
                /* vmms passes each NIC that has a "tap" its queues' fds
                 * (n_nic_queues, one without), in NIC order */
                uint32_t want = vm->n_nic_queues[i] ? vm->n_nic_queues[i] : 1;
                while (vm->cfg.nics[i].tap[0] && n < want && n < NETVSP_MAX_QUEUES && next_fd < vm->n_tap_fds) {
                        fds[n++] = vm->tap_fds[next_fd];
                        vm->tap_fds[next_fd++] = -1; /* the NIC owns it now */
                }
                int r = add_nic(vm, i, fds, n, err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}
