// SPDX-License-Identifier: MIT
/* Host -> guest (§7.4, §7.6): RNDIS responses, indications and received
 * frames are written into free receive-buffer slots, one message per slot,
 * and announced in transfer-page packets (pageset 0xCAFE) whose ranges stay
 * owned by the guest until it completes the packet. Frames are read from
 * the backend straight into their slot; the RNDIS header is written in
 * front afterwards (the frame starts at a fixed offset). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "netvsp-internal.h"
#include "netvsp/nvsp.h"
#include "netvsp/qos.h"

void netvsp_queue_ctrl(struct netvsp_dev *nd, const void *msg, size_t len) {
        /* No receive buffer yet (the guest skipped §7.3 step 5), a full queue
         * (a guest flooding requests it does not wait for), or a message
         * larger than our responses can be: counted, not delivered. */
        if (!nd->recv_ok || nd->ctrl_n == NETVSP_CTRL_QUEUE || len > NETVSP_CTRL_MSG_MAX) {
                nd->stats.ctrl_dropped++;
                return;
        }
        struct netvsp_ctrl_msg *m = &nd->ctrl[(nd->ctrl_head + nd->ctrl_n) % NETVSP_CTRL_QUEUE];
        m->len = (uint32_t)len;
        memcpy(m->data, msg, len);
        nd->ctrl_n++;
}

/* After writing [off, off + len) of the receive buffer. */
static void recv_dirty(struct netvsp_dev *nd, uint32_t off, size_t len) {
        if (nd->host->mark_dirty)
                nd->host->mark_dirty(nd->host_ctx, nd->recv_gpadl, off, len);
}

/* Posts slots as one transfer-page packet; on a full ring the batch is
 * taken back (slots stay filled) and -EAGAIN returned. */
static int send_xfer(struct netvsp_dev *nd, const uint32_t *slots, const struct vmtransfer_page_range *ranges,
                     uint32_t n, uint32_t channel_type) {
        struct nvsp_message m;
        size_t len = nvsp_build_rndis_pkt(&m, channel_type);
        uint64_t tid;
        int r = netvsp_rxbuf_post(&nd->rb, slots, n, &tid);
        if (r < 0)
                return r;
        r = nd->host->send_xfer_pages(nd->host_ctx, tid, ranges, n, &m, len);
        if (r == -EAGAIN) {
                netvsp_rxbuf_unpost(&nd->rb, tid);
                nd->stats.ring_full++;
                return -EAGAIN;
        }
        /* other errors: the channel is closing; the slots stay posted until revoke */
        return 0;
}

static int flush_ctrl(struct netvsp_dev *nd) {
        while (nd->ctrl_n) {
                struct netvsp_ctrl_msg *m = &nd->ctrl[nd->ctrl_head];
                uint32_t slot;
                if (netvsp_rxbuf_alloc(&nd->rb, &slot) < 0)
                        return 0; /* the guest still holds every slot: retry after its completions */
                uint32_t off = netvsp_rxbuf_slot_offset(&nd->rb, slot);
                memcpy(nd->recv_base + off, m->data, m->len);
                recv_dirty(nd, off, m->len);
                struct vmtransfer_page_range range = { .byte_count = m->len, .byte_offset = off };
                if (send_xfer(nd, &slot, &range, 1, NVSP_RNDIS_CHANNEL_CONTROL) < 0) {
                        netvsp_rxbuf_unalloc(&nd->rb, slot);
                        return -EAGAIN;
                }
                nd->ctrl_head = (nd->ctrl_head + 1) % NETVSP_CTRL_QUEUE;
                nd->ctrl_n--;
        }
        return 0;
}

static int flush_batch(struct netvsp_dev *nd) {
        if (nd->batch_n == 0)
                return 0;
        int r = send_xfer(nd, nd->batch_slot, nd->batch_range, nd->batch_n, NVSP_RNDIS_CHANNEL_DATA);
        if (r == -EAGAIN)
                return r;
        nd->batch_n = 0;
        return 0;
}

bool netvsp_flush_rx(struct netvsp_dev *nd) {
        if (!nd->recv_ok)
                return true;
        return flush_ctrl(nd) == 0 && flush_batch(nd) == 0;
}

