// SPDX-License-Identifier: MIT
/* X11 keysyms (what an rfb key event carries, RFC 6143 §7.5.4) to PC scan
 * codes of set 1 on a US keyboard, or on the guest's layout (a table
 * vmdisplay/xkb.c builds): the guest's keyboard has no idea of keysyms,
 * and a viewer tells us the symbol, not the key. So a symbol is mapped to
 * the key that types it unshifted, shifted or with AltGr ('A' and 'a' are
 * both the A key); the viewer sends Shift as a key of its own. */
#include <errno.h>
#include <rfb/keysym.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmdisplay/input.h"

/* Set 1 codes of the printable ASCII keysyms (Latin-1 0x20-0x7e; the
 * capitals are their letters'). */
static const uint16_t ascii_keys[128] = {
        [' '] = 0x39,
        ['1'] = 0x02, ['!'] = 0x02, ['2'] = 0x03, ['@'] = 0x03, ['3'] = 0x04, ['#'] = 0x04,
        ['4'] = 0x05, ['$'] = 0x05, ['5'] = 0x06, ['%'] = 0x06, ['6'] = 0x07, ['^'] = 0x07,
        ['7'] = 0x08, ['&'] = 0x08, ['8'] = 0x09, ['*'] = 0x09, ['9'] = 0x0a, ['('] = 0x0a,
        ['0'] = 0x0b, [')'] = 0x0b, ['-'] = 0x0c, ['_'] = 0x0c, ['='] = 0x0d, ['+'] = 0x0d,
        ['q'] = 0x10, ['w'] = 0x11, ['e'] = 0x12, ['r'] = 0x13, ['t'] = 0x14, ['y'] = 0x15,
        ['u'] = 0x16, ['i'] = 0x17, ['o'] = 0x18, ['p'] = 0x19, ['['] = 0x1a, ['{'] = 0x1a,
        [']'] = 0x1b, ['}'] = 0x1b,
        ['a'] = 0x1e, ['s'] = 0x1f, ['d'] = 0x20, ['f'] = 0x21, ['g'] = 0x22, ['h'] = 0x23,
        ['j'] = 0x24, ['k'] = 0x25, ['l'] = 0x26, [';'] = 0x27, [':'] = 0x27, ['\''] = 0x28,
        ['"'] = 0x28, ['`'] = 0x29, ['~'] = 0x29, ['\\'] = 0x2b, ['|'] = 0x2b,
        ['z'] = 0x2c, ['x'] = 0x2d, ['c'] = 0x2e, ['v'] = 0x2f, ['b'] = 0x30, ['n'] = 0x31,
        ['m'] = 0x32, [','] = 0x33, ['<'] = 0x33, ['.'] = 0x34, ['>'] = 0x34, ['/'] = 0x35,
        ['?'] = 0x35,
};

/* The symbols a US keyboard types with Shift (besides the capitals). */
#define US_SHIFTED "~!@#$%^&*()_+{}|:\"<>?"

/* The keysyms 0xFF00-0xFFFF (function, cursor, keypad and modifier keys),
 * by their low byte. */
