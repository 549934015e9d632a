// SPDX-License-Identifier: MIT
/* netvsp's saved state (docs/netvsp.md "Saved state", docs/saved-state.md
 * "NVCH"), the device (the fake host of test-netvsp-harness.h): a restore
 * writes no ring (the completion of a send stalled on a full TAP is
 * queued, posted at the first round), the completion queue holds
 * everything a state may carry and the decoder refuses what it cannot
 * hold, the receive-slot checks are the pure decoder's (range, overlap, a
 * 32-bit wrap of the slot count), the RNDIS state (filter, offloads, RSS)
 * comes back, a refused restore applies nothing and leaves a device the
 * guest can use, the RARP announce frame. The provider's save and restore
 * into a new server are test-netvsp-state-provider.c's. */
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "common/rss-steer.h"
#include "common/macro.h"
#include "tests/lib/vmstate-file.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "tests/unit/test-netvsp-guest.h"
#include "tests/unit/test-netvsp-harness.h"
#include "tests/unit/test-netvsp-sim.h"
#include "tests/unit/test-netvsp-state.h"

static const uint8_t fk_mac[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x07 };

/* ---- the device, against the fake host -------------------------------- */

static struct fake *dev_up(void) {
        struct fake *f = fk_new(NULL, 1u << 20);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        return f;
}

static int save_fake(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return netvsp_dev_save(opaque, fk_mac, w, 7);
}

/* The device's NVCH section, written and decoded as a restore reads it
 * (heap: about 1 MiB). */
static struct netvsp_saved *dev_saved(struct fake *f) {
        struct vmstate_section secs[4];
        uint8_t *map;
        size_t len;
        ASSERT_EQ(vmstate_test_save(save_fake, f->nd, &map, &len, secs, ARRAY_SIZE(secs)), 1);
        struct netvsp_saved *st = malloc(sizeof *st);
        ASSERT_NOT_NULL(st);
        char err[256] = "";
        int r = netvsp_saved_decode(&secs[0], st, err, sizeof err);
        if (r < 0)
                ASSERT_STREQ(err, "");
        munmap(map, len);
        return st;
}

/* st through the writer and the pure decoder again; 0 or -EINVAL (err). */
static int redecode(const struct netvsp_saved *st, char *err, size_t errlen) {
        uint8_t *buf;
        size_t len;
        ASSERT_OK(vmstate_test_encode(&netvsp_saved_desc, 7, st, &buf, &len));
        struct vmstate_section secs[2];
        struct vmstate_header h;
        ASSERT_EQ(vmstate_index(buf, len, &h, secs, 2, err, errlen), 1);
        struct netvsp_saved *back = malloc(sizeof *back);
        ASSERT_NOT_NULL(back);
        err[0] = 0;
        int r = netvsp_saved_decode(&secs[0], back, err, errlen);
        free(back);
        free(buf);
        return r;
}

static uint8_t *dev_section(struct fake *f, uint32_t i) {
        return f->mem + FK_SEND_GPA + (size_t)i * 6144;
}

/* A SEND_RNDIS_PKT of one broadcast frame from section i. */
static uint64_t dev_send(struct fake *f, uint32_t i) {
        uint8_t fr[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x15, 0x5d, 0, 0, 7, 0x88, 0xb5 };
        uint32_t n = fk_rndis_packet(dev_section(f, i), fr, sizeof fr, NULL, 0, 0);
        uint64_t tid;
        ASSERT_OK(fk_gpa_direct(f, 0, i, n, NULL, NULL, 0, &tid));
        return tid;
}

/* A device whose send is stalled on a full backend (its completion owed). */
static struct fake *dev_stalled(uint64_t *tid) {
        struct fake *f = dev_up();
        f->tx_budget = 0;
        *tid = dev_send(f, 0);
        netvsp_process(f->nd);
        fk_expect_nothing(f);
        ASSERT_FALSE(netvsp_can_take_packet(f->nd));
        return f;
}

/* (1) The completion of a send stalled on a full TAP is owed after the
 * restore: queued, not written into the ring by the restore (which runs
 * before the device is resumed); the first round posts it, once. */