void netvsp_rx_drop_all(struct netvsp_dev *nd) {
        nd->stats.rx_dropped += nd->batch_n;
        nd->stats.ctrl_dropped += nd->ctrl_n;
        nd->batch_n = 0;
        nd->ctrl_n = 0;
}

/* A frame of len bytes is in the slot at off: check it, write the RNDIS
 * header in front of it and add it to the batch. 2 when batched, 1 when
 * dropped. */
static int rx_take(struct netvsp_dev *nd, uint32_t slot, const struct virtio_net_hdr *vh, size_t len) {
        uint32_t off = netvsp_rxbuf_slot_offset(&nd->rb, slot), cap = nd->rb.slot_size - NETVSP_RX_DATA_OFFSET;
        uint8_t *base = nd->recv_base + off, *frame = base + NETVSP_RX_DATA_OFFSET;
        struct rndis_rx_info info;
        uint32_t msg_len;
        if (len >= cap) { /* a frame larger than the MTU we told the guest */
                nd->stats.rx_truncated++;
                return 1;
        }
        if (len < 14 || !rndis_device_accepts(&nd->rndis, frame)) {
                nd->stats.rx_filtered++;
                return 1;
        }
        if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
            netvsp_csum_complete(frame, len, vh->csum_start, vh->csum_offset) < 0) {
                nd->stats.rx_dropped++;
                return 1;
        }
        netvsp_rx_info(vh, frame, len, &info);
        if (rndis_packet_build_rx_header(base, NETVSP_RX_DATA_OFFSET, len, &info, NETVSP_RX_DATA_OFFSET, &msg_len) < 0) {
                nd->stats.rx_dropped++;
                return 1;
        }
        nd->batch_slot[nd->batch_n] = slot;
        nd->batch_range[nd->batch_n] = (struct vmtransfer_page_range){ .byte_count = msg_len, .byte_offset = off };
        nd->batch_n++;
        nd->stats.rx_packets++;
        nd->stats.rx_bytes += len;
        return 2;
}

/* A coalesced TCP frame (RSC) of len bytes in slots[0..n), which lie at
 * off[0..n) of the buffer: one RNDIS PACKET per slot, each with
 * RNDIS_PKTINFO_ID (SUBALLOC; 1ST_FRAG on the first, LAST_FRAG on the
 * last), the first with the checksum PPI, all in the batch (so in one
 * transfer-page packet, as netvsc requires). 2 when batched, 1 when
 * dropped. */
static int rx_take_rsc(struct netvsp_dev *nd, const uint32_t *slots, const uint32_t *off, uint32_t n,
                       const struct virtio_net_hdr *vh, size_t len) {
        uint32_t cap = nd->rb.slot_size - NETVSP_RX_DATA_OFFSET;
        uint8_t *piece[NETVSP_RX_BATCH_MAX];
        struct rndis_rx_info info;

        for (uint32_t i = 0; i < n; i++)
                piece[i] = nd->recv_base + off[i] + NETVSP_RX_DATA_OFFSET;
        if (!rndis_device_accepts(&nd->rndis, piece[0])) {
                nd->stats.rx_filtered++;
                return 1;
        }
        int r = netvsp_rsc_prepare(vh, piece, n, cap, len, nd->rndis.offload.rsc_ip4, nd->rndis.offload.rsc_ip6,
                                   &info);
        if (r < 0) { /* not TCP the guest coalesces (a frame queued before it turned RSC off), or malformed */
                if (r == -EPROTONOSUPPORT)
                        nd->stats.rx_truncated++;
                else
                        nd->stats.rx_dropped++;
                return 1;
        }
        for (uint32_t i = 0; i < n; i++) {
                uint32_t msg_len;
                size_t part = i + 1 < n ? cap : len - (size_t)i * cap;
                struct rndis_rx_info fi = i == 0 ? info : (struct rndis_rx_info){ 0 };
                fi.has_pktinfo_id = true;
                fi.pktinfo_flags = (uint8_t)(RNDIS_PKTINFO_SUBALLOC | (i == 0 ? RNDIS_PKTINFO_1ST_FRAG : 0u) |
                                             (i + 1 == n ? RNDIS_PKTINFO_LAST_FRAG : 0u));
                /* cannot fail: the header (<= 4 PPIs) fits NETVSP_RX_DATA_OFFSET */
                (void)rndis_packet_build_rx_header(nd->recv_base + off[i], NETVSP_RX_DATA_OFFSET, part, &fi,
                                                   NETVSP_RX_DATA_OFFSET, &msg_len);
                nd->batch_slot[nd->batch_n] = slots[i];
                nd->batch_range[nd->batch_n] =
                        (struct vmtransfer_page_range){ .byte_count = msg_len, .byte_offset = off[i] };
                nd->batch_n++;
        }
        nd->stats.rx_packets++;
        nd->stats.rx_bytes += len;
        nd->stats.rx_coalesced++;
        return 2;
}

