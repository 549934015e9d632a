/* SPDX-License-Identifier: MIT */
/* The pixels vmdisplay serves: the guest's, straight from the worker's
 * framebuffer memfd (mapped read-only) or through a private copy, or a
 * message of ours when the guest has no mode. docs/console.md has the
 * choice and its measurements. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/display.h"

/* The message screen's size: fits any viewer, and is what a VGA guest
 * shows before its video driver starts. */
#define VMD_MESSAGE_WIDTH 800u
#define VMD_MESSAGE_HEIGHT 600u

struct vmd_fb {
        /* the worker's framebuffer, the caller's mapping (NULL before HELLO) */
        const uint8_t *map;
        size_t map_bytes;
        bool force_copy; /* never serve straight from the mapping */

        /* what is served: XRGB8888 little-endian */
        const uint8_t *pixels;
        uint32_t width, height, stride;
        bool direct; /* pixels point into map */
        bool guest;  /* pixels are the guest's (else our message) */
        struct display_mode mode;

        uint8_t *priv; /* our pixels: a message, or the copy of the guest's */
        size_t priv_bytes;
};

/* Serves the guest's mode m, which must fit map_bytes (display_mode_fits,
 * else -EINVAL): from the mapping itself when its offset and stride keep
 * every pixel 4-byte aligned and force_copy is off, else from a copy that
 * vmd_fb_update keeps current (copied whole here). -ENOMEM. */
int vmd_fb_show_mode(struct vmd_fb *fb, const struct display_mode *m);

/* Serves a message screen: title and detail centred. -ENOMEM. */
int vmd_fb_show_message(struct vmd_fb *fb, const char *title, const char *detail);

/* Brings rectangle r of the mode (already clipped to it) up to date in
 * the copy; nothing to do when serving from the mapping. */
void vmd_fb_update(struct vmd_fb *fb, const struct display_rect *r);

void vmd_fb_done(struct vmd_fb *fb);
