// SPDX-License-Identifier: MIT
/* The host-side ring library (vmbus/ring.h) against the simulated guest's
 * independent ring code: data through both directions with wrap-around,
 * batching (one publish, one signal), interrupt_mask and pending_send_sz on
 * both sides, the guest's max packet size, packet parsers, and corrupted
 * indices and descriptors, which must break the pair and nothing else. */
#include <sys/eventfd.h>

#include "common/macro.h"
#include "common/test.h"
#include "vmbus/ring.h"
#include "vmbustest/sim.h"

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_sim_channel ch; /* guest view */
        struct vmbus_host_mapping in_map, out_map;
        struct vmbus_ring_pair rp;
        unsigned host_signals; /* host -> guest */
        int doorbell;          /* guest -> host */
};

static void count_signal(void *opaque) {
        ((struct fx *)opaque)->host_signals++;
}

static void fx_setup(struct fx *f, unsigned pages, uint32_t guest_max) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(1u << 20, 1, &f->sim));
        ASSERT_OK(vmbus_sim_channel_alloc(f->sim, pages, &f->ch));
        f->ch.connection_id = 0x2001;
        ASSERT_OK(vmbus_sim_ops.map_pages(f->sim, f->ch.out.pfns, pages, VMBUS_MAP_WRAP, 1, &f->in_map));
        ASSERT_OK(vmbus_sim_ops.map_pages(f->sim, f->ch.in.pfns, pages, VMBUS_MAP_WRAP, 1, &f->out_map));
        ASSERT_OK(vmbus_ring_pair_init(&f->rp, f->in_map.base, pages * 4096u, f->out_map.base, pages * 4096u,
                                       guest_max, count_signal, f));
        f->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ASSERT_OK(vmbus_sim_ops.register_event(f->sim, f->ch.connection_id, f->doorbell));
}

static void fx_free(struct fx *f) {
        vmbus_sim_ops.unmap_pages(f->sim, &f->in_map);
        vmbus_sim_ops.unmap_pages(f->sim, &f->out_map);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        close(f->doorbell);
        vmbus_sim_free(f->sim);
}

static uint64_t doorbells(struct fx *f) {
        eventfd_t v = 0;
        return eventfd_read(f->doorbell, &v) == 0 ? v : 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(seed * 31 + i * 7);
}

TEST(ring_roundtrip_with_wrap) {
        struct fx f;
        fx_setup(&f, 2, 4096); /* 4 KiB data area: wraps every few packets */
        uint8_t out[1000], in[2048], back[2048];
        for (unsigned i = 0; i < 200; i++) {
                size_t len = 1 + (i * 37) % sizeof out;
                fill(out, len, i);
                ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 1000 + i, out, len));
                struct vmbus_packet p;
                ASSERT_EQ(vmbus_ring_recv(&f.rp, in, sizeof in, &p), (int)ALIGN_UP(16 + len, 8));
                ASSERT_EQ(p.type, VM_PKT_DATA_INBAND);
                ASSERT_EQ(p.trans_id, 1000ull + i);
                ASSERT_GE(vmbus_packet_payload_len(&p), (uint32_t)len);
                ASSERT_MEMEQ(vmbus_packet_payload(&p), out, len);
                /* and back: host -> guest */
                ASSERT_OK(vmbus_ring_send_inband(&f.rp, 2000 + i, true, out, len));
                struct vmbus_packet g;
                ASSERT_GT(vmbus_sim_ring_read(f.sim, &f.ch, back, sizeof back, &g), 0);
                ASSERT_EQ(g.type, VM_PKT_DATA_INBAND);
                ASSERT_EQ(g.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
                ASSERT_EQ(g.trans_id, 2000ull + i);
                ASSERT_MEMEQ(vmbus_packet_payload(&g), out, len);
        }
        ASSERT_EQ(f.rp.stats.packets_in, 200u);
        ASSERT_EQ(f.rp.stats.packets_out, 200u);
        ASSERT_EQ(vmbus_ring_broken(&f.rp), 0);
        fx_free(&f);
}

TEST(ring_trailer_and_indices) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        ASSERT_OK(vmbus_ring_send_completion(&f.rp, 7, "abc", 3));
        /* descriptor 16 + payload 3 -> len 24, trailer = start offset << 32 */
        ASSERT_EQ(f.ch.in.hdr->write_index, 32u);
        uint64_t trailer;
        memcpy(&trailer, (uint8_t *)f.out_map.base + 4096 + 24, 8);
        ASSERT_EQ(trailer, 0ull);
        ASSERT_OK(vmbus_ring_send_completion(&f.rp, 8, "abc", 3));
        memcpy(&trailer, (uint8_t *)f.out_map.base + 4096 + 32 + 24, 8);
        ASSERT_EQ(trailer, 32ull << 32);
        fx_free(&f);
}

