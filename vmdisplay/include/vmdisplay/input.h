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
 * and release on the key's press (display.h). A symbol's press may take
 * up to three modifier changes before it and three after it. */
#define VMD_KEY_EVENTS_MAX 8u

/* The guest's keyboard layout, where it is not US: each symbol its keys
 * type (keysym) and the key's set-1 code, sorted by keysym
 * (vmd_keymap_load, vmdisplay/xkb.c, builds it from Debian's XKB data).
 * NULL everywhere below means US, the built-in table. */
struct vmd_keysym_key {
        uint32_t keysym, scancode;
        uint8_t level; /* 0 plain, 1 Shift, 2 AltGr, 3 AltGr+Shift */
        bool cased;    /* a letter (it has an upper and a lower case) */
};
struct vmd_keymap {
        char name[80]; /* LAYOUT or LAYOUT:VARIANT */
        size_t n, cap;
        struct vmd_keysym_key *keys;
};

/* The scan code of a keysym, 0 when there is none (unknown keysyms, and
 * Pause): a character keysym maps to the key that types it on the
 * layout (US without km), shifted or with AltGr ('!' to the 1 key on a
 * US keyboard): a viewer sends Shift and AltGr as keys of their own.
 * Function, cursor, keypad and modifier keysyms (0xFF00-0xFFFF, AltGr)
 * are the same keys on every layout. */
uint32_t vmd_keymap_scancode(const struct vmd_keymap *km, uint32_t keysym);

/* The modifiers a viewer holds, as its own key events said (the keysyms
 * of Shift, AltGr and the shortcut modifiers Ctrl, Alt, Meta, Super). */
struct vmd_mods {
        uint32_t held; /* VMD_MOD_* */
};
#define VMD_MOD_SHIFT_L 1u
#define VMD_MOD_SHIFT_R 2u
#define VMD_MOD_ALTGR 4u     /* ISO_Level3_Shift */
#define VMD_MOD_SHORTCUT 8u  /* any of Control, Alt, Meta, Super (one bit each above) */

/* The key events a keysym pressed (down) or released becomes: their
 * count, 0 for a keysym without a key. With mods (the viewer's, updated
 * here by its modifier keys), a symbol is typed as the guest's layout
 * types it, whatever the viewer's own layout needed: around its key's
 * press, Shift and AltGr are pressed or released to reach the symbol's
 * level there, and put back right after ('@' from a US viewer, Shift
 * held, reaches a German guest as Shift up, AltGr down, Q down, AltGr
 * up, Shift down). A letter keeps the viewer's Shift (and Caps Lock's
 * case); nothing is changed while a shortcut modifier is held (Ctrl+C
 * stays Ctrl+C). NULL mods: the key alone. */
size_t vmd_keymap_events(const struct vmd_keymap *km, struct vmd_mods *mods, uint32_t keysym, bool down,
                         struct vmd_key_event out[VMD_KEY_EVENTS_MAX]);

/* "LAYOUT" or "LAYOUT:VARIANT" (XKB's names: "de", "fr", "gb",
 * "de:nodeadkeys", "us:dvorak"): *out is that layout's table, or NULL for
 * plain "us". -EINVAL for a malformed name, -ENOENT for a layout (or
 * variant) XKB does not know, -ENOMEM; with a sentence in err. */
int vmd_keymap_load(const char *spec, struct vmd_keymap **out, char *err, size_t errlen);
void vmd_keymap_free(struct vmd_keymap *km);
/* The set-1 code of a Linux input (evdev) key code, for the keys that
 * type characters; 0 for the others. Pure. */
uint32_t vmd_evdev_scancode(uint32_t code);
/* Adds keysym on the key of scancode at level (0..3; see struct
 * vmd_keysym_key), unless km already has a key for it (callers add the
 * symbols of lower shift levels first, so that 'a' is the key that types
 * it unshifted). 0 or -ENOMEM. Pure. */
int vmd_keymap_add(struct vmd_keymap *km, uint32_t keysym, uint32_t scancode, unsigned level, bool cased);
/* Sorts km's keys by keysym for the lookups. Pure. */
void vmd_keymap_finish(struct vmd_keymap *km);

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
