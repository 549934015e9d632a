// SPDX-License-Identifier: MIT
/* Dynamic Memory's saved state (docs/saved-state.md "DMDV", "DMCH";
 * docs/vm-state.md): the device's section holds what outlives a channel
 * (the target, the hot-added memory, the pages ballooned out, as runs);
 * the open channel's holds the negotiation and the request outstanding,
 * which the guest still answers after the restore. Decoding is pure and
 * checks every value against what the device could have done. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/device.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/provider.h"

#define F(id_, kind_, type_, m_) VMSTATE_FIELD(id_, kind_, type_, m_)

static const struct vmstate_field_desc channel_fields[] = {
        F(1, VMSTATE_U32, struct dmvsp_channel_state, version),
        F(2, VMSTATE_BOOL, struct dmvsp_channel_state, caps_done),
        F(3, VMSTATE_U64, struct dmvsp_channel_state, caps),
        F(4, VMSTATE_U32, struct dmvsp_channel_state, next_trans),
        F(5, VMSTATE_U8, struct dmvsp_channel_state, op),
        F(6, VMSTATE_U64, struct dmvsp_channel_state, op_pages),
        F(7, VMSTATE_U64, struct dmvsp_channel_state, op_done),
        F(8, VMSTATE_U64, struct dmvsp_channel_state, op_pfn),
        /* version 2 */
        { .id = 9, .kind = VMSTATE_U64, .min_version = 2, .offset = offsetof(struct dmvsp_channel_state, late),
          .size = sizeof(uint64_t), .name = "late" },
        /* version 3 */
        { .id = 10, .kind = VMSTATE_U64, .min_version = 3,
          .offset = offsetof(struct dmvsp_channel_state, late_hot_add), .size = sizeof(uint64_t),
          .name = "late_hot_add" },
};
const struct vmstate_desc dmvsp_channel_state_desc = {
        .tag = DMVSP_CHANNEL_STATE_TAG, .version = 3, .fields = channel_fields,
        .n_fields = ARRAY_SIZE(channel_fields), .name = "dynamic memory channel",
};

static const char *channel_state_bad(const struct dmvsp_channel_state *st) {
        if (st->version && st->version != DM_VERSION_WIN10 && st->version != DM_VERSION_WIN8 &&
            st->version != DM_VERSION_WIN7)
                return "version";
        if (st->caps_done && !st->version)
                return "caps_done without a version";
        if (!st->caps_done && st->caps)
                return "caps before the report";
        if (st->op > DMVSP_OP_HOT_ADD || (st->op != DMVSP_OP_NONE && !st->caps_done))
                return "op";
        if (st->op == DMVSP_OP_NONE && (st->op_pages || st->op_done || st->op_pfn))
                return "op_pages without an op";
        if (st->op_done > st->op_pages || (st->op != DMVSP_OP_BALLOON && st->op_done))
                return "op_done";
        if (st->op == DMVSP_OP_BALLOON && (st->op_pages == 0 || st->op_pages > DM_BALLOON_STEP_MAX))
                return "op_pages";
        if (st->op != DMVSP_OP_HOT_ADD && st->op_pfn)
                return "op_pfn";
        if (st->late > DM_BALLOON_STEP_MAX || (st->late && !st->caps_done))
                return "late";
        /* while a late hot-add answer is awaited no other hot-add goes out */
        if (st->late_hot_add && (!st->caps_done || st->op == DMVSP_OP_HOT_ADD))
                return "late_hot_add";
        return NULL;
}

int dmvsp_channel_state_decode(const struct vmstate_section *s, struct dmvsp_channel_state *out, char *err,
                               size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &dmvsp_channel_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = channel_state_bad(out);
        return bad ? errorf(err, errlen, -EINVAL, "section DMCH #%u: %s out of range", s->instance, bad) : 0;
}

/* ---- the device section: fields, then the ballooned runs ---- */

enum { DV_TARGET = 1, DV_HOT_ADDED, DV_HOT_ADD_READY, DV_HOT_ADD_DEAD, DV_LOST, DV_RANGES };
#define DV_RANGES_MAX ((VMSTATE_SECTION_MAX - 4096u) / 8u)

