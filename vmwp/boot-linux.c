// SPDX-License-Identifier: MIT
/* Linux bzImage, 64-bit boot protocol (Documentation/x86/boot.rst,
 * "THE LINUX/x86 BOOT PROTOCOL" and "64-bit BOOT PROTOCOL"). The setup
 * header and boot_params come from the kernel's UAPI header; we require
 * protocol 2.12+ (xloadflags, XLF_KERNEL_64) and set acpi_rsdp_addr from
 * 2.14 on. The 16-bit setup code is not run: we fill boot_params ourselves
 * and jump to the 64-bit entry at load address + 0x200. */
#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "boot-internal.h"

#define HDR_OFFSET offsetof(struct boot_params, hdr) /* 0x1f1 */
#define HDR_MAGIC 0x53726448u                         /* "HdrS" */
#define BOOT_FLAG 0xaa55u
#define MIN_VERSION 0x020c
#define RSDP_VERSION 0x020e
#define LOADER_TYPE_UNDEFINED 0xff
#define DEFAULT_LOAD 0x100000u
#define DEFAULT_INITRD_MAX 0x37ffffffu /* boot.rst: protocols before 2.03 */
#define ENTRY_64_OFFSET 0x200u
/* The end of the real-mode heap, relative to the real-mode code, minus
 * 0x200 (boot.rst "heap_end_ptr"): the whole 64 KiB segment. */
#define HEAP_END_PTR 0xfe00u

ASSERT_OFFSET(struct boot_params, acpi_rsdp_addr, 0x070);
ASSERT_OFFSET(struct boot_params, e820_entries, 0x1e8);
ASSERT_OFFSET(struct boot_params, hdr, 0x1f1);
ASSERT_OFFSET(struct boot_params, e820_table, 0x2d0);
ASSERT_OFFSET(struct setup_header, header, 0x202 - 0x1f1);
ASSERT_OFFSET(struct setup_header, xloadflags, 0x236 - 0x1f1);
ASSERT_OFFSET(struct setup_header, pref_address, 0x258 - 0x1f1);
ASSERT_SIZE(struct boot_params, 4096);

int boot_linux_parse(const uint8_t *img, size_t len, struct boot_linux_info *out, char *err, size_t errlen) {
        struct setup_header h;
        /* zeroed on every error path: a caller never depends on each
         * errorf() returning a negative value to skip reading it */
        *out = (struct boot_linux_info){ 0 };
        if (len < HDR_OFFSET + sizeof h)
                return errorf(err, errlen, -ENOEXEC, "not a bzImage (%zu bytes, too short)", len);
        memcpy(&h, img + HDR_OFFSET, sizeof h);
        if (h.boot_flag != BOOT_FLAG || h.header != HDR_MAGIC)
                return errorf(err, errlen, -ENOEXEC, "not a bzImage (no 0xAA55 boot flag / \"HdrS\" header)");
        if (h.version < MIN_VERSION)
                return errorf(err, errlen, -ENOTSUP,
                                  "bzImage boot protocol %u.%02u is too old: 2.12 or newer required",
                                  h.version >> 8, h.version & 0xff);
        if (!(h.loadflags & LOADED_HIGH))
                return errorf(err, errlen, -ENOTSUP, "zImage (not loaded high) is not supported");
        if (!(h.xloadflags & XLF_KERNEL_64))
                return errorf(err, errlen, -ENOTSUP, "kernel has no 64-bit entry point (XLF_KERNEL_64)");
        *out = (struct boot_linux_info){ .version = h.version, .xloadflags = h.xloadflags,
                                         .setup_sects = h.setup_sects ? h.setup_sects : 4,
                                         .init_size = h.init_size, .kernel_alignment = h.kernel_alignment,
                                         .initrd_addr_max = h.initrd_addr_max ? h.initrd_addr_max : DEFAULT_INITRD_MAX,
                                         .cmdline_size = h.cmdline_size, .pref_address = h.pref_address,
                                         .relocatable = h.relocatable_kernel != 0 };
        out->setup_size = ((size_t)out->setup_sects + 1) * 512;
        if (len <= out->setup_size)
                return errorf(err, errlen, -EINVAL, "bzImage truncated: %zu bytes, setup alone is %zu", len,
                                  out->setup_size);
        out->kernel_size = len - out->setup_size;
        /* syssize counts 16-byte paragraphs of the protected-mode code
         * (rounded up, hence the slack of one paragraph). */
        if ((uint64_t)h.syssize * 16 > (uint64_t)out->kernel_size + 15)
                return errorf(err, errlen, -EINVAL, "bzImage truncated: syssize says %llu bytes, file has %zu",
                                  (unsigned long long)h.syssize * 16, out->kernel_size);
        if (out->relocatable &&
            (out->kernel_alignment == 0 || (out->kernel_alignment & (out->kernel_alignment - 1))))
                return errorf(err, errlen, -EINVAL, "bzImage: kernel_alignment 0x%x is not a power of two",
                                  out->kernel_alignment);
        /* The header ends at 0x202 + the jump's offset byte (boot.rst). */
        out->header_end = MIN((size_t)0x202 + img[0x201], HDR_OFFSET + sizeof h);
        return 0;
}

