// SPDX-License-Identifier: MIT
/* The resumable relay (vmms/migration/conn.h, docs/migration.md "A cut
 * channel"): the workers' stream in frames (vmms/migchan.h), each side
 * keeping what it sent until the other acknowledges it, so that a cut
 * link costs a new connection and a resend, not the migration.
 *
 * One thread and no blocking call but the reconnect: the worker's bytes
 * are read into the replay ring (while it has room, which holds the
 * worker back) and framed as DATA; a frame from the peer is taken whole
 * and its body written to the worker before the next is read. Neither
 * direction waits for the other, so two relays sending at once cannot
 * block each other (the plain relay could). An ACK goes back for every
 * VMMS_MIG_ACK_EVERY bytes taken and when the link is quiet; the worker's
 * end of its stream is a FIN, which the peer's ACK counts as one byte
 * more. Both FINs acknowledged and delivered: done. A failure on the
 * worker's side ends the relay, and so does stop_fd, telling the peer
 * (ABORT: it does not wait for a resume then); one on the link's calls
 * reconnect, which gives up after recover_ms, or, while ops->hold says
 * so, tries again and again. A relay that ends with its link up closes it
 * in order (linger). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "migration/conn.h"
#include "vmms/migchan.h"

#define VMMS_MIG_ACK_EVERY (1u << 20)
#define VMMS_MIG_QUIET_MS 200

struct relay {
        struct vmms_mig_conn *c;
        int wfd;
        const struct vmms_mig_resume_ops *ops;
        uint8_t *ring;
        size_t cap;
        uint64_t tx;       /* stream bytes from the worker; the ring holds them from acked on */
        uint64_t sent;     /* of those, framed on this link */
        uint64_t acked;    /* the peer's last ACK (its FIN counted as one more) */
        uint64_t rx;       /* stream bytes taken from the peer */
        uint64_t ack_sent; /* what our last ACK said */
        bool w_eof, fin_framed, peer_fin, fin_delivered;
        bool aborted; /* the peer ended the channel after its whole stream */
        /* The frame going out: its header (or a whole control frame) in
         * obuf[ooff, olen), then a DATA body straight from the ring,
         * body[boff, blen) (stable: the ring keeps it until acknowledged). */
        uint8_t *obuf;
        size_t ooff, olen;
        const uint8_t *body;
        size_t boff, blen;
        /* The frame coming in: its header (and a control frame's body) in
         * hbuf, ihave bytes of it; a DATA body passes through as it
         * arrives, body_left bytes of it still to come, each piece staged
         * for the worker in ibuf[woff, woff + wlen) and counted received
         * (a resume goes by bytes, not frames). */
        uint8_t hbuf[VMMS_MIGCHAN_RFRAME_SIZE + 8];
        uint8_t *ibuf;
        size_t ihave, woff, wlen;
        uint32_t body_left;
        uint64_t *to_net, *from_net;
        char *err;
        size_t errlen;
};

static uint64_t acked_data(const struct relay *r) {
        return MIN(r->acked, r->tx);
}

/* What the peer's ACK says once it has everything, our FIN included. */
static uint64_t all_sent(const struct relay *r) {
        return r->tx + (r->w_eof ? 1 : 0);
}

static uint64_t received(const struct relay *r) {
        return r->rx + (r->peer_fin ? 1 : 0);
}

static void put_u64(uint8_t *b, uint64_t v) {
        for (int i = 0; i < 8; i++)
                b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *b) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | b[i];
        return v;
}

static void frame_u64(struct relay *r, enum vmms_migchan_rframe type, uint64_t v) {
        vmms_migchan_rframe_build(r->obuf, type, 8);
        put_u64(r->obuf + VMMS_MIGCHAN_RFRAME_SIZE, v);
        r->ooff = 0, r->olen = VMMS_MIGCHAN_RFRAME_SIZE + 8;
}

static bool ack_due(const struct relay *r, bool quiet) {
        uint64_t have = received(r);
        return have != r->ack_sent && (quiet || r->peer_fin || have - r->ack_sent >= VMMS_MIG_ACK_EVERY);
}

static bool out_pending(const struct relay *r) {
        return r->olen || r->blen;
}

/* The next frame into obuf, if one is due: an ACK first, then DATA from
 * the ring, then our FIN. */
