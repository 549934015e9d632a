// SPDX-License-Identifier: MIT
/* Hyper-V sockets (vsp/hvsock, docs/hvsock.md) against a simulated guest
 * that does what Linux's hv_sock does on the wire: TL_CONNECT_REQUEST, the
 * offer's GUIDs and flags, OPENCHANNEL, pipe packets, the zero-length
 * shutdown, RELID_RELEASED after the rescind. Host sockets are socketpairs. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/test.h"
#include "hv/tlfs.h"
#include "hvsock/hvsock.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define REFUSED_PORT 99u
#define RING_PAGES 6u

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct hvsock *hs;
        pthread_mutex_t lock;
        int peers[512]; /* the host service's end of each guest connection, in order */
        unsigned n_peers;
        bool drop_peers; /* the host service hangs up at once (keeps no fds) */
        uint32_t largest_rx; /* the longest pipe message the guest received */
};

static int fx_connect(void *opaque, uint32_t port, uint64_t token) {
        struct fx *f = opaque;
        if (port == REFUSED_PORT)
                return -ECONNREFUSED;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pthread_mutex_lock(&f->lock);
        bool keep = !f->drop_peers && f->n_peers < ARRAY_SIZE(f->peers);
        if (keep)
                f->peers[f->n_peers++] = sv[0];
        pthread_mutex_unlock(&f->lock);
        if (!keep)
                close(sv[0]);
        return hvsock_connect_done(f->hs, token, sv[1]);
}

/* The VMBus server's relids (its channel limit) for the next setup. */
static unsigned fx_max_channels = 600;

static void fx_setup_cfg(struct fx *f, const struct hvsock_config *extra) {
        *f = (struct fx){ 0 };
        pthread_mutex_init(&f->lock, NULL);
        ASSERT_OK(vmbus_sim_new(64u << 20, 2, &f->sim));
        struct hvsock_config hc = extra ? *extra : (struct hvsock_config){ 0 };
        hc.connect = fx_connect;
        hc.connect_opaque = f;
        ASSERT_OK(hvsock_new(&hc, &f->hs));
        struct vmbus_server_config cfg = { .vp_count = 2, .limits.max_channels = fx_max_channels,
                                           .tl_connect = hvsock_tl_connect, .tl_connect_opaque = f->hs };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv));
        ASSERT_OK(hvsock_start(f->hs, f->srv));
        ASSERT_EQ(vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel o[4];
        ASSERT_EQ(vmbus_sim_request_offers(f->sim, o, 4), 0);
}

static void fx_setup(struct fx *f) {
        fx_setup_cfg(f, NULL);
}

static void fx_free(struct fx *f) {
        hvsock_stop(f->hs);
        vmbus_server_free(f->srv);
        hvsock_free(f->hs);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        vmbus_sim_free(f->sim);
        for (unsigned i = 0; i < f->n_peers; i++)
                if (f->peers[i] >= 0)
                        close(f->peers[i]);
        pthread_mutex_destroy(&f->lock);
}

static int peer(struct fx *f, unsigned i) {
        pthread_mutex_lock(&f->lock);
        int fd = i < f->n_peers ? f->peers[i] : -1;
        pthread_mutex_unlock(&f->lock);
        return fd;
}

static struct hvsock_stats hstats(struct fx *f) {
        struct hvsock_stats s;
        hvsock_get_stats(f->hs, &s);
        return s;
}

/* The next host -> guest control message (the device worker posts them
 * asynchronously); its type must be type. */
static void wait_msg(struct fx *f, uint32_t type, void *buf, size_t cap) {
        for (int i = 0; i < 5000; i++) {
                int n = vmbus_sim_next_message(f->sim, NULL, buf, cap);
                if (n >= 4) {
                        uint32_t t;
                        memcpy(&t, buf, 4);
                        ASSERT_EQ(t, type);
                        return;
                }
                usleep(1000);
        }
        ASSERT_TRUE(!"no message from the host");
}

static void tl_request(struct fx *f, uint32_t guest_port, const struct guid *service) {
        struct vmbus_channel_tl_connect_request m = { .header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST };
        struct guid ep;
        hvsock_service_id(guest_port, &ep);
        memcpy(m.guest_endpoint_id, ep.b, 16);
        memcpy(m.host_service_id, service->b, 16);
        ASSERT_EQ(vmbus_sim_post(f->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m), HV_STATUS_SUCCESS);
}

