// SPDX-License-Identifier: MIT
/* Partition reference time (docs/hyperv-guest-interface.md §9.1, §9.2).
 *
 * One timeline for everything: reference time = page formula applied to
 * the guest TSC, ((tsc * scale) >> 64) + offset, in 100 ns units, 0 when
 * hvshim was created. The reference TSC page publishes scale and offset;
 * TIME_REF_COUNT and hvshim_reference_time() evaluate the same formula on
 * the guest TSC derived from the host TSC (guest TSC = host TSC + the
 * VP's TSC offset; vid never scales the TSC). So the MSR and the page
 * agree exactly, and an MSR read, computed while the guest waits in the
 * exit, lies between any page reads before and after it.
 *
 * The offset comes from KVM (KVM_VCPU_TSC_OFFSET); where KVM cannot report
 * it, from IA32_TSC read through KVM paired with rdtsc around the ioctl
 * (accurate to half the ioctl's duration: about 5 us on the PVM hosts,
 * docs/pvm.md). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "common/macro.h"
#include "internal.h"

#define MSR_IA32_TSC 0x10u
#define OFFSET_SAMPLES 16

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The sample with the narrowest host window bounds the offset best: KVM
 * read the guest TSC somewhere inside [before, after]. */
int hvshim_tsc_offset_estimate(struct vid_vp *vp, int64_t *offset, uint64_t *window) {
        uint64_t best = UINT64_MAX;
        for (int i = 0; i < OFFSET_SAMPLES; i++) {
                uint64_t guest, before = __rdtsc();
                int r = vid_vp_get_msr(vp, MSR_IA32_TSC, &guest);
                uint64_t after = __rdtsc();
                if (r < 0)
                        return r;
                if (after - before < best) {
                        best = after - before;
                        *offset = (int64_t)(guest - (before + (after - before) / 2));
                }
        }
        *window = best;
        return 0;
}

static uint64_t guest_tsc(const struct hvshim *hv) {
        return __rdtsc() + (uint64_t)hv->tsc_offset;
}

int hvshim_time_init(struct hvshim *hv) {
        struct vid_vp *vp0 = vid_partition_vp(hv->p, 0);
        if (!vp0)
                return -EINVAL;
        uint64_t window;
        int r = vid_vp_tsc_offset(vp0, &hv->tsc_offset);
        if (r == -ENOTSUP)
                r = hvshim_tsc_offset_estimate(vp0, &hv->tsc_offset, &window);
        if (r < 0)
                return r;
        /* Dilation: the guest is told a k times faster TSC (and APIC
         * timer), so every interval it derives from them, and the
         * reference time computed here, is k times longer in real time. */
        hv->tsc_hz = (uint64_t)vid_partition_tsc_khz(hv->p) * 1000u * hv->time_dilation;
        hv->tsc_scale = hv_tsc_scale(hv->tsc_hz);
        hv->mono_start_ns = mono_ns();
        hv->ref_offset = -(int64_t)hv_tsc_to_ref(guest_tsc(hv), hv->tsc_scale, 0);
        /* Offer nothing we cannot back: without a known TSC rate there is
         * neither a TSC page nor a frequency to report. */
        if (!hv->tsc_scale)
                hv->cfg.reference_tsc = false;
        if (!hv->tsc_hz)
                hv->cfg.frequency_msrs = false;
        return 0;
}

uint64_t hvshim_reference_time(struct hvshim *hv) {
        if (!hv->tsc_scale)
                return (mono_ns() - hv->mono_start_ns) / 100u / hv->time_dilation;
        return hv_tsc_to_ref(guest_tsc(hv), hv->tsc_scale, hv->ref_offset);
}

/* Fill the enabled reference TSC page (§9.2), msr_lock held. Other VPs may
 * read it meanwhile: the sequence is 0 ("use the MSR") while scale and
 * offset change, then a new non-zero value, as a seqlock writer does. */
int hvshim_tsc_page_update(struct hvshim *hv, uint64_t msr_value) {
        uint8_t *page;
        int r = gm_map(hv->p, hv_msr_page_gpa(msr_value), HV_HYP_PAGE_SIZE, (void **)&page);
        if (r < 0)
                return r;
        uint32_t *seq = (uint32_t *)(void *)page;
        uint64_t *scale = (uint64_t *)(void *)(page + 8);
        int64_t *offset = (int64_t *)(void *)(page + 16);
        __atomic_store_n(seq, HV_TSC_SEQUENCE_INVALID, __ATOMIC_RELAXED);
        smp_wmb();
        __atomic_store_n((uint32_t *)(void *)(page + 4), 0, __ATOMIC_RELAXED);
        __atomic_store_n(scale, hv->tsc_scale, __ATOMIC_RELAXED);
        __atomic_store_n(offset, hv->ref_offset, __ATOMIC_RELAXED);
        if (!hv->tsc_scale)
                return 0; /* stays invalid: the guest uses TIME_REF_COUNT */
        hv->tsc_sequence = hv_tsc_sequence_next(hv->tsc_sequence);
        __atomic_store_n(seq, hv->tsc_sequence, __ATOMIC_RELEASE);
        return 0;
}
