// SPDX-License-Identifier: MIT
/* Hyper-V sockets (docs/hvsock.md): the pure wire helpers, the provider of
 * the connections' VMBus devices, the requests other threads queue, the
 * service round on the device worker and the lifecycle. The connections
 * themselves (offer, greeting, the pumps, their end) are conn.c's; the
 * shared structs are in internal.h.
 *
 * The device worker (common/devworker.h) watches every connection's host
 * socket and doorbell and a deadline timer; its callbacks only mark a
 * connection touched, and the service round, its on_idle hook, runs after
 * each batch (and after a kick: wake()): it takes the queued requests,
 * serves the touched connections, ends the expired ones and re-arms the
 * timer. A quiesce parks the worker (no round, no ring access); a suspend
 * runs rounds through devworker_call, which a parked worker runs too.
 *
 * Locks:
 *   hs->lock  the request queues, the connection count, stats, suspend and
 *             stop flags. A leaf: taken by the VMBus server's tl_connect
 *             callback (server locks held), by the owner's calls and by
 *             the round.
 *   c->lock   a connection's channel (ch, rp, bell) and the events the
 *             provider callbacks (VP threads, server serial held) leave for
 *             the round. The round holds it while it touches the rings and
 *             never calls the server with it held, so a callback waits at
 *             most one pump; the callbacks never wait for the worker (the
 *             round calls the server, which a callback's caller holds).
 * Everything else in a connection belongs to the worker's thread, which
 * alone creates, offers, withdraws and frees connections. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "hvsock/hvsock.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"

/* ---- service GUIDs, the CONNECT line, pipe packets (pure) ------------------ */

static const uint8_t service_template[12] = VMBUS_HVSOCK_SERVICE_TEMPLATE;

void hvsock_service_id(uint32_t port, struct guid *out) {
        out->b[0] = (uint8_t)port;
        out->b[1] = (uint8_t)(port >> 8);
        out->b[2] = (uint8_t)(port >> 16);
        out->b[3] = (uint8_t)(port >> 24);
        memcpy(out->b + 4, service_template, sizeof service_template);
}

int hvsock_service_port(const struct guid *g, uint32_t *port) {
        if (memcmp(g->b + 4, service_template, sizeof service_template))
                return -EINVAL;
        *port = (uint32_t)g->b[0] | (uint32_t)g->b[1] << 8 | (uint32_t)g->b[2] << 16 | (uint32_t)g->b[3] << 24;
        return 0;
}

int hvsock_parse_connect_line(const char *buf, size_t len, uint32_t *port) {
        const char *nl = memchr(buf, '\n', len);
        if (!nl)
                return len < HELLO_MAX ? 0 : -EINVAL;
        size_t n = (size_t)(nl - buf);
        static const char verb[] = "CONNECT ";
        if (n <= sizeof verb - 1 || memcmp(buf, verb, sizeof verb - 1))
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = sizeof verb - 1; i < n; i++) {
                if (buf[i] == '\r' && i + 1 == n)
                        break;
                if (buf[i] < '0' || buf[i] > '9' || i - (sizeof verb - 1) >= 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t)(buf[i] - '0');
        }
        if (buf[sizeof verb - 1] == '\r' || v > VMBUS_HVSOCK_MAX_LISTEN_PORT)
                return -EINVAL;
        *port = (uint32_t)v;
        return (int)(n + 1);
}

int hvsock_parse_pipe(const uint8_t *payload, size_t len, const uint8_t **data, size_t *n) {
        struct vmbus_pipe_header h;
        if (len < sizeof h)
                return -EBADMSG;
        memcpy(&h, payload, sizeof h);
        if (h.type != VMBUS_PIPE_MSG_DATA || h.data_size > VMBUS_HVSOCK_MTU || h.data_size > len - sizeof h)
                return -EBADMSG;
        *data = payload + sizeof h;
        *n = h.data_size;
        return 0;
}

