// SPDX-License-Identifier: MIT
/* vhdx_grow (docs/vhdx.md): a dynamic and a fixed image grown, qemu-img
 * reading the new size and every byte; the refusals; a grow killed at any
 * point leaves the old size or the new one, never a broken image. */
#include "tests/unit/test-vhdx-harness.h"

/* ---- growing (vhdx_grow) ---- */

static void expect_qemu_sees(const char *name, const uint8_t *want, size_t size) {
        if (!have_qemu_img())
                return;
        ASSERT_EQ(qemu_check(name), 0);
        uint8_t *q = qemu_raw(name, size);
        ASSERT_EQ(memcmp(q, want, size), 0);
        free(q);
        char cmd[512], p[256];
        path_of(p, sizeof p, name);
        snprintf(cmd, sizeof cmd, "qemu-img info --output=json -f vhdx %s | grep -q '\"virtual-size\": %zu,'", p,
                 size);
        ASSERT_EQ(system(cmd), 0);
}

/* A dynamic disk of 20 MiB and one sector, its last block partly beyond
 * it, grows to 100 MiB: what it held reads the same, the new part zeros,
 * writes land anywhere; after a reopen, and through qemu-img (check,
 * convert, info); the DataWriteGuid changed. A fixed disk grows with its
 * new blocks allocated. */
TEST(grow_dynamic_and_fixed_and_qemu_reads_them) {
        const uint64_t old = (20 << 20) + 512, size = 100 << 20;
        struct vhdx *v = create_open("grow.vhdx", VHDX_DYNAMIC, old, 1 << 20);
        uint8_t *want = calloc(1, size), *b = malloc(size);
        fill(want, old, 4);
        vwrite(v, 0, want, old);
        int fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err), 0); /* a new session: no change yet */
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        struct guid data_guid = info.data_write_guid;
        ASSERT_EQ(vhdx_max_file_size_at(v, size), vhdx_max_file_size(v) + 79 * (1ull << 20));
        ASSERT_EQ(vhdx_grow(v, size, err, sizeof err), 0);
        ASSERT_EQ(vhdx_grow(v, size, err, sizeof err), 0); /* already that size */
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.virtual_size, size);
        ASSERT_EQ(info.blocks_total, 100u);
        ASSERT_FALSE(guid_equal(&info.data_write_guid, &data_guid));
        vread(v, 0, b, size);
        ASSERT_EQ(memcmp(b, want, size), 0);
        fill(want + (90 << 20), 3 << 20, 5);
        vwrite(v, 90 << 20, want + (90 << 20), 3 << 20);
        ASSERT_EQ(vhdx_commit(v), 0);
        ASSERT_EQ(vhdx_close(v), 0);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err), 0);
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.virtual_size, size);
        ASSERT_FALSE(info.log_replayed);
        vread(v, 0, b, size);
        ASSERT_EQ(memcmp(b, want, size), 0);
        ASSERT_EQ(vhdx_close(v), 0);
        close(fd);
        expect_qemu_sees("grow.vhdx", want, size);

        v = create_open("growfix.vhdx", VHDX_FIXED, 8 << 20, 2 << 20);
        fill(want, 8 << 20, 6);
        memset(want + (8 << 20), 0, 8 << 20);
        vwrite(v, 0, want, 8 << 20);
        ASSERT_EQ(vhdx_grow(v, 16 << 20, err, sizeof err), 0);
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.blocks_present, 8u);
        fill(want + (14 << 20), 2 << 20, 7);
        vwrite(v, 14 << 20, want + (14 << 20), 2 << 20);
        ASSERT_FALSE(vhdx_dirty(v)); /* the new blocks were there: no allocation */
        fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        close(fd);
        expect_qemu_sees("growfix.vhdx", want, 16 << 20);
        free(want);
        free(b);
}

