// SPDX-License-Identifier: MIT
/* The fake worker's firmware: the boot decision of SeaBIOS (src/boot.c:
 * a hard disk boots when its MBR ends in 0x55 0xAA, a DVD when it holds
 * an El Torito image; the fake takes any ISO for one), so that vmms's
 * BootStatus can be tested without KVM. The worker reports it as vmwp
 * does (common/proto.h "firmware" event, docs/firmware.md). */
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "common/config.h"
#include "vmms-fake-firmware.h"

static bool has_boot_signature(int fd) {
        uint8_t sig[2];
        return fd >= 0 && pread(fd, sig, sizeof sig, 510) == (ssize_t)sizeof sig && sig[0] == 0x55 && sig[1] == 0xaa;
}

const char *fake_firmware_boot(const struct vm_config *c, const int *disk_fds, size_t n_disk_fds, bool restored) {
        if (c->boot_kind != VM_BOOT_FIRMWARE || restored)
                return NULL;
        for (uint32_t i = 0; i < c->n_dvds; i++)
                if (c->dvds[i].path[0])
                        return "booted";
        for (uint32_t i = 0; i < c->n_disks && i < n_disk_fds; i++)
                if (c->disks[i].bus == VM_DISK_IDE && has_boot_signature(disk_fds[i]))
                        return "booted";
        return "no-bootable-device";
}
