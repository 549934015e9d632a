// SPDX-License-Identifier: MIT
/* Offload translation (netvsp/offload.h): LSOv2 frames as netvsc_xmit()
 * builds them (IPv4 tot_len 0, TCP checksum over a zero-length pseudo
 * header) become correct GSO frames; checksum and VLAN PPIs; receive
 * checksum info; completing a partial checksum. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "common/macro.h"
#include "common/test.h"
#include "netvsp/offload.h"
#include "tests/unit/test-netvsp-frames.h"

static const uint8_t gmac[6] = NT_GUEST_MAC, hmac[6] = { 0x02, 0, 0, 0, 0, 1 };

static uint16_t get16(const uint8_t *p) {
        return (uint16_t)(p[0] << 8 | p[1]);
}

/* Eth + IPv4 + TCP (32-byte header) + payload, prepared as netvsc does for LSO. */
static size_t lso4_frame(uint8_t *f, size_t payload) {
        size_t n = nt_eth(f, hmac, gmac, 0x0800);
        uint8_t *ip = f + n, *th = ip + 20;
        nt_ip4(ip, 6, NT_GUEST_IP, NT_HOST_IP, 32 + payload);
        ip[2] = ip[3] = 0;   /* tot_len = 0 */
        ip[10] = ip[11] = 0; /* check = 0 */
        memset(th, 0, 32);
        nt_put16(th, 40000);
        nt_put16(th + 2, 80);
        th[12] = 8 << 4; /* data offset: 32 bytes */
        th[13] = 0x18;   /* PSH ACK */
        /* ~csum_tcpudp_magic(saddr, daddr, 0, TCP, 0): folded, not inverted */
        nt_put16(th + 16, (uint16_t)~nt_csum(NULL, 0, nt_pseudo4(ip, 6, 0)));
        for (size_t i = 0; i < payload; i++)
                th[32 + i] = (uint8_t)i;
        return n + 20 + 32 + payload;
}

static struct rndis_tx_packet lso_pkt(uint32_t mss, uint32_t l4, bool v6) {
        struct rndis_tx_packet p = { .flags = RNDIS_TX_LSO };
        p.lso_info = mss | (l4 << NDIS_LSO_TCP_HDR_OFFSET_SHIFT) | NDIS_LSO_TYPE_V2 | (v6 ? NDIS_LSO_IPV6 : 0);
        return p;
}

