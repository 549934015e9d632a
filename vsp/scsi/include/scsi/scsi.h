/* SPDX-License-Identifier: MIT */
/* scsi: a pure SCSI direct-access block device (SBC-3/SPC-4 subset) target.
 *
 * No I/O, no threads, no allocation: scsi_execute() decodes a CDB against a
 * LUN description and either
 *   - completes it at once (SCSI_DONE: status, sense, data-in bytes), or
 *   - asks for the data-out parameter list first (SCSI_NEED_PARAM: MODE
 *     SELECT, UNMAP, WRITE SAME; the caller copies it and calls again), or
 *   - returns a block operation (SCSI_DO_IO) that the caller runs and then
 *     turns into a status with scsi_complete_io().
 * Every input byte is untrusted (it comes from a guest): nothing here
 * asserts, and every response is bounded by SCSI_DATA_IN_MAX.
 *
 * Commands are those Linux sends during discovery and I/O (fact sheet
 * docs/hyperv-guest-interface.md §6.8) plus the ones SBC-3 asks of a disk
 * that advertises what we advertise; anything else is CHECK CONDITION,
 * ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---- */
#define SCSI_MAX_LUNS 256u            /* LUN numbers 0..255 in REPORT LUNS (peripheral addressing) */
#define SCSI_SENSE_LEN 18u            /* fixed-format sense data we return (SPC-4 4.5.3) */
#define SCSI_DATA_IN_MAX 4096u        /* largest immediate response (REPORT LUNS: 8 + 8*256) */
#define SCSI_PARAM_MAX 4096u          /* largest data-out parameter list we accept */
#define SCSI_MAX_UNMAP_DESCRIPTORS 64u /* VPD B0 MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
#define SCSI_CDB_MAX 16u

/* ---- SAM status ---- */
#define SCSI_STATUS_GOOD 0x00u
#define SCSI_STATUS_CHECK_CONDITION 0x02u
#define SCSI_STATUS_BUSY 0x08u

/* ---- operation codes (SPC-4 / SBC-3) ---- */
#define SCSI_OP_TEST_UNIT_READY 0x00u
#define SCSI_OP_REQUEST_SENSE 0x03u
#define SCSI_OP_READ_6 0x08u
#define SCSI_OP_WRITE_6 0x0Au
#define SCSI_OP_INQUIRY 0x12u
#define SCSI_OP_MODE_SELECT_6 0x15u
#define SCSI_OP_MODE_SENSE_6 0x1Au
#define SCSI_OP_START_STOP_UNIT 0x1Bu
#define SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL 0x1Eu
#define SCSI_OP_READ_CAPACITY_10 0x25u
#define SCSI_OP_READ_10 0x28u
#define SCSI_OP_WRITE_10 0x2Au
#define SCSI_OP_VERIFY_10 0x2Fu
#define SCSI_OP_SYNCHRONIZE_CACHE_10 0x35u
#define SCSI_OP_WRITE_SAME_10 0x41u
#define SCSI_OP_UNMAP 0x42u
#define SCSI_OP_MODE_SELECT_10 0x55u
#define SCSI_OP_MODE_SENSE_10 0x5Au
#define SCSI_OP_READ_16 0x88u
#define SCSI_OP_WRITE_16 0x8Au
#define SCSI_OP_VERIFY_16 0x8Fu
#define SCSI_OP_SYNCHRONIZE_CACHE_16 0x91u
#define SCSI_OP_WRITE_SAME_16 0x93u
#define SCSI_OP_SERVICE_ACTION_IN_16 0x9Eu
#define SCSI_OP_REPORT_LUNS 0xA0u
#define SCSI_OP_READ_12 0xA8u
#define SCSI_OP_WRITE_12 0xAAu
#define SCSI_SAI_READ_CAPACITY_16 0x10u

/* ---- sense keys and additional sense codes (SPC-4 4.5.6, Annex D) ---- */
#define SCSI_SENSE_NO_SENSE 0x0u
#define SCSI_SENSE_NOT_READY 0x2u
#define SCSI_SENSE_MEDIUM_ERROR 0x3u
#define SCSI_SENSE_HARDWARE_ERROR 0x4u
#define SCSI_SENSE_ILLEGAL_REQUEST 0x5u
#define SCSI_SENSE_UNIT_ATTENTION 0x6u
#define SCSI_SENSE_DATA_PROTECT 0x7u
#define SCSI_SENSE_ABORTED_COMMAND 0xBu

