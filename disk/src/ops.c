// SPDX-License-Identifier: MIT
/* One disk request as a sequence of SQEs: the data transfer (directly on
 * the caller's iovecs, through a fixed buffer, or through an O_DIRECT
 * bounce buffer), resubmission of short transfers, discard range by range,
 * write-same in chunks, write-zeroes with its fallback to writing zeros,
 * and the fdatasync that makes a write-through fallocate durable. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/macro.h"
#include "disk-internal.h"

#define PATTERN_CHUNK (256u * 1024u) /* write-same/zeroes fallback buffer */

void disk_op_release(struct disk_op *op) {
        free(TAKE_PTR(op->bounce));
        free(TAKE_PTR(op->iov_rest));
        free(TAKE_PTR(op->ranges));
}

static int finish(struct disk_op *op, int res) {
        op->final_res = res;
        return 1;
}

/* The fd argument for an SQE and the matching flag. */
static void sqe_set_file(struct io_uring_sqe *sqe, const struct disk_op *op) {
        if (op->file_index >= 0) {
                sqe->fd = op->file_index;
                sqe->flags |= IOSQE_FIXED_FILE;
        }
}

static int op_fd(const struct disk_op *op) {
        return op->file_index >= 0 ? op->file_index : op->req.disk->fd;
}

static bool range_ok(const struct disk *d, uint64_t off, uint64_t len) {
        uint64_t bs = d->info.block_size, size = __atomic_load_n(&d->info.size, __ATOMIC_ACQUIRE); /* disk_resize */
        return off % bs == 0 && len % bs == 0 && off <= size && len <= size - off;
}

static size_t iov_total(const struct iovec *iov, unsigned n) {
        size_t t = 0;
        for (unsigned i = 0; i < n; i++)
                t += iov[i].iov_len;
        return t;
}

void disk_iov_copy(void *dst, const struct iovec *iov, unsigned n, size_t len, bool to_iov) {
        uint8_t *p = dst;
        for (unsigned i = 0; i < n && len; i++) {
                size_t k = MIN(len, iov[i].iov_len);
                if (to_iov)
                        memcpy(iov[i].iov_base, p, k);
                else
                        memcpy(p, iov[i].iov_base, k);
                p += k;
                len -= k;
        }
}

static void *aligned_alloc_len(size_t len) {
        void *p;
        return posix_memalign(&p, 4096, ALIGN_UP(len, (size_t)4096)) == 0 ? p : NULL;
}

/* Queues the (remaining) transfer of a READ/WRITE. */
static int rw_queue(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        bool write = r->kind == DISK_WRITE;
        uint64_t off = r->offset + op->done;
        size_t left = (size_t)(r->len - op->done);
        struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
        if (!sqe)
                return finish(op, -EAGAIN);
        if (op->bounce) {
                uint8_t *p = (uint8_t *)op->bounce + op->done;
                if (write)
                        io_uring_prep_write(sqe, op_fd(op), p, (unsigned)left, off);
                else
                        io_uring_prep_read(sqe, op_fd(op), p, (unsigned)left, off);
        } else if (op->iov_rest) {
                if (write)
                        io_uring_prep_writev(sqe, op_fd(op), op->iov_rest, op->iov_rest_cnt, off);
                else
                        io_uring_prep_readv(sqe, op_fd(op), op->iov_rest, op->iov_rest_cnt, off);
        } else if (op->fixed_index >= 0) {
                void *base = r->iov[0].iov_base;
                if (write)
                        io_uring_prep_write_fixed(sqe, op_fd(op), base, (unsigned)left, off, op->fixed_index);
                else
                        io_uring_prep_read_fixed(sqe, op_fd(op), base, (unsigned)left, off, op->fixed_index);
        } else if (write) {
                io_uring_prep_writev(sqe, op_fd(op), r->iov, r->iovcnt, off);
        } else {
                io_uring_prep_readv(sqe, op_fd(op), r->iov, r->iovcnt, off);
        }
        if (write && r->fua)
                sqe->rw_flags = RWF_DSYNC; /* FUA: durable when it completes */
        sqe_set_file(sqe, op);
        return 0;
}

static int rw_start(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        const struct disk *d = r->disk;
        if (r->kind == DISK_WRITE && d->info.read_only)
                return finish(op, -EROFS);
        if (!range_ok(d, r->offset, r->len) || iov_total(r->iov, r->iovcnt) != r->len || r->len > UINT32_MAX)
                return finish(op, -EINVAL);
        if (d->vhdx)
                return disk_vhdx_rw_start(q, op);
        bool aligned = d->info.direct ? disk_iov_direct_ok(d, r->iov, r->iovcnt) : r->iovcnt <= DISK_MAX_IOV;
        if (!aligned) {
                op->bounce = aligned_alloc_len(r->len);
                if (!op->bounce)
                        return finish(op, -ENOMEM);
                op->bounce_len = r->len;
                q->stats.bounced++;
                if (r->kind == DISK_WRITE)
                        disk_iov_copy(op->bounce, r->iov, r->iovcnt, r->len, false);
        } else if (r->iovcnt == 1) {
                op->fixed_index = disk_queue_fixed_index(q, r->iov[0].iov_base, r->len);
                if (op->fixed_index >= 0)
                        q->stats.fixed++;
        }
        return rw_queue(q, op);
}

