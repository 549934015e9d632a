// SPDX-License-Identifier: MIT
/* The RNDIS half of a netvsc client (§7.4, §7.5): requests built as
 * rndis_filter.c builds them (info buffer at offset 20 of the body), sent
 * GPA-direct, one at a time; the response is matched by type and req_id and
 * validated before anything in it is used. */
#include "net-internal.h"

#define REQ_HDR (RNDIS_HEADER_SIZE + sizeof(struct rndis_query_request)) /* 28: query and set */

static const char *type_name(uint32_t type) {
        switch (type) {
        case RNDIS_MSG_INIT: return "RNDIS INIT";
        case RNDIS_MSG_QUERY: return "RNDIS QUERY";
        case RNDIS_MSG_SET: return "RNDIS SET";
        case RNDIS_MSG_HALT: return "RNDIS HALT";
        default: return "RNDIS message";
        }
}

/* Sends the message in ctrl_page and waits for the NVSP completion and (if
 * want_type) the response; *nvsp_status gets the completion's status. */
static int request(struct vsc_net *net, uint32_t len, uint32_t want_type, uint32_t *nvsp_status) {
        uint32_t type = vsc_net_rd32(net->ctrl_page), req_id = vsc_net_rd32(net->ctrl_page + 8);
        uint64_t tid = vsc_net_ctrl_tid(net);
        vsc_net_wait_arm(net, tid, want_type, req_id);
        int r = vsc_net_send_control(net, len, tid);
        if (r < 0)
                return r;
        r = vsc_net_wait(net, type_name(type));
        if (r < 0)
                return r;
        if (vsc_net_rd32(net->comp_msg) != NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE)
                return vsc_fail(net->bus, -EPROTO, "bad host message: NVSP type %u completes the %s",
                                vsc_net_rd32(net->comp_msg), type_name(type));
        uint32_t st = vsc_net_rd32(net->comp_msg + 4);
        if (nvsp_status)
                *nvsp_status = st;
        /* §7.4: every SEND_RNDIS_PKT is completed with status 1 */
        if (!nvsp_status && st != NVSP_STAT_SUCCESS)
                return vsc_fail(net->bus, -EIO, "netvsc: host completed the %s with NVSP status %u", type_name(type), st);
        return 0;
}

int vsc_net_control_raw(struct vsc_net *net, const void *msg, uint32_t len, uint32_t want_type,
                        uint32_t *nvsp_status) {
        if (len > VMBUS_PAGE_SIZE || len < 12)
                return -EMSGSIZE;
        vsc_memcpy(net->ctrl_page, msg, len);
        uint32_t st = 0;
        int r = request(net, len, want_type, &st);
        if (nvsp_status)
                *nvsp_status = st;
        return r;
}

static uint32_t put_request(struct vsc_net *net, uint32_t type, uint32_t oid, const void *in, uint32_t in_len) {
        uint8_t *m = net->ctrl_page;
        vsc_net_wr32(m, type);
        vsc_net_wr32(m + 4, (uint32_t)REQ_HDR + in_len);
        vsc_net_wr32(m + 8, net->next_req_id++);
        vsc_net_wr32(m + 12, oid);
        vsc_net_wr32(m + 16, in_len);
        vsc_net_wr32(m + 20, (uint32_t)sizeof(struct rndis_query_request)); /* info_buf_offset 20 */
        vsc_net_wr32(m + 24, 0);                                          /* dev_vc_handle */
        if (in_len)
                vsc_memcpy(m + REQ_HDR, in, in_len);
        return (uint32_t)REQ_HDR + in_len;
}

