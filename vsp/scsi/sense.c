// SPDX-License-Identifier: MIT
/* Fixed-format sense data (SPC-4 4.5.3) and the mapping of backend errors
 * to sense keys. We never return descriptor format: the control mode page
 * reports D_SENSE = 0 and REQUEST SENSE refuses DESC = 1. */
#include <errno.h>
#include <string.h>

#include "scsi-internal.h"

#define SENSE_RESPONSE_CURRENT_FIXED 0x70u
#define SENSE_ADDITIONAL_LEN (SCSI_SENSE_LEN - 8u)
#define SENSE_SKSV 0x80u    /* sense-key specific valid */
#define SENSE_CD 0x40u      /* field pointer refers to the CDB */
#define SENSE_BPV 0x08u     /* bit pointer valid */

void scsi_set_sense(struct scsi_status *st, uint8_t key, uint16_t asc_ascq) {
        memset(st->sense, 0, sizeof st->sense);
        st->status = SCSI_STATUS_CHECK_CONDITION;
        st->sense_len = SCSI_SENSE_LEN;
        st->sense[0] = SENSE_RESPONSE_CURRENT_FIXED;
        st->sense[2] = (uint8_t)(key & 0x0fu);
        st->sense[7] = SENSE_ADDITIONAL_LEN;
        st->sense[12] = (uint8_t)(asc_ascq >> 8);
        st->sense[13] = (uint8_t)asc_ascq;
        st->data_len = 0;
}

void scsi_set_sense_field(struct scsi_status *st, uint16_t asc_ascq, bool in_cdb, uint16_t byte, int bit) {
        scsi_set_sense(st, SCSI_SENSE_ILLEGAL_REQUEST, asc_ascq);
        /* SPC-4 4.5.2.4.2: field pointer sense-key specific data */
        uint8_t b = SENSE_SKSV;
        if (in_cdb)
                b |= SENSE_CD;
        if (bit >= 0 && bit <= 7)
                b = (uint8_t)(b | SENSE_BPV | (unsigned)bit);
        st->sense[15] = b;
        st->sense[16] = (uint8_t)(byte >> 8);
        st->sense[17] = (uint8_t)byte;
}

uint8_t scsi_sense_key(const struct scsi_status *st) {
        return st->sense_len >= 3 ? (uint8_t)(st->sense[2] & 0x0fu) : 0;
}

uint16_t scsi_sense_asc(const struct scsi_status *st) {
        return st->sense_len >= 14 ? (uint16_t)((unsigned)st->sense[12] << 8 | st->sense[13]) : 0;
}

static bool io_is_read(const struct scsi_io *io) {
        return io->kind == SCSI_IO_READ;
}

/* Backend errno -> sense. The goal is the guest's reaction (Linux
 * scsi_io_completion / sd): media errors fail the request, ENOSPC becomes
 * BLK_STS_NOSPC via DATA PROTECT 27h/07h, transient conditions retry via
 * ABORTED COMMAND, a vanished backing device fails fast via NOT READY 04h/00h
 * (not one of the "becoming ready" ASCQs that make Linux wait). */
void scsi_complete_io(const struct scsi_io *io, int res, struct scsi_status *st) {
        memset(st, 0, sizeof *st);
        if (res >= 0) {
                st->status = SCSI_STATUS_GOOD;
                if (io->kind == SCSI_IO_READ || io->kind == SCSI_IO_WRITE)
                        st->data_len = (uint32_t)res;
                return;
        }
        switch (-res) {
        case EIO:
        case EUCLEAN:
        case EBADMSG:
        case ENODATA:
        case EILSEQ:
                scsi_set_sense(st, SCSI_SENSE_MEDIUM_ERROR,
                               io_is_read(io) ? SCSI_ASC_UNRECOVERED_READ_ERROR : SCSI_ASC_WRITE_ERROR);
                break;
        case ENOSPC:
        case EDQUOT:
        case EFBIG:
                scsi_set_sense(st, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_SPACE_ALLOCATION_FAILED);
                break;
        case EROFS:
        case EPERM:
        case EACCES:
                scsi_set_sense(st, SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
                break;
        case ENODEV:
        case ENXIO:
        case ENOMEDIUM:
        case ESHUTDOWN:
        case ESTALE:
                scsi_set_sense(st, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY);
                break;
        case ENOMEM:
        case EAGAIN:
        case EBUSY:
        case EINTR:
        case ECANCELED:
        case ETIMEDOUT:
                scsi_set_sense(st, SCSI_SENSE_ABORTED_COMMAND, SCSI_ASC_NO_ADDITIONAL_SENSE);
                break;
        default:
                scsi_set_sense(st, SCSI_SENSE_HARDWARE_ERROR, SCSI_ASC_INTERNAL_TARGET_FAILURE);
                break;
        }
}
