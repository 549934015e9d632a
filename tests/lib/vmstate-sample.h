/* SPDX-License-Identifier: MIT */
/* A described struct with a field of every vmstate kind, in two section
 * versions (v2 adds added_v2), for test-vmstate and fuzz-vmstate. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "common/vmstate.h"

#define VMSTATE_SAMPLE_TAG VMSTATE_TAG('S', 'M', 'P', 'L')

struct vmstate_sample {
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        bool flag;
        uint8_t bytes[6];
        uint32_t n_words;
        uint32_t words[4];
        uint32_t n_quads;
        uint64_t quads[3];
        uint32_t n_name;
        uint8_t name[16];
        uint64_t added_v2; /* since version 2 */
};

static const struct vmstate_field_desc vmstate_sample_fields[] = {
        VMSTATE_FIELD(1, VMSTATE_U8, struct vmstate_sample, u8),
        VMSTATE_FIELD(2, VMSTATE_U16, struct vmstate_sample, u16),
        VMSTATE_FIELD(3, VMSTATE_U32, struct vmstate_sample, u32),
        VMSTATE_FIELD(4, VMSTATE_U64, struct vmstate_sample, u64),
        VMSTATE_FIELD(5, VMSTATE_BOOL, struct vmstate_sample, flag),
        VMSTATE_FIELD(6, VMSTATE_BYTES, struct vmstate_sample, bytes),
        VMSTATE_ARRAY(7, VMSTATE_U32_ARRAY, struct vmstate_sample, words, n_words),
        VMSTATE_ARRAY(8, VMSTATE_U64_ARRAY, struct vmstate_sample, quads, n_quads),
        VMSTATE_ARRAY(0x7fff, VMSTATE_VARBYTES, struct vmstate_sample, name, n_name),
        { .id = 10, .kind = VMSTATE_U64, .min_version = 2, .offset = offsetof(struct vmstate_sample, added_v2),
          .size = sizeof(uint64_t), .name = "added_v2" },
};

/* What a build of section version 2 reads and writes ... */
static const struct vmstate_desc vmstate_sample_v2 = {
        .tag = VMSTATE_SAMPLE_TAG,
        .version = 2,
        .fields = vmstate_sample_fields,
        .n_fields = ARRAY_SIZE(vmstate_sample_fields),
        .name = "sample",
};
/* ... and what an older build, before added_v2, did. */
static const struct vmstate_desc vmstate_sample_v1 = {
        .tag = VMSTATE_SAMPLE_TAG,
        .version = 1,
        .fields = vmstate_sample_fields,
        .n_fields = ARRAY_SIZE(vmstate_sample_fields) - 1,
        .name = "sample",
};

/* Distinct values in every field, arrays partly filled, from a seed. */
static inline void vmstate_sample_fill(struct vmstate_sample *s, unsigned seed) {
        memset(s, 0, sizeof *s);
        s->u8 = (uint8_t)(0xa0 + seed);
        s->u16 = (uint16_t)(0xb1c2 + seed);
        s->u32 = 0xd3e4f506u + seed;
        s->u64 = 0x0123456789abcdefull * (seed + 1);
        s->flag = seed & 1;
        for (unsigned i = 0; i < sizeof s->bytes; i++)
                s->bytes[i] = (uint8_t)(i * 7 + seed);
        s->n_words = 1 + seed % 4;
        for (unsigned i = 0; i < s->n_words; i++)
                s->words[i] = 0x10000001u * (i + 1) + seed;
        s->n_quads = seed % 4; /* 0 included: an empty array */
        for (unsigned i = 0; i < s->n_quads; i++)
                s->quads[i] = 0x1000000000000001ull * (i + 1) + seed;
        s->n_name = 5 + seed % 8;
        memcpy(s->name, "vmstack-sample-x", s->n_name);
        s->added_v2 = 0xfeedfacecafef00dull + seed;
}
