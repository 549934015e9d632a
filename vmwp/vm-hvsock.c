// SPDX-License-Identifier: MIT
/* Hyper-V sockets in the worker (docs/hvsock.md): the hvsock instance the
 * VMBus server hands TL_CONNECT_REQUESTs to, the VM's socket host processes
 * connect to, and the connect requests for vmms. The worker cannot open a
 * path or a socket once sandboxed, so a guest's connect to port P becomes
 * an "hvsock-connect" event; vmms connects to the Unix socket configured
 * for P and answers with the fd ("hvsock-connected"). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/proto.h"
#include "hvsock/hvsock.h"
#include "emit.h"
#include "vm-internal.h"
#include "vmwp/sandbox-providers.h"
#include "vmwp/sandbox.h"

#define PENDING_MAX 64u

/* On hvsock's device worker: queue the request for the main loop. */
static int on_connect(void *opaque, uint32_t port, uint64_t token) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        int r = vm->n_hvsock_pending < PENDING_MAX ? 0 : -EAGAIN;
        if (r == 0) {
                vm->hvsock_pending[vm->n_hvsock_pending].port = port;
                vm->hvsock_pending[vm->n_hvsock_pending].token = token;
                vm->n_hvsock_pending++;
        }
        pthread_mutex_unlock(&vm->guest_lock);
        if (r == 0)
                (void)!write(vm->guest_event_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
        return r;
}

int vmwp_vm_hvsock_create(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        vm->hvsock_listen_fd = -1;
        if (!vm->cfg.hvsock.enabled)
                return 0;
        const struct hvsock_config hc = {
                .max_connections = vm->cfg.hvsock.max_connections,
                .connect = on_connect,
                .connect_opaque = vm,
                .thread_policy = sandbox_thread_hook,
                .thread_policy_opaque = vm->sandbox,
        };
        int r = hvsock_new(&hc, &vm->hvsock);
        if (r < 0)
                return snprintf(err, errlen, "hvsock: %s", strerror(-r)), r;
        vmwp_vm_hvsock_follow_clock(vm);
        /* The VM's socket: root's (the worker has not dropped privileges
         * yet), 0600. */
        if (vm->cfg.hvsock.socket[0] &&
            (r = unix_listen(vm->cfg.hvsock.socket, SOCK_STREAM | SOCK_NONBLOCK, 64, 0600)) < 0)
                return snprintf(err, errlen, "hvsock.socket: cannot listen on %s: %s", vm->cfg.hvsock.socket,
                                r == -EEXIST ? "it exists and is not a socket" : strerror(-r)),
                       r;
        vm->hvsock_listen_fd = vm->cfg.hvsock.socket[0] ? r : -1;
        if (vm->sandbox) {
                /* Per connection: its host socket, and its channel's
                 * doorbell, stop eventfd and hvshim's duplicate. */
                (void)sandbox_allow_fds(vm->sandbox, 4 * vm->cfg.hvsock.max_connections);
                if ((r = sandbox_register_policy(vm->sandbox, &sandbox_hvsock_policy)) < 0)
                        return snprintf(err, errlen, "sandbox: hvsock policy: %s", strerror(-r)), r;
        }
        return 0;
}

/* The server exists; the thread starts under the sandbox (it narrows
 * itself to "hvsock" first thing). */
int vmwp_vm_hvsock_start(struct vmwp_vm *vm) {
        return vm->hvsock ? hvsock_start(vm->hvsock, vm->vmbus) : 0;
}

/* The guest's connect waits 2 s of its own time (Linux's
 * VSOCK_DEFAULT_CONNECT_TIMEOUT) for the offer to open; where its time is
 * dilated, a wait in real time would give up first (a stock-Linux run on
 * PVM: the guest busy inflating its balloon opened an offer already
 * withdrawn, "Failed to establish GPADL"). */
void vmwp_vm_hvsock_follow_clock(struct vmwp_vm *vm) {
        if (vm->hvsock)
                hvsock_set_offer_timeout(vm->hvsock, HVSOCK_OFFER_TIMEOUT_MS * vmwp_vm_time_dilation(vm));
}

void vmwp_vm_hvsock_stop(struct vmwp_vm *vm) {
        if (vm->hvsock)
                hvsock_stop(vm->hvsock);
}

void vmwp_vm_hvsock_free(struct vmwp_vm *vm) {
        hvsock_free(vm->hvsock);
        vm->hvsock = NULL;
        if (vm->hvsock_listen_fd >= 0)
                close(vm->hvsock_listen_fd);
        vm->hvsock_listen_fd = -1;
}

int vmwp_vm_hvsock_listen_fd(const struct vmwp_vm *vm) {
        return vm->hvsock_listen_fd;
}

void vmwp_vm_hvsock_accept(struct vmwp_vm *vm) {
        for (;;) {
                int fd = accept4(vm->hvsock_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        return;
                (void)hvsock_host_client(vm->hvsock, fd);
        }
}

bool vmwp_vm_hvsock_take_connect(struct vmwp_vm *vm, uint32_t *port, uint64_t *token) {
        pthread_mutex_lock(&vm->guest_lock);
        bool any = vm->n_hvsock_pending > 0;
        if (any) {
                *port = vm->hvsock_pending[0].port;
                *token = vm->hvsock_pending[0].token;
                memmove(vm->hvsock_pending, vm->hvsock_pending + 1,
                        --vm->n_hvsock_pending * sizeof vm->hvsock_pending[0]);
        }
        pthread_mutex_unlock(&vm->guest_lock);
        return any;
}

/* A guest connects; vmms finds the host socket. Without vmms (a config
 * file) nobody can: refused at once. */
void vmwp_hvsock_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e) {
        uint32_t port;
        uint64_t token;
        while (vmwp_vm_hvsock_take_connect(vm, &port, &token)) {
                if (!vmwp_emit_connected(e)) {
                        (void)vmwp_vm_hvsock_connected(vm, token, -ECONNREFUSED);
                        continue;
                }
                struct json_object *ev = proto_event_new(PROTO_EV_HVSOCK_CONNECT);
                if (ev) {
                        json_object_object_add(ev, "port", json_object_new_int64(port));
                        json_object_object_add(ev, "token", json_object_new_int64((int64_t)token));
                }
                vmwp_emit(e, ev);
        }
}

int vmwp_vm_hvsock_connected(struct vmwp_vm *vm, uint64_t token, int fd) {
        if (!vm->hvsock) {
                if (fd >= 0)
                        close(fd);
                return -ENOTSUP;
        }
        return hvsock_connect_done(vm->hvsock, token, fd);
}


