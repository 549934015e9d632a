// SPDX-License-Identifier: MIT
/* The liburing disk backend on temporary image files: read/write/flush/
 * discard/write-zeroes/write-same round trips, O_DIRECT and buffered,
 * bounce buffers for unaligned guest buffers, fixed buffers, batching,
 * read-only refusal, size checks, locking (and releasing the lock without
 * flock once the queues let go, as the sandboxed worker must), ENOSPC (tiny
 * tmpfs when we may mount one) and EIO/ENOSPC through the test fault hook. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "common/log.h"
#include "common/test.h"
#include "disk/disk.h"
#include "scsi/scsi.h"

static char dir[256];

/* Skips the rest of one test (TEST_SKIP would end the whole program). */
#define SOFT_SKIP(...)                          \
        do {                                    \
                printf("  skipped: " __VA_ARGS__); \
                printf("\n");                  \
                return;                         \
        } while (0)

/* Images live next to the build (a real disk file system, so O_DIRECT and
 * hole punching are what production sees); tmpfs is tested separately. */
static const char *tmp_dir(void) {
        if (dir[0])
                return dir;
        const char *base = getenv("VM_BUILD_DIR");
        snprintf(dir, sizeof dir, "%s/test-disk-XXXXXX", base ? base : "/var/tmp");
        if (!mkdtemp(dir)) {
                snprintf(dir, sizeof dir, "/tmp/test-disk-XXXXXX");
                if (!mkdtemp(dir))
                        TEST_SKIP("no temporary directory");
        }
        return dir;
}

static void make_image(char *path, size_t n, const char *name, uint64_t size) {
        snprintf(path, n, "%s/%s", tmp_dir(), name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, (off_t)size), 0);
        close(fd);
}

static struct disk *open_disk(const char *path, bool ro, bool buffered, uint32_t bs) {
        struct disk_options o = { .path = path, .fd = -1, .read_only = ro, .buffered = buffered, .block_size = bs };
        struct disk *d = NULL;
        ASSERT_OK(disk_open(&o, &d));
        return d;
}

static void *aligned(size_t len) {
        void *p = NULL;
        ASSERT_EQ(posix_memalign(&p, 4096, len), 0);
        return p;
}

/* Runs one request to completion and returns its result. */
static int run1(struct disk_queue *q, const struct disk_request *r) {
        ASSERT_OK(disk_queue_prep(q, r));
        ASSERT_GE(disk_queue_submit(q), 0);
        struct disk_completion c;
        ASSERT_EQ(disk_queue_reap(q, &c, 1, 1), 1);
        ASSERT_EQ(c.user_data, r->user_data);
        return c.res;
}

static int rw(struct disk_queue *q, struct disk *d, bool write, uint64_t off, struct iovec *iov, unsigned n,
              bool fua) {
        size_t len = 0;
        for (unsigned i = 0; i < n; i++)
                len += iov[i].iov_len;
        struct disk_request r = { .kind = write ? DISK_WRITE : DISK_READ, .disk = d, .offset = off, .len = len,
                                  .iov = iov, .iovcnt = n, .fua = fua, .user_data = 42 };
        return run1(q, &r);
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void roundtrip(bool buffered) {
        char path[512];
        make_image(path, sizeof path, buffered ? "rt-buffered.img" : "rt-direct.img", 1 << 20);
        struct disk *d = open_disk(path, false, buffered, 512);
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.size, 1ull << 20);
        ASSERT_EQ(info.direct, !buffered && info.dio_mem_align != 0);
        if (!buffered && !info.direct)
                printf("note: O_DIRECT unavailable here: %s\n", info.note);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(16, &q));
        uint8_t *w = aligned(3 * 4096), *rd = aligned(3 * 4096);
        fill(w, 3 * 4096, 1);
        /* three segments, like a guest PFN list starting mid-page */
        struct iovec wv[3] = { { w, 512 }, { w + 512, 8192 }, { w + 8704, 3584 } };
        ASSERT_EQ(rw(q, d, true, 65536, wv, 3, false), 12288);
        struct iovec rv[2] = { { rd, 4096 }, { rd + 4096, 8192 } };
        ASSERT_EQ(rw(q, d, false, 65536, rv, 2, false), 12288);
        ASSERT_MEMEQ(rd, w, 12288);
        /* FUA write and a flush */
        fill(w, 4096, 2);
        struct iovec one = { w, 4096 };
        ASSERT_EQ(rw(q, d, true, 0, &one, 1, true), 4096);
        struct disk_request fl = { .kind = DISK_FLUSH, .disk = d, .user_data = 7 };
        ASSERT_EQ(run1(q, &fl), 0);
        /* the file really holds the data (another fd, no cache games) */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_EQ(pread(fd, rd, 4096, 0), 4096);
        ASSERT_MEMEQ(rd, w, 4096);
        close(fd);
        disk_queue_free(q);
        disk_unref(d);
        free(w);
        free(rd);
}

