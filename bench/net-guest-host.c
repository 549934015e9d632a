// SPDX-License-Identifier: MIT
/* bench-net-guest's host side (net-guest.h): the UDP echo server (the
 * net-check peer), the sink and the blasters, and the baseline: a host
 * process on the same TAP, with datagrams and TSO-sized sends. */
#include "net-guest.h"

/* ---- UDP echo server (the net-check peer) ---- */

int echo_server(const char *spec, unsigned seconds, unsigned dup_every) {
        char addr[64];
        snprintf(addr, sizeof addr, "%s", spec);
        char *colon = strrchr(addr, ':');
        if (!colon)
                return fprintf(stderr, "bench-net-guest: --echo ADDR:PORT\n"), 2;
        *colon = 0;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 || bind(s, (struct sockaddr *)&a, sizeof a) < 0)
                return fprintf(stderr, "bench-net-guest: cannot bind %s: %s\n", spec, strerror(errno)), 1;
        uint64_t end = bench_now_ns() + (uint64_t)seconds * 1000000000ull;
        unsigned long n = 0;
        while (bench_now_ns() < end) {
                uint8_t buf[65536];
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                if (poll(&(struct pollfd){ .fd = s, .events = POLLIN }, 1, 200) <= 0)
                        continue;
                ssize_t k = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
                if (k >= 0 && sendto(s, buf, (size_t)k, 0, (struct sockaddr *)&from, fl) == k)
                        n++;
                if (k >= 0 && dup_every && n % dup_every == 0)
                        (void)sendto(s, buf, (size_t)k, 0, (struct sockaddr *)&from, fl);
        }
        fprintf(stderr, "bench-net-guest: echoed %lu datagrams\n", n);
        return 0;
}

/* ---- host side: sink and blaster ---- */

void *sink_thread(void *arg) {
        struct env *e = arg;
        bench_udp_sink(e->sink, &e->stop_sink, &e->sunk);
        return NULL;
}

static void *blast_thread(void *arg) {
        struct blaster *bl = arg;
        struct env *e = bl->e;
        static uint8_t data[1500];
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(bl->sport) };
        inet_pton(AF_INET, NT_HOST_IP, &src.sin_addr);
        if (bl->sport && bind(s, (struct sockaddr *)&src, sizeof src) < 0)
                fprintf(stderr, "bench-net-guest: cannot bind source port %u: %s\n", bl->sport, strerror(errno));
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(PORT) };
        inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
        struct iovec iov = { data, e->blast_payload };
        struct mmsghdr mm[32];
        for (int i = 0; i < 32; i++)
                mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dst, .msg_namelen = sizeof dst,
                                                       .msg_iov = &iov, .msg_iovlen = 1 } };
        while (!atomic_load(&e->stop_blast))
                if (sendmmsg(s, mm, 32, MSG_DONTWAIT) < 0)
                        sched_yield();
        close(s);
        return NULL;
}

/* flows == 1: one flow from any port; 2: from e->flow_sport[]. */
void blast_start(struct env *e, size_t frame, unsigned flows, struct blaster bl[MAX_FLOWS]) {
        e->blast_payload = frame - 42;
        atomic_store(&e->stop_blast, false);
        for (unsigned k = 0; k < flows && k < MAX_FLOWS; k++) {
                bl[k] = (struct blaster){ .e = e, .sport = flows > 1 ? e->flow_sport[k] : 0 };
                pthread_create(&bl[k].th, NULL, blast_thread, &bl[k]);
        }
}

void blast_stop(struct env *e, unsigned flows, struct blaster bl[MAX_FLOWS]) {
        atomic_store(&e->stop_blast, true);
        for (unsigned k = 0; k < flows && k < MAX_FLOWS; k++)
                pthread_join(bl[k].th, NULL);
}

/* Source ports for the two flows: the guest's table (entry i = i mod 2,
 * 128 entries) under Microsoft's key, as the TAP's steering program looks
 * it up, puts flow k on channel k. */
void pick_flow_ports(struct env *e) {
        static const uint8_t key[RSS_STEER_KEY_SIZE] = NDIS_RSS_KEY_VERIFICATION;
        bool have[MAX_FLOWS] = { false };
        for (uint32_t port = 40001; port < 41000 && !(have[0] && have[1]); port++) {
                uint8_t in[12];
                uint16_t sp = htons((uint16_t)port), dp = htons(PORT);
                inet_pton(AF_INET, NT_HOST_IP, in);
                inet_pton(AF_INET, NT_GUEST_IP, in + 4);
                memcpy(in + 8, &sp, 2);
                memcpy(in + 10, &dp, 2);
                uint32_t ch = (rss_toeplitz(key, in, sizeof in) & 255) % 128 % MAX_FLOWS;
                if (!have[ch]) {
                        have[ch] = true;
                        e->flow_sport[ch] = (uint16_t)port;
                }
        }
}

