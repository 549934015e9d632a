// SPDX-License-Identifier: MIT
/* Integration services against the simulated guest: offers, negotiation
 * the way hv_utils answers it (§8.2) with every version Linux offers,
 * heartbeat liveness, shutdown requests, malformed and late answers, a
 * guest that never answers, pause/resume. Time sync and KVP have their own
 * files (test-icvsp-timesync.c, test-icvsp-kvp.c). */
#include "test-icvsp-harness.h"

static bool hb_ok(struct owner *o) {
        return o->hb == ICVSP_HEARTBEAT_OK;
}
static bool hb_lost(struct owner *o) {
        return o->hb == ICVSP_HEARTBEAT_LOST;
}
static bool answered(struct owner *o) {
        return o->answers > 0;
}

static const uint8_t sd_class[16] = HV_SHUTDOWN_GUID, hb_class[16] = HV_HEART_BEAT_GUID,
                     ts_class[16] = HV_TS_GUID, kvp_class[16] = HV_KVP_GUID;

TEST(offers_are_pipe_mode_util_channels) {
        struct env e;
        struct icvsp_config c = env_config();
        c.shutdown = c.heartbeat = c.timesync = c.kvp = true;
        env_init_cfg(&e, &c);
        ASSERT_EQ(e.n_offers, 4);
        static const uint8_t sd_inst[16] = HV_SHUTDOWN_INSTANCE, ts_inst[16] = HV_TIMESYNC_INSTANCE,
                             kvp_inst[16] = HV_KVP_INSTANCE;
        const struct { const uint8_t *cls, *inst; } want[] = {
                { sd_class, sd_inst }, { ts_class, ts_inst }, { kvp_class, kvp_inst }, { hb_class, c.heartbeat_instance.b }
        };
        for (size_t i = 0; i < 4; i++) {
                const struct vmbus_channel_offer_channel *o = find_offer(&e, want[i].cls);
                ASSERT_NOT_NULL(o);
                ASSERT_MEMEQ(o->if_instance, want[i].inst, 16);
                ASSERT_EQ(o->chn_flags, VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
                uint32_t pipe_mode;
                memcpy(&pipe_mode, o->user_def, 4);
                ASSERT_EQ(pipe_mode, VMBUS_PIPE_TYPE_MESSAGE);
        }
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_NO_CONTACT);
        env_free(&e);
}

TEST(unconfigured_services_are_not_offered) {
        struct env e;
        struct icvsp_config c = env_config();
        env_init_cfg(&e, &c);
        ASSERT_EQ(e.n_offers, 0);
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_UNKNOWN);
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), ENOTSUP);
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "v"), ENOTSUP);
        ASSERT_FALSE(icvsp_timesync_ready(e.ic, NULL));
        env_free(&e);
}

/* The host's negotiate request lists frameworks 3.0 and 1.0 and, per
 * service, every message version hv_utils accepts (§8.2), so each Linux
 * choice is possible; the answer Linux picks for each is then used. */
