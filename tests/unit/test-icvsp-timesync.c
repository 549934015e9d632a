// SPDX-License-Identifier: MIT
/* Time sync (§8.5) against the simulated guest: SYNC after negotiation,
 * SAMPLE at the configured interval, SYNC after resume, the contents of
 * ictimesync_ref_data (v4) and ictimesync_data (v1, v3), and v4 only with
 * a reference time source. */
#include <time.h>

#include "test-icvsp-harness.h"

static const uint8_t ts_class[16] = HV_TS_GUID;

static uint64_t now_100ns_since_1601(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return IC_WLTIMEDELTA + (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

static void env_ts(struct env *e, uint64_t *ref, uint32_t interval_s) {
        struct icvsp_config c = env_config();
        c.timesync = true;
        c.timesync_interval_s = interval_s;
        if (ref) {
                c.reference_time = fake_reference_time;
                c.reference_opaque = ref;
        }
        env_init_cfg(e, &c);
}

/* The next request must be a time message of version major; returns its
 * parent time and flags (and the reference time for v4). */
static void expect_time(struct env *e, struct vmbus_sim_channel *ch, unsigned major, uint8_t flags,
                        uint64_t *ref) {
        struct icmsg_hdr h;
        uint64_t before = now_100ns_since_1601();
        size_t len = host_request(e, ch, &h);
        uint64_t after = now_100ns_since_1601();
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_TIMESYNC);
        ASSERT_EQ(h.icvermsg.major, major);
        uint64_t parent;
        if (major >= 4) {
                struct ictimesync_ref_data d;
                ASSERT_GE(len, ICMSG_HDR + sizeof d); /* §8.5: >= 50 bytes */
                ASSERT_EQ(h.icmsgsize, sizeof d);
                memcpy(&d, e->payload + ICMSG_HDR, sizeof d);
                ASSERT_EQ(d.flags, flags);
                ASSERT_EQ(d.leapflags, 0);
                ASSERT_EQ(d.stratum, 0);
                *ref = d.vmreferencetime;
                parent = d.parenttime;
        } else {
                struct ictimesync_data d;
                ASSERT_GE(len, ICMSG_HDR + sizeof d); /* §8.5: >= 53 bytes */
                ASSERT_EQ(h.icmsgsize, sizeof d);
                memcpy(&d, e->payload + ICMSG_HDR, sizeof d);
                ASSERT_EQ(d.flags, flags);
                ASSERT_EQ(d.childtime, 0u);
                ASSERT_EQ(d.roundtriptime, 0u);
                parent = d.parenttime;
        }
        /* Host UTC in 100 ns since 1601, taken while the request was made
         * (the host may have sent it a little before we started waiting). */
        ASSERT_LE(parent, after);
        ASSERT_GE(parent + 50000000ull, before); /* within 5 s */
}

TEST(v4_sync_carries_reference_time) {
        struct env e;
        struct vmbus_sim_channel ch;
        uint64_t ref = 0x123456789abcull, got = 0;
        env_ts(&e, &ref, 0);
        open_and_negotiate(&e, ts_class, (struct ic_version){ 4, 0 }, &ch);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SYNC, &got);
        ASSERT_EQ(got, ref);
        unsigned major = 0;
        ASSERT_TRUE(icvsp_timesync_ready(e.ic, &major));
        ASSERT_EQ(major, 4u);
        guest_answer(&e, &ch, HV_S_OK);
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.timesync_answered == 1);
        ASSERT_EQ(st.timesync_syncs, 1u);
        /* Interval 0: nothing more until a resume. */
        no_request(&e, &ch, 500);
        env_free(&e);
}

TEST(v3_and_v1_send_ictimesync_data) {
        static const struct ic_version versions[] = { { 3, 0 }, { 1, 0 } };
        for (size_t i = 0; i < 2; i++) {
                struct env e;
                struct vmbus_sim_channel ch;
                uint64_t ref = 42, unused;
                env_ts(&e, &ref, 0);
                open_and_negotiate(&e, ts_class, versions[i], &ch);
                expect_time(&e, &ch, versions[i].major, ICTIMESYNCFLAG_SYNC, &unused);
                guest_answer(&e, &ch, HV_S_OK);
                env_free(&e);
        }
}

TEST(samples_at_the_interval) {
        struct env e;
        struct vmbus_sim_channel ch;
        uint64_t ref = 1, got;
        env_ts(&e, &ref, 1);
        open_and_negotiate(&e, ts_class, (struct ic_version){ 4, 0 }, &ch);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SYNC, &got);
        guest_answer(&e, &ch, HV_S_OK);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        __atomic_store_n(&ref, 2, __ATOMIC_RELAXED); /* the icvsp thread reads it */
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SAMPLE, &got);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ASSERT_EQ(got, 2u);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        ASSERT_GT(dt, 0.5); /* not at once: after about a second */
        guest_answer(&e, &ch, HV_S_OK);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SAMPLE, &got);
        struct icvsp_stats st = stats_of(&e);
        ASSERT_EQ(st.timesync_samples, 2u);
        env_free(&e);
}

TEST(resume_sends_sync) {
        struct env e;
        struct vmbus_sim_channel ch;
        uint64_t ref = 7, got;
        env_ts(&e, &ref, 0);
        open_and_negotiate(&e, ts_class, (struct ic_version){ 4, 0 }, &ch);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SYNC, &got);
        guest_answer(&e, &ch, HV_S_OK);
        icvsp_pause(e.ic);
        no_request(&e, &ch, 300);
        ref = 99;
        icvsp_resume(e.ic);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SYNC, &got);
        ASSERT_EQ(got, 99u);
        guest_answer(&e, &ch, HV_S_OK);
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.timesync_answered == 2);
        ASSERT_EQ(st.timesync_syncs, 2u);
        env_free(&e);
}

/* A SYNC the guest did not answer in time is sent again. */
TEST(unanswered_sync_is_repeated) {
        struct env e;
        struct vmbus_sim_channel ch;
        uint64_t ref = 5, got;
        struct icvsp_config c = env_config();
        c.timesync = true;
        c.reference_time = fake_reference_time;
        c.reference_opaque = &ref;
        c.request_timeout_ms = 200;
        env_init_cfg(&e, &c);
        open_and_negotiate(&e, ts_class, (struct ic_version){ 4, 0 }, &ch);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SYNC, &got);
        expect_time(&e, &ch, 4, ICTIMESYNCFLAG_SYNC, &got);
        ASSERT_GE(stats_of(&e).timeouts, 1u);
        env_free(&e);
}

/* Without a reference time source the host cannot fill v4: it offers 3.0
 * and 1.0 only, and Linux picks 3.0. */
TEST(no_reference_time_no_v4) {
        struct env e;
        env_ts(&e, NULL, 0);
        const struct vmbus_channel_offer_channel *o = find_offer(&e, ts_class);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        struct ic_version fw[IC_MAX_VERSIONS], msg[IC_MAX_VERSIONS];
        unsigned nfw, nmsg;
        negotiate_lists(&e, fw, &nfw, msg, &nmsg);
        ASSERT_EQ(nmsg, 2u);
        ASSERT_EQ(msg[0].major, 3);
        ASSERT_EQ(msg[1].major, 1);
        answer_negotiate(&e, &ch, (struct ic_version){ 3, 0 }, (struct ic_version){ 3, 0 });
        uint64_t unused;
        expect_time(&e, &ch, 3, ICTIMESYNCFLAG_SYNC, &unused);
        env_free(&e);
}

TEST_MAIN();
