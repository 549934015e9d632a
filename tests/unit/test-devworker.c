// SPDX-License-Identifier: MIT
/* The device-worker primitive (common/devworker.h): sources and timers on
 * a started thread, the pause handshake (no callback runs while paused, no
 * event is lost across it, a busy DW_AGAIN callback yields to it), calls
 * that run on the thread also while paused, a worker paused before it
 * starts, an idle worker paused without a wake-up, pauses racing events,
 * stop of a paused worker, the caller-thread loop and its exit
 * code, and frees during dispatch. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/macro.h"
#include "common/test.h"

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
}

struct counter {
        atomic_uint calls;
        atomic_uint busy;   /* set while a callback runs */
        atomic_ullong events;
        int efd;
};

/* A callback counting its event; busy for `ms` of it. */
static int count_event(struct counter *c, int fd, int ms) {
        atomic_store(&c->busy, 1);
        eventfd_t v;
        if (eventfd_read(fd, &v) == 0)
                atomic_fetch_add(&c->events, v);
        atomic_fetch_add(&c->calls, 1);
        if (ms)
                sleep_ms(ms);
        atomic_store(&c->busy, 0);
        return 0;
}

static int on_event(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)s;
        (void)revents;
        return count_event(opaque, fd, 2); /* a callback that takes a while */
}

static bool wait_for(atomic_ullong *v, unsigned long long want, int ms) {
        for (int i = 0; i < ms; i++) {
                if (atomic_load(v) >= want)
                        return true;
                sleep_ms(1);
        }
        return atomic_load(v) >= want;
}

