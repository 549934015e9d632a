/* SPDX-License-Identifier: MIT */
/* vmctl create --cloud-init=USER_DATA[,meta-data=F][,network-config=F]:
 * vmctl reads the files with the caller's rights and sends their bytes
 * with CreateVMWithCloudInit; vmms makes the NoCloud seed (docs/vmms.md
 * "cloud-init seeds"). */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

#include "vmms/cloud-init.h"

/* An exported VM's seed beside its configuration (export-saved --config
 * CONFIG writes CONFIG.cidata.iso; create CONFIG sends it with
 * CreateVMWithSeed). */
#define VMCTL_SEED_SUFFIX ".cidata.iso"

struct vmctl_cloud_init {
        char *data[CLOUD_INIT_FILES]; /* NULL: not given */
        size_t len[CLOUD_INIT_FILES];
};

/* Parses the option's value and reads each file (at most
 * CLOUD_INIT_FILE_MAX + 1 bytes of it: vmms refuses a longer one, and
 * says so). Paths are the caller's (relative to where vmctl runs; no
 * commas). -EINVAL (syntax, a key twice, no user-data) or the file's
 * -errno, with a sentence in err; nothing held then. */
int vmctl_cloud_init_parse(const char *arg, struct vmctl_cloud_init *out, char *err, size_t errlen);
void vmctl_cloud_init_done(struct vmctl_cloud_init *ci);
/* Appends the dictionary a{say} of CreateVMWithCloudInit. */
int vmctl_cloud_init_append(sd_bus_message *m, const struct vmctl_cloud_init *ci);
