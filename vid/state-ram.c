// SPDX-License-Identifier: MIT
/* Guest RAM in the saved state (the RAM section, vid/state.h) and the
 * order in which vid writes and applies its sections.
 *
 * RAM is written sparsely: guest RAM is a memfd, pages the guest never
 * touched are holes in it (SEEK_DATA/SEEK_HOLE find them without reading
 * a byte), and of the data extents only pages that are not all zero go
 * into the file. A restore copies the extents into the fresh partition's
 * memfd, whose holes stay holes.
 *
 * Why the zero check: a page full of zeros is as good as a hole, and
 * memfd pages that hold only zeros are common after a restore: a read
 * through a shared mapping of a hole (a device reading a guest buffer it
 * mapped) allocates one, and a guest that zeroes a buffer it allocates
 * again (a stock Linux netvsc's 17 MiB of buffers) writes them. Without
 * the check each save of a restored VM grew by them. A page with data
 * usually differs from zero in its first bytes, so the check reads little
 * of it; only zero pages are read whole, and those are then not written. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vid/state.h"

#define RAM_VERSION 1
#define RAM_EXTENT_HEADER 16u

static int extent_push(struct vid_ram_extent **ext, size_t *n, size_t *cap, uint64_t offset, uint64_t length) {
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 64;
                struct vid_ram_extent *ne = realloc(*ext, nc * sizeof *ne);
                if (!ne)
                        return -ENOMEM;
                *ext = ne, *cap = nc;
        }
        (*ext)[(*n)++] = (struct vid_ram_extent){ offset, length };
        return 0;
}

struct extents {
        struct vid_ram_extent *ext;
        size_t n, cap;
        uint64_t ram_bytes;
};

static int add_extent(void *opaque, uint64_t data, uint64_t hole) {
        struct extents *e = opaque;
        uint64_t from = ALIGN_DOWN(data, VID_PAGE_SIZE), to = MIN(ALIGN_UP(hole, VID_PAGE_SIZE), e->ram_bytes);
        if (e->n && e->ext[e->n - 1].offset + e->ext[e->n - 1].length >= from) {
                e->ext[e->n - 1].length = to - e->ext[e->n - 1].offset; /* touching: merge */
                return 0;
        }
        return extent_push(&e->ext, &e->n, &e->cap, from, to - from);
}

/* The memfd's data extents, page-aligned (a filesystem without hole
 * tracking reports everything as data, which is correct, just larger). */
int vid_ram_extents(struct vid_partition *p, struct vid_ram_extent **out, size_t *n_out) {
        struct extents e = { .ram_bytes = p->ram_bytes };
        int r = fd_for_each_data(p->memfd, p->ram_bytes, add_extent, &e);
        if (r < 0) {
                free(e.ext);
                return r;
        }
        *out = e.ext;
        *n_out = e.n;
        return 0;
}

/* Whole page, 64 bytes at a time, stopping at the first non-zero line:
 * a data page costs one or two loads, a zero page a 4 KiB read. */
static bool page_is_zero(const uint8_t *page) {
        const uint64_t *q = (const uint64_t *)(const void *)page;
        for (size_t i = 0; i < VID_PAGE_SIZE / 8; i += 8)
                if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7])
                        return false;
        return true;
}

/* The data extents less their all-zero pages: runs of pages with data.
 * Reads only pages the memfd has (reading a hole would allocate it). */
static int nonzero_extents(struct vid_partition *p, struct vid_ram_extent **out, size_t *n_out) {
        struct vid_ram_extent *data = NULL, *ext = NULL;
        size_t n_data = 0, n = 0, cap = 0;
        int r = vid_ram_extents(p, &data, &n_data);
        for (size_t i = 0; i < n_data && r == 0; i++) {
                uint64_t end = data[i].offset + data[i].length, run = end;
                for (uint64_t at = data[i].offset; at < end && r == 0; at += VID_PAGE_SIZE) {
                        bool zero = page_is_zero(p->ram + at);
                        if (!zero && run == end)
                                run = at; /* a run starts */
                        else if (zero && run != end) {
                                r = extent_push(&ext, &n, &cap, run, at - run);
                                run = end;
                        }
                }
                if (r == 0 && run != end)
                        r = extent_push(&ext, &n, &cap, run, end - run);
        }
        free(data);
        if (r < 0) {
                free(ext);
                return r;
        }
        *out = ext;
        *n_out = n;
        return 0;
}

static uint64_t payload_size(const struct vid_ram_extent *ext, size_t n) {
        uint64_t total = 8;
        for (size_t i = 0; i < n; i++)
                total += RAM_EXTENT_HEADER + ext[i].length;
        return total;
}

