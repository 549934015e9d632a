// SPDX-License-Identifier: MIT
/* Boot kind firmware (docs/firmware.md): Hyper-V's Generation 1 VM with
 * Debian's SeaBIOS. The image is mapped below 4 GiB (vid), and fw_cfg
 * (emu/fwcfg.h) carries what the firmware reads from a QEMU-like
 * platform: the memory map, the worker's ACPI tables through the table
 * loader, SMBIOS tables that say what Hyper-V's do, the boot order, the
 * CPU count and the serial console on COM1. SeaBIOS's own log (its debug
 * port) goes into the worker's log, and its "No bootable device." to vmms
 * as the VM's boot status (docs/firmware.md "Nothing bootable"). */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "emit.h"
#include "emu/debugcon.h"
#include "emu/fwcfg.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vmwp/fwtables.h"

#define COM1_PORT 0x3f8u
#define BOOTORDER_MAX 512u

struct vmwp_firmware {
        struct fwcfg *fwcfg;
        struct debugcon debugcon;
        bool debugcon_ok;
        enum vmwp_boot_status boot; /* debugcon's lock */
};

static bool is_hex4(const char *s) {
        for (int i = 0; i < 4; i++)
                if (!isxdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* SeaBIOS's words (src/boot.c): boot_fail() prints "No bootable device."
 * (with etc/boot-fail-wait at -1 nothing follows it: it waits for ever),
 * and call_boot_entry() "Booting from SSSS:OOOO" as it jumps into a boot
 * sector; "Booting from Hard Disk..." and "... DVD/CD..." come before a
 * try that may still fail. After the jump the port is the guest's: what
 * it writes there changes nothing. */
enum vmwp_boot_status vmwp_firmware_boot_line(enum vmwp_boot_status now, const char *line) {
        static const char jump[] = "Booting from ";
        if (now != VMWP_BOOT_FIRMWARE)
                return now;
        if (!strcmp(line, "No bootable device.") || !strncmp(line, "No bootable device.  Retrying in ", 33))
                return VMWP_BOOT_NOTHING_BOOTABLE;
        if (strncmp(line, jump, sizeof jump - 1) != 0)
                return now;
        const char *a = line + sizeof jump - 1;
        if (strlen(a) == 9 && is_hex4(a) && a[4] == ':' && is_hex4(a + 5))
                return VMWP_BOOT_LOADER;
        return now;
}

const char *vmwp_boot_status_name(enum vmwp_boot_status s) {
        switch (s) {
        case VMWP_BOOT_FIRMWARE:
                return "firmware";
        case VMWP_BOOT_LOADER:
                return "booted";
        case VMWP_BOOT_NOTHING_BOOTABLE:
                return "no-bootable-device";
        }
        return "";
}

/* A vCPU thread, debugcon's lock held. */
static void log_line(void *opaque, const char *line) {
        struct vmwp_vm *vm = opaque;
        struct vmwp_firmware *fw = vm->firmware;
        log_info("firmware: %s", line);
        enum vmwp_boot_status s = vmwp_firmware_boot_line(fw->boot, line);
        if (s == fw->boot)
                return;
        fw->boot = s;
        /* Once per worker at most: the status only leaves "firmware". */
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.boot_status = s;
        vm->guest.boot_changed = true;
        pthread_mutex_unlock(&vm->guest_lock);
        (void)!write(vm->guest_event_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

void vmwp_firmware_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e) {
        if (!g->boot_changed)
                return;
        struct json_object *ev = proto_event_new(PROTO_EV_FIRMWARE);
        if (ev) {
                json_object_object_add(ev, "status", json_object_new_string(vmwp_boot_status_name(g->boot_status)));
                if (g->boot_status == VMWP_BOOT_NOTHING_BOOTABLE)
                        json_object_object_add(ev, "message", json_object_new_string("No bootable device."));
        }
        vmwp_emit(e, ev);
}

void vmwp_firmware_add_status(struct vmwp_vm *vm, struct json_object *into) {
        if (vm->cfg.boot_kind != VM_BOOT_FIRMWARE)
                return;
        struct vmwp_guest_events g;
        vmwp_vm_peek_guest_events(vm, &g);
        /* A restored VM's boot happened in the worker that saved it. */
        if (vm->restored && g.boot_status == VMWP_BOOT_FIRMWARE)
                return;
        json_object_object_add(into, "boot_status", json_object_new_string(vmwp_boot_status_name(g.boot_status)));
}

/* SeaBIOS's name of an IDE position (src/boot.c bootprio_find_ata_device:
 * the controller's PCI path, then drive@channel/disk@unit), as its log
 * shows: "Searching bootorder for: /pci@i0cf8/ *@1,1/drive@0/disk@0". */
static int ide_path(char *buf, size_t len, unsigned lun) {
        return snprintf(buf, len, "/pci@i0cf8/*@1,1/drive@%u/disk@%u\n", lun / 2, lun % 2);
}

/* The boot order as SeaBIOS reads "bootorder": one device path a line,
 * "HALT" last so that nothing unlisted boots (as QEMU's -boot strict). */
int vmwp_firmware_bootorder(const struct vm_config *c, char *buf, size_t len) {
        size_t used = 0;
        for (uint32_t i = 0; i < c->n_boot_order; i++) {
                if (c->boot_order[i] == VM_BOOT_DEVICE_DVD) {
                        /* The first DVD drive (with or without a disc: one
                         * inserted later boots at the next start). */
                        if (c->n_dvds) {
                                int k = ide_path(buf + used, len - used, c->dvds[0].channel * 2 + c->dvds[0].position);
                                if (k < 0 || (size_t)k >= len - used)
                                        return -ENOSPC;
                                used += (size_t)k;
                        }
                        continue;
                }
                for (uint32_t d = 0; d < c->n_disks; d++) {
                        if (c->disks[d].bus != VM_DISK_IDE)
                                continue;
                        int k = ide_path(buf + used, len - used, c->disks[d].lun);
                        if (k < 0 || (size_t)k >= len - used)
                                return -ENOSPC;
                        used += (size_t)k;
                        break; /* the first IDE disk, as Hyper-V's "IDE" entry */
                }
        }
        int k = snprintf(buf + used, len - used, "HALT\n");
        if (k < 0 || (size_t)k >= len - used)
                return -ENOSPC;
        return (int)(used + (size_t)k);
}

/* Hyper-V's serial numbers are digits in groups ("0000-0011-6412-5480-
 * 4532-8837-78": 26 digits, 6 dashes); ours come from the VM id, so they
 * stay with the VM. */
#define SERIAL_SIZE 33 /* the 32 characters and the NUL */
static void serial_of(const struct guid *id, char out[SERIAL_SIZE]) {
        size_t n = 0;
        for (unsigned i = 0; i < 26; i++) {
                if (i && i % 4 == 0)
                        out[n++] = '-';
                out[n++] = (char)('0' + (id->b[i % 16] + i / 16) % 10);
        }
        out[n] = 0;
}

static int add_tables(struct vmwp_vm *vm, struct fwcfg *f) {
        struct fwtables_config fc = { .n_ram = 0 };
        struct vid_ram_region regions[2];
        char serial[SERIAL_SIZE];
        vmwp_vm_acpi_config(vm, &fc.acpi);
        fc.n_ram = vid_ram_regions(vm->p, regions);
        for (size_t i = 0; i < fc.n_ram; i++)
                fc.ram[i] = (struct boot_ram_region){ .gpa = regions[i].gpa, .size = regions[i].size };
        serial_of(&vm->cfg.id, serial);
        fc.smbios = (struct smbios_config){ .uuid = vm->cfg.id, .n_cpus = vm->cfg.vcpus, .serial = serial };
        _cleanup_(fwtables_free) struct fwtables t = { .n = 0 };
        int r = fwtables_build(&fc, &t);
        for (size_t i = 0; r >= 0 && i < t.n; i++)
                r = fwcfg_add_file(f, t.files[i].name, t.files[i].data, t.files[i].len);
        return r;
}

static int add_items(struct vmwp_vm *vm, struct fwcfg *f) {
        char order[BOOTORDER_MAX];
        int n = vmwp_firmware_bootorder(&vm->cfg, order, sizeof order);
        if (n < 0)
                return n;
        int r;
        if ((r = add_tables(vm, f)) < 0 || (r = fwcfg_add_file(f, "bootorder", order, (size_t)n)) < 0 ||
            /* The text screen on COM1 too (SeaBIOS's sercon): the boot
             * loader's menu and messages reach the VM's console. */
            (r = fwcfg_add_file(f, "etc/sercon-port", &(uint16_t){ COM1_PORT }, 2)) < 0 ||
            /* No "Press ESC for boot menu" wait (2.5 s at every boot). */
            (r = fwcfg_add_file(f, "etc/show-boot-menu", &(uint16_t){ 0 }, 2)) < 0 ||
            /* Nothing bootable: say so and stay, no retry loop of resets. */
            (r = fwcfg_add_file(f, "etc/boot-fail-wait", &(uint32_t){ UINT32_MAX }, 4)) < 0 ||
            (r = fwcfg_add_u16(f, FWCFG_NB_CPUS, (uint16_t)vm->cfg.vcpus)) < 0 ||
            (r = fwcfg_add_u16(f, FWCFG_MAX_CPUS, (uint16_t)vm->cfg.vcpus)) < 0)
                return r;
        return 0;
}

static int map_image(struct vmwp_vm *vm, const struct vmwp_vm_options *opt, char *err, size_t errlen) {
        const struct vm_config *c = &vm->cfg;
        _cleanup_(vmwp_unmap_file) struct mapped_file fw = { 0 };
        int r = vmwp_map_file("firmware", c->firmware, opt->kernel_fd, &fw, err, errlen);
        if (r < 0)
                return r;
        if (fw.len > VID_FIRMWARE_MAX || fw.len % 4096 || fw.len < 64 * 1024)
                return errorf(err, errlen, -EINVAL, "firmware %s: %zu bytes; a BIOS image is a multiple of 4 KiB "
                              "from 64 KiB to %u MiB", c->firmware, fw.len, VID_FIRMWARE_MAX >> 20);
        /* A restored VM's RAM below 1 MiB is the guest's, from the state. */
        if ((r = vid_firmware_map(vm->p, fw.data, fw.len, !vm->restored)) < 0)
                return errorf(err, errlen, r, "firmware %s: %s", c->firmware,
                              r == -ENOTSUP ? "this host's KVM has no read-only memory (KVM_CAP_READONLY_MEM)"
                                            : strerror(-r));
        return 0;
}

int vmwp_vm_add_firmware(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        if (vm->cfg.boot_kind != VM_BOOT_FIRMWARE)
                return 0;
        struct vmwp_firmware *fw = calloc(1, sizeof *fw);
        if (!fw)
                return -ENOMEM;
        vm->firmware = fw;
        int r = map_image(vm, opt, err, errlen);
        if (r < 0)
                return r;
        debugcon_init(&fw->debugcon, log_line, vm);
        fw->debugcon_ok = true;
        if ((r = debugcon_register(&fw->debugcon, vm->p)) < 0)
                return errorf(err, errlen, r, "the firmware's debug port: %s", strerror(-r));
        if ((r = fwcfg_new(&fwcfg_vid_mem_ops, vm->p, &fw->fwcfg)) < 0 || (r = add_items(vm, fw->fwcfg)) < 0)
                return errorf(err, errlen, r, "the firmware's configuration (fw_cfg): %s", strerror(-r));
        if ((r = fwcfg_register(fw->fwcfg, vm->p)) < 0 ||
            (r = vmwp_devices_add(&vm->devices, &fwcfg_device_ops, fw->fwcfg)) < 0)
                return errorf(err, errlen, r, "fw_cfg: %s", strerror(-r));
        return 0;
}

void vmwp_vm_free_firmware(struct vmwp_vm *vm) {
        struct vmwp_firmware *fw = vm->firmware;
        if (!fw)
                return;
        fwcfg_free(fw->fwcfg);
        if (fw->debugcon_ok)
                debugcon_destroy(&fw->debugcon);
        free(fw);
        vm->firmware = NULL;
}
