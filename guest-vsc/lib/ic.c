// SPDX-License-Identifier: MIT
/* Integration services, guest side (§8): what hv_utils' channel callbacks
 * do with one host packet (drivers/hv/hv_util.c, channel_mgmt.c
 * vmbus_prep_negotiate_resp): check it, act, rewrite it into the answer. */
#include "ic-internal.h"
#include "internal.h"

/* hv_utils' lists, preference order (§8.2). */
static const struct ic_version fw_versions[] = { { 3, 0 }, { 1, 0 } };
static const struct ic_version sd_versions[] = { { 3, 2 }, { 3, 1 }, { 3, 0 }, { 1, 0 } };
static const struct ic_version hb_versions[] = { { 3, 0 }, { 1, 0 } };
static const struct ic_version ts_versions[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };
static const struct ic_version kvp_versions[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };

static const struct {
        uint16_t msgtype;
        const struct ic_version *versions;
        size_t n;
} services[VSC_IC_KINDS] = {
        [VSC_IC_SHUTDOWN] = { ICMSGTYPE_SHUTDOWN, sd_versions, 4 },
        [VSC_IC_HEARTBEAT] = { ICMSGTYPE_HEARTBEAT, hb_versions, 2 },
        [VSC_IC_TIMESYNC] = { ICMSGTYPE_TIMESYNC, ts_versions, 3 },
        [VSC_IC_KVP] = { ICMSGTYPE_KVPEXCHANGE, kvp_versions, 3 },
};

void vsc_ic_init(struct vsc_ic *ic, enum vsc_ic_kind kind) {
        vsc_memset(ic, 0, sizeof *ic);
        ic->kind = kind;
}

static struct ic_version version_at(const uint8_t *buf, size_t i) {
        struct ic_version v;
        vsc_memcpy(&v, buf + ICMSG_HDR + sizeof(struct icmsg_negotiate) + i * sizeof v, sizeof v);
        return v;
}

/* The first of ours (preference order) that the host lists in [from, to). */
static bool pick(const uint8_t *buf, size_t from, size_t to, const struct ic_version *ours, size_t n,
                 struct ic_version *chosen) {
        for (size_t i = 0; i < n; i++)
                for (size_t j = from; j < to; j++) {
                        struct ic_version v = version_at(buf, j);
                        if (v.major == ours[i].major && v.minor == ours[i].minor) {
                                *chosen = v;
                                return true;
                        }
                }
        return false;
}

/* vmbus_prep_negotiate_resp: counts <= 100 each and within the packet;
 * answer counts 1/1 with the two choices at version_data[0..1], or 0/0
 * (the versions then hold the host's counts, as Linux leaves them). */
static void negotiate(struct vsc_ic *ic, uint8_t *buf, size_t len, struct icmsg_hdr *h) {
        uint16_t cnt[2];
        if (len < ICMSG_HDR + sizeof cnt)
                return; /* Linux answers the request unchanged */
        h->icmsgsize = IC_NEGOTIATE_RESPONSE_SIZE;
        vsc_memcpy(cnt, buf + ICMSG_HDR, sizeof cnt);
        struct ic_version fw = { cnt[0], 0 }, msg = { cnt[1], 0 };
        bool ok = cnt[0] <= IC_MAX_VERSIONS && cnt[1] <= IC_MAX_VERSIONS &&
                  IC_NEGOTIATE_PKT_SIZE(cnt[0], cnt[1]) <= len && pick(buf, 0, cnt[0], fw_versions, 2, &fw) &&
                  pick(buf, cnt[0], (size_t)cnt[0] + cnt[1], services[ic->kind].versions, services[ic->kind].n,
                       &msg);
        cnt[0] = cnt[1] = ok ? 1 : 0;
        vsc_memcpy(buf + ICMSG_HDR, cnt, sizeof cnt);
        /* Only within what we answer (Linux writes them past a short packet
         * into its buffer, then sends the received length). */
        size_t at = ICMSG_HDR + sizeof(struct icmsg_negotiate);
        if (len >= at + 2 * sizeof fw) {
                vsc_memcpy(buf + at, &fw, sizeof fw);
                vsc_memcpy(buf + at + sizeof fw, &msg, sizeof msg);
        }
        ic->negotiated = ok;
        if (ok) {
                ic->fw = fw;
                ic->msg = msg;
        }
}

