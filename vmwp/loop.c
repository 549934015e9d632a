// SPDX-License-Identifier: MIT
/* epoll + timerfd event loop. A freed source is only marked and unlinked
 * from epoll during dispatch, and released once the batch is done, so an
 * event already returned by epoll_wait never reaches freed memory. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/macro.h"
#include "vmwp/loop.h"

struct vmwp_source {
        struct vmwp_loop *loop;
        struct vmwp_source *next;
        int fd;
        bool is_timer, dead;
        vmwp_source_fn fn;
        void *userdata;
};

struct vmwp_loop {
        int epfd;
        struct vmwp_source *sources;
        unsigned n_sources;
        bool exit_requested;
        int exit_code;
};

int vmwp_loop_new(struct vmwp_loop **out) {
        struct vmwp_loop *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
                int r = -errno;
                free(l);
                return r;
        }
        *out = l;
        return 0;
}

static void source_release(struct vmwp_source *s) {
        if (s->is_timer)
                safe_close(s->fd);
        free(s);
}

static void reap(struct vmwp_loop *l) {
        for (struct vmwp_source **pp = &l->sources; *pp;) {
                struct vmwp_source *s = *pp;
                if (s->dead) {
                        *pp = s->next;
                        l->n_sources--;
                        source_release(s);
                } else {
                        pp = &s->next;
                }
        }
}

void vmwp_loop_free(struct vmwp_loop *l) {
        if (!l)
                return;
        while (l->sources) {
                struct vmwp_source *s = l->sources;
                l->sources = s->next;
                source_release(s);
        }
        safe_close(l->epfd);
        free(l);
}

static int add_source(struct vmwp_loop *l, int fd, uint32_t events, bool timer, vmwp_source_fn fn,
                      void *userdata, struct vmwp_source **out) {
        if (!fn || fd < 0)
                return -EINVAL;
        if (l->n_sources >= VMWP_LOOP_MAX_SOURCES)
                return -ENOSPC;
        struct vmwp_source *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        *s = (struct vmwp_source){ .loop = l, .fd = fd, .is_timer = timer, .fn = fn, .userdata = userdata };
        struct epoll_event ev = { .events = events, .data.ptr = s };
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(s);
                return r;
        }
        s->next = l->sources;
        l->sources = s;
        l->n_sources++;
        if (out)
                *out = s;
        return 0;
}

int vmwp_loop_add_io(struct vmwp_loop *l, int fd, uint32_t events, vmwp_source_fn fn, void *userdata,
                     struct vmwp_source **out) {
        return add_source(l, fd, events, false, fn, userdata, out);
}

int vmwp_loop_add_timer(struct vmwp_loop *l, uint64_t initial_us, uint64_t interval_us, vmwp_source_fn fn,
                        void *userdata, struct vmwp_source **out) {
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (initial_us == 0)
                initial_us = 1; /* 0 would disarm */
        struct itimerspec its = {
                .it_value = { (time_t)(initial_us / 1000000), (long)(initial_us % 1000000) * 1000 },
                .it_interval = { (time_t)(interval_us / 1000000), (long)(interval_us % 1000000) * 1000 },
        };
        if (timerfd_settime(fd, 0, &its, NULL) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = add_source(l, fd, EPOLLIN, true, fn, userdata, out);
        if (r < 0)
                close(fd);
        return r;
}

int vmwp_source_set_events(struct vmwp_source *s, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = s };
        return epoll_ctl(s->loop->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
}

void vmwp_source_free(struct vmwp_source *s) {
        if (!s || s->dead)
                return;
        (void)epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        s->dead = true; /* released by reap() after the current batch */
}

void vmwp_loop_exit(struct vmwp_loop *l, int code) {
        if (!l->exit_requested) {
                l->exit_requested = true;
                l->exit_code = code;
        }
}

int vmwp_loop_run_once(struct vmwp_loop *l, int timeout_ms) {
        struct epoll_event ev[16];
        int n = epoll_wait(l->epfd, ev, (int)ARRAY_SIZE(ev), timeout_ms);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        for (int i = 0; i < n; i++) {
                struct vmwp_source *s = ev[i].data.ptr;
                if (s->dead)
                        continue;
                if (s->is_timer) {
                        uint64_t expirations;
                        if (read(s->fd, &expirations, sizeof expirations) != sizeof expirations)
                                continue; /* spurious wake-up */
                }
                int r = s->fn(s, s->fd, ev[i].events, s->userdata);
                if (r < 0)
                        vmwp_loop_exit(l, r);
        }
        reap(l);
        return n;
}

int vmwp_loop_run(struct vmwp_loop *l) {
        while (!l->exit_requested) {
                int r = vmwp_loop_run_once(l, -1);
                if (r < 0)
                        return r;
        }
        return l->exit_code;
}
