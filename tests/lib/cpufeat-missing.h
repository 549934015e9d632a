/* SPDX-License-Identifier: MIT */
/* For the tests of CPU features across a move (common/cpufeat.h): a
 * feature this host's KVM does not offer, found in what a guest here was
 * offered (every feature KVM supports, so a clear bit is one it lacks),
 * to claim in a saved CPID section or a migration hello. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/cpufeat.h"
#include "common/macro.h"
#include "vid/state.h"

struct test_missing {
        uint32_t function, index;
        char reg; /* 'a' 'b' 'c' 'd' */
        unsigned bit;
        enum cpufeat_word word;
        const char *name; /* as the refusal names it */
};

/* Features few hosts have, and last a reserved bit no host reports. */
static const struct test_missing test_missing_candidates[] = {
        { 7, 0, 'b', 27, CPUFEAT_7_0_EBX, "avx512er" },
        { 7, 0, 'b', 26, CPUFEAT_7_0_EBX, "avx512pf" },
        { 7, 0, 'd', 2, CPUFEAT_7_0_EDX, "avx512_4vnniw" },
        { 7, 0, 'd', 24, CPUFEAT_7_0_EDX, "amx_tile" },
        { 7, 0, 'b', 16, CPUFEAT_7_0_EBX, "avx512f" },
        { 0x80000001u, 0, 'c', 11, CPUFEAT_80000001_ECX, "xop" },
        { 0x80000001u, 0, 'c', 16, CPUFEAT_80000001_ECX, "fma4" },
        { 7, 0, 'd', 0, CPUFEAT_7_0_EDX, "CPUID 0x7.0 EDX bit 0" },
};

/* The first candidate f lacks, or NULL. */
static inline const struct test_missing *test_missing_in(const struct cpufeat *f) {
        for (size_t i = 0; i < ARRAY_SIZE(test_missing_candidates); i++) {
                const struct test_missing *m = &test_missing_candidates[i];
                if (!(f->word[m->word] & (1u << m->bit)))
                        return m;
        }
        return NULL;
}

/* Sets, in a saved CPUID table of this host, a feature this host lacks;
 * returns its name, or NULL when the table has no leaf for any. */
static inline const char *test_cpuid_claim_missing(struct vid_cpuid_state *cs) {
        struct cpufeat f;
        vid_cpuid_state_features(cs, &f);
        for (size_t i = 0; i < ARRAY_SIZE(test_missing_candidates); i++) {
                const struct test_missing *m = &test_missing_candidates[i];
                if (f.word[m->word] & (1u << m->bit))
                        continue;
                for (uint32_t e = 0; e < cs->n_function; e++) {
                        if (cs->function[e] != m->function || cs->index[e] != m->index)
                                continue;
                        uint32_t *r = m->reg == 'a' ? &cs->eax[e] : m->reg == 'b' ? &cs->ebx[e]
                                    : m->reg == 'c' ? &cs->ecx[e] : &cs->edx[e];
                        *r |= 1u << m->bit;
                        return m->name;
                }
        }
        return NULL;
}
