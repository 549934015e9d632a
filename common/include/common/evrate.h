/* SPDX-License-Identifier: MIT */
/* Coalescing of state events a guest can trigger (docs/THREAT_MODEL.md
 * "events to vmms"): a state that changes reaches its listener at most
 * once per interval, the last state winning. The first change after a
 * quiet interval goes at once; a change inside the interval is held and
 * goes when the interval ends, carrying the state as it is then, so the
 * final state is never lost and a flood costs one event per interval.
 *
 * Pure: the caller passes the time (any monotonic microseconds), reads
 * the state itself when told to send, and arms a timer for evrate_due().
 * Not thread-safe: one thread (the worker's main loop) owns it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct evrate {
        uint64_t interval_us; /* at least this long between two events */
        /* internal */
        bool any;         /* an event went */
        bool held;        /* a change waits for the interval's end */
        uint64_t sent_us; /* when the last event went */
        /* Counters: events sent, and changes that got none of their own
         * (a later event carried their state, or a newer one). */
        uint64_t events, coalesced;
};
#define EVRATE_INIT(us) { .interval_us = (us) }

/* The state changed at `now`: true when its event should go now (counted
 * as sent); false when it is held until evrate_due(). */
bool evrate_change(struct evrate *r, uint64_t now);
/* When the held change is due; 0: none held. */
uint64_t evrate_due(const struct evrate *r);
/* The timer fired at `now`: true when the held change's event should go
 * now (counted as sent). */
bool evrate_flush(struct evrate *r, uint64_t now);
