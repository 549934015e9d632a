// SPDX-License-Identifier: MIT
/* RNDIS PACKET parsing and building, INDICATE_STATUS building
 * (docs/hyperv-guest-interface.md §7.4, §7.6). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "rndis-internal.h"
#include "rndis/packet.h"

/* Walks the per-packet-info area (already checked to lie in the message and
 * in the contiguous bytes). Elements: size (header included, >= 12, <= what
 * is left), ppi_offset (>= 12, and the value must fit in size). Unknown
 * types are skipped; the first occurrence of a known type wins. */
static int parse_ppis(const uint8_t *p, uint32_t len, struct rndis_tx_packet *out) {
        unsigned n = 0;
        while (len > 0) {
                struct rndis_per_packet_info e;
                uint32_t bit = 0, *dst = NULL;

                if (len < sizeof e || ++n > RNDIS_PPI_MAX_ELEMENTS)
                        return -EBADMSG;
                memcpy(&e, p, sizeof e);
                if (e.size < sizeof e || e.size > len || e.ppi_offset < sizeof e || e.ppi_offset > e.size)
                        return -EBADMSG;
                switch (e.type) {
                case TCPIP_CHKSUM_PKTINFO: bit = RNDIS_TX_CSUM; dst = &out->csum_info; break;
                case TCP_LARGESEND_PKTINFO: bit = RNDIS_TX_LSO; dst = &out->lso_info; break;
                case IEEE_8021Q_INFO: bit = RNDIS_TX_VLAN; dst = &out->vlan_info; break;
                case NBL_HASH_VALUE: bit = RNDIS_TX_HASH; dst = &out->hash; break;
                default: break; /* includes the internal (bit 31) namespace */
                }
                if (dst && !(out->flags & bit)) {
                        if (e.size - e.ppi_offset < sizeof(uint32_t))
                                return -EBADMSG;
                        *dst = rndis_get_u32(p + e.ppi_offset);
                        out->flags |= bit;
                }
                p += e.size;
                len -= e.size;
        }
        return 0;
}

int rndis_packet_parse(const void *msg, size_t avail, size_t total, struct rndis_tx_packet *out) {
        const uint8_t *m = msg;
        struct rndis_msg_hdr h;
        struct rndis_packet b;
        uint32_t body_len;

        if (!msg || !out || avail > total)
                return -EINVAL;
        *out = (struct rndis_tx_packet){ 0 };
        if (avail < RNDIS_PACKET_HEADER_SIZE)
                return -EBADMSG;
        memcpy(&h, m, sizeof h);
        memcpy(&b, m + RNDIS_HEADER_SIZE, sizeof b);
        if (h.ndis_msg_type != RNDIS_MSG_PACKET)
                return -EPROTO;
        if (h.msg_len < RNDIS_PACKET_HEADER_SIZE || h.msg_len > total)
                return -EBADMSG;
        body_len = h.msg_len - RNDIS_HEADER_SIZE;

        /* The frame follows the fixed body and ends inside the message. */
        if (b.data_len == 0 || b.data_offset < sizeof b || !rndis_range_ok(b.data_offset, b.data_len, body_len))
                return -EBADMSG;
        /* Linux sends no out-of-band data; if present it must at least fit. */
        if (b.oob_data_len && (b.oob_data_offset < sizeof b ||
                               !rndis_range_ok(b.oob_data_offset, b.oob_data_len, body_len)))
                return -EBADMSG;
        if (b.per_pkt_info_len) {
                if (b.per_pkt_info_offset < sizeof b ||
                    !rndis_range_ok(b.per_pkt_info_offset, b.per_pkt_info_len, body_len) ||
                    !rndis_range_ok(RNDIS_HEADER_SIZE + (uint64_t)b.per_pkt_info_offset, b.per_pkt_info_len, avail))
                        return -EBADMSG;
                int r = parse_ppis(m + RNDIS_HEADER_SIZE + b.per_pkt_info_offset, b.per_pkt_info_len, out);
                if (r < 0)
                        return r;
        }
        out->msg_len = h.msg_len;
        out->data_offset = RNDIS_HEADER_SIZE + b.data_offset;
        out->data_len = b.data_len;
        return 0;
}

#define PPI_ELEMENT_SIZE (sizeof(struct rndis_per_packet_info) + sizeof(uint32_t))

size_t rndis_packet_rx_header_size(const struct rndis_rx_info *info) {
        size_t n = RNDIS_PACKET_HEADER_SIZE;
        if (info)
                n += PPI_ELEMENT_SIZE *
                     ((size_t)info->has_csum + info->has_vlan + info->has_hash + info->has_pktinfo_id);
        return n;
}

