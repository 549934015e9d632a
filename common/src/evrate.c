// SPDX-License-Identifier: MIT
/* Coalescing of guest-triggered state events (common/evrate.h). */
#include "common/evrate.h"

static bool may_send(const struct evrate *r, uint64_t now) {
        /* A clock that went back counts as a quiet interval. */
        return !r->any || now < r->sent_us || now - r->sent_us >= r->interval_us;
}

static bool sent(struct evrate *r, uint64_t now) {
        r->any = true;
        r->held = false;
        r->sent_us = now;
        r->events++;
        return true;
}

bool evrate_change(struct evrate *r, uint64_t now) {
        if (r->held) { /* the held event will carry this state, or a newer one */
                r->coalesced++;
                return false;
        }
        if (may_send(r, now))
                return sent(r, now);
        r->held = true;
        return false;
}

uint64_t evrate_due(const struct evrate *r) {
        if (!r->held)
                return 0;
        uint64_t due = r->sent_us + r->interval_us;
        return due < r->sent_us ? UINT64_MAX : due;
}

bool evrate_flush(struct evrate *r, uint64_t now) {
        return r->held && may_send(r, now) ? sent(r, now) : false;
}
