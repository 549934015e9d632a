// SPDX-License-Identifier: MIT
/* The ELF/PVH loader against a fake RAM: a well-formed ELF64 and ELF32 with
 * the Xen PVH note, the hvm_start_info it writes, and every malformed-image
 * case failing with a clear error instead of writing anything. */
#include <elf.h>

#include "common/test.h"
#include "tests/lib/fake-guest.h"
#include "vmwp/boot.h"

#define RAM (16u << 20)

struct seg {
        uint64_t paddr, memsz;
        const void *data;
        size_t filesz;
};

struct elf_spec {
        bool is32;
        struct seg seg[3];
        size_t n_seg;
        bool note;         /* add the PVH note */
        uint32_t entry;
        uint32_t note_descsz;
        uint16_t type;     /* default ET_EXEC */
        uint8_t data;      /* default ELFDATA2LSB */
};

/* Builds an ELF image: header, program headers, note, segment data. */
static size_t make_elf(const struct elf_spec *s, uint8_t *out, size_t cap) {
        memset(out, 0, cap);
        size_t eh = s->is32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr);
        size_t ph = s->is32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
        size_t nph = s->n_seg + (s->note ? 1 : 0);
        size_t note_off = eh + nph * ph;
        uint32_t descsz = s->note_descsz ? s->note_descsz : 4;
        size_t note_len = s->note ? 12 + 4 + (((size_t)descsz + 3) & ~(size_t)3) : 0;
        size_t data_off = (note_off + note_len + 15) & ~(size_t)15;
        memcpy(out, ELFMAG, SELFMAG);
        out[EI_CLASS] = s->is32 ? ELFCLASS32 : ELFCLASS64;
        out[EI_DATA] = s->data ? s->data : ELFDATA2LSB;
        out[EI_VERSION] = EV_CURRENT;
        uint16_t type = s->type ? s->type : ET_EXEC;
        size_t pos = data_off;
        for (size_t i = 0; i < nph; i++) {
                bool is_note = i == s->n_seg;
                uint64_t type_i = is_note ? PT_NOTE : PT_LOAD, off, paddr = 0, filesz, memsz;
                if (is_note) {
                        off = note_off, filesz = memsz = note_len;
                } else {
                        off = pos, paddr = s->seg[i].paddr, filesz = s->seg[i].filesz, memsz = s->seg[i].memsz;
                        if (s->seg[i].data)
                                memcpy(out + pos, s->seg[i].data, filesz);
                        pos += filesz;
                }
                if (s->is32) {
                        Elf32_Phdr p = { .p_type = (uint32_t)type_i, .p_offset = (uint32_t)off, .p_vaddr = (uint32_t)paddr,
                                         .p_paddr = (uint32_t)paddr, .p_filesz = (uint32_t)filesz,
                                         .p_memsz = (uint32_t)memsz, .p_align = 4 };
                        memcpy(out + eh + i * ph, &p, sizeof p);
                } else {
                        Elf64_Phdr p = { .p_type = (uint32_t)type_i, .p_offset = off, .p_vaddr = paddr, .p_paddr = paddr,
                                         .p_filesz = filesz, .p_memsz = memsz, .p_align = 4 };
                        memcpy(out + eh + i * ph, &p, sizeof p);
                }
        }
        if (s->is32) {
                Elf32_Ehdr e = { .e_type = type, .e_machine = EM_386, .e_version = EV_CURRENT, .e_entry = s->entry,
                                 .e_phoff = (uint32_t)eh, .e_ehsize = (uint16_t)eh, .e_phentsize = (uint16_t)ph,
                                 .e_phnum = (uint16_t)nph };
                memcpy(e.e_ident, out, EI_NIDENT);
                memcpy(out, &e, sizeof e);
        } else {
                Elf64_Ehdr e = { .e_type = type, .e_machine = EM_X86_64, .e_version = EV_CURRENT, .e_entry = s->entry,
                                 .e_phoff = eh, .e_ehsize = (uint16_t)eh, .e_phentsize = (uint16_t)ph,
                                 .e_phnum = (uint16_t)nph };
                memcpy(e.e_ident, out, EI_NIDENT);
                memcpy(out, &e, sizeof e);
        }
        if (s->note) {
                uint32_t h[3] = { 4, descsz, 18 };
                memcpy(out + note_off, h, 12);
                memcpy(out + note_off + 12, "Xen", 4);
                uint64_t entry = s->entry;
                memcpy(out + note_off + 16, &entry, descsz <= 8 ? descsz : 8);
        }
        return pos;
}

