/* SPDX-License-Identifier: MIT */
/* The register accesses the IDE fuzz targets share: ops 0-5 of a record
 * (the channel's command block, its control register, a bus-master
 * register). Returns false for an op past them (the target's own). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "emu/ide.h"

static inline bool ide_fuzz_register_op(struct ide_controller *c, unsigned op, unsigned ch, unsigned a,
                                        unsigned bm_reg, unsigned len, uint32_t v) {
        switch (op) {
        case 0:
                ide_cmd_write(c, ch, (a >> 1) & 7, len, v);
                return true;
        case 1:
                (void)ide_cmd_read(c, ch, (a >> 1) & 7, len);
                return true;
        case 2:
                ide_ctl_write(c, ch, (uint8_t)v);
                return true;
        case 3:
                (void)ide_ctl_read(c, ch);
                return true;
        case 4:
                ide_bm_write(c, bm_reg, len, v);
                return true;
        case 5:
                (void)ide_bm_read(c, bm_reg, len);
                return true;
        default:
                return false;
        }
}
