/* SPDX-License-Identifier: MIT */
/* RNDIS and the NDIS objects netvsc exchanges through it
 * (docs/hyperv-guest-interface.md §7.4-§7.6). Field names follow Linux
 * (include/linux/rndis.h, drivers/net/hyperv/hyperv_net.h). Every message
 * starts with {ndis_msg_type, msg_len}; offsets inside bodies are relative
 * to the start of the body (8 bytes after the message start). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- message types (§7.4) ---- */
#define RNDIS_MSG_COMPLETION 0x80000000u
#define RNDIS_MSG_PACKET 0x00000001u
#define RNDIS_MSG_INIT 0x00000002u
#define RNDIS_MSG_INIT_C (RNDIS_MSG_INIT | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_HALT 0x00000003u
#define RNDIS_MSG_QUERY 0x00000004u
#define RNDIS_MSG_QUERY_C (RNDIS_MSG_QUERY | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_SET 0x00000005u
#define RNDIS_MSG_SET_C (RNDIS_MSG_SET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_RESET 0x00000006u
#define RNDIS_MSG_RESET_C (RNDIS_MSG_RESET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_INDICATE 0x00000007u
#define RNDIS_MSG_KEEPALIVE 0x00000008u
#define RNDIS_MSG_KEEPALIVE_C (RNDIS_MSG_KEEPALIVE | RNDIS_MSG_COMPLETION)

#define RNDIS_MAJOR_VERSION 1u
#define RNDIS_MINOR_VERSION 0u
#define RNDIS_DF_CONNECTIONLESS 1u
#define RNDIS_MEDIUM_802_3 0u

/* ---- status codes (§7.4) ---- */
#define RNDIS_STATUS_SUCCESS 0x00000000u
#define RNDIS_STATUS_FAILURE 0xc0000001u
#define RNDIS_STATUS_NOT_SUPPORTED 0xc00000bbu
#define RNDIS_STATUS_INVALID_DATA 0xc0010015u
#define RNDIS_STATUS_INVALID_LENGTH 0xc0010014u
#define RNDIS_STATUS_BUFFER_OVERFLOW 0x80000005u
#define RNDIS_STATUS_MEDIA_CONNECT 0x4001000bu
#define RNDIS_STATUS_MEDIA_DISCONNECT 0x4001000cu
#define RNDIS_STATUS_LINK_SPEED_CHANGE 0x40010013u
#define RNDIS_STATUS_NETWORK_CHANGE 0x40010018u

/* ---- OIDs (§7.5 plus the usual general ones) ---- */
#define RNDIS_OID_GEN_SUPPORTED_LIST 0x00010101u
#define RNDIS_OID_GEN_HARDWARE_STATUS 0x00010102u
#define RNDIS_OID_GEN_MEDIA_SUPPORTED 0x00010103u
#define RNDIS_OID_GEN_MEDIA_IN_USE 0x00010104u
#define RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD 0x00010105u
#define RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE 0x00010106u
#define RNDIS_OID_GEN_LINK_SPEED 0x00010107u
#define RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE 0x00010111u
#define RNDIS_OID_GEN_CURRENT_PACKET_FILTER 0x0001010eu
#define RNDIS_OID_GEN_CURRENT_LOOKAHEAD 0x0001010fu
#define RNDIS_OID_GEN_MEDIA_CONNECT_STATUS 0x00010114u
#define RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS 0x00010115u
#define RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER 0x0001021bu
#define RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES 0x00010203u
#define RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS 0x00010204u
#define RNDIS_OID_GEN_FRIENDLY_NAME 0x00020216u
#define RNDIS_OID_802_3_PERMANENT_ADDRESS 0x01010101u
#define RNDIS_OID_802_3_CURRENT_ADDRESS 0x01010102u
#define RNDIS_OID_802_3_MULTICAST_LIST 0x01010103u
#define RNDIS_OID_802_3_MAXIMUM_LIST_SIZE 0x01010104u
#define RNDIS_OID_TCP_OFFLOAD_CURRENT_CONFIG 0xfc01020bu
#define RNDIS_OID_TCP_OFFLOAD_PARAMETERS 0xfc01020cu
#define RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES 0xfc01020du

#define NDIS_MEDIA_STATE_CONNECTED 0u
#define NDIS_MEDIA_STATE_DISCONNECTED 1u

/* packet filter bits (OID_GEN_CURRENT_PACKET_FILTER) */
#define NDIS_PACKET_TYPE_DIRECTED 0x00000001u
#define NDIS_PACKET_TYPE_MULTICAST 0x00000002u
#define NDIS_PACKET_TYPE_ALL_MULTICAST 0x00000004u
#define NDIS_PACKET_TYPE_BROADCAST 0x00000008u
#define NDIS_PACKET_TYPE_PROMISCUOUS 0x00000020u

