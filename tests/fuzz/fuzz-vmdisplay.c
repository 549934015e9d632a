// SPDX-License-Identifier: MIT
/* vmdisplay past the message parser: a worker's messages in any order
 * (vmdisplay/session.h) driving the served pixels (vmdisplay/fb.h) over a
 * fake memfd, and viewers' key and pointer events (vmdisplay/input.h).
 * ASan checks every copy stays inside the mapping and the copy; the
 * checks below, what vmdisplay then hands LibVNCServer.
 *
 * Input: a flags byte (bit 0: serve a copy), then records:
 *   0 LEN16 BYTES    a worker message without a descriptor
 *   1 LEN16 BYTES    the same with one
 *   2 KEYSYM32 DOWN  a viewer's key (keysym bit 31: on a layout other than US)
 *   3 MASK X16 Y16   a viewer's pointer */
#include <stdlib.h>
#include <string.h>

#include "common/display.h"
#include "vmdisplay/fb.h"
#include "vmdisplay/input.h"
#include "vmdisplay/session.h"

/* The fake memfd's size: a HELLO promising more is refused, as vmdisplay
 * refuses one larger than its memfd (vmd_link_map). */
#define FAKE_MEMFD (4u << 20)

struct state {
        struct vmd_session s;
        struct vmd_fb fb;
        uint8_t *map;
        struct vmd_keys_held held;
        struct vmd_mods mods;
        uint8_t pointer_mask;
};

static void check_served(const struct state *t) {
        const struct vmd_fb *fb = &t->fb;
        if (!fb->pixels || (uint64_t)fb->width * 4 > fb->stride)
                abort();
        const uint8_t *end = fb->pixels + (size_t)fb->stride * (fb->height - 1) + (size_t)fb->width * 4;
        if (fb->direct && (fb->pixels < t->map || end > t->map + t->fb.map_bytes))
                abort();
        if (!fb->direct && (fb->pixels != fb->priv || end > fb->priv + fb->priv_bytes))
                abort();
        if (fb->guest != t->s.mode.active)
                abort();
}

static void show(struct state *t) {
        const char *title, *detail;
        int r = vmd_session_message(&t->s, &title, &detail) ? vmd_fb_show_message(&t->fb, title, detail)
                                                           : vmd_fb_show_mode(&t->fb, &t->s.mode);
        if (r < 0)
                abort(); /* the sizes are bounded: an allocation this small does not fail */
        check_served(t);
}

/* false: vmdisplay would stop here */
static bool worker_message(struct state *t, const uint8_t *p, size_t n, bool with_fd) {
        struct display_msg m;
        if (display_msg_parse(p, n, &m) < 0)
                return false;
        int ev = vmd_session_apply(&t->s, &m, with_fd);
        if (ev < 0 || ev == VMD_SESSION_BYE)
                return false;
        if (ev == VMD_SESSION_HELLO) {
                if (m.hello.fb_bytes > FAKE_MEMFD)
                        return false;
                t->map = malloc(m.hello.fb_bytes ? m.hello.fb_bytes : 1);
                if (!t->map)
                        abort();
                memset(t->map, 0x42, m.hello.fb_bytes);
                t->fb.map = t->map, t->fb.map_bytes = m.hello.fb_bytes;
                show(t);
        } else if (ev == VMD_SESSION_MODE || (ev == VMD_SESSION_STATUS && !t->fb.guest))
                show(t);
        else if (ev == VMD_SESSION_DIRTY)
                for (uint32_t i = 0; i < m.dirty.count; i++) {
                        const struct display_rect *r = &m.dirty.rect[i];
                        if (!t->s.mode.active || r->x + r->w > t->s.mode.width || r->y + r->h > t->s.mode.height)
                                abort();
                        vmd_fb_update(&t->fb, r);
                }
        return true;
}

/* A small layout of another country's (as vmdisplay/xkb.c builds them),
 * for keysyms with bit 31 set: German letters, AltGr symbols, a dead key. */
