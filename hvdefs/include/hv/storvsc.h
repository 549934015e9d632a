/* SPDX-License-Identifier: MIT */
/* storvsc/storvsp wire formats: the vstor_packet carried in VMBus packets on
 * the synthetic SCSI channel (docs/hyperv-guest-interface.md §6). Field names
 * follow Linux drivers/scsi/storvsc_drv.c so the two compare line by line.
 * All integers little-endian, all structs packed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- protocol versions (§6.3): major << 8 | minor ---- */
#define VMSTOR_PROTO_VERSION(major, minor) ((uint16_t)((((major) & 0xff) << 8) | ((minor) & 0xff)))
#define VMSTOR_PROTO_VERSION_WIN6 0x0200u   /* no longer offered by Linux >= 5.19 */
#define VMSTOR_PROTO_VERSION_WIN7 0x0402u   /* no longer offered by Linux >= 5.19 */
#define VMSTOR_PROTO_VERSION_WIN8 0x0501u
#define VMSTOR_PROTO_VERSION_WIN8_1 0x0600u
#define VMSTOR_PROTO_VERSION_WIN10 0x0602u

/* ---- operations (§6.2) ---- */
enum vstor_packet_operation {
        VSTOR_OPERATION_COMPLETE_IO = 1,
        VSTOR_OPERATION_REMOVE_DEVICE = 2,
        VSTOR_OPERATION_EXECUTE_SRB = 3,
        VSTOR_OPERATION_RESET_LUN = 4,
        VSTOR_OPERATION_RESET_ADAPTER = 5,
        VSTOR_OPERATION_RESET_BUS = 6,
        VSTOR_OPERATION_BEGIN_INITIALIZATION = 7,
        VSTOR_OPERATION_END_INITIALIZATION = 8,
        VSTOR_OPERATION_QUERY_PROTOCOL_VERSION = 9,
        VSTOR_OPERATION_QUERY_PROPERTIES = 10,
        VSTOR_OPERATION_ENUMERATE_BUS = 11,
        VSTOR_OPERATION_FCHBA_DATA = 12,
        VSTOR_OPERATION_CREATE_SUB_CHANNELS = 13,
        VSTOR_OPERATION_MAXIMUM = 13,
};

/* vstor_packet.flags: the guest asks for a completion (set on every request). */
#define REQUEST_COMPLETION_FLAG 0x1u

/* ---- SRB (§6.4) ---- */
#define STORVSC_MAX_CMD_LEN 0x10u
#define STORVSC_SENSE_BUFFER_SIZE 0x14u /* every version >= WIN8 */
#define STORVSC_MAX_BUF_LEN_WITH_PADDING 0x14u
#define VMSCSI_REQUEST_LEN_V1 0x24u     /* WIN6/WIN7: no win8 extension */
#define VMSCSI_REQUEST_LEN_V2 0x34u     /* WIN8 and newer */

/* vmscsi_request.data_in */
enum storvsc_request_type {
        WRITE_TYPE = 0,
        READ_TYPE = 1,
        UNKNOWN_TYPE = 2,
};

/* srb_status byte: bits 7/6 are flags, bits 5:0 the code (§6.5). Linux
 * compares the whole byte against SRB_STATUS_SUCCESS. */
#define SRB_STATUS_AUTOSENSE_VALID 0x80u
#define SRB_STATUS_QUEUE_FROZEN 0x40u
#define SRB_STATUS_CODE_MASK 0x3fu
#define SRB_STATUS_PENDING 0x00u
#define SRB_STATUS_SUCCESS 0x01u
#define SRB_STATUS_ABORTED 0x02u
#define SRB_STATUS_ERROR 0x04u
#define SRB_STATUS_BUSY 0x05u
#define SRB_STATUS_INVALID_REQUEST 0x06u
#define SRB_STATUS_NO_DEVICE 0x08u
#define SRB_STATUS_TIMEOUT 0x09u
#define SRB_STATUS_SELECTION_TIMEOUT 0x0Au
#define SRB_STATUS_BUS_RESET 0x0Eu
#define SRB_STATUS_DATA_OVERRUN 0x12u
#define SRB_STATUS_INVALID_LUN 0x20u
#define SRB_STATUS_INVALID_TARGET_ID 0x21u
#define SRB_STATUS_INTERNAL_ERROR 0x30u

/* srb_flags (§6.4) */
#define SRB_FLAGS_QUEUE_ACTION_ENABLE 0x00000002u
#define SRB_FLAGS_DISABLE_DISCONNECT 0x00000004u
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER 0x00000008u
#define SRB_FLAGS_BYPASS_FROZEN_QUEUE 0x00000010u
#define SRB_FLAGS_DISABLE_AUTOSENSE 0x00000020u
#define SRB_FLAGS_DATA_IN 0x00000040u
#define SRB_FLAGS_DATA_OUT 0x00000080u
#define SRB_FLAGS_NO_DATA_TRANSFER 0x00000000u
#define SRB_FLAGS_UNSPECIFIED_DIRECTION (SRB_FLAGS_DATA_IN | SRB_FLAGS_DATA_OUT)
#define SRB_FLAGS_NO_QUEUE_FREEZE 0x00000100u
#define SRB_FLAGS_ADAPTER_CACHE_ENABLE 0x00000200u
#define SRB_FLAGS_FREE_SENSE_BUFFER 0x00000400u

