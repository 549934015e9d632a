// SPDX-License-Identifier: MIT
/* The emulated devices' service thread (see emu/service.h), on the
 * device-worker primitive (common/devworker.h): its sources are devworker
 * I/O sources, the wake hooks its on_idle hook, the exit hooks its on_exit
 * hook, and emu_service_pause its pause handshake followed by the pause
 * hooks (run on the parked thread). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "common/devworker.h"
#include "emu/service.h"

/* The callbacks see poll(2) bits; epoll's have the same values. */
_Static_assert(POLLIN == EPOLLIN && POLLPRI == EPOLLPRI && POLLOUT == EPOLLOUT && POLLERR == EPOLLERR &&
                       POLLHUP == EPOLLHUP,
               "poll and epoll event bits");

struct source {
        struct emu_service *svc;
        struct dw_source *dw; /* NULL while events is 0 */
        int fd;               /* -1: the slot is free */
        short events;
        emu_event_fn fn;
        void *opaque;
};

struct hook {
        emu_hook_fn fn;
        void *opaque;
};

struct emu_service {
        struct devworker *w;
        bool started;
        struct source src[EMU_SERVICE_MAX_SOURCES];
        struct hook wake[EMU_SERVICE_MAX_HOOKS], exit[EMU_SERVICE_MAX_HOOKS], pause[EMU_SERVICE_MAX_HOOKS];
        unsigned n_wake, n_exit, n_pause;
};

static void run_hooks(const struct hook *h, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                h[i].fn(h[i].opaque);
}

static void service_idle(void *opaque) {
        struct emu_service *s = opaque;
        run_hooks(s->wake, s->n_wake);
}

static void service_exit(void *opaque) {
        struct emu_service *s = opaque;
        run_hooks(s->exit, s->n_exit);
}

int emu_service_new(struct emu_service **out) {
        struct emu_service *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        for (unsigned i = 0; i < EMU_SERVICE_MAX_SOURCES; i++)
                s->src[i] = (struct source){ .svc = s, .fd = -1 };
        struct devworker_config cfg = { .name = "emu", .on_idle = service_idle, .on_exit = service_exit, .opaque = s };
        int r = devworker_new(&cfg, &s->w);
        if (r < 0) {
                free(s);
                return r;
        }
        *out = s;
        return 0;
}

static int on_source(struct dw_source *dw, int fd, uint32_t revents, void *opaque) {
        struct source *src = opaque;
        src->fn(src->opaque, (short)revents);
        return 0;
}

/* Watching no events means leaving the epoll set: epoll reports EPOLLHUP
 * and EPOLLERR whatever the mask, so a hung-up keyboard client whose
 * reads wait for the guest would otherwise spin the thread. */
static int watch(struct source *src, short events) {
        src->events = events;
        if (!events) {
                dw_source_free(src->dw);
                src->dw = NULL;
                return 0;
        }
        if (src->dw)
                return dw_source_set_events(src->dw, (uint16_t)events);
        return devworker_add_io(src->svc->w, src->fd, (uint16_t)events, on_source, src, &src->dw);
}

int emu_service_add(struct emu_service *s, int fd, short events, emu_event_fn fn, void *opaque) {
        if (fd < 0 || !fn)
                return -EINVAL;
        for (unsigned i = 0; i < EMU_SERVICE_MAX_SOURCES; i++) {
                struct source *src = &s->src[i];
                if (src->fd >= 0)
                        continue;
                *src = (struct source){ .svc = s, .fd = fd, .fn = fn, .opaque = opaque };
                int r = watch(src, events);
                if (r < 0) {
                        *src = (struct source){ .svc = s, .fd = -1 };
                        return r;
                }
                return (int)i;
        }
        return -ENOSPC;
}

static struct source *source_at(struct emu_service *s, int index) {
        if (index < 0 || (unsigned)index >= EMU_SERVICE_MAX_SOURCES || s->src[index].fd < 0)
                return NULL;
        return &s->src[index];
}

void emu_service_set_events(struct emu_service *s, int index, short events) {
        struct source *src = source_at(s, index);
        /* Only ENOMEM can fail here (a re-add): the source then stays
         * unwatched, as after set_events(0). */
        if (src)
                (void)watch(src, events);
}

void emu_service_remove(struct emu_service *s, int index) {
        struct source *src = source_at(s, index);
        if (!src)
                return;
        dw_source_free(src->dw); /* off the epoll set now; released after the batch */
        *src = (struct source){ .svc = s, .fd = -1 };
}

static int add_hook(struct hook *h, unsigned *n, emu_hook_fn fn, void *opaque) {
        if (*n == EMU_SERVICE_MAX_HOOKS)
                return -ENOSPC;
        h[(*n)++] = (struct hook){ fn, opaque };
        return 0;
}

int emu_service_on_wake(struct emu_service *s, emu_hook_fn fn, void *opaque) {
        return add_hook(s->wake, &s->n_wake, fn, opaque);
}

int emu_service_on_exit(struct emu_service *s, emu_hook_fn fn, void *opaque) {
        return add_hook(s->exit, &s->n_exit, fn, opaque);
}

int emu_service_on_pause(struct emu_service *s, emu_hook_fn fn, void *opaque) {
        return add_hook(s->pause, &s->n_pause, fn, opaque);
}

void emu_service_kick(struct emu_service *s) {
        devworker_kick(s->w);
}

int emu_service_start(struct emu_service *s) {
        if (s->started)
                return -EBUSY;
        int r = devworker_start(s->w);
        s->started = r == 0;
        return r;
}

int emu_service_call(struct emu_service *s, int (*fn)(void *arg), void *arg) {
        return devworker_call(s->w, fn, arg);
}

static int run_pause_hooks(void *arg) {
        struct emu_service *s = arg;
        run_hooks(s->pause, s->n_pause);
        return 0;
}

int emu_service_pause(struct emu_service *s) {
        int r = devworker_pause(s->w);
        if (r < 0)
                return r;
        /* On the parked thread, which owns what the hooks drain. */
        return devworker_call(s->w, run_pause_hooks, s);
}

void emu_service_resume(struct emu_service *s) {
        devworker_resume(s->w);
        /* The wake hooks take what vCPUs queued meanwhile (their kicks
         * are pending, but a kick is cheap and makes that explicit). */
        devworker_kick(s->w);
}

void emu_service_free(struct emu_service *s) {
        if (!s)
                return;
        /* A started thread runs the exit hooks itself when it stops. */
        if (s->started)
                devworker_stop(s->w);
        else
                run_hooks(s->exit, s->n_exit);
        devworker_free(s->w);
        free(s);
}
