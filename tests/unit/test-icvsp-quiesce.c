// SPDX-License-Identifier: MIT
/* icvsp_quiesce with the guest active (docs/vm-state.md): while quiesced
 * the guest answers a heartbeat and opens time sync, the host asks for a
 * shutdown and sets a KVP item; for 50 ms no byte of guest RAM changes and
 * nothing is signalled. After icvsp_resume the answer is served, and the
 * shutdown request, the KVP push, time sync's negotiate and its SYNC each
 * reach the guest exactly once. */
#include <time.h>

#include "test-icvsp-harness.h"
#include "tests/lib/vmstate-file.h"

static const uint8_t sd_class[16] = HV_SHUTDOWN_GUID;
static const uint8_t hb_class[16] = HV_HEART_BEAT_GUID;
static const uint8_t ts_class[16] = HV_TS_GUID;
static const uint8_t kvp_class[16] = HV_KVP_GUID;

static void expect_type(struct env *e, struct vmbus_sim_channel *ch, uint16_t type) {
        struct icmsg_hdr h;
        host_request(e, ch, &h);
        ASSERT_EQ(h.icmsgtype, type);
}

/* The guest's side of an answer to a heartbeat: seq + 1. */
static void answer_beat(struct env *e, struct vmbus_sim_channel *ch) {
        uint64_t seq;
        memcpy(&seq, e->payload + ICMSG_HDR, 8);
        seq++;
        memcpy(e->payload + ICMSG_HDR, &seq, 8);
        guest_answer(e, ch, HV_S_OK);
}

/* A KVP scan as a guest without hv_kvp_daemon answers it. */
static void fail_scan(struct env *e, struct vmbus_sim_channel *ch) {
        for (int pool = 0; pool < 2; pool++) {
                expect_type(e, ch, ICMSGTYPE_KVPEXCHANGE);
                guest_answer(e, ch, HV_E_FAIL);
        }
}

static void open_ts(struct env *e, struct vmbus_sim_channel *ch) {
        const struct vmbus_channel_offer_channel *o = find_offer(e, ts_class);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(vmbus_sim_open(e->sim, o->child_relid, o->connection_id, 4, NULL, 0, ch), 0);
}

/* The guest's negotiate answer is served by the icvsp thread. */
static void wait_shutdown_ready(struct env *e) {
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e->ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_shutdown_ready(e->ic));
}

static bool one_answer(struct owner *o) {
        return o->answers == 1;
}

struct chans {
        struct vmbus_sim_channel sd, hb, ts, kvp;
};

/* Shutdown, KVP (one scan done) and heartbeat negotiated, a beat
 * outstanding and older than the interval; time sync not opened yet. */
static void setup(struct env *e, struct chans *c) {
        struct icvsp_config cfg = env_config();
        cfg.shutdown = cfg.heartbeat = cfg.timesync = cfg.kvp = true;
        cfg.heartbeat_interval_ms = 20; /* an answer would be followed by a beat at once */
        cfg.kvp_poll_ms = 60000;
        env_init_cfg(e, &cfg);
        open_and_negotiate(e, sd_class, (struct ic_version){ 3, 0 }, &c->sd);
        open_and_negotiate(e, kvp_class, (struct ic_version){ 4, 0 }, &c->kvp);
        fail_scan(e, &c->kvp);
        open_and_negotiate(e, hb_class, (struct ic_version){ 3, 0 }, &c->hb);
        expect_type(e, &c->hb, ICMSGTYPE_HEARTBEAT); /* outstanding */
        struct icvsp_stats st;
        WAIT_STATS(e, st, st.kvp_scans == 1);
        wait_shutdown_ready(e);
        struct timespec ms30 = { 0, 30000000 };
        nanosleep(&ms30, NULL);
}

/* After resume: the beat answered while quiesced is served and the next
 * beat follows; the held shutdown and KVP push, time sync's negotiate and
 * SYNC each arrive once. */
