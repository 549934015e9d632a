// SPDX-License-Identifier: MIT
/* Shared-nothing live migration in vmms (docs/migration.md, "Shared-nothing
 * storage migration"): on the source, the configuration the destination
 * gets (every writable disk's image in the directory the caller named, by
 * its file name) and the geometry of those disks; on the destination, the
 * new, empty images created as the VM's owner inside this host's storage
 * pools (raw: sparse; VHDX: dynamic), which the workers' stream then
 * fills, and removed again when the migration does not complete. */
#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "vhdx/vhdx.h"
#include "vmms/migchan.h"
#include "vmms/paths.h"
#include "host/host.h"
#include "migration/migration.h"

static const char *file_name(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* The size and logical sector the guest sees of the image at fd. */
static int geometry(int fd, const struct vm_disk_config *dc, struct vmms_migchan_disk *out, char *err,
                    size_t errlen) {
        if (dc->format == VM_DISK_VHDX) {
                struct vhdx *v;
                char why[512];
                int r = vhdx_open(fd, VHDX_OPEN_INSPECT, &v, why, sizeof why);
                if (r < 0)
                        return snprintf(err, errlen, "%s: %s", dc->path, why), r;
                struct vhdx_info info;
                vhdx_get_info(v, &info);
                (void)vhdx_close(v); /* INSPECT: writes nothing */
                *out = (struct vmms_migchan_disk){ .size = info.virtual_size, .sector = info.logical_sector_size };
                return 0;
        }
        struct stat st;
        uint64_t size = 0;
        if (fstat(fd, &st) < 0)
                return snprintf(err, errlen, "%s: %s", dc->path, strerror(errno)), -errno;
        if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
                return snprintf(err, errlen, "%s: %s", dc->path, strerror(errno)), -errno;
        if (!S_ISBLK(st.st_mode))
                size = (uint64_t)st.st_size;
        uint32_t sector = dc->sector_size ? dc->sector_size : 512;
        *out = (struct vmms_migchan_disk){ .size = size / sector * sector, .sector = sector };
        if (!out->size)
                return snprintf(err, errlen, "%s: smaller than one sector", dc->path), -EINVAL;
        return 0;
}

int vmms_migrate_disks_prepare(struct vmms_vm *vm, const char *dir, struct vm_config *out,
                               struct vmms_migchan_disk *disks, char *err, size_t errlen) {
        struct vmms_cred *as = malloc(sizeof *as);
        if (!as)
                return -ENOMEM;
        int r = vmms_cred_of_user(vm->owner, as);
        if (r < 0) {
                free(as);
                return snprintf(err, errlen, "the owner (uid %u) is not a user here", (unsigned)vm->owner), r;
        }
        *out = *vm->config;
        for (uint32_t i = 0; r >= 0 && i < out->n_disks; i++) {
                struct vm_disk_config *dc = &out->disks[i];
                disks[i] = (struct vmms_migchan_disk){ .size = 0, .sector = dc->sector_size ? dc->sector_size : 512 };
                if (dc->read_only)
                        continue; /* shared: the destination has its own */
                for (uint32_t k = 0; k < i; k++)
                        if (!out->disks[k].read_only &&
                            strcmp(file_name(vm->config->disks[k].path), file_name(dc->path)) == 0) {
                                r = -EINVAL;
                                snprintf(err, errlen, "disks[%u] and disks[%u] are both named '%s': they cannot go "
                                         "into one directory", k, i, file_name(dc->path));
                        }
                char why[1024];
                _cleanup_close_ int fd =
                        r < 0 ? -1 : vmms_file_open(&vm->d->opt.paths, dc->path, VMMS_FILE_DISK_RO, as, why, sizeof why);
                if (r >= 0 && fd < 0)
                        r = fd, snprintf(err, errlen, "%s", why);
                if (r >= 0)
                        r = geometry(fd, dc, &disks[i], err, errlen);
                if (r >= 0 && snprintf(dc->path, sizeof dc->path, "%s/%s", dir, file_name(vm->config->disks[i].path)) >=
                                      (int)sizeof dc->path)
                        r = -ENAMETOOLONG, snprintf(err, errlen, "disks[%u]: the path in '%s' is too long", i, dir);
        }
        free(as);
        return r < 0 ? r : 0;
}

/* One new image at dc->path, as `as`, of the geometry the source sent. */
static int create_one(struct vmms_daemon *d, const struct vm_disk_config *dc, const struct vmms_migchan_disk *g,
                      const struct vmms_cred *as, char *err, size_t errlen) {
        char why[1024];
        _cleanup_close_ int fd = vmms_file_create(&d->opt.paths, dc->path, as, why, sizeof why);
        if (fd == -EEXIST)
                return snprintf(err, errlen, "%s exists here: a shared-nothing migration makes new images (for shared "
                                             "storage, migrate without a storage path)", dc->path),
                       -EEXIST;
        if (fd < 0)
                return snprintf(err, errlen, "%s", why), fd;
        int r;
        if (dc->format == VM_DISK_VHDX) {
                struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = g->size,
                                                 .logical_sector_size = g->sector };
                if ((r = vhdx_create(fd, &o, why, sizeof why)) < 0)
                        snprintf(err, errlen, "%s: %s", dc->path, why);
        } else if ((r = ftruncate(fd, (off_t)g->size) < 0 ? -errno : 0) < 0) {
                snprintf(err, errlen, "%s: %s", dc->path, strerror(-r));
        }
        if (r < 0)
                (void)unlink(dc->path);
        return r;
}

int vmms_migrate_disks_create(struct vmms_daemon *d, const struct vmms_migchan_request *q, const struct vmms_cred *as,
                              char *err, size_t errlen) {
        for (uint32_t i = 0; i < q->config.n_disks; i++) {
                if (q->config.disks[i].read_only)
                        continue;
                int r = create_one(d, &q->config.disks[i], &q->disks[i], as, err, errlen);
                if (r < 0) {
                        vmms_migrate_disks_remove(&q->config, i);
                        return r;
                }
        }
        return 0;
}

void vmms_migrate_disks_remove(const struct vm_config *c, uint32_t n) {
        for (uint32_t i = 0; i < n && i < c->n_disks; i++)
                if (!c->disks[i].read_only && unlink(c->disks[i].path) < 0 && errno != ENOENT)
                        log_warning("cannot remove %s after the failed migration: %s", c->disks[i].path,
                                    strerror(errno));
}
