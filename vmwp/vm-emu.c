// SPDX-License-Identifier: MIT
/* The emulated legacy devices of a VM (docs/emulated-devices.md): what a
 * guest without Hyper-V drivers needs to boot and use a disk before any
 * VMBus driver loads, as Hyper-V's root partition emulates them.
 *
 *   every VM      CMOS RTC (0x70/0x71, IRQ 8), i8042 keyboard controller
 *                 (0x60/0x64, IRQ 1), --keyboard socket:PATH for keystrokes
 *   IDE disks,    PCI bus 0 via conf1 (0xCF8-0xCFF; 0xCF9 stays the ACPI
 *   DVD drives    reset register), PIIX3 host/ISA/IDE functions, the IDE
 *                 controller (0x1F0/0x3F6 IRQ 14, 0x170/0x376 IRQ 15, BMIDE
 *                 at BAR4: 0xC000 until the BIOS moves it) on the disk
 *                 library (disk/); a DVD drive is an
 *                 ATAPI device with an ISO (emu/ide-atapi.c)
 *
 * Everything runs in the worker: register accesses on the vCPU thread that
 * made them, disk I/O, the RTC timer and the keyboard socket on one
 * service thread (emu/service.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/vmstate.h"
#include "emu/devices.h"
#include "emu/i8042.h"
#include "emu/ide-backend.h"
#include "emu/ide.h"
#include "emu/nmi-status.h"
#include "emu/pci.h"
#include "emu/rtc.h"
#include "emu/service.h"
#include "emu/state.h"
#include "hv/vmstack.h"
#include "vid/state.h"
#include "vid/vid.h"
#include "vm-emu.h"
#include "vm-internal.h"
#include "vmwp/acpi.h"
#include "vmwp/ide-vmbus.h"
#include "vmwp/sandbox-providers.h"

struct vmwp_emu {
        struct vmwp_vm *vm;
        struct emu_devices d; /* the row of the device table */
        struct vmwp_kbd_socket *kbd_socket;
        bool rtc_ok, kbd_ok;
};

/* ---- callbacks ---- */

static void rtc_irq(void *opaque, bool level) {
        struct vmwp_emu *e = opaque;
        (void)vid_irq_line(e->vm->p, RTC_IRQ, level);
}

static const struct rtc_ops rtc_ops = { .irq = rtc_irq };

static void kbd_irq(void *opaque, bool level) {
        struct vmwp_emu *e = opaque;
        (void)vid_irq_line(e->vm->p, I8042_KBD_IRQ, level);
}

static void kbd_reset(void *opaque, const char *source) {
        struct vmwp_emu *e = opaque;
        vid_partition_request_stop(e->vm->p, VMWP_EXIT_RESET, "reset requested (%s)", source);
}

static void kbd_input_space(void *opaque) {
        struct vmwp_emu *e = opaque;
        emu_service_kick(e->d.svc);
}

static const struct i8042_ops kbd_ops = { .irq = kbd_irq, .reset = kbd_reset, .input_space = kbd_input_space };

static void ide_irq(void *opaque, unsigned channel, bool level) {
        struct vmwp_emu *e = opaque;
        (void)vid_irq_line(e->vm->p, channel ? IDE_SECONDARY_IRQ : IDE_PRIMARY_IRQ, level);
}

static int ide_gm_read(void *opaque, uint64_t gpa, void *buf, size_t len) {
        struct vmwp_emu *e = opaque;
        return gm_read(e->vm->p, gpa, buf, len);
}

static int ide_gm_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmwp_emu *e = opaque;
        return gm_map(e->vm->p, gpa, len, host);
}

static void ide_gm_dirty(void *opaque, const void *host, size_t len) {
        struct vmwp_emu *e = opaque;
        vid_mark_dirty_host(e->vm->p, host, len);
}

static void ide_kick(void *opaque) {
        struct vmwp_emu *e = opaque;
        emu_service_kick(e->d.svc);
}

static const struct ide_ops ide_ops = { .irq = ide_irq, .gm_read = ide_gm_read, .gm_map = ide_gm_map,
                                        .kick = ide_kick, .gm_dirty = ide_gm_dirty };

/* 0xCF9 inside the PCI host bridge's CONFIG_ADDRESS: the ACPI reset register. */
static void reset_write(void *opaque, uint8_t v) {
        struct vmwp_emu *e = opaque;
        acpi_pm_write(e->vm->pm, VMSTACK_RESET_PORT, 1, v);
}

static uint8_t reset_read(void *opaque) {
        struct vmwp_emu *e = opaque;
        return (uint8_t)acpi_pm_read(e->vm->pm, VMSTACK_RESET_PORT, 1);
}

