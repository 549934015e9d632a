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
 * vsc.tcp=1 (rx): counts TCP frames to vsc.ip:vsc.port instead, and their
 *   bytes (the host sends TSO-sized GSO frames: the kernel segments them
 *   for the TAP, or with vsc.rsc=1 netvsp hands them over coalesced);
 *   mbit= then comes from the bytes.
 * vsc.rsc=1: turn RSC (Linux's LRO) on where the host offers it.
 * vsc.lso=1 (tx, one queue): TCP frames as large as the host's LSOv2
 *   maximum for IPv4 allows (at most 62780-byte datagrams, Linux's netvsc
 *   gso_max_size), MSS 1448, sent GPA-direct (vsc_net_send_lso) up to
 *   VSC_NET_LSO_SLOTS at a time; frame= is then their size, and the host
 *   segments them (its TAP gets one GSO frame each). They go to
 *   vsc.lso_dst= (an address; default vsc.peer) through the peer's MAC: an
 *   address the host does not have makes it drop them after routing
 *   instead of answering each with a TCP reset.
 * vsc.queues=N (1..4, default 1): vRSS with N channels, each polled by its
 * own vCPU (the VM needs N of them): N - 1 sub-channels, RSS over IPv4
 * addresses and TCP/UDP ports with Microsoft's verification key and
 * netvsc's table (entry i = i mod N), and one flow per channel: channel k
 * sends from UDP port 40001 + k (tx) or counts what the host's steering
 * put on it (rx; the host picks flows that land on every channel).
 * Lines: net_vrss channels= (N > 1), net_bench_ready=<dir>, one
 * net_bench_flow=k frames= ns= kpps= per channel (N > 1), then
 * net_bench=<dir> frame= frames= ns= kpps= mbit= doorbells=
 * sint_interrupts= channels=: the sums of the flows, ns the longest. */
#include "mode-net.h"

#define BENCH_BURST 64u /* frames per flush */
#define UDP_SPORT 40001
#define MAX_QUEUES 4u

struct bench;
struct flow {
        struct bench *b;
        struct vsc_net *net; /* its channel */
        unsigned index;
        uint64_t frames, bytes, ns, start;
        int err;
        const char *why;
};

struct bench {
        struct net_mode *m;
        bool tx, lso, tcp;
        uint8_t *lso_frame; /* the one frame every LSO send names (the host only reads it) */
        uint32_t lso_dst;   /* its IPv4 destination (host order) */
        uint32_t frame, ms;
        uint64_t timeout_ns;
        unsigned queues;
        struct flow flow[MAX_QUEUES];
};

/* rx: our datagrams on this channel, counted within the window from the
 * first one. */
static void count_frame(struct flow *fl, const struct vsc_ip_frame *fr, const uint8_t *f, uint32_t len) {
        const struct net_mode *m = fl->b->m;
        if (fl->b->tcp) { /* IPv4 (no options needed) to our address, TCP to our port */
                if (len < 54 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6 || (f[34 + 2] << 8 | f[34 + 3]) != m->port ||
                    ((uint32_t)f[30] << 24 | (uint32_t)f[31] << 16 | (uint32_t)f[32] << 8 | f[33]) != m->ip)
                        return;
        } else if (fr->kind != VSC_IP_UDP || fr->dport != m->port || fr->dip != m->ip) {
                return;
        }
        uint64_t now = clock_ns();
        if (!fl->start)
                fl->start = now;
        if (now - fl->start < (uint64_t)fl->b->ms * 1000000) {
                fl->frames++;
                fl->bytes += len;
        }
}

static void on_frame(struct net_mode *m, const struct vsc_ip_frame *fr, const uint8_t *f, uint32_t len) {
        struct bench *b = m->priv;
        count_frame(&b->flow[0], fr, f, len);
}

/* A sub-channel's frames: no responder there (ARP goes to the primary). */
static void on_sub_frame(void *opaque, const uint8_t *f, uint32_t len) {
        struct vsc_ip_frame fr;
        vsc_ip_parse(f, len, &fr);
        count_frame(opaque, &fr, f, len);
}

static long stop(struct flow *fl, const char *why, int r) {
        fl->why = why;
        fl->err = r;
        return r;
}

/* One round of the flow's channel: the primary's answers ARP/ICMP too. */
static int poll_flow(struct flow *fl) {
        return fl->index == 0 ? net_mode_poll(fl->b->m) : vsc_net_poll(fl->net, 0);
}

/* Waits for every send to be completed (the host took the frames). */
static int drain(struct flow *fl, uint64_t deadline) {
        while (vsc_net_tx_pending(fl->net)) {
                if (clock_ns() >= deadline)
                        return -ETIMEDOUT;
                int r = vsc_net_flush(fl->net);
                if (r == 0 || r == -EAGAIN)
                        r = poll_flow(fl);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The end of a send loop: the last completions in, the figures taken. */
static long tx_done(struct flow *fl, uint64_t t0, uint64_t sent) {
        int r = drain(fl, clock_ns() + fl->b->timeout_ns);
        if (r < 0)
                return stop(fl, "waiting for the last completions", r);
        fl->ns = clock_ns() - t0;
        fl->frames = sent;
        return 0;
}

/* LSO: the same large frame again and again, as many in flight as slots. */
static long tx_lso_loop(struct flow *fl) {
        struct bench *b = fl->b;
        uint64_t t0 = clock_ns(), end = t0 + (uint64_t)b->ms * 1000000, sent = 0;
        while (clock_ns() < end) {
                int r = 0;
                bool queued = false;
                while ((r = vsc_net_send_lso(fl->net, b->lso_frame, b->frame, 1448, 34, false)) >= 0) {
                        sent++;
                        queued = true;
                }
                if (r != -EAGAIN)
                        return stop(fl, "sending an LSO frame", r);
                if (queued && (r = vsc_net_flush(fl->net)) < 0 && r != -EAGAIN)
                        return stop(fl, "flushing", r);
                if ((r = poll_flow(fl)) < 0)
                        return stop(fl, "polling", r);
        }
        return tx_done(fl, t0, sent);
}

static long tx_loop(struct flow *fl) {
        struct bench *b = fl->b;
        struct net_mode *m = b->m;
        uint8_t f[1600], payload[1500];
        uint32_t plen = b->frame - VSC_IP_UDP_HLEN;
        memset(payload, 0x5a, plen);
        uint32_t len = (uint32_t)vsc_ip_udp(f, m->peer_mac, m->net.mac, m->ip, m->peer, (uint16_t)(UDP_SPORT + fl->index),
                                            m->port, payload, plen);
        f[VSC_IP_UDP_HLEN - 2] = f[VSC_IP_UDP_HLEN - 1] = 0; /* no UDP checksum (RFC 768): the sequence changes */
        uint64_t t0 = clock_ns(), end = t0 + (uint64_t)b->ms * 1000000, sent = 0;
        while (clock_ns() < end) {
                for (unsigned i = 0; i < BENCH_BURST; i++) {
                        if (plen >= 8)
                                memcpy(f + VSC_IP_UDP_HLEN, &sent, 8);
                        if (vsc_net_send(fl->net, f, len) < 0)
                                break; /* all sections with the host: take completions */
                        sent++;
                }
                int r = vsc_net_flush(fl->net);
                if (r == 0 || r == -EAGAIN)
                        r = poll_flow(fl);
                if (r < 0)
                        return stop(fl, "polling", r);
        }
        return tx_done(fl, t0, sent);
}

static long rx_loop(struct flow *fl) {
        struct bench *b = fl->b;
        uint64_t deadline = clock_ns() + b->timeout_ns;
        while (!fl->start || clock_ns() - fl->start < (uint64_t)b->ms * 1000000) {
                if (!fl->start && clock_ns() >= deadline)
                        return stop(fl, "no datagram from the host", -ETIMEDOUT);
                int r = poll_flow(fl);
                if (r < 0)
                        return stop(fl, "polling", r);
        }
        fl->ns = (uint64_t)b->ms * 1000000;
        return 0;
}

static long flow_loop(void *arg) {
        struct flow *fl = arg;
        return fl->b->lso ? tx_lso_loop(fl) : fl->b->tx ? tx_loop(fl) : rx_loop(fl);
}

static void mask_all(struct net_mode *m, bool masked) {
        vsc_channel_mask(&m->net.ch, masked);
        for (uint32_t i = 0; i < m->net.n_subs; i++)
                vsc_channel_mask(&m->net.subs[i].ch, masked);
}

static uint64_t kpps100(uint64_t frames, uint64_t ns) { /* kpps x 100 */
        return ns ? frames * 100000000ull / ns : 0;
}

/* Flow 0 on this CPU, flow k on CPU k; all results in. */
static int run_flows(struct guest *g, struct bench *b) {
        for (unsigned k = 1; k < b->queues; k++) {
                int r = smp_post(k, flow_loop, &b->flow[k]);
                if (r < 0)
                        return guest_fail(r, "net-bench: cannot start flow %u on CPU %u", k, k);
        }
        long r0 = cpu_run_user(flow_loop, &b->flow[0], false);
        int err = 0;
        for (unsigned k = 1; k < b->queues; k++) {
                long res = 0;
                /* the AP's flow has the same budget as ours, give it as long
                 * again; one still running polls its channel: power off
                 * rather than close the NIC under it */
                if (smp_join(k, clock_ns() + b->timeout_ns + (uint64_t)b->ms * 1000000, &res) < 0)
                        guest_exit(guest_fail(-ETIMEDOUT, "net-bench: flow %u on CPU %u did not end", k, k));
                if (res < 0)
                        err = guest_fail((int)res, "net-bench %s: flow %u: %s", b->tx ? "tx" : "rx", k, b->flow[k].why);
        }
        if (r0 < 0)
                return guest_fail((int)r0, "net-bench %s: %s", b->tx ? "tx" : "rx", b->flow[0].why);
        return err;
}

/* The LSO frame: Ethernet, IPv4 (total length 0, as netvsc sends LSO
 * frames: the host writes each segment's), TCP 40001 -> vsc.port. */
static int make_lso_frame(struct net_mode *m, struct bench *b) {
        uint32_t max = m->net.hwcaps.lsov2.ip4_maxsz;
        if (!m->net.lso4 || max < 1500)
                return guest_fail(-EOPNOTSUPP, "net-bench: the host offers no LSOv2 for IPv4");
        uint32_t ip_len = max < 62780 ? max : 62780;
        b->frame = 14 + ip_len;
        uint8_t *f = mem_alloc_pages((b->frame + 4095) / 4096);
        if (!f)
                return guest_fail(-ENOMEM, "no pages for the LSO frame");
        memcpy(f, m->peer_mac, 6);
        memcpy(f + 6, m->net.mac, 6);
        f[12] = 0x08, f[13] = 0x00;
        uint8_t *ip = f + 14, *tcp = f + 34;
        ip[0] = 0x45, ip[8] = 64, ip[9] = 6;
        for (int i = 0; i < 4; i++) {
                ip[12 + i] = (uint8_t)(m->ip >> (24 - 8 * i));
                ip[16 + i] = (uint8_t)(b->lso_dst >> (24 - 8 * i));
        }
        tcp[0] = UDP_SPORT >> 8, tcp[1] = UDP_SPORT & 0xff, tcp[2] = (uint8_t)(m->port >> 8), tcp[3] = (uint8_t)m->port;
        tcp[12] = 5 << 4, tcp[13] = 0x18, tcp[14] = 0xff, tcp[15] = 0xff; /* ACK PSH */
        memset(f + 54, 0x5a, b->frame - 54);
        b->lso_frame = f;
        return 0;
}

static int run(struct guest *g, struct net_mode *m, struct bench *b) {
        /* the host must know our MAC for its datagrams, we need the peer's */
        mask_all(m, true);
        long r = net_mode_resolve_peer(m, clock_ns() + g->timeout_ns);
        if (r < 0)
                return guest_fail((int)r, "ARP for the peer: no answer");
        if (b->lso && (r = make_lso_frame(m, b)) < 0)
                return (int)r;
        report("net_bench_ready=%s", b->tx ? "tx" : "rx");
        struct cpu_counters c0, c1;
        uint64_t db0 = g->bus.stats.signals_doorbell + g->bus.stats.signals_hypercall;
        cpu_counters(&c0);
        r = run_flows(g, b);
        cpu_counters(&c1);
        mask_all(m, false);
        if (r < 0)
                return (int)r;
        uint64_t doorbells = g->bus.stats.signals_doorbell + g->bus.stats.signals_hypercall - db0;
        uint64_t frames = 0, bytes = 0, ns = 0, rate100 = 0;
        for (unsigned k = 0; k < b->queues; k++) {
                const struct flow *fl = &b->flow[k];
                uint64_t k100 = kpps100(fl->frames, fl->ns);
                if (b->queues > 1)
                        report("net_bench_flow=%u frames=%lu ns=%lu kpps=%lu.%02lu", k, fl->frames, fl->ns, k100 / 100,
                               k100 % 100);
                frames += fl->frames;
                bytes += fl->bytes;
                ns = fl->ns > ns ? fl->ns : ns;
                rate100 += k100;
        }
        uint64_t mbit = b->tcp ? (ns ? bytes * 8000 / ns : 0) /* bits per us */
                               : rate100 * (b->frame + 4) * 8 / 100000; /* kpps x bits / 1000 */
        report("net_bench=%s frame=%u frames=%lu ns=%lu kpps=%lu.%02lu mbit=%lu doorbells=%lu sint_interrupts=%lu "
               "channels=%u bytes=%lu rsc=%u coalesced=%lu",
               b->tx ? "tx" : "rx", b->tcp ? 0 : b->frame, frames, ns, rate100 / 100, rate100 % 100, mbit, doorbells,
               c1.sint - c0.sint, b->queues, bytes, m->net.rsc, m->net.stats.rx_coalesced);
        return 0;
}

/* N - 1 sub-channels, each with a CPU to poll it, and RSS over them. */
static int open_queues(struct guest *g, struct net_mode *m, struct bench *b) {
        static const uint8_t key[NDIS_RSS_HASH_KEY_SIZE] = NDIS_RSS_KEY_VERIFICATION;
        int r = smp_start(b->queues, g->timeout_ns);
        if (r < 0)
                return r;
        struct vsc_net *subs = mem_alloc_pages((sizeof(struct vsc_net) * (MAX_QUEUES - 1) + 4095) / 4096);
        if (!subs)
                return guest_fail(-ENOMEM, "no pages for the sub-channels");
        r = vsc_net_open_subchannels(&m->net, subs, MAX_QUEUES - 1, b->queues - 1);
        if (r >= 0 && (unsigned)r != b->queues - 1)
                return guest_fail(-ENODEV, "net-bench: %u channels asked, the host gave %d (its NIC's queues: %u)",
                                  b->queues, r + 1, m->net.rss_queues);
        if (r >= 0)
                r = vsc_net_set_rss(&m->net, key, NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_UDP_IPV4, NULL, 0);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        for (unsigned k = 1; k < b->queues; k++) {
                b->flow[k].net = &subs[k - 1];
                vsc_net_set_rx(&subs[k - 1], on_sub_frame, &b->flow[k]);
        }
        report("net_vrss channels=%u sections_per_channel=%u", 1 + m->net.n_subs, m->net.sec_end - m->net.sec_first);
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
        static struct bench b;
        b = (struct bench){ .m = m, .tx = dir[0] == 't', .timeout_ns = g->timeout_ns };
        b.frame = (uint32_t)net_mode_opt(g, "vsc.frame", 60, 1514, 60);
        b.ms = (uint32_t)net_mode_opt(g, "vsc.bench_ms", 10, 600000, 1000);
        b.queues = (unsigned)net_mode_opt(g, "vsc.queues", 1, MAX_QUEUES, 1);
        b.lso = net_mode_opt(g, "vsc.lso", 0, 1, 0) == 1;
        b.tcp = net_mode_opt(g, "vsc.tcp", 0, 1, 0) == 1;
        if (b.tcp && b.tx)
                return guest_fail(-EINVAL, "vsc.tcp=1 is for vsc.bench=rx");
        if (b.lso && (!b.tx || b.queues > 1))
                return guest_fail(-EINVAL, "vsc.lso=1 is for vsc.bench=tx on one queue");
        char dst[24];
        bool dst_set = boot_cmdline_get(&g->boot, "vsc.lso_dst", dst, sizeof dst) == 0;
        if (dst_set && !vsc_ip_parse_addr(dst, &b.lso_dst))
                return guest_fail(-EINVAL, "vsc.lso_dst=%s: a.b.c.d", dst);
        for (unsigned k = 0; k < MAX_QUEUES; k++)
                b.flow[k] = (struct flow){ .b = &b, .net = &m->net, .index = k };
        int r = net_mode_open(g, m);
        if (r < 0)
                return r;
        if (!dst_set)
                b.lso_dst = m->peer;
        m->on_frame = on_frame;
        m->priv = &b;
        if (b.queues > 1 && (r = open_queues(g, m, &b)) < 0)
                return net_mode_close(m, r);

        return net_mode_close(m, run(g, m, &b));
}
