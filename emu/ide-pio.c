// SPDX-License-Identifier: MIT
/* The IDE controller's ports on a vid partition: the legacy command and
 * control blocks of both channels (ATA/ATAPI-7 vol. 2 table "I/O port
 * functions"; 0x3F7/0x377 stay with the floppy controller, which does not
 * exist here) and the bus-master block, a port window that follows the
 * PCI function's BAR4 (ide.c, ide_set_decode). */
#include <string.h>

#include "common/macro.h"
#include "ide-internal.h"
#include "vid/vid.h"

static const uint16_t cmd_base[IDE_CHANNELS] = { IDE_PRIMARY_CMD, IDE_SECONDARY_CMD };

static void put(void *data, unsigned len, uint32_t v) {
        memcpy(data, &v, MIN(len, 4u));
}

static uint32_t get(const void *data, unsigned len) {
        uint32_t v = 0;
        memcpy(&v, data, MIN(len, 4u));
        return v;
}

#define CHANNEL_OPS(n)                                                                                    \
        static void cmd##n##_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {     \
                put(d, len, ide_cmd_read(o, n, (unsigned)off, len));                                     \
        }                                                                                                 \
        static void cmd##n##_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) { \
                ide_cmd_write(o, n, (unsigned)off, len, get(d, len));                                    \
        }                                                                                                 \
        static void ctl##n##_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {     \
                put(d, len, ide_ctl_read(o, n));                                                          \
        }                                                                                                 \
        static void ctl##n##_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) { \
                ide_ctl_write(o, n, (uint8_t)get(d, len));                                               \
        }                                                                                                 \
        static const struct vid_io_ops cmd##n##_ops = { .read = cmd##n##_read, .write = cmd##n##_write }; \
        static const struct vid_io_ops ctl##n##_ops = { .read = ctl##n##_read, .write = ctl##n##_write }

CHANNEL_OPS(0);
CHANNEL_OPS(1);

static void bm_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        put(d, len, ide_bm_read(o, (unsigned)off, len));
}

static void bm_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        ide_bm_write(o, (unsigned)off, len, get(d, len));
}

static const struct vid_io_ops bm_ops = { .read = bm_read, .write = bm_write };

static void bm_move(void *opaque, uint32_t base) {
        struct ide_controller *c = opaque;
        /* Only ide_register's window, which exists: cannot fail. */
        (void)vid_pio_window_move(c->bm_partition, c->bm_window, base == IDE_BM_OFF ? VID_PIO_WINDOW_OFF : base);
}

int ide_register(struct ide_controller *c, struct vid_partition *p) {
        int r;
        if ((r = vid_register_pio(p, cmd_base[0], 8, &cmd0_ops, c)) < 0 ||
            (r = vid_register_pio(p, IDE_PRIMARY_CTL, 1, &ctl0_ops, c)) < 0 ||
            (r = vid_register_pio(p, cmd_base[1], 8, &cmd1_ops, c)) < 0 ||
            (r = vid_register_pio(p, IDE_SECONDARY_CTL, 1, &ctl1_ops, c)) < 0 ||
            (r = vid_register_pio_window(p, VID_PIO_WINDOW_OFF, 16, &bm_ops, c, &c->bm_window)) < 0)
                return r;
        c->bm_partition = p;
        ide_set_bm_mover(c, bm_move, c); /* where BAR4 is now */
        return 0;
}
