// SPDX-License-Identifier: MIT
/* The disk backend on VHDX images (disk/src/vhdx.c): requests
 * through the BAT over io_uring, zeros where nothing was written, a
 * differencing chain opened by locator path and by handed-over fds,
 * write-zeroes/write-same/discard, FUA and flush making metadata durable
 * (a process killed right after a flush or a FUA write loses nothing:
 * 40 rounds of kill -9), and the refusals (sector size, not a VHDX,
 * read-only, a missing parent). qemu-img reads what the backend wrote. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "common/test.h"
#include "disk/disk.h"
#include "tests/lib/crash-sectors.h"
#include "vhdx/vhdx.h"

static char dir[] = "/var/tmp/test-disk-vhdx-XXXXXX";
static char err[512];

static void path_of(char *out, size_t n, const char *name) {
        snprintf(out, n, "%s/%s", dir, name);
}

/* A new image by the library; returns its path in p. */
static void make_vhdx(char *p, size_t n, const char *name, enum vhdx_type type, uint64_t size, const char *parent) {
        path_of(p, n, name);
        unlink(p);
        int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct vhdx_create_options o = { .type = type, .virtual_size = size, .block_size = 1 << 20 };
        struct vhdx *par = NULL;
        int pfd = -1;
        if (parent) {
                char pp[512];
                path_of(pp, sizeof pp, parent);
                pfd = open(pp, O_RDONLY | O_CLOEXEC);
                ASSERT_EQ(vhdx_open(pfd, 0, &par, err, sizeof err), 0);
                o.parent = par;
                o.parent_relative = parent;
                o.block_size = 0;
        }
        ASSERT_EQ(vhdx_create(fd, &o, err, sizeof err), 0);
        vhdx_close(par);
        if (pfd >= 0)
                close(pfd);
        close(fd);
}

static struct disk *open_vhdx(const char *path, bool ro) {
        struct disk_options o = { .path = path, .fd = -1, .read_only = ro, .format = DISK_FORMAT_VHDX,
                                  .err = err, .errlen = sizeof err };
        struct disk *d = NULL;
        int r = disk_open(&o, &d);
        if (r < 0)
                fprintf(stderr, "disk_open %s: %s (%s)\n", path, strerror(-r), err);
        ASSERT_EQ(r, 0);
        return d;
}

static void *aligned(size_t len) {
        void *p = NULL;
        ASSERT_EQ(posix_memalign(&p, 4096, len), 0);
        return p;
}

static int run1(struct disk_queue *q, const struct disk_request *r) {
        ASSERT_EQ(disk_queue_prep(q, r), 0);
        ASSERT_GE(disk_queue_submit(q), 0);
        struct disk_completion c;
        ASSERT_EQ(disk_queue_reap(q, &c, 1, 1), 1);
        return c.res;
}

static int rw(struct disk_queue *q, struct disk *d, bool write, uint64_t off, void *buf, size_t len, bool fua) {
        struct iovec v = { buf, len };
        struct disk_request r = { .kind = write ? DISK_WRITE : DISK_READ, .disk = d, .offset = off, .len = len,
                                  .iov = &v, .iovcnt = 1, .fua = fua, .user_data = 1 };
        return run1(q, &r);
}