TEST(roundtrip_direct) {
        roundtrip(false);
}

TEST(roundtrip_buffered) {
        roundtrip(true);
}

TEST(unaligned_buffer_bounces) {
        char path[512];
        make_image(path, sizeof path, "bounce.img", 1 << 20);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_info info;
        disk_get_info(d, &info);
        if (!info.direct) {
                disk_unref(d);
                SOFT_SKIP("no O_DIRECT on %s: %s", tmp_dir(), info.note);
        }
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        uint8_t *buf = aligned(16384), *rd = aligned(16384);
        uint8_t *w = buf + 3; /* not even 512-aligned */
        fill(w, 8192, 3);
        struct iovec wv = { w, 8192 };
        ASSERT_EQ(rw(q, d, true, 4096, &wv, 1, false), 8192);
        struct iovec rv = { rd + 100, 8192 };
        ASSERT_EQ(rw(q, d, false, 4096, &rv, 1, false), 8192);
        ASSERT_MEMEQ(rd + 100, w, 8192);
        struct disk_queue_stats st;
        disk_queue_get_stats(q, &st);
        ASSERT_EQ(st.bounced, 2ull);
        struct iovec ok = { rd, 8192 }; /* aligned: no bounce */
        ASSERT_EQ(rw(q, d, false, 4096, &ok, 1, false), 8192);
        disk_queue_get_stats(q, &st);
        ASSERT_EQ(st.bounced, 2ull);
        disk_queue_free(q);
        disk_unref(d);
        free(buf);
        free(rd);
}

static uint64_t allocated_bytes(const char *path) {
        struct stat st;
        ASSERT_EQ(stat(path, &st), 0);
        return (uint64_t)st.st_blocks * 512;
}

