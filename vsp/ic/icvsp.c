// SPDX-License-Identifier: MIT
/* The integration-services host: one thread per VM serving every IC
 * channel (epoll over the channels' doorbells, a periodic timer, a stop
 * eventfd). The services are host-initiated request/answer protocols with
 * one request outstanding at a time (§5.6: the shutdown callback reads one
 * packet per interrupt; §8.6: KVP transactions are serialized), so one
 * thread and one lock are plenty.
 *
 * Locking: ic->lock is held by the thread while it serves, by the provider
 * open/close callbacks (VP threads) and by the API calls, so when close
 * returns the thread no longer touches that channel (vmbus/provider.h).
 *
 * Doorbells: only the icvsp thread changes its epoll set. open/close run on
 * VP threads, whose sandbox policy has no epoll_ctl (docs/sandbox.md); they
 * set s->ch and kick the thread, which registers the new channel's eventfd
 * (edge-triggered, tagged with a generation). A closed channel's
 * registration is not removed by fd number (the number may already name
 * another file): it goes when the server closes that eventfd, and until
 * then its events carry an old generation and are ignored. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"

uint64_t ic_now_us(void) {
        return now_us(CLOCK_MONOTONIC);
}

static int send_packet(struct ic_service *s, const uint8_t *pkt, size_t n, uint16_t type, uint64_t now) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(s->ch);
        uint64_t id = ++s->next_id;
        vmbus_ring_send_begin(rp);
        int r = vmbus_ring_send_inband(rp, id, false, pkt, n);
        vmbus_ring_send_end(rp);
        if (r < 0)
                return r;
        s->outstanding = true;
        s->outstanding_type = type;
        s->outstanding_id = id;
        s->sent_us = now;
        return 0;
}

int ic_send_request(struct ic_service *s, const void *body, size_t len, uint64_t now) {
        uint8_t pkt[IC_PACKET_MAX];
        if (!s->ch || !s->negotiated || s->outstanding)
                return s->outstanding ? -EBUSY : -ENOTCONN;
        size_t n = icmsg_build(pkt, sizeof pkt, s->ops->msgtype, s->fw, s->msg, (uint8_t)(s->next_id + 1), body,
                               len);
        if (n == 0)
                return -EMSGSIZE;
        int r = send_packet(s, pkt, n, s->ops->msgtype, now);
        if (r == 0)
                s->ic->stats.requests_sent++;
        return r;
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
        if (!s->outstanding || trans_id != s->outstanding_id) {
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

/* Drain the guest->host ring. Re-check after publishing read_index: a
 * packet written meanwhile came without a doorbell (§5.5). */
static void serve_channel(struct ic_service *s, uint64_t now) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(s->ch);
        do {
                if (vmbus_ring_recv_begin(rp) < 0)
                        return;
                for (;;) {
                        struct vmbus_packet p;
                        int r = vmbus_ring_recv(rp, s->ic->rxbuf, sizeof s->ic->rxbuf, &p);
                        if (r == -EMSGSIZE) {
                                s->ic->stats.bad_packets++;
                                continue;
                        }
                        if (r <= 0)
                                break;
                        if (p.type == VM_PKT_DATA_INBAND)
                                handle_answer(s, vmbus_packet_payload(&p), vmbus_packet_payload_len(&p), p.trans_id,
                                              now);
                        else
                                s->ic->stats.bad_packets++;
                }
                vmbus_ring_recv_end(rp);
        } while (s->ch && !vmbus_ring_broken(rp) && vmbus_ring_has_data(rp));
        /* The answer may free the service for its next request. */
        if (s->ch && s->negotiated && !s->outstanding && !s->ic->paused)
                s->ops->tick(s, now);
}

static void tick(struct icvsp *ic, uint64_t now) {
        if (ic->paused)
                return;
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                struct ic_service *s = &ic->svc[i];
                if (!ic->enabled[i])
                        continue;
                if (s->outstanding && s->outstanding_type != ICMSGTYPE_NEGOTIATE && now - s->sent_us > s->timeout_us) {
                        s->outstanding = false;
                        ic->stats.timeouts++;
                        s->ops->abandoned(s, now);
                }
                s->ops->tick(s, now);
        }
}

#define TAG_SPECIAL (1ull << 63)
#define TAG_STOP (TAG_SPECIAL | 1)
#define TAG_TIMER (TAG_SPECIAL | 2)
#define TAG_KICK (TAG_SPECIAL | 3)
#define TAG_CHANNEL(gen, i) ((gen) << 8 | (i)) /* gen < 2^55 */