static int flush(struct disk_queue *q, struct disk *d) {
        struct disk_request r = { .kind = DISK_FLUSH, .disk = d, .user_data = 2 };
        return run1(q, &r);
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

TEST(dynamic_image_roundtrip_and_qemu_reads_it) {
        char p[512];
        const uint64_t size = 16 << 20;
        make_vhdx(p, sizeof p, "dyn.vhdx", VHDX_DYNAMIC, size, NULL);
        struct disk *d = open_vhdx(p, false);
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.size, size);
        ASSERT_EQ(info.format, DISK_FORMAT_VHDX);
        ASSERT_GE(info.max_file_size, size);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(16, &q), 0);
        uint8_t *w = aligned(2 << 20), *r = aligned(2 << 20);
        fill(w, 2 << 20, 1);
        /* across a block boundary */
        ASSERT_EQ(rw(q, d, true, (3 << 20) - 65536, w, 1 << 20, false), 1 << 20);
        /* an unaligned buffer (bounce) */
        ASSERT_EQ(rw(q, d, true, 8 << 20, w + 512 + 1, 4096, false), 4096);
        memset(r, 0xaa, 2 << 20);
        ASSERT_EQ(rw(q, d, false, (3 << 20) - 65536, r, 1 << 20, false), 1 << 20);
        ASSERT_EQ(memcmp(r, w, 1 << 20), 0);
        ASSERT_EQ(rw(q, d, false, 8 << 20, r + 1, 4096, false), 4096);
        ASSERT_EQ(memcmp(r + 1, w + 513, 4096), 0);
        /* never written: zeros, though the buffer held 0xaa */
        memset(r, 0xaa, 2 << 20);
        ASSERT_EQ(rw(q, d, false, 10 << 20, r, 2 << 20, false), 2 << 20);
        ASSERT_TRUE(all_zero(r, 2 << 20));
        ASSERT_EQ(flush(q, d), 0);
        disk_queue_free(q);
        disk_unref(d);
        if (test_have_program("qemu-img", "qemu-utils")) {
                char raw[512], cmd[2048];
                path_of(raw, sizeof raw, "dyn.raw");
                snprintf(cmd, sizeof cmd, "qemu-img check -q %s && qemu-img convert -f vhdx -O raw %s %s", p, p, raw);
                ASSERT_EQ(system(cmd), 0);
                int fd = open(raw, O_RDONLY | O_CLOEXEC);
                ASSERT_EQ(pread(fd, r, 1 << 20, (3 << 20) - 65536), 1 << 20);
                ASSERT_EQ(memcmp(r, w, 1 << 20), 0);
                close(fd);
        }
        free(w);
        free(r);
}

TEST(differencing_chain_by_path_and_by_fds) {
        char base[512], child[512];
        const uint64_t size = 8 << 20;
        make_vhdx(base, sizeof base, "base.vhdx", VHDX_DYNAMIC, size, NULL);
        struct disk *d = open_vhdx(base, false);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(16, &q), 0);
        uint8_t *a = aligned(size), *b = aligned(size), *x = aligned(65536);
        fill(a, size, 5);
        ASSERT_EQ(rw(q, d, true, 0, a, size, false), (int)size);
        disk_queue_free(q);
        disk_unref(d);
        make_vhdx(child, sizeof child, "child.avhdx", VHDX_DIFFERENCING, 0, "base.vhdx");

        /* standalone: the parent opened by its locator */
        d = open_vhdx(child, false);
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.chain_depth, 1u);
        ASSERT_FALSE(info.discard); /* a hole would not read as the parent */
        ASSERT_EQ(disk_queue_new(16, &q), 0);
        fill(x, 65536, 9);
        ASSERT_EQ(rw(q, d, true, (2 << 20) + 4096, x, 8192, false), 8192);
        memcpy(a + (2 << 20) + 4096, x, 8192);
        ASSERT_EQ(rw(q, d, false, 0, b, size, false), (int)size);
        ASSERT_EQ(memcmp(a, b, size), 0);
        ASSERT_EQ(flush(q, d), 0);
        disk_queue_free(q);
        disk_unref(d);

        /* vmms's way: fds, no paths */
        int top = open(child, O_RDWR | O_CLOEXEC), par = open(base, O_RDONLY | O_CLOEXEC);
        struct disk_options o = { .fd = top, .format = DISK_FORMAT_VHDX, .parent_fds = &par, .n_parent_fds = 1,
                                  .err = err, .errlen = sizeof err };
        ASSERT_EQ(disk_open(&o, &d), 0);
        ASSERT_EQ(disk_queue_new(16, &q), 0);
        memset(b, 0, size);
        ASSERT_EQ(rw(q, d, false, 0, b, size, false), (int)size);
        ASSERT_EQ(memcmp(a, b, size), 0);
        disk_queue_free(q);
        disk_unref(d);
        /* the base is as it was */
        d = open_vhdx(base, true);
        ASSERT_EQ(disk_queue_new(16, &q), 0);
        ASSERT_EQ(rw(q, d, false, 0, b, size, false), (int)size);
        fill(a, size, 5);
        ASSERT_EQ(memcmp(a, b, size), 0);
        ASSERT_EQ(rw(q, d, true, 0, b, 4096, false), -EROFS);
        disk_queue_free(q);
        disk_unref(d);
        free(a), free(b), free(x);
}

