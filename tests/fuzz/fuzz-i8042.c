// SPDX-License-Identifier: MIT
/* Fuzz the i8042 controller and keyboard (emu/i8042.c, ps2kbd.c,
 * keymap.c): any sequence of port reads and writes and typed characters.
 * Checks: the queues stay within their limits, IRQ 1 is asserted exactly
 * while a byte waits in the output buffer with the keyboard interrupt
 * enabled, and the reset callback only comes from the two reset paths.
 *
 * Input: a sequence of [op u8][value u8]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/i8042.h"
#include "tests/fuzz/fuzz-check.h"


static bool level;
static unsigned resets;

static void on_irq(void *o, bool l) {
        CHECK(l != level); /* only changes are reported */
        level = l;
}
static void on_reset(void *o, const char *source) {
        CHECK(source != NULL);
        resets++;
}
static const struct i8042_ops ops = { .irq = on_irq, .reset = on_reset };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        static struct i8042 k;
        level = false;
        resets = 0;
        i8042_init(&k, &ops, NULL);
        for (size_t i = 0; i + 2 <= size; i += 2) {
                uint8_t v = in[i + 1];
                unsigned before = resets;
                switch (in[i] % 5) {
                case 0:
                        i8042_write(&k, I8042_DATA_PORT, v);
                        break;
                case 1:
                        i8042_write(&k, I8042_CMD_PORT, v);
                        CHECK(resets == before || (v >= 0xf0 && !(v & 1)));
                        break;
                case 2:
                        (void)i8042_read(&k, I8042_DATA_PORT);
                        break;
                case 3:
                        (void)i8042_read(&k, I8042_CMD_PORT);
                        break;
                case 4:
                        (void)i8042_type_char(&k, v);
                        break;
                }
                CHECK(k.kbd.count <= I8042_KBD_QUEUE && k.cq_count <= I8042_CTRL_QUEUE);
                CHECK(k.kbd.set == 1 || k.kbd.set == 2);
                CHECK(level == (k.obf && (k.ram[0] & I8042_CTR_KBDINT)));
        }
        i8042_destroy(&k);
        return 0;
}
