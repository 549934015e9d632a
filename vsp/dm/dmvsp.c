// SPDX-License-Identifier: MIT
/* The Dynamic Memory device (dmvsp.h, docs/dynamic-memory.md): one device
 * worker thread serves the channel's doorbell, a periodic tick (timeouts,
 * retries, a ring poll) and wake-ups from dmvsp_set_target (its idle
 * hook), under one lock, as the integration services do (icvsp.c);
 * vmbus/simple.h serves the channel.
 *
 * The guest speaks first: VERSION_REQUEST (answered at once, accepted for
 * 2.0, 1.0 and 0.3), CAPABILITIES_REPORT (accepted; 1.0 on gets the
 * maximum in an INFO message). From then on it reports its pressure about
 * once a second, and the host has at most one request outstanding:
 * BALLOON_REQUEST (answered by BALLOON_RESPONSEs until one without
 * more_pages), UNBALLOON_REQUEST (one per transaction here, answered by
 * UNBALLOON_RESPONSE) or MEM_HOT_ADD_REQUEST (MEM_HOT_ADD_RESPONSE). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"
#include "vmbus/simple.h"

uint64_t dm_now_us(void) {
        return now_us(CLOCK_MONOTONIC);
}

const char *dmvsp_op_to_string(enum dmvsp_op op) {
        switch (op) {
        case DMVSP_OP_NONE:
                return "none";
        case DMVSP_OP_BALLOON:
                return "balloon";
        case DMVSP_OP_UNBALLOON:
                return "unballoon";
        case DMVSP_OP_HOT_ADD:
                return "hot-add";
        }
        return "?";
}

/* Owner notification: op ends and connection changes at once, pressure
 * reports at most every status_interval_ms (the tick flushes the rest). */
static void changed(struct dmvsp *dm, bool now_please, uint64_t now) {
        if (!now_please && now - dm->changed_us < dm->cfg.status_interval_ms * 1000ull) {
                dm->change_pending = true;
                return;
        }
        dm->change_pending = false;
        dm->changed_us = now;
        if (dm->ops->changed)
                dm->ops->changed(dm->opaque);
}

static int send_msg(struct dmvsp *dm, size_t len) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(dm->sc.ch);
        vmbus_ring_send_begin(rp);
        int r = vmbus_ring_send_inband(rp, 0, false, dm->txbuf, len);
        vmbus_ring_send_end(rp);
        return r;
}

static void start_op(struct dmvsp *dm, enum dmvsp_op op, uint64_t pages, uint64_t pfn, uint64_t now) {
        dm->cs.op = (uint8_t)op;
        dm->cs.op_pages = pages;
        dm->cs.op_done = 0;
        dm->cs.op_pfn = pfn;
        dm->op_sent_us = now;
}

static void end_op(struct dmvsp *dm, uint64_t now) {
        /* All of it: a saved state with pages and no op is refused. */
        dm->cs.op = DMVSP_OP_NONE;
        dm->cs.op_pages = dm->cs.op_done = dm->cs.op_pfn = 0;
        changed(dm, true, now);
}

static void fell_short(struct dmvsp *dm, uint64_t now, const char *fmt, ...) _printf_(3, 4);
static void fell_short(struct dmvsp *dm, uint64_t now, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(dm->note, sizeof dm->note, fmt, ap);
        va_end(ap);
        dm->retry_us = now + DM_RETRY_MS * 1000ull;
}

/* ---- toward the target ---- */

static void step_balloon(struct dmvsp *dm, uint64_t assigned, uint64_t now) {
        uint64_t n = MIN(assigned - dm->target, (uint64_t)DM_BALLOON_STEP_MAX);
        n = ALIGN_DOWN(n, (uint64_t)DM_BALLOON_UNIT_PAGES);
        if (n == 0)
                return;
        size_t len = dm_build_balloon(dm->txbuf, ++dm->cs.next_trans, (uint32_t)n);
        if (send_msg(dm, len) < 0)
                return; /* a full ring: the next tick tries again */
        dm->stats.balloon_requests++;
        start_op(dm, DMVSP_OP_BALLOON, n, 0, now);
}

