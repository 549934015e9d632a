// SPDX-License-Identifier: MIT
/* The CPU time a VP's thread used (metering, docs/vmwp.md "stats"): the
 * kernel's per-thread CPU clock, which counts the time in KVM_RUN (the
 * guest's) and in the exits the thread handles, not what the guest says. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"

static uint64_t ts_ns(const struct timespec *ts) {
        return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

uint64_t vid_thread_cpu_ns(void) {
        struct timespec ts;
        return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 ? ts_ns(&ts) : 0;
}

void vid_vp_cpu_time_keep(struct vid_vp *vp) {
        uint64_t ns = vid_thread_cpu_ns();
        if (ns)
                __atomic_store_n(&vp->cpu_ns_final, ns, __ATOMIC_RELEASE);
}

int vid_vp_cpu_time_ns(const struct vid_vp *vp, uint64_t *ns) {
        clockid_t clk;
        struct timespec ts;
        /* a thread that ended left its figure (the worker's final stats,
         * sent with its exit event after the join) */
        uint64_t final = __atomic_load_n(&vp->cpu_ns_final, __ATOMIC_ACQUIRE);
        if (final) {
                *ns = final;
                return 0;
        }
        if (!vp->thread_started)
                return -ESRCH;
        int r = pthread_getcpuclockid(vp->thread, &clk);
        if (r != 0)
                return -r;
        if (clock_gettime(clk, &ts) < 0)
                return -errno; /* the thread ended, not yet joined */
        *ns = ts_ns(&ts);
        return 0;
}
