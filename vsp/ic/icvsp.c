// SPDX-License-Identifier: MIT
/* The integration-services host: one device worker (common/devworker.h)
 * per VM serving every IC channel (the channels' doorbells and a periodic
 * timer). The services are host-initiated request/answer protocols with
 * one request outstanding at a time (§5.6: the shutdown callback reads one
 * packet per interrupt; §8.6: KVP transactions are serialized), so one
 * thread and one lock are plenty.
 *
 * Each service's channel is a single-channel device (vmbus/simple.h):
 * the helper serves its doorbell on this worker under ic->lock, and owns
 * the open/close/save/restore plumbing; this file is the IC protocol
 * (negotiation, one request at a time, answers matched by transaction
 * id). ic->lock is also held by the timer and the API calls. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"
#include "vmbus/simple.h"

uint64_t ic_now_us(void) {
        return now_us(CLOCK_MONOTONIC);
}

static int send_packet(struct ic_service *s, const uint8_t *pkt, size_t n, uint16_t type, uint64_t now) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(s->sc.ch);
        uint64_t id = ++s->next_id;
        vmbus_ring_send_begin(rp);
        int r = vmbus_ring_send_inband(rp, id, false, pkt, n);
        int signalled = vmbus_ring_send_end(rp);
        if (r < 0)
                return r;
        /* The guest's interrupt_mask was set: hv_fcopy_uio_daemon's
         * uio_hv_generic masks at its interrupt and unmasks (and signals
         * us) after its answer, without looking at the ring again, so a
         * request sent in between is signalled once it unmasks. */
        s->kick_owed = signalled == 0;
        s->outstanding = true;
        s->outstanding_type = type;
        s->outstanding_id = id;
        s->sent_us = now;
        return 0;
}

int ic_send_request(struct ic_service *s, const void *body, size_t len, uint64_t now) {
        uint8_t pkt[IC_PACKET_MAX];
        if (!s->sc.ch || !s->negotiated || s->outstanding || s->held)
                return s->outstanding || s->held ? -EBUSY : -ENOTCONN;
        size_t n = icmsg_build(pkt, sizeof pkt, s->ops->msgtype, s->fw, s->msg, (uint8_t)(s->next_id + 1), body,
                               len);
        if (n == 0)
                return -EMSGSIZE;
        int r = send_packet(s, pkt, n, s->ops->msgtype, now);
        if (r == 0)
                s->ic->stats.requests_sent++;
        return r;
}

int ic_request(struct ic_service *s, const void *body, size_t len, uint64_t now) {
        if (!s->ic->quiesced)
                return ic_send_request(s, body, len, now);
        if (!s->sc.ch || !s->negotiated || s->outstanding || s->held)
                return s->outstanding || s->held ? -EBUSY : -ENOTCONN;
        if (len > sizeof s->held_body)
                return -EMSGSIZE;
        memcpy(s->held_body, body, len);
        s->held_len = len;
        s->held = true;
        return 0;
}

static int send_negotiate(struct ic_service *s, uint64_t now) {
        uint8_t pkt[IC_PACKET_MAX];
        size_t n = ic_negotiate_build(pkt, sizeof pkt, s->msg_versions, s->n_msg_versions, (uint8_t)(s->next_id + 1));
        if (n == 0)
                return -EINVAL;
        return send_packet(s, pkt, n, ICMSGTYPE_NEGOTIATE, now);
}

static void negotiated(struct ic_service *s, const uint8_t *body, size_t blen, uint64_t now) {
        int r = ic_negotiate_parse(body, blen, s->msg_versions, s->n_msg_versions, &s->fw, &s->msg);
        if (r < 0) {
                /* No common version: the service stays unusable until the
                 * guest opens it again. */
                s->ic->stats.negotiation_failures++;
                return;
        }
        s->negotiated = true;
        s->ic->stats.negotiations++;
        s->ops->ready(s, now);
}