TEST(restore_queues_the_stalled_send_completion) {
        uint64_t tid;
        struct fake *f = dev_stalled(&tid);
        struct netvsp_saved *st = dev_saved(f);
        ASSERT_TRUE(st->stall_comp);
        ASSERT_EQ(st->stall_trans_id, tid);
        struct fake *g = fk_new(NULL, 1u << 20);
        char err[256] = "";
        ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err));
        ASSERT_EQ(g->n_out, 0); /* the restore sent nothing */
        ASSERT_FALSE(netvsp_can_take_packet(g->nd));
        struct netvsp_dev_state ds;
        netvsp_dev_get_state(g->nd, &ds);
        ASSERT_EQ(ds.n_comps, 1u);
        ASSERT_EQ(ds.comps[0].trans_id, tid);
        netvsp_process(g->nd);
        struct fk_out *c = fk_expect_comp(g, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(fk_u32(c->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
        netvsp_process(g->nd);
        fk_expect_nothing(g); /* once */
        ASSERT_TRUE(netvsp_can_take_packet(g->nd));
        ASSERT_EQ(g->n_tx, 0); /* the stalled frame is dropped, not sent by the restore */
        free(st);
        fk_free(f);
        fk_free(g);
}

/* (2) The queue holds NETVSP_COMP_QUEUE completions: a state with 4 owed
 * completions plus the stalled send's would lose one, so the decoder
 * refuses it; up to the queue's size every completion comes, in order. */
TEST(decoder_refuses_more_completions_than_the_queue_holds) {
        uint64_t tid;
        struct fake *f = dev_stalled(&tid);
        struct netvsp_saved *st = dev_saved(f);
        char err[256];
        put_comps(st, NETVSP_COMP_QUEUE, 100);
        ASSERT_EQ(redecode(st, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "queued messages"));
        for (unsigned n = NETVSP_COMP_QUEUE - 1;; n = NETVSP_COMP_QUEUE) {
                put_comps(st, n, 100);
                st->stall_comp = n < NETVSP_COMP_QUEUE;
                ASSERT_OK(redecode(st, err, sizeof err));
                struct fake *g = fk_new(NULL, 1u << 20);
                ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err));
                ASSERT_EQ(g->n_out, 0);
                netvsp_process(g->nd);
                for (unsigned i = 0; i < n; i++)
                        fk_expect_comp(g, 100 + i, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
                if (st->stall_comp)
                        fk_expect_comp(g, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
                fk_expect_nothing(g);
                fk_free(g);
                if (n == NETVSP_COMP_QUEUE)
                        break;
        }
        free(st);
        fk_free(f);
}

static void dev_frames(struct fake *f, int n) {
        for (int i = 0; i < n; i++) {
                struct fk_frame *fr = &f->rx[f->n_rx++];
                memset(fr, 0, sizeof *fr);
                memset(fr->data, 0xff, 6);
                memcpy(fr->data + 6, (const uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
                fr->data[12] = 0x88, fr->data[13] = 0xb5;
                fr->data[14] = (uint8_t)f->n_rx;
                fr->len = 60;
        }
}

/* A device holding receive slots: 3 frames in a transfer-page packet the
 * guest has not completed, 3 more filled while the ring was full (a batch
 * not yet announced). */
static struct fake *dev_holding_slots(uint64_t *tid) {
        struct fake *f = dev_up();
        dev_frames(f, 3);
        netvsp_process(f->nd);
        struct fk_out *o = fk_next(f);
        ASSERT_EQ(o->type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(o->n, 3u);
        *tid = o->tid;
        fk_expect_nothing(f);
        f->ring_full = true;
        dev_frames(f, 3);
        netvsp_process(f->nd);
        fk_expect_nothing(f);
        f->ring_full = false;
        return f;
}

/* (4) The receive slots the guest holds come back as they were: the same
 * owners, the unannounced batch announced in the first round, the held
 * packet's completion frees its slots (once: a second is bogus). */
TEST(restore_keeps_the_receive_slots_the_guest_holds) {
        uint64_t tid;
        struct fake *f = dev_holding_slots(&tid);
        struct netvsp_saved *st = dev_saved(f);
        ASSERT_EQ(st->n_posted, 1u);
        ASSERT_EQ(st->posted_tid[0], tid);
        ASSERT_EQ(st->posted_len[0], 3u);
        ASSERT_EQ(st->rx_batch_n, 3u);
        struct fake *g = fk_new(NULL, 1u << 20);
        char err[256] = "";
        ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err));
        ASSERT_EQ(g->n_out, 0);
        uint32_t n = netvsp_dev_rxbuf(f->nd)->n_slots;
        uint64_t *a = calloc(n, 8), *b = calloc(n, 8);
        ASSERT_EQ(netvsp_dev_get_rx_slots(f->nd, a, n), n);
        ASSERT_EQ(netvsp_dev_get_rx_slots(g->nd, b, n), n);
        ASSERT_MEMEQ(a, b, (size_t)n * 8);
        netvsp_process(g->nd);
        struct fk_out *o = fk_next(g);
        ASSERT_EQ(o->type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(o->n, 3u);
        uint32_t slot = netvsp_dev_rxbuf(g->nd)->slot_size;
        for (uint32_t i = 0; i < o->n; i++) /* not into a slot of the held packet */
                ASSERT_EQ(a[o->r[i].byte_offset / slot], 0u);
        fk_expect_nothing(g);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(netvsp_dev_rxbuf(g->nd)), 6u);
        fk_complete_xfer(g, tid);
        ASSERT_EQ(netvsp_rxbuf_posted_slots(netvsp_dev_rxbuf(g->nd)), 3u);
        ASSERT_EQ(netvsp_dev_stats(g->nd)->bogus_completions, 0u);
        fk_complete_xfer(g, tid);
        ASSERT_EQ(netvsp_dev_stats(g->nd)->bogus_completions, 1u);
        free(a);
        free(b);
        free(st);
        fk_free(f);
        fk_free(g);
}

/* (5) What netvsp_rxbuf_restore relies on is checked by the pure decoder
 * before anything is mapped: slots in range, none used twice (posted or
 * filled), ids that name their batch's first slot, and a slot count that
 * adds up in 64 bits (65536 batches of 65536 slots are 2^32: 0 in 32). */
TEST(decoder_checks_the_receive_slots) {
        uint64_t tid;
        struct fake *f = dev_holding_slots(&tid);
        struct netvsp_saved *st = dev_saved(f), *c = malloc(sizeof *c);
        ASSERT_NOT_NULL(c);
        char err[256];
        memcpy(c, st, sizeof *c);
        ASSERT_OK(redecode(c, err, sizeof err));
#define REFUSED(change, what)                                          \
        do {                                                           \
                memcpy(c, st, sizeof *c);                              \
                change;                                                \
                ASSERT_EQ(redecode(c, err, sizeof err), -EINVAL);      \
                ASSERT_NOT_NULL(strstr(err, what));                    \
        } while (0)
        REFUSED(c->posted_slots[1] = c->recv_slots, "posted receive slots");
        REFUSED(c->posted_slots[2] = c->posted_slots[1], "posted receive slots");
        REFUSED(c->posted_tid[0] += 1, "posted receive slots");
        REFUSED(c->posted_tid[0] &= 0xffffffffu, "posted receive slots");
        REFUSED(c->posted_len[0] = 2, "batch counts");
        REFUSED(c->rx_batch_slot[0] = c->posted_slots[1], "rx_batch");
        REFUSED(c->rx_batch_slot[1] = c->rx_batch_slot[0], "rx_batch");
        REFUSED(c->rx_batch_slot[2] = c->recv_slots, "rx_batch");
        REFUSED(c->rx_batch_bytes[0] = c->recv_slot_size + 1, "rx_batch");
        REFUSED(c->recv_buf = false, "without a buffer");
        /* vRSS: the channel's range within the buffer, the split, the index */
        REFUSED(c->recv_first = c->recv_total, "recv_total");
        REFUSED(c->recv_total = NETVSP_RXBUF_MAX_SLOTS + 1, "recv_total");
        REFUSED(c->rx_split = NETVSP_MAX_QUEUES + 1, "recv_total");
        REFUSED(c->sub_index = 1, "sub_index"); /* split 1: no sub-channel */
        REFUSED(c->subs_offered = 1, "subs_offered");
        REFUSED((c->rx_split = 2, c->subs_offered = 2), "subs_offered");
        REFUSED((c->rx_split = 2, c->sub_index = 1, c->subs_offered = 1), "sub_index");
        REFUSED((c->n_posted = c->n_posted_len = NETVSP_RXBUF_MAX_SLOTS, c->n_posted_slots = 0,
                 c->rx_batch_n = c->rx_batch_bytes_n = 0), "batch counts");
        for (uint32_t i = 0; i < NETVSP_RXBUF_MAX_SLOTS; i++) { /* the wrap, with every id well formed */
                st->posted_tid[i] = 1ull << 32;
                st->posted_len[i] = NETVSP_RXBUF_MAX_SLOTS;
        }
        REFUSED((c->n_posted = c->n_posted_len = NETVSP_RXBUF_MAX_SLOTS, c->n_posted_slots = 0,
                 c->rx_batch_n = c->rx_batch_bytes_n = 0), "batch counts");
#undef REFUSED
        free(c);
        free(st);
        fk_free(f);
}

/* RNDIS INIT'ed device with offloads on and RSS set. */
static void dev_rndis_settings(struct fake *f) {
        uint8_t m[1024], r[RNDIS_MAX_RESPONSE_SIZE];
        uint8_t p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28, 0, 1, 4, 4, 4, 4, 0, 0, 2, 2 };
        uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 50, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        uint8_t rss[40 + 4 * 128 + 40];
        struct ndis_recv_scale_param h = {
                .hdr = { NDIS_OBJECT_TYPE_RSS_PARAMETERS, 2, 40 },
                .hashinfo = NDIS_HASH_FUNC_TOEPLITZ | 0x100u | 0x200u /* IPv4, TCP over IPv4 */,
                .indirect_tabsize = 4 * 128,
                .indirect_taboffset = 40,
                .hashkey_size = 40,
                .hashkey_offset = 40 + 4 * 128,
        };
        memset(rss, 0, sizeof rss);
        memcpy(rss, &h, sizeof h);
        for (uint32_t i = 0; i < 40; i++)
                rss[40 + 4 * 128 + i] = (uint8_t)(3 * i + 1);
        n = fk_oid_req(m, RNDIS_MSG_SET, 51, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, rss, sizeof rss);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        uint32_t filter = 0x2f;
        n = fk_oid_req(m, RNDIS_MSG_SET, 52, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter, 4);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
}

/* (6) The RNDIS state comes back: filter, offloads, RSS (key, table, hash
 * info), the MAC and link the guest was told; and the device answers. */
TEST(restore_keeps_the_rndis_state) {
        struct fake *f = dev_up();
        dev_rndis_settings(f);
        const struct rndis_device *a = netvsp_dev_rndis(f->nd);
        ASSERT_TRUE(a->rss_enabled);
        ASSERT_TRUE(a->offload.tx_csum_tcp4);
        struct netvsp_saved *st = dev_saved(f);
        struct fake *g = fk_new(NULL, 1u << 20);
        char err[256] = "";
        ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err));
        const struct rndis_device *b = netvsp_dev_rndis(g->nd);
        ASSERT_EQ(b->state, a->state);
        ASSERT_MEMEQ(b->current_mac, a->current_mac, 6);
        ASSERT_EQ(b->link_up, a->link_up);
        ASSERT_EQ(b->packet_filter, 0x2fu);
        ASSERT_MEMEQ(&b->offload, &a->offload, sizeof a->offload);
        ASSERT_TRUE(b->rss_enabled);
        ASSERT_EQ(b->rss_hashinfo, a->rss_hashinfo);
        ASSERT_EQ(b->rss_table_len, 128u);
        ASSERT_MEMEQ(b->rss_key, a->rss_key, sizeof a->rss_key);
        ASSERT_MEMEQ(b->rss_table, a->rss_table, sizeof a->rss_table);
        ASSERT_EQ(netvsp_dev_version(g->nd), netvsp_dev_version(f->nd));
        uint8_t m[64], r[RNDIS_MAX_RESPONSE_SIZE];
        uint32_t n = fk_oid_req(m, RNDIS_MSG_QUERY, 60, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, NULL, 0);
        ASSERT_EQ(fk_rndis(g, m, n, r), 28u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        ASSERT_EQ(fk_u32(r, 24), 0x2fu);
        free(st);
        fk_free(f);
        fk_free(g);
}

/* (6b) RSC the guest turned on comes back, and the new backend (a fresh
 * TAP opened without) is asked for GSO frames before the first frame is
 * read; where the NIC cannot coalesce (no set_rx_gso), it stays off. */
TEST(restore_keeps_rsc) {
        struct fake *f = fk_new_be(NULL, 1u << 20, &fk_backend_gso, NULL);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        uint8_t m[64], r[RNDIS_MAX_RESPONSE_SIZE], p[28] = { NDIS_OBJECT_TYPE_DEFAULT, 3, 28 };
        p[22] = p[23] = NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED;
        uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 50, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        struct netvsp_saved *st = dev_saved(f);
        ASSERT_EQ(st->offload & 0xc0u, 0xc0u);
        struct fake *g = fk_new_be(NULL, 1u << 20, &fk_backend_gso, NULL);
        char err[256] = "";
        ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err));
        ASSERT_TRUE(netvsp_dev_rndis(g->nd)->offload.rsc_ip4);
        ASSERT_TRUE(netvsp_dev_rndis(g->nd)->offload.rsc_ip6);
        netvsp_process(g->nd);
        ASSERT_EQ(g->gso, NETVSP_BE_GSO_TCPV4 | NETVSP_BE_GSO_TCPV6);
        struct fake *h = fk_new(NULL, 1u << 20);
        ASSERT_OK(netvsp_dev_restore(h->nd, st, err, sizeof err));
        ASSERT_FALSE(netvsp_dev_rndis(h->nd)->offload.rsc_ip4);
        ASSERT_FALSE(netvsp_dev_rndis(h->nd)->offload.rsc_ip6);
        free(st);
        fk_free(f);
        fk_free(g);
        fk_free(h);
}

