// SPDX-License-Identifier: MIT
/* Merging a running VHDX disk into its parent (disk/src/merge.c):
 * a disk on a differencing child keeps taking writes between the passes;
 * after the finish it runs on the parent, which reads as the child did
 * (its own data, the child's, the writes made during the merge, zeros the
 * child wrote over the parent's data), takes further writes, carries the
 * child's DataWriteGuid and is clean for qemu-img; a merge abandoned
 * half-way leaves the chain reading as before; a file that is not the
 * parent, and a parent someone else holds, are refused with nothing
 * changed. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>

#include "common/test.h"
#include "disk/disk.h"
#include "vhdx/vhdx.h"

#define SIZE (32u << 20)
#define MiB (1u << 20)

static char dir[] = "/var/tmp/test-disk-merge-XXXXXX";
static char err[512];

static void path(char *p, size_t n, const char *name) {
        snprintf(p, n, "%s/%s", dir, name);
}

static void make(const char *name, const char *parent) {
        char p[600], pp[600];
        path(p, sizeof p, name);
        unlink(p);
        int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = SIZE, .block_size = MiB };
        struct vhdx *par = NULL;
        int pfd = -1;
        if (parent) {
                path(pp, sizeof pp, parent);
                pfd = open(pp, O_RDONLY | O_CLOEXEC);
                ASSERT_EQ(vhdx_open(pfd, 0, &par, err, sizeof err), 0);
                o = (struct vhdx_create_options){ .type = VHDX_DIFFERENCING, .parent = par, .parent_relative = parent };
        }
        ASSERT_EQ(vhdx_create(fd, &o, err, sizeof err), 0);
        vhdx_close(par);
        if (pfd >= 0)
                close(pfd);
        close(fd);
}

static struct disk *open_disk(const char *name) {
        char p[600];
        path(p, sizeof p, name);
        struct disk_options o = { .path = p, .fd = -1, .format = DISK_FORMAT_VHDX, .err = err, .errlen = sizeof err };
        struct disk *d = NULL;
        int r = disk_open(&o, &d);
        if (r < 0)
                fprintf(stderr, "disk_open %s: %s\n", p, err);
        ASSERT_EQ(r, 0);
        return d;
}

static int run1(struct disk_queue *q, const struct disk_request *r) {
        ASSERT_EQ(disk_queue_prep(q, r), 0);
        ASSERT_GE(disk_queue_submit(q), 0);
        struct disk_completion c;
        ASSERT_EQ(disk_queue_reap(q, &c, 1, 1), 1);
        return c.res;
}

static void *buf_of(size_t len, int fill) {
        void *p = NULL;
        ASSERT_EQ(posix_memalign(&p, 4096, len), 0);
        memset(p, fill, len);
        return p;
}

static void put(struct disk_queue *q, struct disk *d, uint64_t off, size_t len, int fill) {
        void *b = buf_of(len, fill);
        struct iovec v = { b, len };
        ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_WRITE, .disk = d, .offset = off, .len = len, .iov = &v,
                                                  .iovcnt = 1 }),
                  (int)len);
        free(b);
}

static void zero(struct disk_queue *q, struct disk *d, uint64_t off, size_t len) {
        ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_WRITE_ZEROES, .disk = d, .offset = off, .len = len }),
                  0);
}

/* What the disk must read: 1 MiB pieces, each one fill byte. */
static int want[SIZE / MiB];

static void check(struct disk_queue *q, struct disk *d) {
        uint8_t *b = buf_of(MiB, 0xee);
        for (unsigned i = 0; i < SIZE / MiB; i++) {
                struct iovec v = { b, MiB };
                ASSERT_EQ(run1(q, &(struct disk_request){ .kind = DISK_READ, .disk = d, .offset = (uint64_t)i * MiB,
                                                          .len = MiB, .iov = &v, .iovcnt = 1 }),
                          (int)MiB);
                for (size_t k = 0; k < MiB; k += 4096)
                        if (b[k] != want[i])
                                fprintf(stderr, "MiB %u byte %zu: %#x, want %#x\n", i, k, b[k], want[i]);
                for (size_t k = 0; k < MiB; k += 4096)
                        ASSERT_EQ(b[k], want[i]);
        }
        free(b);
}

