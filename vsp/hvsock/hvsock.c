// SPDX-License-Identifier: MIT
/* Hyper-V sockets: connections, their VMBus devices and the service thread
 * that moves their bytes (docs/hvsock.md).
 *
 * Threads and locks:
 *   hs->lock  the request queues, the connection count, stats, suspend and
 *             stop flags. A leaf: taken by the VMBus server's tl_connect
 *             callback (server locks held), by the owner's calls and by
 *             the service thread.
 *   c->lock   a connection's channel (ch, rp, bell) and the events the
 *             provider callbacks (VP threads, server serial held) leave for
 *             the service thread. The service thread holds it while it
 *             touches the rings and never calls the server with it held,
 *             so a callback waits at most one pump.
 * Everything else in a connection belongs to the service thread, which
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
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "hvsock/hvsock.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"

/* Most payload bytes in one host -> guest packet: the MTU, which with the
 * descriptor, the pipe header and the trailer is the guest's packet buffer
 * (hv_sock's HVS_MAX_PKT_SIZE). */
#define CHUNK VMBUS_HVSOCK_MTU
#define PKT_OVERHEAD (16u + (unsigned)sizeof(struct vmbus_pipe_header) + 8u) /* descriptor, pipe header, trailer */
_Static_assert(PKT_OVERHEAD + CHUNK <= VMBUS_HVSOCK_GUEST_MAX_PACKET,
               "a full host -> guest packet fits the guest's packet buffer");

/* Payload bytes per host -> guest packet on a ring of data_bytes: the MTU,
 * or less where two MTU packets would not fit, so that the guest can read
 * one packet while the next is written. Linux's smallest ring (6 pages, one
 * of them the header) holds 20 KiB: 10,208-byte packets there; its default
 * (sk_rcvbuf, 52 pages) takes the MTU. */
static uint32_t to_guest_chunk(uint32_t data_bytes) {
        uint32_t half = data_bytes / 2u;
        if (half <= PKT_OVERHEAD + 8u)
                return 8u;
        return MIN(CHUNK, (half - PKT_OVERHEAD) & ~7u);
}
#define HELLO_MAX 64u
#define FIRST_HOST_PORT 0x80000000u
#define REMOVE_RETRY_MS 50u

enum conn_state {
        C_BROKER,  /* guest connect: waiting for the owner's host socket */
        C_HELLO,   /* host client: waiting for its CONNECT line */
        C_OFFERED, /* offered, not opened yet */
        C_OPEN,
        C_CLOSING, /* host socket closed; device still to be removed */
};

enum { EP_WAKE, EP_SOCK, EP_BELL };

struct conn;
struct ep {
        struct conn *c;
        int kind;
};

struct conn {
        struct hvsock *hs;
        struct conn *next;
        uint64_t token;
        enum conn_state state;
        bool from_host;
        struct guid service, endpoint;
        uint32_t port, host_port;
        int fd;
        uint32_t sock_events; /* what fd is registered for (0: not) */
        struct vmbus_device *dev;
        uint64_t deadline_ms; /* C_BROKER, C_HELLO, C_OFFERED, C_CLOSING retries */
        struct ep ep_sock, ep_bell;
        bool touched; /* had an event this round */

        pthread_mutex_t lock; /* ch, rp, bell, dead, opened, closed */
        struct vmbus_channel *ch;
        struct vmbus_ring_pair *rp;
        int bell;
        bool dead;   /* being withdrawn: refuse an open */
        bool opened; /* open came; the service thread has not seen it yet */
        bool closed; /* close or reset came */

        /* service thread only */
        bool guest_fin, host_eof, fin_sent;
        uint8_t *tx; /* guest -> host bytes the host socket did not take yet */
        size_t tx_off, tx_len;
        bool rx_pending; /* rx holds a packet for the guest that found the ring full */
        uint32_t rx_len;
        uint8_t rx[sizeof(struct vmbus_pipe_header) + CHUNK];
        char hello[HELLO_MAX];
        size_t hello_len;
};

struct tl_req {
        struct guid endpoint, service;
};
struct done {
        uint64_t token;
        int fd;
};