static void next_frame(struct relay *r, bool quiet) {
        if (out_pending(r))
                return;
        if (ack_due(r, quiet)) {
                frame_u64(r, VMMS_RFRAME_ACK, received(r));
                r->ack_sent = received(r);
        } else if (r->sent < r->tx) {
                size_t at = (size_t)(r->sent % r->cap);
                size_t n = (size_t)MIN(r->tx - r->sent, (uint64_t)MIN(r->cap - at, (size_t)VMMS_MIGCHAN_DATA_MAX));
                vmms_migchan_rframe_build(r->obuf, VMMS_RFRAME_DATA, (uint32_t)n);
                r->ooff = 0, r->olen = VMMS_MIGCHAN_RFRAME_SIZE;
                r->body = r->ring + at, r->boff = 0, r->blen = n;
                r->sent += n;
                __atomic_fetch_add(r->to_net, (uint64_t)n, __ATOMIC_RELAXED);
        } else if (r->w_eof && !r->fin_framed) {
                frame_u64(r, VMMS_RFRAME_FIN, r->tx);
                r->fin_framed = true;
        }
}

/* Some of the frame going out; 0 once it all went, -EAGAIN, or -errno. */
static int send_some(struct relay *r) {
        ssize_t n = vmms_mig_conn_send2_nb(r->c, r->obuf + r->ooff, r->olen - r->ooff, r->body + r->boff,
                                           r->blen - r->boff);
        if (n < 0)
                return (int)n;
        if (n == 0)
                return -EPIPE;
        size_t h = MIN((size_t)n, r->olen - r->ooff);
        r->ooff += h, r->boff += (size_t)n - h;
        if (r->ooff == r->olen && r->boff == r->blen)
                r->ooff = r->olen = r->boff = r->blen = 0;
        return out_pending(r) ? -EAGAIN : 0;
}

/* 1: the link failed (*k); 0; -errno: the relay ends. */
static int net_out(struct relay *r, int *k) {
        while (out_pending(r)) {
                int n = send_some(r);
                if (n == -EAGAIN && out_pending(r)) {
                        struct pollfd p = { .fd = r->c->fd, .events = POLLOUT };
                        if (poll(&p, 1, 0) <= 0)
                                return 0;
                        continue;
                }
                if (n < 0 && n != -EAGAIN)
                        return *k = n, 1;
                next_frame(r, false);
        }
        return 0;
}

/* Tells the peer the channel ends (ABORT), after the frame under way if
 * part of it went, trying for half a second at most. */
static void send_abort(struct relay *r) {
        if (r->c->fd < 0)
                return;
        if (r->ooff == 0 && r->boff == 0)
                r->olen = r->blen = 0; /* nothing of it went: it need not */
        uint64_t deadline = now_us(CLOCK_MONOTONIC) + 500000;
        bool abort_framed = false;
        while (now_us(CLOCK_MONOTONIC) < deadline) {
                if (!out_pending(r)) {
                        if (abort_framed)
                                break;
                        vmms_migchan_rframe_build(r->obuf, VMMS_RFRAME_ABORT, 0);
                        r->ooff = 0, r->olen = VMMS_MIGCHAN_RFRAME_SIZE;
                        abort_framed = true;
                }
                int n = send_some(r);
                if (n == -EAGAIN) {
                        struct pollfd p = { .fd = r->c->fd, .events = POLLOUT };
                        (void)poll(&p, 1, 50);
                } else if (n < 0) {
                        break;
                }
        }
        r->ooff = r->olen = r->boff = r->blen = 0;
}

static bool stopped(const struct relay *r) {
        struct pollfd p = { .fd = r->ops->stop_fd, .events = POLLIN };
        return r->ops->stop_fd >= 0 && poll(&p, 1, 0) > 0;
}

/* A frame's header (and a control frame's body) from the peer, taken.
 * 0, or -errno: the relay ends. */