#define SP_UNTAGGED 0xFFu
#define SRB_SIMPLE_TAG_REQUEST 0x20u

/* vmscsi_request with the win8 extension, 0x34 bytes (§6.4). On a request
 * the union holds the CDB, on a completion the sense data. */
struct vmscsi_request {
        uint16_t length;
        uint8_t srb_status;
        uint8_t scsi_status;

        uint8_t port_number;
        uint8_t path_id;
        uint8_t target_id;
        uint8_t lun;

        uint8_t cdb_length;
        uint8_t sense_info_length;
        uint8_t data_in;
        uint8_t reserved;

        uint32_t data_transfer_length;

        union {
                uint8_t cdb[STORVSC_MAX_CMD_LEN];
                uint8_t sense_data[STORVSC_SENSE_BUFFER_SIZE];
                uint8_t reserved_array[STORVSC_MAX_BUF_LEN_WITH_PADDING];
        };
        /* win8 extension */
        uint16_t reserve;
        uint8_t queue_tag;
        uint8_t queue_action;
        uint32_t srb_flags;
        uint32_t time_out_value;
        uint32_t queue_sort_ey; /* sic, Linux's spelling */
} __attribute__((packed));
_Static_assert(sizeof(struct vmscsi_request) == VMSCSI_REQUEST_LEN_V2, "vmscsi_request size");
_Static_assert(offsetof(struct vmscsi_request, srb_status) == 2, "srb_status");
_Static_assert(offsetof(struct vmscsi_request, scsi_status) == 3, "scsi_status");
_Static_assert(offsetof(struct vmscsi_request, port_number) == 4, "port_number");
_Static_assert(offsetof(struct vmscsi_request, path_id) == 5, "path_id");
_Static_assert(offsetof(struct vmscsi_request, target_id) == 6, "target_id");
_Static_assert(offsetof(struct vmscsi_request, lun) == 7, "lun");
_Static_assert(offsetof(struct vmscsi_request, cdb_length) == 8, "cdb_length");
_Static_assert(offsetof(struct vmscsi_request, sense_info_length) == 9, "sense_info_length");
_Static_assert(offsetof(struct vmscsi_request, data_in) == 10, "data_in");
_Static_assert(offsetof(struct vmscsi_request, data_transfer_length) == 12, "data_transfer_length");
_Static_assert(offsetof(struct vmscsi_request, cdb) == 16, "cdb");
_Static_assert(offsetof(struct vmscsi_request, sense_data) == 16, "sense_data");
_Static_assert(offsetof(struct vmscsi_request, reserve) == 36, "win8 extension");
_Static_assert(offsetof(struct vmscsi_request, queue_tag) == 38, "queue_tag");
_Static_assert(offsetof(struct vmscsi_request, queue_action) == 39, "queue_action");
_Static_assert(offsetof(struct vmscsi_request, srb_flags) == 40, "srb_flags");
_Static_assert(offsetof(struct vmscsi_request, time_out_value) == 44, "time_out_value");
_Static_assert(offsetof(struct vmscsi_request, queue_sort_ey) == 48, "queue_sort_key");

/* ---- QUERY_PROPERTIES reply (§6.3 step 3), 24 bytes ---- */
#define STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL 0x1u
#define STORAGE_CHANNEL_REMOVABLE_FLAG 0x1u    /* offer-level flags, unused by Linux */
#define STORAGE_CHANNEL_EMULATED_IDE_FLAG 0x2u

struct vmstorage_channel_properties {
        uint32_t reserved;
        uint16_t max_channel_cnt;
        uint16_t reserved1;
        uint32_t flags;
        uint32_t max_transfer_bytes;
        uint64_t reserved2;
} __attribute__((packed));
_Static_assert(sizeof(struct vmstorage_channel_properties) == 24, "channel properties size");
_Static_assert(offsetof(struct vmstorage_channel_properties, max_channel_cnt) == 4, "max_channel_cnt");
_Static_assert(offsetof(struct vmstorage_channel_properties, flags) == 8, "flags");
_Static_assert(offsetof(struct vmstorage_channel_properties, max_transfer_bytes) == 12, "max_transfer_bytes");

/* ---- IDE accelerator offers (HV_IDE_GUID) ----
 * The offer's user-defined bytes of an IDE accelerator channel, as Hyper-V
 * (and OpenVMM's storvsp_protocol OfferProperties) sends them: older
 * Windows drivers read the IDE location here; Linux's storvsc reads it
 * from the instance GUID instead (storvsc_probe: target = instance bytes
 * 4-5). */
#define STORVSC_OFFER_PROPERTIES_FLAG_IDE_DEVICE 0x2u
struct storvsc_offer_properties {
        uint16_t reserved;
        uint8_t path_id;   /* the IDE channel: 0 primary, 1 secondary */
        uint8_t target_id; /* the position on it: 0 master, 1 slave */
        uint32_t reserved2;
        uint32_t flags; /* STORVSC_OFFER_PROPERTIES_FLAG_IDE_DEVICE */
        uint32_t reserved3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct storvsc_offer_properties) == 24, "offer properties size");
