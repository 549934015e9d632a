// SPDX-License-Identifier: MIT
/* The VM's NICs: one netvsp device per vm_nic_config (docs/netvsp.md,
 * docs/vmwp.md). Where the TAP comes from:
 *   - vmms mode: every NIC with a "tap" name arrives with its fd (common/
 *     proto.h, in NIC order); the worker adopts it and needs no privilege;
 *   - vmwp --config: a NIC with a "tap" name opens that existing TAP, one
 *     without creates a TAP (CAP_NET_ADMIN) and attaches it to "bridge".
 * The server owns each NIC once added (provider destroy frees it). */
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/rss-steer.h"
#include "netvsp/provider.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vm-net.h"
#include "vmbus/server.h"
#include "vmwp/control.h"
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
 * it when it ends (TUNSETQUEUE: vRSS, docs/netvsp.md). The primary's thread
 * switches the TAP's receive offloads when the guest turns RSC on or off
 * (TUNSETOFFLOAD: docs/netvsp.md "Receive segment coalescing"). */
static const struct sandbox_rule netvsp_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_create1), SANDBOX_ALLOW(__NR_epoll_ctl), SANDBOX_ALLOW(__NR_epoll_wait),
        SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_eventfd2), SANDBOX_ALLOW(__NR_poll),
        SANDBOX_ALLOW(__NR_ppoll), SANDBOX_ALLOW(__NR_recvmsg), SANDBOX_ALLOW(__NR_recvfrom),
        SANDBOX_ALLOW(__NR_sendmsg), SANDBOX_ALLOW(__NR_sendto), SANDBOX_ALLOW_ARG(__NR_socket, 0, AF_NETLINK),
        SANDBOX_ALLOW(__NR_bind), SANDBOX_ALLOW(__NR_setsockopt), SANDBOX_ALLOW(__NR_getsockopt),
        SANDBOX_ALLOW(__NR_getsockname), SANDBOX_ALLOW(__NR_timerfd_create), SANDBOX_ALLOW(__NR_timerfd_settime),
        SANDBOX_IOCTL(TUNSETQUEUE), SANDBOX_IOCTL(TUNSETOFFLOAD),
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

/* NIC i of configuration entry c on its TAP fds (taken; none: opened or
 * created by name) and its RSS steering map (taken; -1: none), offered (at
 * once when the guest asked for offers: a hot add) and recorded in
 * vm->nic. */
