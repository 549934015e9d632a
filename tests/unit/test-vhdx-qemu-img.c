// SPDX-License-Identifier: MIT
/* vhdx_check on images qemu-img makes (docs/vhdx.md, vmctl disk check):
 * every dynamic image `qemu-img create -f vhdx` makes ends 4 MiB past its
 * metadata region (QEMU's vhdx_create_bat truncates the file to 5 MiB past
 * the BAT), space reserved and never written: an empty tail, not blocks
 * an allocation never committed; its "fixed" images (every block ZERO)
 * reserve the whole payload the same way. Skips (77) without qemu-img. */
#include <sys/stat.h>

#include "common/macro.h"
#include "common/test.h"
#include "vhdx/vhdx.h"

static char dir[] = "/tmp/test-vhdx-qemu-img-XXXXXX";

/* A new image made by qemu-img; its fd (O_RDWR). */
static int qemu_create(const char *name, const char *opts, char *path, size_t len) {
        char cmd[512];
        snprintf(path, len, "%s/%s", dir, name);
        snprintf(cmd, sizeof cmd, "qemu-img create -q -f vhdx %s %s 1G", opts, path);
        ASSERT_EQ(system(cmd), 0);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        return fd;
}

static void check(int fd, struct vhdx_check_report *rep) {
        char err[256];
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_INSPECT, &v, err, sizeof err), 0);
        ASSERT_EQ(vhdx_check(v, rep), 0);
        vhdx_discard(v);
}

TEST(qemu_img_dynamic_tail_is_empty) {
        char p[256];
        int fd = qemu_create("dyn.vhdx", "", p, sizeof p);
        struct vhdx_check_report rep;
        check(fd, &rep);
        ASSERT_EQ(rep.errors, 0u);
        ASSERT_EQ(rep.leaked, (uint64_t)4 << 20); /* QEMU 7.2: BAT at 2 MiB, metadata at 3 MiB, file 8 MiB */
        ASSERT_TRUE(rep.leaked_empty);
        close(fd);
}

TEST(qemu_img_tail_written_with_zeros_is_empty) {
        char p[256];
        int fd = qemu_create("zeros.vhdx", "", p, sizeof p);
        struct stat st;
        ASSERT_EQ(fstat(fd, &st), 0);
        /* zeros as data, not holes (a copy without sparse support) */
        uint8_t *z = calloc(1, 4 << 20);
        ASSERT_EQ(pwrite(fd, z, 4 << 20, st.st_size - (4 << 20)), (ssize_t)(4 << 20));
        free(z);
        ASSERT_EQ(fsync(fd), 0);
        struct vhdx_check_report rep;
        check(fd, &rep);
        ASSERT_EQ(rep.leaked, (uint64_t)4 << 20);
        ASSERT_TRUE(rep.leaked_empty);
        close(fd);
}

TEST(tail_with_data_is_not_empty) {
        char p[256];
        int fd = qemu_create("data.vhdx", "", p, sizeof p);
        struct stat st;
        ASSERT_EQ(fstat(fd, &st), 0);
        /* one byte at the end: what a block allocated and written, never
         * committed, leaves */
        ASSERT_EQ(pwrite(fd, "X", 1, st.st_size - 1), 1);
        struct vhdx_check_report rep;
        check(fd, &rep);
        ASSERT_EQ(rep.errors, 0u);
        ASSERT_EQ(rep.leaked, (uint64_t)4 << 20);
        ASSERT_FALSE(rep.leaked_empty);
        close(fd);
}

/* QEMU's "fixed" image marks every block ZERO by default (block_state_zero):
 * the whole payload is reserved space past the last (present) block. */
TEST(qemu_img_fixed_zero_blocks_tail_is_empty) {
        char p[256];
        int fd = qemu_create("fixed-zero.vhdx", "-o subformat=fixed", p, sizeof p);
        struct vhdx_check_report rep;
        check(fd, &rep);
        ASSERT_EQ(rep.errors, 0u);
        ASSERT_EQ(rep.leaked, ((uint64_t)1 << 30) + (4 << 20));
        ASSERT_TRUE(rep.leaked_empty);
        close(fd);
}

/* With present blocks the file ends with the last one: no tail. */
TEST(qemu_img_fixed_present_blocks_no_tail) {
        char p[256];
        int fd = qemu_create("fixed.vhdx", "-o subformat=fixed,block_state_zero=off", p, sizeof p);
        struct vhdx_check_report rep;
        check(fd, &rep);
        ASSERT_EQ(rep.errors, 0u);
        ASSERT_EQ(rep.leaked, 0u);
        ASSERT_FALSE(rep.leaked_empty);
        close(fd);
}

static void cleanup(void) {
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "cleanup failed\n");
}

int main(int argc, char **argv) {
        TEST_REQUIRE_PROGRAM("qemu-img", "qemu-utils");
        ASSERT_NOT_NULL(mkdtemp(dir));
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
