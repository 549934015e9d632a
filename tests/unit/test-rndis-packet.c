// SPDX-License-Identifier: MIT
/* RNDIS PACKET parsing (what netvsc_xmit() builds, §7.6) and building (what
 * rndis_filter_receive_data()/rndis_get_ppi() accept). */
#include "common/test.h"
#include "hv/rndis.h"
#include "rndis/packet.h"

static void put32(uint8_t *p, size_t off, uint32_t v) {
        memcpy(p + off, &v, 4);
}
static uint32_t u32_at(const uint8_t *p, size_t off) {
        uint32_t v;
        memcpy(&v, p + off, 4);
        return v;
}

/* Builds a TX PACKET the way netvsc_xmit() does: body, then PPIs
 * (12-byte header + u32 each), data_offset = 36 + ppi bytes. */
static uint32_t tx_packet(uint8_t *m, uint32_t frame_len, const uint32_t (*ppis)[2], unsigned n_ppi) {
        uint32_t ppi_len = 16 * n_ppi, hdr = 44 + ppi_len;
        memset(m, 0, hdr);
        put32(m, 0, RNDIS_MSG_PACKET);
        put32(m, 4, hdr + frame_len);
        put32(m, 8, 36 + ppi_len);   /* data_offset */
        put32(m, 12, frame_len);     /* data_len */
        put32(m, 28, n_ppi ? 36 : 0); /* per_pkt_info_offset */
        put32(m, 32, ppi_len);
        for (unsigned i = 0; i < n_ppi; i++) {
                put32(m, 44 + 16 * i, 16);
                put32(m, 44 + 16 * i + 4, ppis[i][0]);
                put32(m, 44 + 16 * i + 8, 12);
                put32(m, 44 + 16 * i + 12, ppis[i][1]);
        }
        for (uint32_t i = 0; i < frame_len; i++)
                m[hdr + i] = (uint8_t)i;
        return hdr + frame_len;
}

TEST(rndis_packet_parse_plain) {
        uint8_t m[2048];
        struct rndis_tx_packet p;
        uint32_t len = tx_packet(m, 60, NULL, 0);
        ASSERT_OK(rndis_packet_parse(m, len, len, &p));
        ASSERT_EQ(p.msg_len, 104u);
        ASSERT_EQ(p.data_offset, 44u);
        ASSERT_EQ(p.data_len, 60u);
        ASSERT_EQ(p.flags, 0u);
}

TEST(rndis_packet_parse_ppis) {
        uint8_t m[2048];
        struct rndis_tx_packet p;
        const uint32_t lso = 1448u | (34u << NDIS_LSO_TCP_HDR_OFFSET_SHIFT) | NDIS_LSO_TYPE_V2;
        const uint32_t csum = NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_TCP | (34u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT);
        const uint32_t vlan = 5u | (1u << NDIS_8021Q_CFI_SHIFT) | (100u << NDIS_8021Q_VLANID_SHIFT);
        const uint32_t ppis[][2] = {
                { NBL_HASH_VALUE, 0xdeadbeef }, { IEEE_8021Q_INFO, vlan },
                { TCP_LARGESEND_PKTINFO, lso }, { TCPIP_CHKSUM_PKTINFO, csum },
                { RNDIS_PPI_INTERNAL | RNDIS_PKTINFO_ID, 7 }, /* unknown to TX: skipped */
        };
        uint32_t len = tx_packet(m, 1000, ppis, 5);
        ASSERT_OK(rndis_packet_parse(m, len, len, &p));
        ASSERT_EQ(p.data_offset, 44u + 80u);
        ASSERT_EQ(p.flags, RNDIS_TX_CSUM | RNDIS_TX_LSO | RNDIS_TX_VLAN | RNDIS_TX_HASH);
        ASSERT_EQ(p.hash, 0xdeadbeefu);
        ASSERT_EQ(rndis_lso_mss(p.lso_info), 1448u);
        ASSERT_EQ(rndis_lso_tcp_header_offset(p.lso_info), 34u);
        ASSERT_EQ(rndis_csum_tcp_header_offset(p.csum_info), 34u);
        ASSERT_EQ(rndis_vlan_tci(p.vlan_info), (uint16_t)((5 << 13) | (1 << 12) | 100));
}

TEST(rndis_packet_parse_partial_copy) {
        /* §7.6 partial copy: header + PPIs contiguous, frame in later ranges */
        uint8_t m[2048];
        struct rndis_tx_packet p;
        const uint32_t ppis[][2] = { { TCPIP_CHKSUM_PKTINFO, 1 } };
        uint32_t len = tx_packet(m, 1400, ppis, 1);
        ASSERT_OK(rndis_packet_parse(m, 60, len, &p));
        ASSERT_EQ(p.data_offset, 60u);
        ASSERT_EQ(p.data_len, 1400u);
        /* PPIs not within the contiguous part: refused */
        ASSERT_ERROR(rndis_packet_parse(m, 50, len, &p), EBADMSG);
        /* the stream is shorter than msg_len */
        ASSERT_ERROR(rndis_packet_parse(m, 60, len - 1, &p), EBADMSG);
}