static void step_unballoon(struct dmvsp *dm, uint64_t want, uint64_t now) {
        size_t n;
        uint64_t got = dm_pages_give(&dm->pages, want, dm->give, ARRAY_SIZE(dm->give), &n);
        size_t len = dm_build_unballoon(dm->txbuf, ++dm->cs.next_trans, false, dm->give, n);
        if (send_msg(dm, len) < 0) {
                /* not sent: the pages stay the guest's to give back later */
                for (size_t i = 0; i < n; i++)
                        (void)dm_pages_take(&dm->pages, DM_RANGE_START(dm->give[i]), DM_RANGE_COUNT(dm->give[i]));
                return;
        }
        /* The guest frees them as soon as it reads the request: they are
         * its RAM again from here on (a fault brings each page back). */
        dm->stats.unballoon_requests++;
        dm->stats.pages_unballooned += got;
        start_op(dm, DMVSP_OP_UNBALLOON, got, 0, now);
}

static void step_hot_add(struct dmvsp *dm, uint64_t want, uint64_t now) {
        uint64_t room = dm->cfg.hot_add_pages - dm->hot_added;
        uint64_t n = MIN(ALIGN_UP(want, (uint64_t)DM_HOT_ADD_BLOCK_PAGES), room);
        uint64_t pfn = dm->cfg.hot_add_pfn + dm->hot_added;
        if (n == 0)
                return;
        if (dm->hot_add_ready < dm->hot_added + n) {
                uint64_t from = dm->hot_add_ready, more = dm->hot_added + n - from;
                int r = dm->ops->hot_add(dm->opaque, dm->cfg.hot_add_pfn + from, more);
                if (r < 0) {
                        dm->stats.hot_add_failures++;
                        fell_short(dm, now, "the host could not add %llu MiB of memory: %s",
                                   (unsigned long long)(more >> 8), strerror(-r));
                        return;
                }
                dm->hot_add_ready = dm->hot_added + n;
        }
        size_t len = dm_build_hot_add(dm->txbuf, ++dm->cs.next_trans, pfn, n);
        if (send_msg(dm, len) < 0)
                return;
        dm->stats.hot_add_requests++;
        start_op(dm, DMVSP_OP_HOT_ADD, n, pfn, now);
}

static bool can_hot_add(const struct dmvsp *dm) {
        return (dm->cs.caps & DM_CAP_HOT_ADD) && dm->ops->hot_add && !dm->hot_add_dead &&
               dm->hot_added < dm->cfg.hot_add_pages;
}

/* One request toward the target when none is outstanding. */
static void step(struct dmvsp *dm, uint64_t now) {
        if (!dm->sc.ch || !dm->cs.caps_done || dm->paused || dm->cs.op != DMVSP_OP_NONE || !dm->target ||
            now < dm->retry_us)
                return;
        uint64_t assigned = dm_assigned(dm);
        if (assigned >= dm->target + DM_BALLOON_UNIT_PAGES && (dm->cs.caps & DM_CAP_BALLOON)) {
                if (!dm->cs.late) /* one balloon at a time in the guest */
                        step_balloon(dm, assigned, now);
        }
        else if (assigned < dm->target && dm->pages.total)
                step_unballoon(dm, dm->target - assigned, now);
        else if (assigned < dm->target && can_hot_add(dm))
                step_hot_add(dm, dm->target - assigned, now);
}

/* ---- the guest's messages ---- */

/* The overlay pages now, before the ranges of a balloon answer are taken. */
static void get_overlays(struct dmvsp *dm) {
        size_t n = dm->ops->overlays ? dm->ops->overlays(dm->opaque, dm->overlays, ARRAY_SIZE(dm->overlays)) : 0;
        dm->n_overlays = MIN(n, ARRAY_SIZE(dm->overlays));
}

/* [pfn, pfn + n), taken, goes back to the host but for the overlay pages
 * in it (the hypercall page, SynIC pages: TLFS overlays that cover the
 * RAM; punched, the guest would find zeros there and die). They stay
 * ballooned in the map: given back, the guest gets the page it gave. */
