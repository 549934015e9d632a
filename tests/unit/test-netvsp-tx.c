// SPDX-License-Identifier: MIT
/* netvsp transmit (§7.6): send-buffer sections with batched messages,
 * partial copy, GPA-direct, offload PPIs, a full backend (the packet stalls,
 * its completion waits, nothing is lost or sent twice), malformed input. */
#include "tests/unit/test-netvsp-harness.h"
#include "tests/unit/test-netvsp-frames.h"

static const uint8_t dev_mac[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x07 }, host_mac[6] = { 0x02, 0, 0, 0, 0, 1 };

static struct fake *up(const struct netvsp_config *cfg) {
        struct fake *f = fk_new(cfg, 1u << 20);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        return f;
}

static size_t udp_frame(uint8_t *fr, uint16_t port, size_t payload) {
        uint8_t data[9000];
        for (size_t i = 0; i < payload; i++)
                data[i] = (uint8_t)(i + port);
        return nt_udp(fr, host_mac, dev_mac, NT_GUEST_IP, NT_HOST_IP, port, 9, data, payload, false);
}

/* SEND_RNDIS_PKT with the section's bytes used; checks the completion. */
static void send_section(struct fake *f, uint32_t index, uint32_t used, uint32_t status) {
        uint64_t tid;
        ASSERT_OK(fk_gpa_direct(f, 0, index, used, NULL, NULL, 0, &tid));
        struct fk_out *c = fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(fk_u32(c->msg, 4), status);
}

static uint8_t *section(struct fake *f, uint32_t i) {
        return f->mem + FK_SEND_GPA + (size_t)i * 6144;
}

TEST(netvsp_tx_section_single_and_batch) {
        struct fake *f = up(NULL);
        uint8_t fr[3][2048];
        size_t len[3] = { udp_frame(fr[0], 1, 18), udp_frame(fr[1], 2, 1000), udp_frame(fr[2], 3, 1458) };
        uint32_t n = fk_rndis_packet(section(f, 3), fr[0], (uint32_t)len[0], NULL, 0, 0);
        send_section(f, 3, n, NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 1);
        ASSERT_EQ(f->tx[0].len, len[0]);
        ASSERT_MEMEQ(f->tx[0].data, fr[0], len[0]);
        ASSERT_EQ(f->tx[0].vh.flags, 0);

        /* max_pkt_per_msg batching: each message but the last padded to 8 (§7.6) */
        uint32_t pos = 0;
        for (int i = 0; i < 3; i++)
                pos += fk_rndis_packet(section(f, 5) + pos, fr[i], (uint32_t)len[i], NULL, 0, i < 2 ? 8 : 0);
        ASSERT_LE(pos, 6144u);
        send_section(f, 5, pos, NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 4);
        for (int i = 0; i < 3; i++) {
                ASSERT_EQ(f->tx[1 + i].len, len[i]);
                ASSERT_MEMEQ(f->tx[1 + i].data, fr[i], len[i]);
        }
        ASSERT_EQ(netvsp_dev_stats(f->nd)->tx_packets, 4u);
        fk_free(f);
}

TEST(netvsp_tx_partial_copy_and_gpa_direct) {
        struct fake *f = up(NULL);
        uint8_t fr[2][9100], hdr[64];
        size_t l0 = udp_frame(fr[0], 1, 100), l1 = udp_frame(fr[1], 2, 1400);
        /* partial copy: a whole message, then only the header of the second;
         * its frame follows in two GPA-direct pieces */
        uint32_t pos = fk_rndis_packet(section(f, 1), fr[0], (uint32_t)l0, NULL, 0, 8);
        fk_rndis_packet(hdr, fr[1], 0, NULL, 0, 0);
        fk_put32(hdr, 4, (uint32_t)(44 + l1));
        fk_put32(hdr, 12, (uint32_t)l1);
        memcpy(section(f, 1) + pos, hdr, 44);
        pos += 44;
        uint64_t gpa[2] = { FK_SCRATCH_GPA + 4096 - 500, FK_SCRATCH_GPA + 4096 };
        uint32_t plen[2] = { 500, (uint32_t)l1 - 500 };
        memcpy(f->mem + gpa[0], fr[1], l1);
        uint64_t tid;
        ASSERT_OK(fk_gpa_direct(f, 0, 1, pos, gpa, plen, 2, &tid));
        ASSERT_EQ(fk_u32(fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8)->msg, 4),
                  (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 2);
        ASSERT_MEMEQ(f->tx[0].data, fr[0], l0);
        ASSERT_EQ(f->tx[1].len, l1);
        ASSERT_MEMEQ(f->tx[1].data, fr[1], l1);

        /* GPA-direct only: header + PPI in one piece (crossing a page, as 2
         * ranges), linear data and one fragment elsewhere */
        size_t l2 = udp_frame(fr[0], 3, 1450);
        const uint32_t ppi[][2] = { { NBL_HASH_VALUE, 0x1234 } };
        uint8_t h2[128];
        fk_rndis_packet(h2, fr[0], 0, ppi, 1, 0);
        fk_put32(h2, 4, (uint32_t)(60 + l2));
        fk_put32(h2, 12, (uint32_t)l2);
        uint64_t g[4] = { FK_SCRATCH_GPA + 0x3000 - 20, FK_SCRATCH_GPA + 0x3000, FK_SCRATCH_GPA + 0x5000,
                          FK_SCRATCH_GPA + 0x8000 };
        uint32_t gl[4] = { 20, 40, 1000, (uint32_t)l2 - 1000 };
        memcpy(f->mem + g[0], h2, 60);
        memcpy(f->mem + g[2], fr[0], 1000);
        memcpy(f->mem + g[3], fr[0] + 1000, l2 - 1000);
        ASSERT_OK(fk_gpa_direct(f, 0, NVSP_INVALID_SECTION_INDEX, 0, g, gl, 4, &tid));
        fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(f->n_tx, 3);
        ASSERT_EQ(f->tx[2].len, l2);
        ASSERT_MEMEQ(f->tx[2].data, fr[0], l2);
        fk_free(f);
}

