// SPDX-License-Identifier: MIT
/* Time sync (docs/hyperv-guest-interface.md §8.5): the host's UTC time in
 * 100 ns units since 1601, with flag SYNC after negotiation and after each
 * resume (the guest steps its clock) and SAMPLE periodically (the guest
 * only records it, for its PTP clock). Message versions above 3.x carry the
 * partition reference counter sampled with it (ictimesync_ref_data), so
 * the guest can tell how old the sample is; 1.x and 3.x the plain
 * ictimesync_data. Every message is a transaction the guest answers. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"

/* hv_utils accepts 4.0, 3.0, 1.0 (§8.2). Without a reference time source
 * icvsp offers the list from its second entry on. */
static const struct ic_version timesync_versions[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };

size_t ic_timesync_body(uint8_t *buf, size_t cap, struct ic_version msg, uint64_t parenttime, uint64_t reftime,
                        uint8_t flags) {
        if (msg.major >= IC_TIMESYNC_REF_DATA_MAJOR) {
                struct ictimesync_ref_data d = { .parenttime = parenttime, .vmreferencetime = reftime, .flags = flags };
                if (cap < sizeof d)
                        return 0;
                memcpy(buf, &d, sizeof d);
                return sizeof d;
        }
        /* childtime/roundtriptime: Linux ignores them; Hyper-V sends 0. */
        struct ictimesync_data d = { .parenttime = parenttime, .flags = flags };
        if (cap < sizeof d)
                return 0;
        memcpy(buf, &d, sizeof d);
        return sizeof d;
}

/* The host's UTC in 100 ns units since 1601-01-01 (§8.5). */
static uint64_t host_time_100ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return IC_WLTIMEDELTA + (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

static void send_time(struct ic_service *s, uint8_t flags, uint64_t now) {
        const struct icvsp_config *c = &s->ic->cfg;
        uint8_t body[sizeof(struct ictimesync_data)];
        /* Sample both clocks back to back: the guest relates them. */
        uint64_t parent = host_time_100ns();
        uint64_t ref = c->reference_time ? c->reference_time(c->reference_opaque) : 0;
        size_t n = ic_timesync_body(body, sizeof body, s->msg, parent, ref, flags);
        if (n == 0 || ic_send_request(s, body, n, now) < 0)
                return;
        s->ts_last_us = now;
        s->ts_flags_sent = flags;
        if (flags == ICTIMESYNCFLAG_SYNC) {
                s->ts_sync_pending = false;
                s->ic->stats.timesync_syncs++;
        } else {
                s->ic->stats.timesync_samples++;
        }
}

static void ts_ready(struct ic_service *s, uint64_t now) {
        send_time(s, ICTIMESYNCFLAG_SYNC, now);
}

static void ts_tick(struct ic_service *s, uint64_t now) {
        if (!s->negotiated || s->outstanding)
                return;
        if (s->ts_sync_pending)
                send_time(s, ICTIMESYNCFLAG_SYNC, now);
        else if (s->ts_interval_us && now - s->ts_last_us >= s->ts_interval_us)
                send_time(s, ICTIMESYNCFLAG_SAMPLE, now);
}

static void ts_response(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                        uint64_t now) {
        s->ic->stats.timesync_answered++;
}

/* A SYNC that got no answer is sent again: the guest must step its clock. */
static void ts_abandoned(struct ic_service *s, uint64_t now) {
        if (s->ts_flags_sent == ICTIMESYNCFLAG_SYNC)
                s->ts_sync_pending = true;
}

/* §8.5: after a resume the guest's clock is behind by the pause. */
static void ts_resumed(struct ic_service *s, uint64_t now) {
        if (s->sc.ch)
                s->ts_sync_pending = true;
}

const struct ic_service_ops ic_timesync_ops = {
        .name = "timesync",
        .msgtype = ICMSGTYPE_TIMESYNC,
        .msg_versions = timesync_versions,
        .n_msg_versions = ARRAY_SIZE(timesync_versions),
        .timeout_ms = ICVSP_REQUEST_TIMEOUT_MS,
        .ready = ts_ready,
        .tick = ts_tick,
        .response = ts_response,
        .abandoned = ts_abandoned,
        .resumed = ts_resumed,
};

bool icvsp_timesync_ready(struct icvsp *ic, unsigned *major) {
        if (!ic->enabled[IC_TIMESYNC])
                return false;
        pthread_mutex_lock(&ic->lock);
        struct ic_service *s = &ic->svc[IC_TIMESYNC];
        bool ready = s->sc.ch && s->negotiated;
        if (major)
                *major = ready ? s->msg.major : 0;
        pthread_mutex_unlock(&ic->lock);
        return ready;
}
