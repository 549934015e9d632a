/* SPDX-License-Identifier: MIT */
/* Which IDE disks a VM also offers on VMBus, and where (docs/storvsp.md
 * "IDE accelerator channels"): Hyper-V's enlightened IDE. Pure, so that
 * the decision is tested without KVM (tests/unit/test-storvsp-ide.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "storvsp/provider.h"

#define VMWP_IDE_VMBUS_MAX (STORVSP_IDE_CHANNELS * STORVSP_IDE_POSITIONS)

struct vmwp_ide_vmbus_offer {
        uint32_t disk; /* index in vm_config.disks */
        unsigned slot; /* the disk's IDE location: channel * 2 + position (its lun) */
        struct storvsp_ide_offer offer;
};

/* Every IDE disk of a firmware-boot VM, in configuration order; none for
 * a direct kernel boot, whose guest sees no "Microsoft Corporation" /
 * "Virtual Machine" SMBIOS and so keeps its IDE disks on ata_piix (offered
 * on VMBus too, each would appear twice). DVD drives never: Linux keeps
 * ATAPI devices on ata_piix. A disk outside the four IDE locations is
 * skipped (the emulated IDE controller refuses it). Returns the count. */
unsigned vmwp_ide_vmbus_plan(const struct vm_config *c, struct vmwp_ide_vmbus_offer out[static VMWP_IDE_VMBUS_MAX]);

/* The serial number of the IDE disk or drive at slot of the VM with this
 * id: its IDENTIFY's serial (vm-emu.c) and, for a disk, its IDE channel's
 * VPD 80h, so that both paths name one disk alike; stable across
 * restarts. slot 0..3: 18 characters. */
void vmwp_ide_disk_serial(const struct guid *vm_id, unsigned slot, char *buf, size_t len);
/* The IDE channel's VPD 83h NAA id (low 60 bits): from the VM id and the
 * slot, distinct per slot and never 0 (a SCSI LUN's default), so that two
 * disks never share a /dev/disk/by-id/wwn- name. */
uint64_t vmwp_ide_disk_naa(const struct guid *vm_id, unsigned slot);