/* Reads one frame into the allocated slots[0..n) (n > 1: a guest with RSC
 * on, whose frames may be as large as NETVSP_RSC_FRAME_MAX) and adds it to
 * the batch. Returns 2 when it was batched (*used: the slots it took, the
 * first ones), 1 when a frame was consumed and dropped, 0 when the backend
 * is empty, -ENODEV when it is gone. */
static int rx_one(struct netvsp_dev *nd, const uint32_t *slots, uint32_t n, uint32_t *used) {
        uint32_t cap = nd->rb.slot_size - NETVSP_RX_DATA_OFFSET, off[NETVSP_RX_BATCH_MAX];
        struct virtio_net_hdr vh;
        struct iovec iov[1 + NETVSP_RX_BATCH_MAX];
        iov[0] = (struct iovec){ &vh, sizeof vh };
        for (uint32_t i = 0; i < n; i++) {
                off[i] = netvsp_rxbuf_slot_offset(&nd->rb, slots[i]);
                iov[1 + i] = (struct iovec){ nd->recv_base + off[i] + NETVSP_RX_DATA_OFFSET, cap };
        }
        ssize_t r = nd->be->rx(nd->be_ctx, iov, (int)n + 1);

        if (r == -EAGAIN || r == -ENODEV)
                return r == -EAGAIN ? 0 : -ENODEV;
        if (r < 0) {
                nd->stats.rx_dropped++;
                return 1;
        }
        size_t len = (size_t)r > sizeof vh ? (size_t)r - sizeof vh : 0;
        /* the kernel reports a frame's whole length also when it was cut
         * short to the buffers: one that fills them all is not whole */
        bool cut = len >= (size_t)n * cap;
        uint32_t k = cut ? n : MAX((uint32_t)((len + cap - 1) / cap), 1u);
        int t = cut      ? (nd->stats.rx_truncated++, 1)
                : k == 1 ? rx_take(nd, slots[0], &vh, len)
                         : rx_take_rsc(nd, slots, off, k, &vh, len);
        /* The frame is in the slots even when dropped, the RNDIS headers in
         * front of it when taken: both are guest RAM, marked after the last
         * write and before the packet that posts them. */
        for (uint32_t i = 0; i < k; i++) {
                size_t from = (size_t)i * cap, part = len > from ? MIN(len - from, (size_t)cap) : 0;
                recv_dirty(nd, off[i], NETVSP_RX_DATA_OFFSET + part);
        }
        *used = t == 2 ? k : 0;
        return t;
}

/* Frames arriving while the guest cannot take them (no buffer yet, RNDIS
 * not initialised, packet filter 0 = interface down) are read and dropped,
 * so it does not see stale traffic when it comes up. */
static unsigned rx_discard(struct netvsp_dev *nd) {
        for (uint32_t i = 0; i < nd->cfg.rx_budget; i++) {
                struct virtio_net_hdr vh;
                struct iovec iov[2] = { { &vh, sizeof vh }, { nd->resp, sizeof nd->resp } };
                ssize_t n = nd->be->rx(nd->be_ctx, iov, 2);
                if (n == -EAGAIN)
                        return NETVSP_WANT_BACKEND_RX;
                if (n == -ENODEV) {
                        nd->be_gone = true;
                        netvsp_set_link(nd, false);
                        return 0;
                }
                nd->stats.rx_filtered++;
        }
        return NETVSP_WANT_BACKEND_RX;
}

/* Slots read into per frame: one, or with RSC on as many as the largest
 * GSO frame takes, but at most half the range less the control reserve,
 * so that a small receive buffer still reads while the guest holds some
 * of it (a frame larger than that is cut short and dropped). */