TEST(netvsp_tx_backend_full_stalls_without_loss) {
        struct fake *f = up(NULL);
        uint8_t fr[3][256];
        size_t len[3];
        uint32_t pos = 0, first = 0;
        uint64_t tid;
        for (int i = 0; i < 3; i++) {
                len[i] = udp_frame(fr[i], (uint16_t)(10 + i), 50);
                pos += fk_rndis_packet(section(f, 0) + pos, fr[i], (uint32_t)len[i], NULL, 0, i < 2 ? 8 : 0);
                first = first ? first : pos;
        }
        f->tx_budget = 1; /* the TAP takes one frame, then is full */
        ASSERT_OK(fk_gpa_direct(f, 0, 0, pos, NULL, NULL, 0, &tid));
        fk_expect_nothing(f); /* completion held */
        ASSERT_EQ(f->n_tx, 1);
        ASSERT_FALSE(netvsp_can_take_packet(f->nd));
        /* the saved state names the packet by guest terms: where it resumes,
         * what its stream is made of, the completion it owes */
        struct netvsp_dev_state st;
        netvsp_dev_get_state(f->nd, &st);
        ASSERT_TRUE(st.stall.active);
        ASSERT_TRUE(st.stall.want_comp);
        ASSERT_EQ(st.stall.trans_id, tid);
        ASSERT_EQ(st.stall.msgs, 1u);
        ASSERT_EQ(st.stall.pos, (uint64_t)first);
        ASSERT_EQ(st.stall.section_index, 0u);
        ASSERT_EQ(st.stall.section_size, pos);
        ASSERT_EQ(st.stall.n_pages, 0u);
        ASSERT_EQ(st.n_comps, 0u);
        ASSERT_ERROR(fk_gpa_direct(f, 0, 1, 100, NULL, NULL, 0, NULL), EBUSY); /* the ring waits */
        ASSERT_EQ(netvsp_process(f->nd) & NETVSP_WANT_BACKEND_TX, NETVSP_WANT_BACKEND_TX);
        ASSERT_EQ(f->tx_eagains, 2);
        fk_expect_nothing(f);
        f->tx_budget = -1; /* drained */
        ASSERT_EQ(netvsp_process(f->nd) & NETVSP_WANT_BACKEND_TX, 0u);
        struct fk_out *c = fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(fk_u32(c->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 3); /* each frame exactly once, in order */
        for (int i = 0; i < 3; i++)
                ASSERT_MEMEQ(f->tx[i].data, fr[i], len[i]);
        ASSERT_TRUE(netvsp_can_take_packet(f->nd));
        ASSERT_EQ(netvsp_dev_stats(f->nd)->tx_stalls, 2u);
        fk_free(f);
}

static void enable_offloads(struct fake *f) {
        uint8_t m[64], r[RNDIS_MAX_RESPONSE_SIZE];
        uint8_t p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0, 1, 4, 4, 4, 4, 0, 0, 2, 2 };
        uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 50, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
}

