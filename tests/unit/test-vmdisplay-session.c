// SPDX-License-Identifier: MIT
/* vmdisplay's view of the worker (vmdisplay/session.h) and the pixels it
 * serves (vmdisplay/fb.h, font.h): message order, modes checked against
 * the memfd, DIRTY clipped, served from the mapping or a copy, and the
 * message screen. */
#include "common/display.h"
#include "common/macro.h"
#include "common/test.h"
#include "vmdisplay/fb.h"
#include "vmdisplay/font.h"
#include "vmdisplay/session.h"

static struct display_msg hello(uint32_t bytes) {
        return (struct display_msg){ .type = DISPLAY_HELLO, .hello = { DISPLAY_VERSION, bytes, 0 } };
}

static struct display_msg mode(bool active, uint32_t w, uint32_t h, uint32_t stride, uint32_t offset) {
        return (struct display_msg){ .type = DISPLAY_MODE, .mode = { active, w, h, stride, 32, offset } };
}

TEST(order_of_messages) {
        struct vmd_session s = { 0 };
        struct display_msg m = mode(true, 640, 480, 2560, 0);
        ASSERT_ERROR(vmd_session_apply(&s, &m, false), EPROTO); /* HELLO first */
        m = hello(1 << 20);
        ASSERT_ERROR(vmd_session_apply(&s, &m, false), EPROTO); /* HELLO brings the memfd */
        m = (struct display_msg){ .type = DISPLAY_HELLO, .hello = { 2, 1 << 20, 0 } };
        ASSERT_ERROR(vmd_session_apply(&s, &m, true), EPROTONOSUPPORT);
        m = hello(1 << 20);
        ASSERT_EQ(vmd_session_apply(&s, &m, true), VMD_SESSION_HELLO);
        ASSERT_EQ(s.fb_bytes, 1u << 20);
        ASSERT_ERROR(vmd_session_apply(&s, &m, true), EPROTO); /* one HELLO */
        m = (struct display_msg){ .type = DISPLAY_STATUS, .status = DISPLAY_STATUS_VIDEO };
        ASSERT_ERROR(vmd_session_apply(&s, &m, true), EPROTO); /* a descriptor with STATUS */
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_STATUS);
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_NONE); /* no change */
        const uint32_t server_only[] = { DISPLAY_KEY, DISPLAY_POINTER, DISPLAY_REFRESH };
        for (size_t i = 0; i < ARRAY_SIZE(server_only); i++) {
                m = (struct display_msg){ .type = server_only[i] };
                ASSERT_ERROR(vmd_session_apply(&s, &m, false), EPROTO);
        }
        m = (struct display_msg){ .type = DISPLAY_BYE };
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_BYE);
        /* BYE may come first: a worker that serves another client says only that */
        struct vmd_session fresh = { 0 };
        ASSERT_EQ(vmd_session_apply(&fresh, &m, false), VMD_SESSION_BYE);
}

TEST(modes_must_fit_the_memfd) {
        struct vmd_session s = { 0 };
        struct display_msg m = hello(640 * 480 * 4);
        ASSERT_EQ(vmd_session_apply(&s, &m, true), VMD_SESSION_HELLO);
        const char *title, *detail;
        ASSERT_TRUE(vmd_session_message(&s, &title, &detail));
        ASSERT_STREQ(title, "Connecting to the VM's display");
        m = mode(true, 640, 480, 2560, 0);
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_MODE);
        ASSERT_TRUE(s.mode.active);
        ASSERT_FALSE(vmd_session_message(&s, &title, &detail));
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_NONE); /* the same mode again */
        /* one byte of offset more and the last line is past the memfd */
        m = mode(true, 640, 480, 2560, 4);
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_MODE);
        ASSERT_FALSE(s.mode.active);
        ASSERT_TRUE(s.mode_unusable);
        ASSERT_TRUE(vmd_session_message(&s, &title, &detail));
        ASSERT_STREQ(title, "The guest's display mode is not supported");
        /* inactive: what the message says depends on the drivers */
        m = mode(false, 0, 0, 0, 0);
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_MODE);
        ASSERT_FALSE(s.mode_unusable);
        ASSERT_TRUE(vmd_session_message(&s, &title, &detail));
        ASSERT_STREQ(title, "The guest has no synthetic video driver");
        m = (struct display_msg){ .type = DISPLAY_STATUS, .status = DISPLAY_STATUS_VIDEO };
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_STATUS);
        ASSERT_TRUE(vmd_session_message(&s, &title, &detail));
        ASSERT_STREQ(title, "The guest has not set a display mode");
}

TEST(dirty_is_clipped_to_the_mode) {
        struct vmd_session s = { 0 };
        struct display_msg m = hello(1 << 22);
        vmd_session_apply(&s, &m, true);
        m = (struct display_msg){ .type = DISPLAY_DIRTY, .dirty = { .count = 1, .rect = { { 0, 0, 10, 10 } } } };
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_NONE); /* no mode yet */
        ASSERT_EQ(m.dirty.count, 0u);
        m = mode(true, 800, 600, 3200, 0);
        vmd_session_apply(&s, &m, false);
        m = (struct display_msg){ .type = DISPLAY_DIRTY,
                                  .dirty = { .count = 4,
                                             .rect = { { 790, 590, 100, 100 },
                                                       { 800, 0, 5, 5 }, /* outside */
                                                       { 0, 0, 800, 600 },
                                                       { 100, 599, 7000, 4000 } } } };
        ASSERT_EQ(vmd_session_apply(&s, &m, false), VMD_SESSION_DIRTY);
        ASSERT_EQ(m.dirty.count, 3u);
        ASSERT_EQ(m.dirty.rect[0].w, 10u);
        ASSERT_EQ(m.dirty.rect[0].h, 10u);
        ASSERT_EQ(m.dirty.rect[1].w, 800u);
        ASSERT_EQ(m.dirty.rect[2].x, 100u);
        ASSERT_EQ(m.dirty.rect[2].w, 700u);
        ASSERT_EQ(m.dirty.rect[2].h, 1u);
}

