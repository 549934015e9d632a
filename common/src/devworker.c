// SPDX-License-Identifier: MIT
/* The device-worker primitive (common/devworker.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/macro.h"

struct dw_source {
        struct devworker *w;
        struct dw_source *next;
        int fd;
        bool is_timer, dead, again;
        bool unwatched; /* events 0: out of the epoll set (hang-ups would still wake it) */
        dw_source_fn fn;
        void *opaque;
};

#define DW_BATCH 16

struct devworker {
        struct devworker_config cfg;
        char name[16];
        int epfd, kick_fd;
        struct dw_source *sources;
        unsigned n_sources;

        /* The epoll batch being dispatched: kept across a pause. */
        struct epoll_event batch[DW_BATCH];
        int batch_n, batch_i;
        bool again_pending;

        /* devworker_run on the caller's thread */
        bool exit_requested;
        int exit_code;

        /* the started thread */
        pthread_t thread;
        bool started;
        pthread_mutex_t lock; /* everything below */
        pthread_cond_t cond;
        atomic_bool stop_req, pause_req;
        bool parked, exited, start_done;
        /* In epoll_wait (or about to be) with nothing of the last batch
         * left to run: it runs no callback before it takes the lock again,
         * so a pause is granted at once (no wake-up to wait for) and it
         * parks when it next wakes. */
        bool waiting;
        int start_result;
        pthread_mutex_t call_lock; /* one devworker_call at a time */
        int (*call_fn)(void *);
        void *call_arg;
        int call_result;
        bool call_pending;

        _Atomic uint64_t callbacks, pauses, idle_pauses;
};

int devworker_new(const struct devworker_config *cfg, struct devworker **out) {
        struct devworker *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        if (cfg)
                w->cfg = *cfg;
        snprintf(w->name, sizeof w->name, "%s", w->cfg.name ? w->cfg.name : "devworker");
        w->cfg.name = w->name;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        if (w->epfd < 0 || w->kick_fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->kick_fd, &ev) < 0) {
                int r = -errno;
                safe_close(w->epfd);
                safe_close(w->kick_fd);
                free(w);
                return r;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_mutex_init(&w->call_lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        *out = w;
        return 0;
}

static void source_release(struct dw_source *s) {
        if (s->is_timer)
                safe_close(s->fd);
        free(s);
}

static void reap(struct devworker *w) {
        for (struct dw_source **pp = &w->sources; *pp;) {
                struct dw_source *s = *pp;
                if (s->dead) {
                        *pp = s->next;
                        w->n_sources--;
                        source_release(s);
                } else {
                        pp = &s->next;
                }
        }
}

void devworker_free(struct devworker *w) {
        if (!w)
                return;
        devworker_stop(w);
        while (w->sources) {
                struct dw_source *s = w->sources;
                w->sources = s->next;
                source_release(s);
        }
        safe_close(w->epfd);
        safe_close(w->kick_fd);
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->call_lock);
        pthread_cond_destroy(&w->cond);
        free(w);
}

static int add_source(struct devworker *w, int fd, uint32_t events, bool timer, dw_source_fn fn, void *opaque,
                      struct dw_source **out) {
        if (!fn || fd < 0)
                return -EINVAL;
        if (w->n_sources >= (w->cfg.max_sources ? w->cfg.max_sources : DW_MAX_SOURCES))
                return -ENOSPC;
        struct dw_source *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        *s = (struct dw_source){ .w = w, .fd = fd, .is_timer = timer, .fn = fn, .opaque = opaque };
        struct epoll_event ev = { .events = events, .data.ptr = s };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(s);
                return r;
        }
        s->next = w->sources;
        w->sources = s;
        w->n_sources++;
        if (out)
                *out = s;
        return 0;
}

int devworker_add_io(struct devworker *w, int fd, uint32_t events, dw_source_fn fn, void *opaque,
                     struct dw_source **out) {
        return add_source(w, fd, events, false, fn, opaque, out);
}

