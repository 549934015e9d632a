/* SPDX-License-Identifier: MIT */
/* Where a VM's cloud-init seed lives and which DVD drive holds it
 * (docs/vmms.md "cloud-init seeds"). vmms makes the seed itself, at
 * CreateVMWithCloudInit, as <state-dir>/<id>.cidata.iso (root's, 0600);
 * the drive's "path" names that file. It is vmms's own file, not the
 * owner's: the path policy does not apply to it (it is in no pool), and
 * only the VM whose id it carries may hold it. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/guid.h"

#define VMMS_SEED_SUFFIX ".cidata.iso"

/* "<dir>/<id>.cidata.iso"; -ENAMETOOLONG if it does not fit len. */
int vmms_seed_path(const char *dir, const struct guid *id, char *buf, size_t len);
/* Whether path is the seed of the VM with this id under dir. */
bool vmms_path_is_seed(const char *dir, const struct guid *id, const char *path);
/* The same for a configuration's path named by field
 * (vmms_config_for_each_path): only a DVD drive's ("dvd_drives[N].path")
 * may be the seed; a disk naming it is any path under the pool rules. */
bool vmms_seed_field_is_own(const char *field, const char *dir, const struct guid *id, const char *path);
/* Puts the seed at `path` into c's first DVD drive without a disc, or into
 * a new drive at the first IDE position neither a drive nor an IDE disk
 * takes, in this order: secondary master (Hyper-V's DVD), secondary slave,
 * primary slave, primary master. Returns the drive's index, or -ENOSPC
 * (every drive holds a disc and no position is free, or VM_DVD_DRIVES_MAX
 * drives) with a sentence in err. */
int vmms_seed_place(struct vm_config *c, const char *path, char *err, size_t errlen);
