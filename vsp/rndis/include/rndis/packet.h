/* SPDX-License-Identifier: MIT */
/* RNDIS PACKET messages (docs/hyperv-guest-interface.md §7.6): parsing what a
 * guest transmits (header, per-packet info) and building what it receives.
 * Pure functions; every offset and length is validated against the message
 * and the bytes actually available before anything is read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/rndis.h"

#define RNDIS_PACKET_HEADER_SIZE (RNDIS_HEADER_SIZE + sizeof(struct rndis_packet)) /* 44 */
#define RNDIS_PPI_MAX_ELEMENTS 16u /* more per-packet infos than this: malformed */

/* Flags in struct rndis_tx_packet: which per-packet infos were present. */
#define RNDIS_TX_CSUM (1u << 0) /* TCPIP_CHKSUM_PKTINFO */
#define RNDIS_TX_LSO (1u << 1)  /* TCP_LARGESEND_PKTINFO */
#define RNDIS_TX_VLAN (1u << 2) /* IEEE_8021Q_INFO */
#define RNDIS_TX_HASH (1u << 3) /* NBL_HASH_VALUE */

struct rndis_tx_packet {
        uint32_t msg_len;     /* bytes this message occupies (walk a batch by it) */
        uint32_t data_offset; /* frame start, from the start of the message */
        uint32_t data_len;    /* frame length */
        uint32_t flags;       /* RNDIS_TX_* */
        uint32_t csum_info;   /* raw NDIS values, decoded by the caller */
        uint32_t lso_info;
        uint32_t vlan_info;
        uint32_t hash;
};

/* Parses one PACKET message. msg points at its first byte; avail bytes are
 * contiguous there (header and PPIs must lie within them); total is the
 * length of the logical message stream from msg on (the frame may continue
 * past avail, e.g. in GPA-direct ranges, §7.6 "partial copy").
 * Returns 0, -EBADMSG (malformed: lengths or offsets outside the message,
 * a bad PPI) or -EPROTO (not a PACKET message). */
int rndis_packet_parse(const void *msg, size_t avail, size_t total, struct rndis_tx_packet *out);

/* Per-packet infos to attach to a received frame. */
struct rndis_rx_info {
        bool has_csum;
        uint32_t csum_info; /* NDIS_CSUM_RX_* bits */
        bool has_vlan;
        uint32_t vlan_info;
        bool has_hash;
        uint32_t hash;
        /* RNDIS_PKTINFO_ID (internal): one fragment of a coalesced (RSC)
         * frame; RNDIS_PKTINFO_SUBALLOC plus 1ST_FRAG / LAST_FRAG. */
        bool has_pktinfo_id;
        uint8_t pktinfo_flags;
};

/* Bytes rndis_packet_build_rx_header() writes for these infos. */
size_t rndis_packet_rx_header_size(const struct rndis_rx_info *info);

/* Writes a PACKET header (+ PPIs) for a frame of frame_len bytes into buf;
 * the frame belongs at buf + data_off (0: right after the PPIs, which is
 * the returned offset; else at least rndis_packet_rx_header_size(): a fixed
 * offset lets the caller read the frame into place before the header is
 * known). The message is data_off + frame_len bytes long (*msg_len).
 * Returns the data offset, -ENOBUFS when cap cannot hold the header, or
 * -EINVAL for a bad data_off or a length that does not fit a u32 message. */
int rndis_packet_build_rx_header(void *buf, size_t cap, size_t frame_len,
                                 const struct rndis_rx_info *info, size_t data_off, uint32_t *msg_len);

/* Decoded TCPIP_CHKSUM_PKTINFO / TCP_LARGESEND_PKTINFO / IEEE_8021Q_INFO. */
static inline uint32_t rndis_csum_tcp_header_offset(uint32_t csum_info) {
        return (csum_info >> NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT) & NDIS_CSUM_TX_TCP_HDR_OFFSET_MASK;
}
static inline uint32_t rndis_lso_mss(uint32_t lso_info) {
        return lso_info & NDIS_LSO_MSS_MASK;
}
static inline uint32_t rndis_lso_tcp_header_offset(uint32_t lso_info) {
        return (lso_info >> NDIS_LSO_TCP_HDR_OFFSET_SHIFT) & NDIS_LSO_TCP_HDR_OFFSET_MASK;
}
/* 802.1Q TCI (pri:3 cfi:1 vid:12) from the NDIS bit order (pri, cfi, vlanid). */
static inline uint16_t rndis_vlan_tci(uint32_t vlan_info) {
        uint32_t pri = vlan_info & NDIS_8021Q_PRI_MASK;
        uint32_t cfi = (vlan_info >> NDIS_8021Q_CFI_SHIFT) & 1u;
        uint32_t vid = (vlan_info >> NDIS_8021Q_VLANID_SHIFT) & NDIS_8021Q_VLANID_MASK;
        return (uint16_t)((pri << 13) | (cfi << 12) | vid);
}