static void write_piece(struct disk_queue *q, struct disk *d, unsigned i, int fill) {
        put(q, d, (uint64_t)i * MiB, MiB, fill);
        want[i] = fill;
}

/* base: pieces 0-7 = 0x10+i; child: 4-5 = 0x20+i, 6 zeroed over the base's */
static void setup(struct disk **d, struct disk_queue *q) {
        memset(want, 0, sizeof want);
        make("base.vhdx", NULL);
        struct disk *b = open_disk("base.vhdx");
        for (unsigned i = 0; i < 8; i++)
                write_piece(q, b, i, 0x10 + (int)i);
        ASSERT_OK(disk_queue_forget_disk(q, b));
        disk_unref(b);
        make("child.avhdx", "base.vhdx");
        *d = open_disk("child.avhdx");
        write_piece(q, *d, 4, 0x24);
        write_piece(q, *d, 5, 0x25);
        zero(q, *d, 6ull * MiB, MiB);
        want[6] = 0;
        check(q, *d);
}

static int open_base_rw(void) {
        char p[600];
        path(p, sizeof p, "base.vhdx");
        int fd = open(p, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        return fd;
}

TEST(merges_while_written_and_runs_on_the_parent) {
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        struct disk *d;
        setup(&d, q);
        struct disk_merge *m;
        ASSERT_EQ(disk_merge_prepare(d, open_base_rw(), &m, err, sizeof err), 0);
        uint64_t copied = 0, dirty = 0;
        ASSERT_EQ(disk_merge_pass(m, &copied, &dirty), 0);
        ASSERT_GE(copied, 3ull * MiB);
        ASSERT_EQ(dirty, 0u);
        /* the guest goes on: new data, data over data, data over the base's */
        write_piece(q, d, 5, 0x35);
        write_piece(q, d, 12, 0x3c);
        write_piece(q, d, 1, 0x31);
        check(q, d);
        ASSERT_EQ(disk_merge_pass(m, &copied, &dirty), 0);
        ASSERT_EQ(dirty, 3ull * MiB); /* the three written since: the next pass's work */
        ASSERT_EQ(disk_merge_pass(m, &copied, &dirty), 0);
        ASSERT_EQ(dirty, 0u);
        write_piece(q, d, 20, 0x40);
        ASSERT_GT(disk_merge_max_file_size(m), (uint64_t)SIZE);
        ASSERT_EQ(disk_merge_finish(m, &copied, err, sizeof err), 0);
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.chain_depth, 0u);
        check(q, d);
        write_piece(q, d, 30, 0x50); /* on the parent now */
        check(q, d);
        ASSERT_OK(disk_queue_forget_disk(q, d));
        disk_unref(d);
        /* the base alone reads all of it */
        d = open_disk("base.vhdx");
        check(q, d);
        ASSERT_OK(disk_queue_forget_disk(q, d));
        disk_unref(d);
        disk_queue_free(q);
        char p[600], c[600];
        path(p, sizeof p, "base.vhdx");
        path(c, sizeof c, "child.avhdx");
        int pfd = open(p, O_RDONLY | O_CLOEXEC);
        struct vhdx *pv;
        ASSERT_EQ(vhdx_open(pfd, 0, &pv, err, sizeof err), 0);
        struct vhdx_check_report rep;
        ASSERT_EQ(vhdx_check(pv, &rep), 0);
        ASSERT_EQ(rep.errors, 0u);
        vhdx_close(pv);
        close(pfd);
        (void)c;
        if (!test_have_program("qemu-img", "qemu-utils"))
                return;
        char cmd[800];
        snprintf(cmd, sizeof cmd, "qemu-img check -q %s", p);
        ASSERT_EQ(system(cmd), 0);
}

