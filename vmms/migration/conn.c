// SPDX-License-Identifier: MIT
/* TLS (GnuTLS) or, explicitly and on loopback only, plain TCP for the
 * migration channel (vmms/migration/conn.h, docs/migration.md "The channel").
 * vmms does the TLS and relays the plain stream to the worker through a
 * socketpair: the worker stays without network access and without a TLS
 * library in its sandbox (docs/migration.md says why not kernel TLS). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "migration/conn.h"

#define MIG_IO_TIMEOUT_S 60
#define MIG_CONNECT_TIMEOUT_S 10
#define MIG_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

struct vmms_mig_tls {
        gnutls_certificate_credentials_t cred; /* NULL: insecure */
};

bool vmms_mig_tls_insecure(const struct vmms_mig_tls *t) {
        return !t->cred;
}

struct vmms_mig_tls *vmms_mig_tls_free(struct vmms_mig_tls *t) {
        if (t && t->cred)
                gnutls_certificate_free_credentials(t->cred);
        free(t);
        return NULL;
}

int vmms_mig_tls_load(const struct vmms_options *o, struct vmms_mig_tls **out, char *err, size_t errlen) {
        bool any = o->migration_cert || o->migration_key || o->migration_ca;
        *out = NULL;
        if (o->migration_insecure && any)
                return snprintf(err, errlen, "--migration-insecure excludes --migration-cert/-key/-ca"), -EINVAL;
        if (!o->migration_insecure && !any) {
                if (o->migration_listen)
                        return snprintf(err, errlen, "--migration-listen needs --migration-cert, --migration-key "
                                                     "and --migration-ca (or --migration-insecure on loopback)"),
                               -EINVAL;
                return 0; /* migration not configured */
        }
        if (any && (!o->migration_cert || !o->migration_key || !o->migration_ca))
                return snprintf(err, errlen, "--migration-cert, --migration-key and --migration-ca go together"),
                       -EINVAL;
        if (o->migration_listen && !o->migration_insecure && o->n_migration_allow == 0)
                return snprintf(err, errlen, "--migration-listen with TLS needs --migration-allow=NAME (the "
                                             "source hosts' certificate names)"),
                       -EINVAL;
        struct vmms_mig_tls *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        if (any) {
                int g = gnutls_certificate_allocate_credentials(&t->cred);
                if (g >= 0 && (g = gnutls_certificate_set_x509_trust_file(t->cred, o->migration_ca,
                                                                         GNUTLS_X509_FMT_PEM)) == 0)
                        g = GNUTLS_E_FILE_ERROR; /* no CA in the file */
                if (g >= 0)
                        g = gnutls_certificate_set_x509_key_file(t->cred, o->migration_cert, o->migration_key,
                                                                 GNUTLS_X509_FMT_PEM);
                if (g < 0) {
                        snprintf(err, errlen, "migration certificates (%s, %s, %s): %s", o->migration_cert,
                                 o->migration_key, o->migration_ca, gnutls_strerror(g));
                        vmms_mig_tls_free(t);
                        return -EINVAL;
                }
        }
        *out = t;
        return 0;
}

bool vmms_mig_is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(a) ||
                       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        }
        return false;
}

static void set_timeouts(int fd, int seconds) {
        struct timeval tv = { .tv_sec = seconds };
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int handshake(struct vmms_mig_conn *c, char *err, size_t errlen) {
        gnutls_session_t s = c->session;
        int g;
        gnutls_handshake_set_timeout(s, MIG_IO_TIMEOUT_S * 1000);
        do
                g = gnutls_handshake(s);
        while (g < 0 && !gnutls_error_is_fatal(g) && g != GNUTLS_E_AGAIN);
        if (g < 0) {
                const char *why = g == GNUTLS_E_AGAIN ? "timed out" : gnutls_strerror(g);
                if (g == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
                        gnutls_datum_t d = { 0 };
                        unsigned st = gnutls_session_get_verify_cert_status(s);
                        if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &d, 0) >= 0) {
                                snprintf(err, errlen, "TLS handshake: the peer's certificate: %s", d.data);
                                gnutls_free(d.data);
                                return -EACCES;
                        }
                }
                snprintf(err, errlen, "TLS handshake: %s", why);
                return g == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ? -EACCES : -ECONNABORTED;
        }
        return 0;
}

