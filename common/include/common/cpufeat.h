/* SPDX-License-Identifier: MIT */
/* The CPU features a guest was offered, reduced to the CPUID words that
 * matter when it moves to another host (docs/saved-state.md "CPID",
 * docs/migration.md "Hello"): the vendor, the physical address width and
 * the feature registers below. A guest may move to a host that supports
 * every feature it was offered; one that lacks any is refused, naming
 * them, because the guest would fault (#UD) or corrupt state the first time
 * it used one. Bits whose value the CPU derives from the guest's own
 * control registers (OSXSAVE, OSPKE) or that the hypervisor sets (the
 * hypervisor-present bit) are not features of the host and are ignored.
 *
 * Pure and bounded: the block a migration source sends is decoded and
 * compared with these functions (tests/fuzz/fuzz-migstream.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The feature words, in the order the hello carries them. */
enum cpufeat_word {
        CPUFEAT_1_ECX,         /* leaf 1 ECX */
        CPUFEAT_1_EDX,         /* leaf 1 EDX */
        CPUFEAT_7_0_EBX,       /* leaf 7 subleaf 0 EBX */
        CPUFEAT_7_0_ECX,       /* leaf 7 subleaf 0 ECX */
        CPUFEAT_7_0_EDX,       /* leaf 7 subleaf 0 EDX */
        CPUFEAT_7_1_EAX,       /* leaf 7 subleaf 1 EAX */
        CPUFEAT_D_0_EAX,       /* leaf 0xD subleaf 0 EAX: XCR0 bits 0..31 the guest may set */
        CPUFEAT_D_0_EDX,       /* leaf 0xD subleaf 0 EDX: XCR0 bits 32..63 */
        CPUFEAT_D_1_EAX,       /* leaf 0xD subleaf 1 EAX: XSAVEOPT, XSAVEC, XSAVES, ... */
        CPUFEAT_80000001_ECX,  /* leaf 0x80000001 ECX */
        CPUFEAT_80000001_EDX,  /* leaf 0x80000001 EDX */
        CPUFEAT_80000007_EDX,  /* leaf 0x80000007 EDX: invariant TSC */
        CPUFEAT_80000008_EBX,  /* leaf 0x80000008 EBX */
        CPUFEAT_WORDS,
};

struct cpufeat {
        char vendor[13];    /* leaf 0 EBX EDX ECX, NUL-terminated; "" without leaf 0 */
        uint32_t phys_bits; /* leaf 0x80000008 EAX[7:0]; 0 without the leaf */
        uint32_t word[CPUFEAT_WORDS];
};

/* The block in a migration hello: u32 vendor[3] (EBX, EDX, ECX), u32
 * phys_bits, u32 word[CPUFEAT_WORDS], u32 0. */
#define CPUFEAT_BYTES (4u * (3u + 1u + CPUFEAT_WORDS + 1u))

/* Takes one CPUID leaf into f (start from a zeroed struct); leaves that
 * hold no word above are ignored. */
void cpufeat_add_leaf(struct cpufeat *f, uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                      uint32_t edx);

/* 0 when host supports everything guest was offered (same vendor, at
 * least as many physical address bits, every feature bit); else -ENOTSUP
 * and a sentence naming what is missing ("avx512f, avx512bw", or
 * "CPUID 0x7.0 EDX bit 12" for a bit without a name). */
int cpufeat_missing(const struct cpufeat *guest, const struct cpufeat *host, char *err, size_t errlen);

/* The feature's name ("avx2"), or NULL for a bit without one. */
const char *cpufeat_name(enum cpufeat_word w, unsigned bit);

/* The block to and from bytes. decode refuses (-EINVAL, a sentence) a
 * block of another length, a nonzero reserved word, or an address width
 * above 64; the vendor is made printable. */
void cpufeat_encode(const struct cpufeat *f, uint8_t out[CPUFEAT_BYTES]);
int cpufeat_decode(const uint8_t *buf, size_t len, struct cpufeat *out, char *err, size_t errlen);