TEST(offload_lso_ipv4_fixes_headers) {
        uint8_t f[8192];
        struct netvsp_tx_frame out;
        size_t n = lso4_frame(f, 5000);
        struct rndis_tx_packet p = lso_pkt(1448, 34, false);
        ASSERT_OK(netvsp_tx_prepare(&p, f, 256, n, &out));
        ASSERT_EQ(out.vnet.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ASSERT_EQ(out.vnet.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        ASSERT_EQ(out.vnet.gso_size, 1448);
        ASSERT_EQ(out.vnet.csum_start, 34);
        ASSERT_EQ(out.vnet.csum_offset, 16);
        ASSERT_EQ(out.vnet.hdr_len, 66);
        ASSERT_EQ(out.hdr_len, 66u);
        ASSERT_EQ(out.replace_len, 66u);
        const uint8_t *ip = out.hdr + 14, *th = ip + 20;
        ASSERT_EQ(get16(ip + 2), (uint16_t)(n - 14));   /* real tot_len */
        ASSERT_EQ(nt_csum(ip, 20, 0), 0);                /* valid header checksum */
        uint16_t want = (uint16_t)~nt_csum(NULL, 0, nt_pseudo4(ip, 6, n - 34));
        ASSERT_EQ(get16(th + 16), want);                 /* pseudo sum over the real length */
        ASSERT_MEMEQ(out.hdr, f, 14);                    /* MACs untouched */
        ASSERT_MEMEQ(th, f + 34, 16);                    /* ports, seq, ack, flags untouched */
        /* the full TCP checksum, once completed over header + payload, verifies */
        uint8_t whole[8192];
        memcpy(whole, out.hdr, out.hdr_len);
        memcpy(whole + out.hdr_len, f + out.replace_len, n - out.replace_len);
        ASSERT_OK(netvsp_csum_complete(whole, n, 34, 16));
        ASSERT_EQ(nt_csum(whole + 34, n - 34, nt_pseudo4(whole + 14, 6, n - 34)), 0);
}

TEST(offload_lso_ipv6_payload_len) {
        uint8_t f[4096] = { 0 };
        struct netvsp_tx_frame out;
        size_t n = nt_eth(f, hmac, gmac, 0x86dd);
        uint8_t *ip = f + n, *th = ip + 40;
        ip[0] = 0x60;
        ip[6] = 6;   /* next header TCP */
        ip[7] = 64;
        ip[8] = 0xfd; /* fd00::2 -> fd00::1 */
        ip[23] = 2;
        ip[24] = 0xfd;
        ip[39] = 1;
        th[12] = 5 << 4;
        n += 40 + 20 + 3000;
        struct rndis_tx_packet p = lso_pkt(1400, 54, true);
        ASSERT_OK(netvsp_tx_prepare(&p, f, 256, n, &out));
        ASSERT_EQ(out.vnet.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
        ASSERT_EQ(get16(out.hdr + 14 + 4), (uint16_t)(n - 54)); /* payload_len */
        ASSERT_EQ(out.vnet.hdr_len, 74);
        /* pseudo header: src, dst, length, next header */
        uint32_t s = 0;
        for (int i = 8; i < 40; i += 2)
                s += get16(out.hdr + 14 + i);
        s += (uint32_t)(n - 54) + 6;
        ASSERT_EQ(get16(out.hdr + 54 + 16), (uint16_t)~nt_csum(NULL, 0, s));
}

TEST(offload_lso_rejects_mismatches) {
        uint8_t f[4096];
        struct netvsp_tx_frame out;
        size_t n = lso4_frame(f, 2000);
        struct rndis_tx_packet p = lso_pkt(0, 34, false);
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 256, n, &out), EBADMSG); /* MSS 0 */
        p = lso_pkt(1448, 38, false);
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 256, n, &out), EBADMSG); /* not where IP ends */
        p = lso_pkt(1448, 34, true);
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 256, n, &out), EBADMSG); /* claims IPv6 */
        p = lso_pkt(1448, 34, false);
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 40, n, &out), EBADMSG);  /* headers cut */
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 66, 66, &out), EBADMSG); /* no payload */
        f[23] = 17;
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 256, n, &out), EBADMSG); /* UDP */
        f[23] = 6;
        f[46] = 2 << 4;
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 256, n, &out), EBADMSG); /* TCP header < 20 */
        f[46] = 8 << 4;
        ASSERT_OK(netvsp_tx_prepare(&p, f, 256, n, &out));
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, 13, 13, &out), EBADMSG);
        /* only the Ethernet header available: nothing past it is read
         * (found by fuzz-nvsp; an exact-size heap copy lets ASan see it) */
        uint8_t *eth = malloc(14);
        memcpy(eth, f, 14);
        ASSERT_ERROR(netvsp_tx_prepare(&p, eth, 14, n, &out), EBADMSG);
        free(eth);
}

