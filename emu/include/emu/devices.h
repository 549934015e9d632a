/* SPDX-License-Identifier: MIT */
/* The emulated devices of one VM as one row of the worker's device table
 * (common/device.h, docs/vm-state.md): the CMOS RTC and the i8042 in
 * every VM, the PIIX3 PCI functions where there is a PCI bus, the IDE
 * controller with IDE disks, and the service thread they share. The
 * owner (vmwp) builds them; emu_device_ops quiesces, saves and restores
 * them: sections "RTC ", "KBC ", "IDEC" per channel, "PIIX"
 * (docs/saved-state.md). */
#pragma once

#include <stdbool.h>

#include "common/device.h"
#include "emu/i8042.h"
#include "emu/pci.h"
#include "emu/rtc.h"

struct emu_service;
struct ide_controller;
struct disk;

#define EMU_IDE_DISKS 4u

struct emu_devices {
        struct emu_service *svc;
        struct rtc rtc;
        struct i8042 kbd;
        struct ide_controller *ide;           /* NULL: no IDE disks */
        struct disk *disks[EMU_IDE_DISKS];    /* the IDE disks by slot (references), synced on quiesce */
        struct piix piix;
        bool piix_ok;                         /* PCI bus 0 (IDE disks or a display) */
};

/* Its dev is a struct emu_devices. Quiesce parks the service thread (the
 * IDE backend's disk reads completed first) and writes the IDE disks'
 * metadata; resume lets the RTC raise what came due while quiesced. */
extern const struct device_ops emu_device_ops;
