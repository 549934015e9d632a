// SPDX-License-Identifier: MIT
/* Per-disk I/O accounting (disk/src/iostat.c, disk_get_io_stats): the
 * bytes and ops of reads and writes that went through a queue are counted
 * on their disk, whichever queue ran them; failed requests count as ops
 * and errors but move no bytes; flushes and discards are counted apart;
 * latency grows with each request; a second disk's counters stay apart. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/test.h"
#include "disk/disk.h"

#define SIZE (4u << 20)

static char dir[] = "/var/tmp/test-disk-iostat-XXXXXX";
static char err[512];

static struct disk *new_disk(const char *name, bool ro) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_OK(ftruncate(fd, SIZE));
        close(fd);
        struct disk_options o = { .path = p, .fd = -1, .read_only = ro, .err = err, .errlen = sizeof err };
        struct disk *d = NULL;
        ASSERT_EQ(disk_open(&o, &d), 0);
        return d;
}

static int run1(struct disk_queue *q, enum disk_op_kind kind, struct disk *d, uint64_t off, void *buf,
                size_t len) {
        struct iovec v = { buf, len };
        struct disk_range rg = { off, len };
        struct disk_request r = { .kind = kind, .disk = d, .offset = off, .len = len };
        if (kind == DISK_READ || kind == DISK_WRITE)
                r.iov = &v, r.iovcnt = 1;
        if (kind == DISK_DISCARD)
                r.ranges = &rg, r.n_ranges = 1;
        ASSERT_EQ(disk_queue_prep(q, &r), 0);
        ASSERT_GE(disk_queue_submit(q), 0);
        struct disk_completion c;
        ASSERT_EQ(disk_queue_reap(q, &c, 1, 1), 1);
        return c.res;
}

TEST(reads_and_writes_are_counted_on_their_disk) {
        struct disk *a = new_disk("a.img", false), *b = new_disk("b.img", false);
        struct disk_queue *q1, *q2;
        ASSERT_EQ(disk_queue_new(8, &q1), 0);
        ASSERT_EQ(disk_queue_new(8, &q2), 0);
        void *buf = NULL;
        ASSERT_EQ(posix_memalign(&buf, 4096, 65536), 0);
        memset(buf, 0x3c, 65536);
        struct disk_io_stats s;
        disk_get_io_stats(a, &s);
        ASSERT_EQ(s.read_ops + s.write_ops + s.read_bytes + s.write_bytes + s.read_latency_ns, 0u);

        ASSERT_EQ(run1(q1, DISK_WRITE, a, 0, buf, 65536), 65536);
        ASSERT_EQ(run1(q2, DISK_WRITE, a, 65536, buf, 4096), 4096); /* another queue, the same disk */
        ASSERT_EQ(run1(q1, DISK_READ, a, 0, buf, 8192), 8192);
        ASSERT_EQ(run1(q1, DISK_FLUSH, a, 0, NULL, 0), 0);
        ASSERT_EQ(run1(q2, DISK_WRITE, b, 0, buf, 512), 512);
        disk_get_io_stats(a, &s);
        ASSERT_EQ(s.write_bytes, 65536u + 4096u);
        ASSERT_EQ(s.write_ops, 2u);
        ASSERT_EQ(s.read_bytes, 8192u);
        ASSERT_EQ(s.read_ops, 1u);
        ASSERT_EQ(s.flush_ops, 1u);
        ASSERT_EQ(s.errors, 0u);
        ASSERT_GT(s.write_latency_ns, 0u);
        ASSERT_GT(s.read_latency_ns, 0u);
        uint64_t wlat = s.write_latency_ns;

        disk_get_io_stats(b, &s);
        ASSERT_EQ(s.write_bytes, 512u);
        ASSERT_EQ(s.write_ops, 1u);
        ASSERT_EQ(s.read_ops, 0u);

        /* out of range: an op and an error, no bytes */
        ASSERT_LT(run1(q1, DISK_WRITE, a, SIZE, buf, 4096), 0);
        disk_get_io_stats(a, &s);
        ASSERT_EQ(s.write_ops, 3u);
        ASSERT_EQ(s.write_bytes, 65536u + 4096u);
        ASSERT_EQ(s.errors, 1u);
        ASSERT_GE(s.write_latency_ns, wlat);
        disk_queue_free(q1);
        disk_queue_free(q2);
        free(buf);
        disk_unref(a);
        disk_unref(b);
}

TEST(read_only_writes_and_discards) {
        struct disk *d = new_disk("ro.img", true);
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(4, &q), 0);
        void *buf = NULL;
        ASSERT_EQ(posix_memalign(&buf, 4096, 4096), 0);
        ASSERT_EQ(run1(q, DISK_WRITE, d, 0, buf, 4096), -EROFS);
        ASSERT_EQ(run1(q, DISK_READ, d, 0, buf, 4096), 4096);
        (void)run1(q, DISK_DISCARD, d, 0, NULL, 4096);
        struct disk_io_stats s;
        disk_get_io_stats(d, &s);
        ASSERT_EQ(s.write_ops, 1u);
        ASSERT_EQ(s.write_bytes, 0u);
        ASSERT_EQ(s.read_bytes, 4096u);
        ASSERT_EQ(s.other_ops, 1u);
        ASSERT_GE(s.errors, 1u);
        disk_queue_free(q);
        free(buf);
        disk_unref(d);
}

int main(int argc, char **argv) {
        ASSERT_NOT_NULL(mkdtemp(dir));
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
