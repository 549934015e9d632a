/* SPDX-License-Identifier: MIT */
/* vhdx: Hyper-V's virtual disk format (Microsoft's "VHDX Format
 * Specification" v1.0; docs/vhdx.md): fixed, dynamic and differencing
 * images, their metadata, block allocation table (BAT), sector bitmaps and
 * log.
 *
 * The library does the format, never the guest's data path: it maps a
 * virtual range to where its bytes are (this file, a parent, or zeros),
 * allocates blocks for writes, and makes metadata changes durable through
 * the log (vhdx_commit). The caller moves the data itself (storvsp with
 * io_uring, the disk tools with pread/pwrite). All I/O of the library is
 * pread/pwrite/fdatasync on the fd it was given, which it does not own.
 *
 * Thread safety: vhdx_map, vhdx_map_write and vhdx_commit may be called
 * from several threads at once (one per storvsp channel). A short mutex
 * guards the in-memory BAT; a commit snapshots the dirty sectors under it
 * and writes them outside it, so allocation never waits for a log flush. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/guid.h"

struct vhdx;

#define VHDX_PATH_MAX 4096
#define VHDX_CHAIN_MAX 16               /* differencing depth we follow */
#define VHDX_MAX_VIRTUAL_SIZE (64ull << 40) /* the specification's limit */
#define VHDX_MIN_BLOCK_SIZE (1u << 20)
#define VHDX_MAX_BLOCK_SIZE (256u << 20)

enum vhdx_type {
        VHDX_FIXED,        /* every block allocated at creation */
        VHDX_DYNAMIC,      /* blocks allocated on first write */
        VHDX_DIFFERENCING, /* blocks not present here come from the parent */
};

struct vhdx_info {
        enum vhdx_type type;
        uint64_t virtual_size;
        uint32_t block_size;
        uint32_t logical_sector_size;  /* 512 or 4096 */
        uint32_t physical_sector_size; /* 512 or 4096 */
        struct guid virtual_disk_id;
        struct guid data_write_guid;   /* a child links to its parent by this */
        /* differencing only (UTF-8, '/' separators; may be empty) */
        struct guid parent_linkage;
        char parent_relative[VHDX_PATH_MAX];
        char parent_absolute[VHDX_PATH_MAX];
        uint64_t file_size;            /* bytes the file takes up to its last structure */
        uint64_t blocks_present;       /* payload blocks fully or partially here */
        uint64_t blocks_total;
        bool log_replayed;             /* vhdx_open replayed a log (an unclean close) */
};

/* ---- opening ---- */

enum {
        VHDX_OPEN_WRITABLE = 1u << 0, /* the fd is O_RDWR; replay a pending log */
        /* Parse for inspection only: a pending log is reported in info, not
         * refused (read-only) or replayed, and nothing is ever written.
         * vhdx_map and vhdx_map_chain are refused (-EBADF), vhdx_map_write
         * and vhdx_grow too (-EROFS). */
        VHDX_OPEN_INSPECT = 1u << 1,
};

/* Reads and checks the file identifier, headers, region table, metadata
 * and BAT. A writable open replays a pending log first. Errors: -EINVAL
 * (not a VHDX, or corrupt: err says what), -ENOTSUP (a required feature we
 * do not know), -EROFS (read-only, but a log must be replayed first), or
 * the errno of the I/O. */
int vhdx_open(int fd, unsigned flags, struct vhdx **out, char *err, size_t errlen);
/* Commits what is pending, marks the log empty (a clean close) and frees.
 * Returns the first error of that; the object is freed either way. */
int vhdx_close(struct vhdx *v);
/* Frees without writing anything, whatever is pending: the file belongs
 * to another writer now (a child process that wrote it, a crash a test
 * makes). */
void vhdx_discard(struct vhdx *v);
void vhdx_get_info(const struct vhdx *v, struct vhdx_info *info);
/* An upper bound of the file's size however the guest writes: what the
 * sandbox's RLIMIT_FSIZE must allow. */
uint64_t vhdx_max_file_size(const struct vhdx *v);
/* The same for a differencing child vhdx_create would make of v (a
 * checkpoint's image, which a running VM moves onto). */
uint64_t vhdx_max_child_file_size(const struct vhdx *v);
/* vhdx_max_file_size once the virtual size is size (vhdx_grow). */
uint64_t vhdx_max_file_size_at(const struct vhdx *v, uint64_t size);

/* Grows the virtual size of a fixed or dynamic image to size bytes (a
 * multiple of its logical sector size, at most 64 TiB): new BAT entries
 * (a fixed image's new blocks allocated at the end of the file), then the
 * metadata's virtual disk size, each through the log, so that a crash
 * leaves the old size or the new one and a consistent image. The
 * DataWriteGuid changes (the disk did). The caller keeps I/O inside the
 * old size until this returns. 0 (also when size is the current size);
 * -EINVAL (smaller, not whole sectors, too large, or more than the BAT
 * region holds: err gives the most it can hold), -EOPNOTSUPP (a
 * differencing image has its parent's size), -EROFS, or an I/O error. */
int vhdx_grow(struct vhdx *v, uint64_t size, char *err, size_t errlen);

/* Sets the parent of a differencing image (the next image of the chain,
 * opened read-only; the child does not own it). -EINVAL with err if its
 * DataWriteGuid is neither the child's parent_linkage (the parent changed
 * since the child was made) nor the child's own DataWriteGuid (the parent
 * took in the child's data, vhdx_merge_into_parent, and reads exactly as
 * the child: a merge whose last step, moving the child's users onto the
 * parent, was cut short), or its geometry differs. */
int vhdx_set_parent(struct vhdx *child, struct vhdx *parent, char *err, size_t errlen);
/* The parent's path for a child at child_path: the relative locator
 * resolved against the child's directory, else the absolute one. */
