/* SPDX-License-Identifier: MIT */
/* Shared by config.c, config-parse.c and config-write.c: the names of the
 * configuration's enum values, indexed by value (config.c), which the
 * parser accepts and the writer writes. */
#pragma once

#include "common/config.h"

extern const char *const vm_config_boot_kinds[VM_BOOT_FIRMWARE + 1];
extern const char *const vm_config_boot_devices[VM_BOOT_DEVICE_DISK + 1];
extern const char *const vm_config_restart_policies[VM_RESTART_ALWAYS + 1];
extern const char *const vm_config_checkpoint_types[VM_CHECKPOINT_DISABLED + 1];
extern const char *const vm_config_disk_buses[VM_DISK_IDE + 1];
extern const char *const vm_config_disk_formats[VM_DISK_VHDX + 1];