/* ---- the provider (one device per connection) ------------------------------ */
static int hv_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct conn *c = vmbus_device_data(vmbus_channel_device(ch));
        if (req->sub_channel_index)
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        int r = c->dead ? -ECONNREFUSED : 0;
        if (r == 0) {
                c->ch = ch;
                c->rp = vmbus_channel_rings(ch);
                c->bell = vmbus_channel_event_fd(ch);
                c->opened = true; /* the round watches the doorbell */
        }
        pthread_mutex_unlock(&c->lock);
        if (r == 0)
                wake(c->hs);
        return r;
}

static void hv_close(struct vmbus_channel *ch) {
        struct conn *c = vmbus_device_data(vmbus_channel_device(ch));
        pthread_mutex_lock(&c->lock);
        c->ch = NULL;
        c->rp = NULL;
        c->bell = -1;
        c->closed = true;
        pthread_mutex_unlock(&c->lock);
        wake(c->hs);
}

/* UNLOAD or a VM reset: the guest that knew this connection is gone. */
static void hv_reset(struct vmbus_device *dev) {
        struct conn *c = vmbus_device_data(dev);
        pthread_mutex_lock(&c->lock);
        c->closed = true;
        pthread_mutex_unlock(&c->lock);
        wake(c->hs);
}

static void hv_destroy(struct vmbus_device *dev) {
        struct conn *c = vmbus_device_data(dev);
        pthread_mutex_lock(&c->lock);
        c->dev = NULL;
        pthread_mutex_unlock(&c->lock);
}

/* No save_channel: a save with a connection open is refused by the server;
 * hvsock_suspend closes them first (host sockets cannot be saved). */
const struct vmbus_provider_ops hvsock_ops = {
        .name = "hvsock",
        .chn_flags = VMBUS_HVSOCK_CHN_FLAGS,
        .pipe_mode = VMBUS_PIPE_TYPE_BYTE,
        .guest_max_packet = VMBUS_HVSOCK_GUEST_MAX_PACKET,
        .drive = VMBUS_DRIVE_EVENTFD,
        .open = hv_open,
        .close = hv_close,
        .reset = hv_reset,
        .destroy = hv_destroy,
};

/* ---- requests from other threads ------------------------------------------- */

void hvsock_tl_connect(void *opaque, const struct guid *endpoint, const struct guid *service) {
        struct hvsock *hs = opaque;
        /* Past max_pending waiting requests one is dropped unanswered: the
         * server's locks are held here, so no TL_CONNECT_RESULT can go out,
         * and the guest's connect times out as it does on a refusal (Linux
         * ignores the result message). */
        pthread_mutex_lock(&hs->lock);
        hs->st.guest_connects++;
        if (hs->n_tl < hs->cfg.max_pending)
                hs->tl[hs->n_tl++] = (struct tl_req){ *endpoint, *service };
        else
                hs->st.refused++;
        pthread_mutex_unlock(&hs->lock);
        wake(hs);
}

int hvsock_connect_done(struct hvsock *hs, uint64_t token, int fd) {
        pthread_mutex_lock(&hs->lock);
        int r = 0;
        if (hs->n_done == hs->cap_done) {
                unsigned cap = hs->cap_done ? 2 * hs->cap_done : 16;
                struct done *d = reallocarray(hs->done, cap, sizeof *d);
                if (!d)
                        r = -ENOMEM;
                else {
                        hs->done = d;
                        hs->cap_done = cap;
                }
        }
        if (r == 0)
                hs->done[hs->n_done++] = (struct done){ token, fd };
        pthread_mutex_unlock(&hs->lock);
        if (r < 0 && fd >= 0)
                close(fd);
        wake(hs);
        return r;
}

int hvsock_host_client(struct hvsock *hs, int fd) {
        pthread_mutex_lock(&hs->lock);
        int r = hs->suspended || hs->suspend || hs->stopping             ? -ECONNREFUSED
                : hs->n_conns + hs->n_clients >= hs->cfg.max_connections ? -EMFILE
                                                                           : 0;
        if (r == 0)
                hs->clients[hs->n_clients++] = fd;
        else
                hs->st.refused++;
        pthread_mutex_unlock(&hs->lock);
        if (r < 0)
                close(fd);
        else
                wake(hs);
        return r;
}

/* ---- the service round on the device worker ---------------------------------- */

static struct conn *conn_by_token(struct hvsock *hs, uint64_t token) {
        for (struct conn *c = hs->conns; c; c = c->next)
                if (c->state == C_BROKER && c->token == token)
                        return c;
        return NULL;
}

