// SPDX-License-Identifier: MIT
/* ACPI tables (ACPI 6.5 §5.2): RSDP -> XSDT -> {FADT -> {FACS, DSDT}, MADT}.
 * Laid out in one buffer for guest physical address c->base; the fixed
 * hardware ports come from hvdefs/include/hv/vmstack.h via the config. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi-tables.h"
#include "hv/vmstack.h"
#include "vid/vid.h"
#include "vmwp/acpi.h"

#define OEM_ID "VMSTCK"
#define OEM_TABLE_ID "VMSTACK "
#define CREATOR_ID "VMSK"

uint8_t acpi_checksum(const void *p, size_t len) {
        uint8_t sum = 0;
        for (size_t i = 0; i < len; i++)
                sum = (uint8_t)(sum + ((const uint8_t *)p)[i]);
        return sum;
}

void acpi_config_default(struct acpi_config *c, uint64_t base, unsigned n_cpus) {
        *c = (struct acpi_config){
                .base = base, .n_cpus = n_cpus,
                .pm1a_evt_port = VMSTACK_PM1A_EVT_PORT, .pm1a_cnt_port = VMSTACK_PM1A_CNT_PORT,
                .pm_tmr_port = VMSTACK_PM_TMR_PORT, .reset_port = VMSTACK_RESET_PORT,
                .reset_value = VMSTACK_RESET_VALUE, .slp_typ_s5 = VMSTACK_SLP_TYP_S5,
                .com1 = true, .vmbus = true, .i8042 = true, .rtc = true,
        };
}

/* A bump allocator over the output buffer. */
struct cursor {
        uint8_t *buf;
        size_t size, pos;
        struct acpi_layout *layout;
};

static void *place(struct cursor *k, const char *sig, size_t len, size_t align) {
        size_t at = ALIGN_UP(k->pos, align);
        if (at < k->pos || at > k->size || len > k->size - at ||
            k->layout->n_tables == ACPI_MAX_TABLES)
                return NULL;
        k->pos = at + len;
        struct acpi_table_ref *t = &k->layout->tables[k->layout->n_tables++];
        memcpy(t->sig, sig, 4);
        t->sig[4] = 0;
        t->offset = at;
        t->length = len;
        memset(k->buf + at, 0, len);
        return k->buf + at;
}

static size_t off_of(const struct cursor *k, const void *p) {
        return (size_t)((const uint8_t *)p - k->buf);
}

/* Writes the address of `target` into the size-byte field and records the
 * field, so acpi_loader_build() can turn it into an ADD_POINTER command. */
static int put_pointer(const struct acpi_config *c, struct cursor *k, void *field, uint8_t size, const void *target) {
        struct acpi_layout *l = k->layout;
        if (l->n_pointers == ACPI_MAX_POINTERS)
                return -ENOSPC;
        uint64_t gpa = c->base + off_of(k, target);
        for (unsigned i = 0; i < size; i++) /* little-endian, whatever the host */
                ((uint8_t *)field)[i] = (uint8_t)(gpa >> (8 * i));
        l->pointers[l->n_pointers++] =
                (struct acpi_pointer_ref){ .offset = off_of(k, field), .target = off_of(k, target), .size = size };
        return 0;
}

/* Sets the checksum byte so [start, start + len) sums to 0 and records it
 * (an ADD_CHECKSUM command in the loader form). */
static int seal(struct cursor *k, uint8_t *sum, const void *start, size_t len) {
        struct acpi_layout *l = k->layout;
        if (l->n_checksums == ACPI_MAX_CHECKSUMS)
                return -ENOSPC;
        *sum = 0;
        *sum = (uint8_t)-acpi_checksum(start, len);
        l->checksums[l->n_checksums++] =
                (struct acpi_checksum_ref){ .offset = off_of(k, sum), .start = off_of(k, start), .length = len };
        return 0;
}

static void header_init(struct acpi_header *h, const char *sig, size_t len, uint8_t rev) {
        memcpy(h->signature, sig, 4);
        h->length = (uint32_t)len;
        h->revision = rev;
        memcpy(h->oem_id, OEM_ID, 6);
        memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
        h->oem_revision = 1;
        memcpy(h->creator_id, CREATOR_ID, 4);
        h->creator_revision = 1;
}

static int header_seal(struct cursor *k, struct acpi_header *h) {
        return seal(k, &h->checksum, h, h->length);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t bits, uint8_t access) {
        return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO, .bit_width = bits, .access_size = access,
                                  .address = port };
}

