// SPDX-License-Identifier: MIT
/* Inbound packets of a netvsc client: NVSP completions of our requests and
 * sends, transfer-page packets carrying RNDIS messages in the receive
 * buffer (frames, control responses, indications, §7.4, §7.6), each
 * completed with NVSP 108 once its ranges are processed. The receive buffer
 * is shared with the host: a range is copied out before it is parsed. */
#include "net-internal.h"

/* ---- completions of what we sent ---- */

/* Minimum completion sizes netvsc accepts (§7.2). */
static uint32_t comp_min_len(uint32_t type) {
        switch (type) {
        case NVSP_MSG_TYPE_INIT_COMPLETE:
        case NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE:
                return NVSP_INIT_COMPLETE_MIN_SIZE;
        case NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE:
        case NVSP_MSG5_TYPE_SUBCHANNEL:
                return NVSP_SEND_BUF_COMPLETE_MIN_SIZE;
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE:
                return NVSP_RNDIS_PKT_COMPLETE_SIZE;
        default:
                return 0;
        }
}

static void handle_completion(struct vsc_net *net, const uint8_t *pkt, const struct vsc_packet *p) {
        uint32_t len = p->len - p->payload_off;
        const uint8_t *m = pkt + p->payload_off;
        uint32_t type = len >= 4 ? vsc_net_rd32(m) : 0, min = comp_min_len(type);
        if (min == 0 || len < min) {
                net->stats.bogus_completions++; /* netvsc: "unexpected/short completion" */
                return;
        }
        if (net->wait_tid && p->trans_id == net->wait_tid && !net->wait_comp) {
                net->comp_len = len < NVSP_MESSAGE_SIZE ? len : NVSP_MESSAGE_SIZE;
                vsc_memset(net->comp_msg, 0, sizeof net->comp_msg);
                vsc_memcpy(net->comp_msg, m, net->comp_len);
                net->wait_comp = true;
                return;
        }
        /* a data send: transaction id 1 + section (§5.7: never 0), of this
         * channel's share: another channel's section is not ours to free */
        if (type == NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE && p->trans_id > net->sec_first && p->trans_id <= net->sec_end &&
            (net->section_busy[(p->trans_id - 1) / 64] >> ((p->trans_id - 1) % 64) & 1)) {
                vsc_net_section_put(net, (uint32_t)(p->trans_id - 1));
                net->stats.tx_completions++;
                if (vsc_net_rd32(m + 4) != NVSP_STAT_SUCCESS)
                        net->stats.tx_errors++;
                return;
        }
        /* an LSO send of ours (GPA-direct) */
        if (type == NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE && p->trans_id >= VSC_NET_LSO_TID &&
            p->trans_id < VSC_NET_LSO_TID + VSC_NET_LSO_SLOTS && (net->lso_busy >> (p->trans_id - VSC_NET_LSO_TID) & 1)) {
                net->lso_busy &= ~(1u << (p->trans_id - VSC_NET_LSO_TID));
                net->lso_pending--;
                net->stats.tx_completions++;
                if (vsc_net_rd32(m + 4) != NVSP_STAT_SUCCESS)
                        net->stats.tx_errors++;
                return;
        }
        net->stats.bogus_completions++; /* "Invalid transaction ID" */
}

/* ---- RNDIS messages in the receive buffer ---- */

static void take_response(struct vsc_net *net, const struct vsc_rndis_msg *m) {
        if (!net->wait_tid || net->wait_resp || m->type != net->wait_type || m->req_id != net->wait_req_id) {
                net->stats.rx_unclaimed++; /* netvsc: "no rndis request found" */
                return;
        }
        vsc_memcpy(net->resp, net->rx_copy, m->len);
        net->resp_len = m->len;
        net->wait_resp = true;
        net->stats.ctrl_responses++;
}

static void take_indication(struct vsc_net *net, const struct vsc_rndis_msg *m) {
        net->stats.indications++;
        if (m->status == RNDIS_STATUS_MEDIA_CONNECT)
                net->link_up = true;
        else if (m->status == RNDIS_STATUS_MEDIA_DISCONNECT)
                net->link_up = false;
        else if (m->status == RNDIS_STATUS_LINK_SPEED_CHANGE && m->info_len >= 4)
                net->link_speed = vsc_net_rd32(m->info);
}

/* An RSC fragment (rndis_filter_receive_data, rsc_add_data): the first
 * starts a frame, the last hands it over; a middle one without a first,
 * or a chain still open at the packet's last range, is dropped. data: the
 * fragment's bytes where they lie (the receive buffer: copied once, into
 * the reassembly buffer). */