static const struct pci_reset_ops reset_ops = { .write = reset_write, .read = reset_read };

/* ---- building ---- */

/* Serial numbers stable across restarts: from the VM id and the slot. */
static void identity(const struct vmwp_vm *vm, unsigned slot, struct ata_identity *id) {
        *id = (struct ata_identity){ .device1 = slot % 2 };
        snprintf(id->model, sizeof id->model, "Virtual HD");
        snprintf(id->firmware, sizeof id->firmware, "1.1.0");
        /* the disk's IDE channel on VMBus says the same (vm-storage.c) */
        vmwp_ide_disk_serial(&vm->cfg.id, slot, id->serial, sizeof id->serial);
}

static bool has_ide_disks(const struct vm_config *c) {
        if (c->n_dvds > 0)
                return true; /* a DVD drive is an IDE device too */
        for (uint32_t i = 0; i < c->n_disks; i++)
                if (c->disks[i].bus == VM_DISK_IDE)
                        return true;
        return false;
}

static int attach_disks(struct vmwp_emu *e, char *err, size_t errlen) {
        const struct vm_config *c = &e->vm->cfg;
        for (uint32_t i = 0; i < c->n_disks; i++) {
                const struct vm_disk_config *dc = &c->disks[i];
                if (dc->bus != VM_DISK_IDE)
                        continue;
                if (dc->sector_size && dc->sector_size != ATA_SECTOR_SIZE)
                        return snprintf(err, errlen, "disks[%u] (%s): IDE disks have 512-byte sectors", i,
                                        dc->path), -EINVAL;
                struct disk *d;
                char why[512];
                int r = vmwp_vm_open_disk(e->vm, i, &d, why, sizeof why);
                if (r >= 0) {
                        why[0] = 0;
                        struct ata_identity id;
                        identity(e->vm, dc->lun, &id);
                        r = ide_attach(e->d.ide, dc->lun, d, &id);
                        if (r == 0 && dc->lun < ARRAY_SIZE(e->d.disks))
                                e->d.disks[dc->lun] = disk_ref(d); /* for the quiesce's metadata sync */
                        disk_unref(d); /* the controller holds its own reference */
                }
                if (r < 0)
                        return snprintf(err, errlen, "disks[%u] (%s): %s", i, dc->path,
                                        r == -EEXIST ? "IDE slot (lun) already in use" : why[0] ? why : strerror(-r)), r;
        }
        return 0;
}

/* The DVD drives (docs/emulated-devices.md): an ISO opened read-only by
 * its path, or none. */
static int attach_dvds(struct vmwp_emu *e, char *err, size_t errlen) {
        const struct vm_config *c = &e->vm->cfg;
        for (uint32_t i = 0; i < c->n_dvds; i++) {
                const struct vm_dvd_config *dc = &c->dvds[i];
                unsigned slot = dc->channel * 2 + dc->position;
                struct disk *d = NULL;
                char why[512] = "";
                int r = 0;
                if (dc->path[0]) {
                        /* vmms's fd (proto.h "dvd_fds"), or the path standalone */
                        int fd = i < VM_DVD_DRIVES_MAX ? e->vm->dvd_fds[i] : -1;
                        if (i < VM_DVD_DRIVES_MAX)
                                e->vm->dvd_fds[i] = -1; /* disk_open owns it now, even on error */
                        struct disk_options o = { .path = dc->path, .fd = fd, .read_only = true,
                                                  .block_size = ATA_SECTOR_SIZE, .format = DISK_FORMAT_RAW,
                                                  .err = why, .errlen = sizeof why };
                        r = disk_open(&o, &d);
                }
                if (r == 0) {
                        struct ata_identity id;
                        identity(e->vm, slot, &id);
                        snprintf(id.model, sizeof id.model, "Virtual CD/ROM");
                        r = ide_attach_dvd(e->d.ide, slot, d, &id);
                        if (r == -EINVAL)
                                snprintf(why, sizeof why, "not a disc image (at least 2048 bytes, read-only)");
                        disk_unref(d); /* the drive holds its own reference */
                }
                if (r < 0)
                        return snprintf(err, errlen, "dvd_drives[%u] (%s): %s", i, dc->path[0] ? dc->path : "empty",
                                        r == -EEXIST ? "IDE position already in use" : why[0] ? why : strerror(-r)), r;
        }
        return 0;
}

/* PAM0-6 written (a guest write, or a restore): the firmware's shadowed
 * area follows them (vid_firmware_set_shadow_ro; the same bit layout). */
