// SPDX-License-Identifier: MIT
/* vhdx (the library): create, write through the BAT, read back; dynamic,
 * fixed and differencing images; the log (a crash between the log and the
 * in-place write is repaired at open); qemu-img as the independent oracle
 * both ways (it reads what we write, we read what it writes, it replays
 * our log). Growing an image is test-vhdx-grow.c's. */
#include "tests/unit/test-vhdx-harness.h"

TEST(create_write_reopen_read_dynamic) {
        const uint64_t size = 64 << 20;
        struct vhdx *v = create_open("dyn.vhdx", VHDX_DYNAMIC, size, 1 << 20);
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.type, VHDX_DYNAMIC);
        ASSERT_EQ(info.virtual_size, size);
        ASSERT_EQ(info.blocks_present, 0u);
        uint8_t *a = malloc(3 << 20), *b = malloc(3 << 20);
        fill(a, 3 << 20, 1);
        /* straddles two blocks, starts mid-block */
        vwrite(v, (5 << 20) + 4096, a, (3 << 20) - 8192);
        ASSERT_TRUE(vhdx_dirty(v));
        ASSERT_EQ(vhdx_commit(v), 0);
        ASSERT_FALSE(vhdx_dirty(v));
        int fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err), 0);
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.blocks_present, 3u); /* blocks 5, 6 and 7 */
        ASSERT_FALSE(info.log_replayed);
        vread(v, (5 << 20) + 4096, b, (3 << 20) - 8192);
        ASSERT_EQ(memcmp(a, b, (3 << 20) - 8192), 0);
        /* never written: zeros */
        vread(v, 0, b, 1 << 20);
        for (size_t i = 0; i < (1 << 20); i++)
                ASSERT_EQ(b[i], 0);
        ASSERT_EQ(vhdx_close(v), 0);
        close(fd);
        if (have_qemu_img()) {
                ASSERT_EQ(qemu_check("dyn.vhdx"), 0);
                uint8_t *q = qemu_raw("dyn.vhdx", size);
                ASSERT_EQ(memcmp(q + (5 << 20) + 4096, a, (3 << 20) - 8192), 0);
                for (size_t i = 0; i < (5 << 20) + 4096; i++)
                        ASSERT_EQ(q[i], 0);
                free(q);
        }
        free(a);
        free(b);
}

TEST(fixed_image_is_allocated_and_qemu_reads_it) {
        const uint64_t size = 8 << 20;
        struct vhdx *v = create_open("fixed.vhdx", VHDX_FIXED, size, 2 << 20);
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.type, VHDX_FIXED);
        ASSERT_EQ(info.blocks_present, 4u);
        uint8_t *a = malloc(size);
        fill(a, size, 9);
        vwrite(v, 0, a, size);
        ASSERT_FALSE(vhdx_dirty(v)); /* no allocation in a fixed image */
        int fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        close(fd);
        if (have_qemu_img()) {
                ASSERT_EQ(qemu_check("fixed.vhdx"), 0);
                uint8_t *q = qemu_raw("fixed.vhdx", size);
                ASSERT_EQ(memcmp(q, a, size), 0);
                free(q);
        }
        free(a);
}

TEST(we_read_what_qemu_writes) {
        if (!have_qemu_img())
                return;
        const size_t size = 24 << 20;
        char raw[256], img[256], cmd[700];
        path_of(raw, sizeof raw, "src.raw");
        path_of(img, sizeof img, "byqemu.vhdx");
        uint8_t *a = calloc(1, size), *b = malloc(size);
        fill(a + (3 << 20), 5 << 20, 4); /* data in some blocks, zeros elsewhere */
        fill(a + (17 << 20), 1 << 20, 5);
        int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_EQ(pwrite(fd, a, size, 0), (ssize_t)size);
        close(fd);
        unlink(img);
        snprintf(cmd, sizeof cmd, "qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=2M %s %s", raw, img);
        ASSERT_EQ(system(cmd), 0);
        fd = open(img, O_RDONLY | O_CLOEXEC);
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        ASSERT_EQ(info.virtual_size, (uint64_t)size);
        ASSERT_EQ(info.block_size, 2u << 20);
        vread(v, 0, b, size);
        ASSERT_EQ(memcmp(a, b, size), 0);
        ASSERT_EQ(vhdx_close(v), 0);
        close(fd);
        free(a);
        free(b);
}