/* hvs_connect(): the guest's port guest_port connects to host_port. */
static void guest_connect(struct fx *f, uint32_t guest_port, uint32_t host_port,
                          struct vmbus_channel_offer_channel *o) {
        struct guid svc;
        hvsock_service_id(host_port, &svc);
        tl_request(f, guest_port, &svc);
        wait_msg(f, CHANNELMSG_OFFERCHANNEL, o, sizeof *o);
}

static void guest_open(struct fx *f, const struct vmbus_channel_offer_channel *o, unsigned pages,
                       struct vmbus_sim_channel *ch) {
        ASSERT_EQ(vmbus_sim_open(f->sim, o->child_relid, o->connection_id, pages, NULL, 0, ch), 0);
}

/* A connection the guest made and opened, as Linux's connect() does. */
static void guest_connect_open(struct fx *f, uint32_t guest_port, uint32_t host_port,
                               struct vmbus_channel_offer_channel *o, struct vmbus_sim_channel *ch) {
        guest_connect(f, guest_port, host_port, o);
        guest_open(f, o, RING_PAGES, ch);
}

static void guest_send(struct fx *f, struct vmbus_sim_channel *ch, const void *data, uint32_t n) {
        uint8_t pkt[8 + 4096];
        struct vmbus_pipe_header h = { .type = VMBUS_PIPE_MSG_DATA, .data_size = n };
        memcpy(pkt, &h, sizeof h);
        memcpy(pkt + sizeof h, data, n);
        for (int i = 0; i < 5000; i++) {
                int r = vmbus_sim_ring_write(f->sim, ch, VM_PKT_DATA_INBAND, 0, 0, pkt, sizeof h + n);
                if (r != -EAGAIN) {
                        ASSERT_OK(r);
                        return;
                }
                usleep(1000);
        }
        ASSERT_TRUE(!"the host never drained the guest's ring");
}

/* One pipe packet's bytes (0: the host shut down). */
static uint32_t guest_recv(struct fx *f, struct vmbus_sim_channel *ch, uint8_t *out, size_t cap) {
        uint8_t buf[2 * VMBUS_HVSOCK_GUEST_MAX_PACKET];
        struct vmbus_packet pkt;
        int n = vmbus_sim_ring_wait(f->sim, ch, buf, sizeof buf, &pkt, 5000);
        ASSERT_GT(n, 0);
        ASSERT_EQ(pkt.type, VM_PKT_DATA_INBAND);
        /* Linux copies each packet into a buffer of HVS_MAX_PKT_SIZE,
         * trailer included */
        ASSERT_LE(pkt.len + 8u, VMBUS_HVSOCK_GUEST_MAX_PACKET);
        f->largest_rx = MAX(f->largest_rx, (uint32_t)vmbus_packet_payload_len(&pkt));
        const uint8_t *data;
        size_t len;
        ASSERT_OK(hvsock_parse_pipe(vmbus_packet_payload(&pkt), vmbus_packet_payload_len(&pkt), &data, &len));
        ASSERT_LE(len, cap);
        memcpy(out, data, len);
        return (uint32_t)len;
}

/* After a rescind: Linux closes the channel and gives the relid back. */
static void guest_release(struct fx *f, uint32_t relid) {
        struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_RELID_RELEASED, .child_relid = relid };
        ASSERT_EQ(vmbus_sim_post(f->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m), HV_STATUS_SUCCESS);
}

static void expect_rescind(struct fx *f, uint32_t relid) {
        struct vmbus_channel_relid_message m;
        wait_msg(f, CHANNELMSG_RESCIND_CHANNELOFFER, &m, sizeof m);
        ASSERT_EQ(m.child_relid, relid);
}

static void read_exact(int fd, void *buf, size_t n) {
        size_t got = 0;
        while (got < n) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ASSERT_EQ(poll(&p, 1, 5000), 1);
                ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
                ASSERT_GT(r, 0);
                got += (size_t)r;
        }
}

static void expect_eof(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 5000), 1);
        char c;
        ssize_t r = read(fd, &c, 1);
        ASSERT_TRUE(r == 0 || (r < 0 && errno == ECONNRESET));
}