/* After a short transfer: the rest of the caller's vector. */
static int rw_rest(struct disk_op *op) {
        const struct disk_request *r = &op->req;
        free(TAKE_PTR(op->iov_rest));
        op->iov_rest = calloc(r->iovcnt, sizeof *op->iov_rest);
        if (!op->iov_rest)
                return -ENOMEM;
        uint64_t skip = op->done;
        unsigned n = 0;
        for (unsigned i = 0; i < r->iovcnt; i++) {
                if (skip >= r->iov[i].iov_len) {
                        skip -= r->iov[i].iov_len;
                        continue;
                }
                op->iov_rest[n].iov_base = (uint8_t *)r->iov[i].iov_base + skip;
                op->iov_rest[n].iov_len = r->iov[i].iov_len - skip;
                skip = 0;
                n++;
        }
        op->iov_rest_cnt = n;
        op->fixed_index = -1;
        return 0;
}

static int rw_advance(struct disk_queue *q, struct disk_op *op, int res) {
        const struct disk_request *r = &op->req;
        if (res < 0)
                return finish(op, res);
        if (res == 0) /* end of file under our feet, or a device that makes no progress */
                return finish(op, -EIO);
        op->done += (unsigned)res;
        if (op->done < r->len) {
                q->stats.short_retries++;
                if (!op->bounce) {
                        int k = rw_rest(op);
                        if (k < 0)
                                return finish(op, k);
                }
                return rw_queue(q, op);
        }
        if (r->kind == DISK_READ && op->bounce)
                disk_iov_copy(op->bounce, r->iov, r->iovcnt, r->len, true);
        return finish(op, (int)r->len);
}

/* ---- write-same / zero writing in chunks ---- */

static int pattern_setup(struct disk_op *op, const void *block) {
        uint32_t bs = op->req.disk->info.block_size;
        size_t chunk = (size_t)MIN((uint64_t)PATTERN_CHUNK, op->req.len);
        op->bounce = aligned_alloc_len(chunk);
        if (!op->bounce)
                return -ENOMEM;
        op->bounce_len = chunk;
        for (size_t i = 0; i < chunk; i += bs) {
                if (block)
                        memcpy((uint8_t *)op->bounce + i, block, bs);
                else
                        memset((uint8_t *)op->bounce + i, 0, bs);
        }
        op->done = 0;
        return 0;
}

static int pattern_queue(struct disk_queue *q, struct disk_op *op) {
        struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
        if (!sqe)
                return finish(op, -EAGAIN);
        size_t n = (size_t)MIN((uint64_t)op->bounce_len, op->req.len - op->done);
        io_uring_prep_write(sqe, op_fd(op), op->bounce, (unsigned)n, op->req.offset + op->done);
        if (op->req.fua)
                sqe->rw_flags = RWF_DSYNC;
        sqe_set_file(sqe, op);
        return 0;
}

static int pattern_advance(struct disk_queue *q, struct disk_op *op, int res) {
        if (op->req.disk->vhdx)
                return disk_vhdx_pattern_advance(q, op, res);
        if (res < 0)
                return finish(op, res);
        if (res == 0)
                return finish(op, -EIO);
        op->done += (unsigned)res;
        return op->done < op->req.len ? pattern_queue(q, op) : finish(op, 0);
}

/* ---- flush, discard, write-zeroes ---- */

static int flush_queue(struct disk_queue *q, struct disk_op *op) {
        struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
        if (!sqe)
                return finish(op, -EAGAIN);
        io_uring_prep_fsync(sqe, op_fd(op), IORING_FSYNC_DATASYNC);
        sqe_set_file(sqe, op);
        op->flushing = true;
        return 0;
}

static int discard_next(struct disk_queue *q, struct disk_op *op) {
        while (op->range_next < op->req.n_ranges && op->ranges[op->range_next].len == 0)
                op->range_next++;
        if (op->range_next >= op->req.n_ranges)
                return finish(op, 0);
        const struct disk_range *rg = &op->ranges[op->range_next++];
        struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
        if (!sqe)
                return finish(op, -EAGAIN);
        io_uring_prep_fallocate(sqe, op_fd(op), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, rg->offset, rg->len);
        sqe_set_file(sqe, op);
        return 0;
}