static int take_frame(struct relay *r, enum vmms_migchan_rframe type, uint32_t len) {
        r->ihave = 0;
        if (type == VMMS_RFRAME_DATA) {
                if (r->peer_fin)
                        return snprintf(r->err, r->errlen, "from the peer: data after its end"), -EPROTO;
                r->body_left = len;
                return 0;
        }
        if (type == VMMS_RFRAME_ABORT) {
                if (r->peer_fin) /* its stream was whole: it is done with the channel */
                        return r->aborted = true, 0;
                return snprintf(r->err, r->errlen, "the peer ended the channel"), -ECONNABORTED;
        }
        uint64_t v = get_u64(r->hbuf + VMMS_MIGCHAN_RFRAME_SIZE);
        if (type == VMMS_RFRAME_ACK) {
                if (v < r->acked || v > all_sent(r))
                        return snprintf(r->err, r->errlen, "from the peer: an acknowledgement of %llu bytes of %llu",
                                        (unsigned long long)v, (unsigned long long)all_sent(r)),
                               -EPROTO;
                r->acked = v;
                return 0;
        }
        if (v != r->rx) /* FIN: the peer's stream ends here */
                return snprintf(r->err, r->errlen, "from the peer: its end after %llu bytes, %llu received",
                                (unsigned long long)v, (unsigned long long)r->rx),
                       -EPROTO;
        r->peer_fin = true;
        return 0;
}

/* 1: the link failed (*k); 0; -errno: the relay ends. */
static int net_in(struct relay *r, int *k) {
        while (r->wlen == 0) { /* the worker has taken the last piece */
                ssize_t n;
                if (r->body_left) {
                        n = vmms_mig_conn_recv_nb(r->c, r->ibuf, MIN((size_t)r->body_left, (size_t)VMMS_MIGCHAN_DATA_MAX));
                        if (n > 0) {
                                r->body_left -= (uint32_t)n;
                                r->rx += (uint64_t)n;
                                __atomic_fetch_add(r->from_net, (uint64_t)n, __ATOMIC_RELAXED);
                                r->woff = 0, r->wlen = (size_t)n;
                                continue;
                        }
                } else {
                        size_t want = VMMS_MIGCHAN_RFRAME_SIZE;
                        enum vmms_migchan_rframe type;
                        uint32_t len;
                        if (r->ihave >= VMMS_MIGCHAN_RFRAME_SIZE) {
                                if (vmms_migchan_rframe_parse(r->hbuf, &type, &len) < 0)
                                        return snprintf(r->err, r->errlen, "from the peer: a malformed frame"), -EBADMSG;
                                want += type == VMMS_RFRAME_DATA ? 0 : len;
                        }
                        if (r->ihave == want) {
                                int q = take_frame(r, type, len);
                                if (q < 0)
                                        return q;
                                continue;
                        }
                        n = vmms_mig_conn_recv_nb(r->c, r->hbuf + r->ihave, want - r->ihave);
                        if (n > 0) {
                                r->ihave += (size_t)n;
                                continue;
                        }
                }
                if (n == -EAGAIN)
                        return 0;
                return *k = n < 0 ? (int)n : -ECONNRESET, 1;
        }
        return 0;
}

/* 0, or -errno: the relay ends (the worker's side failed). */
static int worker_out(struct relay *r) {
        while (r->wlen) {
                ssize_t n = send(r->wfd, r->ibuf + r->woff, r->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n < 0)
                        return snprintf(r->err, r->errlen, "to the worker: %s", strerror(errno)), -errno;
                r->woff += (size_t)n, r->wlen -= (size_t)n;
        }
        if (r->peer_fin && !r->fin_delivered) {
                (void)shutdown(r->wfd, SHUT_WR);
                r->fin_delivered = true;
        }
        return 0;
}