TEST(offload_checksum_ppi) {
        uint8_t f[256];
        struct netvsp_tx_frame out;
        size_t n = nt_udp(f, hmac, gmac, NT_GUEST_IP, NT_HOST_IP, 1, 2, "x", 1, true);
        struct rndis_tx_packet p = { .flags = RNDIS_TX_CSUM };
        p.csum_info = NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_UDP | (34u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT);
        ASSERT_OK(netvsp_tx_prepare(&p, f, n, n, &out));
        ASSERT_EQ(out.vnet.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ASSERT_EQ(out.vnet.gso_type, VIRTIO_NET_HDR_GSO_NONE);
        ASSERT_EQ(out.vnet.csum_start, 34);
        ASSERT_EQ(out.vnet.csum_offset, 6);
        ASSERT_EQ(out.hdr_len, 0u); /* no rewrite needed */
        p.csum_info = NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_TCP | (34u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT);
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, n, n, &out), EBADMSG); /* TCP checksum would be past the end */
        p.csum_info = NDIS_CSUM_TX_UDP | (1000u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT);
        ASSERT_ERROR(netvsp_tx_prepare(&p, f, n, n, &out), EBADMSG);
        /* IPv4 header checksum on request, in a copy */
        f[24] = f[25] = 0;
        p.csum_info = NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_IP_HEADER;
        ASSERT_OK(netvsp_tx_prepare(&p, f, n, n, &out));
        ASSERT_EQ(out.hdr_len, 34u);
        ASSERT_EQ(nt_csum(out.hdr + 14, 20, 0), 0);
        ASSERT_EQ(f[24], 0); /* the guest's bytes are not modified */
}

TEST(offload_vlan_insertion) {
        uint8_t f[256];
        struct netvsp_tx_frame out;
        size_t n = nt_udp(f, hmac, gmac, NT_GUEST_IP, NT_HOST_IP, 1, 2, "x", 1, true);
        struct rndis_tx_packet p = { .flags = RNDIS_TX_VLAN | RNDIS_TX_CSUM };
        p.vlan_info = 3u | (100u << NDIS_8021Q_VLANID_SHIFT);
        p.csum_info = NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_UDP | (34u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT);
        ASSERT_OK(netvsp_tx_prepare(&p, f, n, n, &out));
        ASSERT_EQ(out.replace_len, 12u);
        ASSERT_EQ(out.hdr_len, 16u);
        ASSERT_MEMEQ(out.hdr, f, 12);
        ASSERT_EQ(get16(out.hdr + 12), 0x8100);
        ASSERT_EQ(get16(out.hdr + 14), (3 << 13) | 100);
        ASSERT_EQ(out.vnet.csum_start, 38); /* shifted by the tag */
        /* with LSO the rewritten headers grow by the tag too */
        uint8_t g[4096];
        size_t m = lso4_frame(g, 3000);
        struct rndis_tx_packet q = lso_pkt(1448, 34, false);
        q.flags |= RNDIS_TX_VLAN;
        q.vlan_info = 5u << NDIS_8021Q_VLANID_SHIFT;
        ASSERT_OK(netvsp_tx_prepare(&q, g, 256, m, &out));
        ASSERT_EQ(out.hdr_len, 70u);
        ASSERT_EQ(out.replace_len, 66u);
        ASSERT_EQ(out.vnet.hdr_len, 70);
        ASSERT_EQ(out.vnet.csum_start, 38);
        ASSERT_EQ(get16(out.hdr + 18 + 2), (uint16_t)(m - 14)); /* IPv4 tot_len after the tag */
}

TEST(offload_rx_checksum_info) {
        uint8_t f[256];
        struct rndis_rx_info info;
        struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
        size_t n = nt_udp(f, gmac, hmac, NT_HOST_IP, NT_GUEST_IP, 1, 2, "x", 1, false);
        netvsp_rx_info(&vh, f, n, &info);
        ASSERT_TRUE(info.has_csum);
        ASSERT_EQ(info.csum_info, NDIS_CSUM_RX_UDP_SUCCEEDED | NDIS_CSUM_RX_IP_SUCCEEDED);
        vh.flags = 0;
        netvsp_rx_info(&vh, f, n, &info);
        ASSERT_FALSE(info.has_csum); /* the kernel did not vouch: the guest checks itself */
        vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
        n = nt_arp_request(f, gmac, NT_GUEST_IP, NT_HOST_IP);
        netvsp_rx_info(&vh, f, n, &info);
        ASSERT_FALSE(info.has_csum);
        n = nt_icmp_echo(f, gmac, hmac, NT_HOST_IP, NT_GUEST_IP, 1, 1, 8);
        netvsp_rx_info(&vh, f, n, &info);
        ASSERT_FALSE(info.has_csum); /* ICMP: no L4 checksum bit to set */
}

