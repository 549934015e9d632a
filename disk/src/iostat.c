// SPDX-License-Identifier: MIT
/* Per-disk I/O accounting (disk/disk.h disk_io_stats): each request's
 * time from prep to reap, and what it moved, added to its disk's counters
 * when its completion is handed to the user. Several queue threads may
 * run requests of one disk (one per storvsp channel), so the adds are
 * relaxed atomics: no ordering is needed between counters a reader takes
 * one by one, and no lock is taken on the data path. */
#include <time.h>

#include "disk-internal.h"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void add(uint64_t *c, uint64_t v) {
        __atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

void disk_iostat_start(struct disk_op *op) {
        op->start_ns = now_ns();
}

void disk_iostat_done(const struct disk_op *op, int res) {
        struct disk_io_stats *s = &op->req.disk->io;
        uint64_t lat = now_ns() - op->start_ns;
        if (res < 0)
                add(&s->errors, 1);
        switch (op->req.kind) {
        case DISK_READ:
                add(&s->read_ops, 1);
                add(&s->read_latency_ns, lat);
                if (res > 0)
                        add(&s->read_bytes, (uint64_t)res);
                break;
        case DISK_WRITE:
                add(&s->write_ops, 1);
                add(&s->write_latency_ns, lat);
                if (res > 0)
                        add(&s->write_bytes, (uint64_t)res);
                break;
        case DISK_FLUSH:
                add(&s->flush_ops, 1);
                break;
        case DISK_DISCARD:
        case DISK_WRITE_ZEROES:
        case DISK_WRITE_SAME:
                add(&s->other_ops, 1);
                break;
        }
}

void disk_get_io_stats(const struct disk *d, struct disk_io_stats *s) {
        const struct disk_io_stats *io = &d->io;
        *s = (struct disk_io_stats){
                .read_bytes = __atomic_load_n(&io->read_bytes, __ATOMIC_RELAXED),
                .write_bytes = __atomic_load_n(&io->write_bytes, __ATOMIC_RELAXED),
                .read_ops = __atomic_load_n(&io->read_ops, __ATOMIC_RELAXED),
                .write_ops = __atomic_load_n(&io->write_ops, __ATOMIC_RELAXED),
                .flush_ops = __atomic_load_n(&io->flush_ops, __ATOMIC_RELAXED),
                .other_ops = __atomic_load_n(&io->other_ops, __ATOMIC_RELAXED),
                .read_latency_ns = __atomic_load_n(&io->read_latency_ns, __ATOMIC_RELAXED),
                .write_latency_ns = __atomic_load_n(&io->write_latency_ns, __ATOMIC_RELAXED),
                .errors = __atomic_load_n(&io->errors, __ATOMIC_RELAXED),
        };
}
