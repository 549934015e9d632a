/* SPDX-License-Identifier: MIT */
/* State of the emulated IDE controller, shared by ide.c (task file, PIO),
 * ide-dma.c (bus master) and ide-io.c (backend requests). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "emu/atapi.h"
#include "emu/ide.h"

#define IDE_BUF_BYTES (IDE_BUF_SECTORS * ATA_SECTOR_SIZE)

enum ide_phase {
        IDE_IDLE,
        IDE_PIO_IN,  /* data-in: DRQ blocks out of buf; backend reads refill it */
        IDE_PIO_OUT, /* data-out: DRQ blocks into buf; backend writes drain it */
        IDE_DMA,     /* waiting for START, or the transfer in flight */
        IDE_FLUSH,
        IDE_ATAPI_CDB, /* PACKET: DRQ for the 12-byte CDB */
        IDE_ATAPI_IN,  /* PACKET data-in: DRQ blocks of the byte count out of buf; reads refill it */
};

struct ide_drive {
        bool present;
        struct disk *disk;
        struct ata_settings set;
        struct ata_identity id;
        uint8_t status, error;
        bool atapi;            /* a DVD drive (PACKET device, ide-atapi.c) */
        struct atapi_state at; /* its MMC state; disk is its disc (NULL: none) */
};

struct ide_channel {
        pthread_mutex_t lock;
        struct ide_controller *ctrl;
        unsigned index;
        struct ide_drive drive[2];

        struct ata_taskfile tf;
        uint8_t devctl;
        bool in_reset; /* SRST seen: BSY until it is released and no I/O is in flight */
        /* A reset or diagnostic left each device's signature in LBA mid/high
         * (a PACKET device's 14h/EBh): until the host writes them. */
        bool sig_fresh;
        uint16_t byte_limit; /* PACKET: the byte count limit (LBA mid/high when it was written) */

        /* The command in progress. */
        enum ide_phase phase;
        unsigned cur;        /* the drive running it */
        struct ata_cmd cmd;
        uint64_t lba_next;   /* next sector the backend moves */
        uint32_t left;       /* sectors the backend has still to move */
        uint32_t chunk;      /* sectors of the request in flight / the buffer's fill */
        uint32_t pos, fill, drq_end; /* bytes in buf */
        uint8_t *buf;        /* IDE_BUF_BYTES, 4 KiB aligned (O_DIRECT) */

        /* Backend. */
        bool io_busy;  /* a request is wanted or in flight */
        bool io_ready; /* wanted, not yet taken */
        struct ide_request req;

        /* INTRQ. */
        bool intrq, irq_level;

        /* Bus master (ide-dma.c). */
        uint8_t bm_cmd, bm_status;
        uint32_t prd_table;
        bool dma_exact;
        struct iovec iov[BMDMA_MAX_PRD];
        struct bmdma_walk walk;
};

struct ide_controller {
        const struct ide_ops *ops;
        void *opaque;
        struct ide_channel ch[IDE_CHANNELS];
        /* What the PCI function decodes (ide_set_decode). */
        _Atomic bool decode_io, decode_bm, decode_ch[IDE_CHANNELS];
        _Atomic uint32_t bm_base, bm_registered;
        /* Moves the bus-master ports (ide_set_bm_mover); called under the
         * PCI bus lock (piix.c) or before the VM runs. */
        ide_bm_mover bm_move;
        void *bm_move_opaque;
        /* ide_register's port window. */
        struct vid_partition *bm_partition;
        unsigned bm_window;
        pthread_mutex_t stats_lock;
        struct ide_stats stats;
};

#define IDE_STAT_ADD(c, field, n)                         \
        do {                                              \
                pthread_mutex_lock(&(c)->stats_lock);     \
                (c)->stats.field += (n);                  \
                pthread_mutex_unlock(&(c)->stats_lock);   \
        } while (0)

/* ide.c, called with ch->lock held. */
void ide_raise_irq(struct ide_channel *ch);
void ide_clear_irq(struct ide_channel *ch);
void ide_command_error(struct ide_channel *ch, uint8_t error);
void ide_command_done(struct ide_channel *ch);
void ide_want_io(struct ide_channel *ch);
/* A backend request finished while SRST was seen: the reset may end. */
void ide_reset_io_done(struct ide_channel *ch);
/* ide-cmd.c, with ch->lock held: the data port and command execution. */
uint32_t ide_data_read(struct ide_channel *ch, unsigned len);
void ide_data_write(struct ide_channel *ch, unsigned len, uint32_t v);
void ide_command(struct ide_channel *ch, uint8_t code);
/* A new PIO data-in of `bytes` from buf (IDENTIFY data). */
void ide_pio_in_buffer(struct ide_channel *ch, uint32_t bytes);
/* Asks the backend to move `sectors` of 512 bytes at lba_next through buf. */
void ide_submit(struct ide_channel *ch, enum disk_op_kind kind, uint32_t sectors);
/* ide-atapi.c, with ch->lock held: a PACKET device's commands. */
void ide_atapi_command(struct ide_channel *ch, uint8_t code);
void ide_atapi_packet(struct ide_channel *ch);     /* the CDB is in buf */
void ide_atapi_block_done(struct ide_channel *ch); /* the host read a DRQ block */
void ide_atapi_read_done(struct ide_channel *ch, int res);
/* A PACKET command failed in the transfer (ATA error code: UNC or ABRT). */
void ide_atapi_io_failed(struct ide_channel *ch, uint8_t ata_error);
/* The status phase of a PACKET command: GOOD, or CHECK CONDITION. */
void ide_atapi_end(struct ide_channel *ch, bool check);
/* ide-dma.c, with ch->lock held. */
void ide_dma_command(struct ide_channel *ch);
void ide_dma_complete(struct ide_channel *ch, int res);
void ide_dma_reset(struct ide_channel *ch);
/* Walks the PRD table and wants the transfer (START with the bus master on). */
void ide_dma_begin(struct ide_channel *ch);
/* Saved state: the transfer a restored channel wanted, asked for again. */
void ide_want_again(struct ide_channel *ch);
