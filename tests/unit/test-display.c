// SPDX-License-Identifier: MIT
/* The display protocol (common/display.h, docs/console.md): every message
 * built and parsed back, and what a parser must refuse. */
#include "common/display.h"
#include "common/macro.h"
#include "common/test.h"
#include "common/vmstate.h"

static struct display_msg roundtrip(const struct display_msg *m) {
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t n = display_msg_build(m, buf);
        ASSERT_GT(n, 0u);
        struct display_msg back;
        ASSERT_OK(display_msg_parse(buf, n, &back));
        ASSERT_EQ(back.type, m->type);
        return back;
}

TEST(every_message_round_trips) {
        struct display_msg m = { .type = DISPLAY_HELLO, .hello = { DISPLAY_VERSION, 8u << 20, 0 } };
        ASSERT_EQ(roundtrip(&m).hello.fb_bytes, 8u << 20);
        m = (struct display_msg){ .type = DISPLAY_MODE,
                                  .mode = { true, 1024, 768, 4096, 32, 0 } };
        struct display_msg b = roundtrip(&m);
        ASSERT_TRUE(b.mode.active);
        ASSERT_EQ(b.mode.stride, 4096u);
        ASSERT_TRUE(display_mode_fits(&b.mode, 8u << 20));
        ASSERT_TRUE(display_mode_fits(&b.mode, 3u << 20));  /* 768 lines of 4 KiB: exactly */
        ASSERT_FALSE(display_mode_fits(&b.mode, (3u << 20) - 1));
        m = (struct display_msg){ .type = DISPLAY_DIRTY, .dirty = { .count = DISPLAY_RECTS_MAX } };
        for (uint32_t i = 0; i < DISPLAY_RECTS_MAX; i++)
                m.dirty.rect[i] = (struct display_rect){ i, 2 * i, 10, 20 };
        b = roundtrip(&m);
        ASSERT_EQ(b.dirty.count, DISPLAY_RECTS_MAX);
        ASSERT_EQ(b.dirty.rect[59].y, 118u);
        m = (struct display_msg){ .type = DISPLAY_STATUS, .status = DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_MOUSE };
        ASSERT_EQ(roundtrip(&m).status, DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_MOUSE);
        m = (struct display_msg){ .type = DISPLAY_KEY, .key = { 0xe048, true } };
        b = roundtrip(&m);
        ASSERT_EQ(b.key.scancode, 0xe048u);
        ASSERT_TRUE(b.key.down);
        m = (struct display_msg){ .type = DISPLAY_POINTER, .pointer = { 100, 200, DISPLAY_BUTTON_LEFT, -3 } };
        ASSERT_EQ(roundtrip(&m).pointer.wheel, -3);
        m = (struct display_msg){ .type = DISPLAY_REFRESH };
        roundtrip(&m);
        m = (struct display_msg){ .type = DISPLAY_BYE };
        roundtrip(&m);
        /* what cannot be built */
        uint8_t buf[DISPLAY_MSG_MAX];
        m = (struct display_msg){ .type = DISPLAY_DIRTY, .dirty = { .count = DISPLAY_RECTS_MAX + 1 } };
        ASSERT_EQ(display_msg_build(&m, buf), 0u);
        m = (struct display_msg){ .type = 99 };
        ASSERT_EQ(display_msg_build(&m, buf), 0u);
}

static int parse_with(uint32_t type, const uint32_t *payload, size_t words) {
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t n = DISPLAY_HEADER + 4 * words;
        vmstate_put_le32(buf, type);
        vmstate_put_le32(buf + 4, (uint32_t)n);
        for (size_t i = 0; i < words; i++)
                vmstate_put_le32(buf + 8 + 4 * i, payload[i]);
        struct display_msg m;
        return display_msg_parse(buf, n, &m);
}