/* Everything but the FACS/DSDT pointers (acpi_build links those). */
static void fadt_fill(const struct acpi_config *c, struct acpi_fadt *f) {
        header_init(&f->h, "FACP", sizeof *f, 6);
        f->fadt_minor_version = 0;
        f->preferred_pm_profile = 0; /* unspecified */
        f->sci_int = ACPI_SCI_IRQ;
        /* SMI_CMD = 0: no SMM, the machine is always in ACPI mode and
         * SCI_EN reads as set (§4.8.2.1.1, §5.2.9). */
        f->smi_cmd = 0;
        f->pm1a_evt_blk = c->pm1a_evt_port;
        f->pm1a_cnt_blk = c->pm1a_cnt_port;
        f->pm_tmr_blk = c->pm_tmr_port;
        f->pm1_evt_len = 4;
        f->pm1_cnt_len = 2;
        f->pm_tmr_len = 4;
        f->x_pm1a_evt_blk = gas_io(c->pm1a_evt_port, 32, ACPI_GAS_ACCESS_WORD);
        f->x_pm1a_cnt_blk = gas_io(c->pm1a_cnt_port, 16, ACPI_GAS_ACCESS_WORD);
        f->x_pm_tmr_blk = gas_io(c->pm_tmr_port, 32, ACPI_GAS_ACCESS_DWORD);
        /* C2/C3 not supported (latencies above 100/1000 us, §5.2.9). */
        f->p_lvl2_lat = 101;
        f->p_lvl3_lat = 1001;
        /* No VGA; the i8042 and the CMOS RTC as emulated (§5.2.9.3). The
         * century byte of the RTC's CMOS RAM is named for the OS. */
        f->iapc_boot_arch = (uint16_t)(ACPI_IAPC_LEGACY_DEVICES | ACPI_IAPC_VGA_NOT_PRESENT |
                                       (c->i8042 ? ACPI_IAPC_8042 : 0) | (c->rtc ? 0 : ACPI_IAPC_CMOS_RTC_NOT_PRESENT));
        f->century = c->rtc ? ACPI_RTC_CENTURY : 0;
        /* Fixed-feature power button (PWR_BUTTON clear); no sleep button. */
        f->flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON | ACPI_FADT_RESET_REG_SUP;
        f->reset_reg = gas_io(c->reset_port, 8, ACPI_GAS_ACCESS_BYTE);
        f->reset_value = c->reset_value;
}

static int madt_build(const struct acpi_config *c, struct cursor *k, struct acpi_madt **out) {
        size_t len = sizeof(struct acpi_madt) + c->n_cpus * sizeof(struct acpi_madt_lapic) +
                     sizeof(struct acpi_madt_ioapic) + 2 * sizeof(struct acpi_madt_iso);
        uint8_t *p = place(k, "APIC", len, 16);
        if (!p)
                return -ENOSPC;
        struct acpi_madt *m = (struct acpi_madt *)p;
        header_init(&m->h, "APIC", len, 5);
        m->local_apic_address = ACPI_LAPIC_BASE;
        m->flags = 1; /* PCAT_COMPAT: KVM's in-kernel irqchip has the two 8259s */
        uint8_t *e = p + sizeof *m;
        for (unsigned i = 0; i < c->n_cpus; i++, e += sizeof(struct acpi_madt_lapic)) {
                struct acpi_madt_lapic l = { .type = 0, .length = sizeof l, .processor_uid = (uint8_t)i,
                                             .apic_id = (uint8_t)i, .flags = 1 };
                memcpy(e, &l, sizeof l);
        }
        /* The IOAPIC id must differ from every LAPIC id: use n_cpus. */
        struct acpi_madt_ioapic io = { .type = 1, .length = sizeof io, .ioapic_id = (uint8_t)c->n_cpus,
                                       .address = ACPI_IOAPIC_BASE, .gsi_base = 0 };
        memcpy(e, &io, sizeof io);
        e += sizeof io;
        /* ISA IRQ 0 (PIT) is wired to IOAPIC pin 2, as on every PC; the SCI
         * is level-triggered, active high (§5.2.12.5, §4.8.2.2). */
        struct acpi_madt_iso iso[2] = {
                { .type = 2, .length = sizeof iso[0], .bus = 0, .source = 0, .gsi = 2, .flags = 0 },
                { .type = 2, .length = sizeof iso[0], .bus = 0, .source = ACPI_SCI_IRQ, .gsi = ACPI_SCI_IRQ,
                  .flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_LEVEL },
        };
        memcpy(e, iso, sizeof iso);
        *out = m;
        return header_seal(k, &m->h);
}

