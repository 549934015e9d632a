// SPDX-License-Identifier: MIT
/* Hyper-V sockets, vmms's part (docs/hvsock.md): the sandboxed worker
 * cannot open a socket, so when a guest connects to a port the worker asks
 * ("hvsock-connect" event) and vmms connects to the Unix socket the VM's
 * configuration names for that port, handing the connected socket over
 * ("hvsock-connected" request with the fd), or the errno that refuses the
 * guest. Only root configures these paths (paths.c): vmms connects with
 * its own rights. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "worker/worker.h"
#include "guest/guest.h"

static void connected_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, error, "hv_sock: the worker did not take a connection: %m");
}

/* The Unix socket for port, connected (non-blocking: a listener whose
 * backlog is full refuses at once rather than stalling vmms). A VM
 * without hv_sock gets nothing, whatever its worker asks (EPERM). */
static int connect_service(const struct vm_config *c, uint32_t port) {
        if (!c->hvsock.enabled)
                return -EPERM;
        const struct vm_hvsock_service *s = NULL;
        for (uint32_t i = 0; i < c->hvsock.n_services && !s; i++)
                if (c->hvsock.services[i].port == port)
                        s = &c->hvsock.services[i];
        if (!s)
                return -ECONNREFUSED;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(s->path);
        if (n >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, s->path, n + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        return fd;
}

void vmms_hvsock_on_event(struct vmms_vm *vm, json_object *ev) {
        json_object *v;
        int64_t port = json_object_object_get_ex(ev, "port", &v) && json_object_is_type(v, json_type_int)
                               ? json_object_get_int64(v)
                               : -1;
        int64_t token = json_object_object_get_ex(ev, "token", &v) && json_object_is_type(v, json_type_int)
                                ? json_object_get_int64(v)
                                : -1;
        if (port < 0 || port > 0x7fffffff || token < 0 || !vm->worker)
                return;
        _cleanup_close_ int fd = connect_service(vm->config, (uint32_t)port);
        json_object *args = json_object_new_object();
        if (!args)
                return;
        json_object_object_add(args, "token", json_object_new_int64(token));
        if (fd < 0) {
                vmms_vm_log(vm, LOG_LEVEL_INFO, fd, "hv_sock: the guest's connect to port %lld refused: %m",
                            (long long)port);
                json_object_object_add(args, "errno", json_object_new_int(-fd));
        }
        int r = vmms_worker_request_fds(vm->worker, "hvsock-connected", args, fd >= 0 ? &fd : NULL, fd >= 0,
                                        connected_reply, NULL);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "hv_sock: cannot answer the worker: %m");
}
