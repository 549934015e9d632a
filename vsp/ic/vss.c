// SPDX-License-Identifier: MIT
/* VSS, the backup integration service (hv/ic.h, docs/integration-services.md
 * "VSS"): the host asks the guest to freeze its file systems before a
 * production checkpoint and to thaw them after. A Linux guest hands FREEZE,
 * THAW and HOT_BACKUP to hv_vss_daemon and answers with its result, or
 * E_FAIL at once when no daemon registered; the owner learns the answer
 * (vss_answered) and decides. */
#include <errno.h>

#include "common/macro.h"
#include "internal.h"

static const struct ic_version vss_versions[] = { { 5, 0 } };

/* Nothing to send until the owner asks (icvsp_request_vss). */
static void vss_ready(struct ic_service *s, uint64_t now) {
}

static void vss_tick(struct ic_service *s, uint64_t now) {
}

/* Linux answers in place, so the body still names the operation; but the
 * answer is to what we asked, whatever a guest wrote there: a FREEZE
 * answered as a THAW is still the FREEZE's answer, and the owner waiting
 * for it must hear it as such. Only the status is the guest's. */
static void vss_response(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                         uint64_t now) {
        if (s->ic->ops && s->ic->ops->vss_answered)
                s->ic->ops->vss_answered(s->ic->opaque, s->vss_op, h->status);
}

static void vss_abandoned(struct ic_service *s, uint64_t now) {
        if (s->ic->ops && s->ic->ops->vss_answered)
                s->ic->ops->vss_answered(s->ic->opaque, s->vss_op, HV_E_FAIL);
}

const struct ic_service_ops ic_vss_ops = {
        .name = "vss",
        .msgtype = ICMSGTYPE_VSS,
        .msg_versions = vss_versions,
        .n_msg_versions = ARRAY_SIZE(vss_versions),
        .timeout_ms = ICVSP_VSS_TIMEOUT_MS,
        .ready = vss_ready,
        .tick = vss_tick,
        .response = vss_response,
        .abandoned = vss_abandoned,
};

int icvsp_request_vss(struct icvsp *ic, uint8_t op) {
        if (!ic->enabled[IC_VSS])
                return -ENOTSUP;
        if (op != VSS_OP_FREEZE && op != VSS_OP_THAW && op != VSS_OP_HOT_BACKUP)
                return -EINVAL;
        struct hv_vss_msg m = { .operation = op };
        pthread_mutex_lock(&ic->lock);
        int r = ic_request(&ic->svc[IC_VSS], &m, sizeof m, ic_now_us());
        if (r == 0)
                ic->svc[IC_VSS].vss_op = op;
        pthread_mutex_unlock(&ic->lock);
        return r;
}

bool icvsp_vss_ready(struct icvsp *ic) {
        if (!ic->enabled[IC_VSS])
                return false;
        pthread_mutex_lock(&ic->lock);
        bool ready = ic->svc[IC_VSS].sc.ch && ic->svc[IC_VSS].negotiated;
        pthread_mutex_unlock(&ic->lock);
        return ready;
}
