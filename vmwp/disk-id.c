// SPDX-License-Identifier: MIT
/* A SCSI disk's identity as the guest reads it (vmwp/disk-id.h). */
#include <stdio.h>

#include "vmwp/disk-id.h"

uint64_t vmwp_vm_id_hash(const struct guid *vm_id) {
        uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the whole id */
        for (unsigned i = 0; i < sizeof vm_id->b; i++)
                h = (h ^ vm_id->b[i]) * 0x100000001b3ull;
        return h;
}

void vmwp_scsi_disk_serial(const struct guid *vm_id, unsigned controller, unsigned lun, char *buf, size_t len) {
        snprintf(buf, len, "%016llX-%u-%u", (unsigned long long)vmwp_vm_id_hash(vm_id), controller, lun);
}

uint64_t vmwp_scsi_disk_naa(const struct guid *vm_id, unsigned controller, unsigned lun) {
        uint64_t where = (uint64_t)(controller & 0x3) << 6 | (lun & 0x3f);
        return (vmwp_vm_id_hash(vm_id) << 12 | where << 4 | 0x4) & 0x0fffffffffffffffull;
}

void vmwp_scsi_lun_config(const struct guid *vm_id, const struct vm_disk_config *dc, const struct disk_info *info,
                          struct scsi_lun_config *lc) {
        scsi_lun_config_init(lc, info->size / info->block_size, info->block_size);
        lc->read_only = info->read_only;
        lc->discard = info->discard;
        lc->discard_zeroes = info->discard_zeroes;
        vmwp_scsi_disk_serial(vm_id, dc->controller, dc->lun, lc->serial, sizeof lc->serial);
        lc->naa_id = vmwp_scsi_disk_naa(vm_id, dc->controller, dc->lun);
}
