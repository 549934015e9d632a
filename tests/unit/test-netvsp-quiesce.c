// SPDX-License-Identifier: MIT
/* netvsp's quiesce and resume (docs/vm-state.md "What consistent means")
 * against the simulated guest and a real TAP in a private network
 * namespace, while a host thread blasts UDP at the guest and a guest thread
 * sends frames and completes what it receives: after quiesce no byte of
 * guest RAM changes; after resume every send is completed exactly once and
 * the NIC carries frames; quiesce/resume 100 times under load; a
 * completion waiting for ring space is kept across a quiesce; a link change
 * while quiesced reaches the guest after resume; the state snapshot; no
 * channel, a channel opened while quiesced (starts parked) and close while
 * quiesced. Skips without root (unshare, TAP). */
#include <stdatomic.h>

#include "common/log.h"
#include "common/macro.h"
#include "tests/unit/test-netvsp-guest.h"
#include "tests/unit/test-netvsp-sim.h"

static void env_up(struct ns_env *e, const char *tap) {
        struct netvsp_nic_config nc;
        memset(e, 0, sizeof *e);
        ns_enter_netns();
        ns_nic_config(e, &nc, tap);
        ns_start(e, &nc);
        ns_host_setup(e);
        ns_open(e);
        ns_nvsp_init(e);
        ns_rndis_up(e);
}

/* ---- guest RAM, page by page ---- */

#define RAM_PAGES (NS_RAM / 4096u)

static void ram_hash(struct ns_env *e, uint64_t *h) {
        const uint64_t *w = (const uint64_t *)vmbus_sim_ram(e->sim);
        for (size_t pg = 0; pg < RAM_PAGES; pg++) {
                uint64_t x = 0xcbf29ce484222325ull;
                for (size_t i = 0; i < 512; i++)
                        x = (x ^ w[pg * 512 + i]) * 0x100000001b3ull;
                h[pg] = x;
        }
}

enum { RAM_OUT_RING, RAM_IN_RING, RAM_RECV_BUF, RAM_OTHER };
static const char *const ram_kind[] = { "guest->host ring", "host->guest ring", "receive buffer", "other" };

static int ram_what(const struct ns_env *e, uint64_t pfn) {
        for (unsigned i = 0; i < e->ch.out.n_pages; i++)
                if (e->ch.out.pfns[i] == pfn)
                        return RAM_OUT_RING;
        for (unsigned i = 0; i < e->ch.in.n_pages; i++)
                if (e->ch.in.pfns[i] == pfn)
                        return RAM_IN_RING;
        if (pfn >= e->recv_pfn && pfn < e->recv_pfn + NS_RECV_PAGES)
                return RAM_RECV_BUF;
        return RAM_OTHER;
}

/* Hashes guest RAM, waits ms, hashes again: the same, page by page. */
static void assert_ram_frozen(struct ns_env *e, int ms) {
        uint64_t *a = calloc(RAM_PAGES, 8), *b = calloc(RAM_PAGES, 8);
        ASSERT_NOT_NULL(a);
        ASSERT_NOT_NULL(b);
        ram_hash(e, a);
        usleep((useconds_t)ms * 1000);
        ram_hash(e, b);
        unsigned changed[4] = { 0 };
        for (size_t pg = 0; pg < RAM_PAGES; pg++)
                if (a[pg] != b[pg])
                        changed[ram_what(e, pg)]++;
        free(a);
        free(b);
        for (int k = 0; k < 4; k++)
                if (changed[k])
                        fprintf(stderr, "%u pages of the %s changed while quiesced\n", changed[k], ram_kind[k]);
        ASSERT_EQ(changed[0] + changed[1] + changed[2] + changed[3], 0u);
}

static bool ring_has_data(const struct vmbus_sim_ring *r) {
        return __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE) !=
               __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE);
}

static uint64_t quiesce_timed(struct ns_env *e) {
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        ASSERT_OK(netvsp_nic_quiesce(e->nic));
        return now_us(CLOCK_MONOTONIC) - t0;
}

/* Quiesces at a moment when receive slots are free (the guest and the
 * blaster race for them: a few tries), so a receive that ran on would
 * write guest RAM. Returns the time the quiesce took. */
