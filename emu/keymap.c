// SPDX-License-Identifier: MIT
/* ASCII to keys of a US keyboard, with their scan codes in set 1 (IBM PC
 * XT/AT, what an 8042 with translation delivers) and set 2 (what AT and PS/2
 * keyboards send), from the IBM Technical Reference scan code tables.
 * Only single-byte keys: characters, Enter, Tab, Backspace, Esc, Shift,
 * Ctrl. */
#include <stddef.h>

#include "common/macro.h"
#include "emu/i8042.h"

struct keydef {
        char plain, shifted;
        uint8_t set1, set2;
};

/* Index = key number; 1 and 2 are the modifiers. */
static const struct keydef keys[] = {
        [0] = { 0, 0, 0, 0 },
        [KEY_LSHIFT] = { 0, 0, 0x2a, 0x12 },
        [KEY_LCTRL] = { 0, 0, 0x1d, 0x14 },
        { 0x1b, 0, 0x01, 0x76 },   /* Esc */
        { '1', '!', 0x02, 0x16 }, { '2', '@', 0x03, 0x1e }, { '3', '#', 0x04, 0x26 }, { '4', '$', 0x05, 0x25 },
        { '5', '%', 0x06, 0x2e }, { '6', '^', 0x07, 0x36 }, { '7', '&', 0x08, 0x3d }, { '8', '*', 0x09, 0x3e },
        { '9', '(', 0x0a, 0x46 }, { '0', ')', 0x0b, 0x45 }, { '-', '_', 0x0c, 0x4e }, { '=', '+', 0x0d, 0x55 },
        { '\b', 0x7f, 0x0e, 0x66 }, /* Backspace (DEL typed on a terminal too) */
        { '\t', 0, 0x0f, 0x0d },
        { 'q', 'Q', 0x10, 0x15 }, { 'w', 'W', 0x11, 0x1d }, { 'e', 'E', 0x12, 0x24 }, { 'r', 'R', 0x13, 0x2d },
        { 't', 'T', 0x14, 0x2c }, { 'y', 'Y', 0x15, 0x35 }, { 'u', 'U', 0x16, 0x3c }, { 'i', 'I', 0x17, 0x43 },
        { 'o', 'O', 0x18, 0x44 }, { 'p', 'P', 0x19, 0x4d }, { '[', '{', 0x1a, 0x54 }, { ']', '}', 0x1b, 0x5b },
        { '\r', '\n', 0x1c, 0x5a }, /* Enter */
        { 'a', 'A', 0x1e, 0x1c }, { 's', 'S', 0x1f, 0x1b }, { 'd', 'D', 0x20, 0x23 }, { 'f', 'F', 0x21, 0x2b },
        { 'g', 'G', 0x22, 0x34 }, { 'h', 'H', 0x23, 0x33 }, { 'j', 'J', 0x24, 0x3b }, { 'k', 'K', 0x25, 0x42 },
        { 'l', 'L', 0x26, 0x4b }, { ';', ':', 0x27, 0x4c }, { '\'', '"', 0x28, 0x52 }, { '`', '~', 0x29, 0x0e },
        { '\\', '|', 0x2b, 0x5d },
        { 'z', 'Z', 0x2c, 0x1a }, { 'x', 'X', 0x2d, 0x22 }, { 'c', 'C', 0x2e, 0x21 }, { 'v', 'V', 0x2f, 0x2a },
        { 'b', 'B', 0x30, 0x32 }, { 'n', 'N', 0x31, 0x31 }, { 'm', 'M', 0x32, 0x3a }, { ',', '<', 0x33, 0x41 },
        { '.', '>', 0x34, 0x49 }, { '/', '?', 0x35, 0x4a },
        { ' ', 0, 0x39, 0x29 },
};

/* Enter and Backspace are their "plain" characters; '\n' and DEL are the
 * same keys without a modifier, not shifted ones. */
static bool unmodified_alias(unsigned i, uint8_t c) {
        return (keys[i].plain == '\r' && c == '\n') || (keys[i].plain == '\b' && c == 0x7f);
}

bool keymap_char(uint8_t c, unsigned *key, unsigned *modifier) {
        if (c == 0)
                return false; /* 0 marks "no character" in the table */
        for (unsigned i = KEY_LCTRL + 1; i < ARRAY_SIZE(keys); i++) {
                if (keys[i].plain == (char)c || unmodified_alias(i, c)) {
                        *key = i, *modifier = 0;
                        return true;
                }
                if (keys[i].shifted == (char)c) {
                        *key = i, *modifier = KEY_LSHIFT;
                        return true;
                }
        }
        /* Control characters 01h-1Ah not claimed above: Ctrl + letter. */
        if (c >= 1 && c <= 26 && keymap_char((uint8_t)('a' + c - 1), key, modifier)) {
                *modifier = KEY_LCTRL;
                return true;
        }
        return false;
}

uint8_t keymap_set1(unsigned key) {
        return key < ARRAY_SIZE(keys) ? keys[key].set1 : 0;
}

uint8_t keymap_set2(unsigned key) {
        return key < ARRAY_SIZE(keys) ? keys[key].set2 : 0;
}

uint8_t keymap_xlate(uint8_t set2) {
        if (set2 == 0x83)
                return 0x41; /* F7, the one set 2 make code above 7Fh: the ID byte AB 83 reads AB 41 */
        for (unsigned i = 1; i < ARRAY_SIZE(keys); i++)
                if (keys[i].set2 == set2)
                        return keys[i].set1;
        return set2;
}