struct runs {
        uint8_t *buf;
        size_t n, cap;
};

static int collect_run(void *opaque, uint64_t pfn, uint64_t n) {
        struct runs *r = opaque;
        for (; n; ) {
                uint64_t k = MIN(n, (uint64_t)DM_RANGE_COUNT_MAX);
                if (r->n == r->cap) {
                        size_t nc = r->cap ? r->cap * 2 : 256;
                        if (nc > DV_RANGES_MAX)
                                return -E2BIG;
                        uint8_t *nb = realloc(r->buf, nc * 8);
                        if (!nb)
                                return -ENOMEM;
                        r->buf = nb, r->cap = nc;
                }
                vmstate_put_le64(r->buf + 8 * r->n++, DM_RANGE(pfn, k));
                pfn += k, n -= k;
        }
        return 0;
}

int dmvsp_save(struct dmvsp *dm, struct vmstate_writer *w, char *err, size_t errlen) {
        struct runs runs = { 0 };
        pthread_mutex_lock(&dm->lock);
        int r = dm->quiesced ? dm_pages_each(&dm->pages, collect_run, &runs) : -EBUSY;
        uint64_t target = dm->target, hot_added = dm->hot_added, ready = dm->hot_add_ready, lost = dm->lost;
        bool dead = dm->hot_add_dead;
        pthread_mutex_unlock(&dm->lock);
        if (r < 0) {
                free(runs.buf);
                return errorf(err, errlen, r, "dynamic memory: %s",
                              r == -EBUSY ? "not quiesced" : r == -E2BIG ? "too many ballooned runs to save"
                                                                         : strerror(-r));
        }
        uint8_t b = dead;
        if ((r = vmstate_begin(w, DMVSP_DEVICE_STATE_TAG, 0, 1, 0)) >= 0 && (r = vmstate_put_u64(w, DV_TARGET, target)) >= 0 &&
            (r = vmstate_put_u64(w, DV_HOT_ADDED, hot_added)) >= 0 &&
            (r = vmstate_put_u64(w, DV_HOT_ADD_READY, ready)) >= 0 &&
            (r = vmstate_put(w, DV_HOT_ADD_DEAD, VMSTATE_BOOL, &b, 1)) >= 0 &&
            (r = vmstate_put_u64(w, DV_LOST, lost)) >= 0 &&
            (r = vmstate_put(w, DV_RANGES, VMSTATE_U64_ARRAY, runs.buf ? runs.buf : (void *)&b, runs.n * 8)) >= 0)
                r = vmstate_end(w);
        free(runs.buf);
        return r < 0 ? errorf(err, errlen, r, "writing section DMDV: %s", strerror(-r)) : 0;
}

static int field_u64(const struct vmstate_field *f, uint64_t *out) {
        if (f->kind != VMSTATE_U64 || f->length != 8)
                return -EINVAL;
        *out = vmstate_le64(f->value);
        return 0;
}

