/* SPDX-License-Identifier: MIT */
/* The network end of a migration channel (docs/migration.md "The
 * channel"): TCP, TLS 1.3 through GnuTLS with X.509 certificates on both
 * sides, or plain TCP on loopback in the explicit insecure mode; frames
 * (vmms/migchan.h) and the relay between the channel and a worker's
 * socketpair. Blocking I/O: these run on a channel's own thread, never on
 * the event loop; a stuck peer is cut by the socket timeouts or by
 * shutdown(2) from the loop. Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmms/migchan.h"

struct vmms_options;
struct vmms_mig_tls;

/* The credentials from --migration-cert/-key/-ca (or the insecure mode),
 * loaded once at start: -EINVAL with a sentence for bad files. *out stays
 * NULL when migration is not configured at all. */
int vmms_mig_tls_load(const struct vmms_options *o, struct vmms_mig_tls **out, char *err, size_t errlen);
struct vmms_mig_tls *vmms_mig_tls_free(struct vmms_mig_tls *t);
bool vmms_mig_tls_insecure(const struct vmms_mig_tls *t);

struct vmms_mig_conn {
        int fd;
        void *session; /* gnutls_session_t; NULL in the insecure mode */
};
#define VMMS_MIG_CONN_NULL ((struct vmms_mig_conn){ .fd = -1 })

/* Source: resolves host (the insecure mode only accepts loopback
 * addresses), connects (timeout 10 s) and, with TLS, shakes hands
 * verifying the destination's certificate against the CA and host.
 * publish(fd, opaque) is called with the socket as soon as it exists (so
 * that the loop can shut it down to cancel); a non-zero return aborts. */
int vmms_mig_connect(const struct vmms_mig_tls *t, const char *host, uint16_t port, struct vmms_mig_conn *c,
                     int (*publish)(int fd, void *opaque), void *opaque, char *err, size_t errlen);
/* Destination: the handshake on an accepted socket (taken into c); the
 * source's certificate must verify against the CA (else the handshake
 * fails) and match one of the allowed names, which then replaces peer (the address)
 * (else -EPERM: the channel is up and can carry the refusal). */
int vmms_mig_accept(const struct vmms_mig_tls *t, const char *const *allow, size_t n_allow, int fd,
                    struct vmms_mig_conn *c, char *peer, size_t peerlen, char *err, size_t errlen);
int vmms_mig_send_frame(struct vmms_mig_conn *c, enum vmms_migchan_kind kind, const char *body);
/* The same with a body of len bytes (a SEED frame's image). */
int vmms_mig_send_frame_bytes(struct vmms_mig_conn *c, enum vmms_migchan_kind kind, const void *body, size_t len);
/* The body NUL-terminated in *body (free it); -EBADMSG etc. from the frame. */
int vmms_mig_recv_frame(struct vmms_mig_conn *c, enum vmms_migchan_kind kind, char **body, uint32_t *len);
/* Exactly len bytes to or from the channel (a quick migration's state
 * file); -ECONNRESET for a peer that ended before, -ETIMEDOUT. */
int vmms_mig_send_raw(struct vmms_mig_conn *c, const void *buf, size_t len);
int vmms_mig_recv_raw(struct vmms_mig_conn *c, void *buf, size_t len);
/* Copies both ways between the channel and wfd (the worker's stream) until
 * both sides ended; bytes counted into *to_net and *from_net (atomically:
 * another thread watches them). A link
 * that goes silent fails it within seconds (vmms_mig_conn_watch): the
 * workers wait without limit after a post-copy's COMMIT. */
int vmms_mig_relay(struct vmms_mig_conn *c, int wfd, uint64_t *to_net, uint64_t *from_net, char *err, size_t errlen);
void vmms_mig_conn_close(struct vmms_mig_conn *c);
/* Without blocking (for a socket vmms_mig_conn_relay_mode made
 * non-blocking): bytes moved, 0 for the peer's end (recv), -EAGAIN, or
 * -errno for a broken link. A send that returned -EAGAIN must be repeated
 * with the same buffer and length (GnuTLS's rule). */
ssize_t vmms_mig_conn_send_nb(struct vmms_mig_conn *c, const void *buf, size_t len);
ssize_t vmms_mig_conn_recv_nb(struct vmms_mig_conn *c, void *buf, size_t len);
/* a[0, alen) then b[0, blen) as one send where the transport allows
 * (plain: sendmsg; TLS: the first non-empty one): the bytes taken from
 * both, in order. */
ssize_t vmms_mig_conn_send2_nb(struct vmms_mig_conn *c, const void *a, size_t alen, const void *b, size_t blen);
/* Whether TLS holds received bytes that poll(2) cannot see. */
bool vmms_mig_conn_pending(struct vmms_mig_conn *c);
/* A link that stops answering fails within seconds (TCP keepalive and
 * user timeout: an error on the next call), not never: both relays. */
void vmms_mig_conn_watch(struct vmms_mig_conn *c);
/* For the resumable relay: the socket non-blocking, and watched; the
 * relay reconnects when the link fails. */
void vmms_mig_conn_relay_mode(struct vmms_mig_conn *c);

/* The resumable relay (migration/resume.c; vmms/migchan.h "A resumable
 * channel"): as vmms_mig_relay, with frames on the channel, and a cut
 * link replaced through ops. */
#define VMMS_MIG_REPLAY_MAX (16u << 20) /* sent and not acknowledged, per side */
struct vmms_mig_resume_ops {
        /* After a cut: closes the broken connection in *c (after taking
         * its fd out of wherever a cancel finds it: the number may be
         * reused at once), then puts a new one there, its handshake done,
         * with the peer's received count (how much of our stream it has);
         * rx is ours, for the peer. Gives up at deadline_us
         * (CLOCK_MONOTONIC) or when the migration is cancelled: -errno
         * with a sentence. */
        int (*reconnect)(void *opaque, uint64_t rx, uint64_t deadline_us, struct vmms_mig_conn *c, uint64_t *peer_rx,
                         char *err, size_t errlen);
        /* The link broke (once per cut), and came back after outage_ms;
         * either may be NULL. Called on the relay's thread. */
        void (*cut)(void *opaque, const char *why);
        void (*resumed)(void *opaque, uint64_t outage_ms);
        void *opaque;
        uint32_t recover_ms; /* how long a cut may last */
        /* Readable: end now, telling the peer (ABORT); -1: none. */
        int stop_fd;
        /* Non-zero (read atomically; another thread sets it): a cut is
         * waited out for as long as it lasts, window after window of
         * recover_ms, while the worker's end of its stream is still open
         * (a post-copy after its COMMIT, where giving up loses the VM).
         * NULL: never. */
        const int *hold;
};
int vmms_mig_relay_resumable(struct vmms_mig_conn *c, int wfd, const struct vmms_mig_resume_ops *ops, uint64_t *to_net,
                             uint64_t *from_net, char *err, size_t errlen);
/* Whether a cut on a relay with this hold flag (vmms_mig_resume_ops.hold,
 * may be NULL) and worker stream wfd is waited out past recover_ms now. */
bool vmms_mig_relay_holds(const int *hold, int wfd);
/* Whether a listen or connect address is loopback (127/8, ::1). */
bool vmms_mig_is_loopback(const struct sockaddr *sa);