TEST(write_zeroes_write_same_discard) {
        char p[512];
        make_vhdx(p, sizeof p, "ops.vhdx", VHDX_DYNAMIC, 8 << 20, NULL);
        struct disk *d = open_vhdx(p, false);
        struct disk_info info;
        disk_get_info(d, &info);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(16, &q), 0);
        uint8_t *w = aligned(2 << 20), *r = aligned(2 << 20);
        fill(w, 2 << 20, 3);
        ASSERT_EQ(rw(q, d, true, 0, w, 2 << 20, false), 2 << 20);
        /* zeros over the middle */
        struct disk_request z = { .kind = DISK_WRITE_ZEROES, .disk = d, .offset = 65536, .len = 131072, .user_data = 3 };
        ASSERT_EQ(run1(q, &z), 0);
        /* zeros over a range never written allocate nothing */
        struct disk_request z2 = { .kind = DISK_WRITE_ZEROES, .disk = d, .offset = 6 << 20, .len = 1 << 20, .user_data = 4 };
        ASSERT_EQ(run1(q, &z2), 0);
        /* one block repeated */
        uint8_t pat[512];
        memset(pat, 0x5c, sizeof pat);
        struct disk_request ws = { .kind = DISK_WRITE_SAME, .disk = d, .offset = 4 << 20, .len = 300 * 1024,
                                   .pattern = pat, .user_data = 5 };
        ASSERT_EQ(run1(q, &ws), 0);
        ASSERT_EQ(rw(q, d, false, 0, r, 2 << 20, false), 2 << 20);
        ASSERT_EQ(memcmp(r, w, 65536), 0);
        ASSERT_TRUE(all_zero(r + 65536, 131072));
        ASSERT_EQ(memcmp(r + 196608, w + 196608, (2 << 20) - 196608), 0);
        ASSERT_EQ(rw(q, d, false, 4 << 20, r, 300 * 1024, false), 300 * 1024);
        for (size_t i = 0; i < 300 * 1024; i++)
                ASSERT_EQ(r[i], 0x5c);
        if (info.discard) {
                ASSERT_TRUE(info.discard_zeroes);
                struct disk_range rg = { 1 << 20, 1 << 20 };
                struct disk_request dc = { .kind = DISK_DISCARD, .disk = d, .ranges = &rg, .n_ranges = 1, .user_data = 6 };
                ASSERT_EQ(run1(q, &dc), 0);
                ASSERT_EQ(rw(q, d, false, 1 << 20, r, 1 << 20, false), 1 << 20);
                ASSERT_TRUE(all_zero(r, 1 << 20));
        }
        ASSERT_EQ(flush(q, d), 0);
        disk_queue_free(q);
        disk_unref(d);
        /* z2 allocated nothing: blocks 0, 1 and 4 only */
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        struct vhdx_info vi;
        vhdx_get_info(v, &vi);
        ASSERT_EQ(vi.blocks_present, 3u);
        vhdx_close(v);
        close(fd);
        free(w), free(r);
}

