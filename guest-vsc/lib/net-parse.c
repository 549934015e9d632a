// SPDX-License-Identifier: MIT
/* Validation of what the host sends a netvsc client: transfer-page packets
 * (§5.3, §7.4) and RNDIS messages (§7.4, §7.6), with the checks Linux 6.1
 * makes (netvsc_receive, rndis_filter_receive*, rndis_filter_query_device)
 * plus the ones it relies on implicitly. Pure functions of memory, fuzzed by
 * tests/fuzz/fuzz-vsc-net.c. */
#include "net-internal.h"

#define XFER_HDR 24u /* descriptor + pageset id, sender_owns, reserved, range_cnt */
#define NVSP_RNDIS_PKT_MIN 16u /* header + send_rndis_packet: what netvsc_receive needs */

int vsc_net_parse_xfer(const uint8_t *pkt, const struct vsc_packet *p, struct vsc_net_xfer *out) {
        if (p->type != VM_PKT_DATA_USING_XFER_PAGES || p->payload_off < XFER_HDR || p->payload_off > p->len)
                return -EPROTO;
        uint16_t pageset;
        vsc_memcpy(&pageset, pkt + 16, 2);
        uint32_t n = vsc_net_rd32(pkt + 20);
        /* the ranges must end before the payload (NETVSC_XFER_HEADER_SIZE) */
        if (pageset != NVSP_RECV_BUF_ID || n == 0 || n > (p->payload_off - XFER_HDR) / 8)
                return -EPROTO;
        if (p->len - p->payload_off < NVSP_RNDIS_PKT_MIN ||
            vsc_net_rd32(pkt + p->payload_off) != NVSP_MSG1_TYPE_SEND_RNDIS_PKT)
                return -EPROTO;
        out->range_cnt = n;
        out->ranges = pkt + XFER_HDR;
        return 0;
}

/* PACKET (§7.6): data_offset < msg_len - 8 and data_len within what
 * follows it (rndis_filter_receive_data); PPIs, if any, inside too. */
static int parse_packet(const uint8_t *m, uint32_t len, struct vsc_rndis_msg *out) {
        struct rndis_packet rp;
        if (len < RNDIS_HEADER_SIZE + sizeof rp)
                return -EPROTO;
        vsc_memcpy(&rp, m + RNDIS_HEADER_SIZE, sizeof rp);
        uint32_t body = len - RNDIS_HEADER_SIZE;
        if (rp.data_offset >= body || rp.data_len > body - rp.data_offset)
                return -EPROTO;
        if (rp.per_pkt_info_len &&
            (rp.per_pkt_info_offset < sizeof rp || rp.per_pkt_info_offset > body ||
             rp.per_pkt_info_len > body - rp.per_pkt_info_offset))
                return -EPROTO;
        out->info = m + RNDIS_HEADER_SIZE + rp.data_offset;
        out->info_len = rp.data_len;
        /* RNDIS_PKTINFO_ID in the internal namespace (rndis_get_ppi):
         * elements inside the PPI area, each with its value inside it */
        out->frag = -1;
        const uint8_t *e = m + RNDIS_HEADER_SIZE + rp.per_pkt_info_offset;
        for (uint32_t left = rp.per_pkt_info_len; left >= sizeof(struct rndis_per_packet_info);) {
                struct rndis_per_packet_info pi;
                vsc_memcpy(&pi, e, sizeof pi);
                if (pi.size < sizeof pi || pi.size > left || pi.ppi_offset >= pi.size)
                        break;
                if (pi.type == (RNDIS_PKTINFO_ID | RNDIS_PPI_INTERNAL) && pi.size - pi.ppi_offset >= 4)
                        out->frag = e[pi.ppi_offset + 1];
                e += pi.size;
                left -= pi.size;
        }
        return 0;
}

/* QUERY_C: the information buffer at >= 16 from the body and inside the
 * message (rndis_filter_query_device). */