static void release(struct dmvsp *dm, uint64_t pfn, uint64_t n) {
        uint64_t at = pfn, end = pfn + n;
        while (at < end) {
                uint64_t next = end; /* the lowest overlay page in [at, end) */
                for (size_t i = 0; i < dm->n_overlays; i++)
                        if (dm->overlays[i] >= at && dm->overlays[i] < next)
                                next = dm->overlays[i];
                if (next > at)
                        dm->ops->release(dm->opaque, at, next - at);
                if (next == end)
                        return;
                dm->stats.overlay_pages++;
                at = next + 1;
        }
}

static void on_balloon_response(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t now) {
        uint64_t before = dm->cs.op_done;
        get_overlays(dm);
        for (uint32_t i = 0; i < m->n_ranges; i++) {
                uint64_t rg = dm_guest_msg_range(m, i), pfn = DM_RANGE_START(rg), n = DM_RANGE_COUNT(rg);
                /* Only what was asked for, only RAM the guest has, each page once. */
                if (n > dm->cs.op_pages - dm->cs.op_done || dm_pages_take(&dm->pages, pfn, n) < 0) {
                        dm->stats.bad_ranges++;
                        continue;
                }
                release(dm, pfn, n);
                dm->cs.op_done += n;
                dm->stats.pages_ballooned += n;
        }
        /* Progress restarts the timeout; an answer that gave nothing does
         * not, so "more_pages" with bad ranges cannot hold the request
         * open for ever. */
        if (dm->cs.op_done > before)
                dm->op_sent_us = now;
        if (m->more)
                return;
        if (dm->cs.op_done < dm->cs.op_pages)
                fell_short(dm, now, "the guest gave %llu of %llu pages (its floor or free memory)",
                           (unsigned long long)dm->cs.op_done, (unsigned long long)dm->cs.op_pages);
        else
                dm->note[0] = 0;
        end_op(dm, now);
}

/* The answer to a balloon request that timed out: the pages are gone from
 * the guest, so they are taken as an answer in time would be, up to what
 * that request asked; the device then goes on toward the target. */
static void on_late_balloon_response(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t now) {
        get_overlays(dm);
        for (uint32_t i = 0; i < m->n_ranges; i++) {
                uint64_t rg = dm_guest_msg_range(m, i), pfn = DM_RANGE_START(rg), n = DM_RANGE_COUNT(rg);
                if (n > dm->cs.late || dm_pages_take(&dm->pages, pfn, n) < 0) {
                        dm->stats.bad_ranges++;
                        continue;
                }
                release(dm, pfn, n);
                dm->cs.late -= n;
                dm->stats.pages_ballooned += n;
                dm->stats.late_pages += n;
        }
        if (!m->more) {
                dm->cs.late = 0;
                dm->note[0] = 0;
                dm->retry_us = 0;
        }
        changed(dm, true, now);
}

/* The guest's answer to a hot-add of `asked` pages, in time or late: the
 * pages it says it added are the window's from hot_added on, counted
 * within what the host made RAM. All of them, or a transient failure (0
 * pages, result 0): the device may hot-add again. Fewer than asked (or a
 * refusal it calls success): the guest will take no more (hv/dm.h). */
static uint64_t take_hot_add_answer(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t asked, bool late,
                                    uint64_t now) {
        uint64_t n = MIN(MIN((uint64_t)m->page_count, asked), dm->hot_add_ready - dm->hot_added);
        dm->hot_added += n;
        dm->stats.pages_hot_added += n;
        dm_pages_set_usable(&dm->pages, dm_window(dm), dm->hot_added);
        if (n == asked) {
                dm->hot_add_dead = false;
                dm->note[0] = 0;
        } else if (n == 0 && m->result == 0) {
                dm->hot_add_dead = false;
                dm->stats.hot_add_failures++;
                fell_short(dm, now, "the guest could not add memory this time");
        } else {
                dm->hot_add_dead = true;
                snprintf(dm->note, sizeof dm->note, "the guest added %llu of %llu pages%s and takes no more",
                         (unsigned long long)n, (unsigned long long)asked, late ? " late" : "");
        }
        return n;
}