TEST(offload_csum_complete) {
        uint8_t f[256], full[256];
        size_t n = nt_udp(f, gmac, hmac, NT_HOST_IP, NT_GUEST_IP, 7, 9, "hello world", 11, true);
        nt_udp(full, gmac, hmac, NT_HOST_IP, NT_GUEST_IP, 7, 9, "hello world", 11, false);
        ASSERT_OK(netvsp_csum_complete(f, n, 34, 6));
        ASSERT_MEMEQ(f, full, n);
        ASSERT_ERROR(netvsp_csum_complete(f, n, 34, (uint32_t)n), EBADMSG);
        ASSERT_ERROR(netvsp_csum_complete(f, n, UINT32_MAX, 6), EBADMSG);
}

/* netvsp_csum_partial sums 64-bit words with their carries: the same
 * result as 16-bit words (RFC 1071) for every length and alignment, from
 * any starting sum, and with every add carrying (all bytes 0xff). */
TEST(offload_csum_partial_matches_words) {
        static uint8_t b[4099];
        for (size_t i = 0; i < sizeof b; i++)
                b[i] = (uint8_t)(i * 151 + 7);
        for (int pass = 0; pass < 2; pass++) {
                if (pass)
                        memset(b, 0xff, sizeof b);
                uint32_t start = pass ? 0xfffffffeu : 0x1234u;
                for (size_t off = 0; off < 8; off++)
                        for (size_t len = 0; len + off <= sizeof b; len += len < 40 ? 1 : 97) {
                                uint64_t w = start;
                                for (size_t i = 0; i + 1 < len; i += 2) {
                                        uint16_t v;
                                        memcpy(&v, b + off + i, 2);
                                        w += v;
                                }
                                if (len & 1) {
                                        uint8_t t[2] = { b[off + len - 1], 0 };
                                        uint16_t v;
                                        memcpy(&v, t, 2);
                                        w += v;
                                }
                                while (w >> 32)
                                        w = (w & 0xffffffffu) + (w >> 32);
                                ASSERT_EQ(netvsp_csum_fold(netvsp_csum_partial(b + off, len, start)),
                                          netvsp_csum_fold((uint32_t)w));
                        }
        }
}

/* A GSO frame split over pieces of cap bytes, as the TAP scatters it over
 * receive slots; the pieces are separate buffers. */
static void split(const uint8_t *f, size_t n, uint32_t cap, uint8_t *piece[], uint32_t *np) {
        *np = (uint32_t)((n + cap - 1) / cap);
        for (uint32_t i = 0; i < *np; i++) {
                piece[i] = malloc(cap);
                ASSERT_NOT_NULL(piece[i]);
                memcpy(piece[i], f + (size_t)i * cap, MIN((size_t)cap, n - (size_t)i * cap));
        }
}

static void join(uint8_t *const piece[], uint32_t np, uint32_t cap, size_t n, uint8_t *out) {
        for (uint32_t i = 0; i < np; i++) {
                memcpy(out + (size_t)i * cap, piece[i], MIN((size_t)cap, n - (size_t)i * cap));
                free(piece[i]);
        }
}

/* RSC: the partial TCP checksum of a GSO frame is completed over every
 * piece (IPv4 and IPv6; pieces of an odd size, so some start at an odd
 * distance from the checksum's start), and the checksum PPI says what
 * holds; frames it must not coalesce are refused. */
