// SPDX-License-Identifier: MIT
/* The integration services' saved state (docs/saved-state.md "ICCH",
 * "ICKV"; docs/vm-state.md): per open channel, through the VMBus
 * provider hooks, the negotiated versions, the request the guest still
 * owes an answer to (matched by its transaction id after the restore),
 * what quiesce held, and each service's own progress; per VM, through the
 * row, the KVP items. Times are saved as intervals, never as host clock
 * readings. A restored service is quiesced: icvsp_resume sends what was
 * held, then a time SYNC (§8.5), and the channel's ring is served once
 * before the first doorbell. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/device.h"
#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/provider.h"

#define F(id_, kind_, type_, m_) VMSTATE_FIELD(id_, kind_, type_, m_)

_Static_assert(ICVSP_HELD_MAX >= IC_HELD_BODY_MAX, "a held request fits its saved field");

static const struct vmstate_field_desc channel_fields[] = {
        F(1, VMSTATE_U8, struct icvsp_channel_state, service),
        F(2, VMSTATE_BOOL, struct icvsp_channel_state, negotiated),
        F(3, VMSTATE_U16, struct icvsp_channel_state, fw_major),
        F(4, VMSTATE_U16, struct icvsp_channel_state, fw_minor),
        F(5, VMSTATE_U16, struct icvsp_channel_state, msg_major),
        F(6, VMSTATE_U16, struct icvsp_channel_state, msg_minor),
        F(7, VMSTATE_BOOL, struct icvsp_channel_state, outstanding),
        F(8, VMSTATE_U16, struct icvsp_channel_state, outstanding_type),
        F(9, VMSTATE_U64, struct icvsp_channel_state, outstanding_id),
        F(10, VMSTATE_U64, struct icvsp_channel_state, next_id),
        F(11, VMSTATE_BOOL, struct icvsp_channel_state, negotiate_held),
        F(12, VMSTATE_BOOL, struct icvsp_channel_state, held),
        VMSTATE_ARRAY(13, VMSTATE_VARBYTES, struct icvsp_channel_state, held_body, held_len),
        F(14, VMSTATE_U64, struct icvsp_channel_state, hb_seq),
        F(15, VMSTATE_U8, struct icvsp_channel_state, hb_state),
        F(16, VMSTATE_U64, struct icvsp_channel_state, hb_beat_ago_us),
        F(17, VMSTATE_BOOL, struct icvsp_channel_state, ts_sync_pending),
        F(18, VMSTATE_U8, struct icvsp_channel_state, ts_flags_sent),
        F(19, VMSTATE_U32, struct icvsp_channel_state, kvp_pushing),
        F(20, VMSTATE_BOOL, struct icvsp_channel_state, kvp_scanning),
        F(21, VMSTATE_U8, struct icvsp_channel_state, kvp_scan_pool),
        F(22, VMSTATE_U32, struct icvsp_channel_state, kvp_index),
};
const struct vmstate_desc icvsp_channel_state_desc = {
        .tag = ICVSP_CHANNEL_STATE_TAG, .version = 1, .fields = channel_fields,
        .n_fields = ARRAY_SIZE(channel_fields), .name = "integration service channel",
};

static const struct ic_service_ops *const service_ops[IC_N_SERVICES] = {
        [IC_SHUTDOWN] = &ic_shutdown_ops, [IC_HEARTBEAT] = &ic_heartbeat_ops,
        [IC_TIMESYNC] = &ic_timesync_ops, [IC_KVP] = &ic_kvp_ops, [IC_VSS] = &ic_vss_ops,
        [IC_FCOPY] = &ic_fcopy_ops,
};

static bool version_in(const struct ic_version *list, size_t n, uint16_t major, uint16_t minor) {
        for (size_t i = 0; i < n; i++)
                if (list[i].major == major && list[i].minor == minor)
                        return true;
        return false;
}

/* What the service could have negotiated and sent (icvsp.c): versions from
 * the host's own lists (all 0 before negotiation); one request at a time,
 * its id the last one given out (send_packet), of the service's type once
 * negotiated; a negotiate held only before it was sent, a request held only
 * on a negotiated shutdown or VSS channel with nothing outstanding (ic_request);
 * the time-sync flags a request can carry; KVP progress only on KVP; no
 * file-copy request (a copy in progress is never saved, icvsp_save). */
