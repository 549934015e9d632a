// SPDX-License-Identifier: MIT
/* VHDX in the disk backend (docs/vhdx.md "Performance") beside QEMU's own
 * VHDX driver, measured by `qemu-img bench` (io_uring, cache=none: QEMU's
 * best case) on images of the same kind in the same run, and beside our
 * backend on a raw image (what the format costs us).
 *
 * The access pattern is qemu-img bench's: `count` requests of `bs` bytes,
 * `depth` in flight, each at the previous offset plus a step (1 MiB + 4 KiB,
 * wrapping at the end of the disk), so every request lands in another
 * block; ours issues the same offsets in the same order.
 *
 *   4k write qd32, empty dynamic image: every request allocates a block
 *     (QEMU writes each new BAT entry through its log at once; we commit
 *     at the flush, which is included in our time)
 *   4k write qd32, allocated image; 4k read qd32, allocated image
 *   4k read qd32: ours on VHDX against ours on raw
 *
 * Environment: VM_BENCH_DIR (default /var/tmp), VM_BENCH_DISK_MB (default
 * 256), VM_BENCH_COUNT (requests per run, default 20000), VM_BENCH_ROUNDS
 * (default 3). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"
#include "common/macro.h"
#include "disk/disk.h"
#include "vhdx/vhdx.h"

#define STEP ((1u << 20) + 4096u)
#define DEPTH 32u
#define BS 4096u

static uint64_t disk_size;
static unsigned count = 20000, rounds = 3;
static char dir[256];

static int make_vhdx(const char *path) {
        unlink(path);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        char err[256];
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = disk_size, .block_size = 1u << 20 };
        int r = vhdx_create(fd, &o, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "bench-vhdx: %s\n", err);
        close(fd);
        return r;
}

static int make_raw(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        uint8_t *buf = calloc(1, 1 << 20);
        int r = 0;
        for (uint64_t off = 0; buf && r == 0 && off < disk_size; off += 1 << 20)
                if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
                        r = -EIO;
        free(buf);
        close(fd);
        return buf ? r : -ENOMEM;
}

static uint64_t next_off(uint64_t *off) {
        uint64_t o = *off;
        *off += STEP;
        if (*off + BS > disk_size)
                *off = 0;
        return o;
}

/* count requests, DEPTH in flight, and a flush when writing; requests/s. */
static double run_ours(const char *path, enum disk_format fmt, bool write) {
        struct disk_options o = { .path = path, .fd = -1, .format = fmt, .no_lock = true };
        struct disk *d;
        struct disk_queue *q;
        uint8_t *arena;
        if (disk_open(&o, &d) < 0)
                return -1;
        if (disk_queue_new(DEPTH, &q) < 0 || posix_memalign((void **)&arena, 4096, DEPTH * BS) != 0) {
                disk_unref(d);
                return -1;
        }
        memset(arena, 0x5a, DEPTH * BS);
        struct iovec iov[DEPTH];
        struct disk_completion c[DEPTH];
        struct disk_request r = { .kind = write ? DISK_WRITE : DISK_READ, .disk = d, .len = BS, .iovcnt = 1 };
        uint64_t off = 0, start = bench_now_ns();
        unsigned issued = 0, done = 0;
        for (; issued < DEPTH && issued < count; issued++) {
                iov[issued] = (struct iovec){ arena + (size_t)issued * BS, BS };
                r.iov = &iov[issued], r.user_data = issued, r.offset = next_off(&off);
                disk_queue_prep(q, &r);
        }
        while (done < count) {
                int n = disk_queue_reap(q, c, DEPTH, 1);
                if (n <= 0)
                        break;
                for (int i = 0; i < n; i++, done++) {
                        if (c[i].res != (int)BS)
                                fprintf(stderr, "bench-vhdx: I/O error %d\n", c[i].res);
                        if (issued < count) {
                                r.iov = &iov[c[i].user_data], r.user_data = c[i].user_data, r.offset = next_off(&off);
                                disk_queue_prep(q, &r);
                                issued++;
                        }
                }
        }
        if (write) {
                struct disk_request f = { .kind = DISK_FLUSH, .disk = d };
                disk_queue_prep(q, &f);
                disk_queue_reap(q, c, 1, 1);
        }
        double t = (double)(bench_now_ns() - start) / 1e9;
        disk_queue_free(q);
        disk_unref(d);
        free(arena);
        return done / t;
}