static uint8_t *put_ppi(uint8_t *p, uint32_t type, uint32_t value) {
        struct rndis_per_packet_info e = {
                .size = PPI_ELEMENT_SIZE,
                .type = type,
                .ppi_offset = sizeof(struct rndis_per_packet_info),
        };
        memcpy(p, &e, sizeof e);
        rndis_put_u32(p + sizeof e, value);
        return p + PPI_ELEMENT_SIZE;
}

int rndis_packet_build_rx_header(void *buf, size_t cap, size_t frame_len, const struct rndis_rx_info *info,
                                 size_t data_off, uint32_t *msg_len) {
        size_t hdr = rndis_packet_rx_header_size(info), total;
        uint8_t *p = buf;

        if (!buf || !msg_len || (data_off && data_off < hdr))
                return -EINVAL;
        if (data_off == 0)
                data_off = hdr;
        if (ADD_OVERFLOW(data_off, frame_len, &total) || total > UINT32_MAX || frame_len == 0)
                return -EINVAL;
        if (cap < hdr)
                return -ENOBUFS;
        /* Offsets from the start of the PACKET body; PPIs sit between the body
         * and the frame, as Hyper-V lays them out. */
        struct rndis_packet b = {
                .data_offset = (uint32_t)(data_off - RNDIS_HEADER_SIZE),
                .data_len = (uint32_t)frame_len,
                .per_pkt_info_offset = hdr > RNDIS_PACKET_HEADER_SIZE ? (uint32_t)sizeof b : 0,
                .per_pkt_info_len = (uint32_t)(hdr - RNDIS_PACKET_HEADER_SIZE),
        };
        rndis_put_u32(p, RNDIS_MSG_PACKET);
        rndis_put_u32(p + 4, (uint32_t)total);
        memcpy(p + RNDIS_HEADER_SIZE, &b, sizeof b);
        p += RNDIS_PACKET_HEADER_SIZE;
        if (info && info->has_csum)
                p = put_ppi(p, TCPIP_CHKSUM_PKTINFO, info->csum_info);
        if (info && info->has_vlan)
                p = put_ppi(p, IEEE_8021Q_INFO, info->vlan_info);
        if (info && info->has_hash)
                p = put_ppi(p, NBL_HASH_VALUE, info->hash);
        if (info && info->has_pktinfo_id) /* ver 1, flags, packet id 0 */
                put_ppi(p, RNDIS_PKTINFO_ID | RNDIS_PPI_INTERNAL,
                        RNDIS_PKTINFO_ID_V1 | (uint32_t)info->pktinfo_flags << 8);
        *msg_len = (uint32_t)total;
        return (int)data_off;
}

int rndis_build_indicate_status(void *buf, size_t cap, uint32_t status, const void *sbuf, uint32_t sbuf_len) {
        const size_t body = sizeof(struct rndis_indicate_status);
        uint8_t *p = buf;
        size_t total;

        if (!buf || (sbuf_len && !sbuf))
                return -EINVAL;
        total = RNDIS_HEADER_SIZE + body + sbuf_len;
        if (total > cap || total > RNDIS_MAX_RESPONSE_SIZE)
                return -ENOBUFS;
        struct rndis_indicate_status s = {
                .status = status,
                .status_buflen = sbuf_len,
                /* the guest checks offset >= sizeof body even when the length is 0 */
                .status_buf_offset = (uint32_t)body,
        };
        rndis_put_u32(p, RNDIS_MSG_INDICATE);
        rndis_put_u32(p + 4, (uint32_t)total);
        memcpy(p + RNDIS_HEADER_SIZE, &s, sizeof s);
        if (sbuf_len)
                memcpy(p + RNDIS_HEADER_SIZE + body, sbuf, sbuf_len);
        return (int)total;
}

int rndis_build_media_status(void *buf, size_t cap, bool connected) {
        return rndis_build_indicate_status(buf, cap,
                                           connected ? RNDIS_STATUS_MEDIA_CONNECT : RNDIS_STATUS_MEDIA_DISCONNECT,
                                           NULL, 0);
}

int rndis_build_link_speed_change(void *buf, size_t cap, uint32_t speed_100bps) {
        return rndis_build_indicate_status(buf, cap, RNDIS_STATUS_LINK_SPEED_CHANGE, &speed_100bps,
                                           sizeof speed_100bps);
}