static void check_lists(struct env *e, const uint8_t cls[16], const struct ic_version *want, unsigned n) {
        const struct vmbus_channel_offer_channel *o = find_offer(e, cls);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(e->sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        struct icmsg_hdr h;
        host_request(e, &ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        struct ic_version fw[IC_MAX_VERSIONS], msg[IC_MAX_VERSIONS];
        unsigned nfw, nmsg;
        negotiate_lists(e, fw, &nfw, msg, &nmsg);
        ASSERT_EQ(nfw, 2u);
        ASSERT_EQ(fw[0].major, 3);
        ASSERT_EQ(fw[1].major, 1);
        ASSERT_EQ(nmsg, n);
        for (unsigned i = 0; i < n; i++) {
                ASSERT_EQ(msg[i].major, want[i].major);
                ASSERT_EQ(msg[i].minor, want[i].minor);
        }
        ASSERT_OK(vmbus_sim_close(e->sim, &ch));
}

TEST(negotiate_offers_every_version_linux_accepts) {
        struct env e;
        uint64_t ref = 0;
        struct icvsp_config c = env_config();
        c.shutdown = c.heartbeat = c.timesync = c.kvp = true;
        c.reference_time = fake_reference_time;
        c.reference_opaque = &ref;
        env_init_cfg(&e, &c);
        static const struct ic_version sd[] = { { 3, 2 }, { 3, 1 }, { 3, 0 }, { 1, 0 } };
        static const struct ic_version three[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };
        static const struct ic_version hb[] = { { 3, 0 }, { 1, 0 } };
        check_lists(&e, sd_class, sd, 4);
        check_lists(&e, ts_class, three, 3);
        check_lists(&e, hb_class, hb, 2);
        check_lists(&e, kvp_class, three, 3);
        env_free(&e);
}

/* Every shutdown version Linux may pick works, with either framework. */
TEST(shutdown_every_version) {
        static const struct ic_version versions[] = { { 3, 2 }, { 3, 1 }, { 3, 0 }, { 1, 0 } };
        for (size_t i = 0; i < 4; i++) {
                struct env e;
                struct vmbus_sim_channel ch;
                env_init(&e, true, false);
                const struct vmbus_channel_offer_channel *o = find_offer(&e, sd_class);
                ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
                struct icmsg_hdr h;
                host_request(&e, &ch, &h);
                struct ic_version fw = { (uint16_t)(i % 2 ? 1 : 3), 0 };
                answer_negotiate(&e, &ch, fw, versions[i]);
                for (int k = 0; k < 5000 && !icvsp_shutdown_ready(e.ic); k++)
                        usleep(1000);
                ASSERT_OK(icvsp_request_shutdown(e.ic, false));
                host_request(&e, &ch, &h);
                ASSERT_EQ(h.icmsgtype, ICMSGTYPE_SHUTDOWN);
                ASSERT_EQ(h.icverframe.major, fw.major);
                ASSERT_EQ(h.icvermsg.major, versions[i].major);
                ASSERT_EQ(h.icvermsg.minor, versions[i].minor);
                guest_answer(&e, &ch, HV_S_OK);
                ASSERT_TRUE(wait_owner(&e.o, answered, 5000));
                env_free(&e);
        }
}

TEST(heartbeat_ok_then_lost) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, false, true);
        ASSERT_EQ(e.n_offers, 1);
        open_and_negotiate(&e, hb_class, (struct ic_version){ 3, 0 }, &ch);
        struct icmsg_hdr h;
        uint64_t prev = 0;
        for (int i = 0; i < 3; i++) {
                size_t len = host_request(&e, &ch, &h);
                /* Each request went into the empty ring (one at a time),
                 * so each interrupted the guest (§5.6): the negotiate
                 * request and this beat and the ones before. The service
                 * signals after its ring write, which the guest may read
                 * first: wait (5 s at most) for the interrupt. */
                for (int ms = 0; ms < 5000 && vmbus_sim_event_count(e.sim) < (uint64_t)(2 + i); ms++)
                        usleep(1000);
                ASSERT_GE(vmbus_sim_event_count(e.sim), (uint64_t)(2 + i));
                ASSERT_EQ(h.icmsgtype, ICMSGTYPE_HEARTBEAT);
                ASSERT_EQ(h.icvermsg.major, 3);
                ASSERT_GE(len, (size_t)IC_HEARTBEAT_MIN_PAYLOAD); /* §8.4: the guest needs >= 36 bytes */
                uint64_t seq;
                memcpy(&seq, e.payload + ICMSG_HDR, 8);
                ASSERT_GT(seq, prev);
                prev = seq;
                seq++;
                memcpy(e.payload + ICMSG_HDR, &seq, 8);
                guest_answer(&e, &ch, HV_S_OK);
                ASSERT_TRUE(wait_owner(&e.o, hb_ok, 5000));
        }
        uint64_t last = 0;
        ASSERT_EQ(icvsp_heartbeat(e.ic, &last), ICVSP_HEARTBEAT_OK);
        ASSERT_GT(last, 0u);
        /* The guest stops answering: lost after 3 intervals. */
        ASSERT_TRUE(wait_owner(&e.o, hb_lost, 5000));
        struct icvsp_stats st = stats_of(&e);
        ASSERT_EQ(st.heartbeats_answered, 3u);
        ASSERT_EQ(st.negotiations, 1u);
        env_free(&e);
}