/* The host service's side of a bulk transfer, on a thread of its own. */
struct pump {
        int fd;
        uint8_t *buf;
        size_t n;
        bool write;
        int result;
};
static void *pump_thread(void *arg) {
        struct pump *p = arg;
        if (p->write) {
                p->result = write_full(p->fd, p->buf, p->n);
                return NULL;
        }
        size_t got = 0;
        while (got < p->n) {
                ssize_t r = read(p->fd, p->buf + got, p->n - got);
                if (r <= 0) {
                        p->result = -EIO;
                        return NULL;
                }
                got += (size_t)r;
        }
        return NULL;
}

static void wait_live(struct fx *f, unsigned live) {
        for (int i = 0; i < 5000 && hstats(f).live != live; i++)
                usleep(1000);
        ASSERT_EQ(hstats(f).live, live);
}

TEST(service_ids_lines_and_pipe_packets) {
        struct guid g;
        uint32_t port;
        hvsock_service_id(0x12345678, &g);
        char s[GUID_STRING_MAX];
        ASSERT_STREQ(guid_to_string(&g, s), "12345678-facb-11e6-bd58-64006a7986d3");
        ASSERT_OK(hvsock_service_port(&g, &port));
        ASSERT_EQ(port, 0x12345678u);
        g.b[15] ^= 1;
        ASSERT_ERROR(hvsock_service_port(&g, &port), EINVAL);

        ASSERT_EQ(hvsock_parse_connect_line("CONNECT 52\n", 11, &port), 11);
        ASSERT_EQ(port, 52u);
        ASSERT_EQ(hvsock_parse_connect_line("CONNECT 2147483647\r\nxyz", 23, &port), 20);
        ASSERT_EQ(port, 0x7fffffffu);
        ASSERT_EQ(hvsock_parse_connect_line("CONNECT 5", 9, &port), 0); /* more to come */
        static const char *bad[] = { "CONNECT 2147483648\n", "CONNECT \n", "CONNECT -1\n", "connect 5\n",
                                     "CONNECT 5 6\n", "CONNECT 00000000001\n", "\n", "CONNECT\n" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_ERROR(hvsock_parse_connect_line(bad[i], strlen(bad[i]), &port), EINVAL);
        char longline[80];
        memset(longline, '1', sizeof longline);
        ASSERT_ERROR(hvsock_parse_connect_line(longline, sizeof longline, &port), EINVAL);

        uint8_t p[32] = { 1, 0, 0, 0, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
        const uint8_t *data;
        size_t n;
        ASSERT_OK(hvsock_parse_pipe(p, 16, &data, &n));
        ASSERT_EQ(n, 5u);
        ASSERT_EQ(data, p + 8);
        ASSERT_ERROR(hvsock_parse_pipe(p, 12, &data, &n), EBADMSG); /* size past the packet */
        ASSERT_ERROR(hvsock_parse_pipe(p, 7, &data, &n), EBADMSG);
        p[0] = 2; /* not a data message */
        ASSERT_ERROR(hvsock_parse_pipe(p, 16, &data, &n), EBADMSG);
}

/* n bytes of a pattern (seeded by mul) written by a host thread into its
 * socket, read by the guest from the ring into dst, and compared. */
static void bulk_to_guest(struct fx *f, struct vmbus_sim_channel *ch, int host, uint8_t *src, uint8_t *dst,
                          size_t n, unsigned mul) {
        for (size_t i = 0; i < n; i++)
                src[i] = (uint8_t)(i * mul + i / 4096);
        struct pump wr = { .fd = host, .buf = src, .n = n, .write = true };
        pthread_t t;
        ASSERT_OK(-pthread_create(&t, NULL, pump_thread, &wr));
        size_t at = 0;
        while (at < n)
                at += guest_recv(f, ch, dst + at, n - at);
        ASSERT_OK(-pthread_join(t, NULL));
        ASSERT_EQ(wr.result, 0);
        ASSERT_MEMEQ(dst, src, n);
}

TEST(guest_connects_and_bytes_flow_both_ways) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_channel_offer_channel o;
        guest_connect(&f, 1234, 5000, &o);
        /* The offer Linux's hvs_open_connection() looks for. */
        struct guid want;
        hvsock_service_id(5000, &want);
        ASSERT_MEMEQ(o.if_type, want.b, 16);
        hvsock_service_id(1234, &want);
        ASSERT_MEMEQ(o.if_instance, want.b, 16);
        ASSERT_EQ(o.chn_flags, VMBUS_HVSOCK_CHN_FLAGS);
        ASSERT_EQ(o.user_def[VMBUS_HVSOCK_USER_DEF_FOR_GUEST_ACCEPT], 0);
        uint32_t pipe_type;
        memcpy(&pipe_type, o.user_def, 4);
        ASSERT_EQ(pipe_type, VMBUS_PIPE_TYPE_BYTE);

        struct vmbus_sim_channel ch;
        guest_open(&f, &o, RING_PAGES, &ch);
        int host = peer(&f, 0);
        ASSERT_GE(host, 0);
        guest_send(&f, &ch, "hello", 5);
        char buf[16];
        read_exact(host, buf, 5);
        ASSERT_MEMEQ(buf, "hello", 5);
        ASSERT_EQ(write(host, "world", 5), 5);
        uint8_t got[4096];
        ASSERT_EQ(guest_recv(&f, &ch, got, sizeof got), 5u);
        ASSERT_MEMEQ(got, "world", 5);

        /* 1 MiB each way, far more than the rings: both sides wait for
         * room and are woken by the other's signal. */
        enum { BIG = 1 << 20 };
        uint8_t *src = malloc(BIG), *dst = malloc(BIG);
        bulk_to_guest(&f, &ch, host, src, dst, BIG, 7);
        pthread_t t;
        /* Linux's smallest ring (20 KiB of data): packets of half of it,
         * more than the 4 KiB pieces the host once sent. */
        ASSERT_EQ(f.largest_rx, (uint32_t)sizeof(struct vmbus_pipe_header) + 10208u);
        memset(dst, 0, BIG);
        struct pump rd = { .fd = host, .buf = dst, .n = BIG, .write = false };
        ASSERT_OK(-pthread_create(&t, NULL, pump_thread, &rd));
        for (size_t off = 0; off < BIG; off += 4000)
                guest_send(&f, &ch, src + off, (uint32_t)MIN((size_t)4000, BIG - off));
        ASSERT_OK(-pthread_join(t, NULL));
        ASSERT_EQ(rd.result, 0);
        ASSERT_MEMEQ(dst, src, BIG);
        free(src);
        free(dst);

        /* Shutdown: the guest's zero-length packet is the host's EOF; the
         * host's close is the guest's; then the channel is rescinded. */
        guest_send(&f, &ch, "", 0);
        expect_eof(host);
        close(host);
        f.peers[0] = -1;
        ASSERT_EQ(guest_recv(&f, &ch, got, sizeof got), 0u);
        expect_rescind(&f, o.child_relid);
        guest_release(&f, o.child_relid);
        wait_live(&f, 0);
        struct hvsock_stats s = hstats(&f);
        ASSERT_EQ(s.guest_connects, 1u);
        ASSERT_EQ(s.opened, 1u);
        ASSERT_EQ(s.closed, 1u);
        ASSERT_EQ(s.bytes_to_host, 5u + BIG);
        ASSERT_EQ(s.bytes_to_guest, 5u + BIG);
        ASSERT_EQ(s.protocol_errors, 0u);
        fx_free(&f);
}

/* A host process reaches a guest listener: "CONNECT <port>\n", an offer
 * the guest accepts (user_def says so), "OK <host port>\n" once it opened. */
static int host_client(struct fx *f, uint32_t port) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ? -errno : 0);
        ASSERT_OK(hvsock_host_client(f->hs, sv[1]));
        if (port != UINT32_MAX) {
                char line[32];
                int n = snprintf(line, sizeof line, "CONNECT %u\n", port);
                ASSERT_EQ(write(sv[0], line, (size_t)n), n);
        }
        return sv[0];
}

