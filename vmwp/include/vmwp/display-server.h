/* SPDX-License-Identifier: MIT */
/* The worker's end of the display protocol (common/display.h,
 * docs/console.md): a device worker thread that listens on the display
 * socket, serves one display server at a time (HELLO with the
 * framebuffer's read-only fd, then MODE, STATUS and DIRTY as the guest
 * changes them; KEY and POINTER back to the devices), answers any other
 * connection as a snapshot (HELLO, MODE, BYE), and never waits for a
 * client: one that does not read is behind and gets the whole screen
 * when it has room again.
 *
 * The devices are reached through ops (vm-display.c: the synthetic video,
 * keyboard and mouse), so this runs against fakes in
 * tests/unit/test-vmwp-display.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/display.h"

struct vmwp_dsrv;

/* Called on the display thread. */
struct vmwp_dsrv_ops {
        /* The guest's mode (inactive: none) and DISPLAY_STATUS_* bits. */
        void (*state)(void *opaque, struct display_mode *mode, uint32_t *status);
        /* videovsp_take_dirty's contract. */
        size_t (*take_dirty)(void *opaque, struct display_rect *out, size_t max, bool full);
        /* A display server connected (true) or left. */
        void (*watch)(void *opaque, bool on);
        /* Its input: 0 or -errno (counted as refused). */
        int (*key)(void *opaque, uint32_t scancode, bool down);
        int (*pointer)(void *opaque, uint32_t x, uint32_t y, uint32_t buttons, int32_t wheel);
        /* After each kick, before the client hears of it. Optional. */
        void (*kicked)(void *opaque);
};

struct vmwp_dsrv_config {
        int listen_fd;     /* SOCK_SEQPACKET, listening, non-blocking; -1: none (no client ever) */
        int fb_fd;         /* what HELLO carries (read-only) */
        uint32_t fb_bytes; /* ... and how much of it a client may map */
        const struct vmwp_dsrv_ops *ops;
        void *opaque;
        /* Runs first on the started thread (the sandbox policy). Optional. */
        int (*on_start)(void *opaque);
};

/* The fds stay the caller's. */
int vmwp_dsrv_new(const struct vmwp_dsrv_config *cfg, struct vmwp_dsrv **out);
int vmwp_dsrv_start(struct vmwp_dsrv *s);
/* Stops the thread (no ops call after it returns); the client goes. */
void vmwp_dsrv_stop(struct vmwp_dsrv *s);
void vmwp_dsrv_free(struct vmwp_dsrv *s);
/* The devices changed (mode, drivers, dirt): any thread, lock-free. */
void vmwp_dsrv_kick(struct vmwp_dsrv *s);

struct vmwp_dsrv_stats {
        uint64_t clients, snapshots, keys, pointers, input_refused, bad_messages, updates, rects, overruns;
        bool connected;
};
void vmwp_dsrv_get_stats(struct vmwp_dsrv *s, struct vmwp_dsrv_stats *out);
