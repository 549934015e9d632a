// SPDX-License-Identifier: MIT
/* vmms/seed.h: the seed's path and its DVD drive. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmms/seed.h"

int vmms_seed_path(const char *dir, const struct guid *id, char *buf, size_t len) {
        char s[GUID_STRING_MAX];
        int n = snprintf(buf, len, "%s/%s" VMMS_SEED_SUFFIX, dir, guid_to_string(id, s));
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool vmms_path_is_seed(const char *dir, const struct guid *id, const char *path) {
        char p[VM_PATH_MAX + GUID_STRING_MAX + sizeof VMMS_SEED_SUFFIX];
        return dir && dir[0] && vmms_seed_path(dir, id, p, sizeof p) == 0 && !strcmp(p, path);
}

bool vmms_seed_field_is_own(const char *field, const char *dir, const struct guid *id, const char *path) {
        return !strncmp(field, "dvd_drives[", strlen("dvd_drives[")) && vmms_path_is_seed(dir, id, path);
}

static bool position_taken(const struct vm_config *c, uint32_t channel, uint32_t position) {
        for (uint32_t i = 0; i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (c->dvds[i].channel == channel && c->dvds[i].position == position)
                        return true;
        for (uint32_t i = 0; i < c->n_disks && i < VM_DISKS_MAX; i++)
                if (c->disks[i].bus == VM_DISK_IDE && c->disks[i].lun == channel * 2 + position)
                        return true;
        return false;
}

int vmms_seed_place(struct vm_config *c, const char *path, char *err, size_t errlen) {
        static const uint32_t order[4][2] = { { 1, 0 }, { 1, 1 }, { 0, 1 }, { 0, 0 } };
        if (strlen(path) >= sizeof c->dvds[0].path)
                return snprintf(err, errlen, "cloud-init: the seed's path is too long"), -ENAMETOOLONG;
        for (uint32_t i = 0; i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (!c->dvds[i].path[0]) {
                        snprintf(c->dvds[i].path, sizeof c->dvds[i].path, "%s", path);
                        return (int)i;
                }
        for (size_t k = 0; c->n_dvds < VM_DVD_DRIVES_MAX && k < 4; k++) {
                if (position_taken(c, order[k][0], order[k][1]))
                        continue;
                struct vm_dvd_config *d = &c->dvds[c->n_dvds];
                memset(d, 0, sizeof *d);
                d->channel = order[k][0], d->position = order[k][1];
                snprintf(d->path, sizeof d->path, "%s", path);
                return (int)c->n_dvds++;
        }
        snprintf(err, errlen, "dvd_drives: no DVD drive without a disc and no free IDE position for the cloud-init "
                 "seed (the four IDE positions hold disks and discs)");
        return -ENOSPC;
}
