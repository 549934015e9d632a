// SPDX-License-Identifier: MIT
/* The io_uring queue of the disk backend: a fixed table of ops (the
 * queue-depth limit), registered files, fixed buffers, batched submission
 * and batched reaping of completions. One queue belongs to one thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/macro.h"
#include "disk-internal.h"

#define FIXED_CHUNK_MAX (1ull << 30) /* io_uring: one fixed buffer <= 1 GiB */

int disk_queue_new(unsigned depth, struct disk_queue **out) {
        if (depth == 0 || depth > DISK_QUEUE_MAX_DEPTH)
                return -EINVAL;
        struct disk_queue *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->efd = -1;
        q->depth = depth;
        q->ops = calloc(depth, sizeof *q->ops);
        q->free_ops = calloc(depth, sizeof *q->free_ops);
        q->ready = calloc(depth, sizeof *q->ready);
        q->held = calloc(depth, sizeof *q->held);
        if (!q->ops || !q->free_ops || !q->ready || !q->held) {
                disk_queue_free(q);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < depth; i++)
                q->free_ops[i] = depth - 1 - i;
        q->n_free = depth;

        /* SUBMIT_ALL: one bad SQE does not stop the batch; COOP_TASKRUN:
         * no IPI to this thread for completions (we poll/wait ourselves);
         * TASKRUN_FLAG: the kernel says when completions wait for us to
         * enter it (disk_queue_drain_cq). */
        struct io_uring_params p = { .flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
                                              IORING_SETUP_TASKRUN_FLAG };
        int r = io_uring_queue_init_params(depth, &q->ring, &p);
        if (r == -EINVAL) {
                memset(&p, 0, sizeof p);
                r = io_uring_queue_init_params(depth, &q->ring, &p);
        }
        if (r < 0) {
                disk_queue_free(q);
                return r;
        }
        q->ring_ok = true;
        /* a sparse table so disks can come and go (hot add/remove) */
        q->files_registered = io_uring_register_files_sparse(&q->ring, DISK_QUEUE_MAX_FILES) == 0;
        *out = q;
        return 0;
}

void disk_queue_free(struct disk_queue *q) {
        if (!q)
                return;
        if (q->ring_ok) {
                struct disk_completion c[16];
                while (disk_queue_inflight(q) > 0 && disk_queue_reap(q, c, ARRAY_SIZE(c), 1) >= 0)
                        ;
                /* Unregistering puts the ring's file references now, on this
                 * thread; io_uring_queue_exit alone would leave them to the
                 * ring's asynchronous teardown (and the images' flocks with
                 * them, see disk_unref). */
                if (q->files_registered && io_uring_unregister_files(&q->ring) == 0)
                        for (unsigned i = 0; i < DISK_QUEUE_MAX_FILES; i++)
                                if (q->files[i])
                                        __atomic_sub_fetch(&q->files[i]->uring_refs, 1, __ATOMIC_ACQ_REL);
                io_uring_queue_exit(&q->ring);
        }
        for (unsigned i = 0; i < DISK_QUEUE_MAX_FILES; i++)
                disk_unref(q->files[i]);
        if (q->ops)
                for (unsigned i = 0; i < q->depth; i++)
                        disk_op_release(&q->ops[i]);
        safe_close(q->efd);
        free(q->ops);
        free(q->free_ops);
        free(q->ready);
        free(q->held);
        free(q);
}

unsigned disk_queue_inflight(const struct disk_queue *q) {
        return q->depth - q->n_free;
}