/* vmms's Heartbeat property is the time of the last beat: the owner hears
 * of every answered beat, not only of the first (the state stays OK). The
 * interval is long enough that the state cannot flip to lost in between. */
TEST(heartbeat_reports_every_beat) {
        struct env e;
        struct vmbus_sim_channel ch;
        struct icvsp_config c = env_config();
        c.heartbeat = true;
        c.heartbeat_interval_ms = 1000;
        env_init_cfg(&e, &c);
        open_and_negotiate(&e, hb_class, (struct ic_version){ 3, 0 }, &ch);
        struct icmsg_hdr h;
        uint64_t last[2] = { 0, 0 };
        unsigned changes[2] = { 0, 0 };
        struct icvsp_stats st_hb;
        for (int i = 0; i < 2; i++) {
                host_request(&e, &ch, &h);
                ASSERT_EQ(h.icmsgtype, ICMSGTYPE_HEARTBEAT);
                uint64_t seq;
                memcpy(&seq, e.payload + ICMSG_HDR, 8);
                seq++;
                memcpy(e.payload + ICMSG_HDR, &seq, 8);
                guest_answer(&e, &ch, HV_S_OK);
                WAIT_STATS(&e, st_hb, st_hb.heartbeats_answered == (uint64_t)i + 1);
                ASSERT_TRUE(wait_owner(&e.o, hb_ok, 5000));
                pthread_mutex_lock(&e.o.lock);
                last[i] = e.o.hb_last;
                changes[i] = e.o.hb_changes;
                pthread_mutex_unlock(&e.o.lock);
        }
        ASSERT_GT(last[0], 0u);
        ASSERT_GT(last[1], last[0]);
        ASSERT_EQ(changes[0], 1u);
        ASSERT_EQ(changes[1], 2u);
        uint64_t now_last = 0;
        ASSERT_EQ(icvsp_heartbeat(e.ic, &now_last), ICVSP_HEARTBEAT_OK);
        ASSERT_EQ(now_last, last[1]);
        env_free(&e);
}

TEST(heartbeat_wrong_sequence_is_not_a_beat) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, false, true);
        open_and_negotiate(&e, hb_class, (struct ic_version){ 1, 0 }, &ch);
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        ASSERT_EQ(h.icvermsg.major, 1);
        uint64_t seq;
        memcpy(&seq, e.payload + ICMSG_HDR, 8);
        seq += 7; /* not seq + 1 */
        memcpy(e.payload + ICMSG_HDR, &seq, 8);
        guest_answer(&e, &ch, HV_S_OK);
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.bad_packets >= 1);
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_NO_CONTACT);
        /* A truncated answer (no sequence number) is not a beat either. */
        host_request(&e, &ch, &h);
        guest_answer_len(&e, &ch, ICMSG_HDR + 4, HV_S_OK);
        WAIT_STATS(&e, st, st.bad_packets >= 2);
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_NO_CONTACT);
        env_free(&e);
}

