/* SPDX-License-Identifier: MIT */
/* VHDX on-disk layouts (VHDX Format Specification v1.0, section numbers
 * below) and the private state of an open image. All fields little-endian;
 * read and written through the le helpers, never by casting file bytes. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/guid.h"
#include "common/vmstate.h"
#include "vhdx/vhdx.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

/* §2.1: the fixed layout of the first megabyte. */
#define VHDX_FILE_ID_OFF 0ull
#define VHDX_HEADER1_OFF (64 * KiB)
#define VHDX_HEADER2_OFF (128 * KiB)
#define VHDX_REGION1_OFF (192 * KiB)
#define VHDX_REGION2_OFF (256 * KiB)
#define VHDX_HEADER_SIZE 4096u          /* checksummed part of a header */
#define VHDX_REGION_SIZE (64u * 1024u)  /* checksummed region table */
#define VHDX_REGION_MAX_ENTRIES 2047u
#define VHDX_METADATA_TABLE_SIZE (64u * 1024u)
#define VHDX_METADATA_MAX_ENTRIES 2047u
#define VHDX_LOG_SECTOR 4096u
#define VHDX_LOG_DESC_PER_SECTOR 126u   /* (4096 - 64) / 32 in the entry's first sector */

/* §2.2.2 header */
#define VHDX_HDR_SIGNATURE 0x64616568u  /* "head" */
#define VHDX_HDR_CHECKSUM 4
#define VHDX_HDR_SEQUENCE 8
#define VHDX_HDR_FILE_WRITE_GUID 16
#define VHDX_HDR_DATA_WRITE_GUID 32
#define VHDX_HDR_LOG_GUID 48
#define VHDX_HDR_LOG_VERSION 64
#define VHDX_HDR_VERSION 66
#define VHDX_HDR_LOG_LENGTH 68
#define VHDX_HDR_LOG_OFFSET 72

/* §2.2.3 region table */
#define VHDX_RGT_SIGNATURE 0x69676572u  /* "regi" */
#define VHDX_RGT_HEADER 16
#define VHDX_RGT_ENTRY 32

/* §2.3 log */
#define VHDX_LOG_ENTRY_SIGNATURE 0x65676f6cu /* "loge" */
#define VHDX_LOG_DESC_SIGNATURE 0x63736564u  /* "desc" */
#define VHDX_LOG_ZERO_SIGNATURE 0x6f72657au  /* "zero" */
#define VHDX_LOG_DATA_SIGNATURE 0x61746164u  /* "data" */
#define VHDX_LOG_ENTRY_HEADER 64
#define VHDX_LOG_DESC 32

/* §2.6 metadata table */
#define VHDX_MDT_SIGNATURE 0x617461646174656dull /* "metadata" */
#define VHDX_MDT_HEADER 32
#define VHDX_MDT_ENTRY 32
#define VHDX_MD_IS_USER 1u
#define VHDX_MD_IS_VIRTUAL_DISK 2u
#define VHDX_MD_IS_REQUIRED 4u

/* §2.5.1 BAT entry states */
#define VHDX_PAYLOAD_NOT_PRESENT 0u
#define VHDX_PAYLOAD_UNDEFINED 1u
#define VHDX_PAYLOAD_ZERO 2u
#define VHDX_PAYLOAD_UNMAPPED 3u
#define VHDX_PAYLOAD_FULLY_PRESENT 6u
#define VHDX_PAYLOAD_PARTIALLY_PRESENT 7u
#define VHDX_SB_NOT_PRESENT 0u
#define VHDX_SB_PRESENT 6u
#define VHDX_BAT_STATE(e) ((unsigned)((e) & 7u))
#define VHDX_BAT_OFFSET(e) (((e) >> 20) << 20) /* FileOffsetMB, in bytes */
#define VHDX_BAT_ENTRY(state, off) ((uint64_t)(off) | (uint64_t)(state))
#define VHDX_SB_BLOCK_SIZE MiB /* a sector bitmap block covers 2^23 sectors */

extern const struct guid vhdx_region_bat, vhdx_region_metadata;
extern const struct guid vhdx_md_file_parameters, vhdx_md_virtual_disk_size, vhdx_md_virtual_disk_id,
        vhdx_md_logical_sector_size, vhdx_md_physical_sector_size, vhdx_md_parent_locator,
        vhdx_parent_locator_type;

static inline uint16_t le16(const uint8_t *p) {
        return vmstate_le16(p);
}
static inline uint32_t le32(const uint8_t *p) {
        return vmstate_le32(p);
}
static inline uint64_t le64(const uint8_t *p) {
        return vmstate_le64(p);
}

/* A parsed header (§2.2.2). */
struct vhdx_header {
        uint64_t sequence;
        struct guid file_write, data_write, log_guid;
        uint16_t log_version, version;
        uint32_t log_length;
        uint64_t log_offset;
};

struct vhdx_region {
        struct guid id;
        uint64_t offset;
        uint32_t length;
        bool required;
};

