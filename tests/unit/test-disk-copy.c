// SPDX-License-Identifier: MIT
/* Copying a disk while it is written (disk/src/copy.c, a
 * shared-nothing migration's source and destination): the chunks a write,
 * write-zeroes, write-same or discard touched are marked once it completed
 * and only while tracking is on; taking the marks clears them; the
 * synchronous read sees what the queue wrote (raw and through a VHDX,
 * zeros where nothing is allocated); the synchronous write and zero land
 * where a queue read finds them, a zeroed VHDX range stays unallocated;
 * out-of-range and read-only requests are refused. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/test.h"
#include "disk/disk.h"
#include "vhdx/vhdx.h"

#define SIZE (16u << 20)
#define CH DISK_TRACK_CHUNK

static char dir[] = "/var/tmp/test-disk-copy-XXXXXX";
static char err[512];

static struct disk *new_disk(const char *name, bool vhdx, bool ro) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        if (vhdx) {
                struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = SIZE, .block_size = 1 << 20 };
                ASSERT_EQ(vhdx_create(fd, &o, err, sizeof err), 0);
        } else {
                ASSERT_OK(ftruncate(fd, SIZE));
        }
        close(fd);
        struct disk_options o = { .path = p, .fd = -1, .read_only = ro,
                                  .format = vhdx ? DISK_FORMAT_VHDX : DISK_FORMAT_RAW, .err = err,
                                  .errlen = sizeof err };
        struct disk *d = NULL;
        ASSERT_EQ(disk_open(&o, &d), 0);
        return d;
}

static void *aligned(size_t len, int fill) {
        void *p = NULL;
        ASSERT_EQ(posix_memalign(&p, 4096, len), 0);
        memset(p, fill, len);
        return p;
}

static int run1(struct disk_queue *q, const struct disk_request *r) {
        ASSERT_EQ(disk_queue_prep(q, r), 0);
        ASSERT_GE(disk_queue_submit(q), 0);
        struct disk_completion c;
        ASSERT_EQ(disk_queue_reap(q, &c, 1, 1), 1);
        return c.res;
}

static int qwrite(struct disk_queue *q, struct disk *d, uint64_t off, void *buf, size_t len) {
        struct iovec v = { buf, len };
        return run1(q, &(struct disk_request){ .kind = DISK_WRITE, .disk = d, .offset = off, .len = len, .iov = &v,
                                               .iovcnt = 1 });
}

static uint64_t take(struct disk *d) {
        ASSERT_EQ(disk_track_words(d), 1u); /* 16 chunks */
        uint64_t w = 0;
        disk_track_take(d, &w);
        return w;
}

static void tracks_writes(bool vhdx) {
        struct disk *d = new_disk(vhdx ? "t.vhdx" : "t.img", vhdx, false);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        uint8_t *buf = aligned(2 * CH, 0x5a);
        ASSERT_EQ(qwrite(q, d, 0, buf, 4096), 4096); /* before tracking: not marked */
        ASSERT_EQ(disk_track_start(d), 0);
        ASSERT_EQ(take(d), 0u);
        /* one sector in chunk 3; a write straddling chunks 5 and 6 */
        ASSERT_EQ(qwrite(q, d, 3ull * CH + 512, buf, 512), 512);
        ASSERT_EQ(qwrite(q, d, 6ull * CH - 4096, buf, 8192), 8192);
        ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_WRITE_ZEROES, .disk = d, .offset = 9ull * CH,
                                                  .len = 4096 }),
                  0);
        ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_WRITE_SAME, .disk = d, .offset = 15ull * CH,
                                                  .len = 8192, .pattern = buf }),
                  0);
        struct iovec v = { buf, 4096 };
        ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_READ, .disk = d, .offset = 1ull * CH, .len = 4096,
                                                  .iov = &v, .iovcnt = 1 }),
                  4096); /* reads mark nothing */
        ASSERT_EQ(take(d), (1ull << 3) | (1ull << 5) | (1ull << 6) | (1ull << 9) | (1ull << 15));
        ASSERT_EQ(take(d), 0u); /* taken: cleared */
        disk_track_stop(d);
        memset(buf, 0x5a, 4096);
        ASSERT_EQ(qwrite(q, d, 2ull * CH, buf, 4096), 4096);
        ASSERT_EQ(take(d), 0u); /* stopped */
        /* started again: the old marks are gone */
        ASSERT_EQ(disk_track_start(d), 0);
        ASSERT_EQ(qwrite(q, d, 7ull * CH, buf, 4096), 4096);
        ASSERT_EQ(take(d), 1ull << 7);
        disk_track_stop(d);

        /* the synchronous read sees the queue's writes and zeros elsewhere */
        uint8_t *r = aligned(CH, 0xee);
        ASSERT_EQ(disk_read_sync(d, 2ull * CH, r, CH), 0);
        for (size_t i = 0; i < CH; i++)
                ASSERT_EQ(r[i], i < 4096 ? 0x5a : 0);
        ASSERT_EQ(disk_read_sync(d, 12ull * CH, r, CH), 0);
        for (size_t i = 0; i < CH; i++)
                ASSERT_EQ(r[i], 0);
        /* an unaligned buffer works too (bounced where O_DIRECT needs it) */
        ASSERT_EQ(disk_read_sync(d, 2ull * CH, r + 512, 4096), 0);
        ASSERT_EQ(r[512], 0x5a);
        ASSERT_EQ(disk_read_sync(d, SIZE - 512, r, 1024), -EINVAL);
        ASSERT_EQ(disk_read_sync(d, 100, r, 512), -EINVAL);
        ASSERT_EQ(disk_read_sync(d, 0, r, 0), -EINVAL);
        free(r);
        free(buf);
        disk_queue_free(q);
        disk_unref(d);
}