static uint64_t quiesce_with_free_slots(struct ns_env *e, struct netvsp_nic_state *st) {
        for (int i = 0; i < 200; i++) {
                uint64_t us = quiesce_timed(e);
                netvsp_nic_get_state(e->nic, st);
                ASSERT_TRUE(st->channel_open);
                if (st->dev.recv_posted_slots + NETVSP_RX_RESERVED_SLOTS < st->dev.recv_slots)
                        return us;
                netvsp_nic_resume(e->nic);
                usleep(2000);
        }
        ASSERT_TRUE(false);
        return 0;
}

/* (a) While the guest sends and the host sends frames at it: after
 * quiesce no byte of guest RAM changes for 50 ms, though the guest's ring
 * holds packets, receive slots are free and frames keep arriving at the
 * TAP. The blaster floods until traffic runs, then sends one frame every
 * 100 µs, so the TAP's queue neither fills nor runs dry: a receive that
 * went on while quiesced would always find a frame and a slot. */
TEST(quiesce_freezes_guest_ram_under_traffic) {
        struct ns_env e;
        struct guest g;
        struct ns_blaster b;
        struct netvsp_nic_state st;
        env_up(&e, "nvq0");
        guest_start(&e, &g);
        ns_blast_start(&e, &b);
        guest_run(&g);
        wait_for_traffic(&g, 2000);
        atomic_store(&b.gap_us, 100);
        usleep(20000);
        uint64_t us = quiesce_with_free_slots(&e, &st);
        guest_park(&g);
        /* the guest went on until its vCPU parked: its ring holds packets */
        guest_poll(&g);
        guest_send(&g);
        ASSERT_TRUE(ring_has_data(&e.ch.out));
        struct netvsp_nic_stats s0, s1;
        netvsp_nic_get_stats(e.nic, &s0);
        unsigned long blasted = atomic_load(&b.sent);
        assert_ram_frozen(&e, 50);
        ASSERT_GT(atomic_load(&b.sent), blasted + 10); /* the host kept sending */
        netvsp_nic_get_stats(e.nic, &s1);
        ASSERT_EQ(s1.batches, s0.batches);
        ASSERT_EQ(s1.dev.rx_packets, s0.dev.rx_packets);
        fprintf(stderr, "quiesce took %llu us (%u of %u receive slots with the guest)\n", (unsigned long long)us,
                st.dev.recv_posted_slots, st.dev.recv_slots);
        ASSERT_LT(us, 1000000u);
        netvsp_nic_resume(e.nic);
        ns_blast_stop(&b);
        guest_finish(&g);
        ns_stop(&e);
}

/* (b) After resume every send issued before the quiesce is completed
 * exactly once, received frames flow again, and ARP goes round. */