int disk_queue_eventfd(struct disk_queue *q) {
        if (q->efd >= 0)
                return q->efd;
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
                return -errno;
        int r = io_uring_register_eventfd(&q->ring, fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        q->efd = fd;
        return fd;
}

/* The registered-file slot of a disk, registering it on first use. */
static int disk_queue_file_index(struct disk_queue *q, struct disk *d) {
        if (!q->files_registered)
                return -1;
        int free_slot = -1;
        for (unsigned i = 0; i < DISK_QUEUE_MAX_FILES; i++) {
                if (q->files[i] == d && q->files_gen[i] == d->fd_gen)
                        return (int)i;
                if (q->files[i] == d) { /* the disk moved to another image (a checkpoint) */
                        if (io_uring_register_files_update(&q->ring, i, &d->fd, 1) != 1)
                                return -1;
                        q->files_gen[i] = d->fd_gen;
                        return (int)i;
                }
                if (!q->files[i] && free_slot < 0)
                        free_slot = (int)i;
        }
        if (free_slot < 0 || io_uring_register_files_update(&q->ring, (unsigned)free_slot, &d->fd, 1) != 1)
                return -1; /* fall back to the plain fd */
        q->files_gen[free_slot] = d->fd_gen;
        q->files[free_slot] = disk_ref(d);
        __atomic_add_fetch(&d->uring_refs, 1, __ATOMIC_ACQ_REL);
        return free_slot;
}

int disk_queue_forget_disk(struct disk_queue *q, struct disk *d) {
        for (unsigned i = 0; i < q->depth; i++)
                if (q->ops[i].in_use && q->ops[i].req.disk == d)
                        return -EBUSY;
        for (unsigned i = 0; i < DISK_QUEUE_MAX_FILES; i++) {
                if (q->files[i] != d)
                        continue;
                int none = -1;
                if (io_uring_register_files_update(&q->ring, i, &none, 1) == 1)
                        __atomic_sub_fetch(&d->uring_refs, 1, __ATOMIC_ACQ_REL);
                disk_unref(TAKE_PTR(q->files[i]));
        }
        return 0;
}

int disk_queue_register_memory(struct disk_queue *q, void *base, size_t len) {
        uint8_t *p = base;
        size_t n_chunks = DIV_ROUND_UP(len, FIXED_CHUNK_MAX);
        if (!base || len == 0 || q->n_fixed + n_chunks > DISK_QUEUE_MAX_FIXED)
                return -EINVAL;
        /* Re-register the whole table: io_uring has no "append". */
        struct iovec iov[DISK_QUEUE_MAX_FIXED];
        unsigned n = q->n_fixed;
        for (unsigned i = 0; i < n; i++)
                iov[i] = (struct iovec){ q->fixed[i].base, q->fixed[i].len };
        for (size_t off = 0; off < len; off += FIXED_CHUNK_MAX, n++)
                iov[n] = (struct iovec){ p + off, MIN(len - off, (size_t)FIXED_CHUNK_MAX) };
        if (q->n_fixed)
                (void)io_uring_unregister_buffers(&q->ring);
        int r = io_uring_register_buffers(&q->ring, iov, n);
        if (r < 0) {
                if (q->n_fixed) /* restore the previous table */
                        (void)io_uring_register_buffers(&q->ring, iov, q->n_fixed);
                return r;
        }
        for (unsigned i = q->n_fixed; i < n; i++)
                q->fixed[i] = (struct disk_fixed_region){ iov[i].iov_base, iov[i].iov_len };
        q->n_fixed = n;
        return 0;
}

int disk_queue_fixed_index(const struct disk_queue *q, const void *base, size_t len) {
        const uint8_t *p = base;
        for (unsigned i = 0; i < q->n_fixed; i++)
                if (p >= q->fixed[i].base && len <= q->fixed[i].len &&
                    (size_t)(p - q->fixed[i].base) <= q->fixed[i].len - len)
                        return (int)i;
        return -1;
}

struct io_uring_sqe *disk_queue_sqe(struct disk_queue *q, struct disk_op *op) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
        if (!sqe) /* cannot happen: each op holds at most one SQE and ops <= SQ entries */
                return NULL;
        io_uring_sqe_set_data64(sqe, (uint64_t)(op - q->ops));
        q->unsubmitted++;
        return sqe;
}

static void disk_queue_finish(struct disk_queue *q, struct disk_op *op) {
        disk_track_op(op); /* a migration copying the disk reads these chunks again */
        /* FIFO of completions that need no CQE (or whose last CQE was reaped) */
        q->ready[(q->ready_head + q->ready_count) % q->depth] = (unsigned)(op - q->ops);
        q->ready_count++;
}

static bool request_valid(const struct disk_request *r) {
        if (!r->disk)
                return false;
        switch (r->kind) {
        case DISK_READ:
        case DISK_WRITE:
                return r->iovcnt > 0 && r->iov && r->len > 0;
        case DISK_FLUSH:
                return true;
        case DISK_DISCARD:
                return r->n_ranges <= DISK_MAX_RANGES && (r->n_ranges == 0 || r->ranges);
        case DISK_WRITE_ZEROES:
                return r->len > 0;
        case DISK_WRITE_SAME:
                return r->len > 0 && r->pattern;
        }
        return false;
}

