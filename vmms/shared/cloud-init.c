// SPDX-License-Identifier: MIT
/* cloud_init_seed_build (vmms/cloud-init.h): the NoCloud seed's files,
 * checked and defaulted, as an ISO 9660 image (seed-iso.c). What cloud-init
 * 22.4 (Debian 12) looks for: a file system of type iso9660 or vfat
 * labelled "cidata" (or "CIDATA") with user-data and meta-data, and
 * optionally network-config and vendor-data (DataSourceNoCloud.py). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/cloud-init.h"

static const char *const file_names[CLOUD_INIT_FILES] = {
        [CLOUD_INIT_USER_DATA] = "user-data",
        [CLOUD_INIT_META_DATA] = "meta-data",
        [CLOUD_INIT_NETWORK_CONFIG] = "network-config",
};

const char *cloud_init_file_name(enum cloud_init_file f) {
        return (unsigned)f < CLOUD_INIT_FILES ? file_names[f] : NULL;
}

int cloud_init_file_from_name(const char *name) {
        for (int i = 0; i < (int)CLOUD_INIT_FILES; i++)
                if (name && !strcmp(name, file_names[i]))
                        return i;
        return -EINVAL;
}

int cloud_init_check_file(enum cloud_init_file f, size_t len, char *err, size_t errlen) {
        const char *name = cloud_init_file_name(f);
        if (!name)
                return snprintf(err, errlen, "not a cloud-init seed file"), -EINVAL;
        if (len == 0)
                return snprintf(err, errlen, "cloud-init %s: empty", name), -ENODATA;
        if (len > CLOUD_INIT_FILE_MAX)
                return snprintf(err, errlen, "cloud-init %s: larger than a seed file may hold (%u bytes, 1 MiB)", name,
                                CLOUD_INIT_FILE_MAX),
                       -EFBIG;
        return 0;
}

int cloud_init_seed_build(const struct cloud_init_input *in, const char *vm_id, const char *vm_name,
                          int64_t created, uint8_t **out, size_t *out_len, char *err, size_t errlen) {
        struct seed_iso_file files[CLOUD_INIT_FILES];
        char meta[256];
        size_t n = 0;
        int r;
        if (!in->data[CLOUD_INIT_USER_DATA])
                return snprintf(err, errlen, "cloud-init user-data: required"), -EINVAL;
        for (int f = 0; f < (int)CLOUD_INIT_FILES; f++) {
                if (!in->data[f])
                        continue;
                if ((r = cloud_init_check_file((enum cloud_init_file)f, in->len[f], err, errlen)) < 0)
                        return r;
                files[n++] = (struct seed_iso_file){ file_names[f], in->data[f], in->len[f] };
        }
        if (!in->data[CLOUD_INIT_META_DATA]) {
                int k = snprintf(meta, sizeof meta, "instance-id: \"%s\"\nlocal-hostname: \"%s\"\n", vm_id, vm_name);
                if (k < 0 || (size_t)k >= sizeof meta || strpbrk(vm_id, "\"\\\n") || strpbrk(vm_name, "\"\\\n"))
                        return snprintf(err, errlen, "cloud-init meta-data: the VM's id or name cannot be written"),
                               -EINVAL;
                files[n++] = (struct seed_iso_file){ "meta-data", meta, (size_t)k };
        }
        r = seed_iso_build(files, n, CLOUD_INIT_LABEL, created, out, out_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                snprintf(err, errlen, "cloud-init seed: %s", strerror(-r));
        return r;
}
