// SPDX-License-Identifier: MIT
/* LSL and LAR as completed on PVM hosts (vid/pvm-lsl-lar.c): a guest's
 * instruction bytes, registers and descriptor tables, all from the input.
 * Layout: byte 0 the mode (bit 0 CS.L, 1 CS.D, 2-3 CPL, 4 LDT unusable,
 * 5 LDT present), u16 GDT limit, u16 LDT limit, u16 LDT offset in the
 * table memory, 15 instruction bytes, 16 registers (u64), RFLAGS (u64),
 * then the table memory (the GDT at its start). Invariants: only
 * descriptors inside the named table's limit are read; the length is one
 * of the instruction's, never beyond its bytes; nothing changes where the
 * bytes are not completed; otherwise only ZF and at most the destination
 * register, which keeps its value where ZF is clear, is zero-extended
 * where written whole, and holds no access-rights byte 0 after LAR. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/fuzz-check.h"
#include "vid/pvm-lsl-lar.h"

#define TABLES 0x10000ull
#define ZF (1ull << 6)

struct mem {
        const uint8_t *p;
        size_t len;
        const struct kvm_sregs *s;
};

static bool inside(uint64_t lin, uint64_t base, uint64_t limit) {
        return lin >= base && (lin - base) % 8 == 0 && lin - base + 7 <= limit;
}

static int read_desc(void *opaque, uint64_t lin, uint64_t *desc) {
        const struct mem *m = opaque;
        CHECK(inside(lin, m->s->gdt.base, m->s->gdt.limit) || inside(lin, m->s->ldt.base, m->s->ldt.limit));
        if (lin < TABLES || lin - TABLES > m->len || m->len - (lin - TABLES) < 8)
                return -EFAULT;
        memcpy(desc, m->p + (lin - TABLES), 8);
        return 0;
}

#define HEAD (1 + 2 + 2 + 2 + 15 + 16 * 8 + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < HEAD)
                return 0;
        struct kvm_sregs s;
        memset(&s, 0, sizeof s);
        uint8_t mode = data[0];
        uint16_t gdt_limit, ldt_limit, ldt_off;
        memcpy(&gdt_limit, data + 1, 2);
        memcpy(&ldt_limit, data + 3, 2);
        memcpy(&ldt_off, data + 5, 2);
        s.cs.l = mode & 1;
        s.cs.db = (mode >> 1) & 1;
        s.ss.dpl = (mode >> 2) & 3;
        s.ldt.unusable = (mode >> 4) & 1;
        s.ldt.present = (mode >> 5) & 1;
        s.gdt.base = TABLES, s.gdt.limit = gdt_limit;
        s.ldt.base = TABLES + ldt_off, s.ldt.limit = ldt_limit;
        const uint8_t *insn = data + 7;
        struct kvm_regs r, before;
        memset(&r, 0, sizeof r);
        for (unsigned i = 0; i < 16; i++)
                memcpy(pvm_gpr(&r, i), data + 22 + 8 * i, 8);
        memcpy(&r.rflags, data + 22 + 128, 8);
        r.rip = 0x1234;
        before = r;
        struct mem m = { data + HEAD, size - HEAD, &s };

        /* the bytes given, and each shorter prefix of them */
        for (size_t n = 15; n > 0; n--) {
                r = before;
                unsigned len = pvm_lsl_lar(&r, &s, insn, n, read_desc, &m);
                CHECK(len <= n);
                if (len == 0) {
                        CHECK(memcmp(&r, &before, sizeof r) == 0);
                        continue;
                }
                CHECK(len >= 3 && insn[len - 3] == 0x0f && (insn[len - 2] == 0x02 || insn[len - 2] == 0x03));
                CHECK(insn[len - 1] >= 0xc0);
                CHECK(((r.rflags ^ before.rflags) & ~ZF) == 0 && r.rip == before.rip);
                unsigned rex = len >= 4 && s.cs.l && (insn[len - 4] & 0xf0) == 0x40 ? insn[len - 4] : 0;
                unsigned dst = ((insn[len - 1] >> 3) & 7) | (rex & 4 ? 8 : 0);
                for (unsigned i = 0; i < 16; i++) {
                        uint64_t now = *pvm_gpr(&r, i), was = *pvm_gpr(&before, i);
                        CHECK(now == was || (i == dst && (r.rflags & ZF)));
                }
                uint64_t now = *pvm_gpr(&r, dst), was = *pvm_gpr(&before, dst);
                if ((now ^ was) >> 16)
                        CHECK(now >> 32 == 0);
                if ((r.rflags & ZF) && insn[len - 2] == 0x02)
                        CHECK((now & 0xff) == 0);
        }
        return 0;
}
