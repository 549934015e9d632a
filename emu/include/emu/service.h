/* SPDX-License-Identifier: MIT */
/* The emulated devices' service thread: one per VM, it owns the IDE
 * backend's io_uring, the RTC's timer and the keyboard socket, so that no
 * vCPU thread ever waits on a disk, a timer or a client. A device worker
 * (common/devworker.h) over the registered fds; vCPU threads kick it when
 * they queue work; hooks run after every wake-up, at exit, and when it is
 * paused (docs/vm-state.md: quiesce). */
#pragma once

#include <stdbool.h>

struct emu_service;

#define EMU_SERVICE_MAX_SOURCES 8u
#define EMU_SERVICE_MAX_HOOKS 8u

typedef void (*emu_event_fn)(void *opaque, short revents);
typedef void (*emu_hook_fn)(void *opaque);

int emu_service_new(struct emu_service **out);
/* Stops the thread if it runs (running the exit hooks there), then frees.
 * Without a thread the exit hooks run on the caller. Accepts NULL. */
void emu_service_free(struct emu_service *s);

/* Sources and hooks: before emu_service_start(), on the service thread
 * itself (from a callback), or while paused. Returns a source index,
 * -ENOSPC, or -EINVAL (no fd, no callback). Events 0: not watched at all
 * (not even hang-ups) until set again. */
int emu_service_add(struct emu_service *s, int fd, short events, emu_event_fn fn, void *opaque);
void emu_service_set_events(struct emu_service *s, int index, short events);
void emu_service_remove(struct emu_service *s, int index);
int emu_service_on_wake(struct emu_service *s, emu_hook_fn fn, void *opaque);
int emu_service_on_exit(struct emu_service *s, emu_hook_fn fn, void *opaque);
/* Runs on the parked thread in emu_service_pause(): a device drains what
 * the host still has in flight for it (the IDE backend's disk I/O). */
int emu_service_on_pause(struct emu_service *s, emu_hook_fn fn, void *opaque);

/* Any thread: wake the loop (its wake hooks run). Async-signal-unsafe. */
void emu_service_kick(struct emu_service *s);

/* Starts the thread (named "emu"). */
int emu_service_start(struct emu_service *s);
/* Runs fn(arg) on the service thread and returns its result (inline when
 * the thread is not running): e.g. narrowing its seccomp policy once the
 * worker sandbox is entered. */
int emu_service_call(struct emu_service *s, int (*fn)(void *arg), void *arg);

/* Quiesce (docs/vm-state.md): returns once the thread finished what it was
 * doing and the pause hooks ran; from then on no callback or wake hook
 * runs, so no emulated device writes guest RAM or raises an interrupt
 * from this thread. Kicks, timer expiries and keyboard bytes wait and are
 * served after emu_service_resume(). Calls still run. Idempotent; before
 * emu_service_start() the thread starts parked. Not on the service
 * thread (-EDEADLK). */
int emu_service_pause(struct emu_service *s);
void emu_service_resume(struct emu_service *s);
