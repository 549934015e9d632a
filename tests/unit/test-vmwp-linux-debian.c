// SPDX-License-Identifier: MIT
/* The bzImage loader on a real Debian cloud kernel (tests/lib/debian-kernel.sh
 * downloads and caches it once; skipped, exit 77, when that is impossible).
 * boot_params is checked field by field against Documentation/x86/boot.rst. */
#include <asm/bootparam.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/test.h"
#include "tests/lib/fake-guest.h"
#include "vmwp/boot.h"

#define RAM (512ull << 20)

static char vmlinuz[1024];

static void find_kernel(void) {
        const char *src = getenv("VM_SOURCE_DIR");
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%s/tests/lib/debian-kernel.sh --vmlinuz", src ? src : ".");
        FILE *p = popen(cmd, "r");
        if (!p)
                TEST_SKIP("cannot run %s", cmd);
        if (!fgets(vmlinuz, sizeof vmlinuz, p))
                vmlinuz[0] = 0;
        int st = pclose(p);
        vmlinuz[strcspn(vmlinuz, "\n")] = 0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !vmlinuz[0])
                TEST_SKIP("no Debian cloud kernel available (tests/lib/debian-kernel.sh exit %d)",
                          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

TEST(debian_cloud_kernel_boot_params) {
        find_kernel();
        printf("kernel: %s\n", vmlinuz);
        int fd = open(vmlinuz, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        size_t len = (size_t)st.st_size;
        const uint8_t *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        ASSERT_NE((void *)img, MAP_FAILED);
        close(fd);

        struct setup_header orig;
        memcpy(&orig, img + 0x1f1, sizeof orig);
        static uint8_t initrd[3u << 20];
        memset(initrd, 0x42, sizeof initrd);
        struct fake_guest f;
        struct boot_guest g;
        fake_guest_init(&f, &g, RAM, 0);
        const char *cl = "console=ttyS0 noxsave nokaslr mitigations=off";
        struct boot_request req = { .image = img, .image_len = len, .cmdline = cl, .initrd = initrd,
                                    .initrd_len = sizeof initrd, .rsdp_gpa = 0xe0000 };
        struct boot_entry e;
        char err[256] = "";
        int r = boot_linux_load(&req, &g, &e, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "boot_linux_load: %s\n", err);
        ASSERT_OK(r);

        const struct boot_params *bp = (const void *)(f.ram + BOOT_ZERO_PAGE_GPA);
        const struct setup_header *h = &bp->hdr;
        printf("protocol %u.%02u setup_sects %u init_size 0x%x pref_address 0x%llx align 0x%x\n",
               h->version >> 8, h->version & 0xff, h->setup_sects, h->init_size,
               (unsigned long long)h->pref_address, h->kernel_alignment);
        /* Copied from the image unchanged. */
        ASSERT_EQ(h->setup_sects, orig.setup_sects);
        ASSERT_EQ(h->boot_flag, 0xaa55);
        ASSERT_EQ(h->header, 0x53726448u);
        ASSERT_EQ(h->version, orig.version);
        ASSERT_GE(h->version, 0x020f);               /* 6.1 speaks 2.15 */
        ASSERT_TRUE(h->xloadflags & XLF_KERNEL_64);
        ASSERT_EQ(h->init_size, orig.init_size);
        ASSERT_EQ(h->kernel_alignment, orig.kernel_alignment);
        ASSERT_EQ(h->pref_address, orig.pref_address);
        ASSERT_EQ(h->cmdline_size, orig.cmdline_size);
        /* Written by the loader. */
        ASSERT_EQ(h->loadflags, (uint8_t)((orig.loadflags | CAN_USE_HEAP) & ~KEEP_SEGMENTS));
        ASSERT_TRUE(h->loadflags & LOADED_HIGH);
        ASSERT_EQ(h->type_of_loader, 0xff);
        ASSERT_EQ(h->heap_end_ptr, 0xfe00);
        ASSERT_EQ(h->cmd_line_ptr, (uint32_t)BOOT_CMDLINE_GPA);
        ASSERT_STREQ((const char *)f.ram + h->cmd_line_ptr, cl);
        ASSERT_EQ(bp->acpi_rsdp_addr, 0xe0000u);
        /* Loaded at pref_address (relocatable, 2 MiB aligned), entry +0x200. */
        ASSERT_EQ(h->code32_start, (uint32_t)orig.pref_address);
        ASSERT_EQ(h->code32_start % orig.kernel_alignment, 0u);
        ASSERT_EQ(e.rip, orig.pref_address + 0x200);
        size_t setup = ((size_t)(orig.setup_sects ? orig.setup_sects : 4) + 1) * 512;
        ASSERT_MEMEQ(f.ram + orig.pref_address, img + setup, len - setup);
        /* initrd: page aligned, below initrd_addr_max and RAM end, above the
         * kernel's decompression area (init_size). */
        ASSERT_EQ(h->ramdisk_size, (uint32_t)sizeof initrd);
        ASSERT_EQ(h->ramdisk_image % 4096, 0u);
        ASSERT_LE((uint64_t)h->ramdisk_image + h->ramdisk_size - 1, (uint64_t)orig.initrd_addr_max);
        ASSERT_LE((uint64_t)h->ramdisk_image + h->ramdisk_size, RAM);
        ASSERT_GE((uint64_t)h->ramdisk_image, orig.pref_address + orig.init_size);
        ASSERT_MEMEQ(f.ram + h->ramdisk_image, initrd, sizeof initrd);
        /* e820: low RAM, legacy hole reserved, extended RAM. */
        ASSERT_EQ(bp->e820_entries, 3);
        ASSERT_EQ(bp->e820_table[0].type, 1u);
        ASSERT_EQ(bp->e820_table[0].size, 0x9fc00u);
        ASSERT_EQ(bp->e820_table[1].addr, 0x9fc00u);
        ASSERT_EQ(bp->e820_table[1].type, 2u);
        ASSERT_EQ(bp->e820_table[2].addr, 0x100000u);
        ASSERT_EQ(bp->e820_table[2].addr + bp->e820_table[2].size, RAM);
        ASSERT_EQ(e.rsi, (uint64_t)BOOT_ZERO_PAGE_GPA);
        munmap((void *)img, len);
        fake_guest_free(&f);
}

TEST_MAIN();
