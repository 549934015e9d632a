// SPDX-License-Identifier: MIT
/* The channel thread of netvsp (docs/netvsp.md "The VMBus provider glue").
 *
 * One round (serve): drain the guest's ring into the device while it can
 * take packets, pass on link changes, let the device retry what waits and
 * move TAP frames to the guest; one read_index publish, one write_index
 * publish and at most one guest signal per round (§5.5, §5.6).
 *
 * While rounds make progress the thread keeps going with the guest's
 * signals masked, and for poll_us after the last progress it polls
 * (sched_yield between rounds: the cores are shared with the vCPUs); then it
 * unmasks, re-checks (no lost doorbell) and sleeps in epoll on the doorbell,
 * the TAP (POLLIN / POLLOUT as the device wants), the link watch and the
 * stop eventfd. A TAP that is gone is taken out of the set: a detached tun
 * fd reports EPOLLERR forever. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "provider-internal.h"

/* How often a busy thread looks at the link watch (it does not sleep in
 * epoll while traffic flows). */
#define LINK_CHECK_US 1000u

enum { TAG_DOORBELL, TAG_TAP, TAG_LINK, TAG_STOP };

static int ep_ctl(struct netvsp_chan *c, int op, int fd, uint32_t events, uint32_t tag) {
        struct epoll_event ev = { .events = events, .data.u32 = tag };
        return epoll_ctl(c->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* Registers the TAP for what the device waits for, or takes it out. */
static void update_tap(struct netvsp_chan *c) {
        struct tap *t = c->nic->tap;
        unsigned ev = 0;
        if (!tap_removed(t)) {
                if (c->want & NETVSP_WANT_BACKEND_RX)
                        ev |= EPOLLIN;
                if (c->want & NETVSP_WANT_BACKEND_TX)
                        ev |= EPOLLOUT;
        }
        if (ev == c->tap_events)
                return;
        int op = ev == 0 ? EPOLL_CTL_DEL : c->tap_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (ep_ctl(c, op, tap_fd(t), ev, TAG_TAP) == 0 || op == EPOLL_CTL_DEL)
                c->tap_events = ev;
}

static int take_link(struct netvsp_chan *c) {
        struct tap_link_state st;
        if (tap_link_process(c->nic->tap, &st) <= 0)
                return 0;
        netvsp_set_link(c->nd, netvsp_nic_link_up(c->nic));
        c->local.link_changes++;
        return 1;
}

/* Everything the device did with frames: progress for the polling loop. */
static uint64_t frames_moved(const struct netvsp_stats *s) {
        return s->rx_packets + s->rx_filtered + s->rx_dropped + s->rx_truncated + s->tx_packets + s->tx_dropped +
               s->tx_malformed;
}

/* One round. Returns the packets and frames handled, or -EBADMSG once the
 * ring is broken (the channel is then no longer served). */
static int serve(struct netvsp_chan *c) {
        struct vmbus_ring_pair *rp = c->rp;
        uint64_t before = frames_moved(netvsp_dev_stats(c->nd));
        int work = 0;

        vmbus_ring_send_begin(rp);
        if (vmbus_ring_recv_begin(rp) >= 0) {
                /* while the device is blocked (TAP full, completion waiting
                 * for ring space) the packets stay in the guest's ring */
                while (netvsp_can_take_packet(c->nd)) {
                        struct vmbus_packet p;
                        int k = vmbus_ring_recv(rp, c->pkt, sizeof c->pkt, &p);
                        if (k == -EMSGSIZE) /* skipped and counted by the ring library */
                                continue;
                        if (k <= 0)
                                break;
                        (void)netvsp_handle_packet(c->nd, p.data, p.len);
                        work++;
                }
                vmbus_ring_recv_end(rp);
        }
        if (c->link_pending) {
                c->link_pending = false;
                work += take_link(c);
        }
        c->want = netvsp_process(c->nd);
        vmbus_ring_send_end(rp);
        update_tap(c);
        c->local.batches++;
        if (vmbus_ring_broken(rp))
                return -EBADMSG;
        return work + (int)MIN(frames_moved(netvsp_dev_stats(c->nd)) - before, (uint64_t)INT32_MAX / 2);
}

static bool stopping(const struct netvsp_chan *c) {
        return __atomic_load_n(&c->stopping, __ATOMIC_ACQUIRE);
}

static unsigned poll_budget_us(const struct netvsp_chan *c) {
        unsigned p = c->nic->cfg.poll_us;
        return p == 0 ? NETVSP_DEFAULT_POLL_US : p == UINT32_MAX ? 0 : p;
}

/* Serves until idle. 0: idle or blocked, sleep; 1: stopping; -EBADMSG. */
static int run_busy(struct netvsp_chan *c) {
        struct vmbus_ring_pair *rp = c->rp;
        unsigned poll_us = poll_budget_us(c);
        uint64_t idle_since = now_us(CLOCK_MONOTONIC), link_checked = idle_since;

        vmbus_ring_mask(rp); /* from here on the guest does not ring (§5.5) */
        while (!stopping(c)) {
                int n = serve(c);
                if (n < 0)
                        return n;
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (now - link_checked >= LINK_CHECK_US) {
                        struct pollfd p = { .fd = c->nic->link_fd, .events = POLLIN };
                        if (p.fd >= 0 && poll(&p, 1, 0) > 0)
                                c->link_pending = true;
                        link_checked = now;
                }
                if (n > 0) {
                        idle_since = now;
                        netvsp_chan_publish_stats(c);
                        continue;
                }
                if (now - idle_since < poll_us) {
                        c->local.polls++;
                        sched_yield();
                        continue;
                }
                if (!vmbus_ring_unmask(rp)) /* re-checks: a packet written meanwhile is seen */
                        return 0;
                if (!netvsp_can_take_packet(c->nd))
                        return 0; /* blocked: the TAP's POLLOUT or the guest's signal wakes us */
                vmbus_ring_mask(rp);
        }
        return 1;
}

static void drain_eventfd(int fd) {
        uint64_t v;
        (void)!read(fd, &v, sizeof v);
}

/* Waits for the guest, the TAP, the link watch or close. false: stop. */
static bool sleep_for_work(struct netvsp_chan *c) {
        struct epoll_event ev[4];
        int n;
        c->local.sleeps++;
        netvsp_chan_publish_stats(c);
        do
                n = epoll_wait(c->epfd, ev, (int)ARRAY_SIZE(ev), -1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return false;
        for (int i = 0; i < n; i++) {
                switch (ev[i].data.u32) {
                case TAG_STOP:
                        return false;
                case TAG_DOORBELL:
                        drain_eventfd(vmbus_channel_event_fd(c->ch));
                        c->local.doorbells++;
                        break;
                case TAG_LINK:
                        c->link_pending = true;
                        break;
                default: /* the TAP: the next round reads or writes it */
                        break;
                }
        }
        return !stopping(c);
}

static void *chan_thread(void *arg) {
        struct netvsp_chan *c = arg;
        int r;
        const struct netvsp_nic_config *cfg = &c->nic->cfg;
        pthread_setname_np(pthread_self(), "netvsp");
        if (cfg->thread_policy && cfg->thread_policy(cfg->thread_policy_opaque, "netvsp") < 0)
                c->local.thread_policy_failures++;
        do
                r = run_busy(c);
        while (r == 0 && sleep_for_work(c));
        if (r < 0) /* a broken ring: not served any more (vmbus/ring.h); close still joins us */
                c->local.channels_broken++;
        netvsp_chan_publish_stats(c);
        return NULL;
}

int netvsp_chan_start(struct netvsp_chan *c) {
        int r = ep_ctl(c, EPOLL_CTL_ADD, vmbus_channel_event_fd(c->ch), EPOLLIN, TAG_DOORBELL);
        if (r == 0)
                r = ep_ctl(c, EPOLL_CTL_ADD, c->stop_fd, EPOLLIN, TAG_STOP);
        if (r == 0 && c->nic->link_fd >= 0)
                r = ep_ctl(c, EPOLL_CTL_ADD, c->nic->link_fd, EPOLLIN, TAG_LINK);
        if (r < 0)
                return r;
        c->want = NETVSP_WANT_BACKEND_RX; /* stale frames are read and dropped until the guest is ready */
        update_tap(c);
        r = -pthread_create(&c->thread, NULL, chan_thread, c);
        c->started = r == 0;
        return r;
}

void netvsp_chan_stop(struct netvsp_chan *c) {
        if (!c->started)
                return;
        __atomic_store_n(&c->stopping, true, __ATOMIC_RELEASE); /* a busy thread never sleeps */
        (void)!write(c->stop_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
        pthread_join(c->thread, NULL);
        c->started = false;
}