static const uint8_t code[] = { 0xf4, 0xeb, 0xfd, 0x90, 0x11, 0x22, 0x33, 0x44 };
static uint8_t img[65536];

static struct elf_spec good(bool is32) {
        return (struct elf_spec){ .is32 = is32, .n_seg = 1, .note = true, .entry = 0x100000,
                                  .seg = { { .paddr = 0x100000, .memsz = 0x3000, .data = code, .filesz = sizeof code } } };
}

static int load(const struct elf_spec *s, const char *cmdline, struct fake_guest *f, struct boot_entry *e, char *err) {
        struct boot_guest g;
        fake_guest_init(f, &g, RAM, 0);
        size_t len = make_elf(s, img, sizeof img);
        /* Dirty the bss so zeroing is observable. */
        memset(f->ram + 0x100000, 0xaa, 0x3000);
        struct boot_request req = { .image = img, .image_len = len, .cmdline = cmdline, .rsdp_gpa = 0xe0000 };
        err[0] = 0;
        return boot_pvh_load(&req, &g, e, err, 256);
}

static void check_start_info(const struct fake_guest *f, const char *cmdline) {
        const uint8_t *si = f->ram + BOOT_PVH_INFO_GPA;
        uint32_t u32;
        uint64_t u64;
        memcpy(&u32, si, 4);
        ASSERT_EQ(u32, 0x336ec578u);
        memcpy(&u32, si + 4, 4);
        ASSERT_EQ(u32, 1u);                 /* version */
        memcpy(&u64, si + 24, 8);
        ASSERT_EQ(u64, cmdline ? (uint64_t)BOOT_CMDLINE_GPA : 0u);
        if (cmdline)
                ASSERT_STREQ((const char *)f->ram + BOOT_CMDLINE_GPA, cmdline);
        memcpy(&u64, si + 32, 8);
        ASSERT_EQ(u64, 0xe0000u);           /* rsdp_paddr */
        memcpy(&u64, si + 40, 8);
        ASSERT_EQ(u64, (uint64_t)BOOT_PVH_MEMMAP_GPA);
        memcpy(&u32, si + 48, 4);
        ASSERT_EQ(u32, 3u);                 /* low RAM, legacy hole, extended RAM */
        struct { uint64_t addr, size; uint32_t type, reserved; } __attribute__((packed)) mm[3];
        memcpy(mm, f->ram + BOOT_PVH_MEMMAP_GPA, sizeof mm);
        ASSERT_EQ(mm[0].addr, 0u);
        ASSERT_EQ(mm[0].size, 0x9fc00u);
        ASSERT_EQ(mm[0].type, 1u);
        ASSERT_EQ(mm[1].addr, 0x9fc00u);
        ASSERT_EQ(mm[1].size, 0x100000u - 0x9fc00u);
        ASSERT_EQ(mm[1].type, 2u);
        ASSERT_EQ(mm[2].addr, 0x100000u);
        ASSERT_EQ(mm[2].size, (uint64_t)RAM - 0x100000u);
        ASSERT_EQ(mm[2].type, 1u);
}

TEST(elf64_loads_and_writes_start_info) {
        struct fake_guest f;
        struct boot_entry e;
        char err[256];
        struct elf_spec s = good(false);
        ASSERT_OK(load(&s, "console=ttyS0 quiet", &f, &e, err));
        ASSERT_MEMEQ(f.ram + 0x100000, code, sizeof code);
        for (size_t i = sizeof code; i < 0x3000; i++)
                ASSERT_EQ(f.ram[0x100000 + i], 0); /* bss zeroed */
        ASSERT_EQ(e.mode, BOOT_MODE_PROTECTED_FLAT);
        ASSERT_EQ(e.rip, 0x100000u);
        ASSERT_EQ(e.rbx, (uint64_t)BOOT_PVH_INFO_GPA);
        check_start_info(&f, "console=ttyS0 quiet");
        fake_guest_free(&f);
}

