// SPDX-License-Identifier: MIT
/* Live migration (docs/migration.md, issue #20), ours beside QEMU's in the
 * same run: an idle 512 MiB guest (the interrupt-driven echo guest,
 * tests/guests/vmwp_irq.S, idling in HLT) moved between two workers on
 * this host over a unix stream socket, and the same guest moved between
 * two QEMU 7.2 microvm processes (-incoming unix:..., QMP migrate).
 *
 *   downtime: ours, the source's pause -> the destination's first KVM_RUN
 *             (vmwp --timing's "guest" phase; both CLOCK_MONOTONIC);
 *             QEMU, query-migrate's "downtime"
 *   total:    ours, the request -> the source's reply (the destination
 *             runs); QEMU, query-migrate's "total-time"
 *   stream:   bytes sent / total time
 * ROUNDS rounds; medians. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "qmp.h"
#include "worker.h"
#include "common/proto.h"

#define ROUNDS 5
#define GUEST_MIB 512u

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-migrate-XXXXXX";

struct round {
        double downtime_ms, total_ms, mib, mbps;
};

/* ---- vmwp ---- */

struct worker {
        pid_t pid;
        int sock;
        char err[PATH_MAX];
};

static const char *str_of(struct json_object *m, const char *k) {
        struct json_object *v;
        return m && json_object_object_get_ex(m, k, &v) ? json_object_get_string(v) : "";
}

static double num_of(struct json_object *m, const char *k) {
        struct json_object *v;
        return m && json_object_object_get_ex(m, k, &v) ? json_object_get_double(v) : -1;
}

/* A worker with --timing under a control socket; mig_fd >= 0: it receives
 * the VM over it (no wait for "ready"). */
static bool worker_start(struct worker *w, const char *name, int mig_fd) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return false;
        char vmwp[PATH_MAX], cfg[PATH_MAX + 512];
        snprintf(vmwp, sizeof vmwp, "%s/vmwp/vmwp", build_dir);
        snprintf(w->err, sizeof w->err, "%s/%s.err", dir, name);
        w->pid = fork();
        if (w->pid == 0) {
                int null = open("/dev/null", O_RDWR), err = open(w->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                if (null < 0 || err < 0 || dup2(sv[1], 3) < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0)
                        _exit(127);
                execl(vmwp, "vmwp", "--control-fd", "3", "--serial", "none", "--timing", (char *)NULL);
                _exit(127);
        }
        close(sv[1]);
        w->sock = sv[0];
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{"
                 "\"kind\":\"pvh\",\"kernel\":\"%s/tests/tg_vmwp_irq.elf\",\"cmdline\":\"\"}}%s}",
                 GUEST_MIB, build_dir, mig_fd >= 0 ? ",\"files\":[\"migrate_incoming\"]" : "");
        struct json_object *m = json_tokener_parse(cfg);
        bool ok = m && proto_send(w->sock, m, mig_fd >= 0 ? &mig_fd : NULL, mig_fd >= 0 ? 1 : 0) == 0;
        json_object_put(m);
        if (ok && mig_fd < 0) {
                m = bench_worker_recv(w->sock, 30000);
                ok = !strcmp(str_of(m, "event"), "ready");
                json_object_put(m);
        }
        return ok;
}

static void worker_end(struct worker *w) {
        struct json_object *m = json_tokener_parse("{\"op\":\"stop\",\"id\":99}");
        (void)proto_send(w->sock, m, NULL, 0);
        json_object_put(m);
        for (; (m = bench_worker_recv(w->sock, 30000)); json_object_put(m))
                if (!strcmp(str_of(m, "event"), "exit")) {
                        json_object_put(m);
                        break;
                }
        close(w->sock);
        waitpid(w->pid, NULL, 0);
}

