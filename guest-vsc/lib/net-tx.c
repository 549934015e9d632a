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
