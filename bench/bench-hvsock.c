// SPDX-License-Identifier: MIT
/* Hyper-V sockets (vsp/hvsock, docs/hvsock.md), the host's part: the VMBus
 * server and hvsock on its device worker, with the simulated guest in
 * process doing the guest's wire steps (TL_CONNECT_REQUEST, waiting for the
 * offer, GPADL + OPENCHANNEL, pipe packets). So the figures are what the
 * host adds, not a stock guest's kernel.
 *
 * - Connect latency: from the guest's TL_CONNECT_REQUEST until its channel
 *   is open (when Linux's connect() returns) and the host service accepted
 *   the Unix connection the connect callback made (as vmms does). Baseline:
 *   connect() + accept() of a Unix stream socket on the host. Median of N.
 * - One stream's throughput, host -> guest and guest -> host, 64-page rings
 *   (the most Linux's hv_sock asks for): a host thread writes (or reads) a
 *   Unix socket, the guest reads (writes) pipe packets. Baseline: the same
 *   bytes through a Unix socketpair between two host threads, same chunk.
 *
 * Usage: bench-hvsock [connects, default 200] [MiB per stream, default 256] */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "common/fd-util.h"
#include "common/macro.h"
#include "hv/tlfs.h"
#include "hvsock/hvsock.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define CHUNK 4000u /* what Linux's hv_sock sends per packet is at most 4088 */

static void die(const char *what, int r) {
        fprintf(stderr, "bench-hvsock: %s failed (%d)\n", what, r);
        exit(1);
}

struct bench {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct hvsock *hs;
        struct sockaddr_un addr;
        int listener;
};

/* What vmms does for the worker: connect to the configured socket. */
static int bench_connect(void *opaque, uint32_t port, uint64_t token) {
        struct bench *b = opaque;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&b->addr, sizeof b->addr) < 0) {
                int e = -errno;
                if (fd >= 0)
                        close(fd);
                return e;
        }
        return hvsock_connect_done(b->hs, token, fd);
}

static void next_msg(struct bench *b, uint32_t type, void *buf, size_t cap) {
        uint64_t t0 = bench_now_ns();
        for (;;) {
                int n = vmbus_sim_next_message(b->sim, NULL, buf, cap);
                if (n >= 4) {
                        uint32_t t;
                        memcpy(&t, buf, 4);
                        if (t != type)
                                die("unexpected message", (int)t);
                        return;
                }
                if (bench_now_ns() - t0 > 5000000000ull)
                        die("waiting for the host", -ETIMEDOUT);
                sched_yield();
        }
}

/* The guest connects from gport to 5000 and opens the channel. */
static void guest_connect(struct bench *b, uint32_t gport, unsigned pages, struct vmbus_channel_offer_channel *o,
                          struct vmbus_sim_channel *ch) {
        struct vmbus_channel_tl_connect_request m = { .header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST };
        struct guid g;
        hvsock_service_id(gport, &g);
        memcpy(m.guest_endpoint_id, g.b, 16);
        hvsock_service_id(5000, &g);
        memcpy(m.host_service_id, g.b, 16);
        if (vmbus_sim_post(b->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m) != HV_STATUS_SUCCESS)
                die("post", -EIO);
        next_msg(b, CHANNELMSG_OFFERCHANNEL, o, sizeof *o);
        int r = vmbus_sim_open(b->sim, o->child_relid, o->connection_id, pages, NULL, 0, ch);
        if (r != 0)
                die("open", r);
}

static void guest_close(struct bench *b, const struct vmbus_channel_offer_channel *o) {
        struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
                                                 .child_relid = o->child_relid };
        (void)vmbus_sim_post(b->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m);
        next_msg(b, CHANNELMSG_RESCIND_CHANNELOFFER, &m, sizeof m);
        m.header.msgtype = CHANNELMSG_RELID_RELEASED;
        (void)vmbus_sim_post(b->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m);
}

static void setup(struct bench *b) {
        *b = (struct bench){ 0 };
        int r = vmbus_sim_new(64u << 20, 1, &b->sim);
        if (r < 0)
                die("sim", r);
        struct hvsock_config hc = { .connect = bench_connect, .connect_opaque = b };
        if ((r = hvsock_new(&hc, &b->hs)) < 0)
                die("hvsock", r);
        struct vmbus_server_config cfg = { .vp_count = 1, .limits.max_channels = 512,
                                           .tl_connect = hvsock_tl_connect, .tl_connect_opaque = b->hs };
        if ((r = vmbus_server_new(&cfg, &vmbus_sim_ops, b->sim, &b->srv)) < 0)
                die("server", r);
        if ((r = hvsock_start(b->hs, b->srv)) < 0)
                die("start", r);
        struct vmbus_channel_offer_channel o;
        if (vmbus_sim_connect(b->sim, VERSION_WIN10_V5_3) != 1 || vmbus_sim_request_offers(b->sim, &o, 1) != 0)
                die("connect", -EIO);
        b->addr.sun_family = AF_UNIX;
        snprintf(b->addr.sun_path, sizeof b->addr.sun_path, "/tmp/bench-hvsock-%d.sock", (int)getpid());
        unlink(b->addr.sun_path);
        b->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (b->listener < 0 || bind(b->listener, (struct sockaddr *)&b->addr, sizeof b->addr) < 0 ||
            listen(b->listener, 128) < 0)
                die("listen", -errno);
}

