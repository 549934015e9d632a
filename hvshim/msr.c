// SPDX-License-Identifier: MIT
/* The synthetic-MSR register file (docs/hyperv-guest-interface.md §1.5,
 * §3.1, §9.2, §9.6): validation and storage only. Side effects (pages,
 * interrupts, reports) are the caller's, selected by HV_MSR_FX_*.
 *
 * Reserved bits: the TLFS marks them RsvdP ("preserve"). We return them as
 * 0, so a guest that preserves them - Linux reads, modifies and writes
 * back every one of these registers - writes 0; a write that sets one is
 * refused with #GP rather than silently stored. No register is gated on a
 * non-zero guest OS id: Linux reads the clock MSRs before it writes the id
 * (§1.5, boot order). */
#include <errno.h>
#include <string.h>

#include "hvshim/decode.h"

void hv_msr_partition_init(struct hv_msr_partition *pm) {
        memset(pm, 0, sizeof *pm);
}

void hv_msr_vp_init(struct hv_msr_vp *vm) {
        memset(vm, 0, sizeof *vm);
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                vm->sint[i] = HV_SYNIC_SINT_MASKED; /* TLFS reset value */
}

bool hv_msr_in_range(uint32_t index) {
        return index >= HV_MSR_FIRST && index <= HV_MSR_LAST;
}

static bool is_sint(uint32_t index) {
        return index >= HV_X64_MSR_SINT0 && index <= HV_X64_MSR_SINT15;
}

bool hv_msr_is_per_vp(uint32_t index) {
        return is_sint(index) || index == HV_X64_MSR_VP_ASSIST_PAGE || index == HV_X64_MSR_SCONTROL ||
               index == HV_X64_MSR_SIEFP || index == HV_X64_MSR_SIMP || index == HV_X64_MSR_EOM;
}

static bool is_crash_p(uint32_t index) {
        return index >= HV_X64_MSR_CRASH_P0 && index <= HV_X64_MSR_CRASH_P4;
}

static uint64_t crash_capabilities(void) {
        /* §9.6: with NOTIFY_MSG the guest hands us its log tail. */
        return HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG;
}

/* Registers whose value is computed rather than stored. */
static int read_computed(const struct hvshim_config *cfg, const struct hv_msr_env *env, uint32_t index,
                         uint64_t *value) {
        switch (index) {
        case HV_X64_MSR_VP_INDEX:
                *value = env->vp_index;
                return 0;
        case HV_X64_MSR_TIME_REF_COUNT:
                *value = env->ref_time ? env->ref_time(env->opaque) : 0;
                return 0;
        case HV_X64_MSR_TSC_FREQUENCY:
                if (!cfg->frequency_msrs)
                        return -EPERM;
                *value = env->tsc_hz;
                return 0;
        case HV_X64_MSR_APIC_FREQUENCY:
                if (!cfg->frequency_msrs)
                        return -EPERM;
                *value = env->apic_hz;
                return 0;
        case HV_X64_MSR_SVERSION:
                *value = HV_SYNIC_SVERSION;
                return 0;
        case HV_X64_MSR_EOM:
                *value = 0; /* write-only trigger */
                return 0;
        case HV_X64_MSR_CRASH_CTL:
                if (!cfg->crash_msrs)
                        return -EPERM;
                *value = crash_capabilities();
                return 0;
        default:
                return -ENOENT;
        }
}

int hv_msr_read(const struct hvshim_config *cfg, const struct hv_msr_env *env, const struct hv_msr_partition *pm,
                const struct hv_msr_vp *vm, uint32_t index, uint64_t *value) {
        int r = read_computed(cfg, env, index, value);
        if (r != -ENOENT)
                return r;
        if (is_sint(index)) {
                *value = vm->sint[index - HV_X64_MSR_SINT0];
                return 0;
        }
        if (is_crash_p(index)) {
                if (!cfg->crash_msrs)
                        return -EPERM;
                *value = pm->crash_p[index - HV_X64_MSR_CRASH_P0];
                return 0;
        }
        switch (index) {
        case HV_X64_MSR_GUEST_OS_ID:
                *value = pm->guest_os_id;
                return 0;
        case HV_X64_MSR_HYPERCALL:
                *value = pm->hypercall; /* hv_vmbus checks the read-back (§1.1) */
                return 0;
        case HV_X64_MSR_REFERENCE_TSC:
                if (!cfg->reference_tsc)
                        return -EPERM;
                *value = pm->reference_tsc;
                return 0;
        case HV_X64_MSR_TSC_INVARIANT_CONTROL:
                if (!cfg->tsc_invariant)
                        return -EPERM;
                *value = pm->tsc_invariant_control;
                return 0;
        case HV_X64_MSR_VP_ASSIST_PAGE:
                *value = vm->vp_assist;
                return 0;
        case HV_X64_MSR_SCONTROL:
                *value = vm->scontrol;
                return 0;
        case HV_X64_MSR_SIEFP:
                *value = vm->siefp;
                return 0;
        case HV_X64_MSR_SIMP:
                *value = vm->simp;
                return 0;
        default:
                return -EPERM; /* unknown or not offered: #GP, as on Hyper-V */
        }
}

