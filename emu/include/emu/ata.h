/* SPDX-License-Identifier: MIT */
/* ata: the pure ATA command decoder of the emulated IDE disk (docs/emulated-devices.md).
 *
 * ata_decode() takes the task file a guest wrote and the device's settings
 * and says what to do: complete at once (with a status and error), send a
 * block of immediate data (IDENTIFY), or move sectors by PIO or DMA, or
 * flush. It changes the settings the command changes (SET FEATURES, SET
 * MULTIPLE MODE, INITIALIZE DEVICE PARAMETERS, power modes). No I/O, no
 * threads, no allocation; every input byte is untrusted (fuzz-ata.c).
 *
 * Spec references are to ATA/ATAPI-7 (T13/1532D) volume 1, "ATA-7" below,
 * whose command set this device implements (IDENTIFY word 80 says so). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATA_SECTOR_SIZE 512u
#define ATA_LBA28_MAX 0x0fffffffull      /* ATA-7 6.16.58: words 60-61 */
#define ATA_LBA48_MAX 0xffffffffffffull
#define ATA_MAX_MULTIPLE 16u             /* IDENTIFY word 47: sectors per DRQ block */
#define ATA_IDENTIFY_WORDS 256u

/* Status register (ATA-7 7.15.6). */
#define ATA_STAT_ERR 0x01u
#define ATA_STAT_DRQ 0x08u
#define ATA_STAT_DSC 0x10u /* "device seek complete" (obsolete, set as ATA-3 devices do) */
#define ATA_STAT_DF 0x20u
#define ATA_STAT_DRDY 0x40u
#define ATA_STAT_BSY 0x80u
/* Error register (ATA-7 7.9). */
#define ATA_ERR_AMNF 0x01u
#define ATA_ERR_ABRT 0x04u
#define ATA_ERR_IDNF 0x10u
#define ATA_ERR_UNC 0x40u
/* Device register (ATA-7 7.10). */
#define ATA_DEV_DEV 0x10u
#define ATA_DEV_LBA 0x40u
#define ATA_DEV_OBS 0xa0u /* bits 7 and 5: obsolete, read as one on old devices */
/* Device control register (ATA-7 7.8). */
#define ATA_CTL_NIEN 0x02u
#define ATA_CTL_SRST 0x04u
#define ATA_CTL_HOB 0x80u

/* Command codes (ATA-7 chapter 6). */
#define ATA_CMD_NOP 0x00u
#define ATA_CMD_DEVICE_RESET 0x08u
#define ATA_CMD_RECALIBRATE 0x10u        /* 0x10-0x1F */
#define ATA_CMD_READ_SECTORS 0x20u
#define ATA_CMD_READ_SECTORS_NR 0x21u    /* "without retry" (obsolete alias) */
#define ATA_CMD_READ_SECTORS_EXT 0x24u
#define ATA_CMD_READ_DMA_EXT 0x25u
#define ATA_CMD_READ_MULTIPLE_EXT 0x29u
#define ATA_CMD_WRITE_SECTORS 0x30u
#define ATA_CMD_WRITE_SECTORS_NR 0x31u
#define ATA_CMD_WRITE_SECTORS_EXT 0x34u
#define ATA_CMD_WRITE_DMA_EXT 0x35u
#define ATA_CMD_WRITE_MULTIPLE_EXT 0x39u
#define ATA_CMD_READ_VERIFY 0x40u
#define ATA_CMD_READ_VERIFY_NR 0x41u
#define ATA_CMD_READ_VERIFY_EXT 0x42u
#define ATA_CMD_SEEK 0x70u
#define ATA_CMD_EXECUTE_DIAGNOSTIC 0x90u
#define ATA_CMD_INIT_PARAMETERS 0x91u
#define ATA_CMD_STANDBY_IMMEDIATE_OLD 0x94u /* ATA-1 codes still accepted */
#define ATA_CMD_IDLE_IMMEDIATE_OLD 0x95u
#define ATA_CMD_STANDBY_OLD 0x96u
#define ATA_CMD_IDLE_OLD 0x97u
#define ATA_CMD_CHECK_POWER_MODE_OLD 0x98u
#define ATA_CMD_SLEEP_OLD 0x99u
#define ATA_CMD_IDENTIFY_PACKET 0xa1u
#define ATA_CMD_READ_MULTIPLE 0xc4u
#define ATA_CMD_WRITE_MULTIPLE 0xc5u
#define ATA_CMD_SET_MULTIPLE 0xc6u
#define ATA_CMD_READ_DMA 0xc8u
#define ATA_CMD_READ_DMA_NR 0xc9u
#define ATA_CMD_WRITE_DMA 0xcau
#define ATA_CMD_WRITE_DMA_NR 0xcbu
#define ATA_CMD_STANDBY_IMMEDIATE 0xe0u
#define ATA_CMD_IDLE_IMMEDIATE 0xe1u
#define ATA_CMD_STANDBY 0xe2u
#define ATA_CMD_IDLE 0xe3u
#define ATA_CMD_CHECK_POWER_MODE 0xe5u
#define ATA_CMD_SLEEP 0xe6u
#define ATA_CMD_FLUSH_CACHE 0xe7u
#define ATA_CMD_FLUSH_CACHE_EXT 0xeau
#define ATA_CMD_IDENTIFY 0xecu
#define ATA_CMD_SET_FEATURES 0xefu

