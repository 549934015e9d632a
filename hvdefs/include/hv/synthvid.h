/* SPDX-License-Identifier: MIT */
/* The synthetic video protocol (synthvid), as Linux 6.1's hyperv_drm
 * (drivers/gpu/drm/hyperv/hyperv_drm_proto.c) and hyperv_fb speak it:
 * every payload is a pipe header (type 1 = data, size of what follows),
 * a synthvid header (type, size of that header and its message) and the
 * message. docs/video.md has the exchanges. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The class GUID (§4.11: Hyper-V's synthetic video). */
#define HV_SYNTHVID_GUID HV_GUID_BYTES(0xda0a7802, 0xe377, 0x4aac, 0x8e, 0x77, 0x05, 0x58, 0xeb, 0x10, 0x73, 0xf8)

/* Versions: (minor << 16) | major (the minor in the high half). */
#define SYNTHVID_VERSION(major, minor) ((uint32_t)(minor) << 16 | (uint32_t)(major))
#define SYNTHVID_VERSION_WIN7 SYNTHVID_VERSION(3, 0)
#define SYNTHVID_VERSION_WIN8 SYNTHVID_VERSION(3, 2)
#define SYNTHVID_VERSION_WIN10 SYNTHVID_VERSION(3, 5) /* adds the resolution request */

#define SYNTHVID_PIPE_DATA 1u

enum synthvid_msg_type {
        SYNTHVID_ERROR = 0,
        SYNTHVID_VERSION_REQUEST = 1,       /* guest -> host */
        SYNTHVID_VERSION_RESPONSE = 2,      /* host -> guest */
        SYNTHVID_VRAM_LOCATION = 3,         /* guest -> host */
        SYNTHVID_VRAM_LOCATION_ACK = 4,     /* host -> guest */
        SYNTHVID_SITUATION_UPDATE = 5,      /* guest -> host */
        SYNTHVID_SITUATION_UPDATE_ACK = 6,  /* host -> guest (Linux ignores it) */
        SYNTHVID_POINTER_POSITION = 7,      /* guest -> host */
        SYNTHVID_POINTER_SHAPE = 8,         /* guest -> host */
        SYNTHVID_FEATURE_CHANGE = 9,        /* host -> guest */
        SYNTHVID_DIRT = 10,                 /* guest -> host */
        SYNTHVID_RESOLUTION_REQUEST = 13,   /* guest -> host, 3.5 */
        SYNTHVID_RESOLUTION_RESPONSE = 14,  /* host -> guest */
};

struct synthvid_pipe_hdr {
        uint32_t type; /* SYNTHVID_PIPE_DATA */
        uint32_t size; /* bytes after this header */
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_pipe_hdr) == 8, "synthvid_pipe_hdr");

struct synthvid_hdr {
        uint32_t type;
        uint32_t size; /* this header and its message */
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_hdr) == 8, "synthvid_hdr");

#define SYNTHVID_HEADERS (sizeof(struct synthvid_pipe_hdr) + sizeof(struct synthvid_hdr))

struct synthvid_version_req {
        uint32_t version;
} __attribute__((packed));

struct synthvid_version_resp {
        uint32_t version;
        uint8_t is_accepted;
        uint8_t max_video_outputs;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_version_resp) == 6, "synthvid_version_resp");

struct synthvid_vram_location {
        uint64_t user_ctx; /* echoed in the ack; Linux puts the GPA here too */
        uint8_t is_vram_gpa_specified;
        uint64_t vram_gpa;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_vram_location) == 17, "synthvid_vram_location");

struct synthvid_vram_location_ack {
        uint64_t user_ctx;
} __attribute__((packed));

struct synthvid_output_situation {
        uint8_t active;
        uint32_t vram_offset;
        uint8_t depth_bits;
        uint32_t width_pixels;
        uint32_t height_pixels;
        uint32_t pitch_bytes;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_output_situation) == 18, "synthvid_output_situation");

/* Followed by video_output_count situations (Linux: one). */
struct synthvid_situation_update {
        uint64_t user_ctx;
        uint8_t video_output_count;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_situation_update) == 9, "synthvid_situation_update");

struct synthvid_situation_update_ack {
        uint64_t user_ctx;
} __attribute__((packed));

struct synthvid_pointer_position {
        uint8_t is_visible;
        uint8_t video_output;
        int32_t image_x;
        int32_t image_y;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_pointer_position) == 10, "synthvid_pointer_position");

#define SYNTHVID_CURSOR_MAX_X 96u
#define SYNTHVID_CURSOR_MAX_Y 96u
#define SYNTHVID_CURSOR_COMPLETE 0xffu /* part_idx of the last (or only) part */
/* Followed by the image (ARGB: width * height * 4 bytes, in parts). */
struct synthvid_pointer_shape {
        uint8_t part_idx;
        uint8_t is_argb;
        uint32_t width;
        uint32_t height;
        uint32_t hot_x;
        uint32_t hot_y;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_pointer_shape) == 18, "synthvid_pointer_shape");

struct synthvid_feature_change {
        uint8_t is_dirt_needed;
        uint8_t is_ptr_pos_needed;
        uint8_t is_ptr_shape_needed;
        uint8_t is_situ_needed;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_feature_change) == 4, "synthvid_feature_change");

struct synthvid_rect {
        int32_t x1, y1; /* top left */
        int32_t x2, y2; /* bottom right, exclusive */
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_rect) == 16, "synthvid_rect");

/* Followed by dirt_count rectangles. */
struct synthvid_dirt {
        uint8_t video_output;
        uint8_t dirt_count;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_dirt) == 2, "synthvid_dirt");

#define SYNTHVID_EDID_BLOCK_SIZE 128u
#define SYNTHVID_MAX_RESOLUTION_COUNT 64u

struct synthvid_resolution_req {
        uint8_t maximum_resolution_count;
} __attribute__((packed));

struct synthvid_screen_info {
        uint16_t width;
        uint16_t height;
} __attribute__((packed));

/* Followed by resolution_count screen_infos (Linux's 6.1 stable driver
 * demands exactly that many). */
struct synthvid_resolution_resp {
        uint8_t edid_block[SYNTHVID_EDID_BLOCK_SIZE];
        uint8_t resolution_count;
        uint8_t default_resolution_index;
        uint8_t is_standard;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_resolution_resp) == 131, "synthvid_resolution_resp");
