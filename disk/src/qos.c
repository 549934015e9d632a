// SPDX-License-Identifier: MIT
/* Storage QoS arithmetic (disk/qos.h): the limits' checks, 8 KiB
 * normalisation, the GCRA bucket and the minimum's meter. Pure: the
 * caller passes the time and holds whatever lock it needs. */
#include <errno.h>
#include <stdio.h>

#include "common/config.h"
#include "common/macro.h"
#include "disk/qos.h"

#define NSEC_PER_SEC 1000000000ull

int disk_qos_limits_check(const struct disk_qos_limits *l, char *err, size_t errlen) {
        const struct vm_disk_qos q = { .max_iops = l->max_iops, .min_iops = l->min_iops,
                                       .max_bytes_per_s = l->max_bytes_per_s };
        const char *field, *why = vm_disk_qos_invalid(&q, &field);
        if (!why)
                return 0;
        if (err && errlen)
                snprintf(err, errlen, "%s: %s", field, why);
        return -EINVAL;
}

uint64_t disk_qos_units(uint64_t bytes) {
        return bytes <= DISK_QOS_NORMAL_BYTES ? 1 : DIV_ROUND_UP(bytes, (uint64_t)DISK_QOS_NORMAL_BYTES);
}

void disk_qos_bucket_set(struct disk_qos_bucket *b, const struct disk_qos_limits *l, uint64_t now) {
        b->lim = *l;
        b->tat_iops = b->tat_bytes = now;
        b->gen++;
}

/* The cost of amount at rate per second, in nanoseconds (amount is at most
 * 2^32 bytes, so amount * 1e9 fits in 64 bits). */
static uint64_t cost_ns(uint64_t amount, uint64_t rate) {
        return (uint64_t)((unsigned __int128)amount * NSEC_PER_SEC / rate);
}

/* One limit: the request may start at the due time less the burst; the
 * due time moves on by the request's cost from now, or from where it was
 * when requests are already due later (idle time saves up no more than
 * the burst). */
static uint64_t limit_reserve(uint64_t *tat, uint64_t now, uint64_t cost) {
        uint64_t due = MAX(*tat, now);
        uint64_t start = due > DISK_QOS_BURST_NS ? due - DISK_QOS_BURST_NS : 0;
        *tat = due + cost;
        return MAX(start, now);
}

uint64_t disk_qos_bucket_reserve(struct disk_qos_bucket *b, uint64_t now, uint64_t bytes) {
        uint64_t start = now;
        if (b->lim.max_iops) {
                uint64_t t = limit_reserve(&b->tat_iops, now, cost_ns(disk_qos_units(bytes), b->lim.max_iops));
                start = MAX(start, t);
        }
        if (b->lim.max_bytes_per_s && bytes) {
                uint64_t t = limit_reserve(&b->tat_bytes, now, cost_ns(bytes, b->lim.max_bytes_per_s));
                start = MAX(start, t);
        }
        return start;
}

void disk_qos_meter_start(struct disk_qos_meter *m, uint64_t now) {
        if (m->outstanding++ == 0)
                m->busy_since = now;
}

void disk_qos_meter_done(struct disk_qos_meter *m, uint64_t now, uint64_t units) {
        m->units_done += units;
        if (m->outstanding && --m->outstanding == 0 && now > m->busy_since)
                m->busy_ns += now - m->busy_since;
}

void disk_qos_meter_sample(struct disk_qos_meter *m, uint64_t now, uint64_t min_iops, struct disk_qos_sample *s) {
        uint64_t busy = m->busy_ns;
        if (m->outstanding && now > m->busy_since) { /* busy now: count up to now, go on from here */
                busy += now - m->busy_since;
                m->busy_ns = busy;
                m->busy_since = now;
        }
        uint64_t window = now > m->window_start ? now - m->window_start : 0;
        uint64_t units = m->units_done - m->window_units, busy_w = busy - m->window_busy;
        *s = (struct disk_qos_sample){ .window_ns = window };
        if (window) {
                s->iops = (uint64_t)((unsigned __int128)units * NSEC_PER_SEC / window);
                s->busy_permille = MIN((uint64_t)1000, (uint64_t)((unsigned __int128)busy_w * 1000 / window));
        }
        s->demand = window && s->busy_permille >= DISK_QOS_BUSY_PERMILLE;
        s->min_not_met = min_iops && s->demand && s->iops < min_iops;
        m->window_start = now;
        m->window_units = m->units_done;
        m->window_busy = busy;
}
