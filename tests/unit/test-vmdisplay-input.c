// SPDX-License-Identifier: MIT
/* vmdisplay's input (vmdisplay/input.h): keysyms to PC set-1 scan codes,
 * on a US keyboard and on other layouts (XKB's, through libxkbcommon),
 * held keys, pointer events to DISPLAY_POINTER. */
#include <errno.h>
#include <rfb/keysym.h>
#include <unistd.h>

#include "common/display.h"
#include "common/test.h"
#include "vmdisplay/input.h"

TEST(letters_digits_and_their_shifted_symbols) {
        /* a US keyboard's rows, as set 1 numbers them */
        const char *rows[] = { "1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./" };
        const uint32_t first[] = { 0x02, 0x10, 0x1e, 0x2c };
        for (int r = 0; r < 4; r++)
                for (uint32_t i = 0; rows[r][i]; i++)
                        ASSERT_EQ(vmd_keymap_scancode(NULL, (uint8_t)rows[r][i]), first[r] + i);
        ASSERT_EQ(vmd_keymap_scancode(NULL, 'A'), 0x1eu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, 'Z'), 0x2cu);
        const char *shifted = "!@#$%^&*()_+", *plain = "1234567890-=";
        for (int i = 0; shifted[i]; i++)
                ASSERT_EQ(vmd_keymap_scancode(NULL, (uint8_t)shifted[i]), vmd_keymap_scancode(NULL, (uint8_t)plain[i]));
        ASSERT_EQ(vmd_keymap_scancode(NULL, '{'), 0x1au);
        ASSERT_EQ(vmd_keymap_scancode(NULL, ':'), 0x27u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, '"'), 0x28u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, '~'), 0x29u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, '|'), 0x2bu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, '?'), 0x35u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, ' '), 0x39u);
        /* every printable ASCII character has a key */
        for (uint32_t c = 0x20; c < 0x7f; c++)
                ASSERT_NE(vmd_keymap_scancode(NULL, c), 0u);
}

TEST(function_cursor_and_modifier_keys) {
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Escape), 0x01u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_BackSpace), 0x0eu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Tab), 0x0fu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_ISO_Left_Tab), 0x0fu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Return), 0x1cu);
        for (uint32_t f = 0; f < 10; f++)
                ASSERT_EQ(vmd_keymap_scancode(NULL, XK_F1 + f), 0x3bu + f);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_F11), 0x57u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_F12), 0x58u);
        /* the extended keys: E0 and the code of the keypad key they share */
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Up), 0xe048u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Down), 0xe050u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Left), 0xe04bu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Right), 0xe04du);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Home), 0xe047u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_End), 0xe04fu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Page_Up), 0xe049u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Page_Down), 0xe051u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Insert), 0xe052u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Delete), 0xe053u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Print), 0xe037u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Menu), 0xe05du);
        /* modifiers, left and right */
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Shift_L), 0x2au);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Shift_R), 0x36u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Control_L), 0x1du);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Control_R), 0xe01du);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Alt_L), 0x38u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Alt_R), 0xe038u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_ISO_Level3_Shift), 0xe038u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Super_L), 0xe05bu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Super_R), 0xe05cu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Caps_Lock), 0x3au);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Num_Lock), 0x45u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Scroll_Lock), 0x46u);
}

TEST(keypad) {
        const uint32_t digits[] = { 0x52, 0x4f, 0x50, 0x51, 0x4b, 0x4c, 0x4d, 0x47, 0x48, 0x49 };
        for (uint32_t i = 0; i < 10; i++)
                ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_0 + i), digits[i]);
        /* the same keys with Num Lock off */
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Home), 0x47u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Up), 0x48u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Page_Down), 0x51u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Insert), 0x52u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Delete), 0x53u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Decimal), 0x53u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Add), 0x4eu);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Subtract), 0x4au);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Multiply), 0x37u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Divide), 0xe035u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_KP_Enter), 0xe01cu);
}

TEST(every_code_is_one_the_protocol_carries) {
        /* display.h: set 1 is 0x01-0x7f or 0xE000-0xE07f */
        for (uint32_t k = 0; k < 0x10000; k++) {
                uint32_t sc = vmd_keymap_scancode(NULL, k);
                ASSERT_TRUE(sc == 0 || sc <= 0x7f || (sc >= 0xe000 && sc <= 0xe07f));
                struct display_msg m = { .type = DISPLAY_KEY, .key = { sc, true } };
                uint8_t buf[DISPLAY_MSG_MAX];
                if (sc) {
                        struct display_msg back;
                        ASSERT_OK(display_msg_parse(buf, display_msg_build(&m, buf), &back));
                }
        }
}