/* 0, or -errno: the relay ends. */
static int worker_in(struct relay *r) {
        while (!r->w_eof && r->tx - acked_data(r) < r->cap) {
                size_t at = (size_t)(r->tx % r->cap);
                size_t n = MIN(r->cap - (size_t)(r->tx - acked_data(r)), r->cap - at);
                ssize_t got = recv(r->wfd, r->ring + at, n, MSG_DONTWAIT);
                if (got < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (got < 0)
                        return snprintf(r->err, r->errlen, "from the worker: %s", strerror(errno)), -errno;
                if (got == 0)
                        r->w_eof = true;
                r->tx += (uint64_t)got;
        }
        return 0;
}

/* After the link failed: what the peer sent before it ended is still
 * there to read (an ABORT, which ends the relay instead of a resume; its
 * last DATA, FIN or ACK), up to its end. A link that failed only on our
 * send, with its reading side still open, is given half a second for
 * that. 0, or -errno: the relay ends. */
static int drain(struct relay *r) {
        uint64_t deadline = now_us(CLOCK_MONOTONIC) + 500000;
        for (;;) {
                int k, st = net_in(r, &k);
                if (st != 0 || r->aborted)
                        return st < 0 ? st : 0; /* > 0: its end, nothing more to read */
                if ((st = worker_out(r)) < 0)
                        return st;
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return 0;
                struct pollfd p = r->wlen ? (struct pollfd){ .fd = r->wfd, .events = POLLOUT }
                                          : (struct pollfd){ .fd = r->c->fd, .events = POLLIN };
                (void)poll(&p, 1, (int)MIN((deadline - now) / 1000 + 1, 50ull));
        }
}

bool vmms_mig_relay_holds(const int *hold, int wfd) {
        if (!hold || !__atomic_load_n(hold, __ATOMIC_ACQUIRE))
                return false;
        /* Hung up: the worker closed its end (it ended, or was killed);
         * there is nothing left to hold for. */
        struct pollfd p = { .fd = wfd, .events = 0 };
        return poll(&p, 1, 0) == 0 || !(p.revents & (POLLHUP | POLLNVAL));
}

/* The link failed (k, why): a new one, and what the peer lacks again. */
static int recover(struct relay *r, int k) {
        char msg[256];
        if (stopped(r)) { /* the link's end is ours (a cancel shuts it down) */
                send_abort(r);
                return snprintf(r->err, r->errlen, "ended here"), -ECANCELED;
        }
        snprintf(msg, sizeof msg, "%s", strerror(-k));
        if (r->ops->cut)
                r->ops->cut(r->ops->opaque, msg);
        uint64_t t0 = now_us(CLOCK_MONOTONIC), peer_rx;
        int q;
        /* Held: one window after another, until the link is back or the
         * hold ends (the worker gone, or the peer refusing the resume). */
        for (uint64_t from = t0;; from = now_us(CLOCK_MONOTONIC)) {
                q = r->ops->reconnect(r->ops->opaque, received(r), from + r->ops->recover_ms * 1000ull, r->c, &peer_rx,
                                      r->err, r->errlen);
                if (q != -ETIMEDOUT || stopped(r) || !vmms_mig_relay_holds(r->ops->hold, r->wfd))
                        break;
        }
        if (q < 0) {
                char last[256];
                snprintf(last, sizeof last, "%s", r->err);
                snprintf(r->err, r->errlen, "the channel was cut (%s) and %s", msg, last);
                return q;
        }
        if (peer_rx < r->acked || peer_rx > all_sent(r))
                return snprintf(r->err, r->errlen, "resuming: the peer has %llu bytes of the %llu sent (%llu acknowledged)",
                                (unsigned long long)peer_rx, (unsigned long long)all_sent(r),
                                (unsigned long long)r->acked),
                       -EPROTO;
        vmms_mig_conn_relay_mode(r->c);
        r->acked = peer_rx;
        r->ack_sent = received(r); /* the handshake told it */
        r->sent = acked_data(r);
        r->fin_framed = r->acked > r->tx;
        r->ihave = r->body_left = 0; /* the peer sends again from what we received, in new frames */
        r->ooff = r->olen = r->boff = r->blen = 0;
        if (r->ops->resumed)
                r->ops->resumed(r->ops->opaque, (now_us(CLOCK_MONOTONIC) - t0) / 1000);
        return 0;
}

/* Whether the peer's end of the link is closed (its FIN came), as TCP
 * tracks it: a recv's 0 cannot say, once a cancel shut our reading end.
 * Not TCP (a socketpair): the recv's 0 says it. */
static bool peer_closed(int fd) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                return true;
        return ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_FIN_WAIT1 && ti.tcpi_state != TCP_FIN_WAIT2;
}

/* The relay ends with its link up: our FIN, then what the peer still
 * sends is read and dropped until its own FIN, for half a second at most.
 * A socket closed with bytes unread resets the link (RST), and a proxy
 * between the two may then drop what it had not yet passed on: our
 * ABORT, or our last ACK, which the peer needs to be done. */
