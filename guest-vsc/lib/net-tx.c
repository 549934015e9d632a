// SPDX-License-Identifier: MIT
/* Outbound path of a netvsc client (§7.4, §7.6): frames as RNDIS PACKET
 * messages in send-buffer sections, batched like netvsc_send (up to
 * max_pkt_per_msg per section, every message but the last padded to the
 * RNDIS alignment with the padding in its msg_len), one inband NVSP 107
 * per section; control messages GPA-direct from a page of our own. */
#include "net-internal.h"

#define RNDIS_PACKET_HDR (RNDIS_HEADER_SIZE + sizeof(struct rndis_packet)) /* 44 */

/* netvsc_get_next_send_section: the lowest free section of this channel's
 * share (the sections outside it are marked busy). */
static int section_get(struct vsc_net *net) {
        for (uint32_t w = net->sec_first / 64; w * 64 < net->sec_end; w++) {
                uint64_t busy = net->section_busy[w];
                if (busy == ~0ull)
                        continue;
                uint32_t s = w * 64 + (uint32_t)__builtin_ctzll(~busy);
                if (s >= net->sec_end)
                        return -1;
                net->section_busy[w] |= 1ull << (s % 64);
                net->sections_free--;
                return (int)s;
        }
        return -1;
}

void vsc_net_section_put(struct vsc_net *net, uint32_t s) {
        net->section_busy[s / 64] &= ~(1ull << (s % 64));
        net->sections_free++;
}

/* NVSP 107 for the current section, completion requested with
 * transaction id 1 + section; queued, not yet published. */