TEST(differencing_reads_parent_where_absent_and_keeps_parent) {
        const uint64_t size = 16 << 20;
        struct vhdx *p = create_open("base.vhdx", VHDX_DYNAMIC, size, 1 << 20);
        uint8_t *a = malloc(size), *b = malloc(size), *want = malloc(size);
        fill(a, size, 2);
        vwrite(p, 0, a, size);
        int pfd = vhdx_fd(p);
        ASSERT_EQ(vhdx_close(p), 0);
        ASSERT_EQ(vhdx_open(pfd, 0, &p, err, sizeof err), 0);

        int cfd = new_file("child.avhdx");
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = p, .parent_relative = "base.vhdx" };
        ASSERT_EQ(vhdx_create(cfd, &o, err, sizeof err), 0);
        struct vhdx *c;
        ASSERT_EQ(vhdx_open(cfd, VHDX_OPEN_WRITABLE, &c, err, sizeof err), 0);
        struct vhdx_info info;
        vhdx_get_info(c, &info);
        ASSERT_EQ(info.type, VHDX_DIFFERENCING);
        ASSERT_EQ(info.block_size, 2u << 20);
        ASSERT_EQ(strcmp(info.parent_relative, "base.vhdx"), 0);
        char pp[512];
        ASSERT_EQ(vhdx_parent_path("/x/y/child.avhdx", &info, pp, sizeof pp), 0);
        ASSERT_EQ(strcmp(pp, "/x/y/base.vhdx"), 0);
        struct vhdx_extent e;
        ASSERT_EQ(vhdx_map_chain(c, 0, 4096, &e), -ENOLINK); /* no parent set yet */
        ASSERT_EQ(vhdx_set_parent(c, p, err, sizeof err), 0);

        /* a few sectors in one block, a whole block, a run across blocks */
        uint8_t *x = malloc(4 << 20);
        fill(x, 4 << 20, 77);
        memcpy(want, a, size);
        vwrite(c, 4096 + 512, x, 1536);
        memcpy(want + 4096 + 512, x, 1536);
        vwrite(c, 4 << 20, x, 2 << 20);
        memcpy(want + (4 << 20), x, 2 << 20);
        vwrite(c, (9 << 20) - 512, x, 1 << 20);
        memcpy(want + (9 << 20) - 512, x, 1 << 20);
        ASSERT_EQ(vhdx_commit(c), 0);
        vread(c, 0, b, size);
        ASSERT_EQ(memcmp(b, want, size), 0);
        /* after a reopen, from the file */
        ASSERT_EQ(vhdx_close(c), 0);
        ASSERT_EQ(vhdx_open(cfd, 0, &c, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(c, p, err, sizeof err), 0);
        memset(b, 0, size);
        vread(c, 0, b, size);
        ASSERT_EQ(memcmp(b, want, size), 0);
        /* the parent is untouched */
        vread(p, 0, b, size);
        ASSERT_EQ(memcmp(b, a, size), 0);
        ASSERT_EQ(vhdx_close(c), 0);
        ASSERT_EQ(vhdx_close(p), 0);

        /* a parent written after the child was made no longer links */
        close(pfd);
        pfd = open_file("base.vhdx", O_RDWR);
        ASSERT_EQ(vhdx_open(pfd, VHDX_OPEN_WRITABLE, &p, err, sizeof err), 0);
        vwrite(p, 0, x, 4096);
        ASSERT_EQ(vhdx_close(p), 0);
        ASSERT_EQ(vhdx_open(pfd, 0, &p, err, sizeof err), 0);
        ASSERT_EQ(vhdx_open(cfd, 0, &c, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(c, p, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "DataWriteGuid"));
        vhdx_close(c);
        vhdx_close(p);
        close(pfd);
        close(cfd);
        free(a), free(b), free(want), free(x);
}

/* A process that wrote the log entry and died before the in-place write:
 * the next open replays it (and so does qemu-img check -r all). */
TEST(log_replay_after_crash_between_log_and_in_place) {
        const uint64_t size = 32 << 20;
        struct vhdx *v = create_open("crash.vhdx", VHDX_DYNAMIC, size, 1 << 20);
        int fd = vhdx_fd(v);
        uint8_t *a = malloc(size), *b = malloc(size);
        fill(a, size, 3);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                vwrite(v, 0, a, 6 << 20);
                ASSERT_EQ(fdatasync(fd), 0);
                /* what vhdx_commit does, minus the in-place write */
                uint8_t sec[4096];
                for (unsigned k = 0; k < 512; k++)
                        vmstate_put_le64(sec + k * 8, v->bat[k]);
                struct vhdx_log_write w = { .file_off = v->bat_region.offset, .data = sec };
                ASSERT_EQ(vhdx_log_write(v, &w, 1), 0);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(fd);
        vhdx_discard(v); /* this process's copy still thinks nothing changed */
        /* qemu replays our log on a copy */
        if (have_qemu_img()) {
                char p[256], q[256], cmd[1024];
                path_of(p, sizeof p, "crash.vhdx");
                path_of(q, sizeof q, "crash-copy.vhdx");
                snprintf(cmd, sizeof cmd, "cp %s %s && qemu-img check -q -r all %s >/dev/null 2>&1", p, q, q);
                ASSERT_EQ(system(cmd), 0);
                uint8_t *r = qemu_raw("crash-copy.vhdx", size);
                ASSERT_EQ(memcmp(r, a, 6 << 20), 0);
                free(r);
        }
        fd = open_file("crash.vhdx", O_RDONLY);
        struct vhdx *ro;
        ASSERT_EQ(vhdx_open(fd, 0, &ro, err, sizeof err), -EROFS); /* read-only cannot replay */
        /* an inspection opens it, reports the log, writes nothing and maps
         * nothing (its BAT is the one before the log) */
        char p0[256], *before, *after;
        size_t n_before, n_after;
        path_of(p0, sizeof p0, "crash.vhdx");
        ASSERT_EQ(read_file(p0, 64u << 20, &before, &n_before), 0);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_INSPECT, &ro, err, sizeof err), 0);
        struct vhdx_info seen;
        vhdx_get_info(ro, &seen);
        ASSERT_TRUE(seen.log_replayed);
        struct vhdx_extent e;
        bool alloc;
        ASSERT_EQ(vhdx_map(ro, 0, 4096, &e), -EBADF);
        ASSERT_EQ(vhdx_map_chain(ro, 0, 4096, &e), -EBADF);
        ASSERT_EQ(vhdx_map_write(ro, 0, 4096, &e, &alloc), -EROFS);
        ASSERT_EQ(vhdx_grow(ro, 2 * size, err, sizeof err), -EROFS);
        ASSERT_EQ(vhdx_commit(ro), 0);
        ASSERT_EQ(vhdx_close(ro), 0);
        ASSERT_EQ(read_file(p0, 64u << 20, &after, &n_after), 0);
        ASSERT_EQ(n_after, n_before);
        ASSERT_EQ(memcmp(before, after, n_after), 0);
        free(before), free(after);
        close(fd);
        fd = open_file("crash.vhdx", O_RDWR);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &ro, err, sizeof err), 0);
        struct vhdx_info info;
        vhdx_get_info(ro, &info);
        ASSERT_TRUE(info.log_replayed);
        ASSERT_EQ(info.blocks_present, 6u);
        vread(ro, 0, b, 6 << 20);
        ASSERT_EQ(memcmp(a, b, 6 << 20), 0);
        ASSERT_EQ(vhdx_close(ro), 0);
        /* clean now: a read-only open works; an inspection still maps nothing */
        ASSERT_EQ(vhdx_open(fd, 0, &ro, err, sizeof err), 0);
        ASSERT_EQ(vhdx_close(ro), 0);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_INSPECT, &ro, err, sizeof err), 0);
        ASSERT_EQ(vhdx_map(ro, 0, 4096, &e), -EBADF);
        ASSERT_EQ(vhdx_close(ro), 0);
        close(fd);
        if (have_qemu_img())
                ASSERT_EQ(qemu_check("crash.vhdx"), 0);
        free(a);
        free(b);
}

