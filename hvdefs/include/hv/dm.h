/* SPDX-License-Identifier: MIT */
/* The Dynamic Memory protocol (Hyper-V's memory VSP), as Linux's
 * drivers/hv/hv_balloon.c (6.1) speaks it on its VMBus channel: plain
 * in-band packets, no pipe framing, every payload a dm_header followed by
 * its message. docs/dynamic-memory.md has the exchanges and what the host
 * must and must not do.
 *
 * Bit fields of the C declarations Linux uses are spelled out here as
 * integers with masks (their layout is the little-endian one GCC gives
 * them on x86-64): a page range is a u64 with the first page in bits 0-39
 * and the count in bits 40-63. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The class GUID (§4.11: hv_balloon). */
#define HV_DM_GUID HV_GUID_BYTES(0x525074dc, 0x8985, 0x46e2, 0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5, 0x02)

/* Versions: (major << 16) | minor. Linux asks for WIN10 first, then WIN8,
 * then WIN7, each time the host refuses. */
#define DM_VERSION_WIN7 0x00000003u  /* 0.3 */
#define DM_VERSION_WIN8 0x00010000u  /* 1.0: adds DM_INFO_MESSAGE */
#define DM_VERSION_WIN10 0x00020000u /* 2.0 */

enum dm_message_type {
        DM_ERROR = 0,
        DM_VERSION_REQUEST = 1,       /* guest -> host */
        DM_VERSION_RESPONSE = 2,      /* host -> guest */
        DM_CAPABILITIES_REPORT = 3,   /* guest -> host */
        DM_CAPABILITIES_RESPONSE = 4, /* host -> guest */
        DM_STATUS_REPORT = 5,         /* guest -> host, about once a second */
        DM_BALLOON_REQUEST = 6,       /* host -> guest */
        DM_BALLOON_RESPONSE = 7,      /* guest -> host, one or more */
        DM_UNBALLOON_REQUEST = 8,     /* host -> guest, one or more */
        DM_UNBALLOON_RESPONSE = 9,    /* guest -> host, after the last */
        DM_MEM_HOT_ADD_REQUEST = 10,  /* host -> guest */
        DM_MEM_HOT_ADD_RESPONSE = 11, /* guest -> host */
        DM_INFO_MESSAGE = 12,         /* host -> guest (1.0 on) */
};

struct dm_header {
        uint16_t type;
        uint16_t size; /* the whole message, header included */
        uint32_t trans_id;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_header) == 8, "dm_header");

/* A page range: the first 4 KiB page frame and the count (24 bits). */
#define DM_RANGE_START(r) ((r) & 0xffffffffffull)
#define DM_RANGE_COUNT(r) ((r) >> 40)
#define DM_RANGE(start, count) (((uint64_t)(start) & 0xffffffffffull) | ((uint64_t)(count) << 40))
#define DM_RANGE_COUNT_MAX 0xffffffu
#define DM_PFN_MAX 0xffffffffffull

struct dm_version_request {
        struct dm_header hdr;
        uint32_t version;
        uint32_t flags; /* bit 0: is_last_attempt */
} __attribute__((packed));
_Static_assert(sizeof(struct dm_version_request) == 16, "dm_version_request");

struct dm_version_response {
        struct dm_header hdr;
        uint64_t flags; /* bit 0: is_accepted */
} __attribute__((packed));
_Static_assert(sizeof(struct dm_version_response) == 16, "dm_version_response");

#define DM_CAP_BALLOON 0x1ull
#define DM_CAP_HOT_ADD 0x2ull
/* Hot-add alignment the guest needs: 2^n MiB (Linux: 7, 128 MiB). */
#define DM_CAP_HOT_ADD_ALIGNMENT(caps) (((caps) >> 2) & 0xfu)
struct dm_capabilities {
        struct dm_header hdr;
        uint64_t caps;
        uint64_t min_page_cnt;    /* Linux: 0 */
        uint64_t max_page_number; /* Linux: all ones */
} __attribute__((packed));
_Static_assert(sizeof(struct dm_capabilities) == 32, "dm_capabilities");