/* Where the protected-mode kernel goes: pref_address if it fits (a
 * non-relocatable kernel moves itself there anyway), else the lowest
 * suitably aligned address from 1 MiB. It needs max(init_size, file size). */
static int place_kernel(const struct boot_linux_info *k, const struct boot_guest *g, uint64_t *load,
                        uint64_t *span, char *err, size_t errlen) {
        uint64_t need = MAX((uint64_t)k->init_size, (uint64_t)k->kernel_size);
        uint64_t low_end = boot_low_ram_end(g);
        uint64_t at = k->pref_address ? k->pref_address : DEFAULT_LOAD;
        if (k->relocatable)
                at = ALIGN_UP(at, (uint64_t)k->kernel_alignment);
        if (at < BOOT_HIGH_MEMORY || !boot_in_ram(g, at, need) || at + need > low_end) {
                if (!k->relocatable)
                        return errorf(err, errlen, -ERANGE,
                                          "kernel needs %llu MiB at 0x%llx, more than the guest's low RAM",
                                          (unsigned long long)(need >> 20), (unsigned long long)at);
                at = ALIGN_UP((uint64_t)BOOT_HIGH_MEMORY, (uint64_t)k->kernel_alignment);
        }
        if (!boot_in_ram(g, at, need) || at + need > low_end)
                return errorf(err, errlen, -ERANGE, "kernel needs %llu KiB from 0x%llx: not enough RAM",
                                  (unsigned long long)(need >> 10), (unsigned long long)at);
        *load = at;
        *span = need;
        return 0;
}

/* The initrd goes as high as allowed (initrd_addr_max, low RAM end),
 * page aligned, above the kernel's decompression area (boot.rst). */
static int place_initrd(const struct boot_linux_info *k, const struct boot_guest *g, size_t len,
                        uint64_t kernel_end, uint64_t *at, char *err, size_t errlen) {
        uint64_t limit = MIN((uint64_t)k->initrd_addr_max + 1, boot_low_ram_end(g));
        if (len > limit || ALIGN_DOWN(limit - len, 4096) < kernel_end)
                return errorf(err, errlen, -ERANGE,
                                  "initrd of %zu KiB does not fit between the kernel (ends 0x%llx) and 0x%llx",
                                  len >> 10, (unsigned long long)kernel_end, (unsigned long long)limit);
        *at = ALIGN_DOWN(limit - len, 4096);
        return 0;
}

static void fill_e820(struct boot_params *bp, const struct boot_guest *g) {
        struct boot_e820 map[BOOT_MAX_E820];
        size_t n = boot_e820_build(g, map);
        for (size_t i = 0; i < n; i++)
                bp->e820_table[i] = (struct boot_e820_entry){ .addr = map[i].addr, .size = map[i].size,
                                                              .type = map[i].type };
        bp->e820_entries = (uint8_t)n;
}