static int arm_timer(int fd, uint64_t initial_us, uint64_t interval_us) {
        struct itimerspec its = {
                .it_value = { (time_t)(initial_us / 1000000), (long)(initial_us % 1000000) * 1000 },
                .it_interval = { (time_t)(interval_us / 1000000), (long)(interval_us % 1000000) * 1000 },
        };
        return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int devworker_add_timer(struct devworker *w, uint64_t initial_us, uint64_t interval_us, dw_source_fn fn,
                        void *opaque, struct dw_source **out) {
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (fd < 0)
                return -errno;
        int r = arm_timer(fd, initial_us ? initial_us : 1 /* 0 would disarm */, interval_us);
        if (r == 0)
                r = add_source(w, fd, EPOLLIN, true, fn, opaque, out);
        if (r < 0)
                close(fd);
        return r;
}

int dw_source_set_events(struct dw_source *s, uint32_t events) {
        if (s->dead)
                return -EINVAL;
        /* epoll reports EPOLLHUP/EPOLLERR whatever the mask: a hung-up fd
         * watched for nothing would wake the thread forever, so events 0
         * takes the fd out of the set. */
        if (!events) {
                if (!s->unwatched && epoll_ctl(s->w->epfd, EPOLL_CTL_DEL, s->fd, NULL) < 0)
                        return -errno;
                s->unwatched = true;
                return 0;
        }
        struct epoll_event ev = { .events = events, .data.ptr = s };
        if (epoll_ctl(s->w->epfd, s->unwatched ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s->fd, &ev) < 0)
                return -errno;
        s->unwatched = false;
        return 0;
}

int dw_source_set_timer(struct dw_source *s, uint64_t initial_us, uint64_t interval_us) {
        return s->is_timer ? arm_timer(s->fd, initial_us, interval_us) : -EINVAL;
}

void dw_source_free(struct dw_source *s) {
        if (!s || s->dead)
                return;
        if (!s->unwatched)
                (void)epoll_ctl(s->w->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        s->dead = true; /* released by reap() after the current batch */
        s->again = false;
}

void devworker_kick(struct devworker *w) {
        uint64_t one = 1;
        (void)!write(w->kick_fd, &one, sizeof one);
}

static bool on_thread(const struct devworker *w) {
        return w->started && pthread_equal(w->thread, pthread_self());
}

bool devworker_should_yield(const struct devworker *w) {
        return atomic_load_explicit(&w->pause_req, memory_order_acquire) ||
               atomic_load_explicit(&w->stop_req, memory_order_acquire);
}

/* The run-on-caller loop's exit, or a started thread's stop. */
static bool must_leave(const struct devworker *w) {
        return w->exit_requested || atomic_load_explicit(&w->stop_req, memory_order_acquire);
}

static void run_call_locked(struct devworker *w) {
        if (w->call_pending) {
                w->call_result = w->call_fn(w->call_arg);
                w->call_pending = false;
                pthread_cond_broadcast(&w->cond);
        }
}

/* Between callbacks: pending calls, and the pause handshake. Returns
 * false when the thread must stop. */
static bool service_requests(struct devworker *w) {
        if (!w->started)
                return !w->exit_requested;
        pthread_mutex_lock(&w->lock);
        run_call_locked(w);
        if (atomic_load(&w->pause_req) && !atomic_load(&w->stop_req)) {
                w->parked = true;
                pthread_cond_broadcast(&w->cond);
                while (atomic_load(&w->pause_req) && !atomic_load(&w->stop_req)) {
                        pthread_cond_wait(&w->cond, &w->lock);
                        run_call_locked(w);
                }
                w->parked = false;
        }
        bool go_on = !atomic_load(&w->stop_req);
        /* Waiting from here, unless a kept batch or DW_AGAIN sources run
         * first (wait_batch then does not block). */
        w->waiting = go_on && w->batch_i >= w->batch_n && !w->again_pending;
        pthread_mutex_unlock(&w->lock);
        return go_on;
}

/* After the wait: no longer waiting; whether a pause came meanwhile. */
static bool woken_paused(struct devworker *w) {
        pthread_mutex_lock(&w->lock);
        w->waiting = false;
        bool paused = atomic_load(&w->pause_req);
        pthread_mutex_unlock(&w->lock);
        return paused;
}

/* Calls one source; DW_AGAIN keeps it for another call after the batch. */
static int call_source(struct devworker *w, struct dw_source *s, uint32_t revents) {
        if (s->is_timer && revents) {
                uint64_t expirations;
                if (read(s->fd, &expirations, sizeof expirations) != sizeof expirations)
                        return 0; /* spurious wake-up */
        }
        atomic_fetch_add_explicit(&w->callbacks, 1, memory_order_relaxed);
        int r = s->fn(s, s->fd, revents, s->opaque);
        if (r == DW_AGAIN && !s->dead) {
                s->again = true;
                w->again_pending = true;
                return 0;
        }
        if (r < 0 && !w->started && !w->exit_requested) {
                w->exit_requested = true;
                w->exit_code = r;
        }
        return r < 0 ? r : 0;
}

/* Dispatches the kept batch, then the DW_AGAIN sources. Stops early (the
 * rest kept) when a pause or stop is requested. Returns the number of
 * callbacks run. */
static int dispatch(struct devworker *w) {
        int ran = 0;
        while (w->batch_i < w->batch_n) {
                if (devworker_should_yield(w) || w->exit_requested)
                        return ran;
                struct epoll_event *e = &w->batch[w->batch_i++];
                struct dw_source *s = e->data.ptr;
                if (!s) {
                        uint64_t v;
                        (void)!read(w->kick_fd, &v, sizeof v);
                        continue;
                }
                if (s->dead)
                        continue;
                s->again = false; /* this call serves it */
                call_source(w, s, e->events);
                ran++;
        }
        if (w->again_pending) {
                w->again_pending = false;
                for (struct dw_source *s = w->sources; s; s = s->next) {
                        if (!s->again || s->dead)
                                continue;
                        if (devworker_should_yield(w) || w->exit_requested) {
                                w->again_pending = true; /* the rest next time */
                                break;
                        }
                        s->again = false;
                        call_source(w, s, 0);
                        ran++;
                }
        }
        if (w->cfg.on_idle)
                w->cfg.on_idle(w->cfg.opaque);
        reap(w);
        return ran;
}

static int wait_batch(struct devworker *w, int timeout_ms) {
        if (w->batch_i < w->batch_n)
                return 0; /* a kept batch first */
        if (w->again_pending)
                timeout_ms = 0;
        int n = epoll_wait(w->epfd, w->batch, DW_BATCH, timeout_ms);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        w->batch_n = n;
        w->batch_i = 0;
        return 0;
}

int devworker_run_once(struct devworker *w, int timeout_ms) {
        int r = wait_batch(w, timeout_ms);
        return r < 0 ? r : dispatch(w);
}

int devworker_run(struct devworker *w) {
        if (w->started)
                return -EBUSY;
        while (!w->exit_requested) {
                int r = devworker_run_once(w, -1);
                if (r < 0)
                        return r;
        }
        return w->exit_code;
}

void devworker_exit(struct devworker *w, int code) {
        if (!w->exit_requested) {
                w->exit_requested = true;
                w->exit_code = code;
        }
}

static void *thread_main(void *arg) {
        struct devworker *w = arg;
        pthread_setname_np(pthread_self(), w->name);
        int r = w->cfg.on_start ? w->cfg.on_start(w->cfg.opaque) : 0;
        pthread_mutex_lock(&w->lock);
        w->start_result = r;
        w->start_done = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (r < 0)
                goto out;
        while (service_requests(w)) {
                if (wait_batch(w, -1) < 0)
                        break;
                if (!woken_paused(w) && !must_leave(w))
                        dispatch(w);
        }
        if (w->cfg.on_exit)
                w->cfg.on_exit(w->cfg.opaque);
out:
        pthread_mutex_lock(&w->lock);
        w->exited = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int devworker_start(struct devworker *w) {
        if (w->started)
                return -EBUSY;
        atomic_store(&w->stop_req, false);
        w->start_done = w->exited = false;
        /* Before the thread exists: it reads started from its first
         * round (service_requests), and pthread_create orders this write
         * before all it does. Set after, it raced with that read. */
        w->started = true;
        int r = -pthread_create(&w->thread, NULL, thread_main, w);
        if (r < 0) {
                w->started = false;
                return r;
        }
        pthread_mutex_lock(&w->lock);
        while (!w->start_done)
                pthread_cond_wait(&w->cond, &w->lock);
        r = w->start_result;
        pthread_mutex_unlock(&w->lock);
        if (r < 0) {
                pthread_join(w->thread, NULL);
                w->started = false;
        }
        return r;
}

void devworker_stop(struct devworker *w) {
        if (!w->started)
                return;
        pthread_mutex_lock(&w->lock);
        atomic_store(&w->stop_req, true);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        devworker_kick(w);
        pthread_join(w->thread, NULL);
        w->started = false;
}

int devworker_pause(struct devworker *w) {
        if (on_thread(w))
                return -EDEADLK;
        pthread_mutex_lock(&w->lock);
        bool again = atomic_exchange(&w->pause_req, true);
        if (w->started && !again)
                atomic_fetch_add(&w->pauses, 1);
        if (w->started && w->waiting && !w->exited) {
                /* Idle in epoll_wait: it parks when it next wakes, before
                 * any callback. Not woken for that. */
                if (!again)
                        atomic_fetch_add(&w->idle_pauses, 1);
        } else if (w->started) {
                devworker_kick(w);
                while (!w->parked && !w->exited)
                        pthread_cond_wait(&w->cond, &w->lock);
        }
        pthread_mutex_unlock(&w->lock);
        return 0;
}

void devworker_resume(struct devworker *w) {
        pthread_mutex_lock(&w->lock);
        atomic_store(&w->pause_req, false);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

bool devworker_is_paused(const struct devworker *w) {
        return atomic_load(&w->pause_req);
}

int devworker_call(struct devworker *w, int (*fn)(void *arg), void *arg) {
        if (!w->started || on_thread(w))
                return fn(arg);
        pthread_mutex_lock(&w->call_lock);
        pthread_mutex_lock(&w->lock);
        w->call_fn = fn;
        w->call_arg = arg;
        w->call_pending = true;
        pthread_cond_broadcast(&w->cond); /* a parked thread runs it too */
        devworker_kick(w);
        while (w->call_pending && !w->exited)
                pthread_cond_wait(&w->cond, &w->lock);
        int r;
        if (w->call_pending) { /* the thread ended first: run it here */
                w->call_pending = false;
                r = fn(arg);
        } else {
                r = w->call_result;
        }
        pthread_mutex_unlock(&w->lock);
        pthread_mutex_unlock(&w->call_lock);
        return r;
}

void devworker_get_stats(const struct devworker *w, struct devworker_stats *out) {
        *out = (struct devworker_stats){ .callbacks = atomic_load(&w->callbacks), .pauses = atomic_load(&w->pauses),
                                         .idle_pauses = atomic_load(&w->idle_pauses) };
}