TEST(ring_batch_publishes_and_signals_once) {
        struct fx f;
        fx_setup(&f, 4, 4096);
        uint8_t buf[64] = { 1 };
        vmbus_ring_send_begin(&f.rp);
        for (int i = 0; i < 10; i++)
                ASSERT_OK(vmbus_ring_send_inband(&f.rp, (uint64_t)i, false, buf, sizeof buf));
        ASSERT_EQ(f.ch.in.hdr->write_index, 0u); /* not yet visible */
        ASSERT_EQ(vmbus_ring_send_end(&f.rp), 1);
        ASSERT_EQ(f.host_signals, 1u);
        ASSERT_EQ(f.ch.in.hdr->write_index, 10u * (16 + 64 + 8));
        /* Ring not empty: the guest will find more data itself, no signal. */
        ASSERT_OK(vmbus_ring_send_inband(&f.rp, 11, false, buf, sizeof buf));
        ASSERT_EQ(f.host_signals, 1u);
        /* Guest drains; the next packet is empty -> non-empty again. */
        struct vmbus_packet p;
        uint8_t in[256];
        for (int i = 0; i < 11; i++)
                ASSERT_GT(vmbus_sim_ring_read(f.sim, &f.ch, in, sizeof in, &p), 0);
        ASSERT_EQ(vmbus_sim_ring_read(f.sim, &f.ch, in, sizeof in, &p), 0);
        ASSERT_OK(vmbus_ring_send_inband(&f.rp, 12, false, buf, sizeof buf));
        ASSERT_EQ(f.host_signals, 2u);
        fx_free(&f);
}

TEST(ring_guest_interrupt_mask_suppresses_signal) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        f.ch.in.hdr->interrupt_mask = 1; /* the guest is polling (§5.6) */
        ASSERT_OK(vmbus_ring_send_inband(&f.rp, 1, false, "x", 1));
        ASSERT_EQ(f.host_signals, 0u);
        fx_free(&f);
}

/* vmbus_ring_kick: the signal a set mask withheld goes once the guest
 * cleared it, only while it has the packet unread, and only once. */
TEST(ring_kick_after_the_guest_unmasks) {
        struct fx f;
        uint8_t buf[64];
        struct vmbus_packet p;
        fx_setup(&f, 2, 4096);
        ASSERT_EQ(vmbus_ring_kick(&f.rp), 0); /* nothing unread */
        f.ch.in.hdr->interrupt_mask = 1;
        ASSERT_OK(vmbus_ring_send_inband(&f.rp, 1, false, "x", 1));
        ASSERT_EQ(f.host_signals, 0u);
        ASSERT_EQ(vmbus_ring_kick(&f.rp), -EAGAIN); /* still masked */
        ASSERT_EQ(f.host_signals, 0u);
        f.ch.in.hdr->interrupt_mask = 0;
        ASSERT_EQ(vmbus_ring_kick(&f.rp), 1);
        ASSERT_EQ(f.host_signals, 1u);
        ASSERT_GT(vmbus_sim_ring_read(f.sim, &f.ch, buf, sizeof buf, &p), 0);
        ASSERT_EQ(vmbus_ring_kick(&f.rp), 0); /* read: nothing owed */
        ASSERT_EQ(f.host_signals, 1u);
        fx_free(&f);
}

TEST(ring_host_mask_suppresses_doorbells) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        uint8_t in[64];
        struct vmbus_packet p;
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 1, "a", 1));
        ASSERT_EQ(doorbells(&f), 1u); /* empty -> non-empty, unmasked */
        vmbus_ring_mask(&f.rp);
        ASSERT_EQ(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 24);
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 2, "b", 1));
        ASSERT_EQ(doorbells(&f), 0u); /* masked: the guest does not signal */
        ASSERT_TRUE(vmbus_ring_unmask(&f.rp)); /* and unmask finds the packet */
        ASSERT_EQ(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 24);
        ASSERT_FALSE(vmbus_ring_unmask(&f.rp));
        ASSERT_EQ(f.ch.out.hdr->interrupt_mask, 0u);
        fx_free(&f);
}