static void rsc_add(struct vsc_net *net, const struct vsc_rndis_msg *m, const uint8_t *data, bool last_range) {
        uint32_t frag = (uint32_t)m->frag;
        bool more = !(frag & RNDIS_PKTINFO_LAST_FRAG);
        if (frag & RNDIS_PKTINFO_1ST_FRAG)
                net->rsc_cnt = net->rsc_len = 0;
        else if (net->rsc_cnt == 0)
                goto drop;
        if ((more && last_range) || m->info_len > VSC_NET_RSC_MAX - net->rsc_len)
                goto drop;
        vsc_memcpy(net->rsc_buf + net->rsc_len, data, m->info_len);
        net->rsc_len += m->info_len;
        net->rsc_cnt++;
        if (more)
                return;
        net->rsc_cnt = 0;
        net->stats.rx_frames++;
        net->stats.rx_bytes += net->rsc_len;
        net->stats.rx_coalesced++;
        if (net->rx)
                net->rx(net->rx_opaque, net->rsc_buf, net->rsc_len);
        return;
drop:
        net->rsc_cnt = 0;
        net->stats.rx_rsc_dropped++;
}

/* Bytes of a range to copy before parsing it: a PACKET's header and PPIs
 * when they lie before its data (the data is then copied once, to where
 * it goes), else all of it. From the private copy of its first bytes. */
static uint32_t head_len(const uint8_t *head, uint32_t len) {
        struct rndis_packet rp;
        if (len < RNDIS_HEADER_SIZE + sizeof rp || vsc_net_rd32(head) != RNDIS_MSG_PACKET)
                return len;
        vsc_memcpy(&rp, head + RNDIS_HEADER_SIZE, sizeof rp);
        uint64_t data = (uint64_t)RNDIS_HEADER_SIZE + rp.data_offset;
        uint64_t ppi_end = rp.per_pkt_info_len ? (uint64_t)RNDIS_HEADER_SIZE + rp.per_pkt_info_offset + rp.per_pkt_info_len : 0;
        if (data > len || ppi_end > data || data < RNDIS_HEADER_SIZE + sizeof rp)
                return len;
        return (uint32_t)data;
}

/* One range of a transfer-page packet; returns its NVSP status. */
static uint32_t handle_range(struct vsc_net *net, uint32_t off, uint32_t len, bool last_range) {
        struct vsc_rndis_msg m;
        /* netvsc_receive: inside the buffer, at most one section */
        if (off > net->recv_len || len > net->recv_len - off || len > net->recv_slot_size || len > sizeof net->rx_copy)
                return NVSP_STAT_FAIL;
        const uint8_t *src = net->recv_buf + off;
        /* a NIC being closed passes no frame on: the ones still in flight
         * cost a look at their type (control responses are still taken) */
        if (net->closing && len >= 4 && vsc_net_rd32(src) == RNDIS_MSG_PACKET) {
                net->rsc_cnt = 0;
                net->stats.rx_dropped_closing++;
                return NVSP_STAT_SUCCESS;
        }
        uint32_t first = len < RNDIS_HEADER_SIZE + sizeof(struct rndis_packet) ? len
                                                                             : RNDIS_HEADER_SIZE + sizeof(struct rndis_packet);
        vsc_memcpy(net->rx_copy, src, first);
        uint32_t have = head_len(net->rx_copy, len);
        vsc_memcpy(net->rx_copy + first, src + first, have - first);
        int r = vsc_rndis_parse(net->rx_copy, len, &m);
        if (r < 0)
                return NVSP_STAT_FAIL;
        switch (m.type) {
        case RNDIS_MSG_PACKET: {
                /* the data's place in the range, checked by the parse of the
                 * private copy; its bytes are read from the buffer once */
                uint32_t at = (uint32_t)(m.info - net->rx_copy);
                if (m.frag >= 0 && ((uint32_t)m.frag & RNDIS_PKTINFO_SUBALLOC)) {
                        rsc_add(net, &m, src + at, last_range);
                        break;
                }
                if (have < at + m.info_len)
                        vsc_memcpy(net->rx_copy + have, src + have, at + m.info_len - have);
                net->rsc_cnt = 0;
                net->stats.rx_frames++;
                net->stats.rx_bytes += m.info_len;
                if (net->rx)
                        net->rx(net->rx_opaque, m.info, m.info_len);
                break;
        }
        case RNDIS_MSG_INDICATE:
                take_indication(net, &m);
                break;
        default:
                take_response(net, &m);
                break;
        }
        return NVSP_STAT_SUCCESS;
}

