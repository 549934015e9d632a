// SPDX-License-Identifier: MIT
/* netvsp_dev against a fake VMBus side playing Linux 6.1 netvsc: the NVSP
 * init sequence (§7.3), the RNDIS probe over GPA-direct packets with
 * responses in transfer-page packets (§7.4, §7.5), receive (§7.6), link
 * indications, flow control when the receive buffer or the host -> guest
 * ring is full, and hostile packets. */
#include "common/config.h"
#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-harness.h"
#include "tests/unit/test-netvsp-frames.h"

static const uint8_t dev_mac[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x07 };

TEST(netvsp_nvsp_init_sequence) {
        struct fake *f = fk_new(NULL, 1u << 20);
        fk_nvsp_init(f);
        ASSERT_EQ(netvsp_dev_version(f->nd), 0x60001u);
        fk_free(f);
}

TEST(netvsp_nvsp_version_fallback) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint64_t tid;
        uint32_t init[3] = { NVSP_MSG_TYPE_INIT, 0x70000, 0x70000 }; /* a future version: refused */
        ASSERT_OK(fk_inband(f, init, 3, true, &tid));
        struct fk_out *o = fk_expect_comp(f, tid, NVSP_MSG_TYPE_INIT_COMPLETE, 40);
        ASSERT_EQ(fk_u32(o->msg, 12), (uint32_t)NVSP_STAT_FAIL);
        init[1] = init[2] = 0x40000; /* the guest tries the next one */
        ASSERT_OK(fk_inband(f, init, 3, true, &tid));
        o = fk_expect_comp(f, tid, NVSP_MSG_TYPE_INIT_COMPLETE, 40);
        ASSERT_EQ(fk_u32(o->msg, 12), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(netvsp_dev_version(f->nd), 0x40000u);
        fk_free(f);
}

