// SPDX-License-Identifier: MIT
/* The served pixels (include/vmdisplay/fb.h). Serving straight from the
 * mapping costs nothing per update: LibVNCServer reads the guest's pixels
 * when it encodes them, and takes any stride (paddedWidthInBytes). The
 * copy is for modes whose pixels are not 4-byte aligned (LibVNCServer
 * reads them as 32-bit words) and for --copy-framebuffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmdisplay/fb.h"
#include "vmdisplay/font.h"

#define MESSAGE_BACKGROUND 0x1d2b3au
#define MESSAGE_TITLE 0xf0f0f0u
#define MESSAGE_DETAIL 0xa8b8c8u

/* The private buffer grows to the largest size asked for, bounded by
 * DISPLAY_*_MAX: 7680 x 4320 x 4 bytes. */
static int ensure_priv(struct vmd_fb *fb, size_t bytes) {
        if (fb->priv_bytes >= bytes)
                return 0;
        uint8_t *p = malloc(bytes);
        if (!p)
                return -ENOMEM;
        free(fb->priv);
        fb->priv = p;
        fb->priv_bytes = bytes;
        return 0;
}

int vmd_fb_show_mode(struct vmd_fb *fb, const struct display_mode *m) {
        if (!m->active || !fb->map || !display_mode_fits(m, (uint32_t)MIN(fb->map_bytes, UINT32_MAX)))
                return -EINVAL; /* the caller's check, once more: this one reads the mapping */
        fb->mode = *m;
        fb->guest = true;
        fb->width = m->width;
        fb->height = m->height;
        if (!fb->force_copy && m->offset % 4 == 0 && m->stride % 4 == 0) {
                fb->direct = true;
                fb->pixels = fb->map + m->offset;
                fb->stride = m->stride;
                return 0;
        }
        int r = ensure_priv(fb, (size_t)m->width * m->height * 4);
        if (r < 0)
                return r;
        fb->direct = false;
        fb->pixels = fb->priv;
        fb->stride = m->width * 4;
        vmd_fb_update(fb, &(struct display_rect){ 0, 0, m->width, m->height });
        return 0;
}

static void draw_centred(struct vmd_fb *fb, const char *text, uint32_t scale, uint32_t y, uint32_t color) {
        while (scale > 1 && vmd_font_text_width(text, scale) > VMD_MESSAGE_WIDTH - 40)
                scale--;
        int32_t x = ((int32_t)VMD_MESSAGE_WIDTH - (int32_t)vmd_font_text_width(text, scale)) / 2;
        vmd_font_draw(fb->priv, VMD_MESSAGE_WIDTH, VMD_MESSAGE_HEIGHT, VMD_MESSAGE_WIDTH * 4, x, (int32_t)y, scale,
                      color, text);
}

int vmd_fb_show_message(struct vmd_fb *fb, const char *title, const char *detail) {
        int r = ensure_priv(fb, (size_t)VMD_MESSAGE_WIDTH * VMD_MESSAGE_HEIGHT * 4);
        if (r < 0)
                return r;
        for (size_t i = 0; i < (size_t)VMD_MESSAGE_WIDTH * VMD_MESSAGE_HEIGHT; i++) {
                uint8_t *px = fb->priv + i * 4;
                px[0] = MESSAGE_BACKGROUND & 0xff, px[1] = (MESSAGE_BACKGROUND >> 8) & 0xff;
                px[2] = (MESSAGE_BACKGROUND >> 16) & 0xff, px[3] = 0;
        }
        draw_centred(fb, title, 3, VMD_MESSAGE_HEIGHT / 2 - 40, MESSAGE_TITLE);
        draw_centred(fb, detail, 2, VMD_MESSAGE_HEIGHT / 2 + 10, MESSAGE_DETAIL);
        fb->guest = false;
        fb->direct = false;
        fb->mode = (struct display_mode){ .active = false };
        fb->pixels = fb->priv;
        fb->width = VMD_MESSAGE_WIDTH;
        fb->height = VMD_MESSAGE_HEIGHT;
        fb->stride = VMD_MESSAGE_WIDTH * 4;
        return 0;
}

void vmd_fb_update(struct vmd_fb *fb, const struct display_rect *r) {
        if (!fb->guest || fb->direct)
                return;
        struct display_rect c = *r;
        if (!display_rect_clip(&c, fb->mode.width, fb->mode.height))
                return;
        /* The mode fits the mapping (display_mode_fits), so every line of
         * it does; the guest may be writing these pixels as we copy, which
         * tears no worse than a viewer reading them would. */
        const uint8_t *src = fb->map + fb->mode.offset + (size_t)c.y * fb->mode.stride + (size_t)c.x * 4;
        uint8_t *dst = fb->priv + ((size_t)c.y * fb->mode.width + c.x) * 4;
        for (uint32_t j = 0; j < c.h; j++)
                memcpy(dst + (size_t)j * fb->stride, src + (size_t)j * fb->mode.stride, (size_t)c.w * 4);
}

void vmd_fb_done(struct vmd_fb *fb) {
        free(fb->priv);
        fb->priv = NULL;
        fb->priv_bytes = 0;
        fb->pixels = NULL;
}
