// SPDX-License-Identifier: MIT
/* The 8042 keyboard controller (see emu/i8042.h). Controller commands
 * (IBM PC/AT Technical Reference, "Keyboard Controller Commands", and the
 * PS/2 additions Linux's i8042.c uses):
 *   20-3F read RAM (20: command byte)   60-7F write RAM (+ data byte)
 *   A4 password installed? -> F1 (no)    A7/A8 disable/enable aux (bit 5)
 *   A9 aux interface test -> 02 (no device: clock line stuck)
 *   AA self test -> 55                   AB keyboard interface test -> 00
 *   AD/AE disable/enable keyboard        C0 input port   D0 output port
 *   D1 write output port (+ data; bit 0 clear resets the system)
 *   D2 write keyboard output buffer      D3/D4 aux output buffer / device: swallowed
 *   DD/DF A20 off/on (A20 is always on)  E0 test inputs -> 00
 *   F0-FF pulse output port bits 3-0 low for 6 us: bit 0 is the reset line
 * Anything else is ignored and counted. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "emu/i8042.h"

#define CTR k->ram[0]
#define OUTPORT_RESET 0x01u /* high: the CPU runs */
#define OUTPORT_A20 0x02u

void i8042_init(struct i8042 *k, const struct i8042_ops *ops, void *opaque) {
        memset(k, 0, sizeof *k);
        pthread_mutex_init(&k->lock, NULL);
        k->ops = ops;
        k->opaque = opaque;
        /* As a BIOS leaves it: keyboard interrupt, system flag, translation,
         * the (absent) aux port disabled. */
        CTR = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS | I8042_CTR_XLATE;
        k->sys_flag = true;
        k->outport = OUTPORT_RESET | OUTPORT_A20;
        ps2kbd_reset(&k->kbd);
}

void i8042_destroy(struct i8042 *k) {
        pthread_mutex_destroy(&k->lock);
}

static void update_irq(struct i8042 *k) {
        bool level = k->obf && (CTR & I8042_CTR_KBDINT);
        if (level != k->irq_level) {
                k->irq_level = level;
                if (k->ops && k->ops->irq)
                        k->ops->irq(k->opaque, level);
        }
}

static void ctrl_respond(struct i8042 *k, uint8_t v) {
        if (k->cq_count < I8042_CTRL_QUEUE)
                k->cq[(k->cq_head + k->cq_count++) % I8042_CTRL_QUEUE] = v;
}

/* The next keyboard byte, through the set 2 -> set 1 translation when
 * XLATE is on (F0 xx becomes xx' | 80h). */
static bool kbd_byte(struct i8042 *k, uint8_t *v) {
        if (!ps2kbd_pop(&k->kbd, v))
                return false;
        if (!(CTR & I8042_CTR_XLATE))
                return true;
        bool brk = *v == 0xf0;
        if (brk && !ps2kbd_pop(&k->kbd, v))
                return false;
        *v = (uint8_t)(keymap_xlate(*v) | (brk ? 0x80u : 0));
        return true;
}

/* Moves the next byte into the empty output buffer: controller responses
 * first, then the keyboard's while its interface is enabled. */
static void refill(struct i8042 *k) {
        if (!k->obf) {
                if (k->cq_count) {
                        k->out = k->cq[k->cq_head];
                        k->cq_head = (k->cq_head + 1) % I8042_CTRL_QUEUE;
                        k->cq_count--;
                        k->obf = true;
                } else if (!(CTR & I8042_CTR_KBDDIS) && kbd_byte(k, &k->out)) {
                        k->obf = true;
                }
        }
        update_irq(k);
}

static uint8_t status(struct i8042 *k) {
        return (uint8_t)((k->obf ? I8042_STR_OBF : 0) | (k->sys_flag ? I8042_STR_SYS : 0) |
                         (k->last_was_cmd ? I8042_STR_CMD : 0) | I8042_STR_UNLOCKED);
}

uint8_t i8042_read(struct i8042 *k, uint16_t port) {
        pthread_mutex_lock(&k->lock);
        uint8_t v;
        if (port == I8042_CMD_PORT) {
                v = status(k);
        } else {
                v = k->out; /* an empty buffer reads its last value */
                k->obf = false;
                /* The line drops before the next byte raises it again: the
                 * guest's interrupt controller sees ISA IRQ 1 edge-triggered,
                 * and a line that stayed up would never interrupt again. */
                update_irq(k);
                refill(k);
        }
        bool room = k->kbd_full && k->kbd.count <= I8042_KBD_QUEUE / 2;
        if (room)
                k->kbd_full = false;
        pthread_mutex_unlock(&k->lock);
        if (room && k->ops && k->ops->input_space)
                k->ops->input_space(k->opaque);
        return v;
}

#define RESET_PULSE "keyboard controller reset (0xFE to port 0x64)"
#define RESET_OUTPUT_PORT "keyboard controller reset (output port bit 0 cleared)"