/* (7) A restore that fails applies nothing: no buffer stays mapped, no
 * version is set, nothing is sent, and the guest can still bring the
 * device up from scratch (or a good state be restored). */
TEST(refused_restore_applies_nothing) {
        uint64_t tid;
        struct fake *f = dev_holding_slots(&tid);
        struct netvsp_saved *st = dev_saved(f), *c = malloc(sizeof *c);
        struct fake *g = fk_new(NULL, 1u << 20);
        char err[256];
        memcpy(c, st, sizeof *c);
        c->perm_mac[5] ^= 1;
        ASSERT_EQ(netvsp_dev_restore(g->nd, c, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "another MAC"));
        memcpy(c, st, sizeof *c);
        c->send_gpadl = 99;
        ASSERT_EQ(netvsp_dev_restore(g->nd, c, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "send buffer GPADL 99 is gone"));
        ASSERT_EQ(g->unmapped, 1); /* the receive buffer was mapped, and given back */
        memcpy(c, st, sizeof *c);
        c->recv_slots++;
        ASSERT_EQ(netvsp_dev_restore(g->nd, c, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "does not hold"));
        ASSERT_EQ(g->unmapped, 2);
        struct netvsp_dev_state ds;
        netvsp_dev_get_state(g->nd, &ds);
        ASSERT_EQ(ds.nvsp_version, 0u);
        ASSERT_FALSE(ds.recv_buf);
        ASSERT_FALSE(ds.send_buf);
        ASSERT_EQ(ds.n_comps, 0u);
        ASSERT_EQ(g->n_out, 0);
        netvsp_process(g->nd);
        ASSERT_EQ(g->n_out, 0);
        ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err)); /* the good one still applies */
        struct fake *h = fk_new(NULL, 1u << 20);
        c->send_gpadl = 99;
        c->recv_slots--;
        ASSERT_EQ(netvsp_dev_restore(h->nd, c, err, sizeof err), -EINVAL);
        fk_nvsp_init(h); /* the guest brings it up as new */
        fk_rndis_up(h);
        free(c);
        free(st);
        fk_free(f);
        fk_free(g);
        fk_free(h);
}