TEST(netvsp_buffers_refused) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint64_t tid;
        uint32_t rb[3] = { NVSP_MSG1_TYPE_SEND_RECV_BUF, 1, 0xcafe };
        /* before INIT: not served (no completion either: nothing negotiated) */
        ASSERT_OK(fk_inband(f, rb, 3, true, &tid));
        fk_expect_nothing(f);
        uint32_t init[3] = { NVSP_MSG_TYPE_INIT, 0x60001, 0x60001 };
        ASSERT_OK(fk_inband(f, init, 3, true, &tid));
        fk_next(f);
        rb[2] = 0xbeef; /* the guest checks the pageset id is 0xCAFE: so do we */
        ASSERT_OK(fk_inband(f, rb, 3, true, &tid));
        ASSERT_EQ(fk_u32(fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, 40)->msg, 4),
                  (uint32_t)NVSP_STAT_FAIL);
        rb[1] = 9; /* unknown GPADL */
        rb[2] = 0xcafe;
        ASSERT_OK(fk_inband(f, rb, 3, true, &tid));
        ASSERT_EQ(fk_u32(fk_next(f)->msg, 4), (uint32_t)NVSP_STAT_FAIL);
        rb[1] = 1;
        ASSERT_OK(fk_inband(f, rb, 3, true, &tid));
        ASSERT_EQ(fk_u32(fk_next(f)->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_OK(fk_inband(f, rb, 3, true, &tid)); /* a second one */
        ASSERT_EQ(fk_u32(fk_next(f)->msg, 4), (uint32_t)NVSP_STAT_FAIL);
        ASSERT_OK(fk_inband(f, init, 3, true, &tid)); /* re-INIT under live buffers */
        ASSERT_EQ(fk_u32(fk_next(f)->msg, 12), (uint32_t)NVSP_STAT_FAIL);
        /* revoke: unmapped, no completion */
        uint32_t rv[2] = { NVSP_MSG1_TYPE_REVOKE_RECV_BUF, 0xcafe };
        ASSERT_OK(fk_inband(f, rv, 2, false, NULL));
        fk_expect_nothing(f);
        ASSERT_EQ(f->unmapped, 1); /* refusals map nothing; the revoke unmaps */
        fk_free(f);
}

TEST(netvsp_rndis_linux_probe) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint8_t m[512] = { 0 }, r[RNDIS_MAX_RESPONSE_SIZE];
        uint32_t n;
        fk_nvsp_init(f);
        fk_put32(m, 0, RNDIS_MSG_INIT);
        fk_put32(m, 4, 24);
        fk_put32(m, 8, 1);
        fk_put32(m, 12, 1);
        ASSERT_EQ(fk_rndis(f, m, 24, r), 52u);
        ASSERT_EQ(fk_u32(r, 0), RNDIS_MSG_INIT_C);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        ASSERT_EQ(fk_u32(r, 32), 8u); /* max_pkt_per_msg */

        n = fk_oid_req(m, RNDIS_MSG_QUERY, 2, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0);
        ASSERT_EQ(fk_rndis(f, m, n, r), 28u);
        ASSERT_EQ(fk_u32(r, 24), 1500u);
        n = fk_oid_req(m, RNDIS_MSG_QUERY, 3, RNDIS_OID_802_3_PERMANENT_ADDRESS, NULL, 0);
        ASSERT_EQ(fk_rndis(f, m, n, r), 30u);
        ASSERT_MEMEQ(r + 24, dev_mac, 6);
        n = fk_oid_req(m, RNDIS_MSG_QUERY, 4, RNDIS_OID_GEN_FRIENDLY_NAME, NULL, 0);
        ASSERT_GT(fk_rndis(f, m, n, r), 24u);
        uint8_t caps[156] = { NDIS_OBJECT_TYPE_OFFLOAD, 3, 156, 0 };
        n = fk_oid_req(m, RNDIS_MSG_QUERY, 5, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, caps, 156);
        ASSERT_EQ(fk_rndis(f, m, n, r), 24u + 156u);
        ASSERT_EQ(r[24], NDIS_OBJECT_TYPE_OFFLOAD);
        uint8_t params[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0, 1 };
        n = fk_oid_req(m, RNDIS_MSG_SET, 6, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, params, 28);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        n = fk_oid_req(m, RNDIS_MSG_QUERY, 7, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0);
        ASSERT_EQ(fk_rndis(f, m, n, r), 28u);
        ASSERT_EQ(fk_u32(r, 24), NDIS_MEDIA_STATE_CONNECTED);
        n = fk_oid_req(m, RNDIS_MSG_QUERY, 8, RNDIS_OID_GEN_LINK_SPEED, NULL, 0);
        ASSERT_EQ(fk_rndis(f, m, n, r), 28u);
        n = fk_oid_req(m, RNDIS_MSG_QUERY, 9, RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES, NULL, 0);
        ASSERT_EQ(fk_rndis(f, m, n, r), 24u + 18u);
        ASSERT_EQ(fk_u32(r, 24 + 12), 1u); /* one queue */
        uint32_t filter = 0x0d;
        n = fk_oid_req(m, RNDIS_MSG_SET, 10, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter, 4);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(netvsp_dev_rndis(f->nd)->packet_filter, 0x0du);
        /* every response slot came back */
        ASSERT_EQ(netvsp_rxbuf_free_slots(netvsp_dev_rxbuf(f->nd)), netvsp_dev_rxbuf(f->nd)->n_slots);
        /* HALT: completed, no response */
        uint64_t tid, gpa = FK_SCRATCH_GPA;
        uint32_t hl = 12;
        fk_put32(m, 0, RNDIS_MSG_HALT);
        fk_put32(m, 4, 12);
        memcpy(f->mem + gpa, m, 12);
        ASSERT_OK(fk_gpa_direct(f, 1, NVSP_INVALID_SECTION_INDEX, 0, &gpa, &hl, 1, &tid));
        fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        netvsp_process(f->nd);
        fk_expect_nothing(f);
        ASSERT_EQ(netvsp_dev_rndis(f->nd)->state, RNDIS_STATE_HALTED);
        fk_free(f);
}

