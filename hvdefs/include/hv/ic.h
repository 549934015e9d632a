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
/* Ours: Hyper-V's own is not published and any unique instance works. */
#define HV_VSS_INSTANCE HV_GUID_BYTES(0x2f4e37a9, 0xe141, 0x49cc, 0xa4, 0xd8, 0x51, 0x3e, 0xc3, 0x0e, 0x7a, 0xe8)
/* File copy: Hyper-V's. Linux 6.10+ serves this channel from user space
 * (hv_fcopy_uio_daemon on uio_hv_generic), which opens the device by this
 * instance: /sys/bus/vmbus/devices/eb765408-105f-49b6-b4aa-c123b64d17d4. */
#define HV_FCOPY_INSTANCE HV_GUID_BYTES(0xeb765408, 0x105f, 0x49b6, 0xb4, 0xaa, 0xc1, 0x23, 0xb6, 0x4d, 0x17, 0xd4)

enum icmsg_type {
        ICMSGTYPE_NEGOTIATE = 0,
        ICMSGTYPE_HEARTBEAT = 1,
        ICMSGTYPE_KVPEXCHANGE = 2,
        ICMSGTYPE_SHUTDOWN = 3,
        ICMSGTYPE_TIMESYNC = 4,
        ICMSGTYPE_VSS = 5,
        ICMSGTYPE_FCOPY = 7,
};

#define ICMSGHDRFLAG_TRANSACTION 1u
#define ICMSGHDRFLAG_REQUEST 2u
#define ICMSGHDRFLAG_RESPONSE 4u

#define HV_S_OK 0x00000000u
#define HV_E_FAIL 0x80004005u
#define HV_S_CONT 0x80070103u
#define HV_ERROR_NOT_SUPPORTED 0x80070032u
#define HV_ERROR_ALREADY_EXISTS 0x80070050u /* file copy: the file exists, OVER_WRITE not set */
#define HV_ERROR_DISK_FULL 0x80070070u      /* file copy: the guest's write hit ENOSPC */

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

/* vmbus_prep_negotiate_resp (§8.2): the guest's answer carries one
 * framework and one message version after the counts, icmsgsize 0x10. */
#define IC_NEGOTIATE_PKT_SIZE(nfw, nmsg) \
        (ICMSG_HDR + sizeof(struct icmsg_negotiate) + ((size_t)(nfw) + (nmsg)) * sizeof(struct ic_version))
#define IC_NEGOTIATE_RESPONSE_SIZE 0x10u

/* What each service needs in a host request before it acts on it (§8.3,
 * §8.4, §8.5): hv_utils drops shorter requests without an answer. */
#define IC_HEARTBEAT_MIN_PAYLOAD (ICMSG_HDR + sizeof(uint64_t))

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

/* Time sync uses ictimesync_ref_data for message versions above 3.x (§8.5). */
#define IC_TIMESYNC_REF_DATA_MAJOR 4u
_Static_assert(ICMSG_HDR + sizeof(struct ictimesync_data) == 53, "timesync v1/v3 minimum (§8.5)");
_Static_assert(ICMSG_HDR + sizeof(struct ictimesync_ref_data) == 50, "timesync v4 minimum (§8.5)");
_Static_assert(offsetof(struct ictimesync_data, flags) == 24, "ictimesync_data.flags @52");
_Static_assert(offsetof(struct ictimesync_ref_data, flags) == 16, "ictimesync_ref_data.flags @44");

/* ---- KVP (§8.6; include/uapi/linux/hyperv.h, drivers/hv/hv_kvp.c) ----------
 * Keys and values travel as NUL-terminated UTF-16LE; key_size/value_size
 * count bytes including the terminator. */
#define HV_KVP_EXCHANGE_MAX_KEY_SIZE 512u
#define HV_KVP_EXCHANGE_MAX_VALUE_SIZE 2048u

enum hv_kvp_exchg_op {
        KVP_OP_GET = 0,
        KVP_OP_SET = 1,
        KVP_OP_DELETE = 2,
        KVP_OP_ENUMERATE = 3,
        KVP_OP_GET_IP_INFO = 4,
        KVP_OP_SET_IP_INFO = 5,
};

