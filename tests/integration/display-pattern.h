/* SPDX-License-Identifier: MIT */
/* The test pattern fake-display-worker paints and the vmdisplay tests
 * look for (display-image-check, display-vnc-client): 64x64 blocks of a
 * palette, a magenta marker block, and a rectangle that changes colour
 * in phase 1. Every pixel carries its coordinates in its low bits, so an
 * exact comparison catches a pixel out of place; everything is laid out
 * on a 32-pixel grid, so a lossy (JPEG) comparison can skip the edges. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define DP_GRID 32u
#define DP_BLOCK 64u
/* the marker: unique in the pattern, what a browser screenshot is searched for */
#define DP_MARKER_X 64u
#define DP_MARKER_Y 64u
#define DP_MARKER_W 128u
#define DP_MARKER_H 64u
#define DP_MARKER_COLOR 0xd820d8u
/* the rectangle that changes (SIGUSR1 of the fake worker) */
#define DP_CHANGE_X 256u
#define DP_CHANGE_Y 192u
#define DP_CHANGE_W 128u
#define DP_CHANGE_H 96u
#define DP_CHANGE_COLOR 0x20d8d8u

static const uint32_t dp_palette[8] = {
        0xd82020, 0x20d820, 0x2020d8, 0xd8d820, 0x808080, 0xd88020, 0x2080d8, 0x802080,
};

static inline bool dp_in(uint32_t x, uint32_t y, uint32_t rx, uint32_t ry, uint32_t rw, uint32_t rh) {
        return x >= rx && x < rx + rw && y >= ry && y < ry + rh;
}

/* The colour of the area (x, y) is in, without the detail bits. */
static inline uint32_t dp_base(uint32_t x, uint32_t y, unsigned phase) {
        if (dp_in(x, y, DP_MARKER_X, DP_MARKER_Y, DP_MARKER_W, DP_MARKER_H))
                return DP_MARKER_COLOR;
        if (phase & 1 && dp_in(x, y, DP_CHANGE_X, DP_CHANGE_Y, DP_CHANGE_W, DP_CHANGE_H))
                return DP_CHANGE_COLOR;
        return dp_palette[(x / DP_BLOCK + 3 * (y / DP_BLOCK)) % 8];
}

/* The pixel as 0x00RRGGBB: the area's colour plus x, y and x^y in the
 * low 3 bits of red, green and blue. */
static inline uint32_t dp_pixel(uint32_t x, uint32_t y, unsigned phase) {
        return dp_base(x, y, phase) + ((x & 7u) << 16) + ((y & 7u) << 8) + ((x ^ y) & 7u);
}

/* Within 4 pixels of an area's edge (where JPEG smears colours). */
static inline bool dp_near_edge(uint32_t x, uint32_t y) {
        return x % DP_GRID < 4 || x % DP_GRID >= DP_GRID - 4 || y % DP_GRID < 4 || y % DP_GRID >= DP_GRID - 4;
}