static void teardown(struct bench *b) {
        hvsock_stop(b->hs);
        vmbus_server_free(b->srv);
        hvsock_free(b->hs);
        vmbus_sim_free(b->sim);
        close(b->listener);
        unlink(b->addr.sun_path);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static void bench_connects(unsigned n) {
        struct bench b;
        setup(&b);
        double *ours = calloc(n, sizeof *ours), *base = calloc(n, sizeof *base);
        for (unsigned i = 0; i < n; i++) {
                struct vmbus_channel_offer_channel o;
                struct vmbus_sim_channel ch;
                uint64_t t0 = bench_now_ns();
                guest_connect(&b, 20000 + i, 6, &o, &ch);
                int svc = accept4(b.listener, NULL, NULL, SOCK_CLOEXEC);
                ours[i] = (double)(bench_now_ns() - t0) / 1000.0;
                if (svc < 0)
                        die("accept", -errno);
                close(svc);
                guest_close(&b, &o);

                t0 = bench_now_ns();
                int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (c < 0 || connect(c, (struct sockaddr *)&b.addr, sizeof b.addr) < 0)
                        die("baseline connect", -errno);
                svc = accept4(b.listener, NULL, NULL, SOCK_CLOEXEC);
                base[i] = (double)(bench_now_ns() - t0) / 1000.0;
                close(c);
                close(svc);
        }
        qsort(ours, n, sizeof *ours, cmp_double);
        qsort(base, n, sizeof *base, cmp_double);
        bench_result("hvsock connect, guest to host service (median)", ours[n / 2], base[n / 2], "us", "<=1000",
                     "lower");
        bench_result("hvsock connect, guest to host service (p99)", ours[n * 99 / 100], base[n * 99 / 100], "us",
                     "-", "lower");
        free(ours);
        free(base);
        teardown(&b);
}

struct side {
        int fd;
        size_t bytes;
        bool write;
        int result;
};

static void *side_thread(void *arg) {
        struct side *s = arg;
        uint8_t *buf = malloc(CHUNK * 16);
        memset(buf, 0x5a, CHUNK * 16);
        size_t done = 0;
        while (done < s->bytes) {
                size_t want = MIN((size_t)CHUNK * 16, s->bytes - done);
                ssize_t r = s->write ? write(s->fd, buf, want) : read(s->fd, buf, want);
                if (r <= 0) {
                        s->result = -EIO;
                        break;
                }
                done += (size_t)r;
        }
        free(buf);
        return NULL;
}

/* Bytes/s of one stream; to_guest: the host writes, the guest reads. */
static double stream_ours(size_t bytes, bool to_guest) {
        struct bench b;
        setup(&b);
        struct vmbus_channel_offer_channel o;
        struct vmbus_sim_channel ch;
        guest_connect(&b, 30000, 64, &o, &ch);
        int svc = accept4(b.listener, NULL, NULL, SOCK_CLOEXEC);
        if (svc < 0)
                die("accept", -errno);
        struct side host = { .fd = svc, .bytes = bytes, .write = to_guest };
        pthread_t t;
        uint64_t t0 = bench_now_ns();
        pthread_create(&t, NULL, side_thread, &host);
        static uint8_t buf[VMBUS_HVSOCK_GUEST_MAX_PACKET];
        size_t done = 0;
        while (done < bytes) {
                if (to_guest) {
                        struct vmbus_packet pkt;
                        int r = vmbus_sim_ring_wait(b.sim, &ch, buf, sizeof buf, &pkt, 5000);
                        if (r <= 0)
                                die("guest read", r);
                        const uint8_t *d;
                        size_t n;
                        if (hvsock_parse_pipe(vmbus_packet_payload(&pkt), vmbus_packet_payload_len(&pkt), &d, &n))
                                die("pipe", -EBADMSG);
                        done += n;
                } else {
                        uint32_t n = (uint32_t)MIN((size_t)CHUNK, bytes - done);
                        struct vmbus_pipe_header h = { .type = VMBUS_PIPE_MSG_DATA, .data_size = n };
                        memcpy(buf, &h, sizeof h);
                        int r;
                        while ((r = vmbus_sim_ring_write(b.sim, &ch, VM_PKT_DATA_INBAND, 0, 0, buf, sizeof h + n)) ==
                               -EAGAIN)
                                sched_yield();
                        if (r < 0)
                                die("guest write", r);
                        done += n;
                }
        }
        pthread_join(t, NULL);
        double secs = (double)(bench_now_ns() - t0) / 1e9;
        if (host.result)
                die("host side", host.result);
        close(svc);
        guest_close(&b, &o);
        teardown(&b);
        return (double)bytes / secs;
}

static double stream_base(size_t bytes) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair", -errno);
        struct side w = { .fd = sv[0], .bytes = bytes, .write = true };
        pthread_t t;
        uint64_t t0 = bench_now_ns();
        pthread_create(&t, NULL, side_thread, &w);
        uint8_t *buf = malloc(CHUNK);
        size_t done = 0;
        while (done < bytes) {
                ssize_t r = read(sv[1], buf, CHUNK);
                if (r <= 0)
                        die("baseline read", -EIO);
                done += (size_t)r;
        }
        pthread_join(t, NULL);
        double secs = (double)(bench_now_ns() - t0) / 1e9;
        free(buf);
        close(sv[0]);
        close(sv[1]);
        return (double)bytes / secs;
}

int main(int argc, char **argv) {
        unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
        size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 256;
        if (n < 2 || mib < 1)
                die("arguments", -EINVAL);
        bench_connects(n);
        size_t bytes = mib << 20;
        double base = stream_base(bytes);
        bench_result("hvsock stream host->guest, 64-page rings", stream_ours(bytes, true) / 1e6, base / 1e6, "MB/s",
                     ">=1000", "higher");
        bench_result("hvsock stream guest->host, 64-page rings", stream_ours(bytes, false) / 1e6, base / 1e6,
                     "MB/s", ">=1000", "higher");
        return 0;
}