enum hv_kvp_exchg_pool {
        KVP_POOL_EXTERNAL = 0,      /* host -> guest, set by the administrator */
        KVP_POOL_GUEST = 1,         /* guest -> host, set by guest software */
        KVP_POOL_AUTO = 2,          /* guest -> host intrinsic data (OSName, ...) */
        KVP_POOL_AUTO_EXTERNAL = 3, /* host -> guest intrinsic data (HostName, ...) */
        KVP_POOL_AUTO_INTERNAL = 4,
        KVP_POOL_COUNT = 5,
};

/* Value types (registry types). Linux sends only REG_SZ; it reads REG_U32 and
 * REG_U64 (8) from the host; OpenVMM names 11 REG_QWORD. */
#define KVP_REG_SZ 1u
#define KVP_REG_U32 4u
#define KVP_REG_U64 8u
#define KVP_REG_QWORD 11u

/* The intrinsic keys a Linux guest enumerates in KVP_POOL_AUTO, by index
 * (include/uapi/linux/hyperv.h; hv_kvp_daemon). Past the last: HV_S_CONT. */
#define KVP_AUTO_KEY_COUNT 10u

struct hv_kvp_hdr {
        uint8_t operation;
        uint8_t pool;
        uint16_t pad;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_hdr) == 4, "hv_kvp_hdr");

struct hv_kvp_exchg_msg_value {
        uint32_t value_type;
        uint32_t key_size;
        uint32_t value_size;
        uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
        union {
                uint8_t value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
                uint32_t value_u32;
                uint64_t value_u64;
        } __attribute__((packed));
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_exchg_msg_value) == 2572, "hv_kvp_exchg_msg_value");
_Static_assert(offsetof(struct hv_kvp_exchg_msg_value, key) == 12, "kvp key");
_Static_assert(offsetof(struct hv_kvp_exchg_msg_value, value) == 524, "kvp value");

struct hv_kvp_msg_enumerate {
        uint32_t index;
        struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_enumerate) == 2576, "hv_kvp_msg_enumerate");

struct hv_kvp_msg_delete {
        uint32_t key_size;
        uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_delete) == 516, "hv_kvp_msg_delete");

/* Linux's struct hv_kvp_msg without its IP-injection arm (KVP_OP_*_IP_INFO,
 * 7430 bytes, not used here): header + the largest GET/SET/DELETE/ENUMERATE
 * body. Every request is sent at this size (OpenVMM sends the same 2580
 * bytes), because the guest answers in place within the bytes it received
 * (hv_kvp.c kvp_respond_to_host: buf_len = recv_len). */
struct hv_kvp_exchange_msg {
        struct hv_kvp_hdr kvp_hdr; /* in answers: the first 4 bytes may be read as an int error by Linux */
        union {
                struct hv_kvp_exchg_msg_value kvp_get; /* and kvp_set */
                struct hv_kvp_msg_delete kvp_delete;
                struct hv_kvp_msg_enumerate kvp_enum_data;
        } body;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_exchange_msg) == 2580, "KVP request body");
_Static_assert(offsetof(struct hv_kvp_exchange_msg, body) == 4, "KVP body offset");
_Static_assert(ICMSG_HDR + sizeof(struct hv_kvp_exchange_msg) <= 16384, "KVP max packet (§5.4)");

/* VSS, the backup integration service (drivers/hv/hv_snapshot.c,
 * include/uapi/linux/hyperv.h): the host asks the guest to freeze its file
 * systems before a snapshot and to thaw them after; Linux passes FREEZE,
 * THAW and HOT_BACKUP to hv_vss_daemon (fsfreeze of every mounted file
 * system) and answers the host with the daemon's result in the header's
 * status, or E_FAIL at once when no daemon registered. The body is the
 * same in both directions; version 5.0. */
enum hv_vss_op {
        VSS_OP_CREATE = 0,
        VSS_OP_DELETE = 1,
        VSS_OP_HOT_BACKUP = 2,
        VSS_OP_GET_DM_INFO = 3,
        VSS_OP_BU_COMPLETE = 4,
        VSS_OP_FREEZE = 5,
        VSS_OP_THAW = 6,
        VSS_OP_AUTO_RECOVER = 7,
};
#define VSS_HBU_NO_AUTO_RECOVERY 0x00000005u /* the guest's answer to HOT_BACKUP */

