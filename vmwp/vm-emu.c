// SPDX-License-Identifier: MIT
/* The emulated legacy devices of a VM (docs/emulated-devices.md): what a
 * guest without Hyper-V drivers needs to boot and use a disk before any
 * VMBus driver loads, as Hyper-V's root partition emulates them.
 *
 *   every VM      CMOS RTC (0x70/0x71, IRQ 8), i8042 keyboard controller
 *                 (0x60/0x64, IRQ 1), --keyboard socket:PATH for keystrokes
 *   IDE disks     PCI bus 0 via conf1 (0xCF8-0xCFF; 0xCF9 stays the ACPI
 *                 reset register), PIIX3 host/ISA/IDE functions, the IDE
 *                 controller (0x1F0/0x3F6 IRQ 14, 0x170/0x376 IRQ 15, BMIDE
 *                 at 0xC000) on the disk library (disk/)
 *
 * Everything runs in the worker: register accesses on the vCPU thread that
 * made them, disk I/O, the RTC timer and the keyboard socket on one
 * service thread (emu/service.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/vmstate.h"
#include "emu/i8042.h"
#include "emu/ide-backend.h"
#include "emu/ide.h"
#include "emu/nmi-status.h"
#include "emu/pci.h"
#include "emu/rtc.h"
#include "emu/service.h"
#include "emu/state.h"
#include "hv/vmstack.h"
#include "vid/vid.h"
#include "vm-emu.h"
#include "vm-internal.h"
#include "vmwp/acpi.h"
#include "vmwp/sandbox-providers.h"

struct vmwp_emu {
        struct vmwp_vm *vm;
        struct emu_service *svc;
        struct rtc rtc;
        struct i8042 kbd;
        struct ide_controller *ide; /* NULL: no IDE disks */
        struct disk *disks[4];      /* the IDE disks by slot (references) */
        struct piix piix;
        struct vmwp_kbd_socket *kbd_socket;
        bool rtc_ok, kbd_ok, piix_ok; /* piix_ok: PCI bus 0 (IDE disks or a display) */
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
        emu_service_kick(e->svc);
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
        emu_service_kick(e->svc);
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
        const uint8_t *g = vm->cfg.id.b;
        *id = (struct ata_identity){ .device1 = slot % 2 };
        snprintf(id->model, sizeof id->model, "Virtual HD");
        snprintf(id->firmware, sizeof id->firmware, "1.1.0");
        snprintf(id->serial, sizeof id->serial, "%02X%02X%02X%02X%02X%02X%02X%02X-%u", g[0], g[1], g[2], g[3], g[4],
                 g[5], g[6], g[7], slot);
}

static bool has_ide_disks(const struct vm_config *c) {
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
                        r = ide_attach(e->ide, dc->lun, d, &id);
                        if (r == 0 && dc->lun < ARRAY_SIZE(e->disks))
                                e->disks[dc->lun] = disk_ref(d); /* for the quiesce's metadata sync */
                        disk_unref(d); /* the controller holds its own reference */
                }
                if (r < 0)
                        return snprintf(err, errlen, "disks[%u] (%s): %s", i, dc->path,
                                        r == -EEXIST ? "IDE slot (lun) already in use" : why[0] ? why : strerror(-r)), r;
        }
        return 0;
}

/* PCI bus 0 with the PIIX3 functions: the IDE function with IDE disks,
 * Hyper-V's video function with a display (its guests' video drivers look
 * for it when there is no EFI: docs/video.md). */
static int add_pci(struct vmwp_emu *e, bool ide, bool video, char *err, size_t errlen) {
        struct vid_partition *p = e->vm->p;
        int r;
        if (ide) {
                if ((r = ide_new(&ide_ops, e, &e->ide)) < 0)
                        return snprintf(err, errlen, "IDE controller: %s", strerror(-r)), r;
                if ((r = attach_disks(e, err, errlen)) < 0)
                        return r;
        }
        if ((r = piix_init(&e->piix, e->ide, &reset_ops, e)) < 0 ||
            (video && (r = piix_add_video(&e->piix, ACPI_VIDEO_BAR_BASE, ACPI_VIDEO_BAR_SIZE)) < 0))
                return snprintf(err, errlen, "PCI functions: %s", strerror(-r)), r;
        e->piix_ok = true;
        if ((r = pci_bus_register(&e->piix.bus, p)) < 0)
                return snprintf(err, errlen, "PCI bus: %s", strerror(-r)), r;
        if (ide && ((r = ide_register(e->ide, p, PIIX_IDE_BM_BASE)) < 0 ||
                    (r = ide_backend_attach(e->ide, e->svc, NULL)) < 0))
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
        rtc_init(&e->rtc, &rc, &rtc_ops, e, &now);
        e->rtc_ok = true;
        i8042_init(&e->kbd, &kbd_ops, e);
        e->kbd_ok = true;
        int r;
        if ((r = rtc_attach(&e->rtc, p, e->svc)) < 0 || (r = i8042_register(&e->kbd, p)) < 0 ||
            (r = nmi_status_register(p)) < 0)
                return snprintf(err, errlen, "RTC, keyboard controller and port 61h: %s", strerror(-r)), r;
        if (opt->keyboard.kind == VMWP_CONSOLE_SOCKET)
                return vmwp_kbd_socket_open(opt->keyboard.path, &e->kbd, e->svc, &e->kbd_socket, err, errlen);
        return 0;
}