TEST(raw_tracks_writes_and_reads_them) {
        tracks_writes(false);
}

TEST(vhdx_tracks_writes_and_reads_them) {
        tracks_writes(true);
}

static void writes_and_zeroes(bool vhdx) {
        struct disk *d = new_disk(vhdx ? "w.vhdx" : "w.img", vhdx, false);
        uint8_t *buf = aligned(CH, 0xa5), *r = aligned(CH, 0);
        ASSERT_EQ(disk_write_sync(d, 4ull * CH, buf, CH), 0);
        ASSERT_EQ(disk_write_sync(d, 10ull * CH + 512, buf, 512), 0);
        ASSERT_EQ(disk_flush_sync(d), 0);
        /* what a queue reads back */
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        struct iovec v = { r, CH };
        ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_READ, .disk = d, .offset = 4ull * CH, .len = CH,
                                                  .iov = &v, .iovcnt = 1 }),
                  (int)CH);
        ASSERT_EQ(memcmp(r, buf, CH), 0);
        ASSERT_EQ(disk_read_sync(d, 10ull * CH, r, 4096), 0);
        for (size_t i = 0; i < 4096; i++)
                ASSERT_EQ(r[i], i >= 512 && i < 1024 ? 0xa5 : 0);
        /* zeroed again: reads as zeros */
        ASSERT_EQ(disk_zero_sync(d, 4ull * CH, CH), 0);
        ASSERT_EQ(disk_zero_sync(d, 0, 2ull * CH), 0); /* never written: nothing to do */
        ASSERT_EQ(disk_read_sync(d, 4ull * CH, r, CH), 0);
        for (size_t i = 0; i < CH; i++)
                ASSERT_EQ(r[i], 0);
        ASSERT_EQ(disk_write_sync(d, SIZE, buf, 512), -EINVAL);
        ASSERT_EQ(disk_zero_sync(d, SIZE - 512, 1024), -EINVAL);
        ASSERT_EQ(disk_flush_sync(d), 0);
        disk_queue_free(q);
        disk_unref(d);
        if (vhdx) { /* the range zeroed before anything was written there stays unallocated */
                char p[600];
                snprintf(p, sizeof p, "%s/w.vhdx", dir);
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                struct vhdx *v2;
                ASSERT_EQ(vhdx_open(fd, 0, &v2, err, sizeof err), 0);
                struct vhdx_extent e;
                ASSERT_EQ(vhdx_map(v2, 0, 2ull * CH, &e), 0);
                ASSERT_EQ(e.kind, VHDX_EXT_ZERO);
                struct vhdx_check_report rep;
                ASSERT_EQ(vhdx_check(v2, &rep), 0);
                ASSERT_EQ(rep.errors, 0u);
                vhdx_close(v2);
                close(fd);
        }
        free(buf);
        free(r);
}

TEST(raw_sync_writes_and_zeroes) {
        writes_and_zeroes(false);
}

TEST(vhdx_sync_writes_and_zeroes) {
        writes_and_zeroes(true);
}

TEST(read_only_disks_refuse_writes) {
        struct disk *d = new_disk("ro.img", false, true);
        uint8_t *buf = aligned(4096, 1);
        ASSERT_EQ(disk_write_sync(d, 0, buf, 4096), -EROFS);
        ASSERT_EQ(disk_zero_sync(d, 0, 4096), -EROFS);
        ASSERT_EQ(disk_read_sync(d, 0, buf, 4096), 0);
        ASSERT_EQ(disk_flush_sync(d), 0);
        free(buf);
        disk_unref(d);
}

int main(int argc, char **argv) {
        ASSERT_NOT_NULL(mkdtemp(dir));
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
