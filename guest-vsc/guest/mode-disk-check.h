/* SPDX-License-Identifier: MIT */
/* vsc.mode=disk-check internals: mode-disk-check.c (the mode, layout, bad
 * requests, UNMAP), mode-disk-io.c (region I/O at CPL3), mode-disk-durable.c
 * (numbered durable writes, vsc.disk.durable_blocks=). */
#pragma once

#include "mode-disk.h"

#define DISK_IO_QD 16u

/* One run of chunked I/O over [offset, offset + bytes) of a disk. */
struct disk_io {
        struct vsc_stor *s;
        const struct disk_lun *lun;
        uint8_t *buf;
        uint64_t offset, bytes, chunk_bytes;
        bool write, force16;
        uint64_t timeout_ns;
        uint64_t commands;
        /* vsc.disk.progress_ms: a disk_progress line this often (guest
         * clock) while requests run, 0: none; when the next is due (kept
         * from one run to the next: a region may take less); the region
         * it reports. */
        uint64_t progress_ns, next_progress_ns, progress_lines;
        unsigned region, regions;
        int err;
        char why[200];
};
/* CPL3 or CPL0: runs io to the end; 0, or < 0 with io->why set. */
int disk_io_run(struct disk_io *io);

/* The regions of one disk: `regions` of region_bytes each, the first at
 * offset 0 and the last ending at the disk's end, spread evenly between. */
struct disk_check {
        struct disk_env *e;
        const struct disk_lun *lun;
        uint32_t seed;
        unsigned regions;
        uint64_t region_bytes, align;
        bool write, compare;
        uint8_t *wbuf, *rbuf; /* region_bytes + one page each */
        struct disk_io io;
        uint64_t ns;
        uint64_t progress_ns; /* vsc.disk.progress_ms, in ns (0: off) */
};
uint64_t disk_region_offset(const struct disk_check *k, unsigned i);
/* cpu_run_user target: every region written (k->write) or read and, with
 * k->compare, checked against the pattern. */
long disk_check_regions(void *arg);

/* vsc.disk.durable_blocks=N: the durability run (mode-disk-durable.c). */
int disk_durable(struct disk_env *e, const struct disk_lun *l, uint32_t seed, unsigned blocks);