/* ---- message header and bodies ---- */
struct rndis_msg_hdr {
        uint32_t ndis_msg_type;
        uint32_t msg_len; /* total, this header included */
} __attribute__((packed));
#define RNDIS_HEADER_SIZE 8u

struct rndis_initialize_request {
        uint32_t req_id;
        uint32_t major_ver;
        uint32_t minor_ver;
        uint32_t max_xfer_size;
} __attribute__((packed));

struct rndis_initialize_complete {
        uint32_t req_id;
        uint32_t status;
        uint32_t major_ver;
        uint32_t minor_ver;
        uint32_t dev_flags;
        uint32_t medium;
        uint32_t max_pkt_per_msg;
        uint32_t max_xfer_size;
        uint32_t pkt_alignment_factor;
        uint32_t af_list_offset;
        uint32_t af_list_size;
} __attribute__((packed));

struct rndis_halt_request {
        uint32_t req_id;
} __attribute__((packed));

struct rndis_query_request {
        uint32_t req_id;
        uint32_t oid;
        uint32_t info_buflen;
        uint32_t info_buf_offset; /* from the start of this body */
        uint32_t dev_vc_handle;
} __attribute__((packed));

struct rndis_query_complete {
        uint32_t req_id;
        uint32_t status;
        uint32_t info_buflen;
        uint32_t info_buf_offset; /* from the start of this body, >= 16 */
} __attribute__((packed));

struct rndis_set_request {
        uint32_t req_id;
        uint32_t oid;
        uint32_t info_buflen;
        uint32_t info_buf_offset;
        uint32_t dev_vc_handle;
} __attribute__((packed));

struct rndis_set_complete {
        uint32_t req_id;
        uint32_t status;
} __attribute__((packed));

struct rndis_reset_request {
        uint32_t reserved;
} __attribute__((packed));

struct rndis_reset_complete {
        uint32_t status;
        uint32_t addressing_reset;
} __attribute__((packed));

struct rndis_indicate_status {
        uint32_t status;
        uint32_t status_buflen;
        uint32_t status_buf_offset; /* from the start of this body */
} __attribute__((packed));

struct rndis_keepalive_request {
        uint32_t req_id;
} __attribute__((packed));

struct rndis_keepalive_complete {
        uint32_t req_id;
        uint32_t status;
} __attribute__((packed));

/* PACKET body (§7.6); offsets from the start of this body. */
struct rndis_packet {
        uint32_t data_offset;
        uint32_t data_len;
        uint32_t oob_data_offset;
        uint32_t oob_data_len;
        uint32_t num_oob_data_elements;
        uint32_t per_pkt_info_offset;
        uint32_t per_pkt_info_len;
        uint32_t vc_handle;
        uint32_t reserved;
} __attribute__((packed));

/* Per-packet info element: size includes this header; type bit 31 marks
 * the "internal" namespace (RNDIS_PKTINFO_ID). */
struct rndis_per_packet_info {
        uint32_t size;
        uint32_t type;
        uint32_t ppi_offset; /* from the start of this element, 12 */
} __attribute__((packed));
#define RNDIS_PPI_INTERNAL (1u << 31)

enum ndis_per_pkt_info_type {
        TCPIP_CHKSUM_PKTINFO = 0,
        IPSEC_PKTINFO = 1,
        TCP_LARGESEND_PKTINFO = 2,
        CLASSIFICATION_HANDLE_PKTINFO = 3,
        NDIS_RESERVED = 4,
        SG_LIST_PKTINFO = 5,
        IEEE_8021Q_INFO = 6,
        ORIGINAL_PKTINFO = 7,
        NBL_HASH_VALUE = 8,
};
#define RNDIS_PKTINFO_ID 1u /* internal type */

/* TCPIP_CHKSUM_PKTINFO, transmit direction (bit fields as u32 masks) */
#define NDIS_CSUM_TX_IS_IPV4 (1u << 0)
#define NDIS_CSUM_TX_IS_IPV6 (1u << 1)
#define NDIS_CSUM_TX_TCP (1u << 2)
#define NDIS_CSUM_TX_UDP (1u << 3)
#define NDIS_CSUM_TX_IP_HEADER (1u << 4)
#define NDIS_CSUM_TX_TCP_HDR_OFFSET_SHIFT 16
#define NDIS_CSUM_TX_TCP_HDR_OFFSET_MASK 0x3ffu
/* receive direction */
#define NDIS_CSUM_RX_TCP_FAILED (1u << 0)
#define NDIS_CSUM_RX_UDP_FAILED (1u << 1)
#define NDIS_CSUM_RX_IP_FAILED (1u << 2)
#define NDIS_CSUM_RX_TCP_SUCCEEDED (1u << 3)
#define NDIS_CSUM_RX_UDP_SUCCEEDED (1u << 4)
#define NDIS_CSUM_RX_IP_SUCCEEDED (1u << 5)