TEST(discard_and_write_zeroes) {
        char path[512];
        make_image(path, sizeof path, "discard.img", 4 << 20);
        struct disk *d = open_disk(path, false, false, 4096);
        struct disk_info info;
        disk_get_info(d, &info);
        if (!info.discard) {
                disk_unref(d);
                SOFT_SKIP("no hole punching on %s", tmp_dir());
        }
        ASSERT_TRUE(info.discard_zeroes);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        size_t len = 1 << 20;
        uint8_t *w = aligned(len), *rd = aligned(len);
        fill(w, len, 4);
        struct iovec v = { w, len };
        ASSERT_EQ(rw(q, d, true, 0, &v, 1, false), (int)len);
        ASSERT_EQ(rw(q, d, true, 2 << 20, &v, 1, false), (int)len);
        struct disk_request fl = { .kind = DISK_FLUSH, .disk = d };
        ASSERT_EQ(run1(q, &fl), 0);
        uint64_t before = allocated_bytes(path);
        ASSERT_GE(before, 2ull << 20);
        /* discard 512 KiB in two ranges (and an empty one) */
        struct disk_range ranges[3] = { { 0, 256 << 10 }, { 300 << 10, 0 }, { 512 << 10, 256 << 10 } };
        struct disk_request dr = { .kind = DISK_DISCARD, .disk = d, .ranges = ranges, .n_ranges = 3 };
        ASSERT_EQ(run1(q, &dr), 0);
        ASSERT_LE(allocated_bytes(path), before - (512 << 10));
        struct iovec rv = { rd, len };
        ASSERT_EQ(rw(q, d, false, 0, &rv, 1, false), (int)len);
        for (size_t i = 0; i < (256 << 10); i++)
                ASSERT_EQ(rd[i], 0);
        ASSERT_MEMEQ(rd + (256 << 10), w + (256 << 10), 256 << 10);
        /* write zeroes: allocating (ZERO_RANGE) and deallocating (PUNCH_HOLE) */
        struct disk_request wz = { .kind = DISK_WRITE_ZEROES, .disk = d, .offset = 2 << 20, .len = 64 << 10,
                                   .fua = true };
        ASSERT_EQ(run1(q, &wz), 0);
        before = allocated_bytes(path);
        wz.offset = (2 << 20) + (512 << 10);
        wz.len = 512 << 10;
        wz.may_unmap = true;
        ASSERT_EQ(run1(q, &wz), 0);
        ASSERT_LE(allocated_bytes(path), before - (512 << 10));
        ASSERT_EQ(rw(q, d, false, 2 << 20, &rv, 1, false), (int)len);
        for (size_t i = 0; i < (64 << 10); i++)
                ASSERT_EQ(rd[i], 0);
        ASSERT_MEMEQ(rd + (64 << 10), w + (64 << 10), 448 << 10);
        for (size_t i = 512 << 10; i < len; i++)
                ASSERT_EQ(rd[i], 0);
        disk_queue_free(q);
        disk_unref(d);
        free(w);
        free(rd);
}

TEST(write_same_pattern) {
        char path[512];
        make_image(path, sizeof path, "ws.img", 2 << 20);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        uint8_t block[512];
        fill(block, sizeof block, 5);
        /* larger than the backend's chunk: several writes in sequence */
        struct disk_request ws = { .kind = DISK_WRITE_SAME, .disk = d, .offset = 512, .len = 600 * 512,
                                   .pattern = block, .fua = true };
        ASSERT_EQ(run1(q, &ws), 0);
        uint8_t *rd = aligned(601 * 512);
        struct iovec rv = { rd, 601 * 512 };
        ASSERT_EQ(rw(q, d, false, 0, &rv, 1, false), 601 * 512);
        for (size_t i = 0; i < 512; i++)
                ASSERT_EQ(rd[i], 0);
        for (size_t b = 1; b < 601; b++)
                ASSERT_MEMEQ(rd + b * 512, block, 512);
        disk_queue_free(q);
        disk_unref(d);
        free(rd);
}

TEST(read_only_refusal) {
        char path[512];
        make_image(path, sizeof path, "ro.img", 1 << 20);
        struct disk *d = open_disk(path, true, false, 512);
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_TRUE(info.read_only);
        ASSERT_FALSE(info.discard);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        uint8_t *b = aligned(4096);
        struct iovec v = { b, 4096 };
        ASSERT_EQ(rw(q, d, true, 0, &v, 1, false), -EROFS);
        ASSERT_EQ(rw(q, d, false, 0, &v, 1, false), 4096);
        struct disk_range rg = { 0, 4096 };
        struct disk_request dr = { .kind = DISK_DISCARD, .disk = d, .ranges = &rg, .n_ranges = 1 };
        ASSERT_EQ(run1(q, &dr), -EROFS);
        struct disk_request wz = { .kind = DISK_WRITE_ZEROES, .disk = d, .offset = 0, .len = 4096 };
        ASSERT_EQ(run1(q, &wz), -EROFS);
        /* the refusal maps to DATA PROTECT, WRITE PROTECTED */
        struct scsi_io io = { .kind = SCSI_IO_WRITE };
        struct scsi_status st;
        scsi_complete_io(&io, -EROFS, &st);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_WRITE_PROTECTED);
        disk_queue_free(q);
        disk_unref(d);
        /* a read-only fd handed over for a writable disk is refused */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct disk_options o = { .fd = fd, .block_size = 512 };
        ASSERT_ERROR(disk_open(&o, &d), EBADF);
        free(b);
}

