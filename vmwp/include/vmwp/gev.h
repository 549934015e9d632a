/* SPDX-License-Identifier: MIT */
/* State events a guest can make change at will, on their way to vmms
 * (docs/THREAT_MODEL.md "events a guest can trigger"): each kind through
 * its own evrate (common/evrate.h), so at most one event per interval,
 * the latest state winning, and a held change sent by a timer on the
 * event loop when its interval ends. The caller builds each event from
 * the state as it is when send() is called.
 *
 * All on the loop's thread (the worker's main loop, vmwp/run.c). */
#pragma once

#include <stddef.h>

#include "common/evrate.h"

struct devworker;
struct dw_source;

struct vmwp_gev {
        struct evrate *rates; /* one per kind, the caller's (the stats read them) */
        size_t n;
        void (*send)(void *opaque, size_t kind);
        void *opaque;
        /* internal */
        struct dw_source *timer;
};

/* The timer on loop (the sources' limit applies). */
int vmwp_gev_attach(struct vmwp_gev *g, struct devworker *loop);
/* The state of `kind` changed: sent now or held. */
void vmwp_gev_changed(struct vmwp_gev *g, size_t kind);
