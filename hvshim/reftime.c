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

#include "common/log.h"
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

/* VP 0's: one reference time for all VPs needs one TSC timeline. */
static int tsc_offset_read(struct hvshim *hv, int64_t *offset) {
        struct vid_vp *vp0 = vid_partition_vp(hv->p, 0);
        if (!vp0)
                return -EINVAL;
        uint64_t window;
        int r = vid_vp_tsc_offset(vp0, offset);
        if (r == -ENOTSUP)
                r = hvshim_tsc_offset_estimate(vp0, offset, &window);
        return r;
}

int hvshim_time_init(struct hvshim *hv) {
        int r = tsc_offset_read(hv, &hv->tsc_offset);
        if (r < 0)
                return r;
        /* Dilation: the guest is told a k times faster TSC (and APIC
         * timer), so every interval it derives from them, and the
         * reference time computed here, is k times longer in real time. */
        hv->tsc_khz = vid_partition_tsc_khz(hv->p);
        hv->tsc_hz = (uint64_t)hv->tsc_khz * 1000u * hv->time_dilation;
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

unsigned hvshim_time_dilation(const struct hvshim *hv) {
        return hv->time_dilation;
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
        if (hv->tsc_scale) { /* else it stays invalid: the guest uses TIME_REF_COUNT */
                hv->tsc_sequence = hv_tsc_sequence_next(hv->tsc_sequence);
                __atomic_store_n(seq, hv->tsc_sequence, __ATOMIC_RELEASE);
        }
        vid_mark_dirty_host(hv->p, page, 24); /* guest RAM: docs/vm-state.md, "Dirty pages" */
        return 0;
}

/* ---- saved state (hvshim/state.h) ---- */

void hvshim_time_state_get(struct hvshim *hv, struct hvshim_partition_state *st) {
        st->tsc_hz = hv->tsc_hz;
        st->time_dilation = hv->time_dilation;
        st->tsc_scale = hv->tsc_scale;
        st->ref_offset = (uint64_t)hv->ref_offset;
        st->tsc_sequence = hv->tsc_sequence;
        st->reference_time = hvshim_reference_time(hv);
}

/* The guest calibrated to the saved rate and scale (and dilation): keep
 * them. Reference time continues from where the guest's VP 0 stopped: at
 * the guest TSC that vid saved, the formula gives what it gave then. vid
 * restored the guest TSC to that value, which moved its offset from the
 * host TSC: the offset is read again. Where KVM cannot offset the TSC
 * (PVM: the guest TSC is the host's) the TSC jumped by the time the state
 * lay saved; reference time must not, so the formula's offset takes the
 * difference between the saved TSC and the TSC now, and the TSC page in
 * the guest's RAM is published again (a new sequence). Where the TSC was
 * restored, that difference is the few microseconds since vid set it.
 * Without a TSC rate the monotonic clock is shifted to continue from the
 * saved reference time instead. */
int hvshim_time_state_set(struct hvshim *hv, const struct hvshim_partition_state *st, uint64_t saved_tsc,
                          char *err, size_t errlen) {
        /* guest_tsc() adds an offset to the host TSC: right only while KVM
         * does not scale it, which vid asks for when the saved rate is
         * another host's (vid/state.c). */
        uint32_t khz = vid_partition_tsc_khz(hv->p);
        if (khz != hv->tsc_khz)
                return errorf(err, errlen, -ENOTSUP,
                              "the guest's TSC ran at %u kHz, this host's at %u kHz: hvshim's reference time "
                              "cannot follow a TSC that KVM scales",
                              khz, hv->tsc_khz);
        int64_t offset = 0;
        int r = tsc_offset_read(hv, &offset);
        if (r < 0)
                return errorf(err, errlen, r, "reading the guest TSC offset after restoring it: %s", strerror(-r));
        hv->tsc_offset = offset;
        hv->tsc_hz = st->tsc_hz;
        hv->time_dilation = st->time_dilation;
        hv->tsc_scale = st->tsc_scale;
        hv->tsc_sequence = st->tsc_sequence;
        /* Both modulo 2^64, as the formula and hvshim_reference_time(); the
         * decoder bounds reference_time so that the product fits. */
        hv->ref_offset = (int64_t)(st->ref_offset + hv_tsc_to_ref(saved_tsc, st->tsc_scale, 0) -
                                   hv_tsc_to_ref(guest_tsc(hv), st->tsc_scale, 0));
        hv->mono_start_ns = mono_ns() - st->reference_time * 100u * st->time_dilation;
        return 0;
}