/* Where the killed writer's write i goes. */
static uint64_t kill_at(uint32_t i) {
        return (uint64_t)(i * 7 % 32) << 20 | (uint64_t)(i % 8) * 65536;
}

/* A writer killed at random: what a flush (or a FUA write) acknowledged is
 * in the image after it is opened again (the log replayed). The write
 * after the last one reported may have been under way, or done but not yet
 * reported, at the kill: where it goes, each sector holds the older write's
 * data or its own. */
TEST(kill_after_flush_or_fua_loses_nothing) {
        char p[512];
        unsigned rounds = 40, replays = 0;
        for (unsigned round = 0; round < rounds; round++) {
                make_vhdx(p, sizeof p, "kill.vhdx", VHDX_DYNAMIC, 32 << 20, NULL);
                int pipefd[2];
                ASSERT_EQ(pipe(pipefd), 0);
                pid_t pid = fork();
                ASSERT_GE(pid, 0);
                if (pid == 0) {
                        close(pipefd[0]);
                        struct disk *d = open_vhdx(p, false);
                        struct disk_queue *q;
                        if (disk_queue_new(8, &q) < 0)
                                _exit(2);
                        uint8_t *buf = aligned(65536);
                        for (uint32_t i = 0;; i++) {
                                fill(buf, 65536, i);
                                bool fua = i % 3 == 0;
                                if (rw(q, d, true, kill_at(i), buf, 65536, fua) != 65536 ||
                                    (!fua && flush(q, d) != 0))
                                        _exit(3);
                                if (write(pipefd[1], &i, sizeof i) != sizeof i)
                                        _exit(4);
                        }
                }
                close(pipefd[1]);
                usleep(2000 + (round * 3571u) % 25000);
                kill(pid, SIGKILL);
                uint32_t last = UINT32_MAX, i;
                while (read(pipefd[0], &i, sizeof i) == sizeof i)
                        last = i;
                close(pipefd[0]);
                waitpid(pid, NULL, 0);
                /* A killed process's io_uring lets go of the file (and its
                 * flock) asynchronously, a little after it is reaped. */
                struct disk *d = NULL;
                struct disk_options o = { .path = p, .fd = -1, .format = DISK_FORMAT_VHDX, .err = err, .errlen = sizeof err };
                int r = -EBUSY;
                for (int t = 0; t < 500 && r == -EBUSY; t++)
                        if ((r = disk_open(&o, &d)) == -EBUSY)
                                usleep(2000);
                ASSERT_EQ(r, 0);
                struct disk_info info;
                disk_get_info(d, &info);
                replays += strstr(info.note, "replayed") != NULL;
                struct disk_queue *q;
                ASSERT_EQ(disk_queue_new(8, &q), 0);
                uint8_t *want = aligned(65536), *got = aligned(65536), *next = aligned(65536);
                fill(next, 65536, last + 1);
                for (uint32_t k = 0; last != UINT32_MAX && k <= last; k++) {
                        uint64_t at = kill_at(k);
                        bool later = false;
                        for (uint32_t j = k + 1; j <= last && !later; j++)
                                later = kill_at(j) == at;
                        if (later)
                                continue;
                        fill(want, 65536, k);
                        ASSERT_EQ(rw(q, d, false, at, got, 65536, false), 65536);
                        ASSERT_TRUE(crash_sectors_ok(want, next, got, 65536, at == kill_at(last + 1), round, k,
                                                     last));
                }
                disk_queue_free(q);
                disk_unref(d);
                free(want), free(got), free(next);
        }
        printf("%u rounds, %u replayed a log\n", rounds, replays);
}

/* The quiesce of a save or a migration: with the image still open, its
 * metadata is in place and the log empty, so another process opening it
 * (a migration's destination) finds everything without a replay. */