/* TCP_LARGESEND_PKTINFO, LSOv2 transmit: mss bits 0-19, tcp header offset
 * bits 20-29, type bit 30 (1 = LSOv2), ip_version bit 31 (1 = IPv6). */
#define NDIS_LSO_MSS_MASK 0xfffffu
#define NDIS_LSO_TCP_HDR_OFFSET_SHIFT 20
#define NDIS_LSO_TCP_HDR_OFFSET_MASK 0x3ffu
#define NDIS_LSO_TYPE_V2 (1u << 30)
#define NDIS_LSO_IPV6 (1u << 31)

/* IEEE_8021Q_INFO: pri bits 0-2, cfi bit 3, vlanid bits 4-15 */
#define NDIS_8021Q_PRI_MASK 0x7u
#define NDIS_8021Q_CFI_SHIFT 3
#define NDIS_8021Q_VLANID_SHIFT 4
#define NDIS_8021Q_VLANID_MASK 0xfffu

/* RNDIS_PKTINFO_ID (internal), RSC fragments: every fragment of a
 * coalesced frame carries SUBALLOC, the first also 1ST_FRAG, the last
 * LAST_FRAG; all of them lie in one transfer-page packet. */
#define RNDIS_PKTINFO_ID_V1 1u
#define RNDIS_PKTINFO_SUBALLOC (1u << 0)
#define RNDIS_PKTINFO_1ST_FRAG (1u << 1)
#define RNDIS_PKTINFO_LAST_FRAG (1u << 2)
struct rndis_pktinfo_id {
        uint8_t ver;
        uint8_t flag;
        uint16_t pkt_id;
} __attribute__((packed));

/* OID_GEN_RNDIS_CONFIG_PARAMETER info buffer (offsets from its start) */
struct rndis_config_parameter_info {
        uint32_t parameter_name_offset;
        uint32_t parameter_name_length; /* bytes of UTF-16 */
        uint32_t parameter_type;        /* 0 integer, 2 string */
        uint32_t parameter_value_offset;
        uint32_t parameter_value_length;
} __attribute__((packed));
#define RNDIS_CONFIG_PARAM_TYPE_INTEGER 0u
#define RNDIS_CONFIG_PARAM_TYPE_STRING 2u

/* ---- NDIS objects ---- */
struct ndis_object_header {
        uint8_t type;
        uint8_t revision;
        uint16_t size;
};
#define NDIS_OBJECT_TYPE_DEFAULT 0x80u
#define NDIS_OBJECT_TYPE_RSS_CAPABILITIES 0x88u
#define NDIS_OBJECT_TYPE_RSS_PARAMETERS 0x89u
#define NDIS_OBJECT_TYPE_OFFLOAD 0xa7u

/* NDIS_OFFLOAD (156 bytes, natural alignment, §7.5) */
struct ndis_csum_offload {
        uint32_t ip4_txenc;
        uint32_t ip4_txcsum;
        uint32_t ip4_rxenc;
        uint32_t ip4_rxcsum;
        uint32_t ip6_txenc;
        uint32_t ip6_txcsum;
        uint32_t ip6_rxenc;
        uint32_t ip6_rxcsum;
};
#define NDIS_OFFLOAD_ENCAP_8023 0x0002u
#define NDIS_TXCSUM_CAP_IP4OPT 0x001u
#define NDIS_TXCSUM_CAP_TCP4OPT 0x004u
#define NDIS_TXCSUM_CAP_TCP4 0x010u
#define NDIS_TXCSUM_CAP_UDP4 0x040u
#define NDIS_TXCSUM_CAP_IP4 0x100u
#define NDIS_TXCSUM_CAP_IP6EXT 0x001u
#define NDIS_TXCSUM_CAP_TCP6OPT 0x004u
#define NDIS_TXCSUM_CAP_TCP6 0x010u
#define NDIS_TXCSUM_CAP_UDP6 0x040u
#define NDIS_RXCSUM_CAP_TCP4 0x010u
#define NDIS_RXCSUM_CAP_UDP4 0x040u
#define NDIS_RXCSUM_CAP_IP4 0x100u
#define NDIS_RXCSUM_CAP_TCP6 0x010u
#define NDIS_RXCSUM_CAP_UDP6 0x040u
/* what the 6.1 guest requires to turn a feature on (§7.5) */
#define NDIS_TXCSUM_ALL_TCP4 (NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT)
#define NDIS_TXCSUM_ALL_TCP6 (NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT | NDIS_TXCSUM_CAP_IP6EXT)
#define NDIS_LSOV2_CAP_IP6EXT 0x001u
#define NDIS_LSOV2_CAP_TCP6OPT 0x004u
#define NDIS_LSOV2_CAP_IP6 (NDIS_LSOV2_CAP_IP6EXT | NDIS_LSOV2_CAP_TCP6OPT)

