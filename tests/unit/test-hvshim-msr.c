// SPDX-License-Identifier: MIT
/* The synthetic-MSR register file (hvshim/msr.c): every register, read
 * back, reserved bits, read-only registers, features gated by the
 * configuration, and #GP (-EPERM) for everything else in the range. */
#include "common/test.h"
#include "hvshim/decode.h"

static const struct hvshim_config all = { true, true, true, true };
static const struct hvshim_config none = { false, false, false, false };

struct regs {
        struct hv_msr_partition pm;
        struct hv_msr_vp vm;
};

static void regs_init(struct regs *r) {
        hv_msr_partition_init(&r->pm);
        hv_msr_vp_init(&r->vm);
}

static uint64_t fake_time(void *opaque) {
        return *(const uint64_t *)opaque;
}

static const uint64_t now_value = 123456789;
static const struct hv_msr_env env = { .vp_index = 3, .tsc_hz = 2500000000ull, .apic_hz = HV_KVM_APIC_HZ,
                                       .ref_time = fake_time, .opaque = (void *)&now_value };

static int rd(const struct hvshim_config *cfg, struct regs *r, uint32_t index, uint64_t *v) {
        return hv_msr_read(cfg, &env, &r->pm, &r->vm, index, v);
}

/* Write, check the effects, and that a read returns the value. */
static void wr_ok(const struct hvshim_config *cfg, struct regs *r, uint32_t index, uint64_t v, unsigned fx_want) {
        unsigned fx = 0xdead;
        ASSERT_OK(hv_msr_write(cfg, &r->pm, &r->vm, index, v, &fx));
        ASSERT_EQ(fx, fx_want);
        uint64_t back = ~v;
        ASSERT_OK(rd(cfg, r, index, &back));
        ASSERT_EQ(back, v);
}

/* A refused write (#GP) changes nothing. */
static void wr_gp(const struct hvshim_config *cfg, struct regs *r, uint32_t index, uint64_t v) {
        struct regs before = *r;
        unsigned fx = 0xdead;
        ASSERT_ERROR(hv_msr_write(cfg, &r->pm, &r->vm, index, v, &fx), EPERM);
        ASSERT_EQ(fx, 0xdeadu);
        ASSERT_MEMEQ(&before, r, sizeof before);
}

TEST(reset_values) {
        struct regs r;
        regs_init(&r);
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                ASSERT_EQ(r.vm.sint[i], HV_SYNIC_SINT_MASKED);
        uint64_t v = 1;
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_SCONTROL, &v));
        ASSERT_EQ(v, 0u);
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_HYPERCALL, &v));
        ASSERT_EQ(v, 0u);
}

TEST(guest_os_id) {
        struct regs r;
        regs_init(&r);
        wr_ok(&all, &r, HV_X64_MSR_GUEST_OS_ID, 0x8100000601000000ull, 0);
        wr_ok(&all, &r, HV_X64_MSR_GUEST_OS_ID, 0, 0); /* kexec */
        wr_ok(&none, &r, HV_X64_MSR_GUEST_OS_ID, UINT64_MAX, 0);
}

TEST(hypercall_msr) {
        struct regs r;
        regs_init(&r);
        /* Not gated on a guest OS id (§1.5). */
        wr_ok(&all, &r, HV_X64_MSR_HYPERCALL, 0x12345000 | 1, HV_MSR_FX_HYPERCALL_PAGE);
        wr_ok(&all, &r, HV_X64_MSR_HYPERCALL, 0x12345000, 0); /* disable */
        for (unsigned b = 2; b < 12; b++)
                wr_gp(&all, &r, HV_X64_MSR_HYPERCALL, 0x12345000 | 1 | (1ull << b));
        wr_ok(&all, &r, HV_X64_MSR_HYPERCALL, 0x7000 | HV_X64_MSR_HYPERCALL_LOCKED | 1, HV_MSR_FX_HYPERCALL_PAGE);
        wr_gp(&all, &r, HV_X64_MSR_HYPERCALL, 0x8000 | 1); /* locked */
        wr_gp(&all, &r, HV_X64_MSR_HYPERCALL, 0);
        wr_ok(&all, &r, HV_X64_MSR_HYPERCALL, 0x7000 | HV_X64_MSR_HYPERCALL_LOCKED | 1, HV_MSR_FX_HYPERCALL_PAGE);
}

