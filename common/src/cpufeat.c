// SPDX-License-Identifier: MIT
/* CPU feature words and their comparison (common/cpufeat.h). Names are
 * those Linux prints in /proc/cpuinfo, so an administrator can look for
 * them on the hosts; the XCR0 components carry an "xcr0:" prefix. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cpufeat.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"

static const struct {
        uint32_t function, index;
        char reg; /* 'a' 'b' 'c' 'd' */
        uint32_t ignore; /* bits that are not host features */
        const char *label; /* for unnamed bits: "0x7.0 EDX" */
} words[CPUFEAT_WORDS] = {
        /* OSXSAVE (27) mirrors CR4.OSXSAVE; 31 is set by the hypervisor. */
        [CPUFEAT_1_ECX] = { 1, 0, 'c', 1u << 27 | 1u << 31, "0x1 ECX" },
        [CPUFEAT_1_EDX] = { 1, 0, 'd', 0, "0x1 EDX" },
        [CPUFEAT_7_0_EBX] = { 7, 0, 'b', 0, "0x7.0 EBX" },
        /* OSPKE (4) mirrors CR4.PKE. */
        [CPUFEAT_7_0_ECX] = { 7, 0, 'c', 1u << 4, "0x7.0 ECX" },
        [CPUFEAT_7_0_EDX] = { 7, 0, 'd', 0, "0x7.0 EDX" },
        [CPUFEAT_7_1_EAX] = { 7, 1, 'a', 0, "0x7.1 EAX" },
        [CPUFEAT_D_0_EAX] = { 0xd, 0, 'a', 0, "0xD.0 EAX" },
        [CPUFEAT_D_0_EDX] = { 0xd, 0, 'd', 0, "0xD.0 EDX" },
        [CPUFEAT_D_1_EAX] = { 0xd, 1, 'a', 0, "0xD.1 EAX" },
        [CPUFEAT_80000001_ECX] = { 0x80000001u, 0, 'c', 0, "0x80000001 ECX" },
        [CPUFEAT_80000001_EDX] = { 0x80000001u, 0, 'd', 0, "0x80000001 EDX" },
        [CPUFEAT_80000007_EDX] = { 0x80000007u, 0, 'd', 0, "0x80000007 EDX" },
        [CPUFEAT_80000008_EBX] = { 0x80000008u, 0, 'b', 0, "0x80000008 EBX" },
};

