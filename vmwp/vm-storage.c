// SPDX-License-Identifier: MIT
/* Disks of the configuration: one storvsp device (synthetic SCSI
 * controller, VMBus) per controller index, each disk attached at its LUN,
 * and one IDE accelerator channel per IDE disk of a firmware-boot VM.
 * Disk images arrive as fds from vmms (in disk order) or, for standalone
 * runs, are opened by path here. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "disk/disk.h"
#include "hv/vmbus.h"
#include "storvsp/provider.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vmbus/server.h"
#include "vmwp/disk-id.h"
#include "vmwp/ide-vmbus.h"
#include "vmwp/sandbox-providers.h"
#include "vmwp/sandbox.h"

static int map_guest(void *opaque, uint64_t gpa, size_t len, void **host) {
        return gm_map(opaque, gpa, len, host);
}

static void mark_guest_dirty(void *opaque, const void *host, size_t len) {
        vid_mark_dirty_host(opaque, host, len);
}

/* Disk i's parents from vmms (vm->parent_fds holds them disk by disk),
 * handed to disk_open, which owns them from then on: how many. */
static unsigned take_parents(struct vmwp_vm *vm, uint32_t i, int fds[static DISK_MAX_PARENTS]) {
        size_t first = 0;
        for (uint32_t k = 0; k < i; k++)
                first += vm->n_disk_parents[k];
        unsigned n = vm->n_disk_parents[i];
        /* vmwp_control_assign_fds checked the counts against the fds */
        if (n > DISK_MAX_PARENTS || first + n > vm->n_parent_fds)
                return 0;
        for (unsigned k = 0; k < n; k++) {
                fds[k] = vm->parent_fds[first + k];
                vm->parent_fds[first + k] = -1;
        }
        return n;
}

/* RLIMIT_FSIZE must let a growing image (VHDX) reach its largest size:
 * the sandbox sets it from what the disks say (docs/sandbox.md). */
static int allow_growth(struct vmwp_vm *vm, struct disk *d) {
        struct disk_info info;
        disk_get_info(d, &info);
        if (!vm->sandbox || info.read_only || info.block_device)
                return 0;
        return sandbox_allow_file_size(vm->sandbox, info.max_file_size);
}

static int open_disk(const struct vm_disk_config *dc, int fd, const int *parents, unsigned n_parents, bool no_lock,
                     bool deferred, struct disk **out, char *why, size_t whylen) {
        struct disk_options o = { .path = dc->path, .fd = fd, .read_only = dc->read_only,
                                  .block_size = dc->sector_size, .no_lock = no_lock, .deferred = deferred,
                                  .format = dc->format == VM_DISK_VHDX ? DISK_FORMAT_VHDX : DISK_FORMAT_RAW,
                                  .parent_fds = n_parents ? parents : NULL, .n_parent_fds = n_parents,
                                  .err = why, .errlen = whylen };
        if (whylen)
                why[0] = 0;
        int r = disk_open(&o, out); /* owns the fds now, even on error */
        if (r == 0 && (r = vmwp_disk_apply_qos(*out, &dc->qos, why, whylen)) < 0) /* checked by the config parse */
                disk_unref(TAKE_PTR(*out));
        return r;
}

int vmwp_vm_open_disk_fds(struct vmwp_vm *vm, const struct vm_disk_config *dc, int fd, const int *parents,
                          unsigned n_parents, struct disk **out, char *why, size_t whylen) {
        return open_disk(dc, fd, parents, n_parents, false, false, out, why, whylen);
}

/* The disk image for config entry i: vmms's fd if it sent one, else the
 * path; a VHDX disk's parents likewise (none sent: the backend opens
 * them by their locators, for standalone runs). */
int vmwp_vm_open_disk(struct vmwp_vm *vm, uint32_t i, struct disk **out, char *why, size_t whylen) {
        const struct vm_disk_config *dc = &vm->cfg.disks[i];
        int parents[DISK_MAX_PARENTS], fd = -1;
        if (i < vm->n_disk_fds) {
                fd = vm->disk_fds[i];
                vm->disk_fds[i] = -1; /* disk_open owns it now, even on error */
        }
        unsigned n = take_parents(vm, i, parents);
        /* An incoming migration on shared storage: the source runs on the
         * image until its STATE (a VHDX's metadata changes meanwhile, and
         * its log is active): vmwp_vm_activate_disks takes it then. */
        int r = open_disk(dc, fd, parents, n, vm->incoming, vm->incoming && !vm->incoming_disks, out, why, whylen);
        if (r < 0)
                return r;
        r = allow_growth(vm, *out);
        if (r < 0) {
                disk_unref(*out);
                *out = NULL;
                return r;
        }
        disk_unref(vm->disks[i]);
        vm->disks[i] = disk_ref(*out);
        return 0;
}