/* (ASC << 8) | ASCQ */
#define SCSI_ASC_NO_ADDITIONAL_SENSE 0x0000u
#define SCSI_ASC_LUN_NOT_READY 0x0400u             /* cause not reportable */
#define SCSI_ASC_WRITE_ERROR 0x0C00u
#define SCSI_ASC_UNRECOVERED_READ_ERROR 0x1100u
#define SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR 0x1A00u
#define SCSI_ASC_INVALID_OPCODE 0x2000u
#define SCSI_ASC_LBA_OUT_OF_RANGE 0x2100u
#define SCSI_ASC_INVALID_FIELD_IN_CDB 0x2400u
#define SCSI_ASC_LUN_NOT_SUPPORTED 0x2500u
#define SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST 0x2600u
#define SCSI_ASC_WRITE_PROTECTED 0x2700u
#define SCSI_ASC_SPACE_ALLOCATION_FAILED 0x2707u   /* SBC-3: thin provisioning hard limit */
#define SCSI_ASC_CAPACITY_DATA_CHANGED 0x2A09u     /* UNIT ATTENTION after a resize (SBC-3 4.10) */
#define SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED 0x3900u
#define SCSI_ASC_INTERNAL_TARGET_FAILURE 0x4400u

/* ---- the LUN ---- */
struct scsi_lun_config {
        uint64_t n_blocks;            /* capacity in logical blocks (> 0) */
        uint32_t block_size;          /* logical block size: 512 or 4096 */
        uint32_t physical_block_size; /* 0 = block_size; else a power-of-two multiple, <= 32 KiB */
        bool read_only;               /* write protected: WP bit, DATA PROTECT on writes */
        bool discard;                 /* UNMAP / WRITE SAME(UNMAP=1) supported (LBPME, LBPU, LBPWS) */
        bool discard_zeroes;          /* unmapped blocks read back as zeros (LBPRZ) */
        bool nonrotational;           /* VPD B1 MEDIUM ROTATION RATE 1 (solid state) instead of 0 (not reported) */
        uint32_t max_transfer_bytes;  /* VPD B0 MAXIMUM TRANSFER LENGTH (>= block_size) */
        uint32_t opt_transfer_bytes;  /* VPD B0 OPTIMAL TRANSFER LENGTH (0 = not reported) */
        uint32_t max_unmap_blocks;    /* VPD B0 MAXIMUM UNMAP LBA COUNT and write-same cap when discarding */
        uint32_t max_write_same_blocks; /* VPD B0 MAXIMUM WRITE SAME LENGTH (>= 1) */
        char vendor[9];               /* INQUIRY T10 vendor id, ASCII, space padded on the wire */
        char product[17];
        char revision[5];
        char serial[33];              /* VPD 0x80; printable ASCII, may be empty */
        uint64_t naa_id;              /* VPD 0x83 NAA 3h locally assigned, low 60 bits used */
};

/* Fills a config with our defaults ("Msft    ", "Virtual Disk", 1 MiB max
 * transfer, 4 MiB unmap, write cache enabled...) for n_blocks of block_size. */
void scsi_lun_config_init(struct scsi_lun_config *cfg, uint64_t n_blocks, uint32_t block_size);

/* One logical unit. The config is immutable after scsi_lun_init(); the
 * mode-page state and the pending unit attention below may change from any
 * channel thread, so they are only accessed atomically. */
struct scsi_lun {
        struct scsi_lun_config cfg;
        uint8_t wce; /* caching page WCE (1: write-back; 0: every write is FUA) */
        uint16_t attention; /* pending UNIT ATTENTION (ASC << 8 | ASCQ), 0: none */
};
/* Validates cfg (-EINVAL on an impossible combination) and initialises lun. */
int scsi_lun_init(struct scsi_lun *lun, const struct scsi_lun_config *cfg);
bool scsi_lun_write_cache_enabled(const struct scsi_lun *lun);
/* A unit attention condition for the initiator (SAM-5 5.14; there is one
 * initiator, the guest): the next command to the LUN other than INQUIRY,
 * REPORT LUNS and REQUEST SENSE ends in CHECK CONDITION, UNIT ATTENTION,
 * asc_ascq instead of running, and clears it; REQUEST SENSE returns it as
 * its data and clears it too. A newer condition replaces an older one
 * (SPC-4 allows reporting only the latest). 0 clears. Any thread. */
void scsi_lun_set_attention(struct scsi_lun *lun, uint16_t asc_ascq);
uint16_t scsi_lun_attention(const struct scsi_lun *lun);

/* ---- requests ---- */
enum scsi_dir {
        SCSI_DIR_NONE,
        SCSI_DIR_IN,  /* device to initiator */
        SCSI_DIR_OUT, /* initiator to device */
};

