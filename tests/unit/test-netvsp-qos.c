// SPDX-License-Identifier: MIT
/* netvsp's bandwidth caps (docs/netvsp.md "Bandwidth caps") with a real
 * TAP in a private network namespace, the guest side played through the
 * fake VMBus of test-netvsp-harness.h: a NIC capped at 100 Mbit/s carries
 * 95-100 Mbit/s each way (guest -> host: UDP frames the guest sends as
 * fast as their completions come; host -> guest: a host thread floods the
 * guest's address; 3 s windows, which may hold one burst beyond the cap:
 * at most 100 * (1 + 20 ms / 3 s) = 100.67), the same NIC uncapped runs
 * well past it, and a cap changed while traffic flows holds within a
 * second. Rates are Ethernet
 * frame bytes, as the cap counts them. Skips without the privileges to
 * create a namespace, or where the host cannot move 150 Mbit/s uncapped
 * (a cap of 100 would then show nothing). */
#include "tests/unit/test-netvsp-qos.h"

#define CAP 100000000ull
#define WINDOW_MS 3000u
/* The most a window of ms may carry at cap Mbit/s: the cap and one burst. */
static double most(double cap, uint64_t ms) {
        return cap * (1.0 + (double)netvsp_qos_burst_ns((uint64_t)(cap * 1e6)) / ((double)ms * 1e6)) + 0.05;
}

/* A direction's rate under the cap, in a 3 s window, up to three times:
 * a window in which this thread (the device's, and the guest's sender)
 * waited for a core more than 5 % of the time measures the host, not the
 * cap, and is tried again; three such windows skip. *waits: the cap's. */
static double capped_rate(struct nq_env *e, bool out) {
        for (int i = 0; i < 3; i++) {
                uint64_t d0 = nq_run_delay_ns();
                double r = out ? nq_guest_send_rate(e, 300, WINDOW_MS) : nq_guest_recv_rate(e, 300, WINDOW_MS);
                double waited = (double)(nq_run_delay_ns() - d0) / ((WINDOW_MS + 300) * 1e6);
                printf("%s capped at 100 Mbit/s: %.1f Mbit/s (%" PRIu64 " waits; waited for a core %.1f %%)\n",
                       out ? "guest -> host" : "host -> guest", r,
                       out ? netvsp_dev_stats(e->f->nd)->tx_qos_waits : netvsp_dev_stats(e->f->nd)->rx_qos_waits,
                       100 * waited);
                if (r >= 95.0 || waited < 0.05)
                        return r;
        }
        TEST_SKIP("three windows in which the device's thread waited for a core more than 5 %% of the time");
}

static void require_fast_host(double free_mbps, const char *dir) {
        if (free_mbps < 150.0)
                TEST_SKIP("this host moves only %.0f Mbit/s %s uncapped: a 100 Mbit/s cap shows nothing", free_mbps,
                          dir);
}

TEST(guest_to_host_capped_at_100_mbit_and_free_without) {
        struct nq_env e = { 0 };
        nq_env_up(&e, "vqos0");
        double free_rate = nq_guest_send_rate(&e, 100, 1000);
        printf("guest -> host uncapped: %.1f Mbit/s\n", free_rate);
        require_fast_host(free_rate, "guest -> host");
        netvsp_qos_set(&e.qos.out, CAP);
        double capped = capped_rate(&e, true);
        ASSERT_GE(capped, 95.0);
        ASSERT_LE(capped, most(100, WINDOW_MS));
        ASSERT_GT(netvsp_dev_stats(e.f->nd)->tx_qos_waits, 0u);
        ASSERT_EQ(netvsp_dev_stats(e.f->nd)->tx_dropped, 0u); /* held, never dropped */
        /* the in cap does not touch this direction */
        netvsp_qos_set(&e.qos.out, 0);
        netvsp_qos_set(&e.qos.in, 1000000);
        ASSERT_GT(nq_guest_send_rate(&e, 100, 500), 150.0);
        nq_env_down(&e);
}

