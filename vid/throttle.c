// SPDX-License-Identifier: MIT
/* Throttling the VPs (a live migration's auto-converge, docs/migration.md
 * "Convergence"): while a share pct is set, every VP spends pct % of each
 * VID_THROTTLE_PERIOD_NS parked outside KVM_RUN, so that a guest dirtying
 * memory faster than the link carries it slows down enough for pre-copy
 * to converge.
 *
 * Each VP times itself, with no thread of its own: a POSIX timer of the
 * VP's thread (SIGEV_THREAD_ID, vid's kick signal SIGRTMIN) fires when its
 * share of guest time in the period is used up. The kick handler sets the
 * thread's own run->immediate_exit (vp.c), so a signal that lands between
 * the deadline check and KVM_RUN's entry is not lost: KVM_RUN returns at
 * once and the next round of the loop sees the deadline passed. The VP
 * then sleeps its share on the partition's condition variable (a timed
 * wait on CLOCK_MONOTONIC, no busy waiting), which pause, resume, stop and
 * every change of the share broadcast: none of them waits for a sleeping
 * VP's slice to end. The same on any KVM host: the signal is what kicks a
 * VP out of KVM_RUN for a pause too.
 *
 * A VP times each period for the share it saw at its start; a share set
 * meanwhile moves the end of the guest share within that period, so a
 * rise takes effect at once, not a period later.
 *
 * Setting 0 turns it off: a VP that sees 0 deletes its timer; the
 * partition runs at full speed again.
 *
 * The VM's processor limit (its configuration's "processor", Hyper-V's
 * "virtual machine limit") is the same mechanism with a share of its own:
 * a limit of L % parks 100 - L % of every period. Each is stored as set
 * (auto-converge's share, the limit) and the VPs park the larger of the
 * two (vid_throttle_effective), so neither undoes the other (a
 * migration's end turns auto-converge off, the limit stays). */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static struct timespec to_timespec(uint64_t ns) {
        return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
}

unsigned vid_throttle_effective(unsigned converge_pct, unsigned limit_pct) {
        unsigned limit_park = limit_pct && limit_pct < 100u ? 100u - limit_pct : 0;
        return MIN(MAX(converge_pct, limit_park), VID_THROTTLE_MAX_PCT);
}

/* The share the VPs park now. */
static unsigned effective_pct(const struct vid_partition *p) {
        return vid_throttle_effective(atomic_load(&p->throttle_pct), atomic_load(&p->cpu_limit_pct));
}

/* Stores auto-converge's share or the processor limit, as set. */
static void set_share(struct vid_partition *p, atomic_uint *share, unsigned value) {
        pthread_mutex_lock(&p->lock);
        atomic_store(share, value);
        /* A VP sleeping its share re-reads it (a lower share or 0 ends
         * its sleep early). */
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        /* VPs in the guest are kicked to apply the new share now (one
         * that never had a timer would run on unthrottled until its next
         * exit, one timed for a lower share until its old deadline). */
        if (effective_pct(p))
                vid_kick_all(p);
}

int vid_partition_set_throttle(struct vid_partition *p, unsigned pct) {
        if (pct > VID_THROTTLE_MAX_PCT)
                return -EINVAL;
        set_share(p, &p->throttle_pct, pct);
        return 0;
}

unsigned vid_partition_throttle(const struct vid_partition *p) {
        return atomic_load(&p->throttle_pct);
}

int vid_partition_set_cpu_limit(struct vid_partition *p, unsigned limit_pct) {
        if (limit_pct < VID_CPU_LIMIT_MIN_PCT || limit_pct > 100u)
                return -EINVAL;
        set_share(p, &p->cpu_limit_pct, limit_pct);
        return 0;
}

unsigned vid_partition_cpu_limit(const struct vid_partition *p) {
        unsigned limit = atomic_load(&p->cpu_limit_pct);
        return limit ? limit : 100u; /* never set */
}

uint64_t vid_partition_throttled_ns(const struct vid_partition *p) {
        return atomic_load(&p->throttled_ns);
}

static void timer_off(struct vid_vp *vp) {
        if (vp->throttle_timer_on) {
                timer_delete(vp->throttle_timer);
                vp->throttle_timer_on = false;
        }
}

/* The timer fires at deadline (CLOCK_MONOTONIC) with SIGRTMIN for this
 * thread only. */
