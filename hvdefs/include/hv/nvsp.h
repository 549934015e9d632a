/* SPDX-License-Identifier: MIT */
/* NVSP, the Network VSP protocol carried in netvsc's VMBus packets
 * (docs/hyperv-guest-interface.md §7.1-§7.3, §7.8). Field names follow
 * Linux drivers/net/hyperv/hyperv_net.h so the two compare line by line.
 * Every message is a u32 type followed by a type-specific body; Linux always
 * sends sizeof(struct nvsp_message) = 40 bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- protocol versions (§7.3), newest first as Linux tries them ---- */
#define NVSP_PROTOCOL_VERSION_1 0x00002u
#define NVSP_PROTOCOL_VERSION_2 0x30002u
#define NVSP_PROTOCOL_VERSION_4 0x40000u
#define NVSP_PROTOCOL_VERSION_5 0x50000u
#define NVSP_PROTOCOL_VERSION_6 0x60000u
#define NVSP_PROTOCOL_VERSION_61 0x60001u

/* ---- message types (§7.2) ---- */
enum nvsp_msg_type {
        NVSP_MSG_TYPE_NONE = 0,
        NVSP_MSG_TYPE_INIT = 1,
        NVSP_MSG_TYPE_INIT_COMPLETE = 2,
        NVSP_MSG1_TYPE_SEND_NDIS_VER = 100,
        NVSP_MSG1_TYPE_SEND_RECV_BUF = 101,
        NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE = 102,
        NVSP_MSG1_TYPE_REVOKE_RECV_BUF = 103,
        NVSP_MSG1_TYPE_SEND_SEND_BUF = 104,
        NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE = 105,
        NVSP_MSG1_TYPE_REVOKE_SEND_BUF = 106,
        NVSP_MSG1_TYPE_SEND_RNDIS_PKT = 107,
        NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE = 108,
        /* 109-124: chimney / VMQ v2 messages, unused by Linux */
        NVSP_MSG2_TYPE_SEND_NDIS_CONFIG = 125,
        NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION = 128,
        NVSP_MSG4_TYPE_SWITCH_DATA_PATH = 129,
        NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED = 130,
        NVSP_MSG5_TYPE_OID_QUERY_EX = 131,
        NVSP_MSG5_TYPE_OID_QUERY_EX_COMP = 132,
        NVSP_MSG5_TYPE_SUBCHANNEL = 133,
        NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE = 134,
        NVSP_MSG6_TYPE_PD_API = 135,
        NVSP_MSG6_TYPE_PD_POST_BATCH = 136,
};

/* ---- statuses: success is 1, not 0 (§7.2) ---- */
enum nvsp_status {
        NVSP_STAT_NONE = 0,
        NVSP_STAT_SUCCESS = 1,
        NVSP_STAT_FAIL = 2,
        NVSP_STAT_PROTOCOL_TOO_NEW = 3,
        NVSP_STAT_PROTOCOL_TOO_OLD = 4,
        NVSP_STAT_INVALID_RNDIS_PKT = 5,
        NVSP_STAT_BUSY = 6,
        NVSP_STAT_PROTOCOL_UNSUPPORTED = 7,
};

/* ---- well-known values ---- */
#define NVSP_RECV_BUF_ID 0xcafeu /* SEND_RECV_BUF id and the xfer_pageset_id (§7.4) */
#define NVSP_SEND_BUF_ID 0u
#define NVSP_INVALID_SECTION_INDEX 0xffffffffu /* SEND_RNDIS_PKT: no send-buffer section */
#define NVSP_RNDIS_CHANNEL_DATA 0u
#define NVSP_RNDIS_CHANNEL_CONTROL 1u
#define NVSP_SUBCHANNEL_ALLOCATE 1u
#define NVSP_SEND_INDIRECTION_TABLE_ENTRIES 16u
#define NVSP_MAX_XFER_PAGE_RANGES 375u /* Hyper-V's limit without RSC (§7.4) */

/* SEND_NDIS_CONFIG capability bits (§7.2) */
#define NVSP_NDIS_CONFIG_CAP_VMQ (1ull << 0)
#define NVSP_NDIS_CONFIG_CAP_CHIMNEY (1ull << 1)
#define NVSP_NDIS_CONFIG_CAP_SRIOV (1ull << 2)
#define NVSP_NDIS_CONFIG_CAP_IEEE8021Q (1ull << 3)
#define NVSP_NDIS_CONFIG_CAP_CORRELATION_ID (1ull << 4)
#define NVSP_NDIS_CONFIG_CAP_TEAMING (1ull << 5)
#define NVSP_NDIS_CONFIG_CAP_VSUBNETID (1ull << 6)
#define NVSP_NDIS_CONFIG_CAP_RSC (1ull << 7)

/* ---- bodies (offsets in comments are from the start of the message) ---- */
struct nvsp_message_header {
        uint32_t msg_type;
} __attribute__((packed));

struct nvsp_message_init { /* @4 */
        uint32_t min_protocol_ver;
        uint32_t max_protocol_ver;
} __attribute__((packed));

struct nvsp_message_init_complete {
        uint32_t negotiated_protocol_ver; /* @4 */
        uint32_t max_mdl_chain_len;       /* @8 */
        uint32_t status;                  /* @12 */
} __attribute__((packed));