int disk_queue_prep(struct disk_queue *q, const struct disk_request *r) {
        if (!r || !request_valid(r))
                return -EINVAL;
        if (q->n_free == 0)
                return -EBUSY;
        struct disk_op *op = &q->ops[q->free_ops[--q->n_free]];
        memset(op, 0, sizeof *op);
        op->in_use = true;
        op->req = *r;
        op->fixed_index = -1;
        op->file_index = disk_queue_file_index(q, r->disk);
        disk_iostat_start(op);
        q->stats.requests++;
        if (!disk_throttle_prep(q, op)) /* Storage QoS may hold it */
                disk_queue_run_op(q, op);
        return 0;
}

void disk_queue_run_op(struct disk_queue *q, struct disk_op *op) {
        if (disk_op_start(q, op) != 0)
                disk_queue_finish(q, op);
}

int disk_queue_submit(struct disk_queue *q) {
        if (q->unsubmitted == 0)
                return 0;
        int r = io_uring_submit(&q->ring);
        q->stats.submit_calls++;
        if (r > 0) {
                q->stats.sqes += (unsigned)r;
                q->unsubmitted -= MIN(q->unsubmitted, (unsigned)r);
        }
        return r;
}

/* Handles one CQE: continue the op or finish it. */
static void disk_queue_cqe(struct disk_queue *q, const struct io_uring_cqe *cqe) {
        uint64_t idx = io_uring_cqe_get_data64(cqe);
        if (idx == DISK_QUEUE_TIMER || idx == DISK_QUEUE_TIMER_UPDATE) {
                disk_throttle_timer_cqe(q, idx);
                return;
        }
        if (idx >= q->depth || !q->ops[idx].in_use)
                return;
        struct disk_op *op = &q->ops[idx];
        if (disk_op_advance(q, op, cqe->res) != 0)
                disk_queue_finish(q, op);
}

static unsigned disk_queue_drain_cq(struct disk_queue *q) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        /* With COOP_TASKRUN a finished read or write that needs task work
         * reaches the CQ ring only when this thread enters the kernel (or
         * at the next interrupt's return to user space, up to a tick
         * later): a poller that only peeks at the ring would wait that
         * long. */
        if (IO_URING_READ_ONCE(*q->ring.sq.kflags) & IORING_SQ_TASKRUN) {
                (void)io_uring_get_events(&q->ring);
                q->stats.get_events++;
        }
        io_uring_for_each_cqe(&q->ring, head, cqe) {
                disk_queue_cqe(q, cqe);
                n++;
        }
        io_uring_cq_advance(&q->ring, n);
        return n;
}

static int disk_queue_pop_ready(struct disk_queue *q, struct disk_completion *c) {
        struct disk_op *op = &q->ops[q->ready[q->ready_head]];
        q->ready_head = (q->ready_head + 1) % q->depth;
        q->ready_count--;
        int res = op->final_res;
        if (q->fault)
                res = q->fault(q->fault_opaque, &op->req, res);
        disk_iostat_done(op, res);
        c->user_data = op->req.user_data;
        c->res = res;
        disk_throttle_done(op);
        disk_op_release(op);
        op->in_use = false;
        q->free_ops[q->n_free++] = (unsigned)(op - q->ops);
        q->stats.completions++;
        return 0;
}

int disk_queue_reap(struct disk_queue *q, struct disk_completion *out, unsigned max, unsigned min_wait) {
        unsigned got = 0;
        for (;;) {
                disk_queue_drain_cq(q);
                if (q->n_held) /* due now, or all of them for a caller that waits */
                        disk_throttle_release(q, min_wait > 0);
                while (q->ready_count && got < max)
                        disk_queue_pop_ready(q, &out[got++]);
                if (got >= min_wait || got >= max || disk_queue_inflight(q) == 0) {
                        if (q->unsubmitted) /* continuations queued while draining */
                                (void)disk_queue_submit(q);
                        return (int)got;
                }
                int r;
                if (q->unsubmitted) {
                        /* submit what is prepared and wait, in one system call */
                        r = io_uring_submit_and_wait(&q->ring, 1);
                        q->stats.submit_calls++;
                        if (r > 0) {
                                q->stats.sqes += (unsigned)r;
                                q->unsubmitted -= MIN(q->unsubmitted, (unsigned)r);
                        }
                } else {
                        struct io_uring_cqe *cqe;
                        r = io_uring_wait_cqe(&q->ring, &cqe);
                }
                if (r < 0 && r != -EINTR && r != -ETIME && r != -EAGAIN)
                        return got ? (int)got : r;
        }
}

void disk_queue_get_stats(const struct disk_queue *q, struct disk_queue_stats *s) {
        *s = q->stats;
}

void disk_queue_set_fault_hook(struct disk_queue *q, disk_fault_fn fn, void *opaque) {
        q->fault = fn;
        q->fault_opaque = opaque;
}