int vmwp_vm_disk_push(struct vmwp_vm *vm, const uint32_t *disks, const int *fds, size_t n, char *err,
                      size_t errlen) {
        struct disk_push *p[VM_DISKS_MAX];
        size_t k = 0;
        int r = n > VM_DISKS_MAX ? -E2BIG : 0;
        if (r == 0 && !vmwp_vm_is_paused(vm))
                r = -EBUSY, snprintf(err, errlen, "the VM is not paused (save it first)");
        for (; r == 0 && k < n; k++) {
                char why[512];
                if (disks[k] >= VM_DISKS_MAX || !vm->disks[disks[k]]) {
                        r = -EINVAL, snprintf(err, errlen, "disks[%u]: no such disk", disks[k]);
                        safe_close(fds[k]);
                } else if ((r = disk_push_prepare(vm->disks[disks[k]], fds[k], &p[k], why, sizeof why)) < 0) {
                        snprintf(err, errlen, "disks[%u]: %s", disks[k], why); /* it took fds[k] */
                }
        }
        if (r < 0) { /* k is one past the failed one: those before it are prepared */
                for (size_t i = 0; i + 1 < k; i++)
                        disk_push_abort(p[i]);
                for (size_t i = k; i < n; i++)
                        safe_close(fds[i]);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                disk_push_commit(p[i]);
        return 0;
}

int vmwp_vm_activate_disks(struct vmwp_vm *vm, char *err, size_t errlen) {
        for (uint32_t i = 0; i < vm->cfg.n_disks && i < VM_DISKS_MAX; i++) {
                char why[512];
                int r = vm->disks[i] ? disk_activate(vm->disks[i], why, sizeof why) : 0;
                if (r < 0)
                        return errorf(err, errlen, r, "disks[%u] (%s): taking over the image: %s", i,
                                      vm->cfg.disks[i].path, why);
        }
        return 0;
}

unsigned vmwp_vm_release_image_locks(struct vmwp_vm *vm) {
        unsigned n = 0;
        for (uint32_t i = 0; i < vm->cfg.n_disks && i < VM_DISKS_MAX; i++)
                if (vm->disks[i])
                        disk_release_lock(vm->disks[i]), n++;
        return n;
}

#define MERGE_PASSES_MAX 20u
#define MERGE_PAUSE_BYTES (8ull << 20) /* what the last, paused pass may copy */

int vmwp_vm_disk_merge(struct vmwp_vm *vm, uint32_t disk, int fd,
                       void (*progress)(void *opaque, uint32_t pass, uint64_t bytes, uint64_t dirty), void *opaque,
                       struct vmwp_merge_result *res, char *err, size_t errlen) {
        *res = (struct vmwp_merge_result){ 0 };
        if (disk >= VM_DISKS_MAX || disk >= vm->cfg.n_disks || !vm->disks[disk]) {
                safe_close(fd);
                return errorf(err, errlen, -EINVAL, "disks[%u]: no such disk", disk);
        }
        struct disk_merge *m;
        char why[512];
        int r = disk_merge_prepare(vm->disks[disk], fd, &m, why, sizeof why);
        if (r < 0)
                return errorf(err, errlen, r, "disks[%u]: %s", disk, why);
        /* The sandbox's RLIMIT_FSIZE was set at start, for the images then. */
        if (disk_merge_max_file_size(m) > sandbox_file_size_limit(vm->sandbox)) {
                disk_merge_abort(m);
                return errorf(err, errlen, -EFBIG,
                              "disks[%u]: its parent could grow past the file size this worker may write (%llu MiB): "
                              "merged when the VM stops instead",
                              disk, (unsigned long long)(sandbox_file_size_limit(vm->sandbox) >> 20));
        }
        uint64_t dirty = UINT64_MAX;
        while (r >= 0 && res->passes < MERGE_PASSES_MAX && dirty > MERGE_PAUSE_BYTES) {
                r = disk_merge_pass(m, &res->bytes, &dirty);
                if (r >= 0 && progress)
                        progress(opaque, ++res->passes, res->bytes, dirty);
        }
        bool paused = false;
        uint64_t t0 = vmwp_now_ns(), before = res->bytes;
        if (r >= 0 && !vmwp_vm_is_paused(vm)) {
                r = vmwp_vm_pause(vm); /* the devices quiesce: no request of the disk in flight */
                paused = r >= 0;
        }
        if (r < 0) {
                disk_merge_abort(m);
                return errorf(err, errlen, r, "disks[%u]: %s", disk, strerror(-r));
        }
        r = disk_merge_finish(m, &res->bytes, why, sizeof why); /* takes m either way */
        res->passes++;
        res->final_bytes = res->bytes - before;
        if (paused)
                (void)vmwp_vm_resume(vm);
        res->pause_ns = vmwp_now_ns() - t0;
        return r < 0 ? errorf(err, errlen, r, "disks[%u]: %s", disk, why) : 0;
}

static void device_config(struct vmwp_vm *vm, struct storvsp_device_config *cfg) {
        /* storvsc asks for min(vCPUs - 1, this) sub-channels (§6.3 step 6).
         * No guest RAM as io_uring fixed buffers (cfg->ram): registering
         * pins, and so populates, all of guest RAM in OPENCHANNEL, on the
         * VP thread (measured on the PVM host: 0.2 s for 128 MiB, 6 s for
         * 1 GiB) for no measurable gain (docs/storvsp.md, "Performance"). */
        *cfg = (struct storvsp_device_config){
                .controller.max_sub_channels = (uint16_t)MIN(vm->cfg.vcpus - 1, (uint32_t)VMBUS_MAX_SUBCHANNELS),
                .gm = { .map = map_guest, .opaque = vm->p, .mark_dirty = mark_guest_dirty },
        };
}

int vmwp_vm_scsi_new(struct vmwp_vm *vm, uint32_t ctrl, struct storvsp_device **out, char *err, size_t errlen) {
        struct storvsp_device_config cfg;
        device_config(vm, &cfg);
        cfg.state_instance = ctrl;
        int r = storvsp_device_new(&cfg, out);
        return r < 0 ? errorf(err, errlen, r, "SCSI controller %u: %s", ctrl, strerror(-r)) : 0;
}

int vmwp_vm_scsi_offer(struct vmwp_vm *vm, uint32_t ctrl, struct storvsp_device *dev, char *err, size_t errlen) {
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .instance_id = vm->cfg.scsi_instance[ctrl],
                                          .data = dev };
        struct vmbus_device *vd;
        /* after the server's row: quiesced before it (reverse order); the
         * row first, so that nothing can fail once the server owns dev */
        int r = vmwp_devices_add(&vm->devices, &storvsp_device_ops, dev);
        if (r < 0)
                return errorf(err, errlen, r, "SCSI controller %u: the device table: %s", ctrl, strerror(-r));
        if ((r = vmbus_server_add_device(vm->vmbus, &vc, &vd)) < 0) {
                vmwp_devices_remove(&vm->devices, dev);
                return errorf(err, errlen, r, "SCSI controller %u: offering it: %s", ctrl, strerror(-r));
        }
        vm->scsi[ctrl] = dev; /* the server's until vmwp_vm_detach_vmbus or a hot remove */
        vm->scsi_dev[ctrl] = vd;
        return 0;
}

