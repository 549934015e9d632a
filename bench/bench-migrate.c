// SPDX-License-Identifier: MIT
/* Live migration (docs/migration.md, issue #20), ours beside QEMU's in the
 * same run: an idle 512 MiB guest (the interrupt-driven echo guest,
 * tests/guests/vmwp_irq.S, idling in HLT) moved between two workers on
 * this host, and the same guest moved between two QEMU 7.2 microvm
 * processes (-incoming tcp:..., QMP migrate), both over one link: TCP
 * through a veth pair between two network namespaces, as between two
 * hosts (each QEMU in its side's namespace; our workers given the two ends
 * of a connection made there, TCP_NODELAY as vmms's link sets it). Without
 * root or ip(8) the link is a unix socketpair (unix: for QEMU). Then
 * a 512 MiB guest dirtying 50 MB/s (tests/guests/vmwp_basic.S "W<n>": the
 * pages of 4..16 MiB one after the other, paced by its TSC) moved the
 * same two ways with a 300 ms downtime budget: ours with its defaults
 * (auto-converge on), QEMU at its best (max-bandwidth lifted from its
 * default, auto-converge on, downtime-limit 300). Then a guest that writes
 * a byte to its serial port every 20 us (tests/guests/vmwp_basic.S "H<n>")
 * moved the same two ways, both sides' serial output read here as it
 * comes (a FIFO each): the blackout as a user sees it, the same measure for
 * both. Last, the link's own throughput (one TCP stream, 1 GiB in 4 MiB
 * writes, iperf-style), beside which the stream's is printed.
 *
 *   downtime: ours, the source's pause -> the destination's first KVM_RUN
 *             (vmwp --timing's "guest" phase; both CLOCK_MONOTONIC);
 *             QEMU, query-migrate's "downtime" (its source's stop to the
 *             end of its sending: not its destination's start)
 *   blackout: the heartbeat guest's last byte from the source -> its first
 *             byte from the destination, both read here
 *   total:    ours, the request -> the source's reply (the destination
 *             runs); QEMU, query-migrate's "total-time"
 *   stream:   bytes sent / total time
 * ROUNDS rounds; medians. `bench-migrate heartbeat` runs the third guest
 * only (a quick look at the blackout). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "qmp.h"
#include "worker.h"
#include "common/proto.h"

#define ROUNDS 5
#define GUEST_MIB 512u
#define DIRTY_MBPS 50u
#define HEARTBEAT_US 20u

/* The guest a round moves: its ELF (in the build's tests/) and command line. */
struct guest {
        const char *elf;
        char cmdline[32];
        unsigned settle_ms; /* before the move: booted and in its loop */
        bool heartbeat;     /* its serial output is read (struct beat) */
};

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-migrate-XXXXXX";

struct round {
        double downtime_ms, total_ms, mib, mbps;
        double dirty_mbps; /* the guest's rate as the source measured it (its last pass; -1: not reported) */
        double passes, throttle_pct;
        double pass1_mbps; /* ours: the first pass's bandwidth as the source measured it */
        double blackout_ms; /* the heartbeat guest's: struct beat */
};

/* ---- the heartbeat guest's serial output, both sides ---- */

/* The source's and the destination's COM1, FIFOs read here as bytes come:
 * the blackout is the destination's first byte after the source's last. */
struct beat {
        char path[2][PATH_MAX];
        int fd[2]; /* 0: source, 1: destination */
        pthread_t thr;
        atomic_bool stop;
        _Atomic uint64_t last_src_ns, first_dst_ns; /* written by the reader */
};

