// SPDX-License-Identifier: MIT
/* Guest RAM for live migration (vid/state.h, docs/migration.md): the
 * source's final RAM section holds only the pages dirtied since its last
 * pass; the destination takes pre-copied pages into a partition that has
 * not run yet. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"
#include "vid/state.h"

#define RAM_VERSION 1
#define RAM_EXTENT_HEADER 16u

static bool page_set(const uint64_t *bitmap, uint64_t page) {
        return bitmap[page / 64] >> (page % 64) & 1;
}

/* The next run of set pages at or after *page: [*first, *first + *n). */
static bool next_run(const uint64_t *bitmap, uint64_t pages, uint64_t *page, uint64_t *first, uint64_t *n) {
        uint64_t i = *page;
        while (i < pages && !page_set(bitmap, i)) {
                if (bitmap[i / 64] == 0)
                        i = ALIGN_DOWN(i, 64u) + 64; /* a whole empty word */
                else
                        i++;
        }
        if (i >= pages)
                return false;
        uint64_t j = i;
        while (j < pages && page_set(bitmap, j))
                j++;
        *first = i, *n = j - i, *page = j;
        return true;
}

int vid_state_save_pages(struct vid_partition *p, struct vmstate_writer *w, const uint64_t *bitmap) {
        int r = vid_state_save_cpus(p, w);
        if (r < 0)
                return r;
        uint64_t pages = p->ram_bytes >> VID_PAGE_SHIFT, total = 8, at = 0, first, n;
        while (next_run(bitmap, pages, &at, &first, &n))
                total += RAM_EXTENT_HEADER + (n << VID_PAGE_SHIFT);
        uint8_t hdr[RAM_EXTENT_HEADER];
        vmstate_put_le64(hdr, p->ram_bytes);
        r = vmstate_bulk_begin(w, VID_STATE_TAG_RAM, 0, RAM_VERSION, total);
        if (r == 0)
                r = vmstate_bulk_write(w, hdr, 8);
        at = 0;
        while (r == 0 && next_run(bitmap, pages, &at, &first, &n)) {
                vmstate_put_le64(hdr, first << VID_PAGE_SHIFT);
                vmstate_put_le64(hdr + 8, n << VID_PAGE_SHIFT);
                r = vmstate_bulk_write(w, hdr, sizeof hdr);
                if (r == 0)
                        r = vmstate_bulk_write(w, p->ram + (first << VID_PAGE_SHIFT), n << VID_PAGE_SHIFT);
        }
        return r < 0 ? r : vmstate_bulk_end(w);
}

const uint8_t *vid_ram_host(const struct vid_partition *p) {
        return p->ram;
}

static int check_incoming(const struct vid_partition *p, uint64_t off, uint64_t len) {
        uint64_t end;
        if (p->started)
                return -EBUSY;
        if (!IS_ALIGNED(off, VID_PAGE_SIZE) || !IS_ALIGNED(len, VID_PAGE_SIZE) || ADD_OVERFLOW(off, len, &end) ||
            end > p->ram_bytes)
                return -EINVAL;
        return 0;
}

/* pwrite rather than through the mapping: no user page fault per page
 * (state-ram.c's copy_extent says why); memcpy where the memfd has no
 * write(2) (hugetlbfs). */
int vid_ram_write(struct vid_partition *p, uint64_t off, const void *data, uint64_t len) {
        int r = check_incoming(p, off, len);
        if (r < 0)
                return r;
        const uint8_t *d = data;
        while (len > 0) {
                ssize_t k = pwrite(p->memfd, d, len, (off_t)off);
                if (k <= 0)
                        break;
                d += k, off += (uint64_t)k, len -= (uint64_t)k;
        }
        if (len > 0)
                memcpy(p->ram + off, d, len);
        return 0;
}

int vid_ram_zero(struct vid_partition *p, uint64_t off, uint64_t len) {
        int r = check_incoming(p, off, len);
        if (r < 0)
                return r;
        if (fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
                memset(p->ram + off, 0, len);
        return 0;
}
