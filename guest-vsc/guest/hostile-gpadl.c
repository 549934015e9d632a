// SPDX-License-Identifier: MIT
/* vsc.hostile=gpadl: GPADLs the host must refuse (docs/vmbus.md, "GPADLs"
 * and "Limits"): PFNs past RAM, in the MMIO hole, >= 2^52; page counts the
 * ranges and range_buflen disagree on; huge claims; the per-VM limits
 * (pending, per channel, pages in all); duplicate and zero handles; bodies
 * that overflow or are not whole PFNs; teardowns of unknown, foreign and
 * in-use GPADLs; ring GPADLs OPENCHANNEL must refuse (too small, split,
 * several ranges, an offset, another channel's, indices out of range). A
 * refused GPADL gets GPADL_CREATED with a failure status; every teardown
 * the host owes is answered. Then the survivor check. */
#include "hostile.h"

static const uint8_t heartbeat_class[16] = HV_HEART_BEAT_GUID;
static const uint8_t shutdown_class[16] = HV_SHUTDOWN_GUID;

#define HDR sizeof(struct vmbus_channel_gpadl_header)
#define RAM_PFN 0x400u /* 4 MiB: inside every guest's RAM, past the image */

struct range {
        uint32_t byte_count, byte_offset;
        unsigned n_pfns;
        uint64_t pfns[4];
};

/* A GPADL_HEADER: range_buflen and rangecount as given, then the ranges
 * (header and PFNs each), as many bytes of them as `carry` says (all: ~0). */
static uint32_t header_msg(uint8_t *m, uint32_t relid, uint32_t handle, uint16_t buflen, uint16_t rangecount,
                           const struct range *r, unsigned n, uint32_t carry) {
        struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
                                                .gpadl = handle, .range_buflen = buflen, .rangecount = rangecount };
        uint32_t len = HDR;
        memcpy(m, &h, sizeof h);
        for (unsigned i = 0; i < n; i++) {
                struct vmbus_gpa_range g = { .byte_count = r[i].byte_count, .byte_offset = r[i].byte_offset };
                memcpy(m + len, &g, sizeof g);
                memcpy(m + len + sizeof g, r[i].pfns, r[i].n_pfns * 8u);
                len += (uint32_t)sizeof g + r[i].n_pfns * 8u;
        }
        return carry < len - HDR ? HDR + carry : len;
}

static bool created(const struct hostile *h, uint32_t handle, bool ok) {
        const struct vsc_msg *m = hostile_reply(h, CHANNELMSG_GPADL_CREATED);
        return h->n_replies == 1 && m && m->u.gpadl_created.gpadl == handle &&
               (m->u.gpadl_created.creation_status == 0) == ok;
}

static bool torndown(const struct hostile *h, uint32_t handle) {
        const struct vsc_msg *m = hostile_reply(h, CHANNELMSG_GPADL_TORNDOWN);
        return h->n_replies == 1 && m && m->u.gpadl_torndown.gpadl == handle;
}

/* Sends a message, the barrier; the case is ok if check() says so. */
static int send_case(struct hostile *h, const char *name, const void *m, uint32_t len,
                     bool (*check)(const struct hostile *, uint32_t, bool), uint32_t handle, bool arg) {
        uint16_t st = hostile_send(h, m, len);
        int r = hostile_barrier(h);
        if (r < 0)
                return r;
        char got[96];
        hostile_replies_text(h, got, sizeof got);
        bool ok = st == HV_STATUS_SUCCESS && check(h, handle, arg);
        hostile_case(h, name, ok, "sent=%u handle=0x%x reply=%s%s", len, handle, got,
                     h->n_replies && h->replies[0].type == CHANNELMSG_GPADL_CREATED
                             ? (h->replies[0].u.gpadl_created.creation_status ? ":refused" : ":created")
                             : "");
        return 0;
}