/* Returns the reason when the command resets the system, else NULL. */
static const char *controller_command(struct i8042 *k, uint8_t cmd) {
        k->stats.commands++;
        if (cmd >= 0x20 && cmd <= 0x3f) {
                ctrl_respond(k, k->ram[cmd & 0x1fu]);
                return NULL;
        }
        if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
                k->pending = cmd; /* the data byte follows on port 0x60 */
                return NULL;
        }
        if (cmd >= 0xf0)
                return cmd & 0x01u ? NULL : RESET_PULSE; /* bit 0 low pulses the reset line */
        switch (cmd) {
        case 0xa4:
                ctrl_respond(k, 0xf1);
                break;
        case 0xa7:
        case 0xa8:
                CTR = (uint8_t)(cmd == 0xa7 ? CTR | I8042_CTR_AUXDIS : CTR & ~I8042_CTR_AUXDIS);
                break;
        case 0xa9:
                ctrl_respond(k, 0x02);
                break;
        case 0xaa:
                k->sys_flag = true;
                ctrl_respond(k, 0x55);
                break;
        case 0xab:
                ctrl_respond(k, 0x00);
                break;
        case 0xad:
        case 0xae:
                CTR = (uint8_t)(cmd == 0xad ? CTR | I8042_CTR_KBDDIS : CTR & ~I8042_CTR_KBDDIS);
                break;
        case 0xc0:
                ctrl_respond(k, 0xbf); /* keyboard not inhibited, colour display */
                break;
        case 0xd0:
                ctrl_respond(k, k->outport);
                break;
        case 0xdd:
        case 0xdf:
                break; /* A20 stays on */
        case 0xe0:
                ctrl_respond(k, 0x00);
                break;
        default:
                k->stats.ignored++;
                break;
        }
        return NULL;
}

/* The data byte of a pending controller command; the reset reason or NULL. */
static const char *controller_data(struct i8042 *k, uint8_t cmd, uint8_t v) {
        if (cmd >= 0x60 && cmd <= 0x7f) {
                k->ram[cmd & 0x1fu] = v;
                if (cmd == 0x60)
                        k->sys_flag = v & I8042_CTR_SYS;
                return NULL;
        }
        switch (cmd) {
        case 0xd1:
                k->outport = (uint8_t)(v | OUTPORT_A20);
                return v & OUTPORT_RESET ? NULL : RESET_OUTPUT_PORT;
        case 0xd2:
                ctrl_respond(k, v); /* appears as if the keyboard sent it */
                return NULL;
        default:
                return NULL; /* D3, D4: no auxiliary device */
        }
}

void i8042_write(struct i8042 *k, uint16_t port, uint8_t v) {
        const char *reset = NULL;
        pthread_mutex_lock(&k->lock);
        if (port == I8042_CMD_PORT) {
                k->last_was_cmd = true;
                k->pending = 0;
                reset = controller_command(k, v);
        } else {
                k->last_was_cmd = false;
                uint8_t cmd = k->pending;
                k->pending = 0;
                if (cmd) {
                        reset = controller_data(k, cmd, v);
                } else {
                        /* To the keyboard; sending it data re-enables its interface. */
                        k->stats.kbd_commands++;
                        CTR &= (uint8_t)~I8042_CTR_KBDDIS;
                        ps2kbd_write(&k->kbd, v);
                }
        }
        refill(k);
        pthread_mutex_unlock(&k->lock);
        if (reset && k->ops && k->ops->reset)
                k->ops->reset(k->opaque, reset); /* outside the lock: it stops the VM */
}

int i8042_type_char(struct i8042 *k, uint8_t c) {
        unsigned key, mod;
        bool known = keymap_char(c, &key, &mod);
        pthread_mutex_lock(&k->lock);
        if (!known) {
                k->stats.dropped_keys++;
                pthread_mutex_unlock(&k->lock);
                return -EINVAL;
        }
        int r = 0;
        if (!k->kbd.scanning) {
                k->stats.dropped_keys++; /* a disabled keyboard does not scan */
        } else if (k->kbd.count + I8042_MAX_BYTES_PER_CHAR > I8042_KBD_QUEUE) {
                k->kbd_full = true;
                r = -ENOBUFS;
        } else {
                if (mod)
                        (void)ps2kbd_key(&k->kbd, mod, true);
                (void)ps2kbd_key(&k->kbd, key, true);
                (void)ps2kbd_key(&k->kbd, key, false);
                if (mod)
                        (void)ps2kbd_key(&k->kbd, mod, false);
                k->stats.keys++;
                refill(k);
        }
        pthread_mutex_unlock(&k->lock);
        return r;
}

size_t i8042_input_room(struct i8042 *k) {
        pthread_mutex_lock(&k->lock);
        size_t room = I8042_KBD_QUEUE - k->kbd.count;
        if (room < I8042_MAX_BYTES_PER_CHAR)
                k->kbd_full = true;
        pthread_mutex_unlock(&k->lock);
        return room;
}

void i8042_get_stats(struct i8042 *k, struct i8042_stats *out) {
        pthread_mutex_lock(&k->lock);
        *out = k->stats;
        pthread_mutex_unlock(&k->lock);
}
