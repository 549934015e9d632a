// SPDX-License-Identifier: MIT
/* netvsp end to end with a real TAP in a private network namespace, the
 * guest side played as Linux netvsc does it (fake VMBus): ARP and ICMP both
 * ways; TCP with an LSOv2 frame built exactly like netvsc_xmit() builds it
 * (IPv4 tot_len 0, pseudo checksum over length 0) delivered whole to a
 * socket; UDP with a checksum PPI; link down and TAP removal indicated to
 * the guest; RSC: a TCP GSO frame the kernel sends out of the TAP reaches
 * the guest whole, in fragments, while RSC is on, and segmented by the
 * kernel once it is off. Skips without the privileges to create a
 * namespace. */
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-frames.h"
#include "tests/unit/test-netvsp-harness.h"

static const uint8_t gmac[6] = NT_GUEST_MAC;

struct env {
        struct fake *f;
        struct tap *tap;
        uint8_t host_mac[6];
};

static void env_up(struct env *e, const char *ifname, bool offloads) {
        struct netvsp_config cfg;
        struct tap_config tc = { .create = true, .mtu = 1500 };
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
        snprintf(tc.name, sizeof tc.name, "%s", ifname);
        ASSERT_OK(tap_open(&tc, &e->tap));
        ASSERT_OK(nt_add_addr(tap_ifindex(e->tap), ifname, NT_HOST_IP "/24"));
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
        ASSERT_OK(ioctl(s, SIOCGIFHWADDR, &ifr));
        memcpy(e->host_mac, ifr.ifr_hwaddr.sa_data, 6);
        close(s);
        netvsp_config_init_defaults(&cfg);
        memcpy(cfg.rndis.mac, gmac, 6);
        if (offloads)
                cfg.rndis.caps = (struct rndis_offload_caps){ true, true, true, true, 62780, .rsc = true };
        e->f = fk_new_be(&cfg, 1u << 20, &netvsp_tap_backend, e->tap);
        fk_nvsp_init(e->f);
        fk_rndis_up(e->f);
        if (offloads) {
                uint8_t m[64], r2[RNDIS_MAX_RESPONSE_SIZE];
                uint8_t p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0, 1, 4, 4, 4, 4, 0, 0, 2, 2 };
                uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 60, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28);
                ASSERT_EQ(fk_rndis(e->f, m, n, r2), 16u);
                ASSERT_EQ(fk_u32(r2, 12), RNDIS_STATUS_SUCCESS);
        }
}

static void env_down(struct env *e) {
        fk_free(e->f);
        tap_close(e->tap);
}

/* The guest transmits: via a send section when it fits, else GPA-direct
 * (one range per page, the layout 6.1.0 uses). */