/* (8) The announce frame: a RARP from the guest's MAC to everyone (QEMU's
 * announce-self frame), only once the guest uses the NIC and the link is
 * up. After a restore the guest is told the link state once more. */
TEST(announce_is_a_rarp_from_the_guest_mac) {
        struct fake *f = fk_new(NULL, 1u << 20);
        ASSERT_EQ(netvsp_announce(f->nd), -ENOTCONN);
        fk_nvsp_init(f);
        fk_rndis_up(f);
        ASSERT_OK(netvsp_announce(f->nd));
        ASSERT_EQ(f->n_tx, 1);
        const struct fk_frame *fr = &f->tx[0];
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t arp[10] = { 0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03 };
        static const uint8_t zero[60] = { 0 };
        ASSERT_EQ(fr->len, (size_t)NETVSP_RARP_LEN);
        ASSERT_MEMEQ(fr->data, bcast, 6);
        ASSERT_MEMEQ(fr->data + 6, fk_mac, 6);
        ASSERT_MEMEQ(fr->data + 12, arp, sizeof arp);
        ASSERT_MEMEQ(fr->data + 22, fk_mac, 6);
        ASSERT_MEMEQ(fr->data + 28, zero, 4);
        ASSERT_MEMEQ(fr->data + 32, fk_mac, 6);
        ASSERT_MEMEQ(fr->data + 38, zero, 60 - 38);
        ASSERT_MEMEQ(&fr->vh, zero, sizeof fr->vh);
        ASSERT_EQ(netvsp_dev_stats(f->nd)->announces, 1u);
        f->tx_budget = 0;
        ASSERT_EQ(netvsp_announce(f->nd), -EAGAIN); /* a full TAP: skipped */
        f->tx_budget = -1;
        netvsp_set_link(f->nd, false);
        ASSERT_EQ(netvsp_announce(f->nd), -ENOTCONN);
        ASSERT_EQ(f->n_tx, 1);
        fk_free(f);
}