struct nvsp_1_message_send_ndis_version {
        uint32_t ndis_major_ver;
        uint32_t ndis_minor_ver;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer {
        uint32_t gpadl_handle; /* @4 */
        uint16_t id;           /* @8, 0xCAFE */
} __attribute__((packed));

struct nvsp_1_receive_buffer_section {
        uint32_t offset;
        uint32_t sub_alloc_size;
        uint32_t num_sub_allocs;
        uint32_t end_offset;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer_complete {
        uint32_t status;       /* @4 */
        uint32_t num_sections; /* @8 */
        struct nvsp_1_receive_buffer_section sections[1]; /* @12 */
} __attribute__((packed));

struct nvsp_1_message_revoke_receive_buffer {
        uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer {
        uint32_t gpadl_handle;
        uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer_complete {
        uint32_t status;
        uint32_t section_size;
} __attribute__((packed));

struct nvsp_1_message_revoke_send_buffer {
        uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet {
        uint32_t channel_type;           /* @4: 0 data, 1 control */
        uint32_t send_buf_section_index; /* @8: 0xFFFFFFFF = none */
        uint32_t send_buf_section_size;  /* @12 */
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet_complete {
        uint32_t status;
} __attribute__((packed));

struct nvsp_2_send_ndis_config {
        uint32_t mtu;        /* @4 */
        uint32_t reserved;   /* @8 */
        uint64_t capability; /* @12, NVSP_NDIS_CONFIG_CAP_* */
} __attribute__((packed));

struct nvsp_4_send_vf_association {
        uint32_t allocated;
        uint32_t serial;
} __attribute__((packed));

struct nvsp_4_sw_datapath {
        uint32_t active_datapath;
} __attribute__((packed));

struct nvsp_5_subchannel_request {
        uint32_t op;
        uint32_t num_subchannels;
} __attribute__((packed));

struct nvsp_5_subchannel_complete {
        uint32_t status;
        uint32_t num_subchannels;
} __attribute__((packed));

struct nvsp_5_send_indirect_table {
        uint32_t count;  /* 16 */
        uint32_t offset; /* from the start of the message */
} __attribute__((packed));

#define NVSP_MESSAGE_SIZE 40u
#define NVSP_BODY_SIZE (NVSP_MESSAGE_SIZE - 4u)

struct nvsp_message {
        struct nvsp_message_header hdr;
        union {
                struct nvsp_message_init init;
                struct nvsp_message_init_complete init_complete;
                struct nvsp_1_message_send_ndis_version send_ndis_ver;
                struct nvsp_1_message_send_receive_buffer send_recv_buf;
                struct nvsp_1_message_send_receive_buffer_complete send_recv_buf_complete;
                struct nvsp_1_message_revoke_receive_buffer revoke_recv_buf;
                struct nvsp_1_message_send_send_buffer send_send_buf;
                struct nvsp_1_message_send_send_buffer_complete send_send_buf_complete;
                struct nvsp_1_message_revoke_send_buffer revoke_send_buf;
                struct nvsp_1_message_send_rndis_packet send_rndis_pkt;
                struct nvsp_1_message_send_rndis_packet_complete send_rndis_pkt_complete;
                struct nvsp_2_send_ndis_config send_ndis_config;
                struct nvsp_4_send_vf_association vf_assoc;
                struct nvsp_4_sw_datapath active_dp;
                struct nvsp_5_subchannel_request subchn_req;
                struct nvsp_5_subchannel_complete subchn_comp;
                struct nvsp_5_send_indirect_table send_table;
                uint8_t raw[NVSP_BODY_SIZE];
        } msg;
} __attribute__((packed));

_Static_assert(sizeof(struct nvsp_message) == 40, "nvsp_message is 40 bytes as Linux sends it");
_Static_assert(offsetof(struct nvsp_message, msg) == 4, "nvsp body");
_Static_assert(offsetof(struct nvsp_message, msg.init.max_protocol_ver) == 8, "init max");
_Static_assert(offsetof(struct nvsp_message, msg.init_complete.status) == 12, "init_complete status");
_Static_assert(offsetof(struct nvsp_message, msg.send_recv_buf.id) == 8, "send_recv_buf id");
_Static_assert(offsetof(struct nvsp_message, msg.send_recv_buf_complete.num_sections) == 8,
               "recv_buf_complete num_sections");
_Static_assert(offsetof(struct nvsp_message, msg.send_recv_buf_complete.sections) == 12,
               "recv_buf_complete section[0]");
_Static_assert(sizeof(struct nvsp_1_receive_buffer_section) == 16, "recv section");
_Static_assert(offsetof(struct nvsp_message, msg.send_send_buf_complete.section_size) == 8,
               "send_buf_complete section_size");
_Static_assert(offsetof(struct nvsp_message, msg.send_rndis_pkt.send_buf_section_index) == 8,
               "rndis_pkt section index");
_Static_assert(offsetof(struct nvsp_message, msg.send_rndis_pkt.send_buf_section_size) == 12,
               "rndis_pkt section size");
_Static_assert(offsetof(struct nvsp_message, msg.send_ndis_config.capability) == 12,
               "ndis_config capability");
_Static_assert(offsetof(struct nvsp_message, msg.subchn_comp.num_subchannels) == 8,
               "subchannel complete count");

/* Minimum completion sizes the 6.1 guest accepts (§7.2: a fall-through
 * chain of length checks); we always send NVSP_MESSAGE_SIZE. */
#define NVSP_INIT_COMPLETE_MIN_SIZE 28u
#define NVSP_RECV_BUF_COMPLETE_MIN_SIZE 28u
#define NVSP_SEND_BUF_COMPLETE_MIN_SIZE 12u
#define NVSP_SUBCHANNEL_COMPLETE_MIN_SIZE 12u
#define NVSP_RNDIS_PKT_COMPLETE_SIZE 8u