_Static_assert(offsetof(struct storvsc_offer_properties, path_id) == 2, "path_id");
_Static_assert(offsetof(struct storvsc_offer_properties, target_id) == 3, "target_id");
_Static_assert(offsetof(struct storvsc_offer_properties, flags) == 8, "flags");

/* ---- QUERY_PROTOCOL_VERSION (§6.3 step 2) ---- */
struct vmstorage_protocol_version {
        uint16_t major_minor;
        uint16_t revision; /* Windows build revision; Linux sends 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct vmstorage_protocol_version) == 4, "protocol version size");

/* ---- FCHBA_DATA (FC only; never used by our controllers) ---- */
struct hv_fc_wwn_packet {
        uint8_t primary_active;
        uint8_t reserved1[3];
        uint8_t primary_port_wwn[8];
        uint8_t primary_node_wwn[8];
        uint8_t secondary_port_wwn[8];
        uint8_t secondary_node_wwn[8];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_fc_wwn_packet) == 36, "wwn packet size");

/* ---- vstor_packet, 64 bytes: 12-byte header + 52-byte union (§6.2) ---- */
#define VSTOR_PACKET_HEADER_SIZE 12u
#define VSTOR_PACKET_SIZE 64u                                   /* WIN8 and newer */
#define VSTOR_PACKET_SIZE_V1 (VSTOR_PACKET_HEADER_SIZE + VMSCSI_REQUEST_LEN_V1) /* 48 */

struct vstor_packet {
        uint32_t operation; /* enum vstor_packet_operation */
        uint32_t flags;     /* REQUEST_COMPLETION_FLAG */
        uint32_t status;    /* NTSTATUS from the host; 0 = success */
        union {
                struct vmscsi_request vm_srb;
                struct vmstorage_channel_properties storage_channel_properties;
                struct vmstorage_protocol_version version;
                struct hv_fc_wwn_packet wwn_packet;
                uint16_t sub_channel_count;
                uint8_t buffer[0x34];
        };
} __attribute__((packed));
_Static_assert(sizeof(struct vstor_packet) == VSTOR_PACKET_SIZE, "vstor_packet size");
_Static_assert(offsetof(struct vstor_packet, flags) == 4, "vstor_packet.flags");
_Static_assert(offsetof(struct vstor_packet, status) == 8, "vstor_packet.status");
_Static_assert(offsetof(struct vstor_packet, vm_srb) == 12, "vstor_packet.vm_srb");
_Static_assert(offsetof(struct vstor_packet, version) == 12, "vstor_packet.version");
_Static_assert(offsetof(struct vstor_packet, sub_channel_count) == 12, "vstor_packet.sub_channel_count");
_Static_assert(offsetof(struct vstor_packet, storage_channel_properties) + 4 == 16,
               "max_channel_cnt at packet offset 16");
_Static_assert(offsetof(struct vstor_packet, storage_channel_properties) + 12 == 24,
               "max_transfer_bytes at packet offset 24");
_Static_assert(offsetof(struct vstor_packet, vm_srb) + 16 == 28, "cdb/sense at packet offset 28");

/* The guest's maximum incoming packet on a storvsc channel: a 16-byte
 * descriptor plus one vstor_packet (§5.4). Larger packets corrupt its ring. */
#define STORVSC_MAX_PKT_SIZE (16u + VSTOR_PACKET_SIZE)

/* ---- NTSTATUS values the host returns in vstor_packet.status (§6.2) ---- */
#define STORVSC_STATUS_SUCCESS 0x00000000u
#define STORVSC_STATUS_BUFFER_OVERFLOW 0x80000005u
#define STORVSC_STATUS_DEVICE_BUSY 0x80000011u
#define STORVSC_STATUS_UNSUCCESSFUL 0xC0000001u
#define STORVSC_STATUS_INVALID_PARAMETER 0xC000000Du
#define STORVSC_STATUS_INVALID_DEVICE_REQUEST 0xC0000010u
#define STORVSC_STATUS_REVISION_MISMATCH 0xC0000059u
#define STORVSC_STATUS_DEVICE_NOT_CONNECTED 0xC000009Du
#define STORVSC_STATUS_IO_TIMEOUT 0xC00000B5u
#define STORVSC_STATUS_DEVICE_DOES_NOT_EXIST 0xC00000C0u
#define STORVSC_STATUS_CANCELLED 0xC0000120u
#define STORVSC_STATUS_INVALID_DEVICE_STATE 0xC0000184u
#define STORVSC_STATUS_IO_DEVICE_ERROR 0xC0000185u

/* Addressing limits the guest uses (§6.8): channels 0..7, targets 0..1, LUNs 0..254. */
#define STORVSC_MAX_CHANNELS 8u
#define STORVSC_MAX_TARGETS 2u
#define STORVSC_MAX_LUNS_PER_TARGET 255u
