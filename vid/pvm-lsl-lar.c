// SPDX-License-Identifier: MIT
/* LSL and LAR for PVM hosts (pvm-lsl-lar.h). Linux reads its CPU number
 * with LSL on the per-CPU GDT entry (GET_PERCPU_BASE in the entry code,
 * when the CPU has no RDPID): in the paranoid entry of an NMI, #DB or #MC
 * that arrives in the kernel with FSGSBASE on. The PVM emulator has neither
 * LSL nor LAR. Register operands only (what kernels use); a memory operand
 * stays an internal error. The checks are the SDM's: a null or
 * out-of-table selector, a type the instruction does not accept, or (other
 * than for conforming code) DPL below CPL or RPL clear ZF and leave the
 * destination as it was. */
#include "pvm-lsl-lar.h"

#include <stdbool.h>

#define RFLAGS_ZF (1ull << 6)

__u64 *pvm_gpr(struct kvm_regs *r, unsigned n) {
        __u64 *const regs[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
                                  &r->r8,  &r->r9,  &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };
        return regs[n & 15];
}

/* System descriptor types LSL (and LAR, which also takes call gates, and
 * outside 64-bit mode 16-bit call gates and task gates) accepts. */
static bool type_ok(bool lar, bool long_mode, unsigned type) {
        switch (type) {
        case 0x2: case 0x9: case 0xb: /* LDT, 32/64-bit TSS (available, busy) */
                return true;
        case 0x1: case 0x3: /* 16-bit TSS */
                return !long_mode;
        case 0xc: /* 32/64-bit call gate */
                return lar;
        case 0x4: case 0x5: /* 16-bit call gate, task gate */
                return lar && !long_mode;
        default:
                return false;
        }
}

/* The descriptor LSL/LAR name with selector sel: 1 if they may use it, 0
 * if not (ZF clear), -1 if its table cannot be read (left to KVM's error:
 * the CPU would fault, which we do not reproduce). */
static int descriptor(const struct kvm_sregs *s, bool lar, uint16_t sel, pvm_read_desc_fn read_desc,
                      void *opaque, uint64_t *desc) {
        if ((sel & ~3u) == 0)
                return 0;
        uint64_t base = s->gdt.base, limit = s->gdt.limit;
        if (sel & 4) {
                if (s->ldt.unusable || !s->ldt.present)
                        return 0;
                base = s->ldt.base, limit = s->ldt.limit;
        }
        if ((uint64_t)(sel | 7u) > limit)
                return 0;
        if (read_desc(opaque, base + (sel & ~7u), desc) < 0)
                return -1;
        unsigned type = (*desc >> 40) & 0xf, dpl = (*desc >> 45) & 3;
        bool code_data = (*desc >> 44) & 1, privileged_enough = dpl >= (s->ss.dpl & 3u) && dpl >= (sel & 3u);
        if (!code_data)
                return type_ok(lar, s->cs.l, type) && privileged_enough;
        return (type & 0xc) == 0xc /* conforming code */ || privileged_enough;
}

unsigned pvm_lsl_lar(struct kvm_regs *r, const struct kvm_sregs *s, const uint8_t *b, size_t n,
                     pvm_read_desc_fn read_desc, void *opaque) {
        bool long_mode = s->cs.l, size16 = false;
        size_t i = 0;
        unsigned rex = 0;
        for (; i < n; i++) { /* legacy prefixes; segment and address size do not matter here */
                if (b[i] == 0x66)
                        size16 = true;
                else if (!(b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e || b[i] == 0x64 ||
                           b[i] == 0x65 || b[i] == 0x67 || b[i] == 0xf0 || b[i] == 0xf2 || b[i] == 0xf3))
                        break;
        }
        if (long_mode && i < n && (b[i] & 0xf0) == 0x40)
                rex = b[i++];
        /* at most 15 bytes, as the CPU takes */
        if (i + 3 > n || i + 3 > 15 || b[i] != 0x0f || (b[i + 1] != 0x02 && b[i + 1] != 0x03) ||
            (b[i + 2] >> 6) != 3)
                return 0;
        bool lar = b[i + 1] == 0x02;
        uint8_t modrm = b[i + 2];
        /* 16-bit operands: 66 in 32- and 64-bit code without REX.W, none in 16-bit code */
        bool op16 = !(rex & 8) && (long_mode || s->cs.db ? size16 : !size16);
        __u64 *dst = pvm_gpr(r, ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0));
        uint16_t sel = (uint16_t)*pvm_gpr(r, (modrm & 7) | (rex & 1 ? 8 : 0));

        uint64_t desc;
        int ok = descriptor(s, lar, sel, read_desc, opaque, &desc);
        if (ok < 0)
                return 0;
        if (ok == 0) {
                r->rflags &= ~RFLAGS_ZF;
                return (unsigned)i + 3;
        }
        uint32_t v;
        if (lar)
                v = (uint32_t)(desc >> 32) & 0x00f0ff00u;
        else {
                v = (uint32_t)(desc & 0xffff) | (uint32_t)((desc >> 32) & 0xf0000);
                if ((desc >> 55) & 1) /* G: 4 KiB units */
                        v = (v << 12) | 0xfff;
        }
        *dst = op16 ? (*dst & ~0xffffull) | (v & 0xffff) : v;
        r->rflags |= RFLAGS_ZF;
        return (unsigned)i + 3;
}