static uint32_t shutdown_request(uint8_t *buf, struct vsc_ic_result *out) {
        struct shutdown_msg_data d;
        vsc_memcpy(&d, buf + ICMSG_HDR, sizeof d);
        out->shutdown_flags = d.flags;
        switch (d.flags) {
        case IC_SHUTDOWN_FLAG_SHUTDOWN:
        case IC_SHUTDOWN_FLAG_SHUTDOWN | IC_SHUTDOWN_FLAG_FORCED:
                out->event = VSC_IC_EV_SHUTDOWN;
                return HV_S_OK;
        case IC_SHUTDOWN_FLAG_REBOOT:
        case IC_SHUTDOWN_FLAG_REBOOT | IC_SHUTDOWN_FLAG_FORCED:
                out->event = VSC_IC_EV_REBOOT;
                return HV_S_OK;
        default: /* 4/5 hibernate: no S4 here; anything else is invalid (§8.3) */
                out->event = VSC_IC_EV_REFUSED;
                return HV_E_FAIL;
        }
}

static bool time_request(const struct vsc_ic *ic, const uint8_t *buf, size_t len, struct vsc_ic_result *out) {
        /* hv_util.c: ts_srv_version > TS_VERSION_3 selects ictimesync_ref_data. */
        if (((uint32_t)ic->msg.major << 16 | ic->msg.minor) > (3u << 16)) {
                struct ictimesync_ref_data d;
                if (len < ICMSG_HDR + sizeof d)
                        return false;
                vsc_memcpy(&d, buf + ICMSG_HDR, sizeof d);
                out->parenttime = d.parenttime;
                out->reftime = d.vmreferencetime;
                out->time_flags = d.flags;
        } else {
                struct ictimesync_data d;
                if (len < ICMSG_HDR + sizeof d)
                        return false;
                vsc_memcpy(&d, buf + ICMSG_HDR, sizeof d);
                out->parenttime = d.parenttime;
                out->time_flags = d.flags;
        }
        out->event = VSC_IC_EV_TIME;
        return true;
}

/* The service's own message; false: drop it without an answer. */
static bool service_request(struct vsc_ic *ic, struct vsc_kvp_store *kvp, uint8_t *buf, size_t len,
                            struct icmsg_hdr *h, struct vsc_ic_result *out) {
        uint64_t seq;
        switch (ic->kind) {
        case VSC_IC_SHUTDOWN:
                if (len < ICMSG_HDR + sizeof(struct shutdown_msg_data))
                        return false; /* §8.3: >= 2088 bytes */
                h->status = shutdown_request(buf, out);
                return true;
        case VSC_IC_HEARTBEAT:
                if (len < IC_HEARTBEAT_MIN_PAYLOAD)
                        return false; /* §8.4 */
                vsc_memcpy(&seq, buf + ICMSG_HDR, sizeof seq);
                out->seq = ++seq;
                vsc_memcpy(buf + ICMSG_HDR, &seq, sizeof seq);
                out->event = VSC_IC_EV_HEARTBEAT;
                return true;
        case VSC_IC_TIMESYNC:
                return time_request(ic, buf, len, out);
        case VSC_IC_KVP:
                if (!kvp)
                        return false;
                h->status = vsc_ic_kvp_serve(kvp, buf + ICMSG_HDR, len - ICMSG_HDR, out);
                out->event = VSC_IC_EV_KVP;
                return true;
        default:
                return false;
        }
}

int vsc_ic_handle(struct vsc_ic *ic, struct vsc_kvp_store *kvp, uint8_t *buf, size_t len,
                  struct vsc_ic_result *out) {
        struct icmsg_hdr h;
        vsc_memset(out, 0, sizeof *out);
        ic->requests++;
        if (len < ICMSG_HDR || ic->kind >= VSC_IC_KINDS) {
                ic->dropped++;
                return 0;
        }
        vsc_memcpy(&h, buf + sizeof(struct vmbuspipe_hdr), sizeof h);
        if (h.icmsgtype == ICMSGTYPE_NEGOTIATE) {
                negotiate(ic, buf, len, &h);
                out->event = VSC_IC_EV_NEGOTIATE;
        } else if (h.icmsgtype == services[ic->kind].msgtype) {
                /* Like hv_utils, whether negotiated or not (versions 0.0 then). */
                if (!service_request(ic, kvp, buf, len, &h, out)) {
                        ic->dropped++;
                        return 0;
                }
        } else if (ic->kind == VSC_IC_KVP) {
                ic->dropped++; /* hv_kvp.c drops other types */
                return 0;
        } else {
                h.status = HV_E_FAIL; /* hv_util.c: "Invalid msg type" answered E_FAIL */
                out->event = VSC_IC_EV_REFUSED;
        }
        out->status = h.status;
        h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        vsc_memcpy(buf + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        ic->answers++;
        return 1;
}
