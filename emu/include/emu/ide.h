/* SPDX-License-Identifier: MIT */
/* ide: an emulated IDE controller, two channels of two devices each, on
 * the legacy ports (primary 0x1F0-0x1F7 + 0x3F6, IRQ 14; secondary
 * 0x170-0x177 + 0x376, IRQ 15), with bus-master DMA through a PIIX3-style
 * BMIDE register block (docs/emulated-devices.md). Disks are the disk
 * library's (disk/disk.h), storvsp's backend too: one image can be
 * attached here or to a synthetic SCSI controller, with the same
 * durability.
 *
 * Threads: the register callbacks run on vCPU threads; the disk I/O runs
 * on one service thread (emu/service.h) that owns the io_uring. A vCPU
 * never waits for the disk: a command that needs the backend leaves the
 * channel BSY, ide_ops.kick wakes the service thread, which takes the
 * request (ide_take_request), runs it and completes it (ide_complete):
 * DRQ for the next PIO block, or the end of the command, and INTRQ.
 * Each channel has its own lock; a channel runs one command at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "disk/disk.h"
#include "emu/ata.h"
#include "emu/bmdma.h"

struct ide_controller;
struct vid_partition;

#define IDE_CHANNELS 2u
#define IDE_DRIVES 4u /* slot = channel * 2 + device */
#define IDE_PRIMARY_CMD 0x1f0u
#define IDE_PRIMARY_CTL 0x3f6u
#define IDE_PRIMARY_IRQ 14u
#define IDE_SECONDARY_CMD 0x170u
#define IDE_SECONDARY_CTL 0x376u
#define IDE_SECONDARY_IRQ 15u
/* Hard limit: a PIO command moves through a per-channel buffer of this
 * many sectors; longer transfers run as several backend requests. */
#define IDE_BUF_SECTORS 128u

struct ide_ops {
        /* INTRQ of a channel changed (level; the ISA line is edge-triggered
         * in the guest's interrupt controller, so a rising edge interrupts). */
        void (*irq)(void *opaque, unsigned channel, bool level);
        /* Guest memory: the PRD table, and host views of the data buffers
         * (-EFAULT outside RAM). */
        int (*gm_read)(void *opaque, uint64_t gpa, void *buf, size_t len);
        int (*gm_map)(void *opaque, uint64_t gpa, size_t len, void **host);
        /* A backend request is waiting: wake the service thread. */
        void (*kick)(void *opaque);
        /* Optional: [host, host + len), from gm_map, was written by a DMA
         * read; called when the transfer ends, before the command completes
         * (live migration's dirty pages, docs/vm-state.md). */
        void (*gm_dirty)(void *opaque, const void *host, size_t len);
};

int ide_new(const struct ide_ops *ops, void *opaque, struct ide_controller **out);
/* Frees the controller (the disks must have been released, see below, or
 * are released here). Accepts NULL. */
void ide_free(struct ide_controller *c);
/* Attaches a disk (the controller takes its own reference) at slot 0..3.
 * -EINVAL: not 512-byte sectors; -EEXIST: slot taken. Before the guest runs. */
int ide_attach(struct ide_controller *c, unsigned slot, struct disk *d, const struct ata_identity *id);
bool ide_channel_has_drives(const struct ide_controller *c, unsigned channel);

/* ---- the DVD drive (ATAPI, emu/ide-atapi.c; docs/emulated-devices.md) ----
 * A disc is a disk library image opened read-only with 512-byte blocks
 * (an ISO: a raw image of 2048-byte blocks; a trailing partial block is not
 * readable), 1 to 2^32 - 1 blocks; anything else is -EINVAL. The drive
 * takes its own reference. */
/* A DVD drive at slot 0..3 with disc (NULL: empty). -EEXIST: slot taken.
 * Before the guest runs. */