/* hv_utils echoes the request's VMBus trans_id (§8.1). hv_fcopy_uio_daemon
 * does not: tools/hv/vmbus_bufring.c sends every packet with trans_id
 * VMBUS_RQST_ERROR (all ones); its answer, the request rewritten in place,
 * still carries the icmsg header's ictransaction_id we gave it. */
static bool answers_outstanding(const struct ic_service *s, const struct icmsg_hdr *h, uint64_t trans_id) {
        if (!s->outstanding)
                return false;
        if (trans_id == s->outstanding_id)
                return true;
        return trans_id == IC_UIO_TRANS_ID && h->ictransaction_id == (uint8_t)s->outstanding_id;
}

static void handle_answer(struct ic_service *s, const uint8_t *pkt, size_t len, uint64_t trans_id, uint64_t now) {
        struct icmsg_hdr h;
        const uint8_t *body;
        size_t blen;
        if (icmsg_parse(pkt, len, &h, &body, &blen) < 0) {
                s->ic->stats.bad_packets++;
                return;
        }
        /* An answer to a request that timed out (the guest was slow) or
         * that we never sent: the guest echoes our trans_id (§8.1). */
        if (!answers_outstanding(s, &h, trans_id)) {
                s->ic->stats.stale_answers++;
                return;
        }
        if (h.icmsgtype != s->outstanding_type) {
                s->ic->stats.bad_packets++;
                return;
        }
        s->outstanding = false;
        s->ic->stats.responses++;
        if (h.icmsgtype == ICMSGTYPE_NEGOTIATE)
                negotiated(s, body, blen, now);
        else
                s->ops->response(s, &h, body, blen, now);
}

/* The channel's packets (vmbus/simple.h serves the ring). */
static void on_packet(struct vmbus_simple *sc, const struct vmbus_packet *p) {
        struct ic_service *s = container_of(sc, struct ic_service, sc);
        if (p && p->type == VM_PKT_DATA_INBAND)
                handle_answer(s, vmbus_packet_payload(p), vmbus_packet_payload_len(p), p->trans_id, ic_now_us());
        else
                s->ic->stats.bad_packets++;
}

static void on_served(struct vmbus_simple *sc) {
        struct ic_service *s = container_of(sc, struct ic_service, sc);
        /* A doorbell (or the tick) after the guest unmasked: the request
         * its mask held back gets its signal (vmbus_ring_kick). */
        if (s->kick_owed && vmbus_ring_kick(vmbus_channel_rings(s->sc.ch)) != -EAGAIN)
                s->kick_owed = false;
        /* The answer may free the service for its next request. */
        if (s->negotiated && !s->outstanding && !s->ic->paused)
                s->ops->tick(s, ic_now_us());
}

uint64_t ic_service_timeout_us(const struct ic_service *s) {
        return s->ops->guest_clock ? s->timeout_us * atomic_load(&s->ic->time_dilation) : s->timeout_us;
}

void icvsp_set_time_dilation(struct icvsp *ic, uint32_t d) {
        atomic_store(&ic->time_dilation, d ? d : 1u);
}

static void tick(struct icvsp *ic, uint64_t now) {
        if (ic->paused)
                return;
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                struct ic_service *s = &ic->svc[i];
                if (!ic->enabled[i])
                        continue;
                if (s->outstanding && s->outstanding_type != ICMSGTYPE_NEGOTIATE &&
                    now - s->sent_us > ic_service_timeout_us(s)) {
                        s->outstanding = false;
                        ic->stats.timeouts++;
                        s->ops->abandoned(s, now);
                }
                s->ops->tick(s, now);
        }
}

/* ---- the icvsp thread ---- */

static int on_timer(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct icvsp *ic = opaque;
        pthread_mutex_lock(&ic->lock);
        uint64_t now = ic_now_us();
        tick(ic, now);
        /* A missed doorbell cannot strand a request: poll each tick. */
        for (unsigned i = 0; i < IC_N_SERVICES; i++)
                vmbus_simple_poll(&ic->svc[i].sc);
        pthread_mutex_unlock(&ic->lock);
        return 0;
}

