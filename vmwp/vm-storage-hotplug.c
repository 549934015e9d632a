// SPDX-License-Identifier: MIT
/* Disks of a running VM (docs/storvsp.md "Hot add, hot remove and resize
 * of a running VM's disks", docs/vmwp.md): a SCSI disk attached at its
 * LUN (its controller created and offered when the VM has none with that
 * index), detached with its I/O completed first (the controller rescinded
 * with its last LUN), grown. The worker's configuration, its disks[] and
 * the device table change with it exactly as vmms changes its stored
 * configuration, so that a save, a migration or a restart afterwards sees
 * the same disks: the set of VMBus devices always follows from the
 * configuration (a controller exists iff a SCSI disk names it). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "disk/disk.h"
#include "storvsp/provider.h"
#include "vm-internal.h"
#include "vmbus/server.h"
#include "vmwp/control.h"
#include "vmwp/sandbox.h"

/* A writable file may not outgrow the RLIMIT_FSIZE the sandbox entered
 * with (it cannot be raised later without CAP_SYS_RESOURCE): past it the
 * guest's writes would fail with EFBIG. */
static int check_file_size(struct vmwp_vm *vm, uint32_t i, uint64_t bytes, const char *verb, char *err,
                           size_t errlen) {
        uint64_t limit = sandbox_file_size_limit(vm->sandbox);
        if (bytes <= limit)
                return 0;
        return errorf(err, errlen, -EFBIG,
                      "disks[%u]: its image may reach %llu MiB, more than this worker may write (%llu MiB: the "
                      "largest disk it started with, or \"hot_plug\" \"max_file_size\"): %s it while the VM is off",
                      i, (unsigned long long)(bytes >> 20), (unsigned long long)(limit >> 20), verb);
}

/* The new disk's LUN on its controller; the controller itself, offered to
 * the guest, when the VM has none with that index yet. */
static int attach_lun(struct vmwp_vm *vm, const struct vm_disk_config *dc, struct disk *d, bool *added, char *err,
                      size_t errlen) {
        struct storvsp_device *dev = vm->scsi[dc->controller];
        *added = !dev;
        if (dev) { /* the primary channel's worker sends ENUMERATE_BUS (§6.6) */
                int r = vmwp_vm_scsi_attach(vm, dev, dc, d);
                return r < 0 ? errorf(err, errlen, r, "attaching LUN %u: %s", dc->lun, strerror(-r)) : 0;
        }
        int r = vmwp_vm_scsi_new(vm, dc->controller, &dev, err, errlen);
        if (r < 0)
                return r;
        if ((r = vmwp_vm_scsi_attach(vm, dev, dc, d)) < 0)
                errorf(err, errlen, r, "attaching LUN %u: %s", dc->lun, strerror(-r));
        else
                r = vmwp_vm_scsi_offer(vm, dc->controller, dev, err, errlen); /* storvsc finds the LUN in its scan */
        if (r < 0)
                storvsp_device_free(dev);
        return r;
}

int vmwp_vm_disk_attach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, const int *fds, struct json_object *rep,
                        char *err, size_t errlen) {
        const struct vm_disk_config *dc = &req->disk;
        uint32_t i = req->index;
        int r = 0;
        /* Policies join the sandbox only before it is entered: without
         * storvsp's, the guest opening the controller would end the worker. */
        if (vm->sandbox && !vm->storvsp_policy)
                r = errorf(err, errlen, -EOPNOTSUPP,
                           "the VM was started without disks and without \"hot_plug\" \"disks\": its sandbox has "
                           "no policy for storvsp's threads; add the disk while it is off");
        else if (i != vm->cfg.n_disks || i >= VM_DISKS_MAX || dc->bus != VM_DISK_SCSI)
                r = errorf(err, errlen, -EINVAL, "disks[%u]: not the next SCSI disk", i);
        if (r < 0) {
                for (uint32_t k = 0; k < 1 + req->parents; k++)
                        safe_close(fds[k]);
                return r;
        }
        struct disk *d;
        char why[512];
        r = vmwp_vm_open_disk_fds(vm, dc, fds[0], fds + 1, req->parents, &d, why, sizeof why);
        if (r < 0)
                return errorf(err, errlen, r, "disks[%u] (%s): %s", i, dc->path, why[0] ? why : strerror(-r));
        struct disk_info info;
        disk_get_info(d, &info);
        bool added = false;
        if (!info.read_only && !info.block_device)
                r = check_file_size(vm, i, info.max_file_size, "add", err, errlen);
        if (r == 0)
                r = attach_lun(vm, dc, d, &added, err, errlen);
        if (r < 0) {
                disk_unref(d); /* closed: the image lock goes with it */
                return r;
        }
        vm->disks[i] = d; /* the controller holds its own reference */
        vm->cfg.disks[i] = *dc;
        vm->n_disk_parents[i] = 0; /* taken by the disk, not from parent_fds */
        vm->cfg.n_disks++;
        json_object_object_add(rep, "disk", json_object_new_int64(i));
        json_object_object_add(rep, "controller_added", json_object_new_boolean(added));
        json_object_object_add(rep, "size", json_object_new_int64((int64_t)MIN(info.size, (uint64_t)INT64_MAX)));
        return 0;
}

