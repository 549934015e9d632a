// SPDX-License-Identifier: MIT
/* The worker's coalescing of the guest's state events (vmwp/gev.h, what
 * vmwp/run.c sends vmms), on a real event loop and clock: a guest that
 * changes its mode every millisecond for 2 s makes at most one event per
 * VMWP_GUEST_EVENT_INTERVAL_US per kind, the held change goes out when
 * the interval ends with the state as it is then, and the state it ends in
 * always arrives, by the loop's timer alone. Issue 60: one event per
 * change, ~740 D-Bus signals a second at vmms. */
#include <time.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/test.h"
#include "vmwp/gev.h"
#include "vmwp/vm.h"

struct sink {
        unsigned state[2];     /* the guest's, per kind */
        unsigned told[2];      /* what the last event of each kind carried */
        unsigned sent[2];
};

static void on_send(void *opaque, size_t kind) {
        struct sink *s = opaque;
        s->told[kind] = s->state[kind];
        s->sent[kind]++;
}

/* Runs the loop's due callbacks for `us` microseconds. */
static void run_for(struct devworker *w, uint64_t us) {
        uint64_t end = now_us(CLOCK_MONOTONIC) + us;
        while (now_us(CLOCK_MONOTONIC) < end)
                ASSERT_GE(devworker_run_once(w, 10), 0);
}

TEST(a_flood_of_changes_is_bounded_and_the_last_state_arrives_by_the_timer) {
        struct devworker *w;
        ASSERT_OK(devworker_new(NULL, &w));
        struct sink s = { 0 };
        struct evrate rates[2] = { EVRATE_INIT(VMWP_GUEST_EVENT_INTERVAL_US),
                                   EVRATE_INIT(VMWP_GUEST_EVENT_INTERVAL_US) };
        struct vmwp_gev g = { .rates = rates, .n = 2, .send = on_send, .opaque = &s };
        ASSERT_OK(vmwp_gev_attach(&g, w));
        run_for(w, 1000); /* the timer's first, empty shot */
        uint64_t t0 = now_us(CLOCK_MONOTONIC), changes = 0;
        unsigned i = 0;
        while (now_us(CLOCK_MONOTONIC) - t0 < 2000000) {
                s.state[0] = 640 + (i++ % 2) * 160; /* mode 640, 800, 640, ... */
                vmwp_gev_changed(&g, 0);
                changes++;
                ASSERT_GE(devworker_run_once(w, 1), 0);
        }
        uint64_t elapsed = now_us(CLOCK_MONOTONIC) - t0;
        unsigned during = s.sent[0];
        s.state[0] = 1024; /* where the guest stops: one more event, now or by the timer */
        vmwp_gev_changed(&g, 0);
        changes++;
        s.state[1] = 7; /* the other kind: its own interval, at once */
        vmwp_gev_changed(&g, 1);
        ASSERT_EQ(s.sent[1], 1u);
        ASSERT_EQ(s.told[1], 7u);
        ASSERT_GT(changes, 200u);
        /* one per interval (and the first), however many changes */
        ASSERT_LE(during, elapsed / VMWP_GUEST_EVENT_INTERVAL_US + 1);
        ASSERT_GE(during, 2u); /* the timer sent held ones during the flood */
        /* quiet: the timer alone delivers the last state */
        run_for(w, VMWP_GUEST_EVENT_INTERVAL_US + 100000);
        ASSERT_EQ(s.told[0], 1024u);
        ASSERT_EQ(s.sent[0], during + 1);
        ASSERT_EQ(rates[0].events, (uint64_t)s.sent[0]);
        ASSERT_EQ(rates[0].events + rates[0].coalesced, changes);
        /* and then nothing more */
        run_for(w, VMWP_GUEST_EVENT_INTERVAL_US + 50000);
        ASSERT_EQ(s.sent[0], during + 1);
        devworker_free(w);
}

TEST_MAIN();