/* On the ring Linux's hv_sock opens by default (sk_rcvbuf: 52 pages) bulk
 * bytes leave in packets of the 16 KiB MTU, as large as its packet buffer
 * (HVS_MAX_PKT_SIZE) takes. */
TEST(bulk_bytes_to_the_guest_leave_in_mtu_packets) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_channel_offer_channel o;
        guest_connect(&f, 1236, 5002, &o);
        struct vmbus_sim_channel ch;
        guest_open(&f, &o, 52, &ch);
        int host = peer(&f, 0);
        ASSERT_GE(host, 0);
        enum { BIG = 1 << 20 };
        uint8_t *src = malloc(BIG), *dst = malloc(BIG);
        bulk_to_guest(&f, &ch, host, src, dst, BIG, 13);
        ASSERT_EQ(f.largest_rx, (uint32_t)sizeof(struct vmbus_pipe_header) + VMBUS_HVSOCK_MTU);
        free(src);
        free(dst);
        fx_free(&f);
}

TEST(host_connects_to_a_guest_listener) {
        struct fx f;
        fx_setup(&f);
        int c = host_client(&f, 52);
        struct vmbus_channel_offer_channel o;
        wait_msg(&f, CHANNELMSG_OFFERCHANNEL, &o, sizeof o);
        struct guid want;
        hvsock_service_id(52, &want);
        ASSERT_MEMEQ(o.if_type, want.b, 16);
        uint32_t hport;
        struct guid inst;
        memcpy(inst.b, o.if_instance, 16);
        ASSERT_OK(hvsock_service_port(&inst, &hport));
        ASSERT_GE(hport, 0x80000000u);
        ASSERT_EQ(o.user_def[VMBUS_HVSOCK_USER_DEF_FOR_GUEST_ACCEPT], 1);
        /* Bytes the client sends before the OK wait for the guest. */
        ASSERT_EQ(write(c, "early", 5), 5);
        struct vmbus_sim_channel ch;
        guest_open(&f, &o, RING_PAGES, &ch);
        char ok[32] = { 0 }, want_ok[32];
        int n = snprintf(want_ok, sizeof want_ok, "OK %u\n", hport);
        read_exact(c, ok, (size_t)n);
        ASSERT_STREQ(ok, want_ok);
        uint8_t got[4096];
        ASSERT_EQ(guest_recv(&f, &ch, got, sizeof got), 5u);
        ASSERT_MEMEQ(got, "early", 5);
        guest_send(&f, &ch, "pong", 4);
        read_exact(c, ok, 4);
        ASSERT_MEMEQ(ok, "pong", 4);
        /* The host closes first: FIN to the guest; its FIN ends it. */
        close(c);
        ASSERT_EQ(guest_recv(&f, &ch, got, sizeof got), 0u);
        guest_send(&f, &ch, "", 0);
        expect_rescind(&f, o.child_relid);
        guest_release(&f, o.child_relid);
        wait_live(&f, 0);
        ASSERT_EQ(hstats(&f).host_connects, 1u);
        fx_free(&f);
}