int vmwp_vm_scsi_remove(struct vmwp_vm *vm, uint32_t ctrl) {
        void *dev = vm->scsi[ctrl];
        int r = vmbus_server_remove_device(vm->vmbus, vm->scsi_dev[ctrl]); /* frees dev */
        if (r < 0)
                return r;
        vmwp_devices_remove(&vm->devices, dev);
        vm->scsi[ctrl] = NULL;
        vm->scsi_dev[ctrl] = NULL;
        return 0;
}

int vmwp_vm_scsi_attach(const struct vmwp_vm *vm, struct storvsp_device *dev, const struct vm_disk_config *dc,
                        struct disk *d) {
        struct disk_info info;
        disk_get_info(d, &info);
        struct scsi_lun_config lc;
        vmwp_scsi_lun_config(&vm->cfg.id, dc, &info, &lc);
        return storvsp_controller_attach(storvsp_device_controller(dev), dc->lun, d, &lc);
}

static int add_controller(struct vmwp_vm *vm, uint32_t ctrl, char *err, size_t errlen) {
        struct storvsp_device *dev;
        int r = vmwp_vm_scsi_new(vm, ctrl, &dev, err, errlen);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < vm->cfg.n_disks && r >= 0; i++) {
                const struct vm_disk_config *dc = &vm->cfg.disks[i];
                if (dc->bus != VM_DISK_SCSI || dc->controller != ctrl)
                        continue;
                struct disk *d;
                char why[512];
                r = vmwp_vm_open_disk(vm, i, &d, why, sizeof why);
                if (r >= 0) {
                        why[0] = 0;
                        r = vmwp_vm_scsi_attach(vm, dev, dc, d);
                        disk_unref(d); /* the controller holds its own reference */
                }
                if (r < 0)
                        snprintf(err, errlen, "disks[%u] (%s): %s", i, dc->path, why[0] ? why : strerror(-r));
        }
        if (r >= 0)
                r = vmwp_vm_scsi_offer(vm, ctrl, dev, err, errlen);
        if (r < 0)
                storvsp_device_free(dev); /* not added: still ours */
        return r;
}

/* What Linux's sd reads about the channel's disk: the serial of the
 * emulated disk's IDENTIFY and a NAA id of its own (vmwp/ide-vmbus.h). */