static int write_sint(struct hv_msr_vp *vm, unsigned n, uint64_t value, unsigned *fx) {
        if (value & (HV_SYNIC_SINT_RESERVED | HV_SYNIC_SINT_RESERVED_P1))
                return -EPERM;
        /* Vectors 0-15 are exceptions: an unmasked SINT cannot use them. */
        if (!hv_sint_masked(value) && hv_sint_vector(value) < HV_SYNIC_FIRST_VALID_VECTOR)
                return -EPERM;
        vm->sint[n] = value;
        *fx |= HV_MSR_FX_SYNIC;
        return 0;
}

static int write_hypercall(struct hv_msr_partition *pm, uint64_t value, unsigned *fx) {
        if (value & HV_X64_MSR_HYPERCALL_RESERVED)
                return -EPERM;
        /* Locked: unchangeable until the partition is reset (TLFS). */
        if ((pm->hypercall & HV_X64_MSR_HYPERCALL_LOCKED) && value != pm->hypercall)
                return -EPERM;
        pm->hypercall = value;
        if (hv_msr_enabled(value))
                *fx |= HV_MSR_FX_HYPERCALL_PAGE;
        return 0;
}

static int write_crash_ctl(struct hv_msr_partition *pm, uint64_t value, unsigned *fx) {
        if (value & ~crash_capabilities())
                return -EPERM;
        pm->crash_ctl = value;
        if (value & HV_CRASH_CTL_CRASH_NOTIFY)
                *fx |= HV_MSR_FX_CRASH;
        return 0;
}

/* Registers holding a page address with an enable bit: bits 11:1 reserved. */
static int write_page_msr(uint64_t *reg, uint64_t value, unsigned fx_bit, unsigned *fx) {
        if (value & HV_X64_MSR_PAGE_RESERVED)
                return -EPERM;
        *reg = value;
        *fx |= fx_bit;
        return 0;
}

static int write_vp(struct hv_msr_vp *vm, uint32_t index, uint64_t value, unsigned *fx) {
        switch (index) {
        case HV_X64_MSR_VP_ASSIST_PAGE:
                /* Linux writes it on every CPU (§1.5); only lazy EOI / eVMCS,
                 * which we do not offer, would use it: store. */
                return write_page_msr(&vm->vp_assist, value, 0, fx);
        case HV_X64_MSR_SCONTROL:
                if (value & HV_SYNIC_SCONTROL_RESERVED)
                        return -EPERM;
                vm->scontrol = value;
                *fx |= HV_MSR_FX_SYNIC;
                return 0;
        case HV_X64_MSR_SIEFP:
                return write_page_msr(&vm->siefp, value, HV_MSR_FX_SYNIC, fx);
        case HV_X64_MSR_SIMP:
                return write_page_msr(&vm->simp, value, HV_MSR_FX_SYNIC, fx);
        case HV_X64_MSR_EOM:
                *fx |= HV_MSR_FX_EOM; /* the value is ignored (TLFS) */
                return 0;
        default:
                return -EPERM;
        }
}

int hv_msr_write(const struct hvshim_config *cfg, struct hv_msr_partition *pm, struct hv_msr_vp *vm,
                 uint32_t index, uint64_t value, unsigned *effects) {
        unsigned fx = 0;
        int r;
        if (is_sint(index))
                r = write_sint(vm, index - HV_X64_MSR_SINT0, value, &fx);
        else if (is_crash_p(index)) {
                r = cfg->crash_msrs ? 0 : -EPERM;
                if (r == 0)
                        pm->crash_p[index - HV_X64_MSR_CRASH_P0] = value;
        } else {
                switch (index) {
                case HV_X64_MSR_GUEST_OS_ID:
                        pm->guest_os_id = value; /* any value; 0 at kexec (§9.5) */
                        r = 0;
                        break;
                case HV_X64_MSR_HYPERCALL:
                        r = write_hypercall(pm, value, &fx);
                        break;
                case HV_X64_MSR_REFERENCE_TSC:
                        r = cfg->reference_tsc ? write_page_msr(&pm->reference_tsc, value, 0, &fx) : -EPERM;
                        if (r == 0 && hv_msr_enabled(value))
                                fx |= HV_MSR_FX_REFERENCE_TSC;
                        break;
                case HV_X64_MSR_TSC_INVARIANT_CONTROL:
                        r = cfg->tsc_invariant && !(value & ~HV_EXPOSE_INVARIANT_TSC) ? 0 : -EPERM;
                        if (r == 0)
                                pm->tsc_invariant_control = value;
                        break;
                case HV_X64_MSR_CRASH_CTL:
                        r = cfg->crash_msrs ? write_crash_ctl(pm, value, &fx) : -EPERM;
                        break;
                default:
                        /* Read-only (VP_INDEX, TIME_REF_COUNT, frequencies,
                         * SVERSION) and unknown MSRs end here: #GP. */
                        r = write_vp(vm, index, value, &fx);
                        break;
                }
        }
        if (r == 0)
                *effects = fx;
        return r;
}
