// SPDX-License-Identifier: MIT
/* The self-describing disk pattern of vsc/stor.h: 64-byte text records
 *   "VSCDISK s=%08x c=%u l=%03u o=%015llu" + '.' to byte 63 + '\n'
 * naming the seed, the controller, the LUN and the record's own byte
 * offset, so misplaced, stale or foreign data never passes, and a shell
 * test reproduces it with printf. The 31-byte prefix is fixed per disk;
 * only the offset digits change from record to record. */
#include "stor-internal.h"

#define PREFIX_LEN 31u /* "VSCDISK s=xxxxxxxx c=d l=ddd o=" */
#define DIGITS 15u

static const char hex[] = "0123456789abcdef";

static void prefix(uint8_t out[PREFIX_LEN], uint32_t seed, unsigned c, unsigned l) {
        static const char tmpl[] = "VSCDISK s=00000000 c=0 l=000 o=";
        vsc_memcpy(out, tmpl, PREFIX_LEN);
        for (unsigned i = 0; i < 8; i++)
                out[10 + i] = (uint8_t)hex[(seed >> (28 - 4 * i)) & 0xf];
        out[21] = (uint8_t)('0' + c % 10);
        out[25] = (uint8_t)('0' + l / 100 % 10);
        out[26] = (uint8_t)('0' + l / 10 % 10);
        out[27] = (uint8_t)('0' + l % 10);
}

static void record(uint8_t rec[VSC_STOR_PATTERN_RECORD], const uint8_t pre[PREFIX_LEN], uint64_t offset) {
        vsc_memcpy(rec, pre, PREFIX_LEN);
        for (unsigned i = DIGITS; i > 0; i--) {
                rec[PREFIX_LEN + i - 1] = (uint8_t)('0' + offset % 10);
                offset /= 10;
        }
        vsc_memset(rec + PREFIX_LEN + DIGITS, '.', VSC_STOR_PATTERN_RECORD - PREFIX_LEN - DIGITS - 1);
        rec[VSC_STOR_PATTERN_RECORD - 1] = '\n';
}

void vsc_stor_pattern_fill(void *buf, size_t len, uint32_t seed, unsigned c, unsigned l, uint64_t offset) {
        uint8_t pre[PREFIX_LEN], *p = buf;
        prefix(pre, seed, c, l);
        for (size_t at = 0; at + VSC_STOR_PATTERN_RECORD <= len; at += VSC_STOR_PATTERN_RECORD)
                record(p + at, pre, offset + at);
}

int vsc_stor_pattern_check(const void *buf, size_t len, uint32_t seed, unsigned c, unsigned l, uint64_t offset,
                           uint64_t *bad_offset) {
        uint8_t pre[PREFIX_LEN], want[VSC_STOR_PATTERN_RECORD];
        const uint8_t *p = buf;
        prefix(pre, seed, c, l);
        for (size_t at = 0; at + VSC_STOR_PATTERN_RECORD <= len; at += VSC_STOR_PATTERN_RECORD) {
                record(want, pre, offset + at);
                if (vsc_memcmp(p + at, want, VSC_STOR_PATTERN_RECORD)) {
                        *bad_offset = offset + at;
                        return -EBADMSG;
                }
        }
        return 0;
}
