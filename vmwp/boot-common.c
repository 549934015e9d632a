// SPDX-License-Identifier: MIT
/* What both boot paths share: the memory map, the boot GDT and the identity
 * page tables. */
#include <errno.h>
#include <string.h>

#include "boot-internal.h"

bool boot_in_ram(const struct boot_guest *g, uint64_t gpa, uint64_t len) {
        uint64_t end;
        if (ADD_OVERFLOW(gpa, len, &end))
                return false;
        for (size_t i = 0; i < g->n_ram && i < BOOT_MAX_RAM_REGIONS; i++)
                if (gpa >= g->ram[i].gpa && end <= g->ram[i].gpa + g->ram[i].size)
                        return true;
        return false;
}

uint64_t boot_low_ram_end(const struct boot_guest *g) {
        for (size_t i = 0; i < g->n_ram && i < BOOT_MAX_RAM_REGIONS; i++)
                if (g->ram[i].gpa == 0)
                        return MIN(g->ram[i].size, (uint64_t)1 << 32);
        return 0;
}

int boot_write_zeros(const struct boot_guest *g, uint64_t gpa, uint64_t len) {
        static const uint8_t zeros[4096];
        while (len > 0) {
                size_t n = (size_t)MIN(len, (uint64_t)sizeof zeros);
                int r = g->write(g->opaque, gpa, zeros, n);
                if (r < 0)
                        return r;
                gpa += n;
                len -= n;
        }
        return 0;
}

static size_t add_e820(struct boot_e820 *out, size_t n, uint64_t addr, uint64_t size, uint32_t type) {
        if (size == 0 || n >= BOOT_MAX_E820)
                return n;
        out[n] = (struct boot_e820){ .addr = addr, .size = size, .type = type };
        return n + 1;
}

size_t boot_e820_build(const struct boot_guest *g, struct boot_e820 out[BOOT_MAX_E820]) {
        size_t n = 0;
        for (size_t i = 0; i < g->n_ram && i < BOOT_MAX_RAM_REGIONS; i++) {
                uint64_t a = g->ram[i].gpa, end = a + g->ram[i].size;
                if (a >= BOOT_HIGH_MEMORY) {
                        n = add_e820(out, n, a, end - a, BOOT_E820_RAM);
                        continue;
                }
                /* Conventional memory up to the EBDA, the legacy hole (our
                 * ACPI tables live there), then extended memory. */
                n = add_e820(out, n, a, MIN(end, (uint64_t)BOOT_LOW_RESERVED_START) - MIN(a, end),
                             BOOT_E820_RAM);
                if (end > BOOT_LOW_RESERVED_START)
                        n = add_e820(out, n, BOOT_LOW_RESERVED_START,
                                     MIN(end, (uint64_t)BOOT_HIGH_MEMORY) - BOOT_LOW_RESERVED_START,
                                     BOOT_E820_RESERVED);
                if (end > BOOT_HIGH_MEMORY)
                        n = add_e820(out, n, BOOT_HIGH_MEMORY, end - BOOT_HIGH_MEMORY, BOOT_E820_RAM);
        }
        return n;
}

static void put_le(uint8_t *p, uint64_t v, unsigned size) {
        for (unsigned i = 0; i < size; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

size_t boot_e820_file(const struct boot_guest *g, uint8_t out[BOOT_E820_FILE_MAX]) {
        struct boot_e820 map[BOOT_MAX_E820];
        size_t n = boot_e820_build(g, map);
        for (size_t i = 0; i < n; i++) {
                uint8_t *e = out + i * BOOT_E820_FILE_ENTRY_SIZE;
                put_le(e, map[i].addr, 8);
                put_le(e + 8, map[i].size, 8);
                put_le(e + 16, map[i].type, 4);
        }
        return n * BOOT_E820_FILE_ENTRY_SIZE;
}

/* Boot GDT (Documentation/x86/boot.rst "64-bit Boot Protocol": __BOOT_CS
 * 0x10 and __BOOT_DS 0x18, flat 4 GiB segments). */
int boot_write_gdt(const struct boot_guest *g) {
        static const uint64_t gdt[4] = {
                0,
                0,
                0x00af9b000000ffffull, /* 0x10: 64-bit code, accessed */
                0x00cf93000000ffffull, /* 0x18: data, accessed */
        };
        return g->write(g->opaque, BOOT_GDT_GPA, gdt, sizeof gdt);
}

/* PML4 -> PDPT -> four page directories of 2 MiB pages: 0-4 GiB identity,
 * which covers the kernel, boot_params and the command line as the 64-bit
 * protocol requires, and the MMIO hole (LAPIC, IOAPIC). */
int boot_write_page_tables(const struct boot_guest *g) {
        _cleanup_free_ uint64_t *t = calloc(BOOT_PAGE_TABLES_SIZE / 8, sizeof *t);
        if (!t)
                return -ENOMEM;
        uint64_t *pml4 = t, *pdpt = t + 512, *pd = t + 1024;
        pml4[0] = (BOOT_PAGE_TABLES_GPA + 0x1000) | 0x3; /* present, writable */
        for (uint64_t i = 0; i < 4; i++)
                pdpt[i] = (BOOT_PAGE_TABLES_GPA + 0x2000 + i * 0x1000) | 0x3;
        for (uint64_t i = 0; i < 4 * 512; i++)
                pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
        return g->write(g->opaque, BOOT_PAGE_TABLES_GPA, t, BOOT_PAGE_TABLES_SIZE);
}