static void guest_send(struct env *e, const uint8_t *frame, size_t len, const uint32_t (*ppi)[2], unsigned n_ppi) {
        struct fake *f = e->f;
        uint64_t tid;
        if (len + 44 + 16 * n_ppi <= 6144) {
                uint32_t n = fk_rndis_packet(f->mem + FK_SEND_GPA, frame, (uint32_t)len, ppi, n_ppi, 0);
                ASSERT_OK(fk_gpa_direct(f, 0, 0, n, NULL, NULL, 0, &tid));
        } else {
                uint32_t n = fk_rndis_packet(f->mem + FK_SCRATCH_GPA, frame, (uint32_t)len, ppi, n_ppi, 0);
                uint64_t gpa[32];
                uint32_t pl[32];
                unsigned k = 0;
                for (uint32_t off = 0; off < n; off += 4096, k++) {
                        gpa[k] = FK_SCRATCH_GPA + off;
                        pl[k] = n - off < 4096 ? n - off : 4096;
                }
                ASSERT_OK(fk_gpa_direct(f, 0, NVSP_INVALID_SECTION_INDEX, 0, gpa, pl, k, &tid));
        }
        struct fk_out *c = fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(fk_u32(c->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
}

/* One turn of the guest: waits up to poll_ms for the TAP, runs the device,
 * hands each received RNDIS PACKET (checked to lie within its range) to
 * fn, and after each transfer-page packet calls fn with m NULL and then
 * completes the packet, as the guest does. */
static void guest_turn(struct env *e, int poll_ms, void (*fn)(void *ctx, const uint8_t *m), void *ctx) {
        struct fake *f = e->f;
        poll(&(struct pollfd){ .fd = tap_fd(e->tap), .events = POLLIN }, 1, poll_ms);
        netvsp_process(f->nd);
        while (f->n_seen < f->n_out) {
                struct fk_out *x = fk_next(f);
                if (x->type != VM_PKT_DATA_USING_XFER_PAGES)
                        continue;
                for (uint32_t i = 0; i < x->n; i++) {
                        const uint8_t *m = f->mem + FK_RECV_GPA + x->r[i].byte_offset;
                        if (fk_u32(m, 0) != RNDIS_MSG_PACKET)
                                continue;
                        ASSERT_LE(8ull + fk_u32(m, 8) + fk_u32(m, 12), (unsigned long long)x->r[i].byte_count);
                        fn(ctx, m);
                }
                fn(ctx, NULL);
                fk_complete_xfer(f, x->tid);
        }
}

struct recv_match {
        bool (*match)(const uint8_t *, size_t);
        uint8_t *out;
        size_t found;
};

static void take_match(void *ctx, const uint8_t *m) {
        struct recv_match *rm = ctx;
        if (!m || rm->found)
                return;
        uint32_t dl = fk_u32(m, 12);
        const uint8_t *d = m + 8 + fk_u32(m, 8);
        if (rm->match(d, dl)) {
                memcpy(rm->out, d, dl);
                rm->found = dl;
        }
}

/* Runs the device until the guest receives a frame match() accepts (ms),
 * completing every transfer-page packet as the guest does. */
static size_t guest_recv_ms(struct env *e, bool (*match)(const uint8_t *, size_t), uint8_t *out, uint64_t ms) {
        struct recv_match rm = { match, out, 0 };
        for (uint64_t end = nt_now_ms() + ms; !rm.found && nt_now_ms() < end;)
                guest_turn(e, 50, take_match, &rm);
        return rm.found;
}

static size_t guest_recv(struct env *e, bool (*match)(const uint8_t *, size_t), uint8_t *out) {
        return guest_recv_ms(e, match, out, 3000);
}

static bool is_arp_reply(const uint8_t *d, size_t n) {
        return n >= 42 && d[12] == 0x08 && d[13] == 0x06 && d[21] == 2 && memcmp(d, gmac, 6) == 0;
}
static bool is_echo_reply(const uint8_t *d, size_t n) {
        return n >= 42 && d[12] == 0x08 && d[13] == 0x00 && d[23] == 1 && d[34] == 0;
}
static bool is_synack(const uint8_t *d, size_t n) {
        return n >= 54 && d[23] == 6 && (d[47] & 0x12) == 0x12;
}

TEST(netvsp_tap_arp_and_ping) {
        struct env e;
        uint8_t fr[2048], got[2048];
        env_up(&e, "vmn0", false);
        size_t n = nt_arp_request(fr, gmac, NT_GUEST_IP, NT_HOST_IP);
        guest_send(&e, fr, n, NULL, 0);
        ASSERT_EQ(guest_recv(&e, is_arp_reply, got), 42u);
        ASSERT_MEMEQ(got + 22, e.host_mac, 6);
        n = nt_icmp_echo(fr, e.host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, 0x77, 1, 1400);
        guest_send(&e, fr, n, NULL, 0);
        ASSERT_EQ(guest_recv(&e, is_echo_reply, got), n);
        ASSERT_EQ(got[42 + 1399], (uint8_t)1399);
        const struct netvsp_stats *st = netvsp_dev_stats(e.f->nd);
        ASSERT_EQ(st->tx_packets, 2u);
        ASSERT_GE(st->rx_packets, 2u);
        env_down(&e);
}

TEST(netvsp_tap_tcp_lso_and_udp_csum_offload) {
        struct env e;
        uint8_t fr[16384], got[2048];
        env_up(&e, "vmn1", true);
        ASSERT_OK(nt_add_neigh(tap_ifindex(e.tap), NT_GUEST_IP, gmac));
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8080) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ASSERT_OK(bind(ls, (struct sockaddr *)&a, sizeof a));
        ASSERT_OK(listen(ls, 1));

        /* handshake from the guest */
        const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 };
        uint32_t iss = 1000;
        size_t n = nt_tcp(fr, e.host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, 40000, 8080, iss, 0, 0x02, mss_opt, 4, NULL, 0);
        guest_send(&e, fr, n, NULL, 0);
        ASSERT_GT(guest_recv(&e, is_synack, got), 0u);
        uint32_t srv = nt_get32(got + 38);
        n = nt_tcp(fr, e.host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, 40000, 8080, iss + 1, srv + 1, 0x10, NULL, 0, NULL, 0);
        guest_send(&e, fr, n, NULL, 0);
        int cs = accept(ls, NULL, NULL);
        ASSERT_OK(cs);

        /* 8000 bytes in one LSO frame, prepared as netvsc_xmit() does */
        enum { PAYLOAD = 8000 };
        uint8_t data[PAYLOAD];
        for (int i = 0; i < PAYLOAD; i++)
                data[i] = (uint8_t)(i * 7);
        n = nt_tcp(fr, e.host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, 40000, 8080, iss + 1, srv + 1, 0x18, NULL, 0, data,
                   PAYLOAD);
        fr[16] = fr[17] = fr[24] = fr[25] = 0; /* IPv4 tot_len and check */
        uint8_t *th = fr + 34;
        nt_put16(th + 16, (uint16_t)~nt_csum(NULL, 0, nt_pseudo4(fr + 14, 6, 0)));
        const uint32_t lso[][2] = { { TCP_LARGESEND_PKTINFO, 1448u | (34u << NDIS_LSO_TCP_HDR_OFFSET_SHIFT) | NDIS_LSO_TYPE_V2 } };
        guest_send(&e, fr, n, lso, 1);
        uint8_t rbuf[PAYLOAD];
        size_t have = 0;
        struct timeval tv = { .tv_sec = 3 };
        setsockopt(cs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (have < PAYLOAD) {
                ssize_t k = recv(cs, rbuf + have, PAYLOAD - have, 0);
                ASSERT_GT(k, 0);
                have += (size_t)k;
        }
        ASSERT_MEMEQ(rbuf, data, PAYLOAD);

        /* UDP with the checksum left to the host (TCPIP_CHKSUM_PKTINFO) */
        int us = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        a.sin_port = htons(5353);
        ASSERT_OK(bind(us, (struct sockaddr *)&a, sizeof a));
        setsockopt(us, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        n = nt_udp(fr, e.host_mac, gmac, NT_GUEST_IP, NT_HOST_IP, 999, 5353, "csum-offload", 12, true);
        const uint32_t csum[][2] = { { TCPIP_CHKSUM_PKTINFO,
                                       NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_UDP | (34u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT) } };
        guest_send(&e, fr, n, csum, 1);
        char ubuf[32];
        ASSERT_EQ(recv(us, ubuf, sizeof ubuf, 0), 12);
        ASSERT_MEMEQ(ubuf, "csum-offload", 12);
        close(us);
        close(cs);
        close(ls);
        env_down(&e);
}

static bool is_synack6(const uint8_t *d, size_t n) {
        return n >= 74 && d[12] == 0x86 && d[13] == 0xdd && d[20] == 6 && (d[67] & 0x12) == 0x12;
}

TEST(netvsp_tap_tcp6_lso) {
        struct env e;
        uint8_t fr[16384], got[2048];
        env_up(&e, "vmn3", true);
        ASSERT_OK(nt_add_addr6(tap_ifindex(e.tap), "vmn3", "fd00:77::1/64"));
        ASSERT_OK(nt_add_neigh6(tap_ifindex(e.tap), "fd00:77::2", gmac));
        int ls = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(8081) };
        inet_pton(AF_INET6, "fd00:77::1", &a.sin6_addr);
        ASSERT_OK(bind(ls, (struct sockaddr *)&a, sizeof a));
        ASSERT_OK(listen(ls, 1));
        /* IPv6 takes the address into use only once it sees the link ready,
         * which the kernel's linkwatch reports up to a second late: like a
         * real TCP, retransmit the SYN */
        size_t n = nt_tcp6(fr, e.host_mac, gmac, "fd00:77::2", "fd00:77::1", 40001, 8081, 500, 0, 0x02, NULL, 0);
        size_t got_len = 0;
        for (int i = 0; i < 5 && !got_len; i++) {
                guest_send(&e, fr, n, NULL, 0);
                got_len = guest_recv_ms(&e, is_synack6, got, 1000);
        }
        ASSERT_GT(got_len, 0u);
        uint32_t srv = nt_get32(got + 58);
        n = nt_tcp6(fr, e.host_mac, gmac, "fd00:77::2", "fd00:77::1", 40001, 8081, 501, srv + 1, 0x10, NULL, 0);
        guest_send(&e, fr, n, NULL, 0);
        int cs = accept(ls, NULL, NULL);
        ASSERT_OK(cs);
        /* LSO as netvsc_xmit() + tcp_v6_gso_csum_prep() leave it: payload_len 0,
         * pseudo checksum over length 0; the peer's MSS defaulted to 536 */
        enum { PAYLOAD = 6000 };
        uint8_t data[PAYLOAD];
        for (int i = 0; i < PAYLOAD; i++)
                data[i] = (uint8_t)(i * 13);
        n = nt_tcp6(fr, e.host_mac, gmac, "fd00:77::2", "fd00:77::1", 40001, 8081, 501, srv + 1, 0x18, data, PAYLOAD);
        fr[18] = fr[19] = 0;
        nt_put16(fr + 54 + 16, (uint16_t)~nt_csum(NULL, 0, nt_pseudo6(fr + 14, 0)));
        const uint32_t lso[][2] = { { TCP_LARGESEND_PKTINFO,
                                      1220u | (54u << NDIS_LSO_TCP_HDR_OFFSET_SHIFT) | NDIS_LSO_TYPE_V2 | NDIS_LSO_IPV6 } };
        guest_send(&e, fr, n, lso, 1);
        uint8_t rbuf[PAYLOAD];
        size_t have = 0;
        struct timeval tv = { .tv_sec = 3 };
        setsockopt(cs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (have < PAYLOAD) {
                ssize_t k = recv(cs, rbuf + have, PAYLOAD - have, 0);
                ASSERT_GT(k, 0);
                have += (size_t)k;
        }
        ASSERT_MEMEQ(rbuf, data, PAYLOAD);
        close(cs);
        close(ls);
        env_down(&e);
}

/* Runs the device until an INDICATE_STATUS with status arrives (3 s). */
static bool wait_indication(struct env *e, int link_fd, uint32_t status) {
        struct fake *f = e->f;
        uint64_t end = nt_now_ms() + 3000;
        while (nt_now_ms() < end) {
                struct pollfd p = { .fd = link_fd, .events = POLLIN };
                struct tap_link_state st;
                poll(&p, 1, 50);
                if (tap_link_process(e->tap, &st) > 0)
                        netvsp_set_link(f->nd, st.admin_up && st.carrier && !st.removed);
                netvsp_process(f->nd);
                while (f->n_seen < f->n_out) {
                        struct fk_out *x = fk_next(f);
                        if (x->type != VM_PKT_DATA_USING_XFER_PAGES)
                                continue;
                        const uint8_t *m = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
                        bool hit = fk_u32(m, 0) == RNDIS_MSG_INDICATE && fk_u32(m, 8) == status;
                        fk_complete_xfer(f, x->tid);
                        if (hit)
                                return true;
                }
        }
        return false;
}

TEST(netvsp_tap_link_changes_and_removal) {
        struct env e;
        env_up(&e, "vmn2", false);
        int fd = tap_link_watch(e.tap);
        ASSERT_OK(fd);
        ASSERT_OK(tap_set_up(e.tap, false));
        ASSERT_TRUE(wait_indication(&e, fd, RNDIS_STATUS_MEDIA_DISCONNECT));
        ASSERT_OK(tap_set_up(e.tap, true));
        ASSERT_TRUE(wait_indication(&e, fd, RNDIS_STATUS_MEDIA_CONNECT));
        /* the TAP is deleted under the running "VM" */
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL;
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, "vmn2", &l));
        ASSERT_OK(rtnl_link_delete(sk, l));
        rtnl_link_put(l);
        nl_socket_free(sk);
        ASSERT_TRUE(wait_indication(&e, fd, RNDIS_STATUS_MEDIA_DISCONNECT));
        /* the guest keeps transmitting: completed, dropped, no crash */
        uint8_t fr[128];
        size_t n = nt_arp_request(fr, gmac, NT_GUEST_IP, NT_HOST_IP);
        guest_send(&e, fr, n, NULL, 0);
        ASSERT_EQ(netvsp_process(e.f->nd), 0u);
        ASSERT_GE(netvsp_dev_stats(e.f->nd)->tx_dropped, 1u);
        env_down(&e);
}