/* SET FEATURES subcommands (ATA-7 6.49, table 40). */
#define ATA_SF_ENABLE_WCACHE 0x02u
#define ATA_SF_SET_XFER 0x03u
#define ATA_SF_DISABLE_REVERT 0x66u
#define ATA_SF_DISABLE_WCACHE 0x82u
#define ATA_SF_DISABLE_LOOKAHEAD 0x55u
#define ATA_SF_ENABLE_LOOKAHEAD 0xaau
#define ATA_SF_ENABLE_REVERT 0xccu

/* Transfer mode values of SET FEATURES 03h (ATA-7 table 41). */
#define ATA_XFER_PIO_DEFAULT 0x00u
#define ATA_XFER_PIO_NOIORDY 0x01u
#define ATA_XFER_PIO 0x08u   /* | mode 0..4 */
#define ATA_XFER_MWDMA 0x20u /* | mode 0..2 */
#define ATA_XFER_UDMA 0x40u  /* | mode 0..5 */

/* What the guest wrote: each command-block register is a two-byte FIFO for
 * the 48-bit commands (ATA-7 5.2.x "HOB"): the previous write is hob_*. */
struct ata_taskfile {
        uint8_t feature, nsect, lbal, lbam, lbah;
        uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
        uint8_t device;
        uint8_t command;
};

enum ata_power {
        ATA_POWER_ACTIVE, /* active or idle: CHECK POWER MODE answers FFh */
        ATA_POWER_STANDBY /* standby (or sleep): 00h */
};

/* The settings a device keeps between commands (guest-visible state). */
struct ata_settings {
        uint64_t n_sectors; /* capacity in 512-byte sectors, 1..ATA_LBA48_MAX */
        bool read_only;     /* writes are aborted */
        bool write_cache;   /* SET FEATURES 02h/82h: off = every write is FUA */
        bool lookahead;     /* SET FEATURES AAh/55h (no effect on the backend) */
        uint8_t multiple;   /* SET MULTIPLE MODE: 0 (disabled) or 1..16, a power of two */
        uint8_t xfer_mode;  /* the last valid SET FEATURES 03h value */
        uint8_t power;      /* enum ata_power */
        /* CHS translation (INITIALIZE DEVICE PARAMETERS): current heads and
         * sectors per track; cylinders follow from the capacity. */
        uint8_t heads, spt;
};

/* Default settings for a disk of n_sectors (the power-on state). */
void ata_settings_init(struct ata_settings *s, uint64_t n_sectors, bool read_only);
/* The default CHS geometry of ATA-7 annex/IDENTIFY words 1, 3, 6. */
void ata_default_chs(uint64_t n_sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt);
/* Cylinders of the current translation (IDENTIFY word 54). */
uint16_t ata_current_cylinders(const struct ata_settings *s);

enum ata_action {
        ATA_DONE,     /* complete now: status DRDY (| ERR with error), INTRQ */
        ATA_IDENTIFY, /* PIO data-in of one block: the identify data */
        ATA_READ,     /* sectors device -> host */
        ATA_WRITE,    /* sectors host -> device */
        ATA_FLUSH,    /* make written sectors durable, then complete */
        ATA_DIAGNOSE, /* EXECUTE DEVICE DIAGNOSTIC: both devices, signatures */
};

enum ata_protocol {
        ATA_PROTO_NONE,
        ATA_PROTO_PIO, /* DRQ blocks of `block` sectors through the data port */
        ATA_PROTO_DMA, /* bus-master DMA */
};

struct ata_cmd {
        enum ata_action action;
        enum ata_protocol proto;
        uint8_t error;     /* ATA_DONE: the error register (0: success) */
        bool set_nsect;    /* ATA_DONE: the sector count register gets nsect (CHECK POWER MODE) */
        uint8_t nsect;
        bool lba48;
        uint64_t lba;      /* ATA_READ/ATA_WRITE: first sector */
        uint32_t count;    /* sectors, 1..65536 */
        uint16_t block;    /* PIO: sectors per DRQ block (1 or the multiple count) */
        bool fua;          /* ATA_WRITE: write through (write cache disabled) */
};

/* Decodes tf->command against s (which the command may change). Returns 0;
 * -EINVAL only for NULL arguments. A command the device refuses is
 * ATA_DONE with ATA_ERR_ABRT; an address outside the disk ATA_ERR_IDNF. */
int ata_decode(struct ata_settings *s, const struct ata_taskfile *tf, struct ata_cmd *out);

/* ---- IDENTIFY DEVICE (ata-identify.c) ---- */

struct ata_identity {
        char model[41];    /* ASCII, space padded on the wire (ATA-7 6.16.x words 27-46) */
        char serial[21];   /* words 10-19 */
        char firmware[9];  /* words 23-26 */
        bool device1;      /* word 93: which device's reset results */
};

/* The 256 identify words (host order; the data port sends them
 * little-endian) for the device's current settings, word 255 carrying the
 * checksum (ATA-7 6.16.64). */
void ata_identify(const struct ata_identity *id, const struct ata_settings *s, uint16_t out[ATA_IDENTIFY_WORDS]);
/* ATA string fields: two characters per word, the first in the high byte. */
void ata_put_string(uint16_t *words, const char *s, size_t n_words);
