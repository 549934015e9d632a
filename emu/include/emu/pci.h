/* SPDX-License-Identifier: MIT */
/* pci: PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2:
 * CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF) over bus 0, and the
 * functions of a PIIX3 chipset that the emulated IDE controller needs
 * (emu/piix.c): the i440FX host bridge 8086:1237 at 00:00.0, the PIIX3
 * ISA bridge 8086:7000 at 00:01.0 (function 0 must exist for the IDE
 * function to be found) and the PIIX3 IDE function 8086:7010 at 00:01.1 in
 * compatibility mode, its BAR4 the bus-master block.
 *
 * Byte accesses to 0xCF9 are the chipset's reset control register, which
 * the PIIX3 decodes inside the CONFIG_ADDRESS dword: they go to the
 * callbacks the owner gives (vmwp's ACPI reset register). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vid_partition;
struct ide_controller;

#define PCI_CONF1_PORT 0xcf8u
#define PCI_RESET_PORT 0xcf9u
#define PCI_CFG_SIZE 256u

struct pci_function {
        uint8_t cfg[PCI_CFG_SIZE];
        uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
        /* After a guest write of len bytes at offset (bus lock held). */
        void (*written)(struct pci_function *f, unsigned offset, unsigned len);
        void *opaque;
};

struct pci_reset_ops {
        void (*write)(void *opaque, uint8_t value);
        uint8_t (*read)(void *opaque);
};

struct pci_bus {
        pthread_mutex_t lock;
        uint32_t address; /* CONFIG_ADDRESS */
        struct pci_function *fn[256]; /* bus 0, by devfn */
        const struct pci_reset_ops *reset;
        void *reset_opaque;
};

void pci_bus_init(struct pci_bus *b, const struct pci_reset_ops *reset, void *reset_opaque);
void pci_bus_destroy(struct pci_bus *b);
/* -EEXIST if taken, -EINVAL for a bad slot/function. */
int pci_bus_add(struct pci_bus *b, unsigned dev, unsigned fn, struct pci_function *f);

/* The port decoder (pure; fuzzed through fuzz-ide-pci.c). port 0xCF8-0xCFF. */
uint32_t pci_conf1_read(struct pci_bus *b, uint16_t port, unsigned len);
void pci_conf1_write(struct pci_bus *b, uint16_t port, unsigned len, uint32_t value);
/* Claims 0xCF8-0xCFF. */
int pci_bus_register(struct pci_bus *b, struct vid_partition *p);

void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device, uint32_t class_code,
                       uint8_t revision, uint8_t header_type);

/* ---- the PIIX3 functions (piix.c) ---- */

#define PIIX_IDE_BM_BASE 0xc000u /* where "the BIOS" put BAR4 */

/* Hyper-V's video function on a machine without EFI (a "generation 1"
 * VM): Microsoft 1414:5353, a VGA controller at 00:08.0 with its frame
 * buffer aperture in BAR0. Linux's hyperv_fb needs it there before it
 * drives the synthetic video device, and hv_vmbus reserves BAR0 for it in
 * the VMBus MMIO window (docs/video.md). Nothing decodes the aperture: the
 * synthetic device maps its VRAM where the guest says. */
#define PCI_VENDOR_MICROSOFT 0x1414u
#define PCI_DEVICE_HYPERV_VIDEO 0x5353u
#define PIIX_VIDEO_SLOT 8u

struct piix {
        struct pci_bus bus;
        struct pci_function host, isa, ide, video;
        struct ide_controller *ctrl; /* not owned; NULL: no IDE function */
        bool has_video;
        /* The shadowed area's modes as PAM0-6 set them (piix_set_shadow_hook). */
        void (*shadow)(void *opaque, uint32_t read_only);
        void *shadow_opaque;
};

/* PAM0-6 (the host bridge's 59h-5Fh, 82441FX §3.2.18-19): how the
 * shadowed area 0C0000h-0FFFFFh decodes, a 2-bit field a piece: PAM0's
 * bits 5-4 for 0F0000h-0FFFFFh (its low half is reserved); PAMn (n = 1-6)
 * bits 1-0 for the 16 KiB at 0C0000h + (n - 1) * 32 KiB and bits 5-4 for
 * the 16 KiB above it. In a field, bit 0 enables reads and bit 1 writes:
 * 00 to the ROM / PCI, 01 read-only DRAM, 10 write-only, 11 read/write.
 * Writable: 10 and 11; 00 and 01 drop writes (a read under 00 here sees
 * the DRAM, which holds the ROM's bytes until the firmware wrote it:
 * SeaBIOS never goes back to 00). */
#define PIIX_PAM0 0x59u
#define PIIX_PAM_COUNT 7u
/* The mask of the pieces PAM0-6 (pam[0..6]) leave read-only: bit i below
 * 12 is the 16 KiB at 0C0000h + i * 16 KiB, bit 12 the BIOS segment (the
 * layout of vid's VID_SHADOW_*). A pure function of the registers. */
#define PIIX_SHADOW_BIOS_SEG (1u << 12)
static inline uint32_t piix_pam_read_only(const uint8_t pam[PIIX_PAM_COUNT]) {
        uint32_t ro = pam[0] & 0x20u ? 0 : PIIX_SHADOW_BIOS_SEG;
        for (unsigned n = 1; n < PIIX_PAM_COUNT; n++) {
                if (!(pam[n] & 0x02u))
                        ro |= 1u << (2 * (n - 1));
                if (!(pam[n] & 0x20u))
                        ro |= 1u << (2 * (n - 1) + 1);
        }
        return ro;
}

/* Builds the host bridge, the ISA bridge and, with ctrl, the IDE function
 * on a bus; the IDE function drives what ctrl decodes (command register,
 * IDE decode enables, BAR4). */
int piix_init(struct piix *x, struct ide_controller *ctrl, const struct pci_reset_ops *reset, void *reset_opaque);
/* Adds the video function, its BAR0 a 32-bit memory BAR of bar0_size
 * bytes (a power of two, at least 4 KiB) at bar0, aligned to its size. */
int piix_add_video(struct piix *x, uint32_t bar0, uint32_t bar0_size);
/* The host bridge's subsystem vendor and device (0x2C, 0x2E). Firmware
 * reads it: SeaBIOS runs its QEMU platform code, fw_cfg's files
 * included, only on a host bridge with subsystem 1AF4:1100
 * (src/fw/paravirt.c qemu_detect(); docs/firmware.md). */
#define PIIX_SUBSYSTEM_QEMU_VENDOR 0x1af4u
#define PIIX_SUBSYSTEM_QEMU_DEVICE 0x1100u
void piix_set_host_subsystem(struct piix *x, uint16_t vendor, uint16_t device);
/* fn(opaque, read_only) with piix_pam_read_only() of the registers each
 * time a guest write to the host bridge touches PAM0-6, and when
 * piix_set_state restores them (under the bus lock): the firmware's
 * shadowed area follows them (vid_firmware_set_shadow_ro). At reset they
 * are 0: all read-only. */
void piix_set_shadow_hook(struct piix *x, void (*fn)(void *opaque, uint32_t read_only), void *opaque);
void piix_destroy(struct piix *x);
