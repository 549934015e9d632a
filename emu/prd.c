// SPDX-License-Identifier: MIT
/* The PRD table walker (see emu/bmdma.h; 82371SB datasheet §2.7.2
 * "Physical Region Descriptor Format"). */
#include <errno.h>

#include "common/macro.h"
#include "emu/bmdma.h"

#define PRD_BATCH 32u /* descriptors read at once */

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads up to PRD_BATCH descriptors starting with entry `first`; a batch
 * that would leave RAM is read one descriptor at a time, so the walk fails
 * only at the first descriptor that really is outside. */
static int read_batch(bmdma_read_fn rd, void *opaque, uint64_t table, unsigned first, unsigned n,
                      uint8_t buf[PRD_BATCH * 8]) {
        uint64_t at = table + 8ull * first;
        if (rd(opaque, at, buf, 8ull * n) == 0)
                return (int)n;
        int r = rd(opaque, at, buf, 8);
        return r < 0 ? r : 1;
}

int bmdma_prd_walk(bmdma_read_fn rd, void *opaque, uint32_t table_gpa, uint64_t want, struct bmdma_walk *out) {
        out->n_seg = 0;
        out->bytes = 0;
        out->entries = 0;
        out->exact = false;
        if (!rd || want == 0 || want > BMDMA_MAX_BYTES)
                return -EINVAL;
        uint64_t table = table_gpa & ~3u;
        uint8_t buf[PRD_BATCH * 8];
        while (out->entries < BMDMA_MAX_PRD) {
                unsigned n = MIN(PRD_BATCH, BMDMA_MAX_PRD - out->entries);
                int got = read_batch(rd, opaque, table, out->entries, n, buf);
                if (got < 0)
                        return got;
                for (int i = 0; i < got; i++) {
                        const uint8_t *d = buf + 8 * i;
                        uint32_t addr = le32(d) & ~1u, ctl = le32(d + 4);
                        uint32_t count = ctl & 0xfffeu;
                        if (count == 0)
                                count = 0x10000; /* §2.7.2: a byte count of 0 means 64 KiB */
                        bool eot = ctl & BM_PRD_EOT;
                        out->entries++;
                        uint64_t take = MIN((uint64_t)count, want - out->bytes);
                        out->seg[out->n_seg++] = (struct bmdma_segment){ .gpa = addr, .len = (uint32_t)take };
                        out->bytes += take;
                        if (out->bytes == want) {
                                out->exact = eot && take == count;
                                return 0;
                        }
                        if (eot)
                                return -ENODATA;
                }
        }
        return -E2BIG;
}
