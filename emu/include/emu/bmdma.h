/* SPDX-License-Identifier: MIT */
/* Bus-master IDE DMA (the PIIX/PIIX3 "BMIDE" function, Intel 82371FB/SB
 * datasheet §2.7 and SFF-8038i): register bits and the pure physical
 * region descriptor (PRD) table walker, fuzzed by fuzz-ide-prd.c.
 *
 * A PRD is two little-endian dwords: the physical base address (bit 0
 * reserved), and the byte count in bits 15-1 (0 = 64 KiB) with EOT in
 * bit 31. The walker reads the table through a callback (gm_read in the
 * worker), stops at EOT or when the transfer is covered, and never takes
 * more than BMDMA_MAX_PRD entries. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits (docs/THREAT_MODEL.md). Linux's libata uses at most 256
 * entries (ATA_MAX_PRD); a command moves at most 65,536 sectors. */
#define BMDMA_MAX_PRD 512u
#define BMDMA_MAX_BYTES (65536ull * 512u)

/* Bus master IDE command register (offset 0). */
#define BM_CMD_START 0x01u
#define BM_CMD_WRITE_MEM 0x08u /* "RWCON": 1 = the bus master writes memory (device -> host) */
/* Bus master IDE status register (offset 2). */
#define BM_STS_ACTIVE 0x01u
#define BM_STS_ERROR 0x02u     /* write one to clear */
#define BM_STS_INTR 0x04u      /* write one to clear */
#define BM_STS_DMA0 0x20u      /* drive 0 DMA capable (read/write) */
#define BM_STS_DMA1 0x40u
#define BM_STS_SIMPLEX 0x80u   /* read-only zero: both channels may run at once */
#define BM_PRD_EOT 0x80000000u

struct bmdma_segment {
        uint64_t gpa;
        uint32_t len;
};

struct bmdma_walk {
        struct bmdma_segment seg[BMDMA_MAX_PRD];
        unsigned n_seg;
        uint64_t bytes;   /* covered: min(wanted, the table's total) */
        unsigned entries; /* descriptors read */
        bool exact;       /* the table's EOT entry ends exactly at the transfer's end */
};

typedef int (*bmdma_read_fn)(void *opaque, uint64_t gpa, void *buf, size_t len);

/* Walks the table at table_gpa (the register value: dword aligned) for a
 * transfer of want bytes (1..BMDMA_MAX_BYTES). Returns 0 when the table
 * covers it, -ENODATA when the table ends (EOT) before want bytes,
 * -E2BIG after BMDMA_MAX_PRD entries without reaching either, the read
 * callback's error (-EFAULT: the table is not in RAM), -EINVAL for a bad
 * want. out is filled as far as the walk got. */
int bmdma_prd_walk(bmdma_read_fn rd, void *opaque, uint32_t table_gpa, uint64_t want, struct bmdma_walk *out);