static void linger(struct relay *r) {
        int fd = r->c->fd;
        if (fd < 0)
                return;
        (void)shutdown(fd, SHUT_WR);
        uint64_t deadline = now_us(CLOCK_MONOTONIC) + 500000;
        for (;;) {
                uint8_t buf[4096];
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0)
                        continue;
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return; /* reset, or gone */
                if (n == 0 && peer_closed(fd))
                        return;
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return;
                int ms = (int)MIN((deadline - now) / 1000 + 1, 10ull);
                if (n == 0) /* our reading end is shut: a poll would not wait */
                        (void)poll(NULL, 0, ms);
                else
                        (void)poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, ms);
        }
}

static bool done(const struct relay *r) {
        return r->fin_delivered && r->w_eof && r->acked == all_sent(r) && !out_pending(r) && !ack_due(r, true);
}

int vmms_mig_relay_resumable(struct vmms_mig_conn *c, int wfd, const struct vmms_mig_resume_ops *ops, uint64_t *to_net,
                             uint64_t *from_net, char *err, size_t errlen) {
        struct relay r = { .c = c, .wfd = wfd, .ops = ops, .cap = VMMS_MIG_REPLAY_MAX, .to_net = to_net,
                           .from_net = from_net, .err = err, .errlen = errlen };
        r.ring = malloc(r.cap);
        r.obuf = malloc(VMMS_MIGCHAN_RFRAME_SIZE + 8); /* a header, or a control frame */
        r.ibuf = malloc(VMMS_MIGCHAN_DATA_MAX);
        int ret = 0;
        if (!r.ring || !r.obuf || !r.ibuf)
                ret = -ENOMEM, snprintf(err, errlen, "out of memory");
        vmms_mig_conn_relay_mode(c);
        bool quiet = false;
        while (ret >= 0 && !done(&r)) {
                next_frame(&r, quiet);
                bool pending = vmms_mig_conn_pending(c) && r.wlen == 0;
                short net_ev = (short)((r.wlen == 0 ? POLLIN : 0) | (out_pending(&r) ? POLLOUT : 0));
                short w_ev = (short)((!r.w_eof && r.tx - acked_data(&r) < r.cap ? POLLIN : 0) | (r.wlen ? POLLOUT : 0));
                /* An fd with nothing to wait for is left out: its hang-up
                 * would wake the loop again and again meanwhile. */
                struct pollfd p[3] = {
                        { .fd = net_ev ? c->fd : -1, .events = net_ev },
                        { .fd = w_ev ? wfd : -1, .events = w_ev },
                        { .fd = ops->stop_fd, .events = POLLIN },
                };
                int n = pending ? 1 : poll(p, 3, VMMS_MIG_QUIET_MS);
                if (n < 0 && errno != EINTR) {
                        ret = -errno, snprintf(err, errlen, "poll: %s", strerror(errno));
                        break;
                }
                quiet = n == 0;
                if (!pending && n > 0 && p[2].revents) {
                        send_abort(&r);
                        ret = -ECANCELED, snprintf(err, errlen, "ended here");
                        break;
                }
                /* Each step moves what it can without blocking. A link
                 * that ends once everything is through (the peer is done
                 * and closed) is no cut. */
                int k = 0, lost = 0, st = 0;
                if (pending || (n > 0 && p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        st = net_in(&r, &k);
                if (st > 0)
                        lost = k, st = 0;
                if (st == 0 && (r.wlen || (r.peer_fin && !r.fin_delivered)))
                        st = worker_out(&r);
                if (st == 0 && n > 0 && !pending && p[1].revents & (POLLIN | POLLHUP | POLLERR))
                        st = worker_in(&r);
                if (st == 0 && !lost) {
                        next_frame(&r, quiet);
                        if ((st = net_out(&r, &k)) > 0)
                                lost = k, st = 0;
                }
                if (st == 0 && lost)
                        st = drain(&r);
                if (st < 0 && !r.aborted)
                        send_abort(&r); /* the peer need not wait for a resume */
                if (st < 0)
                        ret = st;
                else if (r.aborted)
                        break;
                else if (lost && !done(&r))
                        ret = recover(&r, lost);
        }
        linger(&r);
        free(r.ring);
        free(r.obuf);
        free(r.ibuf);
        return ret;
}