TEST(netvsp_rndis_control_in_two_pages) {
        /* 6.1.0: a request crossing a page boundary comes as two ranges */
        struct fake *f = fk_new(NULL, 1u << 20);
        uint8_t m[64];
        uint64_t tid, gpa[2] = { FK_SCRATCH_GPA + 4096 - 10, FK_SCRATCH_GPA + 4096 };
        uint32_t len[2] = { 10, 14 };
        fk_nvsp_init(f);
        memset(m, 0, sizeof m);
        fk_put32(m, 0, RNDIS_MSG_INIT);
        fk_put32(m, 4, 24);
        fk_put32(m, 8, 77);
        fk_put32(m, 12, 1);
        memcpy(f->mem + gpa[0], m, 24);
        ASSERT_OK(fk_gpa_direct(f, 1, NVSP_INVALID_SECTION_INDEX, 0, gpa, len, 2, &tid));
        fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        netvsp_process(f->nd);
        struct fk_out *x = fk_next(f);
        ASSERT_EQ(x->type, VM_PKT_DATA_USING_XFER_PAGES);
        const uint8_t *r = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
        ASSERT_EQ(fk_u32(r, 8), 77u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        fk_free(f);
}

/* Linux's checks on a received PACKET in a range, returning the frame. */
static const uint8_t *check_rx_range(struct fake *f, const struct vmtransfer_page_range *r, uint32_t *len) {
        const uint8_t *m = f->mem + FK_RECV_GPA + r->byte_offset;
        uint32_t msg_len = fk_u32(m, 4), off = fk_u32(m, 8), dl = fk_u32(m, 12);
        ASSERT_EQ(fk_u32(m, 0), RNDIS_MSG_PACKET);
        ASSERT_LE(msg_len, r->byte_count);
        ASSERT_LT(off, r->byte_count - 8);
        ASSERT_LE(dl, r->byte_count - 8 - off);
        *len = dl;
        return m + 8 + off;
}

static void queue_rx(struct fake *f, const uint8_t *frame, size_t len, uint8_t vflags) {
        struct fk_frame *fr = &f->rx[f->n_rx++];
        memset(&fr->vh, 0, sizeof fr->vh);
        fr->vh.flags = vflags;
        memcpy(fr->data, frame, len);
        fr->len = len;
}

TEST(netvsp_rx_frames_to_guest) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint8_t fr[1600];
        const uint8_t host_mac[6] = { 0x02, 0, 0, 0, 0, 1 };
        fk_nvsp_init(f);
        /* before RNDIS is up: read and dropped, nothing reaches the guest */
        size_t n = nt_udp(fr, dev_mac, host_mac, NT_HOST_IP, NT_GUEST_IP, 1, 2, "early", 5, false);
        queue_rx(f, fr, n, 0);
        ASSERT_EQ(netvsp_process(f->nd) & NETVSP_WANT_BACKEND_RX, NETVSP_WANT_BACKEND_RX);
        fk_expect_nothing(f);
        fk_rndis_up(f);

        for (int i = 0; i < 5; i++) {
                uint8_t payload[1400];
                memset(payload, i, sizeof payload);
                n = nt_udp(fr, dev_mac, host_mac, NT_HOST_IP, NT_GUEST_IP, 1, 2, payload, 100 + 300 * (size_t)i, false);
                queue_rx(f, fr, n, i == 0 ? VIRTIO_NET_HDR_F_DATA_VALID : 0);
        }
        const uint8_t other[6] = { 0x02, 9, 9, 9, 9, 9 }; /* not for us: filtered */
        n = nt_udp(fr, other, host_mac, NT_HOST_IP, NT_GUEST_IP, 1, 2, "x", 1, false);
        queue_rx(f, fr, n, 0);
        unsigned w = netvsp_process(f->nd);
        ASSERT_EQ(w, NETVSP_WANT_BACKEND_RX);
        struct fk_out *x = fk_next(f);
        fk_expect_nothing(f);
        ASSERT_EQ(x->type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(fk_u32(x->msg, 4), NVSP_RNDIS_CHANNEL_DATA);
        ASSERT_EQ(x->n, 5u); /* one batch, one range per frame */
        for (uint32_t i = 0; i < 5; i++) {
                uint32_t len;
                const uint8_t *d = check_rx_range(f, &x->r[i], &len);
                ASSERT_EQ(len, 42u + 100 + 300 * i);
                ASSERT_EQ(d[42], (uint8_t)i);
                ASSERT_MEMEQ(d, dev_mac, 6);
        }
        /* the first frame carries "checksum succeeded" */
        const uint8_t *m0 = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
        ASSERT_EQ(fk_u32(m0, 28), 36u); /* per_pkt_info_offset */
        ASSERT_EQ(fk_u32(m0, 44 + 4), (uint32_t)TCPIP_CHKSUM_PKTINFO);
        ASSERT_EQ(fk_u32(m0, 44 + 12), NDIS_CSUM_RX_UDP_SUCCEEDED | NDIS_CSUM_RX_IP_SUCCEEDED);
        const struct netvsp_stats *st = netvsp_dev_stats(f->nd);
        ASSERT_EQ(st->rx_packets, 5u);
        ASSERT_EQ(st->rx_filtered, 2u);
        const struct netvsp_rxbuf *rb = netvsp_dev_rxbuf(f->nd);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(rb), 5u);
        fk_complete_xfer(f, x->tid);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(rb), 0u);
        fk_complete_xfer(f, x->tid); /* again: bogus, ignored */
        ASSERT_EQ(st->bogus_completions, 1u);
        fk_free(f);
}

