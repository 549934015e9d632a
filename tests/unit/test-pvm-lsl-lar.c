// SPDX-License-Identifier: MIT
/* LSL and LAR as vid completes them on PVM hosts (vid/pvm-lsl-lar.h),
 * without a VM: the results the SDM gives for a GDT and an LDT of our own.
 * (test-vid runs six of these in a guest, where a PVM host makes vid
 * complete them and other hosts run them natively.) */
#include <errno.h>
#include <string.h>

#include "common/test.h"
#include "vid/pvm-lsl-lar.h"

#define GDT 0x10000ull
#define LDT 0x20000ull
#define ZF (1ull << 6)

/* A segment descriptor: base 0, the given limit, type, S, DPL, P=1, and
 * the L, D/B and G bits. */
static uint64_t seg(uint32_t limit, unsigned type, bool s, unsigned dpl, bool l, bool db, bool g) {
        return (limit & 0xffffull) | (uint64_t)type << 40 | (uint64_t)s << 44 | (uint64_t)dpl << 45 | 1ull << 47 |
               (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)l << 53 | (uint64_t)db << 54 | (uint64_t)g << 55;
}

static uint64_t gdt[16], ldt[2];
static unsigned reads;

static int read_desc(void *opaque, uint64_t lin, uint64_t *desc) {
        (void)opaque;
        reads++;
        if (lin >= GDT && lin < GDT + sizeof gdt)
                *desc = gdt[(lin - GDT) / 8];
        else if (lin >= LDT && lin < LDT + sizeof ldt)
                *desc = ldt[(lin - LDT) / 8];
        else
                return -EFAULT;
        return 0;
}

static struct kvm_sregs sregs(bool long_mode, unsigned cpl) {
        struct kvm_sregs s;
        memset(&s, 0, sizeof s);
        s.cs.l = long_mode;
        s.cs.db = !long_mode;
        s.ss.dpl = (uint8_t)cpl;
        s.gdt.base = GDT, s.gdt.limit = sizeof gdt - 1;
        s.ldt.base = LDT, s.ldt.limit = sizeof ldt - 1, s.ldt.present = 1;
        return s;
}

static void tables(void) {
        memset(gdt, 0, sizeof gdt);
        gdt[2] = seg(0xfffff, 0xb, true, 0, true, false, true);  /* kernel code, 64-bit */
        gdt[3] = seg(0xfffff, 0x3, true, 0, false, true, true);  /* kernel data */
        gdt[4] = seg(0xfff, 0xf, true, 0, false, true, false);   /* conforming code, DPL 0 */
        gdt[5] = seg(0, 0xc, false, 3, false, false, false);     /* call gate, DPL 3 */
        gdt[7] = seg(0x2b, 0x1, false, 3, false, false, false);  /* 16-bit TSS, DPL 3 */
        gdt[8] = seg(0x67, 0xb, false, 0, false, false, false);  /* busy 64-bit TSS */
        gdt[15] = seg(0xa5, 0x5, true, 3, false, false, false);  /* Linux's per-CPU entry: CPU 0xa5 */
        ldt[1] = seg(0x1234, 0x3, true, 3, false, true, false);
        reads = 0;
}

/* Runs bytes b with selector sel in rax: the length, r after. */
static unsigned run(const struct kvm_sregs *s, const uint8_t *b, size_t n, uint64_t sel, struct kvm_regs *r) {
        memset(r, 0, sizeof *r);
        r->rax = sel;
        r->rdi = 0x1111222233334444ull;
        r->rflags = 0x2;
        return pvm_lsl_lar(r, s, b, n, read_desc, NULL);
}

TEST(linux_get_percpu_base) {
        tables();
        struct kvm_sregs s = sregs(true, 0);
        const uint8_t b[] = { 0x48, 0x0f, 0x03, 0xc0, 0x48, 0x25, 0xff, 0x0f, 0x00, 0x00 }; /* lsl %rax,%rax; and ... */
        struct kvm_regs r;
        ASSERT_EQ(run(&s, b, sizeof b, 15 * 8 + 3, &r), 4u);
        ASSERT_EQ(r.rax, 0xa5u);
        ASSERT_TRUE(r.rflags & ZF);
        ASSERT_EQ(reads, 1u);
}

TEST(lar_and_lsl_of_the_code_segment) {
        tables();
        struct kvm_sregs s = sregs(true, 0);
        struct kvm_regs r;
        const uint8_t lar[] = { 0x0f, 0x02, 0xc0 }; /* lar %eax,%eax */
        ASSERT_EQ(run(&s, lar, sizeof lar, 0x10, &r), 3u);
        ASSERT_EQ(r.rax, 0x00a09b00u); /* G, L, P, DPL 0, S, type b */
        ASSERT_TRUE(r.rflags & ZF);
        const uint8_t lsl[] = { 0x0f, 0x03, 0xc0 };
        ASSERT_EQ(run(&s, lsl, sizeof lsl, 0x10, &r), 3u);
        ASSERT_EQ(r.rax, 0xffffffffu); /* 0xfffff pages of 4 KiB */
}

