// SPDX-License-Identifier: MIT
/* vmms's resumable relay (vmms/migration/resume.c): two relays, a source's and a
 * destination's, between two "workers" (socketpairs the test reads and
 * writes) over a link the test cuts. A cut link is replaced (the test's
 * reconnect hands a new socketpair across, as the source's dial and the
 * destination's accept do) and every byte arrives once, in order; a link
 * that stays cut fails both relays after the window; a peer that claims
 * bytes never sent is refused; a cancel ends both at once (ABORT); a held
 * channel (post-copy after its COMMIT) waits out a cut of any length,
 * while its worker is there; a stopped relay closes a TCP link in order,
 * not with a reset. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/test.h"
#include "relay-link.h"
#include "vmms/migchan.h"

static uint8_t pattern(uint64_t i, unsigned seed) {
        uint64_t x = (i / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;
        x ^= x >> 29;
        return (uint8_t)(x >> (8 * (i % 8)));
}

/* A worker's stream: bytes of the pattern written, or read and checked. */
struct app {
        int fd;
        uint64_t n;
        unsigned seed;
        bool write;
        atomic_uint_fast64_t done;
        bool bad, short_read;
        pthread_t th;
};

static void *app_main(void *arg) {
        struct app *a = arg;
        uint8_t buf[65536];
        uint64_t at = 0;
        while (at < a->n || !a->write) {
                if (a->write) {
                        size_t k = (size_t)MIN(a->n - at, (uint64_t)sizeof buf);
                        for (size_t i = 0; i < k; i++)
                                buf[i] = pattern(at + i, a->seed);
                        ssize_t w = send(a->fd, buf, k, MSG_NOSIGNAL);
                        if (w <= 0)
                                break;
                        at += (uint64_t)w;
                } else {
                        ssize_t g = read(a->fd, buf, sizeof buf);
                        if (g <= 0)
                                break;
                        for (ssize_t i = 0; i < g; i++)
                                if (buf[i] != pattern(at + (uint64_t)i, a->seed) && !a->bad) {
                                        a->bad = true;
                                        fprintf(stderr, "stream %u: byte %llu is %02x, not %02x\n", a->seed,
                                                (unsigned long long)(at + (uint64_t)i), buf[i],
                                                pattern(at + (uint64_t)i, a->seed));
                                }
                        at += (uint64_t)g;
                }
                atomic_store(&a->done, at);
        }
        if (a->write)
                (void)shutdown(a->fd, SHUT_WR);
        else if ((a->short_read = at != a->n))
                fprintf(stderr, "stream %u: %llu bytes of %llu\n", a->seed, (unsigned long long)at,
                        (unsigned long long)a->n);
        return NULL;
}

struct run {
        int hold; /* both sides' vmms_mig_resume_ops.hold */
        struct link l;
        struct side src, dst;
        struct app up_w, up_r, down_w, down_r; /* source -> destination, and back */
};

static void run_start_stop(struct run *t, uint64_t up, uint64_t down, uint32_t recover_ms, int stop_fd) {
        int net[2];
        link_init(&t->l, net);
        side_init(&t->src, &t->l, true, net[0], recover_ms);
        side_init(&t->dst, &t->l, false, net[1], recover_ms);
        t->src.ops.stop_fd = stop_fd;
        t->src.ops.hold = t->dst.ops.hold = &t->hold;
        t->up_w = (struct app){ .fd = t->src.app_fd, .n = up, .seed = 1, .write = true };
        t->up_r = (struct app){ .fd = t->dst.app_fd, .n = up, .seed = 1 };
        t->down_w = (struct app){ .fd = t->dst.app_fd, .n = down, .seed = 2, .write = true };
        t->down_r = (struct app){ .fd = t->src.app_fd, .n = down, .seed = 2 };
        struct app *apps[] = { &t->up_w, &t->up_r, &t->down_w, &t->down_r };
        for (size_t i = 0; i < ARRAY_SIZE(apps); i++)
                ASSERT_OK(-pthread_create(&apps[i]->th, NULL, app_main, apps[i]));
        ASSERT_OK(-pthread_create(&t->src.th, NULL, relay_main, &t->src));
        ASSERT_OK(-pthread_create(&t->dst.th, NULL, relay_main, &t->dst));
}