TEST(events_served_on_the_thread) {
        struct devworker *w;
        struct counter c = { .efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-events" }, &w));
        ASSERT_OK(devworker_add_io(w, c.efd, EPOLLIN, on_event, &c, NULL));
        ASSERT_OK(devworker_start(w));
        ASSERT_OK(eventfd_write(c.efd, 3));
        ASSERT_TRUE(wait_for(&c.events, 3, 2000));
        devworker_free(w);
        close(c.efd);
}

/* While paused, events are written and nothing runs; after resume every
 * one of them is served. */
TEST(pause_runs_nothing_and_loses_nothing) {
        struct devworker *w;
        struct counter c = { .efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-pause" }, &w));
        ASSERT_OK(devworker_add_io(w, c.efd, EPOLLIN, on_event, &c, NULL));
        ASSERT_OK(devworker_start(w));
        for (int round = 0; round < 50; round++) {
                ASSERT_OK(eventfd_write(c.efd, 1));
                ASSERT_OK(devworker_pause(w));
                ASSERT_TRUE(devworker_is_paused(w));
                ASSERT_EQ(atomic_load(&c.busy), 0u); /* the callback it was in has finished */
                unsigned calls = atomic_load(&c.calls);
                ASSERT_OK(eventfd_write(c.efd, 1));
                sleep_ms(3);
                ASSERT_EQ(atomic_load(&c.calls), calls);
                ASSERT_OK(devworker_pause(w)); /* idempotent */
                devworker_resume(w);
                ASSERT_FALSE(devworker_is_paused(w));
        }
        ASSERT_TRUE(wait_for(&c.events, 100, 5000));
        struct devworker_stats st;
        devworker_get_stats(w, &st);
        ASSERT_GE(st.pauses, 1u); /* a resume the thread had not yet woken for is no new park */
        devworker_free(w);
        close(c.efd);
}

/* A worker idle in its wait is paused at once, without being woken (the
 * pause is in a live migration's downtime): it runs nothing of what
 * arrives meanwhile and serves it after resume. */
TEST(idle_worker_paused_without_a_wake_up) {
        struct devworker *w;
        struct counter c = { .efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-idle" }, &w));
        ASSERT_OK(devworker_add_io(w, c.efd, EPOLLIN, on_event, &c, NULL));
        ASSERT_OK(devworker_start(w));
        for (int round = 0; round < 20; round++) {
                /* Idle in epoll_wait once it got a core after the last
                 * event (a loaded machine may take a while): a pause then
                 * counts as idle. */
                bool idle = false;
                for (int t = 0; t < 400 && !idle; t++) {
                        sleep_ms(5);
                        struct devworker_stats before, after;
                        devworker_get_stats(w, &before);
                        ASSERT_OK(devworker_pause(w));
                        devworker_get_stats(w, &after);
                        ASSERT_EQ(after.pauses, before.pauses + 1);
                        idle = after.idle_pauses == before.idle_pauses + 1;
                        if (!idle)
                                devworker_resume(w);
                }
                ASSERT_TRUE(idle);
                unsigned calls = atomic_load(&c.calls);
                ASSERT_OK(eventfd_write(c.efd, 1)); /* wakes it: it parks, calls nothing */
                sleep_ms(3);
                ASSERT_EQ(atomic_load(&c.calls), calls);
                ASSERT_EQ(atomic_load(&c.busy), 0u);
                devworker_resume(w);
                ASSERT_TRUE(wait_for(&c.events, (unsigned long long)round + 1, 2000));
        }
        devworker_free(w);
        close(c.efd);
}

/* Pauses racing a stream of events, many times over, each one taken at
 * once or by the handshake: whenever a pause returned, no callback is
 * running and none starts until the resume. */
struct flood {
        int efd;
        atomic_bool stop;
};

static void *flood_events(void *arg) {
        struct flood *f = arg;
        while (!atomic_load(&f->stop)) {
                (void)eventfd_write(f->efd, 1);
                for (volatile int i = 0; i < 2000; i++)
                        ;
        }
        return NULL;
}

static int on_quick_event(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)s;
        (void)revents;
        return count_event(opaque, fd, 0);
}

TEST(pause_races_events_and_always_holds) {
        struct devworker *w;
        struct counter c = { .efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
        struct flood f = { .efd = c.efd };
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-race" }, &w));
        ASSERT_OK(devworker_add_io(w, c.efd, EPOLLIN, on_quick_event, &c, NULL));
        ASSERT_OK(devworker_start(w));
        pthread_t t;
        ASSERT_OK(pthread_create(&t, NULL, flood_events, &f));
        for (int round = 0; round < 3000; round++) {
                ASSERT_OK(devworker_pause(w));
                ASSERT_EQ(atomic_load(&c.busy), 0u);
                unsigned calls = atomic_load(&c.calls);
                for (volatile int i = 0; i < 20000; i++)
                        ;
                ASSERT_EQ(atomic_load(&c.calls), calls);
                ASSERT_EQ(atomic_load(&c.busy), 0u);
                devworker_resume(w);
        }
        atomic_store(&f.stop, true);
        pthread_join(t, NULL);
        struct devworker_stats st;
        devworker_get_stats(w, &st);
        printf("# 3000 pauses under a stream of events: %llu found it idle\n", (unsigned long long)st.idle_pauses);
        ASSERT_EQ(st.pauses, 3000u);
        devworker_free(w);
        close(c.efd);
}

/* A callback serving a busy ring returns DW_AGAIN (it never waits for its
 * fd again); pause still gets in between two of its calls. */
struct spinner {
        struct devworker *w;
        atomic_ullong rounds;
        atomic_bool inside;
};

static int spin(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)s;
        (void)revents;
        struct spinner *sp = opaque;
        eventfd_t v;
        (void)eventfd_read(fd, &v);
        atomic_store(&sp->inside, true);
        for (int i = 0; i < 100000 && !devworker_should_yield(sp->w); i++)
                __asm__ volatile("" ::: "memory");
        atomic_fetch_add(&sp->rounds, 1);
        atomic_store(&sp->inside, false);
        return DW_AGAIN;
}

TEST(pause_gets_between_again_calls) {
        struct spinner sp = { 0 };
        int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-spin" }, &sp.w));
        ASSERT_OK(devworker_add_io(sp.w, efd, EPOLLIN, spin, &sp, NULL));
        ASSERT_OK(devworker_start(sp.w));
        ASSERT_TRUE(wait_for(&sp.rounds, 10, 2000)); /* called again without an event */
        for (int i = 0; i < 20; i++) {
                ASSERT_OK(devworker_pause(sp.w));
                ASSERT_FALSE(atomic_load(&sp.inside));
                unsigned long long r = atomic_load(&sp.rounds);
                sleep_ms(2);
                ASSERT_EQ(atomic_load(&sp.rounds), r);
                devworker_resume(sp.w);
                ASSERT_TRUE(wait_for(&sp.rounds, r + 1, 2000)); /* it goes on after resume */
        }
        devworker_free(sp.w);
        close(efd);
}

static int add_ten(void *arg) {
        *(int *)arg += 10;
        return 7;
}

/* Calls run on the thread, also while it is paused; a worker paused before
 * it starts stays parked until resumed; a paused worker stops. */
TEST(calls_and_pause_before_start) {
        struct devworker *w;
        struct counter c = { .efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC) };
        int x = 0;
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-call" }, &w));
        ASSERT_EQ(devworker_call(w, add_ten, &x), 7); /* not started: inline */
        ASSERT_OK(devworker_add_io(w, c.efd, EPOLLIN, on_event, &c, NULL));
        ASSERT_OK(devworker_pause(w));
        ASSERT_OK(devworker_start(w));
        sleep_ms(5);
        ASSERT_EQ(atomic_load(&c.calls), 0u);
        ASSERT_EQ(devworker_call(w, add_ten, &x), 7);
        ASSERT_EQ(x, 20);
        devworker_resume(w);
        ASSERT_TRUE(wait_for(&c.events, 1, 2000));
        ASSERT_OK(devworker_pause(w));
        devworker_stop(w); /* a paused worker stops */
        devworker_stop(w);
        devworker_free(w);
        close(c.efd);
}

struct on_caller {
        struct devworker *w;
        struct dw_source *victim;
        int fired, victim_calls;
};

static int fire(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)fd;
        (void)revents;
        struct on_caller *o = opaque;
        dw_source_free(o->victim); /* freed while its event may be in the batch */
        o->victim = NULL;
        if (++o->fired == 3) {
                dw_source_free(s);
                devworker_exit(o->w, 42);
        }
        return 0;
}

