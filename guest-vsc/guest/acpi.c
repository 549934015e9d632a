// SPDX-License-Identifier: MIT
/* ACPI just far enough to power off: RSDP -> RSDT/XSDT -> FADT (PM1a
 * control and PM timer ports) -> DSDT \_S5 (SLP_TYPa). Our vmwp and QEMU
 * place PM1a_CNT at 0x604 but disagree on the S5 sleep type (5 vs 0), so
 * the tables decide; without tables we fall back to hv/vmstack.h. Table
 * addresses and lengths are checked against the 4 GiB identity map. */
#include "hv/vmstack.h"

#include "guest.h"

#define ACPI_MAPPED_TOP (4ull << 30)
#define ACPI_TABLE_MAX (1u << 20)
#define SLP_EN (1u << 13)

struct acpi_header {
        char sig[4];
        uint32_t length;
        uint8_t revision, checksum;
        char oem[6], oem_table[8];
        uint32_t oem_revision, creator, creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "acpi header");

struct acpi_rsdp {
        char sig[8];
        uint8_t checksum;
        char oem[6];
        uint8_t revision;
        uint32_t rsdt;
        uint32_t length;
        uint64_t xsdt;
        uint8_t ext_checksum, reserved[3];
} __attribute__((packed));

#define FADT_DSDT 40
#define FADT_PM1A_CNT 64
#define FADT_PM_TMR 76
#define FADT_X_DSDT 140

static bool in_map(uint64_t pa, uint64_t len) {
        return pa >= 0x1000 && len <= ACPI_MAPPED_TOP && pa <= ACPI_MAPPED_TOP - len;
}

static uint8_t sum(const uint8_t *p, size_t n) {
        uint8_t s = 0;
        for (size_t i = 0; i < n; i++)
                s = (uint8_t)(s + p[i]);
        return s;
}

static const struct acpi_rsdp *rsdp_at(uint64_t pa) {
        if (!in_map(pa, 20))
                return NULL;
        const struct acpi_rsdp *r = (const struct acpi_rsdp *)(uintptr_t)pa;
        return !memcmp(r->sig, "RSD PTR ", 8) && sum((const uint8_t *)r, 20) == 0 ? r : NULL;
}

static const struct acpi_rsdp *find_rsdp(uint64_t hint) {
        const struct acpi_rsdp *r = rsdp_at(hint);
        for (uint64_t pa = 0xe0000; !r && pa < 0x100000; pa += 16)
                r = rsdp_at(pa); /* the BIOS area, where QEMU's firmware puts it */
        return r;
}

/* A table header at pa whose whole length is mapped, or NULL. */
static const struct acpi_header *table_at(uint64_t pa) {
        if (!in_map(pa, sizeof(struct acpi_header)))
                return NULL;
        const struct acpi_header *h = (const struct acpi_header *)(uintptr_t)pa;
        if (h->length < sizeof *h || h->length > ACPI_TABLE_MAX || !in_map(pa, h->length))
                return NULL;
        return h;
}

static const struct acpi_header *find_fadt(const struct acpi_rsdp *r) {
        bool x = r->revision >= 2 && r->xsdt;
        const struct acpi_header *root = table_at(x ? r->xsdt : r->rsdt);
        if (!root || sum((const uint8_t *)root, root->length) != 0)
                return NULL;
        size_t esz = x ? 8 : 4, n = (root->length - sizeof *root) / esz;
        for (size_t i = 0; i < n; i++) {
                uint64_t pa = 0;
                memcpy(&pa, (const uint8_t *)(root + 1) + i * esz, esz);
                const struct acpi_header *t = table_at(pa);
                if (t && !memcmp(t->sig, "FACP", 4))
                        return t;
        }
        return NULL;
}

static uint32_t fadt_u32(const struct acpi_header *f, size_t off) {
        uint32_t v = 0;
        if (f->length >= off + 4)
                memcpy(&v, (const uint8_t *)f + off, 4);
        return v;
}

void acpi_find_power(uint64_t rsdp_hint, struct acpi_power *out) {
        *out = (struct acpi_power){ .pm1a_cnt = VMSTACK_PM1A_CNT_PORT, .pm_tmr = VMSTACK_PM_TMR_PORT,
                                    .slp_typ_s5 = VMSTACK_SLP_TYP_S5 };
        const struct acpi_rsdp *r = find_rsdp(rsdp_hint);
        const struct acpi_header *f = r ? find_fadt(r) : NULL;
        if (!f)
                return;
        uint32_t cnt = fadt_u32(f, FADT_PM1A_CNT), tmr = fadt_u32(f, FADT_PM_TMR);
        if (cnt && cnt <= 0xffff)
                out->pm1a_cnt = (uint16_t)cnt;
        if (tmr && tmr <= 0xffff)
                out->pm_tmr = (uint16_t)tmr;
        uint64_t dsdt = fadt_u32(f, FADT_DSDT);
        if (f->length >= FADT_X_DSDT + 8) {
                uint64_t x;
                memcpy(&x, (const uint8_t *)f + FADT_X_DSDT, 8);
                if (x)
                        dsdt = x;
        }
        out->dsdt = dsdt;
        out->from_tables = true;
}

/* "Name(_S5, Package(){SLP_TYPa, ...})" in AML: NameOp '_S5_' PackageOp
 * PkgLength NumElements, then a ByteConst (0x0A n), Zero (0x00) or One (0x01). */
static int dsdt_s5(uint64_t dsdt_pa) {
        const struct acpi_header *d = table_at(dsdt_pa);
        if (!d)
                return -ENOENT;
        const uint8_t *a = (const uint8_t *)d;
        for (uint32_t i = sizeof *d + 1; i + 12 < d->length; i++) {
                if (memcmp(a + i, "_S5_", 4) || (a[i - 1] != 0x08 && !(a[i - 1] == '\\' && a[i - 2] == 0x08)))
                        continue;
                uint32_t p = i + 4;
                if (a[p++] != 0x12)
                        continue;
                p += 1u + (a[p] >> 6); /* PkgLength: lead byte + 0..3 more */
                p++;                   /* NumElements */
                if (a[p] == 0x0a)
                        return a[p + 1] & 7;
                if (a[p] == 0x00 || a[p] == 0x01)
                        return a[p];
        }
        return -ENOENT;
}

void acpi_power_off(const struct acpi_power *p) {
        int typ = p->from_tables ? dsdt_s5(p->dsdt) : -ENOENT;
        if (typ < 0)
                typ = p->slp_typ_s5;
        outw(p->pm1a_cnt, (uint16_t)((unsigned)typ << 10 | SLP_EN));
        /* Still here: try the vmstack values, then a reset (QEMU with
         * -no-reboot exits on it), then stop for good. */
        outw(VMSTACK_PM1A_CNT_PORT, VMSTACK_SLP_TYP_S5 << 10 | SLP_EN);
        outb(VMSTACK_RESET_PORT, VMSTACK_RESET_VALUE);
        for (;;)
                __asm__ volatile("cli; hlt");
}
