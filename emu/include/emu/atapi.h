/* SPDX-License-Identifier: MIT */
/* atapi: the pure MMC command set of the emulated DVD-ROM drive on the IDE
 * controller (docs/emulated-devices.md, "The DVD drive").
 *
 * atapi_exec() takes a 12-byte CDB and the drive's medium state and says
 * what to do: finish at once (GOOD or CHECK CONDITION with sense data), send
 * a block of immediate data it built, or read 2048-byte blocks from the
 * medium. It changes the state the command changes (sense, the pending unit
 * attention and media event, the lock, the tray). No I/O, no threads, no
 * allocation; every CDB byte is untrusted (fuzz-atapi.c).
 *
 * Spec references: MMC-6 (T10/1836-D) for the commands, SPC-3 for the
 * sense data, ATA/ATAPI-7 volume 1 for the PACKET feature set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATAPI_BLOCK_SIZE 2048u
#define ATAPI_CDB_LEN 12u
/* Hard limit: the largest immediate response atapi_exec builds (MODE SENSE
 * of all pages, GET CONFIGURATION of all features are below it). */
#define ATAPI_REPLY_MAX 512u
/* The largest disc: READ CAPACITY reports the last block in 32 bits. */
#define ATAPI_BLOCKS_MAX 0xffffffffull
/* Above this many blocks the disc is a DVD (current profile DVD-ROM), at or
 * below a CD (CD-ROM): 80 minutes of 75 blocks a second. */
#define ATAPI_CD_MAX_BLOCKS (80u * 60u * 75u)

/* Interrupt reason (the sector count register of a PACKET device). */
#define ATAPI_IR_COD 0x01u /* command (the CDB, or the completion status) */
#define ATAPI_IR_IO 0x02u  /* to the host */
/* Features register of PACKET: DMA. */
#define ATAPI_FEAT_DMA 0x01u
/* The signature of a PACKET device (ATA-7 vol. 1, 9.12): LBA mid/high. */
#define ATAPI_SIG_MID 0x14u
#define ATAPI_SIG_HIGH 0xebu
#define ATA_CMD_PACKET 0xa0u

/* MMC opcodes besides SPC's (scsi/scsi.h has those). */
#define MMC_OP_READ_TOC 0x43u
#define MMC_OP_GET_CONFIGURATION 0x46u
#define MMC_OP_GET_EVENT_STATUS 0x4au
#define MMC_OP_READ_DISC_INFO 0x51u
#define MMC_OP_SET_CD_SPEED 0xbbu
#define MMC_OP_MECHANISM_STATUS 0xbdu

/* Sense codes besides SPC's (ASC << 8 | ASCQ). */
#define MMC_ASC_MEDIUM_MAY_HAVE_CHANGED 0x2800u
#define MMC_ASC_NO_MEDIUM_TRAY_CLOSED 0x3a01u
#define MMC_ASC_NO_MEDIUM_TRAY_OPEN 0x3a02u
#define MMC_ASC_REMOVAL_PREVENTED 0x5302u

/* GET EVENT STATUS NOTIFICATION media event codes (MMC-6 6.6.2.4). */
enum atapi_media_event {
        ATAPI_EVENT_NONE = 0,
        ATAPI_EVENT_EJECT_REQUEST = 1,
        ATAPI_EVENT_NEW_MEDIA = 2,
        ATAPI_EVENT_MEDIA_REMOVAL = 3,
};

/* The drive's state the guest can see (saved with the IDE channel). */
struct atapi_state {
        uint32_t n_blocks;  /* the disc's 2048-byte blocks; 0: no disc in the drive */
        bool tray_open;     /* the guest ejected (START STOP UNIT): the disc is out until it loads */
        bool locked;        /* PREVENT ALLOW MEDIUM REMOVAL: the guest's eject is refused */
        bool attention;     /* UNIT ATTENTION, MEDIUM MAY HAVE CHANGED is pending */
        uint8_t event;      /* enum atapi_media_event not yet reported */
        uint8_t sense_key;  /* the last command's sense (REQUEST SENSE) */
        uint16_t sense_asc; /* ASC << 8 | ASCQ */
};

/* Power-on state with a disc of n_blocks (0: empty). */
void atapi_init(struct atapi_state *s, uint32_t n_blocks);
/* The host changed the disc (n_blocks 0: removed): the tray closes, a unit
 * attention and the media event (new media, or removal) become pending.
 * The host wins over the guest's lock (documented). */
void atapi_medium_changed(struct atapi_state *s, uint32_t n_blocks);
/* A disc the guest can read: in the drive, tray closed. */
bool atapi_medium_present(const struct atapi_state *s);
/* CHECK CONDITION with this sense (also for I/O failures the caller saw). */
void atapi_set_sense(struct atapi_state *s, uint8_t key, uint16_t asc_ascq);

enum atapi_action {
        ATAPI_DONE,    /* status phase now: GOOD, or CHECK CONDITION with the sense in the state */
        ATAPI_DATA_IN, /* len bytes in the reply buffer to the host, then GOOD */
        ATAPI_READ,    /* blocks from the medium at lba, then GOOD */
};

struct atapi_result {
        enum atapi_action action;
        bool check;      /* ATAPI_DONE: CHECK CONDITION (sense in the state) */
        uint32_t len;    /* ATAPI_DATA_IN: 1..ATAPI_REPLY_MAX */
        uint32_t lba;    /* ATAPI_READ */
        uint32_t blocks; /* ATAPI_READ: 1.., inside the disc */
};

/* Executes cdb against s, building immediate data in reply (ATAPI_REPLY_MAX
 * bytes). Returns 0; -EINVAL only for NULL arguments. */
int atapi_exec(struct atapi_state *s, const uint8_t cdb[ATAPI_CDB_LEN], uint8_t reply[ATAPI_REPLY_MAX],
               struct atapi_result *out);
/* The ATA error register for a CHECK CONDITION: the sense key in bits 7-4,
 * ABRT for an ILLEGAL REQUEST (ATA-7 vol. 1, PACKET error outputs). */
uint8_t atapi_error_register(const struct atapi_state *s);

/* IDENTIFY PACKET DEVICE (ATA-7 vol. 1, 6.17): 256 words, host order. */
struct ata_identity;
void atapi_identify(const struct ata_identity *id, uint8_t xfer_mode, uint16_t out[256]);