/* The answer to a hot-add request that timed out (a guest that onlines
 * memory slowly: minutes for a GiB where its kernel runs emulated): no
 * request has named the window since, so it is taken as an answer in time
 * would have been. */
static void on_late_hot_add_response(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t now) {
        uint64_t asked = dm->cs.late_hot_add;
        dm->cs.late_hot_add = 0;
        uint64_t n = take_hot_add_answer(dm, m, asked, true, now);
        dm->stats.late_hot_add_pages += n;
        if (n == asked)
                dm->retry_us = 0;
        changed(dm, true, now);
}

static void on_hot_add_response(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t now) {
        (void)take_hot_add_answer(dm, m, dm->cs.op_pages, false, now);
        end_op(dm, now);
}

static void on_version(struct dmvsp *dm, const struct dm_guest_msg *m) {
        bool ok = !dm->cs.caps_done &&
                  (m->version == DM_VERSION_WIN10 || m->version == DM_VERSION_WIN8 || m->version == DM_VERSION_WIN7);
        size_t len = dm_build_version_response(dm->txbuf, m->trans_id, ok);
        if (send_msg(dm, len) < 0)
                return;
        if (ok)
                dm->cs.version = m->version;
        else
                dm->stats.refused_versions++;
}

static void on_caps(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t now) {
        if (!dm->cs.version || dm->cs.caps_done) {
                dm->stats.bad_messages++;
                return;
        }
        size_t len = dm_build_caps_response(dm->txbuf, m->trans_id, true);
        if (send_msg(dm, len) < 0)
                return;
        dm->cs.caps_done = true;
        dm->cs.caps = m->caps;
        dm->stats.negotiations++;
        if (dm->cs.version >= DM_VERSION_WIN8) {
                len = dm_build_info_max_pages(dm->txbuf, ++dm->cs.next_trans, dm->max_pages);
                (void)send_msg(dm, len); /* informational: the guest only logs it */
        }
        changed(dm, true, now);
}

static void on_status(struct dmvsp *dm, const struct dm_guest_msg *m, uint64_t now) {
        dm->stats.status_reports++;
        dm->reported = true;
        dm->avail = MIN(m->avail, DMVSP_REPORT_PAGES_MAX);
        dm->committed = MIN(m->committed, DMVSP_REPORT_PAGES_MAX);
        dm->report_us = now;
        changed(dm, false, now);
}

static void on_message(struct dmvsp *dm, const uint8_t *p, size_t len, uint64_t now) {
        struct dm_guest_msg m;
        if (dm_parse_guest(p, len, &m) < 0) {
                dm->stats.bad_messages++;
                return;
        }
        enum dmvsp_op op = dm->cs.op;
        switch (m.type) {
        case DM_VERSION_REQUEST:
                on_version(dm, &m);
                return;
        case DM_CAPABILITIES_REPORT:
                on_caps(dm, &m, now);
                return;
        case DM_STATUS_REPORT:
                if (dm->cs.caps_done) {
                        on_status(dm, &m, now);
                        return;
                }
                break;
        case DM_BALLOON_RESPONSE:
                if (op == DMVSP_OP_BALLOON) {
                        on_balloon_response(dm, &m, now);
                        return;
                }
                if (dm->cs.late && dm->cs.caps_done) {
                        on_late_balloon_response(dm, &m, now);
                        return;
                }
                break;
        case DM_UNBALLOON_RESPONSE:
                if (op == DMVSP_OP_UNBALLOON) {
                        dm->note[0] = 0;
                        end_op(dm, now);
                        return;
                }
                break;
        case DM_MEM_HOT_ADD_RESPONSE:
                if (op == DMVSP_OP_HOT_ADD) {
                        on_hot_add_response(dm, &m, now);
                        return;
                }
                if (dm->cs.late_hot_add && dm->cs.caps_done) {
                        on_late_hot_add_response(dm, &m, now);
                        return;
                }
                break;
        }
        dm->stats.bad_messages++; /* out of turn: unsolicited or before the negotiation */
}

