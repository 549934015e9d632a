// SPDX-License-Identifier: MIT
/* The firmware's debug console port (emu/debugcon.h). */
#include <string.h>

#include "emu/debugcon.h"
#include "vid/vid.h"

void debugcon_init(struct debugcon *d, debugcon_line_fn line, void *opaque) {
        memset(d, 0, sizeof *d);
        pthread_mutex_init(&d->lock, NULL);
        d->line = line;
        d->opaque = opaque;
}

void debugcon_destroy(struct debugcon *d) {
        pthread_mutex_destroy(&d->lock);
}

static void flush(struct debugcon *d) {
        d->buf[d->n] = 0;
        if (d->line)
                d->line(d->opaque, d->buf);
        d->n = 0;
}

void debugcon_put(struct debugcon *d, uint8_t byte) {
        if (d->bytes >= DEBUGCON_BUDGET) {
                d->dropped++;
                return;
        }
        d->bytes++;
        if (byte == '\n') {
                flush(d);
                return;
        }
        if (byte == '\r')
                return;
        d->buf[d->n++] = byte >= 0x20 && byte < 0x7f ? (char)byte : '?';
        if (d->n == DEBUGCON_LINE_MAX)
                flush(d);
}

static void port_read(void *o, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        memset(data, DEBUGCON_READBACK, len);
}

static void port_write(void *o, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        struct debugcon *d = o;
        pthread_mutex_lock(&d->lock);
        debugcon_put(d, *(const uint8_t *)data); /* the port is a byte wide */
        pthread_mutex_unlock(&d->lock);
}

static const struct vid_io_ops ops = { .read = port_read, .write = port_write };

int debugcon_register(struct debugcon *d, struct vid_partition *p) {
        return vid_register_pio(p, DEBUGCON_PORT, 1, &ops, d);
}