static bool check_refused(const struct hostile *h, uint32_t handle, bool unused) {
        return created(h, handle, false);
}
static bool check_torndown(const struct hostile *h, uint32_t handle, bool unused) {
        return torndown(h, handle);
}
static bool check_silent(const struct hostile *h, uint32_t handle, bool unused) {
        return h->n_replies == 0;
}

/* One-range GPADL header that must be refused. */
static int refuse(struct hostile *h, const char *name, uint32_t relid, uint16_t buflen, uint16_t rangecount,
                  const struct range *r, unsigned n, uint32_t carry) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        uint32_t handle = h->next_gpadl++;
        uint32_t len = header_msg(m, relid, handle, buflen, rangecount, r, n, carry);
        return send_case(h, name, m, len, check_refused, handle, false);
}

static int teardown(struct hostile *h, const char *name, uint32_t relid, uint32_t handle,
                    bool (*check)(const struct hostile *, uint32_t, bool)) {
        struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN, .child_relid = relid,
                                                  .gpadl = handle };
        return send_case(h, name, &t, sizeof t, check, handle, false);
}

/* A well-formed GPADL of `pages` contiguous RAM pages from first_pfn, with
 * bodies; 1 if the host created it, 0 if refused, < 0 on error. */
static int make(struct hostile *h, uint32_t relid, uint32_t handle, uint64_t first_pfn, uint32_t pages) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        struct vmbus_channel_gpadl_header hd = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
                                                 .gpadl = handle, .range_buflen = (uint16_t)(8 + 8 * pages),
                                                 .rangecount = 1 };
        struct vmbus_gpa_range g = { .byte_count = pages * 4096u };
        memcpy(m, &hd, sizeof hd);
        memcpy(m + HDR, &g, sizeof g);
        uint32_t n = pages < VMBUS_GPADL_HEADER_MAX_PFNS ? pages : VMBUS_GPADL_HEADER_MAX_PFNS, done = n;
        for (uint32_t i = 0; i < n; i++)
                memcpy(m + HDR + 8 + 8 * i, &(uint64_t){ first_pfn + i }, 8);
        int r = vsc_post_message(h->bus, 0, m, HDR + 8 + 8 * n, false);
        while (r == 0 && done < pages) {
                struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };
                n = pages - done < VMBUS_GPADL_BODY_MAX_PFNS ? pages - done : VMBUS_GPADL_BODY_MAX_PFNS;
                memcpy(m, &b, sizeof b);
                for (uint32_t i = 0; i < n; i++)
                        memcpy(m + sizeof b + 8 * i, &(uint64_t){ first_pfn + done + i }, 8);
                r = vsc_post_message(h->bus, 0, m, (uint32_t)sizeof b + 8 * n, false);
                done += n;
        }
        if (r == 0)
                r = hostile_barrier(h);
        if (r < 0)
                return guest_fail(r, "making GPADL 0x%x: %s", handle, vsc_bus_error(h->bus));
        return created(h, handle, true) ? 1 : created(h, handle, false) ? 0 : -EPROTO;
}

static int bad_pfns(struct hostile *h, uint32_t relid) {
        struct range r = { .byte_count = 4096, .n_pfns = 1 };
        int e;
        r.pfns[0] = (1ull << 40) >> 12;
        e = refuse(h, "pfn_past_ram", relid, 16, 1, &r, 1, ~0u);
        r.pfns[0] = 0xc0000000ull >> 12;
        if (e == 0)
                e = refuse(h, "pfn_mmio_hole", relid, 16, 1, &r, 1, ~0u);
        r.pfns[0] = 0xfee00000ull >> 12;
        if (e == 0)
                e = refuse(h, "pfn_lapic", relid, 16, 1, &r, 1, ~0u);
        r.pfns[0] = 1ull << 52;
        if (e == 0)
                e = refuse(h, "pfn_2_52", relid, 16, 1, &r, 1, ~0u);
        r.pfns[0] = ~0ull;
        if (e == 0)
                e = refuse(h, "pfn_all_ones", relid, 16, 1, &r, 1, ~0u);
        struct range mixed = { .byte_count = 4 * 4096, .n_pfns = 4,
                               .pfns = { RAM_PFN, RAM_PFN + 1, (1ull << 36), RAM_PFN + 3 } };
        if (e == 0)
                e = refuse(h, "pfn_one_of_four_past_ram", relid, 40, 1, &mixed, 1, ~0u);
        return e;
}

