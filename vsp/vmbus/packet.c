// SPDX-License-Identifier: MIT
/* Parsers for the descriptor extensions of ring packets (§5.3). They run on
 * a packet already copied out of the ring by vmbus_ring_recv(), so the
 * bytes cannot change under them; every count is still guest-chosen and is
 * checked against the packet's own offset8 before it is used. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "vmbus/ring.h"

#define GPA_DIRECT_RANGES_AT 24u /* reserved u32 @16, range_cnt u32 @20 */
#define PFN_LIMIT (1ull << 52)   /* 64-bit physical addresses: 52 bits */

uint64_t vmbus_gpa_range_pfn(const struct vmbus_gpa_range_view *r, uint32_t i) {
        uint64_t pfn = 0;
        if (i < r->n_pfns)
                memcpy(&pfn, r->pfns + (size_t)i * sizeof pfn, sizeof pfn);
        return pfn;
}

/* One range at pos: fills *v and returns the bytes it occupies. */
static int parse_gpa_range(const struct vmbus_packet *p, uint32_t pos, struct vmbus_gpa_range_view *v) {
        struct vmbus_gpa_range hdr;
        if ((uint64_t)pos + sizeof hdr > p->offset)
                return -EBADMSG;
        memcpy(&hdr, p->data + pos, sizeof hdr);
        if (hdr.byte_count == 0 || hdr.byte_offset >= VMBUS_PAGE_SIZE)
                return -EBADMSG;
        uint64_t n = DIV_ROUND_UP((uint64_t)hdr.byte_offset + hdr.byte_count, VMBUS_PAGE_SIZE);
        if (n > VMBUS_GPA_DIRECT_MAX_PFNS)
                return -E2BIG;
        uint64_t end = (uint64_t)pos + sizeof hdr + n * sizeof(uint64_t);
        if (end > p->offset)
                return -EBADMSG;
        *v = (struct vmbus_gpa_range_view){ .byte_count = hdr.byte_count, .byte_offset = hdr.byte_offset,
                                            .n_pfns = (uint32_t)n, .pfns = p->data + pos + sizeof hdr };
        for (uint32_t i = 0; i < v->n_pfns; i++)
                if (vmbus_gpa_range_pfn(v, i) >= PFN_LIMIT)
                        return -EBADMSG;
        return (int)(end - pos);
}

int vmbus_packet_parse_gpa_direct(const struct vmbus_packet *p, struct vmbus_gpa_range_view *out, size_t max) {
        if (p->type != VM_PKT_DATA_USING_GPA_DIRECT || p->offset < GPA_DIRECT_RANGES_AT)
                return -EBADMSG;
        uint32_t range_cnt;
        memcpy(&range_cnt, p->data + 20, sizeof range_cnt);
        if (range_cnt == 0)
                return -EBADMSG;
        if (range_cnt > VMBUS_GPA_DIRECT_MAX_RANGES || range_cnt > max)
                return -E2BIG;
        uint32_t pos = GPA_DIRECT_RANGES_AT, total = 0;
        for (uint32_t i = 0; i < range_cnt; i++) {
                int n = parse_gpa_range(p, pos, &out[i]);
                if (n < 0)
                        return n;
                total += out[i].n_pfns;
                if (total > VMBUS_GPA_DIRECT_MAX_PFNS)
                        return -E2BIG;
                pos += (uint32_t)n;
        }
        return (int)range_cnt;
}

int vmbus_packet_parse_xfer_pages(const struct vmbus_packet *p, uint16_t *pageset_id,
                                  const struct vmtransfer_page_range **ranges) {
        if (p->type != VM_PKT_DATA_USING_XFER_PAGES || p->offset < sizeof(struct vmtransfer_page_packet_header))
                return -EBADMSG;
        struct vmtransfer_page_packet_header h;
        memcpy(&h, p->data, sizeof h);
        /* §5.3: offset8 * 8 must cover 24 + 8 * range_cnt. */
        if (h.range_cnt == 0 || (uint64_t)sizeof h + (uint64_t)h.range_cnt * 8u > p->offset)
                return -EBADMSG;
        *pageset_id = h.xfer_pageset_id;
        *ranges = (const struct vmtransfer_page_range *)(const void *)(p->data + sizeof h);
        return (int)h.range_cnt;
}