static int check_config(const struct acpi_config *c) {
        if (c->n_cpus == 0 || c->n_cpus > ACPI_MAX_CPUS)
                return -EINVAL;
        /* 32-bit table pointers (RSDT-era fields, FADT.DSDT) must be valid. */
        if (c->base > 0xffffffffu - ACPI_TABLES_MAX_SIZE || (c->base & 15))
                return -EINVAL;
        if (c->slp_typ_s5 > 7)
                return -EINVAL;
        if (c->vmbus_mmio_size != 0) {
                /* A VMBus MMIO window lies in the hole below 4 GiB, below
                 * the IOAPIC (and vid's reserved page above it), and only
                 * with the VMBus device that owns it. */
                uint64_t end = (uint64_t)c->vmbus_mmio_base + c->vmbus_mmio_size;
                if (!c->vmbus || c->vmbus_mmio_base < VID_MMIO_HOLE_START || end > ACPI_IOAPIC_BASE ||
                    end > VID_RESERVED_GPA || (c->vmbus_mmio_base & 0xfff) || (c->vmbus_mmio_size & 0xfff))
                        return -EINVAL;
        }
        return 0;
}

static int add_dsdt(const struct acpi_config *c, struct cursor *k, struct acpi_header **out) {
        _cleanup_free_ uint8_t *aml = NULL;
        size_t len;
        int r = acpi_build_dsdt(c, &aml, &len);
        if (r < 0)
                return r;
        uint8_t *p = place(k, "DSDT", len, 16);
        if (!p)
                return -ENOSPC;
        memcpy(p, aml, len);
        struct acpi_header *h = (struct acpi_header *)p;
        header_init(h, "DSDT", len, 2); /* revision 2: 64-bit AML integers */
        *out = h;
        return header_seal(k, h);
}

/* FADT -> FACS, DSDT (both the 32-bit and the X_ fields); XSDT -> FADT,
 * MADT; RSDP -> XSDT. Each sealed after its pointers are in. */
static int link_tables(const struct acpi_config *c, struct cursor *k, struct acpi_rsdp *rsdp,
                       struct acpi_header *xsdt, struct acpi_fadt *fadt, struct acpi_facs *facs,
                       struct acpi_madt *madt, struct acpi_header *dsdt) {
        uint8_t *entries = (uint8_t *)xsdt + sizeof *xsdt;
        int r;
        if ((r = put_pointer(c, k, &fadt->firmware_ctrl, 4, facs)) < 0 ||
            (r = put_pointer(c, k, &fadt->dsdt, 4, dsdt)) < 0 ||
            (r = put_pointer(c, k, &fadt->x_firmware_ctrl, 8, facs)) < 0 ||
            (r = put_pointer(c, k, &fadt->x_dsdt, 8, dsdt)) < 0 || (r = header_seal(k, &fadt->h)) < 0 ||
            (r = put_pointer(c, k, entries, 8, fadt)) < 0 || (r = put_pointer(c, k, entries + 8, 8, madt)) < 0 ||
            (r = header_seal(k, xsdt)) < 0 || (r = put_pointer(c, k, &rsdp->xsdt_address, 8, xsdt)) < 0)
                return r;
        /* §5.2.5.3: the first checksum covers the ACPI 1.0 part (20 bytes),
         * the extended one the whole structure, the first included. */
        if ((r = seal(k, &rsdp->checksum, rsdp, 20)) < 0)
                return r;
        return seal(k, &rsdp->extended_checksum, rsdp, sizeof *rsdp);
}

int acpi_build(const struct acpi_config *c, uint8_t *buf, size_t size, struct acpi_layout *out) {
        int r = check_config(c);
        if (r < 0)
                return r;
        *out = (struct acpi_layout){ .rsdp_gpa = c->base };
        struct cursor k = { .buf = buf, .size = MIN(size, (size_t)ACPI_TABLES_MAX_SIZE), .layout = out };
        size_t xsdt_len = sizeof(struct acpi_header) + 2 * sizeof(uint64_t);
        struct acpi_rsdp *rsdp = place(&k, "RSDP", sizeof *rsdp, 16);
        struct acpi_header *xsdt = place(&k, "XSDT", xsdt_len, 16);
        struct acpi_fadt *fadt = place(&k, "FACP", sizeof *fadt, 16);
        struct acpi_facs *facs = place(&k, "FACS", sizeof *facs, 64); /* §5.2.10: 64-byte aligned */
        if (!rsdp || !xsdt || !fadt || !facs)
                return -ENOSPC;
        struct acpi_madt *madt;
        struct acpi_header *dsdt;
        if ((r = madt_build(c, &k, &madt)) < 0 || (r = add_dsdt(c, &k, &dsdt)) < 0)
                return r;

        memcpy(facs->signature, "FACS", 4);
        facs->length = sizeof *facs;
        facs->version = 2;
        fadt_fill(c, fadt);
        header_init(xsdt, "XSDT", xsdt_len, 1);
        memcpy(rsdp->signature, "RSD PTR ", 8);
        memcpy(rsdp->oem_id, OEM_ID, 6);
        rsdp->revision = 2;
        rsdp->length = sizeof *rsdp;
        if ((r = link_tables(c, &k, rsdp, xsdt, fadt, facs, madt, dsdt)) < 0)
                return r;
        out->size = k.pos;
        return 0;
}