TEST(unknown_keysyms_and_pause) {
        struct vmd_key_event ev[VMD_KEY_EVENTS_MAX];
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, 0x20ac /* EuroSign */, true, ev), 0u);
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, 0xe9 /* eacute */, true, ev), 0u);
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, 0x1000000, true, ev), 0u);
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, 0, true, ev), 0u);
        ASSERT_EQ(vmd_keymap_scancode(NULL, XK_Pause), 0u);
        /* Pause: E1 1D 45 E1 9D C5, all of it on the press */
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, XK_Pause, true, ev), 4u);
        ASSERT_EQ(ev[0].scancode, 0x1du);
        ASSERT_TRUE(ev[0].down);
        ASSERT_EQ(ev[1].scancode, 0x45u);
        ASSERT_TRUE(ev[1].down);
        ASSERT_FALSE(ev[2].down);
        ASSERT_FALSE(ev[3].down);
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, XK_Pause, false, ev), 0u);
        ASSERT_EQ(vmd_keymap_events(NULL, NULL, 'a', false, ev), 1u);
        ASSERT_EQ(ev[0].scancode, 0x1eu);
        ASSERT_FALSE(ev[0].down);
}

/* ---- other layouts (vmd_keymap_load) ---- */

static struct vmd_keymap *layout(const char *spec) {
        if (access("/usr/share/X11/xkb/symbols/de", R_OK) < 0)
                TEST_SKIP("no XKB data (xkb-data, scripts/deps.sh)");
        struct vmd_keymap *km = NULL;
        char err[256] = "";
        int r = vmd_keymap_load(spec, &km, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "%s\n", err);
        ASSERT_OK(r);
        ASSERT_NOT_NULL(km);
        ASSERT_STREQ(km->name, spec);
        for (size_t i = 0; i < km->n; i++) { /* sorted, one key each, codes the protocol carries */
                ASSERT_TRUE(i == 0 || km->keys[i - 1].keysym < km->keys[i].keysym);
                uint32_t sc = km->keys[i].scancode;
                ASSERT_TRUE(sc >= 1 && sc <= 0x7f);
        }
        return km;
}

/* The built-in table against XKB's own US layout ("us:basic" is XKB's,
 * plain "us" the table): every printable ASCII symbol on the same key,
 * but '<', which the 105-key model also puts on the key left of Z (where
 * XKB's unshifted symbol wins over the comma key's shifted one). */
TEST(the_built_in_us_table_is_xkbs_us) {
        struct vmd_keymap *km = layout("us:basic");
        for (uint32_t c = 0x20; c < 0x7f; c++) {
                if (c == '<')
                        continue;
                if (vmd_keymap_scancode(km, c) != vmd_keymap_scancode(NULL, c))
                        fprintf(stderr, "'%c': xkb 0x%x, table 0x%x\n", (int)c, vmd_keymap_scancode(km, c),
                                vmd_keymap_scancode(NULL, c));
                ASSERT_EQ(vmd_keymap_scancode(km, c), vmd_keymap_scancode(NULL, c));
        }
        ASSERT_EQ(vmd_keymap_scancode(km, '<'), 0x56u);
        struct vmd_keymap *none = (struct vmd_keymap *)1;
        char err[128];
        ASSERT_OK(vmd_keymap_load("us", &none, err, sizeof err));
        ASSERT_NULL(none); /* plain us: the table, no XKB needed */
        vmd_keymap_free(km);
}

/* German (QWERTZ): Y and Z swapped, umlauts and sharp s on their keys, '@'
 * and '€' with AltGr on Q and E, '<' '>' '|' on the key left of Y, the
 * dead circumflex; keys that are the same everywhere stay the table's. */