struct hvsock {
        struct hvsock_config cfg;
        struct vmbus_server *srv;
        pthread_t thread;
        bool started;
        int epfd, wake;
        struct ep ep_wake;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct tl_req *tl;  /* queue of max_pending */
        unsigned n_tl;
        struct done *done;  /* queue, grown as needed */
        unsigned n_done, cap_done;
        int *clients;       /* queue of max_connections */
        unsigned n_clients;
        unsigned n_conns;   /* live, including queued requests' */
        bool stopping, suspend, suspended;
        struct hvsock_stats st;
        _Atomic unsigned offer_timeout_ms; /* cfg's, or hvsock_set_offer_timeout's */

        /* service thread only */
        struct conn *conns;
        uint64_t next_token;
        uint32_t next_host_port;
        uint8_t pkt[16 + sizeof(struct vmbus_pipe_header) + VMBUS_HVSOCK_MTU + 64];
};

static uint64_t now_ms(void) {
        return now_us(CLOCK_MONOTONIC) / 1000;
}

/* A statistics counter (hs->lock: hvsock_get_stats reads them all at once). */
static void count(struct hvsock *hs, uint64_t *counter, uint64_t n) {
        pthread_mutex_lock(&hs->lock);
        *counter += n;
        pthread_mutex_unlock(&hs->lock);
}

static void wake(struct hvsock *hs) {
        uint64_t one = 1;
        (void)!write(hs->wake, &one, sizeof one);
}

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

static void ep_ctl(struct hvsock *hs, int op, int fd, uint32_t events, struct ep *ep) {
        struct epoll_event ev = { .events = events, .data.ptr = ep };
        (void)epoll_ctl(hs->epfd, op, fd, &ev);
}

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
                c->opened = true;
                ep_ctl(c->hs, EPOLL_CTL_ADD, c->bell, EPOLLIN, &c->ep_bell);
        }
        pthread_mutex_unlock(&c->lock);
        if (r == 0)
                wake(c->hs);
        return r;
}

