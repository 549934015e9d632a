// SPDX-License-Identifier: MIT
/* Which IDE disks a VM also offers on VMBus (vmwp/ide-vmbus.h). */
#include <stdbool.h>
#include <stdio.h>

#include "vmwp/disk-id.h"
#include "vmwp/ide-vmbus.h"

unsigned vmwp_ide_vmbus_plan(const struct vm_config *c, struct vmwp_ide_vmbus_offer out[static VMWP_IDE_VMBUS_MAX]) {
        unsigned n = 0;
        if (c->boot_kind != VM_BOOT_FIRMWARE)
                return 0;
        for (uint32_t i = 0; i < c->n_disks && i < VM_DISKS_MAX && n < VMWP_IDE_VMBUS_MAX; i++) {
                const struct vm_disk_config *dc = &c->disks[i];
                struct vmwp_ide_vmbus_offer o = { .disk = i, .slot = dc->lun };
                if (dc->bus != VM_DISK_IDE ||
                    storvsp_ide_offer(dc->lun / STORVSP_IDE_POSITIONS, dc->lun % STORVSP_IDE_POSITIONS, &o.offer) < 0)
                        continue;
                bool taken = false; /* two disks at one location: the emulated controller refuses the VM */
                for (unsigned k = 0; k < n; k++)
                        taken |= out[k].slot == o.slot;
                if (!taken)
                        out[n++] = o;
        }
        return n;
}

void vmwp_ide_disk_serial(const struct guid *vm_id, unsigned slot, char *buf, size_t len) {
        const uint8_t *g = vm_id->b;
        snprintf(buf, len, "%02X%02X%02X%02X%02X%02X%02X%02X-%u", g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                 slot);
}

uint64_t vmwp_ide_disk_naa(const struct guid *vm_id, unsigned slot) {
        uint64_t h = vmwp_vm_id_hash(vm_id);
        return (h << 4 | 0x8 | (slot & 0x7)) & 0x0fffffffffffffffull;
}