TEST(shutdown_request_and_answer) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false);
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), ENOTCONN); /* not opened yet */
        ASSERT_FALSE(icvsp_shutdown_ready(e.ic));
        open_and_negotiate(&e, sd_class, (struct ic_version){ 3, 2 }, &ch);
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e.ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_shutdown_ready(e.ic));
        ASSERT_OK(icvsp_request_shutdown(e.ic, true));
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), EBUSY); /* one at a time */
        struct icmsg_hdr h;
        size_t len = host_request(&e, &ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_SHUTDOWN);
        ASSERT_GE(len, (size_t)2088); /* §8.3 */
        struct shutdown_msg_data d;
        memcpy(&d, e.payload + ICMSG_HDR, sizeof d);
        ASSERT_EQ(d.flags, IC_SHUTDOWN_FLAG_REBOOT | IC_SHUTDOWN_FLAG_FORCED);
        ASSERT_EQ(d.reason_code, IC_SHUTDOWN_REASON_PLANNED);
        guest_answer(&e, &ch, HV_S_OK);
        ASSERT_TRUE(wait_owner(&e.o, answered, 5000));
        ASSERT_TRUE(e.o.accepted);
        env_free(&e);
}

/* §8.3: a guest that cannot do what is asked answers E_FAIL: refused. */
TEST(shutdown_refused) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false);
        open_and_negotiate(&e, sd_class, (struct ic_version){ 3, 0 }, &ch);
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e.ic); i++)
                usleep(1000);
        ASSERT_OK(icvsp_request_shutdown(e.ic, false));
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        struct shutdown_msg_data d;
        memcpy(&d, e.payload + ICMSG_HDR, sizeof d);
        ASSERT_EQ(d.flags, IC_SHUTDOWN_FLAG_SHUTDOWN | IC_SHUTDOWN_FLAG_FORCED);
        guest_answer(&e, &ch, HV_E_FAIL);
        ASSERT_TRUE(wait_owner(&e.o, answered, 5000));
        ASSERT_FALSE(e.o.accepted);
        ASSERT_EQ(e.o.status, HV_E_FAIL);
        env_free(&e);
}

TEST(no_common_version_and_malformed_answers) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false);
        const struct vmbus_channel_offer_channel *o = find_offer(&e, sd_class);
        ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        struct icmsg_hdr h;
        size_t len = host_request(&e, &ch, &h);
        /* Garbage first: too short, a request instead of a response, a
         * completion packet. None may be taken as the answer. */
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_DATA_INBAND, 0, e.p.trans_id, e.payload, 10));
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_DATA_INBAND, 0, e.p.trans_id, e.payload, len));
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_COMP, 0, e.p.trans_id, e.payload, len));
        /* Then the real answer: zero counts = no common version (§8.2). */
        answer_negotiate(&e, &ch, (struct ic_version){ 0, 0 }, (struct ic_version){ 0, 0 });
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.negotiation_failures == 1);
        ASSERT_EQ(st.bad_packets, 3u);
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), ENOTCONN);
        /* Closing and opening again negotiates afresh. */
        ASSERT_OK(vmbus_sim_close(e.sim, &ch));
        open_and_negotiate(&e, sd_class, (struct ic_version){ 3, 0 }, &ch);
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e.ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_shutdown_ready(e.ic));
        env_free(&e);
}

/* Versions the host never offered, more than one version, a truncated
 * list: all refused as no negotiation (§8.2). */
