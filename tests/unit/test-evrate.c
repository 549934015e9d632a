// SPDX-License-Identifier: MIT
/* Coalescing of guest-triggered state events (common/evrate.h), driven
 * as the worker's main loop drives it for "display" events (vmwp/run.c):
 * a guest that flips its mode every millisecond for 20 s (what flooded a
 * real vmms with ~740 PropertiesChanged signals a second) makes at most
 * one event per interval, and the state it ends in always reaches vmms. */
#include "common/evrate.h"
#include "common/test.h"
#include "vmwp/vm.h"

/* The main loop: the guest's state, what vmms was last told, the timer. */
struct loop {
        struct evrate rate;
        uint64_t now;
        unsigned state, told;
        unsigned sent, changes;
};

static void send(struct loop *l) {
        l->told = l->state; /* the event reads the state as it is now */
        l->sent++;
}

/* The timer, when it is due by now (run.c's on_gev_timer). */
static void run_timer(struct loop *l) {
        uint64_t due = evrate_due(&l->rate);
        if (due && l->now >= due && evrate_flush(&l->rate, l->now))
                send(l);
}

/* The guest changes its state (vmwp/emit.c's vmwp_emit_changed). */
static void change(struct loop *l, unsigned state) {
        run_timer(l);
        l->state = state;
        l->changes++;
        if (evrate_change(&l->rate, l->now))
                send(l);
}

static void quiet(struct loop *l, uint64_t us) {
        l->now += us;
        run_timer(l);
}

TEST(a_guest_flipping_its_mode_makes_a_bounded_number_of_events_and_the_last_state_arrives) {
        struct loop l = { .rate = EVRATE_INIT(VMWP_GUEST_EVENT_INTERVAL_US), .now = 1000000 };
        const uint64_t seconds = 20;
        unsigned i = 0;
        for (uint64_t end = l.now + seconds * 1000000; l.now < end; l.now += 1000)
                change(&l, 640 + (i++ % 2) * 160); /* 640, 800, 640, ... */
        change(&l, 1024); /* where it stops */
        ASSERT_EQ(l.changes, 20001u);
        /* One event per interval, plus the first. */
        ASSERT_LE(l.sent, seconds * 1000000 / VMWP_GUEST_EVENT_INTERVAL_US + 1);
        ASSERT_LE(l.sent, 4u * seconds + 1);
        ASSERT_GE(l.sent, 4u * seconds - 1); /* and no fewer: the state is not frozen */
        quiet(&l, VMWP_GUEST_EVENT_INTERVAL_US);
        ASSERT_EQ(l.told, 1024u);
        ASSERT_EQ(evrate_due(&l.rate), 0u);
        ASSERT_EQ(l.rate.events, (uint64_t)l.sent);
        ASSERT_EQ(l.rate.events + l.rate.coalesced, (uint64_t)l.changes);
}

TEST(a_change_after_a_quiet_interval_goes_at_once) {
        struct loop l = { .rate = EVRATE_INIT(250000), .now = 5 };
        change(&l, 1);
        ASSERT_EQ(l.sent, 1u);
        ASSERT_EQ(l.told, 1u);
        quiet(&l, 250000);
        change(&l, 2);
        ASSERT_EQ(l.sent, 2u);
        ASSERT_EQ(l.told, 2u);
        ASSERT_EQ(l.rate.coalesced, 0u);
}

TEST(a_change_inside_the_interval_is_held_until_it_ends) {
        struct loop l = { .rate = EVRATE_INIT(250000), .now = 0 };
        change(&l, 1); /* time 0 is a time like any other */
        ASSERT_EQ(l.sent, 1u);
        l.now += 1000;
        change(&l, 2);
        change(&l, 3);
        ASSERT_EQ(l.sent, 1u);
        ASSERT_EQ(evrate_due(&l.rate), 250000u);
        ASSERT_FALSE(evrate_flush(&l.rate, 249999)); /* a timer early by the clock's grain */
        quiet(&l, 249000);
        ASSERT_EQ(l.told, 3u);
        ASSERT_EQ(l.sent, 2u);
        ASSERT_EQ(l.rate.coalesced, 1u); /* 2 went as 3 */
        /* A change right after the held one went waits for the next interval's end. */
        change(&l, 4);
        ASSERT_EQ(l.sent, 2u);
        ASSERT_EQ(evrate_due(&l.rate), 500000u);
        quiet(&l, 250000);
        ASSERT_EQ(l.told, 4u);
}

TEST(a_clock_that_goes_back_does_not_hold_an_event_forever) {
        struct evrate r = EVRATE_INIT(250000);
        ASSERT_TRUE(evrate_change(&r, 1000000));
        ASSERT_TRUE(evrate_change(&r, 10));
        r.interval_us = UINT64_MAX;
        ASSERT_FALSE(evrate_change(&r, 20));
        ASSERT_EQ(evrate_due(&r), UINT64_MAX);
}

TEST_MAIN();