/* ---- RSC (docs/netvsp.md "Receive segment coalescing") ---- */

static const uint8_t rsc_host_mac[6] = { 0x02, 0, 0, 0, 0, 1 };

/* The guest's NDIS_OFFLOAD_PARAMETERS with only the RSC fields set, as
 * netvsc_set_features sends it for "ethtool -K lro on|off". */
static void set_rsc(struct fake *f, bool on, uint32_t want_status) {
        uint8_t p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0 }, m[128], r[RNDIS_MAX_RESPONSE_SIZE];
        p[22] = p[23] = on ? NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED : NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED;
        uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 77, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, sizeof p);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), want_status);
}

/* A TCP/IPv4 GSO frame as the TAP hands it over with TSO on: the whole
 * super-packet, the TCP checksum field holding the pseudo-header sum. */
static size_t gso_tcp4(uint8_t *fr, size_t payload, uint32_t seq, struct virtio_net_hdr *vh) {
        static uint8_t data[65536];
        for (size_t i = 0; i < payload; i++)
                data[i] = (uint8_t)(i * 7 + seq);
        return nt_tcp_gso4(fr, dev_mac, rsc_host_mac, NT_HOST_IP, NT_GUEST_IP, 5001, 40000, seq, data, payload, vh);
}

static void queue_rx_vh(struct fake *f, const uint8_t *frame, size_t len, const struct virtio_net_hdr *vh) {
        struct fk_frame *fr = &f->rx[f->n_rx++];
        fr->vh = *vh;
        memcpy(fr->data, frame, len);
        fr->len = len;
}

/* Reassembles the RSC fragments of x's ranges [*k, ...) the way netvsc's
 * rsc_add_data does, checking their flags; returns the frame's length. */
static size_t rx_reassemble(struct fake *f, const struct fk_out *x, uint32_t *k, uint8_t *out, uint32_t *csum0) {
        size_t n = 0;
        for (uint32_t i = *k; i < x->n; i++) {
                uint32_t len, csum;
                int frag;
                const uint8_t *d = check_rx_range(f, &x->r[i], &len);
                fk_rx_ppis(f->mem + FK_RECV_GPA + x->r[i].byte_offset, &csum, &frag);
                ASSERT_GE(frag, 0);
                ASSERT_TRUE(frag & RNDIS_PKTINFO_SUBALLOC);
                ASSERT_EQ(!!(frag & RNDIS_PKTINFO_1ST_FRAG), i == *k);
                if (i == *k)
                        *csum0 = csum;
                else
                        ASSERT_EQ(csum, ~0u); /* netvsc takes the first fragment's */
                memcpy(out + n, d, len);
                n += len;
                if (frag & RNDIS_PKTINFO_LAST_FRAG) {
                        *k = i + 1;
                        return n;
                }
        }
        ASSERT_TRUE(false); /* netvsc drops a packet whose last fragment is not in it */
        return 0;
}

