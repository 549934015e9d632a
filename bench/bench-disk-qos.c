// SPDX-License-Identifier: MIT
/* Storage QoS configured but not binding against none (issue #58, docs/
 * storvsp.md "Storage QoS"): the disk library on its own, 4 KiB random
 * reads and writes at queue depth 1 and 32 on a raw image with O_DIRECT,
 * once with the disk's QoS set far above what the device does (every
 * limit set: max_iops 10 000 000, max_bytes_per_s 1 TB/s, min_iops 1, so
 * each request reserves, is metered and is uncounted) and once with none,
 * alternated VM_BENCH_ROUNDS times on the same disk and queue setup,
 * medians reported. Target: >= 0.98x. Also checks that nothing was held.
 *
 * Environment: VM_BENCH_DIR (image directory, default /var/tmp),
 * VM_BENCH_DISK_MB (image size, default 256), VM_BENCH_SECONDS (per
 * measurement, default 3), VM_BENCH_ROUNDS (default 5). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"
#include "disk-load.h"
#include "common/macro.h"
#include "disk/disk.h"

struct workload {
        const char *name;
        bool write;
        unsigned depth;
};

static const struct workload workloads[] = {
        { "4k randread qd1", false, 1 },
        { "4k randread qd32", false, 32 },
        { "4k randwrite qd1", true, 1 },
        { "4k randwrite qd32", true, 32 },
};

static uint64_t image_size;
static double seconds = 3;

static uint64_t next_offset(void *ctx) {
        uint64_t *state = ctx;
        return bench_xorshift(state) % (image_size / 4096) * 4096;
}

/* Keeps w->depth 4 KiB requests in flight for `seconds`; completions/s.
 * *held: requests the QoS held (must stay 0: not binding). */
static double run(struct disk *d, const struct workload *w, uint8_t *arena, uint64_t *held) {
        struct disk_queue *q;
        if (disk_queue_new(w->depth, &q) < 0 || disk_queue_register_memory(q, arena, (size_t)w->depth * 4096) < 0)
                return -1;
        uint64_t state = 0x9e3779b97f4a7c15ull;
        struct disk_request r = { .kind = w->write ? DISK_WRITE : DISK_READ, .disk = d, .len = 4096 };
        double v = bench_disk_load(q, r, w->depth, arena, seconds, next_offset, &state, NULL);
        struct disk_queue_stats st;
        disk_queue_get_stats(q, &st);
        *held += st.throttled;
        disk_queue_free(q);
        return v;
}

int main(void) {
        const char *base = getenv("VM_BENCH_DIR");
        char path[512];
        image_size = bench_env_u64("VM_BENCH_DISK_MB", 256) << 20;
        seconds = (double)bench_env_u64("VM_BENCH_SECONDS", 3);
        unsigned rounds = (unsigned)CLAMP(bench_env_u64("VM_BENCH_ROUNDS", 5), 1, 9);
        snprintf(path, sizeof path, "%s/bench-disk-qos-%d.img", base && *base ? base : "/var/tmp", (int)getpid());
        int r = bench_make_image(path, image_size);
        if (r < 0) {
                fprintf(stderr, "bench-disk-qos: cannot create %s: %s\n", path, strerror(-r));
                return 1;
        }
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .no_lock = true };
        struct disk *d;
        uint8_t *arena;
        if (disk_open(&o, &d) < 0 || posix_memalign((void **)&arena, 4096, 32 * 4096) != 0) {
                unlink(path);
                return 1;
        }
        const struct disk_qos_limits none = { 0 }, loose = { .max_iops = DISK_QOS_MAX_IOPS,
                                                              .max_bytes_per_s = DISK_QOS_MAX_BYTES_PER_S,
                                                              .min_iops = 1 };
        uint64_t held = 0;
        for (size_t i = 0; i < ARRAY_SIZE(workloads); i++) {
                const struct workload *w = &workloads[i];
                double with[9], without[9];
                for (unsigned k = 0; k < rounds; k++) { /* which goes first alternates too */
                        for (unsigned side = 0; side < 2; side++) {
                                bool qos = (side + k) % 2 == 0;
                                (void)disk_set_qos(d, qos ? &loose : &none, NULL, 0);
                                (qos ? with : without)[k] = run(d, w, arena, &held);
                        }
                }
                char metric[96];
                snprintf(metric, sizeof metric, "disk QoS not binding %s IOPS (vs no QoS)", w->name);
                bench_result(metric, bench_median(with, rounds), bench_median(without, rounds), "IOPS",
                             ">= 0.98x no QoS", "higher");
        }
        if (held)
                fprintf(stderr, "bench-disk-qos: %llu requests were held: the QoS was binding\n",
                        (unsigned long long)held);
        disk_unref(d);
        free(arena);
        unlink(path);
        return held ? 1 : 0;
}
