// SPDX-License-Identifier: MIT
/* The PIIX3 chipset functions on PCI bus 0 (see emu/pci.h). Register
 * offsets and defaults from the Intel 82371FB/82371SB (PIIX/PIIX3)
 * datasheet: §2.2 (PCI-to-ISA bridge configuration), §2.3 (IDE interface
 * configuration: PCICMD, BMIBA at 20h, IDETIM at 40h/42h with IDE Decode
 * Enable in bit 15, SIDETIM at 44h); the host bridge is the 82441FX
 * (i440FX) PMC, whose PAM0-6 (59h-5Fh) the firmware's shadowed area
 * follows (piix_set_shadow_hook); Hyper-V's video function is emu/pci.h's. Only what
 * guests look at is modelled; chipset registers
 * that do nothing here are plain read/write storage, as a BIOS expects. */
#include <errno.h>
#include <string.h>

#include "emu/ide.h"
#include "emu/pci.h"

#define PCI_VENDOR_INTEL 0x8086u
#define PCI_CMD_IO 0x0001u
#define PCI_CMD_MEMORY 0x0002u
#define PCI_CMD_MASTER 0x0004u
#define PIIX_IDETIM_PRI 0x40u
#define PIIX_IDETIM_SEC 0x42u
#define PIIX_IDETIM_DECODE 0x8000u
#define PIIX_BMIBA 0x20u

static uint16_t cfg16(const struct pci_function *f, unsigned off) {
        return (uint16_t)(f->cfg[off] | f->cfg[off + 1] << 8);
}

static void put16(struct pci_function *f, unsigned off, uint16_t v) {
        f->cfg[off] = (uint8_t)v;
        f->cfg[off + 1] = (uint8_t)(v >> 8);
}

/* Chipset registers 40h-FFh: storage the guest may write. */
static void writable_from(struct pci_function *f, unsigned off) {
        memset(f->wmask + off, 0xff, PCI_CFG_SIZE - off);
}

static void ide_written(struct pci_function *f, unsigned offset, unsigned len) {
        struct piix *x = f->opaque;
        uint16_t cmd = cfg16(f, 0x04);
        /* BMIBA bits 31-4: an address past the port space (all ones
         * while a BIOS sizes it) decodes nothing (ide.c). */
        uint32_t bar = ((uint32_t)cfg16(f, PIIX_BMIBA) | (uint32_t)cfg16(f, PIIX_BMIBA + 2) << 16) & ~0xfu;
        ide_set_decode(x->ctrl, cmd & PCI_CMD_IO, cmd & PCI_CMD_MASTER,
                       cfg16(f, PIIX_IDETIM_PRI) & PIIX_IDETIM_DECODE, cfg16(f, PIIX_IDETIM_SEC) & PIIX_IDETIM_DECODE,
                       bar);
}

static void init_ide(struct piix *x) {
        struct pci_function *f = &x->ide;
        /* Mass storage, IDE; programming interface 80h: bus master, both
         * channels in compatibility mode (legacy ports and IRQs 14/15). */
        pci_function_init(f, PCI_VENDOR_INTEL, 0x7010, 0x010180, 0x00, 0x00);
        put16(f, 0x04, PCI_CMD_IO | PCI_CMD_MASTER); /* as the BIOS leaves it */
        put16(f, 0x06, 0x0280);                      /* fast back-to-back, medium DEVSEL */
        f->wmask[0x04] = PCI_CMD_IO | PCI_CMD_MASTER;
        /* BMIBA: I/O space indicator in bit 0, 16 bytes (bits 31-4
         * writable, as QEMU's PCI core makes an I/O BAR: a BIOS sizes it
         * by writing all ones and reading back ~(size - 1); with bits
         * 31-16 stuck at 0 SeaBIOS took it for a BAR of almost 4 GiB and
         * stopped, "PCI: out of I/O address space"). The bus-master
         * ports follow it (ide_written); one past 0xFFF0 decodes nothing. */
        put16(f, PIIX_BMIBA, PIIX_IDE_BM_BASE | 1);
        f->wmask[PIIX_BMIBA] = 0xf0;
        memset(f->wmask + PIIX_BMIBA + 1, 0xff, 3);
        put16(f, PIIX_IDETIM_PRI, PIIX_IDETIM_DECODE);
        put16(f, PIIX_IDETIM_SEC, PIIX_IDETIM_DECODE);
        memset(f->wmask + PIIX_IDETIM_PRI, 0xff, 5); /* IDETIM x2, SIDETIM */
        f->written = ide_written;
        f->opaque = x;
}

