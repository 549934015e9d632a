// SPDX-License-Identifier: MIT
/* Dynamic Memory (issue #23, docs/dynamic-memory.md) beside QEMU's
 * virtio-balloon in the same run. The guest is our test guest in both
 * (guest-vsc): vsc.mode=balloon speaks hv_balloon's protocol to our
 * worker's Dynamic Memory device, vsc.mode=virtio-balloon drives QEMU's
 * virtio-balloon-device on -M microvm (no firmware); both fill 512 MiB of
 * their 1 GiB first, so the host backs every page the balloon will take,
 * and both answer from CPL3 by polling (a stock kernel on this PVM host
 * runs emulated: it would time the emulator, docs/dynamic-memory.md).
 * Rows, medians over ROUNDS rounds (a fresh VM each round):
 *   - balloon 512 MiB: the host's request to the host seeing it done.
 *     Ours: the worker's "memory" op with a target 512 MiB lower until its
 *     "memory" event says the guest has 512 MiB less and nothing is
 *     outstanding (the pages are punched out of guest RAM by then).
 *     QEMU: QMP balloon until query-balloon's actual is the target.
 *   - what left the process's RSS, in % of 512 MiB (target >= 95 %).
 *   - the balloon's 512 MiB back to the guest (unballoon / deflate).
 *   - ours only: +1 GiB hot-added, the target raised until the guest
 *     accepted the memory (mapped it, wrote a word in every 2 MiB);
 *     virtio-balloon cannot grow a guest past its boot memory. Target
 *     <= 1 s (issue #23 asks for the guest's MemTotal: a Linux guest also
 *     builds its page structures and onlines the blocks, which a stock
 *     kernel does at emulated speed here).
 * QEMU rows are skipped (baseline -) when qemu-system-x86_64 is missing. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "qmp.h"
#include "worker.h"

#define ROUNDS 3
#define GUEST_MIB 1024u
#define BALLOON_MIB 512u
#define HOT_ADD_MIB 1024u
#define MIB (1ull << 20)
#define GUEST_CMDLINE "vsc.balloon.touch_mib=512 vsc.balloon.seconds=120"

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-dm-XXXXXX";

struct round {
        double balloon_ms, rss_pct, unballoon_ms, hot_add_ms;
};

static double ms_since(uint64_t t0) {
        return (double)(bench_now_ns() - t0) / 1e6;
}

/* One side of the comparison: how to move its guest's memory, and the
 * process whose RSS holds that memory. */
struct side {
        bool (*to)(void *ctx, uint64_t bytes); /* true once the guest has `bytes` */
        void *ctx;
        int pid;
};

/* The balloon, the share of it gone from the RSS, and the way back. */
static bool balloon_and_back(const struct side *s, struct round *r) {
        uint64_t full = (uint64_t)GUEST_MIB * MIB, low = full - BALLOON_MIB * MIB;
        long rss0 = bench_vmrss_kib(s->pid);
        uint64_t t0 = bench_now_ns();
        if (!s->to(s->ctx, low))
                return false;
        r->balloon_ms = ms_since(t0);
        long rss1 = bench_vmrss_kib(s->pid);
        r->rss_pct = rss0 > rss1 && rss1 >= 0 ? (double)(rss0 - rss1) * 1024 * 100.0 / (double)(BALLOON_MIB * MIB) : 0;
        t0 = bench_now_ns();
        if (!s->to(s->ctx, full))
                return false;
        r->unballoon_ms = ms_since(t0);
        return true;
}

/* ---- ours: vmwp and its Dynamic Memory device ---- */