static int session_new(const struct vmms_mig_tls *t, struct vmms_mig_conn *c, unsigned flags) {
        gnutls_session_t s;
        if (gnutls_init(&s, flags) < 0)
                return -ENOMEM;
        c->session = s;
        if (gnutls_priority_set_direct(s, MIG_PRIORITY, NULL) < 0 ||
            gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) < 0)
                return -EINVAL;
        gnutls_transport_set_int(s, c->fd);
        return 0;
}

static int connect_addr(const struct addrinfo *ai, bool loopback_only, int (*publish)(int, void *), void *opaque,
                        int *out) {
        if (loopback_only && !vmms_mig_is_loopback(ai->ai_addr))
                return -EPERM;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (publish && publish(fd, opaque)) {
                safe_close(fd);
                return -ECANCELED;
        }
        set_timeouts(fd, MIG_CONNECT_TIMEOUT_S); /* SO_SNDTIMEO bounds connect(2) */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                int r = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
                if (publish)
                        (void)publish(-1, opaque);
                safe_close(fd);
                return r;
        }
        set_timeouts(fd, MIG_IO_TIMEOUT_S);
        *out = fd;
        return 0;
}

int vmms_mig_connect(const struct vmms_mig_tls *t, const char *host, uint16_t port, struct vmms_mig_conn *c,
                     int (*publish)(int fd, void *opaque), void *opaque, char *err, size_t errlen) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
        char svc[8];
        snprintf(svc, sizeof svc, "%u", port);
        int g = getaddrinfo(host, svc, &hints, &res), r = -EHOSTUNREACH;
        if (g != 0)
                return snprintf(err, errlen, "%s: %s", host, gai_strerror(g)), -EHOSTUNREACH;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                r = connect_addr(ai, !t->cred, publish, opaque, &c->fd);
                if (r >= 0 || r == -ECANCELED)
                        break;
        }
        freeaddrinfo(res);
        if (r == -EPERM)
                return snprintf(err, errlen, "%s: the insecure mode (--migration-insecure) only connects to "
                                             "loopback addresses", host), r;
        if (r < 0)
                return snprintf(err, errlen, "cannot connect to %s port %u: %s", host, port, strerror(-r)), r;
        if (!t->cred)
                return 0;
        if ((r = session_new(t, c, GNUTLS_CLIENT)) < 0)
                return snprintf(err, errlen, "TLS setup: %s", strerror(-r)), r;
        /* The destination must present a certificate from our CA for the
         * name we dialled (SAN dNSName or IP address). */
        gnutls_session_set_verify_cert(c->session, host, 0);
        (void)gnutls_server_name_set(c->session, GNUTLS_NAME_DNS, host, strlen(host));
        return handshake(c, err, errlen);
}

/* The source's certificate (already verified against the CA in the
 * handshake) must name one of the allowed hosts. */
static int check_peer_name(struct vmms_mig_conn *c, const char *const *allow, size_t n_allow, char *peer,
                           size_t peerlen, char *err, size_t errlen) {
        unsigned n = 0;
        const gnutls_datum_t *certs = gnutls_certificate_get_peers(c->session, &n);
        gnutls_x509_crt_t crt;
        if (!certs || n == 0 || gnutls_x509_crt_init(&crt) < 0)
                return snprintf(err, errlen, "the source presented no certificate"), -EACCES;
        int r = -EPERM;
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0)
                for (size_t i = 0; i < n_allow && r < 0; i++)
                        if (gnutls_x509_crt_check_hostname2(crt, allow[i], 0)) {
                                snprintf(peer, peerlen, "%s", allow[i]);
                                r = 0;
                        }
        if (r < 0) {
                char dn[256] = "";
                size_t dnlen = sizeof dn;
                (void)gnutls_x509_crt_get_dn(crt, dn, &dnlen);
                snprintf(err, errlen, "the source's certificate (%s) names no host in --migration-allow", dn);
        }
        gnutls_x509_crt_deinit(crt);
        return r;
}

