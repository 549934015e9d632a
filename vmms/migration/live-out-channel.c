// SPDX-License-Identifier: MIT
/* A live migration's channel on the source (live-out.c has the loop's
 * half): the thread that connects to the destination vmms, sends the
 * request and reads the answer, then relays between the worker's stream
 * and the channel, resuming a cut one where both ends can
 * (migration/resume.c); the query thread of an unconfirmed commit; the
 * cut the loop makes. The threads tell the loop through m->note. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/log.h"
#include "core/daemon.h"
#include "migration/live-out.h"
#include "vmms/migchan.h"

static void note_send(struct vmms_migration *m, char type) {
        struct note_msg n = { .type = type };
        (void)send(m->note[1], &n, sizeof n, MSG_NOSIGNAL);
}

static int publish_fd(int fd, void *opaque) {
        struct vmms_migration *m = opaque;
        pthread_mutex_lock(&m->lock);
        m->net_fd = fd;
        bool c = m->cancelled;
        pthread_mutex_unlock(&m->lock);
        return c && fd >= 0;
}

/* Connects to the destination, sends one request frame (what: for the
 * messages) and the seed it names (NULL: none), and reads the answer's
 * body into *body. */
static int ask(struct vmms_migration *m, struct vmms_mig_conn *c, const char *request, const struct vmms_seed_out *seed,
               const char *what, char **body, uint32_t *len) {
        int r = vmms_mig_connect(m->vm->d->mig_tls, m->a.host, m->a.port, c, publish_fd, m, m->thread_err,
                                 sizeof m->thread_err);
        if (r >= 0 && (r = vmms_mig_send_frame(c, VMMS_MIGCHAN_REQUEST, request)) < 0)
                snprintf(m->thread_err, sizeof m->thread_err, "sending the %s: %s", what, strerror(-r));
        if (r >= 0 && seed && (r = vmms_seed_out_send(c, seed)) < 0)
                snprintf(m->thread_err, sizeof m->thread_err, "sending the cloud-init seed: %s (a destination "
                         "from before seeds moved ends the channel: eject the seed first)", strerror(-r));
        if (r >= 0 && (r = vmms_mig_recv_frame(c, VMMS_MIGCHAN_ANSWER, body, len)) < 0)
                snprintf(m->thread_err, sizeof m->thread_err, "no answer from the destination to the %s: %s", what, strerror(-r));
        return r;
}

/* A channel thread's end: its result, the connection closed, the loop told. */
static void *thread_end(struct vmms_migration *m, struct vmms_mig_conn *c, int r) {
        m->thread_r = r;
        pthread_mutex_lock(&m->lock);
        m->net_fd = -1;
        pthread_mutex_unlock(&m->lock);
        vmms_mig_conn_close(c);
        note_send(m, 'D');
        return NULL;
}

static bool is_cancelled(struct vmms_migration *m) {
        pthread_mutex_lock(&m->lock);
        bool c = m->cancelled;
        pthread_mutex_unlock(&m->lock);
        return c;
}

/* After a cut: dial again and resume (vmms/migchan.h), every 500 ms
 * until the deadline. A refusal ends it: the destination has let go. */
static int src_reconnect(void *opaque, uint64_t rx, uint64_t deadline_us, struct vmms_mig_conn *c, uint64_t *peer_rx,
                         char *err, size_t errlen) {
        struct vmms_migration *m = opaque;
        _cleanup_free_ char *req = vmms_migchan_resume_build(&m->session, rx);
        char last[512] = "";
        /* The broken link goes, unpublished first: its fd number may be
         * reused at once, and channel_cut must not reach that. */
        (void)publish_fd(-1, m);
        vmms_mig_conn_close(c);
        if (!req)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        for (;;) {
                if (is_cancelled(m))
                        return snprintf(err, errlen, "the migration was cancelled"), -ECANCELED;
                char *body = NULL, why[VMMS_MIGCHAN_ERROR_MAX + 1], host[sizeof m->a.host];
                uint32_t len;
                pthread_mutex_lock(&m->lock); /* ReconnectMigration may change it */
                snprintf(host, sizeof host, "%s", m->a.host);
                uint16_t port = m->a.port;
                pthread_mutex_unlock(&m->lock);
                int r = vmms_mig_connect(m->vm->d->mig_tls, host, port, c, publish_fd, m, last, sizeof last);
                if (r >= 0 && (r = vmms_mig_send_frame(c, VMMS_MIGCHAN_REQUEST, req)) >= 0 &&
                    (r = vmms_mig_recv_frame(c, VMMS_MIGCHAN_ANSWER, &body, &len)) >= 0) {
                        r = vmms_migchan_resumed_parse(body, len, peer_rx, why, sizeof why);
                        free(body);
                        if (r >= 0)
                                return 0;
                        (void)publish_fd(-1, m);
                        vmms_mig_conn_close(c);
                        return snprintf(err, errlen, "the destination did not resume: %s", why), -ECONNREFUSED;
                }
                if (r < 0 && !last[0])
                        snprintf(last, sizeof last, "%s", strerror(-r));
                (void)publish_fd(-1, m);
                vmms_mig_conn_close(c);
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (now >= deadline_us)
                        return snprintf(err, errlen, "did not come back within %u ms (%s)", m->vm->d->opt.migration_recover_ms,
                                        last),
                               -ETIMEDOUT;
                usleep((useconds_t)MIN(deadline_us - now, 500000ull));
        }
}