/* Sends a GSO frame out of the TAP as the host's stack would (a packet
 * socket with a virtio_net_hdr: the kernel builds the GSO skb and only
 * segments it when the TAP cannot take it whole). */
static void host_send_gso(struct env *e, const uint8_t *frame, size_t len, const struct virtio_net_hdr *vh) {
        int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), one = 1;
        ASSERT_OK(s);
        ASSERT_OK(setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one));
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = tap_ifindex(e->tap), .sll_halen = 6 };
        memcpy(sll.sll_addr, gmac, 6);
        static uint8_t buf[70000];
        memcpy(buf, vh, sizeof *vh);
        memcpy(buf + sizeof *vh, frame, len);
        ASSERT_EQ(sendto(s, buf, sizeof *vh + len, 0, (struct sockaddr *)&sll, sizeof sll), (ssize_t)(sizeof *vh + len));
        close(s);
}

/* The guest's TCP receive from port 5001: coalesced fragments reassembled
 * (as netvsc's rsc_add_data does; a chain never spans two transfer-page
 * packets), every packet's TCP checksum verified, its payload placed by
 * sequence number. */
struct tcp_recv {
        uint8_t *payload;
        size_t want, have, plen;
        uint32_t base_seq, packets;
        bool chain;
        uint8_t pkt[70000];
};