int vid_ram_save_size(struct vid_partition *p, uint64_t *bytes) {
        struct vid_ram_extent *ext = NULL;
        size_t n = 0;
        int r = vid_ram_extents(p, &ext, &n);
        if (r < 0)
                return r;
        *bytes = payload_size(ext, n);
        free(ext);
        return 0;
}

int vid_ram_save(struct vid_partition *p, struct vmstate_writer *w) {
        struct vid_ram_extent *ext = NULL;
        size_t n = 0;
        int r = nonzero_extents(p, &ext, &n);
        if (r < 0)
                return r;
        uint64_t total = payload_size(ext, n);
        uint8_t hdr[RAM_EXTENT_HEADER];
        vmstate_put_le64(hdr, p->ram_bytes);
        r = vmstate_bulk_begin(w, VID_STATE_TAG_RAM, 0, RAM_VERSION, total);
        if (r == 0)
                r = vmstate_bulk_write(w, hdr, 8);
        for (size_t i = 0; i < n && r == 0; i++) {
                vmstate_put_le64(hdr, ext[i].offset);
                vmstate_put_le64(hdr + 8, ext[i].length);
                r = vmstate_bulk_write(w, hdr, sizeof hdr);
                if (r == 0)
                        r = vmstate_bulk_write(w, p->ram + ext[i].offset, ext[i].length);
        }
        free(ext);
        return r < 0 ? r : vmstate_bulk_end(w);
}

/* Walks the extents of a RAM payload; each (offset, length, data) goes to
 * fn when it is not NULL. Pure apart from fn. */
static int ram_walk(const struct vmstate_section *s, uint64_t ram_bytes, char *err, size_t errlen,
                    void (*fn)(void *opaque, uint64_t offset, const uint8_t *data, uint64_t length), void *opaque) {
        if (s->tag != VID_STATE_TAG_RAM || s->version == 0 || s->version > RAM_VERSION)
                return errorf(err, errlen, -EINVAL, "section RAM: version %u is not one this build reads (1..%u)",
                              s->version, RAM_VERSION);
        if (s->length < 8)
                return errorf(err, errlen, -EINVAL, "section RAM: payload too short");
        uint64_t saved = vmstate_le64(s->payload);
        if (saved != ram_bytes)
                return errorf(err, errlen, -EINVAL, "section RAM: %llu MiB saved, the VM has %llu MiB",
                              (unsigned long long)(saved >> 20), (unsigned long long)(ram_bytes >> 20));
        uint64_t off = 8, prev_end = 0;
        while (off < s->length) {
                if (s->length - off < RAM_EXTENT_HEADER)
                        return errorf(err, errlen, -EINVAL, "section RAM: extent header cut at byte %llu",
                                      (unsigned long long)off);
                uint64_t at = vmstate_le64(s->payload + off), len = vmstate_le64(s->payload + off + 8), end;
                off += RAM_EXTENT_HEADER;
                if (!IS_ALIGNED(at, VID_PAGE_SIZE) || !IS_ALIGNED(len, VID_PAGE_SIZE) || len == 0 ||
                    ADD_OVERFLOW(at, len, &end) || at < prev_end || end > ram_bytes)
                        return errorf(err, errlen, -EINVAL,
                                      "section RAM: extent at 0x%llx, %llu bytes: not page-aligned, out of "
                                      "order or beyond RAM",
                                      (unsigned long long)at, (unsigned long long)len);
                if (s->length - off < len)
                        return errorf(err, errlen, -EINVAL, "section RAM: extent at 0x%llx cut short",
                                      (unsigned long long)at);
                if (fn)
                        fn(opaque, at, s->payload + off, len);
                off += len;
                prev_end = end;
        }
        return 0;
}

int vid_ram_check(const struct vmstate_section *s, uint64_t ram_bytes, char *err, size_t errlen) {
        return ram_walk(s, ram_bytes, err, errlen, NULL, NULL);
}

/* Into the memfd with pwrite rather than through our mapping of it: the
 * kernel allocates and fills the pages without a user page fault per
 * 4 KiB (an 8.6 MiB state: 2,150 faults, 5.8 ms on the PVM host); KVM maps
 * each page when the guest first touches it, as it would have anyway.
 * RAM offsets are memfd offsets (one mapping from 0). A memfd that has no
 * write(2) (hugetlbfs) or a failed write: memcpy. */
static void copy_extent(void *opaque, uint64_t offset, const uint8_t *data, uint64_t length) {
        struct vid_partition *p = opaque;
        while (length > 0) {
                ssize_t n = pwrite(p->memfd, data, length, (off_t)offset);
                if (n <= 0)
                        break;
                data += n, offset += (uint64_t)n, length -= (uint64_t)n;
        }
        if (length > 0)
                memcpy(p->ram + offset, data, length);
}

/* ---- every vid section ------------------------------------------------- */