static const struct vmd_keymap *other_layout(void) {
        static struct vmd_keymap km;
        static const struct vmd_keysym_key keys[] = {
                { 'z', 0x15, 0, true }, { 'y', 0x2c, 0, true },   { 0xe4, 0x28, 0, true },   { 0xdf, 0x0c, 0, true },
                { '@', 0x10, 2, false }, { 0x20ac, 0x12, 2, false }, { '<', 0x56, 0, false }, { '>', 0x56, 1, false },
                { 0xfe52, 0x29, 0, false }, { 'z', 0x2c, 0, true } /* a duplicate: ignored */
        };
        if (!km.n) {
                for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                        if (vmd_keymap_add(&km, keys[i].keysym, keys[i].scancode, keys[i].level, keys[i].cased) < 0)
                                abort();
                vmd_keymap_finish(&km);
                if (km.n != sizeof keys / sizeof *keys - 1 || vmd_keymap_scancode(&km, 'z') != 0x15)
                        abort();
        }
        return &km;
}

static void viewer_key(struct state *t, uint32_t keysym, bool down) {
        struct vmd_key_event ev[VMD_KEY_EVENTS_MAX];
        const struct vmd_keymap *km = keysym >> 31 ? other_layout() : NULL;
        size_t n = vmd_keymap_events(km, &t->mods, keysym & 0x7fffffffu, down, ev);
        if (n > VMD_KEY_EVENTS_MAX)
                abort();
        /* Shift and AltGr changed around a symbol's key are put back. */
        int balance[3] = { 0 };
        for (size_t i = 0; n > 1 && i < n; i++) {
                uint32_t sc = ev[i].scancode;
                int m = sc == 0x2a ? 0 : sc == 0x36 ? 1 : sc == 0xe038 ? 2 : -1;
                if (m >= 0)
                        balance[m] += ev[i].down ? 1 : -1;
        }
        if (balance[0] || balance[1] || balance[2])
                abort();
        for (size_t i = 0; i < n; i++) {
                uint32_t sc = ev[i].scancode;
                if (!sc || (sc > 0x7f && (sc < 0xe000 || sc > 0xe07f)))
                        abort();
                vmd_keys_note(&t->held, &ev[i]);
        }
}

static void viewer_pointer(struct state *t, uint8_t mask, uint16_t x, uint16_t y) {
        struct display_msg m;
        uint32_t w = t->fb.guest ? t->fb.width : 0, h = t->fb.guest ? t->fb.height : 0;
        if (!vmd_pointer_event(&t->pointer_mask, mask, x, y, w, h, &m))
                return;
        uint8_t buf[DISPLAY_MSG_MAX];
        struct display_msg back;
        if (m.pointer.x >= w || m.pointer.y >= h || display_msg_parse(buf, display_msg_build(&m, buf), &back) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        struct state t = { .fb = { .force_copy = data[0] & 1 } };
        size_t i = 1;
        bool go = true;
        while (go && i < size) {
                uint8_t kind = data[i++];
                if (kind <= 1 && i + 2 <= size) {
                        size_t n = (size_t)data[i] | (size_t)data[i + 1] << 8;
                        i += 2;
                        n = n < size - i ? n : size - i;
                        go = worker_message(&t, data + i, n, kind == 1);
                        i += n;
                } else if (kind == 2 && i + 5 <= size) {
                        uint32_t k;
                        memcpy(&k, data + i, 4);
                        viewer_key(&t, k, data[i + 4] & 1);
                        i += 5;
                } else if (kind == 3 && i + 5 <= size) {
                        viewer_pointer(&t, data[i], (uint16_t)(data[i + 1] | data[i + 2] << 8),
                                       (uint16_t)(data[i + 3] | data[i + 4] << 8));
                        i += 5;
                } else
                        break;
        }
        struct vmd_key_event up[256];
        vmd_keys_release_all(&t.held, up, 256);
        vmd_fb_done(&t.fb);
        free(t.map);
        return 0;
}
