// SPDX-License-Identifier: MIT
/* What the loader tells us through hvm_start_info (Xen PVH): command line,
 * RSDP, memory map. The loader is trusted less than usual for a kernel:
 * every address and count is range-checked against what entry.S mapped. */
#include "guest.h"

#define BOOT_MAPPED_TOP (4ull << 30)
#define MEMMAP_MAX_ENTRIES 128u

extern const uint8_t __image_start[], __image_end[];

static bool mapped(uint64_t pa, uint64_t len) {
        return pa != 0 && len <= BOOT_MAPPED_TOP && pa <= BOOT_MAPPED_TOP - len;
}

static void copy_cmdline(const struct pvh_start_info *si, struct guest_boot *b) {
        b->cmdline[0] = '\0';
        if (!si->cmdline_paddr || !mapped(si->cmdline_paddr, 1))
                return;
        const char *s = (const char *)(uintptr_t)si->cmdline_paddr;
        size_t i = 0;
        for (; i < sizeof b->cmdline - 1 && mapped(si->cmdline_paddr, i + 1) && s[i]; i++)
                b->cmdline[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
        b->cmdline[i] = '\0';
}

static void add_ram(struct guest_boot *b, uint64_t base, uint64_t size) {
        if (size == 0 || base + size < base || b->n_ram >= GUEST_MAX_RAM_REGIONS)
                return;
        b->ram[b->n_ram].base = base;
        b->ram[b->n_ram].size = size;
        b->n_ram++;
        b->ram_bytes += size;
}

static void read_memmap(const struct pvh_start_info *si, struct guest_boot *b) {
        uint32_t n = si->memmap_entries;
        if (si->version < 1 || !si->memmap_paddr || n == 0 || n > MEMMAP_MAX_ENTRIES ||
            !mapped(si->memmap_paddr, (uint64_t)n * sizeof(struct pvh_memmap_entry)))
                return;
        const struct pvh_memmap_entry *e = (const struct pvh_memmap_entry *)(uintptr_t)si->memmap_paddr;
        for (uint32_t i = 0; i < n; i++)
                if (e[i].type == PVH_MEMMAP_RAM)
                        add_ram(b, e[i].addr, e[i].size);
        b->memmap_from_loader = b->n_ram > 0;
}

int boot_parse(uint32_t start_info_pa, struct guest_boot *b) {
        extern uint64_t boot_tsc;
        memset(b, 0, sizeof *b);
        b->boot_tsc = boot_tsc;
        if (!mapped(start_info_pa, sizeof(struct pvh_start_info)))
                return -EINVAL;
        const struct pvh_start_info *si = (const struct pvh_start_info *)(uintptr_t)start_info_pa;
        if (si->magic != PVH_START_MAGIC)
                return -EINVAL;
        copy_cmdline(si, b);
        b->rsdp = si->rsdp_paddr;
        read_memmap(si, b);
        if (!b->memmap_from_loader) {
                /* No map: assume the image is followed by 16 MiB of RAM
                 * (reported as a warning by main.c). */
                uint64_t end = (uint64_t)(uintptr_t)__image_end;
                add_ram(b, 0, 0xa0000);
                add_ram(b, GUEST_LOAD_ADDR, end - GUEST_LOAD_ADDR + (16ull << 20));
        }
        return 0;
}

int boot_cmdline_get(const struct guest_boot *b, const char *key, char *out, size_t len) {
        size_t klen = strlen(key);
        const char *p = b->cmdline;
        while (*p) {
                while (*p == ' ')
                        p++;
                const char *tok = p;
                while (*p && *p != ' ')
                        p++;
                if ((size_t)(p - tok) > klen && !strncmp(tok, key, klen) && tok[klen] == '=') {
                        size_t n = (size_t)(p - tok) - klen - 1;
                        if (n >= len)
                                n = len - 1;
                        memcpy(out, tok + klen + 1, n);
                        out[n] = '\0';
                        return 0; /* the first occurrence wins */
                }
        }
        return -ENOENT;
}