static void run_start(struct run *t, uint64_t up, uint64_t down, uint32_t recover_ms) {
        run_start_stop(t, up, down, recover_ms, -1);
}

static void run_join(struct run *t) {
        pthread_join(t->src.th, NULL);
        pthread_join(t->dst.th, NULL);
        /* A relay closes its end when it ends, so every app ends too, once
         * it has read what is left in its socket. */
        struct app *apps[] = { &t->up_w, &t->up_r, &t->down_w, &t->down_r };
        for (size_t i = 0; i < ARRAY_SIZE(apps); i++)
                pthread_join(apps[i]->th, NULL);
        close(t->src.app_fd), close(t->dst.app_fd);
}

TEST(a_cut_link_is_resumed_and_every_byte_arrives_once) {
        static struct run t;
        const uint64_t up = 48ull << 20, down = 3ull << 20;
        run_start(&t, up, down, 5000);
        /* Five cuts while the bulk goes, one each 8 MiB. */
        for (unsigned k = 1; k <= 5; k++) {
                while (atomic_load(&t.up_r.done) < k * (8ull << 20))
                        usleep(200);
                cut(&t.l);
        }
        run_join(&t);
        ASSERT_OK(t.src.r);
        ASSERT_OK(t.dst.r);
        ASSERT_FALSE(t.up_r.bad || t.up_r.short_read);
        ASSERT_FALSE(t.down_r.bad || t.down_r.short_read);
        ASSERT_EQ(atomic_load(&t.up_r.done), up);
        ASSERT_EQ(atomic_load(&t.down_r.done), down);
        ASSERT_EQ(t.l.reconnects, 5u);
        ASSERT_EQ(t.src.cuts, 5u);
        ASSERT_EQ(t.src.resumes, 5u);
        ASSERT_EQ(t.dst.resumes, 5u);
        /* The stream once, and what a cut lost once more at most. */
        ASSERT_EQ(t.dst.from, up);
        ASSERT_TRUE(t.src.to >= up && t.src.to <= up + 5ull * VMMS_MIG_REPLAY_MAX);
}

TEST(a_link_that_stays_cut_fails_both_after_the_window) {
        static struct run t;
        run_start(&t, 64ull << 20, 1 << 20, 300);
        while (atomic_load(&t.up_r.done) < (4ull << 20))
                usleep(200);
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        pthread_mutex_lock(&t.l.mu);
        t.l.never = true;
        pthread_mutex_unlock(&t.l.mu);
        cut(&t.l);
        run_join(&t);
        uint64_t ms = (now_us(CLOCK_MONOTONIC) - t0) / 1000;
        ASSERT_ERROR(t.src.r, ETIMEDOUT);
        ASSERT_ERROR(t.dst.r, ETIMEDOUT);
        ASSERT_NOT_NULL(strstr(t.src.err, "the channel was cut ("));
        ASSERT_NOT_NULL(strstr(t.src.err, ") and no new connection"));
        ASSERT_NOT_NULL(strstr(t.dst.err, ") and the source did not come back"));
        ASSERT_TRUE(ms >= 290 && ms < 5000);
        ASSERT_TRUE(t.up_r.short_read); /* the destination's worker sees its stream end early */
}

TEST(a_peer_claiming_bytes_never_sent_is_refused) {
        static struct run t;
        run_start(&t, 32ull << 20, 1 << 20, 2000);
        while (atomic_load(&t.up_r.done) < (2ull << 20))
                usleep(200);
        pthread_mutex_lock(&t.l.mu);
        t.l.dst_lie = 64ull << 20;
        pthread_mutex_unlock(&t.l.mu);
        cut(&t.l);
        run_join(&t); /* the destination's new link ends with the source's relay */
        ASSERT_ERROR(t.src.r, EPROTO);
        ASSERT_NOT_NULL(strstr(t.src.err, "resuming: the peer has "));
        ASSERT_TRUE(t.dst.r < 0);
}

/* A cancel on the source (stop_fd) ends both at once: the destination
 * hears ABORT and does not wait for a resume. */