/* The channel's packets (vmbus/simple.h serves the ring), then one step
 * toward the target. */
static void on_packet(struct vmbus_simple *sc, const struct vmbus_packet *p) {
        struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        if (p && p->type == VM_PKT_DATA_INBAND)
                on_message(dm, vmbus_packet_payload(p), vmbus_packet_payload_len(p), dm_now_us());
        else
                dm->stats.bad_messages++;
}

static void on_served(struct vmbus_simple *sc) {
        struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        step(dm, dm_now_us());
}

static uint64_t op_timeout_us(const struct dmvsp *dm) {
        uint64_t ms = dm->cfg.request_timeout_ms;
        if (dm->cs.op == DMVSP_OP_HOT_ADD)
                ms += DIV_ROUND_UP(dm->cs.op_pages, (uint64_t)DM_HOT_ADD_BLOCK_PAGES) * ms / DM_HOT_ADD_BLOCK_TIMEOUT_DIV;
        return ms * 1000ull;
}

static void check_timeout(struct dmvsp *dm, uint64_t now) {
        if (dm->cs.late && now >= dm->late_until_us) {
                dm->cs.late = 0; /* given up on: a still later answer is out of turn */
                snprintf(dm->note, sizeof dm->note, "the guest never answered the balloon request");
        }
        if (dm->cs.op == DMVSP_OP_NONE || now - dm->op_sent_us <= op_timeout_us(dm))
                return;
        dm->stats.timeouts++;
        /* A hot-add the guest may still be working on: its answer is
         * taken when it comes, and no other hot-add goes out until then.
         * Ballooned pages taken so far stay. */
        if (dm->cs.op == DMVSP_OP_HOT_ADD) {
                dm->hot_add_dead = true;
                dm->cs.late_hot_add = dm->cs.op_pages;
        }
        if (dm->cs.op == DMVSP_OP_BALLOON) {
                /* Still working on it, or stuck: its answer is taken when it
                 * comes, and nothing more is ballooned until then. */
                dm->cs.late = dm->cs.op_pages - dm->cs.op_done;
                dm->late_until_us = now + (uint64_t)DM_LATE_TIMEOUTS * dm->cfg.request_timeout_ms * 1000ull;
        }
        fell_short(dm, now, "the guest did not answer the %s request%s", dmvsp_op_to_string(dm->cs.op),
                   dm->cs.late || dm->cs.late_hot_add ? " in time: its late answer is waited for" : "");
        end_op(dm, now);
}

/* ---- the device thread ---- */

static int on_timer(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct dmvsp *dm = opaque;
        pthread_mutex_lock(&dm->lock);
        uint64_t now = dm_now_us();
        if (!dm->paused) {
                check_timeout(dm, now);
                vmbus_simple_poll(&dm->sc); /* a missed doorbell cannot strand an answer */
                if (dm->change_pending)
                        changed(dm, false, now);
        }
        pthread_mutex_unlock(&dm->lock);
        return 0;
}

/* After every batch and every dmvsp_set_target kick. */
static void on_idle(void *opaque) {
        struct dmvsp *dm = opaque;
        pthread_mutex_lock(&dm->lock);
        step(dm, dm_now_us());
        pthread_mutex_unlock(&dm->lock);
}

/* ---- the channel (vmbus/simple.h) ---- */

static int on_opened(struct vmbus_simple *sc) {
        struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        dm->cs = (struct dmvsp_channel_state){ 0 };
        dm->reported = false;
        return 0; /* the guest speaks first */
}

/* The guest's driver went (its module unloaded, the bus unloaded): an
 * answer it owed will not come, and a new driver instance knows nothing
 * of the pages this one ballooned (Linux keeps them allocated): they are
 * never given back, to anyone. */
