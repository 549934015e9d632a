/* SPDX-License-Identifier: MIT */
/* VMBus wire formats: channel-management messages (§4), ring buffers and
 * packets (§5) of docs/hyperv-guest-interface.md. Field names follow Linux
 * (include/linux/hyperv.h) so the two can be compared line by line. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VMBUS_PAGE_SIZE 4096u

/* ---- connection ids and versions (§4.2) ---- */
#define VMBUS_MESSAGE_CONNECTION_ID 1u
#define VMBUS_MESSAGE_CONNECTION_ID_4 4u
#define VMBUS_MESSAGE_PORT_ID 1u
#define VMBUS_EVENT_CONNECTION_ID 2u
#define VMBUS_MONITOR_CONNECTION_ID 3u
#define VMBUS_MESSAGE_SINT 2u

#define VMBUS_MAKE_VERSION(major, minor) (((uint32_t)(major) << 16) | (minor))
#define VERSION_WS2008 0x0000000du
#define VERSION_WIN7 0x00010001u
#define VERSION_WIN8 0x00020004u
#define VERSION_WIN8_1 0x00030000u
#define VERSION_WIN10 0x00040000u
#define VERSION_WIN10_V4_1 0x00040001u
#define VERSION_WIN10_V5 0x00050000u
#define VERSION_WIN10_V5_1 0x00050001u
#define VERSION_WIN10_V5_2 0x00050002u
#define VERSION_WIN10_V5_3 0x00050003u
#define VERSION_WIN_COPPER 0x00060000u

/* ---- channel messages (§4.1) ---- */
enum vmbus_channel_message_type {
        CHANNELMSG_INVALID = 0,
        CHANNELMSG_OFFERCHANNEL = 1,
        CHANNELMSG_RESCIND_CHANNELOFFER = 2,
        CHANNELMSG_REQUESTOFFERS = 3,
        CHANNELMSG_ALLOFFERS_DELIVERED = 4,
        CHANNELMSG_OPENCHANNEL = 5,
        CHANNELMSG_OPENCHANNEL_RESULT = 6,
        CHANNELMSG_CLOSECHANNEL = 7,
        CHANNELMSG_GPADL_HEADER = 8,
        CHANNELMSG_GPADL_BODY = 9,
        CHANNELMSG_GPADL_CREATED = 10,
        CHANNELMSG_GPADL_TEARDOWN = 11,
        CHANNELMSG_GPADL_TORNDOWN = 12,
        CHANNELMSG_RELID_RELEASED = 13,
        CHANNELMSG_INITIATE_CONTACT = 14,
        CHANNELMSG_VERSION_RESPONSE = 15,
        CHANNELMSG_UNLOAD = 16,
        CHANNELMSG_UNLOAD_RESPONSE = 17,
        CHANNELMSG_18 = 18,
        CHANNELMSG_19 = 19,
        CHANNELMSG_20 = 20,
        CHANNELMSG_TL_CONNECT_REQUEST = 21,
        CHANNELMSG_MODIFYCHANNEL = 22,
        CHANNELMSG_TL_CONNECT_RESULT = 23,
        CHANNELMSG_MODIFYCHANNEL_RESPONSE = 24,
        CHANNELMSG_COUNT
};

struct vmbus_channel_message_header {
        uint32_t msgtype;
        uint32_t padding;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_message_header) == 8, "header");

#define VMBUS_CHANNEL_MAX_RELID 2047u /* relids are 1..2047 (§4.4) */
#define VMBUS_OFFER_USER_DEFINED_BYTES 120u
#define VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE 0x0001u
#define VMBUS_CHANNEL_SUPPORTS_TRANSFER_PAGES 0x0002u
#define VMBUS_CHANNEL_SUPPORTS_GPADLS 0x0004u
#define VMBUS_CHANNEL_NAMED_PIPE_MODE 0x0010u
#define VMBUS_CHANNEL_LOOPBACK_OFFER 0x0100u
#define VMBUS_CHANNEL_PARENT_OFFER 0x0200u
#define VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION 0x0400u
#define VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER 0x2000u
#define VMBUS_PIPE_TYPE_BYTE 0u
#define VMBUS_PIPE_TYPE_MESSAGE 4u

/* OFFERCHANNEL, 196 bytes (§4.4) */
struct vmbus_channel_offer_channel {
        struct vmbus_channel_message_header header;
        uint8_t if_type[16];
        uint8_t if_instance[16];
        uint64_t reserved1;
        uint64_t reserved2;
        uint16_t chn_flags;
        uint16_t mmio_megabytes;
        uint8_t user_def[VMBUS_OFFER_USER_DEFINED_BYTES]; /* pipe offers: pipe_mode u32 first */
        uint16_t sub_channel_index;
        uint16_t reserved3;
        uint32_t child_relid;
        uint8_t monitorid;
        uint8_t monitor_allocated; /* bit 0; always 0 from us (§4.10) */
        uint16_t is_dedicated_interrupt; /* bit 0 */
        uint32_t connection_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_offer_channel) == 196, "offer size");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, if_type) == 8, "if_type");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, chn_flags) == 56, "chn_flags");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, user_def) == 60, "user_def");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, sub_channel_index) == 180, "sub_channel_index");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, child_relid) == 184, "child_relid");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, monitorid) == 188, "monitorid");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, connection_id) == 192, "connection_id");

