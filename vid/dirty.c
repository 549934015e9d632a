// SPDX-License-Identifier: MIT
/* Dirty-page tracking for live migration (vid.h, "dirty pages"): KVM's
 * dirty log for what the vCPUs write, and a bitmap of our own for what the
 * host writes into guest RAM (gm_write, and devices that write through
 * their mappings and say so with vid_mark_dirty). Both are indexed by
 * page of guest RAM as one array (below the MMIO hole, then from 4 GiB),
 * the numbering the saved-state RAM section uses. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/macro.h"
#include "internal.h"

size_t vid_dirty_bitmap_words(const struct vid_partition *p) {
        return DIV_ROUND_UP(p->ram_bytes >> VID_PAGE_SHIFT, 64);
}

int vid_dirty_log_start(struct vid_partition *p) {
        if (atomic_load(&p->dirty_active))
                return -EALREADY;
        if (!p->dirty_user) {
                p->dirty_user = calloc(vid_dirty_bitmap_words(p), sizeof *p->dirty_user);
                if (!p->dirty_user)
                        return -ENOMEM;
        }
        int r = vid_memory_set_flags(p, KVM_MEM_LOG_DIRTY_PAGES);
        if (r >= 0 && (r = vid_devmem_set_logging(p, true)) < 0)
                (void)vid_memory_set_flags(p, 0);
        if (r < 0)
                return r;
        atomic_store(&p->dirty_active, true);
        return 0;
}

int vid_dirty_log_stop(struct vid_partition *p) {
        if (!atomic_load(&p->dirty_active))
                return 0;
        atomic_store(&p->dirty_active, false);
        int r = vid_devmem_set_logging(p, false);
        int rm = vid_memory_set_flags(p, 0);
        return rm < 0 ? rm : r;
}

const atomic_bool *vid_dirty_flag(const struct vid_partition *p) {
        return &p->dirty_active;
}

static void mark_pages(struct vid_partition *p, uint64_t first, uint64_t end) {
        for (uint64_t page = first; page < end; page++)
                atomic_fetch_or_explicit(&p->dirty_user[page / 64], 1ull << (page % 64), memory_order_relaxed);
}

/* The flag is read with acquire (a plain load on x86) so that the bitmap
 * allocated before it was first set is seen; a write that races with the
 * start of tracking is in the first full copy, taken after the start. */
void vid_mark_dirty_host(struct vid_partition *p, const void *host, size_t len) {
        if (!atomic_load_explicit(&p->dirty_active, memory_order_acquire) || len == 0)
                return;
        uintptr_t a = (uintptr_t)host, base = (uintptr_t)p->ram;
        if (a < base || a - base >= p->ram_bytes)
                return;
        uint64_t off = a - base, end = MIN((uint64_t)p->ram_bytes, off + MIN((uint64_t)len, (uint64_t)p->ram_bytes));
        mark_pages(p, off >> VID_PAGE_SHIFT, DIV_ROUND_UP(end, VID_PAGE_SIZE));
}

void vid_mark_dirty(struct vid_partition *p, uint64_t gpa, uint64_t len) {
        if (!atomic_load_explicit(&p->dirty_active, memory_order_acquire) || len == 0)
                return;
        for (size_t i = 0; i < p->n_regions; i++) {
                const struct ram_region *r = &p->regions[i];
                uint64_t from = MAX(gpa, r->gpa), end;
                if (ADD_OVERFLOW(gpa, len, &end))
                        end = UINT64_MAX;
                end = MIN(end, r->gpa + r->size);
                if (from >= end)
                        continue;
                mark_pages(p, (r->memfd_offset + (from - r->gpa)) >> VID_PAGE_SHIFT,
                           DIV_ROUND_UP(r->memfd_offset + (end - r->gpa), VID_PAGE_SIZE));
        }
}

/* KVM's log of slot s ORed into bitmap at the slot's first page. The
 * regions start at multiples of 2 MiB in RAM offsets, where a slot word is
 * a bitmap word; the BIOS segment's slot starts at page 240 (bit 48 of a
 * word), so its bits go in at their offset. */
static int merge_slot_log(struct vid_partition *p, const struct ram_slot *s, uint64_t *bitmap) {
        size_t pages = s->size >> VID_PAGE_SHIFT, words = DIV_ROUND_UP(pages, 64);
        uint64_t *log_bits = calloc(words, sizeof *log_bits);
        if (!log_bits)
                return -ENOMEM;
        struct kvm_dirty_log log = { .slot = s->slot, .dirty_bitmap = log_bits };
        if (ioctl(p->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
                int e = errno;
                free(log_bits);
                return -e;
        }
        uint64_t first = s->memfd_offset >> VID_PAGE_SHIFT;
        size_t w0 = (size_t)(first / 64);
        unsigned shift = (unsigned)(first % 64);
        for (size_t w = 0; w < words; w++) {
                bitmap[w0 + w] |= log_bits[w] << shift;
                if (shift && (log_bits[w] >> (64 - shift)))
                        bitmap[w0 + w + 1] |= log_bits[w] >> (64 - shift);
        }
        free(log_bits);
        return 0;
}

int vid_dirty_log_get(struct vid_partition *p, uint64_t *bitmap, size_t n_words) {
        size_t words = vid_dirty_bitmap_words(p);
        if (!atomic_load(&p->dirty_active))
                return -EINVAL;
        if (n_words < words)
                return -ENOSPC;
        memset(bitmap, 0, n_words * sizeof *bitmap);
        pthread_mutex_lock(&p->slots_lock);
        struct ram_slot slots[VID_RAM_SLOTS_MAX];
        size_t n = vid_ram_slots(p, slots);
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++)
                r = merge_slot_log(p, &slots[i], bitmap);
        pthread_mutex_unlock(&p->slots_lock);
        if (r < 0)
                return r;
        for (size_t w = 0; w < words; w++)
                bitmap[w] |= atomic_exchange_explicit(&p->dirty_user[w], 0, memory_order_relaxed);
        return 0;
}
