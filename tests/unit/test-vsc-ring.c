// SPDX-License-Identifier: MIT
/* Ring buffers, guest side (§5): packet layout, wrap, the never-full rule,
 * and rejection of every out-of-range index or descriptor a host can write. */
#include "common/test.h"
#include "vsc/vsc.h"

#define DATA 256u /* a tiny data area, so wrap-around happens quickly */

struct ring_mem {
        struct hv_ring_buffer hdr;
        uint8_t data[DATA];
};

static struct vsc_ring ring_new(struct ring_mem *m) {
        struct vsc_ring r;
        memset(m, 0, sizeof *m);
        ASSERT_OK(vsc_ring_init(&r, m, DATA));
        return r;
}

/* The host as producer: one packet at the host's write index. */
static void host_put(struct ring_mem *m, uint16_t type, uint16_t off8, uint16_t len8, const void *body, size_t n) {
        uint32_t w = m->hdr.write_index;
        struct vmpacket_descriptor d = { .type = type, .offset8 = off8, .len8 = len8, .trans_id = 42 };
        uint8_t pkt[DATA];
        memset(pkt, 0, sizeof pkt);
        memcpy(pkt, &d, sizeof d);
        memcpy(pkt + sizeof d, body, n);
        uint64_t trailer = (uint64_t)w << 32;
        memcpy(pkt + (size_t)len8 * 8, &trailer, 8);
        for (size_t i = 0; i < (size_t)len8 * 8 + 8; i++)
                m->data[(w + i) % DATA] = pkt[i];
        m->hdr.write_index = (uint32_t)((w + (size_t)len8 * 8 + 8) % DATA);
}

TEST(init_checks_size) {
        struct ring_mem m;
        struct vsc_ring r;
        ASSERT_ERROR(vsc_ring_init(&r, &m, 12), EINVAL);
        ASSERT_ERROR(vsc_ring_init(&r, &m, 100), EINVAL); /* not a multiple of 8 */
        ASSERT_ERROR(vsc_ring_init(&r, NULL, DATA), EINVAL);
}

TEST(write_layout_and_trailer) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        bool signal;
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 1, 0x1234, NULL, 0, "hello", 5, &signal));
        ASSERT_TRUE(signal); /* empty -> non-empty, interrupt_mask 0 */
        struct vmpacket_descriptor d;
        memcpy(&d, m.data, sizeof d);
        ASSERT_EQ(d.type, VM_PKT_DATA_INBAND);
        ASSERT_EQ(d.offset8, 2u);
        ASSERT_EQ(d.len8, 3u); /* 16 + 5 -> 24 */
        ASSERT_EQ(d.flags, 1u);
        ASSERT_EQ(d.trans_id, 0x1234ull);
        ASSERT_MEMEQ(m.data + 16, "hello\0\0\0", 8); /* zero padding */
        uint64_t trailer;
        memcpy(&trailer, m.data + 24, 8);
        ASSERT_EQ(trailer, 0ull); /* old write index 0 << 32 */
        ASSERT_EQ(m.hdr.write_index, 32u);
        /* ring not empty before the next packet: no signal */
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, "x", 1, &signal));
        ASSERT_FALSE(signal);
        memcpy(&trailer, m.data + 56, 8);
        ASSERT_EQ(trailer, 32ull << 32);
}

TEST(write_respects_interrupt_mask) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        bool signal = true;
        m.hdr.interrupt_mask = 1; /* the host polls */
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, "x", 1, &signal));
        ASSERT_FALSE(signal);
}

TEST(write_never_fills_the_ring) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t body[DATA];
        bool signal;
        uint32_t space;
        memset(body, 7, sizeof body);
        ASSERT_OK(vsc_ring_write_space(&r, &space));
        ASSERT_EQ(space, DATA - 8);
        /* 16 + 224 + 8 trailer = 248 = DATA - 8: fits (strictly less than 256 free) */
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, body, 224, &signal));
        ASSERT_OK(vsc_ring_write_space(&r, &space));
        ASSERT_EQ(space, 0u);
        ASSERT_ERROR(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, body, 0, &signal), EAGAIN);
        struct ring_mem m2;
        struct vsc_ring r2 = ring_new(&m2);
        /* 16 + 232 + 8 = 256 = DATA: would fill it completely (§5.2) */
        ASSERT_ERROR(vsc_ring_write(&r2, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, body, 232, &signal), EAGAIN);
}

TEST(write_wraps) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t body[64], out[128];
        struct vsc_packet p;
        bool signal;
        struct vsc_ring rd = r; /* a reader on the same memory, playing the host */
        for (unsigned i = 0; i < 20; i++) {
                memset(body, (int)i, sizeof body);
                ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, i, NULL, 0, body, 40, &signal));
                /* consume as the host would: our reader shares the indices */
                rd.own = m.hdr.read_index;
                uint32_t tmp = m.hdr.write_index;
                ASSERT_OK(vsc_ring_read(&rd, out, sizeof out, &p, NULL));
                ASSERT_EQ(p.trans_id, (uint64_t)i);
                ASSERT_EQ(p.len, 56u);
                ASSERT_MEMEQ(out + 16, body, 40);
                ASSERT_EQ(m.hdr.write_index, tmp);
        }
}