/* Where the killed writer's write i goes. */
static uint64_t kill_at(uint32_t i) {
        return ((uint64_t)(i * 2654435761u) % 64) << 20 | (uint64_t)(i % 64) * 8192;
}

/* kill -9 a writer at random moments, 200 times: every write it reported
 * committed (written, fdatasync, vhdx_commit) is there after the replay.
 * The write after the last one reported may have reached the file before
 * the kill: where it goes, each sector holds the older write's data or its
 * own. */
TEST(kill_during_writes_loses_nothing_committed) {
        const uint64_t size = 64 << 20;
        const unsigned rounds = 200;
        unsigned replayed = 0;
        for (unsigned round = 0; round < rounds; round++) {
                struct vhdx *v = create_open("kill.vhdx", VHDX_DYNAMIC, size, 1 << 20);
                int fd = vhdx_fd(v), pipefd[2];
                ASSERT_EQ(pipe(pipefd), 0);
                pid_t pid = fork();
                ASSERT_GE(pid, 0);
                if (pid == 0) {
                        close(pipefd[0]);
                        uint8_t buf[8192];
                        for (uint32_t i = 0;; i++) {
                                fill(buf, sizeof buf, i);
                                vwrite(v, kill_at(i), buf, sizeof buf);
                                if (fdatasync(fd) < 0 || vhdx_commit(v) < 0)
                                        _exit(2);
                                if (write(pipefd[1], &i, sizeof i) != sizeof i)
                                        _exit(3);
                        }
                }
                close(pipefd[1]);
                usleep((useconds_t)(1000 + (round * 7919u) % 20000));
                kill(pid, SIGKILL);
                uint32_t last = UINT32_MAX, i;
                while (read(pipefd[0], &i, sizeof i) == sizeof i)
                        last = i;
                close(pipefd[0]);
                waitpid(pid, NULL, 0);
                vhdx_discard(v); /* this process's copy is stale: the child wrote */
                close(fd);
                fd = open_file("kill.vhdx", O_RDWR);
                struct vhdx *w;
                int r = vhdx_open(fd, VHDX_OPEN_WRITABLE, &w, err, sizeof err);
                if (r < 0)
                        fprintf(stderr, "round %u: %s\n", round, err);
                ASSERT_EQ(r, 0);
                struct vhdx_info info;
                vhdx_get_info(w, &info);
                replayed += info.log_replayed;
                /* the newest committed write of each location is there */
                uint8_t want[8192], got[8192], next[8192];
                fill(next, sizeof next, last + 1);
                for (uint32_t k = 0; last != UINT32_MAX && k <= last; k++) {
                        uint64_t at = kill_at(k);
                        bool overwritten = false;
                        for (uint32_t j = k + 1; j <= last && !overwritten; j++)
                                overwritten = kill_at(j) == at;
                        if (overwritten)
                                continue;
                        fill(want, sizeof want, k);
                        vread(w, at, got, sizeof got);
                        ASSERT_TRUE(crash_sectors_ok(want, next, got, sizeof got, at == kill_at(last + 1), round, k,
                                                     last));
                }
                ASSERT_EQ(vhdx_close(w), 0);
                close(fd);
                if (round % 50 == 49 && have_qemu_img())
                        ASSERT_EQ(qemu_check("kill.vhdx"), 0);
        }
        fprintf(stderr, "%u rounds, %u of them replayed a log\n", rounds, replayed);
}

