/* SPDX-License-Identifier: MIT */
/* Which IDE disks a VM also offers on VMBus, and where (docs/storvsp.md
 * "IDE accelerator channels"): Hyper-V's enlightened IDE. Pure, so that
 * the decision is tested without KVM (tests/unit/test-storvsp-ide.c). */
#pragma once

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
