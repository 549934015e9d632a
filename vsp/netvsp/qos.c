// SPDX-License-Identifier: MIT
/* The bandwidth caps' buckets (netvsp/qos.h). */
#include <errno.h>
#include <time.h>

#include "common/config.h"
#include "common/macro.h"
#include "netvsp/qos.h"

_Static_assert(NETVSP_QOS_MIN_BPS == VM_NIC_QOS_MIN_BPS && NETVSP_QOS_MAX_BPS == VM_NIC_QOS_MAX_BPS,
               "the configuration's range is the buckets'");

#define QOS_BURST_BYTES (64u << 10)
#define QOS_BURST_MIN_NS 20000000ull

/* ns a frame of bytes takes at bps (bps >= NETVSP_QOS_MIN_BPS or a test's
 * value; bytes <= a GSO frame): bytes * 8e9 fits 64 bits many times over. */
static uint64_t frame_ns(uint64_t bps, size_t bytes) {
        return (uint64_t)bytes * 8000000000ull / bps;
}

uint64_t netvsp_qos_burst_ns(uint64_t bps) {
        return bps ? MAX(frame_ns(bps, QOS_BURST_BYTES), QOS_BURST_MIN_NS) : 0;
}

uint64_t netvsp_qos_wait_ns(struct netvsp_qos_bucket *b, uint64_t now_ns) {
        uint64_t bps = __atomic_load_n(&b->bps, __ATOMIC_RELAXED);
        if (!bps)
                return 0;
        uint64_t tat = __atomic_load_n(&b->tat_ns, __ATOMIC_RELAXED), burst = netvsp_qos_burst_ns(bps);
        return tat > now_ns + burst ? tat - now_ns - burst : 0;
}

uint64_t netvsp_qos_hold_ns(const struct netvsp_qos_bucket *b, uint64_t wait) {
        return wait + netvsp_qos_burst_ns(__atomic_load_n(&b->bps, __ATOMIC_RELAXED)) / 4;
}

void netvsp_qos_charge(struct netvsp_qos_bucket *b, uint64_t now_ns, size_t bytes) {
        uint64_t bps = __atomic_load_n(&b->bps, __ATOMIC_RELAXED);
        if (!bps)
                return;
        uint64_t cost = frame_ns(bps, bytes), old = __atomic_load_n(&b->tat_ns, __ATOMIC_RELAXED), next;
        /* idle time beyond the burst is not credit: the bucket is full */
        do
                next = MAX(old, now_ns) + cost;
        while (!__atomic_compare_exchange_n(&b->tat_ns, &old, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

void netvsp_qos_set(struct netvsp_qos_bucket *b, uint64_t bps) {
        __atomic_store_n(&b->bps, bps, __ATOMIC_RELAXED);
        /* a debt run up at the old cap is forgiven: the new one holds at once */
        __atomic_store_n(&b->tat_ns, 0, __ATOMIC_RELAXED);
}

uint64_t netvsp_qos_get(const struct netvsp_qos_bucket *b) {
        return __atomic_load_n(&b->bps, __ATOMIC_RELAXED);
}

struct netvsp_qos_bucket *netvsp_qos_capped(struct netvsp_qos_bucket *b) {
        return b && netvsp_qos_get(b) ? b : NULL;
}

int netvsp_qos_check(uint64_t bps) {
        return bps == 0 || (bps >= NETVSP_QOS_MIN_BPS && bps <= NETVSP_QOS_MAX_BPS) ? 0 : -EINVAL;
}

uint64_t netvsp_qos_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
