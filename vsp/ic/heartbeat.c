// SPDX-License-Identifier: MIT
/* Heartbeat (docs/hyperv-guest-interface.md §8.4): every interval the host
 * sends a sequence number and the guest answers with it plus one. The
 * guest's liveness is derived from the time of the last good answer. */
#include <string.h>

#include "common/macro.h"
#include "internal.h"

/* What hv_utils accepts (§8.2), newest first. */
static const struct ic_version heartbeat_versions[] = { { 3, 0 }, { 1, 0 } };

const char *icvsp_heartbeat_state_to_string(enum icvsp_heartbeat_state s) {
        switch (s) {
        case ICVSP_HEARTBEAT_NO_CONTACT: return "no-contact";
        case ICVSP_HEARTBEAT_OK: return "ok";
        case ICVSP_HEARTBEAT_LOST: return "lost";
        case ICVSP_HEARTBEAT_UNKNOWN:
        default: return "unknown";
        }
}

/* The owner hears of every change of state and of every answered beat (at
 * most one per interval: a response only counts for the one outstanding
 * request), so that its "last beat" is the last one, not the first. */
static void set_state(struct ic_service *s, enum icvsp_heartbeat_state st, bool beat) {
        if (s->hb_state == st && !beat)
                return;
        s->hb_state = st;
        if (s->ic->ops && s->ic->ops->heartbeat)
                s->ic->ops->heartbeat(s->ic->opaque, st, s->hb_last_beat_us);
}

static void send_beat(struct ic_service *s, uint64_t now) {
        struct heartbeat_msg_data d = { .seq_num = ++s->hb_seq };
        if (ic_send_request(s, &d, sizeof d, now) == 0)
                s->hb_last_sent_us = now;
}

static void hb_ready(struct ic_service *s, uint64_t now) {
        send_beat(s, now);
}

static void hb_tick(struct ic_service *s, uint64_t now) {
        if (s->negotiated && !s->outstanding && now - s->hb_last_sent_us >= s->hb_interval_us)
                send_beat(s, now);
        /* Contact lost: no good answer for LOST_AFTER intervals, counted
         * from the last resume at the earliest (a paused guest cannot answer). */
        uint64_t since = MAX(s->hb_last_beat_us, s->ic->resumed_us);
        if (s->hb_state == ICVSP_HEARTBEAT_OK && now - since > ICVSP_HEARTBEAT_LOST_AFTER * s->hb_interval_us)
                set_state(s, ICVSP_HEARTBEAT_LOST, false);
}

static void hb_response(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                        uint64_t now) {
        struct heartbeat_msg_data d;
        if (len < sizeof d.seq_num) {
                s->ic->stats.bad_packets++;
                return;
        }
        memcpy(&d.seq_num, body, sizeof d.seq_num);
        if (d.seq_num != s->hb_seq + 1) {
                s->ic->stats.bad_packets++;
                return;
        }
        s->hb_last_beat_us = now;
        s->ic->stats.heartbeats_answered++;
        set_state(s, ICVSP_HEARTBEAT_OK, true);
}

/* A beat that timed out is simply not an answer; the liveness check in
 * hb_tick decides what that means. */
static void hb_abandoned(struct ic_service *s, uint64_t now) {
}

const struct ic_service_ops ic_heartbeat_ops = {
        .name = "heartbeat",
        .msgtype = ICMSGTYPE_HEARTBEAT,
        .msg_versions = heartbeat_versions,
        .n_msg_versions = ARRAY_SIZE(heartbeat_versions),
        .timeout_ms = ICVSP_REQUEST_TIMEOUT_MS,
        .ready = hb_ready,
        .tick = hb_tick,
        .response = hb_response,
        .abandoned = hb_abandoned,
};

enum icvsp_heartbeat_state icvsp_heartbeat(struct icvsp *ic, uint64_t *last_beat_us) {
        if (!ic->enabled[IC_HEARTBEAT])
                return ICVSP_HEARTBEAT_UNKNOWN;
        pthread_mutex_lock(&ic->lock);
        struct ic_service *s = &ic->svc[IC_HEARTBEAT];
        enum icvsp_heartbeat_state st = s->hb_state;
        if (last_beat_us)
                *last_beat_us = s->hb_last_beat_us;
        pthread_mutex_unlock(&ic->lock);
        return st;
}