/* Moves up to max items from the front of queue q (*n of them) to dst.
 * hs->lock held. Returns how many. */
static unsigned take_front(void *dst, void *q, unsigned *n, unsigned max, size_t size) {
        unsigned k = MIN(*n, max);
        if (k) {
                memcpy(dst, q, k * size);
                memmove(q, (uint8_t *)q + k * size, (*n - k) * size);
                *n -= k;
        }
        return k;
}

static void take_requests(struct hvsock *hs) {
        struct tl_req tl[64];
        struct done done[64];
        int clients[64];
        unsigned n_tl, n_done, n_clients;
        bool refusing;
        pthread_mutex_lock(&hs->lock);
        refusing = hs->suspend || hs->suspended;
        n_tl = take_front(tl, hs->tl, &hs->n_tl, ARRAY_SIZE(tl), sizeof *tl);
        n_done = take_front(done, hs->done, &hs->n_done, ARRAY_SIZE(done), sizeof *done);
        n_clients = take_front(clients, hs->clients, &hs->n_clients, ARRAY_SIZE(clients), sizeof *clients);
        if (hs->n_tl || hs->n_done || hs->n_clients)
                wake(hs); /* more next round */
        pthread_mutex_unlock(&hs->lock);

        for (unsigned i = 0; i < n_tl; i++) {
                uint32_t port;
                pthread_mutex_lock(&hs->lock);
                bool room = !refusing && hs->n_conns + hs->n_clients < hs->cfg.max_connections;
                if (room)
                        hs->n_conns++;
                pthread_mutex_unlock(&hs->lock);
                struct conn *c = NULL;
                if (room && hvsock_service_port(&tl[i].service, &port) == 0 && port <= VMBUS_HVSOCK_MAX_LISTEN_PORT &&
                    (c = hvsock_conn_new(hs, false))) {
                        c->service = tl[i].service;
                        c->endpoint = tl[i].endpoint;
                        c->port = port;
                        c->token = ++hs->next_token;
                        c->state = C_BROKER;
                        c->deadline_ms = now_ms() + atomic_load(&hs->offer_timeout_ms);
                        if (hs->cfg.connect(hs->cfg.connect_opaque, port, c->token) < 0)
                                hvsock_conn_end(c);
                        continue;
                }
                if (room) { /* not a vsock service id, or no memory */
                        pthread_mutex_lock(&hs->lock);
                        hs->n_conns--;
                        pthread_mutex_unlock(&hs->lock);
                }
                hvsock_refuse(hs, &tl[i].endpoint, &tl[i].service);
        }
        for (unsigned i = 0; i < n_done; i++) {
                struct conn *c = conn_by_token(hs, done[i].token);
                if (!c) {
                        if (done[i].fd >= 0)
                                close(done[i].fd);
                        continue;
                }
                c->fd = done[i].fd;
                if (c->fd < 0 || fd_set_nonblock(c->fd, true) < 0 || hvsock_conn_offer(c) < 0)
                        hvsock_conn_end(c);
        }
        for (unsigned i = 0; i < n_clients; i++) {
                struct conn *c = refusing ? NULL : hvsock_conn_new(hs, true);
                if (!c) {
                        close(clients[i]);
                        continue;
                }
                pthread_mutex_lock(&hs->lock);
                hs->n_conns++;
                hs->st.host_connects++;
                pthread_mutex_unlock(&hs->lock);
                c->fd = clients[i];
                (void)fd_set_nonblock(c->fd, true);
                c->state = C_HELLO;
                c->deadline_ms = now_ms() + hs->cfg.hello_timeout_ms;
                hvsock_conn_sock_interest(c);
                c->touched = true;
        }
}

/* Connections whose deadline passed: ended (counted by what they waited
 * for). */
static void expire(struct hvsock *hs, uint64_t now) {
        for (struct conn *c = hs->conns; c; c = c->next) {
                if (c->state != C_OPEN && c->state != C_CLOSING && c->deadline_ms <= now) {
                        pthread_mutex_lock(&hs->lock);
                        if (c->state == C_OFFERED)
                                hs->st.timed_out++;
                        else if (c->state == C_HELLO)
                                hs->st.refused++; /* C_BROKER: hvsock_conn_end refuses */
                        pthread_mutex_unlock(&hs->lock);
                        hvsock_conn_end(c);
                }
        }
}