/* Status values of OPENCHANNEL_RESULT.status, GPADL_CREATED.creation_status
 * and MODIFYCHANNEL_RESPONSE.status: Linux only tests for non-zero (§4.5,
 * §4.6). The failure value is NTSTATUS STATUS_UNSUCCESSFUL. */
#define VMBUS_STATUS_SUCCESS 0u
#define VMBUS_STATUS_UNSUCCESSFUL 0xc0000001u
#define VMBUS_STATUS_CONNECTION_REFUSED 0xc0000236u /* TL_CONNECT_RESULT */

/* VERSION_RESPONSE.connection_state (§4.3; ignored by Linux). */
#define VMBUS_CONNECTION_STATE_SUCCESSFUL 0u
#define VMBUS_CONNECTION_STATE_LOW_RESOURCES 1u
#define VMBUS_CONNECTION_STATE_UNKNOWN_FAILURE 2u

/* The host's message slot type for VMBus control messages (§3.2). */
#define VMBUS_HV_MESSAGE_TYPE 1u
/* Largest control message: one SynIC message payload (§3.2). */
#define VMBUS_MESSAGE_MAX_BYTES 240u

/* RESCIND_CHANNELOFFER, RELID_RELEASED, CLOSECHANNEL: header + relid (12) */
struct vmbus_channel_relid_message {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_relid_message) == 12, "relid message");

/* OPENCHANNEL, 148 bytes (§4.6) */
struct vmbus_channel_open_channel {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t openid;
        uint32_t ringbuffer_gpadlhandle;
        uint32_t target_vp;
        uint32_t downstream_ringbuffer_pageoffset;
        uint8_t userdata[120];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_open_channel) == 148, "open size");
_Static_assert(offsetof(struct vmbus_channel_open_channel, userdata) == 28, "userdata");

/* OPENCHANNEL_RESULT, 20 bytes */
struct vmbus_channel_open_result {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t openid;
        uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_open_result) == 20, "open result");

/* GPADL_HEADER: 20 + range (8 + 8*n) (§4.5) */
/* A range header; ceil((byte_offset + byte_count) / 4096) u64 PFNs follow it. */
struct vmbus_gpa_range {
        uint32_t byte_count;
        uint32_t byte_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpa_range) == 8, "gpa range");

struct vmbus_channel_gpadl_header {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t gpadl;
        uint16_t range_buflen;
        uint16_t rangecount;
        /* rangecount x { struct vmbus_gpa_range, PFNs } follow at offset 20 */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_header) == 20, "gpadl header");
#define VMBUS_GPADL_HEADER_MAX_PFNS 26u /* (240 - 20 - 8) / 8 */

/* GPADL_BODY: 16 + 8*m */
struct vmbus_channel_gpadl_body {
        struct vmbus_channel_message_header header;
        uint32_t msgnumber;
        uint32_t gpadl;
        uint64_t pfn[];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_body) == 16, "gpadl body");
#define VMBUS_GPADL_BODY_MAX_PFNS 28u /* (240 - 16) / 8 */
/* range_buflen is a u16 holding 8 bytes per range plus 8 per PFN, so one
 * GPADL can never describe more than (65535 - 8) / 8 pages. */
#define VMBUS_GPADL_WIRE_MAX_PFNS 8190u

/* GPADL_CREATED, 20 bytes */
struct vmbus_channel_gpadl_created {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t gpadl;
        uint32_t creation_status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_created) == 20, "gpadl created");

/* GPADL_TEARDOWN, 16 bytes */
struct vmbus_channel_gpadl_teardown {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_teardown) == 16, "gpadl teardown");

/* GPADL_TORNDOWN, 12 bytes */
struct vmbus_channel_gpadl_torndown {
        struct vmbus_channel_message_header header;
        uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_gpadl_torndown) == 12, "gpadl torndown");

/* INITIATE_CONTACT, 40 bytes (§4.3) */
struct vmbus_channel_initiate_contact {
        struct vmbus_channel_message_header header;
        uint32_t vmbus_version_requested;
        uint32_t target_vcpu;
        union {
                uint64_t interrupt_page; /* versions < 5.0 */
                struct {
                        uint8_t msg_sint;
                        uint8_t msg_vtl;
                        uint8_t reserved[2];
                        uint32_t feature_flags;
                } __attribute__((packed));
        };
        uint64_t monitor_page1;
        uint64_t monitor_page2;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_initiate_contact) == 40, "initiate contact");