TEST(open_checks_and_locking) {
        char path[512];
        struct disk *d, *d2;
        make_image(path, sizeof path, "tiny.img", 100);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512 };
        ASSERT_ERROR(disk_open(&o, &d), EINVAL);
        make_image(path, sizeof path, "odd.img", 6000);
        o.block_size = 4096;
        ASSERT_OK(disk_open(&o, &d));
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.size, 4096ull);
        ASSERT_NOT_NULL(strstr(info.note, "tail ignored"));
        /* a second writer is locked out; readers share */
        ASSERT_ERROR(disk_open(&o, &d2), EBUSY);
        disk_unref(d);
        o.read_only = true;
        ASSERT_OK(disk_open(&o, &d));
        ASSERT_OK(disk_open(&o, &d2));
        disk_unref(d2);
        disk_unref(d);
        /* released at once, even after an io_uring had the file registered */
        o.read_only = false;
        ASSERT_OK(disk_open(&o, &d));
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(2, &q));
        struct disk_request fl = { .kind = DISK_FLUSH, .disk = d };
        ASSERT_EQ(run1(q, &fl), 0);
        disk_queue_free(q);
        disk_unref(d);
        ASSERT_OK(disk_open(&o, &d));
        disk_unref(d);
        o.block_size = 1024;
        ASSERT_ERROR(disk_open(&o, &d), EINVAL);
        o.block_size = 512;
        o.path = "/dev/null";
        ASSERT_ERROR(disk_open(&o, &d), EINVAL); /* a character device is no disk */
        /* a handed-over fd */
        make_image(path, sizeof path, "fd.img", 1 << 20);
        o = (struct disk_options){ .fd = open(path, O_RDWR | O_CLOEXEC), .block_size = 512 };
        ASSERT_OK(disk_open(&o, &d));
        disk_get_info(d, &info);
        ASSERT_EQ(info.size, 1ull << 20);
        disk_unref(d);
}

/* A migration's source lets the lock go while the disk stays in use
 * (disk_release_lock): the lock vmms took on the description before the
 * hand-over goes too, and the disk still reads and writes. */
TEST(release_lock_keeps_the_disk) {
        char path[512];
        make_image(path, sizeof path, "release.img", 1 << 20);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0); /* as vmms does before it hands fd over */
        struct disk_options o = { .fd = fd, .block_size = 512, .no_lock = true };
        struct disk *d, *d2, *d3;
        ASSERT_OK(disk_open(&o, &d));
        struct disk_options other = { .path = path, .fd = -1, .block_size = 512 };
        ASSERT_ERROR(disk_open(&other, &d2), EBUSY);
        disk_release_lock(d);
        ASSERT_OK(disk_open(&other, &d2)); /* the destination's side takes it now */
        uint8_t *buf = aligned(4096);
        fill(buf, 4096, 7);
        ASSERT_OK(disk_write_sync(d, 8192, buf, 4096));
        memset(buf, 0, 4096);
        ASSERT_OK(disk_read_sync(d2, 8192, buf, 4096));
        uint8_t want[4096];
        fill(want, sizeof want, 7);
        ASSERT_MEMEQ(buf, want, sizeof want);
        disk_release_lock(d); /* twice is harmless: d2 keeps its lock */
        ASSERT_ERROR(disk_open(&other, &d3), EBUSY);
        free(buf);
        disk_unref(d2);
        ASSERT_OK(disk_open(&other, &d3)); /* d2's lock went with it */
        disk_unref(d3);
        disk_unref(d);
}