int dmvsp_device_state_decode(const struct vmstate_section *s, struct dmvsp_device_state *out,
                              int (*range_fn)(void *opaque, uint64_t pfn, uint64_t n), void *opaque, char *err,
                              size_t errlen) {
        *out = (struct dmvsp_device_state){ 0 };
        if (s->tag != DMVSP_DEVICE_STATE_TAG || s->version != 1 || s->instance != 0)
                return errorf(err, errlen, -EINVAL, "section DMDV: version %u #%u is not one this vmstack reads",
                              s->version, s->instance);
        uint64_t off = 0, seen = 0;
        struct vmstate_field f;
        int r;
        while ((r = vmstate_next_field(s, &off, &f)) > 0) {
                if (f.id < DV_TARGET || f.id > DV_RANGES || (seen & (1ull << f.id)))
                        return errorf(err, errlen, -EINVAL, "section DMDV: field %u unknown or repeated", f.id);
                seen |= 1ull << f.id;
                switch (f.id) {
                case DV_TARGET:
                        r = field_u64(&f, &out->target);
                        break;
                case DV_HOT_ADDED:
                        r = field_u64(&f, &out->hot_added);
                        break;
                case DV_HOT_ADD_READY:
                        r = field_u64(&f, &out->hot_add_ready);
                        break;
                case DV_LOST:
                        r = field_u64(&f, &out->lost);
                        break;
                case DV_HOT_ADD_DEAD:
                        r = f.kind == VMSTATE_BOOL && f.length == 1 && f.value[0] <= 1 ? 0 : -EINVAL;
                        out->hot_add_dead = r == 0 && f.value[0];
                        break;
                case DV_RANGES:
                        r = f.kind == VMSTATE_U64_ARRAY && f.length % 8 == 0 ? 0 : -EINVAL;
                        out->n_ranges = (uint32_t)MIN(f.length / 8u, (uint64_t)UINT32_MAX);
                        for (uint32_t i = 0; r == 0 && i < out->n_ranges; i++) {
                                uint64_t rg = vmstate_le64(f.value + 8u * i);
                                if (DM_RANGE_COUNT(rg) == 0)
                                        r = -EINVAL;
                                else if (range_fn && (r = range_fn(opaque, DM_RANGE_START(rg), DM_RANGE_COUNT(rg))) < 0)
                                        return errorf(err, errlen, -EINVAL,
                                                      "section DMDV: ballooned run %u (pfn 0x%llx, %llu pages) is "
                                                      "not this VM's RAM or repeats another",
                                                      i, (unsigned long long)DM_RANGE_START(rg),
                                                      (unsigned long long)DM_RANGE_COUNT(rg));
                        }
                        break;
                }
                if (r < 0)
                        return errorf(err, errlen, -EINVAL, "section DMDV: field %u malformed", f.id);
        }
        if (r < 0)
                return errorf(err, errlen, -EINVAL, "section DMDV: a malformed field");
        if (seen != 0x7eull)
                return errorf(err, errlen, -EINVAL, "section DMDV: fields missing");
        if (out->hot_add_ready < out->hot_added)
                return errorf(err, errlen, -EINVAL, "section DMDV: hot_add_ready below hot_added");
        return 0;
}

static int take_range(void *opaque, uint64_t pfn, uint64_t n) {
        return dm_pages_take(opaque, pfn, n);
}

int dmvsp_restore(struct dmvsp *dm, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        int r = dmvsp_quiesce(dm);
        if (r < 0)
                return errorf(err, errlen, r, "dynamic memory: %s", strerror(-r));
        const struct vmstate_section *sec = vmstate_find(secs, n, DMVSP_DEVICE_STATE_TAG, 0);
        if (!sec)
                return errorf(err, errlen, -EINVAL, "the state has no DMDV section (saved without dynamic memory)");
        struct dmvsp_device_state st;
        /* Decode into a scratch page map first: nothing changes on a refusal. */
        struct dm_pages pages;
        struct dmvsp_region regions[DM_PAGES_REGIONS_MAX];
        for (size_t i = 0; i < dm->pages.n; i++)
                regions[i] = (struct dmvsp_region){ dm->pages.r[i].pfn, dm->pages.r[i].pages };
        if ((r = dm_pages_init(&pages, regions, dm->pages.n)) < 0)
                return errorf(err, errlen, r, "dynamic memory: %s", strerror(-r));
        /* The window's pages count as far as the saved hot-add went: read
         * that first (a second pass takes the runs). */
        r = dmvsp_device_state_decode(sec, &st, NULL, NULL, err, errlen);
        if (r == 0 && (st.hot_add_ready > dm->cfg.hot_add_pages || st.target > dm->max_pages ||
                       st.lost > dm->max_pages))
                r = errorf(err, errlen, -EINVAL,
                           "section DMDV: %llu pages hot-added, target %llu: more than this VM's maximum (%llu)",
                           (unsigned long long)st.hot_add_ready, (unsigned long long)st.target,
                           (unsigned long long)dm->max_pages);
        if (r == 0) {
                if (dm->cfg.hot_add_pages)
                        dm_pages_set_usable(&pages, dm_window(dm), st.hot_added);
                r = dmvsp_device_state_decode(sec, &st, take_range, &pages, err, errlen);
        }
        if (r == 0 && st.hot_add_ready && dm->ops->hot_add &&
            (r = dm->ops->hot_add(dm->opaque, dm->cfg.hot_add_pfn, st.hot_add_ready)) < 0)
                r = errorf(err, errlen, r, "dynamic memory: adding the %llu MiB hot-added before the save: %s",
                           (unsigned long long)(st.hot_add_ready >> 8), strerror(-r));
        if (r < 0) {
                dm_pages_free(&pages);
                return r;
        }
        pthread_mutex_lock(&dm->lock);
        dm_pages_free(&dm->pages);
        dm->pages = pages;
        dm->target = st.target;
        dm->hot_added = st.hot_added;
        dm->hot_add_ready = st.hot_add_ready;
        dm->hot_add_dead = st.hot_add_dead;
        dm->lost = st.lost;
        pthread_mutex_unlock(&dm->lock);
        return 0;
}

