// SPDX-License-Identifier: MIT
/* The bzImage loader (64-bit boot protocol) against synthetic images: what
 * it writes into boot_params, where kernel and initrd go, and the clear
 * errors for everything it refuses. The real Debian kernel is checked in
 * test-vmwp-linux-debian.c. */
#include <asm/bootparam.h>

#include "common/test.h"
#include "tests/lib/fake-guest.h"
#include "vmwp/boot.h"

#define RAM (64u << 20)
#define KERNEL_BYTES 8192u

static uint8_t img[5 * 512 + KERNEL_BYTES];

struct hdr_opts {
        uint16_t version;
        uint8_t loadflags, relocatable;
        uint16_t xloadflags;
        uint32_t kernel_alignment, init_size, cmdline_size, syssize;
        uint64_t pref_address;
};

static struct hdr_opts defaults(void) {
        return (struct hdr_opts){ .version = 0x020f, .loadflags = LOADED_HIGH, .relocatable = 1,
                                  .xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
                                  .kernel_alignment = 0x200000, .init_size = 0x800000, .cmdline_size = 2047,
                                  .syssize = KERNEL_BYTES / 16, .pref_address = 0x1000000 };
}

static size_t make_bzimage(const struct hdr_opts *o) {
        memset(img, 0, sizeof img);
        struct setup_header h = {
                .setup_sects = 4, .syssize = o->syssize, .boot_flag = 0xaa55, .jump = 0x66eb,
                .header = 0x53726448, .version = o->version, .loadflags = o->loadflags,
                .code32_start = 0x100000, .initrd_addr_max = 0x7fffffff, .kernel_alignment = o->kernel_alignment,
                .relocatable_kernel = o->relocatable, .xloadflags = o->xloadflags, .cmdline_size = o->cmdline_size,
                .pref_address = o->pref_address, .init_size = o->init_size,
        };
        memcpy(img + 0x1f1, &h, sizeof h);
        for (size_t i = 0; i < KERNEL_BYTES; i++)
                img[5 * 512 + i] = (uint8_t)(i * 7 + 1);
        return sizeof img;
}

static int load(const struct hdr_opts *o, uint64_t ram, const char *cmdline, const uint8_t *initrd,
                size_t initrd_len, struct fake_guest *f, struct boot_entry *e, char *err) {
        struct boot_guest g;
        fake_guest_init(f, &g, ram, 0);
        struct boot_request req = { .image = img, .image_len = make_bzimage(o), .cmdline = cmdline,
                                    .initrd = initrd, .initrd_len = initrd_len, .rsdp_gpa = 0xe0000 };
        err[0] = 0;
        return boot_linux_load(&req, &g, e, err, 256);
}

