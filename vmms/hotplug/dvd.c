// SPDX-License-Identifier: MIT
/* A DVD drive's disc changed through D-Bus: InsertDvd(u drive, s path) and
 * EjectDvd(u drive) (docs/dbus-api.md; Hyper-V's Set-VMDvdDrive). An Off
 * or Crashed VM's configuration changes (the ISO checked as Update checks
 * a read-only disk: the pools, the caller's rights); a running VM's worker
 * changes the disc (dvd-insert with the ISO opened as Start opens it, the
 * owner's rights and a shared lock; dvd-eject), and the configuration
 * follows its answer, so the disc is still in after a restart. One change
 * at a time, as the disks' and NICs' (hotplug.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "host/host.h"
#include "hotplug/hotplug.h"

static int dvd_error(struct vmms_vm *vm, sd_bus_error *e, int r, const char *err) {
        return sd_bus_error_setf(e, r == -EPERM || r == -EACCES ? VMMS_ERROR_PERMISSION_DENIED
                                    : r == -EBUSY               ? VMMS_ERROR_BUSY
                                    : r == -EINVAL || r == -ENOENT ? VMMS_ERROR_INVALID_ARGUMENT
                                                                   : VMMS_ERROR_FAILED,
                                 "VM '%s': %s", vm->config->name, err);
}

/* The running VM's new disc: the ISO opened as its owner, sent. */
static int insert_running(struct vmms_vm *vm, sd_bus_message *call, uint32_t drive, const struct vm_dvd_config *dvd,
                          sd_bus_error *e) {
        _cleanup_free_ struct vmms_cred *owner = malloc(sizeof *owner);
        char err[1400], field[32];
        int r = owner ? vmms_cred_of_user(vm->owner, owner) : -ENOMEM;
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "VM '%s': the owner's identity: %s", vm->config->name,
                                         strerror(-r));
        snprintf(field, sizeof field, "dvd_drives[%u].path", drive);
        int fd = vmms_iso_open(vm, owner, dvd->path, field, err, sizeof err);
        if (fd < 0)
                return dvd_error(vm, e, fd, err);
        r = vmms_hotplug_send_dvd(vm, call, VMMS_OP_INSERT_DVD, drive, dvd, fd, e);
        safe_close(fd); /* the worker has its copy */
        return r;
}

int vmms_dvd_change(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, uint32_t drive, const char *path,
                    sd_bus_error *e) {
        bool insert = op == VMMS_OP_INSERT_DVD;
        char what[VM_PATH_MAX + 64];
        if (drive >= vm->config->n_dvds)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "VM '%s' has no DVD drive %u (it has %u; a drive is added while the VM is "
                                         "off: vmctl edit VM --dvd=ISO)",
                                         vm->config->name, drive, vm->config->n_dvds);
        if (insert && (!path || path[0] != '/' || strlen(path) >= VM_PATH_MAX))
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "VM '%s': the ISO must be an absolute path of less than %u bytes",
                                         vm->config->name, VM_PATH_MAX);
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        if (!next)
                return -ENOMEM;
        *next = *vm->config;
        struct vm_dvd_config *dvd = &next->dvds[drive];
        snprintf(dvd->path, sizeof dvd->path, "%s", insert ? path : "");
        /* As Update: the pools and the caller's rights (a read-only disk's). */
        int r = insert ? vmms_bus_check_files(vm->d, call, next, vm->config, e) : 0;
        if (r < 0)
                return r;
        if (vm->state == VMMS_STATE_RUNNING)
                return insert ? insert_running(vm, call, drive, dvd, e)
                              : vmms_hotplug_send_dvd(vm, call, VMMS_OP_EJECT_DVD, drive, dvd, -1, e);
        if (insert)
                snprintf(what, sizeof what, "dvd_drives[%u]: %s inserted", drive, path);
        else
                snprintf(what, sizeof what, "dvd_drives[%u]: ejected", drive);
        return vmms_hotplug_store_and_reply(vm, call, next, -1, what, e);
}