int vmms_mig_accept(const struct vmms_mig_tls *t, const char *const *allow, size_t n_allow, int fd,
                    struct vmms_mig_conn *c, char *peer, size_t peerlen, char *err, size_t errlen) {
        c->fd = fd;
        set_timeouts(fd, MIG_IO_TIMEOUT_S);
        if (!t->cred)
                return 0;
        int r = session_new(t, c, GNUTLS_SERVER);
        if (r < 0)
                return snprintf(err, errlen, "TLS setup: %s", strerror(-r)), r;
        gnutls_certificate_server_set_request(c->session, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(c->session, NULL, 0);
        if ((r = handshake(c, err, errlen)) < 0)
                return r;
        return check_peer_name(c, allow, n_allow, peer, peerlen, err, errlen);
}

static ssize_t conn_send(struct vmms_mig_conn *c, const void *buf, size_t len) {
        if (!c->session) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
                return n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : n;
        }
        ssize_t n;
        do
                n = gnutls_record_send(c->session, buf, len);
        while (n == GNUTLS_E_INTERRUPTED);
        return n >= 0 ? n : n == GNUTLS_E_AGAIN ? -ETIMEDOUT : -ECONNRESET;
}

static ssize_t conn_recv(struct vmms_mig_conn *c, void *buf, size_t len) {
        if (!c->session) {
                ssize_t n = recv(c->fd, buf, len, 0);
                return n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : n;
        }
        ssize_t n;
        do
                n = gnutls_record_recv(c->session, buf, len);
        while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_REHANDSHAKE);
        /* A peer that closes without close_notify cut the stream: the
         * worker protocol notices a truncated stream by itself. */
        if (n == GNUTLS_E_PREMATURE_TERMINATION)
                return 0;
        return n >= 0 ? n : n == GNUTLS_E_AGAIN ? -ETIMEDOUT : -ECONNRESET;
}

static int send_all(struct vmms_mig_conn *c, const void *buf, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t n = conn_send(c, (const char *)buf + done, len - done);
                if (n <= 0)
                        return n < 0 ? (int)n : -EPIPE;
                done += (size_t)n;
        }
        return 0;
}

static int recv_all(struct vmms_mig_conn *c, void *buf, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t n = conn_recv(c, (char *)buf + done, len - done);
                if (n <= 0)
                        return n < 0 ? (int)n : -ECONNRESET;
                done += (size_t)n;
        }
        return 0;
}

int vmms_mig_send_frame_bytes(struct vmms_mig_conn *c, enum vmms_migchan_kind kind, const void *body, size_t len) {
        uint8_t hdr[VMMS_MIGCHAN_FRAME_SIZE];
        if (len > UINT32_MAX)
                return -EMSGSIZE;
        vmms_migchan_frame_build(hdr, kind, (uint32_t)len);
        int r = send_all(c, hdr, sizeof hdr);
        return r < 0 ? r : send_all(c, body, len);
}

int vmms_mig_send_frame(struct vmms_mig_conn *c, enum vmms_migchan_kind kind, const char *body) {
        return vmms_mig_send_frame_bytes(c, kind, body, strlen(body));
}

int vmms_mig_recv_frame(struct vmms_mig_conn *c, enum vmms_migchan_kind kind, char **body, uint32_t *len) {
        uint8_t hdr[VMMS_MIGCHAN_FRAME_SIZE];
        int r = recv_all(c, hdr, sizeof hdr);
        if (r < 0 || (r = vmms_migchan_frame_parse(hdr, sizeof hdr, kind, len)) < 0)
                return r;
        char *b = malloc((size_t)*len + 1);
        if (!b)
                return -ENOMEM;
        if ((r = recv_all(c, b, *len)) < 0) {
                free(b);
                return r;
        }
        b[*len] = 0;
        *body = b;
        return 0;
}

/* All of buf to the worker's stream socket (no SIGPIPE); -errno. */
static int worker_write(int fd, const void *buf, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EPIPE;
                done += (size_t)n;
        }
        return 0;
}

static void conn_shutdown_write(struct vmms_mig_conn *c) {
        if (c->session)
                (void)gnutls_bye(c->session, GNUTLS_SHUT_WR);
        (void)shutdown(c->fd, SHUT_WR);
}