static void take_tcp(void *ctx, const uint8_t *m) {
        struct tcp_recv *t = ctx;
        if (!m) {
                ASSERT_FALSE(t->chain);
                return;
        }
        uint32_t dl = fk_u32(m, 12), csum;
        int frag;
        fk_rx_ppis(m, &csum, &frag);
        if (frag < 0 || (frag & RNDIS_PKTINFO_1ST_FRAG))
                t->plen = 0;
        ASSERT_LE(t->plen + dl, sizeof t->pkt);
        memcpy(t->pkt + t->plen, m + 8 + fk_u32(m, 8), dl);
        t->plen += dl;
        t->chain = frag >= 0 && !(frag & RNDIS_PKTINFO_LAST_FRAG);
        const uint8_t *p = t->pkt;
        if (t->chain || t->plen < 54 || p[23] != 6 || p[34] != 0x13 || p[35] != 0x89)
                return; /* more to come, or not ours (IPv6 router solicitations and the like) */
        size_t tl = t->plen - 34;
        ASSERT_EQ(nt_csum(p + 34, tl, nt_pseudo4(p + 14, 6, tl)), 0);
        uint32_t off = nt_get32(p + 38) - t->base_seq;
        ASSERT_LE(off + tl - 20, t->want);
        memcpy(t->payload + off, p + 54, tl - 20);
        t->have += tl - 20;
        t->packets++;
}