TEST(elf32_and_8_byte_note) {
        struct fake_guest f;
        struct boot_entry e;
        char err[256];
        struct elf_spec s = good(true);
        s.entry = 0x100004;
        ASSERT_OK(load(&s, NULL, &f, &e, err));
        ASSERT_EQ(e.rip, 0x100004u);
        check_start_info(&f, NULL);
        fake_guest_free(&f);
        s = good(false);
        s.note_descsz = 8; /* older Linux: _ASM_PTR, a quad in ELF64 */
        ASSERT_OK(load(&s, NULL, &f, &e, err));
        ASSERT_EQ(e.rip, 0x100000u);
        fake_guest_free(&f);
}

#define EXPECT_FAIL(spec, errno_, text)                                        \
        do {                                                                   \
                struct fake_guest f_;                                          \
                struct boot_entry e_;                                          \
                char err_[256];                                                \
                ASSERT_ERROR(load(&(spec), NULL, &f_, &e_, err_), errno_);     \
                if (!strstr(err_, text))                                       \
                        fprintf(stderr, "error text: %s\n", err_);             \
                ASSERT_NOT_NULL(strstr(err_, text));                           \
                ASSERT_EQ(f_.writes, 0u);                                      \
                fake_guest_free(&f_);                                          \
        } while (0)

TEST(segment_errors) {
        struct elf_spec s = good(false);
        s.seg[0].memsz = 4; /* filesz 8 > memsz 4 */
        EXPECT_FAIL(s, EINVAL, "filesz > memsz");
        s = good(false);
        s.seg[0].paddr = RAM - 0x1000; /* ends beyond RAM */
        s.entry = RAM - 0x1000;
        EXPECT_FAIL(s, ERANGE, "not in RAM");
        s = good(false);
        s.seg[0].paddr = 0xfee00000; /* the MMIO hole */
        s.entry = 0xfee00000;
        EXPECT_FAIL(s, ERANGE, "not in RAM");
        s = good(false);
        s.n_seg = 2;
        s.seg[1] = (struct seg){ .paddr = 0x102000, .memsz = 0x2000, .data = code, .filesz = 4 };
        EXPECT_FAIL(s, EINVAL, "overlaps an earlier segment");
        s = good(false);
        s.seg[0].paddr = 0x5000; /* over the start info page */
        s.entry = 0x5000;
        EXPECT_FAIL(s, ERANGE, "PVH start info");
        s = good(false);
        s.seg[0].paddr = 0xf0000; /* the reserved legacy area */
        s.entry = 0xf0000;
        EXPECT_FAIL(s, ERANGE, "reserved legacy area");
        s = good(false);
        s.seg[0].paddr = UINT64_MAX - 0x1000;
        s.entry = 0;
        EXPECT_FAIL(s, EINVAL, "wraps");
}

TEST(header_errors) {
        struct elf_spec s = good(false);
        s.note = false;
        EXPECT_FAIL(s, ENOTSUP, "no Xen PVH entry note");
        s = good(false);
        s.entry = 0x200000;
        EXPECT_FAIL(s, EINVAL, "outside every loadable segment");
        s = good(false);
        s.type = ET_DYN;
        EXPECT_FAIL(s, ENOTSUP, "not an executable");
        s = good(false);
        s.data = ELFDATA2MSB;
        EXPECT_FAIL(s, ENOTSUP, "little-endian");
        s = good(false);
        s.note_descsz = 2;
        EXPECT_FAIL(s, EINVAL, "PVH entry note has 2 bytes");

        struct boot_elf_info info;
        char err[256];
        size_t len = make_elf(&(struct elf_spec){ .n_seg = 1, .note = true, .entry = 0x100000,
                                                 .seg = { { .paddr = 0x100000, .memsz = 16, .data = code,
                                                            .filesz = sizeof code } } },
                              img, sizeof img);
        ASSERT_OK(boot_elf_parse(img, len, &info, err, sizeof err));
        ASSERT_EQ(info.n_segments, 1u);
        ASSERT_TRUE(info.is64);
        /* Truncations at every interesting boundary. */
        ASSERT_ERROR(boot_elf_parse(img, 3, &info, err, sizeof err), ENOEXEC);
        ASSERT_ERROR(boot_elf_parse(img, 40, &info, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "truncated header"));
        ASSERT_ERROR(boot_elf_parse(img, 64 + 56, &info, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "program headers beyond"));
        ASSERT_ERROR(boot_elf_parse(img, len - 1, &info, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "beyond the end of the file"));
        /* A note whose descsz runs past its segment. */
        uint32_t huge = 0xfffffff0u;
        memcpy(img + 64 + 2 * 56 + 4, &huge, 4);
        ASSERT_ERROR(boot_elf_parse(img, len, &info, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "overruns"));
        memcpy(img, "\x7f" "ELX", 4);
        ASSERT_ERROR(boot_elf_parse(img, len, &info, err, sizeof err), ENOEXEC);
        ASSERT_NOT_NULL(strstr(err, "bad magic"));
}