/* Runs fn(path) in a child whose seccomp filter kills it on flock(LOCK_UN)
 * (the sandboxed main thread has no flock, docs/sandbox.md). Returns the
 * child's wait status. */
static int without_unlock(void (*fn)(const char *path), const char *path) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                struct sock_filter f[] = {
                        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_flock, 0, 3),
                        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
                        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LOCK_UN, 0, 1),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                        _exit(2);
                fn(path);
                _exit(0);
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        return st;
}

/* A disk used through a queue, the queue freed, the disk released. */
static void use_and_release(const char *path) {
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(2, &q));
        uint8_t *buf = aligned(4096);
        struct iovec iov = { buf, 4096 };
        ASSERT_EQ(rw(q, d, false, 0, &iov, 1, false), 4096); /* the ring registers the file */
        disk_queue_free(q);
        disk_unref(d);
        free(buf);
}

static void unlock_directly(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        (void)flock(fd, LOCK_UN);
}

TEST(release_without_flock_after_queues) {
        char path[512];
        make_image(path, sizeof path, "noflock.img", 1 << 20);
        /* the harness kills an unlock (the test can fail) */
        int st = without_unlock(unlock_directly, path);
        ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
        /* the queue unregisters its files, so close() alone releases the
         * image: no flock(LOCK_UN) on the way, and the lock is free after */
        st = without_unlock(use_and_release, path);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        struct disk *again = open_disk(path, false, false, 512);
        disk_unref(again);
}

TEST(out_of_range_and_malformed) {
        char path[512];
        make_image(path, sizeof path, "range.img", 1 << 20);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        uint8_t *b = aligned(4096);
        struct iovec v = { b, 4096 };
        ASSERT_EQ(rw(q, d, false, (1 << 20) - 2048, &v, 1, false), -EINVAL);
        struct disk_request bad = { .kind = DISK_READ, .disk = d, .len = 4096, .iov = &v, .iovcnt = 0 };
        ASSERT_ERROR(disk_queue_prep(q, &bad), EINVAL);
        bad.iovcnt = 1;
        bad.len = 8192; /* vector shorter than the length */
        ASSERT_EQ(run1(q, &bad), -EINVAL);
        disk_queue_free(q);
        disk_unref(d);
        free(b);
}

TEST(batching_and_queue_limit) {
        char path[512];
        make_image(path, sizeof path, "batch.img", 1 << 20);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(64, &q));
        uint8_t *b = aligned(64 * 4096);
        struct iovec v[64];
        for (unsigned i = 0; i < 64; i++) {
                v[i] = (struct iovec){ b + i * 4096, 4096 };
                struct disk_request r = { .kind = DISK_READ, .disk = d, .offset = i * 8192ull, .len = 4096,
                                          .iov = &v[i], .iovcnt = 1, .user_data = 1000 + i };
                ASSERT_OK(disk_queue_prep(q, &r));
        }
        struct disk_request more = { .kind = DISK_FLUSH, .disk = d };
        ASSERT_ERROR(disk_queue_prep(q, &more), EBUSY);
        ASSERT_EQ(disk_queue_inflight(q), 64u);
        ASSERT_EQ(disk_queue_submit(q), 64);
        struct disk_completion c[64];
        bool seen[64] = { false };
        int got = 0;
        while (got < 64) {
                int n = disk_queue_reap(q, c, 64, 1);
                ASSERT_GT(n, 0);
                for (int i = 0; i < n; i++) {
                        ASSERT_EQ(c[i].res, 4096);
                        ASSERT_FALSE(seen[c[i].user_data - 1000]);
                        seen[c[i].user_data - 1000] = true;
                }
                got += n;
        }
        struct disk_queue_stats st;
        disk_queue_get_stats(q, &st);
        ASSERT_EQ(st.submit_calls, 1ull); /* one io_uring_submit for the batch */
        ASSERT_EQ(st.sqes, 64ull);
        ASSERT_EQ(disk_queue_inflight(q), 0u);
        disk_queue_free(q);
        disk_unref(d);
        free(b);
}

