// SPDX-License-Identifier: MIT
/* Network data path: frames per second and throughput through a TAP in a
 * private network namespace, 64-byte and 1514-byte frames, both directions.
 *
 * Baseline (issue #8): the same traffic written to / read from the TAP by a
 * host process (writev/readv with the virtio_net_hdr). Ours: the same
 * frames through netvsp, driven by an in-process "guest" that speaks NVSP
 * and RNDIS exactly as netvsc does (send-buffer sections, transfer-page
 * packets completed at once) but without VMBus rings: it measures what the
 * provider adds per frame. The end to end rows with the test guest over
 * VMBus are bench-net-guest.c's (a guest run boots a VM, so it is its own
 * program).
 *
 *   guest->TAP: frames are UDP datagrams to a socket in the namespace that
 *               a thread drains (the kernel delivers what the TAP takes);
 *   TAP->guest: a thread blasts UDP datagrams at the guest address (a
 *               permanent neighbour entry), the reader takes them off the
 *               TAP; the figure is what the reader got;
 *   vRSS:       guest->TAP with two channels (a primary and a sub-channel
 *               device sharing the buffers, each on its own thread and
 *               its own queue of the multi-queue TAP) against one, beside
 *               two host threads on the two queues against one: how each
 *               scales with a second queue on this machine.
 * Needs root (unshare, TAP); prints why and exits 1 otherwise. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "bench.h"
#include "netvsp/netvsp.h"
#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-frames.h"

#define RUN_NS 200000000ull /* per round; rounds alternate baseline and ours */
#define ROUNDS 5
#define SECTIONS 64u
#define MEM (8u << 20)
#define RECV_LEN (4u << 20)
#define SEND_GPA RECV_LEN

static const uint8_t gmac[6] = NT_GUEST_MAC;

struct bench {
        struct tap *tap, *tap2; /* the TAP's two queues; the second is attached for the vRSS rows only */
        uint8_t host_mac[6];
        atomic_bool stop;
        atomic_ullong sunk;
        int sink;
};

/* ---- the in-process guest for netvsp ---- */

struct guest {
        uint8_t *mem;
        bool shared_mem; /* a sub-channel's: the primary's memory */
        struct netvsp_dev *nd;
        uint64_t comps;
        uint64_t xfer[4096];
        unsigned n_xfer;
        uint8_t pkt[SECTIONS][56];
};

static int g_comp(void *ctx, uint64_t tid, const void *msg, size_t len) {
        ((struct guest *)ctx)->comps++;
        return 0;
}
static int g_xfer(void *ctx, uint64_t tid, const struct vmtransfer_page_range *r, uint32_t n, const void *m,
                  size_t len) {
        struct guest *g = ctx;
        if (g->n_xfer == 4096)
                return -EAGAIN;
        g->xfer[g->n_xfer++] = tid;
        return 0;
}
static int g_map_gpadl(void *ctx, uint32_t gpadl, void **base, size_t *len) {
        struct guest *g = ctx;
        *base = g->mem + (gpadl == 1 ? 0 : SEND_GPA);
        *len = gpadl == 1 ? RECV_LEN : SECTIONS * 6144u;
        return 0;
}
static int g_map_gpa(void *ctx, uint64_t gpa, size_t len, void **host) {
        struct guest *g = ctx;
        if (gpa >= MEM || len > MEM - gpa)
                return -EFAULT;
        *host = g->mem + gpa;
        return 0;
}
static const struct netvsp_host_ops g_host = { g_comp, g_xfer, g_map_gpadl, NULL, g_map_gpa };

static void put32(uint8_t *p, uint32_t v) {
        memcpy(p, &v, 4);
}

/* An inband NVSP packet (descriptor + 40 bytes). */
static void nvsp_packet(uint8_t *p, uint16_t type, uint64_t tid, const uint32_t *w, unsigned n) {
        struct vmpacket_descriptor d = { .type = type, .offset8 = 2, .len8 = 7, .flags = 1, .trans_id = tid };
        memset(p, 0, 56);
        memcpy(p, &d, sizeof d);
        memcpy(p + 16, w, 4 * n);
}