static int bad_shapes(struct hostile *h, uint32_t relid) {
        struct range r = { .byte_count = 4096, .n_pfns = 1, .pfns = { RAM_PFN } };
        int e = refuse(h, "range_buflen_odd", relid, 17, 1, &r, 1, ~0u);
        if (e == 0) /* 8190 pages claimed by byte_count, one PFN carried, buffer complete */
                e = refuse(h, "byte_count_8190_pages_one_pfn", relid, 16, 1,
                           &(struct range){ .byte_count = 8190u * 4096u, .n_pfns = 1, .pfns = { RAM_PFN } }, 1, ~0u);
        if (e == 0)
                e = refuse(h, "byte_count_4g", relid, 16, 1,
                           &(struct range){ .byte_count = 0xffffffffu, .n_pfns = 1, .pfns = { RAM_PFN } }, 1, ~0u);
        if (e == 0)
                e = refuse(h, "byte_count_0", relid, 16, 1,
                           &(struct range){ .byte_count = 0, .n_pfns = 1, .pfns = { RAM_PFN } }, 1, ~0u);
        if (e == 0)
                e = refuse(h, "byte_offset_4096", relid, 16, 1,
                           &(struct range){ .byte_count = 8, .byte_offset = 4096, .n_pfns = 1, .pfns = { RAM_PFN } },
                           1, ~0u);
        if (e == 0)
                e = refuse(h, "rangecount_0", relid, 16, 0, &r, 1, ~0u);
        if (e == 0)
                e = refuse(h, "rangecount_65535", relid, 16, 0xffff, &r, 1, ~0u);
        if (e == 0) /* the buffer is complete, its second range is a PFN short */
                e = refuse(h, "second_range_short_of_pfns", relid, 32, 2,
                           (struct range[]){ r, { .byte_count = 8192, .n_pfns = 1, .pfns = { RAM_PFN } } }, 2, ~0u);
        if (e == 0) /* more bytes carried than range_buflen */
                e = refuse(h, "carried_past_range_buflen", relid, 16, 1,
                           &(struct range){ .byte_count = 8192, .n_pfns = 2, .pfns = { RAM_PFN, RAM_PFN + 1 } }, 1,
                           ~0u);
        if (e == 0) /* the range header, one PFN and half of the next */
                e = refuse(h, "carried_not_whole_pfns", relid, 24, 1,
                           &(struct range){ .byte_count = 8192, .n_pfns = 2, .pfns = { RAM_PFN, RAM_PFN + 1 } }, 1,
                           20);
        if (e == 0)
                e = refuse(h, "unknown_relid", 2000, 16, 1, &r, 1, ~0u);
        if (e == 0)
                e = refuse(h, "relid_0", 0, 16, 1, &r, 1, ~0u);
        return e;
}

/* Handles: 0, a duplicate; bodies that overflow or carry half a PFN; a
 * header that never gets its bodies torn down while accumulating. */
