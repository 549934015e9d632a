/* SPDX-License-Identifier: MIT */
/* Images for test-vhdx.c and test-vhdx-grow.c: a test directory, files in
 * it, a vhdx created and opened, writes and reads that must succeed, a
 * fill pattern, and qemu-img as the independent oracle (its check, its
 * raw conversion). */
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/test.h"
#include "tests/lib/crash-sectors.h"
#include "vhdx/src/vhdx-internal.h"
#include "vhdx/vhdx.h"

static char dir[] = "/tmp/test-vhdx-XXXXXX";
static char err[512];

static inline void path_of(char *out, size_t n, const char *name) {
        snprintf(out, n, "%s/%s", dir, name);
}

static inline int new_file(const char *name) {
        char p[256];
        path_of(p, sizeof p, name);
        unlink(p);
        int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        return fd;
}

static inline int open_file(const char *name, int mode) {
        char p[256];
        path_of(p, sizeof p, name);
        int fd = open(p, mode | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        return fd;
}

static inline struct vhdx *create_open(const char *name, enum vhdx_type type, uint64_t size, uint32_t bs) {
        int fd = new_file(name);
        struct vhdx_create_options o = { .type = type, .virtual_size = size, .block_size = bs };
        int r = vhdx_create(fd, &o, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "create: %s\n", err);
        ASSERT_EQ(r, 0);
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err), 0);
        return v;
}

/* Writes buf at voff through vhdx_map_write, extent by extent. */
static inline void vwrite(struct vhdx *v, uint64_t voff, const uint8_t *buf, uint64_t len) {
        while (len) {
                struct vhdx_extent e;
                ASSERT_EQ(vhdx_map_write(v, voff, len, &e, NULL), 0);
                ASSERT_EQ(e.kind, VHDX_EXT_DATA);
                ASSERT_EQ(pwrite(vhdx_fd(e.image), buf, e.len, (off_t)e.file_off), (ssize_t)e.len);
                voff += e.len, buf += e.len, len -= e.len;
        }
}

static inline void vread(struct vhdx *v, uint64_t voff, uint8_t *buf, uint64_t len) {
        while (len) {
                struct vhdx_extent e;
                ASSERT_EQ(vhdx_map_chain(v, voff, len, &e), 0);
                if (e.kind == VHDX_EXT_ZERO)
                        memset(buf, 0, e.len);
                else
                        ASSERT_EQ(pread(vhdx_fd(e.image), buf, e.len, (off_t)e.file_off), (ssize_t)e.len);
                voff += e.len, buf += e.len, len -= e.len;
        }
}

static inline void fill(uint8_t *b, size_t n, uint32_t seed) {
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) ^ seed);
}

static inline bool have_qemu_img(void) {
        return test_have_program("qemu-img", "qemu-utils");
}

/* qemu-img check exits 0 on a clean image. */
static inline int qemu_check(const char *name) {
        char cmd[512], p[256];
        path_of(p, sizeof p, name);
        snprintf(cmd, sizeof cmd, "qemu-img check -q -f vhdx %s >/dev/null 2>&1", p);
        return system(cmd);
}

/* The raw content qemu-img reads from an image. */
static inline uint8_t *qemu_raw(const char *name, size_t size) {
        char cmd[640], p[256], raw[256];
        path_of(p, sizeof p, name);
        path_of(raw, sizeof raw, "qemu.raw");
        unlink(raw);
        snprintf(cmd, sizeof cmd, "qemu-img convert -f vhdx -O raw %s %s", p, raw);
        ASSERT_EQ(system(cmd), 0);
        uint8_t *b = malloc(size);
        int fd = open(raw, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(pread(fd, b, size, 0), (ssize_t)size);
        close(fd);
        return b;
}

/* A test program's main: the image directory made, each test run, the
 * directory removed at exit. */
static inline void vhdx_test_cleanup(void) {
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "cleanup failed\n");
}

#define VHDX_TEST_MAIN()                                                                    \
        int main(void) {                                                                    \
                ASSERT_NOT_NULL(mkdtemp(dir));                                              \
                atexit(vhdx_test_cleanup);                                                  \
                for (const struct vm_test *t = __start_vm_tests; t < __stop_vm_tests; t++) { \
                        fprintf(stderr, "== %s\n", t->name);                                \
                        t->fn();                                                            \
                }                                                                           \
                return 0;                                                                   \
        }