static const char *channel_state_bad(const struct icvsp_channel_state *st) {
        if (st->service >= IC_N_SERVICES)
                return "service";
        const struct ic_service_ops *ops = service_ops[st->service];
        if (st->negotiated ? !version_in(ic_framework_versions, ARRAY_SIZE(ic_framework_versions), st->fw_major,
                                         st->fw_minor) ||
                                     !version_in(ops->msg_versions, ops->n_msg_versions, st->msg_major,
                                                 st->msg_minor)
                           : st->fw_major || st->fw_minor || st->msg_major || st->msg_minor)
                return "versions (never offered, or without a negotiation)";
        if (st->outstanding &&
            (st->outstanding_type != (st->negotiated ? ops->msgtype : ICMSGTYPE_NEGOTIATE) ||
             st->outstanding_id == 0 || st->outstanding_id != st->next_id))
                return "outstanding request (type or transaction id)";
        if (st->service == IC_FCOPY && st->outstanding && st->outstanding_type == ICMSGTYPE_FCOPY)
                return "outstanding request of a file copy";
        if (st->negotiate_held && (st->negotiated || st->outstanding))
                return "negotiate_held";
        if (st->held && (!st->negotiated || st->outstanding || (st->service != IC_SHUTDOWN && st->service != IC_VSS) ||
                         st->held_len == 0 ||
                         st->held_len > IC_HELD_BODY_MAX))
                return "held";
        if (st->hb_state > ICVSP_HEARTBEAT_LOST)
                return "hb_state";
        if (st->ts_flags_sent > ICTIMESYNCFLAG_SAMPLE)
                return "ts_flags_sent";
        if (st->service != IC_KVP &&
            (st->kvp_pushing != UINT32_MAX || st->kvp_scanning || st->kvp_scan_pool || st->kvp_index))
                return "KVP progress on another service";
        if (st->kvp_pushing != UINT32_MAX && st->kvp_pushing >= ICVSP_KVP_MAX_HOST_ITEMS)
                return "kvp_pushing";
        /* scan_pool 2: past the last pool (kvp.c scan_pools) */
        if (st->kvp_scan_pool > 2 || (st->kvp_scanning && st->kvp_scan_pool == 2) ||
            st->kvp_index >= ICVSP_KVP_MAX_INDEX)
                return "kvp_scan";
        return NULL;
}

int icvsp_channel_state_decode(const struct vmstate_section *s, struct icvsp_channel_state *out, char *err,
                               size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &icvsp_channel_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = channel_state_bad(out);
        return bad ? errorf(err, errlen, -EINVAL, "section ICCH #%u: %s out of range", s->instance, bad) : 0;
}

static unsigned service_index(const struct ic_service *s) {
        return (unsigned)(s - s->ic->svc);
}

/* ---- VMBus provider hooks ---- */

/* A copy in progress depends on the caller's open file and on the guest
 * daemon's open file: neither survives a save, so the owner ends it first. */
static int fcopy_refuse(char *err, size_t errlen) {
        return errorf(err, errlen, -EBUSY, "integration services: a file copy to the guest is in progress");
}

int ic_channel_save(struct vmbus_simple *sc, void *state, char *err, size_t errlen) {
        struct ic_service *s = container_of(sc, struct ic_service, sc);
        struct icvsp_channel_state *st = state;
        if (ic_fcopy_active(s))
                return fcopy_refuse(err, errlen);
        uint64_t now = ic_now_us();
        *st = (struct icvsp_channel_state){
                .service = (uint8_t)service_index(s), .negotiated = s->negotiated,
                .fw_major = s->fw.major, .fw_minor = s->fw.minor, .msg_major = s->msg.major,
                .msg_minor = s->msg.minor, .outstanding = s->outstanding, .outstanding_type = s->outstanding_type,
                .outstanding_id = s->outstanding_id, .next_id = s->next_id, .negotiate_held = s->negotiate_held,
                .held = s->held, .held_len = (uint32_t)s->held_len, .hb_seq = s->hb_seq,
                .hb_state = (uint8_t)s->hb_state,
                .hb_beat_ago_us = s->hb_last_beat_us ? now - MIN(now, s->hb_last_beat_us) + 1 : 0,
                .ts_sync_pending = s->ts_sync_pending, .ts_flags_sent = s->ts_flags_sent,
                .kvp_pushing = UINT32_MAX,
        };
        memcpy(st->held_body, s->held_body, s->held_len);
        if (s->kvp)
                ic_kvp_get_progress(s, st);
        return 0;
}

int ic_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen) {
        return icvsp_channel_state_decode(s, st, err, errlen);
}

int ic_channel_check(struct vmbus_simple *sc, const void *state, uint32_t relid, char *err, size_t errlen) {
        const struct ic_service *s = container_of(sc, struct ic_service, sc);
        const struct icvsp_channel_state *st = state;
        if (st->service != service_index(s))
                return errorf(err, errlen, -EINVAL, "section ICCH #%u: service %u on the %s channel", relid,
                              st->service, s->ops->name);
        if (st->kvp_pushing != UINT32_MAX && !s->kvp)
                return errorf(err, errlen, -EINVAL, "section ICCH #%u: KVP progress on the %s channel", relid,
                              s->ops->name);
        return 0;
}