TEST(refusals_and_limits) {
        struct hvsock_config hc = { .max_connections = 4, .hello_timeout_ms = 300 };
        struct fx f;
        fx_setup_cfg(&f, &hc);
        struct vmbus_channel_tl_connect_result res;
        /* The host service refuses: TL_CONNECT_RESULT with a failure. */
        struct guid svc;
        hvsock_service_id(REFUSED_PORT, &svc);
        tl_request(&f, 1025, &svc);
        wait_msg(&f, CHANNELMSG_TL_CONNECT_RESULT, &res, sizeof res);
        ASSERT_EQ((uint32_t)res.status, VMBUS_STATUS_CONNECTION_REFUSED);
        ASSERT_MEMEQ(res.host_service_id, svc.b, 16);
        /* Not a vsock service id, and a port no host can listen on. */
        memset(svc.b, 0x42, 16);
        tl_request(&f, 1026, &svc);
        wait_msg(&f, CHANNELMSG_TL_CONNECT_RESULT, &res, sizeof res);
        hvsock_service_id(0x80000001u, &svc);
        tl_request(&f, 1027, &svc);
        wait_msg(&f, CHANNELMSG_TL_CONNECT_RESULT, &res, sizeof res);
        /* A host client that says something else is closed; one that says
         * nothing is closed after hello_timeout_ms. */
        int bad = host_client(&f, UINT32_MAX);
        ASSERT_EQ(write(bad, "HELLO 5\n", 8), 8);
        expect_eof(bad);
        close(bad);
        int mute = host_client(&f, UINT32_MAX);
        expect_eof(mute);
        close(mute);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        /* max_connections: 4 offers, the rest refused. */
        for (uint32_t i = 0; i < 10; i++) {
                hvsock_service_id(6000, &svc);
                tl_request(&f, 2000 + i, &svc);
        }
        unsigned offers = 0, refused = 0;
        for (int i = 0; i < 10; i++) {
                uint8_t m[256];
                for (int w = 0; w < 5000 && vmbus_sim_next_message(f.sim, NULL, m, sizeof m) < 0; w++)
                        usleep(1000);
                uint32_t t;
                memcpy(&t, m, 4);
                offers += t == CHANNELMSG_OFFERCHANNEL;
                refused += t == CHANNELMSG_TL_CONNECT_RESULT;
        }
        ASSERT_EQ(offers, 4u);
        ASSERT_EQ(refused, 6u);
        ASSERT_ERROR(hvsock_host_client(f.hs, dup(0)), EMFILE);
        ASSERT_EQ(hstats(&f).live, 4u);
        ASSERT_EQ(hstats(&f).refused, 3u + 2u + 6u + 1u);
        fx_free(&f);
}

