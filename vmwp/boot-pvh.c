// SPDX-License-Identifier: MIT
/* PVH boot: an ELF32/ELF64 image with the Xen PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY, xen/include/public/elfnote.h), entered in flat
 * 32-bit protected mode with EBX = the hvm_start_info address
 * (xen/include/public/arch-x86/hvm/start_info.h, version 1 with memmap;
 * an initrd is module 0 of the module list, as Linux's PVH entry expects).
 * Every field of the image is untrusted: offsets and sizes are checked
 * against the file and the segments against RAM before anything is written. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot-internal.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578u
#define ELF_MAX_PHDRS 64u

struct hvm_start_info {
        uint32_t magic;
        uint32_t version;
        uint32_t flags;
        uint32_t nr_modules;
        uint64_t modlist_paddr;
        uint64_t cmdline_paddr;
        uint64_t rsdp_paddr;
        uint64_t memmap_paddr;
        uint32_t memmap_entries;
        uint32_t reserved;
} _packed_;
ASSERT_SIZE(struct hvm_start_info, 56);
ASSERT_OFFSET(struct hvm_start_info, rsdp_paddr, 32);
ASSERT_OFFSET(struct hvm_start_info, memmap_entries, 48);

/* start_info.h: the module list; Linux takes module 0 as its initrd. */
struct hvm_modlist_entry {
        uint64_t paddr;
        uint64_t size;
        uint64_t cmdline_paddr;
        uint64_t reserved;
} _packed_;
ASSERT_SIZE(struct hvm_modlist_entry, 32);
_Static_assert(BOOT_PVH_INFO_GPA + sizeof(struct hvm_start_info) <= BOOT_PVH_MODLIST_GPA &&
                       BOOT_PVH_MODLIST_GPA + sizeof(struct hvm_modlist_entry) <= BOOT_PVH_MEMMAP_GPA,
               "PVH start info, module list and memory map overlap");

struct hvm_memmap_table_entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
        uint32_t reserved;
} _packed_;
ASSERT_SIZE(struct hvm_memmap_table_entry, 24);

/* Program header, class-independent. */
struct phdr {
        uint32_t type;
        uint64_t offset, paddr, filesz, memsz, align;
};

static int read_phdr(const uint8_t *img, bool is64, uint64_t at, struct phdr *p) {
        if (is64) {
                Elf64_Phdr h;
                memcpy(&h, img + at, sizeof h);
                *p = (struct phdr){ h.p_type, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz, h.p_align };
        } else {
                Elf32_Phdr h;
                memcpy(&h, img + at, sizeof h);
                *p = (struct phdr){ h.p_type, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz, h.p_align };
        }
        return 0;
}

/* Walks the notes of one PT_NOTE segment (ELF spec "Note Section"): namesz,
 * descsz, type, then name and desc each padded to the segment alignment. */
static int scan_notes(const uint8_t *img, const struct phdr *p, uint64_t *entry, char *err, size_t errlen) {
        uint64_t align = p->align == 8 ? 8 : 4;
        uint64_t pos = p->offset, end = p->offset + p->filesz;
        while (end - pos >= 12) {
                uint32_t h[3];
                memcpy(h, img + pos, sizeof h);
                uint64_t name_off = pos + 12;
                uint64_t desc_off = name_off + ALIGN_UP((uint64_t)h[0], align);
                uint64_t next = desc_off + ALIGN_UP((uint64_t)h[1], align);
                if (desc_off > end || next > end || desc_off + h[1] > end)
                        return errorf(err, errlen, -EINVAL, "ELF: note at offset %llu overruns its segment",
                                          (unsigned long long)pos);
                if (h[0] == 4 && memcmp(img + name_off, "Xen", 4) == 0 && h[2] == XEN_ELFNOTE_PHYS32_ENTRY) {
                        if (h[1] != 4 && h[1] != 8)
                                return errorf(err, errlen, -EINVAL, "ELF: PVH entry note has %u bytes", h[1]);
                        uint64_t v = 0;
                        memcpy(&v, img + desc_off, h[1]);
                        if (v > 0xffffffffu)
                                return errorf(err, errlen, -EINVAL, "ELF: PVH entry 0x%llx is above 4 GiB",
                                                  (unsigned long long)v);
                        *entry = v;
                }
                pos = next;
        }
        return 0;
}