TEST(rndis_packet_parse_batch_walk) {
        /* max_pkt_per_msg batching: each message padded to 8, walk by msg_len */
        uint8_t m[4096];
        uint32_t off = 0, n = 0, lens[3] = { 60, 61, 1500 };
        for (int i = 0; i < 3; i++) {
                uint32_t l = tx_packet(m + off, lens[i], NULL, 0);
                uint32_t padded = (l + 7) & ~7u;
                put32(m + off, 4, padded);
                off += padded;
        }
        for (uint32_t pos = 0; pos < off; n++) {
                struct rndis_tx_packet p;
                ASSERT_OK(rndis_packet_parse(m + pos, off - pos, off - pos, &p));
                ASSERT_EQ(p.data_len, lens[n]);
                pos += p.msg_len;
        }
        ASSERT_EQ(n, 3u);
}

TEST(rndis_packet_parse_malformed) {
        uint8_t m[2048];
        struct rndis_tx_packet p;
        const uint32_t ppis[][2] = { { TCPIP_CHKSUM_PKTINFO, 1 } };
        uint32_t len = tx_packet(m, 100, ppis, 1);

        ASSERT_ERROR(rndis_packet_parse(m, 43, 43, &p), EBADMSG);
        put32(m, 0, RNDIS_MSG_INIT);
        ASSERT_ERROR(rndis_packet_parse(m, len, len, &p), EPROTO);
        put32(m, 0, RNDIS_MSG_PACKET);
#define EXPECT_BAD(off, val)                                              \
        do {                                                              \
                uint32_t _old = u32_at(m, off);                           \
                put32(m, off, val);                                       \
                ASSERT_ERROR(rndis_packet_parse(m, len, len, &p), EBADMSG); \
                put32(m, off, _old);                                      \
                ASSERT_OK(rndis_packet_parse(m, len, len, &p));           \
        } while (0)
        EXPECT_BAD(4, len + 1);        /* msg_len beyond the stream */
        EXPECT_BAD(4, 20);             /* msg_len shorter than the header */
        EXPECT_BAD(8, 8);              /* data inside the fixed body */
        EXPECT_BAD(8, 0xfffffff0u);    /* data offset wraps */
        EXPECT_BAD(12, 0);             /* empty frame */
        EXPECT_BAD(12, 101);           /* frame past msg_len */
        EXPECT_BAD(12, 0xffffffffu);
        EXPECT_BAD(20, 1);             /* oob length without a valid offset */
        EXPECT_BAD(28, 4);             /* PPIs inside the fixed body */
        EXPECT_BAD(32, 0xffffffffu);   /* PPI length huge */
        EXPECT_BAD(32, 8);             /* PPI area shorter than an element */
        EXPECT_BAD(44, 0);             /* element size 0 (would loop forever) */
        EXPECT_BAD(44, 17);            /* element larger than the area */
        EXPECT_BAD(44, 12);            /* known type without room for its value */
        EXPECT_BAD(52, 2);             /* ppi_offset inside the element header */
        EXPECT_BAD(52, 17);            /* ppi_offset past the element */
#undef EXPECT_BAD
        ASSERT_ERROR(rndis_packet_parse(m, len + 1, len, &p), EINVAL);
}

/* What rndis_filter_receive()/receive_data()/rndis_get_ppi() check on a
 * received PACKET in a transfer-page range of range_len bytes. Returns the
 * checksum PPI value (or ~0u if absent). */
static uint32_t linux_accepts_rx(const uint8_t *m, uint32_t range_len, uint32_t frame_len) {
        uint32_t msg_len = u32_at(m, 4), data_off = u32_at(m, 8), data_len = u32_at(m, 12);
        uint32_t ppi_off = u32_at(m, 28), ppi_len = u32_at(m, 32), csum = ~0u;
        ASSERT_EQ(u32_at(m, 0), RNDIS_MSG_PACKET);
        ASSERT_GE(msg_len, 8u);
        ASSERT_LE(msg_len, range_len);
        ASSERT_LT(data_off, range_len - 8);
        ASSERT_GE(range_len - 8 - data_off, data_len);
        ASSERT_EQ(data_len, frame_len);
        if (ppi_off) {
                ASSERT_GE(ppi_off, 36u);
                ASSERT_LE(ppi_off, msg_len - 8);
                ASSERT_GE(ppi_len, 12u);
                ASSERT_LE(ppi_len, msg_len - 8 - ppi_off);
                for (uint32_t pos = 0; pos < ppi_len;) {
                        const uint8_t *e = m + 8 + ppi_off + pos;
                        uint32_t size = u32_at(e, 0), off = u32_at(e, 8);
                        ASSERT_LE(size, ppi_len - pos);
                        ASSERT_LT(off, size);
                        ASSERT_GE(size - off, 4u);
                        if (u32_at(e, 4) == TCPIP_CHKSUM_PKTINFO)
                                csum = u32_at(e, off);
                        pos += size;
                }
        }
        return csum;
}