TEST(offers_never_opened_are_withdrawn) {
        struct hvsock_config hc = { .offer_timeout_ms = 200 };
        struct fx f;
        fx_setup_cfg(&f, &hc);
        int c = host_client(&f, 77); /* nobody listens on 77 in the guest */
        struct vmbus_channel_offer_channel o;
        wait_msg(&f, CHANNELMSG_OFFERCHANNEL, &o, sizeof o);
        expect_rescind(&f, o.child_relid);
        expect_eof(c);
        close(c);
        guest_release(&f, o.child_relid);
        wait_live(&f, 0);
        ASSERT_EQ(hstats(&f).timed_out, 1u);
        ASSERT_EQ(hstats(&f).opened, 0u);
        fx_free(&f);
}

/* A timeout set on a running instance replaces the configuration's for
 * the offers made after it (vmwp sets it once a restore has told it the
 * guest's clock), and the stats show the one in force; 0 is the default. */
TEST(a_new_offer_timeout_holds_for_the_offers_after_it) {
        struct hvsock_config hc = { .offer_timeout_ms = 60000 };
        struct fx f;
        fx_setup_cfg(&f, &hc);
        ASSERT_EQ(hstats(&f).offer_timeout_ms, 60000u);
        hvsock_set_offer_timeout(f.hs, 0);
        ASSERT_EQ(hstats(&f).offer_timeout_ms, HVSOCK_OFFER_TIMEOUT_MS);
        hvsock_set_offer_timeout(f.hs, 200);
        ASSERT_EQ(hstats(&f).offer_timeout_ms, 200u);
        int c = host_client(&f, 78);
        struct vmbus_channel_offer_channel o;
        wait_msg(&f, CHANNELMSG_OFFERCHANNEL, &o, sizeof o);
        expect_rescind(&f, o.child_relid); /* waits 5 s at most: 200 ms, not 60 s */
        expect_eof(c);
        close(c);
        guest_release(&f, o.child_relid);
        wait_live(&f, 0);
        ASSERT_EQ(hstats(&f).timed_out, 1u);
        fx_free(&f);
}

TEST(malformed_packets_and_guest_close_end_the_connection) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_channel_offer_channel o;
        struct vmbus_sim_channel ch;
        guest_connect_open(&f, 3000, 7000, &o, &ch);
        /* A pipe header claiming more bytes than the packet has. */
        uint8_t pkt[16] = { 1, 0, 0, 0, 200, 0, 0, 0 };
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &ch, VM_PKT_DATA_INBAND, 0, 0, pkt, sizeof pkt));
        expect_eof(peer(&f, 0));
        expect_rescind(&f, o.child_relid);
        guest_release(&f, o.child_relid);
        wait_live(&f, 0);
        ASSERT_EQ(hstats(&f).protocol_errors, 1u);

        /* The guest closes the channel without a shutdown: the host socket
         * is closed and the offer rescinded (Linux waits for that). */
        guest_connect_open(&f, 3001, 7000, &o, &ch);
        guest_send(&f, &ch, "bye", 3);
        char buf[3];
        read_exact(peer(&f, 1), buf, 3);
        struct vmbus_channel_relid_message close_msg = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
                                                         .child_relid = o.child_relid };
        ASSERT_EQ(vmbus_sim_post(f.sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &close_msg, sizeof close_msg),
                  HV_STATUS_SUCCESS);
        expect_eof(peer(&f, 1));
        expect_rescind(&f, o.child_relid);
        guest_release(&f, o.child_relid);
        wait_live(&f, 0);
        fx_free(&f);
}

