// SPDX-License-Identifier: MIT
/* A NIC's bandwidth caps (issue #58, docs/netvsp.md "Bandwidth caps"):
 * netvsp with a real TAP in a private network namespace, the guest played
 * in process (tests/unit/test-netvsp-qos.h: 1442-byte UDP frames, sent as
 * fast as their completions come, or a host thread flooding the guest).
 * Rows, each against a baseline of the same run:
 *   - not binding: a cap of 1 Tbit/s each way against none, rounds
 *     alternated, medians (target >= 0.98x);
 *   - accuracy: capped at 100 Mbit/s each way (target 95-100);
 *   - CPU: the device thread's CPU time while it carries 100 Mbit/s under
 *     the cap, against the same 100 Mbit/s at the uncapped rate's cost per
 *     bit (what holding and waking costs beyond moving the frames);
 *   - the bucket: ns per frame of a wait check and a charge, against a
 *     clock read alone;
 *   - the alternative, the kernel's traffic control at 100 Mbit/s with
 *     netvsp uncapped: host -> guest a tbf qdisc on the TAP, guest -> host
 *     the TAP's ingress redirected to an ifb device with a tbf qdisc (the
 *     kernel here has no police action); the rate delivered (to the
 *     guest; to a UDP socket on the host), what the guest sent into the
 *     TAP for it, and the whole process's CPU against netvsp's cap.
 * Needs root (unshare, TAP); skips with 77 otherwise.
 * Environment: VM_BENCH_ROUNDS (default 5), VM_BENCH_MS (per round, 400). */
#include <stdlib.h>
#include <sys/resource.h>

#include "bench.h"
#include "tests/unit/test-netvsp-qos.h"

#define TBIT 1000000000000ull
#define CAP 100000000ull

static double cpu_s(int who) {
        struct rusage ru;
        getrusage(who, &ru);
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
               ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double thread_cpu_s(void) {
        return cpu_s(RUSAGE_THREAD);
}

/* One direction's rate with the cap set to cap (0: none). */
static double rate(struct nq_env *e, bool out, uint64_t cap, uint64_t ms, double *cpu_s) {
        netvsp_qos_set(out ? &e->qos.out : &e->qos.in, cap);
        double c0 = thread_cpu_s();
        double r = out ? nq_guest_send_rate(e, 50, ms) : nq_guest_recv_rate(e, 50, ms);
        if (cpu_s)
                *cpu_s = thread_cpu_s() - c0;
        return r;
}

static void not_binding(struct nq_env *e, bool out, unsigned rounds, uint64_t ms) {
        double none[16], capped[16];
        for (unsigned i = 0; i < rounds; i++) {
                none[i] = rate(e, out, 0, ms, NULL);
                capped[i] = rate(e, out, TBIT, ms, NULL);
        }
        char metric[96];
        snprintf(metric, sizeof metric, "nic cap not binding, %s (1442 B frames)", out ? "guest->host" : "host->guest");
        bench_result(metric, bench_median(capped, rounds), bench_median(none, rounds), "Mbit/s", ">= 0.98x", "higher");
}

static void accuracy(struct nq_env *e, bool out, uint64_t ms) {
        double cpu_free, cpu_cap;
        double free_rate = rate(e, out, 0, ms, &cpu_free);
        if (!out)
                (void)nq_guest_recv_rate(e, 0, 1000); /* the TAP's queue drained */
        double capped = rate(e, out, CAP, 2 * ms, &cpu_cap);
        netvsp_qos_set(out ? &e->qos.out : &e->qos.in, 0);
        char metric[96];
        snprintf(metric, sizeof metric, "nic capped at 100 Mbit/s, %s", out ? "guest->host" : "host->guest");
        bench_result(metric, capped, 100.0, "Mbit/s", "95-100", "higher");
        /* CPU % of a core for 100 Mbit/s: held by the cap, against the
         * uncapped run's cost per bit scaled to 100 Mbit/s */
        double window_s = (double)(2 * ms + 50) / 1000.0, free_s = (double)(ms + 50) / 1000.0;
        snprintf(metric, sizeof metric, "nic device CPU at 100 Mbit/s, %s", out ? "guest->host" : "host->guest");
        bench_result(metric, 100.0 * cpu_cap / window_s, 100.0 * cpu_free / free_s * capped / free_rate,
                     "% of a core", "close to 1x", "lower");
}

/* The process's CPU % of a core while one direction runs for ms. */
static double run_cpu(struct nq_env *e, bool out, uint64_t ms, double *rate_out) {
        if (!out) /* the TAP's queue from before drained first (up to 1.3 s at 100 Mbit/s) */
                (void)nq_guest_recv_rate(e, 0, 1000);
        double c0 = cpu_s(RUSAGE_SELF);
        uint64_t t0 = bench_now_ns();
        *rate_out = out ? nq_guest_send_rate(e, 0, ms) : nq_guest_recv_rate(e, 0, ms);
        return 100.0 * (cpu_s(RUSAGE_SELF) - c0) / ((double)(bench_now_ns() - t0) / 1e9);
}

struct sink {
        int fd;
        atomic_bool stop;
        atomic_ullong n;
};

static void *sink_main(void *opaque) {
        struct sink *k = opaque;
        bench_udp_sink(k->fd, &k->stop, &k->n);
        return NULL;
}

static const char tc_tbf[] = "tbf rate 100mbit burst 256kb latency 50ms";

static void tc_out(struct nq_env *e, uint64_t ms) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "ip link add vbqifb type ifb && ip link set vbqifb up && tc qdisc add dev vbq0 ingress && "
                 "tc filter add dev vbq0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect "
                 "dev vbqifb && tc qdisc add dev vbqifb root %s",
                 tc_tbf);
        double net_rate, net_cpu;
        netvsp_qos_set(&e->qos.out, CAP);
        net_cpu = run_cpu(e, true, 2 * ms, &net_rate);
        netvsp_qos_set(&e->qos.out, 0);
        if (system(cmd) != 0) {
                printf("tc: no ifb, mirred or tbf here: the tc rows for guest->host are left out\n");
                return;
        }
        /* what reaches the host: the socket on the frames' address and port */
        int big = 64 << 20;
        (void)setsockopt(e->sink, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
        struct sink k = { .fd = e->sink };
        pthread_t th;
        if (pthread_create(&th, NULL, sink_main, &k) != 0)
                return;
        uint64_t t0 = bench_now_ns();
        double sent, tc_cpu = run_cpu(e, true, 2 * ms, &sent);
        double delivered = (double)atomic_load(&k.n) * 1442.0 * 8e3 / (double)(bench_now_ns() - t0);
        atomic_store(&k.stop, true);
        pthread_join(th, NULL);
        bench_result("tc ifb+tbf 100 Mbit/s, guest->host delivered", delivered, net_rate, "Mbit/s", "netvsp's cap (base)",
                     "higher");
        bench_result("tc ifb+tbf 100 Mbit/s, guest->host sent into the TAP", sent, net_rate, "Mbit/s",
                     "the excess is dropped", "lower");
        bench_result("tc ifb+tbf 100 Mbit/s, guest->host process CPU", tc_cpu, net_cpu, "% of a core",
                     "netvsp's cap (base)", "lower");
        (void)!system("tc qdisc del dev vbq0 ingress; ip link del vbqifb");
}

