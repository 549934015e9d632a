/* SPDX-License-Identifier: MIT */
/* vmstate internals, shared by vmstate.c (reader), vmstate-write.c and
 * vmstate-crc.c, and by test-vmstate (the two CRC paths). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/vmstate.h"

/* Flags this build knows; any other bit is refused (docs/saved-state.md). */
#define VMSTATE_FILE_FLAGS_KNOWN 0u
#define VMSTATE_SECTION_FLAGS_KNOWN (VMSTATE_SECTION_OPTIONAL | VMSTATE_SECTION_BULK)
#define VMSTATE_FIELD_ID_MAX 0x7fffu
/* A newer minor version may grow the file header; never beyond this. */
#define VMSTATE_HEADER_SIZE_MAX 4096u
#define VMSTATE_BULK_TRAILER_SIZE 8u
#define VMSTATE_PAD(n) (((n) + 7u) & ~(__typeof__(n))7u)

/* Byte offsets in the file header and in a section header. */
enum {
        VMSTATE_HDR_MAJOR = 8,
        VMSTATE_HDR_MINOR = 10,
        VMSTATE_HDR_SIZE = 12,
        VMSTATE_HDR_FLAGS = 16,
        VMSTATE_HDR_RESERVED = 24,
        VMSTATE_HDR_CRC = 28,
        VMSTATE_SEC_TAG = 0,
        VMSTATE_SEC_INSTANCE = 4,
        VMSTATE_SEC_VERSION = 8,
        VMSTATE_SEC_FLAGS = 10,
        VMSTATE_SEC_RESERVED = 12,
        VMSTATE_SEC_LENGTH = 16,
        VMSTATE_SEC_PAYLOAD_CRC = 24,
        VMSTATE_SEC_HEADER_CRC = 28,
};

/* The width of one element of a kind: 1/2/4/8 for integers, BOOL and
 * arrays, 1 for the byte kinds, 0 for a kind that does not exist. */
unsigned vmstate_kind_width(unsigned kind);
/* Whether a value of this kind may be length bytes long (scalars: exactly
 * their width; arrays: a multiple of it; BOOL: also 0 or 1). */
bool vmstate_value_ok(unsigned kind, const uint8_t *value, uint64_t length);
/* Copies length bytes of width-byte integers between host order and
 * little-endian (the same swap both ways; a memcpy on x86). */
void vmstate_copy_le(void *dst, const void *src, size_t length, unsigned width);
/* A descriptor this build can use: ids 1..0x7fff and unique, kinds known,
 * sizes that match the kind, min_version <= version. -EINVAL otherwise
 * (a programming error, not a file error). */
int vmstate_desc_check(const struct vmstate_desc *desc);

/* The two CRC-32C paths behind vmstate_crc32c(), for the tests. The
 * hardware one is only callable where vmstate_crc32c_hw_supported(). */
uint32_t vmstate_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t vmstate_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool vmstate_crc32c_hw_supported(void);