TEST(suspend_closes_every_connection_and_refuses_until_resumed) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_channel_offer_channel o;
        struct vmbus_sim_channel ch;
        guest_connect_open(&f, 4000, 8000, &o, &ch);
        ASSERT_OK(hvsock_suspend(f.hs, 5000));
        ASSERT_EQ(hstats(&f).live, 0u);
        expect_rescind(&f, o.child_relid);
        expect_eof(peer(&f, 0));
        guest_release(&f, o.child_relid);
        struct guid svc;
        hvsock_service_id(8000, &svc);
        tl_request(&f, 4001, &svc);
        struct vmbus_channel_tl_connect_result res;
        wait_msg(&f, CHANNELMSG_TL_CONNECT_RESULT, &res, sizeof res);
        ASSERT_ERROR(hvsock_host_client(f.hs, dup(0)), ECONNREFUSED);
        hvsock_resume(f.hs);
        guest_connect_open(&f, 4002, 8000, &o, &ch);
        guest_send(&f, &ch, "again", 5);
        char buf[5];
        read_exact(peer(&f, 1), buf, 5);
        fx_free(&f);
}

/* The row's quiesce (a VM's pause) parks the device worker: no byte moves
 * either way and the connection stays; after it everything held flows.
 * A suspend (a save of a paused VM) still ends the connections while
 * quiesced. */
TEST(quiesce_holds_the_bytes_and_a_suspend_still_ends_connections) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_channel_offer_channel o;
        struct vmbus_sim_channel ch;
        guest_connect_open(&f, 4100, 8100, &o, &ch);
        guest_send(&f, &ch, "ping", 4);
        char buf[4];
        read_exact(peer(&f, 0), buf, 4);
        ASSERT_OK(hvsock_quiesce(f.hs));
        ASSERT_OK(hvsock_quiesce(f.hs)); /* idempotent */
        guest_send(&f, &ch, "held", 4);
        ASSERT_EQ(write(peer(&f, 0), "back", 4), 4);
        struct pollfd p = { .fd = peer(&f, 0), .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 50), 0);
        static uint8_t rb[2 * VMBUS_HVSOCK_GUEST_MAX_PACKET];
        struct vmbus_packet pkt;
        ASSERT_EQ(vmbus_sim_ring_wait(f.sim, &ch, rb, sizeof rb, &pkt, 50), -ETIMEDOUT);
        ASSERT_EQ(hstats(&f).live, 1u);
        hvsock_unquiesce(f.hs);
        read_exact(peer(&f, 0), buf, 4);
        ASSERT_MEMEQ(buf, "held", 4);
        ASSERT_EQ(guest_recv(&f, &ch, rb, sizeof rb), 4u);
        ASSERT_MEMEQ(rb, "back", 4);
        ASSERT_OK(hvsock_quiesce(f.hs));
        ASSERT_OK(hvsock_suspend(f.hs, 5000));
        ASSERT_EQ(hstats(&f).live, 0u);
        expect_rescind(&f, o.child_relid);
        expect_eof(peer(&f, 0));
        hvsock_unquiesce(f.hs);
        fx_free(&f);
}

/* A hostile guest connects in a loop and never opens nor gives relids
 * back: never more than max_connections live, what it does not open is
 * withdrawn, and once its relids run out it is refused (the server's
 * channel limit) without anything else growing; a guest that behaves
 * again is served. */