struct hv_vss_msg {
        uint8_t operation; /* enum hv_vss_op */
        uint8_t reserved[7];
        uint32_t flags;    /* check-feature (HOT_BACKUP), dm_info (GET_DM_INFO) */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_vss_msg) == 12, "hv_vss_msg");


/* ---- File copy (Copy-VMFile; drivers/hv/hv_fcopy.c, include/uapi/linux/
 * hyperv.h, tools/hv/hv_fcopy_daemon.c) ------------------------------------
 * Host to guest only, one transaction at a time, version 1.1: START_FILE_COPY
 * names the file, then WRITE_TO_FILE carries the data in fragments at
 * explicit offsets, then COMPLETE_FCOPY closes it; CANCEL_FCOPY instead makes
 * the guest's daemon delete what it wrote. Linux hands each request to
 * hv_fcopy_daemon and answers in place with the daemon's result in the
 * icmsg status (E_FAIL at once when no daemon runs, or after its own 30 s).
 * Names are NUL-terminated UTF-16LE; the daemon creates path_name + "/" +
 * file_name. */
#define HV_FCOPY_W_MAX_PATH 260u         /* UTF-16 units per name, NUL included */
#define HV_FCOPY_DATA_FRAGMENT 6144u     /* data bytes per WRITE_TO_FILE */
#define HV_FCOPY_GUEST_MAX_PAYLOAD 8192u /* hv_fcopy.c reads packets into 2 pages */

enum hv_fcopy_op {
        START_FILE_COPY = 0,
        WRITE_TO_FILE = 1,
        COMPLETE_FCOPY = 2,
        CANCEL_FCOPY = 3,
};

#define FCOPY_OVER_WRITE 0x1u  /* replace an existing file (else HV_ERROR_ALREADY_EXISTS) */
#define FCOPY_CREATE_PATH 0x2u /* create missing directories of path_name */

/* The whole body of COMPLETE_FCOPY and CANCEL_FCOPY. */
struct hv_fcopy_hdr {
        uint32_t operation; /* enum hv_fcopy_op */
        uint8_t service_id0[16]; /* unused */
        uint8_t service_id1[16]; /* unused */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_fcopy_hdr) == 36, "hv_fcopy_hdr");

struct hv_start_fcopy {
        struct hv_fcopy_hdr hdr;
        uint16_t file_name[HV_FCOPY_W_MAX_PATH]; /* UTF-16LE, NUL-terminated */
        uint16_t path_name[HV_FCOPY_W_MAX_PATH]; /* the directory, UTF-16LE, NUL-terminated */
        uint32_t copy_flags; /* FCOPY_OVER_WRITE | FCOPY_CREATE_PATH */
        uint64_t file_size;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_start_fcopy) == 1088, "hv_start_fcopy");
_Static_assert(offsetof(struct hv_start_fcopy, file_name) == 36, "hv_start_fcopy.file_name");
_Static_assert(offsetof(struct hv_start_fcopy, path_name) == 556, "hv_start_fcopy.path_name");
_Static_assert(offsetof(struct hv_start_fcopy, copy_flags) == 1076, "hv_start_fcopy.copy_flags");
_Static_assert(offsetof(struct hv_start_fcopy, file_size) == 1080, "hv_start_fcopy.file_size");

/* Sent whole whatever size says: Linux passes sizeof(struct hv_do_fcopy)
 * bytes of its receive buffer to the daemon. */
struct hv_do_fcopy {
        struct hv_fcopy_hdr hdr;
        uint32_t pad;
        uint64_t offset; /* in the file */
        uint32_t size;   /* bytes of data used, <= HV_FCOPY_DATA_FRAGMENT */
        uint8_t data[HV_FCOPY_DATA_FRAGMENT];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_do_fcopy) == 6196, "hv_do_fcopy");
_Static_assert(offsetof(struct hv_do_fcopy, offset) == 40, "hv_do_fcopy.offset");
_Static_assert(offsetof(struct hv_do_fcopy, size) == 48, "hv_do_fcopy.size");
_Static_assert(offsetof(struct hv_do_fcopy, data) == 52, "hv_do_fcopy.data");
_Static_assert(ICMSG_HDR + sizeof(struct hv_do_fcopy) <= HV_FCOPY_GUEST_MAX_PAYLOAD,
               "WRITE_TO_FILE fits the guest's buffer");