/* Present LUNs of the addressed target, for REPORT LUNS. */
struct scsi_lun_map {
        uint64_t bits[SCSI_MAX_LUNS / 64];
};
void scsi_lun_map_set(struct scsi_lun_map *m, unsigned lun, bool present);
bool scsi_lun_map_test(const struct scsi_lun_map *m, unsigned lun);

struct scsi_cmd {
        const uint8_t *cdb;
        size_t cdb_len;
        uint32_t xfer_len;          /* size of the initiator's data buffer */
        const struct scsi_lun_map *luns; /* REPORT LUNS; NULL = none present */
        uint8_t *data_in;           /* SCSI_DATA_IN_MAX bytes for immediate responses */
        const uint8_t *param;       /* data-out parameter list, after SCSI_NEED_PARAM */
        uint32_t param_len;
};

enum scsi_io_kind {
        SCSI_IO_READ,
        SCSI_IO_WRITE,
        SCSI_IO_FLUSH,        /* SYNCHRONIZE CACHE: make completed writes durable */
        SCSI_IO_UNMAP,        /* discard the extents listed in the parameter data */
        SCSI_IO_WRITE_ZEROES, /* WRITE SAME with an all-zero block */
        SCSI_IO_WRITE_SAME,   /* WRITE SAME with a non-zero pattern block */
};

struct scsi_io {
        enum scsi_io_kind kind;
        uint64_t lba;    /* READ/WRITE/WRITE_*: first block */
        uint64_t blocks; /* READ/WRITE/WRITE_*: block count (> 0) */
        bool fua;        /* WRITE*: write through (FUA bit, or WCE = 0) */
        bool may_unmap;  /* WRITE_ZEROES: deallocation allowed (UNMAP bit + LBPRZ) */
        const uint8_t *pattern;    /* WRITE_SAME: one block, points into cmd->param */
        const uint8_t *descriptors; /* UNMAP: block descriptors, point into cmd->param */
        uint32_t n_descriptors;
};
/* UNMAP extent i (validated: in range, may have 0 blocks). */
void scsi_io_unmap_extent(const struct scsi_io *io, uint32_t i, uint64_t *lba, uint32_t *blocks);

struct scsi_status {
        uint8_t status;   /* SCSI_STATUS_* */
        uint8_t sense_len; /* 0 or SCSI_SENSE_LEN */
        uint8_t sense[SCSI_SENSE_LEN];
        uint32_t data_len; /* bytes of data-in produced / bytes transferred */
};

enum scsi_action {
        SCSI_DONE,
        SCSI_NEED_PARAM,
        SCSI_DO_IO,
};

struct scsi_result {
        enum scsi_action action;
        enum scsi_dir dir;    /* data direction of the command, as decoded */
        uint32_t param_len;   /* SCSI_NEED_PARAM: bytes of data-out to supply */
        struct scsi_io io;    /* SCSI_DO_IO */
        struct scsi_status st; /* SCSI_DONE */
};

/* Executes one command. lun == NULL means no logical unit at this address:
 * INQUIRY answers PQ=3/PDT=1Fh data (never zero bytes, fact sheet §6.5),
 * REPORT LUNS works (it is a target-level command), REQUEST SENSE returns
 * LOGICAL UNIT NOT SUPPORTED data, everything else is CHECK CONDITION,
 * LOGICAL UNIT NOT SUPPORTED. Returns 0; -EINVAL only for a NULL cmd/cdb. */
int scsi_execute(struct scsi_lun *lun, const struct scsi_cmd *cmd, struct scsi_result *out);

/* Turns the outcome of a SCSI_DO_IO operation into a status: res >= 0 is
 * the number of bytes transferred (reads/writes; 0 otherwise), res < 0 a
 * negative errno mapped to sense data (EIO: MEDIUM ERROR, ENOSPC: SPACE
 * ALLOCATION FAILED, EROFS: WRITE PROTECTED, ENODEV: NOT READY, ...). */
void scsi_complete_io(const struct scsi_io *io, int res, struct scsi_status *st);

/* Sense helpers (fixed format, current error). */
void scsi_set_sense(struct scsi_status *st, uint8_t key, uint16_t asc_ascq);
/* ILLEGAL REQUEST with a sense-key-specific field pointer (SPC-4 4.5.2.4.2). */
void scsi_set_sense_field(struct scsi_status *st, uint16_t asc_ascq, bool in_cdb, uint16_t byte, int bit);
uint8_t scsi_sense_key(const struct scsi_status *st);
uint16_t scsi_sense_asc(const struct scsi_status *st);

/* The CDB length an opcode's group code implies (SPC-4 4.3.4; 0 for the
 * reserved and vendor-specific groups). */
size_t scsi_cdb_length(uint8_t opcode);
