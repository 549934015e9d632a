/* SPDX-License-Identifier: MIT */
/* A VHDX disk's chain of parents, as vmms opens it for a worker
 * (docs/vmms.md "Host files", "VHDX disks").
 *
 * A differencing image names its parent by a locator: file data that
 * whoever can write the image controls. The chain is therefore followed
 * with the callback the caller gives, which opens each parent exactly as
 * any disk of the VM (vmms: the path policy and the owner's rights), never
 * by probing paths here. Each parent is locked shared (no other VM may
 * write it while this chain reads it), parsed, and its linkage to the child
 * checked; the chain ends at the first image that is not differencing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vhdx/vhdx.h"

struct vmms_disk_chain {
        int fds[VHDX_CHAIN_MAX]; /* the parents, nearest first, read-only */
        size_t n;
};

/* Opens the parent image at path read-only: an fd, or -errno with
 * "<path>: <reason>" in err. */
typedef int (*vmms_parent_open_fn)(void *opaque, const char *path, char *err, size_t errlen);

/* Reads the VHDX image open at fd (named path; not taken) and opens its
 * parents into *out. read_only: the disk is used read-only, so a log that
 * must be replayed is refused (a writable disk's worker replays it).
 * Errors, each with a sentence naming the image in err: -EINVAL (not a
 * usable VHDX, a parent changed since the child was made), -EROFS (a log
 * to replay), -EBUSY (a parent is locked by a writer: in use by another
 * VM), -ELOOP (a loop, or more than VHDX_CHAIN_MAX parents), -ENOENT (no
 * locator), or the callback's error. On error nothing stays open. */
int vmms_disk_chain_open(int fd, const char *path, bool read_only, vmms_parent_open_fn open_parent, void *opaque,
                         struct vmms_disk_chain *out, char *err, size_t errlen);
/* Closes what is still in the chain (accepts an empty one). */
void vmms_disk_chain_done(struct vmms_disk_chain *c);