TEST(sync_metadata_leaves_a_clean_image_while_open) {
        char p[512];
        make_vhdx(p, sizeof p, "sync.vhdx", VHDX_DYNAMIC, 8 << 20, NULL);
        struct disk *d = open_vhdx(p, false);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        uint8_t *w = aligned(65536), *r = aligned(65536);
        fill(w, 65536, 11);
        ASSERT_EQ(rw(q, d, true, 3 << 20, w, 65536, false), 65536);
        ASSERT_EQ(flush(q, d), 0); /* a log is in use now */
        ASSERT_EQ(rw(q, d, true, 5 << 20, w, 65536, false), 65536); /* allocated, not committed */
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), -EROFS); /* the log is not empty */
        ASSERT_EQ(disk_sync_metadata(d), 0);
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        struct vhdx_info vi;
        vhdx_get_info(v, &vi);
        ASSERT_EQ(vi.blocks_present, 2u);
        struct vhdx_extent e;
        ASSERT_EQ(vhdx_map(v, 5 << 20, 65536, &e), 0);
        ASSERT_EQ(e.kind, VHDX_EXT_DATA);
        ASSERT_EQ(pread(fd, r, 65536, (off_t)e.file_off), 65536);
        ASSERT_EQ(memcmp(r, w, 65536), 0);
        vhdx_close(v);
        close(fd);
        /* and the disk goes on working, with a new log */
        ASSERT_EQ(rw(q, d, true, 7 << 20, w, 65536, false), 65536);
        ASSERT_EQ(flush(q, d), 0);
        disk_queue_free(q);
        disk_unref(d);
        free(w), free(r);
}

/* A child made of the synced image, by the library, for disk_push_*. */
static int make_child_fd(const char *parent, const char *name) {
        char pp[512], cp[512];
        path_of(pp, sizeof pp, parent);
        path_of(cp, sizeof cp, name);
        unlink(cp);
        int pfd = open(pp, O_RDONLY | O_CLOEXEC), cfd = open(cp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        struct vhdx *par;
        ASSERT_EQ(vhdx_open(pfd, 0, &par, err, sizeof err), 0);
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = par, .parent_relative = parent };
        ASSERT_EQ(vhdx_create(cfd, &o, err, sizeof err), 0);
        vhdx_close(par);
        close(pfd);
        return cfd;
}

static void expect_data(struct disk_queue *q, struct disk *d, uint64_t off, const uint8_t *want, size_t len) {
        uint8_t *r = aligned(len);
        memset(r, 0xee, len);
        ASSERT_EQ(rw(q, d, false, off, r, len, false), (int)len);
        ASSERT_EQ(memcmp(r, want, len), 0);
        free(r);
}

/* A checkpoint of a running VM: the disk moves onto a child of its synced
 * image between two requests, reads what it read, writes into the child
 * only; twice; then the chain opens again by its locators. */
