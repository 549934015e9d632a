// SPDX-License-Identifier: MIT
/* The simulated guest's driver side: the steps hv_vmbus takes (§4) and the
 * guest half of the ring protocol (§5), written independently of ring.c
 * (no double mapping: copies are split at the end of the ring, and every
 * byte goes through the ring's own PFN list), so the two check each other. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/macro.h"
#include "sim-internal.h"

int vmbus_sim_expect(struct vmbus_sim *s, uint32_t msgtype, void *buf, size_t cap) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        for (;;) {
                int len = vmbus_sim_next_message(s, NULL, m, sizeof m);
                if (len < 0)
                        return len;
                struct vmbus_channel_message_header h;
                memcpy(&h, m, sizeof h);
                if (h.msgtype == msgtype) {
                        memcpy(buf, m, MIN((size_t)len, cap));
                        return len;
                }
        }
}

int vmbus_sim_connect(struct vmbus_sim *s, uint32_t version) {
        struct vmbus_channel_initiate_contact ic = { .header.msgtype = CHANNELMSG_INITIATE_CONTACT,
                                                     .vmbus_version_requested = version };
        uint32_t conn = VMBUS_MESSAGE_CONNECTION_ID;
        uint64_t pages = vmbus_sim_alloc_pages(s, 3);
        if (!pages)
                return -ENOMEM;
        if (version >= VERSION_WIN10_V5) { /* §4.2, §4.3 */
                conn = VMBUS_MESSAGE_CONNECTION_ID_4;
                ic.msg_sint = VMBUS_MESSAGE_SINT;
        } else {
                ic.interrupt_page = pages * VMBUS_PAGE_SIZE;
        }
        ic.monitor_page1 = (pages + 1) * VMBUS_PAGE_SIZE;
        ic.monitor_page2 = (pages + 2) * VMBUS_PAGE_SIZE;
        if (vmbus_sim_post(s, conn, 0, &ic, sizeof ic) != HV_STATUS_SUCCESS)
                return -EIO;
        struct vmbus_channel_version_response vr;
        int r = vmbus_sim_expect(s, CHANNELMSG_VERSION_RESPONSE, &vr, sizeof vr);
        return r < 0 ? r : vr.version_supported ? 1 : 0;
}

int vmbus_sim_request_offers(struct vmbus_sim *s, struct vmbus_channel_offer_channel *offers, size_t max) {
        struct vmbus_channel_message_header h = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        if (vmbus_sim_post(s, VMBUS_MESSAGE_CONNECTION_ID, 0, &h, sizeof h) != HV_STATUS_SUCCESS)
                return -EIO;
        size_t n = 0;
        for (;;) {
                uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
                int len = vmbus_sim_next_message(s, NULL, m, sizeof m);
                if (len < 0)
                        return len;
                memcpy(&h, m, sizeof h);
                if (h.msgtype == CHANNELMSG_ALLOFFERS_DELIVERED)
                        return (int)n;
                if (h.msgtype == CHANNELMSG_OFFERCHANNEL && n < max)
                        memcpy(&offers[n++], m, sizeof *offers);
        }
}

uint32_t vmbus_sim_next_gpadl_handle(struct vmbus_sim *s) {
        return __atomic_fetch_add(&s->next_gpadl, 1, __ATOMIC_RELAXED);
}

/* Header with up to 26 PFNs, then bodies of up to 28 (§4.5). */
static int post_gpadl(struct vmbus_sim *s, uint32_t relid, uint32_t handle, const uint64_t *pfns, size_t n,
                      uint32_t byte_count) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        size_t first = MIN(n, (size_t)VMBUS_GPADL_HEADER_MAX_PFNS);
        struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
                                                .gpadl = handle, .range_buflen = (uint16_t)(8 + 8 * n),
                                                .rangecount = 1 };
        struct vmbus_gpa_range range = { .byte_count = byte_count, .byte_offset = 0 };
        memcpy(m, &h, sizeof h);
        memcpy(m + sizeof h, &range, sizeof range);
        memcpy(m + sizeof h + sizeof range, pfns, first * 8);
        if (vmbus_sim_post(s, VMBUS_MESSAGE_CONNECTION_ID, 0, m, sizeof h + sizeof range + first * 8))
                return -EIO;
        for (size_t done = first; done < n;) {
                size_t k = MIN(n - done, (size_t)VMBUS_GPADL_BODY_MAX_PFNS);
                struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };
                memcpy(m, &b, sizeof b);
                memcpy(m + sizeof b, pfns + done, k * 8);
                if (vmbus_sim_post(s, VMBUS_MESSAGE_CONNECTION_ID, 0, m, sizeof b + k * 8))
                        return -EIO;
                done += k;
        }
        return 0;
}