/* The emulated devices' row: their service thread parked (the IDE
 * backend's disk reads completed first, emu_service_on_pause), the RTC's
 * timer and keyboard input waiting. */
static int emu_row_quiesce(void *dev) {
        struct vmwp_emu *e = dev;
        int r = emu_service_pause(e->svc);
        /* Nothing in flight: a VHDX's metadata goes to the file now. */
        for (unsigned i = 0; r == 0 && i < ARRAY_SIZE(e->disks); i++)
                if (e->disks[i])
                        r = disk_sync_metadata(e->disks[i]);
        return r;
}

static void emu_row_resume(void *dev) {
        struct vmwp_emu *e = dev;
        /* A restored RTC raises what came due only now (emu/state.h). */
        struct rtc_clock now;
        rtc_clock_now(&now);
        rtc_resume(&e->rtc, &now);
        emu_service_resume(e->svc);
}

/* With IDE disks each channel ("IDEC"); with a PCI bus its functions
 * ("PIIX"). */
static int pci_save(struct vmwp_emu *e, struct vmstate_writer *w) {
        struct ide_channel_state *st = malloc(sizeof *st);
        struct piix_state *ps = malloc(sizeof *ps);
        int r = st && ps ? 0 : -ENOMEM;
        for (unsigned c = 0; r == 0 && e->ide && c < IDE_CHANNELS; c++)
                if ((r = ide_get_state(e->ide, c, st)) == 0)
                        r = vmstate_encode(w, &ide_channel_state_desc, c, st);
        if (r == 0) {
                piix_get_state(&e->piix, ps);
                r = vmstate_encode(w, &piix_state_desc, 0, ps);
        }
        free(st);
        free(ps);
        return r;
}

static int pci_restore(struct vmwp_emu *e, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        const struct vmstate_section *cs[IDE_CHANNELS], *px = vmstate_find(secs, n, PIIX_STATE_TAG, 0);
        for (unsigned c = 0; c < IDE_CHANNELS; c++)
                cs[c] = vmstate_find(secs, n, IDE_STATE_TAG, c);
        if (!e->ide && cs[0])
                return errorf(err, errlen, -EINVAL, "the state has IDE disks, this VM has none");
        if (e->ide && (!cs[0] || !cs[1] || !px))
                return errorf(err, errlen, -EINVAL, "the state has no IDE controller, this VM has IDE disks");
        if (!e->piix_ok)
                return px ? errorf(err, errlen, -EINVAL, "the state has a PCI bus, this VM has none") : 0;
        if (!px) /* a display VM saved before its bus existed: the bus as built */
                return 0;
        struct ide_channel_state *st = malloc(IDE_CHANNELS * sizeof *st);
        struct piix_state *ps = malloc(sizeof *ps);
        int r = st && ps ? 0 : -ENOMEM;
        for (unsigned c = 0; r == 0 && e->ide && c < IDE_CHANNELS; c++)
                r = ide_channel_state_decode(cs[c], &st[c], err, errlen);
        if (r == 0)
                r = piix_state_decode(px, ps, err, errlen);
        if (r == 0)
                r = piix_set_state(&e->piix, ps, err, errlen);
        for (unsigned c = 0; r == 0 && e->ide && c < IDE_CHANNELS; c++)
                r = ide_set_state(e->ide, c, &st[c], err, errlen);
        free(st);
        free(ps);
        return r;
}

/* The RTC ("RTC "), the i8042 ("KBC ") and the IDE controller,
 * docs/saved-state.md. */
static int emu_row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        struct vmwp_emu *e = dev;
        int ri = e->piix_ok ? pci_save(e, w) : 0;
        if (ri < 0)
                return errorf(err, errlen, ri, "writing the PCI bus's sections: %s", strerror(-ri));
        struct rtc_clock now;
        rtc_clock_now(&now);
        struct rtc_state rs;
        rtc_get_state(&e->rtc, &now, &rs);
        struct i8042_state *ks = malloc(sizeof *ks);
        if (!ks)
                return -ENOMEM;
        i8042_get_state(&e->kbd, ks);
        int r = vmstate_encode(w, &rtc_state_desc, 0, &rs);
        if (r == 0)
                r = vmstate_encode(w, &i8042_state_desc, 0, ks);
        free(ks);
        return r < 0 ? errorf(err, errlen, r, "writing the emulated devices' sections: %s", strerror(-r)) : 0;
}