TEST(what_a_parser_refuses) {
        struct display_msg m;
        uint8_t buf[16] = { 0 };
        ASSERT_ERROR(display_msg_parse(buf, 4, &m), EBADMSG); /* no header */
        vmstate_put_le32(buf, DISPLAY_REFRESH);
        vmstate_put_le32(buf + 4, 12); /* a length that is not the datagram's */
        ASSERT_ERROR(display_msg_parse(buf, 8, &m), EBADMSG);
        vmstate_put_le32(buf + 4, 8);
        ASSERT_OK(display_msg_parse(buf, 8, &m));
        ASSERT_ERROR(parse_with(77, NULL, 0), EBADMSG); /* unknown type */
        ASSERT_ERROR(parse_with(DISPLAY_HELLO, (uint32_t[]){ 1, 4096, 1 }, 3), EBADMSG);  /* flags */
        ASSERT_ERROR(parse_with(DISPLAY_HELLO, (uint32_t[]){ 1, 4096 }, 2), EBADMSG);     /* short */
        ASSERT_ERROR(parse_with(DISPLAY_MODE, (uint32_t[]){ 1, 8000, 100, 32000, 32, 0 }, 6), EBADMSG); /* too wide */
        ASSERT_ERROR(parse_with(DISPLAY_MODE, (uint32_t[]){ 1, 800, 600, 3000, 32, 0 }, 6), EBADMSG);   /* stride < width * 4 */
        ASSERT_ERROR(parse_with(DISPLAY_MODE, (uint32_t[]){ 1, 800, 600, 3200, 16, 0 }, 6), EBADMSG);   /* 16 bpp */
        ASSERT_ERROR(parse_with(DISPLAY_MODE, (uint32_t[]){ 2, 800, 600, 3200, 32, 0 }, 6), EBADMSG);   /* active 2 */
        ASSERT_ERROR(parse_with(DISPLAY_MODE, (uint32_t[]){ 1, 800, 600, 3200, 32, 0xfffff000 }, 6), EBADMSG); /* wraps */
        ASSERT_OK(parse_with(DISPLAY_MODE, (uint32_t[]){ 0, 0, 0, 0, 0, 0 }, 6)); /* no mode yet */
        ASSERT_ERROR(parse_with(DISPLAY_DIRTY, (uint32_t[]){ 2, 0, 0, 1, 1 }, 5), EBADMSG); /* fewer rects than counted */
        ASSERT_ERROR(parse_with(DISPLAY_DIRTY, (uint32_t[]){ 1, 0, 0, 0, 1 }, 5), EBADMSG); /* empty */
        ASSERT_ERROR(parse_with(DISPLAY_DIRTY, (uint32_t[]){ 1, 7000, 0, 1000, 1 }, 5), EBADMSG); /* past the largest mode */
        ASSERT_ERROR(parse_with(DISPLAY_STATUS, (uint32_t[]){ 8 }, 1), EBADMSG);
        ASSERT_ERROR(parse_with(DISPLAY_KEY, (uint32_t[]){ 0x80, 1 }, 2), EBADMSG);  /* not a set-1 make code */
        ASSERT_ERROR(parse_with(DISPLAY_KEY, (uint32_t[]){ 0xe180, 1 }, 2), EBADMSG);
        ASSERT_ERROR(parse_with(DISPLAY_KEY, (uint32_t[]){ 0x1e, 2 }, 2), EBADMSG);
        ASSERT_OK(parse_with(DISPLAY_KEY, (uint32_t[]){ 0x1e, 0 }, 2));
        ASSERT_ERROR(parse_with(DISPLAY_POINTER, (uint32_t[]){ 0, 0, 8, 0 }, 4), EBADMSG);
        ASSERT_ERROR(parse_with(DISPLAY_POINTER, (uint32_t[]){ 0, 0, 0, (uint32_t)-128 }, 4), EBADMSG);
        ASSERT_ERROR(parse_with(DISPLAY_POINTER, (uint32_t[]){ 8000, 0, 0, 0 }, 4), EBADMSG);
}

TEST(rectangles_are_clipped_to_the_mode) {
        struct display_rect r = { 1000, 700, 100, 100 };
        ASSERT_TRUE(display_rect_clip(&r, 1024, 768));
        ASSERT_EQ(r.w, 24u);
        ASSERT_EQ(r.h, 68u);
        r = (struct display_rect){ 1024, 0, 5, 5 };
        ASSERT_FALSE(display_rect_clip(&r, 1024, 768));
        r = (struct display_rect){ 0, 0, 0, 5 };
        ASSERT_FALSE(display_rect_clip(&r, 1024, 768));
}

TEST_MAIN();