TEST(resume_completes_every_send_once) {
        struct ns_env e;
        struct guest g;
        struct ns_blaster b;
        env_up(&e, "nvq1");
        guest_start(&e, &g);
        ns_blast_start(&e, &b);
        guest_run(&g);
        wait_for_traffic(&g, 2000);
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        guest_park(&g);
        uint32_t sent = g.sent;
        uint64_t xfers = g.xfers;
        ASSERT_GT(sent, 0u);
        netvsp_nic_resume(e.nic);
        guest_finish(&g); /* exactly once each */
        ASSERT_EQ(g.sent, sent);
        ASSERT_GT(g.xfers, xfers); /* frames the TAP held came through */
        ns_blast_stop(&b);
        ns_drain(&e);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

/* (c) Quiesce and resume 100 times under load: each quiesce is prompt and
 * runs nothing until resume, traffic moves in between, and in the end
 * every send has exactly one completion and ARP works. */
TEST(quiesce_resume_100_times_under_load) {
        struct ns_env e;
        struct guest g;
        struct ns_blaster b;
        env_up(&e, "nvq2");
        guest_start(&e, &g);
        ns_blast_start(&e, &b);
        guest_run(&g);
        wait_for_traffic(&g, 1000);
        uint64_t worst = 0, total = 0;
        unsigned long progress = atomic_load(&g.progress);
        for (int i = 0; i < 100; i++) {
                uint64_t us = quiesce_timed(&e);
                worst = MAX(worst, us);
                total += us;
                ASSERT_OK(netvsp_nic_quiesce(e.nic)); /* idempotent */
                struct netvsp_nic_stats s0, s1;
                netvsp_nic_get_stats(e.nic, &s0);
                usleep(1000);
                netvsp_nic_get_stats(e.nic, &s1);
                ASSERT_EQ(s1.batches, s0.batches);
                netvsp_nic_resume(e.nic);
                usleep((useconds_t)(500 + (i % 5) * 500));
        }
        netvsp_nic_resume(e.nic); /* a resume of a running NIC does nothing */
        ASSERT_GT(atomic_load(&g.progress), progress + 100);
        fprintf(stderr, "100 quiesces under load: mean %llu us, worst %llu us\n",
                (unsigned long long)(total / 100), (unsigned long long)worst);
        ASSERT_LT(worst, 1000000u);
        guest_park(&g);
        guest_finish(&g);
        ns_blast_stop(&b);
        ns_drain(&e);
        ns_arp_roundtrip(&e, 1);
        ns_stop(&e);
}

static bool comp_waits(struct ns_env *e, struct netvsp_nic_state *st) {
        for (int i = 0; i < 500; i++) {
                netvsp_nic_get_state(e->nic, st);
                if (st->dev.n_comps > 0)
                        return true;
                usleep(10000);
        }
        return false;
}

/* A guest that sends and does not read its inbound ring: the ring fills
 * with completions, the next one waits in netvsp. Across a quiesce it is
 * kept (the state shows it), and after resume it comes exactly once. */
TEST(completion_waiting_for_ring_space_is_kept) {
        struct ns_env e;
        struct guest g;
        env_up(&e, "nvq3");
        guest_start(&e, &g);
        g.reuse_sections = g.no_reading = true;
        guest_run(&g);
        struct netvsp_nic_state st;
        ASSERT_TRUE(comp_waits(&e, &st));
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        guest_park(&g);
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_EQ(st.dev.n_comps, 1u);
        uint64_t tid = st.dev.comps[0].trans_id;
        ASSERT_GE(tid, G_TID_BASE);
        ASSERT_LT(tid, G_TID_BASE + g.sent);
        uint32_t w[2];
        memcpy(w, st.dev.comps[0].msg, sizeof w);
        ASSERT_EQ(w[0], (uint32_t)NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
        ASSERT_EQ(w[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(g.comps[tid - G_TID_BASE], 0u);
        assert_ram_frozen(&e, 50);
        netvsp_nic_resume(e.nic);
        guest_finish(&g);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

/* The link goes down while the NIC is quiesced: the guest hears of it
 * after resume, not before. */
TEST(link_change_while_quiesced_comes_after_resume) {
        struct ns_env e;
        env_up(&e, "nvq4");
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        uint64_t *a = calloc(RAM_PAGES, 8), *b = calloc(RAM_PAGES, 8);
        ram_hash(&e, a);
        ns_set_admin(e.tap, false);
        usleep(100000);
        ram_hash(&e, b);
        ASSERT_TRUE(memcmp(a, b, RAM_PAGES * 8) == 0);
        free(a);
        free(b);
        netvsp_nic_resume(e.nic);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_DISCONNECT, 5000));
        struct netvsp_nic_state st;
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_FALSE(st.dev.link_up);
        ns_set_admin(e.tap, true);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_CONNECT, 5000));
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

/* The snapshot a save would write: negotiated versions, buffers, RNDIS
 * state, and which receive slots the guest holds in which packet. */
TEST(state_snapshot_while_quiesced) {
        struct ns_env e;
        struct ns_blaster b;
        env_up(&e, "nvq5");
        ns_blast_start(&e, &b);
        /* hold two transfer-page packets without completing them */
        uint64_t held[2];
        uint32_t held_slots = 0;
        uint8_t buf[8192];
        struct vmbus_packet p;
        for (int n = 0; n < 2;) {
                ASSERT_GT(vmbus_sim_ring_wait(e.sim, &e.ch, buf, sizeof buf, &p, 5000), 0);
                if (p.type != VM_PKT_DATA_USING_XFER_PAGES)
                        continue;
                struct vmtransfer_page_packet_header h;
                memcpy(&h, buf, sizeof h);
                held[n++] = p.trans_id;
                held_slots += h.range_cnt;
        }
        ns_blast_stop(&b);
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        struct netvsp_nic_state st;
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_TRUE(st.channel_open);
        ASSERT_FALSE(st.channel_broken);
        ASSERT_EQ(st.dev.nvsp_version, NVSP_PROTOCOL_VERSION_61);
        ASSERT_EQ(st.dev.ndis_major, 6u);
        ASSERT_EQ(st.dev.ndis_minor, 30u);
        ASSERT_EQ(st.dev.guest_mtu, 1514u);
        ASSERT_TRUE(st.dev.recv_buf);
        ASSERT_EQ(st.dev.recv_gpadl, e.recv_gpadl);
        ASSERT_EQ(st.dev.recv_slot_size, e.slot_size);
        ASSERT_EQ(st.dev.recv_slots, e.n_slots);
        ASSERT_TRUE(st.dev.send_buf);
        ASSERT_EQ(st.dev.send_gpadl, e.send_gpadl);
        ASSERT_EQ(st.dev.send_sections, NS_SEND_SECTIONS);
        ASSERT_EQ(st.dev.rndis_state, (uint32_t)RNDIS_STATE_INITIALIZED);
        ASSERT_MEMEQ(st.dev.current_mac, e.mac, 6);
        ASSERT_TRUE(st.dev.link_up);
        ASSERT_EQ(st.dev.packet_filter, 0x0du);
        ASSERT_FALSE(st.dev.stall.active);
        ASSERT_GE(st.dev.recv_posted_slots, held_slots);
        uint64_t *owner = calloc(e.n_slots, 8);
        ASSERT_EQ(netvsp_nic_get_rx_slots(e.nic, owner, e.n_slots), e.n_slots);
        uint32_t posted = 0, of_held[2] = { 0, 0 };
        for (uint32_t i = 0; i < e.n_slots; i++) {
                posted += owner[i] != 0;
                for (int k = 0; k < 2; k++)
                        of_held[k] += owner[i] == held[k];
        }
        ASSERT_EQ(posted, st.dev.recv_posted_slots);
        ASSERT_EQ(of_held[0] + of_held[1], held_slots);
        free(owner);
        netvsp_nic_resume(e.nic);
        ns_complete_xfer(&e, held[0]);
        ns_complete_xfer(&e, held[1]);
        ns_drain(&e);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

/* (d) Quiesce with no channel open; a channel opened while quiesced runs
 * nothing until resume; close while quiesced; reopen. */
TEST(quiesce_with_the_channel_closed) {
        struct ns_env e;
        struct netvsp_nic_config nc;
        struct netvsp_nic_state st;
        memset(&e, 0, sizeof e);
        ns_enter_netns();
        ns_nic_config(&e, &nc, "nvq6");
        ns_start(&e, &nc);
        ns_host_setup(&e);
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_FALSE(st.channel_open);
        ns_open(&e); /* the server answers OPENCHANNEL; netvsp's worker starts parked */
        uint32_t init[3] = { NVSP_MSG_TYPE_INIT, NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_61 };
        uint64_t tid = ns_send_nvsp(&e, init, 3, true);
        assert_ram_frozen(&e, 100);
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_TRUE(st.channel_open);
        ASSERT_EQ(st.dev.nvsp_version, 0u);
        netvsp_nic_resume(e.nic);
        uint32_t m[10];
        ns_wait_comp(&e, tid, m);
        ASSERT_EQ(m[3], (uint32_t)NVSP_STAT_SUCCESS);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        ASSERT_OK(netvsp_nic_quiesce(e.nic));
        uint64_t t0 = nt_now_ms();
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        ASSERT_LT(nt_now_ms() - t0, 2000u);
        ASSERT_OK(vmbus_sim_teardown_gpadl(e.sim, e.offer.child_relid, e.recv_gpadl));
        ASSERT_OK(vmbus_sim_teardown_gpadl(e.sim, e.offer.child_relid, e.send_gpadl));
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_FALSE(st.channel_open);
        netvsp_nic_resume(e.nic);
        e.n_comps = e.n_indications = 0;
        ns_open(&e);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

TEST_MAIN();