/* ---- VMBus provider callbacks (VP threads) ---- */

static void reset_channel_state(struct ic_service *s) {
        s->negotiated = false;
        s->outstanding = false;
        s->kick_owed = false;
        s->held = false;
        s->negotiate_held = false;
}

static int on_opened(struct vmbus_simple *sc) {
        struct ic_service *s = container_of(sc, struct ic_service, sc);
        reset_channel_state(s);
        /* The host speaks first on IC channels (§8.2); while quiesced it
         * does at resume. */
        s->negotiate_held = s->ic->quiesced;
        return s->ic->quiesced ? 0 : send_negotiate(s, ic_now_us());
}

/* A refused restore's undo (quiet) closes what it restored: the request
 * it held is the saved VM's, never answered or failed here (the VM stays
 * saved). */
static void on_closed(struct vmbus_simple *sc, bool quiet) {
        struct ic_service *s = container_of(sc, struct ic_service, sc);
        bool pending = ((s->outstanding && s->outstanding_type != ICMSGTYPE_NEGOTIATE) || s->held) && !quiet;
        reset_channel_state(s);
        uint64_t now = ic_now_us();
        if (pending)
                s->ops->abandoned(s, now);
        if (!quiet && s->ops->closed)
                s->ops->closed(s, now);
}

static const struct vmbus_simple_ops ic_simple = {
        .name = "integration services",
        .state = &icvsp_channel_state_desc,
        .state_size = sizeof(struct icvsp_channel_state),
        .opened = on_opened,
        .packet = on_packet,
        .served = on_served,
        .closed = on_closed,
        .save = ic_channel_save,
        .restore = ic_channel_restore,
        .decode = ic_channel_decode,
        .check = ic_channel_check,
        .quiesce = ic_channel_quiesce,
};

#define IC_PROVIDER(sym, nm, guid, max_pkt)                                                 \
        static const struct vmbus_provider_ops sym = {                                      \
                .name = nm, .class_id = { guid },                                           \
                .chn_flags = VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE, \
                .pipe_mode = VMBUS_PIPE_TYPE_MESSAGE, .guest_max_packet = max_pkt,          \
                VMBUS_SIMPLE_PROVIDER,                                                      \
        }
IC_PROVIDER(shutdown_provider, "shutdown", HV_SHUTDOWN_GUID, IC_GUEST_MAX_PACKET);
IC_PROVIDER(heartbeat_provider, "heartbeat", HV_HEART_BEAT_GUID, IC_GUEST_MAX_PACKET);
IC_PROVIDER(timesync_provider, "timesync", HV_TS_GUID, IC_GUEST_MAX_PACKET);
IC_PROVIDER(kvp_provider, "kvp", HV_KVP_GUID, IC_KVP_GUEST_MAX_PACKET);
IC_PROVIDER(vss_provider, "vss", HV_VSS_GUID, IC_VSS_GUEST_MAX_PACKET);
IC_PROVIDER(fcopy_provider, "fcopy", HV_FCOPY_GUID, IC_FCOPY_GUEST_MAX_PACKET);

/* The file-copy instance vmstack offered before it took Hyper-V's
 * (HV_FCOPY_INSTANCE): a VM saved then keeps it when restored. */
#define IC_FCOPY_FORMER_INSTANCE \
        HV_GUID_BYTES(0xd0dd75b6, 0xefa8, 0x4795, 0xbd, 0x5a, 0x8e, 0x64, 0x8a, 0x0f, 0xf3, 0x60)