TEST(read_only_registers) {
        struct regs r;
        regs_init(&r);
        uint64_t v;
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_VP_INDEX, &v));
        ASSERT_EQ(v, 3u);
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_TIME_REF_COUNT, &v));
        ASSERT_EQ(v, 123456789u);
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_TSC_FREQUENCY, &v));
        ASSERT_EQ(v, 2500000000u);
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_APIC_FREQUENCY, &v));
        ASSERT_EQ(v, 1000000000u);
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_SVERSION, &v));
        ASSERT_EQ(v, 1u);
        const uint32_t ro[] = { HV_X64_MSR_VP_INDEX, HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_TSC_FREQUENCY,
                                HV_X64_MSR_APIC_FREQUENCY, HV_X64_MSR_SVERSION };
        for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
                wr_gp(&all, &r, ro[i], 0);
                wr_gp(&all, &r, ro[i], 1);
        }
        /* Frequencies only when offered. */
        ASSERT_ERROR(rd(&none, &r, HV_X64_MSR_TSC_FREQUENCY, &v), EPERM);
        ASSERT_ERROR(rd(&none, &r, HV_X64_MSR_APIC_FREQUENCY, &v), EPERM);
}

TEST(reference_tsc_msr) {
        struct regs r;
        regs_init(&r);
        wr_ok(&all, &r, HV_X64_MSR_REFERENCE_TSC, 0xabc000 | 1, HV_MSR_FX_REFERENCE_TSC);
        wr_ok(&all, &r, HV_X64_MSR_REFERENCE_TSC, 0xabc000, 0);
        for (unsigned b = 1; b < 12; b++)
                wr_gp(&all, &r, HV_X64_MSR_REFERENCE_TSC, 0xabc000 | 1 | (1ull << b));
        uint64_t v;
        ASSERT_ERROR(rd(&none, &r, HV_X64_MSR_REFERENCE_TSC, &v), EPERM);
        wr_gp(&none, &r, HV_X64_MSR_REFERENCE_TSC, 0xabc000 | 1);
}

TEST(vp_assist_page) {
        struct regs r;
        regs_init(&r);
        wr_ok(&none, &r, HV_X64_MSR_VP_ASSIST_PAGE, 0x5000 | 1, 0);
        wr_ok(&none, &r, HV_X64_MSR_VP_ASSIST_PAGE, 0, 0);
        wr_gp(&none, &r, HV_X64_MSR_VP_ASSIST_PAGE, 0x5000 | 2);
}

TEST(synic_registers) {
        struct regs r;
        regs_init(&r);
        wr_ok(&none, &r, HV_X64_MSR_SCONTROL, 1, HV_MSR_FX_SYNIC);
        wr_ok(&none, &r, HV_X64_MSR_SCONTROL, 0, HV_MSR_FX_SYNIC);
        wr_gp(&none, &r, HV_X64_MSR_SCONTROL, 2);
        wr_gp(&none, &r, HV_X64_MSR_SCONTROL, 1ull << 63);
        const uint32_t pages[] = { HV_X64_MSR_SIMP, HV_X64_MSR_SIEFP };
        for (size_t i = 0; i < 2; i++) {
                wr_ok(&none, &r, pages[i], 0x200000 | 1, HV_MSR_FX_SYNIC);
                wr_ok(&none, &r, pages[i], 0x300000, HV_MSR_FX_SYNIC);
                for (unsigned b = 1; b < 12; b++)
                        wr_gp(&none, &r, pages[i], 0x200000 | 1 | (1ull << b));
        }
        unsigned fx = 0;
        ASSERT_OK(hv_msr_write(&none, &r.pm, &r.vm, HV_X64_MSR_EOM, 0x1234, &fx));
        ASSERT_EQ(fx, (unsigned)HV_MSR_FX_EOM);
        uint64_t v = 1;
        ASSERT_OK(rd(&none, &r, HV_X64_MSR_EOM, &v));
        ASSERT_EQ(v, 0u);
}

TEST(sint_registers) {
        struct regs r;
        regs_init(&r);
        for (uint32_t n = 0; n < HV_SYNIC_SINT_COUNT; n++) {
                uint32_t idx = HV_X64_MSR_SINT0 + n;
                wr_ok(&none, &r, idx, 0xf3, HV_MSR_FX_SYNIC);
                wr_ok(&none, &r, idx, 0xf3 | HV_SYNIC_SINT_AUTO_EOI | HV_SYNIC_SINT_POLLING, HV_MSR_FX_SYNIC);
                wr_ok(&none, &r, idx, HV_SYNIC_SINT_MASKED | 5, HV_MSR_FX_SYNIC); /* masked: any vector */
                wr_ok(&none, &r, idx, 16, HV_MSR_FX_SYNIC);
                wr_gp(&none, &r, idx, 15); /* unmasked exception vector */
                wr_gp(&none, &r, idx, 0);
                for (unsigned b = 8; b < 64; b++)
                        if (b < 16 || b > 18)
                                wr_gp(&none, &r, idx, HV_SYNIC_SINT_MASKED | (1ull << b));
        }
        ASSERT_EQ(r.vm.sint[2], 16u);
}