TEST(connect_flood_is_bounded) {
        struct hvsock_config hc = { .max_connections = 16, .offer_timeout_ms = 100 };
        struct fx f;
        fx_max_channels = 64;
        fx_setup_cfg(&f, &hc);
        fx_max_channels = 600;
        pthread_mutex_lock(&f.lock);
        f.drop_peers = true;
        pthread_mutex_unlock(&f.lock);
        struct guid svc;
        hvsock_service_id(7000, &svc);
        unsigned offers = 0, results = 0, rescinds = 0, max_live = 0;
        uint32_t relids[64];
        unsigned n_relids = 0;
        for (uint32_t i = 0; i < 3000; i++) {
                tl_request(&f, 100000 + i, &svc);
                uint8_t m[256];
                while (vmbus_sim_next_message(f.sim, NULL, m, sizeof m) >= 4) {
                        uint32_t t;
                        memcpy(&t, m, 4);
                        offers += t == CHANNELMSG_OFFERCHANNEL;
                        results += t == CHANNELMSG_TL_CONNECT_RESULT;
                        if (t == CHANNELMSG_RESCIND_CHANNELOFFER && n_relids < ARRAY_SIZE(relids)) {
                                rescinds++;
                                memcpy(&relids[n_relids++], m + 8, 4);
                        }
                }
                max_live = MAX(max_live, hstats(&f).live);
                if (i % 100 == 0)
                        usleep(20000); /* let offers time out meanwhile */
        }
        ASSERT_LE(max_live, 16u);
        wait_live(&f, 0);
        /* The server's 64 relids bound what it can offer unanswered. */
        ASSERT_LE(offers, 64u);
        ASSERT_GT(offers, 16u);
        ASSERT_GT(results, 0u);
        ASSERT_GE(hstats(&f).timed_out, 16u);
        uint8_t m[256];
        /* The last answers and withdrawals: until 300 ms pass without any. */
        for (int quiet = 0; quiet < 300; quiet++) {
                while (vmbus_sim_next_message(f.sim, NULL, m, sizeof m) >= 4) {
                        quiet = 0;
                        uint32_t t;
                        memcpy(&t, m, 4);
                        offers += t == CHANNELMSG_OFFERCHANNEL;
                        if (t == CHANNELMSG_RESCIND_CHANNELOFFER && n_relids < ARRAY_SIZE(relids))
                                memcpy(&relids[n_relids++], m + 8, 4);
                }
                usleep(1000);
        }
        ASSERT_EQ(n_relids, offers);
        /* It behaves again: relids back, a connection works. */
        for (unsigned i = 0; i < n_relids; i++)
                guest_release(&f, relids[i]);
        pthread_mutex_lock(&f.lock);
        f.drop_peers = false;
        pthread_mutex_unlock(&f.lock);
        struct vmbus_channel_offer_channel o;
        struct vmbus_sim_channel ch;
        guest_connect_open(&f, 5555, 7000, &o, &ch);
        guest_send(&f, &ch, "ok", 2);
        char buf[2];
        read_exact(peer(&f, f.n_peers - 1), buf, 2);
        ASSERT_MEMEQ(buf, "ok", 2);
        fx_free(&f);
}

/* The bar: 256 connections at once, each carrying its own bytes. */
TEST(many_concurrent_connections) {
        enum { N = 256 };
        struct fx f;
        fx_setup(&f);
        static struct vmbus_channel_offer_channel o[N];
        static struct vmbus_sim_channel ch[N];
        for (uint32_t i = 0; i < N; i++) {
                guest_connect(&f, 10000 + i, 9000, &o[i]);
                guest_open(&f, &o[i], 2, &ch[i]);
        }
        ASSERT_EQ(hstats(&f).live, (unsigned)N);
        for (uint32_t i = 0; i < N; i++)
                guest_send(&f, &ch[i], &i, sizeof i);
        for (uint32_t i = 0; i < N; i++) {
                uint32_t v;
                read_exact(peer(&f, i), &v, sizeof v);
                ASSERT_EQ(v, i);
                ASSERT_EQ(write(peer(&f, i), &v, sizeof v), (ssize_t)sizeof v);
        }
        for (uint32_t i = 0; i < N; i++) {
                uint32_t v = 0;
                ASSERT_EQ(guest_recv(&f, &ch[i], (uint8_t *)&v, sizeof v), (uint32_t)sizeof v);
                ASSERT_EQ(v, i);
        }
        fx_free(&f);
}

TEST_MAIN();