static int queue_section(struct vsc_net *net) {
        uint8_t m[NVSP_MESSAGE_SIZE];
        vsc_memset(m, 0, sizeof m);
        vsc_net_wr32(m, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        vsc_net_wr32(m + 4, NVSP_RNDIS_CHANNEL_DATA);
        vsc_net_wr32(m + 8, net->batch_section);
        vsc_net_wr32(m + 12, net->batch_used);
        net->batch_open = false;
        int r = vsc_channel_queue(&net->ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                  1ull + net->batch_section, m, sizeof m);
        net->batch_unqueued = r < 0;
        if (r == 0)
                net->stats.tx_sections++;
        return r;
}

static void put_message(struct vsc_net *net, uint32_t off, const void *frame, uint32_t len) {
        uint8_t *p = net->send_buf + (size_t)net->batch_section * net->section_size + off;
        struct rndis_packet rp;
        vsc_memset(&rp, 0, sizeof rp);
        rp.data_offset = sizeof rp;         /* no PPIs: the frame is complete */
        rp.data_len = len;
        rp.per_pkt_info_offset = sizeof rp; /* as netvsc_xmit sets it */
        vsc_net_wr32(p, RNDIS_MSG_PACKET);
        vsc_net_wr32(p + 4, (uint32_t)RNDIS_PACKET_HDR + len);
        vsc_memcpy(p + RNDIS_HEADER_SIZE, &rp, sizeof rp);
        vsc_memcpy(p + RNDIS_PACKET_HDR, frame, len);
}

/* Appends to the open section if netvsc would (room for this message and
 * the alignment, fewer than max_pkt_per_msg in it): the previous message
 * gets its padding first. */
static bool append(struct vsc_net *net, const void *frame, uint32_t len) {
        uint32_t need = (uint32_t)RNDIS_PACKET_HDR + len;
        uint32_t padded = (net->batch_used + net->pkt_align - 1) & ~(net->pkt_align - 1);
        if (!net->batch_open || net->batch_count >= net->max_pkt_per_msg ||
            padded + need + net->pkt_align >= net->section_size)
                return false;
        uint8_t *sec = net->send_buf + (size_t)net->batch_section * net->section_size;
        uint32_t pad = padded - net->batch_used;
        if (pad) {
                vsc_memset(sec + net->batch_used, 0, pad);
                vsc_net_wr32(sec + net->batch_last + 4, vsc_net_rd32(sec + net->batch_last + 4) + pad);
        }
        put_message(net, padded, frame, len);
        net->batch_last = padded;
        net->batch_used = padded + need;
        net->batch_count++;
        return true;
}

int vsc_net_send(struct vsc_net *net, const void *frame, uint32_t len) {
        if (!net->send_ok)
                return -ENOTCONN;
        if (len < 14 || len > VSC_NET_FRAME_MAX || RNDIS_PACKET_HDR + len + net->pkt_align >= net->section_size)
                return -EMSGSIZE;
        if (net->batch_unqueued && queue_section(net) < 0)
                return -EAGAIN;
        if (!append(net, frame, len)) {
                int s = net->batch_open && queue_section(net) < 0 ? -1 : section_get(net);
                if (s < 0) {
                        net->stats.tx_busy++;
                        return -EAGAIN;
                }
                net->batch_open = true;
                net->batch_section = (uint32_t)s;
                net->batch_used = net->batch_count = 0;
                put_message(net, 0, frame, len);
                net->batch_last = 0;
                net->batch_used = (uint32_t)RNDIS_PACKET_HDR + len;
                net->batch_count = 1;
        }
        net->stats.tx_frames++;
        net->stats.tx_bytes += len;
        if (net->batch_count >= net->max_pkt_per_msg)
                (void)queue_section(net); /* a full ring: retried by the next send or flush */
        return 0;
}

int vsc_net_flush(struct vsc_net *net) {
        int r = 0;
        if (net->batch_unqueued || net->batch_open)
                r = queue_section(net);
        vsc_channel_flush(&net->ch);
        return r < 0 ? -EAGAIN : 0;
}

int vsc_net_send_control(struct vsc_net *net, uint32_t len, uint64_t tid) {
        struct vsc_bus *bus = net->bus;
        /* 6.1.0 (vmbus_sendpacket_pagebuffer): one single-PFN range; the
         * message starts a page, so it crosses none (len <= 4096). */
        uint8_t extra[24], m[NVSP_MESSAGE_SIZE];
        uint64_t pfn = bus->ops->virt_to_phys(bus->ctx, net->ctrl_page) >> 12;
        if (len == 0 || len > VMBUS_PAGE_SIZE)
                return -EMSGSIZE;
        vsc_memset(extra, 0, sizeof extra);
        vsc_net_wr32(extra + 4, 1);   /* range_cnt */
        vsc_net_wr32(extra + 8, len); /* byte_count; byte_offset 0 */
        vsc_memcpy(extra + 16, &pfn, 8);
        vsc_memset(m, 0, sizeof m);
        vsc_net_wr32(m, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        vsc_net_wr32(m + 4, NVSP_RNDIS_CHANNEL_CONTROL);
        vsc_net_wr32(m + 8, NVSP_INVALID_SECTION_INDEX);
        uint64_t deadline = vsc_deadline(bus);
        for (;;) {
                int r = vsc_ring_put(&net->ch.out, VM_PKT_DATA_USING_GPA_DIRECT,
                                     VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, tid, extra, sizeof extra, m, sizeof m);
                if (r == 0)
                        break;
                if (r != -EAGAIN)
                        return vsc_fail(bus, r, "netvsc: cannot queue an RNDIS control message (%d)", r);
                if (bus->ops->now_ns(bus->ctx) >= deadline)
                        return vsc_fail(bus, -ETIMEDOUT, "netvsc: outbound ring stayed full");
                vsc_channel_flush(&net->ch);
                r = vsc_net_poll(net, 0); /* completions make room */
                if (r < 0)
                        return r;
                bus->ops->idle(bus->ctx, deadline);
        }
        net->ch.stats.sent++;
        if (vsc_ring_publish(&net->ch.out))
                vsc_channel_signal(&net->ch);
        return 0;
}

/* ---- LSO sends (GPA-direct) ---- */

#define LSO_HDR_SLOT 256u /* bytes of lso_page per slot: RNDIS header + one PPI */
_Static_assert(VSC_NET_LSO_SLOTS * LSO_HDR_SLOT <= VMBUS_PAGE_SIZE, "LSO headers fit a page");
#define LSO_RANGES_MAX (2u + VSC_NET_LSO_FRAME_MAX / VMBUS_PAGE_SIZE + 1u) /* header + the frame's pages */

int vsc_net_send_lso(struct vsc_net *net, const void *frame, uint32_t len, uint32_t mss, uint32_t tcp_off, bool ipv6) {
        struct vsc_bus *bus = net->bus;
        if (!net->send_ok || !net->lso_page || !(ipv6 ? net->lso6 : net->lso4))
                return -EOPNOTSUPP;
        if (len > VSC_NET_LSO_FRAME_MAX || mss == 0 || mss > NDIS_LSO_MSS_MASK || tcp_off < 14 ||
            tcp_off > NDIS_LSO_TCP_HDR_OFFSET_MASK || tcp_off + 20 >= len)
                return -EMSGSIZE;
        uint32_t free_slots = ~net->lso_busy & ((1u << VSC_NET_LSO_SLOTS) - 1);
        /* frames sent before go first: the section being filled is queued ahead */
        if (!free_slots || ((net->batch_open || net->batch_unqueued) && queue_section(net) < 0)) {
                net->stats.tx_busy++;
                return -EAGAIN;
        }
        unsigned slot = (unsigned)__builtin_ctz(free_slots);
        /* the RNDIS PACKET message and its LSOv2 PPI (rndis_filter_send) */
        uint8_t *h = net->lso_page + slot * LSO_HDR_SLOT;
        const uint32_t ppi_len = (uint32_t)sizeof(struct rndis_per_packet_info) + 4;
        const uint32_t hdr_len = (uint32_t)RNDIS_PACKET_HDR + ppi_len;
        struct rndis_packet rp;
        vsc_memset(&rp, 0, sizeof rp);
        rp.per_pkt_info_offset = sizeof rp;
        rp.per_pkt_info_len = ppi_len;
        rp.data_offset = (uint32_t)sizeof rp + ppi_len;
        rp.data_len = len;
        vsc_net_wr32(h, RNDIS_MSG_PACKET);
        vsc_net_wr32(h + 4, hdr_len + len);
        vsc_memcpy(h + RNDIS_HEADER_SIZE, &rp, sizeof rp);
        uint8_t *ppi = h + RNDIS_PACKET_HDR;
        vsc_net_wr32(ppi, ppi_len);
        vsc_net_wr32(ppi + 4, TCP_LARGESEND_PKTINFO);
        vsc_net_wr32(ppi + 8, (uint32_t)sizeof(struct rndis_per_packet_info));
        vsc_net_wr32(ppi + 12, mss | tcp_off << NDIS_LSO_TCP_HDR_OFFSET_SHIFT | NDIS_LSO_TYPE_V2 |
                                       (ipv6 ? NDIS_LSO_IPV6 : 0));
        /* single-page ranges, as vmbus_sendpacket_pagebuffer: the header, then the frame page by page */
        uint8_t extra[8 + 16 * LSO_RANGES_MAX];
        uint32_t n = 0;
        vsc_memset(extra, 0, 8);
        uint64_t pa = bus->ops->virt_to_phys(bus->ctx, h);
        vsc_net_wr32(extra + 8, hdr_len);
        vsc_net_wr32(extra + 12, (uint32_t)(pa & (VMBUS_PAGE_SIZE - 1)));
        uint64_t pfn = pa >> 12;
        vsc_memcpy(extra + 16, &pfn, 8);
        n++;
        const uint8_t *f = frame;
        for (uint32_t off = 0; off < len; n++) {
                pa = bus->ops->virt_to_phys(bus->ctx, f + off);
                uint32_t in_page = (uint32_t)(pa & (VMBUS_PAGE_SIZE - 1)), chunk = VMBUS_PAGE_SIZE - in_page;
                chunk = chunk < len - off ? chunk : len - off;
                uint8_t *r = extra + 8 + 16 * n;
                vsc_net_wr32(r, chunk);
                vsc_net_wr32(r + 4, in_page);
                pfn = pa >> 12;
                vsc_memcpy(r + 8, &pfn, 8);
                off += chunk;
        }
        vsc_net_wr32(extra + 4, n); /* range_cnt */
        uint8_t m[NVSP_MESSAGE_SIZE];
        vsc_memset(m, 0, sizeof m);
        vsc_net_wr32(m, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        vsc_net_wr32(m + 4, NVSP_RNDIS_CHANNEL_DATA);
        vsc_net_wr32(m + 8, NVSP_INVALID_SECTION_INDEX); /* not in the send buffer */
        int r = vsc_ring_put(&net->ch.out, VM_PKT_DATA_USING_GPA_DIRECT, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                             VSC_NET_LSO_TID + slot, extra, 8 + 16 * (size_t)n, m, sizeof m);
        if (r < 0) {
                net->stats.tx_busy++;
                return r;
        }
        net->ch.stats.sent++;
        net->lso_busy |= 1u << slot;
        net->lso_pending++;
        net->stats.tx_frames++;
        net->stats.tx_bytes += len;
        return (int)slot;
}