int vmms_mig_relay(struct vmms_mig_conn *c, int wfd, uint64_t *to_net, uint64_t *from_net, char *err, size_t errlen) {
        static const size_t bufsize = 256 * 1024;
        _cleanup_free_ char *buf = malloc(bufsize);
        bool net_eof = false, w_eof = false;
        if (!buf)
                return -ENOMEM;
        vmms_mig_conn_watch(c);
        while (!net_eof || !w_eof) {
                bool pending = c->session && !net_eof && gnutls_record_check_pending(c->session) > 0;
                struct pollfd p[2] = { { .fd = net_eof ? -1 : c->fd, .events = POLLIN },
                                       { .fd = w_eof ? -1 : wfd, .events = POLLIN } };
                if (!pending && poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return snprintf(err, errlen, "poll: %s", strerror(errno)), -errno;
                }
                if (pending || p[0].revents) {
                        ssize_t n = conn_recv(c, buf, bufsize);
                        if (n < 0)
                                return snprintf(err, errlen, "from the peer: %s", strerror((int)-n)), (int)n;
                        if (n == 0) {
                                net_eof = true;
                                (void)shutdown(wfd, SHUT_WR);
                        } else {
                                int r = worker_write(wfd, buf, (size_t)n);
                                if (r < 0)
                                        return snprintf(err, errlen, "to the worker: %s", strerror(-r)), r;
                                __atomic_fetch_add(from_net, (uint64_t)n, __ATOMIC_RELAXED);
                        }
                }
                if (p[1].revents) {
                        ssize_t n = read(wfd, buf, bufsize);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return snprintf(err, errlen, "from the worker: %s", strerror(errno)), -errno;
                        if (n == 0) {
                                w_eof = true;
                                conn_shutdown_write(c);
                        } else {
                                int r = send_all(c, buf, (size_t)n);
                                if (r < 0)
                                        return snprintf(err, errlen, "to the peer: %s", strerror(-r)), r;
                                __atomic_fetch_add(to_net, (uint64_t)n, __ATOMIC_RELAXED);
                        }
                }
        }
        return 0;
}

ssize_t vmms_mig_conn_send_nb(struct vmms_mig_conn *c, const void *buf, size_t len) {
        if (!c->session) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
        }
        ssize_t n = gnutls_record_send(c->session, buf, len);
        return n >= 0 ? n : n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ? -EAGAIN : -ECONNRESET;
}

ssize_t vmms_mig_conn_send2_nb(struct vmms_mig_conn *c, const void *a, size_t alen, const void *b, size_t blen) {
        if (!c->session) {
                struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
                struct msghdr mh = { .msg_iov = alen ? iov : iov + 1, .msg_iovlen = alen ? 2 : 1 };
                ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
        }
        return alen ? vmms_mig_conn_send_nb(c, a, alen) : vmms_mig_conn_send_nb(c, b, blen);
}

ssize_t vmms_mig_conn_recv_nb(struct vmms_mig_conn *c, void *buf, size_t len) {
        if (!c->session) {
                ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
                return n < 0 ? (errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno) : n;
        }
        ssize_t n = gnutls_record_recv(c->session, buf, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_REHANDSHAKE)
                return -EAGAIN;
        return n >= 0 ? n : n == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -ECONNRESET;
}

bool vmms_mig_conn_pending(struct vmms_mig_conn *c) {
        return c->session && gnutls_record_check_pending(c->session) > 0;
}

void vmms_mig_conn_relay_mode(struct vmms_mig_conn *c) {
        int fl = fcntl(c->fd, F_GETFL);
        if (fl >= 0)
                (void)fcntl(c->fd, F_SETFL, fl | O_NONBLOCK); /* GnuTLS's own send and recv too */
        vmms_mig_conn_watch(c);
}

void vmms_mig_conn_watch(struct vmms_mig_conn *c) {
        int one = 1, idle = 2, intvl = 1, cnt = 5;
        unsigned user_ms = 10000;
        (void)setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof user_ms);
}

void vmms_mig_conn_close(struct vmms_mig_conn *c) {
        if (c->session)
                gnutls_deinit(c->session);
        c->session = NULL;
        c->fd = safe_close(c->fd);
}

int vmms_mig_send_raw(struct vmms_mig_conn *c, const void *buf, size_t len) {
        return send_all(c, buf, len);
}

int vmms_mig_recv_raw(struct vmms_mig_conn *c, void *buf, size_t len) {
        return recv_all(c, buf, len);
}
