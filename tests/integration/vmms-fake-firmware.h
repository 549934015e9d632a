/* SPDX-License-Identifier: MIT */
/* The fake worker's firmware (vmms-fake-firmware.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct vm_config;

/* What SeaBIOS would decide for a firmware VM: "booted" when an IDE
 * disk's first sector carries the boot signature or a DVD drive holds an
 * ISO, else "no-bootable-device"; NULL for the other boot kinds and for a
 * restored VM (its boot happened before). disk_fds: the configuration's
 * images in its order. */
const char *fake_firmware_boot(const struct vm_config *c, const int *disk_fds, size_t n_disk_fds, bool restored);