static int emu_row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct vmwp_emu *e = dev;
        const struct vmstate_section *rsec = vmstate_find(secs, n, RTC_STATE_TAG, 0);
        const struct vmstate_section *ksec = vmstate_find(secs, n, I8042_STATE_TAG, 0);
        if (!rsec || !ksec)
                return errorf(err, errlen, -EINVAL, "the state has no %s section", rsec ? "KBC" : "RTC");
        struct rtc_state rs;
        struct i8042_state *ks = malloc(sizeof *ks);
        int r = !ks ? -ENOMEM : rtc_state_decode(rsec, &rs, err, errlen);
        if (r == 0)
                r = i8042_state_decode(ksec, ks, err, errlen);
        if (r == 0)
                r = pci_restore(e, secs, n, err, errlen);
        if (r == 0) {
                struct rtc_clock now;
                rtc_clock_now(&now);
                rtc_set_state(&e->rtc, &rs, &now);
                i8042_set_state(&e->kbd, ks);
        }
        free(ks);
        return r;
}

static const uint32_t emu_tags[] = { RTC_STATE_TAG, I8042_STATE_TAG, IDE_STATE_TAG, PIIX_STATE_TAG, 0 };

static const struct vmwp_device_ops emu_row = {
        .name = "emulated devices", .quiesce = emu_row_quiesce, .resume = emu_row_resume,
        .save = emu_row_save, .restore = emu_row_restore, .tags = emu_tags,
};

int vmwp_vm_add_emu(struct vmwp_vm *vm, const struct vmwp_vm_options *opt, char *err, size_t errlen) {
        struct vmwp_emu *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->vm = vm;
        vm->emu = e;
        int r = emu_service_new(&e->svc);
        if (r < 0)
                return snprintf(err, errlen, "emulated devices: %s", strerror(-r)), r;
        if ((r = add_platform(e, opt, err, errlen)) < 0)
                return r;
        bool ide = has_ide_disks(&vm->cfg), video = vm->cfg.display.enabled;
        /* The PCI bus decodes the reset register (0xCF9) where it exists. */
        r = ide || video ? add_pci(e, ide, video, err, errlen) : acpi_pm_register_reset(vm->pm, vm->p);
        if (r < 0)
                return err[0] ? r : (snprintf(err, errlen, "reset register: %s", strerror(-r)), r);
        if (vm->sandbox && (r = sandbox_register_policy(vm->sandbox, &sandbox_emu_policy)) < 0)
                return snprintf(err, errlen, "sandbox: emu policy: %s", strerror(-r)), r;
        if ((r = emu_service_start(e->svc)) < 0)
                return snprintf(err, errlen, "emulated devices: service thread: %s", strerror(-r)), r;
        if ((r = vmwp_devices_add(&vm->devices, &emu_row, e)) < 0)
                return snprintf(err, errlen, "emulated devices: device table: %s", strerror(-r)), r;
        return 0;
}

void vmwp_vm_emu_acpi(const struct vmwp_vm *vm, struct acpi_config *ac) {
        ac->i8042 = ac->rtc = vm->emu != NULL;
        ac->pci = vm->emu && vm->emu->piix_ok;
        if (ac->pci && vm->emu->piix.has_video) {
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
        return emu_service_call(vm->emu->svc, narrow, vm->sandbox);
}

void vmwp_vm_emu_stats(struct vmwp_vm *vm, struct json_object *into) {
        struct vmwp_emu *e = vm->emu;
        if (!e)
                return;
        struct rtc_stats rs;
        struct i8042_stats ks;
        rtc_get_stats(&e->rtc, &rs);
        i8042_get_stats(&e->kbd, &ks);
        vmwp_json_add_u64(into, "rtc_interrupts", rs.interrupts);
        vmwp_json_add_u64(into, "rtc_time_sets", rs.time_sets);
        vmwp_json_add_u64(into, "kbd_keys", ks.keys);
        vmwp_json_add_u64(into, "kbd_dropped_keys", ks.dropped_keys);
        vmwp_json_add_u64(into, "kbd_controller_commands", ks.commands);
        if (e->ide) {
                struct ide_stats is;
                ide_get_stats(e->ide, &is);
                vmwp_json_add_u64(into, "ide_commands", is.commands);
                vmwp_json_add_u64(into, "ide_aborted", is.aborted);
                vmwp_json_add_u64(into, "ide_pio_bytes", is.pio_bytes);
                vmwp_json_add_u64(into, "ide_dma_bytes", is.dma_bytes);
                vmwp_json_add_u64(into, "ide_dma_errors", is.dma_errors);
                vmwp_json_add_u64(into, "ide_io_errors", is.io_errors);
                vmwp_json_add_u64(into, "ide_ignored", is.ignored_writes);
                vmwp_json_add_u64(into, "ide_resets", is.resets);
        }
}

void vmwp_vm_free_emu(struct vmwp_vm *vm) {
        struct vmwp_emu *e = vm->emu;
        if (!e)
                return;
        /* The thread first: it drains the disk I/O (into guest RAM, which
         * must still be mapped) and releases the disks. */
        emu_service_free(e->svc);
        if (e->piix_ok)
                piix_destroy(&e->piix);
        ide_free(e->ide);
        for (unsigned i = 0; i < ARRAY_SIZE(e->disks); i++)
                disk_unref(e->disks[i]);
        if (e->kbd_ok)
                i8042_destroy(&e->kbd);
        if (e->rtc_ok)
                rtc_destroy(&e->rtc);
        free(e);
        vm->emu = NULL;
}