/* The link state reported after a restore, in the first round: the
 * backend's now (a change while saved) or, unchanged, once more. */
static uint32_t indication_after_restore(bool link_now) {
        struct fake *f = dev_up();
        struct netvsp_saved *st = dev_saved(f);
        ASSERT_TRUE(st->link_up);
        struct fake *g = fk_new(NULL, 1u << 20);
        char err[256] = "";
        ASSERT_OK(netvsp_dev_restore(g->nd, st, err, sizeof err));
        netvsp_dev_resume_restored(g->nd, link_now);
        ASSERT_EQ(g->n_out, 0);
        netvsp_process(g->nd);
        struct fk_out *o = fk_next(g);
        ASSERT_EQ(o->type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(o->n, 1u);
        const uint8_t *m = g->mem + FK_RECV_GPA + o->r[0].byte_offset;
        ASSERT_EQ(fk_u32(m, 0), RNDIS_MSG_INDICATE);
        fk_expect_nothing(g);
        ASSERT_EQ(netvsp_dev_rndis(g->nd)->link_up, link_now);
        uint32_t status = fk_u32(m, 8);
        free(st);
        fk_free(f);
        fk_free(g);
        return status;
}

TEST(restore_reports_the_link_at_resume) {
        ASSERT_EQ(indication_after_restore(false), RNDIS_STATUS_MEDIA_DISCONNECT);
        ASSERT_EQ(indication_after_restore(true), RNDIS_STATUS_MEDIA_CONNECT);
}

TEST_MAIN();