/* Deleting a checkpoint: base <- mid <- top; mid merged into base, base
 * then reads as mid did and top links to base in mid's place. */
TEST(merge_into_parent_keeps_every_view) {
        const uint64_t size = 12 << 20;
        struct vhdx *base = create_open("m-base.vhdx", VHDX_DYNAMIC, size, 1 << 20);
        uint8_t *a = malloc(size), *want_mid = malloc(size), *want_top = malloc(size), *got = malloc(size);
        uint8_t *x = malloc(3 << 20);
        fill(a, size, 21);
        vwrite(base, 0, a, 8 << 20); /* the last 4 MiB stay unallocated (zeros) */
        memset(a + (8 << 20), 0, 4 << 20);
        int bfd = vhdx_fd(base);
        ASSERT_EQ(vhdx_close(base), 0);
        ASSERT_EQ(vhdx_open(bfd, 0, &base, err, sizeof err), 0);

        int mfd = new_file("m-mid.avhdx");
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = base, .parent_relative = "m-base.vhdx" };
        ASSERT_EQ(vhdx_create(mfd, &o, err, sizeof err), 0);
        struct vhdx *mid;
        ASSERT_EQ(vhdx_open(mfd, VHDX_OPEN_WRITABLE, &mid, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(mid, base, err, sizeof err), 0);
        memcpy(want_mid, a, size);
        fill(x, 3 << 20, 22);
        vwrite(mid, 512, x, 4096);              /* sectors inside a parent block */
        memcpy(want_mid + 512, x, 4096);
        vwrite(mid, 6 << 20, x, 3 << 20);       /* whole blocks, into the zero tail too */
        memcpy(want_mid + (6 << 20), x, 3 << 20);
        ASSERT_EQ(vhdx_close(mid), 0);
        ASSERT_EQ(vhdx_open(mfd, 0, &mid, err, sizeof err), 0);

        int tfd = new_file("m-top.avhdx");
        o = (struct vhdx_create_options){ .type = VHDX_DIFFERENCING, .parent = mid, .parent_relative = "m-mid.avhdx" };
        ASSERT_EQ(vhdx_create(tfd, &o, err, sizeof err), 0);
        struct vhdx *top;
        ASSERT_EQ(vhdx_open(tfd, VHDX_OPEN_WRITABLE, &top, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(mid, base, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(top, mid, err, sizeof err), 0);
        memcpy(want_top, want_mid, size);
        fill(x, 3 << 20, 23);
        vwrite(top, 1024, x, 2048);
        memcpy(want_top + 1024, x, 2048);
        ASSERT_EQ(vhdx_commit(top), 0);

        /* merge mid into base (base writable now) */
        vhdx_close(base);
        struct vhdx *wbase;
        ASSERT_EQ(vhdx_open(bfd, VHDX_OPEN_WRITABLE, &wbase, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(mid, wbase, err, sizeof err), 0);
        uint64_t copied = 0;
        ASSERT_EQ(vhdx_merge_into_parent(mid, wbase, NULL, NULL, &copied), 0);
        ASSERT_EQ(copied, (uint64_t)4096 + (3 << 20));
        vread(wbase, 0, got, size);
        ASSERT_EQ(memcmp(got, want_mid, size), 0);
        struct vhdx_info bi, mi;
        vhdx_get_info(wbase, &bi);
        vhdx_get_info(mid, &mi);
        ASSERT_TRUE(guid_equal(&bi.data_write_guid, &mi.data_write_guid));
        ASSERT_EQ(vhdx_close(wbase), 0);
        /* top now links to base, reading what it read before */
        ASSERT_EQ(vhdx_open(bfd, 0, &base, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(top, base, err, sizeof err), 0);
        vread(top, 0, got, size);
        ASSERT_EQ(memcmp(got, want_top, size), 0);
        /* a merge into something that is not the parent is refused */
        ASSERT_EQ(vhdx_merge_into_parent(top, mid, NULL, NULL, NULL), -EINVAL);
        vhdx_close(top), vhdx_close(mid), vhdx_close(base);
        close(bfd), close(mfd), close(tfd);
        if (have_qemu_img())
                ASSERT_EQ(qemu_check("m-base.vhdx"), 0);
        free(a), free(want_mid), free(want_top), free(got), free(x);
}

static bool stop_after_first_block(void *opaque, uint64_t bytes) {
        *(uint64_t *)opaque = bytes;
        return false;
}

/* A merge cut short (vmms ending, a crash) leaves the child linked to its
 * parent and reading exactly as before: the parent keeps its
 * DataWriteGuid until the last step. Run again, the merge completes; the
 * child over the merged parent (its users not yet moved) still links. */
TEST(merge_cut_short_leaves_the_chain_whole) {
        const uint64_t size = 8 << 20;
        struct vhdx *base = create_open("mc-base.vhdx", VHDX_DYNAMIC, size, 1 << 20);
        uint8_t *want = malloc(size), *got = malloc(size), *x = malloc(size);
        fill(want, size, 31);
        vwrite(base, 0, want, size);
        int bfd = vhdx_fd(base);
        ASSERT_EQ(vhdx_close(base), 0);
        ASSERT_EQ(vhdx_open(bfd, 0, &base, err, sizeof err), 0);
        int cfd = new_file("mc-child.avhdx");
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = base,
                                         .parent_relative = "mc-base.vhdx", .block_size = 1 << 20 };
        ASSERT_EQ(vhdx_create(cfd, &o, err, sizeof err), 0);
        struct vhdx *child;
        ASSERT_EQ(vhdx_open(cfd, VHDX_OPEN_WRITABLE, &child, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(child, base, err, sizeof err), 0);
        fill(x, size, 32);
        for (uint64_t off = 0; off < size; off += 2 << 20) { /* every other block, and part of one */
                vwrite(child, off, x + off, 1 << 20);
                memcpy(want + off, x + off, 1 << 20);
        }
        vwrite(child, (5 << 20) + 4096, x, 8192);
        memcpy(want + (5 << 20) + 4096, x, 8192);
        ASSERT_EQ(vhdx_close(child), 0);
        ASSERT_EQ(vhdx_open(cfd, 0, &child, err, sizeof err), 0);
        vhdx_close(base);

        /* stopped after the first block; the parent's fd left as a crash leaves it */
        struct vhdx *wbase;
        ASSERT_EQ(vhdx_open(bfd, VHDX_OPEN_WRITABLE, &wbase, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(child, wbase, err, sizeof err), 0);
        uint64_t seen = 0, copied = 0;
        ASSERT_EQ(vhdx_merge_into_parent(child, wbase, stop_after_first_block, &seen, &copied), -ECANCELED);
        ASSERT_EQ(seen, (uint64_t)1 << 20);
        ASSERT_EQ(copied, seen);
        vhdx_discard(wbase);
        ASSERT_EQ(vhdx_open(bfd, 0, &base, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(child, base, err, sizeof err), 0);
        vread(child, 0, got, size);
        ASSERT_EQ(memcmp(got, want, size), 0);
        vhdx_close(base);

        /* again, to the end: the parent reads as the child did */
        ASSERT_EQ(vhdx_open(bfd, VHDX_OPEN_WRITABLE, &wbase, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(child, wbase, err, sizeof err), 0);
        ASSERT_EQ(vhdx_merge_into_parent(child, wbase, NULL, NULL, &copied), 0);
        vread(wbase, 0, got, size);
        ASSERT_EQ(memcmp(got, want, size), 0);
        ASSERT_EQ(vhdx_close(wbase), 0);
        /* the child over its merged parent still links (and reads the same) */
        ASSERT_EQ(vhdx_open(bfd, 0, &base, err, sizeof err), 0);
        ASSERT_EQ(vhdx_set_parent(child, base, err, sizeof err), 0);
        vread(child, 0, got, size);
        ASSERT_EQ(memcmp(got, want, size), 0);
        vhdx_close(child), vhdx_close(base);
        close(bfd), close(cfd);
        if (have_qemu_img())
                ASSERT_EQ(qemu_check("mc-base.vhdx"), 0);
        free(want), free(got), free(x);
}

TEST(corrupt_images_are_refused_with_a_reason) {
        struct vhdx *v = create_open("corrupt.vhdx", VHDX_DYNAMIC, 8 << 20, 1 << 20);
        int fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        struct vhdx *w;
        /* both headers broken */
        uint8_t junk[16] = "garbage-garbage";
        ASSERT_EQ(pwrite(fd, junk, sizeof junk, VHDX_HEADER1_OFF + 100), (ssize_t)sizeof junk);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), 0); /* the other header is still good */
        vhdx_close(w);
        ASSERT_EQ(pwrite(fd, junk, sizeof junk, VHDX_HEADER2_OFF + 100), (ssize_t)sizeof junk);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "header"));
        close(fd);
        /* not a VHDX at all */
        fd = new_file("raw.img");
        ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "not a VHDX"));
        close(fd);
        /* a BAT entry pointing into the metadata region */
        v = create_open("badbat.vhdx", VHDX_DYNAMIC, 8 << 20, 1 << 20);
        fd = vhdx_fd(v);
        uint64_t bat_off = v->bat_region.offset, meta_off = v->meta_region.offset;
        ASSERT_EQ(vhdx_close(v), 0);
        uint8_t e[8];
        vmstate_put_le64(e, VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, meta_off));
        ASSERT_EQ(pwrite(fd, e, 8, (off_t)bat_off), 8);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "structures"));
        close(fd);
}