static const struct {
        const struct vmbus_provider_ops *provider;
        const struct ic_service_ops *ops;
        uint8_t instance[16]; /* Hyper-V's fixed instances (§4.11); heartbeat's is per VM */
        uint8_t former[16];   /* an instance older versions offered (vmbus_device_config) */
} services[IC_N_SERVICES] = {
        [IC_SHUTDOWN] = { &shutdown_provider, &ic_shutdown_ops, HV_SHUTDOWN_INSTANCE },
        [IC_HEARTBEAT] = { &heartbeat_provider, &ic_heartbeat_ops, { 0 } },
        [IC_TIMESYNC] = { &timesync_provider, &ic_timesync_ops, HV_TIMESYNC_INSTANCE },
        [IC_KVP] = { &kvp_provider, &ic_kvp_ops, HV_KVP_INSTANCE },
        [IC_VSS] = { &vss_provider, &ic_vss_ops, HV_VSS_INSTANCE },
        [IC_FCOPY] = { &fcopy_provider, &ic_fcopy_ops, HV_FCOPY_INSTANCE, IC_FCOPY_FORMER_INSTANCE },
};

/* ---- lifecycle ---- */

static int start_thread(struct icvsp *ic) {
        int r = devworker_new(&(struct devworker_config){ .name = "icvsp" }, &ic->w);
        for (unsigned i = 0; i < IC_N_SERVICES && r == 0; i++)
                vmbus_simple_init(&ic->svc[i].sc, &ic_simple, &ic->lock, ic->w, ic->rxbuf, sizeof ic->rxbuf);
        if (r == 0)
                r = devworker_add_timer(ic->w, ICVSP_TICK_MS * 1000ull, ICVSP_TICK_MS * 1000ull, on_timer, ic, NULL);
        if (r == 0)
                r = devworker_start(ic->w);
        return r;
}

static void init_service(struct icvsp *ic, unsigned i) {
        struct ic_service *s = &ic->svc[i];
        const struct icvsp_config *c = &ic->cfg;
        uint32_t hb_ms = c->heartbeat_interval_ms ? c->heartbeat_interval_ms : ICVSP_HEARTBEAT_INTERVAL_MS;
        const struct ic_service_ops *ops = services[i].ops;
        *s = (struct ic_service){
                .ic = ic, .ops = ops, .msg_versions = ops->msg_versions, .n_msg_versions = ops->n_msg_versions,
                .timeout_us = (c->request_timeout_ms ? c->request_timeout_ms : ops->timeout_ms) * 1000ull,
                .hb_interval_us = hb_ms * 1000ull, .hb_state = ICVSP_HEARTBEAT_NO_CONTACT,
                .ts_interval_us = c->timesync_interval_s * 1000000ull,
        };
        /* §8.5: v4 carries the partition reference time; without a source
         * for it, offer only the versions without (the list ends 3.0, 1.0). */
        if (i == IC_TIMESYNC && !c->reference_time) {
                s->msg_versions++;
                s->n_msg_versions--;
        }
}

static int add_service(struct icvsp *ic, struct vmbus_server *srv, unsigned i) {
        struct ic_service *s = &ic->svc[i];
        struct vmbus_device_config dc = { .ops = services[i].provider, .data = &s->sc };
        memcpy(dc.instance_id.b, services[i].instance, 16);
        memcpy(dc.former_instance.b, services[i].former, 16);
        if (i == IC_HEARTBEAT)
                dc.instance_id = ic->cfg.heartbeat_instance;
        return vmbus_server_add_device(srv, &dc, &s->dev);
}