static void hv_close(struct vmbus_channel *ch) {
        struct conn *c = vmbus_device_data(vmbus_channel_device(ch));
        pthread_mutex_lock(&c->lock);
        if (c->bell >= 0)
                ep_ctl(c->hs, EPOLL_CTL_DEL, c->bell, 0, &c->ep_bell);
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
static const struct vmbus_provider_ops hvsock_ops = {
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

/* ---- connections (service thread) ------------------------------------------- */

static struct conn *conn_new(struct hvsock *hs, bool from_host) {
        struct conn *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->hs = hs;
        c->from_host = from_host;
        c->fd = -1;
        c->bell = -1;
        c->ep_sock = (struct ep){ c, EP_SOCK };
        c->ep_bell = (struct ep){ c, EP_BELL };
        pthread_mutex_init(&c->lock, NULL);
        c->next = hs->conns;
        hs->conns = c;
        return c;
}

/* Keep fd registered for what the connection can use now. */
static void conn_sock_interest(struct conn *c) {
        uint32_t want = 0;
        if (c->fd >= 0) {
                if (c->state == C_HELLO)
                        want = EPOLLIN;
                else if (c->state == C_OPEN) {
                        if (!c->rx_pending && !c->host_eof)
                                want |= EPOLLIN;
                        if (c->tx_len)
                                want |= EPOLLOUT;
                }
        }
        if (want == c->sock_events)
                return;
        ep_ctl(c->hs, !c->sock_events ? EPOLL_CTL_ADD : !want ? EPOLL_CTL_DEL : EPOLL_CTL_MOD, c->fd, want,
               &c->ep_sock);
        c->sock_events = want;
}

static void conn_close_fd(struct conn *c) {
        if (c->fd < 0)
                return;
        if (c->sock_events)
                ep_ctl(c->hs, EPOLL_CTL_DEL, c->fd, 0, &c->ep_sock);
        c->sock_events = 0;
        close(c->fd);
        c->fd = -1;
}

static void refuse(struct hvsock *hs, const struct guid *endpoint, const struct guid *service) {
        (void)vmbus_server_tl_connect_result(hs->srv, endpoint, service, (int32_t)VMBUS_STATUS_CONNECTION_REFUSED);
        count(hs, &hs->st.refused, 1);
}

/* End a connection: the host socket goes now, the device (rescind) in
 * conn_reap. A guest connect still waiting for its socket is refused. */
static void conn_end(struct conn *c) {
        if (c->state == C_CLOSING)
                return;
        struct hvsock *hs = c->hs;
        if (c->state == C_BROKER)
                refuse(hs, &c->endpoint, &c->service);
        pthread_mutex_lock(&c->lock);
        c->dead = true;
        pthread_mutex_unlock(&c->lock);
        conn_close_fd(c);
        free(c->tx);
        c->tx = NULL;
        c->tx_len = c->tx_off = 0;
        c->state = C_CLOSING;
        c->deadline_ms = 0;
}

/* Remove the device of a closing connection (its offer is rescinded, its
 * channel closed) and free it; false if the server is busy (retry). */
static bool conn_reap(struct conn *c) {
        struct hvsock *hs = c->hs;
        pthread_mutex_lock(&c->lock);
        struct vmbus_device *dev = c->dev;
        pthread_mutex_unlock(&c->lock);
        if (dev && vmbus_server_remove_device(hs->srv, dev) == -EBUSY) {
                c->deadline_ms = now_ms() + REMOVE_RETRY_MS;
                return false;
        }
        pthread_mutex_lock(&hs->lock);
        hs->n_conns--;
        hs->st.closed++;
        pthread_mutex_unlock(&hs->lock);
        pthread_mutex_destroy(&c->lock);
        free(c->tx);
        free(c);
        return true;
}

static int conn_offer(struct conn *c) {
        struct hvsock *hs = c->hs;
        uint8_t ud[VMBUS_HVSOCK_USER_DEF_FOR_GUEST_ACCEPT + 1] = { 0 };
        ud[VMBUS_HVSOCK_USER_DEF_FOR_GUEST_ACCEPT] = c->from_host;
        struct vmbus_device_config dc = {
                .ops = &hvsock_ops,
                .class_id = &c->service,
                .instance_id = c->endpoint,
                .data = c,
                .user_def = ud,
                .user_def_len = sizeof ud,
        };
        struct vmbus_device *dev;
        int r = vmbus_server_add_device(hs->srv, &dc, &dev);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        c->dev = dev;
        pthread_mutex_unlock(&c->lock);
        c->state = C_OFFERED;
        c->deadline_ms = now_ms() + atomic_load(&hs->offer_timeout_ms);
        return 0;
}

/* A host client's port on our side: 0x80000000 up, unique among live
 * connections to the same guest port. */
static uint32_t host_port_for(struct hvsock *hs, uint32_t port) {
        for (;;) {
                uint32_t p = hs->next_host_port++;
                if (hs->next_host_port < FIRST_HOST_PORT || hs->next_host_port == UINT32_MAX)
                        hs->next_host_port = FIRST_HOST_PORT;
                bool used = false;
                for (struct conn *c = hs->conns; c && !used; c = c->next)
                        used = c->from_host && c->port == port && c->host_port == p && c->state != C_CLOSING;
                if (!used)
                        return p;
        }
}

static void hello_read(struct conn *c) {
        while (c->hello_len < HELLO_MAX) {
                /* One byte at a time: whatever follows the line is the
                 * stream's, for the guest once it accepted. */
                ssize_t n = recv(c->fd, c->hello + c->hello_len, 1, MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0)
                        break;
                c->hello_len++;
                uint32_t port;
                int r = hvsock_parse_connect_line(c->hello, c->hello_len, &port);
                if (r == 0)
                        continue;
                if (r < 0)
                        break;
                c->port = port;
                hvsock_service_id(port, &c->service);
                c->host_port = host_port_for(c->hs, port);
                hvsock_service_id(c->host_port, &c->endpoint);
                if (conn_offer(c) < 0)
                        break;
                conn_sock_interest(c);
                return;
        }
        count(c->hs, &c->hs->st.refused, 1);
        conn_end(c);
}

/* Guest -> host: pipe packets to the socket, until the socket is full. */
static int pump_to_host_batch(struct conn *c) {
        struct hvsock *hs = c->hs;
        while (c->tx_len) {
                ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                c->tx_off += (size_t)n;
                c->tx_len -= (size_t)n;
        }
        free(c->tx);
        c->tx = NULL;
        c->tx_off = 0;
        if (c->guest_fin)
                return 0;
        int r = vmbus_ring_recv_begin(c->rp);
        uint64_t bytes = 0;
        while (r >= 0) {
                struct vmbus_packet pkt;
                r = vmbus_ring_recv(c->rp, hs->pkt, sizeof hs->pkt, &pkt);
                if (r <= 0)
                        break;
                const uint8_t *data;
                size_t n;
                if (pkt.type != VM_PKT_DATA_INBAND ||
                    hvsock_parse_pipe(vmbus_packet_payload(&pkt), vmbus_packet_payload_len(&pkt), &data, &n) < 0) {
                        r = -EPROTO;
                        break;
                }
                if (n == 0) {
                        c->guest_fin = true;
                        (void)shutdown(c->fd, SHUT_WR);
                        break;
                }
                ssize_t w = send(c->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN && errno != EINTR) {
                        r = -errno;
                        break;
                }
                size_t done = w < 0 ? 0 : (size_t)w;
                bytes += n;
                if (done < n) {
                        c->tx = malloc(n - done);
                        if (!c->tx) {
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(c->tx, data + done, n - done);
                        c->tx_len = n - done;
                        break;
                }
        }
        if (r == -EMSGSIZE) /* longer than the MTU: skipped by the ring, the stream is broken */
                r = -EPROTO;
        (void)vmbus_ring_recv_end(c->rp);
        count(hs, &hs->st.bytes_to_host, bytes);
        return r < 0 ? r : 0;
}

/* The guest signals only when it writes into a ring it saw empty, and it
 * sees our read_index only once a batch ends: what it wrote meanwhile
 * must be read without a signal. */
static int pump_to_host(struct conn *c) {
        int r;
        do
                r = pump_to_host_batch(c);
        while (r == 0 && !c->tx_len && !c->guest_fin && vmbus_ring_has_data(c->rp));
        return r;
}

/* Host -> guest: socket bytes as pipe packets, until the ring is full
 * (the ring asks the guest to signal when it has room again). */
static int pump_to_guest(struct conn *c) {
        struct hvsock *hs = c->hs;
        int r = 0;
        uint64_t bytes = 0;
        bool full = false;
        uint32_t chunk = to_guest_chunk(c->rp->out.size);
        vmbus_ring_send_begin(c->rp);
        while (!c->fin_sent) {
                if (c->rx_pending) {
                        r = vmbus_ring_send_inband(c->rp, 0, false, c->rx, c->rx_len);
                        if (r == -EAGAIN && full) { /* full with every packet published: wait */
                                r = 0;
                                break;
                        }
                        if (r == -EAGAIN) {
                                /* The guest judges the room it frees against
                                 * the write_index we published: publish, then
                                 * try once more outside a batch, where a
                                 * refusal leaves pending_send_sz right. */
                                (void)vmbus_ring_send_end(c->rp);
                                full = true;
                                continue;
                        }
                        if (full) { /* room after all: batch again */
                                full = false;
                                vmbus_ring_send_begin(c->rp);
                        }
                        if (r < 0)
                                break;
                        c->rx_pending = false;
                        if (c->rx_len == sizeof(struct vmbus_pipe_header))
                                c->fin_sent = true;
                        continue;
                }
                uint32_t n = 0;
                if (!c->host_eof) {
                        ssize_t got = recv(c->fd, c->rx + sizeof(struct vmbus_pipe_header), chunk, MSG_DONTWAIT);
                        if (got < 0) {
                                if (errno != EAGAIN && errno != EINTR)
                                        r = -errno;
                                break;
                        }
                        if (got == 0)
                                c->host_eof = true;
                        n = (uint32_t)got;
                }
                struct vmbus_pipe_header h = { .type = VMBUS_PIPE_MSG_DATA, .data_size = n };
                memcpy(c->rx, &h, sizeof h);
                c->rx_len = (uint32_t)sizeof h + n;
                c->rx_pending = true;
                bytes += n;
        }
        if (!full)
                (void)vmbus_ring_send_end(c->rp);
        count(hs, &hs->st.bytes_to_guest, bytes);
        return r;
}

static void conn_pump(struct conn *c) {
        if (c->state != C_OPEN)
                return;
        pthread_mutex_lock(&c->lock);
        int r = 0;
        if (c->rp) {
                uint64_t v;
                (void)!read(c->bell, &v, sizeof v);
                r = vmbus_ring_broken(c->rp);
                if (r == 0)
                        r = pump_to_host(c);
                if (r == 0)
                        r = pump_to_guest(c);
        }
        pthread_mutex_unlock(&c->lock);
        if (r == -EPROTO || r == -EBADMSG)
                count(c->hs, &c->hs->st.protocol_errors, 1);
        /* Both sides shut down (and all delivered), or broken: withdraw the
         * channel; Linux's socket finishes its close on the rescind. */
        if (r < 0 || (c->guest_fin && c->fin_sent && !c->tx_len))
                conn_end(c);
        else
                conn_sock_interest(c);
}

/* What the provider callbacks left. */
static void conn_events(struct conn *c) {
        pthread_mutex_lock(&c->lock);
        bool opened = c->opened, closed = c->closed;
        c->opened = c->closed = false;
        pthread_mutex_unlock(&c->lock);
        if (opened && c->state == C_OFFERED) {
                c->state = C_OPEN;
                c->touched = true;
                count(c->hs, &c->hs->st.opened, 1);
                if (c->from_host) {
                        char ok[32];
                        int n = snprintf(ok, sizeof ok, "OK %" PRIu32 "\n", c->host_port);
                        if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
                                closed = true;
                }
        }
        if (closed)
                conn_end(c);
}

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

/* ---- the service thread ------------------------------------------------------ */

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
                    (c = conn_new(hs, false))) {
                        c->service = tl[i].service;
                        c->endpoint = tl[i].endpoint;
                        c->port = port;
                        c->token = ++hs->next_token;
                        c->state = C_BROKER;
                        c->deadline_ms = now_ms() + atomic_load(&hs->offer_timeout_ms);
                        if (hs->cfg.connect(hs->cfg.connect_opaque, port, c->token) < 0)
                                conn_end(c);
                        continue;
                }
                if (room) { /* not a vsock service id, or no memory */
                        pthread_mutex_lock(&hs->lock);
                        hs->n_conns--;
                        pthread_mutex_unlock(&hs->lock);
                }
                refuse(hs, &tl[i].endpoint, &tl[i].service);
        }
        for (unsigned i = 0; i < n_done; i++) {
                struct conn *c = conn_by_token(hs, done[i].token);
                if (!c) {
                        if (done[i].fd >= 0)
                                close(done[i].fd);
                        continue;
                }
                c->fd = done[i].fd;
                if (c->fd < 0 || fd_set_nonblock(c->fd, true) < 0 || conn_offer(c) < 0)
                        conn_end(c);
        }
        for (unsigned i = 0; i < n_clients; i++) {
                struct conn *c = refusing ? NULL : conn_new(hs, true);
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
                conn_sock_interest(c);
                c->touched = true;
        }
}