/* The next deadline (UINT64_MAX: none). */
static uint64_t next_deadline(const struct hvsock *hs) {
        uint64_t next = UINT64_MAX;
        for (const struct conn *c = hs->conns; c; c = c->next)
                if (c->state != C_OPEN)
                        next = MIN(next, c->deadline_ms);
        return next;
}

/* Closing connections whose device can go now. */
static void reap(struct hvsock *hs) {
        for (struct conn **pp = &hs->conns; *pp;) {
                struct conn *c = *pp;
                if (c->state == C_CLOSING && c->deadline_ms <= now_ms()) {
                        struct conn *after = c->next;
                        if (hvsock_conn_reap(c)) {
                                *pp = after;
                                continue;
                        }
                }
                pp = &c->next;
        }
}

/* The timer wakes the worker at the next deadline; its round does the rest. */
static void arm_timer(struct hvsock *hs, uint64_t next) {
        uint64_t at = next == UINT64_MAX ? 0 : next;
        if (at == hs->timer_at)
                return;
        uint64_t now = now_ms();
        if (at && dw_source_set_timer(hs->timer, at > now ? (at - now) * 1000 : 1, 0) < 0)
                at = 0;
        else if (!at)
                (void)dw_source_set_timer(hs->timer, 0, 0);
        hs->timer_at = at;
}

/* The service round (the worker's on_idle hook, or a suspend's call). */
static void service_round(void *opaque) {
        struct hvsock *hs = opaque;
        pthread_mutex_lock(&hs->lock);
        bool stopping = hs->stopping, suspend = hs->suspend;
        pthread_mutex_unlock(&hs->lock);
        if (stopping)
                return;
        take_requests(hs);
        for (struct conn *c = hs->conns; c; c = c->next) {
                hvsock_conn_events(c);
                if (suspend)
                        hvsock_conn_end(c);
                if (c->state == C_HELLO && c->touched)
                        hvsock_hello_read(c);
                else if (c->touched)
                        hvsock_conn_pump(c);
                c->touched = false;
        }
        expire(hs, now_ms());
        reap(hs);
        arm_timer(hs, next_deadline(hs));
        if (suspend && !hs->conns) {
                pthread_mutex_lock(&hs->lock);
                if (hs->suspend && !hs->n_tl && !hs->n_done && !hs->n_clients) {
                        hs->suspend = false;
                        hs->suspended = true;
                }
                pthread_mutex_unlock(&hs->lock);
        }
}

static int on_timer(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        ((struct hvsock *)opaque)->timer_at = 0; /* fired: the round arms it again */
        return 0;
}

static int on_start(void *opaque) {
        struct hvsock *hs = opaque;
        if (hs->cfg.thread_policy)
                (void)hs->cfg.thread_policy(hs->cfg.thread_policy_opaque, "hvsock");
        return 0;
}

/* ---- lifecycle ------------------------------------------------------------- */

int hvsock_new(const struct hvsock_config *cfg, struct hvsock **out) {
        if (!cfg || !cfg->connect)
                return -EINVAL;
        struct hvsock *hs = calloc(1, sizeof *hs);
        if (!hs)
                return -ENOMEM;
        hs->cfg = *cfg;
        if (!hs->cfg.max_connections)
                hs->cfg.max_connections = 256;
        if (!hs->cfg.max_pending)
                hs->cfg.max_pending = 32;
        atomic_init(&hs->offer_timeout_ms, cfg->offer_timeout_ms ? cfg->offer_timeout_ms : HVSOCK_OFFER_TIMEOUT_MS);
        if (!hs->cfg.hello_timeout_ms)
                hs->cfg.hello_timeout_ms = 5000;
        hs->next_host_port = FIRST_HOST_PORT;
        pthread_mutex_init(&hs->lock, NULL);
        hs->tl = calloc(hs->cfg.max_pending, sizeof *hs->tl);
        hs->clients = calloc(hs->cfg.max_connections, sizeof *hs->clients);
        int r = !hs->tl || !hs->clients ? -ENOMEM : 0;
        if (r == 0)
                r = devworker_new(&(struct devworker_config){ .name = "hvsock", .on_start = on_start,
                                                              .on_idle = service_round, .opaque = hs,
                                                              .max_sources = SOURCES_PER_CONN *
                                                                                     hs->cfg.max_connections +
                                                                             1 },
                                  &hs->w);
        if (r == 0)
                r = devworker_add_timer(hs->w, 0, 0, on_timer, hs, &hs->timer);
        if (r < 0) {
                hvsock_free(hs);
                return r;
        }
        *out = hs;
        return 0;
}