static int write_all(const struct boot_request *req, const struct boot_guest *g, const struct boot_params *bp,
                     const struct boot_linux_info *k, uint64_t load, size_t cl) {
        int r = g->write(g->opaque, load, req->image + k->setup_size, k->kernel_size);
        if (r >= 0 && req->initrd)
                r = g->write(g->opaque, bp->hdr.ramdisk_image, req->initrd, req->initrd_len);
        if (r >= 0)
                r = g->write(g->opaque, BOOT_CMDLINE_GPA, cl ? req->cmdline : "", cl + 1);
        if (r >= 0)
                r = g->write(g->opaque, BOOT_ZERO_PAGE_GPA, bp, sizeof *bp);
        if (r >= 0)
                r = boot_write_gdt(g);
        if (r >= 0)
                r = boot_write_page_tables(g);
        return r;
}

int boot_linux_load(const struct boot_request *req, const struct boot_guest *g, struct boot_entry *entry,
                    char *err, size_t errlen) {
        struct boot_linux_info k;
        int r = boot_linux_parse(req->image, req->image_len, &k, err, errlen);
        if (r < 0)
                return r;
        if (!boot_in_ram(g, 0, BOOT_LOW_RESERVED_START))
                return errorf(err, errlen, -ERANGE, "Linux boot needs RAM from 0 to 0x%x", BOOT_LOW_RESERVED_START);
        size_t cl = req->cmdline ? strlen(req->cmdline) : 0;
        if (cl > k.cmdline_size || cl >= BOOT_CMDLINE_MAX)
                return errorf(err, errlen, -E2BIG, "command line is %zu bytes; the kernel accepts %u", cl,
                                  MIN(k.cmdline_size, BOOT_CMDLINE_MAX - 1));
        uint64_t load = 0, span = 0, initrd_at = 0;
        if ((r = place_kernel(&k, g, &load, &span, err, errlen)) < 0)
                return r;
        if (req->initrd && (r = place_initrd(&k, g, req->initrd_len, load + span, &initrd_at, err, errlen)) < 0)
                return r;

        _cleanup_free_ struct boot_params *bp = calloc(1, sizeof *bp);
        if (!bp)
                return -ENOMEM;
        /* Copy the header as the kernel wrote it, then fill in the fields
         * a boot loader owns (boot.rst "Details of header fields"). */
        memcpy((uint8_t *)bp + HDR_OFFSET, req->image + HDR_OFFSET, k.header_end - HDR_OFFSET);
        bp->hdr.vid_mode = 0xffff; /* "normal" */
        bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
        bp->hdr.loadflags = (uint8_t)((bp->hdr.loadflags | CAN_USE_HEAP) & ~KEEP_SEGMENTS);
        bp->hdr.heap_end_ptr = HEAP_END_PTR;
        bp->hdr.code32_start = (uint32_t)load;
        bp->hdr.cmd_line_ptr = BOOT_CMDLINE_GPA;
        bp->hdr.ramdisk_image = (uint32_t)initrd_at;
        bp->hdr.ramdisk_size = req->initrd ? (uint32_t)req->initrd_len : 0;
        bp->hdr.setup_data = 0;
        if (k.version >= RSDP_VERSION)
                bp->acpi_rsdp_addr = req->rsdp_gpa;
        fill_e820(bp, g);

        if ((r = write_all(req, g, bp, &k, load, cl)) < 0)
                return errorf(err, errlen, r, "writing the kernel into guest memory failed");
        *entry = (struct boot_entry){ .mode = BOOT_MODE_LONG, .rip = load + ENTRY_64_OFFSET,
                                      .rsi = BOOT_ZERO_PAGE_GPA, .rsp = BOOT_STACK_TOP,
                                      .cr3 = BOOT_PAGE_TABLES_GPA, .gdt_base = BOOT_GDT_GPA, .gdt_limit = 31 };
        return 0;
}
