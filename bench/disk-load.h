/* SPDX-License-Identifier: MIT */
/* The disk benchmarks' load (bench-disk, bench-disk-qos): one queue kept
 * full of one kind of request for a while. Header-only. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#include "bench.h"
#include "disk/disk.h"

#define BENCH_DISK_DEPTH_MAX 32u

/* Keeps depth (at most BENCH_DISK_DEPTH_MAX) requests like r (kind, disk,
 * len) in flight on q for `seconds`, request i on arena + i * r.len, each
 * at the offset next(ctx) gives, until the time is up or a reap fails;
 * returns completions/s. who (NULL: none) names the benchmark in a line
 * for each completion whose result is not r.len. */
static inline double bench_disk_load(struct disk_queue *q, struct disk_request r, unsigned depth, uint8_t *arena,
                                     double seconds, uint64_t (*next)(void *ctx), void *ctx, const char *who) {
        struct iovec iov[BENCH_DISK_DEPTH_MAX];
        struct disk_completion c[BENCH_DISK_DEPTH_MAX];
        uint64_t done = 0;
        r.iovcnt = 1;
        for (unsigned i = 0; i < depth; i++) {
                iov[i] = (struct iovec){ arena + (size_t)i * r.len, r.len };
                r.iov = &iov[i];
                r.user_data = i;
                r.offset = next(ctx);
                disk_queue_prep(q, &r);
        }
        uint64_t start = bench_now_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
        while (now < end) {
                int n = disk_queue_reap(q, c, depth, 1);
                if (n <= 0)
                        break;
                for (int i = 0; i < n; i++) {
                        if (who && c[i].res != (int)r.len)
                                fprintf(stderr, "%s: I/O error %d\n", who, c[i].res);
                        r.iov = &iov[c[i].user_data];
                        r.user_data = c[i].user_data;
                        r.offset = next(ctx);
                        disk_queue_prep(q, &r);
                }
                /* the next reap submits the whole batch and waits, one syscall */
                done += (unsigned)n;
                now = bench_now_ns();
        }
        return (double)done / ((double)(now - start) / 1e9);
}
