// SPDX-License-Identifier: MIT
/* The i8042's two ports on a vid partition. Both are byte registers; a
 * wider access reads the byte in the low lane (all ones above). */
#include <string.h>

#include "emu/i8042.h"
#include "vid/vid.h"

static void pio_read(struct i8042 *k, uint16_t port, void *d, unsigned len) {
        uint8_t v = i8042_read(k, port);
        memcpy(d, &v, 1); /* vid filled the rest with ones */
}

static void data_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        pio_read(o, I8042_DATA_PORT, d, len);
}

static void cmd_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        pio_read(o, I8042_CMD_PORT, d, len);
}

static void data_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        i8042_write(o, I8042_DATA_PORT, *(const uint8_t *)d);
}

static void cmd_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        i8042_write(o, I8042_CMD_PORT, *(const uint8_t *)d);
}

static const struct vid_io_ops data_ops = { .read = data_read, .write = data_write };
static const struct vid_io_ops cmd_ops = { .read = cmd_read, .write = cmd_write };

int i8042_register(struct i8042 *k, struct vid_partition *p) {
        int r = vid_register_pio(p, I8042_DATA_PORT, 1, &data_ops, k);
        return r < 0 ? r : vid_register_pio(p, I8042_CMD_PORT, 1, &cmd_ops, k);
}
