// SPDX-License-Identifier: MIT
/* The worker side of re-attach (reattach.h). The listener belongs to vmms's
 * runtime directory (vmms bound it); the worker only accepts on it, so it
 * needs no path access. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/macro.h"
#include "reattach.h"
#include "common/devworker.h"

struct vmwp_reattach {
        int listen_fd;
        struct dw_source *src;
        vmwp_reattach_fn fn;
        void *userdata;
};

bool vmwp_reattach_is_request(struct json_object *req) {
        struct json_object *op;
        return json_object_is_type(req, json_type_object) && json_object_object_get_ex(req, "op", &op) &&
               json_object_is_type(op, json_type_string) && strcmp(json_object_get_string(op), "reattach-listen") == 0;
}

static struct json_object *reply(struct json_object *req, int err, const char *msg) {
        struct json_object *o = json_object_new_object(), *id;
        if (!o)
                return NULL;
        if (json_object_object_get_ex(req, "id", &id) && json_object_is_type(id, json_type_int))
                json_object_object_add(o, "id", json_object_get(id));
        json_object_object_add(o, "ok", json_object_new_boolean(err == 0));
        if (err) {
                json_object_object_add(o, "errno", json_object_new_int(err));
                json_object_object_add(o, "error", json_object_new_string(msg));
        }
        return o;
}

/* Only a listening seqpacket socket will do: anything else is refused. */
static bool is_listener(int fd) {
        int type = 0, acc = 0;
        socklen_t l1 = sizeof type, l2 = sizeof acc;
        return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 && type == SOCK_SEQPACKET &&
               getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l2) == 0 && acc;
}

static int on_accept(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmwp_reattach *ra = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd >= 0)
                ra->fn(cfd, ra->userdata);
        return 0;
}

void vmwp_reattach_free(struct vmwp_reattach *ra) {
        if (!ra)
                return;
        dw_source_free(ra->src);
        safe_close(ra->listen_fd);
        free(ra);
}

struct json_object *vmwp_reattach_take(struct vmwp_reattach **ra, struct devworker *loop, struct json_object *req,
                                       int *fds, size_t n_fds, vmwp_reattach_fn fn, void *userdata) {
        int fd = n_fds == 1 ? fds[0] : -1;
        for (size_t i = fd >= 0 ? 1 : 0; i < n_fds; i++)
                safe_close(fds[i]);
        if (fd < 0 || !is_listener(fd)) {
                safe_close(fd);
                return reply(req, EINVAL, "reattach-listen needs exactly one listening SOCK_SEQPACKET socket");
        }
        struct vmwp_reattach *n = calloc(1, sizeof *n);
        if (!n) {
                safe_close(fd);
                return reply(req, ENOMEM, "out of memory");
        }
        *n = (struct vmwp_reattach){ .listen_fd = fd, .fn = fn, .userdata = userdata };
        int r = devworker_add_io(loop, fd, EPOLLIN, on_accept, n, &n->src);
        if (r < 0) {
                vmwp_reattach_free(n);
                return reply(req, -r, strerror(-r));
        }
        vmwp_reattach_free(*ra);
        *ra = n;
        return reply(req, 0, NULL);
}