TEST(a_german_guest) {
        struct vmd_keymap *km = layout("de");
        static const struct {
                uint32_t keysym, scancode;
        } want[] = {
                { 'z', 0x15 }, { 'Z', 0x15 }, { 'y', 0x2c }, { 'Y', 0x2c }, { 0xe4 /* adiaeresis */, 0x28 },
                { 0xf6 /* odiaeresis */, 0x27 }, { 0xfc /* udiaeresis */, 0x1a }, { 0xdf /* ssharp */, 0x0c },
                { '@', 0x10 }, { 0x20ac /* EuroSign */, 0x12 }, { '<', 0x56 }, { '>', 0x56 }, { '|', 0x56 },
                { '#', 0x2b }, { '-', 0x35 }, { '/', 0x08 }, { 0xfe52 /* dead_circumflex */, 0x29 },
                { XK_Up, 0xe048 }, { XK_ISO_Level3_Shift, 0xe038 }, { XK_KP_1, 0x4f }, { XK_Return, 0x1c },
                { XK_Shift_L, 0x2a },
        };
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
                if (vmd_keymap_scancode(km, want[i].keysym) != want[i].scancode)
                        fprintf(stderr, "keysym 0x%x\n", want[i].keysym);
                ASSERT_EQ(vmd_keymap_scancode(km, want[i].keysym), want[i].scancode);
        }
        struct vmd_key_event ev[VMD_KEY_EVENTS_MAX];
        ASSERT_EQ(vmd_keymap_events(km, NULL, 'z', true, ev), 1u);
        ASSERT_EQ(ev[0].scancode, 0x15u);
        ASSERT_EQ(vmd_keymap_events(km, NULL, XK_Pause, true, ev), 4u);
        ASSERT_EQ(vmd_keymap_events(km, NULL, 0x1000000, true, ev), 0u); /* a symbol no key types */
        vmd_keymap_free(km);
}

/* Events as "±SC" words, for comparing sequences. */
static const char *seq(const struct vmd_key_event *ev, size_t n) {
        static char buf[256];
        size_t k = 0;
        buf[0] = 0;
        for (size_t i = 0; i < n && k < sizeof buf - 12; i++)
                k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%c%x", i ? " " : "", ev[i].down ? '+' : '-',
                                      ev[i].scancode);
        return buf;
}

/* A viewer's key events with its modifiers tracked: the sequence the
 * guest gets for each. */
static const char *type(const struct vmd_keymap *km, struct vmd_mods *m, uint32_t keysym, bool down) {
        struct vmd_key_event ev[VMD_KEY_EVENTS_MAX];
        size_t n = vmd_keymap_events(km, m, keysym, down, ev);
        ASSERT_TRUE(n <= VMD_KEY_EVENTS_MAX);
        return seq(ev, n);
}

/* A viewer whose own layout is not the guest's: Shift and AltGr are
 * changed around a symbol's key to reach its level on the guest's layout,
 * and put back after it; letters keep the viewer's Shift (their case is
 * the viewer's and Caps Lock's), Shift+Space stays, and nothing changes
 * under Ctrl, Alt, Meta or Super (shortcuts). */
TEST(symbols_are_typed_at_the_guests_level) {
        struct vmd_keymap *de = layout("de");
        struct vmd_mods m = { 0 };
        /* A US viewer types '@' (Shift-2 there) on a German guest (AltGr-Q). */
        ASSERT_STREQ(type(de, &m, XK_Shift_L, true), "+2a");
        ASSERT_STREQ(type(de, &m, '@', true), "-2a +e038 +10 -e038 +2a");
        ASSERT_STREQ(type(de, &m, '@', false), "-10");
        /* ... and 'Z' (Shift-z): a letter, Shift stays the viewer's. */
        ASSERT_STREQ(type(de, &m, 'Z', true), "+15");
        ASSERT_STREQ(type(de, &m, 'Z', false), "-15");
        /* ... and '(' (Shift-9 there, Shift-8 on German): Shift stays. */
        ASSERT_STREQ(type(de, &m, '(', true), "+9");
        ASSERT_STREQ(type(de, &m, XK_Shift_L, false), "-2a");
        ASSERT_EQ(m.held, 0u);
        /* '/' (unshifted there, Shift-7 on German): Shift pressed for it. */
        ASSERT_STREQ(type(de, &m, '/', true), "+2a +8 -2a");
        /* Both Shifts held, a symbol without Shift: both released, both back. */
        type(de, &m, XK_Shift_L, true);
        type(de, &m, XK_Shift_R, true);
        ASSERT_STREQ(type(de, &m, '-', true), "-2a -36 +35 +2a +36");
        ASSERT_STREQ(type(de, &m, ' ', true), "+39"); /* Shift+Space stays */
        type(de, &m, XK_Shift_L, false);
        type(de, &m, XK_Shift_R, false);
        /* Ctrl held: a shortcut, the keys as they come. */
        type(de, &m, XK_Control_L, true);
        ASSERT_STREQ(type(de, &m, '/', true), "+8");
        ASSERT_STREQ(type(de, &m, '@', true), "+10");
        type(de, &m, XK_Control_L, false);
        ASSERT_EQ(m.held, 0u);
        /* A German viewer (AltGr for '{') on a US guest (Shift-[). */
        ASSERT_STREQ(type(NULL, &m, XK_ISO_Level3_Shift, true), "+e038");
        ASSERT_STREQ(type(NULL, &m, '{', true), "+2a -e038 +1a +e038 -2a");
        ASSERT_STREQ(type(NULL, &m, '{', false), "-1a");
        ASSERT_STREQ(type(NULL, &m, XK_ISO_Level3_Shift, false), "-e038");
        /* Matching layouts: nothing added (US viewer, US guest). */
        type(NULL, &m, XK_Shift_R, true);
        ASSERT_STREQ(type(NULL, &m, '!', true), "+2");
        ASSERT_STREQ(type(NULL, &m, 'A', true), "+1e");
        type(NULL, &m, XK_Shift_R, false);
        ASSERT_STREQ(type(NULL, &m, 'a', true), "+1e");
        ASSERT_STREQ(type(NULL, &m, 'A', true), "+1e"); /* Caps Lock's capital: the viewer's case */
        /* Without mods (NULL): the key alone, as before. */
        struct vmd_key_event ev[VMD_KEY_EVENTS_MAX];
        ASSERT_EQ(vmd_keymap_events(de, NULL, '@', true, ev), 1u);
        ASSERT_EQ(ev[0].scancode, 0x10u);
        vmd_keymap_free(de);
}

