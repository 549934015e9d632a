// SPDX-License-Identifier: MIT
/* Dynamic Memory messages (hv/dm.h): what the guest sends, checked and
 * copied into plain fields, and what the host sends, built. Pure: fuzzed
 * by tests/fuzz/fuzz-dm.c. */
#include <errno.h>
#include <string.h>

#include "dmvsp/dmvsp.h"
#include "hv/dm.h"

static uint64_t le64(const uint8_t *p) {
        return vmstate_le64(p);
}

/* The guest's messages are as long as their header says (Linux sends
 * exactly hdr.size bytes; the ring pads the packet to 8). */
static int fixed(const struct dm_header *h, size_t len, size_t want) {
        return h->size == want && want <= len ? 0 : -EBADMSG;
}

int dm_parse_guest(const uint8_t *p, size_t len, struct dm_guest_msg *out) {
        struct dm_header h;
        *out = (struct dm_guest_msg){ 0 };
        if (len < sizeof h)
                return -EBADMSG;
        memcpy(&h, p, sizeof h);
        if (h.size < sizeof h || h.size > len || h.size > DM_MESSAGE_MAX)
                return -EBADMSG;
        out->type = h.type;
        out->trans_id = h.trans_id;
        switch (h.type) {
        case DM_VERSION_REQUEST: {
                struct dm_version_request m;
                if (fixed(&h, len, sizeof m) < 0)
                        return -EBADMSG;
                memcpy(&m, p, sizeof m);
                out->version = m.version;
                out->last_attempt = m.flags & 1u;
                return 0;
        }
        case DM_CAPABILITIES_REPORT: {
                struct dm_capabilities m;
                if (fixed(&h, len, sizeof m) < 0)
                        return -EBADMSG;
                memcpy(&m, p, sizeof m);
                out->caps = m.caps;
                return 0;
        }
        case DM_STATUS_REPORT: {
                struct dm_status m;
                if (fixed(&h, len, sizeof m) < 0)
                        return -EBADMSG;
                memcpy(&m, p, sizeof m);
                out->avail = m.num_avail;
                out->committed = m.num_committed;
                return 0;
        }
        case DM_BALLOON_RESPONSE: {
                struct dm_balloon_response m;
                if (h.size < sizeof m)
                        return -EBADMSG;
                memcpy(&m, p, sizeof m);
                uint32_t n = DM_BALLOON_RANGE_COUNT(m.flags);
                if (n > DM_RANGES_PER_MESSAGE || fixed(&h, len, sizeof m + 8u * (size_t)n) < 0)
                        return -EBADMSG;
                out->more = m.flags & DM_MORE_PAGES;
                out->n_ranges = n;
                out->ranges = p + sizeof m;
                return 0;
        }
        case DM_UNBALLOON_RESPONSE:
                return fixed(&h, len, sizeof(struct dm_unballoon_response));
        case DM_MEM_HOT_ADD_RESPONSE: {
                struct dm_hot_add_response m;
                if (fixed(&h, len, sizeof m) < 0)
                        return -EBADMSG;
                memcpy(&m, p, sizeof m);
                out->page_count = m.page_count;
                out->result = m.result;
                return 0;
        }
        default:
                return -ENOTSUP;
        }
}

uint64_t dm_guest_msg_range(const struct dm_guest_msg *m, uint32_t i) {
        return le64(m->ranges + 8u * i);
}

static void header(uint8_t *buf, uint16_t type, size_t size, uint32_t trans_id) {
        struct dm_header h = { .type = type, .size = (uint16_t)size, .trans_id = trans_id };
        memcpy(buf, &h, sizeof h);
}

size_t dm_build_version_response(uint8_t *buf, uint32_t trans_id, bool accepted) {
        struct dm_version_response m = { .flags = accepted ? 1u : 0u };
        header((uint8_t *)&m, DM_VERSION_RESPONSE, sizeof m, trans_id);
        memcpy(buf, &m, sizeof m);
        return sizeof m;
}

size_t dm_build_caps_response(uint8_t *buf, uint32_t trans_id, bool accepted) {
        struct dm_capabilities_response m = { .flags = accepted ? 1u : 0u };
        header((uint8_t *)&m, DM_CAPABILITIES_RESPONSE, sizeof m, trans_id);
        memcpy(buf, &m, sizeof m);
        return sizeof m;
}

size_t dm_build_balloon(uint8_t *buf, uint32_t trans_id, uint32_t pages) {
        struct dm_balloon m = { .num_pages = pages };
        header((uint8_t *)&m, DM_BALLOON_REQUEST, sizeof m, trans_id);
        memcpy(buf, &m, sizeof m);
        return sizeof m;
}

size_t dm_build_unballoon(uint8_t *buf, uint32_t trans_id, bool more, const uint64_t *ranges, size_t n) {
        if (n > DM_RANGES_PER_MESSAGE)
                return 0;
        size_t len = sizeof(struct dm_unballoon_request) + 8u * n;
        struct dm_unballoon_request m = { .flags = more ? DM_MORE_PAGES : 0u, .range_count = (uint32_t)n };
        header((uint8_t *)&m, DM_UNBALLOON_REQUEST, len, trans_id);
        memcpy(buf, &m, sizeof m);
        for (size_t i = 0; i < n; i++)
                vmstate_put_le64(buf + sizeof m + 8u * i, ranges[i]);
        return len;
}

size_t dm_build_hot_add(uint8_t *buf, uint32_t trans_id, uint64_t pfn, uint64_t pages) {
        struct dm_hot_add m = { .range = DM_RANGE(pfn, pages) };
        header((uint8_t *)&m, DM_MEM_HOT_ADD_REQUEST, sizeof m, trans_id);
        memcpy(buf, &m, sizeof m);
        return sizeof m;
}

size_t dm_build_info_max_pages(uint8_t *buf, uint32_t trans_id, uint64_t max_pages) {
        struct dm_info_msg m = { .info_size = sizeof(struct dm_info_header) + 8u };
        struct dm_info_header ih = { .type = DM_INFO_TYPE_MAX_PAGE_CNT, .data_size = 8u };
        size_t len = sizeof m + sizeof ih + 8u;
        header((uint8_t *)&m, DM_INFO_MESSAGE, len, trans_id);
        memcpy(buf, &m, sizeof m);
        memcpy(buf + sizeof m, &ih, sizeof ih);
        vmstate_put_le64(buf + sizeof m + sizeof ih, max_pages);
        return len;
}
