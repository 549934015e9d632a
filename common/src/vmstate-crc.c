// SPDX-License-Identifier: MIT
/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and
 * final xor ~0: vmstate_crc32c(0, "123456789", 9) == 0xe3069283). It runs
 * over all of guest RAM on save and restore, so where the CPU has SSE4.2 it
 * uses the crc32 instruction on three independent streams at once: the
 * instruction has a latency of 3 cycles and a throughput of 1, so one
 * stream would leave two thirds of it idle. The three partial CRCs are
 * joined by multiplying by x^(8*L) mod P (shifting a CRC past L zero
 * bytes), as zlib's crc32_combine() does. Elsewhere: slice-by-8. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "vmstate-crc-table.h"
#include "vmstate-internal.h"

#define CRC32C_POLY 0x82f63b78u

static inline uint64_t load64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v;
}

uint32_t vmstate_crc32c_sw(uint32_t crc, const void *buf, size_t len) {
        const uint32_t(*t)[256] = vmstate_crc32c_table;
        const uint8_t *p = buf;
        crc = ~crc;
        for (; len && ((uintptr_t)p & 7); len--)
                crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        for (; len >= 8; len -= 8, p += 8) {
                uint64_t v = vmstate_le64(p) ^ crc;
                crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
                      t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
                      t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
        }
        for (; len; len--)
                crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}

#if defined(__x86_64__)

/* a * b mod P, both in the reflected representation (x^0 in bit 31);
 * branch-free, as it runs twice per block. */
static uint32_t crc32c_mulmod(uint32_t a, uint32_t b) {
        uint32_t p = 0;
        for (int i = 31; i >= 0; i--) {
                p ^= b & (0u - ((a >> i) & 1u));
                b = (b >> 1) ^ (CRC32C_POLY & (0u - (b & 1u)));
        }
        return p;
}

/* Block lengths of the three-stream loop and x^(8*L) mod P for each
 * (computed with zlib's x2nmodp(); the tests compare this path with the
 * table one on lengths around every block boundary). Below 3 * 4 KiB the
 * two multiplications would cost what the parallel streams save. */
static const struct {
        size_t len;
        uint32_t shift;
} crc32c_blocks[] = {
        { 32768, 0xe2ea32dcu },
        { 4096, 0x35d73a62u },
};

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_run(uint32_t crc, const uint8_t *p, size_t len) {
        uint64_t c = crc;
        for (; len >= 8; len -= 8, p += 8)
                c = __builtin_ia32_crc32di(c, load64(p));
        crc = (uint32_t)c;
        for (; len; len--)
                crc = __builtin_ia32_crc32qi(crc, *p++);
        return crc;
}

/* crc over 3*len bytes at p, as three streams of len bytes (a multiple of 8). */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_3way(uint32_t crc, const uint8_t *p, size_t len,
                                                                 uint32_t shift) {
        uint64_t a = crc, b = 0, c = 0;
        for (size_t i = 0; i < len; i += 8) {
                a = __builtin_ia32_crc32di(a, load64(p + i));
                b = __builtin_ia32_crc32di(b, load64(p + len + i));
                c = __builtin_ia32_crc32di(c, load64(p + 2 * len + i));
        }
        uint32_t ab = crc32c_mulmod(shift, (uint32_t)a) ^ (uint32_t)b;
        return crc32c_mulmod(shift, ab) ^ (uint32_t)c;
}

__attribute__((target("sse4.2"))) uint32_t vmstate_crc32c_hw(uint32_t crc, const void *buf, size_t len) {
        const uint8_t *p = buf;
        crc = ~crc;
        size_t head = MIN(len, (8 - ((uintptr_t)p & 7)) & 7);
        crc = crc32c_hw_run(crc, p, head);
        p += head;
        len -= head;
        for (size_t b = 0; b < ARRAY_SIZE(crc32c_blocks); b++)
                for (size_t block = crc32c_blocks[b].len; len >= 3 * block; len -= 3 * block, p += 3 * block)
                        crc = crc32c_hw_3way(crc, p, block, crc32c_blocks[b].shift);
        return ~crc32c_hw_run(crc, p, len);
}

bool vmstate_crc32c_hw_supported(void) {
        return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t vmstate_crc32c_hw(uint32_t crc, const void *buf, size_t len) {
        return vmstate_crc32c_sw(crc, buf, len);
}

bool vmstate_crc32c_hw_supported(void) {
        return false;
}

#endif

uint32_t vmstate_crc32c(uint32_t crc, const void *buf, size_t len) {
        if (vmstate_crc32c_hw_supported())
                return vmstate_crc32c_hw(crc, buf, len);
        return vmstate_crc32c_sw(crc, buf, len);
}