int ide_attach_dvd(struct ide_controller *c, unsigned slot, struct disk *disc, const struct ata_identity *id);
/* The host changes the disc of a running VM (any thread; the old disc's
 * reference is dropped on the calling thread: call it where the disks may
 * be released, the emulated devices' service thread): the tray closes, the
 * guest sees UNIT ATTENTION (MEDIUM MAY HAVE CHANGED) and a GET EVENT
 * STATUS NOTIFICATION media event (new media / media removal). The host
 * wins over the guest's PREVENT. A read of the old disc in progress ends
 * with CHECK CONDITION UNIT ATTENTION. -ENODEV: no DVD drive at slot;
 * -EBUSY: a read of that drive is in flight in the backend (milliseconds:
 * try again). Insert replaces a disc that is in. */
int ide_atapi_insert(struct ide_controller *c, unsigned slot, struct disk *disc);
int ide_atapi_eject(struct ide_controller *c, unsigned slot);
/* Drops the disk references (on the thread that may release the image
 * locks: the service thread, under the worker sandbox). */
void ide_release_disks(struct ide_controller *c);

/* ---- registers (vCPU threads; also the fuzzer and unit tests) ---- */

/* Command block: offset 0 (data, len 1/2/4) .. 7 (status/command). */
uint32_t ide_cmd_read(struct ide_controller *c, unsigned channel, unsigned offset, unsigned len);
void ide_cmd_write(struct ide_controller *c, unsigned channel, unsigned offset, unsigned len, uint32_t value);
/* Control block: alternate status / device control. */
uint8_t ide_ctl_read(struct ide_controller *c, unsigned channel);
void ide_ctl_write(struct ide_controller *c, unsigned channel, uint8_t value);
/* Bus-master block: offset 0-7 primary, 8-15 secondary. */
uint32_t ide_bm_read(struct ide_controller *c, unsigned offset, unsigned len);
void ide_bm_write(struct ide_controller *c, unsigned offset, unsigned len, uint32_t value);

/* What the PCI function decodes (PCI command register, IDETIM decode
 * enables, BAR4): the legacy ports are registered once, accesses outside
 * what the function decodes read all ones. bm_base is BAR4's I/O address
 * (bits 31-4); one that does not fit below 0x10000 (IDE_BM_OFF, a BAR
 * being sized) decodes nothing. The bus-master block's ports follow it
 * (and I/O space enable) through the mover (ide_set_bm_mover). */
#define IDE_BM_OFF 0xffffffffu
void ide_set_decode(struct ide_controller *c, bool io, bool bus_master, bool channel0, bool channel1,
                    uint32_t bm_base);

/* Where the 16-byte bus-master block's ports exist, for tests and fuzzers
 * without a partition or a mover: accesses are decoded only while BAR4
 * says the same address. */
void ide_bm_claimed(struct ide_controller *c, uint32_t bm_base);
/* The bus-master block's ports follow BAR4: at once and at every decode
 * change, move(opaque, base) with where they must be now (IDE_BM_OFF:
 * nowhere, with I/O space disabled or BAR4 outside the port space).
 * ide_register() installs vid's; a test installs its own port map. */
typedef void (*ide_bm_mover)(void *opaque, uint32_t base);
void ide_set_bm_mover(struct ide_controller *c, ide_bm_mover move, void *opaque);
/* Claims the legacy ports of both channels, and the 16-byte bus-master
 * block as a port window (vid_register_pio_window) that moves where the
 * PCI function's BAR4 puts it. */
int ide_register(struct ide_controller *c, struct vid_partition *p);

/* ---- the backend side (the service thread) ---- */

struct ide_request {
        enum disk_op_kind kind; /* DISK_READ, DISK_WRITE or DISK_FLUSH */
        struct disk *disk;
        uint64_t offset, len;
        const struct iovec *iov; /* valid until ide_complete */
        unsigned iovcnt;
        bool fua;
};
/* The request channel ch wants run, if any (it is then in flight). */
bool ide_take_request(struct ide_controller *c, unsigned channel, struct ide_request *out);
/* Its result: bytes moved or 0 (flush), or -errno. */
void ide_complete(struct ide_controller *c, unsigned channel, int res);

struct ide_stats {
        uint64_t commands, aborted, pio_bytes, dma_bytes, dma_errors, io_errors;
        uint64_t ignored_writes; /* command/task file writes while busy, data port without DRQ */
        uint64_t resets;
};
void ide_get_stats(struct ide_controller *c, struct ide_stats *out);
