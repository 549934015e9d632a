// SPDX-License-Identifier: MIT
/* The worker's end of the display protocol (vmwp/display-server.h,
 * common/display.h): one display thread, one display server at a time,
 * snapshots for everyone else, and a client that does not read never holds
 * the worker up. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/fd-util.h"
#include "common/macro.h"
#include "vmwp/display-server.h"

struct vmwp_dsrv {
        struct vmwp_dsrv_config cfg;
        struct devworker *loop;
        int kick_fd, client_fd;
        struct dw_source *client_src;
        /* Display thread only. */
        struct display_mode sent_mode;
        uint32_t sent_status;
        bool behind; /* a send found no room: the next update covers the screen */
        _Atomic bool connected;
        _Atomic uint64_t clients, snapshots, keys, pointers, input_refused, bad_messages, updates, rects, overruns;
};

static int send_msg(int sock, const struct display_msg *m, int fd) {
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t len = display_msg_build(m, buf);
        if (!len)
                return -EINVAL;
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (fd >= 0) {
                memset(&control, 0, sizeof control);
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof control.buf;
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        ssize_t n;
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

static void get_state(struct vmwp_dsrv *s, struct display_mode *mode, uint32_t *status) {
        *mode = (struct display_mode){ 0 };
        *status = 0;
        s->cfg.ops->state(s->cfg.opaque, mode, status);
        /* What a server may map, or no mode at all. */
        if (!mode->active || !display_mode_fits(mode, s->cfg.fb_bytes))
                *mode = (struct display_mode){ 0 };
}

static void drop_client(struct vmwp_dsrv *s) {
        if (s->client_fd < 0)
                return;
        dw_source_free(s->client_src);
        s->client_src = NULL;
        safe_close(s->client_fd);
        s->client_fd = -1;
        s->behind = false;
        atomic_store(&s->connected, false);
        s->cfg.ops->watch(s->cfg.opaque, false);
}

/* Sends what changed since the last call (everything with full). A send
 * the socket has no room for leaves the client behind; any other failure
 * drops it. */
static void flush(struct vmwp_dsrv *s, bool full) {
        if (s->client_fd < 0)
                return;
        struct display_mode mode;
        uint32_t status;
        get_state(s, &mode, &status);
        full = full || s->behind;
        int r = 0;
        struct display_msg m;
        if (full || memcmp(&mode, &s->sent_mode, sizeof mode)) {
                m = (struct display_msg){ .type = DISPLAY_MODE, .mode = mode };
                if ((r = send_msg(s->client_fd, &m, -1)) == 0)
                        s->sent_mode = mode;
        }
        if (r == 0 && (full || status != s->sent_status)) {
                m = (struct display_msg){ .type = DISPLAY_STATUS, .status = status };
                if ((r = send_msg(s->client_fd, &m, -1)) == 0)
                        s->sent_status = status;
        }
        if (r == 0 && mode.active) {
                m = (struct display_msg){ .type = DISPLAY_DIRTY };
                size_t n = s->cfg.ops->take_dirty(s->cfg.opaque, m.dirty.rect, DISPLAY_RECTS_MAX, full);
                m.dirty.count = 0;
                for (size_t i = 0; i < n && i < DISPLAY_RECTS_MAX; i++) /* the mode's, as the protocol says */
                        if (display_rect_clip(&m.dirty.rect[i], mode.width, mode.height))
                                m.dirty.rect[m.dirty.count++] = m.dirty.rect[i];
                if (m.dirty.count && (r = send_msg(s->client_fd, &m, -1)) == 0) {
                        atomic_fetch_add(&s->updates, 1);
                        atomic_fetch_add(&s->rects, m.dirty.count);
                }
        }
        if (r == -EAGAIN) {
                if (!s->behind)
                        atomic_fetch_add(&s->overruns, 1);
                s->behind = true;
                (void)dw_source_set_events(s->client_src, EPOLLIN | EPOLLOUT);
        } else if (r < 0) {
                drop_client(s);
        } else if (s->behind) {
                s->behind = false;
                (void)dw_source_set_events(s->client_src, EPOLLIN);
        }
}

static void handle_input(struct vmwp_dsrv *s, const struct display_msg *m) {
        int r = 0;
        if (m->type == DISPLAY_KEY) {
                atomic_fetch_add(&s->keys, 1);
                r = s->cfg.ops->key(s->cfg.opaque, m->key.scancode, m->key.down);
        } else if (m->type == DISPLAY_POINTER) {
                atomic_fetch_add(&s->pointers, 1);
                r = s->cfg.ops->pointer(s->cfg.opaque, m->pointer.x, m->pointer.y, m->pointer.buttons,
                                        m->pointer.wheel);
        } else if (m->type == DISPLAY_REFRESH) {
                flush(s, true);
        } else {
                atomic_fetch_add(&s->bad_messages, 1); /* a worker -> server type */
        }
        /* A guest without the driver, or one that stopped reading: the
         * event is lost, as on a machine that does not listen. */
        if (r < 0)
                atomic_fetch_add(&s->input_refused, 1);
}

static int on_client(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct vmwp_dsrv *s = opaque;
        if (revents & EPOLLOUT)
                flush(s, false);
        if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) || s->client_fd < 0)
                return 0;
        uint8_t buf[DISPLAY_MSG_MAX];
        for (unsigned i = 0; i < 64; i++) {
                ssize_t n = recv(s->client_fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return 0;
                if (n <= 0) { /* gone */
                        drop_client(s);
                        return 0;
                }
                struct display_msg m;
                if ((size_t)n > sizeof buf || display_msg_parse(buf, (size_t)n, &m) < 0) {
                        atomic_fetch_add(&s->bad_messages, 1);
                        continue;
                }
                handle_input(s, &m);
                if (s->client_fd < 0)
                        return 0;
        }
        return DW_AGAIN; /* more may wait: after the other sources */
}

static struct display_msg hello(const struct vmwp_dsrv *s) {
        struct display_msg m = { .type = DISPLAY_HELLO };
        m.hello.version = DISPLAY_VERSION;
        m.hello.fb_bytes = s->cfg.fb_bytes;
        return m;
}

/* HELLO, MODE and BYE to a connection that is not the display server; a
 * socket with no room for three datagrams gets what fits. */
static void snapshot(struct vmwp_dsrv *s, int fd) {
        struct display_msg m[3] = { hello(s), { .type = DISPLAY_MODE }, { .type = DISPLAY_BYE } };
        uint32_t status;
        get_state(s, &m[1].mode, &status);
        m[1].type = DISPLAY_MODE;
        for (size_t i = 0; i < ARRAY_SIZE(m); i++)
                if (send_msg(fd, &m[i], i == 0 ? s->cfg.fb_fd : -1) < 0)
                        return;
}

static int on_listen(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct vmwp_dsrv *s = opaque;
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
                return 0;
        if (s->client_fd >= 0) { /* one display server at a time */
                snapshot(s, c);
                close(c);
                atomic_fetch_add(&s->snapshots, 1);
                return 0;
        }
        struct display_msg m = hello(s);
        if (send_msg(c, &m, s->cfg.fb_fd) < 0 ||
            devworker_add_io(s->loop, c, EPOLLIN, on_client, s, &s->client_src) < 0) {
                close(c);
                return 0;
        }
        s->client_fd = c;
        atomic_store(&s->connected, true);
        atomic_fetch_add(&s->clients, 1);
        s->cfg.ops->watch(s->cfg.opaque, true);
        flush(s, true);
        return 0;
}

static int on_kick(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct vmwp_dsrv *s = opaque;
        uint64_t v;
        (void)!read(fd, &v, sizeof v);
        if (s->cfg.ops->kicked)
                s->cfg.ops->kicked(s->cfg.opaque);
        flush(s, false);
        return 0;
}

static int thread_start(void *opaque) {
        struct vmwp_dsrv *s = opaque;
        return s->cfg.on_start ? s->cfg.on_start(s->cfg.opaque) : 0;
}

/* The client goes with the thread (on it, or after it stopped). */
static void thread_exit(void *opaque) {
        drop_client(opaque);
}

int vmwp_dsrv_new(const struct vmwp_dsrv_config *cfg, struct vmwp_dsrv **out) {
        if (!cfg->ops || !cfg->ops->state || !cfg->ops->take_dirty || !cfg->ops->watch || !cfg->ops->key ||
            !cfg->ops->pointer || cfg->fb_fd < 0)
                return -EINVAL;
        struct vmwp_dsrv *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->cfg = *cfg;
        s->client_fd = -1;
        s->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        const struct devworker_config wc = { .name = "display", .on_start = thread_start, .on_exit = thread_exit,
                                             .opaque = s };
        int r = s->kick_fd < 0 ? -errno : devworker_new(&wc, &s->loop);
        if (r >= 0)
                r = devworker_add_io(s->loop, s->kick_fd, EPOLLIN, on_kick, s, NULL);
        if (r >= 0 && cfg->listen_fd >= 0)
                r = devworker_add_io(s->loop, cfg->listen_fd, EPOLLIN, on_listen, s, NULL);
        if (r < 0) {
                vmwp_dsrv_free(s);
                return r;
        }
        *out = s;
        return 0;
}

int vmwp_dsrv_start(struct vmwp_dsrv *s) {
        return devworker_start(s->loop);
}

void vmwp_dsrv_stop(struct vmwp_dsrv *s) {
        if (!s)
                return;
        devworker_stop(s->loop);
        drop_client(s); /* a thread that never started */
}

void vmwp_dsrv_free(struct vmwp_dsrv *s) {
        if (!s)
                return;
        vmwp_dsrv_stop(s);
        devworker_free(s->loop);
        safe_close(s->kick_fd);
        free(s);
}

void vmwp_dsrv_kick(struct vmwp_dsrv *s) {
        (void)!write(s->kick_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

void vmwp_dsrv_get_stats(struct vmwp_dsrv *s, struct vmwp_dsrv_stats *out) {
        *out = (struct vmwp_dsrv_stats){
                .clients = atomic_load(&s->clients),
                .snapshots = atomic_load(&s->snapshots),
                .keys = atomic_load(&s->keys),
                .pointers = atomic_load(&s->pointers),
                .input_refused = atomic_load(&s->input_refused),
                .bad_messages = atomic_load(&s->bad_messages),
                .updates = atomic_load(&s->updates),
                .rects = atomic_load(&s->rects),
                .overruns = atomic_load(&s->overruns),
                .connected = atomic_load(&s->connected),
        };
}
