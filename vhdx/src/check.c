// SPDX-License-Identifier: MIT
/* A read-only consistency check of the BAT against the file: blocks that
 * overlap one another or lie past the end of the file, and the space past
 * the last structure that an allocation never committed (a crash between
 * an allocation and the guest's flush leaves such a tail). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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
        return 0;
}
