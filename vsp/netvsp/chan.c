// SPDX-License-Identifier: MIT
/* The channel worker of netvsp (docs/netvsp.md "The VMBus provider glue"):
 * a device worker (common/devworker.h) whose sources are the guest's
 * doorbell, the TAP (POLLIN / POLLOUT as the device wants) and the link
 * watch.
 *
 * One round (serve): drain the guest's ring into the device while it can
 * take packets, pass on link changes, let the device retry what waits and
 * move TAP frames to the guest; one read_index publish, one write_index
 * publish and at most one guest signal per round (§5.5, §5.6).
 *
 * The first source that fires while the channel is idle masks the guest's
 * signals and becomes the pump: it serves rounds while they make progress
 * and for poll_us after the last progress (sched_yield between idle rounds:
 * the cores are shared with the vCPUs). It returns DW_AGAIN after at most
 * PUMP_SLICE_US, and at once when a pause or stop is asked, so a pause gets
 * in between two rounds and the worker looks at epoll at least that often
 * (the link watch is seen while traffic flows) without an epoll_wait per
 * round. Sources that fire while the pump runs only note what happened. When
 * polling ends the pump unmasks, re-checks (no lost doorbell), sets the TAP
 * to what the device waits for and the worker sleeps. Sources are changed
 * only then, so the pump is never freed under itself. A TAP that is gone is
 * taken out of the set: a detached tun fd reports EPOLLERR forever, whatever
 * events it is registered for. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "provider-internal.h"

/* How long the pump serves before the worker looks at its other sources. */
#define PUMP_SLICE_US 1000u

/* Arms the bandwidth caps' timer when the device waits for it (a held
 * direction), else disarms it. The wait is at most NETVSP_QOS_RECHECK_US,
 * so a cap changed under a held channel holds within that. */
static void update_qos_timer(struct netvsp_chan *c) {
        uint64_t us = 0;
        if (!c->src_qos)
                return;
        if (c->want & NETVSP_WANT_TIMER)
                us = MIN(MAX(netvsp_dev_qos_wait_ns(c->nd) / 1000u, 1u), (uint64_t)NETVSP_QOS_RECHECK_US);
        if (us || c->qos_armed)
                (void)dw_source_set_timer(c->src_qos, us, 0);
        c->qos_armed = us != 0;
}

/* Sets the TAP source to what the device waits for, or frees it once the
 * TAP is gone. */
static void update_tap(struct netvsp_chan *c) {
        struct tap *t = c->tap;
        unsigned ev = 0;
        if (!c->src_tap)
                return;
        if (tap_removed(t)) {
                dw_source_free(c->src_tap);
                c->src_tap = NULL;
                c->tap_events = 0;
                return;
        }
        if (c->want & NETVSP_WANT_BACKEND_RX)
                ev |= EPOLLIN;
        if (c->want & NETVSP_WANT_BACKEND_TX)
                ev |= EPOLLOUT;
        if (ev != c->tap_events && dw_source_set_events(c->src_tap, ev) == 0)
                c->tap_events = ev;
}