TEST(offload_rsc_prepare) {
        static uint8_t f[70000], got[70000], data[60000];
        uint8_t *piece[64];
        uint32_t np;
        struct rndis_rx_info info;
        struct virtio_net_hdr vh;
        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (uint8_t)(i * 13 + 5);
        size_t n = nt_tcp_gso4(f, gmac, hmac, NT_HOST_IP, NT_GUEST_IP, 5001, 80, 9, data, 50001, &vh);
        static const uint32_t caps[] = { 1568, 1567, 4093, 65600 };
        for (size_t c = 0; c < ARRAY_SIZE(caps); c++) {
                split(f, n, caps[c], piece, &np);
                ASSERT_OK(netvsp_rsc_prepare(&vh, piece, np, caps[c], n, true, false, &info));
                join(piece, np, caps[c], n, got);
                ASSERT_EQ(nt_csum(got + 34, n - 34, nt_pseudo4(got + 14, 6, n - 34)), 0);
                ASSERT_MEMEQ(got, f, 50);
                ASSERT_MEMEQ(got + 52, f + 52, n - 52);
                ASSERT_TRUE(info.has_csum);
                ASSERT_EQ(info.csum_info, NDIS_CSUM_RX_TCP_SUCCEEDED | NDIS_CSUM_RX_IP_SUCCEEDED);
        }
        /* a broken IPv4 header checksum: the guest checks the header itself */
        f[24] ^= 1;
        split(f, n, 1568, piece, &np);
        ASSERT_OK(netvsp_rsc_prepare(&vh, piece, np, 1568, n, true, false, &info));
        join(piece, np, 1568, n, got);
        ASSERT_EQ(info.csum_info, NDIS_CSUM_RX_TCP_SUCCEEDED);
        f[24] ^= 1;
        /* refused: IPv4 not coalesced, UDP GSO, no partial checksum, the
         * checksum not TCP's, len not needing exactly np pieces */
        split(f, n, 1568, piece, &np);
        ASSERT_ERROR(netvsp_rsc_prepare(&vh, piece, np, 1568, n, false, true, &info), EPROTONOSUPPORT);
        vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
        ASSERT_ERROR(netvsp_rsc_prepare(&vh, piece, np, 1568, n, true, true, &info), EPROTONOSUPPORT);
        vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN; /* ECN is fine */
        vh.flags = 0;
        ASSERT_ERROR(netvsp_rsc_prepare(&vh, piece, np, 1568, n, true, true, &info), EBADMSG);
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh.csum_offset = 6;
        ASSERT_ERROR(netvsp_rsc_prepare(&vh, piece, np, 1568, n, true, true, &info), EBADMSG);
        vh.csum_offset = 16;
        ASSERT_ERROR(netvsp_rsc_prepare(&vh, piece, np, 1568, n - 1568, true, true, &info), EINVAL);
        ASSERT_OK(netvsp_rsc_prepare(&vh, piece, np, 1568, n, true, true, &info));
        join(piece, np, 1568, n, got);

        /* IPv6 (csum_start 54) */
        n = nt_tcp6(f, gmac, hmac, "fd00::1", "fd00::2", 5001, 80, 9, 1, 0x18, data, 40000);
        nt_put16(f + 54 + 16, (uint16_t)~nt_csum(NULL, 0, nt_pseudo6(f + 14, n - 54)));
        vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
                                      .hdr_len = 74, .gso_size = 1428, .csum_start = 54, .csum_offset = 16 };
        split(f, n, 1567, piece, &np);
        ASSERT_ERROR(netvsp_rsc_prepare(&vh, piece, np, 1567, n, true, false, &info), EPROTONOSUPPORT);
        ASSERT_OK(netvsp_rsc_prepare(&vh, piece, np, 1567, n, false, true, &info));
        join(piece, np, 1567, n, got);
        ASSERT_EQ(nt_csum(got + 54, n - 54, nt_pseudo6(got + 14, n - 54)), 0);
        ASSERT_MEMEQ(got + 72, f + 72, n - 72);
        ASSERT_EQ(info.csum_info, NDIS_CSUM_RX_TCP_SUCCEEDED); /* no IPv4 header */
}

TEST_MAIN();