int piix_init(struct piix *x, struct ide_controller *ctrl, const struct pci_reset_ops *reset, void *reset_opaque) {
        memset(x, 0, sizeof *x);
        pci_bus_init(&x->bus, reset, reset_opaque);
        x->ctrl = ctrl;
        pci_function_init(&x->host, PCI_VENDOR_INTEL, 0x1237, 0x060000, 0x02, 0x00);
        put16(&x->host, 0x04, 0x0006); /* memory space, bus master */
        writable_from(&x->host, 0x40);
        /* PCI-to-ISA bridge, function 0 of a multi-function device (header
         * type bit 7): Linux scans functions 1-7 only when function 0 exists. */
        pci_function_init(&x->isa, PCI_VENDOR_INTEL, 0x7000, 0x060100, 0x00, 0x80);
        put16(&x->isa, 0x04, 0x0007);
        writable_from(&x->isa, 0x40);
        memset(x->isa.cfg + 0x60, 0x80, 4); /* PIRQRC[A:D]: routing disabled (§2.2.8) */
        int r;
        if ((r = pci_bus_add(&x->bus, 0, 0, &x->host)) < 0 || (r = pci_bus_add(&x->bus, 1, 0, &x->isa)) < 0)
                return r;
        if (!ctrl)
                return 0;
        init_ide(x);
        if ((r = pci_bus_add(&x->bus, 1, 1, &x->ide)) < 0)
                return r;
        ide_written(&x->ide, 0, 0);
        return 0;
}

int piix_add_video(struct piix *x, uint32_t bar0, uint32_t bar0_size) {
        if (x->has_video || bar0_size < 4096u || (bar0_size & (bar0_size - 1)) || (bar0 & (bar0_size - 1)))
                return -EINVAL;
        struct pci_function *f = &x->video;
        /* Display controller, VGA compatible, as Hyper-V's. */
        pci_function_init(f, PCI_VENDOR_MICROSOFT, PCI_DEVICE_HYPERV_VIDEO, 0x030000, 0x00, 0x00);
        put16(f, 0x04, PCI_CMD_MEMORY); /* as the BIOS leaves it */
        f->wmask[0x04] = PCI_CMD_MEMORY;
        /* BAR0: 32-bit memory, not prefetchable; the bits below its size
         * read as zero, so sizing it reads back ~(size - 1). */
        uint32_t mask = ~(bar0_size - 1u);
        for (unsigned i = 0; i < 4; i++) {
                f->cfg[0x10 + i] = (uint8_t)(bar0 >> (8 * i));
                f->wmask[0x10 + i] = (uint8_t)(mask >> (8 * i));
        }
        f->wmask[0x10] &= 0xf0; /* the type bits */
        int r = pci_bus_add(&x->bus, PIIX_VIDEO_SLOT, 0, f);
        if (r == 0)
                x->has_video = true;
        return r;
}

void piix_set_host_subsystem(struct piix *x, uint16_t vendor, uint16_t device) {
        put16(&x->host, 0x2c, vendor);
        put16(&x->host, 0x2e, device);
}

static void host_written(struct pci_function *f, unsigned offset, unsigned len) {
        struct piix *x = f->opaque;
        if (x->shadow && offset < PIIX_PAM0 + PIIX_PAM_COUNT && offset + len > PIIX_PAM0)
                x->shadow(x->shadow_opaque, piix_pam_read_only(f->cfg + PIIX_PAM0));
}

void piix_set_shadow_hook(struct piix *x, void (*fn)(void *opaque, uint32_t read_only), void *opaque) {
        x->shadow = fn;
        x->shadow_opaque = opaque;
        x->host.written = host_written;
        x->host.opaque = x;
}

void piix_destroy(struct piix *x) {
        pci_bus_destroy(&x->bus);
}