TEST(grow_refusals) {
        struct vhdx *v = create_open("nogrow.vhdx", VHDX_DYNAMIC, 4 << 20, 1 << 20);
        ASSERT_EQ(vhdx_grow(v, 2 << 20, err, sizeof err), -EINVAL); /* shrinking */
        ASSERT_EQ(vhdx_grow(v, (8 << 20) + 100, err, sizeof err), -EINVAL);
        ASSERT_EQ(vhdx_grow(v, VHDX_MAX_VIRTUAL_SIZE + 512, err, sizeof err), -EINVAL);
        /* 1 MiB blocks: a 1 MiB BAT's 131072 entries hold 131041 blocks
         * and their 32 sector bitmap entries (one per 4096 blocks) */
        ASSERT_EQ(vhdx_grow(v, 1ull << 40, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "its BAT region holds entries for 137406447616 bytes at most"));
        ASSERT_EQ(vhdx_grow(v, 131041ull << 20, err, sizeof err), 0);
        ASSERT_EQ(vhdx_grow(v, 131042ull << 20, err, sizeof err), -EINVAL);
        int fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        ASSERT_EQ(vhdx_grow(v, 256ull << 30, err, sizeof err), -EROFS);
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.virtual_size, 131041ull << 20);
        int cfd = new_file("nogrow.avhdx");
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = v, .parent_relative = "nogrow.vhdx" };
        ASSERT_EQ(vhdx_create(cfd, &o, err, sizeof err), 0);
        struct vhdx *c;
        ASSERT_EQ(vhdx_open(cfd, VHDX_OPEN_WRITABLE, &c, err, sizeof err), 0);
        ASSERT_EQ(vhdx_grow(c, 256ull << 30, err, sizeof err), -EOPNOTSUPP);
        ASSERT_NOT_NULL(strstr(err, "differencing"));
        vhdx_close(c);
        close(cfd);
        vhdx_close(v);
        close(fd);
        if (have_qemu_img())
                ASSERT_EQ(qemu_check("nogrow.vhdx"), 0);
}

/* kill -9 during a grow, 30 times at different moments: the image opens
 * (replaying the log) at the old size or the new one, never between, with
 * its data and a clean qemu-img check. */
TEST(grow_killed_leaves_old_or_new_size) {
        const uint64_t old = 16 << 20, size = 64 << 20;
        uint8_t *want = malloc(old), *b = malloc(old);
        fill(want, old, 8);
        unsigned saw_old = 0, saw_new = 0;
        for (unsigned round = 0; round < 30; round++) {
                struct vhdx *v = create_open("growkill.vhdx", round % 2 ? VHDX_FIXED : VHDX_DYNAMIC, old, 1 << 20);
                vwrite(v, 0, want, old);
                ASSERT_EQ(vhdx_commit(v), 0);
                int fd = vhdx_fd(v);
                pid_t pid = fork();
                ASSERT_GE(pid, 0);
                if (pid == 0) {
                        char e[256];
                        _exit(vhdx_grow(v, size, e, sizeof e) == 0 ? 0 : 1);
                }
                usleep((useconds_t)(round * round * 40)); /* 0 to 34 ms */
                kill(pid, SIGKILL);
                int st;
                ASSERT_EQ(waitpid(pid, &st, 0), pid);
                vhdx_discard(v);
                struct vhdx *r;
                ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &r, err, sizeof err), 0);
                struct vhdx_info info;
                vhdx_get_info(r, &info);
                ASSERT_TRUE(info.virtual_size == old || info.virtual_size == size);
                saw_old += info.virtual_size == old;
                saw_new += info.virtual_size == size;
                vread(r, 0, b, old);
                ASSERT_EQ(memcmp(b, want, old), 0);
                ASSERT_EQ(vhdx_close(r), 0);
                close(fd);
                if (have_qemu_img())
                        ASSERT_EQ(qemu_check("growkill.vhdx"), 0);
        }
        fprintf(stderr, "killed grows: %u at the old size, %u at the new\n", saw_old, saw_new);
        free(want);
        free(b);
}

VHDX_TEST_MAIN()