TEST(a_stop_ends_both_sides_without_waiting) {
        static struct run t;
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(efd, 0);
        run_start_stop(&t, 64ull << 20, 1 << 20, 5000, efd);
        while (atomic_load(&t.up_r.done) < (4ull << 20))
                usleep(200);
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        /* As vmms's cancel: the stop, then the link's reading end shut
         * (which the relay may notice first, as a cut). */
        ASSERT_OK(eventfd_write(efd, 1));
        pthread_mutex_lock(&t.l.mu);
        (void)shutdown(t.l.cur, SHUT_RD);
        pthread_mutex_unlock(&t.l.mu);
        run_join(&t);
        uint64_t ms = (now_us(CLOCK_MONOTONIC) - t0) / 1000;
        ASSERT_ERROR(t.src.r, ECANCELED);
        ASSERT_ERROR(t.dst.r, ECONNABORTED);
        ASSERT_STREQ(t.dst.err, "the peer ended the channel");
        ASSERT_TRUE(ms < 2000);
        ASSERT_EQ(t.l.reconnects, 0u);
        close(efd);
}

static void link_down(struct link *l, bool down) {
        pthread_mutex_lock(&l->mu);
        l->never = down;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
}

/* Held (a post-copy's guest runs on the destination on pages from the
 * source): a cut four times the window is waited out, window after
 * window, and every byte still arrives once. */
TEST(a_held_channel_waits_out_a_cut_longer_than_the_window) {
        static struct run t = { .hold = 1 };
        run_start(&t, 32ull << 20, 1 << 20, 300);
        while (atomic_load(&t.up_r.done) < (4ull << 20))
                usleep(200);
        link_down(&t.l, true);
        cut(&t.l);
        usleep(1200000);
        ASSERT_EQ(pthread_tryjoin_np(t.src.th, NULL), EBUSY);
        ASSERT_EQ(pthread_tryjoin_np(t.dst.th, NULL), EBUSY);
        link_down(&t.l, false);
        run_join(&t);
        ASSERT_OK(t.src.r);
        ASSERT_OK(t.dst.r);
        ASSERT_FALSE(t.up_r.bad || t.up_r.short_read || t.down_r.bad || t.down_r.short_read);
        ASSERT_EQ(t.l.reconnects, 1u);
        ASSERT_EQ(t.src.cuts, 1u);
        ASSERT_EQ(t.dst.resumes, 1u);
}

/* A hold lasts as long as the worker it holds for: a side whose worker
 * hung up (it ended, or was killed) gives up after its window, while the
 * other, whose worker is there, goes on waiting. */
TEST(a_hold_ends_with_its_worker) {
        static struct run t = { .hold = 1 };
        run_start(&t, 64ull << 20, 1 << 20, 300);
        while (atomic_load(&t.up_r.done) < (4ull << 20))
                usleep(200);
        link_down(&t.l, true);
        cut(&t.l);
        usleep(700000);
        ASSERT_EQ(pthread_tryjoin_np(t.dst.th, NULL), EBUSY);
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        (void)shutdown(t.dst.app_fd, SHUT_RDWR);
        pthread_join(t.dst.th, NULL);
        uint64_t ms = (now_us(CLOCK_MONOTONIC) - t0) / 1000;
        ASSERT_ERROR(t.dst.r, ETIMEDOUT);
        ASSERT_NOT_NULL(strstr(t.dst.err, "the source did not come back"));
        ASSERT_TRUE(ms < 1500);
        usleep(700000);
        ASSERT_EQ(pthread_tryjoin_np(t.src.th, NULL), EBUSY);
        (void)shutdown(t.src.app_fd, SHUT_RDWR);
        pthread_join(t.src.th, NULL);
        ASSERT_ERROR(t.src.r, ETIMEDOUT);
        ASSERT_NOT_NULL(strstr(t.src.err, ") and no new connection"));
        struct app *apps[] = { &t.up_w, &t.up_r, &t.down_w, &t.down_r };
        for (size_t i = 0; i < ARRAY_SIZE(apps); i++)
                pthread_join(apps[i]->th, NULL);
        close(t.src.app_fd), close(t.dst.app_fd);
        ASSERT_EQ(t.l.reconnects, 0u);
}

/* A relay stopped while bytes from the peer wait unread in its socket
 * (its worker does not take them) closes the link in order: the peer
 * reads its ABORT and then the end of the stream. Closed with the bytes
 * unread, the socket would reset the link, and a proxy between the two
 * may then drop the ABORT (a CI run's post-copy move: the destination
 * took the end for a cut and waited for the source). */