static int victim(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)s;
        (void)revents;
        eventfd_t v;
        (void)eventfd_read(fd, &v);
        ((struct on_caller *)opaque)->victim_calls++;
        return 0;
}

static int fail_cb(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)s;
        (void)fd;
        (void)revents;
        (void)opaque;
        return -EPIPE;
}

/* The caller-thread loop (vmwp's main loop): timers, frees during
 * dispatch, exit codes, a failing callback ending the loop. */
TEST(caller_thread_loop) {
        struct on_caller o = { 0 };
        int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
        ASSERT_OK(devworker_new(NULL, &o.w));
        ASSERT_OK(devworker_add_io(o.w, efd, EPOLLIN, victim, &o, &o.victim));
        ASSERT_OK(devworker_add_timer(o.w, 1000, 1000, fire, &o, NULL));
        ASSERT_EQ(devworker_run(o.w), 42);
        ASSERT_EQ(o.fired, 3);
        ASSERT_LE(o.victim_calls, 1);
        devworker_free(o.w);

        struct devworker *w;
        ASSERT_OK(devworker_new(NULL, &w));
        ASSERT_OK(eventfd_write(efd, 1));
        ASSERT_OK(devworker_add_io(w, efd, EPOLLIN, fail_cb, NULL, NULL));
        ASSERT_EQ(devworker_run(w), -EPIPE);
        ASSERT_EQ(devworker_add_io(w, -1, EPOLLIN, fail_cb, NULL, NULL), -EINVAL);
        devworker_free(w);
        close(efd);
}

static int count_cb(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        (void)s, (void)fd, (void)revents;
        atomic_fetch_add((atomic_ullong *)opaque, 1);
        return 0;
}

/* A hung-up fd watched for nothing does not wake the thread (epoll reports
 * EPOLLHUP whatever the mask); watched again, the hang-up is seen. */
TEST(events_zero_ignores_a_hang_up) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        close(sv[1]);
        atomic_ullong calls = 0;
        struct devworker *w;
        struct dw_source *src;
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-hup" }, &w));
        ASSERT_OK(devworker_add_io(w, sv[0], EPOLLIN, count_cb, &calls, &src));
        ASSERT_OK(dw_source_set_events(src, 0));
        ASSERT_OK(dw_source_set_events(src, 0));
        ASSERT_OK(devworker_start(w));
        sleep_ms(20);
        ASSERT_EQ(atomic_load(&calls), 0ull);
        ASSERT_OK(devworker_pause(w));
        ASSERT_OK(dw_source_set_events(src, EPOLLIN));
        devworker_resume(w);
        ASSERT_TRUE(wait_for(&calls, 1, 2000));
        ASSERT_OK(devworker_pause(w));
        dw_source_free(src);
        devworker_resume(w);
        devworker_free(w);
        close(sv[0]);
}

static int refuse_start(void *opaque) {
        (void)opaque;
        return -EPERM;
}

TEST(on_start_failure_is_returned) {
        struct devworker *w;
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-refuse", .on_start = refuse_start }, &w));
        ASSERT_EQ(devworker_start(w), -EPERM);
        ASSERT_OK(devworker_pause(w));
        devworker_free(w);
}

/* The source limit: DW_MAX_SOURCES by default, the configuration's
 * max_sources where set (hv_sock's 2 per connection); -ENOSPC past it,
 * and a freed source makes room again once released (after the batch). */
TEST(source_limit_default_and_configured) {
        int fds[2 * DW_MAX_SOURCES + 2];
        for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
                ASSERT_GE(fds[i] = eventfd(0, EFD_CLOEXEC), 0);
        struct devworker *w;
        struct dw_source *last;
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-limit" }, &w));
        for (unsigned i = 0; i < DW_MAX_SOURCES; i++)
                ASSERT_OK(devworker_add_io(w, fds[i], EPOLLIN, count_cb, NULL, &last));
        ASSERT_EQ(devworker_add_io(w, fds[DW_MAX_SOURCES], EPOLLIN, count_cb, NULL, NULL), -ENOSPC);
        devworker_free(w);
        const unsigned more = 2 * DW_MAX_SOURCES + 1;
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "t-limit2", .max_sources = more }, &w));
        for (unsigned i = 0; i < more; i++)
                ASSERT_OK(devworker_add_io(w, fds[i], EPOLLIN, count_cb, NULL, &last));
        ASSERT_EQ(devworker_add_io(w, fds[more], EPOLLIN, count_cb, NULL, NULL), -ENOSPC);
        dw_source_free(last);
        ASSERT_GE(devworker_run_once(w, 0), 0); /* a freed source goes after the batch */
        ASSERT_OK(devworker_add_io(w, fds[more], EPOLLIN, count_cb, NULL, NULL));
        devworker_free(w);
        for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
                close(fds[i]);
}

TEST_MAIN();