/* Registers the doorbell of every newly opened channel (the thread only). */
static void sync_doorbells(struct icvsp *ic, uint64_t now) {
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                struct ic_service *s = &ic->svc[i];
                if (!s->ch) {
                        s->ep_ch = NULL;
                        continue;
                }
                if (s->ep_ch == s->ch)
                        continue;
                int fd = vmbus_channel_event_fd(s->ch);
                struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = TAG_CHANNEL(++s->ep_gen, i) };
                if (epoll_ctl(ic->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
                    (errno != EEXIST || epoll_ctl(ic->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)) {
                        ic->stats.bad_packets++; /* cannot happen short of ENOMEM: the tick still polls */
                        continue;
                }
                s->ep_ch = s->ch;
                /* A doorbell that rang before the registration: look now. */
                serve_channel(s, now);
        }
}

static void on_event(struct icvsp *ic, uint64_t tag, uint64_t now, bool *stop) {
        uint64_t v;
        if (tag == TAG_STOP) {
                *stop = true;
        } else if (tag == TAG_TIMER) {
                (void)!read(ic->timerfd, &v, sizeof v);
                tick(ic, now);
                /* A missed doorbell cannot strand a request: poll each tick. */
                for (unsigned i = 0; i < IC_N_SERVICES; i++)
                        if (ic->svc[i].ch)
                                serve_channel(&ic->svc[i], now);
        } else if (tag == TAG_KICK) {
                (void)!read(ic->kickfd, &v, sizeof v);
        } else if ((tag & 0xff) < IC_N_SERVICES) {
                struct ic_service *s = &ic->svc[tag & 0xff];
                if (s->ch && s->ep_ch == s->ch && tag >> 8 == s->ep_gen) {
                        (void)!read(vmbus_channel_event_fd(s->ch), &v, sizeof v);
                        serve_channel(s, now);
                }
        }
}

