// SPDX-License-Identifier: MIT
/* PIO and MMIO dispatch: a sorted table of checked, non-overlapping ranges,
 * each with an ops struct. The table is fixed once the partition starts, so
 * lookups from VP threads need no lock. Beside it, a few port windows the
 * guest moves (PCI I/O BARs): their number is fixed too, and each one's
 * base is one atomic word, so a move needs no lock either. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "internal.h"

static int io_register(struct vid_partition *p, struct io_registry *reg, uint64_t base, uint64_t len,
                       uint64_t limit, const struct vid_io_ops *ops, void *opaque) {
        uint64_t end;
        if (len == 0 || !ops || ADD_OVERFLOW(base, len, &end) || end > limit)
                return -EINVAL;
        if (p->started)
                return -EBUSY;
        size_t pos = 0;
        while (pos < reg->n && reg->ranges[pos].base < base)
                pos++;
        if (pos > 0 && reg->ranges[pos - 1].base + reg->ranges[pos - 1].len > base)
                return -EEXIST;
        if (pos < reg->n && reg->ranges[pos].base < end)
                return -EEXIST;
        if (reg->n == reg->cap) {
                size_t cap = reg->cap ? reg->cap * 2 : 16;
                struct io_range *n = realloc(reg->ranges, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                reg->ranges = n;
                reg->cap = cap;
        }
        memmove(&reg->ranges[pos + 1], &reg->ranges[pos], (reg->n - pos) * sizeof *reg->ranges);
        reg->ranges[pos] = (struct io_range){ .base = base, .len = len, .ops = ops, .opaque = opaque };
        reg->n++;
        return 0;
}

int vid_register_pio(struct vid_partition *p, uint16_t base, uint16_t len, const struct vid_io_ops *ops,
                     void *opaque) {
        return io_register(p, &p->pio, base, len, 0x10000, ops, opaque);
}

int vid_register_mmio(struct vid_partition *p, uint64_t base, uint64_t len, const struct vid_io_ops *ops,
                      void *opaque) {
        return io_register(p, &p->mmio, base, len, UINT64_MAX, ops, opaque);
}

static uint32_t window_base(uint32_t base, uint32_t len) {
        return base != VID_PIO_WINDOW_OFF && base <= 0x10000u - len ? base : VID_PIO_WINDOW_OFF;
}

int vid_register_pio_window(struct vid_partition *p, uint32_t base, uint16_t len, const struct vid_io_ops *ops,
                            void *opaque, unsigned *window) {
        struct io_registry *reg = &p->pio;
        if (len == 0 || !ops || !window)
                return -EINVAL;
        if (p->started)
                return -EBUSY;
        if (reg->n_windows == VID_PIO_WINDOWS_MAX)
                return -ENOSPC;
        struct io_window *w = &reg->windows[reg->n_windows];
        w->len = len, w->ops = ops, w->opaque = opaque;
        atomic_store(&w->base, window_base(base, len));
        *window = reg->n_windows++;
        return 0;
}

int vid_pio_window_move(struct vid_partition *p, unsigned window, uint32_t base) {
        if (window >= p->pio.n_windows)
                return -EINVAL;
        struct io_window *w = &p->pio.windows[window];
        atomic_store(&w->base, window_base(base, w->len));
        return 0;
}

/* The window holding the whole access, with its offset there. */
static struct io_window *window_find(struct io_registry *reg, uint64_t addr, unsigned len, uint64_t *offset) {
        for (unsigned i = 0; i < reg->n_windows; i++) {
                struct io_window *w = &reg->windows[i];
                uint32_t base = atomic_load(&w->base);
                if (base != VID_PIO_WINDOW_OFF && addr >= base && addr + len <= (uint64_t)base + w->len) {
                        *offset = addr - base;
                        return w;
                }
        }
        return NULL;
}

static const struct io_range *io_find(const struct io_registry *reg, uint64_t addr, unsigned len) {
        size_t lo = 0, hi = reg->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                const struct io_range *r = &reg->ranges[mid];
                if (addr < r->base)
                        hi = mid;
                else if (addr >= r->base + r->len)
                        lo = mid + 1;
                else
                        /* The access must fit inside the range; a straddling
                         * access is unclaimed, like on real hardware. */
                        return addr + len <= r->base + r->len ? r : NULL;
        }
        return NULL;
}

/* Returns 0 if a device handled it, -ENOENT if nothing is there (reads
 * then see all ones, writes are dropped). */
int vid_io_dispatch(struct io_registry *reg, struct vid_vp *vp, uint64_t addr, void *data, unsigned len,
                    bool write) {
        const struct io_range *r = io_find(reg, addr, len);
        const struct vid_io_ops *ops;
        void *opaque;
        uint64_t offset;
        if (r) {
                ops = r->ops, opaque = r->opaque, offset = addr - r->base;
        } else {
                struct io_window *w = window_find(reg, addr, len, &offset);
                if (!w) {
                        if (!write)
                                memset(data, 0xff, len);
                        return -ENOENT;
                }
                ops = w->ops, opaque = w->opaque;
        }
        if (write) {
                if (ops->write)
                        ops->write(opaque, vp, offset, data, len);
        } else {
                memset(data, 0xff, len);
                if (ops->read)
                        ops->read(opaque, vp, offset, data, len);
        }
        return 0;
}

void vid_io_free(struct io_registry *reg) {
        free(reg->ranges);
        *reg = (struct io_registry){ 0 };
}