int vmbus_sim_create_gpadl(struct vmbus_sim *s, uint32_t relid, uint32_t handle, const uint64_t *pfns, size_t n,
                           uint32_t byte_count) {
        if (n == 0 || n > VMBUS_GPADL_WIRE_MAX_PFNS)
                return -E2BIG;
        int r = post_gpadl(s, relid, handle, pfns, n, byte_count);
        if (r < 0)
                return r;
        struct vmbus_channel_gpadl_created c;
        r = vmbus_sim_expect(s, CHANNELMSG_GPADL_CREATED, &c, sizeof c);
        if (r < 0)
                return r;
        return c.gpadl == handle && c.child_relid == relid ? (int)(c.creation_status & INT32_MAX) : -EPROTO;
}

int vmbus_sim_teardown_gpadl(struct vmbus_sim *s, uint32_t relid, uint32_t handle) {
        struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
                                                  .child_relid = relid, .gpadl = handle };
        if (vmbus_sim_post(s, VMBUS_MESSAGE_CONNECTION_ID, 0, &t, sizeof t))
                return -EIO;
        struct vmbus_channel_gpadl_torndown d;
        int r = vmbus_sim_expect(s, CHANNELMSG_GPADL_TORNDOWN, &d, sizeof d);
        return r < 0 ? r : d.gpadl == handle ? 0 : -EPROTO;
}

/* Header page first, then the data pages in reverse PFN order. */
static void ring_setup(struct vmbus_sim *s, struct vmbus_sim_ring *r, uint64_t base, unsigned pages) {
        r->n_pages = pages;
        r->pfns[0] = base;
        for (unsigned i = 1; i < pages; i++)
                r->pfns[i] = base + pages - i;
        r->hdr = (struct hv_ring_buffer *)(void *)(s->ram + base * VMBUS_PAGE_SIZE);
        r->size = (pages - 1) * VMBUS_PAGE_SIZE;
        memset(r->hdr, 0, sizeof *r->hdr);
        r->hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ; /* as Linux (§5.2) */
}

int vmbus_sim_channel_alloc(struct vmbus_sim *s, unsigned ring_pages, struct vmbus_sim_channel *ch) {
        if (ring_pages < 2 || ring_pages > ARRAY_SIZE(ch->out.pfns))
                return -EINVAL;
        uint64_t base = vmbus_sim_alloc_pages(s, 2 * (size_t)ring_pages);
        if (!base)
                return -ENOMEM;
        *ch = (struct vmbus_sim_channel){ .gpadl = vmbus_sim_next_gpadl_handle(s) };
        ring_setup(s, &ch->out, base, ring_pages);
        ring_setup(s, &ch->in, base + ring_pages, ring_pages);
        return 0;
}