static void *service_thread(void *arg) {
        struct hvsock *hs = arg;
        (void)prctl(PR_SET_NAME, "hvsock");
        if (hs->cfg.thread_policy)
                (void)hs->cfg.thread_policy(hs->cfg.thread_policy_opaque, "hvsock");
        struct epoll_event evs[64];
        for (;;) {
                uint64_t now = now_ms(), next = UINT64_MAX;
                for (struct conn *c = hs->conns; c; c = c->next)
                        if (c->state != C_OPEN)
                                next = MIN(next, c->deadline_ms);
                int timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)MIN(next - now, 60000u);
                int n = epoll_wait(hs->epfd, evs, ARRAY_SIZE(evs), timeout);
                for (int i = 0; i < n; i++) {
                        struct ep *ep = evs[i].data.ptr;
                        if (ep->kind == EP_WAKE) {
                                uint64_t v;
                                (void)!read(hs->wake, &v, sizeof v);
                        } else {
                                ep->c->touched = true;
                        }
                }
                pthread_mutex_lock(&hs->lock);
                bool stopping = hs->stopping, suspend = hs->suspend;
                pthread_mutex_unlock(&hs->lock);
                if (stopping)
                        break;
                take_requests(hs);
                now = now_ms();
                for (struct conn *c = hs->conns; c; c = c->next) {
                        conn_events(c);
                        if (suspend)
                                conn_end(c);
                        if (c->state == C_HELLO && c->touched)
                                hello_read(c);
                        else if (c->touched)
                                conn_pump(c);
                        c->touched = false;
                        if (c->state != C_OPEN && c->state != C_CLOSING && c->deadline_ms <= now) {
                                pthread_mutex_lock(&hs->lock);
                                if (c->state == C_OFFERED)
                                        hs->st.timed_out++;
                                else if (c->state == C_HELLO)
                                        hs->st.refused++; /* C_BROKER: conn_end refuses */
                                pthread_mutex_unlock(&hs->lock);
                                conn_end(c);
                        }
                }
                for (struct conn **pp = &hs->conns; *pp;) {
                        struct conn *c = *pp;
                        if (c->state == C_CLOSING && c->deadline_ms <= now_ms()) {
                                struct conn *after = c->next;
                                if (conn_reap(c)) {
                                        *pp = after;
                                        continue;
                                }
                        }
                        pp = &c->next;
                }
                if (suspend && !hs->conns) {
                        pthread_mutex_lock(&hs->lock);
                        if (hs->suspend && !hs->n_tl && !hs->n_done && !hs->n_clients) {
                                hs->suspend = false;
                                hs->suspended = true;
                                pthread_cond_broadcast(&hs->cond);
                        }
                        pthread_mutex_unlock(&hs->lock);
                }
        }
        return NULL;
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
        pthread_cond_init(&hs->cond, NULL);
        hs->ep_wake = (struct ep){ NULL, EP_WAKE };
        hs->epfd = epoll_create1(EPOLL_CLOEXEC);
        hs->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        hs->tl = calloc(hs->cfg.max_pending, sizeof *hs->tl);
        hs->clients = calloc(hs->cfg.max_connections, sizeof *hs->clients);
        int r = hs->epfd < 0 || hs->wake < 0 ? -errno : !hs->tl || !hs->clients ? -ENOMEM : 0;
        if (r == 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &hs->ep_wake };
                if (epoll_ctl(hs->epfd, EPOLL_CTL_ADD, hs->wake, &ev) < 0)
                        r = -errno;
        }
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
        int r = -pthread_create(&hs->thread, NULL, service_thread, hs);
        if (r == 0)
                hs->started = true;
        return r;
}

