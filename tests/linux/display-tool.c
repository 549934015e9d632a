// SPDX-License-Identifier: MIT
/* The guest's end of the stock-Linux test's display checks
 * (tests/linux/test-linux.sh, docs/video.md, docs/input.md), linked
 * statically so the guest's busybox initramfs can run it:
 *
 *   display-tool draw FB          the vmdisplay test pattern (phase 0,
 *                                 tests/integration/display-pattern.h)
 *                                 through a mapping of the frame buffer
 *                                 device FB, which is how hyperv_fb learns
 *                                 what changed (its deferred I/O); prints
 *                                 "fb=WxH bpp=N drawn"
 *   display-tool watch MAX        every /dev/input/event* device: prints
 *                                 "input dev=N name=NAME" for each, then
 *                                 one line per key event ("input key
 *                                 dev=N code=C value=V") and per absolute
 *                                 pointer report ("input abs dev=N x=X
 *                                 y=Y"), at most MAX lines of events
 *
 * Lines start with "LINUX " (the test reads the console). Exit status 0
 * on success, 1 with the reason on stderr. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <linux/input.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/integration/display-pattern.h"

#define MAX_DEVICES 16

static int die(const char *what) {
        fprintf(stderr, "display-tool: %s: %s\n", what, strerror(errno));
        return 1;
}

static int draw(const char *path) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return die(path);
        struct fb_var_screeninfo v;
        struct fb_fix_screeninfo f;
        if (ioctl(fd, FBIOGET_VSCREENINFO, &v) < 0 || ioctl(fd, FBIOGET_FSCREENINFO, &f) < 0)
                return die("frame buffer information");
        if (v.bits_per_pixel != 32 || v.red.offset != 16 || v.green.offset != 8 || v.blue.offset != 0) {
                fprintf(stderr, "display-tool: %u bits per pixel, red at %u: not XRGB8888\n", v.bits_per_pixel,
                        v.red.offset);
                return 1;
        }
        size_t len = (size_t)f.line_length * v.yres;
        if (len > f.smem_len) {
                fprintf(stderr, "display-tool: %zu bytes of screen, %u of memory\n", len, f.smem_len);
                return 1;
        }
        uint8_t *fb = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (fb == MAP_FAILED)
                return die("mmap");
        for (uint32_t y = 0; y < v.yres; y++) {
                uint32_t *line = (uint32_t *)(fb + (size_t)y * f.line_length);
                for (uint32_t x = 0; x < v.xres; x++)
                        line[x] = dp_pixel(x, y, 0);
        }
        if (msync(fb, len, MS_SYNC) < 0)
                return die("msync");
        munmap(fb, len);
        close(fd);
        printf("LINUX fb=%ux%u bpp=%u drawn\n", v.xres, v.yres, v.bits_per_pixel);
        return 0;
}

static int watch(long max) {
        struct pollfd pfd[MAX_DEVICES];
        int n = 0;
        DIR *d = opendir("/dev/input");
        if (!d)
                return die("/dev/input");
        struct dirent *e;
        while ((e = readdir(d)) && n < MAX_DEVICES) {
                if (strncmp(e->d_name, "event", 5) != 0)
                        continue;
                char path[300], name[128] = "";
                snprintf(path, sizeof path, "/dev/input/%s", e->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return die(path);
                if (ioctl(fd, EVIOCGNAME(sizeof name - 1), name) < 0)
                        snprintf(name, sizeof name, "?");
                for (char *p = name; *p; p++)
                        if (*p == ' ')
                                *p = '_';
                printf("LINUX input dev=%d name=%s\n", n, name);
                pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
        }
        closedir(d);
        fflush(stdout);
        if (n == 0) {
                fprintf(stderr, "display-tool: no input devices\n");
                return 1;
        }
        /* A report's axes come one event each, then SYN_REPORT. */
        int x[MAX_DEVICES] = { 0 }, y[MAX_DEVICES] = { 0 }, abs_seen[MAX_DEVICES] = { 0 };
        for (long lines = 0; lines < max;) {
                if (poll(pfd, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return die("poll");
                }
                for (int i = 0; i < n; i++) {
                        if (!(pfd[i].revents & POLLIN))
                                continue;
                        struct input_event ev[64];
                        ssize_t r = read(pfd[i].fd, ev, sizeof ev);
                        if (r < 0)
                                return die("read");
                        for (size_t k = 0; k < (size_t)r / sizeof ev[0]; k++) {
                                if (ev[k].type == EV_KEY) {
                                        printf("LINUX input key dev=%d code=%u value=%d\n", i, ev[k].code,
                                               ev[k].value);
                                        lines++;
                                } else if (ev[k].type == EV_ABS && ev[k].code == ABS_X) {
                                        x[i] = ev[k].value, abs_seen[i] = 1;
                                } else if (ev[k].type == EV_ABS && ev[k].code == ABS_Y) {
                                        y[i] = ev[k].value, abs_seen[i] = 1;
                                } else if (ev[k].type == EV_SYN && ev[k].code == SYN_REPORT && abs_seen[i]) {
                                        printf("LINUX input abs dev=%d x=%d y=%d\n", i, x[i], y[i]);
                                        abs_seen[i] = 0;
                                        lines++;
                                }
                        }
                        fflush(stdout);
                }
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "draw") == 0)
                return draw(argv[2]);
        if (argc == 3 && strcmp(argv[1], "watch") == 0)
                return watch(strtol(argv[2], NULL, 10));
        fprintf(stderr, "usage: display-tool draw FB | watch MAX\n");
        return 2;
}