static int timer_arm(struct vid_vp *vp, uint64_t deadline) {
        if (!vp->throttle_timer_on) {
                struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
                sev.sigev_notify_thread_id = gettid();
                if (timer_create(CLOCK_MONOTONIC, &sev, &vp->throttle_timer) < 0)
                        return -errno;
                vp->throttle_timer_on = true;
        }
        struct itimerspec its = { .it_value = to_timespec(deadline) };
        return timer_settime(vp->throttle_timer, TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

/* The guest's part of a period at share pct. */
static uint64_t guest_share_ns(unsigned pct) {
        return VID_THROTTLE_PERIOD_NS / 100u * (100u - pct);
}

/* How long a VP that ran `ran_ns` of a period at share pct parks: pct % of
 * the period, or longer when it ran past its guest share, so that what it
 * ran stays (100 - pct) % of the whole. The kick that ends a guest share
 * takes a while to get the VP out of KVM_RUN (a signal, an IPI, the exit),
 * and an exit being handled when the share ends finishes first: each
 * overrun, left uncounted, added itself to the guest's share (an emulated
 * AMD-V host, where the kick takes milliseconds, gave a VM under a 25 %
 * limit 44 %). The thread also spends CPU time outside the guest share
 * it times, in the park itself (the wake-up, getting back into KVM_RUN):
 * cpu_ns, its CPU time over the whole cycle (the last park and this
 * share), is held to (100 - pct) % of the cycle too, which the host's
 * accounting sees (on the emulated AMD-V host that time took a 10 %
 * limit to 12.7 %). At most ten periods, so one long exit (a save's
 * quiesce) does not park the VP for long. Pure. */
uint64_t vid_throttle_park_ns(unsigned pct, uint64_t ran_ns, uint64_t cpu_ns) {
        uint64_t nominal = VID_THROTTLE_PERIOD_NS / 100u * pct;
        if (pct == 0 || pct >= 100u)
                return nominal;
        uint64_t fair = ran_ns / (100u - pct) * pct;
        /* cpu_ns / (100 - pct) * 100 is the cycle that CPU time may fill;
         * the share already took ran_ns of it */
        uint64_t cycle = cpu_ns / (100u - pct) * 100u;
        uint64_t fair_cpu = cycle > ran_ns ? cycle - ran_ns : 0;
        return MIN(MAX(MAX(nominal, fair), fair_cpu), 10ull * VID_THROTTLE_PERIOD_NS);
}


/* Sleeps park_ns less what earlier parks overslept, or less when paused,
 * stopped or the share changed meanwhile; what this one oversleeps (a
 * timed wait's wake-up comes late: about a millisecond on the emulated
 * AMD-V host, which took a 90 % limit down to 83 %) is owed to the next. */
static void sleep_share(struct vid_vp *vp, unsigned pct, uint64_t park_ns) {
        struct vid_partition *p = vp->p;
        uint64_t paid = MIN(vp->throttle_overslept, park_ns);
        vp->throttle_overslept -= paid;
        park_ns -= paid;
        uint64_t start = vid_now_ns(), until = start + park_ns;
        struct timespec ts = to_timespec(until);
        bool cut = false;
        pthread_mutex_lock(&p->lock);
        while (!(cut = p->pause_requested || p->stop_requested || effective_pct(p) != pct) && vid_now_ns() < until)
                if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&p->lock);
        uint64_t end = vid_now_ns();
        atomic_fetch_add(&p->throttled_ns, end - start);
        /* At most a period owed: a VP descheduled for long is not made
         * to run unparked for long after. */
        vp->throttle_overslept = cut ? 0 : MIN(vp->throttle_overslept + (end > until ? end - until : 0),
                                               (uint64_t)VID_THROTTLE_PERIOD_NS);
}

void vid_vp_throttle(struct vid_vp *vp) {
        unsigned pct = effective_pct(vp->p);
        if (!pct) {
                timer_off(vp);
                vp->throttle_due = 0;
                vp->throttle_overslept = 0;
                vp->throttle_cpu_mark = 0;
                return;
        }
        uint64_t now = vid_now_ns();
        /* A new share within the period (the kick of set_throttle, or an
         * exit) moves the end of its guest share at once: auto-converge
         * raises the share every few ms, well inside one period, and a VP
         * that ran out the share it started with would not slow down
         * before the migration's last passes. */
        if (vp->throttle_due && pct != vp->throttle_pct) {
                vp->throttle_pct = pct;
                vp->throttle_due = vp->throttle_start + guest_share_ns(pct);
                if (now < vp->throttle_due && timer_arm(vp, vp->throttle_due) < 0)
                        timer_off(vp);
        }
        if (vp->throttle_due && now < vp->throttle_due)
                return; /* an exit inside this period's guest share */
        if (vp->throttle_due) { /* the guest share used up: the rest of the period out */
                uint64_t cpu = vid_thread_cpu_ns();
                uint64_t cycle_cpu = vp->throttle_cpu_mark && cpu > vp->throttle_cpu_mark ? cpu - vp->throttle_cpu_mark : 0;
                vp->throttle_cpu_mark = cpu;
                sleep_share(vp, pct, vid_throttle_park_ns(pct, now - vp->throttle_start, cycle_cpu));
                now = vid_now_ns();
                pct = effective_pct(vp->p);
                if (!pct) {
                        timer_off(vp);
                        vp->throttle_due = 0;
                        vp->throttle_overslept = 0;
                        return;
                }
        }
        vp->throttle_start = now;
        vp->throttle_pct = pct;
        vp->throttle_due = now + guest_share_ns(pct);
        /* No timer (a host out of them): this VP sleeps only at its exits,
         * and a migration that needed the throttle says it did not converge. */
        if (timer_arm(vp, vp->throttle_due) < 0)
                timer_off(vp);
}

void vid_vp_throttle_end(struct vid_vp *vp) {
        timer_off(vp);
        vp->throttle_due = 0;
        vp->throttle_overslept = 0;
        vp->throttle_cpu_mark = 0;
}