_Static_assert(offsetof(struct vmbus_channel_initiate_contact, monitor_page1) == 24, "monitor_page1");

/* UNLOAD, UNLOAD_RESPONSE, REQUESTOFFERS, ALLOFFERS_DELIVERED: header only (8) */

/* VERSION_RESPONSE, 16 bytes */
struct vmbus_channel_version_response {
        struct vmbus_channel_message_header header;
        uint8_t version_supported;
        uint8_t connection_state;
        uint16_t padding;
        uint32_t msg_conn_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_version_response) == 16, "version response");

/* MODIFYCHANNEL (16) and MODIFYCHANNEL_RESPONSE (16) */
struct vmbus_channel_modifychannel {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t target_vp;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_modifychannel) == 16, "modifychannel");

struct vmbus_channel_modifychannel_response {
        struct vmbus_channel_message_header header;
        uint32_t child_relid;
        uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_modifychannel_response) == 16, "modifychannel response");

/* Hyper-V sockets (hv_sock, §4.12). TL_CONNECT_REQUEST: the guest connects
 * from its endpoint (a service GUID carrying its local port) to a host
 * service (one carrying the host port). Windows 10 RS5+ guests may append
 * a 16-byte silo id; Linux sends these 40 bytes. */
struct vmbus_channel_tl_connect_request {
        struct vmbus_channel_message_header header;
        uint8_t guest_endpoint_id[16];
        uint8_t host_service_id[16];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_tl_connect_request) == 40, "tl connect request");

/* TL_CONNECT_RESULT: the host refuses a connect (status < 0). Linux drops
 * it (its connect() times out); other guests stop waiting. */
struct vmbus_channel_tl_connect_result {
        struct vmbus_channel_message_header header;
        uint8_t guest_endpoint_id[16];
        uint8_t host_service_id[16];
        int32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_channel_tl_connect_result) == 44, "tl connect result");

/* An hv_sock offer's user_def (after the 4-byte pipe type, BYTE): byte 4 is
 * 1 when the host connects to a guest listener (Linux: conn_from_host), 0
 * when the offer answers the guest's own TL_CONNECT_REQUEST. */
#define VMBUS_HVSOCK_USER_DEF_FOR_GUEST_ACCEPT 4u
/* Offer flags of an hv_sock channel (as Hyper-V and OpenVMM set them). */
#define VMBUS_HVSOCK_CHN_FLAGS \
        (VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE | VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER)
/* Service GUIDs of AF_VSOCK ports: <port>-facb-11e6-bd58-64006a7986d3, the
 * port little-endian in the first 4 bytes. Listening ports are
 * 0..0x7fffffff; Linux names host-initiated peers from 0x80000000 up. */
#define VMBUS_HVSOCK_MAX_LISTEN_PORT 0x7fffffffu
#define VMBUS_HVSOCK_SERVICE_TEMPLATE \
        { 0xcb, 0xfa, 0xe6, 0x11, 0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3 } /* bytes 4..15 */

/* The message the pipe carries in each VM_PKT_DATA_INBAND packet: type 1
 * (data) and the byte count; 0 bytes = the sender shut its side down. */
struct vmbus_pipe_header {
        uint32_t type;
        uint32_t data_size;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_pipe_header) == 8, "pipe header");
#define VMBUS_PIPE_MSG_DATA 1u
/* Linux's hv_sock (net/vmw_vsock/hyperv_transport.c) refuses a payload over
 * HVS_MTU_SIZE, 16 KiB, and copies each packet it reads into a buffer of
 * the channel's max_pkt_size, which it sets to HVS_MAX_PKT_SIZE =
 * HVS_PKT_LEN(HVS_MTU_SIZE): descriptor and pipe header (24 bytes), the
 * 16 KiB payload and the 8-byte trailer. What the host sends must fit that
 * (Linux 5.15 on; earlier kernels read the ring in place). */
#define VMBUS_HVSOCK_MTU 16384u
#define VMBUS_HVSOCK_GUEST_MAX_PACKET (16u + 8u + VMBUS_HVSOCK_MTU + 8u) /* 16416 */

/* ---- ring buffers (§5.2) ---- */
/* Not packed: every field is naturally aligned and the header is the first
 * bytes of a page, so the indices can be accessed atomically (the
 * _Static_asserts below pin the layout). */