static void src_cut(void *opaque, const char *why) {
        struct vmms_migration *m = opaque;
        pthread_mutex_lock(&m->lock);
        snprintf(m->cut_why, sizeof m->cut_why, "%s", why);
        m->cuts++;
        pthread_mutex_unlock(&m->lock);
        note_send(m, 'C');
}

static void src_resumed(void *opaque, uint64_t outage_ms) {
        struct vmms_migration *m = opaque;
        pthread_mutex_lock(&m->lock);
        m->outage_ms = outage_ms;
        pthread_mutex_unlock(&m->lock);
        note_send(m, 'U');
}

void *vmms_live_out_channel_thread(void *opaque) {
        struct vmms_migration *m = opaque;
        struct vmms_mig_conn c = VMMS_MIG_CONN_NULL;
        char *body = NULL, why[VMMS_MIGCHAN_ERROR_MAX + 1];
        uint32_t len;
        bool ok = false, resumable = false;
        int r = ask(m, &c, m->request, &m->seed, "request", &body, &len);
        if (r >= 0 && (r = vmms_migchan_answer_parse_ex(body, len, &ok, &resumable, why, sizeof why)) < 0)
                snprintf(m->thread_err, sizeof m->thread_err, "the destination's answer is malformed");
        free(body), body = NULL;
        if (r >= 0 && !ok && m->request_plain && strstr(why, "session: unknown field")) {
                /* A destination without resumable channels: as before them. */
                vmms_mig_conn_close(&c);
                r = ask(m, &c, m->request_plain, NULL, "request", &body, &len);
                if (r >= 0 && (r = vmms_migchan_answer_parse(body, len, &ok, why, sizeof why)) < 0)
                        snprintf(m->thread_err, sizeof m->thread_err, "the destination's answer is malformed");
                free(body);
        }
        if (r >= 0 && !ok) {
                snprintf(m->thread_err, sizeof m->thread_err, "the destination refused: %s", why);
                r = -EPERM;
        }
        if (r >= 0) {
                note_send(m, 'A');
                struct vmms_mig_resume_ops ops = { .reconnect = src_reconnect, .cut = src_cut, .resumed = src_resumed,
                                                   .opaque = m, .recover_ms = m->vm->d->opt.migration_recover_ms,
                                                   .stop_fd = m->stop_efd, .hold = &m->postcopy_committed };
                pthread_mutex_lock(&m->lock);
                m->resumable_on = resumable && m->has_session;
                pthread_mutex_unlock(&m->lock);
                r = m->resumable_on
                            ? vmms_mig_relay_resumable(&c, m->wpair[1], &ops, &m->to_net, &m->from_net, m->thread_err,
                                                       sizeof m->thread_err)
                            : vmms_mig_relay(&c, m->wpair[1], &m->to_net, &m->from_net, m->thread_err,
                                             sizeof m->thread_err);
        }
        return thread_end(m, &c, r);
}

void *vmms_live_out_query_thread(void *opaque) {
        struct vmms_migration *m = opaque;
        struct vmms_mig_conn c = VMMS_MIG_CONN_NULL;
        _cleanup_free_ char *q = vmms_migchan_query_build(&m->vm->config->id);
        char *body = NULL;
        uint32_t len;
        int r = q ? ask(m, &c, q, NULL, "query", &body, &len) : -ENOMEM;
        if (r >= 0)
                r = vmms_migchan_outcome_parse(body, len, &m->outcome, m->thread_err, sizeof m->thread_err);
        free(body);
        return thread_end(m, &c, r);
}

void vmms_live_out_channel_cut(struct vmms_migration *m) {
        /* A resumable relay tells the destination (ABORT) that no resume
         * follows: the stop is signalled first, so that however the relay
         * notices what follows (its link's reading end shut, which also
         * ends a reconnect's wait; its worker's stream ended), it finds
         * the stop and does not take it for a cut. Its link stays
         * writable for the ABORT. */
        if (m->stop_efd >= 0)
                (void)eventfd_write(m->stop_efd, 1);
        pthread_mutex_lock(&m->lock);
        m->cancelled = true;
        if (m->net_fd >= 0)
                (void)shutdown(m->net_fd, m->resumable_on ? SHUT_RD : SHUT_RDWR);
        pthread_mutex_unlock(&m->lock);
        if (m->wpair[1] >= 0)
                (void)shutdown(m->wpair[1], SHUT_RDWR);
}