TEST(boot_params_fields) {
        static uint8_t initrd[100000];
        for (size_t i = 0; i < sizeof initrd; i++)
                initrd[i] = (uint8_t)(i ^ 0x5a);
        struct hdr_opts o = defaults();
        struct fake_guest f;
        struct boot_entry e;
        char err[256];
        ASSERT_OK(load(&o, RAM, "console=ttyS0 root=/dev/sda", initrd, sizeof initrd, &f, &e, err));
        const struct boot_params *bp = (const void *)(f.ram + BOOT_ZERO_PAGE_GPA);
        ASSERT_EQ(bp->hdr.setup_sects, 4);
        ASSERT_EQ(bp->hdr.boot_flag, 0xaa55);
        ASSERT_EQ(bp->hdr.header, 0x53726448u);
        ASSERT_EQ(bp->hdr.version, 0x020f);
        ASSERT_EQ(bp->hdr.type_of_loader, 0xff);
        ASSERT_EQ(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
        ASSERT_EQ(bp->hdr.heap_end_ptr, 0xfe00);
        ASSERT_EQ(bp->hdr.vid_mode, 0xffff);
        ASSERT_EQ(bp->hdr.cmd_line_ptr, (uint32_t)BOOT_CMDLINE_GPA);
        ASSERT_STREQ((const char *)f.ram + BOOT_CMDLINE_GPA, "console=ttyS0 root=/dev/sda");
        ASSERT_EQ(bp->hdr.code32_start, 0x1000000u); /* pref_address, 2 MiB aligned */
        ASSERT_EQ(bp->acpi_rsdp_addr, 0xe0000u);
        /* initrd: as high as possible below RAM end, page aligned, intact. */
        ASSERT_EQ(bp->hdr.ramdisk_size, (uint32_t)sizeof initrd);
        ASSERT_EQ(bp->hdr.ramdisk_image, (uint32_t)((RAM - sizeof initrd) & ~4095u));
        ASSERT_MEMEQ(f.ram + bp->hdr.ramdisk_image, initrd, sizeof initrd);
        ASSERT_GE(bp->hdr.ramdisk_image, 0x1000000u + o.init_size);
        /* e820 */
        ASSERT_EQ(bp->e820_entries, 3);
        ASSERT_EQ(bp->e820_table[0].addr, 0u);
        ASSERT_EQ(bp->e820_table[0].size, 0x9fc00u);
        ASSERT_EQ(bp->e820_table[1].type, 2u);
        ASSERT_EQ(bp->e820_table[2].addr, 0x100000u);
        ASSERT_EQ(bp->e820_table[2].size, (uint64_t)RAM - 0x100000u);
        /* kernel bytes at the load address, 64-bit entry at +0x200 */
        ASSERT_MEMEQ(f.ram + 0x1000000, img + 5 * 512, KERNEL_BYTES);
        ASSERT_EQ(e.mode, BOOT_MODE_LONG);
        ASSERT_EQ(e.rip, 0x1000200u);
        ASSERT_EQ(e.rsi, (uint64_t)BOOT_ZERO_PAGE_GPA);
        ASSERT_EQ(e.cr3, (uint64_t)BOOT_PAGE_TABLES_GPA);
        ASSERT_EQ(e.gdt_base, (uint64_t)BOOT_GDT_GPA);
        /* identity map: PML4[0] -> PDPT, PDPT[3] -> 4th PD, PD entry for 3 GiB + 2 MiB */
        uint64_t v;
        memcpy(&v, f.ram + BOOT_PAGE_TABLES_GPA, 8);
        ASSERT_EQ(v, (uint64_t)BOOT_PAGE_TABLES_GPA + 0x1003);
        memcpy(&v, f.ram + BOOT_PAGE_TABLES_GPA + 0x1000 + 3 * 8, 8);
        ASSERT_EQ(v, (uint64_t)BOOT_PAGE_TABLES_GPA + 0x5003);
        memcpy(&v, f.ram + BOOT_PAGE_TABLES_GPA + 0x2000 + (3 * 512 + 1) * 8, 8);
        ASSERT_EQ(v, 0xc0200083ull);
        memcpy(&v, f.ram + BOOT_GDT_GPA + 0x10, 8);
        ASSERT_EQ(v, 0x00af9b000000ffffull);
        fake_guest_free(&f);
}

TEST(protocol_2_13_has_no_rsdp_field) {
        struct hdr_opts o = defaults();
        o.version = 0x020d;
        struct fake_guest f;
        struct boot_entry e;
        char err[256];
        ASSERT_OK(load(&o, RAM, NULL, NULL, 0, &f, &e, err));
        const struct boot_params *bp = (const void *)(f.ram + BOOT_ZERO_PAGE_GPA);
        ASSERT_EQ(bp->acpi_rsdp_addr, 0u); /* the kernel scans 0xe0000 instead */
        ASSERT_EQ(bp->hdr.ramdisk_image, 0u);
        ASSERT_EQ(bp->hdr.ramdisk_size, 0u);
        ASSERT_EQ(f.ram[BOOT_CMDLINE_GPA], 0);
        fake_guest_free(&f);
}

TEST(relocation_when_pref_address_does_not_fit) {
        struct hdr_opts o = defaults();
        o.init_size = 0x1000000; /* 16 MiB at 16 MiB does not fit in 24 MiB */
        struct fake_guest f;
        struct boot_entry e;
        char err[256];
        ASSERT_OK(load(&o, 24u << 20, NULL, NULL, 0, &f, &e, err));
        ASSERT_EQ(e.rip, 0x200000u + 0x200); /* lowest 2 MiB-aligned address above 1 MiB */
        fake_guest_free(&f);
        o.relocatable = 0;
        ASSERT_ERROR(load(&o, 24u << 20, NULL, NULL, 0, &f, &e, err), ERANGE);
        ASSERT_NOT_NULL(strstr(err, "more than the guest's low RAM"));
        fake_guest_free(&f);
}

#define EXPECT_FAIL(o, ram, cmdline, initrd_len, errno_, text)                                  \
        do {                                                                                    \
                struct fake_guest f_;                                                           \
                struct boot_entry e_;                                                           \
                char err_[256];                                                                 \
                static uint8_t rd_[1];                                                          \
                ASSERT_ERROR(load(&(o), (ram), (cmdline), (initrd_len) ? rd_ : NULL, (initrd_len), &f_, \
                                  &e_, err_), errno_);                                          \
                if (!strstr(err_, text))                                                        \
                        fprintf(stderr, "error text: %s\n", err_);                              \
                ASSERT_NOT_NULL(strstr(err_, text));                                            \
                ASSERT_EQ(f_.writes, 0u);                                                       \
                fake_guest_free(&f_);                                                           \
        } while (0)

TEST(refusals) {
        struct hdr_opts o = defaults();
        o.version = 0x020b;
        EXPECT_FAIL(o, RAM, NULL, 0, ENOTSUP, "2.12 or newer required");
        o = defaults();
        o.xloadflags = 0;
        EXPECT_FAIL(o, RAM, NULL, 0, ENOTSUP, "XLF_KERNEL_64");
        o = defaults();
        o.loadflags = 0;
        EXPECT_FAIL(o, RAM, NULL, 0, ENOTSUP, "zImage");
        o = defaults();
        o.syssize = KERNEL_BYTES; /* 16x the real size */
        EXPECT_FAIL(o, RAM, NULL, 0, EINVAL, "truncated");
        o = defaults();
        o.kernel_alignment = 0x300000;
        EXPECT_FAIL(o, RAM, NULL, 0, EINVAL, "power of two");
        o = defaults();
        o.cmdline_size = 4;
        EXPECT_FAIL(o, RAM, "console=ttyS0", 0, E2BIG, "command line");
        o = defaults();
        EXPECT_FAIL(o, RAM, NULL, (size_t)RAM, ERANGE, "initrd");
        EXPECT_FAIL(o, 8u << 20, NULL, 0, ERANGE, "not enough RAM");
}

TEST(header_parse_errors) {
        struct boot_linux_info k;
        char err[256];
        struct hdr_opts o = defaults();
        size_t len = make_bzimage(&o);
        ASSERT_OK(boot_linux_parse(img, len, &k, err, sizeof err));
        ASSERT_EQ(k.setup_size, 5u * 512);
        ASSERT_EQ(k.kernel_size, (size_t)KERNEL_BYTES);
        ASSERT_EQ(k.header_end, 0x202u + 0x66);
        ASSERT_ERROR(boot_linux_parse(img, 0x200, &k, err, sizeof err), ENOEXEC);
        ASSERT_ERROR(boot_linux_parse(img, 5 * 512, &k, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "truncated"));
        img[0x1fe] = 0;
        ASSERT_ERROR(boot_linux_parse(img, len, &k, err, sizeof err), ENOEXEC);
        ASSERT_NOT_NULL(strstr(err, "not a bzImage"));
        make_bzimage(&o);
        img[0x1f1] = 0; /* setup_sects 0 means 4 */
        ASSERT_OK(boot_linux_parse(img, len, &k, err, sizeof err));
        ASSERT_EQ(k.setup_sects, 4);
}

TEST_MAIN();