struct hv_ring_buffer {
        uint32_t write_index;
        uint32_t read_index;
        uint32_t interrupt_mask;
        uint32_t pending_send_sz;
        uint32_t reserved1[12];
        uint32_t feature_bits; /* bit 0: feat_pending_send_sz */
        uint8_t reserved2[4028];
        /* data area follows at offset 4096 */
};
_Static_assert(sizeof(struct hv_ring_buffer) == 4096, "ring header");
_Static_assert(offsetof(struct hv_ring_buffer, feature_bits) == 64, "feature_bits");
_Static_assert(offsetof(struct hv_ring_buffer, pending_send_sz) == 12, "pending_send_sz");
_Static_assert(_Alignof(struct hv_ring_buffer) == 4, "ring header alignment");
#define VMBUS_RING_FEAT_PENDING_SEND_SZ 1u

/* ---- packets (§5.3) ---- */
enum vmbus_packet_type {
        VM_PKT_INVALID = 0x0,
        VM_PKT_SYNCH = 0x1,
        VM_PKT_ADD_XFER_PAGESET = 0x2,
        VM_PKT_RM_XFER_PAGESET = 0x3,
        VM_PKT_ESTABLISH_GPADL = 0x4,
        VM_PKT_TEARDOWN_GPADL = 0x5,
        VM_PKT_DATA_INBAND = 0x6,
        VM_PKT_DATA_USING_XFER_PAGES = 0x7,
        VM_PKT_DATA_USING_GPADL = 0x8,
        VM_PKT_DATA_USING_GPA_DIRECT = 0x9,
        VM_PKT_CANCEL_REQUEST = 0xa,
        VM_PKT_COMP = 0xb,
        VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
        VM_PKT_ADDITIONAL_DATA = 0xd,
};
#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1u
#define VMBUS_PKT_TRAILER 8u

struct vmpacket_descriptor {
        uint16_t type;
        uint16_t offset8; /* payload start, 8-byte units from the descriptor */
        uint16_t len8;    /* total length without trailer, 8-byte units */
        uint16_t flags;
        uint64_t trans_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmpacket_descriptor) == 16, "vmpacket_descriptor");

/* GPA-direct (type 9) ranges: count, offset, then the PFNs. */
struct vmbus_gpa_direct_header {
        struct vmpacket_descriptor d;
        uint32_t reserved;
        uint32_t range_cnt;
        /* struct vmbus_gpa_range ranges[range_cnt], variable length */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpa_direct_header) == 24, "gpa direct header");

/* Transfer-page (type 7) packet: ranges into a pageset (netvsc receive). */
struct vmtransfer_page_range {
        uint32_t byte_count;
        uint32_t byte_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct vmtransfer_page_range) == 8, "xfer range");

struct vmtransfer_page_packet_header {
        struct vmpacket_descriptor d;
        uint16_t xfer_pageset_id;
        uint8_t sender_owns_set;
        uint8_t reserved;
        uint32_t range_cnt;
        struct vmtransfer_page_range ranges[];
} __attribute__((packed));
_Static_assert(sizeof(struct vmtransfer_page_packet_header) == 24, "xfer header");

/* Pipe-mode channels (integration components, §8.1): every payload starts
 * with this header. Linux ignores it; OpenVMM writes flags = 1 (data) and
 * msgsize = the bytes that follow. */
struct vmbus_pipe_hdr {
        uint32_t flags;
        uint32_t msgsize;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_pipe_hdr) == 8, "pipe header");
#define VMBUS_PIPE_FLAG_DATA 1u

/* Transaction ids with meaning (§5.7). */
#define VMBUS_RQST_INIT 0xfffffffffffffffdull
#define VMBUS_RQST_RESET 0xfffffffffffffffcull

/* ---- monitor page (§4.10), for completeness: we never allocate monitors ---- */
#define VMBUS_MONITOR_PAGE_SIZE 4096u

/* ---- class GUIDs (§4.11), as wire bytes ---- */
#define HV_GUID_BYTES(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                             \
        { (uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16), (uint8_t)((a) >> 24), \
          (uint8_t)(b), (uint8_t)((b) >> 8), (uint8_t)(c), (uint8_t)((c) >> 8),           \
          d0, d1, d2, d3, d4, d5, d6, d7 }
#define HV_SCSI_GUID HV_GUID_BYTES(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f)
#define HV_NIC_GUID HV_GUID_BYTES(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e)
#define HV_SHUTDOWN_GUID HV_GUID_BYTES(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb)
#define HV_TS_GUID HV_GUID_BYTES(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf)
#define HV_HEART_BEAT_GUID HV_GUID_BYTES(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d)
#define HV_KVP_GUID HV_GUID_BYTES(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6)
#define HV_VSS_GUID HV_GUID_BYTES(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4, 0x40)
#define HV_FCOPY_GUID HV_GUID_BYTES(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1, 0x92)
#define HV_IDE_GUID HV_GUID_BYTES(0x32412632, 0x86cb, 0x44a2, 0x9b, 0x5c, 0x50, 0xd1, 0x41, 0x73, 0x54, 0xf5)