static int parse_query_c(const uint8_t *m, uint32_t len, struct vsc_rndis_msg *out) {
        struct rndis_query_complete q;
        if (len < RNDIS_HEADER_SIZE + sizeof q)
                return -EPROTO;
        vsc_memcpy(&q, m + RNDIS_HEADER_SIZE, sizeof q);
        uint32_t body = len - RNDIS_HEADER_SIZE;
        out->req_id = q.req_id;
        out->status = q.status;
        if (q.info_buflen == 0) { /* a failure carries nothing */
                out->info = NULL;
                out->info_len = 0;
                return 0;
        }
        if (q.info_buf_offset < sizeof q || q.info_buf_offset > body || q.info_buflen > body - q.info_buf_offset)
                return -EPROTO;
        out->info = m + RNDIS_HEADER_SIZE + q.info_buf_offset;
        out->info_len = q.info_buflen;
        return 0;
}

static int parse_indicate(const uint8_t *m, uint32_t len, struct vsc_rndis_msg *out) {
        struct rndis_indicate_status s;
        if (len < RNDIS_HEADER_SIZE + sizeof s)
                return -EPROTO;
        vsc_memcpy(&s, m + RNDIS_HEADER_SIZE, sizeof s);
        uint32_t body = len - RNDIS_HEADER_SIZE;
        out->status = s.status;
        if (s.status_buflen && (s.status_buf_offset > body || s.status_buflen > body - s.status_buf_offset))
                return -EPROTO;
        out->info = s.status_buflen ? m + RNDIS_HEADER_SIZE + s.status_buf_offset : NULL;
        out->info_len = s.status_buflen;
        return 0;
}

static int parse_completion(const uint8_t *m, uint32_t len, uint32_t type, struct vsc_rndis_msg *out) {
        if (type == RNDIS_MSG_QUERY_C)
                return parse_query_c(m, len, out);
        if (type == RNDIS_MSG_SET_C) {
                struct rndis_set_complete s;
                if (len < RNDIS_HEADER_SIZE + sizeof s)
                        return -EPROTO;
                vsc_memcpy(&s, m + RNDIS_HEADER_SIZE, sizeof s);
                out->req_id = s.req_id;
                out->status = s.status;
                return 0;
        }
        struct rndis_initialize_complete c; /* INIT_C */
        if (len < RNDIS_HEADER_SIZE + sizeof c)
                return -EPROTO;
        vsc_memcpy(&c, m + RNDIS_HEADER_SIZE, sizeof c);
        out->req_id = c.req_id;
        out->status = c.status;
        out->max_pkt_per_msg = c.max_pkt_per_msg;
        out->pkt_alignment_factor = c.pkt_alignment_factor;
        return 0;
}

int vsc_rndis_parse(const uint8_t *msg, uint32_t avail, struct vsc_rndis_msg *out) {
        vsc_memset(out, 0, sizeof *out);
        if (avail < RNDIS_HEADER_SIZE)
                return -EPROTO;
        out->type = vsc_net_rd32(msg);
        out->len = vsc_net_rd32(msg + 4);
        /* rndis_filter_receive: 8 <= msg_len <= the range */
        if (out->len < RNDIS_HEADER_SIZE || out->len > avail)
                return -EPROTO;
        switch (out->type) {
        case RNDIS_MSG_PACKET:
                return parse_packet(msg, out->len, out);
        case RNDIS_MSG_INIT_C:
        case RNDIS_MSG_QUERY_C:
        case RNDIS_MSG_SET_C:
                /* Linux copies responses into a 52 + 4096 byte buffer (§7.4) */
                if (out->len > RNDIS_MAX_RESPONSE_SIZE)
                        return -EPROTO;
                return parse_completion(msg, out->len, out->type, out);
        case RNDIS_MSG_INDICATE:
                return parse_indicate(msg, out->len, out);
        default: /* "unhandled rndis message" in netvsc */
                return -EOPNOTSUPP;
        }
}