TEST(ring_full_sets_pending_send_sz_and_guest_wakes_host) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        uint8_t buf[1000] = { 0 }, in[2048];
        int sent = 0, r;
        while ((r = vmbus_ring_send_inband(&f.rp, (uint64_t)sent, false, buf, sizeof buf)) == 0)
                sent++;
        ASSERT_ERROR(r, EAGAIN);
        ASSERT_EQ(sent, 3); /* a 4th would fill 4096 exactly: strictly more free is required */
        ASSERT_EQ(f.ch.in.hdr->pending_send_sz, 1024u);
        ASSERT_EQ(f.rp.stats.send_full, 1u);
        ASSERT_EQ(doorbells(&f), 0u);
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_read(f.sim, &f.ch, in, sizeof in, &p), 0);
        ASSERT_EQ(doorbells(&f), 1u); /* free space crossed pending_send_sz */
        ASSERT_OK(vmbus_ring_send_inband(&f.rp, 99, false, buf, sizeof buf));
        ASSERT_EQ(f.ch.in.hdr->pending_send_sz, 0u);
        fx_free(&f);
}

TEST(ring_recv_signals_blocked_guest) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        uint8_t buf[1000] = { 0 }, in[2048];
        for (int i = 0; i < 3; i++)
                ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 1, buf, sizeof buf));
        /* A guest producer that wants 2048 free bytes (Linux never sets it on
         * its outbound ring, §5.5, but the host honours it). */
        f.ch.out.hdr->pending_send_sz = 2048;
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_ring_recv_begin(&f.rp), 3072);
        ASSERT_GT(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 0);
        ASSERT_EQ(vmbus_ring_recv_end(&f.rp), 0); /* 2048 free: not past 2048 */
        ASSERT_EQ(vmbus_ring_recv_begin(&f.rp), 2048);
        ASSERT_GT(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 0);
        ASSERT_EQ(vmbus_ring_recv_end(&f.rp), 1); /* 3072 free: crossed */
        ASSERT_EQ(f.host_signals, 1u);
        ASSERT_EQ(f.ch.out.hdr->read_index, 2048u);
        ASSERT_EQ(vmbus_ring_recv_begin(&f.rp), 1024);
        ASSERT_GT(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 0);
        ASSERT_EQ(vmbus_ring_recv_end(&f.rp), 0); /* was above the mark already */
        fx_free(&f);
}

TEST(ring_never_exceeds_guest_max_packet) {
        struct fx f;
        fx_setup(&f, 2, 80); /* storvsc: 16 + 64 (§5.4) */
        uint8_t pkt[65] = { 0 };
        ASSERT_OK(vmbus_ring_send_completion(&f.rp, 1, pkt, 64));
        ASSERT_ERROR(vmbus_ring_send_completion(&f.rp, 2, pkt, 65), EMSGSIZE);
        ASSERT_EQ(f.rp.stats.send_too_big, 1u);
        ASSERT_EQ(f.ch.in.hdr->write_index, 88u); /* only the first */
        fx_free(&f);
}

TEST(ring_oversized_for_caller_is_skipped) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        uint8_t big[512] = { 0 }, in[128];
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 1, big, sizeof big));
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 2, "ok", 2));
        struct vmbus_packet p;
        ASSERT_ERROR(vmbus_ring_recv(&f.rp, in, sizeof in, &p), EMSGSIZE);
        ASSERT_EQ(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 24);
        ASSERT_EQ(p.trans_id, 2ull);
        ASSERT_EQ(vmbus_ring_broken(&f.rp), 0);
        fx_free(&f);
}

TEST(ring_init_rejects_bad_indices) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        struct vmbus_ring_pair rp;
        f.ch.out.hdr->write_index = 4096; /* == data size: out of range */
        ASSERT_ERROR(vmbus_ring_pair_init(&rp, f.in_map.base, 8192, f.out_map.base, 8192, 4096, count_signal, &f),
                     EINVAL);
        f.ch.out.hdr->write_index = 4;    /* unaligned */
        ASSERT_ERROR(vmbus_ring_pair_init(&rp, f.in_map.base, 8192, f.out_map.base, 8192, 4096, count_signal, &f),
                     EINVAL);
        f.ch.out.hdr->write_index = 0;
        ASSERT_ERROR(vmbus_ring_pair_init(&rp, f.in_map.base, 4096, f.out_map.base, 8192, 4096, count_signal, &f),
                     EINVAL);
        ASSERT_ERROR(vmbus_ring_pair_init(&rp, f.in_map.base, 8192, f.out_map.base, 8192, 16, count_signal, &f),
                     EINVAL);
        fx_free(&f);
}

/* Each corruption breaks the pair for good, on both sides. */
static void expect_broken(struct fx *f) {
        uint8_t in[4096];
        struct vmbus_packet p;
        ASSERT_ERROR(vmbus_ring_recv(&f->rp, in, sizeof in, &p), EBADMSG);
        ASSERT_ERROR(vmbus_ring_broken(&f->rp), EBADMSG);
        ASSERT_ERROR(vmbus_ring_recv(&f->rp, in, sizeof in, &p), EBADMSG);
        ASSERT_ERROR(vmbus_ring_send_inband(&f->rp, 1, false, "x", 1), EBADMSG);
}

