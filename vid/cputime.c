// SPDX-License-Identifier: MIT
/* The CPU time a VP's thread used (metering, docs/vmwp.md "stats"): the
 * kernel's per-thread CPU clock, which counts the time in KVM_RUN (the
 * guest's) and in the exits the thread handles, not what the guest says. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"

int vid_vp_cpu_time_ns(const struct vid_vp *vp, uint64_t *ns) {
        clockid_t clk;
        struct timespec ts;
        if (!vp->thread_started)
                return -ESRCH;
        int r = pthread_getcpuclockid(vp->thread, &clk);
        if (r != 0)
                return -r;
        if (clock_gettime(clk, &ts) < 0)
                return -errno; /* the thread ended, not yet joined */
        *ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        return 0;
}