int vmbus_sim_open(struct vmbus_sim *s, uint32_t relid, uint32_t connection_id, unsigned ring_pages,
                   const void *userdata, size_t userdata_len, struct vmbus_sim_channel *ch) {
        if (userdata_len > 120)
                return -EINVAL;
        int r = vmbus_sim_channel_alloc(s, ring_pages, ch);
        if (r < 0)
                return r;
        ch->relid = relid;
        ch->connection_id = connection_id;
        ch->openid = relid;
        uint64_t pfns[2 * ARRAY_SIZE(ch->out.pfns)];
        memcpy(pfns, ch->out.pfns, ring_pages * sizeof *pfns);
        memcpy(pfns + ring_pages, ch->in.pfns, ring_pages * sizeof *pfns);
        r = vmbus_sim_create_gpadl(s, relid, ch->gpadl, pfns, 2 * (size_t)ring_pages,
                                   2 * ring_pages * VMBUS_PAGE_SIZE);
        if (r != 0)
                return r;
        struct vmbus_channel_open_channel o = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = relid,
                                                .openid = ch->openid, .ringbuffer_gpadlhandle = ch->gpadl,
                                                .downstream_ringbuffer_pageoffset = ring_pages };
        if (userdata_len)
                memcpy(o.userdata, userdata, userdata_len);
        if (vmbus_sim_post(s, VMBUS_MESSAGE_CONNECTION_ID, 0, &o, sizeof o))
                return -EIO;
        struct vmbus_channel_open_result res;
        r = vmbus_sim_expect(s, CHANNELMSG_OPENCHANNEL_RESULT, &res, sizeof res);
        if (r < 0)
                return r;
        return res.child_relid == relid && res.openid == ch->openid ? (int)(res.status & INT32_MAX) : -EPROTO;
}

int vmbus_sim_close(struct vmbus_sim *s, struct vmbus_sim_channel *ch) {
        struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = ch->relid };
        if (vmbus_sim_post(s, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m))
                return -EIO;
        return vmbus_sim_teardown_gpadl(s, ch->relid, ch->gpadl);
}

/* ---- guest half of the ring protocol ------------------------------------------- */

static uint8_t *ring_byte(struct vmbus_sim *s, const struct vmbus_sim_ring *r, uint32_t off) {
        return s->ram + r->pfns[1 + off / VMBUS_PAGE_SIZE] * VMBUS_PAGE_SIZE + off % VMBUS_PAGE_SIZE;
}

void vmbus_sim_ring_copy_in(struct vmbus_sim *s, const struct vmbus_sim_ring *r, uint32_t off, const void *src,
                            size_t len) {
        const uint8_t *p = src;
        for (off %= r->size; len;) {
                size_t n = MIN(len, (size_t)(VMBUS_PAGE_SIZE - off % VMBUS_PAGE_SIZE));
                memcpy(ring_byte(s, r, off), p, n);
                p += n;
                len -= n;
                off = (uint32_t)((off + n) % r->size);
        }
}

static void ring_copy_out(struct vmbus_sim *s, const struct vmbus_sim_ring *r, uint32_t off, void *dst,
                          size_t len) {
        uint8_t *p = dst;
        for (off %= r->size; len;) {
                size_t n = MIN(len, (size_t)(VMBUS_PAGE_SIZE - off % VMBUS_PAGE_SIZE));
                memcpy(p, ring_byte(s, r, off), n);
                p += n;
                len -= n;
                off = (uint32_t)((off + n) % r->size);
        }
}

static uint32_t used_bytes(uint32_t size, uint32_t w, uint32_t r) {
        return w >= r ? w - r : size - (r - w);
}

/* Write desc (if any) + data + padding + trailer; publish; signal (§5.5). */
static int guest_write(struct vmbus_sim *s, struct vmbus_sim_channel *ch, const struct vmpacket_descriptor *d,
                       const void *data, size_t len, bool signal) {
        struct vmbus_sim_ring *r = &ch->out;
        size_t hdr = d ? sizeof *d : 0, total = ALIGN_UP(hdr + len, 8);
        uint32_t w = r->hdr->write_index, rd = READ_ONCE(r->hdr->read_index);
        if (w >= r->size || rd >= r->size)
                return -EBADMSG;
        if (total + VMBUS_PKT_TRAILER >= r->size)
                return -EMSGSIZE;
        if (r->size - used_bytes(r->size, w, rd) <= total + VMBUS_PKT_TRAILER)
                return -EAGAIN;
        static const uint8_t zero[8];
        if (d)
                vmbus_sim_ring_copy_in(s, r, w, d, hdr);
        vmbus_sim_ring_copy_in(s, r, (uint32_t)(w + hdr), data, len);
        vmbus_sim_ring_copy_in(s, r, (uint32_t)(w + hdr + len), zero, total - hdr - len);
        uint64_t trailer = (uint64_t)w << 32;
        vmbus_sim_ring_copy_in(s, r, (uint32_t)(w + total), &trailer, sizeof trailer);
        store_release(&r->hdr->write_index, (uint32_t)((w + total + VMBUS_PKT_TRAILER) % r->size));
        smp_mb();
        if (signal && !READ_ONCE(r->hdr->interrupt_mask) && READ_ONCE(r->hdr->read_index) == w)
                (void)vmbus_sim_signal(s, ch->connection_id);
        return 0;
}

