/* SPDX-License-Identifier: MIT */
/* A VNC viewer's input as the guest's: rfb key events (RFC 6143 §7.5.4:
 * X11 keysyms) as PC scan codes of set 1 for DISPLAY_KEY, rfb pointer
 * events as DISPLAY_POINTER (common/display.h). Pure: unit-tested
 * (tests/unit/test-vmdisplay-input.c) and fuzzed (fuzz-vmdisplay.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/display.h"

struct vmd_key_event {
        uint32_t scancode; /* set 1; an extended key as 0xE0xx */
        bool down;
};

/* Pause is the one key of several codes (E1 1D 45 E1 9D C5, make and
 * break at once): the protocol carries it as its two make codes' press
 * and release on the key's press (display.h). */
#define VMD_KEY_EVENTS_MAX 4u

/* The scan code of a keysym on a US keyboard, 0 when there is none
 * (unknown keysyms, and Pause). Shifted characters map to their key
 * ('!' to the 1 key): a viewer sends Shift as a key of its own. */
uint32_t vmd_keymap_scancode(uint32_t keysym);

/* The key events a keysym pressed (down) or released becomes: their
 * count, 0 for a keysym without a key. */
size_t vmd_keymap_events(uint32_t keysym, bool down, struct vmd_key_event out[VMD_KEY_EVENTS_MAX]);

/* The keys a viewer holds down, so that they can be released when it
 * goes away (a viewer that disconnects with Ctrl held must not leave the
 * guest's Ctrl pressed). */
struct vmd_keys_held {
        uint64_t bits[4]; /* 0x00-0x7f, then 0xE000-0xE07f */
};

/* Notes a key event (every event still goes to the guest: a release of
 * a key another viewer pressed is a release all the same). */
void vmd_keys_note(struct vmd_keys_held *h, const struct vmd_key_event *e);
/* Releases of every held key into out (at most 256), clearing h: their count. */
size_t vmd_keys_release_all(struct vmd_keys_held *h, struct vmd_key_event *out, size_t max);

/* A pointer event of a viewer: rfb button mask (bit 0 left, 1 middle,
 * 2 right, 3/4 wheel up/down as a press and a release) at x, y of the
 * framebuffer. Fills a DISPLAY_POINTER, clamped to the mode, with a wheel
 * step for each newly pressed wheel bit; *last_mask is the viewer's
 * previous mask. false: nothing to send (no mode: the console shows our
 * message, whose coordinates mean nothing to the guest). */
bool vmd_pointer_event(uint8_t *last_mask, int mask, int x, int y, uint32_t width, uint32_t height,
                       struct display_msg *out);