static int take_link(struct netvsp_chan *c) {
        struct tap_link_state st;
        if (tap_link_process(c->tap, &st) <= 0)
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

void netvsp_chan_share(struct netvsp_chan *c) {
        struct netvsp_nic *nic = c->nic;
        if (nic->cfg.dev.queues < 2)
                return;
        if (c->index == 0) {
                netvsp_dev_get_shared(c->nd, &c->shared);
                pthread_mutex_lock(&nic->shared_lock);
                bool changed = memcmp(&nic->shared, &c->shared, sizeof c->shared) != 0;
                if (changed) {
                        nic->shared = c->shared;
                        __atomic_store_n(&nic->shared_gen, nic->shared_gen + 1, __ATOMIC_RELEASE);
                }
                pthread_mutex_unlock(&nic->shared_lock);
                if (changed)
                        netvsp_nic_steer(nic, &c->shared.rndis);
                if (changed) {
                        pthread_mutex_lock(&nic->wake_lock);
                        for (unsigned i = 1; i < NETVSP_MAX_QUEUES; i++)
                                if (nic->sub_efd[i] >= 0)
                                        (void)eventfd_write(nic->sub_efd[i], 1);
                        pthread_mutex_unlock(&nic->wake_lock);
                }
        } else if (__atomic_load_n(&nic->shared_gen, __ATOMIC_ACQUIRE) != c->shared_seen) {
                pthread_mutex_lock(&nic->shared_lock);
                c->shared = nic->shared;
                c->shared_seen = nic->shared_gen;
                pthread_mutex_unlock(&nic->shared_lock);
                netvsp_dev_sync(c->nd, &c->shared);
        }
}

/* Measured (bench-net-guest, 2-core PVM host): publishing inside a round
 * took the TSO-sized row from 0.77x to 0.80-0.84x of the host's, alike for
 * every 1, 2, 4 or 8 such sends; counting bytes rather than packets leaves
 * small sends, whose rounds are short, as they were. */
#define PUBLISH_BYTES (128u << 10)
/* One round. Returns the packets and frames handled, or -EBADMSG once the
 * ring is broken (the channel is then no longer served). */
static int serve(struct netvsp_chan *c) {
        struct vmbus_ring_pair *rp = c->rp;
        uint64_t before = frames_moved(netvsp_dev_stats(c->nd)), published = netvsp_dev_stats(c->nd)->tx_bytes;
        int work = 0;

        if (c->index) /* a sub-channel works with the primary's RNDIS state */
                netvsp_chan_share(c);
        vmbus_ring_send_begin(rp);
        if (vmbus_ring_recv_begin(rp) >= 0) {
                /* while the device is blocked (TAP full, completion waiting
                 * for ring space) the packets stay in the guest's ring; a
                 * pause request ends the drain early (the rest stays there
                 * too), so quiescing never waits for a large busy ring */
                while (netvsp_can_take_packet(c->nd) && !devworker_should_yield(c->w)) {
                        struct vmbus_packet p;
                        int k = vmbus_ring_recv(rp, c->pkt, sizeof c->pkt, &p);
                        if (k == -EMSGSIZE) /* skipped and counted by the ring library */
                                continue;
                        if (k <= 0)
                                break;
                        (void)netvsp_handle_packet(c->nd, p.data, p.len);
                        work++;
                        /* Completions go out with the round's end; a round
                         * of large sends (LSO) takes long enough that the
                         * guest would idle with every buffer in flight:
                         * publish every PUBLISH_BYTES sent. */
                        uint64_t sent = netvsp_dev_stats(c->nd)->tx_bytes;
                        if (sent - published >= PUBLISH_BYTES) {
                                published = sent;
                                vmbus_ring_send_end(rp);
                                vmbus_ring_send_begin(rp);
                                c->local.early_publishes++;
                        }
                }
                vmbus_ring_recv_end(rp);
        }
        if (c->link_pending) {
                c->link_pending = false;
                work += take_link(c);
        }
        c->want = netvsp_process(c->nd);
        vmbus_ring_send_end(rp);
        if (c->index == 0) /* what this round changed, for the sub-channels */
                netvsp_chan_share(c);
        c->local.batches++;
        if (vmbus_ring_broken(rp))
                return -EBADMSG;
        return work + (int)MIN(frames_moved(netvsp_dev_stats(c->nd)) - before, (uint64_t)INT32_MAX / 2);
}

static unsigned poll_budget_us(const struct netvsp_chan *c) {
        unsigned p = c->nic->cfg.poll_us;
        return p == 0 ? NETVSP_DEFAULT_POLL_US : p == UINT32_MAX ? 0 : p;
}

/* A broken ring: not served any more (vmbus/ring.h); close still stops the
 * worker. Every source goes, so nothing wakes the worker again. */
static void chan_broken(struct netvsp_chan *c) {
        dw_source_free(c->src_doorbell);
        dw_source_free(c->src_tap);
        dw_source_free(c->src_link);
        dw_source_free(c->src_announce);
        dw_source_free(c->src_qos);
        c->src_doorbell = c->src_tap = c->src_link = c->src_announce = c->src_qos = NULL;
        c->broken = true;
        c->local.channels_broken++;
        netvsp_chan_publish_stats(c);
}

/* The channel goes idle: the guest rings again and the worker sleeps on
 * the doorbell, the TAP (as the device wants) and the link watch. */
static void chan_sleep(struct netvsp_chan *c) {
        c->busy = false;
        update_tap(c);
        update_qos_timer(c);
        c->local.sleeps++;
        netvsp_chan_publish_stats(c);
}

/* One round of the pump: DW_AGAIN while it serves or polls, 0 when idle.
 * *now: when the round ended. */
static int chan_round(struct netvsp_chan *c, uint64_t *now_out) {
        struct vmbus_ring_pair *rp = c->rp;
        if (!c->busy) {
                vmbus_ring_mask(rp); /* from here on the guest does not ring (§5.5) */
                c->busy = true;
                c->idle_since = now_us(CLOCK_MONOTONIC);
        }
        int n = serve(c);
        if (n < 0) {
                chan_broken(c);
                return 0;
        }
        uint64_t now = *now_out = now_us(CLOCK_MONOTONIC);
        if (n > 0) {
                c->idle_since = now;
                netvsp_chan_publish_stats(c);
                return DW_AGAIN;
        }
        if (now - c->idle_since < poll_budget_us(c)) {
                c->local.polls++;
                sched_yield();
                return DW_AGAIN;
        }
        /* unmask re-checks: a packet written meanwhile is seen; a blocked
         * device sleeps (the TAP's POLLOUT or the guest's signal for
         * pending_send_sz wakes it) */
        if (vmbus_ring_unmask(rp) && netvsp_can_take_packet(c->nd)) {
                vmbus_ring_mask(rp);
                return DW_AGAIN;
        }
        chan_sleep(c);
        return 0;
}

/* Every source: note the event; the pump (or this source, becoming it)
 * serves. */
static int chan_event(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct netvsp_chan *c = opaque;
        if (c->broken)
                return 0;
        if (revents && s == c->src_doorbell) {
                uint64_t v;
                (void)!read(fd, &v, sizeof v);
                c->local.doorbells++;
        } else if (revents && s == c->src_link) {
                c->link_pending = true;
        }
        if (c->pump && c->pump != s)
                return 0;
        uint64_t start = now_us(CLOCK_MONOTONIC), now = start;
        int r;
        do
                r = chan_round(c, &now);
        while (r == DW_AGAIN && !devworker_should_yield(c->w) && now - start < PUMP_SLICE_US);
        c->pump = r == DW_AGAIN ? s : NULL;
        return r;
}

/* The announce (docs/netvsp.md "Saved state"): QEMU's announce-self
 * schedule (5 rounds, the first at once, then 50 ms growing by 100 ms),
 * so a switch that missed one frame learns from the next. A full TAP
 * skips a round rather than waiting. */
#define ANNOUNCE_ROUNDS 5u
#define ANNOUNCE_FIRST_GAP_US 50000u
#define ANNOUNCE_STEP_US 100000u

static int announce_event(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct netvsp_chan *c = opaque;
        (void)netvsp_announce(c->nd);
        netvsp_chan_publish_stats(c);
        if (++c->announce_round < ANNOUNCE_ROUNDS &&
            dw_source_set_timer(s, ANNOUNCE_FIRST_GAP_US + (c->announce_round - 1) * ANNOUNCE_STEP_US, 0) == 0)
                return 0;
        dw_source_free(s); /* released after this batch */
        c->src_announce = NULL;
        return 0;
}

int netvsp_chan_announce(struct netvsp_chan *c) {
        if (c->broken)
                return 0;
        c->announce_round = 0;
        if (c->src_announce) /* an announce still running starts over */
                return dw_source_set_timer(c->src_announce, 1, 0);
        return devworker_add_timer(c->w, 1, 0, announce_event, c, &c->src_announce);
}

/* First thing on the worker's thread: the sandbox's per-thread policy. A
 * failure leaves the thread under its creator's filter (counted). */
static int chan_on_start(void *opaque) {
        struct netvsp_chan *c = opaque;
        const struct netvsp_nic_config *cfg = &c->nic->cfg;
        if (cfg->thread_policy && cfg->thread_policy(cfg->thread_policy_opaque, "netvsp") < 0)
                c->local.thread_policy_failures++;
        /* a TAP queue of its own: the kernel may steer frames to it now */
        if (c->tap != c->nic->tap && netvsp_nic_set_queue(c->nic, c->tap, c->index, true) < 0)
                c->local.queue_attach_failures++;
        return 0;
}

static void chan_on_exit(void *opaque) {
        struct netvsp_chan *c = opaque;
        if (c->tap != c->nic->tap)
                (void)netvsp_nic_set_queue(c->nic, c->tap, c->index, false);
        netvsp_chan_publish_stats(c);
}

int netvsp_chan_start(struct netvsp_chan *c, bool paused) {
        const struct devworker_config wc = {
                .name = "netvsp", .on_start = chan_on_start, .on_exit = chan_on_exit, .opaque = c,
        };
        int r = devworker_new(&wc, &c->w);
        if (r < 0)
                return r;
        r = devworker_add_io(c->w, vmbus_channel_event_fd(c->ch), EPOLLIN, chan_event, c, &c->src_doorbell);
        /* the link is the primary's to report */
        if (r == 0 && c->nic->link_fd >= 0 && c->index == 0)
                r = devworker_add_io(c->w, c->nic->link_fd, EPOLLIN, chan_event, c, &c->src_link);
        /* stale frames are read and dropped until the guest is ready; a
         * sub-channel without a TAP queue of its own only writes */
        c->want = c->index == 0 ? NETVSP_WANT_BACKEND_RX : 0;
        unsigned ev = c->want ? EPOLLIN : 0;
        if (r == 0 && !tap_removed(c->tap))
                r = devworker_add_io(c->w, tap_fd(c->tap), ev, chan_event, c, &c->src_tap);
        if (r == 0) /* disarmed until a cap holds a direction */
                r = devworker_add_timer(c->w, 0, 0, chan_event, c, &c->src_qos);
        if (r == 0)
                r = dw_source_set_timer(c->src_qos, 0, 0);
        if (r < 0)
                return r;
        c->tap_events = c->src_tap ? ev : 0;
        if (paused) /* opened while the NIC is quiesced: runs nothing until resumed */
                (void)devworker_pause(c->w);
        return devworker_start(c->w);
}

void netvsp_chan_stop(struct netvsp_chan *c) {
        if (c->w)
                devworker_stop(c->w); /* joined, also when paused */
}
