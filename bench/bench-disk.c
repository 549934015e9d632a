// SPDX-License-Identifier: MIT
/* The disk library (disk/, storvsp's backend) on its own
 * (docs/storvsp.md "Performance"): 4 KiB random read and write IOPS at queue depth 1 and 32, and 128 KiB
 * sequential read bandwidth at depth 8, on a raw image file with O_DIRECT.
 * Buffers come from one registered region, as guest RAM would.
 * Baseline, in the same run, on the same image with the same block size,
 * depth and duration: the host's fio with its io_uring engine (O_DIRECT,
 * registered files and fixed buffers: fio's best case).
 *
 * Each workload alternates ours and fio VM_BENCH_ROUNDS times and reports
 * the medians, so that load from other processes on a shared machine hits
 * both sides alike.
 *
 * Environment: VM_BENCH_DIR (image directory, default /var/tmp),
 * VM_BENCH_DISK_MB (image size, default 1024), VM_BENCH_SECONDS (per
 * measurement, default 3), VM_BENCH_ROUNDS (default 3), VM_BENCH_ONLY (run
 * the workloads whose name contains it). */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
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
        bool write, random;
        unsigned bs, depth;
};

static const struct workload workloads[] = {
        { "4k randread qd1", false, true, 4096, 1 },
        { "4k randread qd32", false, true, 4096, 32 },
        { "4k randwrite qd1", true, true, 4096, 1 },
        { "4k randwrite qd32", true, true, 4096, 32 },
        { "128k seqread qd8", false, false, 131072, 8 },
};

static uint64_t image_size;
static double seconds = 3;
static unsigned rounds = 3;

struct offsets {
        const struct workload *w;
        uint64_t state, seq;
};

static uint64_t next_offset(void *ctx) {
        struct offsets *o = ctx;
        uint64_t blocks = image_size / o->w->bs;
        uint64_t b = o->w->random ? bench_xorshift(&o->state) % blocks : o->seq++ % blocks;
        return b * o->w->bs;
}

/* Keeps w->depth requests in flight for `seconds`; returns completions/s. */
static double run_ours(struct disk *d, const struct workload *w, uint8_t *arena) {
        struct disk_queue *q;
        if (disk_queue_new(w->depth, &q) < 0 || disk_queue_register_memory(q, arena, (size_t)w->depth * w->bs) < 0)
                return -1;
        struct offsets o = { .w = w, .state = 0x9e3779b97f4a7c15ull };
        struct disk_request r = { .kind = w->write ? DISK_WRITE : DISK_READ, .disk = d, .len = w->bs };
        double v = bench_disk_load(q, r, w->depth, arena, seconds, next_offset, &o, "bench-disk");
        disk_queue_free(q);
        return v;
}

/* fio on the same image; returns IOPS, or -1 if fio is not there. */
static double run_fio(const char *path, const struct workload *w) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "fio --name=bench --filename='%s' --ioengine=io_uring --direct=1 --rw=%s --bs=%u "
                 "--iodepth=%u --size=%llu --runtime=%g --time_based --registerfiles=1 --fixedbufs=1 "
                 "--randrepeat=0 --norandommap --output-format=json 2>/dev/null",
                 path, w->random ? (w->write ? "randwrite" : "randread") : (w->write ? "write" : "read"), w->bs,
                 w->depth, (unsigned long long)image_size, seconds);
        FILE *p = popen(cmd, "r");
        if (!p)
                return -1;
        static char out[1 << 20];
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        if (pclose(p) != 0)
                return -1;
        const char *json = strchr(out, '{');
        struct json_object *root = json ? json_tokener_parse(json) : NULL, *jobs, *job, *dir, *iops;
        double v = -1;
        if (root && json_object_object_get_ex(root, "jobs", &jobs) && (job = json_object_array_get_idx(jobs, 0)) &&
            json_object_object_get_ex(job, w->write ? "write" : "read", &dir) &&
            json_object_object_get_ex(dir, "iops", &iops))
                v = json_object_get_double(iops);
        json_object_put(root);
        return v;
}

int main(void) {
        const char *base = getenv("VM_BENCH_DIR");
        char path[512];
        image_size = bench_env_u64("VM_BENCH_DISK_MB", 1024) << 20;
        seconds = (double)bench_env_u64("VM_BENCH_SECONDS", 3);
        rounds = (unsigned)CLAMP(bench_env_u64("VM_BENCH_ROUNDS", 3), 1, 9);
        snprintf(path, sizeof path, "%s/bench-disk-%d.img", base && *base ? base : "/var/tmp", (int)getpid());
        int r = bench_make_image(path, image_size);
        if (r < 0) {
                fprintf(stderr, "bench-disk: cannot create %s: %s\n", path, strerror(-r));
                return 1;
        }
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .no_lock = true };
        struct disk *d;
        uint8_t *arena;
        if (disk_open(&o, &d) < 0 || posix_memalign((void **)&arena, 4096, 32 * 131072) != 0) {
                unlink(path);
                return 1;
        }
        struct disk_info info;
        disk_get_info(d, &info);
        if (!info.direct)
                fprintf(stderr, "bench-disk: no O_DIRECT (%s): figures include the page cache\n", info.note);
        for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
                const struct workload *w = &workloads[i];
                const char *only = getenv("VM_BENCH_ONLY");
                if (only && *only && !strstr(w->name, only))
                        continue;
                double ours_v[9], fio_v[9];
                for (unsigned k = 0; k < rounds; k++) {
                        ours_v[k] = run_ours(d, w, arena);
                        fio_v[k] = run_fio(path, w);
                }
                double ours = bench_median(ours_v, rounds), fio = bench_median(fio_v, rounds);
                char metric[96];
                if (w->random) {
                        snprintf(metric, sizeof metric, "disk backend %s IOPS", w->name);
                        bench_result(metric, ours, fio, "IOPS", ">= 0.9x fio", "higher");
                } else {
                        snprintf(metric, sizeof metric, "disk backend %s MB/s", w->name);
                        double mb = (double)w->bs / 1e6;
                        bench_result(metric, ours * mb, fio < 0 ? -1 : fio * mb, "MB/s", ">= 0.9x fio", "higher");
                }
        }
        disk_unref(d);
        free(arena);
        unlink(path);
        return 0;
}