TEST(ring_corrupt_write_index) {
        uint32_t bad[] = { 4096, 4100, 12, 0xfffffff8u };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct fx f;
                fx_setup(&f, 2, 4096);
                f.ch.out.hdr->write_index = bad[i];
                expect_broken(&f);
                fx_free(&f);
        }
}

TEST(ring_corrupt_descriptors) {
        struct vmpacket_descriptor bad[] = {
                { .type = 6, .offset8 = 2, .len8 = 200 },  /* len8 beyond the data written */
                { .type = 6, .offset8 = 4, .len8 = 3 },    /* offset8 > len8 */
                { .type = 6, .offset8 = 1, .len8 = 3 },    /* offset8 inside the descriptor */
                { .type = 6, .offset8 = 2, .len8 = 1 },    /* shorter than a descriptor */
                { .type = 6, .offset8 = 2, .len8 = 0x1ff }, /* beyond the ring */
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct fx f;
                fx_setup(&f, 2, 4096);
                uint8_t pkt[24] = { 0 };
                memcpy(pkt, &bad[i], sizeof bad[i]);
                ASSERT_OK(vmbus_sim_ring_write_raw(f.sim, &f.ch, pkt, sizeof pkt, true));
                expect_broken(&f);
                fx_free(&f);
        }
}

TEST(ring_partial_packet_breaks) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        f.ch.out.hdr->write_index = 8; /* fewer bytes than a descriptor + trailer */
        expect_broken(&f);
        fx_free(&f);
}

TEST(ring_corrupt_guest_read_index_breaks_send) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        f.ch.in.hdr->read_index = 5000;
        ASSERT_ERROR(vmbus_ring_send_inband(&f.rp, 1, false, "x", 1), EBADMSG);
        ASSERT_ERROR(vmbus_ring_broken(&f.rp), EBADMSG);
        fx_free(&f);
}

TEST(ring_own_index_overwrite_is_ignored) {
        struct fx f;
        fx_setup(&f, 2, 4096);
        uint8_t in[64];
        struct vmbus_packet p;
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch, VM_PKT_DATA_INBAND, 0, 1, "a", 1));
        /* The guest scribbles over the index we own: we keep our copy. */
        f.ch.out.hdr->read_index = 0xdeadbee8u;
        ASSERT_EQ(vmbus_ring_recv(&f.rp, in, sizeof in, &p), 24);
        ASSERT_EQ(f.ch.out.hdr->read_index, 32u);
        ASSERT_EQ(vmbus_ring_broken(&f.rp), 0);
        fx_free(&f);
}

static size_t gpa_direct_packet(uint8_t *pkt, uint32_t n_ranges, const uint32_t *counts, const uint32_t *offs,
                                uint64_t first_pfn) {
        size_t pos = 24;
        uint32_t pfn_i = 0;
        for (uint32_t i = 0; i < n_ranges; i++) {
                memcpy(pkt + pos, &counts[i], 4);
                memcpy(pkt + pos + 4, &offs[i], 4);
                pos += 8;
                uint32_t n = (offs[i] + counts[i] + 4095) / 4096;
                for (uint32_t k = 0; k < n; k++, pos += 8) {
                        uint64_t pfn = first_pfn + pfn_i++;
                        memcpy(pkt + pos, &pfn, 8);
                }
        }
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = (uint16_t)(pos / 8),
                                         .len8 = (uint16_t)(pos / 8 + 8), .trans_id = 5 };
        memcpy(pkt, &d, sizeof d);
        memset(pkt + 16, 0, 4);
        memcpy(pkt + 20, &n_ranges, 4);
        memset(pkt + pos, 0xab, 64);
        return pos + 64;
}