TEST(netvsp_rsc_coalesced_frames) {
        struct fake *f = fk_new_be(NULL, 1u << 20, &fk_backend_gso, NULL);
        static uint8_t fr[70000], got[70000];
        struct virtio_net_hdr vh;
        uint8_t small[256];
        fk_nvsp_init(f);
        fk_rndis_up(f);
        netvsp_process(f->nd);
        ASSERT_EQ(f->gso_calls, 0); /* RSC is off until the guest asks */

        set_rsc(f, true, RNDIS_STATUS_SUCCESS);
        netvsp_process(f->nd);
        ASSERT_EQ(f->gso, NETVSP_BE_GSO_TCPV4 | NETVSP_BE_GSO_TCPV6);
        ASSERT_EQ(f->gso_calls, 1);

        size_t n = gso_tcp4(fr, 60000, 1000, &vh);
        queue_rx_vh(f, fr, n, &vh);
        size_t sn = nt_udp(small, dev_mac, rsc_host_mac, NT_HOST_IP, NT_GUEST_IP, 1, 2, "after", 5, false);
        queue_rx(f, small, sn, 0);
        size_t m = gso_tcp4(fr + 0, 1000, 2000, &vh); /* two segments: one slot, a plain packet */
        queue_rx_vh(f, fr, m, &vh);
        ASSERT_EQ(netvsp_process(f->nd), NETVSP_WANT_BACKEND_RX);

        /* the large frame: 39 fragments of one transfer-page packet */
        struct fk_out *x = fk_next(f);
        uint32_t k = 0, csum0 = 0;
        ASSERT_EQ(x->n, 39u); /* batches close before a coalesced frame would not fit */
        size_t got_len = rx_reassemble(f, x, &k, got, &csum0);
        ASSERT_EQ(got_len, n);
        ASSERT_EQ(k, 39u);
        ASSERT_EQ(csum0, NDIS_CSUM_RX_TCP_SUCCEEDED | NDIS_CSUM_RX_IP_SUCCEEDED);
        gso_tcp4(fr, 60000, 1000, &vh);
        ASSERT_MEMEQ(got, fr, 50);                          /* headers up to the checksum */
        ASSERT_MEMEQ(got + 52, fr + 52, n - 52);            /* and all the data */
        ASSERT_EQ(nt_csum(got + 34, n - 34, nt_pseudo4(got + 14, 6, n - 34)), 0); /* completed */
        x = fk_next(f);
        ASSERT_EQ(x->n, 2u); /* the datagram and the small GSO frame, plain */
        uint32_t len, csum;
        int frag;
        check_rx_range(f, &x->r[0], &len);
        ASSERT_EQ(len, sn);
        fk_rx_ppis(f->mem + FK_RECV_GPA + x->r[1].byte_offset, &csum, &frag);
        ASSERT_EQ(frag, -1);
        const uint8_t *d = check_rx_range(f, &x->r[1], &len);
        ASSERT_EQ(len, m);
        ASSERT_EQ(nt_csum(d + 34, m - 34, nt_pseudo4(d + 14, 6, m - 34)), 0);
        fk_expect_nothing(f);
        const struct netvsp_stats *st = netvsp_dev_stats(f->nd);
        ASSERT_EQ(st->rx_coalesced, 1u);
        ASSERT_EQ(st->rx_packets, 3u);
        /* the fragments hold their slots until the guest completes them */
        const struct netvsp_rxbuf *rb = netvsp_dev_rxbuf(f->nd);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(rb), 41u);
        fk_complete_xfer(f, f->out[f->n_seen - 2].tid);
        fk_complete_xfer(f, x->tid);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(rb), 0u);
        ASSERT_EQ(netvsp_rxbuf_free_slots(rb), rb->n_slots); /* no slot kept back */

        /* off again: the backend is told; a GSO frame queued before comes
         * cut short to one slot and is dropped, plain frames still flow */
        set_rsc(f, false, RNDIS_STATUS_SUCCESS);
        netvsp_process(f->nd);
        ASSERT_EQ(f->gso, 0u);
        n = gso_tcp4(fr, 30000, 3000, &vh);
        queue_rx_vh(f, fr, n, &vh);
        queue_rx(f, small, sn, 0);
        netvsp_process(f->nd);
        x = fk_next(f);
        ASSERT_EQ(x->n, 1u);
        check_rx_range(f, &x->r[0], &len);
        ASSERT_EQ(len, sn);
        ASSERT_EQ(st->rx_truncated, 1u);
        fk_complete_xfer(f, x->tid);
        fk_free(f);
}