/* ---- the baseline: a host process on the same TAP ---- */

struct tap *open_tap(void) {
        struct tap_config tc = { .name = TAP_NAME, .mtu = 1500, .queues = MAX_FLOWS };
        struct tap *t = NULL;
        return tap_open(&tc, &t) < 0 ? NULL : t;
}

/* The baseline's queues: the first and, for two flows, another. */
static int open_queues(unsigned flows, struct tap *q[MAX_FLOWS]) {
        q[0] = open_tap();
        q[1] = NULL;
        if (!q[0] || (flows > 1 && tap_open_queue(q[0], &q[1]) < 0)) {
                tap_close(q[0]);
                return -1;
        }
        return 0;
}

struct base_flow {
        struct env *e;
        struct tap *q;
        size_t frame;
        uint16_t sport;
        uint64_t got, t0, t;
        pthread_t th;
};

/* guest->host: datagrams written to one queue for bench_ms. */
static void *base_tx_flow(void *arg) {
        struct base_flow *f = arg;
        uint8_t fr[1600], data[1500] = { 0 };
        struct virtio_net_hdr vh = { 0 };
        size_t n = nt_udp(fr, f->e->host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, f->sport, PORT, data, f->frame - 42, false);
        struct iovec iov[2] = { { &vh, sizeof vh }, { fr, n } };
        f->t0 = bench_now_ns();
        while ((f->t = bench_now_ns()) - f->t0 < bench_ms * 1000000ull)
                for (int i = 0; i < 64; i++)
                        if (tap_writev(f->q, iov, 2) == -EAGAIN)
                                poll(&(struct pollfd){ .fd = tap_fd(f->q), .events = POLLOUT }, 1, 1);
        return NULL;
}

/* host->guest: frames read off one queue for bench_ms. */
static void *base_rx_flow(void *arg) {
        struct base_flow *f = arg;
        uint8_t buf[2048];
        struct virtio_net_hdr vh;
        struct iovec iov[2] = { { &vh, sizeof vh }, { buf, sizeof buf } };
        f->t0 = bench_now_ns();
        while ((f->t = bench_now_ns()) - f->t0 < bench_ms * 1000000ull) {
                ssize_t k = tap_readv(f->q, iov, 2);
                if (k > 0 && (size_t)k == sizeof vh + f->frame && buf[23] == 17)
                        f->got++;
                else if (k == -EAGAIN)
                        poll(&(struct pollfd){ .fd = tap_fd(f->q), .events = POLLIN }, 1, 1);
        }
        return NULL;
}

/* A host process on the same TAP, a thread per queue: guest->host what the
 * socket got per second, host->guest what the threads read per second. */
double base_run(struct env *e, bool tx, size_t frame, unsigned flows) {
        struct tap *q[MAX_FLOWS];
        struct base_flow f[MAX_FLOWS];
        struct blaster bl[MAX_FLOWS];
        if (open_queues(flows, q) < 0)
                return -1;
        if (tx)
                usleep(20000);
        else
                blast_start(e, frame, flows, bl);
        uint64_t s0 = atomic_load(&e->sunk);
        for (unsigned k = 0; k < flows; k++) {
                f[k] = (struct base_flow){ .e = e, .q = q[k], .frame = frame, .sport = (uint16_t)(40001 + k) };
                pthread_create(&f[k].th, NULL, tx ? base_tx_flow : base_rx_flow, &f[k]);
        }
        double rate = 0, got = 0;
        uint64_t ns = 0;
        for (unsigned k = 0; k < flows; k++) {
                pthread_join(f[k].th, NULL);
                got += (double)f[k].got;
                ns = MAX(ns, f[k].t - f[k].t0);
        }
        if (tx) {
                usleep(50000); /* the kernel finishes delivering to the socket */
                got = (double)(atomic_load(&e->sunk) - s0);
        } else {
                blast_stop(e, flows, bl);
        }
        rate = got * 1e9 / (double)ns;
        for (unsigned k = 0; k < flows; k++)
                tap_close(q[k]);
        return rate;
}

/* ---- TSO-sized sends ---- */