/* An RNDIS control request in guest memory, sent GPA-direct. */
static void control(struct guest *g, const uint8_t *msg, uint32_t len) {
        uint8_t p[64] = { 0 };
        uint64_t gpa = MEM - 8192, pfn = gpa >> 12;
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = 5, .len8 = 7, .flags = 1 };
        memcpy(g->mem + gpa, msg, len);
        memcpy(p, &d, sizeof d);
        put32(p + 20, 1);
        put32(p + 24, len);
        memcpy(p + 32, &pfn, 8);
        uint32_t w[4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, 1, NVSP_INVALID_SECTION_INDEX, 0 };
        memcpy(p + 40, w, 16);
        netvsp_handle_packet(g->nd, p, 56);
        netvsp_process(g->nd);
}

static void complete_xfers(struct guest *g) {
        uint8_t p[24] = { 0 };
        for (unsigned i = 0; i < g->n_xfer; i++) {
                struct vmpacket_descriptor d = { .type = VM_PKT_COMP, .offset8 = 2, .len8 = 3, .trans_id = g->xfer[i] };
                memcpy(p, &d, sizeof d);
                put32(p + 16, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
                netvsp_handle_packet(g->nd, p, sizeof p);
        }
        g->n_xfer = 0;
}

/* NVSP init, buffers, RNDIS INIT and packet filter, as netvsc does (§7.3-§7.5). */
static int guest_new_q(struct bench *b, const struct netvsp_backend_ops *be, uint32_t queues, struct guest **out) {
        struct guest *g = calloc(1, sizeof *g);
        struct netvsp_config cfg;
        uint8_t p[56], m[32] = { 0 };
        if (!g || !(g->mem = calloc(1, MEM)))
                return -ENOMEM;
        netvsp_config_init_defaults(&cfg);
        memcpy(cfg.rndis.mac, gmac, 6);
        cfg.queues = queues;
        int r = netvsp_dev_new(&cfg, &g_host, g, be, b->tap, &g->nd);
        if (r < 0)
                return r;
        const uint32_t msgs[][3] = { { NVSP_MSG_TYPE_INIT, 0x60001, 0x60001 },
                                     { NVSP_MSG1_TYPE_SEND_RECV_BUF, 1, 0xcafe },
                                     { NVSP_MSG1_TYPE_SEND_SEND_BUF, 2, 0 } };
        for (int i = 0; i < 3; i++) {
                nvsp_packet(p, VM_PKT_DATA_INBAND, 1, msgs[i], 3);
                netvsp_handle_packet(g->nd, p, sizeof p);
        }
        put32(m, RNDIS_MSG_INIT);
        put32(m + 4, 24);
        put32(m + 12, 1);
        control(g, m, 24);
        const uint32_t set[8] = { RNDIS_MSG_SET, 32, 2, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, 4, 20, 0, 0x0d };
        control(g, (const uint8_t *)set, 32);
        complete_xfers(g);
        *out = g;
        return netvsp_dev_rndis(g->nd)->packet_filter == 0x0d ? 0 : -EPROTO;
}

static int guest_new_be(struct bench *b, const struct netvsp_backend_ops *be, struct guest **out) {
        return guest_new_q(b, be, 1, out);
}

static int guest_new(struct bench *b, struct guest **out) {
        return guest_new_be(b, &netvsp_tap_backend, out);
}

/* Sub-channel 1 of g (NIC with two queues), on the TAP's second queue. */
static int guest_sub(struct bench *b, struct guest *g, struct guest **out) {
        struct guest *s = calloc(1, sizeof *s);
        struct netvsp_config cfg;
        struct netvsp_shared *sh = malloc(sizeof *sh);
        if (!s || !sh) {
                free(s);
                free(sh);
                return -ENOMEM;
        }
        netvsp_config_init_defaults(&cfg);
        memcpy(cfg.rndis.mac, gmac, 6);
        cfg.queues = 2;
        s->mem = g->mem;
        s->shared_mem = true;
        netvsp_dev_get_shared(g->nd, sh);
        const struct netvsp_sub_config sc = { .index = 1, .backend_rx = true };
        int r = netvsp_dev_new_sub(&cfg, &g_host, s, &netvsp_tap_backend, b->tap2, &sc, sh, &s->nd);
        free(sh);
        if (r < 0) {
                free(s);
                return r;
        }
        *out = s;
        return 0;
}

static void guest_free(struct guest *g) {
        netvsp_dev_free(g->nd);
        if (!g->shared_mem)
                free(g->mem);
        free(g);
}

/* A backend that takes every frame at no cost: what netvsp itself spends. */
static int null_tx(void *be, const struct iovec *iov, int n) {
        return 0;
}
static ssize_t null_rx(void *be, const struct iovec *iov, int n) {
        return -EAGAIN;
}
static const struct netvsp_backend_ops null_backend = { null_tx, null_rx };

/* ---- traffic ---- */

static size_t frame_to_host(struct bench *b, uint8_t *f, size_t frame_len) {
        static uint8_t data[1500];
        return nt_udp(f, b->host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, 9, 9000, data, frame_len - 42, false);
}

static void *sink_thread(void *arg) {
        struct bench *b = arg;
        bench_udp_sink(b->sink, &b->stop, &b->sunk);
        return NULL;
}

/* guest->TAP: frames accepted per second. */
static double tx_host_process(struct bench *b, size_t frame_len) {
        uint8_t f[1600];
        struct virtio_net_hdr vh = { 0 };
        size_t n = frame_to_host(b, f, frame_len);
        struct iovec iov[2] = { { &vh, sizeof vh }, { f, n } };
        uint64_t sent = 0, t0 = bench_now_ns(), t;
        while ((t = bench_now_ns()) - t0 < RUN_NS)
                for (int i = 0; i < 64; i++)
                        sent += tap_writev(b->tap, iov, 2) == 0;
        return (double)sent * 1e9 / (double)(t - t0);
}

/* One RNDIS PACKET per section of [first, first + n), as for unbatched
 * sends; g->pkt[s] is the NVSP packet sending section s. */
static void tx_sections(struct bench *b, struct guest *g, size_t frame_len, uint32_t first, uint32_t count) {
        uint8_t f[1600];
        size_t n = frame_to_host(b, f, frame_len);
        for (uint32_t s = first; s < first + count; s++) {
                uint8_t *sec = g->mem + SEND_GPA + s * 6144u;
                memset(sec, 0, 44);
                put32(sec, RNDIS_MSG_PACKET);
                put32(sec + 4, (uint32_t)(44 + n));
                put32(sec + 8, 36);
                put32(sec + 12, (uint32_t)n);
                memcpy(sec + 44, f, n);
                const uint32_t w[4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, 0, s, (uint32_t)(44 + n) };
                nvsp_packet(g->pkt[s], VM_PKT_DATA_INBAND, s + 1, w, 4);
        }
}

/* Sends sections [first, first + count) round after round for RUN_NS;
 * returns the frames per second the device put on its backend. */
static double tx_loop(struct guest *g, uint32_t first, uint32_t count) {
        uint64_t before = netvsp_dev_stats(g->nd)->tx_packets, t0 = bench_now_ns(), t;
        while ((t = bench_now_ns()) - t0 < RUN_NS)
                for (uint32_t s = first; s < first + count; s++)
                        if (netvsp_handle_packet(g->nd, g->pkt[s], 56) == -EBUSY)
                                netvsp_process(g->nd);
        return (double)(netvsp_dev_stats(g->nd)->tx_packets - before) * 1e9 / (double)(t - t0);
}

static double tx_netvsp_be(struct bench *b, size_t frame_len, const struct netvsp_backend_ops *be) {
        struct guest *g;
        if (guest_new_be(b, be, &g) < 0)
                return -1;
        tx_sections(b, g, frame_len, 0, SECTIONS);
        double pps = tx_loop(g, 0, SECTIONS);
        guest_free(g);
        return pps;
}

static double tx_netvsp(struct bench *b, size_t frame_len) {
        return tx_netvsp_be(b, frame_len, &netvsp_tap_backend);
}

struct blaster {
        struct bench *b;
        size_t payload;
};

static void *blast_thread(void *arg) {
        struct blaster *bl = arg;
        static uint8_t data[1500];
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
        inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
        struct iovec iov = { data, bl->payload };
        struct mmsghdr mm[32];
        for (int i = 0; i < 32; i++)
                mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dst, .msg_namelen = sizeof dst,
                                                       .msg_iov = &iov, .msg_iovlen = 1 } };
        while (!atomic_load(&bl->b->stop))
                sendmmsg(s, mm, 32, MSG_DONTWAIT);
        close(s);
        return NULL;
}