/* qemu-img bench: the same pattern; requests/s from its "Run completed in". */
static double run_qemu(const char *path, bool write) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "qemu-img bench -f vhdx -t none -i io_uring -c %u -d %u -s %u -S %u %s '%s' 2>&1", count, DEPTH, BS,
                 STEP, write ? "-w" : "", path);
        FILE *p = popen(cmd, "r");
        if (!p)
                return -1;
        char line[256];
        double secs = -1;
        while (fgets(line, sizeof line, p))
                if (sscanf(line, "Run completed in %lf seconds", &secs) == 1)
                        break;
        while (fgets(line, sizeof line, p))
                ;
        if (pclose(p) != 0 || secs <= 0)
                return -1;
        return count / secs;
}

static void row(const char *metric, double *ours, double *base, const char *target) {
        bench_result(metric, bench_median(ours, rounds), bench_median(base, rounds), "IOPS", target, "higher");
}

int main(void) {
        const char *b = getenv("VM_BENCH_DIR");
        snprintf(dir, sizeof dir, "%s", b && *b ? b : "/var/tmp");
        disk_size = bench_env_u64("VM_BENCH_DISK_MB", 256) << 20;
        count = (unsigned)bench_env_u64("VM_BENCH_COUNT", 20000);
        rounds = (unsigned)CLAMP(bench_env_u64("VM_BENCH_ROUNDS", 3), 1, 9);
        char ours[512], theirs[512], raw[512];
        snprintf(ours, sizeof ours, "%s/bench-vhdx-%d-ours.vhdx", dir, (int)getpid());
        snprintf(theirs, sizeof theirs, "%s/bench-vhdx-%d-qemu.vhdx", dir, (int)getpid());
        snprintf(raw, sizeof raw, "%s/bench-vhdx-%d.raw", dir, (int)getpid());
        bool qemu = system("qemu-img --version >/dev/null 2>&1") == 0;
        if (!qemu)
                fprintf(stderr, "bench-vhdx: no qemu-img: no QEMU column\n");
        double a_o[9], a_q[9], w_o[9], w_q[9], r_o[9], r_q[9], v_o[9], v_r[9];
        for (unsigned k = 0; k < rounds; k++) {
                if (make_vhdx(ours) < 0 || make_vhdx(theirs) < 0 || make_raw(raw) < 0)
                        return 1;
                a_o[k] = run_ours(ours, DISK_FORMAT_VHDX, true);
                a_q[k] = qemu ? run_qemu(theirs, true) : -1;
                w_o[k] = run_ours(ours, DISK_FORMAT_VHDX, true);
                w_q[k] = qemu ? run_qemu(theirs, true) : -1;
                r_o[k] = run_ours(ours, DISK_FORMAT_VHDX, false);
                r_q[k] = qemu ? run_qemu(theirs, false) : -1;
                v_o[k] = run_ours(ours, DISK_FORMAT_VHDX, false);
                v_r[k] = run_ours(raw, DISK_FORMAT_RAW, false);
                fprintf(stderr, "round %u: alloc %.0f/%.0f write %.0f/%.0f read %.0f/%.0f vhdx/raw %.0f/%.0f\n", k,
                        a_o[k], a_q[k], w_o[k], w_q[k], r_o[k], r_q[k], v_o[k], v_r[k]);
        }
        row("vhdx 4k write qd32, each allocating a block (vs QEMU vhdx)", a_o, a_q, ">= 1.0x QEMU");
        row("vhdx 4k write qd32, allocated (vs QEMU vhdx)", w_o, w_q, ">= 1.0x QEMU");
        row("vhdx 4k read qd32, allocated (vs QEMU vhdx)", r_o, r_q, ">= 1.0x QEMU");
        row("vhdx 4k read qd32 (vs our raw)", v_o, v_r, ">= 0.9x raw");
        unlink(ours);
        unlink(theirs);
        unlink(raw);
        return 0;
}