static bool ours(struct round *r) {
        struct worker a, b;
        int sp[2];
        if (!worker_start(&a, "src", -1) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return false;
        usleep(100 * 1000); /* set up and idling */
        if (!worker_start(&b, "dst", sp[1]))
                return false;
        close(sp[1]);
        struct json_object *m = json_tokener_parse("{\"op\":\"migrate-send\",\"id\":5}");
        uint64_t t0 = bench_now_ns();
        bool ok = proto_send(a.sock, m, &sp[0], 1) == 0;
        json_object_put(m);
        close(sp[0]);
        for (m = NULL; ok && (m = bench_worker_recv(a.sock, 60000)) && strcmp(str_of(m, "event"), "") != 0;)
                json_object_put(m);
        uint64_t t1 = bench_now_ns();
        ok = ok && !strcmp(str_of(m, "ok"), "true");
        if (!ok)
                fprintf(stderr, "bench-migrate: %s\n", m ? json_object_to_json_string(m) : "no reply");
        r->total_ms = num_of(m, "total_ms");
        /* The pause, on the request's clock: the reply's total less its downtime. */
        uint64_t pause = t0 + (uint64_t)((r->total_ms - num_of(m, "downtime_ms")) * 1e6);
        r->mib = num_of(m, "bytes") / 1048576.0;
        r->mbps = num_of(m, "bytes") / 1e6 / (r->total_ms / 1e3);
        json_object_put(m);
        (void)t1;
        worker_end(&a);
        worker_end(&b);
        uint64_t g = bench_phase_ns(bench_slurp(b.err), "guest");
        r->downtime_ms = g > pause ? (double)(g - pause) / 1e6 : -1;
        if (ok && r->downtime_ms < 0)
                fprintf(stderr, "bench-migrate: no \"guest\" phase on the destination: %s\n", bench_slurp(b.err));
        return ok && r->downtime_ms > 0;
}

/* ---- QEMU ---- */

static bool qemu_start(struct qmp *q, const char *name, const char *incoming) {
        char sock[PATH_MAX], kernel[PATH_MAX];
        snprintf(sock, sizeof sock, "%s/%s.qmp", dir, name);
        snprintf(kernel, sizeof kernel, "%s/tests/tg_vmwp_irq.elf", build_dir);
        return qmp_qemu_start(q, sock, kernel, GUEST_MIB, incoming, NULL);
}

static bool qemu(struct round *r) {
        char mig[PATH_MAX], incoming[PATH_MAX + 8], cmd[PATH_MAX + 96];
        snprintf(mig, sizeof mig, "%s/qemu-mig.sock", dir);
        snprintf(incoming, sizeof incoming, "unix:%s", mig);
        snprintf(cmd, sizeof cmd, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:%s\"}}", mig);
        struct qmp src, dst;
        if (!qemu_start(&src, "src", NULL) || !qemu_start(&dst, "dst", incoming))
                return false;
        usleep(100 * 1000);
        bool ok = qmp_ok(&src, cmd), done = false;
        for (int i = 0; ok && !done && i < 100000; i++) {
                struct json_object *rep = qmp_cmd(&src, "{\"execute\":\"query-migrate\"}"), *ret;
                const char *st = rep && json_object_object_get_ex(rep, "return", &ret) ? str_of(ret, "status") : "";
                if (!strcmp(st, "completed")) {
                        r->downtime_ms = num_of(ret, "downtime"), r->total_ms = num_of(ret, "total-time");
                        struct json_object *ram;
                        double bytes = json_object_object_get_ex(ret, "ram", &ram) ? num_of(ram, "transferred") : -1;
                        r->mib = bytes / 1048576.0, r->mbps = bytes / 1e6 / (r->total_ms / 1e3);
                        done = true;
                } else if (!strcmp(st, "failed") || !rep)
                        ok = false;
                json_object_put(rep);
        }
        qmp_qemu_end(&src);
        qmp_qemu_end(&dst);
        return ok && done;
}

int main(void) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0 || !mkdtemp(dir))
                return 1;
        self[n] = 0;
        *strrchr(self, '/') = 0; /* .../bench */
        *strrchr(self, '/') = 0; /* the build directory */
        if (strlen(self) >= sizeof build_dir)
                return 1;
        memcpy(build_dir, self, strlen(self) + 1);
        signal(SIGPIPE, SIG_IGN);
        bool q = system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
        if (!q)
                fprintf(stderr, "bench-migrate: qemu-system-x86_64 not installed: no baseline\n");
        double o[4][ROUNDS], qm[4][ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                struct round a = { 0 }, c = { -1, -1, -1, -1 };
                if (!ours(&a)) {
                        fprintf(stderr, "bench-migrate: round %d of vmwp failed (is %s/vmwp/vmwp built?)\n", i,
                                build_dir);
                        return 1;
                }
                if (q && !qemu(&c)) {
                        fprintf(stderr, "bench-migrate: round %d of QEMU failed: no baseline\n", i);
                        q = false;
                }
                o[0][i] = a.downtime_ms, o[1][i] = a.total_ms, o[2][i] = a.mbps, o[3][i] = a.mib;
                qm[0][i] = c.downtime_ms, qm[1][i] = c.total_ms, qm[2][i] = c.mbps, qm[3][i] = c.mib;
                fprintf(stderr,
                        "round %d: downtime %.2f ms (QEMU %.0f, %.2fx), total %.2f ms (QEMU %.0f, %.2fx), stream "
                        "%.2f MiB at %.0f MB/s (QEMU %.2f MiB at %.0f MB/s)\n",
                        i, a.downtime_ms, c.downtime_ms, q ? a.downtime_ms / c.downtime_ms : -1, a.total_ms,
                        c.total_ms, q ? a.total_ms / c.total_ms : -1, a.mib, a.mbps, c.mib, c.mbps);
        }
#define MED(col, k) bench_median(col[k], ROUNDS)
#define QMED(k) (q ? bench_median(qm[k], ROUNDS) : -1)
        bench_result("live migration, idle 512 MiB guest: downtime (pause -> guest runs on the destination)",
                     MED(o, 0), QMED(0), "ms", "<= 30, <= 0.3x", "lower");
        bench_result("live migration, idle 512 MiB guest: total", MED(o, 1), QMED(1), "ms", "<= 1500, <= 0.3x",
                     "lower");
        bench_result("live migration: stream throughput (bytes / total)", MED(o, 2), QMED(2), "MB/s", "-", "higher");
        bench_result("live migration: stream size", MED(o, 3), QMED(3), "MiB", "-", "lower");
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : 1;
}
