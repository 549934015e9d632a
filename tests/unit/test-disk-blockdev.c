// SPDX-License-Identifier: MIT
/* The disk backend on a block device: a loop device over a temporary file
 * (skipped, exit 77, where we may not create one). Covers the block-device
 * paths: BLKGETSIZE64 sizing, O_DIRECT at the device's logical block size,
 * BLKDISCARD, write-zeroes through fallocate on the device, fdatasync. */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "common/test.h"
#include "disk/disk.h"

#define IMAGE_SIZE (8u << 20)

static char backing[300];
static char loopdev[64];

static void cleanup(void) {
        if (backing[0])
                unlink(backing);
}

/* Attaches a loop device with autoclear: it goes away with our last fd. */
static int loop_attach(int *loop_fd) {
        const char *base = getenv("VM_BUILD_DIR");
        snprintf(backing, sizeof backing, "%s/test-disk-blockdev-XXXXXX", base ? base : "/var/tmp");
        int bfd = mkstemp(backing);
        if (bfd < 0 || ftruncate(bfd, IMAGE_SIZE) < 0)
                return -errno;
        int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0) {
                close(bfd);
                return -errno;
        }
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        close(ctl);
        if (n < 0) {
                close(bfd);
                return -errno;
        }
        snprintf(loopdev, sizeof loopdev, "/dev/loop%d", n);
        int lfd = open(loopdev, O_RDWR | O_CLOEXEC);
        struct loop_config cfg = { .fd = (unsigned)bfd, .info = { .lo_flags = LO_FLAGS_AUTOCLEAR } };
        if (lfd < 0 || ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
                int r = -errno;
                if (lfd >= 0)
                        close(lfd);
                close(bfd);
                return r;
        }
        close(bfd);
        *loop_fd = lfd;
        return 0;
}

static int run1(struct disk_queue *q, const struct disk_request *r) {
        ASSERT_OK(disk_queue_prep(q, r));
        ASSERT_GE(disk_queue_submit(q), 0);
        struct disk_completion c;
        ASSERT_EQ(disk_queue_reap(q, &c, 1, 1), 1);
        return c.res;
}

TEST(block_device) {
        int lfd = -1;
        int r = loop_attach(&lfd);
        if (r < 0)
                TEST_SKIP("no loop device (%s): block-device paths untested here", strerror(-r));
        struct disk_options o = { .path = loopdev, .fd = -1, .block_size = 512 };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_TRUE(info.block_device);
        ASSERT_EQ(info.size, (uint64_t)IMAGE_SIZE);
        ASSERT_TRUE(info.direct);
        ASSERT_EQ(info.dio_len_align, 512u);
        ASSERT_TRUE(info.discard);
        ASSERT_FALSE(info.discard_zeroes); /* a device discard need not zero */

        struct disk_queue *q;
        ASSERT_OK(disk_queue_new(8, &q));
        uint8_t *w, *rd;
        ASSERT_EQ(posix_memalign((void **)&w, 4096, 65536), 0);
        ASSERT_EQ(posix_memalign((void **)&rd, 4096, 65536), 0);
        for (size_t i = 0; i < 65536; i++)
                w[i] = (uint8_t)(i * 13 + 1);
        struct iovec wv = { w, 65536 }, rv = { rd, 65536 };
        struct disk_request wr = { .kind = DISK_WRITE, .disk = d, .offset = 1 << 20, .len = 65536, .iov = &wv,
                                   .iovcnt = 1, .fua = true };
        ASSERT_EQ(run1(q, &wr), 65536);
        struct disk_request fl = { .kind = DISK_FLUSH, .disk = d };
        ASSERT_EQ(run1(q, &fl), 0);
        struct disk_request rr = { .kind = DISK_READ, .disk = d, .offset = 1 << 20, .len = 65536, .iov = &rv,
                                   .iovcnt = 1 };
        ASSERT_EQ(run1(q, &rr), 65536);
        ASSERT_MEMEQ(rd, w, 65536);
        /* the data is in the backing file */
        int bfd = open(backing, O_RDONLY | O_CLOEXEC);
        memset(rd, 0, 65536);
        ASSERT_EQ(pread(bfd, rd, 65536, 1 << 20), 65536);
        ASSERT_MEMEQ(rd, w, 65536);
        close(bfd);

        struct disk_range rg = { 1 << 20, 32768 };
        struct disk_request dr = { .kind = DISK_DISCARD, .disk = d, .ranges = &rg, .n_ranges = 1 };
        ASSERT_EQ(run1(q, &dr), 0);
        struct disk_request wz = { .kind = DISK_WRITE_ZEROES, .disk = d, .offset = (1 << 20) + 32768,
                                   .len = 32768, .fua = true };
        ASSERT_EQ(run1(q, &wz), 0);
        ASSERT_EQ(run1(q, &rr), 65536);
        for (size_t i = 32768; i < 65536; i++) /* write-zeroes is a promise, discard is not */
                ASSERT_EQ(rd[i], 0);
        struct disk_range past = { IMAGE_SIZE, 512 };
        dr.ranges = &past;
        ASSERT_EQ(run1(q, &dr), -EINVAL);

        disk_queue_free(q);
        disk_unref(d);
        close(lfd);
        free(w);
        free(rd);
}

int main(int argc, char **argv) {
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