struct dm_capabilities_response {
        struct dm_header hdr;
        uint64_t flags; /* bit 0: is_accepted; a refusal makes the guest give up */
} __attribute__((packed));
_Static_assert(sizeof(struct dm_capabilities_response) == 16, "dm_capabilities_response");

/* Pages of 4 KiB. Linux's num_committed is its committed memory plus the
 * pages it has ballooned out, the hot-added pages it could not online and
 * a floor it keeps for itself; num_avail is MemAvailable. The rest is 0. */
struct dm_status {
        struct dm_header hdr;
        uint64_t num_avail;
        uint64_t num_committed;
        uint64_t page_file_size;
        uint64_t zero_free;
        uint32_t page_file_writes;
        uint32_t io_diff;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_status) == 48, "dm_status");

struct dm_balloon {
        struct dm_header hdr;
        uint32_t num_pages;
        uint32_t reservedz;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_balloon) == 16, "dm_balloon");

/* Followed by range_count page ranges the guest gave up. */
#define DM_MORE_PAGES 0x1u
#define DM_BALLOON_RANGE_COUNT(flags) ((flags) >> 1)
struct dm_balloon_response {
        struct dm_header hdr;
        uint32_t reservedz;
        uint32_t flags; /* bit 0: more_pages; bits 1-31: range_count */
} __attribute__((packed));
_Static_assert(sizeof(struct dm_balloon_response) == 16, "dm_balloon_response");

/* Followed by range_count page ranges given back, all of them ranges the
 * guest gave up (it frees every page named without a check). */
struct dm_unballoon_request {
        struct dm_header hdr;
        uint32_t flags; /* bit 0: more_pages */
        uint32_t range_count;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_unballoon_request) == 16, "dm_unballoon_request");

struct dm_unballoon_response {
        struct dm_header hdr;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_unballoon_response) == 8, "dm_unballoon_response");

/* The pages to add; with the optional region (size 24) the host names the
 * whole range it will fill, else the guest covers the pages with 128 MiB
 * blocks of its own choosing (aligned down from the first page). */
struct dm_hot_add {
        struct dm_header hdr;
        uint64_t range;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_hot_add) == 16, "dm_hot_add");

/* result 1 with page_count 0: the guest will never hot-add (the host must
 * not ask again); result 0: a transient failure. */
struct dm_hot_add_response {
        struct dm_header hdr;
        uint32_t page_count;
        uint32_t result;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_hot_add_response) == 16, "dm_hot_add_response");

#define DM_INFO_TYPE_MAX_PAGE_CNT 0u
struct dm_info_header {
        uint32_t type;
        uint32_t data_size;
} __attribute__((packed));
_Static_assert(sizeof(struct dm_info_header) == 8, "dm_info_header");

struct dm_info_msg {
        struct dm_header hdr;
        uint32_t reserved;
        uint32_t info_size; /* bytes of dm_info_header + data that follow */
} __attribute__((packed));
_Static_assert(sizeof(struct dm_info_msg) == 16, "dm_info_msg");

/* The guest reads each packet into one 4 KiB buffer (HV_HYP_PAGE_SIZE) and
 * a longer one jams its channel: no host message may be longer. */
#define DM_MESSAGE_MAX 4096u
#define DM_RANGES_PER_MESSAGE ((DM_MESSAGE_MAX - sizeof(struct dm_unballoon_request)) / 8u) /* 510 */
/* Linux hot-adds and onlines memory in blocks of this many pages (HA_CHUNK). */
#define DM_HOT_ADD_BLOCK_PAGES 32768u /* 128 MiB */
/* Linux balloons 2 MiB at a time where it can. */
#define DM_BALLOON_UNIT_PAGES 512u
