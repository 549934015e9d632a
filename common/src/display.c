// SPDX-License-Identifier: MIT
/* The display protocol's messages (common/display.h): built and parsed,
 * every field checked. Pure: fuzzed by tests/fuzz/fuzz-display.c. */
#include <errno.h>
#include <string.h>

#include "common/display.h"
#include "common/vmstate.h"

static void put32(uint8_t *p, uint32_t v) {
        vmstate_put_le32(p, v);
}

static uint32_t get32(const uint8_t *p) {
        return vmstate_le32(p);
}

/* Payload bytes of a fixed-size message type; 0 for DIRTY (variable) and
 * SIZE_MAX for an unknown type. */
static size_t payload_of(uint32_t type) {
        switch (type) {
        case DISPLAY_HELLO:
                return 12;
        case DISPLAY_MODE:
                return 24;
        case DISPLAY_STATUS:
                return 4;
        case DISPLAY_BYE:
                return 0;
        case DISPLAY_KEY:
                return 8;
        case DISPLAY_POINTER:
                return 16;
        case DISPLAY_REFRESH:
                return 0;
        case DISPLAY_DIRTY:
                return 4;
        default:
                return SIZE_MAX;
        }
}

bool display_mode_fits(const struct display_mode *m, uint32_t fb_bytes) {
        if (!m->active)
                return true;
        uint64_t end = (uint64_t)m->offset + (uint64_t)m->stride * m->height;
        return m->bpp == 32 && m->width && m->height && m->width <= DISPLAY_WIDTH_MAX &&
               m->height <= DISPLAY_HEIGHT_MAX && (uint64_t)m->width * 4u <= m->stride && end <= fb_bytes;
}

bool display_rect_clip(struct display_rect *r, uint32_t width, uint32_t height) {
        if (r->x >= width || r->y >= height || r->w == 0 || r->h == 0)
                return false;
        if (r->w > width - r->x)
                r->w = width - r->x;
        if (r->h > height - r->y)
                r->h = height - r->y;
        return true;
}

/* Set 1: one byte, or 0xE0 and one byte (the E1 Pause sequence is sent as
 * its two make codes by the server). */
static bool scancode_ok(uint32_t sc) {
        return sc != 0 && (sc <= 0x7f || (sc >= 0xe000 && sc <= 0xe07f));
}

size_t display_msg_build(const struct display_msg *m, uint8_t *buf) {
        size_t n = payload_of(m->type);
        if (n == SIZE_MAX || (m->type == DISPLAY_DIRTY && m->dirty.count > DISPLAY_RECTS_MAX))
                return 0;
        uint8_t *p = buf + DISPLAY_HEADER;
        switch (m->type) {
        case DISPLAY_HELLO:
                put32(p, m->hello.version), put32(p + 4, m->hello.fb_bytes), put32(p + 8, m->hello.flags);
                break;
        case DISPLAY_MODE:
                put32(p, m->mode.active), put32(p + 4, m->mode.width), put32(p + 8, m->mode.height);
                put32(p + 12, m->mode.stride), put32(p + 16, m->mode.bpp), put32(p + 20, m->mode.offset);
                break;
        case DISPLAY_DIRTY:
                put32(p, m->dirty.count);
                for (uint32_t i = 0; i < m->dirty.count; i++) {
                        const struct display_rect *r = &m->dirty.rect[i];
                        uint8_t *q = p + 4 + 16u * i;
                        put32(q, r->x), put32(q + 4, r->y), put32(q + 8, r->w), put32(q + 12, r->h);
                }
                n += 16u * m->dirty.count;
                break;
        case DISPLAY_STATUS:
                put32(p, m->status);
                break;
        case DISPLAY_KEY:
                put32(p, m->key.scancode), put32(p + 4, m->key.down);
                break;
        case DISPLAY_POINTER:
                put32(p, m->pointer.x), put32(p + 4, m->pointer.y), put32(p + 8, m->pointer.buttons);
                put32(p + 12, (uint32_t)m->pointer.wheel);
                break;
        }
        put32(buf, m->type);
        put32(buf + 4, (uint32_t)(DISPLAY_HEADER + n));
        return DISPLAY_HEADER + n;
}