/* TAP->guest: frames taken off the TAP per second while a thread blasts. */
static double rx_run(struct bench *b, size_t frame_len, struct guest *g) {
        struct blaster bl = { b, frame_len - 42 };
        pthread_t th;
        uint8_t buf[2048];
        struct virtio_net_hdr vh;
        struct iovec iov[2] = { { &vh, sizeof vh }, { buf, sizeof buf } };
        uint64_t got = 0, t0, t;

        atomic_store(&b->stop, false);
        pthread_create(&th, NULL, blast_thread, &bl);
        t0 = bench_now_ns();
        uint64_t before = g ? netvsp_dev_stats(g->nd)->rx_packets : 0;
        while ((t = bench_now_ns()) - t0 < RUN_NS) {
                if (g) {
                        uint64_t had = netvsp_dev_stats(g->nd)->rx_packets;
                        netvsp_process(g->nd);
                        complete_xfers(g);
                        /* like the baseline: sleep in poll() when the TAP is empty,
                         * leaving the CPU to the sender */
                        if (netvsp_dev_stats(g->nd)->rx_packets != had)
                                continue;
                } else if (tap_readv(b->tap, iov, 2) > 0) {
                        got++;
                        continue;
                }
                poll(&(struct pollfd){ .fd = tap_fd(b->tap), .events = POLLIN }, 1, 1);
        }
        if (g)
                got = netvsp_dev_stats(g->nd)->rx_packets - before;
        atomic_store(&b->stop, true);
        pthread_join(th, NULL);
        return (double)got * 1e9 / (double)(t - t0);
}

