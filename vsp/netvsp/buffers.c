// SPDX-License-Identifier: MIT
/* The guest's receive and send buffers (§7.3 steps 5 and 6, §7.7). */
#include <errno.h>

#include "common/macro.h"
#include "netvsp-internal.h"
#include "netvsp/nvsp.h"

/* One slot holds an RNDIS PACKET header with up to three PPIs (rounded to
 * NETVSP_RX_DATA_OFFSET) and the largest frame: MTU + 14 + a VLAN tag; one
 * byte more so a read that fills the slot exactly is recognised as
 * truncated. Control responses (<= NETVSP_CTRL_MSG_MAX) fit as well. */
uint32_t netvsp_rx_slot_size(uint32_t mtu) {
        uint32_t need = NETVSP_RX_DATA_OFFSET + mtu + 14 + 4 + 1;
        return ALIGN_UP(MAX(need, NETVSP_CTRL_MSG_MAX), 64u);
}

uint32_t netvsp_rsc_slots(uint32_t slot_size) {
        uint32_t cap = slot_size > NETVSP_RX_DATA_OFFSET ? slot_size - NETVSP_RX_DATA_OFFSET : 1;
        return (NETVSP_RSC_FRAME_MAX + 1 + cap - 1) / cap; /* + 1: a full last slot reads as truncated */
}

/* vRSS: the receive buffer is split into one range of slots per channel
 * the NIC may open (docs/netvsp.md "vRSS"), decided when the guest
 * registers it: each channel's thread hands out only its own slots. A
 * range keeps room for a batch beside the reserved control slots, else
 * the buffer stays whole (the guest then gets no sub-channels). */
uint32_t netvsp_rx_split(const struct netvsp_dev *nd, uint32_t total) {
        uint32_t q = nd->cfg.queues;
        if (q < 2 || nd->version < NVSP_PROTOCOL_VERSION_5 || total / q < NETVSP_RX_RESERVED_SLOTS + 16u)
                return 1;
        return q;
}

void netvsp_recv_buf(struct netvsp_dev *nd, uint64_t tid, bool want_comp, uint32_t gpadl, uint16_t id) {
        struct nvsp_message m;
        uint32_t status = NVSP_STAT_FAIL, slot = netvsp_rx_slot_size(nd->cfg.rndis.mtu);
        void *base = NULL;
        size_t len = 0;

        /* The guest checks xfer_pageset_id against 0xCAFE (§7.4); one buffer per NIC. */
        if (!nd->recv_ok && id == NVSP_RECV_BUF_ID &&
            nd->host->map_gpadl(nd->host_ctx, gpadl, &base, &len) == 0) {
                uint32_t total = len >= slot ? (uint32_t)MIN(len / slot, (size_t)NETVSP_RXBUF_MAX_SLOTS) : 0;
                uint32_t split = netvsp_rx_split(nd, total);
                if (len >= slot && len <= NETVSP_MAX_RECV_BUF &&
                    netvsp_rxbuf_init_range(&nd->rb, slot, 0, total / split) == 0) {
                        nd->recv_total = total;
                        nd->rx_split = split;
                        nd->recv_ok = true;
                        nd->recv_gpadl = gpadl;
                        nd->recv_base = base;
                        nd->recv_len = len;
                        status = NVSP_STAT_SUCCESS;
                } else if (nd->host->unmap_gpadl) {
                        nd->host->unmap_gpadl(nd->host_ctx, gpadl);
                }
        }
        if (want_comp)
                netvsp_complete(nd, tid, &m,
                                nvsp_build_recv_buf_complete(&m, status, nd->rb.slot_size, nd->recv_total));
}

void netvsp_send_buf(struct netvsp_dev *nd, uint64_t tid, bool want_comp, uint32_t gpadl, uint16_t id) {
        struct nvsp_message m;
        uint32_t status = NVSP_STAT_FAIL, sec = nd->cfg.send_section_size;
        void *base = NULL;
        size_t len = 0;

        if (!nd->send_ok && id == NVSP_SEND_BUF_ID && nd->host->map_gpadl(nd->host_ctx, gpadl, &base, &len) == 0) {
                if (len >= sec && len <= NETVSP_MAX_SEND_BUF) {
                        nd->send_ok = true;
                        nd->send_gpadl = gpadl;
                        nd->send_base = base;
                        nd->send_len = len;
                        nd->send_sections = (uint32_t)(len / sec); /* the guest computes the same (§7.3) */
                        status = NVSP_STAT_SUCCESS;
                } else if (nd->host->unmap_gpadl) {
                        nd->host->unmap_gpadl(nd->host_ctx, gpadl);
                }
        }
        if (want_comp)
                netvsp_complete(nd, tid, &m, nvsp_build_send_buf_complete(&m, status, sec));
}

/* After REVOKE_RECV_BUF the host must not write the buffer again (§7.7):
 * queued frames and responses are dropped. */
void netvsp_revoke_recv_buf(struct netvsp_dev *nd) {
        if (!nd->recv_ok)
                return;
        netvsp_rx_drop_all(nd);
        netvsp_rxbuf_destroy(&nd->rb);
        if (nd->host->unmap_gpadl)
                nd->host->unmap_gpadl(nd->host_ctx, nd->recv_gpadl);
        nd->recv_ok = false;
        nd->recv_base = NULL;
        nd->recv_len = 0;
        nd->recv_total = 0;
        nd->rx_split = 0;
}

void netvsp_revoke_send_buf(struct netvsp_dev *nd) {
        if (!nd->send_ok)
                return;
        /* A frame still stalled in the buffer is given up (the guest only
         * revokes after its sends completed, so this is a hostile guest). */
        if (nd->stall.active) {
                nd->stall.active = false;
                nd->stats.tx_dropped++;
                if (nd->stall.want_comp)
                        netvsp_complete_rndis(nd, nd->stall.trans_id, NVSP_STAT_SUCCESS);
        }
        if (nd->host->unmap_gpadl)
                nd->host->unmap_gpadl(nd->host_ctx, nd->send_gpadl);
        nd->send_ok = false;
        nd->send_base = NULL;
        nd->send_len = 0;
        nd->send_sections = 0;
}
