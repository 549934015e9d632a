// SPDX-License-Identifier: MIT
/* Channels, guest side: OPENCHANNEL/CLOSECHANNEL (§4.6, §4.7), sending and
 * receiving packets with the signalling rules of §5.5/§5.6. */
#include "internal.h"

#define RING_FIELD(ring, field) ((uint8_t *)(ring)->hdr + offsetof(struct hv_ring_buffer, field))

static int check_ring_bytes(struct vsc_bus *bus, uint32_t bytes, const char *which) {
        if (bytes % VMBUS_PAGE_SIZE || bytes < 2 * VMBUS_PAGE_SIZE || bytes > (1u << 30))
                return vsc_fail(bus, -EINVAL, "%s ring of %u bytes: need whole pages, header + data", which, bytes);
        return 0;
}

static int setup_rings(struct vsc_channel *ch, uint32_t send_bytes, uint32_t recv_bytes) {
        struct vsc_bus *bus = ch->bus;
        ch->send_pages = send_bytes / VMBUS_PAGE_SIZE;
        ch->recv_pages = recv_bytes / VMBUS_PAGE_SIZE;
        ch->ring_pages = vsc_pages_alloc(bus, ch->send_pages + ch->recv_pages);
        if (!ch->ring_pages)
                return vsc_fail(bus, -ENOMEM, "out of pages for %u KiB of rings",
                                (send_bytes + recv_bytes) / 1024);
        uint8_t *base = ch->ring_pages;
        /* §5.1: outbound ring first, inbound ring at send_pages. */
        vsc_ring_init(&ch->out, base, send_bytes - VMBUS_PAGE_SIZE);
        vsc_ring_init(&ch->in, base + send_bytes, recv_bytes - VMBUS_PAGE_SIZE);
        /* §5.2: Linux sets feat_pending_send_sz on both rings at open. */
        vsc_store32(RING_FIELD(&ch->out, feature_bits), VMBUS_RING_FEAT_PENDING_SEND_SZ);
        vsc_store32(RING_FIELD(&ch->in, feature_bits), VMBUS_RING_FEAT_PENDING_SEND_SZ);
        return 0;
}

static int send_open(struct vsc_channel *ch, const void *userdata, size_t userdata_len) {
        struct vsc_bus *bus = ch->bus;
        struct vmbus_channel_open_channel m;
        vsc_memset(&m, 0, sizeof m);
        m.header.msgtype = CHANNELMSG_OPENCHANNEL;
        m.child_relid = ch->relid;
        m.openid = ch->relid; /* as Linux */
        m.ringbuffer_gpadlhandle = ch->gpadl;
        m.target_vp = bus->vp_index;
        m.downstream_ringbuffer_pageoffset = ch->send_pages;
        if (userdata_len)
                vsc_memcpy(m.userdata, userdata, userdata_len);
        int r = vsc_post_message(bus, 0, &m, sizeof m, false);
        if (r < 0)
                return r;
        struct vsc_msg resp;
        r = vsc_wait_message(bus, CHANNELMSG_OPENCHANNEL_RESULT, &resp);
        if (r < 0)
                return r;
        const struct vmbus_channel_open_result *o = &resp.u.open_result;
        if (o->child_relid != ch->relid || o->openid != ch->relid)
                return vsc_fail(bus, -EPROTO, "bad host message: OPENCHANNEL_RESULT for relid %u openid %u, expected %u",
                                o->child_relid, o->openid, ch->relid);
        if (o->status != 0)
                return vsc_fail(bus, -EIO, "host refused OPENCHANNEL of relid %u: status 0x%x", ch->relid, o->status);
        return 0;
}

/* Pages the host may still map are never freed: only after TORNDOWN. */
static void release_rings(struct vsc_channel *ch, bool gpadl_live) {
        if (gpadl_live && vsc_gpadl_teardown(ch->bus, ch->relid, ch->gpadl) < 0)
                return;
        vsc_pages_free(ch->bus, ch->ring_pages, ch->send_pages + ch->recv_pages);
        ch->ring_pages = NULL;
}

