// SPDX-License-Identifier: MIT
/* Coalesced guest state events (vmwp/gev.h). */
#include <time.h>

#include "common/devworker.h"
#include "common/log.h"
#include "vmwp/gev.h"

/* The timer for the earliest held event. */
static void arm(struct vmwp_gev *g) {
        uint64_t due = 0, now = now_us(CLOCK_MONOTONIC);
        for (size_t k = 0; k < g->n; k++) {
                uint64_t d = evrate_due(&g->rates[k]);
                if (d && (!due || d < due))
                        due = d;
        }
        if (due && g->timer)
                (void)dw_source_set_timer(g->timer, due > now ? due - now : 1, 0);
}

/* The held changes whose interval ended, with the state now. */
static int on_timer(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct vmwp_gev *g = opaque;
        uint64_t now = now_us(CLOCK_MONOTONIC);
        for (size_t k = 0; k < g->n; k++)
                if (evrate_flush(&g->rates[k], now))
                        g->send(g->opaque, k);
        arm(g);
        return 0;
}

int vmwp_gev_attach(struct vmwp_gev *g, struct devworker *loop) {
        return devworker_add_timer(loop, 1, 0, on_timer, g, &g->timer);
}

void vmwp_gev_changed(struct vmwp_gev *g, size_t kind) {
        if (kind >= g->n)
                return;
        if (evrate_change(&g->rates[kind], now_us(CLOCK_MONOTONIC)))
                g->send(g->opaque, kind);
        else
                arm(g);
}