/* BLKDISCARD is an ioctl, not an io_uring op: done inline (discards are
 * rare and the kernel queues them asynchronously itself). */
static int discard_blockdev(struct disk_op *op) {
        for (unsigned i = 0; i < op->req.n_ranges; i++) {
                uint64_t range[2] = { op->ranges[i].offset, op->ranges[i].len };
                if (range[1] && ioctl(op->req.disk->fd, BLKDISCARD, range) < 0)
                        return finish(op, -errno);
        }
        return finish(op, 0);
}

static int discard_start(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        if (r->disk->info.read_only)
                return finish(op, -EROFS);
        if (!r->disk->info.discard || r->n_ranges == 0)
                return finish(op, 0); /* advisory: nothing promised reads as zeros */
        op->ranges = calloc(r->n_ranges, sizeof *op->ranges);
        if (!op->ranges)
                return finish(op, -ENOMEM);
        for (unsigned i = 0; i < r->n_ranges; i++) {
                if (!range_ok(r->disk, r->ranges[i].offset, r->ranges[i].len))
                        return finish(op, -EINVAL);
                op->ranges[i] = r->ranges[i];
        }
        if (r->disk->vhdx)
                return disk_vhdx_discard(op);
        return r->disk->info.block_device ? discard_blockdev(op) : discard_next(q, op);
}

static int zeroes_start(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        const struct disk *d = r->disk;
        if (d->info.read_only)
                return finish(op, -EROFS);
        if (!range_ok(d, r->offset, r->len))
                return finish(op, -EINVAL);
        if (d->vhdx) { /* file offsets are not the disk's: zeros through the BAT */
                op->zero_fallback = true;
                int k = pattern_setup(op, NULL);
                return k < 0 ? finish(op, k) : disk_vhdx_pattern_next(q, op);
        }
        struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
        if (!sqe)
                return finish(op, -EAGAIN);
        int mode = (r->may_unmap && d->info.discard_zeroes ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
                   FALLOC_FL_KEEP_SIZE;
        io_uring_prep_fallocate(sqe, op_fd(op), mode, r->offset, r->len);
        sqe_set_file(sqe, op);
        op->flush_after = r->fua; /* fallocate has no RWF_DSYNC */
        return 0;
}

static int zeroes_advance(struct disk_queue *q, struct disk_op *op, int res) {
        if (op->zero_fallback)
                return pattern_advance(q, op, res);
        if (res == -EOPNOTSUPP || res == -EINVAL) {
                /* no ZERO_RANGE here (or on this device): write zeros */
                op->zero_fallback = true;
                int k = pattern_setup(op, NULL);
                return k < 0 ? finish(op, k) : pattern_queue(q, op);
        }
        if (res < 0)
                return finish(op, res);
        return op->flush_after ? flush_queue(q, op) : finish(op, 0);
}

int disk_op_start(struct disk_queue *q, struct disk_op *op) {
        if (op->req.disk->deferred) /* another process may still write its metadata */
                return finish(op, -EIO);
        switch (op->req.kind) {
        case DISK_READ:
        case DISK_WRITE:
                return rw_start(q, op);
        case DISK_FLUSH:
                return flush_queue(q, op);
        case DISK_DISCARD:
                return discard_start(q, op);
        case DISK_WRITE_ZEROES:
                return zeroes_start(q, op);
        case DISK_WRITE_SAME: {
                if (op->req.disk->info.read_only)
                        return finish(op, -EROFS);
                if (!range_ok(op->req.disk, op->req.offset, op->req.len))
                        return finish(op, -EINVAL);
                int k = pattern_setup(op, op->req.pattern);
                if (k < 0)
                        return finish(op, k);
                return op->req.disk->vhdx ? disk_vhdx_pattern_next(q, op) : pattern_queue(q, op);
        }
        }
        return finish(op, -EINVAL);
}

int disk_op_advance(struct disk_queue *q, struct disk_op *op, int res) {
        if (op->flushing)
                return op->req.disk->vhdx ? disk_vhdx_flush_done(op, res) : finish(op, res < 0 ? res : 0);
        switch (op->req.kind) {
        case DISK_READ:
        case DISK_WRITE:
                return op->req.disk->vhdx ? disk_vhdx_rw_advance(q, op, res) : rw_advance(q, op, res);
        case DISK_FLUSH:
                return op->req.disk->vhdx ? disk_vhdx_flush_done(op, res) : finish(op, res < 0 ? res : 0);
        case DISK_DISCARD:
                if (res == -EOPNOTSUPP && !op->req.disk->info.discard_zeroes)
                        return finish(op, 0);
                return res < 0 ? finish(op, res) : discard_next(q, op);
        case DISK_WRITE_ZEROES:
                return zeroes_advance(q, op, res);
        case DISK_WRITE_SAME:
                return pattern_advance(q, op, res);
        }
        return finish(op, -EINVAL);
}