static int64_t get_i64(struct json_object *o, const char *k) {
        struct json_object *v;
        return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

/* Sets the worker's target; true once a "memory" event (or the reply)
 * says the guest has those bytes and nothing is outstanding. */
static bool worker_to(void *ctx, uint64_t bytes) {
        static int id = 10;
        struct bench_worker *w = ctx;
        char req[160];
        id++;
        snprintf(req, sizeof req, "{\"op\":\"memory\",\"id\":%d,\"target_bytes\":%llu}", id,
                 (unsigned long long)bytes);
        size_t len = strlen(req);
        if (write(w->sock, req, len) != (ssize_t)len)
                return false;
        uint64_t t0 = bench_now_ns();
        while (ms_since(t0) < 60000) {
                struct json_object *m = bench_worker_recv(w->sock, 1000), *v;
                if (!m)
                        continue;
                bool mine = (json_object_object_get_ex(m, "id", &v) && json_object_get_int(v) == id) ||
                            (json_object_object_get_ex(m, "event", &v) && !strcmp(json_object_get_string(v), "memory"));
                const char *op = json_object_object_get_ex(m, "operation", &v) ? json_object_get_string(v) : "";
                bool done = mine && get_i64(m, "assigned_bytes") == (int64_t)bytes && !strcmp(op, "none");
                if (mine && json_object_object_get_ex(m, "note", &v) && json_object_get_string(v)[0])
                        fprintf(stderr, "bench-dm: the device says: %s\n", json_object_get_string(v));
                json_object_put(m);
                if (done)
                        return true;
        }
        fprintf(stderr, "bench-dm: the guest did not reach %llu MiB within 60 s\n",
                (unsigned long long)(bytes / MIB));
        return false;
}

static bool ours(struct round *r, int n) {
        char cfg[PATH_MAX + 512], serial[PATH_MAX], name[32];
        snprintf(serial, sizeof serial, "%s/dm-%d.serial", dir, n);
        snprintf(name, sizeof name, "dm-%d", n);
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench-dm\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{"
                 "\"kind\":\"pvh\",\"kernel\":\"%s/guest-vsc/guest/vsc-guest.elf\",\"cmdline\":\"vsc.mode=balloon "
                 GUEST_CMDLINE "\"},\"dynamic_memory\":{\"enabled\":true,\"minimum_mib\":256,\"maximum_mib\":%u}}}",
                 GUEST_MIB, build_dir, GUEST_MIB + HOT_ADD_MIB);
        struct bench_worker w;
        if (!bench_worker_start(&w, build_dir, dir, cfg, NULL, 0, serial, name))
                return false;
        bool ok = bench_wait_text(serial, "VSC balloon_ready device=dm", 120000);
        if (!ok)
                fprintf(stderr, "bench-dm: our guest: %s\n", bench_slurp(serial));
        ok = ok && balloon_and_back(&(struct side){ .to = worker_to, .ctx = &w, .pid = w.pid }, r);
        uint64_t t0 = bench_now_ns(), more = ((uint64_t)GUEST_MIB + HOT_ADD_MIB) * MIB;
        ok = ok && worker_to(&w, more);
        r->hot_add_ms = ms_since(t0);
        if (!ok)
                fprintf(stderr, "bench-dm: our guest: %s\n", bench_slurp(serial));
        bench_worker_end(&w, true);
        return ok;
}

/* ---- QEMU: virtio-balloon ---- */

static bool have_qemu(void) {
        return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

static int64_t balloon_actual(struct qmp *q) {
        struct json_object *rep = qmp_cmd(q, "{\"execute\":\"query-balloon\"}"), *ret;
        int64_t a = rep && json_object_object_get_ex(rep, "return", &ret) ? get_i64(ret, "actual") : -1;
        json_object_put(rep);
        return a;
}

static bool balloon_to(void *ctx, uint64_t bytes) {
        struct qmp *q = ctx;
        char cmd[128];
        snprintf(cmd, sizeof cmd, "{\"execute\":\"balloon\",\"arguments\":{\"value\":%llu}}", (unsigned long long)bytes);
        if (!qmp_ok(q, cmd))
                return false;
        for (uint64_t t0 = bench_now_ns(); ms_since(t0) < 60000;) {
                int64_t a = balloon_actual(q);
                if (a == (int64_t)bytes)
                        return true;
                if (a < 0)
                        return false;
                /* QEMU runs QMP and the balloon's queues on one thread:
                 * asking thousands of times a second slows the balloon. */
                usleep(1000);
        }
        fprintf(stderr, "bench-dm: QEMU's guest did not reach %llu MiB within 60 s\n",
                (unsigned long long)(bytes / MIB));
        return false;
}

static bool qemu(struct round *r, int n) {
        char sock[PATH_MAX], serial[PATH_MAX], kernel[PATH_MAX];
        snprintf(sock, sizeof sock, "%s/qmp-%d.sock", dir, n);
        snprintf(serial, sizeof serial, "%s/virtio-%d.serial", dir, n);
        snprintf(kernel, sizeof kernel, "%s/guest-vsc/guest/vsc-guest.elf", build_dir);
        struct qmp q;
        const char *extra[] = { "-global", "virtio-mmio.force-legacy=false", "-device", "virtio-balloon-device", NULL };
        if (!qmp_qemu_start_opts(&q, &(struct qmp_opts){ .sock = sock, .kernel = kernel, .mem_mib = GUEST_MIB,
                                                         .append = "vsc.mode=virtio-balloon " GUEST_CMDLINE,
                                                         .serial = serial, .extra = extra }))
                return false;
        bool ok = bench_wait_text(serial, "VSC balloon_ready device=virtio", 120000);
        if (!ok)
                fprintf(stderr, "bench-dm: QEMU's guest: %s\n", bench_slurp(serial));
        ok = ok && balloon_and_back(&(struct side){ .to = balloon_to, .ctx = &q, .pid = q.pid }, r);
        if (!ok)
                fprintf(stderr, "bench-dm: QEMU's guest: %s\n", bench_slurp(serial));
        qmp_qemu_end(&q);
        return ok;
}

static void cleanup(void) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void)!system(cmd);
}