/* What a guest with RSC on cannot be handed whole is dropped and counted,
 * never cut into a wrong packet: GSO frames it did not ask for (UDP, TCP
 * over the IP version it left off), no partial checksum, headers past the
 * first slot. A receive buffer smaller than the largest frame still
 * delivers what fits. */
TEST(netvsp_rsc_refused_frames) {
        struct fake *f = fk_new_be(NULL, 1u << 20, &fk_backend_gso, NULL);
        static uint8_t fr[70000];
        struct virtio_net_hdr vh;
        fk_nvsp_init(f);
        fk_rndis_up(f);
        set_rsc(f, true, RNDIS_STATUS_SUCCESS);
        size_t n = gso_tcp4(fr, 20000, 1, &vh);
        vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
        queue_rx_vh(f, fr, n, &vh);
        vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; /* an IPv4 frame said to be IPv6 */
        queue_rx_vh(f, fr, n, &vh);
        vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        vh.flags = 0;
        queue_rx_vh(f, fr, n, &vh);
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh.csum_start = 1600; /* past the first slot */
        queue_rx_vh(f, fr, n, &vh);
        vh.csum_start = 34;
        vh.csum_offset = 6;
        queue_rx_vh(f, fr, n, &vh);
        netvsp_process(f->nd);
        fk_expect_nothing(f);
        const struct netvsp_stats *st = netvsp_dev_stats(f->nd);
        ASSERT_EQ(st->rx_truncated + st->rx_dropped, 5u);
        ASSERT_EQ(st->rx_packets, 0u);
        const struct netvsp_rxbuf *rb = netvsp_dev_rxbuf(f->nd);
        ASSERT_EQ(netvsp_rxbuf_free_slots(rb), rb->n_slots);
        fk_free(f);

        /* 30 slots: frames are read into 14 (2 stay for control, and half
         * of the rest may be with the guest) */
        f = fk_new_be(NULL, 30 * 1664, &fk_backend_gso, NULL);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        set_rsc(f, true, RNDIS_STATUS_SUCCESS);
        n = gso_tcp4(fr, 20000, 1, &vh); /* 13 slots: delivered */
        queue_rx_vh(f, fr, n, &vh);
        n = gso_tcp4(fr, 40000, 1, &vh); /* 26: dropped */
        queue_rx_vh(f, fr, n, &vh);
        netvsp_process(f->nd);
        struct fk_out *x = fk_next(f);
        ASSERT_EQ(x->n, 13u);
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_coalesced, 0u + 1u);
        fk_complete_xfer(f, x->tid);
        netvsp_process(f->nd);
        fk_expect_nothing(f);
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_truncated, 1u);
        fk_free(f);

        /* a backend that cannot hand over GSO frames: RSC is not offered */
        f = fk_new(NULL, 1u << 20);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        set_rsc(f, true, RNDIS_STATUS_NOT_SUPPORTED);
        fk_free(f);
}

TEST(netvsp_rx_waits_for_free_slots) {
        /* a receive buffer of 10 slots: 2 stay reserved for control */
        struct fake *f = fk_new(NULL, 10 * 1664);
        uint8_t fr[256];
        const uint8_t host_mac[6] = { 0x02, 0, 0, 0, 0, 1 };
        fk_nvsp_init(f);
        fk_rndis_up(f);
        for (int i = 0; i < 20; i++) {
                size_t n = nt_udp(fr, dev_mac, host_mac, NT_HOST_IP, NT_GUEST_IP, 1, (uint16_t)i, "data", 4, false);
                queue_rx(f, fr, n, 0);
        }
        unsigned w = netvsp_process(f->nd);
        ASSERT_EQ(w & NETVSP_WANT_BACKEND_RX, 0u); /* do not poll the TAP: the guest holds the buffer */
        struct fk_out *x = fk_next(f);
        ASSERT_EQ(x->n, 8u);
        ASSERT_EQ(f->rx_pos, 8); /* nothing read that could not be placed */
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_buffer_full, 1u);
        fk_expect_nothing(f);
        netvsp_process(f->nd);
        fk_expect_nothing(f); /* still full: the same stop, counted once */
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_buffer_full, 1u);
        fk_complete_xfer(f, x->tid);
        netvsp_process(f->nd);
        x = fk_next(f);
        ASSERT_EQ(x->n, 8u);
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_buffer_full, 2u);
        fk_complete_xfer(f, x->tid);
        netvsp_process(f->nd);
        x = fk_next(f);
        ASSERT_EQ(x->n, 4u);
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_buffer_full, 2u); /* the TAP ran dry first */
        ASSERT_EQ(netvsp_dev_stats(f->nd)->rx_packets, 20u); /* none lost */
        /* frames carry their sequence: in order */
        uint32_t len;
        const uint8_t *d = check_rx_range(f, &x->r[3], &len);
        ASSERT_EQ(d[37], 19);
        fk_free(f);
}