TEST(crash_registers) {
        struct regs r;
        regs_init(&r);
        uint64_t v;
        for (uint32_t i = HV_X64_MSR_CRASH_P0; i <= HV_X64_MSR_CRASH_P4; i++) {
                wr_ok(&all, &r, i, 0xfeed0000ull + i, 0);
                ASSERT_ERROR(rd(&none, &r, i, &v), EPERM);
                wr_gp(&none, &r, i, 1);
        }
        ASSERT_OK(rd(&all, &r, HV_X64_MSR_CRASH_CTL, &v));
        ASSERT_EQ(v, HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG); /* capabilities */
        unsigned fx = 0;
        ASSERT_OK(hv_msr_write(&all, &r.pm, &r.vm, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY, &fx));
        ASSERT_EQ(fx, (unsigned)HV_MSR_FX_CRASH);
        ASSERT_EQ(r.pm.crash_ctl, HV_CRASH_CTL_CRASH_NOTIFY);
        ASSERT_OK(hv_msr_write(&all, &r.pm, &r.vm, HV_X64_MSR_CRASH_CTL, 0, &fx));
        ASSERT_EQ(fx, 0u);
        wr_gp(&all, &r, HV_X64_MSR_CRASH_CTL, 1);
        wr_gp(&all, &r, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY | (1ull << 61));
        ASSERT_ERROR(rd(&none, &r, HV_X64_MSR_CRASH_CTL, &v), EPERM);
        wr_gp(&none, &r, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY);
}

TEST(tsc_invariant_control) {
        struct regs r;
        regs_init(&r);
        wr_ok(&all, &r, HV_X64_MSR_TSC_INVARIANT_CONTROL, HV_EXPOSE_INVARIANT_TSC, 0);
        wr_ok(&all, &r, HV_X64_MSR_TSC_INVARIANT_CONTROL, 0, 0);
        wr_gp(&all, &r, HV_X64_MSR_TSC_INVARIANT_CONTROL, 2);
        uint64_t v;
        ASSERT_ERROR(rd(&none, &r, HV_X64_MSR_TSC_INVARIANT_CONTROL, &v), EPERM);
        wr_gp(&none, &r, HV_X64_MSR_TSC_INVARIANT_CONTROL, 1);
}

static bool implemented(uint32_t i) {
        return i == HV_X64_MSR_GUEST_OS_ID || i == HV_X64_MSR_HYPERCALL || i == HV_X64_MSR_VP_INDEX ||
               i == HV_X64_MSR_TIME_REF_COUNT || i == HV_X64_MSR_REFERENCE_TSC || i == HV_X64_MSR_TSC_FREQUENCY ||
               i == HV_X64_MSR_APIC_FREQUENCY || i == HV_X64_MSR_VP_ASSIST_PAGE ||
               (i >= HV_X64_MSR_SCONTROL && i <= HV_X64_MSR_EOM) || (i >= HV_X64_MSR_SINT0 && i <= HV_X64_MSR_SINT15) ||
               (i >= HV_X64_MSR_CRASH_P0 && i <= HV_X64_MSR_CRASH_CTL) || i == HV_X64_MSR_TSC_INVARIANT_CONTROL;
}

/* Everything else in the routed range (RESET, VP_RUNTIME, the APIC MSRs,
 * synthetic timers, GUEST_IDLE, reenlightenment...) is #GP both ways. */
TEST(unknown_msrs_gp) {
        struct regs r;
        regs_init(&r);
        unsigned known = 0;
        for (uint32_t i = HV_MSR_FIRST; i <= HV_MSR_LAST + 1; i++) {
                uint64_t v;
                ASSERT_EQ(hv_msr_in_range(i), i <= HV_MSR_LAST);
                if (implemented(i)) {
                        known++;
                        ASSERT_OK(rd(&all, &r, i, &v));
                        continue;
                }
                ASSERT_ERROR(rd(&all, &r, i, &v), EPERM);
                wr_gp(&all, &r, i, 0);
        }
        ASSERT_EQ(known, 3u + 5u + 5u + 16u + 6u + 1u);
        ASSERT_FALSE(hv_msr_in_range(HV_MSR_FIRST - 1));
        ASSERT_TRUE(hv_msr_is_per_vp(HV_X64_MSR_SINT15));
        ASSERT_TRUE(hv_msr_is_per_vp(HV_X64_MSR_EOM));
        ASSERT_FALSE(hv_msr_is_per_vp(HV_X64_MSR_HYPERCALL));
        ASSERT_FALSE(hv_msr_is_per_vp(HV_X64_MSR_TIME_REF_COUNT));
}

TEST_MAIN();
