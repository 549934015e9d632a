// SPDX-License-Identifier: MIT
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "common/macro.h"
#include "common/proto.h"

const char *vmwp_exit_status_to_string(int status) {
        switch (status) {
        case VMWP_EXIT_POWEROFF: return "powered off";
        case VMWP_EXIT_USAGE: return "invalid usage or configuration";
        case VMWP_EXIT_SETUP: return "setup failed";
        case VMWP_EXIT_RESET: return "reset";
        case VMWP_EXIT_TRIPLE_FAULT: return "triple fault";
        case VMWP_EXIT_INTERNAL: return "internal error";
        case VMWP_EXIT_GUEST_CRASH: return "guest crashed";
        case VMWP_EXIT_STOPPED: return "stopped";
        case VMWP_EXIT_CONTROL_LOST: return "control connection lost";
        case VMWP_EXIT_SANDBOX: return "forbidden system call (sandbox)";
        default: return "unknown";
        }
}

#define PROTO_OP_ROW_(e, n, f, s) [PROTO_OP_##e] = { .name = n, .fds = PROTO_FDS_##f, .shape = s },
const struct proto_op_info proto_ops[PROTO_OP_N] = { PROTO_OPS(PROTO_OP_ROW_) };
#undef PROTO_OP_ROW_
#define PROTO_EV_ROW_(e, n, s) [PROTO_EV_##e] = { .name = n, .shape = s },
const struct proto_event_info proto_events[PROTO_EV_N] = { PROTO_EVENTS(PROTO_EV_ROW_) };
#undef PROTO_EV_ROW_

enum proto_op proto_op_lookup(const char *name) {
        for (size_t i = PROTO_OP_UNKNOWN + 1; name && i < PROTO_OP_N; i++)
                if (strcmp(proto_ops[i].name, name) == 0)
                        return (enum proto_op)i;
        return PROTO_OP_UNKNOWN;
}

struct json_object *proto_event_new(enum proto_event ev) {
        struct json_object *o = json_object_new_object();
        if (o && (size_t)ev < PROTO_EV_N)
                json_object_object_add(o, "event", json_object_new_string(proto_events[ev].name));
        return o;
}

int proto_send(int sock, struct json_object *msg, const int *fds, size_t n_fds) {
        size_t len;
        const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
        if (!s)
                return -ENOMEM;
        if (len > PROTO_MAX_MSG || n_fds > PROTO_MAX_FDS)
                return -EMSGSIZE;

        struct iovec iov = { .iov_base = (void *)s, .iov_len = len };
        union {
                char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
                struct cmsghdr align;
        } control;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (n_fds > 0) {
                memset(&control, 0, sizeof control);
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        for (;;) {
                ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
                if (n >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int proto_recv(int sock, struct json_object **msg, int *fds, size_t max_fds, size_t *n_fds) {
        _cleanup_free_ char *buf = malloc(PROTO_MAX_MSG + 1);
        union {
                char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
                struct cmsghdr align;
        } control;
        if (!buf)
                return -ENOMEM;
        struct iovec iov = { .iov_base = buf, .iov_len = PROTO_MAX_MSG };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf };
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        int r = 0;
        size_t got = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *in = (int *)(void *)CMSG_DATA(c);
                for (size_t i = 0; i < k; i++) {
                        if (fds && got < max_fds)
                                fds[got++] = in[i];
                        else {
                                safe_close(in[i]);
                                r = -EMSGSIZE;
                        }
                }
        }
        if (n_fds)
                *n_fds = got;
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                r = -EMSGSIZE;
        if (n == 0 && got == 0)
                return -ECONNRESET;
        if (r < 0)
                goto fail;

        buf[n] = 0;
        json_tokener *tok = json_tokener_new_ex(32);
        if (!tok) {
                r = -ENOMEM;
                goto fail;
        }
        *msg = json_tokener_parse_ex(tok, buf, (int)n);
        bool ok = *msg && json_tokener_get_error(tok) == json_tokener_success &&
                  json_object_is_type(*msg, json_type_object) && (size_t)tok->char_offset == (size_t)n;
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(*msg);
                *msg = NULL;
                r = -EBADMSG;
                goto fail;
        }
        return 0;
fail:
        for (size_t i = 0; i < got; i++)
                safe_close(fds[i]);
        if (n_fds)
                *n_fds = 0;
        return r;
}