/* A fake memfd: each pixel's value is its byte offset in the mapping. */
static uint8_t *fake_map(size_t bytes) {
        uint8_t *p = malloc(bytes);
        ASSERT_NOT_NULL(p);
        for (size_t i = 0; i < bytes; i++)
                p[i] = (uint8_t)(i * 13 + (i >> 8));
        return p;
}

static void check_served(const struct vmd_fb *fb) {
        for (uint32_t y = 0; y < fb->height; y++)
                ASSERT_MEMEQ(fb->pixels + (size_t)y * fb->stride,
                             fb->map + fb->mode.offset + (size_t)y * fb->mode.stride, (size_t)fb->width * 4);
}

TEST(served_from_the_mapping_or_a_copy) {
        size_t bytes = 1 << 20;
        uint8_t *map = fake_map(bytes);
        struct vmd_fb fb = { .map = map, .map_bytes = bytes };
        /* aligned: the mapping itself, whatever the stride */
        struct display_mode m = { true, 300, 200, 1300, 32, 4096 };
        ASSERT_OK(vmd_fb_show_mode(&fb, &m));
        ASSERT_TRUE(fb.direct);
        ASSERT_TRUE(fb.pixels == map + 4096);
        ASSERT_EQ(fb.stride, 1300u);
        check_served(&fb);
        /* an offset or a stride that is not a multiple of 4: a copy */
        m = (struct display_mode){ true, 300, 200, 1202, 32, 2 };
        ASSERT_OK(vmd_fb_show_mode(&fb, &m));
        ASSERT_FALSE(fb.direct);
        ASSERT_EQ(fb.stride, 1200u);
        check_served(&fb);
        /* the guest draws; DIRTY brings the copy up to date, and only that */
        for (uint32_t y = 10; y < 20; y++)
                memset(map + 2 + (size_t)y * 1202 + 40 * 4, 0x5a, 30 * 4);
        map[2 + 100 * 1202] = 0x77; /* outside the rectangle: not copied */
        vmd_fb_update(&fb, &(struct display_rect){ 40, 10, 30, 10 });
        ASSERT_EQ(fb.priv[(15 * 300 + 50) * 4], 0x5a);
        ASSERT_NE(fb.priv[100 * 300 * 4], 0x77);
        /* forced */
        fb.force_copy = true;
        m = (struct display_mode){ true, 512, 512, 2048, 32, 0 };
        ASSERT_OK(vmd_fb_show_mode(&fb, &m));
        ASSERT_FALSE(fb.direct);
        check_served(&fb);
        /* a mode past the mapping is refused here too, whatever the caller checked */
        m = (struct display_mode){ true, 512, 513, 2048, 32, 0 };
        ASSERT_ERROR(vmd_fb_show_mode(&fb, &m), EINVAL);
        m = (struct display_mode){ .active = false };
        ASSERT_ERROR(vmd_fb_show_mode(&fb, &m), EINVAL);
        vmd_fb_done(&fb);
        free(map);
}

TEST(message_screen) {
        struct vmd_fb fb = { 0 };
        ASSERT_OK(vmd_fb_show_message(&fb, "The guest has no synthetic video driver", "detail"));
        ASSERT_FALSE(fb.guest);
        ASSERT_EQ(fb.width, VMD_MESSAGE_WIDTH);
        ASSERT_EQ(fb.height, VMD_MESSAGE_HEIGHT);
        size_t title = 0, detail = 0, background = 0;
        for (size_t i = 0; i < (size_t)fb.width * fb.height; i++) {
                uint32_t p = (uint32_t)fb.pixels[i * 4] | (uint32_t)fb.pixels[i * 4 + 1] << 8 |
                             (uint32_t)fb.pixels[i * 4 + 2] << 16;
                background += p == 0x1d2b3a;
                title += p == 0xf0f0f0;
                detail += p == 0xa8b8c8;
        }
        ASSERT_GT(title, 2000u); /* 33 letters of about 15 dots of 3x3 pixels */
        ASSERT_GT(detail, 100u);
        ASSERT_EQ(title + detail + background, (size_t)fb.width * fb.height);
        vmd_fb_done(&fb);
}

TEST(font) {
        ASSERT_EQ(vmd_font_text_width("", 3), 0u);
        ASSERT_EQ(vmd_font_text_width("A", 1), 5u);
        ASSERT_EQ(vmd_font_text_width("AB", 2), 22u);
        /* 'I' at scale 1: its dots where the glyph has them, clipped at the edge */
        uint8_t px[8 * 8 * 4] = { 0 };
        vmd_font_draw(px, 8, 8, 32, 0, 0, 1, 0xffffff, "I");
        ASSERT_EQ(px[(0 * 8 + 1) * 4], 0xff); /* .###. */
        ASSERT_EQ(px[(0 * 8 + 0) * 4], 0x00);
        ASSERT_EQ(px[(3 * 8 + 2) * 4], 0xff); /* ..#.. */
        ASSERT_EQ(px[(3 * 8 + 1) * 4], 0x00);
        vmd_font_draw(px, 8, 8, 32, -100, 6, 4, 0xffffff, "\x01\xff~"); /* clipped, unknown as '?' */
        vmd_font_draw(px, 8, 8, 32, 7, 7, 100, 0x123456, "W");
        ASSERT_EQ(px[(7 * 8 + 7) * 4], 0x56);
        ASSERT_EQ(px[(7 * 8 + 7) * 4 + 3], 0x00);
}

TEST_MAIN();
