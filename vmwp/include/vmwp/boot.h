/* SPDX-License-Identifier: MIT */
/* Boot loaders (docs/vmwp.md "Boot"): each is a pure function over the image
 * bytes and a guest-memory writer, so it runs the same against a real
 * partition, a unit test's fake RAM or a fuzzer.
 *
 * Guest physical layout below 1 MiB, shared by both paths:
 *   0x0500  boot GDT (null, null, 0x10 code64/code32, 0x18 data)
 *   0x6000  PVH hvm_start_info, 0x6100 its memory map
 *   0x7000  Linux boot_params ("zero page")
 *   0x9000  identity page tables (PML4, PDPT, 4 PDs: 0-4 GiB, 2 MiB pages)
 *   0x20000 kernel command line
 *   0x9fc00-0xfffff reserved (EBDA/VGA/BIOS area); the ACPI tables at 0xe0000,
 *                   vid's own pages at VID_RESERVED_RAM_GPA (0xfc000)
 *   0x100000 upwards: kernel, initrd (high), free RAM */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_GDT_GPA 0x500u
#define BOOT_PVH_INFO_GPA 0x6000u
#define BOOT_PVH_MODLIST_GPA 0x6040u /* one hvm_modlist_entry: the initrd */
#define BOOT_PVH_MEMMAP_GPA 0x6100u
#define BOOT_ZERO_PAGE_GPA 0x7000u
#define BOOT_STACK_TOP 0x8ff0u
#define BOOT_PAGE_TABLES_GPA 0x9000u
#define BOOT_PAGE_TABLES_SIZE (6u * 4096u)
#define BOOT_CMDLINE_GPA 0x20000u
#define BOOT_CMDLINE_MAX 4096u
#define BOOT_LOW_RESERVED_START 0x9fc00u
#define BOOT_HIGH_MEMORY 0x100000u
#define BOOT_ACPI_GPA 0xe0000u
#define BOOT_ACPI_SIZE 0x1c000u /* up to vid's reserved pages at 0xfc000 */

/* e820 / PVH memory map types (ACPI 6.5 §15, Xen start_info.h). */
#define BOOT_E820_RAM 1u
#define BOOT_E820_RESERVED 2u
#define BOOT_E820_ACPI 3u

#define BOOT_MAX_RAM_REGIONS 2u
#define BOOT_MAX_E820 8u

struct boot_ram_region {
        uint64_t gpa, size;
};

/* Where a loader writes. write() must itself refuse anything outside RAM
 * (gm_write does); the loaders check bounds first to give clear errors. */
struct boot_guest {
        int (*write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
        void *opaque;
        struct boot_ram_region ram[BOOT_MAX_RAM_REGIONS];
        size_t n_ram;
};

struct boot_e820 {
        uint64_t addr, size;
        uint32_t type;
};

/* The guest's memory map: RAM minus [0x9fc00, 1 MiB), which is reserved
 * (and holds the ACPI tables); the MMIO hole is simply absent. */
size_t boot_e820_build(const struct boot_guest *g, struct boot_e820 out[BOOT_MAX_E820]);

/* The same map as firmware reads it from fw_cfg's BOOT_E820_FILE (SeaBIOS
 * rel-1.16.2 src/fw/paravirt.c qemu_early_e820(), QEMU's struct e820_entry):
 * each entry {le64 address, le64 length, le32 type}, 20 bytes, no padding.
 * Returns the file's length in bytes. */
#define BOOT_E820_FILE "etc/e820"
#define BOOT_E820_FILE_ENTRY_SIZE 20u
#define BOOT_E820_FILE_MAX (BOOT_MAX_E820 * BOOT_E820_FILE_ENTRY_SIZE)
size_t boot_e820_file(const struct boot_guest *g, uint8_t out[BOOT_E820_FILE_MAX]);

enum boot_cpu_mode {
        BOOT_MODE_PROTECTED_FLAT, /* PVH: 32-bit flat, paging off */
        BOOT_MODE_LONG,           /* Linux 64-bit boot protocol */
};

/* The vCPU 0 state a loader asks for. */
struct boot_entry {
        enum boot_cpu_mode mode;
        uint64_t rip, rsi, rbx, rsp;
        uint64_t cr3, gdt_base;
        uint16_t gdt_limit;
};

struct boot_request {
        const uint8_t *image;
        size_t image_len;
        const uint8_t *initrd; /* NULL: none (PVH: passed as module 0) */
        size_t initrd_len;
        const char *cmdline;   /* may be NULL */
        uint64_t rsdp_gpa;     /* 0: no ACPI */
};

/* Errors are -errno plus a sentence in err ("ELF: segment 2 ends beyond RAM").
 * -ENOEXEC: not this kind of image; -EINVAL: malformed; -ERANGE: does not fit
 * in RAM or overlaps a reserved area; -ENOTSUP: valid but unsupported. */
int boot_pvh_load(const struct boot_request *req, const struct boot_guest *g, struct boot_entry *entry,
                  char *err, size_t errlen);
int boot_linux_load(const struct boot_request *req, const struct boot_guest *g, struct boot_entry *entry,
                    char *err, size_t errlen);

/* ---- the parsers inside the loaders, exposed for tests and fuzzers ---- */

#define BOOT_ELF_MAX_SEGMENTS 16u
struct boot_elf_segment {
        uint64_t paddr, filesz, memsz, offset;
};
struct boot_elf_info {
        bool is64;
        uint64_t pvh_entry; /* XEN_ELFNOTE_PHYS32_ENTRY (18) */
        size_t n_segments;
        struct boot_elf_segment seg[BOOT_ELF_MAX_SEGMENTS];
};
int boot_elf_parse(const uint8_t *img, size_t len, struct boot_elf_info *out, char *err, size_t errlen);

struct boot_linux_info {
        uint16_t version;
        uint8_t setup_sects;   /* as used (0 means 4) */
        size_t setup_size;     /* (setup_sects + 1) * 512 */
        size_t kernel_size;    /* image bytes after the setup code */
        uint32_t init_size, kernel_alignment, initrd_addr_max, cmdline_size;
        uint64_t pref_address;
        bool relocatable;
        uint16_t xloadflags;
        size_t header_end;     /* 0x202 + byte at 0x201 */
};
int boot_linux_parse(const uint8_t *img, size_t len, struct boot_linux_info *out, char *err, size_t errlen);

/* Identity page tables for 0-4 GiB (2 MiB pages) and the boot GDT, used by
 * the Linux path; written through g. */
int boot_write_page_tables(const struct boot_guest *g);
int boot_write_gdt(const struct boot_guest *g);
/* True if [gpa, gpa+len) lies inside one RAM region. */
bool boot_in_ram(const struct boot_guest *g, uint64_t gpa, uint64_t len);
