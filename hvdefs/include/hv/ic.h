/* SPDX-License-Identifier: MIT */
/* Integration components (docs/hyperv-guest-interface.md §8): the framing
 * hv_utils expects on its channels. Every IC packet payload is an 8-byte
 * pipe header, a 20-byte icmsg header and a body at offset 28. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Instance GUIDs Hyper-V uses for the singleton ICs (§4.11). */
#define HV_SHUTDOWN_INSTANCE HV_GUID_BYTES(0xb6650ff7, 0x33bc, 0x4840, 0x80, 0x48, 0xe0, 0x67, 0x67, 0x86, 0xf3, 0x93)
#define HV_TIMESYNC_INSTANCE HV_GUID_BYTES(0x2dd1ce17, 0x079e, 0x403c, 0xb3, 0x52, 0xa1, 0x92, 0x1e, 0xe2, 0x07, 0xee)
#define HV_KVP_INSTANCE HV_GUID_BYTES(0x242ff919, 0x07db, 0x4180, 0x9c, 0x2e, 0xb8, 0x6c, 0xb6, 0x8c, 0x8c, 0x55)

enum icmsg_type {
        ICMSGTYPE_NEGOTIATE = 0,
        ICMSGTYPE_HEARTBEAT = 1,
        ICMSGTYPE_KVPEXCHANGE = 2,
        ICMSGTYPE_SHUTDOWN = 3,
        ICMSGTYPE_TIMESYNC = 4,
        ICMSGTYPE_VSS = 5,
};

#define ICMSGHDRFLAG_TRANSACTION 1u
#define ICMSGHDRFLAG_REQUEST 2u
#define ICMSGHDRFLAG_RESPONSE 4u

#define HV_S_OK 0x00000000u
#define HV_E_FAIL 0x80004005u
#define HV_S_CONT 0x80070103u
#define HV_ERROR_NOT_SUPPORTED 0x80070032u

#define IC_PIPE_TYPE_DATA 1u
#define IC_MAX_VERSIONS 100u /* per list in a negotiate message (§8.2) */

struct vmbuspipe_hdr {
        uint32_t flags;
        uint32_t msgsize;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbuspipe_hdr) == 8, "vmbuspipe_hdr");

struct ic_version {
        uint16_t major;
        uint16_t minor;
} __attribute__((packed));
_Static_assert(sizeof(struct ic_version) == 4, "ic_version");

struct icmsg_hdr {
        struct ic_version icverframe;
        uint16_t icmsgtype;
        struct ic_version icvermsg;
        uint16_t icmsgsize; /* body bytes */
        uint32_t status;
        uint8_t ictransaction_id;
        uint8_t icflags;
        uint8_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct icmsg_hdr) == 20, "icmsg_hdr");
_Static_assert(offsetof(struct icmsg_hdr, icmsgsize) == 10, "icmsgsize");
_Static_assert(offsetof(struct icmsg_hdr, status) == 12, "status");

/* Offset of the body within the packet payload. */
#define ICMSG_HDR (sizeof(struct vmbuspipe_hdr) + sizeof(struct icmsg_hdr))
_Static_assert(ICMSG_HDR == 28, "ICMSG_HDR");

struct icmsg_negotiate {
        uint16_t icframe_vercnt;
        uint16_t icmsg_vercnt;
        uint32_t reserved;
        /* icframe_vercnt framework versions, then icmsg_vercnt message versions */
} __attribute__((packed));
_Static_assert(sizeof(struct icmsg_negotiate) == 8, "icmsg_negotiate");

struct heartbeat_msg_data {
        uint64_t seq_num;
        uint32_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct heartbeat_msg_data) == 40, "heartbeat_msg_data");

#define IC_SHUTDOWN_FLAG_SHUTDOWN 0u
#define IC_SHUTDOWN_FLAG_FORCED 1u
#define IC_SHUTDOWN_FLAG_REBOOT 2u
#define IC_SHUTDOWN_REASON_PLANNED 0x80000000u

struct shutdown_msg_data {
        uint32_t reason_code;
        uint32_t timeout_seconds;
        uint32_t flags;
        uint8_t display_message[2048];
} __attribute__((packed));
_Static_assert(sizeof(struct shutdown_msg_data) == 2060, "shutdown_msg_data");
_Static_assert(ICMSG_HDR + sizeof(struct shutdown_msg_data) == 2088, "shutdown payload (§8.3: >= 2088)");

#define ICTIMESYNCFLAG_PROBE 0u
#define ICTIMESYNCFLAG_SYNC 1u
#define ICTIMESYNCFLAG_SAMPLE 2u
/* 100 ns intervals from 1601-01-01 to 1970-01-01 */
#define IC_WLTIMEDELTA 116444736000000000ull

struct ictimesync_data { /* message versions 1.x and 3.x */
        uint64_t parenttime;
        uint64_t childtime;
        uint64_t roundtriptime;
        uint8_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct ictimesync_data) == 25, "ictimesync_data");

struct ictimesync_ref_data { /* message version 4.0 */
        uint64_t parenttime;
        uint64_t vmreferencetime;
        uint8_t flags;
        int8_t leapflags;
        int8_t stratum;
        uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct ictimesync_ref_data) == 22, "ictimesync_ref_data");
