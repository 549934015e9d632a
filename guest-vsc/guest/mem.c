// SPDX-License-Identifier: MIT
/* Physical memory of the test guest: the identity map beyond the 4 GiB
 * entry.S builds, and a page allocator (a bitmap, next fit) for GPADLs,
 * ring buffers and SynIC pages. Memory is identity-mapped, so a virtual
 * address is its guest physical address. */
#include "guest.h"

#define PAGE 4096ull
#define GIB (1ull << 30)
#define POOL_MAX_BYTES GIB /* bounds the bitmap and its scans */

extern uint8_t __image_end[];
extern uint64_t boot_pdpt[512];

/* Read once at boot, at CPL0: on the PVM host CPUID at CPL3 answers with
 * bits the VM's CPUID lacks, Page1GB among them (docs/pvm.md), and KVM,
 * which enforces the VM's, faults a PDPT entry with PS set (reserved bit). */
static bool gib_pages;

static bool cpu_has_gib_pages(void) {
        uint32_t r[4];
        cpuid(0x80000000, 0, r);
        if (r[0] < 0x80000001)
                return false;
        cpuid(0x80000001, 0, r);
        return r[3] & (1u << 26); /* Page1GB */
}

/* The allocator of the single guest (owned by the runtime, not the library). */
static struct {
        uint64_t base, pages, free, hint, mapped_top;
        uint64_t *bitmap; /* bit set = page in use */
} pool;

static bool page_used(uint64_t i) {
        return pool.bitmap[i / 64] >> (i % 64) & 1;
}

/* Counts only pages whose state changes, so a double free cannot inflate pool.free. */
static void mark(uint64_t first, uint64_t n, bool used) {
        for (uint64_t i = first; i < first + n; i++) {
                if (page_used(i) == used)
                        continue;
                pool.bitmap[i / 64] ^= 1ull << (i % 64);
                pool.free = used ? pool.free - 1 : pool.free + 1;
        }
}

/* The largest piece of RAM between the image end and 4 GiB. */
static void pick_pool(const struct guest_boot *b) {
        uint64_t lo = ((uint64_t)(uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);
        for (unsigned i = 0; i < b->n_ram; i++) {
                uint64_t s = b->ram[i].base, e = b->ram[i].base + b->ram[i].size;
                s = s < lo ? lo : (s + PAGE - 1) & ~(PAGE - 1);
                e = e > 4 * GIB ? 4 * GIB : e & ~(PAGE - 1);
                if (e > s && e - s > pool.pages * PAGE) {
                        pool.base = s;
                        pool.pages = (e - s) / PAGE;
                }
        }
        if (pool.pages * PAGE > POOL_MAX_BYTES)
                pool.pages = POOL_MAX_BYTES / PAGE;
}

int mem_map_identity(uint64_t start, uint64_t end) {
        if (end > 512 * GIB)
                return -ERANGE; /* one PDPT */
        for (uint64_t g = start / GIB < BOOT_MAP_GIB ? BOOT_MAP_GIB : start / GIB; g * GIB < end; g++) {
                if (boot_pdpt[g] & PTE_P)
                        continue;
                if (gib_pages) {
                        boot_pdpt[g] = g * GIB | PTE_2M; /* PS in a PDPT entry: 1 GiB */
                        continue;
                }
                uint64_t *pd = mem_alloc_pages(1);
                if (!pd)
                        return -ENOMEM;
                for (uint64_t j = 0; j < 512; j++)
                        pd[j] = (g * GIB + j * (2ull << 20)) | PTE_2M;
                boot_pdpt[g] = (uint64_t)(uintptr_t)pd | PTE_TABLE;
        }
        uint64_t top = (end + GIB - 1) & ~(GIB - 1);
        if (top > pool.mapped_top)
                pool.mapped_top = top;
        return 0;
}

/* Identity-map RAM above 4 GiB (entry.S mapped 4 GiB). */
static int map_high(const struct guest_boot *b) {
        uint64_t top = 4 * GIB;
        for (unsigned i = 0; i < b->n_ram; i++)
                if (b->ram[i].base + b->ram[i].size > top)
                        top = b->ram[i].base + b->ram[i].size;
        if (top > 512 * GIB)
                top = 512 * GIB; /* one PDPT */
        int r = mem_map_identity(4 * GIB, top);
        if (r < 0)
                return r;
        uint64_t cr3;
        __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory"); /* flush */
        return 0;
}

int mem_init(const struct guest_boot *b) {
        pick_pool(b);
        if (pool.pages < 64)
                return -ENOMEM;
        uint64_t words = (pool.pages + 63) / 64;
        uint64_t bitmap_pages = (words * 8 + PAGE - 1) / PAGE;
        pool.bitmap = (uint64_t *)(uintptr_t)pool.base;
        memset(pool.bitmap, 0, bitmap_pages * PAGE);
        pool.free = pool.pages;
        mark(0, bitmap_pages, true);
        /* Bits past the end of the pool stay "used" so no run crosses it. */
        for (uint64_t i = pool.pages; i < words * 64; i++)
                pool.bitmap[i / 64] |= 1ull << (i % 64);
        pool.hint = bitmap_pages;
        pool.mapped_top = 4 * GIB;
        gib_pages = cpu_has_gib_pages();
        return map_high(b);
}

/* First run of n free pages at or after `from`, or pool.pages. */
static uint64_t find_run(uint64_t from, uint64_t n) {
        uint64_t run = 0;
        for (uint64_t i = from; i < pool.pages; i++) {
                if (i % 64 == 0 && run == 0 && pool.bitmap[i / 64] == ~0ull) {
                        i += 63; /* a full word: skip it at once */
                        continue;
                }
                run = page_used(i) ? 0 : run + 1;
                if (run == n)
                        return i + 1 - n;
        }
        return pool.pages;
}

void *mem_alloc_pages_unzeroed(size_t n) {
        if (n == 0 || n > pool.free)
                return NULL;
        uint64_t first = find_run(pool.hint, n);
        if (first == pool.pages)
                first = find_run(0, n);
        if (first == pool.pages)
                return NULL;
        mark(first, n, true);
        pool.hint = first + n;
        return (void *)(uintptr_t)(pool.base + first * PAGE);
}

void *mem_alloc_pages(size_t n) {
        void *p = mem_alloc_pages_unzeroed(n);
        if (p)
                memset(p, 0, n * PAGE);
        return p;
}

void mem_free_pages(void *p, size_t n) {
        uint64_t a = (uint64_t)(uintptr_t)p;
        if (!p || a < pool.base || a % PAGE || (a - pool.base) / PAGE + n > pool.pages)
                return;
        mark((a - pool.base) / PAGE, n, false);
}

void mem_stats(struct mem_stats *out) {
        out->pool_base = pool.base;
        out->pool_pages = pool.pages;
        out->free_pages = pool.free;
        out->mapped_top = pool.mapped_top;
}