TEST(netvsp_ring_full_holds_packets) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint8_t fr[256];
        uint64_t tid;
        const uint8_t host_mac[6] = { 0x02, 0, 0, 0, 0, 1 };
        fk_nvsp_init(f);
        fk_rndis_up(f);
        /* transfer-page packet: slots stay filled, nothing more is read */
        f->ring_full = true;
        size_t n = nt_udp(fr, dev_mac, host_mac, NT_HOST_IP, NT_GUEST_IP, 1, 2, "held", 4, false);
        queue_rx(f, fr, n, 0);
        queue_rx(f, fr, n, 0);
        unsigned w = netvsp_process(f->nd);
        ASSERT_EQ(w, NETVSP_WANT_RING_SPACE);
        fk_expect_nothing(f);
        int read = f->rx_pos;
        ASSERT_EQ(netvsp_process(f->nd), NETVSP_WANT_RING_SPACE);
        ASSERT_EQ(f->rx_pos, read);
        /* a completion owed to the guest is held too, and no packet taken meanwhile */
        uint32_t sub[3] = { NVSP_MSG5_TYPE_SUBCHANNEL, 1, 3 };
        ASSERT_OK(fk_inband(f, sub, 3, true, &tid));
        ASSERT_FALSE(netvsp_can_take_packet(f->nd));
        ASSERT_ERROR(fk_inband(f, sub, 3, true, NULL), EBUSY);
        f->ring_full = false;
        w = netvsp_process(f->nd);
        struct fk_out *c = fk_expect_comp(f, tid, NVSP_MSG5_TYPE_SUBCHANNEL, 40);
        ASSERT_EQ(fk_u32(c->msg, 4), (uint32_t)NVSP_STAT_SUCCESS); /* one queue: none promised */
        ASSERT_EQ(fk_u32(c->msg, 8), 0u);
        struct fk_out *x = fk_next(f);
        ASSERT_EQ(x->type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(x->n, 2u);
        ASSERT_TRUE(netvsp_can_take_packet(f->nd));
        fk_free(f);
}

TEST(netvsp_link_indications) {
        struct fake *f = fk_new(NULL, 1u << 20);
        fk_nvsp_init(f);
        netvsp_set_link(f->nd, false); /* before RNDIS INIT: only the queried state changes */
        netvsp_process(f->nd);
        fk_expect_nothing(f);
        fk_rndis_up(f);
        uint8_t m[64], r[RNDIS_MAX_RESPONSE_SIZE];
        uint32_t n = fk_oid_req(m, RNDIS_MSG_QUERY, 9, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0);
        fk_rndis(f, m, n, r);
        ASSERT_EQ(fk_u32(r, 24), NDIS_MEDIA_STATE_DISCONNECTED);
        netvsp_set_link(f->nd, true);
        netvsp_set_link(f->nd, true); /* no change: one indication */
        netvsp_process(f->nd);
        struct fk_out *x = fk_next(f);
        fk_expect_nothing(f);
        ASSERT_EQ(fk_u32(x->msg, 4), NVSP_RNDIS_CHANNEL_CONTROL);
        const uint8_t *ind = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
        ASSERT_EQ(fk_u32(ind, 0), RNDIS_MSG_INDICATE);
        ASSERT_EQ(fk_u32(ind, 4), 20u);
        ASSERT_EQ(fk_u32(ind, 8), RNDIS_STATUS_MEDIA_CONNECT);
        fk_complete_xfer(f, x->tid);
        netvsp_set_link(f->nd, false);
        netvsp_process(f->nd);
        x = fk_next(f);
        ind = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
        ASSERT_EQ(fk_u32(ind, 8), RNDIS_STATUS_MEDIA_DISCONNECT);
        fk_free(f);
}

