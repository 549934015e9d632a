/* SPDX-License-Identifier: MIT */
/* The host paths a VM configuration may name (docs/vmms.md "Host files"),
 * as pure functions with a fuzz target (tests/fuzz/fuzz-dbus-args.c).
 *
 * Disk images, kernels and initrds live in storage pools: directories that
 * vmms's administrator lists (--storage-pool=DIR[:ro], default
 * /var/lib/vmstack/images). A path is accepted only when it is a plain
 * absolute path (no "." or ".." components, no "//", no trailing "/")
 * below one of them; files.c then resolves it beneath the pool, so that no
 * symlink or mount point leads out. Block devices are named under /dev and
 * are for root-owned VMs, or for everyone with --allow-block-devices. The
 * console log is vmms's own file; only root may choose another path.
 * A firmware image (boot kind firmware) is a regular file below one of
 * vmms's firmware directories (--firmware-dir=DIR, default
 * /usr/share/seabios), opened read-only by vmms itself: they hold the
 * host's own firmware, not the owner's files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define VMMS_POOLS_MAX 16
#define VMMS_DEFAULT_POOL "/var/lib/vmstack/images"
#define VMMS_BLOCK_ROOT "/dev"
#define VMMS_FIRMWARE_DIRS_MAX 8
#define VMMS_DEFAULT_FIRMWARE_DIR "/usr/share/seabios"

struct vmms_pool {
        char dir[VM_PATH_MAX];
        bool read_only; /* only read-only disks, kernels and initrds */
};

struct vmms_path_policy {
        struct vmms_pool pools[VMMS_POOLS_MAX];
        size_t n_pools;
        bool allow_block_devices; /* also for VMs that root does not own */
        char firmware_dirs[VMMS_FIRMWARE_DIRS_MAX][VM_PATH_MAX];
        size_t n_firmware_dirs;
        /* vmms's state directory, where it keeps the VMs' cloud-init seeds
         * (vmms/seed.h): a VM's own seed passes the checks, in no pool. */
        char seed_dir[VM_PATH_MAX];
};

enum vmms_file_use {
        VMMS_FILE_BOOT,    /* kernel, initrd: a regular file, read */
        VMMS_FILE_DISK_RO, /* a regular file or block device, read */
        VMMS_FILE_DISK_RW, /* a regular file or block device, read and written */
        VMMS_FILE_FIRMWARE, /* a firmware image: a regular file in a firmware directory, read by vmms */
};

/* Where an accepted path lives: resolve `rel` beneath `root`. */
struct vmms_path_place {
        const char *root; /* a pool's directory, or VMMS_BLOCK_ROOT */
        const char *rel;  /* points into the path */
        bool block;       /* under /dev: must be a block device */
};

/* "DIR" or "DIR:ro": a plain absolute path other than "/". -EINVAL. */
int vmms_pool_parse(const char *arg, struct vmms_pool *out);
/* Adds a pool; -E2BIG past VMMS_POOLS_MAX, -EEXIST for a repeated one. */
int vmms_path_policy_add(struct vmms_path_policy *p, const struct vmms_pool *pool);

/* Adds a firmware directory (a plain absolute path other than "/"):
 * -EINVAL, -EEXIST for a repeated one, -E2BIG past VMMS_FIRMWARE_DIRS_MAX. */
int vmms_firmware_dir_add(struct vmms_path_policy *p, const char *dir);

/* A plain absolute path: "/" followed by components that are neither
 * empty, "." nor "..". */
bool vmms_path_is_plain(const char *path);

/* Whether `path` may be used for `use` by a VM whose owner is (or is not)
 * root. 0 and *out, or -EPERM (outside the pools, a read-only pool, block
 * devices not allowed) / -EINVAL (not a plain path) with a reason in err
 * ("<path> ..."). */
int vmms_path_place(const struct vmms_path_policy *p, const char *path, enum vmms_file_use use, bool owner_root,
                    struct vmms_path_place *out, char *err, size_t errlen);

/* Checks every host path of `next` (kernel or firmware, initrd, disks, DVD
 * ISOs, serial_log) for
 * a caller who is (or is not) root. With `cur` (Update), paths that `cur`
 * already had for the same or a weaker use are not checked again, so a
 * member of the group can rename a VM that root gave a block device or a
 * console log path. Errors name the field: "disks[1].path: ...". */
int vmms_config_check_paths(const struct vmms_path_policy *p, const struct vm_config *next,
                            const struct vm_config *cur, bool caller_root, char *err, size_t errlen);

/* Whether cur (may be NULL) already used path for use or a stronger one. */
bool vmms_config_had_path(const struct vm_config *cur, const char *path, enum vmms_file_use use);

/* Calls fn for each host path of c that vmms opens at start (kernel and
 * initrd, or the firmware; disks, DVD drives' ISOs), with the field name
 * ("boot.firmware", ...); stops at the first error. */
typedef int (*vmms_path_fn)(void *opaque, const char *field, const char *path, enum vmms_file_use use);
int vmms_config_for_each_path(const struct vm_config *c, vmms_path_fn fn, void *opaque);

/* ---- a storage pool's images (ListPoolImages, CreatePoolImage,
 * DeletePoolImage; docs/dbus-api.md) ---- */

#define VMMS_POOL_IMAGES_MAX 4096u            /* ListPoolImages answers at most this many */
#define VMMS_POOL_IMAGE_NAME_MAX 255u
#define VMMS_POOL_IMAGE_MIN_BYTES (1ull << 20) /* 1 MiB */
#define VMMS_POOL_IMAGE_MAX_BYTES (64ull << 40) /* 64 TiB, VHDX's limit */

/* The pool whose directory is exactly dir, or NULL. */
const struct vmms_pool *vmms_pool_find(const struct vmms_path_policy *p, const char *dir);
/* A name in a pool: 1..255 bytes of [A-Za-z0-9._-], not starting with
 * '.' or '-' (so never "..", never a path, never hidden). -EINVAL with
 * "<what>: ..." in err. */
int vmms_pool_name_check(const char *name, const char *what, char *err, size_t errlen);
/* What a pool's file is, by its name: "vhdx" (.vhdx, .avhdx), "iso",
 * "raw" (.img, .raw) or "file" (a kernel, an initrd, anything else). */
const char *vmms_pool_image_format(const char *name);
/* CreatePoolImage's arguments: name (vmms_pool_name_check, and its
 * extension that of format: .vhdx, or .img/.raw), format "vhdx" or
 * "raw", size in bytes (a multiple of 512 from 1 MiB to 64 TiB; 0 with a
 * parent, whose size a differencing image has), parent "" or a name in
 * the same pool (VHDX only). -EINVAL with "<argument>: ..." in err. */
int vmms_pool_create_check(const char *name, const char *format, uint64_t size, const char *parent, char *err,
                           size_t errlen);
