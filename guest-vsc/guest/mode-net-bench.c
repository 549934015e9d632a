// SPDX-License-Identifier: MIT
/* vsc.mode=net-bench: UDP packets/s and throughput through the synthetic
 * NIC in one direction, for bench/bench-net-guest.c (docs/guest-vsc.md).
 * The loops run at CPL3 with the inbound interrupt_mask set, sending in
 * batches (a section holds max_pkt_per_msg frames; one flush, so at most
 * one doorbell, per 64 frames) and polling for completions and frames.
 *   vsc.bench=tx  datagrams to vsc.peer:vsc.port as fast as the NIC takes
 *                 them for vsc.bench_ms; frames= counts those the host
 *                 completed, ns= runs until the last completion
 *   vsc.bench=rx  counts datagrams to vsc.ip:vsc.port for vsc.bench_ms
 *                 from the first one (the host starts sending on the
 *                 net_bench_ready line)
 * vsc.frame= Ethernet frame bytes without FCS, 60..1514 (60).
 * Lines: net_bench_ready=<dir>, then net_bench=<dir> frame= frames= ns=
 * kpps= mbit= doorbells= sint_interrupts=. */
#include "mode-net.h"

#define BENCH_BURST 64u /* frames per flush */
#define UDP_SPORT 40001

struct bench {
        struct net_mode *m;
        bool tx;
        uint32_t frame, ms;
        uint64_t frames, ns, start, timeout_ns;
        uint64_t doorbells, sints;
        int err;
        const char *why;
};

/* rx: our datagrams, counted within the window from the first one. */
static void on_frame(struct net_mode *m, const struct vsc_ip_frame *fr, const uint8_t *f, uint32_t len) {
        struct bench *b = m->priv;
        if (fr->kind != VSC_IP_UDP || fr->dport != m->port || fr->dip != m->ip)
                return;
        uint64_t now = clock_ns();
        if (!b->start)
                b->start = now;
        if (now - b->start < (uint64_t)b->ms * 1000000)
                b->frames++;
}

static long stop(struct bench *b, const char *why, int r) {
        b->why = why;
        b->err = r;
        return r;
}

/* Waits for every send to be completed (the host took the frames). */
static int drain(struct bench *b, uint64_t deadline) {
        while (vsc_net_tx_pending(&b->m->net)) {
                if (clock_ns() >= deadline)
                        return -ETIMEDOUT;
                int r = vsc_net_flush(&b->m->net);
                if (r == 0 || r == -EAGAIN)
                        r = net_mode_poll(b->m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static long tx_loop(struct bench *b) {
        struct net_mode *m = b->m;
        uint8_t f[1600], payload[1500];
        uint32_t plen = b->frame - VSC_IP_UDP_HLEN;
        memset(payload, 0x5a, plen);
        uint32_t len = (uint32_t)vsc_ip_udp(f, m->peer_mac, m->net.mac, m->ip, m->peer, UDP_SPORT, m->port, payload, plen);
        f[VSC_IP_UDP_HLEN - 2] = f[VSC_IP_UDP_HLEN - 1] = 0; /* no UDP checksum (RFC 768): the sequence changes */
        uint64_t t0 = clock_ns(), end = t0 + (uint64_t)b->ms * 1000000, sent = 0;
        while (clock_ns() < end) {
                for (unsigned i = 0; i < BENCH_BURST; i++) {
                        if (plen >= 8)
                                memcpy(f + VSC_IP_UDP_HLEN, &sent, 8);
                        if (vsc_net_send(&m->net, f, len) < 0)
                                break; /* all sections with the host: take completions */
                        sent++;
                }
                int r = vsc_net_flush(&m->net);
                if (r == 0 || r == -EAGAIN)
                        r = net_mode_poll(m);
                if (r < 0)
                        return stop(b, "polling", r);
        }
        int r = drain(b, clock_ns() + b->timeout_ns);
        if (r < 0)
                return stop(b, "waiting for the last completions", r);
        b->ns = clock_ns() - t0;
        b->frames = sent;
        return 0;
}

static long rx_loop(struct bench *b) {
        uint64_t deadline = clock_ns() + b->timeout_ns;
        while (!b->start || clock_ns() - b->start < (uint64_t)b->ms * 1000000) {
                if (!b->start && clock_ns() >= deadline)
                        return stop(b, "no datagram from the host", -ETIMEDOUT);
                int r = net_mode_poll(b->m);
                if (r < 0)
                        return stop(b, "polling", r);
        }
        b->ns = (uint64_t)b->ms * 1000000;
        return 0;
}

static long bench_loop(void *arg) {
        struct bench *b = arg;
        return b->tx ? tx_loop(b) : rx_loop(b);
}

static int run(struct guest *g, struct net_mode *m, struct bench *b) {
        /* the host must know our MAC for its datagrams, we need the peer's */
        vsc_channel_mask(&m->net.ch, true);
        long r = net_mode_resolve_peer(m, clock_ns() + g->timeout_ns);
        if (r < 0)
                return guest_fail((int)r, "ARP for the peer: no answer");
        report("net_bench_ready=%s", b->tx ? "tx" : "rx");
        struct cpu_counters c0, c1;
        uint64_t db0 = g->bus.stats.signals_doorbell + g->bus.stats.signals_hypercall;
        cpu_counters(&c0);
        r = cpu_run_user(bench_loop, b, false);
        cpu_counters(&c1);
        vsc_channel_mask(&m->net.ch, false);
        if (r < 0)
                return guest_fail((int)r, "net-bench %s: %s", b->tx ? "tx" : "rx", b->why);
        b->doorbells = g->bus.stats.signals_doorbell + g->bus.stats.signals_hypercall - db0;
        b->sints = c1.sint - c0.sint;
        uint64_t kpps100 = b->ns ? b->frames * 100000000ull / b->ns : 0; /* kpps x 100 */
        uint64_t mbit = b->ns ? b->frames * (b->frame + 4) * 8 * 1000 / b->ns : 0;
        report("net_bench=%s frame=%u frames=%lu ns=%lu kpps=%lu.%02lu mbit=%lu doorbells=%lu sint_interrupts=%lu",
               b->tx ? "tx" : "rx", b->frame, b->frames, b->ns, kpps100 / 100, kpps100 % 100, mbit, b->doorbells,
               b->sints);
        return 0;
}

int mode_net_bench(struct guest *g) {
        char dir[8] = "tx";
        (void)boot_cmdline_get(&g->boot, "vsc.bench", dir, sizeof dir);
        if (strncmp(dir, "tx", 3) && strncmp(dir, "rx", 3))
                return guest_fail(-EINVAL, "vsc.bench=%s: tx or rx", dir);
        struct net_mode *m = net_mode_alloc();
        if (!m)
                return guest_fail(-ENOMEM, "no pages for the NIC state");
        struct bench b = { .m = m, .tx = dir[0] == 't', .timeout_ns = g->timeout_ns };
        b.frame = (uint32_t)net_mode_opt(g, "vsc.frame", 60, 1514, 60);
        b.ms = (uint32_t)net_mode_opt(g, "vsc.bench_ms", 10, 600000, 1000);
        int r = net_mode_open(g, m);
        if (r < 0)
                return r;
        m->on_frame = on_frame;
        m->priv = &b;
        return net_mode_close(m, run(g, m, &b));
}
