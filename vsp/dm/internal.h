/* SPDX-License-Identifier: MIT */
/* dmvsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dmvsp/dmvsp.h"
#include "hv/dm.h"
#include "vmbus/simple.h"

struct devworker;
struct dw_source;
struct vmbus_channel;
struct vmbus_device;

#define DM_TICK_MS 250u
/* Guest -> host packets: the guest sends at most one 4 KiB message. */
#define DM_RX_MAX 8192u
/* The guest's max_pkt_size on this channel (hv_balloon: two pages). */
#define DM_GUEST_MAX_PACKET 8192u
/* One balloon request asks for at most this many pages (4 GiB): a target
 * that moves meanwhile is followed at the next request. */
#define DM_BALLOON_STEP_MAX (1u << 20)
/* After a request that fell short (the guest's floor, a transient hot-add
 * failure, the owner could not add memory) the next try waits this long,
 * unless the target changes. */
#define DM_RETRY_MS 10000u
/* Linux onlines hot-added memory block by block and waits up to 5 s for
 * each: a hot-add answer may take that long per block. A hot-add request
 * has the request timeout plus this part of it per block (10 s at the
 * default 30 s); its answer is still taken after that. */
#define DM_HOT_ADD_BLOCK_TIMEOUT_DIV 3u
/* A balloon request the guest has not answered in time is not withdrawn:
 * Linux answers only when it has allocated what it will give, however
 * long that takes (minutes for a GiB on a host that emulates the guest's
 * kernel), and the pages it then names are gone from it. So its answer is
 * taken late, and no new balloon request goes out meanwhile, for up to
 * this many request timeouts (10 minutes by default). */
#define DM_LATE_TIMEOUTS 20u

struct dmvsp {
        pthread_mutex_t lock;
        struct devworker *w;
        struct vmbus_device *dev;
        struct vmbus_simple sc; /* the channel: sc.ch non-NULL while the guest has it open */
        struct dmvsp_config cfg;
        const struct dmvsp_owner_ops *ops;
        void *opaque;
        bool paused, quiesced;
        uint64_t boot_pages, max_pages;

        /* Device: what holds while the guest runs (DMDV). */
        struct dm_pages pages; /* region n_boot: the hot-add window */
        uint64_t target;
        uint64_t hot_added, hot_add_ready;
        bool hot_add_dead;
        /* Pages a former channel's guest driver ballooned and never got
         * back: the guest keeps them allocated, so they are not its RAM. */
        uint64_t lost;

        /* Channel (DMCH). */
        struct dmvsp_channel_state cs;
        uint64_t op_sent_us;
        uint64_t retry_us;
        uint64_t late_until_us; /* while cs.late: how long a late balloon answer is waited for */

        /* The last pressure report. */
        bool reported;
        uint64_t avail, committed, report_us;
        uint64_t changed_us;
        bool change_pending;

        char note[128];
        struct dmvsp_stats stats;
        uint8_t rxbuf[DM_RX_MAX];
        uint8_t txbuf[DM_MESSAGE_MAX];
        uint64_t give[DM_RANGES_PER_MESSAGE];
        uint64_t overlays[DMVSP_OVERLAYS_MAX]; /* owner_ops.overlays, asked per balloon answer */
        size_t n_overlays;
};

uint64_t dm_now_us(void);
/* The hot-add window's index in dm->pages. */
static inline size_t dm_window(const struct dmvsp *dm) {
        return dm->cfg.n_boot;
}
static inline uint64_t dm_assigned(const struct dmvsp *dm) {
        uint64_t have = dm->boot_pages + dm->hot_added, gone = dm->pages.total + dm->lost;
        return have > gone ? have - gone : 0;
}
/* state.c: the channel's saved state, hooks of dmvsp.c's vmbus_simple_ops. */
struct vmstate_section;
int dm_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen);
void dm_channel_restore(struct vmbus_simple *sc, const void *st);
int dm_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen);
int dm_channel_check(struct vmbus_simple *sc, const void *st, uint32_t relid, char *err, size_t errlen);
int dm_channel_quiesce(struct vmbus_simple *sc);