/* A poller that only calls disk_queue_reap(min_wait 0), with no blocking
 * call, still sees its reads finish. With COOP_TASKRUN the kernel may post
 * a CQE only when the submitting thread next enters it (or at the next
 * interrupt's return to user space, up to a tick later); reap notices
 * IORING_SQ_TASKRUN and enters at once. */
#define POLL_N 8u
#define POLL_LEN (256u << 10) /* long enough to finish after the submit returns */
TEST(nonblocking_reap_sees_completions) {
        char path[512];
        make_image(path, sizeof path, "poll.img", POLL_N * POLL_LEN);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint8_t *data = aligned(POLL_N * POLL_LEN);
        for (size_t i = 0; i < POLL_N * POLL_LEN; i++)
                data[i] = (uint8_t)(i * 7 + i / 4096);
        ASSERT_EQ(pwrite(fd, data, POLL_N * POLL_LEN, 0), (ssize_t)(POLL_N * POLL_LEN)); /* no holes: real reads */
        ASSERT_EQ(fsync(fd), 0);
        close(fd);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(POLL_N, &q));
        uint8_t *b = aligned(POLL_N * POLL_LEN);
        struct iovec v[POLL_N];
        for (unsigned i = 0; i < POLL_N; i++) {
                v[i] = (struct iovec){ b + i * POLL_LEN, POLL_LEN };
                struct disk_request r = { .kind = DISK_READ, .disk = d, .offset = i * (uint64_t)POLL_LEN, .len = POLL_LEN,
                                          .iov = &v[i], .iovcnt = 1, .user_data = i };
                ASSERT_OK(disk_queue_prep(q, &r));
        }
        ASSERT_EQ(disk_queue_submit(q), POLL_N);
        struct disk_completion c[POLL_N];
        unsigned got = 0;
        /* clock_gettime is the vDSO: no kernel entry while polling */
        uint64_t deadline = now_us(CLOCK_MONOTONIC) + 3 * 1000 * 1000;
        while (got < POLL_N && now_us(CLOCK_MONOTONIC) < deadline) {
                int n = disk_queue_reap(q, c, POLL_N, 0);
                ASSERT_GE(n, 0);
                for (int i = 0; i < n; i++) {
                        ASSERT_EQ(c[i].res, (int)POLL_LEN);
                        size_t at = c[i].user_data * POLL_LEN;
                        ASSERT_EQ(memcmp(b + at, data + at, POLL_LEN), 0);
                }
                got += (unsigned)n;
        }
        ASSERT_EQ(got, (unsigned)POLL_N);
        disk_queue_free(q);
        disk_unref(d);
        free(b);
        free(data);
}

TEST(fixed_buffers_and_two_disks) {
        char p1[512], p2[512];
        make_image(p1, sizeof p1, "fixed1.img", 1 << 20);
        make_image(p2, sizeof p2, "fixed2.img", 1 << 20);
        struct disk *d1 = open_disk(p1, false, false, 512), *d2 = open_disk(p2, false, false, 4096);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(8, &q));
        size_t arena_len = 1 << 20;
        uint8_t *arena = aligned(arena_len);
        ASSERT_OK(disk_queue_register_memory(q, arena, arena_len));
        fill(arena, 65536, 6);
        struct iovec v = { arena, 65536 };
        ASSERT_EQ(rw(q, d1, true, 0, &v, 1, false), 65536);
        fill(arena + 65536, 65536, 7);
        struct iovec v2 = { arena + 65536, 65536 };
        ASSERT_EQ(rw(q, d2, true, 0, &v2, 1, true), 65536);
        struct iovec r1 = { arena + 131072, 65536 }, r2 = { arena + 196608, 65536 };
        ASSERT_EQ(rw(q, d1, false, 0, &r1, 1, false), 65536);
        ASSERT_EQ(rw(q, d2, false, 0, &r2, 1, false), 65536);
        ASSERT_MEMEQ(arena + 131072, arena, 65536);
        ASSERT_MEMEQ(arena + 196608, arena + 65536, 65536);
        struct disk_queue_stats st;
        disk_queue_get_stats(q, &st);
        ASSERT_EQ(st.fixed, 4ull);
        ASSERT_OK(disk_queue_forget_disk(q, d2));
        ASSERT_EQ(rw(q, d2, false, 0, &r2, 1, false), 65536); /* re-registered on use */
        disk_queue_free(q);
        disk_unref(d1);
        disk_unref(d2);
        free(arena);
}

