/* SPDX-License-Identifier: MIT */
/* The worker's event loop: epoll over file descriptors plus timerfd timers,
 * run by the main thread. Callbacks may add and free sources (their own
 * included) while the loop dispatches. */
#pragma once

#include <stdint.h>

struct vmwp_loop;
struct vmwp_source;

/* revents are EPOLL* bits (for a timer: EPOLLIN once per expiry batch).
 * A negative return ends the loop with that value. */
typedef int (*vmwp_source_fn)(struct vmwp_source *s, int fd, uint32_t revents, void *userdata);

#define VMWP_LOOP_MAX_SOURCES 64u

int vmwp_loop_new(struct vmwp_loop **out);
/* Frees the remaining sources (closing timer fds; I/O fds stay the caller's). */
void vmwp_loop_free(struct vmwp_loop *l);

int vmwp_loop_add_io(struct vmwp_loop *l, int fd, uint32_t events, vmwp_source_fn fn, void *userdata,
                     struct vmwp_source **out);
/* A timer firing after initial_us, then every interval_us (0: once). */
int vmwp_loop_add_timer(struct vmwp_loop *l, uint64_t initial_us, uint64_t interval_us, vmwp_source_fn fn,
                        void *userdata, struct vmwp_source **out);
/* Changes the watched events (0 pauses an I/O source). */
int vmwp_source_set_events(struct vmwp_source *s, uint32_t events);
void vmwp_source_free(struct vmwp_source *s);

/* Dispatches until vmwp_loop_exit() (or a callback fails); returns the code. */
int vmwp_loop_run(struct vmwp_loop *l);
/* One epoll_wait (timeout_ms, -1 forever) and its dispatch; returns the
 * number of sources dispatched, or a negative errno. */
int vmwp_loop_run_once(struct vmwp_loop *l, int timeout_ms);
void vmwp_loop_exit(struct vmwp_loop *l, int code);
