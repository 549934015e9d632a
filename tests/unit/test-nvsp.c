// SPDX-License-Identifier: MIT
/* NVSP parsing and completions (§7.2, §7.3), receive-buffer slot accounting
 * (§7.4), GPA-direct packet decoding (§5.3) and message streams (§7.6). */
#include "common/test.h"
#include "hv/vmbus.h"
#include "netvsp/nvsp.h"
#include "netvsp/rxbuf.h"
#include "netvsp/sg.h"

static void put32(uint8_t *p, size_t off, uint32_t v) {
        memcpy(p + off, &v, 4);
}
static uint32_t u32_at(const uint8_t *p, size_t off) {
        uint32_t v;
        memcpy(&v, p + off, 4);
        return v;
}

TEST(nvsp_version_negotiation) {
        /* Linux tries 6.1, 6, 5, 4, 2, 1 with min = max (§7.3) */
        ASSERT_EQ(nvsp_negotiate(0x60001, 0x60001), 0x60001u);
        ASSERT_EQ(nvsp_negotiate(0x60000, 0x60000), 0x60000u);
        ASSERT_EQ(nvsp_negotiate(0x50000, 0x50000), 0x50000u);
        ASSERT_EQ(nvsp_negotiate(0x40000, 0x40000), 0x40000u);
        ASSERT_EQ(nvsp_negotiate(0x30002, 0x30002), 0x30002u);
        ASSERT_EQ(nvsp_negotiate(0x2, 0x2), 0x2u);
        ASSERT_EQ(nvsp_negotiate(0x3, 0x3), 0u);           /* 3 does not exist */
        ASSERT_EQ(nvsp_negotiate(0x70000, 0x70000), 0u);   /* too new */
        ASSERT_EQ(nvsp_negotiate(0x2, 0x70000), 0x60001u); /* a range: the newest */
        ASSERT_EQ(nvsp_negotiate(0x60001, 0x2), 0u);       /* inverted */
        ASSERT_TRUE(nvsp_version_supported(0x40000));
        ASSERT_FALSE(nvsp_version_supported(0x40001));
}

