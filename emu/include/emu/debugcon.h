/* SPDX-License-Identifier: MIT */
/* QEMU's debug console port (isa-debugcon, 0x402), where Debian's SeaBIOS
 * writes its log: a read answers 0xE9, with which the firmware decides
 * the port exists (QEMU_DEBUGCON_READBACK; SeaBIOS src/hw/serialio.c
 * qemu_debug_preinit(), which otherwise turns its log off). Bytes become
 * lines handed to a callback, printable ASCII only, lines cut at
 * DEBUGCON_LINE_MAX, and at most DEBUGCON_BUDGET bytes per VM start: the
 * guest writes this port as often as it likes (docs/THREAT_MODEL.md);
 * what is over the budget is counted, not kept. No saved state: a line
 * half written at a save is dropped with the worker. */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define DEBUGCON_PORT 0x402u
#define DEBUGCON_READBACK 0xe9u
#define DEBUGCON_LINE_MAX 160u
#define DEBUGCON_BUDGET (256u * 1024u)

struct vid_partition;

typedef void (*debugcon_line_fn)(void *opaque, const char *line);

struct debugcon {
        pthread_mutex_t lock; /* vCPU threads write it */
        debugcon_line_fn line;
        void *opaque;
        char buf[DEBUGCON_LINE_MAX + 1];
        size_t n;
        uint64_t bytes, dropped; /* kept within the budget, over it */
};

void debugcon_init(struct debugcon *d, debugcon_line_fn line, void *opaque);
void debugcon_destroy(struct debugcon *d);
/* The pure part: one byte the guest wrote. */
void debugcon_put(struct debugcon *d, uint8_t byte);
/* Claims DEBUGCON_PORT. */
int debugcon_register(struct debugcon *d, struct vid_partition *p);