int vhdx_parent_path(const char *child_path, const struct vhdx_info *info, char *out, size_t outlen);

/* ---- the data path ---- */

enum vhdx_extent_kind {
        VHDX_EXT_DATA,   /* at file_off in the file of `image` */
        VHDX_EXT_ZERO,   /* reads as zeros */
        VHDX_EXT_PARENT, /* (vhdx_map only) in the parent, at the same offset */
};

struct vhdx_extent {
        enum vhdx_extent_kind kind;
        uint64_t file_off;
        uint64_t len;             /* > 0, <= what was asked */
        const struct vhdx *image; /* DATA: the image whose fd holds it */
};

/* The extent that starts at voff, of at most len bytes, with one kind.
 * voff and len are multiples of the logical sector size, inside the disk. */
int vhdx_map(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e);
/* Like vhdx_map, but follows PARENT down the chain (vhdx_set_parent):
 * the result is DATA (in some image of the chain) or ZERO. */
int vhdx_map_chain(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e);
/* For a write: the DATA extent of this image that starts at voff,
 * allocating a block (at the end of the file) where none is, and marking
 * the extent's sectors present in a differencing image. The change is in
 * memory until vhdx_commit. The first call after opening also gives the
 * image a new DataWriteGuid (on disk before it returns), as the
 * specification asks before the first change of user data. *allocated
 * (may be NULL) says whether metadata changed. */
int vhdx_map_write(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e, bool *allocated);
/* True when vhdx_map_write changed metadata that is not yet committed. */
bool vhdx_dirty(struct vhdx *v);
/* Makes every metadata change so far durable: log entry, fdatasync, write
 * in place, fdatasync. The caller has made the data durable before (a
 * flush): then a crash after this returns loses nothing. */
int vhdx_commit(struct vhdx *v);
/* vhdx_commit, then marks the log empty in the header, as a clean close
 * does, while the image stays open: for a pause after which another
 * process may open the image (a migration's destination, a copy). The
 * next change starts a new log. */
int vhdx_quiesce(struct vhdx *v);
/* The fd the image was opened with. */
int vhdx_fd(const struct vhdx *v);

/* ---- merging (deleting a checkpoint) ---- */

/* Called after each block of a merge with the bytes copied so far; false
 * stops the merge (-ECANCELED). */
typedef bool (*vhdx_merge_progress_fn)(void *opaque, uint64_t bytes);
/* Copies everything `child` holds itself (its present sectors, and zeros
 * where its BAT says ZERO) into `parent` (opened writable; it must be the
 * child's parent, vhdx_set_parent), commits, and then gives the parent the
 * child's DataWriteGuid: the parent now reads exactly as the child did, so
 * the child's own children link to it instead (vhdx_set_parent accepts it;
 * their locators still name the child). Until that last step the parent
 * keeps its own DataWriteGuid, so a merge that stops or fails half-way (a
 * crash, progress returning false) leaves the child linked to a parent it
 * still reads exactly through; running it again completes it. The child
 * must be the parent's only user. progress may be NULL. *bytes (may be
 * NULL): bytes copied. */
int vhdx_merge_into_parent(struct vhdx *child, struct vhdx *parent, vhdx_merge_progress_fn progress, void *opaque,
                           uint64_t *bytes);
/* The same in steps, for a child that is in use meanwhile (a running VM's
 * present image, docs/checkpoints.md "Merging while the VM runs"): the
 * parent (writable, the child's geometry; not necessarily the child's
 * vhdx_set_parent object) keeps its DataWriteGuid from begin to end;
 * vhdx_merge_range copies what the child holds in [voff, voff + len)
 * (its data, zeros where its BAT says ZERO; *copied grows by those bytes)
 * and may be called again for a range the child changed since; end makes
 * the parent durable and gives it the child's DataWriteGuid; abandon (or a
 * failed end) leaves the parent as an interrupted merge does. */
int vhdx_merge_begin(struct vhdx *child, struct vhdx *parent);
int vhdx_merge_range(struct vhdx *child, struct vhdx *parent, uint64_t voff, uint64_t len, uint8_t *buf,
                     size_t buflen, uint64_t *copied);
int vhdx_merge_end(struct vhdx *child, struct vhdx *parent);
void vhdx_merge_abandon(struct vhdx *parent);

/* ---- creating ---- */

struct vhdx_create_options {
        enum vhdx_type type;
        uint64_t virtual_size;         /* multiple of the logical sector size (ignored for differencing) */
        uint32_t block_size;           /* 0: 32 MiB (fixed, dynamic), 2 MiB (differencing) */
        uint32_t logical_sector_size;  /* 0: 512 */
        uint32_t physical_sector_size; /* 0: 4096 */
        /* differencing: the parent (open, any mode) and the locator paths */
        struct vhdx *parent;
        const char *parent_relative;   /* relative to the child's directory */
        const char *parent_absolute;
};

/* Writes a new image into fd (an empty regular file). */
int vhdx_create(int fd, const struct vhdx_create_options *o, char *err, size_t errlen);

/* ---- checking ---- */

struct vhdx_check_report {
        uint64_t errors;    /* BAT entries that overlap, point past the end or have a bad state */
        uint64_t leaked;    /* bytes past the last structure */
        /* ... and all of them read as zeros: space reserved and never
         * written (qemu-img leaves 4 MiB in every dynamic image it makes),
         * not blocks an allocation never committed (data; a crash between
         * an allocation and a flush). Both harmless: reused. */
        bool leaked_empty;
        char first_error[256];
};
/* Checks the BAT against the file (read-only; no repair). */
int vhdx_check(struct vhdx *v, struct vhdx_check_report *r);