int main(int argc, char **argv) {
        snprintf(build_dir, sizeof build_dir, "%s", argc > 1 ? argv[1] : "build/release");
        signal(SIGPIPE, SIG_IGN);
        if (!mkdtemp(dir))
                return 1;
        atexit(cleanup);
        bool base = have_qemu();
        if (!base)
                fprintf(stderr, "bench-dm: qemu-system-x86_64 not installed: no baseline\n");
        double b[ROUNDS], qb[ROUNDS], p[ROUNDS], qp[ROUNDS], u[ROUNDS], qu[ROUNDS], h[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                struct round o = { 0 }, q = { 0 };
                if (!ours(&o, i))
                        return 1;
                fprintf(stderr, "bench-dm: round %d, ours: balloon %.1f ms, RSS -%.1f %%, unballoon %.1f ms, hot-add %.1f ms\n",
                        i + 1, o.balloon_ms, o.rss_pct, o.unballoon_ms, o.hot_add_ms);
                if (base && !qemu(&q, i))
                        return 1;
                if (base)
                        fprintf(stderr, "bench-dm: round %d, QEMU: balloon %.1f ms, RSS -%.1f %%, deflate %.1f ms\n", i + 1,
                                q.balloon_ms, q.rss_pct, q.unballoon_ms);
                b[i] = o.balloon_ms, qb[i] = q.balloon_ms, p[i] = o.rss_pct, qp[i] = q.rss_pct;
                u[i] = o.unballoon_ms, qu[i] = q.unballoon_ms, h[i] = o.hot_add_ms;
        }
        bench_result("dm: balloon 512 MiB of a 1 GiB guest, request to done", bench_median(b, ROUNDS),
                     base ? bench_median(qb, ROUNDS) : -1, "ms", "<= 300", "lower");
        bench_result("dm: balloon 512 MiB, share gone from the process's RSS", bench_median(p, ROUNDS),
                     base ? bench_median(qp, ROUNDS) : -1, "%", ">= 95", "higher");
        bench_result("dm: 512 MiB back to the guest (unballoon / deflate)", bench_median(u, ROUNDS),
                     base ? bench_median(qu, ROUNDS) : -1, "ms", "-", "lower");
        bench_result("dm: +1 GiB hot-added, request to the guest's acceptance (no virtio-balloon peer)",
                     bench_median(h, ROUNDS), -1, "ms", "<= 1000", "lower");
        return 0;
}
