// SPDX-License-Identifier: MIT
/* Shutdown (docs/hyperv-guest-interface.md §8.3): a request to power off or
 * reboot; the guest answers S_OK and runs its orderly power-off, which ends
 * in ACPI S5 (or a reset) the worker sees. The message must be at least
 * 2088 bytes: the guest rejects shorter ones. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "internal.h"

static const struct ic_version shutdown_versions[] = { { 3, 2 }, { 3, 1 }, { 3, 0 }, { 1, 0 } };

/* Nothing to send until the owner asks (icvsp_request_shutdown). */
static void sd_ready(struct ic_service *s, uint64_t now) {
}

static void sd_tick(struct ic_service *s, uint64_t now) {
}

static void sd_response(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                        uint64_t now) {
        if (s->ic->ops && s->ic->ops->shutdown_answered)
                s->ic->ops->shutdown_answered(s->ic->opaque, h->status == HV_S_OK, h->status);
}

static void sd_abandoned(struct ic_service *s, uint64_t now) {
        if (s->ic->ops && s->ic->ops->shutdown_answered)
                s->ic->ops->shutdown_answered(s->ic->opaque, false, HV_E_FAIL);
}

const struct ic_service_ops ic_shutdown_ops = {
        .name = "shutdown",
        .msgtype = ICMSGTYPE_SHUTDOWN,
        .msg_versions = shutdown_versions,
        .n_msg_versions = ARRAY_SIZE(shutdown_versions),
        .timeout_ms = ICVSP_REQUEST_TIMEOUT_MS,
        .ready = sd_ready,
        .tick = sd_tick,
        .response = sd_response,
        .abandoned = sd_abandoned,
};

int icvsp_request_shutdown(struct icvsp *ic, bool reboot) {
        if (!ic->enabled[IC_SHUTDOWN])
                return -ENOTSUP;
        /* Linux honours every request as forced (§8.3); say so. */
        struct shutdown_msg_data d = {
                .reason_code = IC_SHUTDOWN_REASON_PLANNED,
                .flags = (reboot ? IC_SHUTDOWN_FLAG_REBOOT : IC_SHUTDOWN_FLAG_SHUTDOWN) | IC_SHUTDOWN_FLAG_FORCED,
        };
        pthread_mutex_lock(&ic->lock);
        int r = ic_request(&ic->svc[IC_SHUTDOWN], &d, sizeof d, ic_now_us());
        pthread_mutex_unlock(&ic->lock);
        return r;
}

bool icvsp_shutdown_ready(struct icvsp *ic) {
        if (!ic->enabled[IC_SHUTDOWN])
                return false;
        pthread_mutex_lock(&ic->lock);
        bool ready = ic->svc[IC_SHUTDOWN].sc.ch && ic->svc[IC_SHUTDOWN].negotiated;
        pthread_mutex_unlock(&ic->lock);
        return ready;
}