TEST(read_roundtrip_and_empty) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t out[64];
        struct vsc_packet p;
        uint32_t space_before;
        ASSERT_ERROR(vsc_ring_read(&r, out, sizeof out, &p, NULL), EAGAIN);
        host_put(&m, VM_PKT_COMP, 2, 3, "abcdefgh", 8);
        ASSERT_EQ(vsc_ring_has_data(&r), 1);
        ASSERT_OK(vsc_ring_read(&r, out, sizeof out, &p, &space_before));
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.len, 24u);
        ASSERT_EQ(p.payload_off, 16u);
        ASSERT_EQ(p.trans_id, 42ull);
        ASSERT_MEMEQ(out + 16, "abcdefgh", 8);
        ASSERT_EQ(space_before, DATA - 32);
        ASSERT_EQ(m.hdr.read_index, 32u);
        ASSERT_EQ(vsc_ring_has_data(&r), 0);
}

TEST(read_small_buffer_consumes_nothing) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t out[64];
        struct vsc_packet p;
        host_put(&m, VM_PKT_DATA_INBAND, 2, 6, "0123456789abcdef0123456789abcdef", 32);
        ASSERT_ERROR(vsc_ring_read(&r, out, 40, &p, NULL), EMSGSIZE);
        ASSERT_EQ(p.len, 48u);
        ASSERT_EQ(m.hdr.read_index, 0u);
        ASSERT_OK(vsc_ring_read(&r, out, sizeof out, &p, NULL));
}

static void expect_bad(uint16_t off8, uint16_t len8) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t out[DATA];
        struct vsc_packet p;
        host_put(&m, VM_PKT_DATA_INBAND, 2, 3, "abcdefgh", 8);
        struct vmpacket_descriptor d;
        memcpy(&d, m.data, sizeof d);
        d.offset8 = off8;
        d.len8 = len8;
        memcpy(m.data, &d, sizeof d);
        ASSERT_ERROR(vsc_ring_read(&r, out, sizeof out, &p, NULL), EPROTO);
        ASSERT_EQ(m.hdr.read_index, 0u); /* nothing consumed */
}

TEST(read_rejects_bad_descriptors) {
        expect_bad(2, 1);      /* len8 smaller than the descriptor */
        expect_bad(1, 3);      /* offset8 inside the descriptor */
        expect_bad(4, 3);      /* offset8 past len8 */
        expect_bad(2, 4);      /* len8 beyond what the host published */
        expect_bad(2, 0xffff); /* len8 far beyond the ring */
        expect_bad(0, 0);
}

TEST(read_rejects_bad_host_index) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t out[64];
        struct vsc_packet p;
        m.hdr.write_index = DATA; /* out of range */
        ASSERT_ERROR(vsc_ring_read(&r, out, sizeof out, &p, NULL), EPROTO);
        ASSERT_ERROR(vsc_ring_has_data(&r), EPROTO);
        m.hdr.write_index = 13; /* not 8-aligned */
        ASSERT_ERROR(vsc_ring_read(&r, out, sizeof out, &p, NULL), EPROTO);
        m.hdr.write_index = 8; /* fewer bytes than a descriptor + trailer */
        ASSERT_ERROR(vsc_ring_read(&r, out, sizeof out, &p, NULL), EPROTO);
}

TEST(write_rejects_bad_host_read_index) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        bool signal;
        uint32_t space;
        m.hdr.read_index = 0xfffffff8u;
        ASSERT_ERROR(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, "x", 1, &signal), EPROTO);
        ASSERT_ERROR(vsc_ring_write_space(&r, &space), EPROTO);
        m.hdr.read_index = 4;
        ASSERT_ERROR(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, "x", 1, &signal), EPROTO);
}

TEST(host_cannot_move_our_index) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        bool signal;
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, "x", 1, &signal));
        m.hdr.write_index = 200; /* a host scribbling on the index we own */
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_INBAND, 0, 2, NULL, 0, "y", 1, &signal));
        ASSERT_EQ(m.hdr.write_index, 64u); /* continues from our own copy */
}

TEST(extra_descriptor_bytes) {
        struct ring_mem m;
        struct vsc_ring r = ring_new(&m);
        uint8_t extra[16] = { 1, 2, 3 };
        bool signal;
        ASSERT_ERROR(vsc_ring_write(&r, VM_PKT_DATA_USING_GPA_DIRECT, 0, 1, extra, 12, "x", 1, &signal), EINVAL);
        ASSERT_OK(vsc_ring_write(&r, VM_PKT_DATA_USING_GPA_DIRECT, 0, 1, extra, 16, "x", 1, &signal));
        struct vmpacket_descriptor d;
        memcpy(&d, m.data, sizeof d);
        ASSERT_EQ(d.offset8, 4u);
        ASSERT_EQ(d.len8, 5u);
        ASSERT_EQ(m.data[16], 1u);
        ASSERT_EQ(m.data[32], (uint8_t)'x');
}

TEST_MAIN();