static void tc_in(struct nq_env *e, uint64_t ms) {
        char cmd[256];
        double net_rate, net_cpu, tc_rate, tc_cpu;
        netvsp_qos_set(&e->qos.in, CAP);
        net_cpu = run_cpu(e, false, 2 * ms, &net_rate);
        netvsp_qos_set(&e->qos.in, 0);
        snprintf(cmd, sizeof cmd, "tc qdisc add dev vbq0 root %s", tc_tbf);
        if (system(cmd) != 0) {
                printf("tc: no tbf here: the tc rows for host->guest are left out\n");
                return;
        }
        tc_cpu = run_cpu(e, false, 2 * ms, &tc_rate);
        bench_result("tc tbf 100 Mbit/s, host->guest delivered", tc_rate, net_rate, "Mbit/s", "netvsp's cap (base)",
                     "higher");
        bench_result("tc tbf 100 Mbit/s, host->guest process CPU (flood included)", tc_cpu, net_cpu, "% of a core",
                     "netvsp's cap (base)", "lower");
        (void)!system("tc qdisc del dev vbq0 root");
}

static void bucket_cost(void) {
        struct netvsp_qos_bucket b = { 0 };
        const unsigned n = 5000000;
        netvsp_qos_set(&b, TBIT);
        uint64_t t0 = bench_now_ns(), sink = 0;
        for (unsigned i = 0; i < n; i++)
                sink += netvsp_qos_now_ns();
        uint64_t t1 = bench_now_ns();
        for (unsigned i = 0; i < n; i++) {
                uint64_t now = netvsp_qos_now_ns();
                sink += netvsp_qos_wait_ns(&b, now);
                netvsp_qos_charge(&b, now, 1442);
        }
        uint64_t t2 = bench_now_ns();
        bench_result("nic cap bucket per frame (clock, check, charge)", (double)(t2 - t1) / n, (double)(t1 - t0) / n,
                     "ns", "small beside a frame", "lower");
        if (!sink) /* keeps the loops */
                printf("clock at 0\n");
}

int main(void) {
        unsigned rounds = (unsigned)MIN(MAX(bench_env_u64("VM_BENCH_ROUNDS", 5), 1u), 16u);
        uint64_t ms = bench_env_u64("VM_BENCH_MS", 400);
        struct nq_env e = { 0 };
        nq_env_up(&e, "vbq0");
        bucket_cost();
        not_binding(&e, true, rounds, ms);
        accuracy(&e, true, ms);
        tc_out(&e, ms);
        nq_flood_start(&e);
        not_binding(&e, false, rounds, ms);
        accuracy(&e, false, ms);
        tc_in(&e, ms);
        nq_env_down(&e);
        return 0;
}