int vsc_channel_open(struct vsc_bus *bus, struct vsc_channel *ch, const struct vsc_offer *offer,
                     uint32_t send_bytes, uint32_t recv_bytes, const void *userdata, size_t userdata_len) {
        vsc_memset(ch, 0, sizeof *ch);
        ch->bus = bus;
        if (!bus->version)
                return vsc_fail(bus, -ENOTCONN, "OPENCHANNEL before connecting");
        if (!offer || offer->rescinded)
                return vsc_fail(bus, -ENOENT, "OPENCHANNEL without a live offer");
        if (userdata_len > sizeof(((struct vmbus_channel_open_channel *)0)->userdata))
                return vsc_fail(bus, -EINVAL, "OPENCHANNEL user data of %zu bytes (at most 120)", userdata_len);
        int r = check_ring_bytes(bus, send_bytes, "send");
        if (r >= 0)
                r = check_ring_bytes(bus, recv_bytes, "receive");
        if (r < 0)
                return r;
        ch->relid = offer->child_relid;
        ch->connection_id = offer->connection_id;
        r = setup_rings(ch, send_bytes, recv_bytes);
        if (r < 0)
                return r;
        r = vsc_gpadl_create(bus, ch->relid, ch->ring_pages, (size_t)send_bytes + recv_bytes, &ch->gpadl);
        if (r < 0) {
                release_rings(ch, false);
                return r;
        }
        r = send_open(ch, userdata, userdata_len);
        if (r < 0) {
                char keep[sizeof bus->err];
                vsc_memcpy(keep, bus->err, sizeof keep); /* report the first failure */
                release_rings(ch, true);
                vsc_memcpy(bus->err, keep, sizeof keep);
                return r;
        }
        ch->open = true;
        return 0;
}

int vsc_channel_close(struct vsc_channel *ch) {
        struct vsc_bus *bus = ch->bus;
        if (!ch->open)
                return 0;
        struct vmbus_channel_relid_message m;
        vsc_memset(&m, 0, sizeof m);
        m.header.msgtype = CHANNELMSG_CLOSECHANNEL;
        m.child_relid = ch->relid;
        ch->open = false;
        int r = vsc_post_message(bus, 0, &m, sizeof m, false);
        if (r < 0)
                return r;
        /* §4.7: no reply to CLOSECHANNEL; then the ring GPADL goes. */
        r = vsc_gpadl_teardown(bus, ch->relid, ch->gpadl);
        if (r < 0)
                return r;
        release_rings(ch, false);
        return 0;
}

void vsc_channel_signal(struct vsc_channel *ch) {
        struct vsc_bus *bus = ch->bus;
        ch->stats.signals++;
        /* TLFS: hypercalls from CPL > 0 raise #UD, so CPL3 code rings the
         * doorbell port directly (IOPL 3); HvSignalEvent's stub does the
         * same OUT at CPL0 (hv/vmstack.h). Flag number 0 (§1.7). */
        if (bus->ops->cpl(bus->ctx) == 0 && bus->hv_enabled) {
                bus->stats.signals_hypercall++;
                bus->ops->hypercall(bus->ctx, bus->hypercall_page, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
                                    ch->connection_id & HV_CONNECTION_ID_MASK, 0);
        } else {
                bus->stats.signals_doorbell++;
                bus->ops->doorbell(bus->ctx, ch->connection_id);
        }
}

int vsc_channel_queue(struct vsc_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *payload,
                      size_t len) {
        if (!ch->open)
                return -ENOTCONN;
        int r = vsc_ring_put(&ch->out, type, flags, trans_id, NULL, 0, payload, len);
        if (r == -EAGAIN) {
                /* Ask the host to signal us once it has freed enough (§5.2). */
                uint32_t need = (uint32_t)(((sizeof(struct vmpacket_descriptor) + len + 7) & ~(size_t)7) +
                                           VMBUS_PKT_TRAILER);
                vsc_store32(RING_FIELD(&ch->out, pending_send_sz), need);
                return r;
        }
        if (r < 0)
                return vsc_fail(ch->bus, r, "relid %u: send failed (host read_index out of range?)", ch->relid);
        if (vsc_load32(RING_FIELD(&ch->out, pending_send_sz)))
                vsc_store32(RING_FIELD(&ch->out, pending_send_sz), 0);
        ch->stats.sent++;
        return 0;
}

