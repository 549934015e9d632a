/* SPDX-License-Identifier: MIT */
/* Text in a framebuffer without a font dependency: a built-in 5x7 dot
 * font of printable ASCII, each dot drawn as scale x scale pixels. The
 * console needs a sentence or two ("The guest has no synthetic video
 * driver"), not typography. */
#pragma once

#include <stdint.h>

#define VMD_FONT_ADVANCE 6u /* dots from one character to the next */
#define VMD_FONT_HEIGHT 7u

/* The width in pixels of text drawn at scale. */
uint32_t vmd_font_text_width(const char *text, uint32_t scale);

/* Draws text into an XRGB8888 buffer (width x height, stride bytes a
 * line) with its top left dot at x, y, clipped to the buffer; characters
 * outside printable ASCII are drawn as '?'. */
void vmd_font_draw(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride, int32_t x, int32_t y,
                   uint32_t scale, uint32_t color, const char *text);