int hvsock_suspend(struct hvsock *hs, unsigned timeout_ms) {
        pthread_mutex_lock(&hs->lock);
        int r = 0;
        if (hs->started && !hs->suspended) {
                hs->suspend = true;
                wake(hs);
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += timeout_ms / 1000;
                until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                while (!hs->suspended && r == 0)
                        r = -pthread_cond_timedwait(&hs->cond, &hs->lock, &until);
                if (r == -ETIMEDOUT)
                        r = hs->suspended ? 0 : -ETIMEDOUT;
        } else if (!hs->started) {
                hs->suspended = true;
        }
        pthread_mutex_unlock(&hs->lock);
        return r;
}

void hvsock_resume(struct hvsock *hs) {
        pthread_mutex_lock(&hs->lock);
        hs->suspend = hs->suspended = false;
        pthread_mutex_unlock(&hs->lock);
        wake(hs);
}

void hvsock_stop(struct hvsock *hs) {
        if (!hs || !hs->started)
                return;
        pthread_mutex_lock(&hs->lock);
        hs->stopping = true;
        pthread_mutex_unlock(&hs->lock);
        wake(hs);
        pthread_join(hs->thread, NULL);
        hs->started = false;
}

void hvsock_free(struct hvsock *hs) {
        if (!hs)
                return;
        hvsock_stop(hs);
        while (hs->conns) {
                struct conn *c = hs->conns;
                hs->conns = c->next;
                if (c->fd >= 0)
                        close(c->fd);
                pthread_mutex_destroy(&c->lock);
                free(c->tx);
                free(c);
        }
        for (unsigned i = 0; i < hs->n_done; i++)
                if (hs->done[i].fd >= 0)
                        close(hs->done[i].fd);
        for (unsigned i = 0; i < hs->n_clients; i++)
                close(hs->clients[i]);
        if (hs->epfd >= 0)
                close(hs->epfd);
        if (hs->wake >= 0)
                close(hs->wake);
        free(hs->tl);
        free(hs->done);
        free(hs->clients);
        pthread_cond_destroy(&hs->cond);
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
