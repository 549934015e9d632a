// SPDX-License-Identifier: MIT
/* GPADLs, guest side (§4.5): one range per GPADL like Linux, a header
 * message with up to 26 PFNs and body messages with up to 28 each. */
#include "internal.h"

/* range_buflen is a u16 holding 8 + 8 * PFNs. */
#define VSC_GPADL_MAX_PAGES ((0xffffu - sizeof(struct vmbus_gpa_range)) / sizeof(uint64_t))

static uint64_t pfn_of(struct vsc_bus *bus, const void *buf, size_t page) {
        return bus->ops->virt_to_phys(bus->ctx, (const uint8_t *)buf + page * VMBUS_PAGE_SIZE) >> 12;
}

static int send_header(struct vsc_bus *bus, uint32_t relid, uint32_t handle, const void *buf, size_t pages) {
        uint8_t msg[HV_MESSAGE_PAYLOAD_BYTES];
        struct vmbus_channel_gpadl_header h;
        struct vmbus_gpa_range range = { .byte_count = (uint32_t)(pages * VMBUS_PAGE_SIZE), .byte_offset = 0 };
        size_t n = pages < VMBUS_GPADL_HEADER_MAX_PFNS ? pages : VMBUS_GPADL_HEADER_MAX_PFNS;

        vsc_memset(&h, 0, sizeof h);
        h.header.msgtype = CHANNELMSG_GPADL_HEADER;
        h.child_relid = relid;
        h.gpadl = handle;
        h.range_buflen = (uint16_t)(sizeof range + pages * sizeof(uint64_t));
        h.rangecount = 1;
        vsc_memcpy(msg, &h, sizeof h);
        vsc_memcpy(msg + sizeof h, &range, sizeof range);
        for (size_t i = 0; i < n; i++) {
                uint64_t pfn = pfn_of(bus, buf, i);
                vsc_memcpy(msg + sizeof h + sizeof range + i * 8, &pfn, 8);
        }
        return vsc_post_message(bus, 0, msg, sizeof h + sizeof range + n * 8, false);
}

static int send_bodies(struct vsc_bus *bus, uint32_t handle, const void *buf, size_t pages) {
        uint8_t msg[HV_MESSAGE_PAYLOAD_BYTES];
        for (size_t next = VMBUS_GPADL_HEADER_MAX_PFNS; next < pages;) {
                size_t n = pages - next < VMBUS_GPADL_BODY_MAX_PFNS ? pages - next : VMBUS_GPADL_BODY_MAX_PFNS;
                struct vmbus_channel_gpadl_body b;
                vsc_memset(&b, 0, sizeof b);
                b.header.msgtype = CHANNELMSG_GPADL_BODY;
                b.msgnumber = 0; /* Linux leaves it 0 (§4.5) */
                b.gpadl = handle;
                vsc_memcpy(msg, &b, sizeof b);
                for (size_t i = 0; i < n; i++) {
                        uint64_t pfn = pfn_of(bus, buf, next + i);
                        vsc_memcpy(msg + sizeof b + i * 8, &pfn, 8);
                }
                int r = vsc_post_message(bus, 0, msg, sizeof b + n * 8, false);
                if (r < 0)
                        return r;
                next += n;
        }
        return 0;
}

int vsc_gpadl_create(struct vsc_bus *bus, uint32_t relid, const void *buf, size_t bytes, uint32_t *handle) {
        if (!bus->version)
                return vsc_fail(bus, -ENOTCONN, "GPADL before connecting");
        if (bytes == 0 || bytes % VMBUS_PAGE_SIZE || (uintptr_t)buf % VMBUS_PAGE_SIZE)
                return vsc_fail(bus, -EINVAL, "GPADL buffer must be whole, aligned pages");
        size_t pages = bytes / VMBUS_PAGE_SIZE;
        if (pages > VSC_GPADL_MAX_PAGES)
                return vsc_fail(bus, -E2BIG, "GPADL of %zu pages (at most %zu)", pages, (size_t)VSC_GPADL_MAX_PAGES);
        uint32_t h = bus->next_gpadl++;
        int r = send_header(bus, relid, h, buf, pages);
        if (r >= 0)
                r = send_bodies(bus, h, buf, pages);
        if (r < 0)
                return r;
        struct vsc_msg m;
        r = vsc_wait_message(bus, CHANNELMSG_GPADL_CREATED, &m);
        if (r < 0)
                return r;
        const struct vmbus_channel_gpadl_created *c = &m.u.gpadl_created;
        /* One request at a time: an answer for anything else is a host bug. */
        if (c->gpadl != h || c->child_relid != relid)
                return vsc_fail(bus, -EPROTO,
                                "bad host message: GPADL_CREATED for handle 0x%x relid %u, expected 0x%x relid %u",
                                c->gpadl, c->child_relid, h, relid);
        if (c->creation_status != 0)
                return vsc_fail(bus, -EIO, "host refused GPADL 0x%x (relid %u): status 0x%x", h, relid,
                                c->creation_status);
        *handle = h;
        return 0;
}

int vsc_gpadl_teardown(struct vsc_bus *bus, uint32_t relid, uint32_t handle) {
        if (!bus->version)
                return vsc_fail(bus, -ENOTCONN, "GPADL teardown before connecting");
        struct vmbus_channel_gpadl_teardown t;
        vsc_memset(&t, 0, sizeof t);
        t.header.msgtype = CHANNELMSG_GPADL_TEARDOWN;
        t.child_relid = relid;
        t.gpadl = handle;
        int r = vsc_post_message(bus, 0, &t, sizeof t, false);
        if (r < 0)
                return r;
        struct vsc_msg m;
        r = vsc_wait_message(bus, CHANNELMSG_GPADL_TORNDOWN, &m);
        if (r < 0)
                return r;
        if (m.u.gpadl_torndown.gpadl != handle)
                return vsc_fail(bus, -EPROTO, "bad host message: GPADL_TORNDOWN for handle 0x%x, expected 0x%x",
                                m.u.gpadl_torndown.gpadl, handle);
        return 0;
}