static const struct {
        uint8_t word, bit;
        const char *name;
} names[] = {
        { CPUFEAT_1_ECX, 0, "sse3" }, { CPUFEAT_1_ECX, 1, "pclmulqdq" }, { CPUFEAT_1_ECX, 2, "dtes64" },
        { CPUFEAT_1_ECX, 3, "monitor" }, { CPUFEAT_1_ECX, 4, "ds_cpl" }, { CPUFEAT_1_ECX, 5, "vmx" },
        { CPUFEAT_1_ECX, 6, "smx" }, { CPUFEAT_1_ECX, 7, "est" }, { CPUFEAT_1_ECX, 8, "tm2" },
        { CPUFEAT_1_ECX, 9, "ssse3" }, { CPUFEAT_1_ECX, 10, "cid" }, { CPUFEAT_1_ECX, 11, "sdbg" },
        { CPUFEAT_1_ECX, 12, "fma" }, { CPUFEAT_1_ECX, 13, "cx16" }, { CPUFEAT_1_ECX, 14, "xtpr" },
        { CPUFEAT_1_ECX, 15, "pdcm" }, { CPUFEAT_1_ECX, 17, "pcid" }, { CPUFEAT_1_ECX, 18, "dca" },
        { CPUFEAT_1_ECX, 19, "sse4_1" }, { CPUFEAT_1_ECX, 20, "sse4_2" }, { CPUFEAT_1_ECX, 21, "x2apic" },
        { CPUFEAT_1_ECX, 22, "movbe" }, { CPUFEAT_1_ECX, 23, "popcnt" },
        { CPUFEAT_1_ECX, 24, "tsc_deadline_timer" }, { CPUFEAT_1_ECX, 25, "aes" }, { CPUFEAT_1_ECX, 26, "xsave" },
        { CPUFEAT_1_ECX, 28, "avx" }, { CPUFEAT_1_ECX, 29, "f16c" }, { CPUFEAT_1_ECX, 30, "rdrand" },

        { CPUFEAT_1_EDX, 0, "fpu" }, { CPUFEAT_1_EDX, 1, "vme" }, { CPUFEAT_1_EDX, 2, "de" },
        { CPUFEAT_1_EDX, 3, "pse" }, { CPUFEAT_1_EDX, 4, "tsc" }, { CPUFEAT_1_EDX, 5, "msr" },
        { CPUFEAT_1_EDX, 6, "pae" }, { CPUFEAT_1_EDX, 7, "mce" }, { CPUFEAT_1_EDX, 8, "cx8" },
        { CPUFEAT_1_EDX, 9, "apic" }, { CPUFEAT_1_EDX, 11, "sep" }, { CPUFEAT_1_EDX, 12, "mtrr" },
        { CPUFEAT_1_EDX, 13, "pge" }, { CPUFEAT_1_EDX, 14, "mca" }, { CPUFEAT_1_EDX, 15, "cmov" },
        { CPUFEAT_1_EDX, 16, "pat" }, { CPUFEAT_1_EDX, 17, "pse36" }, { CPUFEAT_1_EDX, 19, "clflush" },
        { CPUFEAT_1_EDX, 21, "dts" }, { CPUFEAT_1_EDX, 22, "acpi" }, { CPUFEAT_1_EDX, 23, "mmx" },
        { CPUFEAT_1_EDX, 24, "fxsr" }, { CPUFEAT_1_EDX, 25, "sse" }, { CPUFEAT_1_EDX, 26, "sse2" },
        { CPUFEAT_1_EDX, 27, "ss" }, { CPUFEAT_1_EDX, 28, "ht" }, { CPUFEAT_1_EDX, 29, "tm" },
        { CPUFEAT_1_EDX, 31, "pbe" },

        { CPUFEAT_7_0_EBX, 0, "fsgsbase" }, { CPUFEAT_7_0_EBX, 1, "tsc_adjust" }, { CPUFEAT_7_0_EBX, 2, "sgx" },
        { CPUFEAT_7_0_EBX, 3, "bmi1" }, { CPUFEAT_7_0_EBX, 4, "hle" }, { CPUFEAT_7_0_EBX, 5, "avx2" },
        { CPUFEAT_7_0_EBX, 7, "smep" }, { CPUFEAT_7_0_EBX, 8, "bmi2" }, { CPUFEAT_7_0_EBX, 9, "erms" },
        { CPUFEAT_7_0_EBX, 10, "invpcid" }, { CPUFEAT_7_0_EBX, 11, "rtm" }, { CPUFEAT_7_0_EBX, 14, "mpx" },
        { CPUFEAT_7_0_EBX, 16, "avx512f" }, { CPUFEAT_7_0_EBX, 17, "avx512dq" }, { CPUFEAT_7_0_EBX, 18, "rdseed" },
        { CPUFEAT_7_0_EBX, 19, "adx" }, { CPUFEAT_7_0_EBX, 20, "smap" }, { CPUFEAT_7_0_EBX, 21, "avx512ifma" },
        { CPUFEAT_7_0_EBX, 23, "clflushopt" }, { CPUFEAT_7_0_EBX, 24, "clwb" }, { CPUFEAT_7_0_EBX, 25, "intel_pt" },
        { CPUFEAT_7_0_EBX, 26, "avx512pf" }, { CPUFEAT_7_0_EBX, 27, "avx512er" }, { CPUFEAT_7_0_EBX, 28, "avx512cd" },
        { CPUFEAT_7_0_EBX, 29, "sha_ni" }, { CPUFEAT_7_0_EBX, 30, "avx512bw" }, { CPUFEAT_7_0_EBX, 31, "avx512vl" },

        { CPUFEAT_7_0_ECX, 0, "prefetchwt1" }, { CPUFEAT_7_0_ECX, 1, "avx512vbmi" }, { CPUFEAT_7_0_ECX, 2, "umip" },
        { CPUFEAT_7_0_ECX, 3, "pku" }, { CPUFEAT_7_0_ECX, 5, "waitpkg" }, { CPUFEAT_7_0_ECX, 6, "avx512_vbmi2" },
        { CPUFEAT_7_0_ECX, 7, "shstk" }, { CPUFEAT_7_0_ECX, 8, "gfni" }, { CPUFEAT_7_0_ECX, 9, "vaes" },
        { CPUFEAT_7_0_ECX, 10, "vpclmulqdq" }, { CPUFEAT_7_0_ECX, 11, "avx512_vnni" },
        { CPUFEAT_7_0_ECX, 12, "avx512_bitalg" }, { CPUFEAT_7_0_ECX, 13, "tme" },
        { CPUFEAT_7_0_ECX, 14, "avx512_vpopcntdq" }, { CPUFEAT_7_0_ECX, 16, "la57" }, { CPUFEAT_7_0_ECX, 22, "rdpid" },
        { CPUFEAT_7_0_ECX, 24, "bus_lock_detect" }, { CPUFEAT_7_0_ECX, 25, "cldemote" },
        { CPUFEAT_7_0_ECX, 27, "movdiri" }, { CPUFEAT_7_0_ECX, 28, "movdir64b" }, { CPUFEAT_7_0_ECX, 29, "enqcmd" },
        { CPUFEAT_7_0_ECX, 30, "sgx_lc" },

        { CPUFEAT_7_0_EDX, 2, "avx512_4vnniw" }, { CPUFEAT_7_0_EDX, 3, "avx512_4fmaps" },
        { CPUFEAT_7_0_EDX, 4, "fsrm" }, { CPUFEAT_7_0_EDX, 8, "avx512_vp2intersect" },
        { CPUFEAT_7_0_EDX, 10, "md_clear" }, { CPUFEAT_7_0_EDX, 14, "serialize" }, { CPUFEAT_7_0_EDX, 16, "tsxldtrk" },
        { CPUFEAT_7_0_EDX, 18, "pconfig" }, { CPUFEAT_7_0_EDX, 19, "arch_lbr" }, { CPUFEAT_7_0_EDX, 20, "ibt" },
        { CPUFEAT_7_0_EDX, 22, "amx_bf16" }, { CPUFEAT_7_0_EDX, 23, "avx512_fp16" },
        { CPUFEAT_7_0_EDX, 24, "amx_tile" }, { CPUFEAT_7_0_EDX, 25, "amx_int8" }, { CPUFEAT_7_0_EDX, 26, "spec_ctrl" },
        { CPUFEAT_7_0_EDX, 27, "intel_stibp" }, { CPUFEAT_7_0_EDX, 28, "flush_l1d" },
        { CPUFEAT_7_0_EDX, 29, "arch_capabilities" }, { CPUFEAT_7_0_EDX, 31, "spec_ctrl_ssbd" },

        { CPUFEAT_7_1_EAX, 4, "avx_vnni" }, { CPUFEAT_7_1_EAX, 5, "avx512_bf16" }, { CPUFEAT_7_1_EAX, 10, "fzrm" },
        { CPUFEAT_7_1_EAX, 11, "fsrs" }, { CPUFEAT_7_1_EAX, 12, "fsrc" }, { CPUFEAT_7_1_EAX, 26, "lam" },

        { CPUFEAT_D_0_EAX, 0, "xcr0:x87" }, { CPUFEAT_D_0_EAX, 1, "xcr0:sse" }, { CPUFEAT_D_0_EAX, 2, "xcr0:avx" },
        { CPUFEAT_D_0_EAX, 3, "xcr0:bndregs" }, { CPUFEAT_D_0_EAX, 4, "xcr0:bndcsr" },
        { CPUFEAT_D_0_EAX, 5, "xcr0:opmask" }, { CPUFEAT_D_0_EAX, 6, "xcr0:zmm_hi256" },
        { CPUFEAT_D_0_EAX, 7, "xcr0:hi16_zmm" }, { CPUFEAT_D_0_EAX, 9, "xcr0:pkru" },
        { CPUFEAT_D_0_EAX, 17, "xcr0:xtilecfg" }, { CPUFEAT_D_0_EAX, 18, "xcr0:xtiledata" },

        { CPUFEAT_D_1_EAX, 0, "xsaveopt" }, { CPUFEAT_D_1_EAX, 1, "xsavec" }, { CPUFEAT_D_1_EAX, 2, "xgetbv1" },
        { CPUFEAT_D_1_EAX, 3, "xsaves" }, { CPUFEAT_D_1_EAX, 4, "xfd" },

        { CPUFEAT_80000001_ECX, 0, "lahf_lm" }, { CPUFEAT_80000001_ECX, 1, "cmp_legacy" },
        { CPUFEAT_80000001_ECX, 2, "svm" }, { CPUFEAT_80000001_ECX, 3, "extapic" },
        { CPUFEAT_80000001_ECX, 4, "cr8_legacy" }, { CPUFEAT_80000001_ECX, 5, "abm" },
        { CPUFEAT_80000001_ECX, 6, "sse4a" }, { CPUFEAT_80000001_ECX, 7, "misalignsse" },
        { CPUFEAT_80000001_ECX, 8, "3dnowprefetch" }, { CPUFEAT_80000001_ECX, 9, "osvw" },
        { CPUFEAT_80000001_ECX, 10, "ibs" }, { CPUFEAT_80000001_ECX, 11, "xop" },
        { CPUFEAT_80000001_ECX, 12, "skinit" }, { CPUFEAT_80000001_ECX, 13, "wdt" },
        { CPUFEAT_80000001_ECX, 15, "lwp" }, { CPUFEAT_80000001_ECX, 16, "fma4" },
        { CPUFEAT_80000001_ECX, 17, "tce" }, { CPUFEAT_80000001_ECX, 21, "tbm" },
        { CPUFEAT_80000001_ECX, 22, "topoext" }, { CPUFEAT_80000001_ECX, 23, "perfctr_core" },
        { CPUFEAT_80000001_ECX, 24, "perfctr_nb" }, { CPUFEAT_80000001_ECX, 29, "mwaitx" },

        { CPUFEAT_80000001_EDX, 11, "syscall" }, { CPUFEAT_80000001_EDX, 20, "nx" },
        { CPUFEAT_80000001_EDX, 22, "mmxext" }, { CPUFEAT_80000001_EDX, 25, "fxsr_opt" },
        { CPUFEAT_80000001_EDX, 26, "pdpe1gb" }, { CPUFEAT_80000001_EDX, 27, "rdtscp" },
        { CPUFEAT_80000001_EDX, 29, "lm" }, { CPUFEAT_80000001_EDX, 30, "3dnowext" },
        { CPUFEAT_80000001_EDX, 31, "3dnow" },

        { CPUFEAT_80000007_EDX, 8, "invtsc" },

        { CPUFEAT_80000008_EBX, 0, "clzero" }, { CPUFEAT_80000008_EBX, 1, "irperf" },
        { CPUFEAT_80000008_EBX, 2, "xsaveerptr" }, { CPUFEAT_80000008_EBX, 4, "rdpru" },
        { CPUFEAT_80000008_EBX, 9, "wbnoinvd" }, { CPUFEAT_80000008_EBX, 12, "ibpb" },
        { CPUFEAT_80000008_EBX, 14, "ibrs" }, { CPUFEAT_80000008_EBX, 15, "stibp" },
        { CPUFEAT_80000008_EBX, 24, "ssbd" }, { CPUFEAT_80000008_EBX, 25, "virt_ssbd" },
        { CPUFEAT_80000008_EBX, 26, "ssb_no" },
};

