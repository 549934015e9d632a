// SPDX-License-Identifier: MIT
/* One disk image of a VM, opened for its worker (docs/vmms.md "Host
 * files", "VHDX disks"): with the path policy and the owner's rights,
 * O_RDWR or O_RDONLY as "read_only" says, flock()ed, and a VHDX image's
 * chain of parents opened, locked shared and checked. Start opens every
 * disk this way (spawn.c), AttachDisk the one it adds to a running VM
 * (hotplug.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "host/host.h"
#include "core/cloud-init.h"
#include "vmms/iso-probe.h"
#include "vmms/seed.h"
#include "migration/migration.h"

/* A parent of a VHDX disk: as any read-only disk of the VM, with the
 * path policy and the owner's rights (files.c). */
struct parent_open {
        const struct vmms_path_policy *paths;
        const struct vmms_cred *owner;
};

static int open_parent(void *opaque, const char *path, char *err, size_t errlen) {
        const struct parent_open *p = opaque;
        return vmms_file_open(p->paths, path, VMMS_FILE_DISK_RO, p->owner, err, errlen);
}

/* The parents of disk i, a VHDX image open at fd: vmms_disk_chain_open. */
static int open_chain(struct vmms_vm *vm, const struct vmms_cred *owner, const struct vm_disk_config *dc, uint32_t i,
                      int fd, struct vmms_disk_fds *out, char *err, size_t errlen) {
        struct parent_open po = { .paths = &vm->d->opt.paths, .owner = owner };
        struct vmms_disk_chain c;
        char why[2048];
        int r = vmms_disk_chain_open(fd, dc->path, dc->read_only, open_parent, &po, &c, why, sizeof why);
        if (r < 0)
                return snprintf(err, errlen, "disks[%u].path: %s", i, why), r;
        _Static_assert(sizeof out->parents == sizeof c.fds, "a chain fits");
        memcpy(out->parents, c.fds, c.n * sizeof c.fds[0]);
        out->n_parents = c.n;
        return 0;
}

/* The first ISO_PROBE_HEAD bytes of fd (fewer in a small file) into a
 * buffer the caller frees, their count in *len and the file's size. */
static int read_head(int fd, uint8_t **head, size_t *len, uint64_t *size) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        *size = (uint64_t)st.st_size;
        if (!(*head = malloc(ISO_PROBE_HEAD)))
                return -ENOMEM;
        ssize_t n = pread(fd, *head, ISO_PROBE_HEAD, 0);
        if (n < 0)
                return -errno;
        *len = (size_t)n;
        return 0;
}

/* The disk a firmware VM's BIOS boots: its first IDE disk, when the boot
 * order has "disk" (vmwp/vm-firmware.c's bootorder). An ISO elsewhere is a
 * data disk a guest may mount as it is. */
static bool is_boot_disk(const struct vm_config *c, const struct vm_disk_config *dc, uint32_t i) {
        bool disk_in_order = false;
        for (uint32_t k = 0; k < c->n_boot_order; k++)
                disk_in_order |= c->boot_order[k] == VM_BOOT_DEVICE_DISK;
        if (c->boot_kind != VM_BOOT_FIRMWARE || !disk_in_order || dc->bus != VM_DISK_IDE)
                return false;
        for (uint32_t k = 0; k < i && k < c->n_disks; k++)
                if (c->disks[k].bus == VM_DISK_IDE)
                        return false;
        return true;
}

/* docs/firmware.md "Disc images": a DVD image given as the boot disk. */
static int check_not_disc(int fd, const struct vm_disk_config *dc, uint32_t i, char *err, size_t errlen) {
        _cleanup_free_ uint8_t *head = NULL;
        size_t len = 0;
        uint64_t size = 0;
        char why[256];
        int r = read_head(fd, &head, &len, &size);
        if (r < 0)
                return snprintf(err, errlen, "disks[%u].path: %s: cannot read it: %s", i, dc->path, strerror(-r)), r;
        if ((r = iso_probe_disk(head, len, why, sizeof why)) < 0)
                return snprintf(err, errlen, "disks[%u].path: %s: %s", i, dc->path, why), r;
        return 0;
}

int vmms_disk_open(struct vmms_vm *vm, const struct vmms_cred *owner, const struct vm_disk_config *dc, uint32_t i,
                   struct vmms_disk_fds *out, char *err, size_t errlen) {
        char why[1024];
        *out = (struct vmms_disk_fds){ .fd = -1 };
        _cleanup_close_ int fd = vmms_file_open(&vm->d->opt.paths, dc->path,
                                                dc->read_only ? VMMS_FILE_DISK_RO : VMMS_FILE_DISK_RW, owner, why,
                                                sizeof why);
        if (fd < 0)
                return snprintf(err, errlen, "disks[%u].path: %s", i, why), fd;
        /* The lock belongs to the open file description, which the
         * worker inherits: it holds as long as the VM runs, across a
         * vmms restart, and keeps two VMs off one writable image. */
        /* An incoming migration's source holds the lock until the
         * destination runs: taken over then (migration/lock-handover.c). */
        if (flock(fd, (dc->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
                int r = vm->mig->migrating_in ? vmms_vm_handover_add(vm, i, fd, dc->read_only) : -EBUSY;
                if (r < 0)
                        return snprintf(err, errlen, "disks[%u].path: %s %s", i, dc->path,
                                        r == -EBUSY ? "is in use by another VM" : "cannot be opened for a migration"),
                               r;
        }
        if (dc->format == VM_DISK_VHDX) {
                int r = open_chain(vm, owner, dc, i, fd, out, err, errlen);
                if (r < 0)
                        return r;
        } else if (is_boot_disk(vm->config, dc, i)) {
                int r = check_not_disc(fd, dc, i, err, errlen);
                if (r < 0)
                        return r;
        }
        out->fd = TAKE_FD(fd);
        return 0;
}

int vmms_iso_open(struct vmms_vm *vm, const struct vmms_cred *owner, const char *path, const char *field, char *err,
                  size_t errlen) {
        char why[1024];
        if (vmms_path_is_seed(vm->d->opt.paths.seed_dir, &vm->config->id, path))
                return vmms_seed_open(path, field, err, errlen); /* vmms's own file, the VM's own seed */
        _cleanup_close_ int fd = vmms_file_open(&vm->d->opt.paths, path, VMMS_FILE_DISK_RO, owner, why, sizeof why);
        if (fd < 0)
                return snprintf(err, errlen, "%s: %s", field, why), fd;
        /* Shared, as a read-only disk's: no VM writes it while a drive holds it. */
        if (flock(fd, LOCK_SH | LOCK_NB) < 0)
                return snprintf(err, errlen, "%s: %s is in use (written) by another VM", field, path), -EBUSY;
        /* docs/firmware.md "Disc images": cut short, the guest would read
         * errors past the file's end; say so now. */
        _cleanup_free_ uint8_t *head = NULL;
        size_t len = 0;
        uint64_t size = 0;
        int r = read_head(fd, &head, &len, &size);
        if (r < 0)
                return snprintf(err, errlen, "%s: %s: cannot read it: %s", field, path, strerror(-r)), r;
        if ((r = iso_probe_disc(head, len, size, why, sizeof why)) < 0)
                return snprintf(err, errlen, "%s: %s: %s", field, path, why), r;
        return TAKE_FD(fd);
}

void vmms_disk_fds_done(struct vmms_disk_fds *f) {
        f->fd = safe_close(f->fd);
        for (size_t k = 0; k < f->n_parents; k++)
                safe_close(f->parents[k]);
        f->n_parents = 0;
}