static uint32_t rx_slots_per_frame(const struct netvsp_dev *nd) {
        if (!nd->rndis.offload.rsc_ip4 && !nd->rndis.offload.rsc_ip6)
                return 1;
        uint32_t n = MIN(netvsp_rsc_slots(nd->rb.slot_size), NETVSP_RX_BATCH_MAX);
        uint32_t room = nd->rb.n_slots > NETVSP_RX_RESERVED_SLOTS ? (nd->rb.n_slots - NETVSP_RX_RESERVED_SLOTS) / 2 : 1;
        return MAX(MIN(n, room), 1u);
}

static void rx_spares_put(struct netvsp_dev *nd, const uint32_t *spare, uint32_t n) {
        while (n)
                netvsp_rxbuf_unalloc(&nd->rb, spare[--n]);
}

/* The host -> guest cap (docs/netvsp.md "Bandwidth caps"): true when it
 * holds the TAP unread now (the kernel queues; netvsp_dev_qos_wait_ns
 * says for how long); else *qb (NULL: no cap) and *now to charge with. */
static bool rx_held(struct netvsp_dev *nd, struct netvsp_qos_bucket **qb, uint64_t *now) {
        *qb = netvsp_qos_capped(nd->qos ? &nd->qos->in : NULL);
        *now = *qb ? netvsp_qos_now_ns() : 0;
        uint64_t wait = *qb ? netvsp_qos_wait_ns(*qb, *now) : 0;
        if (!wait)
                return false;
        nd->stats.rx_qos_waits++;
        wait = netvsp_qos_hold_ns(*qb, wait);
        nd->qos_wait_ns = nd->qos_wait_ns ? MIN(nd->qos_wait_ns, wait) : wait;
        return true;
}

unsigned netvsp_rx_frames(struct netvsp_dev *nd) {
        if (nd->be_gone)
                return 0;
        if (!nd->recv_ok || nd->rndis.state != RNDIS_STATE_INITIALIZED || nd->rndis.packet_filter == 0)
                return rx_discard(nd);
        /* slots allocated ahead for the next frame, kept across frames (a
         * dropped frame's are reused) and given back before returning */
        uint32_t need = rx_slots_per_frame(nd), spare[NETVSP_RX_BATCH_MAX], n_spare = 0;
        unsigned want = NETVSP_WANT_BACKEND_RX;
        for (uint32_t i = 0; i < nd->cfg.rx_budget; i++) {
                uint32_t used = 0;
                int r;
                if ((nd->batch_n >= nd->cfg.rx_batch_max || nd->batch_n + need > NETVSP_RX_BATCH_MAX) &&
                    flush_batch(nd) < 0) {
                        want = NETVSP_WANT_RING_SPACE;
                        break;
                }
                /* the last slots are kept for control responses */
                if (netvsp_rxbuf_free_slots(&nd->rb) < NETVSP_RX_RESERVED_SLOTS + (need - n_spare)) {
                        if (!nd->rx_starved)
                                nd->stats.rx_buffer_full++;
                        nd->rx_starved = true;
                        want = 0;
                        break;
                }
                nd->rx_starved = false;
                struct netvsp_qos_bucket *qb;
                uint64_t now;
                if (rx_held(nd, &qb, &now)) {
                        want = NETVSP_WANT_TIMER;
                        break;
                }
                uint64_t bytes = nd->stats.rx_bytes;
                while (n_spare < need && netvsp_rxbuf_alloc(&nd->rb, &spare[n_spare]) == 0)
                        n_spare++;
                r = rx_one(nd, spare, n_spare, &used);
                if (qb)
                        netvsp_qos_charge(qb, now, (size_t)(nd->stats.rx_bytes - bytes));
                if (used) {
                        n_spare -= used;
                        memmove(spare, spare + used, n_spare * sizeof spare[0]);
                }
                if (r == -ENODEV) {
                        nd->be_gone = true;
                        netvsp_set_link(nd, false);
                        rx_spares_put(nd, spare, n_spare);
                        flush_batch(nd);
                        return 0;
                }
                if (r == 0)
                        break;
        }
        rx_spares_put(nd, spare, n_spare);
        if (flush_batch(nd) < 0)
                return NETVSP_WANT_RING_SPACE;
        return want;
}