/* Disk i leaves the worker's configuration; the later ones move down one
 * index, as in vmms's. */
static void forget_disk(struct vmwp_vm *vm, uint32_t i) {
        uint32_t after = vm->cfg.n_disks - i - 1;
        disk_unref(vm->disks[i]); /* the last reference: closed, the image lock released */
        memmove(&vm->cfg.disks[i], &vm->cfg.disks[i + 1], after * sizeof vm->cfg.disks[0]);
        memmove(&vm->disks[i], &vm->disks[i + 1], after * sizeof vm->disks[0]);
        memmove(&vm->n_disk_parents[i], &vm->n_disk_parents[i + 1], after * sizeof vm->n_disk_parents[0]);
        if (i < vm->n_disk_fds) { /* all taken (-1) by now; kept in step anyway */
                memmove(&vm->disk_fds[i], &vm->disk_fds[i + 1], (vm->n_disk_fds - i - 1) * sizeof vm->disk_fds[0]);
                vm->n_disk_fds--;
        }
        vm->cfg.n_disks--;
        vm->disks[vm->cfg.n_disks] = NULL;
        vm->n_disk_parents[vm->cfg.n_disks] = 0;
}

int vmwp_vm_disk_detach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, struct json_object *rep, char *err,
                        size_t errlen) {
        uint32_t i = req->index;
        if (i >= vm->cfg.n_disks || vm->cfg.disks[i].bus != VM_DISK_SCSI)
                return errorf(err, errlen, -ENOENT, "disks[%u]: no such SCSI disk", i);
        const struct vm_disk_config *dc = &vm->cfg.disks[i];
        uint32_t ctrl = dc->controller;
        struct storvsp_device *dev = vm->scsi[ctrl];
        if (!dev)
                return errorf(err, errlen, -ENOENT, "disks[%u]: its controller %u is not there", i, ctrl);
        /* The guest's requests in flight complete (their completions in its
         * ring) before anything else; new ones find no LUN (INVALID_LUN). */
        int r = storvsp_device_detach(dev, dc->lun);
        if (r == -ENOENT || r == -EINVAL)
                return errorf(err, errlen, r, "disks[%u]: detaching LUN %u: %s", i, dc->lun, strerror(-r));
        if (r < 0) /* gone all the same: the disk closes when a channel lets go of it */
                fprintf(stderr, "vmwp: %s: disks[%u]: waiting for LUN %u's I/O: %s\n", vm->cfg.name, i, dc->lun,
                        strerror(-r));
        bool removed = false;
        if (storvsp_controller_lun_count(storvsp_device_controller(dev)) == 0) {
                /* An empty controller goes too: a VM built from the
                 * configuration (a restore, a migration's destination) has
                 * none there, and its saved state must not have one. */
                r = vmwp_vm_scsi_remove(vm, ctrl);
                if (r < 0) { /* nothing changed, as far as vmms is concerned */
                        int k = vmwp_vm_scsi_attach(vm, dev, dc, vm->disks[i]);
                        return errorf(err, errlen, r, "disks[%u]: removing SCSI controller %u: %s%s", i, ctrl,
                                      r == -EBUSY ? "the guest takes no VMBus message now; try again" : strerror(-r),
                                      k < 0 ? " (and the LUN could not come back)" : "");
                }
                removed = true;
        }
        forget_disk(vm, i);
        json_object_object_add(rep, "controller_removed", json_object_new_boolean(removed));
        return 0;
}

int vmwp_vm_disk_resize(struct vmwp_vm *vm, const struct vmwp_hotplug *req, struct json_object *rep, char *err,
                        size_t errlen) {
        uint32_t i = req->index;
        if (i >= vm->cfg.n_disks || vm->cfg.disks[i].bus != VM_DISK_SCSI || !vm->disks[i] ||
            !vm->scsi[vm->cfg.disks[i].controller])
                return errorf(err, errlen, -ENOENT, "disks[%u]: no such SCSI disk", i);
        const struct vm_disk_config *dc = &vm->cfg.disks[i];
        struct disk_info info;
        disk_get_info(vm->disks[i], &info);
        int r = 0;
        if (!info.read_only && !info.block_device) /* a VHDX may take more than its size */
                r = check_file_size(vm, i, disk_resize_max_file_size(vm->disks[i], req->size), "grow", err, errlen);
        char why[256];
        if (r == 0 && (r = disk_resize(vm->disks[i], req->size, why, sizeof why)) < 0)
                return errorf(err, errlen, r, "disks[%u] (%s): %s", i, dc->path, why);
        /* the guest hears of it: a unit attention and ENUMERATE_BUS */
        struct storvsp_controller *ctl = storvsp_device_controller(vm->scsi[dc->controller]);
        if (r == 0 && (r = storvsp_controller_resize(ctl, dc->lun)) < 0)
                errorf(err, errlen, r, "disks[%u]: LUN %u: %s", i, dc->lun, strerror(-r));
        if (r == 0) {
                json_object_object_add(rep, "size", json_object_new_int64((int64_t)MIN(req->size, (uint64_t)INT64_MAX)));
                json_object_object_add(rep, "grown", json_object_new_boolean(req->size > info.size));
        }
        return r;
}