/* ---- vRSS: one channel (queue) against two, guest->TAP ---- */

struct tx_job {
        struct bench *b;
        struct guest *g; /* NULL: the host process writes q itself */
        struct tap *q;
        size_t frame_len;
        uint32_t first, count;
        double pps;
};

static void *tx_job_thread(void *arg) {
        struct tx_job *j = arg;
        if (j->g) {
                j->pps = tx_loop(j->g, j->first, j->count);
                return NULL;
        }
        uint8_t f[1600];
        struct virtio_net_hdr vh = { 0 };
        size_t n = frame_to_host(j->b, f, j->frame_len);
        struct iovec iov[2] = { { &vh, sizeof vh }, { f, n } };
        uint64_t sent = 0, t0 = bench_now_ns(), t;
        while ((t = bench_now_ns()) - t0 < RUN_NS)
                for (int i = 0; i < 64; i++)
                        sent += tap_writev(j->q, iov, 2) == 0;
        j->pps = (double)sent * 1e9 / (double)(t - t0);
        return NULL;
}

/* Frames per second of `channels` (1 or 2) senders at once, each on its
 * own queue: netvsp devices (ours) or the host process's threads. */
static double tx_channels(struct bench *b, size_t frame_len, unsigned channels, bool ours) {
        struct guest *g = NULL, *sub = NULL;
        struct tx_job jobs[2] = { { b, NULL, b->tap, frame_len, 0, SECTIONS / 2, 0 },
                                  { b, NULL, b->tap2, frame_len, SECTIONS / 2, SECTIONS / 2, 0 } };
        if (ours) {
                if (guest_new_q(b, &netvsp_tap_backend, 2, &g) < 0 || guest_sub(b, g, &sub) < 0)
                        return -1;
                tx_sections(b, g, frame_len, 0, SECTIONS);
                for (uint32_t s = SECTIONS / 2; s < SECTIONS; s++) /* the sub-channel sends its own half */
                        memcpy(sub->pkt[s], g->pkt[s], sizeof g->pkt[s]);
                jobs[0].g = g;
                jobs[1].g = sub;
        }
        pthread_t th[2];
        for (unsigned i = 0; i < channels; i++)
                pthread_create(&th[i], NULL, tx_job_thread, &jobs[i]);
        double sum = 0;
        for (unsigned i = 0; i < channels; i++) {
                pthread_join(th[i], NULL);
                sum += jobs[i].pps;
        }
        if (sub)
                guest_free(sub);
        if (g)
                guest_free(g);
        return sum;
}