#define K(sym) [(sym) & 0xff]
static const uint16_t misc_keys[256] = {
        K(XK_BackSpace) = 0x0e, K(XK_Tab) = 0x0f, K(XK_Return) = 0x1c, K(XK_Escape) = 0x01,
        K(XK_Delete) = 0xe053, K(XK_Insert) = 0xe052, K(XK_Home) = 0xe047, K(XK_End) = 0xe04f,
        K(XK_Page_Up) = 0xe049, K(XK_Page_Down) = 0xe051, K(XK_Left) = 0xe04b, K(XK_Up) = 0xe048,
        K(XK_Right) = 0xe04d, K(XK_Down) = 0xe050,
        /* Print Screen is E0 2A E0 37 on a real keyboard; guests take E0 37 alone. */
        K(XK_Print) = 0xe037, K(XK_Sys_Req) = 0x54, K(XK_Scroll_Lock) = 0x46, K(XK_Break) = 0xe046,
        K(XK_Menu) = 0xe05d, K(XK_Num_Lock) = 0x45, K(XK_Caps_Lock) = 0x3a,
        K(XK_Shift_L) = 0x2a, K(XK_Shift_R) = 0x36, K(XK_Control_L) = 0x1d, K(XK_Control_R) = 0xe01d,
        K(XK_Alt_L) = 0x38, K(XK_Alt_R) = 0xe038, K(XK_Meta_L) = 0xe05b, K(XK_Meta_R) = 0xe05c,
        K(XK_Super_L) = 0xe05b, K(XK_Super_R) = 0xe05c,
        K(XK_F1) = 0x3b, K(XK_F2) = 0x3c, K(XK_F3) = 0x3d, K(XK_F4) = 0x3e, K(XK_F5) = 0x3f,
        K(XK_F6) = 0x40, K(XK_F7) = 0x41, K(XK_F8) = 0x42, K(XK_F9) = 0x43, K(XK_F10) = 0x44,
        K(XK_F11) = 0x57, K(XK_F12) = 0x58,
        /* the keypad: digits with Num Lock on, cursor keys with it off */
        K(XK_KP_0) = 0x52, K(XK_KP_1) = 0x4f, K(XK_KP_2) = 0x50, K(XK_KP_3) = 0x51, K(XK_KP_4) = 0x4b,
        K(XK_KP_5) = 0x4c, K(XK_KP_6) = 0x4d, K(XK_KP_7) = 0x47, K(XK_KP_8) = 0x48, K(XK_KP_9) = 0x49,
        K(XK_KP_Insert) = 0x52, K(XK_KP_End) = 0x4f, K(XK_KP_Down) = 0x50, K(XK_KP_Page_Down) = 0x51,
        K(XK_KP_Left) = 0x4b, K(XK_KP_Begin) = 0x4c, K(XK_KP_Right) = 0x4d, K(XK_KP_Home) = 0x47,
        K(XK_KP_Up) = 0x48, K(XK_KP_Page_Up) = 0x49, K(XK_KP_Decimal) = 0x53, K(XK_KP_Delete) = 0x53,
        K(XK_KP_Separator) = 0x53, K(XK_KP_Enter) = 0xe01c, K(XK_KP_Add) = 0x4e,
        K(XK_KP_Subtract) = 0x4a, K(XK_KP_Multiply) = 0x37, K(XK_KP_Divide) = 0xe035,
        K(XK_KP_Equal) = 0x59,
};
#undef K

static int by_keysym(const void *a, const void *b) {
        const struct vmd_keysym_key *x = a, *y = b;
        return x->keysym < y->keysym ? -1 : x->keysym > y->keysym;
}

int vmd_keymap_add(struct vmd_keymap *km, uint32_t keysym, uint32_t scancode, unsigned level, bool cased) {
        for (size_t i = 0; i < km->n; i++)
                if (km->keys[i].keysym == keysym)
                        return 0;
        if (km->n == km->cap) {
                size_t cap = km->cap ? 2 * km->cap : 256;
                struct vmd_keysym_key *k = realloc(km->keys, cap * sizeof *k);
                if (!k)
                        return -ENOMEM;
                km->keys = k;
                km->cap = cap;
        }
        km->keys[km->n++] = (struct vmd_keysym_key){ keysym, scancode, (uint8_t)(level & 3), cased };
        return 0;
}

void vmd_keymap_finish(struct vmd_keymap *km) {
        if (km->n)
                qsort(km->keys, km->n, sizeof *km->keys, by_keysym);
}

/* Set 1 codes of the Linux input codes that type characters: the main
 * block has the same numbers in both (KEY_ESC 1 .. KEY_KPDOT 83, KEY_102ND
 * 86, KEY_F11/F12 87/88); the Japanese and Brazilian extra keys do not. */
uint32_t vmd_evdev_scancode(uint32_t code) {
        if (code >= 1 && code <= 88 && code != 84 && code != 85)
                return code;
        switch (code) {
        case 89: /* KEY_RO: JIS backslash/underscore, ABNT2 slash */
                return 0x73;
        case 121: /* KEY_KPCOMMA: the ABNT2 keypad's dot */
                return 0x7e;
        case 124: /* KEY_YEN */
                return 0x7d;
        default:
                return 0;
        }
}

static bool layout_free(uint32_t keysym) {
        return (keysym >= 0xff00 && keysym <= 0xffff) || keysym == XK_ISO_Level3_Shift || keysym == XK_ISO_Left_Tab;
}

/* A symbol's key and level on the layout (US without km); false for a
 * keysym that is not a layout's symbol. */
static bool layout_key(const struct vmd_keymap *km, uint32_t keysym, struct vmd_keysym_key *out) {
        if (layout_free(keysym))
                return false;
        if (km) {
                struct vmd_keysym_key k = { .keysym = keysym };
                const struct vmd_keysym_key *f = bsearch(&k, km->keys, km->n, sizeof *km->keys, by_keysym);
                if (f)
                        *out = *f;
                return f != NULL;
        }
        bool upper = keysym >= 'A' && keysym <= 'Z'; /* Shift-A (or Caps Lock): the A key */
        uint32_t base = upper ? keysym + ('a' - 'A') : keysym;
        if (base < 0x20 || base >= 0x7f || !ascii_keys[base])
                return false;
        *out = (struct vmd_keysym_key){ .keysym = keysym, .scancode = ascii_keys[base],
                                        .level = upper || strchr(US_SHIFTED, (int)keysym),
                                        .cased = base >= 'a' && base <= 'z' };
        return true;
}