/* French (AZERTY): A/Q and Z/W swapped, M right of L, é on the 2 key
 * unshifted and the digits shifted; "de:nodeadkeys" has the circumflex as
 * a plain symbol, not a dead key. */
TEST(a_french_guest_and_a_variant) {
        struct vmd_keymap *km = layout("fr");
        ASSERT_EQ(vmd_keymap_scancode(km, 'a'), 0x10u);
        ASSERT_EQ(vmd_keymap_scancode(km, 'q'), 0x1eu);
        ASSERT_EQ(vmd_keymap_scancode(km, 'z'), 0x11u);
        ASSERT_EQ(vmd_keymap_scancode(km, 'w'), 0x2cu);
        ASSERT_EQ(vmd_keymap_scancode(km, 'm'), 0x27u);
        ASSERT_EQ(vmd_keymap_scancode(km, 0xe9 /* eacute */), 0x03u);
        ASSERT_EQ(vmd_keymap_scancode(km, '&'), 0x02u);
        ASSERT_EQ(vmd_keymap_scancode(km, '1'), 0x02u);
        vmd_keymap_free(km);
        km = layout("de:nodeadkeys");
        ASSERT_EQ(vmd_keymap_scancode(km, '^'), 0x29u);
        ASSERT_EQ(vmd_keymap_scancode(km, 0xfe52 /* dead_circumflex */), 0u);
        vmd_keymap_free(km);
}

/* Japanese: the keys Linux numbers KEY_RO and KEY_YEN have set-1 codes
 * 0x73 and 0x7D, not their input numbers. */
TEST(a_japanese_guest_uses_the_jis_keys) {
        struct vmd_keymap *km = layout("jp");
        ASSERT_EQ(vmd_keymap_scancode(km, '_'), 0x73u);
        ASSERT_EQ(vmd_keymap_scancode(km, '|'), 0x7du);
        ASSERT_EQ(vmd_evdev_scancode(89), 0x73u);
        ASSERT_EQ(vmd_evdev_scancode(124), 0x7du);
        ASSERT_EQ(vmd_evdev_scancode(30), 0x1eu);
        ASSERT_EQ(vmd_evdev_scancode(0), 0u);
        ASSERT_EQ(vmd_evdev_scancode(103 /* KEY_UP: not a character key */), 0u);
        vmd_keymap_free(km);
}

TEST(unknown_and_malformed_layouts_are_refused) {
        if (access("/usr/share/X11/xkb/symbols/de", R_OK) < 0)
                TEST_SKIP("no XKB data (xkb-data, scripts/deps.sh)");
        static const char *const malformed[] = { "", "De", "de;rm -rf", "de:", ":nodeadkeys", "../de", "de:a b",
                                                 "abcdefghijklmnopqrstuvwxyzabcdefg" };
        struct vmd_keymap *km = NULL;
        char err[256];
        for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
                ASSERT_ERROR(vmd_keymap_load(malformed[i], &km, err, sizeof err), EINVAL);
                ASSERT_NULL(km);
                ASSERT_NOT_NULL(strstr(err, "not a layout name"));
        }
        ASSERT_ERROR(vmd_keymap_load("xx", &km, err, sizeof err), ENOENT);
        ASSERT_NULL(km);
        ASSERT_NOT_NULL(strstr(err, "XKB has no such layout"));
        ASSERT_ERROR(vmd_keymap_load("de:nosuchvariant", &km, err, sizeof err), ENOENT);
        ASSERT_NULL(km);
        vmd_keymap_free(NULL);
}