TEST(nvsp_parse_linux_messages) {
        uint8_t m[40] = { 0 };
        struct nvsp_request q;
        put32(m, 0, NVSP_MSG_TYPE_INIT);
        put32(m, 4, 0x60001);
        put32(m, 8, 0x60001);
        ASSERT_OK(nvsp_parse(m, 40, 0, &q));
        ASSERT_EQ(q.init.min_ver, 0x60001u);

        memset(m, 0, 40);
        put32(m, 0, NVSP_MSG2_TYPE_SEND_NDIS_CONFIG);
        put32(m, 4, 1514);
        uint64_t cap = NVSP_NDIS_CONFIG_CAP_IEEE8021Q | NVSP_NDIS_CONFIG_CAP_RSC;
        memcpy(m + 12, &cap, 8);
        ASSERT_OK(nvsp_parse(m, 40, 0x60001, &q));
        ASSERT_EQ(q.ndis_config.mtu, 1514u);
        ASSERT_EQ(q.ndis_config.capability, cap);
        /* NDIS_CONFIG is a v2 message: refused under NVSP 1 */
        ASSERT_ERROR(nvsp_parse(m, 40, NVSP_PROTOCOL_VERSION_1, &q), EOPNOTSUPP);
        /* nothing but INIT before a version was negotiated */
        ASSERT_ERROR(nvsp_parse(m, 40, 0, &q), EOPNOTSUPP);

        memset(m, 0, 40);
        put32(m, 0, NVSP_MSG1_TYPE_SEND_RECV_BUF);
        put32(m, 4, 0x1234);
        m[8] = 0xfe;
        m[9] = 0xca;
        ASSERT_OK(nvsp_parse(m, 40, 0x60001, &q));
        ASSERT_EQ(q.buf.gpadl, 0x1234u);
        ASSERT_EQ(q.buf.id, 0xcafe);

        memset(m, 0, 40);
        put32(m, 0, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        put32(m, 4, 1);
        put32(m, 8, 0xffffffff);
        ASSERT_OK(nvsp_parse(m, 40, 0x60001, &q));
        ASSERT_EQ(q.rndis_pkt.channel_type, 1u);
        ASSERT_EQ(q.rndis_pkt.section_index, NVSP_INVALID_SECTION_INDEX);
        put32(m, 4, 2); /* no such channel type */
        ASSERT_ERROR(nvsp_parse(m, 40, 0x60001, &q), EBADMSG);

        memset(m, 0, 40);
        put32(m, 0, NVSP_MSG5_TYPE_SUBCHANNEL);
        put32(m, 4, NVSP_SUBCHANNEL_ALLOCATE);
        put32(m, 8, 3);
        ASSERT_OK(nvsp_parse(m, 40, 0x50000, &q));
        ASSERT_EQ(q.subchannel.num, 3u);
        ASSERT_ERROR(nvsp_parse(m, 40, 0x40000, &q), EOPNOTSUPP);
}

TEST(nvsp_parse_short_and_unknown) {
        uint8_t m[40] = { 0 };
        struct nvsp_request q;
        ASSERT_ERROR(nvsp_parse(m, 3, 0x60001, &q), EBADMSG);
        put32(m, 0, NVSP_MSG_TYPE_INIT);
        ASSERT_ERROR(nvsp_parse(m, 11, 0, &q), EBADMSG);
        put32(m, 0, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        ASSERT_ERROR(nvsp_parse(m, 15, 0x60001, &q), EBADMSG);
        ASSERT_EQ(q.type, (uint32_t)NVSP_MSG1_TYPE_SEND_RNDIS_PKT); /* known even when short */
        put32(m, 0, NVSP_MSG_TYPE_INIT_COMPLETE); /* host-to-guest only */
        ASSERT_ERROR(nvsp_parse(m, 40, 0x60001, &q), EOPNOTSUPP);
        put32(m, 0, 0xdeadbeef);
        ASSERT_ERROR(nvsp_parse(m, 40, 0x60001, &q), EOPNOTSUPP);
}

TEST(nvsp_completion_sizes_and_layouts) {
        struct nvsp_message m;
        uint8_t b[40];
        /* §7.2: INIT_COMPLETE and SEND_RECV_BUF_COMPLETE >= 28, others >= 12; we send 40 */
        ASSERT_EQ(nvsp_build_init_complete(&m, 0x60001, NVSP_STAT_SUCCESS), 40u);
        memcpy(b, &m, 40);
        ASSERT_EQ(b[0], 2);
        ASSERT_EQ(m.msg.init_complete.negotiated_protocol_ver, 0x60001u);
        ASSERT_EQ(b[12], 1); /* status @12, success is 1 */

        ASSERT_EQ(nvsp_build_recv_buf_complete(&m, NVSP_STAT_SUCCESS, 1664, 10082), 40u);
        memcpy(b, &m, 40);
        ASSERT_EQ(u32_at(b, 0), 102u);
        ASSERT_EQ(u32_at(b, 4), 1u);     /* status */
        ASSERT_EQ(u32_at(b, 8), 1u);     /* num_sections: must be 1 */
        ASSERT_EQ(u32_at(b, 12), 0u);    /* section[0].offset: must be 0 */
        ASSERT_EQ(u32_at(b, 16), 1664u); /* sub_alloc_size >= 68 */
        ASSERT_EQ(u32_at(b, 20), 10082u);
        ASSERT_EQ(u32_at(b, 24), 1664u * 10082u);

        ASSERT_EQ(nvsp_build_send_buf_complete(&m, NVSP_STAT_SUCCESS, 6144), 40u);
        ASSERT_EQ(m.hdr.msg_type, (uint32_t)NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE);
        ASSERT_EQ(m.msg.send_send_buf_complete.section_size, 6144u);
        ASSERT_EQ(nvsp_build_rndis_pkt_complete(&m, NVSP_STAT_SUCCESS), 8u);
        ASSERT_EQ(m.hdr.msg_type, (uint32_t)NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
        ASSERT_EQ(m.msg.send_rndis_pkt_complete.status, 1u);
        ASSERT_EQ(nvsp_build_subchannel_complete(&m, NVSP_STAT_FAIL, 0), 40u);
        ASSERT_EQ(nvsp_build_rndis_pkt(&m, NVSP_RNDIS_CHANNEL_CONTROL), 16u);
        ASSERT_EQ(m.msg.send_rndis_pkt.send_buf_section_index, NVSP_INVALID_SECTION_INDEX);
}

TEST(rxbuf_slots_reused_only_after_completion) {
        struct netvsp_rxbuf rb;
        uint32_t s[4];
        uint64_t t1, t2;
        ASSERT_ERROR(netvsp_rxbuf_init(&rb, 1 << 20, 67), EINVAL);
        ASSERT_ERROR(netvsp_rxbuf_init(&rb, 100, 128), EINVAL);
        ASSERT_OK(netvsp_rxbuf_init(&rb, 4 * 1664 + 100, 1664));
        ASSERT_EQ(rb.n_slots, 4u); /* the tail that holds no slot is unused */
        for (int i = 0; i < 4; i++) {
                ASSERT_OK(netvsp_rxbuf_alloc(&rb, &s[i]));
                ASSERT_EQ(s[i], (uint32_t)i);
                ASSERT_EQ(netvsp_rxbuf_slot_offset(&rb, s[i]), (uint32_t)i * 1664);
        }
        uint32_t x;
        ASSERT_ERROR(netvsp_rxbuf_alloc(&rb, &x), ENOSPC);
        ASSERT_OK(netvsp_rxbuf_post(&rb, s, 3, &t1));
        ASSERT_OK(netvsp_rxbuf_post(&rb, s + 3, 1, &t2));
        ASSERT_NE(t1, t2);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(&rb), 4u);
        /* a posted slot cannot be posted again or given back */
        ASSERT_ERROR(netvsp_rxbuf_post(&rb, s, 1, &t1), EINVAL);
        ASSERT_ERROR(netvsp_rxbuf_unalloc(&rb, s[0]), EINVAL);
        /* completion frees exactly its batch */
        ASSERT_EQ(netvsp_rxbuf_complete(&rb, t1), 3);
        ASSERT_EQ(netvsp_rxbuf_free_slots(&rb), 3u);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(&rb), 1u);
        /* duplicate, forged (non-head slot, wrong generation, out of range), zero */
        ASSERT_ERROR(netvsp_rxbuf_complete(&rb, t1), ENOENT);
        ASSERT_ERROR(netvsp_rxbuf_complete(&rb, t2 + 1), ENOENT);
        ASSERT_ERROR(netvsp_rxbuf_complete(&rb, t2 ^ (1ull << 40)), ENOENT);
        ASSERT_ERROR(netvsp_rxbuf_complete(&rb, 0), ENOENT);
        ASSERT_ERROR(netvsp_rxbuf_complete(&rb, (t2 & ~0xffffffffull) | 999), ENOENT);
        ASSERT_EQ(rb.bogus_completions, 5u);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(&rb), 1u);
        ASSERT_EQ(netvsp_rxbuf_complete(&rb, t2), 1);
        ASSERT_EQ(netvsp_rxbuf_free_slots(&rb), 4u);
        netvsp_rxbuf_destroy(&rb);
        netvsp_rxbuf_destroy(&rb); /* idempotent */
}