TEST(host_to_guest_capped_at_100_mbit_and_free_without) {
        struct nq_env e = { 0 };
        nq_env_up(&e, "vqos1");
        nq_flood_start(&e);
        double free_rate = nq_guest_recv_rate(&e, 200, 1000);
        printf("host -> guest uncapped: %.1f Mbit/s\n", free_rate);
        require_fast_host(free_rate, "host -> guest");
        netvsp_qos_set(&e.qos.in, CAP);
        double capped = capped_rate(&e, false);
        ASSERT_GE(capped, 95.0);
        ASSERT_LE(capped, most(100, WINDOW_MS));
        ASSERT_GT(netvsp_dev_stats(e.f->nd)->rx_qos_waits, 0u);
        netvsp_qos_set(&e.qos.in, 0);
        netvsp_qos_set(&e.qos.out, 1000000);
        ASSERT_GT(nq_guest_recv_rate(&e, 100, 500), 150.0);
        nq_env_down(&e);
}

/* Lowered and raised under traffic: the new cap holds within a second
 * (measured from 200 ms to 1 s after the change). */
TEST(a_cap_changed_under_traffic_holds_within_a_second) {
        struct nq_env e = { 0 };
        nq_env_up(&e, "vqos2");
        nq_flood_start(&e);
        netvsp_qos_set(&e.qos.in, CAP);
        double at100 = nq_guest_recv_rate(&e, 200, 500);
        uint64_t d0 = nq_run_delay_ns();
        netvsp_qos_set(&e.qos.in, 30000000);
        double at30 = nq_guest_recv_rate(&e, 200, 800);
        netvsp_qos_set(&e.qos.in, 60000000);
        double at60 = nq_guest_recv_rate(&e, 200, 800);
        double waited = (double)(nq_run_delay_ns() - d0) / 2e9;
        printf("host -> guest: 100 -> %.1f, 30 -> %.1f, 60 -> %.1f Mbit/s (waited for a core %.1f %%)\n", at100,
               at30, at60, 100 * waited);
        if (at100 < 95.0)
                TEST_SKIP("this host moves only %.0f Mbit/s host -> guest", at100);
        if ((at30 < 27.0 || at60 < 54.0) && waited >= 0.05)
                TEST_SKIP("the device's thread waited for a core %.0f %% of the time", 100 * waited);
        /* at most the cap (and one burst); at least 90 % of it: a window
         * of 0.8 s on a loaded host is short (the 95 % is the 3 s tests') */
        ASSERT_GE(at30, 27.0);
        ASSERT_LE(at30, most(30, 800));
        ASSERT_GE(at60, 54.0);
        ASSERT_LE(at60, most(60, 800));
        nq_env_down(&e);
}

TEST(caps_out_of_range_are_refused) {
        ASSERT_EQ(netvsp_qos_check(0), 0);
        ASSERT_EQ(netvsp_qos_check(NETVSP_QOS_MIN_BPS), 0);
        ASSERT_EQ(netvsp_qos_check(NETVSP_QOS_MAX_BPS), 0);
        ASSERT_EQ(netvsp_qos_check(NETVSP_QOS_MIN_BPS - 1), -EINVAL);
        ASSERT_EQ(netvsp_qos_check(NETVSP_QOS_MAX_BPS + 1), -EINVAL);
        ASSERT_EQ(netvsp_qos_check(UINT64_MAX), -EINVAL);
}

/* The bucket by itself, on a clock of the test's: a burst, then one
 * frame's time per frame; idle time beyond the burst is no credit. */
TEST(bucket_lets_a_burst_through_then_the_cap) {
        struct netvsp_qos_bucket b = { 0 };
        uint64_t now = 1000000000ull;
        ASSERT_EQ(netvsp_qos_wait_ns(&b, now), 0u); /* no cap */
        netvsp_qos_set(&b, 8000000);                /* 1 MB/s: 1 us per byte */
        uint64_t burst = netvsp_qos_burst_ns(8000000);
        ASSERT_EQ(burst, 65536000u);
        uint64_t passed = 0;
        while (netvsp_qos_wait_ns(&b, now) == 0) {
                netvsp_qos_charge(&b, now, 1000);
                passed += 1000;
        }
        ASSERT_EQ(passed, 66000u); /* the burst and the frame that began within it */
        ASSERT_EQ(netvsp_qos_wait_ns(&b, now), 464000u);
        now += 464000;
        ASSERT_EQ(netvsp_qos_wait_ns(&b, now), 0u);
        now += 10000000000ull; /* 10 s idle: the bucket is full, not more */
        passed = 0;
        while (netvsp_qos_wait_ns(&b, now) == 0) {
                netvsp_qos_charge(&b, now, 1000);
                passed += 1000;
        }
        ASSERT_EQ(passed, 66000u);
}

TEST_MAIN();
