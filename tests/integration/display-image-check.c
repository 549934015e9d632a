// SPDX-License-Identifier: MIT
/* Checks an image (PNG or JPEG) against the vmdisplay test pattern
 * (display-pattern.h), for tests/integration/test-vmdisplay.sh:
 *
 *   display-image-check exact FILE PHASE      every pixel is the pattern's
 *   display-image-check near FILE PHASE TOL   every pixel away from an area's
 *                                             edge within TOL a channel (JPEG)
 *   display-image-check find FILE PHASE       the pattern at 1:1 somewhere in
 *                                             a larger image (a browser's)
 *   display-image-check absent FILE           no marker block anywhere
 *   display-image-check message FILE          vmdisplay's message screen:
 *                                             its background and bright text
 *
 * Exit 0 when it holds, 1 with the reason when not, 2 for bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <png.h>

#include "display-pattern.h"

struct image {
        uint32_t w, h;
        uint8_t *rgb; /* 3 bytes a pixel */
};

static int read_png(const char *path, struct image *im) {
        png_image p = { .version = PNG_IMAGE_VERSION };
        if (!png_image_begin_read_from_file(&p, path))
                return -EINVAL;
        p.format = PNG_FORMAT_RGB;
        im->w = p.width, im->h = p.height;
        im->rgb = malloc(PNG_IMAGE_SIZE(p));
        if (!im->rgb || !png_image_finish_read(&p, NULL, im->rgb, 0, NULL)) {
                png_image_free(&p);
                return -EINVAL;
        }
        return 0;
}

static int read_jpeg(FILE *f, struct image *im) {
        struct jpeg_decompress_struct c;
        struct jpeg_error_mgr e;
        c.err = jpeg_std_error(&e); /* exits on a corrupt file: fine for a test tool */
        jpeg_create_decompress(&c);
        jpeg_stdio_src(&c, f);
        jpeg_read_header(&c, TRUE);
        c.out_color_space = JCS_RGB;
        jpeg_start_decompress(&c);
        im->w = c.output_width, im->h = c.output_height;
        im->rgb = malloc((size_t)im->w * im->h * 3);
        if (!im->rgb)
                return -ENOMEM;
        while (c.output_scanline < c.output_height) {
                JSAMPROW row = im->rgb + (size_t)c.output_scanline * im->w * 3;
                jpeg_read_scanlines(&c, &row, 1);
        }
        jpeg_finish_decompress(&c);
        jpeg_destroy_decompress(&c);
        return 0;
}

static int read_image(const char *path, struct image *im) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return -errno;
        uint8_t magic[2] = { 0 };
        size_t n = fread(magic, 1, 2, f);
        rewind(f);
        int r = n == 2 && magic[0] == 0xff && magic[1] == 0xd8 ? read_jpeg(f, im) : read_png(path, im);
        fclose(f);
        return r;
}

static uint32_t at(const struct image *im, uint32_t x, uint32_t y) {
        const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3;
        return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static unsigned channel_diff(uint32_t a, uint32_t b) {
        unsigned d = 0;
        for (int s = 0; s <= 16; s += 8) {
                int x = (int)((a >> s) & 0xff) - (int)((b >> s) & 0xff);
                unsigned ax = (unsigned)(x < 0 ? -x : x);
                d = ax > d ? ax : d;
        }
        return d;
}

/* The pattern at offset (ox, oy) of the image, within tol (exact: 0),
 * skipping area edges unless exact; returns the mismatches. */
static size_t compare(const struct image *im, uint32_t ox, uint32_t oy, uint32_t w, uint32_t h, unsigned phase,
                      unsigned tol, bool edges, unsigned *worst) {
        size_t bad = 0;
        *worst = 0;
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        if (!edges && dp_near_edge(x, y))
                                continue;
                        unsigned d = channel_diff(at(im, ox + x, oy + y), dp_pixel(x, y, phase));
                        *worst = d > *worst ? d : *worst;
                        if (d > tol) {
                                if (bad++ < 3)
                                        fprintf(stderr, "  (%u,%u): 0x%06x, the pattern's 0x%06x\n", x, y,
                                                at(im, ox + x, oy + y), dp_pixel(x, y, phase));
                        }
                }
        return bad;
}

static bool is_marker(uint32_t c) {
        return channel_diff(c, DP_MARKER_COLOR + 0x040404) <= 16;
}

