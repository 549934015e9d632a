// SPDX-License-Identifier: MIT
/* What a viewer holds down, and its pointer as DISPLAY_POINTER. */
#include <string.h>

#include "vmdisplay/input.h"

/* 0x00-0x7f as they are, 0xE000-0xE07f after them; -1 for anything else. */
static int held_index(uint32_t sc) {
        if (sc <= 0x7f)
                return (int)sc;
        if (sc >= 0xe000 && sc <= 0xe07f)
                return (int)(0x80 + (sc & 0x7f));
        return -1;
}

void vmd_keys_note(struct vmd_keys_held *h, const struct vmd_key_event *e) {
        int i = held_index(e->scancode);
        if (i < 0)
                return;
        uint64_t bit = 1ull << (i % 64);
        if (e->down)
                h->bits[i / 64] |= bit;
        else
                h->bits[i / 64] &= ~bit;
}

size_t vmd_keys_release_all(struct vmd_keys_held *h, struct vmd_key_event *out, size_t max) {
        size_t n = 0;
        for (int i = 0; i < 256 && n < max; i++)
                if (h->bits[i / 64] & (1ull << (i % 64))) {
                        uint32_t sc = i < 0x80 ? (uint32_t)i : 0xe000u + (uint32_t)(i - 0x80);
                        out[n++] = (struct vmd_key_event){ sc, false };
                }
        memset(h, 0, sizeof *h);
        return n;
}

/* rfb button bits (RFC 6143 §7.5.5) */
#define RFB_LEFT 0x01
#define RFB_MIDDLE 0x02
#define RFB_RIGHT 0x04
#define RFB_WHEEL_UP 0x08
#define RFB_WHEEL_DOWN 0x10

static uint32_t clamp_coord(int v, uint32_t size) {
        if (v < 0)
                return 0;
        return (uint32_t)v >= size ? size - 1 : (uint32_t)v;
}

bool vmd_pointer_event(uint8_t *last_mask, int mask, int x, int y, uint32_t width, uint32_t height,
                       struct display_msg *out) {
        uint8_t now = (uint8_t)(mask & 0xff);
        uint8_t pressed = (uint8_t)(now & ~*last_mask);
        *last_mask = now;
        if (!width || !height)
                return false;
        uint32_t buttons = (now & RFB_LEFT ? DISPLAY_BUTTON_LEFT : 0u) | (now & RFB_RIGHT ? DISPLAY_BUTTON_RIGHT : 0u) |
                           (now & RFB_MIDDLE ? DISPLAY_BUTTON_MIDDLE : 0u);
        /* A wheel click is a press and a release of its bit: one step on the press. */
        int32_t wheel = (pressed & RFB_WHEEL_UP ? 1 : 0) - (pressed & RFB_WHEEL_DOWN ? 1 : 0);
        *out = (struct display_msg){ .type = DISPLAY_POINTER,
                                     .pointer = { .x = clamp_coord(x, width),
                                                  .y = clamp_coord(y, height),
                                                  .buttons = buttons,
                                                  .wheel = wheel } };
        return true;
}