static void check_resumed(struct env *e, struct chans *c) {
        struct icvsp_stats st;
        WAIT_STATS(e, st, st.heartbeats_answered == 1);
        expect_type(e, &c->hb, ICMSGTYPE_HEARTBEAT);
        struct icmsg_hdr h;
        host_request(e, &c->sd, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_SHUTDOWN);
        struct shutdown_msg_data d;
        memcpy(&d, e->payload + ICMSG_HDR, sizeof d);
        ASSERT_EQ(d.flags, IC_SHUTDOWN_FLAG_SHUTDOWN | IC_SHUTDOWN_FLAG_FORCED);
        guest_answer(e, &c->sd, HV_S_OK);
        ASSERT_TRUE(wait_owner(&e->o, one_answer, 5000));
        ASSERT_TRUE(e->o.accepted);
        expect_type(e, &c->kvp, ICMSGTYPE_KVPEXCHANGE);
        struct hv_kvp_exchange_msg m;
        memcpy(&m, e->payload + ICMSG_HDR, sizeof m);
        ASSERT_EQ(m.kvp_hdr.operation, KVP_OP_SET);
        ASSERT_EQ(m.body.kvp_get.key[0], 'h');
        guest_answer(e, &c->kvp, HV_S_OK);
        expect_type(e, &c->ts, ICMSGTYPE_NEGOTIATE);
        answer_negotiate(e, &c->ts, (struct ic_version){ 3, 0 }, (struct ic_version){ 3, 0 });
        expect_type(e, &c->ts, ICMSGTYPE_TIMESYNC);
        guest_answer(e, &c->ts, HV_S_OK);
        /* Nothing twice. */
        no_request(e, &c->sd, 100);
        no_request(e, &c->kvp, 100);
        no_request(e, &c->ts, 100);
        st = stats_of(e);
        ASSERT_EQ(st.kvp_sets, 1u);
        ASSERT_EQ(st.timesync_syncs, 1u);
        ASSERT_EQ(e->o.answers, 1u);
}

TEST(quiesce_holds_host_requests_and_guest_answers) {
        struct env e;
        struct chans c;
        setup(&e, &c);
        ASSERT_OK(icvsp_quiesce(e.ic));
        ASSERT_OK(icvsp_quiesce(e.ic)); /* idempotent */
        /* The guest, still running on the way in: answers the beat and
         * opens time sync (its own writes to RAM, before the snapshot). */
        answer_beat(&e, &c.hb);
        open_ts(&e, &c.ts);
        struct icvsp_stats before = stats_of(&e);
        uint8_t *ram = vmbus_sim_ram(e.sim);
        size_t ram_size = vmbus_sim_ram_size(e.sim);
        uint64_t h = test_ram_hash(ram, ram_size), events = vmbus_sim_event_count(e.sim);
        unsigned msgs = vmbus_sim_pending_messages(e.sim);
        /* The host: a shutdown and a KVP item. */
        ASSERT_OK(icvsp_request_shutdown(e.ic, false));
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, true), EBUSY); /* one at a time, as ever */
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "held", "1"));
        struct timespec ms50 = { 0, 50000000 };
        nanosleep(&ms50, NULL);
        ASSERT_EQ(test_ram_hash(ram, ram_size), h);
        ASSERT_EQ(vmbus_sim_event_count(e.sim), events);
        ASSERT_EQ(vmbus_sim_pending_messages(e.sim), msgs);
        struct icvsp_stats st = stats_of(&e);
        ASSERT_EQ(st.requests_sent, before.requests_sent);
        ASSERT_EQ(st.responses, before.responses);
        ASSERT_EQ(st.heartbeats_answered, 0u);
        icvsp_resume(e.ic);
        check_resumed(&e, &c);
        env_free(&e);
}

/* A channel closed while quiesced: its held request is abandoned (the
 * owner hears of it), not sent into the next channel. */
TEST(held_request_of_a_closed_channel_is_abandoned) {
        struct env e;
        struct vmbus_sim_channel sd;
        env_init(&e, true, false);
        open_and_negotiate(&e, sd_class, (struct ic_version){ 3, 0 }, &sd);
        wait_shutdown_ready(&e);
        ASSERT_OK(icvsp_quiesce(e.ic));
        ASSERT_OK(icvsp_request_shutdown(e.ic, true));
        ASSERT_OK(vmbus_sim_close(e.sim, &sd));
        ASSERT_TRUE(wait_owner(&e.o, one_answer, 5000));
        ASSERT_FALSE(e.o.accepted);
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, true), ENOTCONN);
        icvsp_resume(e.ic);
        open_and_negotiate(&e, sd_class, (struct ic_version){ 3, 0 }, &sd);
        no_request(&e, &sd, 100);
        ASSERT_EQ(stats_of(&e).requests_sent, 0u); /* negotiates do not count */
        env_free(&e);
}

TEST_MAIN();