TEST(netvsp_tx_offload_ppis) {
        struct netvsp_config cfg;
        netvsp_config_init_defaults(&cfg);
        memcpy(cfg.rndis.mac, dev_mac, 6);
        cfg.rndis.caps = (struct rndis_offload_caps){ true, true, true, true, 62780 };
        struct fake *f = up(&cfg);
        enable_offloads(f);
        /* UDP with a checksum PPI and a VLAN PPI */
        uint8_t fr[9000];
        size_t n = nt_udp(fr, host_mac, dev_mac, NT_GUEST_IP, NT_HOST_IP, 1, 2, "abc", 3, true);
        const uint32_t ppi[][2] = {
                { TCPIP_CHKSUM_PKTINFO, NDIS_CSUM_TX_IS_IPV4 | NDIS_CSUM_TX_UDP | (34u << NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT) },
                { IEEE_8021Q_INFO, 42u << NDIS_8021Q_VLANID_SHIFT },
        };
        uint32_t len = fk_rndis_packet(section(f, 2), fr, (uint32_t)n, ppi, 2, 0);
        send_section(f, 2, len, NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 1);
        ASSERT_EQ(f->tx[0].len, n + 4);
        ASSERT_EQ(f->tx[0].data[12], 0x81);
        ASSERT_EQ(f->tx[0].data[15], 42);
        ASSERT_MEMEQ(f->tx[0].data + 16, fr + 12, n - 12);
        ASSERT_EQ(f->tx[0].vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ASSERT_EQ(f->tx[0].vh.csum_start, 38);
        ASSERT_EQ(f->tx[0].vh.csum_offset, 6);
        /* an LSO frame with an MSS PPI: GSO header and real IPv4 length */
        size_t m = nt_eth(fr, host_mac, dev_mac, 0x0800);
        m += nt_ip4(fr + m, 6, NT_GUEST_IP, NT_HOST_IP, 20 + 4000);
        fr[16] = fr[17] = 0; /* tot_len 0 as netvsc sends it */
        memset(fr + m, 0, 20 + 4000);
        fr[m + 12] = 5 << 4;
        m += 20 + 4000;
        const uint32_t lso[][2] = { { TCP_LARGESEND_PKTINFO, 1448u | (34u << NDIS_LSO_TCP_HDR_OFFSET_SHIFT) | NDIS_LSO_TYPE_V2 } };
        uint64_t g = FK_SCRATCH_GPA, tid;
        uint32_t gl = fk_rndis_packet(f->mem + g, fr, (uint32_t)m, lso, 1, 0);
        uint64_t pages[2] = { g, g + 4096 };
        uint32_t plen[2] = { 4096, gl - 4096 };
        ASSERT_OK(fk_gpa_direct(f, 0, NVSP_INVALID_SECTION_INDEX, 0, pages, plen, 2, &tid));
        fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(f->n_tx, 2);
        ASSERT_EQ(f->tx[1].vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        ASSERT_EQ(f->tx[1].vh.gso_size, 1448);
        ASSERT_EQ(f->tx[1].len, m);
        ASSERT_EQ(f->tx[1].data[16] << 8 | f->tx[1].data[17], (int)(m - 14));
        fk_free(f);
}

TEST(netvsp_tx_malformed_and_dropped) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint8_t fr[2048];
        fk_nvsp_init(f);
        size_t n = udp_frame(fr, 1, 64);
        uint32_t len = fk_rndis_packet(section(f, 0), fr, (uint32_t)n, NULL, 0, 0);
        /* before RNDIS INIT: not sent, but the packet is fine: completed with success */
        send_section(f, 0, len, NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 0);
        ASSERT_EQ(netvsp_dev_stats(f->nd)->tx_dropped, 1u);
        fk_rndis_up(f);
        /* section index past the buffer, section size past a section, empty */
        send_section(f, FK_SEND_LEN / 6144, len, NVSP_STAT_INVALID_RNDIS_PKT);
        send_section(f, 0, 6145, NVSP_STAT_INVALID_RNDIS_PKT);
        send_section(f, 0, 0, NVSP_STAT_INVALID_RNDIS_PKT);
        /* msg_len past the used bytes, data past msg_len */
        send_section(f, 0, len - 1, NVSP_STAT_INVALID_RNDIS_PKT);
        fk_put32(section(f, 0), 12, (uint32_t)n + 1);
        send_section(f, 0, len, NVSP_STAT_INVALID_RNDIS_PKT);
        fk_put32(section(f, 0), 12, (uint32_t)n);
        /* a message of length 0 would loop forever: refused */
        fk_put32(section(f, 0), 4, 0);
        send_section(f, 0, len, NVSP_STAT_INVALID_RNDIS_PKT);
        /* a frame larger than MTU + 18 is dropped */
        uint8_t big[1600];
        memset(big, 0, sizeof big);
        memcpy(big, fr, 14);
        len = fk_rndis_packet(section(f, 0), big, 1519, NULL, 0, 0);
        send_section(f, 0, len, NVSP_STAT_SUCCESS);
        /* guest memory outside RAM */
        uint64_t g = FK_MEM, tid;
        uint32_t gl = 100;
        ASSERT_OK(fk_gpa_direct(f, 0, NVSP_INVALID_SECTION_INDEX, 0, &g, &gl, 1, &tid));
        ASSERT_EQ(fk_u32(fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8)->msg, 4),
                  (uint32_t)NVSP_STAT_INVALID_RNDIS_PKT);
        /* an LSO request that does not match the frame (MSS 0): dropped, not sent corrupt */
        const uint32_t lso[][2] = { { TCP_LARGESEND_PKTINFO, 0 } };
        len = fk_rndis_packet(section(f, 0), fr, (uint32_t)n, lso, 1, 0);
        send_section(f, 0, len, NVSP_STAT_SUCCESS);
        ASSERT_EQ(f->n_tx, 0);
        ASSERT_TRUE(netvsp_can_take_packet(f->nd));
        fk_free(f);
}

TEST_MAIN();