static void on_closed(struct vmbus_simple *sc, bool quiet) {
        struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        if (quiet) /* a refused restore's undo */
                return;
        dm->lost += dm->pages.total;
        dm_pages_clear(&dm->pages);
        dm->cs = (struct dmvsp_channel_state){ 0 };
        dm->reported = false;
        changed(dm, true, dm_now_us());
}

static const struct vmbus_simple_ops dm_simple = {
        .name = "dynamic memory",
        .state = &dmvsp_channel_state_desc,
        .state_size = sizeof(struct dmvsp_channel_state),
        .opened = on_opened,
        .packet = on_packet,
        .served = on_served,
        .closed = on_closed,
        .save = dm_channel_save,
        .restore = dm_channel_restore,
        .decode = dm_channel_decode,
        .check = dm_channel_check,
        .quiesce = dm_channel_quiesce,
};

static const struct vmbus_provider_ops dm_provider = {
        .name = "dm",
        .class_id = { HV_DM_GUID },
        .guest_max_packet = DM_GUEST_MAX_PACKET,
        VMBUS_SIMPLE_PROVIDER,
};

/* ---- lifecycle and API ---- */

static int check_config(const struct dmvsp_config *c) {
        if (c->n_boot == 0 || c->n_boot > DMVSP_BOOT_REGIONS_MAX || !c->request_timeout_ms)
                return -EINVAL;
        uint64_t end = 0;
        for (size_t i = 0; i < c->n_boot; i++)
                end = MAX(end, c->boot[i].pfn + c->boot[i].pages);
        if (c->hot_add_pages && (c->hot_add_pfn < end || c->hot_add_pfn % DM_HOT_ADD_BLOCK_PAGES ||
                                 c->hot_add_pages % DM_HOT_ADD_BLOCK_PAGES ||
                                 c->hot_add_pfn + c->hot_add_pages > DM_PFN_MAX))
                return -EINVAL;
        return 0;
}

int dmvsp_new(struct vmbus_server *srv, const struct dmvsp_config *cfg, const struct dmvsp_owner_ops *ops,
              void *opaque, struct dmvsp **out) {
        if (!ops || !ops->release)
                return -EINVAL;
        struct dmvsp_config c = *cfg;
        c.status_interval_ms = c.status_interval_ms ? c.status_interval_ms : 1000u;
        c.request_timeout_ms = c.request_timeout_ms ? c.request_timeout_ms : 30000u;
        int r = check_config(&c);
        if (r < 0)
                return r;
        struct dmvsp *dm = calloc(1, sizeof *dm);
        if (!dm)
                return -ENOMEM;
        pthread_mutex_init(&dm->lock, NULL);
        dm->cfg = c;
        dm->ops = ops;
        dm->opaque = opaque;
        struct dmvsp_region regions[DM_PAGES_REGIONS_MAX];
        for (size_t i = 0; i < c.n_boot; i++) {
                regions[i] = c.boot[i];
                dm->boot_pages += c.boot[i].pages;
        }
        regions[c.n_boot] = (struct dmvsp_region){ c.hot_add_pfn, c.hot_add_pages };
        dm->max_pages = dm->boot_pages + c.hot_add_pages;
        r = dm_pages_init(&dm->pages, regions, c.n_boot + (c.hot_add_pages ? 1 : 0));
        if (r == 0 && c.hot_add_pages)
                dm_pages_set_usable(&dm->pages, dm_window(dm), 0);
        if (r == 0)
                r = devworker_new(&(struct devworker_config){ .name = "dm", .on_idle = on_idle, .opaque = dm },
                                  &dm->w);
        if (r == 0) {
                vmbus_simple_init(&dm->sc, &dm_simple, &dm->lock, dm->w, dm->rxbuf, sizeof dm->rxbuf);
                r = devworker_add_timer(dm->w, DM_TICK_MS * 1000ull, DM_TICK_MS * 1000ull, on_timer, dm, NULL);
        }
        if (r == 0)
                r = devworker_start(dm->w);
        struct vmbus_device_config dc = { .ops = &dm_provider, .data = &dm->sc };
        /* One device per VM: any fixed instance will do (Hyper-V's is
         * not published). */
        static const uint8_t instance[16] = HV_GUID_BYTES(0x4b2f5e1a, 0x3c6d, 0x4e0f, 0x9a, 0x71, 0x2d, 0x8b, 0x5c,
                                                          0x6e, 0x0f, 0x13);
        memcpy(dc.instance_id.b, instance, 16);
        if (r == 0)
                r = vmbus_server_add_device(srv, &dc, &dm->dev);
        if (r < 0) {
                dmvsp_free(dm);
                return r;
        }
        *out = dm;
        return 0;
}