static int parse_payload(uint32_t type, const uint8_t *p, size_t n, struct display_msg *out) {
        switch (type) {
        case DISPLAY_HELLO:
                out->hello.version = get32(p), out->hello.fb_bytes = get32(p + 4), out->hello.flags = get32(p + 8);
                return out->hello.version == 0 || out->hello.flags ? -EBADMSG : 0;
        case DISPLAY_MODE: {
                uint32_t active = get32(p);
                out->mode = (struct display_mode){ .active = active, .width = get32(p + 4), .height = get32(p + 8),
                                                   .stride = get32(p + 12), .bpp = get32(p + 16),
                                                   .offset = get32(p + 20) };
                /* the memfd's size is checked by the receiver (display_mode_fits) */
                struct display_mode m = out->mode;
                return active > 1 || !display_mode_fits(&m, UINT32_MAX) ? -EBADMSG : 0;
        }
        case DISPLAY_DIRTY: {
                uint32_t count = get32(p);
                if (count > DISPLAY_RECTS_MAX || n != 4u + 16u * (size_t)count)
                        return -EBADMSG;
                out->dirty.count = count;
                for (uint32_t i = 0; i < count; i++) {
                        const uint8_t *q = p + 4 + 16u * i;
                        out->dirty.rect[i] = (struct display_rect){ get32(q), get32(q + 4), get32(q + 8), get32(q + 12) };
                        const struct display_rect *r = &out->dirty.rect[i];
                        if (!r->w || !r->h || r->x >= DISPLAY_WIDTH_MAX || r->y >= DISPLAY_HEIGHT_MAX ||
                            r->w > DISPLAY_WIDTH_MAX - r->x || r->h > DISPLAY_HEIGHT_MAX - r->y)
                                return -EBADMSG;
                }
                return 0;
        }
        case DISPLAY_STATUS:
                out->status = get32(p);
                return out->status & ~(DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_KEYBOARD | DISPLAY_STATUS_MOUSE) ? -EBADMSG
                                                                                                              : 0;
        case DISPLAY_KEY: {
                uint32_t down = get32(p + 4);
                out->key.scancode = get32(p);
                out->key.down = down;
                return down > 1 || !scancode_ok(out->key.scancode) ? -EBADMSG : 0;
        }
        case DISPLAY_POINTER: {
                int32_t wheel = (int32_t)get32(p + 12);
                out->pointer.x = get32(p), out->pointer.y = get32(p + 4), out->pointer.buttons = get32(p + 8);
                out->pointer.wheel = wheel;
                return out->pointer.x >= DISPLAY_WIDTH_MAX || out->pointer.y >= DISPLAY_HEIGHT_MAX ||
                                       out->pointer.buttons & ~7u || wheel < -127 || wheel > 127
                               ? -EBADMSG
                               : 0;
        }
        default: /* BYE, REFRESH: no payload */
                return 0;
        }
}

int display_msg_parse(const uint8_t *buf, size_t len, struct display_msg *out) {
        memset(out, 0, sizeof *out);
        if (len < DISPLAY_HEADER || len > DISPLAY_MSG_MAX)
                return -EBADMSG;
        uint32_t type = get32(buf), length = get32(buf + 4);
        size_t want = payload_of(type);
        if (want == SIZE_MAX || length != len || len - DISPLAY_HEADER < want ||
            (type != DISPLAY_DIRTY && len - DISPLAY_HEADER != want))
                return -EBADMSG;
        out->type = type;
        return parse_payload(type, buf + DISPLAY_HEADER, len - DISPLAY_HEADER, out);
}