/* Blocks the file does not hold (cut short) or that share file space
 * with another block are refused at open, naming the entry. */
TEST(truncated_and_overlapping_blocks_are_refused) {
        struct vhdx *v = create_open("trunc.vhdx", VHDX_DYNAMIC, 8 << 20, 1 << 20);
        uint8_t *a = malloc(3 << 20);
        fill(a, 3 << 20, 9);
        vwrite(v, 0, a, 3 << 20);
        int fd = vhdx_fd(v);
        uint64_t bat_off = v->bat_region.offset;
        ASSERT_EQ(vhdx_close(v), 0);
        struct stat st;
        ASSERT_EQ(fstat(fd, &st), 0);
        struct vhdx *w;
        /* the last block cut in half */
        ASSERT_EQ(ftruncate(fd, st.st_size - (512 << 10)), 0);
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "BAT entry 2"));
        ASSERT_NOT_NULL(strstr(err, "truncated"));
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_EQ(ftruncate(fd, st.st_size), 0); /* whole again */
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), 0);
        vhdx_close(w);
        /* an entry pointing far past the end */
        uint8_t e[8], saved[8];
        ASSERT_EQ(pread(fd, saved, 8, (off_t)bat_off + 8), 8);
        vmstate_put_le64(e, VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, 1ull << 40));
        ASSERT_EQ(pwrite(fd, e, 8, (off_t)bat_off + 8), 8);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "past the end of the file"));
        /* block 1 on block 0's space: a write to one would change the other */
        ASSERT_EQ(pread(fd, e, 8, (off_t)bat_off), 8);
        ASSERT_EQ(pwrite(fd, e, 8, (off_t)bat_off + 8), 8);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "BAT entry 1"));
        ASSERT_NOT_NULL(strstr(err, "another block uses"));
        /* The same image in a file that claims 4 EiB (a sparse memfd):
         * found with memory for the BAT's blocks, not a bit for each MiB of
         * the claimed size, 512 GiB (a fuzzer's image once asked for 24 GiB
         * that way); whole again, it opens. */
        int big = memfd_create("big.vhdx", MFD_CLOEXEC);
        ASSERT_TRUE(big >= 0);
        uint8_t *img = malloc((size_t)st.st_size);
        ASSERT_EQ(pread(fd, img, (size_t)st.st_size, 0), st.st_size);
        ASSERT_EQ(pwrite(big, img, (size_t)st.st_size, 0), st.st_size);
        ASSERT_EQ(ftruncate(big, 1ll << 62), 0);
        ASSERT_EQ(vhdx_open(big, 0, &w, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "BAT entry 1"));
        ASSERT_NOT_NULL(strstr(err, "another block uses"));
        ASSERT_EQ(pwrite(big, saved, 8, (off_t)bat_off + 8), 8);
        ASSERT_EQ(vhdx_open(big, 0, &w, err, sizeof err), 0);
        vhdx_close(w);
        close(big);
        free(img);
        /* (qemu-img check passes such an image: it does not look for blocks
         * that share space.) */
        ASSERT_EQ(pwrite(fd, saved, 8, (off_t)bat_off + 8), 8);
        ASSERT_EQ(vhdx_open(fd, 0, &w, err, sizeof err), 0);
        vhdx_close(w);
        close(fd);
        free(a);
}