void dmvsp_free(struct dmvsp *dm) {
        if (!dm)
                return;
        devworker_free(dm->w);
        dm_pages_free(&dm->pages);
        pthread_mutex_destroy(&dm->lock);
        free(dm);
}

uint64_t dmvsp_set_target(struct dmvsp *dm, uint64_t pages) {
        pthread_mutex_lock(&dm->lock);
        uint64_t t = MIN(MAX(pages, dm->cfg.min_pages), dm->max_pages);
        t = MAX(ALIGN_DOWN(t, (uint64_t)DM_BALLOON_UNIT_PAGES), (uint64_t)DM_BALLOON_UNIT_PAGES);
        if (t != dm->target) {
                dm->target = t;
                dm->retry_us = 0; /* a new target: try at once */
        }
        pthread_mutex_unlock(&dm->lock);
        devworker_kick(dm->w);
        return t;
}

void dmvsp_get_status(struct dmvsp *dm, struct dmvsp_status *out) {
        pthread_mutex_lock(&dm->lock);
        uint64_t now = dm_now_us();
        uint64_t ballooned = dm->pages.total;
        *out = (struct dmvsp_status){
                .connected = dm->sc.ch && dm->cs.caps_done,
                .version = dm->cs.version,
                .can_balloon = dm->cs.caps_done && (dm->cs.caps & DM_CAP_BALLOON),
                .can_hot_add = dm->cs.caps_done && can_hot_add(dm),
                .boot_pages = dm->boot_pages,
                .hot_add_max = dm->cfg.hot_add_pages,
                .hot_added = dm->hot_added,
                .ballooned = ballooned,
                .assigned = dm_assigned(dm),
                .target = dm->target,
                .reported = dm->reported,
                .avail = dm->avail,
                .committed = dm->committed,
                .demand = dm->committed > ballooned ? dm->committed - ballooned : 0,
                .report_age_ms = dm->reported ? (now - dm->report_us) / 1000u : 0,
                .op = (enum dmvsp_op)dm->cs.op,
        };
        memcpy(out->note, dm->note, sizeof out->note);
        pthread_mutex_unlock(&dm->lock);
}

void dmvsp_get_stats(struct dmvsp *dm, struct dmvsp_stats *out) {
        pthread_mutex_lock(&dm->lock);
        *out = dm->stats;
        pthread_mutex_unlock(&dm->lock);
}

void dmvsp_pause(struct dmvsp *dm) {
        pthread_mutex_lock(&dm->lock);
        dm->paused = true;
        pthread_mutex_unlock(&dm->lock);
}

int dmvsp_quiesce(struct dmvsp *dm) {
        int r = devworker_pause(dm->w);
        if (r < 0)
                return r;
        pthread_mutex_lock(&dm->lock);
        dm->quiesced = dm->paused = true;
        pthread_mutex_unlock(&dm->lock);
        return 0;
}

void dmvsp_resume(struct dmvsp *dm) {
        pthread_mutex_lock(&dm->lock);
        uint64_t now = dm_now_us();
        dm->paused = dm->quiesced = false;
        vmbus_simple_resumed(&dm->sc);
        dm->op_sent_us = now; /* the pause does not count against the guest */
        if (dm->cs.late) /* restored, or paused: the wait starts again */
                dm->late_until_us = now + (uint64_t)DM_LATE_TIMEOUTS * dm->cfg.request_timeout_ms * 1000ull;
        pthread_mutex_unlock(&dm->lock);
        devworker_resume(dm->w);
        devworker_kick(dm->w);
}