TEST(held_keys_are_released) {
        struct vmd_keys_held h = { 0 };
        struct vmd_key_event out[256];
        vmd_keys_note(&h, &(struct vmd_key_event){ 0x1d, true });
        vmd_keys_note(&h, &(struct vmd_key_event){ 0xe038, true });
        vmd_keys_note(&h, &(struct vmd_key_event){ 0x1e, true });
        vmd_keys_note(&h, &(struct vmd_key_event){ 0x1e, false });
        vmd_keys_note(&h, &(struct vmd_key_event){ 0x7f, true });
        vmd_keys_note(&h, &(struct vmd_key_event){ 0xe07f, true });
        vmd_keys_note(&h, &(struct vmd_key_event){ 0x1234, true }); /* not a key: ignored */
        size_t n = vmd_keys_release_all(&h, out, 256);
        ASSERT_EQ(n, 4u);
        ASSERT_EQ(out[0].scancode, 0x1du);
        ASSERT_EQ(out[1].scancode, 0x7fu);
        ASSERT_EQ(out[2].scancode, 0xe038u);
        ASSERT_EQ(out[3].scancode, 0xe07fu);
        for (size_t i = 0; i < n; i++)
                ASSERT_FALSE(out[i].down);
        ASSERT_EQ(vmd_keys_release_all(&h, out, 256), 0u);
}

TEST(pointer_buttons_wheel_and_clamping) {
        uint8_t last = 0;
        struct display_msg m;
        ASSERT_TRUE(vmd_pointer_event(&last, 0, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_POINTER);
        ASSERT_EQ(m.pointer.x, 10u);
        ASSERT_EQ(m.pointer.y, 20u);
        ASSERT_EQ(m.pointer.buttons, 0u);
        /* rfb: 1 left, 2 middle, 4 right; ours: 1 left, 2 right, 4 middle */
        ASSERT_TRUE(vmd_pointer_event(&last, 1, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.buttons, DISPLAY_BUTTON_LEFT);
        ASSERT_TRUE(vmd_pointer_event(&last, 2, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.buttons, DISPLAY_BUTTON_MIDDLE);
        ASSERT_TRUE(vmd_pointer_event(&last, 4, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.buttons, DISPLAY_BUTTON_RIGHT);
        /* a wheel click is a press and a release: one step */
        ASSERT_TRUE(vmd_pointer_event(&last, 8, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.wheel, 1);
        ASSERT_EQ(m.pointer.buttons, 0u);
        ASSERT_TRUE(vmd_pointer_event(&last, 8, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.wheel, 0); /* still held: no new step */
        ASSERT_TRUE(vmd_pointer_event(&last, 0, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.wheel, 0);
        ASSERT_TRUE(vmd_pointer_event(&last, 16 | 1, 10, 20, 1024, 768, &m));
        ASSERT_EQ(m.pointer.wheel, -1);
        ASSERT_EQ(m.pointer.buttons, DISPLAY_BUTTON_LEFT);
        /* clamped to the mode */
        ASSERT_TRUE(vmd_pointer_event(&last, 0, 5000, 65535, 1024, 768, &m));
        ASSERT_EQ(m.pointer.x, 1023u);
        ASSERT_EQ(m.pointer.y, 767u);
        ASSERT_TRUE(vmd_pointer_event(&last, 0, -5, -1, 1024, 768, &m));
        ASSERT_EQ(m.pointer.x, 0u);
        ASSERT_EQ(m.pointer.y, 0u);
        /* what it builds, the protocol takes */
        uint8_t buf[DISPLAY_MSG_MAX];
        struct display_msg back;
        ASSERT_OK(display_msg_parse(buf, display_msg_build(&m, buf), &back));
        /* no mode: nothing to send, but the mask is remembered */
        ASSERT_FALSE(vmd_pointer_event(&last, 8, 1, 1, 0, 0, &m));
        ASSERT_TRUE(vmd_pointer_event(&last, 8, 1, 1, 640, 480, &m));
        ASSERT_EQ(m.pointer.wheel, 0);
}

TEST_MAIN();
