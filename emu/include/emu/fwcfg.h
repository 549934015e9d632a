/* SPDX-License-Identifier: MIT */
/* fwcfg: QEMU's firmware configuration device on x86 ports, the one
 * Debian's SeaBIOS (and OVMF) read (QEMU docs/specs/fw_cfg.rst;
 * docs/emulated-devices.md, "fw_cfg"):
 *
 *   0x510  selector, 16-bit write (a byte read there reads data, as in QEMU)
 *   0x511  data, byte reads advance the offset; past the end they read 0
 *   0x514  DMA address, high 32 bits, big-endian (latched)
 *   0x518  DMA address, low 32 bits, big-endian: the write starts the DMA
 *          (reads of 0x514-0x51b return "QEMU CFG")
 *
 * Items: the signature "QEMU" (0x0000), the feature bits (0x0001:
 * traditional + DMA), the file directory (0x0019) and files from 0x0020 up,
 * sorted by name as QEMU does, plus numeric items the builder adds (CPU
 * counts, boot menu, ...). Nothing is guest-writable: a DMA write sets the
 * error bit.
 *
 * The register decoder (fwcfg_read/fwcfg_write) is pure: it touches guest
 * memory only through the caller's callbacks, which return -EFAULT outside
 * RAM (fuzz-fwcfg.c). A DMA whose descriptor or buffer lies outside RAM, or
 * that asks for more than FWCFG_DMA_MAX_BYTES, gets the error bit. It runs
 * on the vCPU thread that wrote 0x518, under the device's lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/vmstate.h"

struct vid_partition;
struct fwcfg;

#define FWCFG_PORT_SELECTOR 0x510u
#define FWCFG_PORT_DATA 0x511u
#define FWCFG_PORT_DMA 0x514u     /* 8 ports: 0x514 high half, 0x518 low half */
#define FWCFG_PORT_DMA_LOW 0x518u
#define FWCFG_DMA_PORTS 8u

/* Item keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h; the ones
 * SeaBIOS 1.16.2 reads: src/fw/paravirt.c:264-277). Bit 15: the
 * architecture's own items; bit 14: QEMU's old write channel, ignored
 * (the key selects the same item). */
#define FWCFG_SIGNATURE 0x0000u
#define FWCFG_ID 0x0001u
#define FWCFG_UUID 0x0002u
#define FWCFG_RAM_SIZE 0x0003u
#define FWCFG_NOGRAPHIC 0x0004u
#define FWCFG_NB_CPUS 0x0005u
#define FWCFG_NUMA 0x000du
#define FWCFG_BOOT_MENU 0x000eu
#define FWCFG_MAX_CPUS 0x000fu
#define FWCFG_FILE_DIR 0x0019u
#define FWCFG_FILE_FIRST 0x0020u
#define FWCFG_WRITE_CHANNEL 0x4000u
#define FWCFG_ARCH_LOCAL 0x8000u
#define FWCFG_ENTRY_MASK 0x3fffu
#define FWCFG_ACPI_TABLES (FWCFG_ARCH_LOCAL + 0u)
#define FWCFG_SMBIOS_ENTRIES (FWCFG_ARCH_LOCAL + 1u)
#define FWCFG_IRQ0_OVERRIDE (FWCFG_ARCH_LOCAL + 2u)
#define FWCFG_E820_TABLE (FWCFG_ARCH_LOCAL + 3u)

/* FWCFG_ID bits. */
#define FWCFG_VERSION_TRADITIONAL 0x1u
#define FWCFG_VERSION_DMA 0x2u

/* The DMA access structure in guest RAM: {be32 control, be32 length,
 * be64 address}; the device writes control back (0, or ERROR). */
#define FWCFG_DMA_CTL_ERROR 0x01u
#define FWCFG_DMA_CTL_READ 0x02u
#define FWCFG_DMA_CTL_SKIP 0x04u
#define FWCFG_DMA_CTL_SELECT 0x08u /* bits 31-16: the key */
#define FWCFG_DMA_CTL_WRITE 0x10u
#define FWCFG_DMA_ACCESS_SIZE 16u

/* One directory entry: {be32 size, be16 select, be16 reserved, name[56]}. */
#define FWCFG_DIR_ENTRY_SIZE 64u
#define FWCFG_FILE_NAME_SIZE 56u

/* Hard limits (docs/THREAT_MODEL.md). */
#define FWCFG_MAX_FILES 64u                /* files in the directory */
#define FWCFG_FILE_NAME_MAX 55u            /* characters, NUL not counted */
#define FWCFG_ITEM_MAX_BYTES (16u << 20)   /* one item, file or numeric */
#define FWCFG_TOTAL_MAX_BYTES (64u << 20)  /* all items together */
#define FWCFG_LEGACY_ITEMS 0x20u           /* numeric keys 0x00-0x1f and 0x8000-0x801f */
#define FWCFG_DMA_MAX_BYTES (16u << 20)    /* one DMA operation's length */