TEST(ring_gpa_direct_parse) {
        struct fx f;
        fx_setup(&f, 4, 4096);
        uint8_t pkt[2048], in[4096];
        uint32_t counts[] = { 100, 8192, 4096 }, offs[] = { 4000, 0, 512 };
        size_t len = gpa_direct_packet(pkt, 3, counts, offs, 16);
        ASSERT_OK(vmbus_sim_ring_write_raw(f.sim, &f.ch, pkt, len, true));
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_ring_recv(&f.rp, in, sizeof in, &p), (int)len);
        struct vmbus_gpa_range_view v[4];
        ASSERT_EQ(vmbus_packet_parse_gpa_direct(&p, v, 4), 3);
        ASSERT_EQ(v[0].n_pfns, 2u); /* 4000 + 100 crosses a page */
        ASSERT_EQ(v[1].n_pfns, 2u);
        ASSERT_EQ(v[2].n_pfns, 2u);
        ASSERT_EQ(vmbus_gpa_range_pfn(&v[0], 1), 17ull);
        ASSERT_EQ(vmbus_gpa_range_pfn(&v[2], 0), 20ull);
        ASSERT_EQ(vmbus_packet_payload_len(&p), 64u);
        ASSERT_ERROR(vmbus_packet_parse_gpa_direct(&p, v, 2), E2BIG); /* caller's limit */
        fx_free(&f);
}

static int parse_modified(uint8_t *pkt, size_t len, size_t at, const void *val, size_t vlen) {
        memcpy(pkt + at, val, vlen);
        struct vmpacket_descriptor d;
        memcpy(&d, pkt, sizeof d);
        struct vmbus_packet p = { .type = d.type, .len = d.len8 * 8u, .offset = d.offset8 * 8u, .data = pkt };
        struct vmbus_gpa_range_view v[VMBUS_GPA_DIRECT_MAX_RANGES];
        return vmbus_packet_parse_gpa_direct(&p, v, ARRAY_SIZE(v));
}

TEST(ring_gpa_direct_malformed) {
        uint8_t pkt[2048];
        uint32_t counts[] = { 100 }, offs[] = { 0 };
        size_t len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        uint32_t v32;
        uint64_t v64;
        ASSERT_EQ(parse_modified(pkt, len, 0, pkt, 0), 1);
        ASSERT_ERROR(parse_modified(pkt, len, 20, (v32 = 0, &v32), 4), EBADMSG);          /* no ranges */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 20, (v32 = 2, &v32), 4), EBADMSG);          /* past offset8 */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 20, (v32 = 65, &v32), 4), E2BIG);           /* > 64 ranges */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 28, (v32 = 4096, &v32), 4), EBADMSG);       /* byte_offset */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 24, (v32 = 0, &v32), 4), EBADMSG);          /* byte_count 0 */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 24, (v32 = 8000, &v32), 4), EBADMSG);       /* PFNs missing */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 24, (v32 = 0x7fffffff, &v32), 4), E2BIG);   /* too many PFNs */
        len = gpa_direct_packet(pkt, 1, counts, offs, 16);
        ASSERT_ERROR(parse_modified(pkt, len, 32, (v64 = 1ull << 52, &v64), 8), EBADMSG); /* PFN */
        struct vmbus_packet inband = { .type = VM_PKT_DATA_INBAND, .len = 24, .offset = 16, .data = pkt };
        struct vmbus_gpa_range_view v[1];
        ASSERT_ERROR(vmbus_packet_parse_gpa_direct(&inband, v, 1), EBADMSG);
}

TEST(ring_xfer_pages_roundtrip) {
        struct fx f;
        fx_setup(&f, 2, 4624); /* netvsc (§5.4) */
        struct vmtransfer_page_range r[3] = { { 100, 0 }, { 200, 6144 }, { 1514, 12288 } };
        ASSERT_OK(vmbus_ring_send_xfer_pages(&f.rp, 77, 0xcafe, r, 3));
        uint8_t in[256];
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_sim_ring_read(f.sim, &f.ch, in, sizeof in, &p), 48);
        ASSERT_EQ(p.type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(p.offset, 48u); /* §5.3: offset8 covers 24 + 8 * range_cnt */
        uint16_t set;
        const struct vmtransfer_page_range *got;
        ASSERT_EQ(vmbus_packet_parse_xfer_pages(&p, &set, &got), 3);
        ASSERT_EQ(set, 0xcafe);
        ASSERT_EQ(got[2].byte_count, 1514u);
        ASSERT_EQ(got[2].byte_offset, 12288u);
        p.offset = 40;
        ASSERT_ERROR(vmbus_packet_parse_xfer_pages(&p, &set, &got), EBADMSG);
        ASSERT_ERROR(vmbus_ring_send_xfer_pages(&f.rp, 1, 1, r, 0), EINVAL);
        fx_free(&f);
}

TEST(ring_packet_space) {
        ASSERT_EQ(vmbus_ring_packet_space(0, 0), 24u);
        ASSERT_EQ(vmbus_ring_packet_space(0, 1), 32u);
        ASSERT_EQ(vmbus_ring_packet_space(8, 64), 96u);
        ASSERT_EQ(vmbus_ring_packet_space(3, 0), 32u);
}

TEST_MAIN();