static void ide_lun_config(const struct vmwp_vm *vm, struct disk *d, unsigned slot, struct scsi_lun_config *lc) {
        struct disk_info info;
        disk_get_info(d, &info);
        scsi_lun_config_init(lc, info.size / info.block_size, info.block_size);
        lc->read_only = info.read_only;
        lc->discard = info.discard;
        lc->discard_zeroes = info.discard_zeroes;
        vmwp_ide_disk_serial(&vm->cfg.id, slot, lc->serial, sizeof lc->serial);
        lc->naa_id = vmwp_ide_disk_naa(&vm->cfg.id, slot);
}

/* An IDE disk on VMBus too (Hyper-V's IDE accelerator, docs/storvsp.md):
 * the emulated controller's disk object (vm->disks[], opened by the
 * emulated devices' part, vm-emu.c), so that the firmware's and boot
 * loader's writes through IDE and the kernel's through storvsc reach one
 * disk. The device's row quiesces before the emulated devices' (rows
 * quiesce in reverse order); each drains its own I/O and syncs the
 * disk's metadata, the emulated devices' row last. */
static int add_ide_channel(struct vmwp_vm *vm, const struct vmwp_ide_vmbus_offer *o, char *err, size_t errlen) {
        static const struct guid ide_class = { .b = HV_IDE_GUID };
        unsigned channel = o->slot / STORVSP_IDE_POSITIONS, position = o->slot % STORVSP_IDE_POSITIONS;
        struct disk *d = vm->disks[o->disk];
        if (!d)
                return errorf(err, errlen, -ENODEV, "disks[%u]: the IDE disk is not open", o->disk);
        struct storvsp_device_config cfg;
        device_config(vm, &cfg);
        cfg.controller.max_sub_channels = 0; /* storvsc asks for none on IDE (storvsc_probe) */
        cfg.controller.target = o->offer.target;
        cfg.state_instance = o->offer.state_instance;
        struct storvsp_device *dev;
        struct scsi_lun_config lc;
        ide_lun_config(vm, d, o->slot, &lc);
        int r = storvsp_device_new(&cfg, &dev);
        if (r == 0 && (r = storvsp_controller_attach(storvsp_device_controller(dev), 0, d, &lc)) < 0)
                storvsp_device_free(dev);
        if (r < 0)
                return errorf(err, errlen, r, "disks[%u]: IDE %u:%u on VMBus: %s", o->disk, channel, position,
                              strerror(-r));
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .class_id = &ide_class,
                                          .instance_id = o->offer.instance, .data = dev,
                                          .user_def = (const uint8_t *)&o->offer.props,
                                          .user_def_len = sizeof o->offer.props };
        if ((r = vmwp_devices_add(&vm->devices, &storvsp_device_ops, dev)) < 0) {
                storvsp_device_free(dev);
                return errorf(err, errlen, r, "disks[%u]: IDE %u:%u on VMBus: the device table: %s", o->disk,
                              channel, position, strerror(-r));
        }
        if ((r = vmbus_server_add_device(vm->vmbus, &vc, NULL)) < 0) {
                vmwp_devices_remove(&vm->devices, dev);
                storvsp_device_free(dev); /* not added: still ours */
                return errorf(err, errlen, r, "disks[%u]: IDE %u:%u on VMBus: offering it: %s", o->disk, channel,
                              position, strerror(-r));
        }
        return 0; /* the server's from here on, freed with it */
}

int vmwp_vm_add_disks(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        bool used[VM_SCSI_CONTROLLERS_MAX] = { false };
        if ((vm->cfg.n_disks > 0 || vm->hotplug_disks) && vm->sandbox) {
                int r = sandbox_register_policy(vm->sandbox, &sandbox_storvsp_policy);
                if (r < 0)
                        return snprintf(err, errlen, "sandbox: storvsp policy: %s", strerror(-r)), r;
                vm->storvsp_policy = true;
        }
        for (uint32_t i = 0; i < vm->cfg.n_disks; i++) {
                if (vm->cfg.disks[i].bus != VM_DISK_SCSI)
                        continue; /* the emulated IDE controller's (vm-emu.c) */
                used[vm->cfg.disks[i].controller] = true;
        }
        for (uint32_t c = 0; c < VM_SCSI_CONTROLLERS_MAX; c++) {
                int r = used[c] ? add_controller(vm, c, err, errlen) : 0;
                if (r < 0)
                        return r;
        }
        struct vmwp_ide_vmbus_offer ide[VMWP_IDE_VMBUS_MAX];
        unsigned n_ide = vmwp_ide_vmbus_plan(&vm->cfg, ide);
        for (unsigned k = 0; k < n_ide; k++) {
                int r = add_ide_channel(vm, &ide[k], err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}