static void complete_rx(struct vsc_net *net, uint64_t tid, uint32_t status) {
        uint32_t c[2] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, status };
        if (net->rx_comp_n == 0 && vsc_channel_queue(&net->ch, VM_PKT_COMP, 0, tid, c, sizeof c) == 0)
                return;
        /* the outbound ring is full (or older ones wait): keep it in order */
        if (net->rx_comp_n < VSC_NET_MAX_RX_COMPS) {
                net->rx_comp[net->rx_comp_n] = tid;
                net->rx_comp_status[net->rx_comp_n++] = status;
                net->stats.rx_completions_deferred++;
        }
}

static void handle_xfer(struct vsc_net *net, const uint8_t *pkt, const struct vsc_packet *p) {
        struct vsc_net_xfer x;
        /* netvsc_receive drops such packets without completing them */
        if (!net->recv_ok || vsc_net_parse_xfer(pkt, p, &x) < 0) {
                net->stats.rx_bad++;
                return;
        }
        net->stats.rx_xfer_packets++;
        uint32_t status = NVSP_STAT_SUCCESS;
        for (uint32_t i = 0; i < x.range_cnt; i++) {
                uint32_t st = handle_range(net, vsc_net_rd32(x.ranges + 8 * i + 4), vsc_net_rd32(x.ranges + 8 * i),
                                           i + 1 == x.range_cnt);
                if (st != NVSP_STAT_SUCCESS) {
                        net->stats.rx_bad++;
                        status = st;
                }
        }
        complete_rx(net, p->trans_id, status);
        net->rx_ranges_unpublished += x.range_cnt;
}

void vsc_net_handle_packet(struct vsc_net *net, const uint8_t *pkt, const struct vsc_packet *p) {
        switch (p->type) {
        case VM_PKT_COMP:
                handle_completion(net, pkt, p);
                break;
        case VM_PKT_DATA_USING_XFER_PAGES:
                handle_xfer(net, pkt, p);
                break;
        default: /* inband SEND_INDIRECTION_TABLE, VF association: nothing for us */
                net->stats.other_packets++;
                break;
        }
}

/* Completions deferred by a full ring go first, in order. */
static bool flush_rx_comps(struct vsc_net *net) {
        uint32_t done = 0;
        while (done < net->rx_comp_n) {
                uint32_t c[2] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, net->rx_comp_status[done] };
                if (vsc_channel_queue(&net->ch, VM_PKT_COMP, 0, net->rx_comp[done], c, sizeof c) < 0)
                        break;
                done++;
        }
        for (uint32_t i = done; i < net->rx_comp_n; i++) {
                net->rx_comp[i - done] = net->rx_comp[i];
                net->rx_comp_status[i - done] = net->rx_comp_status[i];
        }
        net->rx_comp_n -= done;
        return net->rx_comp_n == 0;
}

int vsc_net_poll(struct vsc_net *net, unsigned budget) {
        int n = 0;
        flush_rx_comps(net);
        /* a full completion backlog: leave the inbound ring alone until the
         * host made room (it signals through pending_send_sz) */
        while ((budget == 0 || (unsigned)n < budget) && net->rx_comp_n < VSC_NET_MAX_RX_COMPS) {
                struct vsc_packet p;
                int r = vsc_channel_recv(&net->ch, net->pkt, sizeof net->pkt, &p);
                if (r == -EMSGSIZE)
                        return vsc_fail(net->bus, -EPROTO, "netvsc: host packet of %u bytes (more than %u, §5.4)",
                                        p.len, VSC_NET_PKT_MAX);
                if (r == -EAGAIN)
                        break;
                if (r < 0)
                        return r;
                vsc_net_handle_packet(net, net->pkt, &p);
                n++;
                /* netvsc_poll handles at most 64 ranges (its NAPI weight)
                 * before it sends its receive completions: the host gets
                 * slots back while a long stream is still being read */
                if (net->rx_ranges_unpublished >= VSC_NET_PUBLISH_RANGES) {
                        net->rx_ranges_unpublished = 0;
                        vsc_channel_flush(&net->ch);
                }
        }
        net->rx_ranges_unpublished = 0;
        vsc_channel_flush(&net->ch); /* the rest of the completions: one publish, at most one doorbell */
        return n;
}

void vsc_net_set_rx(struct vsc_net *net, vsc_net_rx_fn fn, void *opaque) {
        net->rx = fn;
        net->rx_opaque = opaque;
}