int icvsp_new(struct vmbus_server *srv, const struct icvsp_config *cfg, const struct icvsp_owner_ops *ops,
              void *opaque, struct icvsp **out) {
        struct icvsp *ic = calloc(1, sizeof *ic);
        if (!ic)
                return -ENOMEM;
        pthread_mutex_init(&ic->lock, NULL);
        ic->ops = ops;
        ic->opaque = opaque;
        ic->cfg = *cfg;
        atomic_init(&ic->time_dilation, cfg->time_dilation ? cfg->time_dilation : 1u);
        ic->enabled[IC_SHUTDOWN] = cfg->shutdown;
        ic->enabled[IC_HEARTBEAT] = cfg->heartbeat;
        ic->enabled[IC_TIMESYNC] = cfg->timesync;
        ic->enabled[IC_KVP] = cfg->kvp;
        ic->enabled[IC_VSS] = cfg->vss;
        ic->enabled[IC_FCOPY] = cfg->fcopy;
        for (unsigned i = 0; i < IC_N_SERVICES; i++)
                init_service(ic, i);
        /* Each service's own state exists before the thread's first tick,
         * which reads it: the thread may tick before a device is added
         * (a loaded host can stall this constructor past ICVSP_TICK_MS). */
        int r = 0;
        if (ic->enabled[IC_KVP])
                r = ic_kvp_new(&ic->svc[IC_KVP]);
        if (r == 0 && ic->enabled[IC_FCOPY])
                r = ic_fcopy_new(&ic->svc[IC_FCOPY]);
        if (r == 0)
                r = start_thread(ic);
        for (unsigned i = 0; i < IC_N_SERVICES && r == 0; i++)
                if (ic->enabled[i])
                        r = add_service(ic, srv, i);
        if (r < 0) {
                icvsp_free(ic);
                return r;
        }
        *out = ic;
        return 0;
}

void icvsp_free(struct icvsp *ic) {
        if (!ic)
                return;
        devworker_free(ic->w); /* stops the thread */
        ic_kvp_free(&ic->svc[IC_KVP]);
        ic_fcopy_free(&ic->svc[IC_FCOPY]);
        pthread_mutex_destroy(&ic->lock);
        free(ic);
}

void icvsp_pause(struct icvsp *ic) {
        pthread_mutex_lock(&ic->lock);
        ic->paused = true;
        pthread_mutex_unlock(&ic->lock);
}

/* The thread first: once it is parked no callback reads a ring, answers
 * or sends. Then the flag, under the lock: API calls from here on hold
 * what they would send. One that sends in between is still before the
 * consistent point (this has not returned yet). */
int icvsp_quiesce(struct icvsp *ic) {
        int r = devworker_pause(ic->w);
        if (r < 0)
                return r;
        pthread_mutex_lock(&ic->lock);
        ic->quiesced = ic->paused = true;
        pthread_mutex_unlock(&ic->lock);
        return 0;
}

/* What quiesce held, in the order it was asked for: the negotiate of a
 * channel opened meanwhile, a request made through the API. */
static void send_held(struct ic_service *s, uint64_t now) {
        if (s->negotiate_held) {
                s->negotiate_held = false;
                if (send_negotiate(s, now) < 0)
                        s->ic->stats.bad_packets++; /* a fresh ring has room: cannot happen */
        }
        if (s->held) {
                s->held = false;
                if (ic_send_request(s, s->held_body, s->held_len, now) < 0)
                        s->ops->abandoned(s, now); /* it was accepted: tell the owner it failed */
        }
}

void icvsp_resume(struct icvsp *ic) {
        pthread_mutex_lock(&ic->lock);
        uint64_t now = ic_now_us();
        ic->paused = ic->quiesced = false;
        ic->resumed_us = now;
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                struct ic_service *s = &ic->svc[i];
                if (!ic->enabled[i])
                        continue;
                s->sent_us = now; /* the pause does not count against the guest */
                vmbus_simple_resumed(&s->sc);
                send_held(s, now);
                if (s->ops->resumed)
                        s->ops->resumed(s, now);
        }
        tick(ic, now);
        pthread_mutex_unlock(&ic->lock);
        devworker_resume(ic->w);
}

void icvsp_get_stats(struct icvsp *ic, struct icvsp_stats *out) {
        pthread_mutex_lock(&ic->lock);
        *out = ic->stats;
        pthread_mutex_unlock(&ic->lock);
}