const char *cpufeat_name(enum cpufeat_word w, unsigned bit) {
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (names[i].word == w && names[i].bit == bit)
                        return names[i].name;
        return NULL;
}

void cpufeat_add_leaf(struct cpufeat *f, uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                      uint32_t edx) {
        if (function == 0) {
                const uint32_t v[3] = { ebx, edx, ecx };
                for (unsigned i = 0; i < 12; i++) {
                        uint8_t c = (uint8_t)(v[i / 4] >> (8 * (i % 4)));
                        f->vendor[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
                }
                f->vendor[12] = 0;
        }
        if (function == 0x80000008u)
                f->phys_bits = eax & 0xff;
        for (unsigned w = 0; w < CPUFEAT_WORDS; w++) {
                if (words[w].function != function || words[w].index != index)
                        continue;
                uint32_t v = words[w].reg == 'a' ? eax : words[w].reg == 'b' ? ebx : words[w].reg == 'c' ? ecx : edx;
                f->word[w] = v & ~words[w].ignore;
        }
}

/* Appends ", name" (or the first name) to out; false once out is full. */
static bool append(char *out, size_t cap, size_t *len, const char *text) {
        int k = snprintf(out + *len, cap - *len, "%s%s", *len ? ", " : "", text);
        if (k < 0 || (size_t)k >= cap - *len)
                return false;
        *len += (size_t)k;
        return true;
}

int cpufeat_missing(const struct cpufeat *guest, const struct cpufeat *host, char *err, size_t errlen) {
        if (guest->vendor[0] && strcmp(guest->vendor, host->vendor) != 0)
                return errorf(err, errlen, -ENOTSUP, "the guest ran on a %s CPU, this host's is %s", guest->vendor,
                              host->vendor[0] ? host->vendor : "of unknown vendor");
        if (guest->phys_bits > host->phys_bits)
                return errorf(err, errlen, -ENOTSUP,
                              "the guest was offered %u physical address bits, this host's CPU has %u",
                              guest->phys_bits, host->phys_bits);
        char list[384] = "";
        size_t len = 0;
        unsigned n = 0, listed = 0;
        for (unsigned w = 0; w < CPUFEAT_WORDS; w++) {
                uint32_t miss = guest->word[w] & ~host->word[w] & ~words[w].ignore;
                for (unsigned bit = 0; bit < 32; bit++) {
                        if (!(miss & (1u << bit)))
                                continue;
                        n++;
                        const char *name = cpufeat_name((enum cpufeat_word)w, bit);
                        char unnamed[48];
                        if (!name) {
                                snprintf(unnamed, sizeof unnamed, "CPUID %s bit %u", words[w].label, bit);
                                name = unnamed;
                        }
                        if (listed == n - 1 && append(list, sizeof list, &len, name))
                                listed++;
                }
        }
        if (n == 0)
                return 0;
        return errorf(err, errlen, -ENOTSUP, "this host's CPU lacks %s the guest was offered: %s%s",
                      n == 1 ? "a feature" : "features", list, listed < n ? ", ..." : "");
}

void cpufeat_encode(const struct cpufeat *f, uint8_t out[CPUFEAT_BYTES]) {
        memset(out, 0, CPUFEAT_BYTES);
        memcpy(out, f->vendor, strnlen(f->vendor, 12));
        vmstate_put_le32(out + 12, f->phys_bits);
        for (unsigned w = 0; w < CPUFEAT_WORDS; w++)
                vmstate_put_le32(out + 16 + 4 * w, f->word[w]);
}

int cpufeat_decode(const uint8_t *buf, size_t len, struct cpufeat *out, char *err, size_t errlen) {
        if (len != CPUFEAT_BYTES)
                return errorf(err, errlen, -EINVAL, "CPU features: %zu bytes, this build reads %u", len,
                              CPUFEAT_BYTES);
        if (vmstate_le32(buf + CPUFEAT_BYTES - 4) != 0)
                return errorf(err, errlen, -EINVAL, "CPU features: a nonzero reserved word");
        uint32_t phys = vmstate_le32(buf + 12);
        if (phys > 64)
                return errorf(err, errlen, -EINVAL, "CPU features: %u physical address bits", phys);
        memset(out, 0, sizeof *out);
        for (unsigned i = 0; i < 12 && buf[i]; i++) /* printable: it goes into messages */
                out->vendor[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?';
        out->phys_bits = phys;
        for (unsigned w = 0; w < CPUFEAT_WORDS; w++)
                out->word[w] = vmstate_le32(buf + 16 + 4 * w);
        return 0;
}
