/* SPDX-License-Identifier: MIT */
/* What a guest reads as a SCSI disk's identity (docs/storvsp.md "Disk
 * identity"): the VPD 80h unit serial and the VPD 83h NAA id of each LUN,
 * from the VM id, the controller and the LUN, so that they are the same
 * in every worker that runs the VM (a restart, a restore, a migration's
 * destination: all build the LUNs from the same configuration) and
 * distinct across the VM's disks, IDE ones included (vmwp/ide-vmbus.h).
 * Linux's udev names /dev/disk/by-id/scsi-3<NAA> and wwn-0x<NAA> after the
 * NAA id: a duplicate would give two disks one name. Pure, tested in
 * tests/unit/test-storvsp-disk-id.c. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/guid.h"
#include "disk/disk.h"
#include "scsi/scsi.h"

/* FNV-1a over the VM id's 16 bytes (also the IDE disks' NAA ids). */
uint64_t vmwp_vm_id_hash(const struct guid *vm_id);
/* "<16 hex digits>-<controller>-<lun>": a hash of the whole VM id (two
 * ids that share a prefix still differ); at most 21 characters. */
void vmwp_scsi_disk_serial(const struct guid *vm_id, unsigned controller, unsigned lun, char *buf, size_t len);
/* The low 60 bits of the NAA 3h (locally assigned) designator: the
 * hash's low 48 bits, the controller (0..3) and LUN (0..63), and a low
 * nibble of 4, which no IDE disk's id has (8..Bh), so never 0. */
uint64_t vmwp_scsi_disk_naa(const struct guid *vm_id, unsigned controller, unsigned lun);
/* The LUN's SCSI view of disk info for configuration entry dc (a SCSI
 * disk) of the VM with this id: geometry and discard from the disk, the
 * identity above. */
void vmwp_scsi_lun_config(const struct guid *vm_id, const struct vm_disk_config *dc, const struct disk_info *info,
                          struct scsi_lun_config *lc);