int vid_state_save_cpus(struct vid_partition *p, struct vmstate_writer *w) {
        if (!vid_partition_is_quiet(p))
                return -EBUSY;
        struct vid_cpuid_state *cs = malloc(sizeof *cs);
        if (!cs)
                return -ENOMEM;
        int r = vid_cpuid_state_get(p, cs);
        if (r == 0)
                r = vmstate_encode(w, &vid_cpuid_state_desc, 0, cs);
        free(cs);
        struct vid_partition_state ps;
        if (r == 0)
                r = vid_partition_state_get(p, &ps);
        if (r == 0)
                r = vmstate_encode(w, &vid_partition_state_desc, 0, &ps);
        if (r == 0 && vid_partition_has_pit(p)) {
                struct vid_pit_state pit;
                if ((r = vid_pit_state_get(p, &pit)) == 0)
                        r = vmstate_encode(w, &vid_pit_state_desc, 0, &pit);
        }
        struct vid_vp_state *st = r == 0 ? malloc(sizeof *st) : NULL;
        if (r == 0 && !st)
                r = -ENOMEM;
        for (unsigned i = 0; r == 0 && i < p->n_vps; i++) {
                r = vid_vp_state_get(p->vps[i], st);
                if (r == 0)
                        r = vmstate_encode(w, &vid_vp_state_desc, i, st);
        }
        free(st);
        return r;
}

int vid_state_save(struct vid_partition *p, struct vmstate_writer *w) {
        int r = vid_state_save_cpus(p, w);
        return r < 0 ? r : vid_ram_save(p, w);
}

int vid_state_restore(struct vid_partition *p, const struct vmstate_section *secs, size_t n, char *err,
                      size_t errlen) {
        if (p->started)
                return errorf(err, errlen, -EBUSY, "the partition already ran");
        const struct vmstate_section *part = vmstate_find(secs, n, VID_STATE_TAG_PART, 0);
        const struct vmstate_section *ram = vmstate_find(secs, n, VID_STATE_TAG_RAM, 0);
        const struct vmstate_section *cpid = vmstate_find(secs, n, VID_STATE_TAG_CPUID, 0);
        if (!part || !ram || !cpid)
                return errorf(err, errlen, -EINVAL, "the state has no %s section",
                              !part ? "PART" : !ram ? "RAM" : "CPID (the guest's CPUID)");
        struct vid_partition_state ps;
        int r = vid_partition_state_decode(part, &ps, err, errlen);
        if (r == 0)
                r = vid_state_fits(p, &ps, err, errlen);
        if (r < 0)
                return r;
        _cleanup_free_ struct vid_cpuid_state *cs = malloc(sizeof *cs);
        if (!cs)
                return -ENOMEM;
        if ((r = vid_cpuid_state_decode(cpid, cs, err, errlen)) < 0)
                return r;
        /* Every VP section decodes before anything is applied. */
        struct vid_vp_state *st = calloc(p->n_vps, sizeof *st);
        if (!st)
                return -ENOMEM;
        for (unsigned i = 0; r == 0 && i < p->n_vps; i++) {
                const struct vmstate_section *s = vmstate_find(secs, n, VID_STATE_TAG_VP, i);
                r = s ? vid_vp_state_decode(s, &st[i], err, errlen)
                      : errorf(err, errlen, -EINVAL, "the state has no section for vCPU %u", i);
        }
        /* A PIT goes with the partition made with one, both ways. */
        const struct vmstate_section *pits = vmstate_find(secs, n, VID_STATE_TAG_PIT, 0);
        struct vid_pit_state pit;
        if (r == 0 && !pits != !vid_partition_has_pit(p))
                r = errorf(err, errlen, -EINVAL, "the state %s a PIT section, this VM %s a PIT", pits ? "has" : "has no",
                           vid_partition_has_pit(p) ? "has" : "has no");
        if (r == 0 && pits)
                r = vid_pit_state_decode(pits, &pit, err, errlen);
        if (r == 0)
                r = vid_ram_check(ram, p->ram_bytes, err, errlen);
        /* The CPUID first: refused here when this host lacks a feature the
         * guest was offered (nothing applied yet); KVM checks XSAVE, XCR0
         * and MSRs against it. */
        if (r == 0)
                r = vid_cpuid_state_set(p, cs, err, errlen);
        if (r == 0)
                r = vid_partition_state_set(p, &ps, err, errlen);
        if (r == 0 && pits && (r = vid_pit_state_set(p, &pit)) < 0)
                errorf(err, errlen, r, "KVM_SET_PIT2: %s", strerror(-r));
        if (r == 0) /* checked in full above: a bad extent cannot leave RAM half-written */
                r = ram_walk(ram, p->ram_bytes, err, errlen, copy_extent, p);
        if (r == 0)
                r = vid_vps_state_set(p, p->vps, st, p->n_vps, err, errlen);
        free(st);
        return r;
}
