// SPDX-License-Identifier: MIT
/* Storage QoS in the disk queue (disk/qos.h, docs/storvsp.md "Storage
 * QoS"): a request the disk's maximum holds stays in its queue, owning its
 * op (in flight for the caller and the queue-depth limit), and starts from
 * a later reap. The wake-up is an IORING_OP_TIMEOUT at the earliest held
 * time (absolute, CLOCK_MONOTONIC): its completion signals the queue's
 * eventfd, so the owner's event loop (storvsp's channel worker, the IDE
 * service thread) wakes as it does for any completion; nothing spins. */
#include <errno.h>
#include <time.h>

#include "common/macro.h"
#include "disk-internal.h"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void disk_qos_init(struct disk *d) {
        pthread_mutex_init(&d->qos_lock, NULL);
}

void disk_qos_destroy(struct disk *d) {
        pthread_mutex_destroy(&d->qos_lock);
}

int disk_set_qos(struct disk *d, const struct disk_qos_limits *l, char *err, size_t errlen) {
        int r = disk_qos_limits_check(l, err, errlen);
        if (r < 0)
                return r;
        uint64_t now = now_ns();
        pthread_mutex_lock(&d->qos_lock);
        disk_qos_bucket_set(&d->qos, l, now);
        __atomic_store_n(&d->qos_gen, d->qos.gen, __ATOMIC_RELEASE);
        struct disk_qos_sample ignored;
        disk_qos_meter_sample(&d->meter, now, 0, &ignored); /* a new window from now */
        __atomic_store_n(&d->qos_on, disk_qos_limits_throttle(l) || l->min_iops, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&d->qos_lock);
        return 0;
}

void disk_get_qos(struct disk *d, struct disk_qos_limits *l) {
        pthread_mutex_lock(&d->qos_lock);
        *l = d->qos.lim;
        pthread_mutex_unlock(&d->qos_lock);
}

void disk_sample_qos(struct disk *d, struct disk_qos_sample *s) {
        uint64_t now = now_ns();
        pthread_mutex_lock(&d->qos_lock);
        disk_qos_meter_sample(&d->meter, now, d->qos.lim.min_iops, s);
        pthread_mutex_unlock(&d->qos_lock);
}

/* What a request costs: its data for reads, writes and write-same (which
 * writes it), nothing but one I/O for the rest. */
static uint64_t request_bytes(const struct disk_request *r) {
        switch (r->kind) {
        case DISK_READ:
        case DISK_WRITE:
        case DISK_WRITE_SAME:
                return r->len;
        default:
                return 0;
        }
}

/* Reserves the op's time under the disk's lock (and counts it outstanding
 * on the first call); returns when it may start. */
static uint64_t reserve(struct disk_op *op, uint64_t now, bool first) {
        struct disk *d = op->req.disk;
        pthread_mutex_lock(&d->qos_lock);
        uint64_t at = disk_qos_bucket_reserve(&d->qos, now, request_bytes(&op->req));
        op->qos_gen = d->qos.gen;
        if (first && d->qos.lim.min_iops) {
                disk_qos_meter_start(&d->meter, now);
                op->qos_metered = true;
        }
        pthread_mutex_unlock(&d->qos_lock);
        return at;
}

void disk_throttle_done(struct disk_op *op) {
        if (!op->qos_metered)
                return;
        struct disk *d = op->req.disk;
        pthread_mutex_lock(&d->qos_lock);
        disk_qos_meter_done(&d->meter, now_ns(), disk_qos_units(request_bytes(&op->req)));
        pthread_mutex_unlock(&d->qos_lock);
        op->qos_metered = false;
}

/* The timer at the earliest held time, capped so that held requests see a
 * change of the limits; an armed one is moved, never doubled. Submitted
 * at once: the kernel reads timer_ts then. false if no SQE was free. */
static bool arm(struct disk_queue *q, uint64_t at, uint64_t now) {
        at = MIN(at, now + DISK_QOS_RECHECK_NS);
        if (q->timer_armed && q->timer_at <= at)
                return true;
        struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
        if (!sqe) {
                (void)disk_queue_submit(q);
                if (!(sqe = io_uring_get_sqe(&q->ring)))
                        return false;
        }
        q->timer_ts = (struct __kernel_timespec){ .tv_sec = (long long)(at / 1000000000ull),
                                                  .tv_nsec = (long long)(at % 1000000000ull) };
        if (q->timer_armed) {
                io_uring_prep_timeout_update(sqe, &q->timer_ts, DISK_QUEUE_TIMER, IORING_TIMEOUT_ABS);
                io_uring_sqe_set_data64(sqe, DISK_QUEUE_TIMER_UPDATE);
        } else {
                io_uring_prep_timeout(sqe, &q->timer_ts, 0, IORING_TIMEOUT_ABS);
                io_uring_sqe_set_data64(sqe, DISK_QUEUE_TIMER);
        }
        q->unsubmitted++;
        q->timer_armed = true;
        q->timer_at = at;
        (void)disk_queue_submit(q);
        return true;
}

bool disk_throttle_prep(struct disk_queue *q, struct disk_op *op) {
        if (!__atomic_load_n(&op->req.disk->qos_on, __ATOMIC_ACQUIRE))
                return false;
        uint64_t now = now_ns();
        op->qos_at = reserve(op, now, true);
        if (op->qos_at <= now || !arm(q, op->qos_at, now))
                return false; /* no SQE for the timer (cannot happen): over the cap once, never stuck */
        q->held[q->n_held++] = (unsigned)(op - q->ops);
        q->stats.throttled++;
        return true;
}

void disk_throttle_release(struct disk_queue *q, bool all) {
        uint64_t now = now_ns(), next = UINT64_MAX;
        unsigned keep = 0, n = q->n_held;
        q->n_held = 0; /* an op started below cannot be held again */
        for (unsigned i = 0; i < n; i++) {
                struct disk_op *op = &q->ops[q->held[i]];
                if (!all && op->qos_gen != __atomic_load_n(&op->req.disk->qos_gen, __ATOMIC_ACQUIRE))
                        op->qos_at = reserve(op, now, false); /* the limits changed */
                if (all || op->qos_at <= now) {
                        disk_queue_run_op(q, op);
                        continue;
                }
                q->held[keep++] = q->held[i];
                next = MIN(next, op->qos_at);
        }
        q->n_held = keep;
        if (keep && !arm(q, next, now)) /* cannot happen: start them rather than strand them */
                disk_throttle_release(q, true);
}

void disk_throttle_timer_cqe(struct disk_queue *q, uint64_t user_data) {
        /* The timeout's own completion (-ETIME when it fired, -ECANCELED at
         * the queue's end); an update's completion changes nothing (its
         * -ENOENT means the timeout had fired: its CQE says so). */
        if (user_data == DISK_QUEUE_TIMER)
                q->timer_armed = false;
}