int vsc_net_query(struct vsc_net *net, uint32_t oid, const void *in, uint32_t in_len, void *out, uint32_t out_cap,
                  uint32_t *out_len) {
        struct vsc_rndis_msg m;
        /* defined on every path, so a caller never depends on each error
         * path (vsc_fail()) returning a negative value to skip reading it */
        *out_len = 0;
        if (in_len > VMBUS_PAGE_SIZE - REQ_HDR)
                return -EMSGSIZE;
        int r = request(net, put_request(net, RNDIS_MSG_QUERY, oid, in, in_len), RNDIS_MSG_QUERY_C, NULL);
        if (r < 0)
                return r;
        /* the response was validated when it arrived; parse the copy again */
        if (vsc_rndis_parse(net->resp, net->resp_len, &m) < 0)
                return vsc_fail(net->bus, -EPROTO, "bad host message: QUERY_C for OID 0x%x", oid);
        if (m.status != RNDIS_STATUS_SUCCESS)
                return vsc_fail(net->bus, -EIO, "host refused QUERY of OID 0x%x: status 0x%x", oid, m.status);
        /* rndis_filter_query_device: nothing, or more than asked for, is an error */
        if (m.info_len == 0 || m.info_len > out_cap)
                return vsc_fail(net->bus, -EPROTO, "bad host message: QUERY_C for OID 0x%x with %u bytes (room for %u)",
                                oid, m.info_len, out_cap);
        vsc_memcpy(out, m.info, m.info_len);
        *out_len = m.info_len;
        return 0;
}

int vsc_net_set(struct vsc_net *net, uint32_t oid, const void *in, uint32_t in_len, uint32_t *status) {
        struct vsc_rndis_msg m;
        *status = RNDIS_STATUS_FAILURE; /* as *out_len in vsc_net_query() */
        if (in_len > VMBUS_PAGE_SIZE - REQ_HDR)
                return -EMSGSIZE;
        int r = request(net, put_request(net, RNDIS_MSG_SET, oid, in, in_len), RNDIS_MSG_SET_C, NULL);
        if (r < 0)
                return r;
        if (vsc_rndis_parse(net->resp, net->resp_len, &m) < 0)
                return vsc_fail(net->bus, -EPROTO, "bad host message: SET_C for OID 0x%x", oid);
        *status = m.status;
        return 0;
}

int vsc_net_set_packet_filter(struct vsc_net *net, uint32_t filter) {
        uint32_t st;
        int r = vsc_net_set(net, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter, 4, &st);
        if (r < 0)
                return r;
        if (st != RNDIS_STATUS_SUCCESS)
                return vsc_fail(net->bus, -EIO, "host refused packet filter 0x%x: status 0x%x", filter, st);
        net->packet_filter = filter;
        return 0;
}

/* ---- §7.5 in Linux's order ---- */

static int rndis_initialize(struct vsc_net *net) {
        struct vsc_rndis_msg m;
        uint8_t *p = net->ctrl_page;
        vsc_net_wr32(p, RNDIS_MSG_INIT);
        vsc_net_wr32(p + 4, RNDIS_HEADER_SIZE + (uint32_t)sizeof(struct rndis_initialize_request));
        vsc_net_wr32(p + 8, net->next_req_id++);
        vsc_net_wr32(p + 12, RNDIS_MAJOR_VERSION);
        vsc_net_wr32(p + 16, RNDIS_MINOR_VERSION);
        vsc_net_wr32(p + 20, 0x4000); /* max_xfer_size */
        int r = request(net, 24, RNDIS_MSG_INIT_C, NULL);
        if (r < 0)
                return r;
        if (vsc_rndis_parse(net->resp, net->resp_len, &m) < 0 || m.status != RNDIS_STATUS_SUCCESS)
                return vsc_fail(net->bus, -EIO, "host refused RNDIS INIT: status 0x%x", m.status);
        /* batching limit and 1 << alignment factor; an alignment beyond a
         * page or no batching at all cannot be right */
        if (m.max_pkt_per_msg == 0 || m.pkt_alignment_factor > 12)
                return vsc_fail(net->bus, -EPROTO, "bad host message: INIT_C with max_pkt_per_msg %u, alignment 2^%u",
                                m.max_pkt_per_msg, m.pkt_alignment_factor);
        net->max_pkt_per_msg = m.max_pkt_per_msg;
        net->pkt_align = 1u << m.pkt_alignment_factor;
        return 0;
}

/* rndis_query_hwcaps: the NDIS_OFFLOAD header in the request, and an answer
 * of type 0xA7, revision >= 1, 112 <= size <= what came back. */