TEST(rxbuf_unpost_and_limits) {
        struct netvsp_rxbuf rb;
        uint32_t a, b;
        uint64_t t;
        ASSERT_OK(netvsp_rxbuf_init(&rb, UINT32_MAX, 68));
        ASSERT_EQ(rb.n_slots, NETVSP_RXBUF_MAX_SLOTS); /* hard limit */
        ASSERT_OK(netvsp_rxbuf_alloc(&rb, &a));
        ASSERT_OK(netvsp_rxbuf_alloc(&rb, &b));
        uint32_t both[2] = { a, b };
        ASSERT_OK(netvsp_rxbuf_post(&rb, both, 2, &t));
        ASSERT_OK(netvsp_rxbuf_unpost(&rb, t)); /* ring was full */
        ASSERT_ERROR(netvsp_rxbuf_complete(&rb, t), ENOENT);
        ASSERT_OK(netvsp_rxbuf_post(&rb, both, 2, &t)); /* still filled, posted again */
        ASSERT_EQ(netvsp_rxbuf_complete(&rb, t), 2);
        netvsp_rxbuf_destroy(&rb);
}

/* A GPA-direct packet as 6.1.192 builds it: ranges with several PFNs. */
static size_t gpa_packet(uint8_t *p, const uint32_t (*ranges)[2], const uint64_t *pfns, unsigned n_ranges,
                         unsigned n_pfns, uint32_t payload) {
        size_t off = 24 + 8 * n_ranges + 8 * n_pfns;
        memset(p, 0, off + 16);
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT,
                                         .offset8 = (uint16_t)(off / 8), .len8 = (uint16_t)((off + 16) / 8),
                                         .flags = 1, .trans_id = 42 };
        memcpy(p, &d, sizeof d);
        put32(p, 20, n_ranges);
        size_t pos = 24;
        unsigned k = 0;
        for (unsigned r = 0; r < n_ranges; r++) {
                put32(p, pos, ranges[r][0]);
                put32(p, pos + 4, ranges[r][1]);
                pos += 8;
                unsigned np = (ranges[r][0] + ranges[r][1] + 4095) / 4096;
                for (unsigned i = 0; i < np; i++, pos += 8)
                        memcpy(p + pos, &pfns[k++], 8);
        }
        put32(p, off, payload);
        return off + 16;
}