static int add_nic(struct vmwp_vm *vm, uint32_t i, const struct vm_nic_config *c, const int *fds, uint32_t n_fds,
                   int steer_fd, char *err, size_t errlen) {
        int fd = n_fds ? fds[0] : -1;
        struct netvsp_nic_config nc = { .tap_fd = fd, .gm = { map_guest, vm->p } };
        if (steer_fd >= 0) { /* a mapping of the map: the fd is not needed after this */
                int r = rss_steer_mmap(steer_fd, &nc.steer);
                if (r < 0)
                        log_warning_errno(r, "nics[%u]: mapping the RSS steering map: %m; frames for the guest all "
                                          "arrive on the primary channel (the program vmms attached reads a map "
                                          "nobody fills)", i);
                safe_close(steer_fd);
        }
        for (uint32_t k = 1; k < n_fds; k++) /* the TAP's other queues (vRSS) */
                nc.queue_fds[nc.n_queue_fds++] = fds[k];
        if (vm->sandbox) { /* each channel thread narrows itself to "netvsp" */
                nc.thread_policy = sandbox_thread_hook;
                nc.thread_policy_opaque = vm->sandbox;
        }
        int r = netvsp_config_from_vm_nic(c, &nc.dev, &nc.tap);
        nc.dev.queues = vm_nic_queues(c, vm->cfg.vcpus);
        nc.max_in_bps = c->qos.max_in_bps; /* checked by vm_config_parse */
        nc.max_out_bps = c->qos.max_out_bps;
        if (r < 0) {
                for (uint32_t k = 0; k < n_fds; k++)
                        safe_close(fds[k]);
                rss_steer_munmap(nc.steer);
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
        /* after the server's row: quiesced before it (reverse order); the
         * row first, so that nothing can fail once the server owns nic */
        if ((r = vmwp_devices_add(&vm->devices, &netvsp_nic_device_ops, nic)) < 0) {
                netvsp_nic_free(nic);
                return errorf(err, errlen, r, "nics[%u]: the device table: %s", i, strerror(-r));
        }
        struct vmbus_device_config dc = { .ops = &netvsp_provider_ops, .instance_id = c->instance, .data = nic };
        struct vmbus_device *dev;
        r = vmbus_server_add_device(vm->vmbus, &dc, &dev);
        if (r < 0) {
                vmwp_devices_remove(&vm->devices, nic);
                netvsp_nic_free(nic);
                return errorf(err, errlen, r, "nics[%u]: adding the VMBus device: %s", i, strerror(-r));
        }
        vm->nic[i] = nic;
        vm->nic_dev[i] = dev;
        return 0;
}

int vmwp_vm_add_nics(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        size_t next_fd = 0;
        if ((vm->cfg.n_nics > 0 || vm->hotplug_nics) && vm->sandbox) {
                int r = sandbox_register_policy(vm->sandbox, &netvsp_policy);
                if (r < 0)
                        return snprintf(err, errlen, "sandbox: netvsp policy: %s", strerror(-r)), r;
                vm->netvsp_policy = true;
        }
        for (uint32_t i = 0; i < vm->cfg.n_nics; i++) {
                int fds[NETVSP_MAX_QUEUES], steer = -1;
                uint32_t n = 0;
                /* vmms passes each NIC that has a "tap" its queues' fds
                 * (n_nic_queues, one without), in NIC order, each NIC's
                 * RSS steering map after its queues (nic_steer) */
                uint32_t want = vm->n_nic_queues[i] ? vm->n_nic_queues[i] : 1;
                while (vm->cfg.nics[i].tap[0] && n < want && n < NETVSP_MAX_QUEUES && next_fd < vm->n_tap_fds) {
                        fds[n++] = vm->tap_fds[next_fd];
                        vm->tap_fds[next_fd++] = -1; /* the NIC owns it now */
                }
                if (vm->nic_steer[i] && next_fd < vm->n_tap_fds) {
                        steer = vm->tap_fds[next_fd];
                        vm->tap_fds[next_fd++] = -1;
                }
                int r = add_nic(vm, i, &vm->cfg.nics[i], fds, n, steer, err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- hot plug (docs/netvsp.md "Hot add and remove") ---- */

int vmwp_vm_nic_attach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, const int *fds, struct json_object *rep,
                       char *err, size_t errlen) {
        uint32_t i = req->index;
        int r = 0;
        /* Policies join the sandbox only before it is entered, and a VM
         * started without NICs runs in a network namespace of its own, where
         * the TAP's link cannot be watched (docs/sandbox.md). */
        if (vm->sandbox && !vm->netvsp_policy)
                r = errorf(err, errlen, -EOPNOTSUPP,
                           "the VM was started without NICs and without \"hot_plug\" \"nics\": its sandbox has no "
                           "network access and no policy for netvsp's threads; add the NIC while it is off");
        else if (i != vm->cfg.n_nics || i >= VM_NICS_MAX)
                r = errorf(err, errlen, -EINVAL, "nics[%u]: not the next NIC", i);
        if (r < 0) {
                for (uint32_t k = 0; k < req->queues + req->steer; k++)
                        safe_close(fds[k]);
                return r;
        }
        if ((r = add_nic(vm, i, &req->nic, fds, req->queues, req->steer ? fds[req->queues] : -1, err, errlen)) < 0)
                return r;
        vm->cfg.nics[i] = req->nic;
        vm->n_nic_queues[i] = (uint8_t)req->queues;
        vm->cfg.n_nics++;
        char s[GUID_STRING_MAX];
        json_object_object_add(rep, "nic", json_object_new_int64(i));
        json_object_object_add(rep, "instance", json_object_new_string(guid_to_string(&req->nic.instance, s)));
        return 0;
}

/* The NIC's device is removed (its open channels closed, the offer
 * rescinded: netvsc removes the interface), its TAP fds closed, and the
 * later NICs move down one index, as in vmms's configuration. */
int vmwp_vm_nic_detach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, struct json_object *rep, char *err,
                       size_t errlen) {
        uint32_t i = req->index;
        if (i >= vm->cfg.n_nics || !vm->nic_dev[i])
                return errorf(err, errlen, -ENOENT, "nics[%u]: no such NIC", i);
        void *nic = vm->nic[i];
        int r = vmbus_server_remove_device(vm->vmbus, vm->nic_dev[i]); /* frees nic */
        if (r == -EBUSY)
                return errorf(err, errlen, r, "nics[%u]: the guest takes no VMBus message now; try again", i);
        if (r < 0)
                return errorf(err, errlen, r, "nics[%u]: removing the VMBus device: %s", i, strerror(-r));
        vmwp_devices_remove(&vm->devices, nic);
        uint32_t after = vm->cfg.n_nics - i - 1;
        memmove(&vm->cfg.nics[i], &vm->cfg.nics[i + 1], after * sizeof vm->cfg.nics[0]);
        memmove(&vm->nic[i], &vm->nic[i + 1], after * sizeof vm->nic[0]);
        memmove(&vm->nic_dev[i], &vm->nic_dev[i + 1], after * sizeof vm->nic_dev[0]);
        memmove(&vm->n_nic_queues[i], &vm->n_nic_queues[i + 1], after * sizeof vm->n_nic_queues[0]);
        vm->cfg.n_nics--;
        vm->nic[vm->cfg.n_nics] = NULL;
        vm->nic_dev[vm->cfg.n_nics] = NULL;
        vm->n_nic_queues[vm->cfg.n_nics] = 0;
        (void)rep;
        return 0;
}
