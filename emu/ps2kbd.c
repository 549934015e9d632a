// SPDX-License-Identifier: MIT
/* The PS/2 keyboard behind the i8042 (IBM PC/AT Technical Reference,
 * "Keyboard Commands"; every command is acknowledged with FAh):
 *   ED set LEDs + argument      EE echo (EEh)          F0 scan code set + argument
 *   F2 identify (FA AB 83)      F3 typematic + arg      F4 enable scanning
 *   F5 defaults, disable        F6 defaults             F7-FD set 3 only: acknowledged
 *   FE resend the last byte     FF reset: FA, then the self-test result AAh
 * Anything else is answered FEh (resend). A command clears the keystrokes
 * still queued, as the keyboard's buffer is cleared on commands. Scan code
 * set 3 is refused (FEh), so a guest falls back to set 2. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "emu/i8042.h"

#define KBD_ACK 0xfau
#define KBD_RESEND 0xfeu
#define KBD_BAT_OK 0xaau
#define KBD_ECHO 0xeeu

static void push(struct ps2kbd *kb, uint8_t v) {
        if (kb->count == I8042_KBD_QUEUE)
                return; /* the queue is full of responses: a guest spamming commands loses answers */
        kb->q[(kb->head + kb->count) % I8042_KBD_QUEUE] = v;
        kb->count++;
}

static void defaults(struct ps2kbd *kb) {
        kb->set = 2;
        kb->typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
        kb->leds = 0;
        kb->pending = 0;
}

void ps2kbd_reset(struct ps2kbd *kb) {
        memset(kb, 0, sizeof *kb);
        defaults(kb);
        kb->scanning = true;
}

bool ps2kbd_pop(struct ps2kbd *kb, uint8_t *v) {
        if (kb->count == 0)
                return false;
        *v = kb->q[kb->head];
        kb->head = (kb->head + 1) % I8042_KBD_QUEUE;
        kb->count--;
        kb->last = *v;
        return true;
}

static void argument(struct ps2kbd *kb, uint8_t cmd, uint8_t v) {
        kb->pending = 0;
        switch (cmd) {
        case 0xed:
                kb->leds = v & 7u;
                return push(kb, KBD_ACK);
        case 0xf3:
                kb->typematic = v & 0x7fu;
                return push(kb, KBD_ACK);
        case 0xf0:
                if (v == 0) { /* report the current set */
                        push(kb, KBD_ACK);
                        return push(kb, kb->set);
                }
                if (v == 1 || v == 2) {
                        kb->set = v;
                        return push(kb, KBD_ACK);
                }
                return push(kb, KBD_RESEND);
        }
}

static void command(struct ps2kbd *kb, uint8_t v) {
        switch (v) {
        case 0xed:
        case 0xf0:
        case 0xf3:
                kb->pending = v;
                return push(kb, KBD_ACK);
        case 0xee:
                return push(kb, KBD_ECHO);
        case 0xf2:
                push(kb, KBD_ACK);
                push(kb, 0xab);
                return push(kb, 0x83); /* MF2 keyboard */
        case 0xf4:
                kb->scanning = true;
                return push(kb, KBD_ACK);
        case 0xf5:
                defaults(kb);
                kb->scanning = false;
                return push(kb, KBD_ACK);
        case 0xf6:
                defaults(kb);
                return push(kb, KBD_ACK);
        case 0xfe:
                return push(kb, kb->last);
        case 0xff:
                defaults(kb);
                kb->scanning = true;
                push(kb, KBD_ACK);
                return push(kb, KBD_BAT_OK);
        default:
                if (v >= 0xf7 && v <= 0xfd)
                        return push(kb, KBD_ACK); /* set 3 key attributes: nothing to do in set 1/2 */
                return push(kb, KBD_RESEND);
        }
}

void ps2kbd_write(struct ps2kbd *kb, uint8_t v) {
        /* A command byte clears the output buffer (pending keystrokes). */
        kb->count = 0;
        /* An argument is any byte while one is expected, unless it is a
         * command itself (the keyboard then runs the new command). */
        if (kb->pending && v < 0xed)
                return argument(kb, kb->pending, v);
        kb->pending = 0;
        command(kb, v);
}

int ps2kbd_key(struct ps2kbd *kb, unsigned key, bool down) {
        uint8_t code = kb->set == 1 ? keymap_set1(key) : keymap_set2(key);
        if (code == 0)
                return -EINVAL;
        if (kb->count + 2 > I8042_KBD_QUEUE)
                return -ENOBUFS;
        if (kb->set == 1) {
                push(kb, down ? code : (uint8_t)(code | 0x80u));
        } else {
                if (!down)
                        push(kb, 0xf0);
                push(kb, code);
        }
        return 0;
}