struct ndis_lsov1_offload {
        uint32_t encap, maxsize, minsegs, opts;
};
struct ndis_ipsecv1_offload {
        uint32_t encap, ah_esp, xport_tun, ip4_opts, flags, ip4_ah, ip4_esp;
};
struct ndis_lsov2_offload {
        uint32_t ip4_encap, ip4_maxsz, ip4_minsg;
        uint32_t ip6_encap, ip6_maxsz, ip6_minsg, ip6_opts;
};
struct ndis_ipsecv2_offload {
        uint32_t encap;
        uint8_t ip6, ip4opt, ip6ext, ah, esp, ah_esp, xport, tun, xport_tun, lso, extseq;
        uint32_t udp_esp, auth, crypto, sa_caps;
};
struct ndis_rsc_offload {
        uint8_t ip4, ip6;
};
struct ndis_encap_offload {
        uint32_t flags, maxhdr;
};

struct ndis_offload {
        struct ndis_object_header header;
        struct ndis_csum_offload csum;
        struct ndis_lsov1_offload lsov1;
        struct ndis_ipsecv1_offload ipsecv1;
        struct ndis_lsov2_offload lsov2;
        uint32_t flags;
        struct ndis_ipsecv2_offload ipsecv2; /* NDIS >= 6.1 */
        struct ndis_rsc_offload rsc;         /* NDIS >= 6.30 */
        struct ndis_encap_offload encap_gre;
};
#define NDIS_OFFLOAD_SIZE 156u     /* revision 3, NVSP >= 5 */
#define NDIS_OFFLOAD_SIZE_6_1 144u /* revision 2, NVSP 4 */
#define NDIS_OFFLOAD_SIZE_6_0 112u /* revision 1 */
_Static_assert(sizeof(struct ndis_offload) == NDIS_OFFLOAD_SIZE, "ndis_offload");
_Static_assert(offsetof(struct ndis_offload, csum) == 4, "ndis_offload.csum");
_Static_assert(offsetof(struct ndis_offload, lsov1) == 36, "ndis_offload.lsov1");
_Static_assert(offsetof(struct ndis_offload, ipsecv1) == 52, "ndis_offload.ipsecv1");
_Static_assert(offsetof(struct ndis_offload, lsov2) == 80, "ndis_offload.lsov2");
_Static_assert(offsetof(struct ndis_offload, flags) == 108, "ndis_offload.flags");
_Static_assert(offsetof(struct ndis_offload, ipsecv2) == NDIS_OFFLOAD_SIZE_6_0, "ndis_offload.ipsecv2");
_Static_assert(offsetof(struct ndis_offload, rsc) == NDIS_OFFLOAD_SIZE_6_1, "ndis_offload.rsc");
_Static_assert(offsetof(struct ndis_offload, encap_gre) == 148, "ndis_offload.encap_gre");

/* NDIS_OFFLOAD_PARAMETERS (28 bytes; 22 when NVSP <= 4) */
struct ndis_offload_params {
        struct ndis_object_header header;
        uint8_t ip_v4_csum;
        uint8_t tcp_ip_v4_csum;
        uint8_t udp_ip_v4_csum;
        uint8_t tcp_ip_v6_csum;
        uint8_t udp_ip_v6_csum;
        uint8_t lso_v1;
        uint8_t ip_sec_v1;
        uint8_t lso_v2_ipv4;
        uint8_t lso_v2_ipv6;
        uint8_t tcp_connection_ip_v4;
        uint8_t tcp_connection_ip_v6;
        uint32_t flags;
        uint8_t ip_sec_v2;
        uint8_t ip_sec_v2_ip_v4;
        uint8_t rsc_ip_v4;
        uint8_t rsc_ip_v6;
        uint8_t encapsulated_packet_task_offload;
        uint8_t encapsulation_types;
};
#define NDIS_OFFLOAD_PARAMS_SIZE 28u
#define NDIS_OFFLOAD_PARAMS_SIZE_V4 22u
_Static_assert(sizeof(struct ndis_offload_params) == NDIS_OFFLOAD_PARAMS_SIZE, "ndis_offload_params");
_Static_assert(offsetof(struct ndis_offload_params, lso_v2_ipv6) == 12, "offload_params.lso_v2_ipv6");
_Static_assert(offsetof(struct ndis_offload_params, flags) == 16, "offload_params.flags");
_Static_assert(offsetof(struct ndis_offload_params, rsc_ip_v4) == 22, "offload_params.rsc_ip_v4");
_Static_assert(offsetof(struct ndis_offload_params, encapsulation_types) == 25, "offload_params.encap");

