// SPDX-License-Identifier: MIT
/* vmdisplay's screenshots (vmdisplay/png.h): XRGB8888 with any stride in,
 * 8-bit RGB PNG out, read back with libpng and compared pixel by pixel. */
#include <png.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/test.h"
#include "vmdisplay/png.h"

/* XRGB8888 little-endian with a stride of w * 4 + pad, the X bytes set
 * (a PNG must not carry them). */
static uint8_t *make_pixels(uint32_t w, uint32_t h, uint32_t pad) {
        uint32_t stride = w * 4 + pad;
        uint8_t *p = malloc((size_t)stride * h);
        ASSERT_NOT_NULL(p);
        memset(p, 0xee, (size_t)stride * h);
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint8_t *px = p + (size_t)y * stride + x * 4;
                        px[0] = (uint8_t)(x * 7 + y);       /* blue */
                        px[1] = (uint8_t)(y * 3);           /* green */
                        px[2] = (uint8_t)(x ^ (y << 1));    /* red */
                        px[3] = 0xa5;                       /* X */
                }
        return p;
}

static void check_png(const char *path, const uint8_t *src, uint32_t w, uint32_t h, uint32_t stride) {
        png_image im = { .version = PNG_IMAGE_VERSION };
        ASSERT_TRUE(png_image_begin_read_from_file(&im, path));
        ASSERT_EQ(im.width, w);
        ASSERT_EQ(im.height, h);
        /* 8-bit RGB, no alpha, no palette: what the file says of itself */
        ASSERT_EQ(im.format, (png_uint_32)PNG_FORMAT_RGB);
        im.format = PNG_FORMAT_RGB;
        uint8_t *rgb = malloc(PNG_IMAGE_SIZE(im));
        ASSERT_NOT_NULL(rgb);
        ASSERT_TRUE(png_image_finish_read(&im, NULL, rgb, 0, NULL));
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        const uint8_t *s = src + (size_t)y * stride + x * 4, *d = rgb + ((size_t)y * w + x) * 3;
                        ASSERT_EQ(d[0], s[2]);
                        ASSERT_EQ(d[1], s[1]);
                        ASSERT_EQ(d[2], s[0]);
                }
        free(rgb);
}

TEST(round_trip_with_odd_strides) {
        char dir[] = "/tmp/test-vmdisplay-png.XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        char path[128];
        snprintf(path, sizeof path, "%s/shot.png", dir);
        const uint32_t sizes[][3] = { { 1, 1, 0 }, { 640, 480, 0 }, { 33, 17, 4 }, { 1024, 3, 2048 }, { 7, 300, 1 } };
        for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
                uint32_t w = sizes[i][0], h = sizes[i][1], pad = sizes[i][2];
                uint8_t *p = make_pixels(w, h, pad);
                ASSERT_OK(vmd_png_write_file(path, p, w, h, w * 4 + pad));
                check_png(path, p, w, h, w * 4 + pad);
                free(p);
        }
        /* written whole and private: no temporary left, mode 0600 */
        struct stat st;
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600u);
        unlink(path);
        ASSERT_OK(rmdir(dir)); /* fails if a temporary file were left */
}

TEST(what_cannot_be_written) {
        uint8_t px[16] = { 0 };
        FILE *f = tmpfile();
        ASSERT_NOT_NULL(f);
        ASSERT_ERROR(vmd_png_write(f, px, 0, 1, 4), EINVAL);
        ASSERT_ERROR(vmd_png_write(f, px, 1, 0, 4), EINVAL);
        ASSERT_ERROR(vmd_png_write(f, px, 2, 1, 4), EINVAL); /* stride < width * 4 */
        fclose(f);
        ASSERT_ERROR(vmd_png_write_file("/nonexistent-dir/x.png", px, 1, 1, 4), ENOENT);
        /* a full disk: libpng's error path, not a crash */
        f = fopen("/dev/full", "w");
        if (f) {
                uint8_t *p = make_pixels(256, 256, 0);
                ASSERT_ERROR(vmd_png_write(f, p, 256, 256, 1024), EIO);
                fclose(f);
                free(p);
        }
}

TEST_MAIN();