struct fault {
        int inject;
        unsigned hits;
};

static int fault_hook(void *opaque, const struct disk_request *r, int res) {
        struct fault *f = opaque;
        if (r->kind == DISK_FLUSH || !f->inject)
                return res;
        f->hits++;
        return f->inject;
}

TEST(fault_hook_eio_enospc) {
        char path[512];
        make_image(path, sizeof path, "fault.img", 1 << 20);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        struct fault f = { .inject = -EIO };
        disk_queue_set_fault_hook(q, fault_hook, &f);
        uint8_t *b = aligned(4096);
        struct iovec v = { b, 4096 };
        ASSERT_EQ(rw(q, d, false, 0, &v, 1, false), -EIO);
        f.inject = -ENOSPC;
        ASSERT_EQ(rw(q, d, true, 0, &v, 1, false), -ENOSPC);
        ASSERT_EQ(f.hits, 2u);
        struct disk_request fl = { .kind = DISK_FLUSH, .disk = d };
        ASSERT_EQ(run1(q, &fl), 0);
        disk_queue_free(q);
        disk_unref(d);
        free(b);
}

/* A real ENOSPC: a sparse image on a 256 KiB tmpfs, written past the space. */
TEST(enospc_tiny_tmpfs) {
        char mnt[300], path[512];
        snprintf(mnt, sizeof mnt, "%s/tmpfs", tmp_dir());
        ASSERT_EQ(mkdir(mnt, 0700), 0);
        if (mount("vmstack-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k") < 0) {
                rmdir(mnt);
                SOFT_SKIP("cannot mount a tmpfs (%s): ENOSPC covered by fault_hook_eio_enospc only",
                          strerror(errno));
        }
        snprintf(path, sizeof path, "%s/full.img", mnt);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, 4 << 20), 0); /* 4 MiB image on 256 KiB of space */
        close(fd);
        struct disk *d = open_disk(path, false, false, 512);
        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(4, &q));
        uint8_t *b = aligned(128 << 10);
        fill(b, 128 << 10, 8);
        struct iovec v = { b, 128 << 10 };
        int res = 0;
        for (uint64_t off = 0; off < (4 << 20) && res >= 0; off += 128 << 10)
                res = rw(q, d, true, off, &v, 1, false);
        ASSERT_EQ(res, -ENOSPC);
        struct scsi_io io = { .kind = SCSI_IO_WRITE };
        struct scsi_status st;
        scsi_complete_io(&io, res, &st);
        ASSERT_EQ(scsi_sense_key(&st), SCSI_SENSE_DATA_PROTECT);
        ASSERT_EQ(scsi_sense_asc(&st), SCSI_ASC_SPACE_ALLOCATION_FAILED);
        disk_queue_free(q);
        disk_unref(d);
        free(b);
        /* io_uring drops its file references asynchronously after exit */
        ASSERT_EQ(umount2(mnt, MNT_DETACH), 0);
        rmdir(mnt);
}

static void cleanup(void) {
        if (!dir[0])
                return;
        char cmd[600];
        snprintf(cmd, sizeof cmd, "%s/tmpfs", dir);
        (void)umount2(cmd, MNT_DETACH); /* a test that failed with the tmpfs mounted */
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