static void *ic_thread(void *arg) {
        struct icvsp *ic = arg;
        pthread_setname_np(pthread_self(), "icvsp");
        bool stop = false;
        while (!stop) {
                struct epoll_event ev[IC_N_SERVICES + 3];
                int n = epoll_wait(ic->epfd, ev, ARRAY_SIZE(ev), -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                pthread_mutex_lock(&ic->lock);
                uint64_t now = ic_now_us();
                for (int i = 0; i < n; i++)
                        on_event(ic, ev[i].data.u64, now, &stop);
                sync_doorbells(ic, now);
                pthread_mutex_unlock(&ic->lock);
        }
        return NULL;
}

static void kick(struct icvsp *ic) {
        (void)!write(ic->kickfd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

/* ---- VMBus provider callbacks (VP threads) ---- */

static void reset_channel_state(struct ic_service *s) {
        s->negotiated = false;
        s->outstanding = false;
}

static int ic_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct ic_service *s = vmbus_device_data(vmbus_channel_device(ch));
        struct icvsp *ic = s->ic;
        if (req->sub_channel_index != 0)
                return -EINVAL;
        pthread_mutex_lock(&ic->lock);
        int r = s->ch ? -EBUSY : 0;
        if (r == 0) {
                s->ch = ch;
                reset_channel_state(s);
                /* The host speaks first on IC channels (§8.2). */
                r = send_negotiate(s, ic_now_us());
                if (r < 0)
                        s->ch = NULL;
        }
        pthread_mutex_unlock(&ic->lock);
        if (r == 0)
                kick(ic); /* the thread registers the doorbell */
        return r;
}

static void ic_close(struct vmbus_channel *ch) {
        struct ic_service *s = vmbus_device_data(vmbus_channel_device(ch));
        struct icvsp *ic = s->ic;
        pthread_mutex_lock(&ic->lock);
        if (s->ch == ch) {
                s->ch = NULL;
                bool pending = s->outstanding && s->outstanding_type != ICMSGTYPE_NEGOTIATE;
                reset_channel_state(s);
                if (pending)
                        s->ops->abandoned(s, ic_now_us());
        }
        pthread_mutex_unlock(&ic->lock);
}

#define IC_PROVIDER(sym, nm, guid, max_pkt)                                                 \
        static const struct vmbus_provider_ops sym = {                                      \
                .name = nm, .class_id = { guid },                                           \
                .chn_flags = VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE, \
                .pipe_mode = VMBUS_PIPE_TYPE_MESSAGE, .guest_max_packet = max_pkt,          \
                .drive = VMBUS_DRIVE_EVENTFD, .open = ic_open, .close = ic_close,           \
        }
IC_PROVIDER(shutdown_provider, "shutdown", HV_SHUTDOWN_GUID, IC_GUEST_MAX_PACKET);
IC_PROVIDER(heartbeat_provider, "heartbeat", HV_HEART_BEAT_GUID, IC_GUEST_MAX_PACKET);
IC_PROVIDER(timesync_provider, "timesync", HV_TS_GUID, IC_GUEST_MAX_PACKET);
IC_PROVIDER(kvp_provider, "kvp", HV_KVP_GUID, IC_KVP_GUEST_MAX_PACKET);

static const struct {
        const struct vmbus_provider_ops *provider;
        const struct ic_service_ops *ops;
        uint8_t instance[16]; /* Hyper-V's fixed instances (§4.11); heartbeat's is per VM */
} services[IC_N_SERVICES] = {
        [IC_SHUTDOWN] = { &shutdown_provider, &ic_shutdown_ops, HV_SHUTDOWN_INSTANCE },
        [IC_HEARTBEAT] = { &heartbeat_provider, &ic_heartbeat_ops, { 0 } },
        [IC_TIMESYNC] = { &timesync_provider, &ic_timesync_ops, HV_TIMESYNC_INSTANCE },
        [IC_KVP] = { &kvp_provider, &ic_kvp_ops, HV_KVP_INSTANCE },
};

/* ---- lifecycle ---- */

static int add_fd(struct icvsp *ic, int fd, uint64_t tag) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
        return epoll_ctl(ic->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int start_thread(struct icvsp *ic) {
        ic->epfd = epoll_create1(EPOLL_CLOEXEC);
        ic->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        ic->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ic->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (ic->epfd < 0 || ic->timerfd < 0 || ic->stopfd < 0 || ic->kickfd < 0)
                return -errno;
        struct itimerspec its = { .it_interval = { 0, ICVSP_TICK_MS * 1000000L },
                                  .it_value = { 0, ICVSP_TICK_MS * 1000000L } };
        if (timerfd_settime(ic->timerfd, 0, &its, NULL) < 0)
                return -errno;
        int r = add_fd(ic, ic->timerfd, TAG_TIMER);
        if (r == 0)
                r = add_fd(ic, ic->stopfd, TAG_STOP);
        if (r == 0)
                r = add_fd(ic, ic->kickfd, TAG_KICK);
        if (r == 0)
                r = -pthread_create(&ic->thread, NULL, ic_thread, ic);
        ic->thread_started = r == 0;
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
        struct vmbus_device_config dc = { .ops = services[i].provider, .data = s };
        memcpy(dc.instance_id.b, services[i].instance, 16);
        if (i == IC_HEARTBEAT)
                dc.instance_id = ic->cfg.heartbeat_instance;
        int r = i == IC_KVP ? ic_kvp_new(s) : 0;
        if (r == 0)
                r = vmbus_server_add_device(srv, &dc, &s->dev);
        return r;
}

int icvsp_new(struct vmbus_server *srv, const struct icvsp_config *cfg, const struct icvsp_owner_ops *ops,
              void *opaque, struct icvsp **out) {
        struct icvsp *ic = calloc(1, sizeof *ic);
        if (!ic)
                return -ENOMEM;
        pthread_mutex_init(&ic->lock, NULL);
        ic->epfd = ic->timerfd = ic->stopfd = ic->kickfd = -1;
        ic->ops = ops;
        ic->opaque = opaque;
        ic->cfg = *cfg;
        ic->enabled[IC_SHUTDOWN] = cfg->shutdown;
        ic->enabled[IC_HEARTBEAT] = cfg->heartbeat;
        ic->enabled[IC_TIMESYNC] = cfg->timesync;
        ic->enabled[IC_KVP] = cfg->kvp;
        for (unsigned i = 0; i < IC_N_SERVICES; i++)
                init_service(ic, i);
        int r = start_thread(ic);
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
        if (ic->thread_started) {
                (void)!write(ic->stopfd, &(uint64_t){ 1 }, sizeof(uint64_t));
                pthread_join(ic->thread, NULL);
        }
        ic_kvp_free(&ic->svc[IC_KVP]);
        safe_close(ic->epfd);
        safe_close(ic->timerfd);
        safe_close(ic->stopfd);
        safe_close(ic->kickfd);
        pthread_mutex_destroy(&ic->lock);
        free(ic);
}

void icvsp_pause(struct icvsp *ic) {
        pthread_mutex_lock(&ic->lock);
        ic->paused = true;
        pthread_mutex_unlock(&ic->lock);
}

void icvsp_resume(struct icvsp *ic) {
        pthread_mutex_lock(&ic->lock);
        uint64_t now = ic_now_us();
        ic->paused = false;
        ic->resumed_us = now;
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                struct ic_service *s = &ic->svc[i];
                if (!ic->enabled[i])
                        continue;
                s->sent_us = now; /* the pause does not count against the guest */
                if (s->ops->resumed)
                        s->ops->resumed(s, now);
        }
        tick(ic, now);
        pthread_mutex_unlock(&ic->lock);
}

void icvsp_get_stats(struct icvsp *ic, struct icvsp_stats *out) {
        pthread_mutex_lock(&ic->lock);
        *out = ic->stats;
        pthread_mutex_unlock(&ic->lock);
}