/* Bytes the TAP took in from its writers (tun's receive counter). */
uint64_t tap_rx_bytes(void) {
        FILE *f = fopen("/proc/net/dev", "r"); /* this network namespace's */
        char line[512];
        unsigned long long v = 0;
        while (f && fgets(line, sizeof line, f)) {
                char *p = strstr(line, TAP_NAME ":");
                if (p && sscanf(p + strlen(TAP_NAME ":"), "%llu", &v) == 1)
                        break;
        }
        if (f)
                fclose(f);
        return v;
}

/* The baseline: the same frames written to the TAP as GSO TCPv4 frames. */
double base_lso(struct env *e) {
        struct tap *q[MAX_FLOWS];
        static uint8_t f[LSO_FRAME], data[LSO_FRAME];
        if (open_queues(1, q) < 0)
                return -1;
        struct virtio_net_hdr vh;
        size_t n = nt_tcp_gso4(f, e->host_mac, gmac, NT_GUEST_IP, LSO_DST_IP, 40001, PORT, 1, data, LSO_FRAME - 54, &vh);
        struct iovec iov[2] = { { &vh, sizeof vh }, { f, n } };
        uint64_t b0 = tap_rx_bytes(), t0 = bench_now_ns(), t;
        while ((t = bench_now_ns()) - t0 < bench_ms * 1000000ull)
                if (tap_writev(q[0], iov, 2) == -EAGAIN)
                        poll(&(struct pollfd){ .fd = tap_fd(q[0]), .events = POLLOUT }, 1, 1);
        uint64_t bytes = tap_rx_bytes() - b0;
        tap_close(q[0]);
        return (double)bytes * 8 / (double)(t - t0); /* Gbit/s */
}

static void *inject_thread(void *arg) {
        struct injector *in = arg;
        static uint8_t buf[sizeof(struct virtio_net_hdr) + LSO_FRAME], data[LSO_FRAME];
        int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), one = 1;
        if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) {
                fprintf(stderr, "bench-net-guest: packet socket: %s\n", strerror(errno));
                return NULL;
        }
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(TAP_NAME),
                                   .sll_halen = 6 };
        memcpy(sll.sll_addr, gmac, 6);
        uint8_t *f = buf + sizeof(struct virtio_net_hdr);
        struct virtio_net_hdr vh;
        size_t n = nt_tcp_gso4(f, gmac, in->e->host_mac, NT_HOST_IP, NT_GUEST_IP, 40001, PORT, 1, data, LSO_FRAME - 54,
                               &vh);
        memcpy(buf, &vh, sizeof vh);
        while (!atomic_load(&in->stop)) {
                if (sendto(s, buf, sizeof vh + n, MSG_DONTWAIT, (struct sockaddr *)&sll, sizeof sll) < 0)
                        sched_yield();
                else
                        in->sent++;
        }
        close(s);
        return NULL;
}

void inject_start(struct env *e, struct injector *in) {
        *in = (struct injector){ .e = e };
        pthread_create(&in->th, NULL, inject_thread, in);
}

void inject_stop(struct injector *in) {
        atomic_store(&in->stop, true);
        pthread_join(in->th, NULL);
}

/* The baseline: a host process reading those frames off the TAP with TSO
 * on (whole, as netvsp asks for them for a guest with RSC): Gbit/s of
 * frame bytes read. */
double base_rsc(struct env *e) {
        struct tap *q[MAX_FLOWS];
        static uint8_t buf[70000];
        struct injector in;
        if (open_queues(1, q) < 0 || tap_set_rx_gso(q[0], true, false) < 0)
                return -1;
        inject_start(e, &in);
        struct virtio_net_hdr vh;
        struct iovec iov[2] = { { &vh, sizeof vh }, { buf, sizeof buf } };
        uint64_t bytes = 0, t0 = bench_now_ns(), t;
        while ((t = bench_now_ns()) - t0 < bench_ms * 1000000ull) {
                ssize_t k = tap_readv(q[0], iov, 2);
                if (k > (ssize_t)sizeof vh && buf[23] == 6)
                        bytes += (uint64_t)k - sizeof vh;
                else if (k == -EAGAIN)
                        poll(&(struct pollfd){ .fd = tap_fd(q[0]), .events = POLLIN }, 1, 1);
        }
        inject_stop(&in);
        tap_set_rx_gso(q[0], false, false);
        tap_close(q[0]);
        return (double)bytes * 8 / (double)(t - t0);
}
