// SPDX-License-Identifier: MIT
/* Guest buffers of GPA-direct requests (§6.5) as host iovecs. Only the
 * first page may start at an offset; physically contiguous pages that map
 * to contiguous host memory (always the case inside one RAM region, whose
 * memfd is mapped linearly) become one iovec, so a typical request turns
 * into few segments and the disk reads/writes guest RAM directly. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "storvsp-internal.h"

#define GUEST_PAGE 4096u
#define MAX_PFN (UINT64_MAX >> 12)

int storvsp_map_buffer(const struct storvsp_guest_memory *gm, const struct storvsp_buffer *buf, uint32_t len,
                       struct iovec *iov, unsigned max_iov, unsigned *n) {
        *n = 0;
        if (len > buf->len)
                return -EINVAL;
        uint32_t off = buf->offset, left = len;
        for (uint32_t i = 0; left > 0; i++) {
                if (i >= buf->n_pfns)
                        return -EINVAL;
                uint64_t pfn = storvsp_buffer_pfn(buf, i);
                if (pfn > MAX_PFN)
                        return -EFAULT;
                size_t seg = MIN((size_t)(GUEST_PAGE - off), (size_t)left);
                void *host;
                int r = gm->map(gm->opaque, pfn * GUEST_PAGE + off, seg, &host);
                if (r < 0)
                        return r;
                if (*n > 0 && (uint8_t *)iov[*n - 1].iov_base + iov[*n - 1].iov_len == host) {
                        iov[*n - 1].iov_len += seg;
                } else {
                        if (*n >= max_iov)
                                return -E2BIG;
                        iov[(*n)++] = (struct iovec){ host, seg };
                }
                left -= (uint32_t)seg;
                off = 0;
        }
        return 0;
}

void storvsp_iov_from_buf(const struct iovec *iov, unsigned n, const void *src, size_t len) {
        const uint8_t *p = src;
        for (unsigned i = 0; i < n && len; i++) {
                size_t k = MIN(len, iov[i].iov_len);
                memcpy(iov[i].iov_base, p, k);
                p += k;
                len -= k;
        }
}

void storvsp_iov_mark_dirty(const struct storvsp_guest_memory *gm, const struct iovec *iov, unsigned n) {
        if (!gm->mark_dirty)
                return;
        for (unsigned i = 0; i < n; i++)
                gm->mark_dirty(gm->opaque, iov[i].iov_base, iov[i].iov_len);
}

void storvsp_iov_to_buf(const struct iovec *iov, unsigned n, void *dst, size_t len) {
        uint8_t *p = dst;
        for (unsigned i = 0; i < n && len; i++) {
                size_t k = MIN(len, iov[i].iov_len);
                memcpy(p, iov[i].iov_base, k);
                p += k;
                len -= k;
        }
}