TEST(push_moves_a_running_disk_onto_a_child) {
        char p[512];
        const size_t n = 65536;
        make_vhdx(p, sizeof p, "push.vhdx", VHDX_DYNAMIC, 8 << 20, NULL);
        struct disk *d = open_vhdx(p, false);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        uint8_t *a = aligned(n), *b = aligned(n), *want = aligned(n);
        fill(a, n, 21), fill(b, n, 22);
        ASSERT_EQ(rw(q, d, true, 1 << 20, a, n, false), (int)n);
        ASSERT_EQ(flush(q, d), 0);
        ASSERT_EQ(disk_sync_metadata(d), 0);
        struct disk_push *push;
        ASSERT_EQ(disk_push_prepare(d, make_child_fd("push.vhdx", "push-1.avhdx"), &push, err, sizeof err), 0);
        disk_push_commit(push);
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.chain_depth, 1u);
        expect_data(q, d, 1 << 20, a, n);              /* the parent's, through the child */
        ASSERT_EQ(rw(q, d, true, (1 << 20) + 4096, b, 4096, false), 4096); /* part of a parent block */
        memcpy(want, a, n), memcpy(want + 4096, b, 4096);
        expect_data(q, d, 1 << 20, want, n);
        ASSERT_EQ(flush(q, d), 0);
        /* again, onto a grandchild */
        ASSERT_EQ(disk_sync_metadata(d), 0);
        ASSERT_EQ(disk_push_prepare(d, make_child_fd("push-1.avhdx", "push-2.avhdx"), &push, err, sizeof err), 0);
        disk_push_commit(push);
        ASSERT_EQ(rw(q, d, true, 3 << 20, b, n, true), (int)n);
        expect_data(q, d, 1 << 20, want, n);
        expect_data(q, d, 3 << 20, b, n);
        /* a child of something else is refused, and nothing changes */
        ASSERT_EQ(disk_sync_metadata(d), 0);
        ASSERT_EQ(disk_push_prepare(d, make_child_fd("push.vhdx", "push-x.avhdx"), &push, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "parent"));
        expect_data(q, d, 3 << 20, b, n);
        disk_queue_free(q);
        disk_unref(d);
        /* the base holds only what was written before the first push */
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        struct vhdx *v;
        struct vhdx_extent e;
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        ASSERT_EQ(vhdx_map(v, 1 << 20, n, &e), 0);
        ASSERT_EQ(pread(fd, want, n, (off_t)e.file_off), (ssize_t)n);
        ASSERT_EQ(memcmp(want, a, n), 0);
        vhdx_close(v);
        close(fd);
        /* the chain by its locators reads everything */
        char gp[512];
        path_of(gp, sizeof gp, "push-2.avhdx");
        d = open_vhdx(gp, true);
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        memcpy(want, a, n), memcpy(want + 4096, b, 4096);
        expect_data(q, d, 1 << 20, want, n);
        expect_data(q, d, 3 << 20, b, n);
        disk_queue_free(q);
        disk_unref(d);
        free(a), free(b), free(want);
}

TEST(refusals_say_why) {
        char p[512];
        make_vhdx(p, sizeof p, "s4k.vhdx", VHDX_DYNAMIC, 4 << 20, NULL);
        struct disk *d = NULL;
        struct disk_options o = { .path = p, .fd = -1, .format = DISK_FORMAT_VHDX, .block_size = 4096,
                                  .err = err, .errlen = sizeof err };
        ASSERT_EQ(disk_open(&o, &d), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "512-byte sectors"));
        /* a raw file said to be VHDX */
        path_of(p, sizeof p, "raw.img");
        int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_EQ(ftruncate(fd, 4 << 20), 0);
        close(fd);
        o.block_size = 0;
        ASSERT_EQ(disk_open(&o, &d), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "not a VHDX"));
        /* the parent is gone */
        char child[512], base[512];
        make_vhdx(base, sizeof base, "gone.vhdx", VHDX_DYNAMIC, 4 << 20, NULL);
        make_vhdx(child, sizeof child, "orphan.avhdx", VHDX_DIFFERENCING, 0, "gone.vhdx");
        unlink(base);
        o.path = child;
        ASSERT_EQ(disk_open(&o, &d), -ENOENT);
        ASSERT_NOT_NULL(strstr(err, "gone.vhdx"));
        /* a parent another writer holds */
        make_vhdx(base, sizeof base, "gone.vhdx", VHDX_DYNAMIC, 4 << 20, NULL);
        make_vhdx(child, sizeof child, "orphan.avhdx", VHDX_DIFFERENCING, 0, "gone.vhdx");
        fd = open(base, O_RDWR | O_CLOEXEC);
        ASSERT_EQ(flock(fd, LOCK_EX), 0);
        ASSERT_EQ(disk_open(&o, &d), -EBUSY);
        close(fd);
        /* raw with parent fds: a caller bug, refused, the fd closed */
        int extra = open(base, O_RDONLY | O_CLOEXEC);
        struct disk_options bad = { .path = base, .fd = -1, .parent_fds = &extra, .n_parent_fds = 1 };
        ASSERT_EQ(disk_open(&bad, &d), -EINVAL);
        ASSERT_EQ(fcntl(extra, F_GETFD), -1);
}

