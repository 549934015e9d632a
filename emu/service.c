// SPDX-License-Identifier: MIT
/* The emulated devices' service thread (see emu/service.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/macro.h"
#include "emu/service.h"

struct source {
        int fd;
        short events;
        emu_event_fn fn;
        void *opaque;
};

struct hook {
        emu_hook_fn fn;
        void *opaque;
};

struct emu_service {
        int kick_fd;
        pthread_t thread;
        bool running;
        struct source src[EMU_SERVICE_MAX_SOURCES];
        struct hook wake[EMU_SERVICE_MAX_HOOKS], exit[EMU_SERVICE_MAX_HOOKS];
        unsigned n_wake, n_exit;

        pthread_mutex_t lock; /* stop and the pending call */
        pthread_cond_t cond;
        bool stop;
        int (*call_fn)(void *);
        void *call_arg;
        int call_result;
        bool call_done;
};

int emu_service_new(struct emu_service **out) {
        struct emu_service *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        for (unsigned i = 0; i < EMU_SERVICE_MAX_SOURCES; i++)
                s->src[i].fd = -1;
        s->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->kick_fd < 0) {
                int r = -errno;
                free(s);
                return r;
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        *out = s;
        return 0;
}

int emu_service_add(struct emu_service *s, int fd, short events, emu_event_fn fn, void *opaque) {
        for (unsigned i = 0; i < EMU_SERVICE_MAX_SOURCES; i++)
                if (s->src[i].fd < 0) {
                        s->src[i] = (struct source){ .fd = fd, .events = events, .fn = fn, .opaque = opaque };
                        return (int)i;
                }
        return -ENOSPC;
}

void emu_service_set_events(struct emu_service *s, int index, short events) {
        if (index >= 0 && (unsigned)index < EMU_SERVICE_MAX_SOURCES)
                s->src[index].events = events;
}

void emu_service_remove(struct emu_service *s, int index) {
        if (index >= 0 && (unsigned)index < EMU_SERVICE_MAX_SOURCES)
                s->src[index] = (struct source){ .fd = -1 };
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

void emu_service_kick(struct emu_service *s) {
        uint64_t one = 1;
        (void)!write(s->kick_fd, &one, sizeof one);
}

/* Runs a pending emu_service_call(); true when the loop must stop. */
static bool take_requests(struct emu_service *s) {
        pthread_mutex_lock(&s->lock);
        if (s->call_fn && !s->call_done) {
                s->call_result = s->call_fn(s->call_arg);
                s->call_done = true;
                pthread_cond_broadcast(&s->cond);
        }
        bool stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        return stop;
}

static void *service_main(void *arg) {
        struct emu_service *s = arg;
        pthread_setname_np(pthread_self(), "emu");
        struct pollfd p[1 + EMU_SERVICE_MAX_SOURCES];
        int which[1 + EMU_SERVICE_MAX_SOURCES];
        while (!take_requests(s)) {
                unsigned n = 0;
                p[n++] = (struct pollfd){ .fd = s->kick_fd, .events = POLLIN };
                for (unsigned i = 0; i < EMU_SERVICE_MAX_SOURCES; i++)
                        if (s->src[i].fd >= 0 && s->src[i].events) {
                                which[n] = (int)i;
                                p[n++] = (struct pollfd){ .fd = s->src[i].fd, .events = s->src[i].events };
                        }
                if (poll(p, n, -1) < 0 && errno != EINTR)
                        break;
                uint64_t v;
                if (p[0].revents & POLLIN)
                        (void)!read(s->kick_fd, &v, sizeof v);
                for (unsigned i = 1; i < n; i++) {
                        struct source *src = &s->src[which[i]];
                        if (p[i].revents && src->fd == p[i].fd && src->fn)
                                src->fn(src->opaque, p[i].revents);
                }
                for (unsigned i = 0; i < s->n_wake; i++)
                        s->wake[i].fn(s->wake[i].opaque);
        }
        for (unsigned i = 0; i < s->n_exit; i++)
                s->exit[i].fn(s->exit[i].opaque);
        return NULL;
}

int emu_service_start(struct emu_service *s) {
        if (s->running)
                return -EBUSY;
        int r = -pthread_create(&s->thread, NULL, service_main, s);
        if (r == 0)
                s->running = true;
        return r;
}

int emu_service_call(struct emu_service *s, int (*fn)(void *arg), void *arg) {
        if (!s->running)
                return fn(arg);
        pthread_mutex_lock(&s->lock);
        s->call_fn = fn;
        s->call_arg = arg;
        s->call_done = false;
        emu_service_kick(s);
        while (!s->call_done)
                pthread_cond_wait(&s->cond, &s->lock);
        int r = s->call_result;
        s->call_fn = NULL;
        pthread_mutex_unlock(&s->lock);
        return r;
}

void emu_service_free(struct emu_service *s) {
        if (!s)
                return;
        if (s->running) {
                pthread_mutex_lock(&s->lock);
                s->stop = true;
                pthread_mutex_unlock(&s->lock);
                emu_service_kick(s);
                pthread_join(s->thread, NULL);
        } else {
                for (unsigned i = 0; i < s->n_exit; i++)
                        s->exit[i].fn(s->exit[i].opaque);
        }
        safe_close(s->kick_fd);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}
