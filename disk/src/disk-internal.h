/* SPDX-License-Identifier: MIT */
/* Private state of the disk library (disk.c, queue.c, ops.c, vhdx.c, copy.c, merge.c). */
#pragma once

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "disk/disk.h"
#include "disk/qos.h"
#include "vhdx/vhdx.h"

struct disk {
        int refs; /* atomic */
        /* Bumped when fd changes (disk_push_image): a queue that registered
         * the old file re-registers at its next use, on its own thread. */
        unsigned fd_gen;
        int fd;
        bool locked; /* holds the image's flock */
        bool deferred; /* VHDX opened for inspection: disk_activate before any request */
        int uring_refs; /* atomic: io_urings that have the file registered */
        struct disk_info info;
        char note[160];
        struct vhdx *vhdx; /* VHDX: the image (NULL: raw) */
        struct vhdx *parents[DISK_MAX_PARENTS]; /* its chain, nearest first */
        int parent_fds[DISK_MAX_PARENTS];
        unsigned n_parents;
        /* Write tracking (copy.c): one bit per DISK_TRACK_CHUNK, set
         * atomically by the queue threads while tracking is on. */
        uint64_t *track;
        bool tracking;
        struct disk_io_stats io; /* iostat.c: relaxed atomics */
        /* Storage QoS (throttle.c): every queue running requests on the
         * disk reserves and meters under qos_lock; qos_on (atomic) is the
         * one load a request pays when the disk has no QoS. */
        pthread_mutex_t qos_lock;
        bool qos_on;
        unsigned qos_gen; /* atomic copy of qos.gen, for held requests */
        struct disk_qos_bucket qos;
        struct disk_qos_meter meter;
};

/* One request in flight. A request may take several SQEs one after the
 * other (short transfers, discard ranges, write-same chunks, write-zeroes
 * fallback, a flush after a write-through fallocate), never two at once. */
struct disk_op {
        struct disk_request req; /* iov points to the caller's vector */
        uint64_t done;           /* bytes finished */
        void *bounce;            /* O_DIRECT-aligned copy of the data, or a pattern chunk */
        size_t bounce_len;
        struct iovec *iov_rest;  /* remaining vector after a short transfer */
        unsigned iov_rest_cnt;
        struct disk_range *ranges; /* DISCARD: private copy */
        unsigned range_next;
        bool flush_after;        /* write-through fallocate: fdatasync at the end */
        bool flushing;
        bool zero_fallback;      /* WRITE_ZEROES became a write of zeros */
        bool in_use;
        int fixed_index;         /* fixed buffer index, or -1 */
        int file_index;          /* registered file slot, or -1 */
        int final_res;
        /* VHDX: the extent in flight (vhdx.c) */
        uint64_t seg_file_off;
        uint64_t seg_len, seg_done;
        int seg_fd;
        bool seg_fixed;          /* seg_fd is the registered top image */
        bool meta_dirty;         /* the request allocated: FUA commits */
        uint64_t start_ns;       /* iostat.c: when it was prepared */
        /* Storage QoS (throttle.c) */
        uint64_t qos_at;         /* held: when it may start */
        unsigned qos_gen;        /* the bucket's gen it reserved under */
        bool qos_metered;        /* counted in the disk's meter: uncount at completion */
};

struct disk_fixed_region {
        uint8_t *base;
        size_t len;
};

struct disk_queue {
        struct io_uring ring;
        bool ring_ok;
        unsigned depth;
        struct disk_op *ops;
        unsigned *free_ops; /* stack of free op indices */
        unsigned n_free;
        unsigned *ready;    /* ops completed without a CQE, FIFO */
        unsigned ready_head, ready_count;
        unsigned unsubmitted; /* SQEs prepared since the last submit */
        struct disk *files[DISK_QUEUE_MAX_FILES];
        unsigned files_gen[DISK_QUEUE_MAX_FILES]; /* the disk's fd_gen when its slot was filled */
        bool files_registered;
        struct disk_fixed_region fixed[DISK_QUEUE_MAX_FIXED];
        unsigned n_fixed;
        int efd;
        unsigned *held;     /* ops waiting for their QoS time, in arrival order */
        unsigned n_held;
        bool timer_armed;   /* an IORING_OP_TIMEOUT for timer_at is in the ring */
        uint64_t timer_at;
        struct __kernel_timespec timer_ts; /* read by the kernel at submission */
        disk_fault_fn fault;
        void *fault_opaque;
        struct disk_queue_stats stats;
};

/* ops.c: starts (or continues) an op; returns 0 when an SQE was
 * queued, 1 when the op is finished (op->final_res set). */
int disk_op_start(struct disk_queue *q, struct disk_op *op);
int disk_op_advance(struct disk_queue *q, struct disk_op *op, int res);
void disk_op_release(struct disk_op *op);

/* queue.c: starts an op (prepared, or held and now due) */
void disk_queue_run_op(struct disk_queue *q, struct disk_op *op);
/* user_data of the QoS timer's SQEs (never an op index) */
#define DISK_QUEUE_TIMER UINT64_MAX
#define DISK_QUEUE_TIMER_UPDATE (UINT64_MAX - 1)

/* throttle.c: Storage QoS in the queue. prep: true if the op was held
 * (it starts later, from disk_throttle_release). */
bool disk_throttle_prep(struct disk_queue *q, struct disk_op *op);
/* Starts the held ops that are due (all: every one, for a caller that
 * waits for the queue to drain), re-reserving those a change of the
 * limits caught; arms the timer for the rest. */
void disk_throttle_release(struct disk_queue *q, bool all);
void disk_throttle_timer_cqe(struct disk_queue *q, uint64_t user_data);
void disk_throttle_done(struct disk_op *op);
void disk_qos_init(struct disk *d);
void disk_qos_destroy(struct disk *d);

/* queue.c helpers used by ops.c */
struct io_uring_sqe *disk_queue_sqe(struct disk_queue *q, struct disk_op *op);
int disk_queue_fixed_index(const struct disk_queue *q, const void *base, size_t len);

/* disk.c */
bool disk_iov_direct_ok(const struct disk *d, const struct iovec *iov, unsigned n);
void disk_note(struct disk *d, const char *msg);
/* O_DIRECT on or off: 0 or -errno. */
int disk_set_direct(int fd, bool on);

/* ops.c */
void disk_iov_copy(void *dst, const struct iovec *iov, unsigned n, size_t len, bool to_iov);

/* iostat.c: the op starts (its time) and ends (counted on its disk,
 * with the result the user gets). */
void disk_iostat_start(struct disk_op *op);
void disk_iostat_done(const struct disk_op *op, int res);

/* copy.c: marks what a finished request may have changed (tracking on). */
void disk_track_op(const struct disk_op *op);

/* vhdx.c: the VHDX image and its chain (d->fd is open and locked) */
int disk_vhdx_open(struct disk *d, const struct disk_options *o);
void disk_vhdx_close(struct disk *d);
int disk_vhdx_rw_start(struct disk_queue *q, struct disk_op *op);
int disk_vhdx_rw_advance(struct disk_queue *q, struct disk_op *op, int res);
int disk_vhdx_pattern_next(struct disk_queue *q, struct disk_op *op);
int disk_vhdx_pattern_advance(struct disk_queue *q, struct disk_op *op, int res);
int disk_vhdx_discard(struct disk_op *op);
int disk_vhdx_flush_done(struct disk_op *op, int res);