/* An incoming migration on shared storage: the destination opens the
 * image while the source still runs on it (its log active, blocks still
 * being allocated). Deferred, it writes nothing to the image and serves
 * no request; activated after the source's last sync, it reads what the
 * source allocated meanwhile and goes on writing. Opened writable at once
 * (as before), it replayed the source's live log, wrote a header under
 * it, and kept a BAT without the source's later blocks. */
TEST(a_deferred_disk_takes_a_shared_image_as_the_source_left_it) {
        char p[512];
        const size_t n = 65536;
        make_vhdx(p, sizeof p, "shared.vhdx", VHDX_DYNAMIC, 8 << 20, NULL);
        struct disk *src = open_vhdx(p, false);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        uint8_t *a = aligned(n), *b = aligned(n), *c = aligned(n), *r = aligned(n);
        fill(a, n, 21), fill(b, n, 22), fill(c, n, 23);
        ASSERT_EQ(rw(q, src, true, 1 << 20, a, n, false), (int)n);
        ASSERT_EQ(flush(q, src), 0); /* its log is active now */
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        static uint8_t before[3 << 16], after[3 << 16]; /* the file identifier and both headers */
        ASSERT_EQ(pread(fd, before, sizeof before, 0), (ssize_t)sizeof before);
        struct disk_options o = { .path = p, .fd = -1, .format = DISK_FORMAT_VHDX, .no_lock = true,
                                  .deferred = true, .err = err, .errlen = sizeof err };
        struct disk *dst = NULL;
        ASSERT_EQ(disk_open(&o, &dst), 0);
        ASSERT_EQ(pread(fd, after, sizeof after, 0), (ssize_t)sizeof after);
        ASSERT_EQ(memcmp(before, after, sizeof before), 0);
        ASSERT_EQ(rw(q, dst, false, 1 << 20, r, n, false), -EIO);
        ASSERT_EQ(rw(q, dst, true, 1 << 20, r, n, false), -EIO);
        ASSERT_EQ(disk_resize(dst, 16 << 20, err, sizeof err), -EBUSY);
        /* The source allocates another block, then pauses (its sync). */
        ASSERT_EQ(rw(q, src, true, 5 << 20, b, n, false), (int)n);
        ASSERT_EQ(flush(q, src), 0);
        ASSERT_EQ(disk_sync_metadata(src), 0);
        ASSERT_EQ(disk_activate(dst, err, sizeof err), 0);
        ASSERT_EQ(disk_activate(dst, err, sizeof err), 0); /* once is enough; again, nothing */
        expect_data(q, dst, 1 << 20, a, n);
        expect_data(q, dst, 5 << 20, b, n);
        disk_unref(src); /* the source ends: its close writes nothing */
        ASSERT_EQ(rw(q, dst, true, 7 << 20, c, n, false), (int)n);
        ASSERT_EQ(flush(q, dst), 0);
        ASSERT_EQ(disk_sync_metadata(dst), 0);
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), 0);
        struct vhdx_info vi;
        vhdx_get_info(v, &vi);
        ASSERT_EQ(vi.blocks_present, 3u);
        vhdx_close(v);
        disk_unref(dst);
        disk_queue_free(q);
        close(fd);
        free(a), free(b), free(c), free(r);
}

static void cleanup(void) {
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "cleanup failed\n");
}

int main(void) {
        if (!mkdtemp(dir))
                return 77;
        atexit(cleanup);
        for (const struct vm_test *t = __start_vm_tests; t < __stop_vm_tests; t++) {
                printf("== %s\n", t->name);
                fflush(stdout);
                t->fn();
        }
        return 0;
}
