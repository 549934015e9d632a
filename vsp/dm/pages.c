// SPDX-License-Identifier: MIT
/* The pages a guest has ballooned out (dmvsp.h, struct dm_pages): a bit
 * per 4 KiB page of every region it may give up. What the guest claims is
 * checked against it, and what the host gives back is picked from it, so
 * the host never hands the guest a page it did not give up (Linux frees
 * every page an unballoon request names, unchecked). Pure: fuzzed through
 * tests/fuzz/fuzz-dm.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "dmvsp/dmvsp.h"
#include "hv/dm.h"

int dm_pages_init(struct dm_pages *p, const struct dmvsp_region *regions, size_t n) {
        *p = (struct dm_pages){ 0 };
        if (n > DM_PAGES_REGIONS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                const struct dmvsp_region *r = &regions[i];
                if (r->pages > DM_PFN_MAX || r->pfn > DM_PFN_MAX - r->pages)
                        return dm_pages_free(p), -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (r->pfn < p->r[j].pfn + p->r[j].pages && p->r[j].pfn < r->pfn + r->pages)
                                return dm_pages_free(p), -EINVAL; /* overlap */
                p->r[i].pfn = r->pfn;
                p->r[i].pages = p->r[i].usable = r->pages;
                p->r[i].bits = calloc((size_t)DIV_ROUND_UP(r->pages, 64) + 1, sizeof(uint64_t));
                if (!p->r[i].bits)
                        return dm_pages_free(p), -ENOMEM;
                p->n = i + 1;
        }
        return 0;
}

void dm_pages_free(struct dm_pages *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->r[i].bits);
        *p = (struct dm_pages){ 0 };
}

void dm_pages_set_usable(struct dm_pages *p, size_t i, uint64_t usable) {
        if (i < p->n)
                p->r[i].usable = MIN(usable, p->r[i].pages);
}

static bool bit(const uint64_t *b, uint64_t i) {
        return (b[i / 64] >> (i % 64)) & 1u;
}

/* Bits [from, from + n) of b: any set? */
static bool any_set(const uint64_t *b, uint64_t from, uint64_t n) {
        uint64_t i = from, end = from + n;
        while (i < end && i % 64)
                if (bit(b, i++))
                        return true;
        for (; i + 64 <= end; i += 64)
                if (b[i / 64])
                        return true;
        for (; i < end; i++)
                if (bit(b, i))
                        return true;
        return false;
}

static void set_run(uint64_t *b, uint64_t from, uint64_t n, bool on) {
        uint64_t i = from, end = from + n;
        for (; i < end && i % 64; i++)
                b[i / 64] = on ? b[i / 64] | 1ull << (i % 64) : b[i / 64] & ~(1ull << (i % 64));
        for (; i + 64 <= end; i += 64)
                b[i / 64] = on ? UINT64_MAX : 0;
        for (; i < end; i++)
                b[i / 64] = on ? b[i / 64] | 1ull << (i % 64) : b[i / 64] & ~(1ull << (i % 64));
}

int dm_pages_take(struct dm_pages *p, uint64_t pfn, uint64_t n) {
        if (n == 0)
                return -ERANGE;
        for (size_t i = 0; i < p->n; i++) {
                uint64_t lo = p->r[i].pfn;
                if (pfn < lo || pfn - lo >= p->r[i].usable)
                        continue;
                uint64_t off = pfn - lo;
                if (n > p->r[i].usable - off)
                        return -ERANGE;
                if (any_set(p->r[i].bits, off, n))
                        return -EEXIST;
                set_run(p->r[i].bits, off, n, true);
                p->total += n;
                return 0;
        }
        return -ERANGE;
}

/* The highest set bit below `below` in b, or -1 (as UINT64_MAX). */
static uint64_t last_set(const uint64_t *b, uint64_t below) {
        uint64_t i = below;
        while (i > 0) {
                uint64_t w = (i - 1) / 64, word = b[w];
                unsigned top = (unsigned)((i - 1) % 64);
                if (top < 63)
                        word &= (2ull << top) - 1;
                if (word)
                        return w * 64 + (63u - (unsigned)__builtin_clzll(word));
                i = w * 64;
        }
        return UINT64_MAX;
}

uint64_t dm_pages_give(struct dm_pages *p, uint64_t want, uint64_t *ranges, size_t max, size_t *n_ranges) {
        uint64_t got = 0;
        *n_ranges = 0;
        for (size_t i = p->n; i-- > 0 && got < want && *n_ranges < max;) {
                uint64_t *b = p->r[i].bits, pos = p->r[i].pages;
                while (got < want && *n_ranges < max) {
                        uint64_t top = last_set(b, pos);
                        if (top == UINT64_MAX)
                                break;
                        /* the run ending at top, walked down */
                        uint64_t len = 1, limit = MIN(want - got, (uint64_t)DM_RANGE_COUNT_MAX);
                        while (len < limit && top >= len && bit(b, top - len))
                                len++;
                        uint64_t first = top + 1 - len;
                        set_run(b, first, len, false);
                        ranges[(*n_ranges)++] = DM_RANGE(p->r[i].pfn + first, len);
                        got += len;
                        pos = first;
                }
        }
        p->total -= got;
        return got;
}

void dm_pages_clear(struct dm_pages *p) {
        for (size_t i = 0; i < p->n; i++)
                memset(p->r[i].bits, 0, (size_t)DIV_ROUND_UP(p->r[i].pages, 64) * sizeof(uint64_t));
        p->total = 0;
}

int dm_pages_each(const struct dm_pages *p, int (*fn)(void *opaque, uint64_t pfn, uint64_t n), void *opaque) {
        for (size_t i = 0; i < p->n; i++) {
                const uint64_t *b = p->r[i].bits;
                uint64_t pos = 0, size = p->r[i].pages;
                while (pos < size) {
                        if (!(pos % 64) && !b[pos / 64]) {
                                pos += 64;
                                continue;
                        }
                        if (!bit(b, pos)) {
                                pos++;
                                continue;
                        }
                        uint64_t len = 1;
                        while (pos + len < size && bit(b, pos + len))
                                len++;
                        int r = fn(opaque, p->r[i].pfn + pos, len);
                        if (r < 0)
                                return r;
                        pos += len;
                }
        }
        return 0;
}
