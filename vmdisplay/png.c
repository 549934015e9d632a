// SPDX-License-Identifier: MIT
/* PNG screenshots with libpng. The pixels go in as they are: libpng's
 * write transforms drop the X byte (png_set_filler) and swap B and R
 * (png_set_bgr), so no converted copy of a frame (up to 132 MB) exists. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "vmdisplay/png.h"

/* libpng reports errors by longjmp; everything that must survive it is
 * allocated before the setjmp. */
int vmd_png_write(FILE *f, const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride) {
        if (!width || !height || stride < (uint64_t)width * 4)
                return -EINVAL;
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        if (!png)
                return -ENOMEM;
        png_infop info = png_create_info_struct(png);
        if (!info) {
                png_destroy_write_struct(&png, NULL);
                return -ENOMEM;
        }
        if (setjmp(png_jmpbuf(png))) {
                png_destroy_write_struct(&png, &info);
                return -EIO;
        }
        png_init_io(png, f);
        /* Speed over size: a screenshot is taken while someone waits. */
        png_set_compression_level(png, 3);
        png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_set_filler(png, 0, PNG_FILLER_AFTER); /* B G R X in memory */
        png_set_bgr(png);
        for (uint32_t y = 0; y < height; y++)
                png_write_row(png, pixels + (size_t)y * stride);
        png_write_end(png, NULL);
        png_destroy_write_struct(&png, &info);
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

int vmd_png_write_file(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride) {
        if (strcmp(path, "-") == 0)
                return vmd_png_write(stdout, pixels, width, height, stride);
        size_t n = strlen(path);
        _cleanup_free_ char *tmp = malloc(n + 8);
        if (!tmp)
                return -ENOMEM;
        memcpy(tmp, path, n);
        memcpy(tmp + n, ".XXXXXX", 8);
        int fd = mkostemp(tmp, O_CLOEXEC); /* 0600 */
        if (fd < 0)
                return -errno;
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int e = -errno;
                close(fd);
                unlink(tmp);
                return e;
        }
        int r = vmd_png_write(f, pixels, width, height, stride);
        if (r == 0 && fsync(fileno(f)) < 0)
                r = -errno;
        if (fclose(f) != 0 && r == 0)
                r = -EIO;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}