TEST(cmdline_too_long) {
        static char cl[BOOT_CMDLINE_MAX + 1];
        memset(cl, 'x', BOOT_CMDLINE_MAX);
        struct fake_guest f;
        struct boot_entry e;
        char err[256];
        struct elf_spec s = good(false);
        ASSERT_ERROR(load(&s, cl, &f, &e, err), E2BIG);
        fake_guest_free(&f);
}

TEST(e820_with_high_ram) {
        struct fake_guest f;
        struct boot_guest g;
        fake_guest_init(&f, &g, 1u << 20, 0);
        g.ram[0].size = 0xc0000000ull;
        g.ram[1] = (struct boot_ram_region){ .gpa = 0x100000000ull, .size = 1ull << 30 };
        g.n_ram = 2;
        struct boot_e820 m[BOOT_MAX_E820];
        ASSERT_EQ(boot_e820_build(&g, m), 4u);
        ASSERT_EQ(m[2].addr, 0x100000u);
        ASSERT_EQ(m[2].size, 0xc0000000ull - 0x100000u);
        ASSERT_EQ(m[3].addr, 0x100000000ull);
        ASSERT_EQ(m[3].size, 1ull << 30);
        ASSERT_EQ(m[3].type, BOOT_E820_RAM);
        fake_guest_free(&f);
}

TEST(initrd_is_module_zero_at_the_top_of_low_ram) {
        struct fake_guest f;
        struct boot_guest g;
        struct boot_entry e;
        char err[256] = "";
        fake_guest_init(&f, &g, RAM, 0);
        struct elf_spec s = good(false);
        size_t len = make_elf(&s, img, sizeof img);
        static uint8_t rd[10000];
        for (size_t i = 0; i < sizeof rd; i++)
                rd[i] = (uint8_t)(i * 7 + 1);
        struct boot_request req = { .image = img, .image_len = len, .initrd = rd, .initrd_len = sizeof rd,
                                    .cmdline = "rdinit=/init", .rsdp_gpa = 0xe0000 };
        ASSERT_OK(boot_pvh_load(&req, &g, &e, err, sizeof err));
        check_start_info(&f, "rdinit=/init");
        const uint8_t *si = f.ram + BOOT_PVH_INFO_GPA;
        uint32_t nr;
        uint64_t modlist, m[4];
        memcpy(&nr, si + 12, 4);
        memcpy(&modlist, si + 16, 8);
        ASSERT_EQ(nr, 1u);
        ASSERT_EQ(modlist, (uint64_t)BOOT_PVH_MODLIST_GPA);
        memcpy(m, f.ram + BOOT_PVH_MODLIST_GPA, sizeof m);
        uint64_t want = ((uint64_t)RAM - sizeof rd) & ~0xfffull; /* page aligned, as high as it fits */
        ASSERT_EQ(m[0], want);
        ASSERT_EQ(m[1], (uint64_t)sizeof rd);
        ASSERT_EQ(m[2], 0u); /* no module command line */
        ASSERT_MEMEQ(f.ram + want, rd, sizeof rd);
        fake_guest_free(&f);
}

TEST(initrd_that_does_not_fit_is_refused_before_anything_is_written) {
        struct fake_guest f;
        struct boot_guest g;
        struct boot_entry e;
        char err[256] = "";
        fake_guest_init(&f, &g, RAM, 0);
        struct elf_spec s = good(false);
        size_t len = make_elf(&s, img, sizeof img);
        /* RAM above the kernel's segment (ends at 0x103000) is 16 MiB - 0x103000. */
        size_t big = RAM - 0x103000 + 1;
        uint8_t *rd = calloc(1, big);
        ASSERT_TRUE(rd != NULL);
        struct boot_request req = { .image = img, .image_len = len, .initrd = rd, .initrd_len = big };
        ASSERT_EQ(boot_pvh_load(&req, &g, &e, err, sizeof err), -ERANGE);
        ASSERT_TRUE(strstr(err, "initrd") != NULL);
        ASSERT_EQ(f.writes, 0u); /* not the kernel either */
        free(rd);
        fake_guest_free(&f);
}

TEST_MAIN();