int vmbus_sim_ring_write(struct vmbus_sim *s, struct vmbus_sim_channel *ch, uint16_t type, uint16_t flags,
                         uint64_t trans_id, const void *data, size_t len) {
        size_t total = ALIGN_UP(sizeof(struct vmpacket_descriptor) + len, 8);
        if (total / 8 > UINT16_MAX)
                return -EMSGSIZE;
        struct vmpacket_descriptor d = { .type = type, .offset8 = 2, .len8 = (uint16_t)(total / 8), .flags = flags,
                                         .trans_id = trans_id };
        return guest_write(s, ch, &d, data, len, true);
}

int vmbus_sim_ring_write_raw(struct vmbus_sim *s, struct vmbus_sim_channel *ch, const void *pkt, size_t len,
                             bool signal) {
        if (len % 8)
                return -EINVAL;
        return guest_write(s, ch, NULL, pkt, len, signal);
}

int vmbus_sim_ring_read(struct vmbus_sim *s, struct vmbus_sim_channel *ch, void *buf, size_t cap,
                        struct vmbus_packet *pkt) {
        struct vmbus_sim_ring *r = &ch->in;
        uint32_t w = load_acquire(&r->hdr->write_index), rd = r->hdr->read_index;
        if (w >= r->size || rd >= r->size || (w | rd) & 7)
                return -EBADMSG;
        uint32_t avail = used_bytes(r->size, w, rd);
        if (avail == 0)
                return 0;
        struct vmpacket_descriptor d;
        if (avail < sizeof d + VMBUS_PKT_TRAILER)
                return -EBADMSG;
        ring_copy_out(s, r, rd, &d, sizeof d);
        uint32_t len = d.len8 * 8u, off = d.offset8 * 8u;
        if (len < sizeof d || off < sizeof d || off > len || len + VMBUS_PKT_TRAILER > avail)
                return -EBADMSG;
        if (len > cap)
                return -EMSGSIZE;
        ring_copy_out(s, r, rd, buf, len);
        uint32_t next = (rd + len + VMBUS_PKT_TRAILER) % r->size;
        store_release(&r->hdr->read_index, next);
        smp_mb();
        /* §5.6: signal the host when its pending_send_sz is now satisfied. */
        uint32_t pending = READ_ONCE(r->hdr->pending_send_sz);
        uint32_t w_now = READ_ONCE(r->hdr->write_index) % r->size;
        if (pending && r->size - used_bytes(r->size, w_now, rd) <= pending &&
            r->size - used_bytes(r->size, w_now, next) > pending)
                (void)vmbus_sim_signal(s, ch->connection_id);
        *pkt = (struct vmbus_packet){ .type = d.type, .flags = d.flags, .trans_id = d.trans_id, .len = len,
                                      .offset = off, .data = buf };
        return (int)len;
}

int vmbus_sim_ring_wait(struct vmbus_sim *s, struct vmbus_sim_channel *ch, void *buf, size_t cap,
                        struct vmbus_packet *pkt, int timeout_ms) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                int r = vmbus_sim_ring_read(s, ch, buf, cap, pkt);
                if (r != 0)
                        return r;
                clock_gettime(CLOCK_MONOTONIC, &t);
                long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
                if (ms >= timeout_ms)
                        return -ETIMEDOUT;
                /* The event fd counts every host -> guest signal; a packet
                 * written without one (interrupt_mask) is found by the next
                 * poll round anyway. */
                struct pollfd pfd = { .fd = s->event_fd, .events = POLLIN };
                if (poll(&pfd, 1, 1) > 0) {
                        eventfd_t v;
                        (void)eventfd_read(s->event_fd, &v);
                }
        }
}