static void *beat_read(void *arg) {
        struct beat *b = arg;
        char buf[65536];
        struct pollfd p[2] = { { .fd = b->fd[0], .events = POLLIN }, { .fd = b->fd[1], .events = POLLIN } };
        /* Until both sides ended: a FIFO nobody reads fills, and then
         * stops its writer's vCPU (QEMU's with its big lock held, and its
         * QMP with it; one whose reader closed spins on EPIPE). */
        while (!atomic_load(&b->stop)) {
                if (poll(p, 2, 50) <= 0)
                        continue;
                uint64_t now = bench_now_ns();
                for (int i = 0; i < 2; i++) {
                        if (!p[i].revents)
                                continue;
                        ssize_t k = read(p[i].fd, buf, sizeof buf);
                        if (k > 0 && i == 0)
                                b->last_src_ns = now;
                        else if (k > 0 && !b->first_dst_ns)
                                b->first_dst_ns = now;
                        else if (k == 0)
                                p[i].fd = -1; /* its writer ended (no HUP before a writer came) */
                }
        }
        return NULL;
}

/* The FIFOs, open for reading and read from before either side opens
 * them to write: a full FIFO would stop a writer's vCPU (QEMU's holds its
 * big lock there, and then answers no QMP). */
static bool beat_open(struct beat *b, const char *who) {
        *b = (struct beat){ .fd = { -1, -1 } };
        for (int i = 0; i < 2; i++) {
                snprintf(b->path[i], sizeof b->path[i], "%s/%s-%s.fifo", dir, who, i ? "dst" : "src");
                unlink(b->path[i]);
                if (mkfifo(b->path[i], 0600) < 0 || (b->fd[i] = open(b->path[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
                        return false;
        }
        return pthread_create(&b->thr, NULL, beat_read, b) == 0;
}

/* The blackout in ms (-1: no byte from one side), once the destination
 * spoke or 3 s passed; the reader drains on until beat_close(). */
static double beat_end(struct beat *b) {
        for (int i = 0; i < 300 && !b->first_dst_ns; i++)
                usleep(10000);
        uint64_t last = b->last_src_ns, first = b->first_dst_ns;
        return last && first > last ? (double)(first - last) / 1e6 : -1;
}

/* Once both sides ended. */
static void beat_close(struct beat *b) {
        atomic_store(&b->stop, true);
        pthread_join(b->thr, NULL);
        close(b->fd[0]), close(b->fd[1]);
        unlink(b->path[0]), unlink(b->path[1]);
}

/* ---- the link ---- */

#define LINK_SRC "10.89.0.1"
#define LINK_DST "10.89.0.2"

static struct {
        bool veth;
        char ns[2][32];    /* the source's namespace, the destination's */
        char path[2][64];  /* /run/netns/NAME */
        int fd[2], self;   /* those namespaces, and ours */
        unsigned port;     /* QEMU's next listening port */
} lk = { .fd = { -1, -1 }, .self = -1, .port = 7900 };

static void link_down(void) {
        for (int i = 0; i < 2; i++)
                if (lk.ns[i][0]) {
                        char cmd[96];
                        snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", lk.ns[i]);
                        if (system(cmd) != 0)
                                fprintf(stderr, "bench-migrate: could not remove namespace %s\n", lk.ns[i]);
                }
}

/* The two namespaces and the veth pair between them; false: none (not
 * root, no ip(8)), the socketpair instead. */
static bool link_up(void) {
        if (geteuid() != 0 || system("command -v ip >/dev/null 2>&1") != 0)
                return false;
        int pid = (int)getpid();
        for (int i = 0; i < 2; i++) {
                snprintf(lk.ns[i], sizeof lk.ns[i], "bmig%d%c", pid, 'a' + i);
                snprintf(lk.path[i], sizeof lk.path[i], "/run/netns/%s", lk.ns[i]);
        }
        atexit(link_down);
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "ip netns add %1$s && ip netns add %2$s && ip link add bmig%3$da type veth peer name bmig%3$db && "
                 "ip link set bmig%3$da netns %1$s && ip link set bmig%3$db netns %2$s && "
                 "ip -n %1$s addr add %4$s/24 dev bmig%3$da && ip -n %1$s link set bmig%3$da up && "
                 "ip -n %2$s addr add %5$s/24 dev bmig%3$db && ip -n %2$s link set bmig%3$db up",
                 lk.ns[0], lk.ns[1], pid, LINK_SRC, LINK_DST);
        if (system(cmd) != 0)
                return false;
        for (int i = 0; i < 2; i++)
                if ((lk.fd[i] = open(lk.path[i], O_RDONLY | O_CLOEXEC)) < 0)
                        return false;
        return (lk.self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) >= 0;
}

/* A connected stream: sp[0] the source's end, sp[1] the destination's.
 * Over the veth: a TCP connection from the source's namespace to a
 * listener in the destination's (the sockets stay in theirs when this
 * thread goes back to its own). */
static bool stream_pair(int sp[2]) {
        if (!lk.veth)
                return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0;
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t len = sizeof a;
        int l = -1, c = -1, d = -1, one = 1;
        if (inet_pton(AF_INET, LINK_DST, &a.sin_addr) == 1 && setns(lk.fd[1], CLONE_NEWNET) == 0 &&
            (l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 &&
            listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a, &len) == 0 &&
            setns(lk.fd[0], CLONE_NEWNET) == 0 && (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
            connect(c, (struct sockaddr *)&a, sizeof a) == 0)
                d = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        bool home = setns(lk.self, CLONE_NEWNET) == 0;
        if (l >= 0)
                close(l);
        if (d < 0 || !home) {
                fprintf(stderr, "bench-migrate: a connection over the veth: %s\n", strerror(errno));
                if (c >= 0)
                        close(c);
                if (d >= 0)
                        close(d);
                return false;
        }
        (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void)setsockopt(d, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sp[0] = c, sp[1] = d;
        return true;
}

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
static bool worker_start(struct worker *w, const char *name, int mig_fd, const struct guest *g, const char *serial) {
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
                execl(vmwp, "vmwp", "--control-fd", "3", "--serial", serial, "--timing", (char *)NULL);
                _exit(127);
        }
        close(sv[1]);
        w->sock = sv[0];
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{"
                 "\"kind\":\"pvh\",\"kernel\":\"%s/tests/%s\",\"cmdline\":\"%s\"}}%s}",
                 GUEST_MIB, build_dir, g->elf, g->cmdline, mig_fd >= 0 ? ",\"files\":[\"migrate_incoming\"]" : "");
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

static bool ours(struct round *r, const struct guest *g) {
        struct worker a, b;
        struct beat beat;
        char serial[2][PATH_MAX + 8];
        int sp[2];
        if (g->heartbeat && !beat_open(&beat, "ours"))
                return false;
        for (int i = 0; i < 2; i++)
                snprintf(serial[i], sizeof serial[i], "%s%s", g->heartbeat ? "file:" : "none",
                         g->heartbeat ? beat.path[i] : "");
        if (!worker_start(&a, "src", -1, g, serial[0]) || !stream_pair(sp))
                return false;
        usleep(g->settle_ms * 1000); /* set up and idling, or dirtying */
        if (!worker_start(&b, "dst", sp[1], g, serial[1]))
                return false;
        close(sp[1]);
        struct json_object *m = json_tokener_parse("{\"op\":\"migrate-send\",\"id\":5}");
        uint64_t t0 = bench_now_ns();
        bool ok = proto_send(a.sock, m, &sp[0], 1) == 0;
        json_object_put(m);
        close(sp[0]);
        r->dirty_mbps = -1;
        for (m = NULL; ok && (m = bench_worker_recv(a.sock, 60000)) && strcmp(str_of(m, "event"), "") != 0;) {
                if (!strcmp(str_of(m, "event"), "migrate-progress")) {
                        r->dirty_mbps = num_of(m, "dirty_rate") * 4096 / 1e6;
                        if (num_of(m, "pass") == 1)
                                r->pass1_mbps = num_of(m, "bandwidth") / 1e6;
                }
                json_object_put(m);
        }
        uint64_t t1 = bench_now_ns();
        ok = ok && !strcmp(str_of(m, "ok"), "true");
        if (!ok)
                fprintf(stderr, "bench-migrate: %s\n", m ? json_object_to_json_string(m) : "no reply");
        r->total_ms = num_of(m, "total_ms");
        /* The pause as the source took it (CLOCK_MONOTONIC, the clock of
         * the destination's phases); a worker without it: the reply's total
         * less its downtime on the request's clock, which is early by the
         * request's way to the worker. */
        struct json_object *pa;
        uint64_t pause = json_object_object_get_ex(m, "paused_at_ns", &pa) ? (uint64_t)json_object_get_int64(pa) : 0;
        if (!pause)
                pause = t0 + (uint64_t)((r->total_ms - num_of(m, "downtime_ms")) * 1e6);
        r->mib = num_of(m, "bytes") / 1048576.0;
        r->mbps = num_of(m, "bytes") / 1e6 / (r->total_ms / 1e3);
        r->passes = num_of(m, "passes"), r->throttle_pct = num_of(m, "throttle_pct");
        if (g->heartbeat)
                fprintf(stderr, "  ours: downtime %.2f ms = pause %.2f + last pages and state %.2f + READY/COMMIT/RUNNING "
                        "%.2f\n", num_of(m, "downtime_ms"), num_of(m, "pause_ms"), num_of(m, "state_ms"),
                        num_of(m, "commit_ms"));
        json_object_put(m);
        (void)t1;
        r->blackout_ms = g->heartbeat ? beat_end(&beat) : -1;
        uint64_t beat_last = g->heartbeat ? beat.last_src_ns : 0, beat_first = g->heartbeat ? beat.first_dst_ns : 0;
        worker_end(&a);
        worker_end(&b);
        if (g->heartbeat)
                beat_close(&beat);
        const char *log = bench_slurp(b.err);
        uint64_t first = bench_phase_ns(log, "guest");
        r->downtime_ms = first > pause ? (double)(first - pause) / 1e6 : -1;
        if (g->heartbeat && first > pause) {
                uint64_t image = bench_phase_ns(log, "image"), entered = bench_phase_ns(log, "entered");
                /* The blackout's ends on the same clock: the source's last
                 * byte before the pause, the destination's first after its
                 * first KVM_RUN. */
                double last = beat_last ? ((double)beat_last - (double)pause) / 1e6 : 0,
                       seen = beat_first ? ((double)beat_first - (double)first) / 1e6 : 0;
                fprintf(stderr, "  destination, after the pause: state applied %.2f ms, sandbox entered %.2f, first "
                        "KVM_RUN %.2f; the source's last byte %+.2f ms from the pause, the destination's first %+.2f "
                        "from its first KVM_RUN\n", image > pause ? (double)(image - pause) / 1e6 : -1,
                        entered > pause ? (double)(entered - pause) / 1e6 : -1, (double)(first - pause) / 1e6, last,
                        seen);
        }
        if (ok && r->downtime_ms < 0)
                fprintf(stderr, "bench-migrate: no \"guest\" phase on the destination: %s\n", log);
        return ok && r->downtime_ms > 0;
}

/* ---- QEMU ---- */

static bool qemu_start(struct qmp *q, const char *name, const char *incoming, const struct guest *g,
                       const char *serial, int side) {
        char sock[PATH_MAX], kernel[PATH_MAX];
        snprintf(sock, sizeof sock, "%s/%s.qmp", dir, name);
        snprintf(kernel, sizeof kernel, "%s/tests/%s", build_dir, g->elf);
        return qmp_qemu_start_opts(q, &(struct qmp_opts){ .sock = sock, .kernel = kernel, .mem_mib = GUEST_MIB,
                                                          .incoming = incoming, .serial = serial,
                                                          .netns = lk.veth ? lk.path[side] : NULL,
                                                          .append = g->cmdline[0] ? g->cmdline : NULL });
}

static bool qemu(struct round *r, const struct guest *g) {
        char uri[PATH_MAX + 8], cmd[PATH_MAX + 96];
        if (lk.veth)
                snprintf(uri, sizeof uri, "tcp:%s:%u", LINK_DST, lk.port++);
        else
                snprintf(uri, sizeof uri, "unix:%s/qemu-mig.sock", dir);
        snprintf(cmd, sizeof cmd, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"%s\"}}", uri);
        struct qmp src, dst;
        struct beat beat;
        if (g->heartbeat && !beat_open(&beat, "qemu"))
                return false;
        if (!qemu_start(&src, "src", NULL, g, g->heartbeat ? beat.path[0] : NULL, 0) ||
            !qemu_start(&dst, "dst", uri, g, g->heartbeat ? beat.path[1] : NULL, 1))
                return false;
        usleep(g->settle_ms * 1000);
        /* At its best: no bandwidth cap (7.2's default is 128 MiB/s),
         * throttling like ours, the same budget. */
        bool ok = qmp_ok(&src, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":["
                               "{\"capability\":\"auto-converge\",\"state\":true}]}}") &&
                  qmp_ok(&src, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":"
                               "10000000000,\"downtime-limit\":300}}") &&
                  qmp_ok(&src, cmd);
        bool done = false;
        r->dirty_mbps = -1, r->passes = -1, r->throttle_pct = 0;
        for (int i = 0; ok && !done && i < 100000; i++) {
                struct json_object *rep = qmp_cmd(&src, "{\"execute\":\"query-migrate\"}"), *ret;
                const char *st = rep && json_object_object_get_ex(rep, "return", &ret) ? str_of(ret, "status") : "";
                if (!strcmp(st, "completed")) {
                        r->downtime_ms = num_of(ret, "downtime"), r->total_ms = num_of(ret, "total-time");
                        struct json_object *ram;
                        double bytes = json_object_object_get_ex(ret, "ram", &ram) ? num_of(ram, "transferred") : -1;
                        r->mib = bytes / 1048576.0, r->mbps = bytes / 1e6 / (r->total_ms / 1e3);
                        r->passes = json_object_object_get_ex(ret, "ram", &ram) ? num_of(ram, "dirty-sync-count") : -1;
                        done = true;
                } else if (!strcmp(st, "active")) {
                        struct json_object *ram;
                        if (json_object_object_get_ex(ret, "ram", &ram) && num_of(ram, "dirty-pages-rate") > 0)
                                r->dirty_mbps = num_of(ram, "dirty-pages-rate") * 4096 / 1e6;
                        if (num_of(ret, "cpu-throttle-percentage") > r->throttle_pct)
                                r->throttle_pct = num_of(ret, "cpu-throttle-percentage");
                } else if (!strcmp(st, "failed") || !rep)
                        ok = false;
                json_object_put(rep);
        }
        r->blackout_ms = g->heartbeat ? beat_end(&beat) : -1;
        qmp_qemu_end(&src);
        qmp_qemu_end(&dst);
        if (g->heartbeat)
                beat_close(&beat);
        return ok && done;
}

/* The link's own throughput: 1 GiB through one stream of it, 4 MiB
 * writes, as iperf measures a link. */
static double link_mbps(void) {
        int sp[2];
        if (!stream_pair(sp))
                return -1;
        const size_t chunk = 4u << 20, total = 1ull << 30;
        pid_t pid = fork();
        if (pid == 0) {
                char *buf = calloc(1, chunk);
                close(sp[0]);
                for (size_t sent = 0; buf && sent < total;) {
                        ssize_t k = write(sp[1], buf, chunk);
                        if (k <= 0)
                                _exit(1);
                        sent += (size_t)k;
                }
                _exit(0);
        }
        close(sp[1]);
        char *buf = malloc(chunk);
        uint64_t t0 = bench_now_ns();
        size_t got = 0;
        for (ssize_t k; buf && got < total && (k = read(sp[0], buf, chunk)) > 0;)
                got += (size_t)k;
        uint64_t ns = bench_now_ns() - t0;
        free(buf);
        close(sp[0]);
        waitpid(pid, NULL, 0);
        return got == total ? (double)total / 1e6 / ((double)ns / 1e9) : -1;
}

/* TSC cycles per second, measured against CLOCK_MONOTONIC (a guest's TSC
 * runs at the host's: KVM offsets it, no scaling here). */
static double tsc_hz(void) {
        uint64_t n0 = bench_now_ns(), c0 = __builtin_ia32_rdtsc();
        usleep(200 * 1000);
        uint64_t n1 = bench_now_ns(), c1 = __builtin_ia32_rdtsc();
        return (double)(c1 - c0) / ((double)(n1 - n0) / 1e9);
}

/* ROUNDS moves of guest g, ours and QEMU's (q: QEMU there); medians into
 * o and qm: downtime, total, MB/s, MiB, the guest's dirty rate, passes,
 * throttle. */
#define COLS 8
static bool rounds(const struct guest *g, const char *what, bool *q, double o[COLS][ROUNDS], double qm[COLS][ROUNDS]) {
        for (int i = 0; i < ROUNDS; i++) {
                struct round a = { 0 }, c = { -1, -1, -1, -1, -1, -1, -1, -1, -1 };
                if (!ours(&a, g)) {
                        fprintf(stderr, "bench-migrate: %s round %d of vmwp failed (is %s/vmwp/vmwp built?)\n", what,
                                i, build_dir);
                        return false;
                }
                /* QEMU's source now and then never completes (or quits after) a
                 * move here, unexplained: that round once more before the
                 * baseline is given up */
                bool qok = *q && qemu(&c, g);
                if (*q && !qok) {
                        fprintf(stderr, "bench-migrate: %s round %d of QEMU failed: once more\n", what, i);
                        c = (struct round){ -1, -1, -1, -1, -1, -1, -1, -1, -1 };
                        qok = qemu(&c, g);
                }
                if (*q && !qok) {
                        fprintf(stderr, "bench-migrate: %s round %d of QEMU failed again: no baseline\n", what, i);
                        *q = false;
                }
                double ov[COLS] = { a.downtime_ms, a.total_ms, a.pass1_mbps, a.mib,
                                    a.dirty_mbps,  a.passes,   a.throttle_pct, a.blackout_ms };
                double qv[COLS] = { c.downtime_ms, c.total_ms, c.mbps, c.mib, c.dirty_mbps, c.passes, c.throttle_pct,
                                    c.blackout_ms };
                for (int k = 0; k < COLS; k++)
                        o[k][i] = ov[k], qm[k][i] = qv[k];
                fprintf(stderr,
                        "%s round %d: downtime %.2f ms (QEMU %.0f, %.2fx), total %.2f ms (QEMU %.0f, %.2fx), stream "
                        "%.2f MiB at %.0f MB/s, pass 1 at %.0f MB/s (QEMU %.2f MiB at %.0f MB/s), guest dirtying %.0f "
                        "MB/s (QEMU's %.0f), passes %.0f (QEMU %.0f), throttle %.0f %% (QEMU %.0f %%), blackout "
                        "%.2f ms (QEMU %.2f)\n",
                        what, i, a.downtime_ms, c.downtime_ms, *q ? a.downtime_ms / c.downtime_ms : -1, a.total_ms,
                        c.total_ms, *q ? a.total_ms / c.total_ms : -1, a.mib, a.mbps, a.pass1_mbps, c.mib, c.mbps,
                        a.dirty_mbps,
                        c.dirty_mbps, a.passes, c.passes, a.throttle_pct, c.throttle_pct, a.blackout_ms, c.blackout_ms);
        }
        return true;
}

int main(int argc, char **argv) {
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
        lk.veth = link_up();
        if (lk.veth)
                fprintf(stderr, "link: TCP over a veth pair, %s (%s) -> %s (%s)\n", lk.ns[0], LINK_SRC, lk.ns[1], LINK_DST);
        else
                fprintf(stderr, "link: a unix socketpair (a veth pair between namespaces needs root and ip(8))\n");
        bool q = system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
        if (!q)
                fprintf(stderr, "bench-migrate: qemu-system-x86_64 not installed: no baseline\n");
        static double o[COLS][ROUNDS], qm[COLS][ROUNDS], od[COLS][ROUNDS], qd[COLS][ROUNDS], oh[COLS][ROUNDS],
                qh[COLS][ROUNDS];
        struct guest idle = { .elf = "tg_vmwp_irq.elf", .settle_ms = 100 },
                     dirty = { .elf = "tg_vmwp_basic.elf", .settle_ms = 300 },
                     beat = { .elf = "tg_vmwp_basic.elf", .settle_ms = 300, .heartbeat = true };
        double hz = tsc_hz();
        snprintf(dirty.cmdline, sizeof dirty.cmdline, "W%.0f", hz * 4096 / (DIRTY_MBPS * 1e6));
        snprintf(beat.cmdline, sizeof beat.cmdline, "H%.0f", hz * HEARTBEAT_US / 1e6);
        fprintf(stderr, "TSC %.0f MHz: the dirtying guest writes a page every %s cycles\n", hz / 1e6,
                dirty.cmdline + 1);
        bool qi = q, qdirty = q, qbeat = q, beat_only = argc > 1 && !strcmp(argv[1], "heartbeat");
        if ((!beat_only && (!rounds(&idle, "idle", &qi, o, qm) || !rounds(&dirty, "dirtying", &qdirty, od, qd))) ||
            !rounds(&beat, "heartbeat", &qbeat, oh, qh))
                return 1;
#define MED(col, k) bench_median(col[k], ROUNDS)
#define QMED(qq, col, k) (qq ? bench_median(col[k], ROUNDS) : -1)
        if (beat_only)
                goto heartbeat;
        double link = link_mbps();
        bench_result("live migration, idle 512 MiB guest: downtime (pause -> guest runs on the destination)",
                     MED(o, 0), QMED(qi, qm, 0), "ms", "<= 30, <= 0.3x", "lower");
        bench_result("live migration, idle 512 MiB guest: total", MED(o, 1), QMED(qi, qm, 1), "ms",
                     "<= 1500, <= 0.3x", "lower");
        bench_result("live migration, idle guest: first pass's throughput (QEMU: bytes / total)", MED(o, 2),
                     QMED(qi, qm, 2), "MB/s", "-", "higher");
        bench_result("live migration: stream size", MED(o, 3), QMED(qi, qm, 3), "MiB", "-", "lower");
        bench_result("live migration, 512 MiB guest dirtying 50 MB/s: downtime (300 ms budget)", MED(od, 0),
                     QMED(qdirty, qd, 0), "ms", "<= 300, <= 0.3x", "lower");
        bench_result("live migration, 512 MiB guest dirtying 50 MB/s: total", MED(od, 1), QMED(qdirty, qd, 1), "ms",
                     "<= 0.3x", "lower");
        bench_result("live migration, dirtying guest: its dirty rate as our source measured it (QEMU: -1 when its "
                     "move ended before a rate)", MED(od, 4), QMED(qdirty, qd, 4), "MB/s", "50", "-");
        bench_result("live migration, dirtying guest: passes (QEMU: dirty-sync-count)", MED(od, 5), QMED(qdirty, qd, 5),
                     "", "-", "lower");
        bench_result(lk.veth ? "live migration, dirtying guest: first pass's throughput beside the link's own (one TCP "
                               "stream over the veth)"
                             : "live migration, dirtying guest: first pass's throughput beside the link's own (a unix "
                               "socketpair)",
                     MED(od, 2), link, "MB/s", "-", "higher");
heartbeat:
        bench_result("live migration, guest writing its serial port every 20 us: blackout seen from outside (the "
                     "source's last byte -> the destination's first), both measured alike",
                     MED(oh, 7), QMED(qbeat, qh, 7), "ms", "<= 30, <= 0.3x", "lower");
        bench_result("live migration, the same guest: downtime as each reports it (ours: pause -> first KVM_RUN; "
                     "QEMU: query-migrate's)", MED(oh, 0), QMED(qbeat, qh, 0), "ms", "-", "lower");
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : 1;
}