static double tx1_host(struct bench *b, size_t len) {
        return tx_channels(b, len, 1, false);
}
static double tx2_host(struct bench *b, size_t len) {
        return tx_channels(b, len, 2, false);
}
static double tx1_ours(struct bench *b, size_t len) {
        return tx_channels(b, len, 1, true);
}
static double tx2_ours(struct bench *b, size_t len) {
        return tx_channels(b, len, 2, true);
}

static double rx_host_process(struct bench *b, size_t frame_len) {
        return rx_run(b, frame_len, NULL);
}

static double rx_netvsp(struct bench *b, size_t frame_len) {
        struct guest *g;
        if (guest_new(b, &g) < 0)
                return -1;
        double r = rx_run(b, frame_len, g);
        guest_free(g);
        return r;
}

/* The same with the guest's RSC on (OID_TCP_OFFLOAD_PARAMETERS as
 * netvsc_set_features sends it): every read offers the TAP the slots of
 * a 64 KiB GSO frame, which these datagrams never fill. */
static double rx_netvsp_rsc(struct bench *b, size_t frame_len) {
        struct guest *g;
        if (guest_new(b, &g) < 0)
                return -1;
        uint8_t m[56] = { 0 };
        const uint32_t set[7] = { RNDIS_MSG_SET, 56, 3, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, 28, 20, 0 };
        memcpy(m, set, sizeof set);
        m[28] = NDIS_OBJECT_TYPE_DEFAULT, m[29] = 3, m[30] = 28;
        m[28 + 22] = m[28 + 23] = NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED;
        control(g, m, sizeof m);
        complete_xfers(g);
        double r = netvsp_dev_rndis(g->nd)->offload.rsc_ip4 ? rx_run(b, frame_len, g) : -1;
        guest_free(g);
        return r;
}

static int setup(struct bench *b) {
        struct tap_config tc = { .name = "vmbench0", .mtu = 1500, .create = true, .queues = 2 };
        int r = nt_netns_enter();
        if (r < 0)
                return r;
        r = tap_open(&tc, &b->tap);
        if (r < 0 || (r = tap_open_queue(b->tap, &b->tap2)) < 0 || (r = tap_set_queue(b->tap2, false)) < 0)
                return r;
        if (nt_add_addr(tap_ifindex(b->tap), "vmbench0", NT_HOST_IP "/24") < 0 ||
            nt_add_neigh(tap_ifindex(b->tap), NT_GUEST_IP, gmac) < 0)
                return -EIO;
        struct ifreq ifr = { .ifr_name = "vmbench0" };
        b->sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (ioctl(b->sink, SIOCGIFHWADDR, &ifr) < 0)
                return -errno;
        memcpy(b->host_mac, ifr.ifr_hwaddr.sa_data, 6);
        int big = 64 << 20;
        setsockopt(b->sink, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9000) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        return bind(b->sink, (struct sockaddr *)&a, sizeof a) < 0 ? -errno : 0;
}