/* A log entry whose checksum does not hold (a torn write of the entry, or
 * corruption) is never applied: its in-place writes had not started, so the
 * image opens with the metadata it had before, consistent. */
TEST(log_entry_with_a_bad_checksum_is_not_replayed) {
        const uint64_t size = 8 << 20;
        struct vhdx *v = create_open("badlog.vhdx", VHDX_DYNAMIC, size, 1 << 20);
        int fd = vhdx_fd(v);
        uint8_t *a = malloc(2 << 20), *b = malloc(2 << 20);
        fill(a, 2 << 20, 5);
        uint64_t log_off = v->hdr.log_offset;
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) { /* as in log_replay_after_crash_between_log_and_in_place */
                vwrite(v, 0, a, 2 << 20);
                ASSERT_EQ(fdatasync(fd), 0);
                uint8_t sec[4096];
                for (unsigned k = 0; k < 512; k++)
                        vmstate_put_le64(sec + k * 8, v->bat[k]);
                struct vhdx_log_write w = { .file_off = v->bat_region.offset, .data = sec };
                ASSERT_EQ(vhdx_log_write(v, &w, 1), 0);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        vhdx_discard(v); /* stale: the child wrote */
        /* one byte of the entry's data sector flipped */
        uint8_t x;
        ASSERT_EQ(pread(fd, &x, 1, (off_t)(log_off + 4096 + 100)), 1);
        x ^= 0x20;
        ASSERT_EQ(pwrite(fd, &x, 1, (off_t)(log_off + 4096 + 100)), 1);
        struct vhdx *w;
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &w, err, sizeof err), 0);
        struct vhdx_info info;
        vhdx_get_info(w, &info);
        ASSERT_FALSE(info.log_replayed);
        ASSERT_EQ(info.blocks_present, 0u); /* the BAT as it was before the entry */
        vread(w, 0, b, 2 << 20);
        memset(a, 0, 2 << 20);
        ASSERT_EQ(memcmp(a, b, 2 << 20), 0);
        ASSERT_EQ(vhdx_close(w), 0);
        close(fd);
        if (have_qemu_img())
                ASSERT_EQ(qemu_check("badlog.vhdx"), 0);
        free(a);
        free(b);
}

TEST(writes_outside_the_disk_are_refused) {
        struct vhdx *v = create_open("bounds.vhdx", VHDX_DYNAMIC, 4 << 20, 1 << 20);
        struct vhdx_extent e;
        ASSERT_EQ(vhdx_map_write(v, 4 << 20, 512, &e, NULL), -EINVAL);
        ASSERT_EQ(vhdx_map_write(v, (4 << 20) - 512, 1024, &e, NULL), -EINVAL);
        ASSERT_EQ(vhdx_map_write(v, 100, 512, &e, NULL), -EINVAL);
        ASSERT_EQ(vhdx_map(v, 0, 0, &e), -EINVAL);
        int fd = vhdx_fd(v);
        ASSERT_EQ(vhdx_close(v), 0);
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        ASSERT_EQ(vhdx_map_write(v, 0, 512, &e, NULL), -EROFS);
        vhdx_close(v);
        close(fd);
}

VHDX_TEST_MAIN()