TEST(vmbus_gpa_direct_decode) {
        uint8_t p[1024];
        struct netvsp_vmbus_packet d;
        const uint32_t ranges[][2] = { { 100, 4000 }, { 6000, 0 } }; /* header crossing a page, 2-page data */
        const uint64_t pfns[] = { 0x100, 0x101, 0x200, 0x201 };
        size_t n = gpa_packet(p, ranges, pfns, 2, 4, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        ASSERT_OK(netvsp_vmbus_packet_decode(p, n, &d));
        ASSERT_EQ(d.type, VM_PKT_DATA_USING_GPA_DIRECT);
        ASSERT_EQ(d.trans_id, 42u);
        ASSERT_EQ(d.payload_len, 16u);
        ASSERT_EQ(d.n_pages, 4u);
        ASSERT_EQ(d.pages[0].gpa, 0x100000u + 4000);
        ASSERT_EQ(d.pages[0].len, 96u);
        ASSERT_EQ(d.pages[1].gpa, 0x101000u);
        ASSERT_EQ(d.pages[1].len, 4u);
        ASSERT_EQ(d.pages[2].len, 4096u);
        ASSERT_EQ(d.pages[3].len, 6000u - 4096u);
        ASSERT_EQ(d.gpa_bytes, 6100u);
        /* lies: offset8 past len8, len8 past the buffer, PFNs missing, offset >= page */
        uint8_t bad[1024];
        memcpy(bad, p, n);
        bad[2] = 0xff;
        ASSERT_ERROR(netvsp_vmbus_packet_decode(bad, n, &d), EBADMSG);
        ASSERT_ERROR(netvsp_vmbus_packet_decode(p, n - 8, &d), EBADMSG);
        memcpy(bad, p, n);
        put32(bad, 20, 3);
        ASSERT_ERROR(netvsp_vmbus_packet_decode(bad, n, &d), EBADMSG);
        memcpy(bad, p, n);
        put32(bad, 28, 4096);
        ASSERT_ERROR(netvsp_vmbus_packet_decode(bad, n, &d), EBADMSG);
        memcpy(bad, p, n);
        put32(bad, 24, 0xfffff000u); /* a huge range: more PFNs than the limit */
        ASSERT_ERROR(netvsp_vmbus_packet_decode(bad, n, &d), EBADMSG);
        ASSERT_ERROR(netvsp_vmbus_packet_decode(p, 15, &d), EBADMSG);
}

TEST(sg_stream_slice_and_copy) {
        uint8_t a[100], b[50], c[10], out[200];
        struct netvsp_sg sg;
        struct iovec iov[4];
        for (int i = 0; i < 100; i++)
                a[i] = (uint8_t)i;
        for (int i = 0; i < 50; i++)
                b[i] = (uint8_t)(100 + i);
        netvsp_sg_init(&sg);
        ASSERT_OK(netvsp_sg_append(&sg, a, 60));
        ASSERT_OK(netvsp_sg_append(&sg, a + 60, 40)); /* contiguous: merged */
        ASSERT_EQ(sg.n, 1u);
        ASSERT_OK(netvsp_sg_append(&sg, b, 50));
        ASSERT_OK(netvsp_sg_append(&sg, c, 0));
        ASSERT_EQ(sg.total, 150u);
        ASSERT_EQ(netvsp_sg_slice(&sg, 90, 20, iov, 4), 2);
        ASSERT_EQ(iov[0].iov_len, 10u);
        ASSERT_EQ(iov[1].iov_base, (void *)b);
        ASSERT_EQ(iov[1].iov_len, 10u);
        ASSERT_ERROR(netvsp_sg_slice(&sg, 140, 11, iov, 4), ERANGE);
        ASSERT_ERROR(netvsp_sg_slice(&sg, 90, 20, iov, 1), E2BIG);
        ASSERT_EQ(netvsp_sg_copy(&sg, 95, out, 200), 55u);
        ASSERT_EQ(out[0], 95);
        ASSERT_EQ(out[5], 100);
        ASSERT_EQ(out[54], 149);
}

TEST_MAIN();
