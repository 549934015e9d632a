// SPDX-License-Identifier: MIT
/* VHDX images in the disk backend (docs/vhdx.md): opening the chain, and
 * requests as a sequence of extents. Each extent of a read is in this
 * image, in a parent (read through the parent's own fd, buffered: a base
 * image shared by many VMs stays in the page cache once) or zeros (filled
 * here, no SQE); each extent of a write is in this image, allocated by
 * vhdx_map_write when new. Data still moves between the file and the
 * caller's iovecs directly, one SQE per extent: a 1 MiB request is one or
 * two extents unless it meets a partly present block of a differencing
 * image.
 *
 * Metadata (the BAT, sector bitmaps) becomes durable at the guest's flush:
 * the flush's fdatasync first, then vhdx_commit (its log entry and the
 * in-place write). A FUA write that allocated commits when its data is
 * durable. Allocation itself never waits for the disk. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "disk-internal.h"

static void set_err(const struct disk_options *o, const char *prefix, const char *msg) {
        if (o->err && o->errlen)
                snprintf(o->err, o->errlen, "%s%s", prefix, msg);
}

/* A parent by its locator, relative to the child's path (standalone runs:
 * vmms hands the parents over as fds instead). */
static int open_parent_by_path(const char *child_path, struct vhdx *child, bool lock, int *fd_out,
                               char *path, size_t pathlen) {
        struct vhdx_info info;
        vhdx_get_info(child, &info);
        if (!child_path)
                return -ENOLINK;
        int r = vhdx_parent_path(child_path, &info, path, pathlen);
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (lock && flock(fd, LOCK_SH | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                close(fd);
                return r;
        }
        *fd_out = fd;
        return 0;
}

static int open_chain(struct disk *d, const struct disk_options *o, const char *top_path) {
        /* each parent's path, alternately: resolved against the one before */
        _cleanup_free_ char(*paths)[VHDX_PATH_MAX] = malloc(2 * sizeof *paths);
        char err[512] = "";
        const char *child_path = top_path;
        if (!paths)
                return -ENOMEM;
        struct vhdx *child = d->vhdx;
        for (unsigned i = 0;; i++) {
                struct vhdx_info info;
                vhdx_get_info(child, &info);
                if (info.type != VHDX_DIFFERENCING)
                        return 0;
                if (i >= DISK_MAX_PARENTS) {
                        set_err(o, "", "the differencing chain is deeper than we follow");
                        return -ELOOP;
                }
                int fd = -1, r;
                if (i < o->n_parent_fds) {
                        fd = d->parent_fds[i]; /* disk_open took them */
                } else if (o->n_parent_fds) {
                        set_err(o, "", "the chain has more parents than were handed over");
                        return -ENOLINK;
                } else {
                        char *path = paths[i & 1];
                        r = open_parent_by_path(child_path, child, !o->no_lock, &fd, path, VHDX_PATH_MAX);
                        if (r < 0) {
                                if (o->err)
                                        snprintf(o->err, o->errlen, "parent %s: %s", info.parent_relative[0] ?
                                                 info.parent_relative : info.parent_absolute, strerror(-r));
                                return r;
                        }
                        d->parent_fds[i] = fd;
                        child_path = path;
                }
                r = vhdx_open(fd, 0, &d->parents[i], err, sizeof err);
                if (r == 0)
                        d->n_parents = i + 1;
                if (r == 0)
                        r = vhdx_set_parent(child, d->parents[i], err, sizeof err);
                if (r < 0) {
                        set_err(o, "parent: ", err);
                        return r;
                }
                child = d->parents[i];
        }
}

int disk_vhdx_open(struct disk *d, const struct disk_options *o) {
        char err[512] = "";
        struct stat st;
        if (fstat(d->fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                set_err(o, "", "a VHDX image must be a regular file");
                return -EINVAL;
        }
        /* Deferred: another process still writes the image (its log may be
         * active): read as it is, nothing written, until disk_activate. */
        d->deferred = o->deferred && !o->read_only;
        int r = vhdx_open(d->fd, o->read_only ? 0 : d->deferred ? VHDX_OPEN_INSPECT : VHDX_OPEN_WRITABLE, &d->vhdx, err,
                          sizeof err);
        if (r < 0) {
                set_err(o, "", err);
                return r;
        }
        if ((r = open_chain(d, o, o->path)) < 0)
                return r;
        struct vhdx_info info;
        vhdx_get_info(d->vhdx, &info);
        if (o->block_size && o->block_size != info.logical_sector_size) {
                if (o->err)
                        snprintf(o->err, o->errlen, "the image has %u-byte sectors, configured: %u", info.logical_sector_size,
                                 o->block_size);
                return -EINVAL;
        }
        d->info.block_size = info.logical_sector_size;
        d->info.size = info.virtual_size;
        d->info.format = DISK_FORMAT_VHDX;
        d->info.chain_depth = d->n_parents;
        /* A checkpoint may move the running disk onto a child (disk_push_*):
         * RLIMIT_FSIZE, set once, must let that grow as far. */
        d->info.max_file_size = d->info.read_only ? vhdx_max_file_size(d->vhdx)
                                                  : MAX(vhdx_max_file_size(d->vhdx), vhdx_max_child_file_size(d->vhdx));
        /* ... and a merge onto its parent (disk_merge_*) the parent as far:
         * after merges any image of the chain may become the writable one. */
        for (unsigned i = 0; !d->info.read_only && i < d->n_parents; i++)
                d->info.max_file_size = MAX(d->info.max_file_size, vhdx_max_file_size(d->parents[i]));
        if (info.log_replayed && !d->deferred)
                disk_note(d, "the image was not closed cleanly: its log was replayed");
        return 0;
}

int disk_activate(struct disk *d, char *err, size_t errlen) {
        if (!d->deferred)
                return 0;
        char why[512] = "";
        struct vhdx *v = NULL;
        struct vhdx_info was, now;
        vhdx_get_info(d->vhdx, &was);
        int r = vhdx_open(d->fd, VHDX_OPEN_WRITABLE, &v, why, sizeof why);
        if (r == 0) {
                vhdx_get_info(v, &now);
                if (now.virtual_size != was.virtual_size || now.logical_sector_size != was.logical_sector_size ||
                    now.type != was.type)
                        r = -EINVAL, snprintf(why, sizeof why, "the image changed its size, sector size or type");
        }
        if (r == 0 && d->n_parents)
                r = vhdx_set_parent(v, d->parents[0], why, sizeof why);
        if (r < 0) {
                vhdx_discard(v);
                snprintf(err, errlen, "%s", why);
                return r;
        }
        vhdx_discard(d->vhdx); /* an inspection: nothing to write */
        d->vhdx = v;
        d->deferred = false;
        if (now.log_replayed)
                disk_note(d, "the image was not closed cleanly: its log was replayed");
        return 0;
}

void disk_vhdx_close(struct disk *d) {
        (void)vhdx_close(d->vhdx);
        d->vhdx = NULL;
        for (unsigned i = 0; i < d->n_parents; i++)
                (void)vhdx_close(d->parents[i]);
        d->n_parents = 0;
        for (unsigned i = 0; i < DISK_MAX_PARENTS; i++)
                d->parent_fds[i] = safe_close(d->parent_fds[i]);
}

struct disk_push {
        struct disk *d;
        int fd;
        struct vhdx *child, *old;
};

void disk_push_abort(struct disk_push *p) {
        if (!p)
                return;
        (void)vhdx_close(p->child);
        (void)vhdx_close(p->old);
        safe_close(p->fd);
        free(p);
}

int disk_push_prepare(struct disk *d, int fd, struct disk_push **out, char *err, size_t errlen) {
        struct disk_push *p = calloc(1, sizeof *p);
        char why[512] = "";
        int r = 0;
        if (!p) {
                safe_close(fd);
                return -ENOMEM;
        }
        *p = (struct disk_push){ .d = d, .fd = fd };
        if (!d->vhdx || d->info.read_only || d->deferred)
                r = -EINVAL, snprintf(why, sizeof why, "not a writable VHDX disk");
        else if (d->n_parents >= DISK_MAX_PARENTS)
                r = -ELOOP, snprintf(why, sizeof why, "the chain would be deeper than %u", DISK_MAX_PARENTS);
        /* The child, the present image again as a read-only parent (its
         * metadata is on disk: the quiesce synced it), their linkage. */
        else if ((r = vhdx_open(fd, VHDX_OPEN_WRITABLE, &p->child, why, sizeof why)) == 0 &&
                 (r = vhdx_open(d->fd, 0, &p->old, why, sizeof why)) == 0 &&
                 (r = vhdx_set_parent(p->child, p->old, why, sizeof why)) == 0 && d->n_parents)
                r = vhdx_set_parent(p->old, d->parents[0], why, sizeof why); /* the chain below stays */
        if (r == 0 && d->info.direct && (r = disk_set_direct(fd, true)) < 0)
                snprintf(why, sizeof why, "O_DIRECT: %s", strerror(-r));
        if (r == 0) {
                struct vhdx_info ci;
                vhdx_get_info(p->child, &ci);
                if (ci.virtual_size != d->info.size || ci.logical_sector_size != d->info.block_size)
                        r = -EINVAL, snprintf(why, sizeof why, "the child's size or sector size differs");
        }
        if (r < 0) {
                disk_push_abort(p);
                snprintf(err, errlen, "%s", why);
                return r;
        }
        *out = p;
        return 0;
}

void disk_push_commit(struct disk_push *p) {
        struct disk *d = p->d;
        (void)vhdx_close(d->vhdx); /* synced: writes nothing */
        memmove(&d->parents[1], &d->parents[0], d->n_parents * sizeof d->parents[0]);
        memmove(&d->parent_fds[1], &d->parent_fds[0], (DISK_MAX_PARENTS - 1) * sizeof d->parent_fds[0]);
        d->parents[0] = p->old;
        d->parent_fds[0] = d->fd; /* keeps its lock: nobody writes it while we read it */
        d->n_parents++;
        d->vhdx = p->child;
        d->fd = p->fd;
        d->fd_gen++;
        d->info.chain_depth = d->n_parents;
        d->info.max_file_size = MAX(d->info.max_file_size, vhdx_max_file_size(p->child));
        free(p);
}

int disk_sync_metadata(struct disk *d) {
        if (!d->vhdx || d->info.read_only)
                return 0;
        if (fdatasync(d->fd) < 0)
                return -errno;
        return vhdx_quiesce(d->vhdx);
}

/* ---- requests ---- */

static int finish(struct disk_op *op, int res) {
        op->final_res = res;
        return 1;
}

/* Zeros bytes [skip, skip + len) of the caller's vector. */
static void iov_zero(const struct iovec *iov, unsigned n, uint64_t skip, uint64_t len) {
        for (unsigned i = 0; i < n && len; i++) {
                if (skip >= iov[i].iov_len) {
                        skip -= iov[i].iov_len;
                        continue;
                }
                size_t k = (size_t)MIN(len, iov[i].iov_len - skip);
                memset((uint8_t *)iov[i].iov_base + skip, 0, k);
                len -= k;
                skip = 0;
        }
}

/* op->iov_rest = bytes [skip, skip + len) of the caller's vector. */
static int iov_slice(struct disk_op *op, uint64_t skip, uint64_t len) {
        const struct disk_request *r = &op->req;
        if (!op->iov_rest && !(op->iov_rest = calloc(r->iovcnt, sizeof *op->iov_rest)))
                return -ENOMEM;
        unsigned n = 0;
        for (unsigned i = 0; i < r->iovcnt && len; i++) {
                if (skip >= r->iov[i].iov_len) {
                        skip -= r->iov[i].iov_len;
                        continue;
                }
                size_t k = (size_t)MIN(len, r->iov[i].iov_len - skip);
                op->iov_rest[n].iov_base = (uint8_t *)r->iov[i].iov_base + skip;
                op->iov_rest[n].iov_len = k;
                n++;
                len -= k;
                skip = 0;
        }
        op->iov_rest_cnt = n;
        return 0;
}

static void sqe_file(struct io_uring_sqe *sqe, const struct disk_op *op) {
        if (op->seg_fixed) {
                sqe->fd = op->file_index;
                sqe->flags |= IOSQE_FIXED_FILE;
        }
}

/* Queues the rest of the current extent (after a short transfer too). */
static int seg_queue(struct disk_queue *q, struct disk_op *op) {
        bool write = op->req.kind == DISK_WRITE;
        struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
        if (!sqe)
                return finish(op, -EAGAIN);
        uint64_t at = op->seg_file_off + op->seg_done;
        unsigned left = (unsigned)(op->seg_len - op->seg_done);
        if (op->bounce) {
                uint8_t *p = (uint8_t *)op->bounce + op->done;
                if (write)
                        io_uring_prep_write(sqe, op->seg_fd, p, left, at);
                else
                        io_uring_prep_read(sqe, op->seg_fd, p, left, at);
        } else {
                int k = iov_slice(op, op->done, left);
                if (k < 0)
                        return finish(op, k);
                if (write)
                        io_uring_prep_writev(sqe, op->seg_fd, op->iov_rest, op->iov_rest_cnt, at);
                else
                        io_uring_prep_readv(sqe, op->seg_fd, op->iov_rest, op->iov_rest_cnt, at);
        }
        if (write && op->req.fua)
                sqe->rw_flags = RWF_DSYNC;
        sqe_file(sqe, op);
        return 0;
}

static int rw_done(struct disk_op *op) {
        const struct disk_request *r = &op->req;
        if (r->kind == DISK_READ && op->bounce)
                disk_iov_copy(op->bounce, r->iov, r->iovcnt, r->len, true);
        /* FUA: the data is durable (RWF_DSYNC); so must be where it is. */
        if (r->kind == DISK_WRITE && r->fua && op->meta_dirty) {
                int k = vhdx_commit(r->disk->vhdx);
                if (k < 0)
                        return finish(op, k);
        }
        return finish(op, (int)r->len);
}

/* Maps the next extent and queues it; zero extents of a read are filled
 * without an SQE. */
static int rw_next(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        struct disk *d = r->disk;
        while (op->done < r->len) {
                uint64_t voff = r->offset + op->done, left = r->len - op->done;
                struct vhdx_extent e;
                bool alloc = false;
                int k = r->kind == DISK_WRITE ? vhdx_map_write(d->vhdx, voff, left, &e, &alloc)
                                              : vhdx_map_chain(d->vhdx, voff, left, &e);
                if (k < 0)
                        return finish(op, k);
                op->meta_dirty |= alloc;
                if (e.kind == VHDX_EXT_ZERO) {
                        if (op->bounce)
                                memset((uint8_t *)op->bounce + op->done, 0, e.len);
                        else
                                iov_zero(r->iov, r->iovcnt, op->done, e.len);
                        op->done += e.len;
                        continue;
                }
                op->seg_file_off = e.file_off;
                op->seg_len = e.len;
                op->seg_done = 0;
                op->seg_fixed = e.image == d->vhdx && op->file_index >= 0;
                op->seg_fd = e.image == d->vhdx ? d->fd : vhdx_fd(e.image);
                return seg_queue(q, op);
        }
        return rw_done(op);
}

int disk_vhdx_rw_start(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        const struct disk *d = r->disk;
        bool aligned = d->info.direct ? disk_iov_direct_ok(d, r->iov, r->iovcnt) : r->iovcnt <= DISK_MAX_IOV;
        if (!aligned) {
                if (posix_memalign(&op->bounce, 4096, ALIGN_UP((size_t)r->len, (size_t)4096)) != 0) {
                        op->bounce = NULL;
                        return finish(op, -ENOMEM);
                }
                op->bounce_len = r->len;
                q->stats.bounced++;
                if (r->kind == DISK_WRITE)
                        disk_iov_copy(op->bounce, r->iov, r->iovcnt, r->len, false);
        }
        return rw_next(q, op);
}

int disk_vhdx_rw_advance(struct disk_queue *q, struct disk_op *op, int res) {
        if (res < 0)
                return finish(op, res);
        if (res == 0)
                return finish(op, -EIO);
        op->seg_done += (unsigned)res;
        op->done += (unsigned)res;
        if (op->seg_done < op->seg_len) {
                q->stats.short_retries++;
                return seg_queue(q, op);
        }
        return rw_next(q, op);
}

/* ---- write-same and write-zeroes: the pattern buffer, extent by extent ---- */

int disk_vhdx_pattern_next(struct disk_queue *q, struct disk_op *op) {
        const struct disk_request *r = &op->req;
        struct disk *d = r->disk;
        bool zeroes = r->kind == DISK_WRITE_ZEROES;
        while (op->done < r->len) {
                uint64_t voff = r->offset + op->done, chunk = MIN((uint64_t)op->bounce_len, r->len - op->done);
                struct vhdx_extent e;
                int k;
                if (zeroes) { /* what reads as zeros already stays unallocated */
                        if ((k = vhdx_map_chain(d->vhdx, voff, chunk, &e)) < 0)
                                return finish(op, k);
                        if (e.kind == VHDX_EXT_ZERO) {
                                op->done += e.len;
                                continue;
                        }
                        chunk = e.len;
                }
                bool alloc = false;
                if ((k = vhdx_map_write(d->vhdx, voff, chunk, &e, &alloc)) < 0)
                        return finish(op, k);
                op->meta_dirty |= alloc;
                struct io_uring_sqe *sqe = disk_queue_sqe(q, op);
                if (!sqe)
                        return finish(op, -EAGAIN);
                io_uring_prep_write(sqe, d->fd, op->bounce, (unsigned)e.len, e.file_off);
                if (r->fua)
                        sqe->rw_flags = RWF_DSYNC;
                op->seg_fixed = op->file_index >= 0;
                sqe_file(sqe, op);
                return 0;
        }
        if (r->fua && op->meta_dirty) {
                int k = vhdx_commit(d->vhdx);
                if (k < 0)
                        return finish(op, k);
        }
        return finish(op, 0);
}

int disk_vhdx_pattern_advance(struct disk_queue *q, struct disk_op *op, int res) {
        if (res < 0)
                return finish(op, res);
        if (res == 0 || res % (int)op->req.disk->info.block_size)
                return finish(op, -EIO);
        op->done += (unsigned)res;
        return disk_vhdx_pattern_next(q, op);
}

/* Discard: the file's space under the ranges' present extents is given
 * back (a hole reads as zeros: what discard_zeroes promises for a dynamic
 * or fixed image). Inline, like BLKDISCARD: rare, and the file system
 * does it quickly. Differencing images do not discard (a hole would read
 * as zeros, not as the parent). */
int disk_vhdx_discard(struct disk_op *op) {
        struct disk *d = op->req.disk;
        for (unsigned i = 0; i < op->req.n_ranges; i++) {
                uint64_t off = op->ranges[i].offset, left = op->ranges[i].len;
                while (left) {
                        struct vhdx_extent e;
                        int k = vhdx_map(d->vhdx, off, left, &e);
                        if (k < 0)
                                return finish(op, k);
                        if (e.kind == VHDX_EXT_DATA &&
                            fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)e.file_off,
                                      (off_t)e.len) < 0 && errno != EOPNOTSUPP)
                                return finish(op, -errno);
                        off += e.len;
                        left -= e.len;
                }
        }
        return finish(op, 0);
}

/* After a flush's fdatasync: the metadata, now that the data is durable. */
int disk_vhdx_flush_done(struct disk_op *op, int res) {
        if (res < 0)
                return finish(op, res);
        return finish(op, vhdx_commit(op->req.disk->vhdx));
}