uint32_t vmd_keymap_scancode(const struct vmd_keymap *km, uint32_t keysym) {
        struct vmd_keysym_key k;
        if (layout_key(km, keysym, &k))
                return k.scancode;
        if (keysym >= 0xff00 && keysym <= 0xffff)
                return misc_keys[keysym & 0xff];
        switch (keysym) {
        case XK_ISO_Level3_Shift: /* AltGr, as X11 calls it */
                return 0xe038;
        case XK_ISO_Left_Tab: /* Shift+Tab: the Tab key */
                return 0x0f;
        default:
                return 0;
        }
}

/* A viewer's modifier key: its bit in struct vmd_mods, 0 for other keys. */
static uint32_t mod_bit(uint32_t keysym) {
        switch (keysym) {
        case XK_Shift_L:
                return VMD_MOD_SHIFT_L;
        case XK_Shift_R:
                return VMD_MOD_SHIFT_R;
        case XK_ISO_Level3_Shift:
                return VMD_MOD_ALTGR;
        case XK_Control_L: case XK_Control_R: case XK_Meta_L: case XK_Meta_R:
        case XK_Alt_L: case XK_Alt_R: case XK_Super_L: case XK_Super_R:
                /* each its own bit, from VMD_MOD_SHORTCUT up (0xFFE3..0xFFEC) */
                return VMD_MOD_SHORTCUT << (keysym - XK_Control_L);
        default:
                return 0;
        }
}

/* Shift from what the viewer holds (its left and right keys) to want
 * (back: from want to what it holds), as events at out. Their count. */
static size_t shift_change(struct vmd_key_event *out, bool want, bool shift_l, bool shift_r, bool back) {
        size_t n = 0;
        if (want == (shift_l || shift_r))
                return 0;
        if (want)
                out[n++] = (struct vmd_key_event){ 0x2a, !back };
        if (!want && shift_l)
                out[n++] = (struct vmd_key_event){ 0x2a, back };
        if (!want && shift_r)
                out[n++] = (struct vmd_key_event){ 0x36, back };
        return n;
}

/* The press of a symbol's key with Shift and AltGr as its level on the
 * guest's layout wants them, the viewer's own put back after it. */
static size_t press_at_level(const struct vmd_mods *mods, const struct vmd_keysym_key *k,
                             struct vmd_key_event out[VMD_KEY_EVENTS_MAX]) {
        bool shift_l = mods->held & VMD_MOD_SHIFT_L, shift_r = mods->held & VMD_MOD_SHIFT_R;
        bool shift = shift_l || shift_r, altgr = mods->held & VMD_MOD_ALTGR;
        /* A letter's case, and Shift+Space, are the viewer's. */
        bool want_shift = k->cased || k->keysym == ' ' ? shift : (k->level & 1), want_altgr = k->level & 2;
        if (mods->held >= VMD_MOD_SHORTCUT) /* a shortcut: the keys as they are */
                want_shift = shift, want_altgr = altgr;
        /* Before the key: Shift, then AltGr changed; after it, the other
         * way round, back to what the viewer holds. */
        size_t n = shift_change(out, want_shift, shift_l, shift_r, false);
        if (altgr != want_altgr)
                out[n++] = (struct vmd_key_event){ 0xe038, want_altgr };
        out[n++] = (struct vmd_key_event){ k->scancode, true };
        if (altgr != want_altgr)
                out[n++] = (struct vmd_key_event){ 0xe038, !want_altgr };
        return n + shift_change(out + n, want_shift, shift_l, shift_r, true);
}

size_t vmd_keymap_events(const struct vmd_keymap *km, struct vmd_mods *mods, uint32_t keysym, bool down,
                         struct vmd_key_event out[VMD_KEY_EVENTS_MAX]) {
        uint32_t bit = mods ? mod_bit(keysym) : 0;
        if (bit && down)
                mods->held |= bit;
        else if (bit)
                mods->held &= ~bit;
        struct vmd_keysym_key k;
        if (mods && down && layout_key(km, keysym, &k))
                return press_at_level(mods, &k, out);
        if (keysym == XK_Pause) {
                if (!down) /* the press already sent the whole key */
                        return 0;
                out[0] = (struct vmd_key_event){ 0x1d, true };
                out[1] = (struct vmd_key_event){ 0x45, true };
                out[2] = (struct vmd_key_event){ 0x1d, false };
                out[3] = (struct vmd_key_event){ 0x45, false };
                return 4;
        }
        uint32_t sc = vmd_keymap_scancode(km, keysym);
        if (!sc)
                return 0;
        out[0] = (struct vmd_key_event){ sc, down };
        return 1;
}