/* One way through the data path. */
struct path {
        const char *name;
        double (*tx)(struct bench *, size_t);
        double (*rx)(struct bench *, size_t);
};

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Median of ROUNDS alternating runs of the baseline and ours: the machines
 * are shared, so load changes between two long runs would bias the ratio. */
static void measure(struct bench *b, double (*base_fn)(struct bench *, size_t),
                    double (*ours_fn)(struct bench *, size_t), size_t len, double *base, double *ours) {
        double vb[ROUNDS], vo[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                vb[i] = base_fn(b, len);
                vo[i] = ours_fn(b, len);
        }
        qsort(vb, ROUNDS, sizeof vb[0], cmp_double);
        qsort(vo, ROUNDS, sizeof vo[0], cmp_double);
        *base = vb[ROUNDS / 2];
        *ours = vo[ROUNDS / 2];
}

static void report(const char *dir, size_t len, double ours, double base) {
        char m[128];
        snprintf(m, sizeof m, "net: %s %zu-byte frames", dir, len + 4);
        bench_result(m, ours / 1e3, base / 1e3, "kpps", "-", "higher");
        snprintf(m, sizeof m, "net: %s %zu-byte throughput", dir, len + 4);
        bench_result(m, ours * (double)len * 8 / 1e9, base * (double)len * 8 / 1e9, "Gbit/s", "-", "higher");
}

int main(void) {
        static const struct path host = { "host process", tx_host_process, rx_host_process },
                                 ours = { "netvsp", tx_netvsp, rx_netvsp };
        static const size_t sizes[] = { 60, 1514 }; /* 64 and 1518 bytes on the wire with the FCS */
        struct bench b = { .sink = -1 };
        pthread_t sink;
        double vb, vo;

        int r = setup(&b);
        if (r < 0) {
                fprintf(stderr, "bench-net: cannot set up a TAP in a network namespace (%s): needs root\n",
                        strerror(-r));
                return 1;
        }
        pthread_create(&sink, NULL, sink_thread, &b);
        for (size_t i = 0; i < 2; i++) {
                measure(&b, host.tx, ours.tx, sizes[i], &vb, &vo);
                report("guest->TAP", sizes[i], vo, vb);
        }
        /* what netvsp itself costs per guest frame (null backend) next to
         * what one TAP write costs the host process */
        double cpu = tx_netvsp_be(&b, 1514, &null_backend);
        measure(&b, host.tx, host.tx, 1514, &vb, &vo);
        bench_result("net: netvsp CPU per 1518-byte guest frame (vs one TAP write)", 1e9 / cpu, 1e9 / vb, "ns",
                     "-", "lower");
        /* vRSS: the second queue attached for these rows only (a queue nobody
         * reads would take the TAP->guest rows' frames) */
        if (tap_set_queue(b.tap2, true) == 0) {
                double b1, o1, b2, o2;
                measure(&b, tx1_host, tx1_ours, 1514, &b1, &o1);
                measure(&b, tx2_host, tx2_ours, 1514, &b2, &o2);
                report("guest->TAP, 2 channels (vRSS),", 1514, o2, b2);
                bench_result("net: guest->TAP 1518-byte frames, 2 channels / 1 channel", o2 / o1, b2 / b1, "x", "-",
                             "higher");
                (void)tap_set_queue(b.tap2, false);
        }
        atomic_store(&b.stop, true);
        pthread_join(sink, NULL);
        for (size_t i = 0; i < 2; i++) {
                measure(&b, host.rx, ours.rx, sizes[i], &vb, &vo);
                report("TAP->guest", sizes[i], vo, vb);
        }
        measure(&b, host.rx, rx_netvsp_rsc, 60, &vb, &vo);
        report("TAP->guest, the guest's RSC on,", 60, vo, vb);
        fprintf(stderr, "bench-net: sink socket received %llu datagrams\n", (unsigned long long)atomic_load(&b.sunk));
        tap_close(b.tap2);
        tap_close(b.tap);
        close(b.sink);
        return 0;
}