void hvsock_set_offer_timeout(struct hvsock *hs, unsigned ms) {
        atomic_store(&hs->offer_timeout_ms, ms ? ms : HVSOCK_OFFER_TIMEOUT_MS);
}

int hvsock_start(struct hvsock *hs, struct vmbus_server *srv) {
        hs->srv = srv;
        int r = devworker_start(hs->w);
        if (r == 0)
                hs->started = true;
        return r;
}

static bool is_suspended(struct hvsock *hs) {
        pthread_mutex_lock(&hs->lock);
        bool done = hs->suspended;
        pthread_mutex_unlock(&hs->lock);
        return done;
}

static int suspend_round(void *arg) {
        service_round(arg);
        return 0;
}

/* The rounds run on the worker's thread through devworker_call, which a
 * quiesced (parked) worker runs too: a save of a paused VM ends its
 * connections as one of a running VM does, and nothing of it touches a
 * ring (an ending connection only closes its socket and rescinds). */
int hvsock_suspend(struct hvsock *hs, unsigned timeout_ms) {
        pthread_mutex_lock(&hs->lock);
        bool run = hs->started && !hs->suspended;
        if (run)
                hs->suspend = true;
        else if (!hs->started)
                hs->suspended = true;
        pthread_mutex_unlock(&hs->lock);
        if (!run)
                return 0;
        uint64_t until = now_ms() + timeout_ms;
        for (;;) {
                (void)devworker_call(hs->w, suspend_round, hs);
                if (is_suspended(hs))
                        return 0;
                if (now_ms() >= until)
                        return -ETIMEDOUT;
                /* A device the server could not remove yet: its retry. */
                usleep(REMOVE_RETRY_MS * 1000 / 5);
        }
}

void hvsock_resume(struct hvsock *hs) {
        pthread_mutex_lock(&hs->lock);
        hs->suspend = hs->suspended = false;
        pthread_mutex_unlock(&hs->lock);
        wake(hs);
}

int hvsock_quiesce(struct hvsock *hs) {
        return devworker_pause(hs->w);
}

void hvsock_unquiesce(struct hvsock *hs) {
        devworker_resume(hs->w);
}

void hvsock_stop(struct hvsock *hs) {
        if (!hs || !hs->started)
                return;
        pthread_mutex_lock(&hs->lock);
        hs->stopping = true;
        pthread_mutex_unlock(&hs->lock);
        devworker_stop(hs->w);
        hs->started = false;
}

void hvsock_free(struct hvsock *hs) {
        if (!hs)
                return;
        hvsock_stop(hs);
        devworker_free(hs->w); /* with every connection's source */
        while (hs->conns) {
                struct conn *c = hs->conns;
                hs->conns = c->next;
                hvsock_conn_free(c, false);
        }
        for (unsigned i = 0; i < hs->n_done; i++)
                if (hs->done[i].fd >= 0)
                        close(hs->done[i].fd);
        for (unsigned i = 0; i < hs->n_clients; i++)
                close(hs->clients[i]);
        free(hs->tl);
        free(hs->done);
        free(hs->clients);
        pthread_mutex_destroy(&hs->lock);
        free(hs);
}

void hvsock_get_stats(struct hvsock *hs, struct hvsock_stats *out) {
        pthread_mutex_lock(&hs->lock);
        *out = hs->st;
        out->live = hs->n_conns;
        out->offer_timeout_ms = atomic_load(&hs->offer_timeout_ms);
        pthread_mutex_unlock(&hs->lock);
}
