// SPDX-License-Identifier: MIT
/* VMBus data-packet decoding (GPA-direct ranges, §5.3) and byte streams
 * over host segments (the §7.6 message stream). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "hv/vmbus.h"
#include "netvsp/sg.h"

/* Splits the ranges at p[0, len) (range_cnt of them) into pages. */
static int decode_ranges(const uint8_t *p, size_t len, uint32_t range_cnt, struct netvsp_vmbus_packet *out) {
        size_t pos = 0;
        for (uint32_t r = 0; r < range_cnt; r++) {
                struct vmbus_gpa_range h;
                if (len - pos < sizeof h)
                        return -EBADMSG;
                memcpy(&h, p + pos, sizeof h);
                pos += sizeof h;
                if (h.byte_offset >= VMBUS_PAGE_SIZE || h.byte_count == 0)
                        return -EBADMSG;
                uint64_t n_pfns = ((uint64_t)h.byte_offset + h.byte_count + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE;
                if (n_pfns > NETVSP_MAX_GPA_PAGES - out->n_pages || (len - pos) / 8 < n_pfns)
                        return -EBADMSG;
                uint32_t off = h.byte_offset, left = h.byte_count;
                for (uint64_t i = 0; i < n_pfns; i++) {
                        uint64_t pfn;
                        memcpy(&pfn, p + pos, 8);
                        pos += 8;
                        if (pfn > (UINT64_MAX >> 12))
                                return -EBADMSG;
                        uint32_t n = MIN(left, VMBUS_PAGE_SIZE - off);
                        out->pages[out->n_pages++] = (struct netvsp_gpa_page){ (pfn << 12) + off, n };
                        out->gpa_bytes += n;
                        left -= n;
                        off = 0;
                }
        }
        return 0;
}

int netvsp_vmbus_packet_decode(const void *pkt, size_t len, struct netvsp_vmbus_packet *out) {
        const uint8_t *p = pkt;
        struct vmpacket_descriptor d;
        size_t off, total;

        if (!pkt || !out)
                return -EINVAL;
        memset(out, 0, offsetof(struct netvsp_vmbus_packet, pages));
        out->gpa_bytes = 0;
        if (len < sizeof d)
                return -EBADMSG;
        memcpy(&d, p, sizeof d);
        off = (size_t)d.offset8 * 8;
        total = (size_t)d.len8 * 8;
        /* offset8 may leave padding after the extra fields; len8 covers the padded payload */
        if (off < sizeof d || off > total || total > len)
                return -EBADMSG;
        out->type = d.type;
        out->flags = d.flags;
        out->trans_id = d.trans_id;
        out->payload = p + off;
        out->payload_len = (uint32_t)(total - off);
        if (d.type == VM_PKT_DATA_USING_GPA_DIRECT) {
                uint32_t range_cnt;
                if (off < sizeof(struct vmbus_gpa_direct_header))
                        return -EBADMSG;
                memcpy(&range_cnt, p + 20, sizeof range_cnt);
                if (range_cnt > NETVSP_MAX_GPA_PAGES)
                        return -EBADMSG;
                return decode_ranges(p + 24, off - 24, range_cnt, out);
        }
        if (d.type != VM_PKT_DATA_INBAND && d.type != VM_PKT_COMP)
                return -EBADMSG;
        return 0;
}

int netvsp_sg_append(struct netvsp_sg *sg, void *base, size_t len) {
        if (len == 0)
                return 0;
        if (sg->n > 0) {
                struct iovec *last = &sg->seg[sg->n - 1];
                if ((uint8_t *)last->iov_base + last->iov_len == (uint8_t *)base) {
                        last->iov_len += len;
                        sg->total += len;
                        return 0;
                }
        }
        if (sg->n == NETVSP_SG_MAX)
                return -E2BIG;
        sg->seg[sg->n++] = (struct iovec){ base, len };
        sg->total += len;
        return 0;
}

int netvsp_sg_slice(const struct netvsp_sg *sg, size_t off, size_t len, struct iovec *out, unsigned max) {
        unsigned n = 0;
        if (off > sg->total || len > sg->total - off)
                return -ERANGE;
        for (unsigned i = 0; i < sg->n && len > 0; i++) {
                size_t sl = sg->seg[i].iov_len;
                if (off >= sl) {
                        off -= sl;
                        continue;
                }
                if (n == max)
                        return -E2BIG;
                size_t take = MIN(sl - off, len);
                out[n++] = (struct iovec){ (uint8_t *)sg->seg[i].iov_base + off, take };
                len -= take;
                off = 0;
        }
        return (int)n;
}

size_t netvsp_sg_copy(const struct netvsp_sg *sg, size_t off, void *buf, size_t len) {
        size_t done = 0;
        for (unsigned i = 0; i < sg->n && done < len; i++) {
                size_t sl = sg->seg[i].iov_len;
                if (off >= sl) {
                        off -= sl;
                        continue;
                }
                size_t take = MIN(sl - off, len - done);
                memcpy((uint8_t *)buf + done, (const uint8_t *)sg->seg[i].iov_base + off, take);
                done += take;
                off = 0;
        }
        return done;
}
