/* SPDX-License-Identifier: MIT */
/* Screenshots: XRGB8888 pixels as an 8-bit RGB PNG (libpng). */
#pragma once

#include <stdint.h>
#include <stdio.h>

/* Writes width x height pixels (XRGB8888 little-endian, stride bytes a
 * line) to f. 0, -EINVAL for an empty image, -EIO when libpng or the
 * stream fails. */
int vmd_png_write(FILE *f, const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride);

/* The same into path, atomically (a temporary file in its directory,
 * renamed over it; mode 0600: a screenshot shows what is on a VM's
 * screen), or to standard output for "-". */
int vmd_png_write_file(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride);