/* The bounding box of marker-coloured pixels; their count. */
static size_t marker_box(const struct image *im, uint32_t box[4]) {
        size_t n = 0;
        uint32_t x0 = UINT32_MAX, y0 = UINT32_MAX, x1 = 0, y1 = 0;
        for (uint32_t y = 0; y < im->h; y++)
                for (uint32_t x = 0; x < im->w; x++)
                        if (is_marker(at(im, x, y))) {
                                n++;
                                x0 = x < x0 ? x : x0, y0 = y < y0 ? y : y0;
                                x1 = x > x1 ? x : x1, y1 = y > y1 ? y : y1;
                        }
        box[0] = x0, box[1] = y0, box[2] = x1 - x0 + 1, box[3] = y1 - y0 + 1;
        return n;
}

static int find(const struct image *im, unsigned phase) {
        uint32_t b[4];
        size_t n = marker_box(im, b);
        if (n < DP_MARKER_W * DP_MARKER_H / 2)
                return fprintf(stderr, "no marker block (%zu marker pixels)\n", n), 1;
        if (b[2] != DP_MARKER_W || b[3] != DP_MARKER_H || n != (size_t)b[2] * b[3])
                return fprintf(stderr, "the marker is %ux%u at %u,%u (%zu pixels), not %ux%u: scaled?\n", b[2], b[3],
                               b[0], b[1], n, DP_MARKER_W, DP_MARKER_H), 1;
        if (b[0] < DP_MARKER_X || b[1] < DP_MARKER_Y)
                return fprintf(stderr, "the marker at %u,%u: the pattern would start outside\n", b[0], b[1]), 1;
        uint32_t ox = b[0] - DP_MARKER_X, oy = b[1] - DP_MARKER_Y;
        /* Of the pattern, what the browser shows (its window may cut it).
         * noVNC asks for Tight encoding with JPEG: within 32 of the
         * pattern, where any two of its colours differ by 0x58 or more. */
        uint32_t w = im->w - ox < 640 ? im->w - ox : 640, h = im->h - oy < 480 ? im->h - oy : 480;
        unsigned worst;
        size_t bad = compare(im, ox, oy, w, h, phase, 32, false, &worst);
        printf("pattern at %u,%u, %ux%u visible, largest difference %u\n", ox, oy, w, h, worst);
        return bad ? (fprintf(stderr, "%zu pixels differ\n", bad), 1) : 0;
}

static int message(const struct image *im) {
        size_t background = 0, bright = 0, total = (size_t)im->w * im->h;
        for (uint32_t y = 0; y < im->h; y++)
                for (uint32_t x = 0; x < im->w; x++) {
                        uint32_t c = at(im, x, y);
                        background += channel_diff(c, 0x1d2b3a) <= 12;
                        bright += ((c >> 16) & 0xff) > 0x90 && ((c >> 8) & 0xff) > 0x90 && (c & 0xff) > 0x90;
                }
        printf("%ux%u: %zu background pixels, %zu text pixels\n", im->w, im->h, background, bright);
        return background * 10 >= total * 8 && bright * 1000 >= total * 3 ? 0 : 1;
}

int main(int argc, char **argv) {
        if (argc < 3)
                return fprintf(stderr, "usage: see the head of display-image-check.c\n"), 2;
        struct image im = { 0 };
        if (read_image(argv[2], &im) < 0)
                return fprintf(stderr, "%s: not a PNG or JPEG image\n", argv[2]), 1;
        unsigned phase = argc > 3 ? (unsigned)atoi(argv[3]) : 0, worst;
        const char *mode = argv[1];
        if (strcmp(mode, "exact") == 0 || strcmp(mode, "near") == 0) {
                bool exact = mode[0] == 'e';
                unsigned tol = exact ? 0 : (unsigned)atoi(argc > 4 ? argv[4] : "0");
                size_t bad = compare(&im, 0, 0, im.w, im.h, phase, tol, exact, &worst);
                printf("%ux%u, largest difference %u\n", im.w, im.h, worst);
                return bad ? (fprintf(stderr, "%zu pixels differ\n", bad), 1) : 0;
        }
        if (strcmp(mode, "find") == 0)
                return find(&im, phase);
        if (strcmp(mode, "absent") == 0) {
                uint32_t b[4];
                size_t n = marker_box(&im, b);
                printf("%zu marker pixels\n", n);
                return n < 64 ? 0 : 1;
        }
        if (strcmp(mode, "message") == 0)
                return message(&im);
        return fprintf(stderr, "unknown check %s\n", mode), 2;
}