/* offload parameter values */
#define NDIS_OFFLOAD_PARAMETERS_NO_CHANGE 0u
#define NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED 1u
#define NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED 2u
#define NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED 3u
#define NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED 4u
#define NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED 1u
#define NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED 2u
#define NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED 1u
#define NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED 2u

/* NDIS_RECEIVE_SCALE_CAPABILITIES (packed, 18 bytes) */
struct ndis_recv_scale_cap {
        struct ndis_object_header hdr;
        uint32_t cap_flag;
        uint32_t num_int_msg;
        uint32_t num_recv_que;
        uint16_t num_indirect_tabent;
} __attribute__((packed));
_Static_assert(sizeof(struct ndis_recv_scale_cap) == 18, "ndis_recv_scale_cap");
#define NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2 2u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4 0x00000100u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6 0x00000200u

/* NDIS_RECEIVE_SCALE_PARAMETERS (natural alignment, 40 bytes) */
struct ndis_recv_scale_param {
        struct ndis_object_header hdr;
        uint16_t flag;
        uint16_t base_cpu_number;
        uint32_t hashinfo;
        uint16_t indirect_tabsize; /* bytes */
        uint32_t indirect_taboffset; /* from the start of this structure */
        uint16_t hashkey_size;
        uint32_t hashkey_offset;
        uint32_t processor_masks_offset;
        uint32_t num_processor_masks;
        uint32_t processor_masks_entry_size;
};
_Static_assert(sizeof(struct ndis_recv_scale_param) == 40, "ndis_recv_scale_param");
_Static_assert(offsetof(struct ndis_recv_scale_param, indirect_taboffset) == 16, "rss indirect_taboffset");
_Static_assert(offsetof(struct ndis_recv_scale_param, hashkey_offset) == 24, "rss hashkey_offset");
#define NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2 2u
#define NDIS_RSS_PARAM_FLAG_DISABLE_RSS 0x0010u
#define NDIS_HASH_FUNC_TOEPLITZ 0x00000001u
#define NDIS_RSS_HASH_KEY_SIZE 40u
/* The key of Microsoft's "Verifying the RSS Hash Calculation" (its published
 * hashes are test vectors); an initializer for uint8_t[40]. */
#define NDIS_RSS_KEY_VERIFICATION                                                                                   \
        { 0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,                     \
          0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,                     \
          0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa }
/* NDIS_RECEIVE_SCALE_PARAMETERS.HashInformation bits (with the function) */
#define NDIS_HASH_IPV4 0x00000100u
#define NDIS_HASH_TCP_IPV4 0x00000200u
#define NDIS_HASH_IPV6 0x00000400u
#define NDIS_HASH_TCP_IPV6 0x00001000u
#define NDIS_HASH_UDP_IPV4 0x00004000u
#define NDIS_HASH_UDP_IPV6 0x00008000u
#define NDIS_RSS_INDIRECTION_MAX_ENTRIES 256u

/* ---- layout checks (§7.4-§7.6) ---- */
_Static_assert(sizeof(struct rndis_initialize_complete) == 44, "INIT_C body");
_Static_assert(sizeof(struct rndis_query_request) == 20, "QUERY body: info buffer at offset 20");
_Static_assert(sizeof(struct rndis_query_complete) == 16, "QUERY_C body: info_buf_offset >= 16");
_Static_assert(sizeof(struct rndis_set_request) == 20, "SET body");
_Static_assert(sizeof(struct rndis_indicate_status) == 12, "INDICATE body");
_Static_assert(sizeof(struct rndis_packet) == 36, "PACKET body");
_Static_assert(sizeof(struct rndis_per_packet_info) == 12, "PPI header");
_Static_assert(sizeof(struct rndis_config_parameter_info) == 20, "config parameter");

/* The guest copies a response into sizeof(struct rndis_message) (the 8-byte
 * header + the largest body, 44) + 4096 bytes and rejects longer ones
 * (§7.4: "must be <= 52 + 4096"). */
#define RNDIS_MAX_RESPONSE_SIZE (52u + 4096u)