/* Runs the device until want bytes of payload arrived; returns the number
 * of packets the guest's stack would see. */
static uint32_t guest_recv_tcp(struct env *e, uint8_t *payload, size_t want, uint32_t base_seq) {
        static struct tcp_recv t;
        t = (struct tcp_recv){ .payload = payload, .want = want, .base_seq = base_seq };
        for (uint64_t end = nt_now_ms() + 3000; t.have < want && nt_now_ms() < end;)
                guest_turn(e, 20, take_tcp, &t);
        ASSERT_EQ(t.have, want);
        return t.packets;
}

TEST(netvsp_tap_rsc_gso_frames) {
        struct env e;
        static uint8_t fr[70000], got[65536], data[65536];
        enum { PAYLOAD = 60000 };
        env_up(&e, "vmn4", true);
        uint8_t m[64], r2[RNDIS_MAX_RESPONSE_SIZE], p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28 };
        p[22] = p[23] = NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED;
        uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 61, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28);
        ASSERT_EQ(fk_rndis(e.f, m, n, r2), 16u);
        ASSERT_EQ(fk_u32(r2, 12), RNDIS_STATUS_SUCCESS);
        netvsp_process(e.f->nd); /* the TAP now hands over GSO frames */
        ASSERT_EQ(netvsp_dev_stats(e.f->nd)->rx_gso_errors, 0u);

        for (int i = 0; i < PAYLOAD; i++)
                data[i] = (uint8_t)(i * 13 + 1);
        struct virtio_net_hdr vh;
        size_t len = nt_tcp_gso4(fr, gmac, e.host_mac, NT_HOST_IP, NT_GUEST_IP, 5001, 40000, 7000, data, PAYLOAD, &vh);
        host_send_gso(&e, fr, len, &vh);
        memset(got, 0, sizeof got);
        ASSERT_EQ(guest_recv_tcp(&e, got, PAYLOAD, 7000), 1u); /* one packet for the guest's stack */
        ASSERT_MEMEQ(got, data, PAYLOAD);
        ASSERT_EQ(netvsp_dev_stats(e.f->nd)->rx_coalesced, 1u);

        /* off: the kernel segments the same frame for the TAP */
        p[22] = p[23] = NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED;
        n = fk_oid_req(m, RNDIS_MSG_SET, 62, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28);
        ASSERT_EQ(fk_rndis(e.f, m, n, r2), 16u);
        netvsp_process(e.f->nd);
        host_send_gso(&e, fr, len, &vh);
        memset(got, 0, sizeof got);
        ASSERT_EQ(guest_recv_tcp(&e, got, PAYLOAD, 7000), (PAYLOAD + 1447u) / 1448u);
        ASSERT_MEMEQ(got, data, PAYLOAD);
        ASSERT_EQ(netvsp_dev_stats(e.f->nd)->rx_coalesced, 1u);
        env_down(&e);
}

TEST_MAIN();