TEST(the_parent_takes_the_childs_data_write_guid) {
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        struct disk *d;
        setup(&d, q);
        struct disk_merge *m;
        ASSERT_EQ(disk_merge_prepare(d, open_base_rw(), &m, err, sizeof err), 0);
        uint64_t copied = 0;
        ASSERT_EQ(disk_merge_finish(m, &copied, err, sizeof err), 0); /* one pass, quiesced */
        ASSERT_OK(disk_queue_forget_disk(q, d));
        disk_unref(d);
        disk_queue_free(q);
        char p[600], c[600];
        path(p, sizeof p, "base.vhdx");
        path(c, sizeof c, "child.avhdx");
        int pfd = open(p, O_RDONLY | O_CLOEXEC), cfd = open(c, O_RDONLY | O_CLOEXEC);
        struct vhdx *pv, *cv;
        ASSERT_EQ(vhdx_open(pfd, 0, &pv, err, sizeof err), 0);
        ASSERT_EQ(vhdx_open(cfd, 0, &cv, err, sizeof err), 0);
        struct vhdx_info pi, ci;
        vhdx_get_info(pv, &pi);
        vhdx_get_info(cv, &ci);
        ASSERT_EQ(memcmp(&pi.data_write_guid, &ci.data_write_guid, sizeof pi.data_write_guid), 0);
        /* and the child still links to it (a merge whose last step was cut short) */
        ASSERT_EQ(vhdx_set_parent(cv, pv, err, sizeof err), 0);
        vhdx_close(pv), vhdx_close(cv);
        close(pfd), close(cfd);
}

TEST(an_abandoned_merge_leaves_the_chain_whole) {
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        struct disk *d;
        setup(&d, q);
        struct disk_merge *m;
        ASSERT_EQ(disk_merge_prepare(d, open_base_rw(), &m, err, sizeof err), 0);
        uint64_t copied = 0, dirty;
        ASSERT_EQ(disk_merge_pass(m, &copied, &dirty), 0);
        write_piece(q, d, 2, 0x62);
        disk_merge_abort(m);
        check(q, d);
        write_piece(q, d, 3, 0x63); /* still writable, on the child */
        ASSERT_OK(disk_queue_forget_disk(q, d));
        disk_unref(d);
        d = open_disk("child.avhdx"); /* the chain opens again: linked */
        check(q, d);
        ASSERT_OK(disk_queue_forget_disk(q, d));
        disk_unref(d);
        disk_queue_free(q);
}

TEST(refusals_change_nothing) {
        struct disk_queue *q;
        ASSERT_EQ(disk_queue_new(8, &q), 0);
        struct disk *d;
        setup(&d, q);
        struct disk_merge *m;
        char other[600];
        path(other, sizeof other, "child.avhdx");
        ASSERT_ERROR(disk_merge_prepare(d, open(other, O_RDWR | O_CLOEXEC), &m, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "the file given is not the disk's parent");
        /* someone else reads the parent: it cannot change under them */
        int holder = open_base_rw();
        ASSERT_OK(flock(holder, LOCK_SH));
        ASSERT_ERROR(disk_merge_prepare(d, open_base_rw(), &m, err, sizeof err), EBUSY);
        close(holder);
        check(q, d);
        write_piece(q, d, 9, 0x79);
        check(q, d);
        ASSERT_OK(disk_queue_forget_disk(q, d));
        disk_unref(d);
        /* a disk without a parent */
        make("solo.vhdx", NULL);
        d = open_disk("solo.vhdx");
        ASSERT_ERROR(disk_merge_prepare(d, open_base_rw(), &m, err, sizeof err), EINVAL);
        disk_unref(d);
        disk_queue_free(q);
}

int main(int argc, char **argv) {
        ASSERT_NOT_NULL(mkdtemp(dir));
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