/* What the metadata region says (§2.6.2). */
struct vhdx_meta {
        uint32_t block_size;
        bool leave_blocks_allocated, has_parent;
        uint64_t virtual_size;
        struct guid disk_id;
        uint32_t logical_sector, physical_sector;
        bool have_locator;
        struct guid parent_linkage;
        char parent_relative[VHDX_PATH_MAX];
        char parent_absolute[VHDX_PATH_MAX];
};

struct vhdx {
        int fd;
        unsigned flags;
        pthread_mutex_t lock;        /* BAT, bitmaps, dirty sets, eof, data_guid_done */
        pthread_mutex_t commit_lock; /* one commit (log, header) at a time */
        struct vhdx_header hdr;
        unsigned hdr_slot;           /* 0 or 1: the current header */
        struct vhdx_region bat_region, meta_region;
        struct vhdx_meta meta;
        uint64_t chunk_ratio;        /* payload blocks per sector bitmap block */
        uint64_t n_payload, n_sb, n_bat;
        uint64_t *bat;               /* n_bat entries, host order */
        uint8_t *bat_dirty;          /* one flag per 4 KiB sector of the BAT */
        uint64_t n_bat_sectors;
        uint8_t **bitmaps;           /* per chunk: 1 MiB sector bitmap, loaded on demand */
        uint8_t **bitmap_dirty;      /* per chunk: one flag per 4 KiB sector */
        uint64_t eof;                /* where the next block goes (1 MiB aligned) */
        uint64_t blocks_present;     /* payload blocks fully or partially here */
        uint64_t log_head;           /* next log sector to write */
        uint64_t log_sequence;       /* next log entry sequence */
        bool log_active;             /* header carries our LogGuid */
        bool data_guid_done;
        bool merge_fresh;  /* vhdx_merge_begin found data_guid_done false (lock) */
        bool dirty;
        bool replayed;
        bool needs_replay;           /* INSPECT open of an unclean image */
        struct vhdx *parent;
};

/* format.c: pure parsers and builders of the structures above. */
int vhdx_parse_header(const uint8_t *buf, struct vhdx_header *h);
void vhdx_build_header(uint8_t buf[VHDX_HEADER_SIZE], const struct vhdx_header *h);
int vhdx_parse_regions(const uint8_t *buf, struct vhdx_region *bat, struct vhdx_region *meta, char *err,
                       size_t errlen);
void vhdx_build_regions(uint8_t buf[VHDX_REGION_SIZE], const struct vhdx_region *bat,
                        const struct vhdx_region *meta);
int vhdx_parse_metadata(const uint8_t *buf, size_t len, struct vhdx_meta *m, char *err, size_t errlen);
/* Where the metadata item id lies in the region buf (its table first):
 * *off from the region's start, *ilen bytes. -ENOENT, -EINVAL. Pure. */
int vhdx_metadata_item(const uint8_t *buf, size_t len, const struct guid *id, uint32_t *off, uint32_t *ilen);
size_t vhdx_build_metadata(uint8_t *buf, size_t len, const struct vhdx_meta *m);
uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t csum_off);
int vhdx_geometry(struct vhdx *v, char *err, size_t errlen);

/* log.c */
int vhdx_log_replay(struct vhdx *v, bool apply, char *err, size_t errlen);
struct vhdx_log_write {
        uint64_t file_off; /* 4 KiB aligned */
        const uint8_t *data; /* 4 KiB */
};
int vhdx_log_write(struct vhdx *v, const struct vhdx_log_write *w, size_t n);

/* open.c. Every buffer the library reads or writes the file with comes
 * from vhdx_buf (4 KiB aligned, a 4 KiB multiple, zeroed) and every
 * offset is 4 KiB aligned: the owner may have set O_DIRECT on the fd. */
void *vhdx_buf(size_t len);
int vhdx_write_header(struct vhdx *v, const struct vhdx_header *h);
int vhdx_pread_all(int fd, void *buf, size_t len, uint64_t off);
int vhdx_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* map.c */
int vhdx_bitmap_load(struct vhdx *v, uint64_t chunk);

/* check.c. Whether BAT entry i holds a block in the file (a payload block
 * fully or partly present, a sector bitmap block present); and the present
 * blocks' file ranges sorted by offset (*n of them; NULL for want of
 * memory; the caller frees them and holds v->lock where others may
 * change the BAT). */
struct vhdx_span {
        uint64_t off, len, index;
};
/* BAT entry i is a sector bitmap block's (every chunk_ratio + 1st), and the
 * length of the block it maps. */
static inline bool vhdx_bat_is_sb(const struct vhdx *v, uint64_t i) {
        return (i + 1) % (v->chunk_ratio + 1) == 0;
}
static inline uint64_t vhdx_bat_len(const struct vhdx *v, uint64_t i) {
        return vhdx_bat_is_sb(v, i) ? VHDX_SB_BLOCK_SIZE : v->meta.block_size;
}
bool vhdx_bat_present(const struct vhdx *v, uint64_t i);
struct vhdx_span *vhdx_present_spans(const struct vhdx *v, size_t *n);