static int check_header(const uint8_t *img, size_t len, bool *is64, uint64_t *phoff, unsigned *phnum,
                        char *err, size_t errlen) {
        if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
                return errorf(err, errlen, -ENOEXEC, "not an ELF file (bad magic)");
        if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64)
                return errorf(err, errlen, -EINVAL, "ELF: bad class %u", img[EI_CLASS]);
        if (img[EI_DATA] != ELFDATA2LSB)
                return errorf(err, errlen, -ENOTSUP, "ELF: not little-endian");
        *is64 = img[EI_CLASS] == ELFCLASS64;
        size_t ehsize = *is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
        if (len < ehsize)
                return errorf(err, errlen, -EINVAL, "ELF: truncated header (%zu bytes)", len);
        uint16_t type, machine, phentsize;
        if (*is64) {
                Elf64_Ehdr e;
                memcpy(&e, img, sizeof e);
                type = e.e_type, machine = e.e_machine, phentsize = e.e_phentsize, *phnum = e.e_phnum;
                *phoff = e.e_phoff;
        } else {
                Elf32_Ehdr e;
                memcpy(&e, img, sizeof e);
                type = e.e_type, machine = e.e_machine, phentsize = e.e_phentsize, *phnum = e.e_phnum;
                *phoff = e.e_phoff;
        }
        if (type != ET_EXEC)
                return errorf(err, errlen, -ENOTSUP, "ELF: not an executable (e_type %u)", type);
        if (machine != EM_X86_64 && machine != EM_386)
                return errorf(err, errlen, -ENOTSUP, "ELF: not an x86 image (e_machine %u)", machine);
        if (phentsize != (*is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
                return errorf(err, errlen, -EINVAL, "ELF: bad program header size %u", phentsize);
        if (*phnum == 0 || *phnum > ELF_MAX_PHDRS)
                return errorf(err, errlen, -EINVAL, "ELF: %u program headers (1..%u allowed)", *phnum,
                                  ELF_MAX_PHDRS);
        if (*phoff > len || (uint64_t)*phnum * phentsize > len - *phoff)
                return errorf(err, errlen, -EINVAL, "ELF: program headers beyond the end of the file");
        return 0;
}

static int add_segment(struct boot_elf_info *out, const struct phdr *p, size_t len, unsigned idx, char *err,
                       size_t errlen) {
        uint64_t end;
        if (p->filesz > p->memsz)
                return errorf(err, errlen, -EINVAL, "ELF: segment %u has filesz > memsz", idx);
        if (p->offset > len || p->filesz > len - p->offset)
                return errorf(err, errlen, -EINVAL, "ELF: segment %u extends beyond the end of the file", idx);
        if (ADD_OVERFLOW(p->paddr, p->memsz, &end))
                return errorf(err, errlen, -EINVAL, "ELF: segment %u wraps the address space", idx);
        for (size_t i = 0; i < out->n_segments; i++)
                if (boot_overlaps(p->paddr, p->memsz, out->seg[i].paddr, out->seg[i].memsz))
                        return errorf(err, errlen, -EINVAL, "ELF: segment %u overlaps an earlier segment", idx);
        if (out->n_segments == BOOT_ELF_MAX_SEGMENTS)
                return errorf(err, errlen, -EINVAL, "ELF: more than %u loadable segments",
                                  BOOT_ELF_MAX_SEGMENTS);
        out->seg[out->n_segments++] = (struct boot_elf_segment){ .paddr = p->paddr, .filesz = p->filesz,
                                                                 .memsz = p->memsz, .offset = p->offset };
        return 0;
}

int boot_elf_parse(const uint8_t *img, size_t len, struct boot_elf_info *out, char *err, size_t errlen) {
        uint64_t phoff = 0;
        unsigned phnum = 0;
        bool is64 = false;
        int r = check_header(img, len, &is64, &phoff, &phnum, err, errlen);
        if (r < 0)
                return r;
        *out = (struct boot_elf_info){ .is64 = is64 };
        bool have_entry = false;
        size_t phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
        for (unsigned i = 0; i < phnum; i++) {
                struct phdr p;
                read_phdr(img, is64, phoff + (uint64_t)i * phentsize, &p);
                if (p.type == PT_LOAD && p.memsz > 0) {
                        if ((r = add_segment(out, &p, len, i, err, errlen)) < 0)
                                return r;
                } else if (p.type == PT_NOTE) {
                        if (p.offset > len || p.filesz > len - p.offset)
                                return errorf(err, errlen, -EINVAL, "ELF: note segment %u beyond the file", i);
                        uint64_t e = UINT64_MAX;
                        if ((r = scan_notes(img, &p, &e, err, errlen)) < 0)
                                return r;
                        if (e != UINT64_MAX)
                                out->pvh_entry = e, have_entry = true;
                }
        }
        if (out->n_segments == 0)
                return errorf(err, errlen, -EINVAL, "ELF: no loadable segment");
        if (!have_entry)
                return errorf(err, errlen, -ENOTSUP,
                                  "ELF: no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); not a PVH image");
        for (size_t i = 0; i < out->n_segments; i++)
                if (out->pvh_entry >= out->seg[i].paddr && out->pvh_entry < out->seg[i].paddr + out->seg[i].memsz)
                        return 0;
        return errorf(err, errlen, -EINVAL, "ELF: PVH entry 0x%llx is outside every loadable segment",
                          (unsigned long long)out->pvh_entry);
}

/* Areas the loader itself writes (or that are not RAM for the guest). */
static const struct {
        uint64_t gpa, len;
        const char *what;
} pvh_reserved[] = {
        { BOOT_PVH_INFO_GPA, 0x1000, "the PVH start info" },
        { BOOT_CMDLINE_GPA, BOOT_CMDLINE_MAX, "the command line" },
        { BOOT_LOW_RESERVED_START, BOOT_HIGH_MEMORY - BOOT_LOW_RESERVED_START, "the reserved legacy area" },
};

static int load_segments(const struct boot_request *req, const struct boot_guest *g,
                         const struct boot_elf_info *info, char *err, size_t errlen) {
        for (size_t i = 0; i < info->n_segments; i++) {
                const struct boot_elf_segment *s = &info->seg[i];
                if (!boot_in_ram(g, s->paddr, s->memsz))
                        return errorf(err, errlen, -ERANGE, "ELF: segment at 0x%llx (%llu bytes) is not in RAM",
                                          (unsigned long long)s->paddr, (unsigned long long)s->memsz);
                for (size_t k = 0; k < ARRAY_SIZE(pvh_reserved); k++)
                        if (boot_overlaps(s->paddr, s->memsz, pvh_reserved[k].gpa, pvh_reserved[k].len))
                                return errorf(err, errlen, -ERANGE, "ELF: segment at 0x%llx overlaps %s at 0x%llx",
                                                  (unsigned long long)s->paddr, pvh_reserved[k].what,
                                                  (unsigned long long)pvh_reserved[k].gpa);
        }
        for (size_t i = 0; i < info->n_segments; i++) {
                const struct boot_elf_segment *s = &info->seg[i];
                int r = g->write(g->opaque, s->paddr, req->image + s->offset, s->filesz);
                if (r >= 0)
                        r = boot_write_zeros(g, s->paddr + s->filesz, s->memsz - s->filesz);
                if (r < 0)
                        return errorf(err, errlen, r, "ELF: writing segment at 0x%llx failed",
                                          (unsigned long long)s->paddr);
        }
        return 0;
}

/* The initrd goes as high as possible in low RAM (below 4 GiB, page
 * aligned), above every loaded segment, as Linux's own loaders place it. */
static int place_initrd(const struct boot_request *req, const struct boot_guest *g, const struct boot_elf_info *info,
                        uint64_t *at, char *err, size_t errlen) {
        uint64_t floor = BOOT_HIGH_MEMORY, top = boot_low_ram_end(g), len = req->initrd_len;
        for (size_t i = 0; i < info->n_segments; i++)
                floor = MAX(floor, info->seg[i].paddr + info->seg[i].memsz);
        floor = (floor + 0xfffu) & ~0xfffull;
        if (len == 0 || top < floor || top - floor < len)
                return errorf(err, errlen, -ERANGE,
                                  "initrd of %llu KiB does not fit between the kernel (ends 0x%llx) and 0x%llx",
                                  (unsigned long long)(len >> 10), (unsigned long long)floor,
                                  (unsigned long long)top);
        *at = (top - len) & ~0xfffull;
        return 0;
}

static int write_start_info(const struct boot_request *req, const struct boot_guest *g, uint64_t initrd_at,
                            char *err, size_t errlen) {
        struct boot_e820 map[BOOT_MAX_E820];
        size_t n = boot_e820_build(g, map);
        struct hvm_memmap_table_entry mm[BOOT_MAX_E820];
        for (size_t i = 0; i < n; i++)
                mm[i] = (struct hvm_memmap_table_entry){ .addr = map[i].addr, .size = map[i].size,
                                                         .type = map[i].type };
        struct hvm_start_info si = {
                .magic = XEN_HVM_START_MAGIC_VALUE, .version = 1, .rsdp_paddr = req->rsdp_gpa,
                .memmap_paddr = BOOT_PVH_MEMMAP_GPA, .memmap_entries = (uint32_t)n,
        };
        size_t cl = req->cmdline ? strlen(req->cmdline) : 0;
        if (cl >= BOOT_CMDLINE_MAX)
                return errorf(err, errlen, -E2BIG, "command line is %zu bytes, at most %u allowed", cl,
                                  BOOT_CMDLINE_MAX - 1);
        int r = 0;
        if (cl > 0) {
                si.cmdline_paddr = BOOT_CMDLINE_GPA;
                r = g->write(g->opaque, BOOT_CMDLINE_GPA, req->cmdline, cl + 1);
        }
        if (r >= 0 && req->initrd) {
                struct hvm_modlist_entry m = { .paddr = initrd_at, .size = req->initrd_len };
                si.nr_modules = 1;
                si.modlist_paddr = BOOT_PVH_MODLIST_GPA;
                r = g->write(g->opaque, BOOT_PVH_MODLIST_GPA, &m, sizeof m);
                if (r >= 0)
                        r = g->write(g->opaque, initrd_at, req->initrd, req->initrd_len);
        }
        if (r >= 0)
                r = g->write(g->opaque, BOOT_PVH_MEMMAP_GPA, mm, n * sizeof mm[0]);
        if (r >= 0)
                r = g->write(g->opaque, BOOT_PVH_INFO_GPA, &si, sizeof si);
        if (r < 0)
                return errorf(err, errlen, r, "PVH: writing the start info failed (is RAM below 1 MiB?)");
        return 0;
}

int boot_pvh_load(const struct boot_request *req, const struct boot_guest *g, struct boot_entry *entry, char *err,
                  size_t errlen) {
        struct boot_elf_info info;
        int r = boot_elf_parse(req->image, req->image_len, &info, err, errlen);
        if (r < 0)
                return r;
        uint64_t initrd_at = 0;
        if (req->initrd && (r = place_initrd(req, g, &info, &initrd_at, err, errlen)) < 0)
                return r;
        if ((r = load_segments(req, g, &info, err, errlen)) < 0 ||
            (r = write_start_info(req, g, initrd_at, err, errlen)) < 0)
                return r;
        /* PVH ABI (xen docs/misc/pvh.pandoc): 32-bit flat protected mode,
         * paging off, EBX = start info; nothing else is defined. */
        *entry = (struct boot_entry){ .mode = BOOT_MODE_PROTECTED_FLAT, .rip = info.pvh_entry,
                                      .rbx = BOOT_PVH_INFO_GPA };
        return 0;
}
