// SPDX-License-Identifier: MIT
/* PCI configuration mechanism #1 (see emu/pci.h). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "emu/pci.h"
#include "vid/vid.h"

#define CONF1_ENABLE 0x80000000u

void pci_bus_init(struct pci_bus *b, const struct pci_reset_ops *reset, void *reset_opaque) {
        memset(b, 0, sizeof *b);
        pthread_mutex_init(&b->lock, NULL);
        b->reset = reset;
        b->reset_opaque = reset_opaque;
}

void pci_bus_destroy(struct pci_bus *b) {
        pthread_mutex_destroy(&b->lock);
}

int pci_bus_add(struct pci_bus *b, unsigned dev, unsigned fn, struct pci_function *f) {
        if (dev >= 32 || fn >= 8 || !f)
                return -EINVAL;
        unsigned devfn = dev << 3 | fn;
        if (b->fn[devfn])
                return -EEXIST;
        b->fn[devfn] = f;
        return 0;
}

void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device, uint32_t class_code,
                       uint8_t revision, uint8_t header_type) {
        memset(f, 0, sizeof *f);
        f->cfg[0x00] = (uint8_t)vendor, f->cfg[0x01] = (uint8_t)(vendor >> 8);
        f->cfg[0x02] = (uint8_t)device, f->cfg[0x03] = (uint8_t)(device >> 8);
        f->cfg[0x08] = revision;
        f->cfg[0x09] = (uint8_t)class_code;         /* programming interface */
        f->cfg[0x0a] = (uint8_t)(class_code >> 8);  /* sub-class */
        f->cfg[0x0b] = (uint8_t)(class_code >> 16); /* base class */
        f->cfg[0x0e] = header_type;
        f->wmask[0x0d] = 0xff; /* latency timer */
        f->wmask[0x3c] = 0xff; /* interrupt line: scratch for the OS */
}

/* The function CONFIG_ADDRESS selects and the register offset, or NULL
 * (another bus, a free slot, or the enable bit clear). */
static struct pci_function *target(struct pci_bus *b, uint16_t port, unsigned len, unsigned *offset) {
        unsigned byte = port & 3u;
        if (!(b->address & CONF1_ENABLE) || byte + len > 4 || ((b->address >> 16) & 0xffu) != 0)
                return NULL;
        *offset = (b->address & 0xfcu) + byte;
        return b->fn[(b->address >> 8) & 0xffu];
}

uint32_t pci_conf1_read(struct pci_bus *b, uint16_t port, unsigned len) {
        uint32_t v = 0xffffffffu;
        if (len == 0 || len > 4)
                return v;
        pthread_mutex_lock(&b->lock);
        if (port == PCI_CONF1_PORT && len == 4) {
                v = b->address;
        } else if (port == PCI_RESET_PORT && len == 1) {
                v = b->reset && b->reset->read ? b->reset->read(b->reset_opaque) : 0;
        } else if (port >= PCI_CONF1_PORT + 4 && port < PCI_CONF1_PORT + 8) {
                unsigned off;
                struct pci_function *f = target(b, port, len, &off);
                if (f) {
                        v = 0;
                        memcpy(&v, f->cfg + off, len);
                }
        }
        pthread_mutex_unlock(&b->lock);
        return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

void pci_conf1_write(struct pci_bus *b, uint16_t port, unsigned len, uint32_t value) {
        if (len == 0 || len > 4)
                return;
        bool reset = false;
        pthread_mutex_lock(&b->lock);
        if (port == PCI_CONF1_PORT && len == 4) {
                b->address = value & 0x80fffffcu; /* bits 30-24 reserved, 1-0 read as zero */
        } else if (port == PCI_RESET_PORT && len == 1) {
                reset = true; /* outside the lock: it may stop the VM */
        } else if (port >= PCI_CONF1_PORT + 4 && port < PCI_CONF1_PORT + 8) {
                unsigned off;
                struct pci_function *f = target(b, port, len, &off);
                if (f) {
                        for (unsigned i = 0; i < len; i++) {
                                uint8_t m = f->wmask[off + i];
                                f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | ((value >> (8 * i)) & m));
                        }
                        if (f->written)
                                f->written(f, off, len);
                }
        }
        /* Other byte/word accesses to 0xCF8-0xCFB go to the ISA bus on a
         * PIIX3 (e.g. Linux's probe writes 0xCFB): nothing there. */
        pthread_mutex_unlock(&b->lock);
        if (reset && b->reset && b->reset->write)
                b->reset->write(b->reset_opaque, (uint8_t)value);
}

static void conf1_pio_read(void *opaque, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        uint32_t v = pci_conf1_read(opaque, (uint16_t)(PCI_CONF1_PORT + off), len);
        memcpy(data, &v, MIN(len, 4u));
}

static void conf1_pio_write(void *opaque, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        uint32_t v = 0;
        memcpy(&v, data, MIN(len, 4u));
        pci_conf1_write(opaque, (uint16_t)(PCI_CONF1_PORT + off), len, v);
}

static const struct vid_io_ops conf1_ops = { .read = conf1_pio_read, .write = conf1_pio_write };

int pci_bus_register(struct pci_bus *b, struct vid_partition *p) {
        return vid_register_pio(p, PCI_CONF1_PORT, 8, &conf1_ops, b);
}
