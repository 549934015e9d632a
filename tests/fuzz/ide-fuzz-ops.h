/* SPDX-License-Identifier: MIT */
/* What the IDE fuzz targets share: their images, the check that a
 * request's buffer lies in their guest RAM, and ops 0-5 of a record. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "disk/disk.h"
#include "emu/ide.h"
#include "tests/fuzz/fuzz-check.h"

/* An image of bytes zeros in a temporary file (gone once open). */
static inline struct disk *ide_fuzz_image(uint64_t bytes, bool read_only) {
        char path[] = "/tmp/fuzz-ide-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        CHECK(ftruncate(fd, (off_t)bytes) == 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .read_only = read_only,
                                  .no_lock = true, .buffered = true };
        struct disk *d;
        CHECK(disk_open(&o, &d) == 0);
        unlink(path);
        return d;
}

/* [p, p + len) inside [base, base + size). */
static inline bool ide_fuzz_inside(const void *p, size_t len, const void *base, size_t size) {
        const uint8_t *a = p, *b = base;
        return a >= b && len <= size && (size_t)(a - b) <= size - len;
}

/* The register accesses: ops 0-5 of a record (the channel's command
 * block, its control register, a bus-master register). Returns false for
 * an op past them (the target's own). */static inline bool ide_fuzz_register_op(struct ide_controller *c, unsigned op, unsigned ch, unsigned a,
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