TEST(rndis_packet_build_rx) {
        uint8_t b[2048];
        uint32_t msg_len;
        struct rndis_rx_info info = { .has_csum = true,
                                      .csum_info = NDIS_CSUM_RX_TCP_SUCCEEDED | NDIS_CSUM_RX_IP_SUCCEEDED };
        int off = rndis_packet_build_rx_header(b, sizeof b, 1514, NULL, 0, &msg_len);
        ASSERT_EQ(off, 44);
        ASSERT_EQ(msg_len, 44u + 1514u);
        ASSERT_EQ(linux_accepts_rx(b, msg_len, 1514), ~0u);

        off = rndis_packet_build_rx_header(b, sizeof b, 60, &info, 0, &msg_len);
        ASSERT_EQ(off, 60);
        ASSERT_EQ((size_t)off, rndis_packet_rx_header_size(&info));
        ASSERT_EQ(msg_len, 120u);
        ASSERT_EQ(linux_accepts_rx(b, msg_len, 60), info.csum_info);
        /* also valid when the range is larger than the message */
        ASSERT_EQ(linux_accepts_rx(b, 1728, 60), info.csum_info);

        info.has_vlan = info.has_hash = true;
        ASSERT_ERROR(rndis_packet_build_rx_header(b, 91, 60, &info, 0, &msg_len), ENOBUFS);
        ASSERT_EQ(rndis_packet_build_rx_header(b, 92, 60, &info, 0, &msg_len), 92);
        ASSERT_ERROR(rndis_packet_build_rx_header(b, sizeof b, 0, NULL, 0, &msg_len), EINVAL);
        ASSERT_ERROR(rndis_packet_build_rx_header(b, sizeof b, (size_t)UINT32_MAX, NULL, 0, &msg_len), EINVAL);
        /* a fixed data offset (netvsp reads the frame into place first) */
        ASSERT_EQ(rndis_packet_build_rx_header(b, 96, 60, &info, 96, &msg_len), 96);
        ASSERT_EQ(msg_len, 156u);
        ASSERT_EQ(u32_at(b, 8), 88u); /* data_offset from the body */
        ASSERT_NE(linux_accepts_rx(b, msg_len, 60), ~0u);
        ASSERT_ERROR(rndis_packet_build_rx_header(b, sizeof b, 60, &info, 91, &msg_len), EINVAL);
}

/* An RSC fragment: RNDIS_PKTINFO_ID in the internal namespace (type bit
 * 31), which netvsc looks up with rndis_get_ppi(..., RNDIS_PKTINFO_ID,
 * internal 1, 4 bytes): version 1, the flags, packet id 0. Beside the
 * checksum PPI the header still fits netvsp's fixed data offset. */
TEST(rndis_packet_build_rx_rsc_fragment) {
        uint8_t b[2048];
        uint32_t msg_len;
        struct rndis_rx_info info = { .has_csum = true, .csum_info = NDIS_CSUM_RX_TCP_SUCCEEDED,
                                      .has_pktinfo_id = true,
                                      .pktinfo_flags = RNDIS_PKTINFO_SUBALLOC | RNDIS_PKTINFO_1ST_FRAG };
        ASSERT_EQ(rndis_packet_rx_header_size(&info), 76u);
        ASSERT_EQ(rndis_packet_build_rx_header(b, 96, 1568, &info, 96, &msg_len), 96);
        ASSERT_EQ(linux_accepts_rx(b, 1664, 1568), NDIS_CSUM_RX_TCP_SUCCEEDED);
        const uint8_t *e = b + 8 + u32_at(b, 28) + 16; /* the second PPI */
        ASSERT_EQ(u32_at(e, 0), 16u);
        ASSERT_EQ(u32_at(e, 4), RNDIS_PKTINFO_ID | RNDIS_PPI_INTERNAL);
        ASSERT_EQ(u32_at(e, 8), 12u);
        struct rndis_pktinfo_id id;
        memcpy(&id, e + 12, sizeof id);
        ASSERT_EQ(id.ver, RNDIS_PKTINFO_ID_V1);
        ASSERT_EQ(id.flag, RNDIS_PKTINFO_SUBALLOC | RNDIS_PKTINFO_1ST_FRAG);
        ASSERT_EQ(id.pkt_id, 0);
}

TEST_MAIN();