static int query_hwcaps(struct vsc_net *net) {
        uint16_t size = net->nvsp_version >= NVSP_PROTOCOL_VERSION_5   ? NDIS_OFFLOAD_SIZE
                        : net->nvsp_version >= NVSP_PROTOCOL_VERSION_4 ? NDIS_OFFLOAD_SIZE_6_1
                                                                       : NDIS_OFFLOAD_SIZE_6_0;
        uint8_t rev = net->nvsp_version >= NVSP_PROTOCOL_VERSION_5 ? 3 : net->nvsp_version >= NVSP_PROTOCOL_VERSION_4 ? 2 : 1;
        struct ndis_offload in;
        uint32_t got = 0;
        vsc_memset(&in, 0, sizeof in);
        in.header = (struct ndis_object_header){ NDIS_OBJECT_TYPE_OFFLOAD, rev, size };
        vsc_memset(&net->hwcaps, 0, sizeof net->hwcaps);
        int r = vsc_net_query(net, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &in, size, &net->hwcaps,
                              sizeof net->hwcaps, &got);
        if (r < 0)
                return r;
        const struct ndis_object_header *h = &net->hwcaps.header;
        if (h->type != NDIS_OBJECT_TYPE_OFFLOAD || h->revision < 1 || h->size > got || h->size < NDIS_OFFLOAD_SIZE_6_0)
                return vsc_fail(net->bus, -EPROTO, "bad host message: offload capabilities type 0x%x rev %u size %u of %u",
                                h->type, h->revision, h->size, got);
        return 0;
}

/* rndis_netdev_set_hwcaps: switch on what the host offers (§7.5). */
static int set_offload_params(struct vsc_net *net) {
        const struct ndis_offload *c = &net->hwcaps;
        struct ndis_offload_params p;
        vsc_memset(&p, 0, sizeof p);
        bool v5 = net->nvsp_version >= NVSP_PROTOCOL_VERSION_5;
        uint16_t size = v5 ? NDIS_OFFLOAD_PARAMS_SIZE : NDIS_OFFLOAD_PARAMS_SIZE_V4;
        p.header = (struct ndis_object_header){ NDIS_OBJECT_TYPE_DEFAULT, v5 ? 3 : 2, size };
        p.ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED; /* Linux always does IP checksums */
        if ((c->csum.ip4_txcsum & NDIS_TXCSUM_ALL_TCP4) == NDIS_TXCSUM_ALL_TCP4) {
                p.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
                if (c->lsov2.ip4_encap & NDIS_OFFLOAD_ENCAP_8023)
                        p.lso_v2_ipv4 = NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
                net->lso4 = p.lso_v2_ipv4 == NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
                if (c->csum.ip4_txcsum & NDIS_TXCSUM_CAP_UDP4)
                        p.udp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
        }
        if ((c->csum.ip6_txcsum & NDIS_TXCSUM_ALL_TCP6) == NDIS_TXCSUM_ALL_TCP6) {
                p.tcp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
                if ((c->lsov2.ip6_encap & NDIS_OFFLOAD_ENCAP_8023) &&
                    (c->lsov2.ip6_opts & NDIS_LSOV2_CAP_IP6) == NDIS_LSOV2_CAP_IP6)
                        p.lso_v2_ipv6 = NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
                net->lso6 = p.lso_v2_ipv6 == NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
                if (c->csum.ip6_txcsum & NDIS_TXCSUM_CAP_UDP6)
                        p.udp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
        }
        bool rsc = v5 && c->header.revision >= 3 && c->rsc.ip4 && c->rsc.ip6 && net->cfg.rsc;
        if (v5 && c->rsc.ip4 && c->rsc.ip6) { /* LRO off as Linux's probe says it, or on when asked */
                p.rsc_ip_v4 = rsc ? NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED : NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED;
                p.rsc_ip_v6 = p.rsc_ip_v4;
        }
        uint32_t st;
        int r = vsc_net_set(net, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, &p, size, &st);
        net->rsc = r == 0 && st == RNDIS_STATUS_SUCCESS && rsc;
        if (r == 0 && st != RNDIS_STATUS_SUCCESS) {
                net->lso4 = net->lso6 = false;
                return vsc_fail(net->bus, -EIO, "host refused the offload parameters: status 0x%x", st);
        }
        if (r < 0)
                net->lso4 = net->lso6 = false;
        return r;
}

