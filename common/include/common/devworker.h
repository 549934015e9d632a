/* SPDX-License-Identifier: MIT */
/* The device-worker primitive: an epoll set of file descriptors and timers
 * dispatched by one thread, with a stop request, calls run on that thread,
 * and a pause handshake. Every device of the worker that serves the guest
 * from a thread of its own (the VMBus channels, storvsp, netvsp, the
 * integration services, the emulated devices) runs on one of these, and so
 * does vmwp's main loop (devworker_run on the calling thread).
 *
 * Pause (docs/vm-state.md): devworker_pause() returns once the thread has
 * finished the callback it was in and acknowledged (or at once when it is
 * idle in epoll_wait, which it leaves only through the lock the pause
 * holds, parking before any callback); from then on it runs no
 * callback (not even the rest of the epoll batch it had) until
 * devworker_resume(). Events stay pending in the kernel (sources are level
 * triggered) or in the kept batch, so resume loses nothing. Calls
 * (devworker_call) still run while paused: they are how a device's save
 * reads state owned by the thread.
 *
 * Threading: sources may be added, changed and freed from the worker's own
 * callbacks, or from another thread while the worker is paused, stopped or
 * not started (or through devworker_call). A freed source is unlinked from
 * epoll at once and released after the batch, so an event already returned
 * never reaches freed memory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct devworker;
struct dw_source;

/* revents are EPOLL* bits (for a timer: EPOLLIN once per expiry batch).
 * Returns 0, DW_AGAIN to be called again without waiting for the fd (after
 * a pause or stop request is honoured: a callback that serves a ring until
 * it runs dry returns DW_AGAIN instead of looping, so pausing never waits
 * for a busy guest), or a negative errno, which ends devworker_run() with
 * that value (a started thread logs nothing and goes on: the device decides
 * what an error means before returning it). */
typedef int (*dw_source_fn)(struct dw_source *s, int fd, uint32_t revents, void *opaque);
#define DW_AGAIN 1

#define DW_MAX_SOURCES 64u

struct devworker_config {
        const char *name; /* thread name (15 characters at most are shown) */
        /* Runs first on the started thread (a sandbox's per-thread policy);
         * a failure ends the thread and devworker_start returns it. */
        int (*on_start)(void *opaque);
        /* After each batch of callbacks (emu's wake hooks). */
        void (*on_idle)(void *opaque);
        /* Last, on the thread, after the stop request. */
        void (*on_exit)(void *opaque);
        void *opaque;
        /* Sources at most (0: DW_MAX_SOURCES): a device that serves many
         * connections (hv_sock: a socket and a doorbell each) sets its own
         * bound, derived from its own limits. */
        unsigned max_sources;
};

int devworker_new(const struct devworker_config *cfg, struct devworker **out);
/* Stops the thread if it runs, then frees the remaining sources (closing
 * timer fds; I/O fds stay the caller's). NULL is ignored. */
void devworker_free(struct devworker *w);

int devworker_add_io(struct devworker *w, int fd, uint32_t events, dw_source_fn fn, void *opaque,
                     struct dw_source **out);
/* A timer firing after initial_us, then every interval_us (0: once). */
int devworker_add_timer(struct devworker *w, uint64_t initial_us, uint64_t interval_us, dw_source_fn fn,
                        void *opaque, struct dw_source **out);
/* Changes the watched events; 0 takes the fd out of the set (hang-ups and
 * errors included, which epoll reports whatever the mask) until events are
 * set again. */
int dw_source_set_events(struct dw_source *s, uint32_t events);
/* Re-arms a timer (initial_us 0 disarms it). */
int dw_source_set_timer(struct dw_source *s, uint64_t initial_us, uint64_t interval_us);
void dw_source_free(struct dw_source *s);

/* Starts the thread. */
int devworker_start(struct devworker *w);
/* Requests the stop and joins; idempotent. A paused worker stops too. */
void devworker_stop(struct devworker *w);
/* Wakes the thread (its on_idle hook runs). Any thread, lock-free. */
void devworker_kick(struct devworker *w);

/* The pause handshake. Returns 0 once the thread is parked (at once when
 * it is not running, or idle in its wait: it then parks when it next
 * wakes, before any callback); idempotent. Must not be called on the
 * worker's own thread (-EDEADLK). */
int devworker_pause(struct devworker *w);
void devworker_resume(struct devworker *w);
bool devworker_is_paused(const struct devworker *w);
/* True on the worker's thread when a pause or stop is pending: a callback
 * that loops should return DW_AGAIN. */
bool devworker_should_yield(const struct devworker *w);

/* Runs fn(arg) on the worker's thread between callbacks (also while
 * paused) and returns its result; runs it inline when called on that
 * thread or when the thread is not running. */
int devworker_call(struct devworker *w, int (*fn)(void *arg), void *arg);

/* The caller's thread dispatches until devworker_exit() or a callback
 * fails; returns the code. Not with a started thread. */
int devworker_run(struct devworker *w);
/* One wait (timeout_ms, -1 forever) and its dispatch on the caller's
 * thread; returns the number of callbacks run or a negative errno. */
int devworker_run_once(struct devworker *w, int timeout_ms);
void devworker_exit(struct devworker *w, int code);

struct devworker_stats {
        uint64_t callbacks;
        uint64_t pauses;      /* devworker_pause() calls that paused a started thread */
        uint64_t idle_pauses; /* ... of which found it idle in its wait: granted at once */
};
void devworker_get_stats(const struct devworker *w, struct devworker_stats *out);
