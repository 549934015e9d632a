// SPDX-License-Identifier: MIT
/* A cloud-init NoCloud seed (cloud-init's DataSourceNoCloud): an ISO 9660
 * image labelled "cidata" holding user-data and meta-data (both required)
 * and, optionally, network-config (docs/vmms.md "cloud-init seeds").
 * vmms makes it from the bytes a client sends (CreateVMWithCloudInit);
 * vmctl checks the same bounds before it sends them. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vmms/seed-iso.h"

#define CLOUD_INIT_LABEL "cidata"
#define CLOUD_INIT_FILE_MAX SEED_ISO_FILE_MAX /* each file: at most 1 MiB */

/* The files a client may give, by their names in the seed (and the keys of
 * CreateVMWithCloudInit's dictionary). */
enum cloud_init_file {
        CLOUD_INIT_USER_DATA,
        CLOUD_INIT_META_DATA,
        CLOUD_INIT_NETWORK_CONFIG,
        CLOUD_INIT_FILES,
};

struct cloud_init_input {
        const void *data[CLOUD_INIT_FILES]; /* NULL: not given */
        size_t len[CLOUD_INIT_FILES];
};

/* "user-data", "meta-data", "network-config"; -EINVAL for anything else. */
const char *cloud_init_file_name(enum cloud_init_file f);
int cloud_init_file_from_name(const char *name);

/* Checks one file's bytes: given, not empty, at most CLOUD_INIT_FILE_MAX.
 * -ENODATA (empty), -EFBIG (too large), with a sentence naming the file. */
int cloud_init_check_file(enum cloud_init_file f, size_t len, char *err, size_t errlen);

/* Builds the seed image. Without meta-data it writes
 *   instance-id: "<vm_id>"
 *   local-hostname: "<vm_name>"
 * (cloud-init needs meta-data to exist; the VM's name is [A-Za-z0-9._-],
 * quoted so that YAML keeps "1.5" a string). -EINVAL without user-data,
 * the errors of cloud_init_check_file and seed_iso_build otherwise; err
 * names the file. */
int cloud_init_seed_build(const struct cloud_init_input *in, const char *vm_id, const char *vm_name,
                          int64_t created, uint8_t **out, size_t *out_len, char *err, size_t errlen);