static uint32_t query_u32(struct vsc_net *net, uint32_t oid, uint32_t dflt) {
        uint32_t v = dflt, got;
        uint8_t buf[4];
        if (vsc_net_query(net, oid, NULL, 0, buf, sizeof buf, &got) == 0 && got == 4)
                v = vsc_net_rd32(buf);
        return v;
}

/* UTF-16LE from the host, kept as ASCII ('?' for anything else). */
static void query_friendly_name(struct vsc_net *net) {
        uint8_t buf[512];
        uint32_t got = 0, n = 0;
        if (vsc_net_query(net, RNDIS_OID_GEN_FRIENDLY_NAME, NULL, 0, buf, sizeof buf, &got) < 0)
                got = 0; /* optional (§7.5) */
        for (uint32_t i = 0; i + 1 < got && n + 1 < sizeof net->friendly_name; i += 2) {
                uint16_t c = (uint16_t)(buf[i] | buf[i + 1] << 8);
                if (c == 0)
                        break;
                net->friendly_name[n++] = c >= 0x21 && c < 0x7f ? (char)c : c == ' ' ? '_' : '?';
        }
        net->friendly_name[n] = 0;
}

static void query_rss(struct vsc_net *net) {
        struct ndis_recv_scale_cap cap;
        uint32_t got = 0;
        vsc_memset(&cap, 0, sizeof cap);
        cap.hdr = (struct ndis_object_header){ NDIS_OBJECT_TYPE_RSS_CAPABILITIES,
                                               NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2, sizeof cap };
        net->rss_queues = 1; /* an error: single channel (§7.5) */
        if (vsc_net_query(net, RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES, &cap, sizeof cap, &cap, sizeof cap, &got) == 0 &&
            got >= sizeof cap && cap.num_recv_que > 0)
                net->rss_queues = cap.num_recv_que;
}

int vsc_net_rndis_init(struct vsc_net *net) {
        uint32_t got = 0;
        int r = rndis_initialize(net);
        if (r < 0)
                return r;
        net->max_frame_size = query_u32(net, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, 1500);
        r = vsc_net_query(net, RNDIS_OID_802_3_PERMANENT_ADDRESS, NULL, 0, net->mac, sizeof net->mac, &got);
        if (r < 0)
                return r; /* the probe fails without a MAC (§7.5) */
        if (got != sizeof net->mac)
                return vsc_fail(net->bus, -EPROTO, "bad host message: a MAC of %u bytes", got);
        query_friendly_name(net);
        if ((r = query_hwcaps(net)) < 0 || (r = set_offload_params(net)) < 0)
                return r;
        /* optional: a failure means "connected" */
        net->link_up = query_u32(net, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NDIS_MEDIA_STATE_CONNECTED) ==
                       NDIS_MEDIA_STATE_CONNECTED;
        if (net->nvsp_version >= NVSP_PROTOCOL_VERSION_5) {
                net->link_speed = query_u32(net, RNDIS_OID_GEN_LINK_SPEED, 0);
                query_rss(net);
        }
        return 0;
}

/* rndis_filter_halt_device: no response; then wait for the sends to drain. */
int vsc_net_rndis_halt(struct vsc_net *net) {
        struct vsc_bus *bus = net->bus;
        uint8_t *p = net->ctrl_page;
        vsc_net_wr32(p, RNDIS_MSG_HALT);
        vsc_net_wr32(p + 4, 12);
        vsc_net_wr32(p + 8, net->next_req_id++);
        (void)vsc_net_flush(net);
        int r = request(net, 12, 0, NULL);
        uint64_t deadline = vsc_deadline(bus);
        while (r == 0 && vsc_net_tx_pending(net)) {
                if (bus->ops->now_ns(bus->ctx) >= deadline)
                        return vsc_fail(bus, -ETIMEDOUT, "timeout: %u sends not completed after RNDIS HALT",
                                        vsc_net_tx_pending(net));
                r = vsc_net_poll(net, 0);
                r = r < 0 ? r : vsc_channel_wait(&net->ch, deadline - bus->ops->now_ns(bus->ctx));
                r = r == -ETIMEDOUT ? 0 : r;
        }
        return r < 0 ? r : 0;
}