TEST(negotiate_answers_out_of_spec) {
        static const struct { uint16_t nfw, nmsg; struct ic_version fw, msg; size_t len; } bad[] = {
                { 1, 1, { 2, 0 }, { 3, 0 }, 0 },  /* framework 2.0 not offered */
                { 1, 1, { 3, 0 }, { 9, 9 }, 0 },  /* message version not offered */
                { 2, 1, { 3, 0 }, { 3, 0 }, 0 },  /* two frameworks in an answer */
                { 1, 1, { 3, 0 }, { 3, 0 }, 38 }, /* cut in the middle of the versions */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct env e;
                struct vmbus_sim_channel ch;
                env_init(&e, false, true);
                const struct vmbus_channel_offer_channel *o = find_offer(&e, hb_class);
                ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
                struct icmsg_hdr h;
                host_request(&e, &ch, &h);
                struct icmsg_negotiate n = { .icframe_vercnt = bad[i].nfw, .icmsg_vercnt = bad[i].nmsg };
                memcpy(e.payload + ICMSG_HDR, &n, sizeof n);
                struct ic_version v[2] = { bad[i].fw, bad[i].msg };
                memcpy(e.payload + ICMSG_HDR + sizeof n, v, sizeof v);
                h.icmsgsize = bad[i].len ? (uint16_t)(bad[i].len - ICMSG_HDR) : IC_NEGOTIATE_RESPONSE_SIZE;
                memcpy(e.payload + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
                guest_answer_len(&e, &ch, bad[i].len ? bad[i].len : e.len, HV_S_OK);
                struct icvsp_stats st;
                WAIT_STATS(&e, st, st.negotiation_failures == 1);
                ASSERT_EQ(st.negotiations, 0u);
                no_request(&e, &ch, 300); /* no heartbeat without a version */
                env_free(&e);
        }
}

/* A guest that never answers: the negotiation waits (no timeout: Linux's
 * KVP answers it after 55 s), nothing else is sent, and a late answer is
 * still taken; afterwards unanswered requests time out and are replaced. */
TEST(guest_that_never_answers) {
        struct env e;
        struct vmbus_sim_channel ch;
        struct icvsp_config c = env_config();
        c.heartbeat = true;
        c.request_timeout_ms = 300;
        env_init_cfg(&e, &c);
        const struct vmbus_channel_offer_channel *o = find_offer(&e, hb_class);
        ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        no_request(&e, &ch, 800); /* > 2 timeouts: still waiting, nothing sent */
        ASSERT_EQ(stats_of(&e).timeouts, 0u);
        answer_negotiate(&e, &ch, (struct ic_version){ 3, 0 }, (struct ic_version){ 3, 0 });
        host_request(&e, &ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_HEARTBEAT);
        uint64_t first;
        memcpy(&first, e.payload + ICMSG_HDR, 8);
        uint64_t old_id = e.p.trans_id;
        /* No answer: after the timeout the next beat comes. */
        host_request(&e, &ch, &h);
        uint64_t second;
        memcpy(&second, e.payload + ICMSG_HDR, 8);
        ASSERT_EQ(second, first + 1);
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.timeouts >= 1);
        /* The late answer to the first beat is recognised as stale. */
        uint64_t late = first + 1;
        memcpy(e.payload + ICMSG_HDR, &late, 8);
        struct icmsg_hdr lh = h;
        lh.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        memcpy(e.payload + sizeof(struct vmbuspipe_hdr), &lh, sizeof lh);
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_DATA_INBAND, 0, old_id, e.payload, e.len));
        WAIT_STATS(&e, st, st.stale_answers == 1);
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_NO_CONTACT);
        env_free(&e);
}

/* While paused nothing is sent and a beat outstanding does not time out;
 * after resume the liveness clock restarts instead of reporting "lost". */
TEST(pause_stops_the_clock) {
        struct env e;
        struct vmbus_sim_channel ch;
        struct icvsp_config c = env_config();
        c.heartbeat = true;
        c.request_timeout_ms = 300;
        env_init_cfg(&e, &c);
        open_and_negotiate(&e, hb_class, (struct ic_version){ 3, 0 }, &ch);
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        uint64_t seq;
        memcpy(&seq, e.payload + ICMSG_HDR, 8);
        seq++;
        memcpy(e.payload + ICMSG_HDR, &seq, 8);
        guest_answer(&e, &ch, HV_S_OK);
        ASSERT_TRUE(wait_owner(&e.o, hb_ok, 5000));
        host_request(&e, &ch, &h); /* the next beat, left unanswered */
        icvsp_pause(e.ic);
        no_request(&e, &ch, 1000); /* 10 intervals, 3 timeouts */
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_OK);
        ASSERT_EQ(stats_of(&e).timeouts, 0u);
        icvsp_resume(e.ic);
        memcpy(&seq, e.payload + ICMSG_HDR, 8);
        seq++;
        memcpy(e.payload + ICMSG_HDR, &seq, 8);
        guest_answer(&e, &ch, HV_S_OK);
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.heartbeats_answered == 2);
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_OK);
        env_free(&e);
}

TEST_MAIN();