static int handles_and_bodies(struct hostile *h, uint32_t relid, uint32_t other_relid) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        struct range r = { .byte_count = 4096, .n_pfns = 1, .pfns = { RAM_PFN } };
        uint32_t len = header_msg(m, relid, 0, 16, 1, &r, 1, ~0u);
        int e = send_case(h, "handle_0", m, len, check_refused, 0, false);
        uint32_t keep = h->next_gpadl++;
        int made = e == 0 ? make(h, relid, keep, RAM_PFN, 4) : e;
        if (made < 0)
                return made;
        hostile_case(h, "valid_4_pages", made == 1, "handle=0x%x created=%d", keep, made);
        len = header_msg(m, relid, keep, 16, 1, &r, 1, ~0u);
        e = send_case(h, "duplicate_handle", m, len, check_refused, keep, false);
        if (e == 0) /* someone else's relid: not answered, not touched */
                e = teardown(h, "teardown_from_other_relid", other_relid, keep, check_silent);
        if (e == 0) /* the original was left alone: its own teardown is answered */
                e = teardown(h, "teardown_after_duplicate", relid, keep, check_torndown);
        if (e == 0)
                e = teardown(h, "teardown_unknown", relid, 0x7e57dead, check_torndown);
        /* 30 pages announced, 26 in the header, the body carries 28 */
        uint32_t pend = h->next_gpadl++;
        struct vmbus_channel_gpadl_header hd = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
                                                 .gpadl = pend, .range_buflen = 8 + 30 * 8, .rangecount = 1 };
        memset(m, 0, sizeof m);
        memcpy(m, &hd, sizeof hd);
        memcpy(m + HDR, &(struct vmbus_gpa_range){ .byte_count = 30 * 4096 }, 8);
        for (unsigned i = 0; i < 26; i++)
                memcpy(m + HDR + 8 + 8 * i, &(uint64_t){ RAM_PFN + i }, 8);
        if (e == 0)
                e = send_case(h, "header_pending", m, HDR + 8 + 26 * 8, check_silent, pend, false);
        struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = pend };
        memcpy(m, &b, sizeof b);
        if (e == 0)
                e = send_case(h, "body_overflows_range_buflen", m, sizeof b + 28 * 8, check_refused, pend, false);
        hd.gpadl = pend = h->next_gpadl++;
        memcpy(m, &hd, sizeof hd);
        memcpy(m + HDR, &(struct vmbus_gpa_range){ .byte_count = 30 * 4096 }, 8);
        if (e == 0)
                e = send_case(h, "header_pending_2", m, HDR + 8 + 26 * 8, check_silent, pend, false);
        b.gpadl = pend;
        memcpy(m, &b, sizeof b);
        if (e == 0)
                e = send_case(h, "body_half_pfn", m, sizeof b + 12, check_refused, pend, false);
        hd.gpadl = pend = h->next_gpadl++;
        memcpy(m, &hd, sizeof hd);
        memcpy(m + HDR, &(struct vmbus_gpa_range){ .byte_count = 30 * 4096 }, 8);
        if (e == 0)
                e = send_case(h, "header_pending_3", m, HDR + 8 + 26 * 8, check_silent, pend, false);
        if (e == 0)
                e = teardown(h, "teardown_while_accumulating", relid, pend, check_torndown);
        return e;
}

/* max_pending_gpadls (16), max_gpadls_per_channel (32), max_total_gpadl_pages
 * (32768): one past each is refused; everything made is torn down again. */