_Static_assert(PIIX_SHADOW_BIOS_SEG == VID_SHADOW_BIOS_SEG, "PAM's pieces are vid's");
static void shadow_mode(void *opaque, uint32_t read_only) {
        struct vmwp_emu *e = opaque;
        int r = vid_firmware_set_shadow_ro(e->vm->p, read_only);
        if (r < 0)
                log_warning_errno(r, "PAM: the shadowed area's modes stay as they were (wanted read-only %#x): %m",
                                  read_only);
}

/* PCI bus 0 with the PIIX3 functions: the IDE function with IDE disks,
 * Hyper-V's video function with a display (its guests' video drivers look
 * for it when there is no EFI: docs/video.md). */
static int add_pci(struct vmwp_emu *e, bool ide, bool video, char *err, size_t errlen) {
        struct vid_partition *p = e->vm->p;
        int r;
        if (ide) {
                if ((r = ide_new(&ide_ops, e, &e->d.ide)) < 0)
                        return snprintf(err, errlen, "IDE controller: %s", strerror(-r)), r;
                if ((r = attach_disks(e, err, errlen)) < 0 || (r = attach_dvds(e, err, errlen)) < 0)
                        return r;
        }
        if ((r = piix_init(&e->d.piix, e->d.ide, &reset_ops, e)) < 0 ||
            (video && (r = piix_add_video(&e->d.piix, ACPI_VIDEO_BAR_BASE, ACPI_VIDEO_BAR_SIZE)) < 0))
                return snprintf(err, errlen, "PCI functions: %s", strerror(-r)), r;
        if (e->vm->cfg.boot_kind == VM_BOOT_FIRMWARE) {
                piix_set_host_subsystem(&e->d.piix, PIIX_SUBSYSTEM_QEMU_VENDOR, PIIX_SUBSYSTEM_QEMU_DEVICE);
                piix_set_shadow_hook(&e->d.piix, shadow_mode, e);
        }
        e->d.piix_ok = true;
        if ((r = pci_bus_register(&e->d.piix.bus, p)) < 0)
                return snprintf(err, errlen, "PCI bus: %s", strerror(-r)), r;
        if (ide && ((r = ide_register(e->d.ide, p)) < 0 ||
                    (r = ide_backend_attach(e->d.ide, e->d.svc, NULL)) < 0))
                return snprintf(err, errlen, "IDE controller: %s", strerror(-r)), r;
        return 0;
}

static int add_platform(struct vmwp_emu *e, const struct vmwp_vm_options *opt, char *err, size_t errlen) {
        struct vid_partition *p = e->vm->p;
        struct vid_ram_region regions[2];
        size_t n = vid_ram_regions(p, regions);
        struct rtc_config rc = { 0 };
        for (size_t i = 0; i < n; i++)
                *(regions[i].gpa < VID_HIGH_RAM_START ? &rc.low_ram_bytes : &rc.high_ram_bytes) += regions[i].size;
        struct rtc_clock now;
        rtc_clock_now(&now);
        rtc_init(&e->d.rtc, &rc, &rtc_ops, e, &now);
        e->rtc_ok = true;
        i8042_init(&e->d.kbd, &kbd_ops, e);
        e->kbd_ok = true;
        int r;
        /* With KVM's PIT, its speaker stub answers port 61h (vid.h). */
        if ((r = rtc_attach(&e->d.rtc, p, e->d.svc)) < 0 || (r = i8042_register(&e->d.kbd, p)) < 0 ||
            (!vid_partition_has_pit(p) && (r = nmi_status_register(p)) < 0))
                return snprintf(err, errlen, "RTC, keyboard controller and port 61h: %s", strerror(-r)), r;
        if (opt->keyboard.kind == VMWP_CONSOLE_SOCKET)
                return vmwp_kbd_socket_open(opt->keyboard.path, &e->d.kbd, e->d.svc, &e->kbd_socket, err, errlen);
        return 0;
}

int vmwp_vm_add_emu(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        struct vmwp_emu *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->vm = vm;
        vm->emu = e;
        int r = emu_service_new(&e->d.svc);
        if (r < 0)
                return snprintf(err, errlen, "emulated devices: %s", strerror(-r)), r;
        if ((r = add_platform(e, opt, err, errlen)) < 0)
                return r;
        bool ide = has_ide_disks(&vm->cfg), video = vm->cfg.display.enabled;
        /* The PCI bus decodes the reset register (0xCF9) where it exists;
         * firmware always has one (it finds the platform by its host
         * bridge). */
        r = ide || video || vm->cfg.boot_kind == VM_BOOT_FIRMWARE ? add_pci(e, ide, video, err, errlen) : acpi_pm_register_reset(vm->pm, vm->p);
        if (r < 0)
                return err[0] ? r : (snprintf(err, errlen, "reset register: %s", strerror(-r)), r);
        if (vm->sandbox && (r = sandbox_register_policy(vm->sandbox, &sandbox_emu_policy)) < 0)
                return snprintf(err, errlen, "sandbox: emu policy: %s", strerror(-r)), r;
        if ((r = emu_service_start(e->d.svc)) < 0)
                return snprintf(err, errlen, "emulated devices: service thread: %s", strerror(-r)), r;
        if ((r = vmwp_devices_add(&vm->devices, &emu_device_ops, &e->d)) < 0)
                return snprintf(err, errlen, "emulated devices: device table: %s", strerror(-r)), r;
        return 0;
}