/* Restored quiesced: the service thread parked before it can see the
 * channel (idempotent). */
int ic_channel_quiesce(struct vmbus_simple *sc) {
        return icvsp_quiesce(container_of(sc, struct ic_service, sc)->ic);
}

/* The guest may have answered while saved: vmbus/simple.h reads the ring
 * at once. */
void ic_channel_restore(struct vmbus_simple *sc, const void *state) {
        struct ic_service *s = container_of(sc, struct ic_service, sc);
        const struct icvsp_channel_state *st = state;
        uint64_t now = ic_now_us();
        s->negotiated = st->negotiated;
        s->fw = (struct ic_version){ st->fw_major, st->fw_minor };
        s->msg = (struct ic_version){ st->msg_major, st->msg_minor };
        s->outstanding = st->outstanding;
        s->outstanding_type = st->outstanding_type;
        s->outstanding_id = st->outstanding_id;
        s->next_id = st->next_id;
        s->sent_us = now; /* resume restarts the clock of the request anyway */
        s->negotiate_held = st->negotiate_held;
        s->held = st->held;
        s->held_len = MIN((size_t)st->held_len, sizeof s->held_body);
        memcpy(s->held_body, st->held_body, s->held_len);
        s->hb_seq = st->hb_seq;
        s->hb_state = (enum icvsp_heartbeat_state)st->hb_state;
        s->hb_last_beat_us = st->hb_beat_ago_us ? now - MIN(now, st->hb_beat_ago_us - 1) : 0;
        s->hb_last_sent_us = now;
        s->ts_sync_pending = st->ts_sync_pending;
        s->ts_flags_sent = st->ts_flags_sent;
        if (s->kvp)
                ic_kvp_set_progress(s, st);
}

/* ---- the row: KVP items ---- */

int icvsp_save(struct icvsp *ic, struct vmstate_writer *w, char *err, size_t errlen) {
        pthread_mutex_lock(&ic->lock);
        bool copying = ic_fcopy_active(&ic->svc[IC_FCOPY]);
        int r = !copying && ic->enabled[IC_KVP] ? ic_kvp_save(&ic->svc[IC_KVP], w) : 0;
        pthread_mutex_unlock(&ic->lock);
        if (copying)
                return fcopy_refuse(err, errlen);
        return r < 0 ? errorf(err, errlen, r, "writing section ICKV: %s", strerror(-r)) : 0;
}

int icvsp_restore(struct icvsp *ic, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        int r = icvsp_quiesce(ic); /* come back quiesced, channels open or not */
        if (r < 0)
                return r;
        const struct vmstate_section *sec = vmstate_find(secs, n, ICVSP_KVP_STATE_TAG, 0);
        if (!ic->enabled[IC_KVP])
                return sec ? errorf(err, errlen, -EINVAL, "the state has KVP items, this VM has no KVP service") : 0;
        if (!sec)
                return errorf(err, errlen, -EINVAL, "the state has no ICKV section");
        pthread_mutex_lock(&ic->lock);
        r = ic_kvp_restore(&ic->svc[IC_KVP], sec, err, errlen);
        pthread_mutex_unlock(&ic->lock);
        return r;
}

/* ---- the row of the worker's device table ---- */

/* The integration services' row of the worker's device table: no
 * timeouts while quiesced, host requests held, a time SYNC after resuming
 * (§8.5). It saves the KVP items; each open channel's state goes through
 * the VMBus server's row (the ic_channel_* hooks above, through vmbus/simple.h). */
static int row_quiesce(void *dev) {
        return icvsp_quiesce(dev);
}

static void row_resume(void *dev) {
        icvsp_resume(dev);
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return icvsp_save(dev, w, err, errlen);
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return icvsp_restore(dev, secs, n, err, errlen);
}

/* Top-level "ic_*" keys. */
static void row_stats(void *dev, struct json_object *into) {
        struct icvsp_stats s;
        icvsp_get_stats(dev, &s);
        device_stat_add(into, "ic_requests", s.requests_sent);
        device_stat_add(into, "ic_bad_packets", s.bad_packets + s.kvp_bad_items);
        device_stat_add(into, "ic_timeouts", s.timeouts);
        device_stat_add(into, "ic_heartbeats", s.heartbeats_answered);
        device_stat_add(into, "ic_timesync_syncs", s.timesync_syncs);
        device_stat_add(into, "ic_timesync_samples", s.timesync_samples);
        device_stat_add(into, "ic_kvp_scans", s.kvp_scans);
        device_stat_add(into, "ic_kvp_push_failures", s.kvp_push_failures);
}

static const uint32_t row_tags[] = { ICVSP_CHANNEL_STATE_TAG, ICVSP_KVP_STATE_TAG, 0 };

const struct device_ops icvsp_device_ops = {
        .name = "integration services", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .stats = row_stats,
};