static int limits(struct hostile *h, uint32_t relid) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        uint32_t first = h->next_gpadl, refused_at = 0;
        int e = 0;
        for (unsigned i = 0; e == 0 && i < 17; i++) { /* headers of 30 pages that never complete */
                struct vmbus_channel_gpadl_header hd = { .header.msgtype = CHANNELMSG_GPADL_HEADER,
                                                         .child_relid = relid, .gpadl = h->next_gpadl++,
                                                         .range_buflen = 8 + 30 * 8, .rangecount = 1 };
                memset(m, 0, sizeof m);
                memcpy(m, &hd, sizeof hd);
                memcpy(m + HDR, &(struct vmbus_gpa_range){ .byte_count = 30 * 4096 }, 8);
                hostile_send(h, m, HDR + 8 + 26 * 8);
                e = hostile_barrier(h);
                if (e == 0 && created(h, hd.gpadl, false) && !refused_at)
                        refused_at = i + 1;
        }
        hostile_case(h, "pending_limit_16", e == 0 && refused_at == 17, "refused_at=%u", refused_at);
        for (uint32_t k = first; e == 0 && k < first + 16; k++)
                e = teardown(h, "teardown_pending", relid, k, check_torndown);
        first = h->next_gpadl;
        refused_at = 0;
        for (unsigned i = 0; e == 0 && i < 33; i++) {
                int made = make(h, relid, h->next_gpadl++, RAM_PFN, 1);
                if (made < 0)
                        return made;
                if (!made && !refused_at)
                        refused_at = i + 1;
        }
        hostile_case(h, "per_channel_limit_32", e == 0 && refused_at == 33, "refused_at=%u", refused_at);
        for (uint32_t k = first; e == 0 && k < first + 32; k++)
                e = teardown(h, "teardown_per_channel", relid, k, check_torndown);
        first = h->next_gpadl;
        refused_at = 0;
        for (unsigned i = 0; e == 0 && i < 5; i++) { /* 4 x 8190 = 32760 of 32768 pages */
                int made = make(h, relid, h->next_gpadl++, RAM_PFN, VMBUS_GPADL_WIRE_MAX_PFNS);
                if (made < 0)
                        return made;
                if (!made && !refused_at)
                        refused_at = i + 1;
        }
        hostile_case(h, "total_pages_limit_32768", e == 0 && refused_at == 5, "refused_at=%u pages_each=%u",
                     refused_at, VMBUS_GPADL_WIRE_MAX_PFNS);
        for (uint32_t k = first; e == 0 && k < first + 4; k++)
                e = teardown(h, "teardown_large", relid, k, check_torndown);
        return e;
}

struct ring_case {
        const char *name;
        uint32_t pages, split, target_vp, write_index;
        bool two_ranges, offset, foreign;
};

/* A ring GPADL OPENCHANNEL must refuse; the GPADL is torn down after. */
static int bad_ring(struct hostile *h, uint32_t relid, uint32_t other_relid, const struct ring_case *c) {
        uint8_t *ring = h->scratch; /* the first 8 pages: ring pages */
        memset(ring, 0, 8 * 4096);
        memcpy(ring + offsetof(struct hv_ring_buffer, write_index), &c->write_index, 4);
        uint64_t pfn = h->bus->ops->virt_to_phys(h->bus->ctx, ring) >> 12;
        uint32_t owner = c->foreign ? other_relid : relid, handle = h->next_gpadl++;
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        uint32_t len;
        if (c->two_ranges || c->offset) {
                struct range r[2] = { { .byte_count = 4 * 4096, .n_pfns = 4, .pfns = { pfn, pfn + 1, pfn + 2, pfn + 3 } },
                                      { .byte_count = 4 * 4096, .n_pfns = 4,
                                        .pfns = { pfn + 4, pfn + 5, pfn + 6, pfn + 7 } } };
                if (c->offset) {
                        r[0].byte_count = 4 * 4096 - 64;
                        r[0].byte_offset = 64;
                }
                len = header_msg(m, owner, handle, c->two_ranges ? 80 : 40, c->two_ranges ? 2 : 1, r,
                                 c->two_ranges ? 2 : 1, ~0u);
                vsc_post_message(h->bus, 0, m, len, false);
                if (hostile_barrier(h) < 0)
                        return -ETIMEDOUT;
                if (!created(h, handle, true))
                        return guest_fail(-EPROTO, "%s: the ring GPADL itself was refused", c->name);
        } else if (make(h, owner, handle, pfn, c->pages) != 1) {
                return guest_fail(-EPROTO, "%s: the ring GPADL itself was refused", c->name);
        }
        struct vmbus_channel_open_channel o = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = relid,
                                                .openid = relid, .ringbuffer_gpadlhandle = handle,
                                                .target_vp = c->target_vp,
                                                .downstream_ringbuffer_pageoffset = c->split };
        uint16_t st = hostile_send(h, &o, sizeof o);
        int e = hostile_barrier(h);
        if (e < 0)
                return e;
        const struct vsc_msg *res = hostile_reply(h, CHANNELMSG_OPENCHANNEL_RESULT);
        hostile_case(h, c->name, st == 0 && h->n_replies == 1 && res && res->u.open_result.status != 0,
                     "pages=%u split=%u reply=%s", c->pages, c->split,
                     !res ? "none" : res->u.open_result.status ? "refused" : "OPENED");
        if (res && res->u.open_result.status == 0) { /* must not happen; undo it */
                struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
                                                          .child_relid = relid };
                hostile_send(h, &cl, sizeof cl);
        }
        return teardown(h, "teardown_ring_gpadl", owner, handle, check_torndown);
}