TEST(netvsp_backend_removed) {
        struct fake *f = fk_new(NULL, 1u << 20);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        f->be_gone = true;
        ASSERT_EQ(netvsp_process(f->nd), 0u); /* nothing to poll any more */
        struct fk_out *x = fk_next(f);
        const uint8_t *ind = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
        ASSERT_EQ(fk_u32(ind, 8), RNDIS_STATUS_MEDIA_DISCONNECT);
        ASSERT_FALSE(netvsp_dev_rndis(f->nd)->link_up);
        fk_free(f);
}

TEST(netvsp_hostile_packets) {
        struct fake *f = fk_new(NULL, 1u << 20);
        uint8_t p[64] = { 0 };
        fk_nvsp_init(f);
        /* truncated descriptors, offset8 beyond len8, unknown packet types */
        ASSERT_OK(netvsp_handle_packet(f->nd, p, 8));
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 9, .len8 = 2 };
        memcpy(p, &d, sizeof d);
        ASSERT_OK(netvsp_handle_packet(f->nd, p, 64));
        d = (struct vmpacket_descriptor){ .type = 0x42, .offset8 = 2, .len8 = 3 };
        memcpy(p, &d, sizeof d);
        ASSERT_OK(netvsp_handle_packet(f->nd, p, 24));
        /* an unknown NVSP type with a completion requested gets none (none is defined) */
        uint32_t junk[2] = { 0x77, 0 };
        ASSERT_OK(fk_inband(f, junk, 2, true, NULL));
        /* a SEND_RNDIS_PKT too short to read still gets its completion */
        uint8_t q[16 + 8] = { 0 };
        d = (struct vmpacket_descriptor){ .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 3,
                                          .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = 555 };
        memcpy(q, &d, sizeof d);
        fk_put32(q, 16, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        ASSERT_OK(netvsp_handle_packet(f->nd, q, sizeof q));
        struct fk_out *c = fk_expect_comp(f, 555, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(fk_u32(c->msg, 4), (uint32_t)NVSP_STAT_INVALID_RNDIS_PKT);
        fk_expect_nothing(f);
        ASSERT_GE(netvsp_dev_stats(f->nd)->bad_packets, 5u);
        fk_free(f);
}

TEST(netvsp_config_from_vm_nic) {
        struct vm_nic_config nic = { .mac = { 0x00, 0x15, 0x5d, 1, 2, 3 }, .mtu = 9000, .link_up = false,
                                     .bridge = "br0" };
        struct netvsp_config c;
        struct tap_config tc;
        ASSERT_OK(netvsp_config_from_vm_nic(&nic, &c, &tc));
        ASSERT_MEMEQ(c.rndis.mac, nic.mac, 6);
        ASSERT_EQ(c.rndis.mtu, 9000u);
        ASSERT_FALSE(c.rndis.link_up);
        ASSERT_TRUE(c.rndis.caps.lso_ip4); /* the honoured defaults */
        ASSERT_TRUE(tc.create);
        ASSERT_STREQ(tc.bridge, "br0");
        ASSERT_EQ(tc.mtu, 9000u);
        ASSERT_EQ(c.queues, 1u); /* unset: one channel */
        nic.queues = 4;
        ASSERT_OK(netvsp_config_from_vm_nic(&nic, &c, &tc));
        ASSERT_EQ(c.queues, 4u);
        snprintf(nic.tap, sizeof nic.tap, "tap7");
        ASSERT_OK(netvsp_config_from_vm_nic(&nic, &c, &tc));
        ASSERT_FALSE(tc.create);
        ASSERT_STREQ(tc.name, "tap7");
        nic.mac[0] = 1; /* multicast */
        ASSERT_ERROR(netvsp_config_from_vm_nic(&nic, &c, &tc), EINVAL);
}

TEST_MAIN();