void vmwp_vm_emu_acpi(const struct vmwp_vm *vm, struct acpi_config *ac) {
        ac->i8042 = ac->rtc = vm->emu != NULL;
        ac->pci = vm->emu && vm->emu->d.piix_ok;
        if (ac->pci && vm->emu->d.piix.has_video) {
                ac->pci_mem_base = ACPI_VIDEO_BAR_BASE;
                ac->pci_mem_size = ACPI_VIDEO_BAR_SIZE;
        }
}

static int narrow(void *arg) {
        return sandbox_thread_policy(arg, "emu");
}

int vmwp_vm_emu_sandboxed(struct vmwp_vm *vm) {
        if (!vm->emu || !vm->sandbox)
                return 0;
        return emu_service_call(vm->emu->d.svc, narrow, vm->sandbox);
}

struct dvd_change {
        struct ide_controller *ide;
        unsigned slot;
        struct disk *disc; /* NULL: eject */
};

static int dvd_change_on_thread(void *arg) {
        struct dvd_change *c = arg;
        return c->disc ? ide_atapi_insert(c->ide, c->slot, c->disc) : ide_atapi_eject(c->ide, c->slot);
}

#define DVD_BUSY_TRIES 500 /* 1 ms apart: a read in flight ends in milliseconds */

int vmwp_vm_dvd_change(struct vmwp_vm *vm, unsigned drive, int fd, char *err, size_t errlen) {
        struct vmwp_emu *e = vm->emu;
        if (!e || !e->d.ide || drive >= vm->cfg.n_dvds) {
                safe_close(fd);
                return errorf(err, errlen, -ENODEV, "the VM has no DVD drive %u", drive);
        }
        const struct vm_dvd_config *dc = &vm->cfg.dvds[drive];
        struct dvd_change c = { .ide = e->d.ide, .slot = dc->channel * 2 + dc->position };
        char why[512] = "";
        int r = 0;
        if (fd >= 0) {
                struct disk_options o = { .path = "(dvd-insert)", .fd = fd, .read_only = true,
                                          .block_size = ATA_SECTOR_SIZE, .format = DISK_FORMAT_RAW,
                                          .err = why, .errlen = sizeof why };
                if ((r = disk_open(&o, &c.disc)) < 0) /* owns fd, even on error */
                        return errorf(err, errlen, r, "the ISO: %s", why[0] ? why : strerror(-r));
        }
        for (int tries = 0; tries < DVD_BUSY_TRIES; tries++) {
                r = emu_service_call(e->d.svc, dvd_change_on_thread, &c);
                if (r != -EBUSY)
                        break;
                struct timespec ms = { .tv_nsec = 1000000 };
                nanosleep(&ms, NULL);
        }
        disk_unref(c.disc); /* the drive holds its own reference */
        if (r == -EINVAL)
                return errorf(err, errlen, r, "not a disc image (at least 2048 bytes)");
        if (r == -EBUSY)
                return errorf(err, errlen, r, "dvd_drives[%u] stayed busy reading its disc", drive);
        if (r < 0)
                return errorf(err, errlen, r, "dvd_drives[%u]: %s", drive, strerror(-r));
        return 0;
}

void vmwp_vm_free_emu(struct vmwp_vm *vm) {
        struct vmwp_emu *e = vm->emu;
        if (!e)
                return;
        /* The thread first: it drains the disk I/O (into guest RAM, which
         * must still be mapped) and releases the disks. */
        emu_service_free(e->d.svc);
        if (e->d.piix_ok)
                piix_destroy(&e->d.piix);
        ide_free(e->d.ide);
        for (unsigned i = 0; i < ARRAY_SIZE(e->d.disks); i++)
                disk_unref(e->d.disks[i]);
        if (e->kbd_ok)
                i8042_destroy(&e->d.kbd);
        if (e->rtc_ok)
                rtc_destroy(&e->d.rtc);
        free(e);
        vm->emu = NULL;
}