static int bad_rings(struct hostile *h, uint32_t relid, uint32_t other_relid) {
        static const struct ring_case cases[] = {
                { "ring_3_pages", 3, 2, 0, 0, false, false, false },
                { "ring_split_1", 8, 1, 0, 0, false, false, false },
                { "ring_split_7", 8, 7, 0, 0, false, false, false },
                { "ring_split_past_end", 8, 0xffffffffu, 0, 0, false, false, false },
                { "ring_target_vp_99", 8, 4, 99, 0, false, false, false },
                { "ring_write_index_out_of_range", 8, 4, 0, 0xfffffff0u, false, false, false },
                { "ring_write_index_unaligned", 8, 4, 0, 4, false, false, false },
                { "ring_two_ranges", 8, 4, 0, 0, true, false, false },
                { "ring_byte_offset", 8, 4, 0, 0, false, true, false },
                { "ring_other_channels_gpadl", 8, 4, 0, 0, false, false, true },
        };
        int e = 0;
        for (size_t i = 0; e == 0 && i < sizeof cases / sizeof cases[0]; i++)
                e = bad_ring(h, relid, other_relid, &cases[i]);
        return e;
}

/* Teardown of an open channel's ring: answered only after CLOSECHANNEL. */
static int in_use(struct hostile *h, const struct vsc_offer *o) {
        struct vsc_channel ch;
        int e = vsc_channel_open(h->bus, &ch, o, 4 * 4096, 4 * 4096, NULL, 0);
        if (e < 0)
                return guest_fail(e, "opening relid %u: %s", o->child_relid, vsc_bus_error(h->bus));
        e = teardown(h, "teardown_in_use_deferred", ch.relid, ch.gpadl, check_silent);
        if (e == 0)
                e = teardown(h, "teardown_in_use_twice", ch.relid, ch.gpadl, check_silent);
        struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = ch.relid };
        if (e == 0)
                e = send_case(h, "close_answers_the_teardown", &cl, sizeof cl, check_torndown, ch.gpadl, false);
        if (e == 0 && h->unexpected == 0) /* the host let go of the ring pages */
                mem_free_pages(ch.ring_pages, ch.send_pages + ch.recv_pages);
        return e;
}

int hostile_gpadl(struct hostile *h) {
        int e = hostile_connect(h);
        if (e < 0)
                return e;
        const struct vsc_offer *hb = hostile_offer(h, heartbeat_class, 0);
        const struct vsc_offer *sd = hostile_offer(h, shutdown_class, 0);
        if (!hb || !sd)
                return guest_fail(-ENODEV, "hostile gpadl: needs the heartbeat and shutdown offers");
        e = bad_pfns(h, hb->child_relid);
        if (e == 0)
                e = bad_shapes(h, hb->child_relid);
        if (e == 0)
                e = handles_and_bodies(h, hb->child_relid, sd->child_relid);
        if (e == 0)
                e = limits(h, hb->child_relid);
        if (e == 0)
                e = bad_rings(h, hb->child_relid, sd->child_relid);
        if (e == 0)
                e = in_use(h, hb);
        return e < 0 ? e : hostile_alive(h, 0);
}
