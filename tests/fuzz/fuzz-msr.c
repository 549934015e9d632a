// SPDX-License-Identifier: MIT
/* The synthetic-MSR register file (hvshim/msr.c) driven by sequences of
 * guest reads and writes: byte 0 picks the offered features, then each
 * 11-byte record is {op, index offset (u16), value (u64)}. A refused
 * write must change nothing; an accepted one must read back (where the
 * register stores it) and may never store a reserved bit, an unmasked
 * exception vector or a change to a locked hypercall MSR. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hvshim/decode.h"

struct state {
        struct hv_msr_partition pm;
        struct hv_msr_vp vm;
};

static uint64_t zero_time(void *opaque) {
        (void)opaque;
        return 42;
}

static void check_invariants(const struct state *s) {
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
                uint64_t v = s->vm.sint[i];
                if (v & (HV_SYNIC_SINT_RESERVED | HV_SYNIC_SINT_RESERVED_P1))
                        abort();
                if (!hv_sint_masked(v) && hv_sint_vector(v) < HV_SYNIC_FIRST_VALID_VECTOR)
                        abort();
        }
        if ((s->vm.simp | s->vm.siefp | s->vm.vp_assist | s->pm.reference_tsc) & HV_X64_MSR_PAGE_RESERVED)
                abort();
        if ((s->vm.scontrol & HV_SYNIC_SCONTROL_RESERVED) || (s->pm.hypercall & HV_X64_MSR_HYPERCALL_RESERVED))
                abort();
}

/* Registers that read back what was written. */
static bool stores(uint32_t index) {
        return index != HV_X64_MSR_EOM && index != HV_X64_MSR_CRASH_CTL;
}

static void do_write(const struct hvshim_config *cfg, struct state *s, uint32_t index, uint64_t value) {
        struct state before = *s;
        unsigned fx = 0;
        int r = hv_msr_write(cfg, &s->pm, &s->vm, index, value, &fx);
        if (r < 0) {
                if (r != -EPERM || memcmp(&before, s, sizeof before) != 0)
                        abort();
                return;
        }
        if (r != 0 || ((before.pm.hypercall & HV_X64_MSR_HYPERCALL_LOCKED) && s->pm.hypercall != before.pm.hypercall))
                abort();
        if ((fx & HV_MSR_FX_HYPERCALL_PAGE) && !hv_msr_enabled(s->pm.hypercall))
                abort();
        if ((fx & HV_MSR_FX_REFERENCE_TSC) && !hv_msr_enabled(s->pm.reference_tsc))
                abort();
        if ((fx & HV_MSR_FX_SYNIC) && !hv_msr_is_per_vp(index))
                abort();
        struct hv_msr_env env = { .vp_index = 1, .tsc_hz = 1, .apic_hz = 1, .ref_time = zero_time };
        uint64_t back = 0;
        if (stores(index) && (hv_msr_read(cfg, &env, &s->pm, &s->vm, index, &back) != 0 || back != value))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        struct hvshim_config cfg = { .reference_tsc = data[0] & 1, .frequency_msrs = data[0] & 2,
                                     .tsc_invariant = data[0] & 4, .crash_msrs = data[0] & 8 };
        struct state s;
        hv_msr_partition_init(&s.pm);
        hv_msr_vp_init(&s.vm);
        struct hv_msr_env env = { .vp_index = 1, .tsc_hz = 1, .apic_hz = 1, .ref_time = zero_time };
        for (size_t off = 1; off + 11 <= size; off += 11) {
                uint8_t op = data[off];
                uint16_t rel;
                uint64_t value;
                memcpy(&rel, data + off + 1, sizeof rel);
                memcpy(&value, data + off + 3, sizeof value);
                /* Mostly inside the routed range, sometimes just past it. */
                uint32_t index = HV_MSR_FIRST + rel % (HV_MSR_LAST - HV_MSR_FIRST + 17);
                if (op & 1) {
                        do_write(&cfg, &s, index, value);
                } else {
                        int r = hv_msr_read(&cfg, &env, &s.pm, &s.vm, index, &value);
                        if (r != 0 && r != -EPERM)
                                abort();
                        if (r == 0 && !hv_msr_in_range(index))
                                abort();
                }
                check_invariants(&s);
        }
        return 0;
}