/* Guest physical memory, supplied by the owner: 0, or -EFAULT unless
 * [gpa, gpa + len) lies entirely in RAM (nothing is copied then). */
struct fwcfg_mem_ops {
        int (*read)(void *opaque, uint64_t gpa, void *buf, size_t len);
        int (*write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
};

struct fwcfg_stats {
        uint64_t dma_ops;    /* DMA operations started */
        uint64_t dma_errors; /* of them, ended with the error bit */
        uint64_t dma_bytes;  /* bytes read or skipped by DMA */
        uint64_t pio_bytes;  /* data-port reads */
};

/* mem may be NULL: no DMA (FWCFG_ID says so, writes of 0x518 do nothing). */
int fwcfg_new(const struct fwcfg_mem_ops *mem, void *opaque, struct fwcfg **out);
void fwcfg_free(struct fwcfg *f); /* accepts NULL */

/* ---- the builder's side (before the guest runs) ---- */

/* A named file, copied: a new directory entry, keys reassigned so that they
 * follow the names' order (strcmp), as QEMU does. -EINVAL: an empty name,
 * longer than FWCFG_FILE_NAME_MAX, or len above FWCFG_ITEM_MAX_BYTES;
 * -EEXIST: the name is taken; -ENOSPC: FWCFG_MAX_FILES files already, or
 * FWCFG_TOTAL_MAX_BYTES would be passed; -ENOMEM. */
int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, size_t len);
/* A numeric (pre-file) item at key, copied: keys 0x00-0x1f or
 * 0x8000-0x801f other than the signature, ID and directory. -EINVAL
 * another key or len, -EEXIST already set. The fwcfg_add_uN forms store
 * the value little-endian, as QEMU's fw_cfg_add_iN. */
int fwcfg_add_bytes(struct fwcfg *f, uint16_t key, const void *data, size_t len);
int fwcfg_add_u16(struct fwcfg *f, uint16_t key, uint16_t value);
int fwcfg_add_u32(struct fwcfg *f, uint16_t key, uint32_t value);
int fwcfg_add_u64(struct fwcfg *f, uint16_t key, uint64_t value);
/* The key a file got (the directory's current order), or -ENOENT. */
int fwcfg_file_key(struct fwcfg *f, const char *name);

/* ---- the guest's side (vCPU threads; the fuzzer and unit tests) ---- */

/* port: 0x510-0x511 or 0x514-0x51b, len 1, 2 or 4; value as the port
 * access carries it (little-endian in the register). Unclaimed widths
 * read 0 and write nothing. */
uint32_t fwcfg_read(struct fwcfg *f, uint16_t port, unsigned len);
void fwcfg_write(struct fwcfg *f, uint16_t port, unsigned len, uint32_t value);
/* Machine reset: the signature selected, offset 0, no DMA address latched. */
void fwcfg_reset(struct fwcfg *f);
void fwcfg_get_stats(struct fwcfg *f, struct fwcfg_stats *out);

/* Claims 0x510-0x511 and 0x514-0x51b on p. */
int fwcfg_register(struct fwcfg *f, struct vid_partition *p);
/* Guest memory through vid's bounds-checked gm_read/gm_write; its opaque
 * is the struct vid_partition (fwcfg_new(&fwcfg_vid_mem_ops, p, &f)). */
extern const struct fwcfg_mem_ops fwcfg_vid_mem_ops;

/* ---- saved state (docs/saved-state.md, "FWCF") ----
 * The selector, the data offset, the latched DMA address, and a CRC-32C of
 * the items' shape (the directory's bytes, every numeric item's key and
 * length): a restore into a VM whose items differ is refused (-EINVAL), so a
 * guest mid-read never reads another VM's data at its offset. */
#define FWCFG_STATE_TAG VMSTATE_TAG('F', 'W', 'C', 'F')
struct fwcfg_state {
        uint16_t selector;
        uint32_t offset;
        uint64_t dma_addr;
        uint32_t items_crc;
};
extern const struct vmstate_desc fwcfg_state_desc;
void fwcfg_get_state(struct fwcfg *f, struct fwcfg_state *out);
/* Pure: decodes a FWCF section (offset at most FWCFG_ITEM_MAX_BYTES, the
 * latch's low half zero: it is only ever the high half). */
int fwcfg_state_decode(const struct vmstate_section *s, struct fwcfg_state *out, char *err, size_t errlen);
/* -EINVAL (a sentence) unless the items' CRC is this device's and the
 * offset lies within the selected item; applies nothing then. */
int fwcfg_set_state(struct fwcfg *f, const struct fwcfg_state *st, char *err, size_t errlen);

/* fw_cfg's row of the worker's device table (common/device.h, emu/fwcfg-state.c):
 * section "FWCF"; its dev is the struct fwcfg. Only in a VM that boots
 * through firmware. */
extern const struct device_ops fwcfg_device_ops;
