// SPDX-License-Identifier: MIT
/* Hyper-V sockets' connections (docs/hvsock.md), on the device worker:
 * created, offered as a VMBus device, greeted (a host client's CONNECT
 * line), pumped both ways between the host socket and the channel's
 * rings, ended and reaped. The locks are described at the top of
 * hvsock.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/server.h"

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

struct conn *hvsock_conn_new(struct hvsock *hs, bool from_host) {
        struct conn *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->hs = hs;
        c->from_host = from_host;
        c->fd = -1;
        c->bell = -1;
        c->bell_fd = -1;
        pthread_mutex_init(&c->lock, NULL);
        c->next = hs->conns;
        hs->conns = c;
        return c;
}

/* The worker's callbacks, for the socket and the doorbell alike: the
 * round (its on_idle hook, hvsock.c) serves what was touched. The pump
 * reads the doorbell; one left readable by a channel closed meanwhile is
 * dropped by the same round, which sees the close. */
static int on_conn_fd(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct conn *c = opaque;
        c->touched = true;
        return 0;
}

/* Keep fd registered for what the connection can use now. */
void hvsock_conn_sock_interest(struct conn *c) {
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
        int r = c->sock_src ? dw_source_set_events(c->sock_src, want)
                            : devworker_add_io(c->hs->w, c->fd, want, on_conn_fd, c, &c->sock_src);
        if (r == 0)
                c->sock_events = want;
}

static void conn_close_fd(struct conn *c) {
        if (c->fd < 0)
                return;
        dw_source_free(c->sock_src);
        c->sock_src = NULL;
        c->sock_events = 0;
        close(c->fd);
        c->fd = -1;
}

static void conn_drop_bell(struct conn *c) {
        dw_source_free(c->bell_src);
        c->bell_src = NULL;
        if (c->bell_fd >= 0)
                close(c->bell_fd);
        c->bell_fd = -1;
}

/* The channel was opened: its doorbell joins the worker's set, as our own
 * duplicate (hv_close, on a VP thread, may close the channel's any time
 * after we let go of c->lock). False if it cannot. */
static bool conn_watch_bell(struct conn *c) {
        pthread_mutex_lock(&c->lock);
        int r = c->bell < 0 ? -EBADF : 0;
        if (r == 0 && !c->bell_src) {
                c->bell_fd = fcntl(c->bell, F_DUPFD_CLOEXEC, 3);
                r = c->bell_fd < 0 ? -errno : devworker_add_io(c->hs->w, c->bell_fd, EPOLLIN, on_conn_fd, c, &c->bell_src);
        }
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                conn_drop_bell(c);
        return r == 0;
}

void hvsock_conn_free(struct conn *c, bool sources) {
        if (!sources)
                c->sock_src = c->bell_src = NULL; /* the worker freed them */
        conn_close_fd(c);
        conn_drop_bell(c);
        pthread_mutex_destroy(&c->lock);
        free(c->tx);
        free(c);
}

void hvsock_refuse(struct hvsock *hs, const struct guid *endpoint, const struct guid *service) {
        (void)vmbus_server_tl_connect_result(hs->srv, endpoint, service, (int32_t)VMBUS_STATUS_CONNECTION_REFUSED);
        count(hs, &hs->st.refused, 1);
}

/* End a connection: the host socket goes now, the device (rescind) in
 * hvsock_conn_reap. A guest connect still waiting for its socket is refused. */
void hvsock_conn_end(struct conn *c) {
        if (c->state == C_CLOSING)
                return;
        struct hvsock *hs = c->hs;
        if (c->state == C_BROKER)
                hvsock_refuse(hs, &c->endpoint, &c->service);
        pthread_mutex_lock(&c->lock);
        c->dead = true;
        pthread_mutex_unlock(&c->lock);
        conn_close_fd(c);
        conn_drop_bell(c);
        free(c->tx);
        c->tx = NULL;
        c->tx_len = c->tx_off = 0;
        c->state = C_CLOSING;
        c->deadline_ms = 0;
}

/* Remove the device of a closing connection (its offer is rescinded, its
 * channel closed) and free it; false if the server is busy (retry). */
bool hvsock_conn_reap(struct conn *c) {
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
        hvsock_conn_free(c, true);
        return true;
}

int hvsock_conn_offer(struct conn *c) {
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

void hvsock_hello_read(struct conn *c) {
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
                if (hvsock_conn_offer(c) < 0)
                        break;
                hvsock_conn_sock_interest(c);
                return;
        }
        count(c->hs, &c->hs->st.refused, 1);
        hvsock_conn_end(c);
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

void hvsock_conn_pump(struct conn *c) {
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
                hvsock_conn_end(c);
        else
                hvsock_conn_sock_interest(c);
}

/* What the provider callbacks left. */
void hvsock_conn_events(struct conn *c) {
        pthread_mutex_lock(&c->lock);
        bool opened = c->opened, closed = c->closed;
        c->opened = c->closed = false;
        pthread_mutex_unlock(&c->lock);
        if (opened && c->state == C_OFFERED) {
                c->state = C_OPEN;
                if (!closed && !conn_watch_bell(c))
                        closed = true;
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
                hvsock_conn_end(c);
}
