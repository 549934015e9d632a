// SPDX-License-Identifier: MIT
/* A read-only consistency check of the BAT against the file: blocks that
 * overlap one another or lie past the end of the file, and the space past
 * the last structure: with data, what an allocation never committed (a
 * crash between an allocation and the guest's flush leaves such a tail);
 * empty (holes or zeros), space reserved and never written, which
 * qemu-img leaves in every dynamic image it makes (block/vhdx.c
 * vhdx_create_bat truncates the file to 5 MiB past the BAT "for future
 * expansion": 4 MiB past the metadata region). Either is harmless: the
 * next allocation takes the space (open.c: eof is the end of the last
 * structure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"

#include "common/macro.h"
#include "vhdx-internal.h"

static int span_cmp(const void *a, const void *b) {
        const struct vhdx_span *x = a, *y = b;
        return x->off < y->off ? -1 : x->off > y->off;
}

bool vhdx_bat_present(const struct vhdx *v, uint64_t i) {
        unsigned st = VHDX_BAT_STATE(v->bat[i]);
        if (vhdx_bat_is_sb(v, i))
                return st == VHDX_SB_PRESENT;
        return st == VHDX_PAYLOAD_FULLY_PRESENT || st == VHDX_PAYLOAD_PARTIALLY_PRESENT;
}

struct vhdx_span *vhdx_present_spans(const struct vhdx *v, size_t *n) {
        size_t k = 0;
        for (uint64_t i = 0; i < v->n_bat; i++)
                k += vhdx_bat_present(v, i);
        struct vhdx_span *s = calloc(k ? k : 1, sizeof *s);
        if (!s)
                return NULL;
        k = 0;
        for (uint64_t i = 0; i < v->n_bat; i++)
                if (vhdx_bat_present(v, i))
                        s[k++] = (struct vhdx_span){ VHDX_BAT_OFFSET(v->bat[i]), vhdx_bat_len(v, i), i };
        qsort(s, k, sizeof *s, span_cmp);
        *n = k;
        return s;
}

static void report(struct vhdx_check_report *r, const char *what, uint64_t index) {
        if (r->errors++ == 0)
                snprintf(r->first_error, sizeof r->first_error, "BAT entry %llu %s", (unsigned long long)index, what);
}

struct tail_scan {
        int fd;
        uint64_t from;
        uint8_t *buf;
        size_t len;
};

/* 1 at the first non-zero byte of a data extent at or past t->from. */
static int tail_data_nonzero(void *opaque, uint64_t from, uint64_t to) {
        struct tail_scan *t = opaque;
        for (uint64_t off = MAX(from, t->from); off < to;) {
                size_t n = (size_t)MIN(to - off, (uint64_t)t->len);
                ssize_t k = pread(t->fd, t->buf, n, (off_t)off);
                if (k <= 0)
                        return k < 0 ? -errno : 1; /* cut short: say "data", the old message */
                for (ssize_t i = 0; i < k; i++)
                        if (t->buf[i])
                                return 1;
                off += (uint64_t)k;
        }
        return 0;
}

/* Whether [from, size) of fd reads as zeros (holes are skipped, never
 * read); an error counts as "not empty". */
static bool tail_is_empty(int fd, uint64_t from, uint64_t size) {
        struct tail_scan t = { .fd = fd, .from = from, .len = 1 << 20 };
        _cleanup_free_ uint8_t *buf = t.buf = vhdx_buf(t.len);
        return buf && fd_for_each_data(fd, size, tail_data_nonzero, &t) == 0;
}

int vhdx_check(struct vhdx *v, struct vhdx_check_report *r) {
        struct stat st;
        if (fstat(v->fd, &st) < 0)
                return -errno;
        *r = (struct vhdx_check_report){ 0 };
        uint64_t end = MAX(MAX(v->hdr.log_offset + v->hdr.log_length, v->bat_region.offset + v->bat_region.length),
                           v->meta_region.offset + v->meta_region.length);
        size_t n = 0;
        pthread_mutex_lock(&v->lock);
        _cleanup_free_ struct vhdx_span *s = vhdx_present_spans(v, &n);
        pthread_mutex_unlock(&v->lock);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (i && s[i].off < s[i - 1].off + s[i - 1].len)
                        report(r, "overlaps another block", s[i].index);
                if (s[i].off + s[i].len > (uint64_t)st.st_size)
                        report(r, "lies past the end of the file", s[i].index);
                end = MAX(end, s[i].off + s[i].len);
        }
        r->leaked = (uint64_t)st.st_size > end ? (uint64_t)st.st_size - end : 0;
        r->leaked_empty = r->leaked && tail_is_empty(v->fd, end, (uint64_t)st.st_size);
        return 0;
}