/* ---- the channel's section, through vmbus/simple.h ---- */

int dm_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen) {
        struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        *(struct dmvsp_channel_state *)st = dm->cs;
        return 0;
}

int dm_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen) {
        return dmvsp_channel_state_decode(s, st, err, errlen);
}

int dm_channel_check(struct vmbus_simple *sc, const void *state, uint32_t relid, char *err, size_t errlen) {
        const struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        const struct dmvsp_channel_state *st = state;
        if (st->op == DMVSP_OP_HOT_ADD &&
            (st->op_pfn < dm->cfg.hot_add_pfn || st->op_pages > dm->cfg.hot_add_pages ||
             st->op_pfn - dm->cfg.hot_add_pfn > dm->cfg.hot_add_pages - st->op_pages))
                return errorf(err, errlen, -EINVAL, "section DMCH #%u: a hot-add outside this VM's window", relid);
        if (st->late_hot_add > dm->cfg.hot_add_pages)
                return errorf(err, errlen, -EINVAL, "section DMCH #%u: a late hot-add larger than this VM's window",
                              relid);
        return 0;
}

int dm_channel_quiesce(struct vmbus_simple *sc) {
        return dmvsp_quiesce(container_of(sc, struct dmvsp, sc));
}

/* The guest may have answered while saved: vmbus/simple.h reads the ring
 * as soon as the worker runs again. */
void dm_channel_restore(struct vmbus_simple *sc, const void *st) {
        struct dmvsp *dm = container_of(sc, struct dmvsp, sc);
        dm->cs = *(const struct dmvsp_channel_state *)st;
        dm->op_sent_us = dm_now_us();
        dm->reported = false;
}

/* ---- the row of the worker's device table ---- */

/* Dynamic Memory's row of the worker's device table: the device's state
 * (DMDV) here; DMCH is read through the VMBus server's row (the
 * dm_channel_* hooks above, through vmbus/simple.h). */
static int row_quiesce(void *dev) {
        return dmvsp_quiesce(dev);
}

static void row_resume(void *dev) {
        dmvsp_resume(dev);
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return dmvsp_save(dev, w, err, errlen);
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return dmvsp_restore(dev, secs, n, err, errlen);
}

/* Its own object, "dm". */
static void row_stats(void *dev, struct json_object *into) {
        struct json_object *o = device_stat_object(into, "dm");
        if (!o)
                return;
        struct dmvsp_stats s;
        dmvsp_get_stats(dev, &s);
#define U(k) device_stat_add(o, #k, s.k)
        U(negotiations), U(refused_versions), U(status_reports), U(balloon_requests), U(pages_ballooned);
        U(unballoon_requests), U(pages_unballooned), U(hot_add_requests), U(pages_hot_added), U(hot_add_failures);
        U(bad_messages), U(bad_ranges), U(timeouts), U(late_pages), U(late_hot_add_pages), U(overlay_pages);
#undef U
}

static const uint32_t row_tags[] = { DMVSP_DEVICE_STATE_TAG, DMVSP_CHANNEL_STATE_TAG, 0 };

const struct device_ops dmvsp_device_ops = {
        .name = "dynamic memory", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .stats = row_stats,
};
