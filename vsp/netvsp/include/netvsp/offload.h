/* SPDX-License-Identifier: MIT */
/* Offload translation between NDIS per-packet info (§7.6) and the TAP's
 * struct virtio_net_hdr (IFF_VNET_HDR), as pure functions.
 *
 * Guest -> host: TCPIP_CHKSUM_PKTINFO becomes VIRTIO_NET_HDR_F_NEEDS_CSUM;
 * TCP_LARGESEND_PKTINFO (LSOv2) becomes GSO_TCPV4/6 with the headers fixed
 * up first, because netvsc sends LSO frames with IPv4 tot_len = 0 (IPv6
 * payload_len = 0) and a TCP pseudo-header checksum computed for length 0
 * (netvsc_xmit), while the host kernel's GSO expects real lengths;
 * IEEE_8021Q_INFO is put back into the frame as an 802.1Q tag (netvsc strips
 * it). Host -> guest: VIRTIO_NET_HDR_F_DATA_VALID becomes a "checksum
 * succeeded" TCPIP_CHKSUM_PKTINFO. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "rndis/packet.h"

/* Rewritten frame headers: at most Ethernet + VLAN + IPv6 with extension
 * headers + TCP with options. */
#define NETVSP_TX_HDR_MAX 256u

struct netvsp_tx_frame {
        struct virtio_net_hdr vnet;
        /* The frame to send is hdr[0, hdr_len) followed by the guest's frame
         * from byte replace_len on (hdr_len = replace_len = 0: unchanged). */
        uint8_t hdr[NETVSP_TX_HDR_MAX + 4];
        uint32_t hdr_len;
        uint32_t replace_len;
};

/* Prepares one guest frame for the TAP. pkt: the parsed PACKET (flags and
 * PPI values); head: a copy of the frame's first head_len bytes
 * (min(frame_len, NETVSP_TX_HDR_MAX)); frame_len: its full length.
 * Returns 0, or -EBADMSG when a requested offload does not match the frame
 * (offsets outside it, not IP/TCP/UDP as claimed, MSS 0): the frame would
 * leave corrupt, so the caller drops and counts it. */
int netvsp_tx_prepare(const struct rndis_tx_packet *pkt, const uint8_t *head, size_t head_len,
                      size_t frame_len, struct netvsp_tx_frame *out);

/* The receive per-packet info for a frame read from the TAP with vnet
 * header vh: a checksum PPI when the host kernel vouched for the L4
 * checksum (DATA_VALID) and the frame is TCP or UDP over IPv4/IPv6. */
void netvsp_rx_info(const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len,
                    struct rndis_rx_info *info);

/* Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM on receive,
 * which we do not ask the kernel for, but a shared TAP may deliver):
 * folds the one's complement sum of frame[start, len) into
 * frame[start + offset]. -EBADMSG if the offsets lie outside the frame. */
int netvsp_csum_complete(uint8_t *frame, size_t len, uint32_t start, uint32_t offset);

/* A TCP GSO frame from the TAP (TSO on receive, for a guest with RSC) of
 * len bytes, read into n pieces of cap bytes each (the last shorter):
 * completes its partial TCP checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM, the
 * headers in the first piece) over every piece, and fills info with the
 * checksum PPI the first fragment carries (TCP succeeded; IP succeeded
 * for a valid IPv4 header). -EPROTONOSUPPORT for a frame that is not
 * GSO TCP over an IP version the guest coalesces (tcp4/tcp6); -EBADMSG
 * for a malformed one; -EINVAL when len does not need exactly n pieces. */
int netvsp_rsc_prepare(const struct virtio_net_hdr *vh, uint8_t *const *piece, uint32_t n, uint32_t cap,
                       size_t len, bool tcp4, bool tcp6, struct rndis_rx_info *info);

/* Internet checksum helpers (RFC 1071), exposed for tests. */
uint32_t netvsp_csum_partial(const void *buf, size_t len, uint32_t sum);
uint16_t netvsp_csum_fold(uint32_t sum);