void vsc_channel_flush(struct vsc_channel *ch) {
        if (!ch->open || ch->out.published == ch->out.own)
                return;
        if (vsc_ring_publish(&ch->out))
                vsc_channel_signal(ch);
        else
                ch->stats.signals_suppressed++;
}

int vsc_channel_send(struct vsc_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *payload,
                     size_t len) {
        int r = vsc_channel_queue(ch, type, flags, trans_id, payload, len);
        if (r == 0 || r == -EAGAIN)
                vsc_channel_flush(ch); /* on -EAGAIN: what is queued must reach the host to make room */
        return r;
}

int vsc_channel_recv(struct vsc_channel *ch, void *buf, size_t cap, struct vsc_packet *pkt) {
        if (!ch->open)
                return -ENOTCONN;
        uint32_t before;
        int r = vsc_ring_read(&ch->in, buf, cap, pkt, &before);
        if (r == -EPROTO)
                return vsc_fail(ch->bus, r, "relid %u: host ring index or packet descriptor out of range", ch->relid);
        if (r < 0)
                return r;
        ch->stats.received++;
        /* §5.6: a blocked host set pending_send_sz; wake it when the free
         * space grows past it, once (not if it was already past). */
        vsc_mb();
        uint32_t pending = vsc_load32(RING_FIELD(&ch->in, pending_send_sz));
        uint64_t after = (uint64_t)before + pkt->len + VMBUS_PKT_TRAILER;
        if (pending && before <= pending && after > pending) {
                ch->stats.host_pending_signals++;
                vsc_channel_signal(ch);
        }
        return 0;
}

/* Test-and-clear of the channel's event flag in SINT2's SIEF area (§3.3):
 * the host raises the interrupt only when a flag goes 0 -> 1, so a guest
 * that means to sleep until the next signal clears it first, as Linux's
 * vmbus_chan_sched does on every interrupt. */
static void clear_event_flag(struct vsc_channel *ch) {
        struct vsc_bus *bus = ch->bus;
        if (!bus->siefp || ch->relid >= HV_EVENT_FLAGS_COUNT)
                return;
        uint64_t *w = (uint64_t *)(void *)bus->siefp->flags[VMBUS_MESSAGE_SINT] + ch->relid / 64;
        __atomic_fetch_and(w, ~(1ull << (ch->relid % 64)), __ATOMIC_SEQ_CST);
}

int vsc_channel_mask(struct vsc_channel *ch, bool masked) {
        vsc_store32(RING_FIELD(&ch->in, interrupt_mask), masked ? 1 : 0);
        if (masked)
                return 0;
        clear_event_flag(ch);
        vsc_mb(); /* unmask before the re-check, or a packet can slip by unsignalled */
        return vsc_ring_has_data(&ch->in);
}

int vsc_channel_wait(struct vsc_channel *ch, uint64_t timeout_ns) {
        struct vsc_bus *bus = ch->bus;
        uint64_t start = bus->ops->now_ns(bus->ctx), deadline = start + timeout_ns;
        for (;;) {
                int r = vsc_ring_has_data(&ch->in);
                if (r < 0)
                        return vsc_fail(bus, r, "relid %u: host write_index out of range", ch->relid);
                if (r > 0)
                        return 0;
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (now >= deadline)
                        return vsc_fail(bus, -ETIMEDOUT, "relid %u: no packet from the host within %lu ms",
                                        ch->relid, (now - start) / 1000000);
                /* Clear, then look once more: a packet written after the
                 * look sets the flag again and its interrupt ends idle(). */
                clear_event_flag(ch);
                vsc_mb();
                if (vsc_ring_has_data(&ch->in) > 0)
                        return 0;
                bus->ops->idle(bus->ctx, deadline);
        }
}
