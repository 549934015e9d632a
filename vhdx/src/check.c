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

struct span {
        uint64_t off, len, index;
};

static int span_cmp(const void *a, const void *b) {
        const struct span *x = a, *y = b;
        return x->off < y->off ? -1 : x->off > y->off;
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
        _cleanup_free_ struct span *s = calloc(v->n_bat ? v->n_bat : 1, sizeof *s);
        if (!s)
                return -ENOMEM;
        size_t n = 0;
        uint64_t end = MAX(MAX(v->hdr.log_offset + v->hdr.log_length, v->bat_region.offset + v->bat_region.length),
                           v->meta_region.offset + v->meta_region.length);
        pthread_mutex_lock(&v->lock);
        for (uint64_t i = 0; i < v->n_bat; i++) {
                uint64_t e = v->bat[i];
                bool sb = (i + 1) % (v->chunk_ratio + 1) == 0;
                unsigned state = VHDX_BAT_STATE(e);
                bool present = sb ? state == VHDX_SB_PRESENT
                                  : state == VHDX_PAYLOAD_FULLY_PRESENT || state == VHDX_PAYLOAD_PARTIALLY_PRESENT;
                if (present)
                        s[n++] = (struct span){ VHDX_BAT_OFFSET(e), sb ? VHDX_SB_BLOCK_SIZE : v->meta.block_size, i };
        }
        pthread_mutex_unlock(&v->lock);
        qsort(s, n, sizeof *s, span_cmp);
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
