/* SPDX-License-Identifier: MIT */
/* i8042: the PS/2 keyboard controller at ports 0x60 (data) and 0x64
 * (status/command), IRQ 1, with a keyboard behind it and no auxiliary
 * (mouse) device (docs/emulated-devices.md). Command set from the IBM
 * PC/AT Technical Reference ("Keyboard Controller Commands", "Keyboard
 * Commands") as Linux's i8042 and atkbd drivers use it: controller
 * self-test 0xAA -> 0x55, interface tests, command byte read/write,
 * port enable/disable, output port, pulse-reset 0xFE; keyboard reset,
 * identify, set LEDs, scan code set 1/2, enable/disable, typematic.
 *
 * i8042_read/i8042_write are the pure register decoder (fuzz-i8042.c):
 * all state is in the struct, the callbacks only report interrupts and
 * the reset request. Keystrokes come from the host as ASCII characters
 * (i8042_type_char), turned into make/break codes of a US layout. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vid_partition;

#define I8042_DATA_PORT 0x60u
#define I8042_CMD_PORT 0x64u
#define I8042_KBD_IRQ 1u
/* Hard limits: scan code bytes waiting for the guest (real keyboards hold
 * 16; the host's input waits in its socket beyond this), controller
 * responses queued ahead of them. */
#define I8042_KBD_QUEUE 256u
#define I8042_CTRL_QUEUE 8u
#define I8042_MAX_BYTES_PER_CHAR 6u /* set 2: modifier make, key make, key break, modifier break */

/* Status register bits. */
#define I8042_STR_OBF 0x01u
#define I8042_STR_IBF 0x02u
#define I8042_STR_SYS 0x04u
#define I8042_STR_CMD 0x08u /* last write went to 0x64 */
#define I8042_STR_UNLOCKED 0x10u
#define I8042_STR_AUXDATA 0x20u
/* Command byte (controller RAM 0). */
#define I8042_CTR_KBDINT 0x01u
#define I8042_CTR_AUXINT 0x02u
#define I8042_CTR_SYS 0x04u
#define I8042_CTR_KBDDIS 0x10u
#define I8042_CTR_AUXDIS 0x20u
#define I8042_CTR_XLATE 0x40u

struct i8042_ops {
        void (*irq)(void *opaque, bool level);   /* IRQ 1 */
        void (*reset)(void *opaque, const char *source); /* pulse 0xFE, or output port bit 0 cleared */
        void (*input_space)(void *opaque);       /* the keyboard queue has room again */
};

/* The keyboard behind the controller (ps2kbd.c). */
struct ps2kbd {
        uint8_t q[I8042_KBD_QUEUE];
        unsigned head, count;
        uint8_t pending;  /* command waiting for its argument: 0xED, 0xF0, 0xF3 */
        uint8_t set;      /* scan code set 1 or 2 */
        bool scanning;    /* 0xF4 enable / 0xF5 disable */
        uint8_t leds, typematic, last;
};

struct i8042_stats {
        uint64_t commands, kbd_commands, keys, dropped_keys, ignored;
};

struct i8042 {
        pthread_mutex_t lock;
        const struct i8042_ops *ops;
        void *opaque;
        uint8_t ram[32];  /* controller RAM; ram[0] is the command byte */
        uint8_t out;      /* output buffer */
        bool obf;
        bool last_was_cmd;
        bool sys_flag;
        uint8_t pending;  /* controller command waiting for its data byte */
        uint8_t outport;
        uint8_t cq[I8042_CTRL_QUEUE];
        unsigned cq_head, cq_count;
        bool irq_level;
        bool kbd_full;    /* input_space owed once the queue drains */
        struct ps2kbd kbd;
        struct i8042_stats stats;
};

void i8042_init(struct i8042 *k, const struct i8042_ops *ops, void *opaque);
void i8042_destroy(struct i8042 *k);
/* port: I8042_DATA_PORT or I8042_CMD_PORT. */
uint8_t i8042_read(struct i8042 *k, uint16_t port);
void i8042_write(struct i8042 *k, uint16_t port, uint8_t value);
/* One character typed on the host: 0 queued (or dropped while the
 * keyboard does not scan: counted), -ENOBUFS no room (try later),
 * -EINVAL no key produces it. */
int i8042_type_char(struct i8042 *k, uint8_t c);
/* Bytes of room in the keyboard's queue. */
size_t i8042_input_room(struct i8042 *k);
void i8042_get_stats(struct i8042 *k, struct i8042_stats *out);
int i8042_register(struct i8042 *k, struct vid_partition *p);

/* ---- the keyboard (ps2kbd.c) and its key map (keymap.c) ---- */

void ps2kbd_reset(struct ps2kbd *kb);
/* A byte from the controller (a keyboard command or its argument). */
void ps2kbd_write(struct ps2kbd *kb, uint8_t v);
/* Pops the next byte for the controller; false when empty. */
bool ps2kbd_pop(struct ps2kbd *kb, uint8_t *v);
/* Queues the make or break code of a key (keymap.c numbering). */
int ps2kbd_key(struct ps2kbd *kb, unsigned key, bool down);

enum {
        KEY_LSHIFT = 1, /* the modifiers; other keys are numbered by the table */
        KEY_LCTRL = 2,
};
/* The key producing c and its modifier (0, KEY_LSHIFT or KEY_LCTRL); false
 * if none. */
bool keymap_char(uint8_t c, unsigned *key, unsigned *modifier);
/* A key's make code in set 1 and set 2 (both one byte for these keys). */
uint8_t keymap_set1(unsigned key);
uint8_t keymap_set2(unsigned key);
/* Translation of a set 2 byte to set 1 by an 8042 with XLATE set; bytes
 * that are not make codes of our keys pass unchanged. */
uint8_t keymap_xlate(uint8_t set2);
