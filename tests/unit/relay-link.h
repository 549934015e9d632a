/* SPDX-License-Identifier: MIT */
/* For the unit tests: two of vmms's resumable relays (vmms/migration/resume.c)
 * over a "link" the test cuts, with the source's dial and the
 * destination's accept played by a rendezvous that hands a new socketpair
 * across. Each side has a worker socketpair: the relay's end and the
 * test's (app_fd). Header-only: test-vmms-migresume.c, test-postcopy.c. */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/test.h"
#include "vmms/migration/conn.h"

struct link {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int offer_fd; /* the destination's end of the source's new link; -1: none */
        uint64_t src_rx, dst_rx;
        bool answered;
        int cur; /* the source's end of the link in use, for the cutter */
        unsigned reconnects;
        bool never;          /* no new link: the source's dial fails until the deadline */
        uint64_t dst_lie;    /* added to what the destination says it has */
};

struct side {
        struct link *l;
        bool source;
        int relay_fd, app_fd; /* the worker socketpair: the relay's end, the test's */
        struct vmms_mig_conn c;
        struct vmms_mig_resume_ops ops;
        pthread_t th;
        int r;
        char err[512];
        uint64_t to, from;
        unsigned cuts, resumes;
};

static inline void wait_until(struct link *l, uint64_t deadline_us) {
        struct timespec ts = { .tv_sec = (time_t)(deadline_us / 1000000u), .tv_nsec = (long)(deadline_us % 1000000u) * 1000 };
        (void)pthread_cond_timedwait(&l->cv, &l->mu, &ts);
}

static inline int reconnect(void *opaque, uint64_t rx, uint64_t deadline_us, struct vmms_mig_conn *c, uint64_t *peer_rx,
                     char *err, size_t errlen) {
        struct side *s = opaque;
        struct link *l = s->l;
        vmms_mig_conn_close(c);
        pthread_mutex_lock(&l->mu);
        if (s->source && l->never) {
                while (now_us(CLOCK_MONOTONIC) < deadline_us)
                        wait_until(l, deadline_us);
                pthread_mutex_unlock(&l->mu);
                return snprintf(err, errlen, "no new connection"), -ETIMEDOUT;
        }
        if (s->source) {
                int sp[2];
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
                l->offer_fd = sp[1], l->src_rx = rx, l->answered = false, l->cur = sp[0];
                pthread_cond_broadcast(&l->cv);
                while (!l->answered && now_us(CLOCK_MONOTONIC) < deadline_us)
                        wait_until(l, deadline_us);
                bool ok = l->answered;
                *peer_rx = l->dst_rx;
                l->reconnects += ok;
                pthread_mutex_unlock(&l->mu);
                if (!ok) {
                        close(sp[0]);
                        return snprintf(err, errlen, "no answer"), -ETIMEDOUT;
                }
                *c = (struct vmms_mig_conn){ .fd = sp[0] };
                return 0;
        }
        while (l->offer_fd < 0 && now_us(CLOCK_MONOTONIC) < deadline_us)
                wait_until(l, deadline_us);
        int fd = l->offer_fd;
        l->offer_fd = -1;
        if (fd >= 0) {
                *peer_rx = l->src_rx;
                l->dst_rx = rx + l->dst_lie;
                l->answered = true;
                pthread_cond_broadcast(&l->cv);
        }
        pthread_mutex_unlock(&l->mu);
        if (fd < 0)
                return snprintf(err, errlen, "the source did not come back"), -ETIMEDOUT;
        *c = (struct vmms_mig_conn){ .fd = fd };
        return 0;
}

static inline void on_cut(void *opaque, const char *why) {
        ((struct side *)opaque)->cuts++;
}

static inline void on_resumed(void *opaque, uint64_t ms) {
        ((struct side *)opaque)->resumes++;
}

static inline void *relay_main(void *arg) {
        struct side *s = arg;
        s->r = vmms_mig_relay_resumable(&s->c, s->relay_fd, &s->ops, &s->to, &s->from, s->err, sizeof s->err);
        if (s->r < 0)
                fprintf(stderr, "%s relay: %s\n", s->source ? "source" : "destination", s->err);
        close(s->relay_fd);
        vmms_mig_conn_close(&s->c);
        return NULL;
}

/* The link's first connection: its two ends in net[0] (the source's)
 * and net[1]. */
static inline void link_init(struct link *l, int net[2]) {
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, net));
        pthread_mutex_init(&l->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&l->cv, &ca);
        pthread_condattr_destroy(&ca);
        l->offer_fd = -1, l->cur = net[0];
}

static inline void side_init(struct side *s, struct link *l, bool source, int net_fd, uint32_t recover_ms) {
        int w[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w));
        *s = (struct side){ .l = l, .source = source, .relay_fd = w[0], .app_fd = w[1],
                            .c = { .fd = net_fd } };
        s->ops = (struct vmms_mig_resume_ops){ .reconnect = reconnect, .cut = on_cut, .resumed = on_resumed,
                                               .opaque = s, .recover_ms = recover_ms, .stop_fd = -1 };
}

static inline void cut(struct link *l) {
        pthread_mutex_lock(&l->mu);
        (void)shutdown(l->cur, SHUT_RDWR);
        pthread_mutex_unlock(&l->mu);
}