TEST(operand_sizes_and_registers) {
        tables();
        struct kvm_sregs s = sregs(true, 0);
        struct kvm_regs r;
        const uint8_t di16[] = { 0x2e, 0x66, 0x0f, 0x03, 0xf8 }; /* cs lsl %ax,%di */
        ASSERT_EQ(run(&s, di16, sizeof di16, 0x7b, &r), 5u);
        ASSERT_EQ(r.rdi, 0x11112222333300a5ull); /* only DI */
        const uint8_t edi[] = { 0x0f, 0x03, 0xf8 };
        ASSERT_EQ(run(&s, edi, sizeof edi, 0x7b, &r), 3u);
        ASSERT_EQ(r.rdi, 0xa5u); /* a 32-bit result clears the upper half */
        const uint8_t r12[] = { 0x4d, 0x0f, 0x03, 0xe1 }; /* lsl %r9,%r12 */
        memset(&r, 0, sizeof r);
        r.r9 = 0x40;
        ASSERT_EQ(pvm_lsl_lar(&r, &s, r12, sizeof r12, read_desc, NULL), 4u);
        ASSERT_EQ(r.r12, 0x67u); /* the TSS's limit */
        /* 16-bit code: no 66 means 16-bit operands, 66 means 32 */
        struct kvm_sregs s16 = sregs(false, 0);
        s16.cs.db = 0;
        ASSERT_EQ(run(&s16, edi, sizeof edi, 0x7b, &r), 3u);
        ASSERT_EQ(r.rdi, 0x11112222333300a5ull);
        ASSERT_EQ(run(&s16, di16 + 1, sizeof di16 - 1, 0x7b, &r), 4u);
        ASSERT_EQ(r.rdi, 0xa5u);
}

/* Refused: ZF clear and the destination as it was. */
static void refused(const struct kvm_sregs *s, const uint8_t *b, size_t n, uint64_t sel) {
        struct kvm_regs r;
        ASSERT_EQ(run(s, b, n, sel, &r), (unsigned)n);
        ASSERT_FALSE(r.rflags & ZF);
        ASSERT_EQ(r.rdi, 0x1111222233334444ull);
}

TEST(the_sdm_checks) {
        tables();
        struct kvm_sregs s = sregs(true, 0), user = sregs(true, 3), legacy = sregs(false, 0);
        const uint8_t lsl[] = { 0x0f, 0x03, 0xf8 }, lar[] = { 0x0f, 0x02, 0xf8 };
        struct kvm_regs r;
        refused(&s, lsl, sizeof lsl, 0);          /* null */
        refused(&s, lsl, sizeof lsl, 3);          /* null with an RPL */
        refused(&s, lsl, sizeof lsl, 16 * 8);     /* beyond the GDT */
        refused(&s, lsl, sizeof lsl, 0x13);       /* RPL 3 above DPL 0 */
        refused(&user, lsl, sizeof lsl, 0x18);    /* CPL 3 above DPL 0 */
        refused(&s, lsl, sizeof lsl, 5 * 8);      /* LSL takes no call gate */
        refused(&s, lsl, sizeof lsl, 7 * 8);      /* no 16-bit TSS in 64-bit mode */
        refused(&s, lsl, sizeof lsl, 0x7);        /* LDT entry 0: zero, no descriptor */
        ASSERT_EQ(run(&s, lar, sizeof lar, 5 * 8, &r), 3u); /* LAR takes a call gate */
        ASSERT_TRUE(r.rflags & ZF);
        ASSERT_EQ(r.rdi, 0x0000ec00u);
        ASSERT_EQ(run(&legacy, lsl, sizeof lsl, 7 * 8, &r), 3u); /* a 16-bit TSS outside 64-bit mode */
        ASSERT_EQ(r.rdi, 0x2bu);
        ASSERT_EQ(run(&user, lsl, sizeof lsl, 0x23, &r), 3u); /* conforming code: no DPL check */
        ASSERT_EQ(r.rdi, 0xfffu);
        ASSERT_EQ(run(&user, lsl, sizeof lsl, 0x0f, &r), 3u); /* the LDT */
        ASSERT_EQ(r.rdi, 0x1234u);
        s.ldt.present = 0;
        refused(&s, lsl, sizeof lsl, 0x0f); /* no LDT */
}

TEST(left_to_kvm) {
        tables();
        struct kvm_sregs s = sregs(true, 0);
        struct kvm_regs r;
        const uint8_t mem[] = { 0x0f, 0x03, 0x38 }; /* lsl (%rax),%edi */
        ASSERT_EQ(run(&s, mem, sizeof mem, 0x7b, &r), 0u);
        const uint8_t other[] = { 0x0f, 0x01, 0xf9 }; /* rdtscp */
        ASSERT_EQ(run(&s, other, sizeof other, 0x7b, &r), 0u);
        ASSERT_EQ(run(&s, mem, 2, 0x7b, &r), 0u); /* cut short */
        s.gdt.base = 0x900000; /* a table that cannot be read */
        reads = 0;
        const uint8_t lsl[] = { 0x0f, 0x03, 0xf8 };
        ASSERT_EQ(run(&s, lsl, sizeof lsl, 0x7b, &r), 0u);
        ASSERT_EQ(r.rdi, 0x1111222233334444ull);
        ASSERT_EQ(r.rflags, 0x2u);
        ASSERT_EQ(reads, 1u);
        /* 15 bytes at most: 13 prefixes leave no room */
        uint8_t longest[16];
        memset(longest, 0x2e, 13);
        memcpy(longest + 13, lsl, 3);
        ASSERT_EQ(run(&s, longest, sizeof longest, 0x7b, &r), 0u);
}

TEST_MAIN();