TEST(a_stopped_relay_closes_its_tcp_link_without_a_reset) {
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(lfd, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t salen = sizeof sa;
        ASSERT_OK(bind(lfd, (struct sockaddr *)&sa, sizeof sa));
        ASSERT_OK(listen(lfd, 1));
        ASSERT_OK(getsockname(lfd, (struct sockaddr *)&sa, &salen));
        int a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(a, 0);
        ASSERT_OK(connect(a, (struct sockaddr *)&sa, sizeof sa));
        int b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        ASSERT_GE(b, 0);
        close(lfd);
        /* No reconnect: a stopped relay does not dial again. */
        static struct link l = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .offer_fd = -1 };
        l.cur = a;
        static struct side s;
        side_init(&s, &l, true, a, 5000);
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(efd, 0);
        s.ops.stop_fd = efd;
        ASSERT_OK(-pthread_create(&s.th, NULL, relay_main, &s));
        /* DATA the relay's worker never reads, until the link holds
         * what the relay can no longer take. */
        static uint8_t body[VMMS_MIGCHAN_DATA_MAX];
        uint8_t hdr[VMMS_MIGCHAN_RFRAME_SIZE];
        vmms_migchan_rframe_build(hdr, VMMS_RFRAME_DATA, sizeof body);
        size_t off = 0, frame = sizeof hdr + sizeof body;
        uint64_t idle_since = now_us(CLOCK_MONOTONIC);
        while (now_us(CLOCK_MONOTONIC) - idle_since < 300000) {
                const uint8_t *p = off < sizeof hdr ? hdr + off : body + (off - sizeof hdr);
                size_t k = off < sizeof hdr ? sizeof hdr - off : frame - off;
                ssize_t n = send(b, p, k, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        off = (off + (size_t)n) % frame;
                        idle_since = now_us(CLOCK_MONOTONIC);
                } else {
                        ASSERT_EQ(errno, EAGAIN);
                        usleep(10000);
                }
        }
        /* As vmms's channel_cut: the stop, then the link's reading end shut. */
        ASSERT_OK(eventfd_write(efd, 1));
        (void)shutdown(a, SHUT_RD);
        /* The relay's frames (quiet ACKs) up to its ABORT, then the end. */
        bool aborted = false;
        size_t have = 0;
        uint8_t in[VMMS_MIGCHAN_RFRAME_SIZE + 8];
        uint64_t deadline = now_us(CLOCK_MONOTONIC) + 5000000;
        ssize_t n = -1;
        while (now_us(CLOCK_MONOTONIC) < deadline) {
                ASSERT_GE(poll(&(struct pollfd){ .fd = b, .events = POLLIN }, 1, 100), 0);
                enum vmms_migchan_rframe type = 0;
                uint32_t len = 0;
                size_t want = VMMS_MIGCHAN_RFRAME_SIZE;
                if (have >= want) {
                        ASSERT_OK(vmms_migchan_rframe_parse(in, &type, &len));
                        ASSERT_NE(type, VMMS_RFRAME_DATA);
                        want += len;
                }
                if (have == want && type == VMMS_RFRAME_ABORT) {
                        aborted = true;
                        break;
                }
                if (have == want)
                        have = 0, want = VMMS_MIGCHAN_RFRAME_SIZE;
                n = recv(b, in + have, want - have, MSG_DONTWAIT);
                if (n < 0 && errno == EAGAIN)
                        continue;
                ASSERT_GT(n, 0);
                have += (size_t)n;
        }
        ASSERT_TRUE(aborted);
        (void)shutdown(b, SHUT_WR); /* fails once the link was reset */
        n = -1;
        while (now_us(CLOCK_MONOTONIC) < deadline) {
                (void)poll(&(struct pollfd){ .fd = b, .events = POLLIN }, 1, 100);
                n = recv(b, in, sizeof in, MSG_DONTWAIT);
                if (n >= 0 || errno != EAGAIN)
                        break;
        }
        if (n < 0)
                fprintf(stderr, "after the ABORT: %s\n", strerror(errno));
        ASSERT_EQ(n, 0);
        pthread_join(s.th, NULL);
        ASSERT_ERROR(s.r, ECANCELED);
        close(s.app_fd), close(b), close(efd);
}

TEST_MAIN();
