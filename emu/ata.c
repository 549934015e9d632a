// SPDX-License-Identifier: MIT
/* The ATA command decoder (see emu/ata.h). Commands and their register
 * usage follow ATA/ATAPI-7 volume 1 chapter 6; addressing (CHS, LBA28,
 * LBA48) follows 6.x "inputs" tables and 4.x of the same volume. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "emu/ata.h"

/* Command table flags. */
#define F_RW 0x01u       /* a sector transfer: address and count decoded */
#define F_WRITE 0x02u
#define F_EXT 0x04u      /* 48-bit addressing */
#define F_MULTIPLE 0x08u /* PIO in blocks of the multiple count */
#define F_DMA 0x10u
#define F_VERIFY 0x20u   /* address checked, nothing moves */

struct ata_op {
        uint8_t code;
        uint8_t flags;
};

static const struct ata_op rw_ops[] = {
        { ATA_CMD_READ_SECTORS, F_RW },
        { ATA_CMD_READ_SECTORS_NR, F_RW },
        { ATA_CMD_READ_SECTORS_EXT, F_RW | F_EXT },
        { ATA_CMD_READ_DMA_EXT, F_RW | F_EXT | F_DMA },
        { ATA_CMD_READ_MULTIPLE_EXT, F_RW | F_EXT | F_MULTIPLE },
        { ATA_CMD_WRITE_SECTORS, F_RW | F_WRITE },
        { ATA_CMD_WRITE_SECTORS_NR, F_RW | F_WRITE },
        { ATA_CMD_WRITE_SECTORS_EXT, F_RW | F_WRITE | F_EXT },
        { ATA_CMD_WRITE_DMA_EXT, F_RW | F_WRITE | F_EXT | F_DMA },
        { ATA_CMD_WRITE_MULTIPLE_EXT, F_RW | F_WRITE | F_EXT | F_MULTIPLE },
        { ATA_CMD_READ_VERIFY, F_RW | F_VERIFY },
        { ATA_CMD_READ_VERIFY_NR, F_RW | F_VERIFY },
        { ATA_CMD_READ_VERIFY_EXT, F_RW | F_EXT | F_VERIFY },
        { ATA_CMD_READ_MULTIPLE, F_RW | F_MULTIPLE },
        { ATA_CMD_WRITE_MULTIPLE, F_RW | F_WRITE | F_MULTIPLE },
        { ATA_CMD_READ_DMA, F_RW | F_DMA },
        { ATA_CMD_READ_DMA_NR, F_RW | F_DMA },
        { ATA_CMD_WRITE_DMA, F_RW | F_WRITE | F_DMA },
        { ATA_CMD_WRITE_DMA_NR, F_RW | F_WRITE | F_DMA },
};

void ata_default_chs(uint64_t n_sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt) {
        /* The usual translation: 16 heads, 63 sectors per track, at most
         * 16383 cylinders (ATA-7 IDENTIFY word 1: 16,383 for larger disks). */
        uint64_t c = n_sectors / (16u * 63u);
        *heads = 16;
        *spt = 63;
        *cyls = (uint16_t)CLAMP(c, 1u, 16383u);
}

void ata_settings_init(struct ata_settings *s, uint64_t n_sectors, bool read_only) {
        uint16_t cyls;
        *s = (struct ata_settings){ .n_sectors = MIN(n_sectors, ATA_LBA48_MAX), .read_only = read_only,
                                    .write_cache = true, .lookahead = true, .multiple = 0,
                                    .xfer_mode = ATA_XFER_PIO_DEFAULT, .power = ATA_POWER_ACTIVE };
        ata_default_chs(s->n_sectors, &cyls, &s->heads, &s->spt);
}

uint16_t ata_current_cylinders(const struct ata_settings *s) {
        if (s->heads == 0 || s->spt == 0)
                return 0;
        /* Capped at the 16,514,064 sectors CHS can address (ATA-7 IDENTIFY words 54-58). */
        uint64_t c = MIN(s->n_sectors, 16514064u) / ((uint64_t)s->heads * s->spt);
        return (uint16_t)MIN(c, 65535u);
}

static const struct ata_op *find_rw(uint8_t code) {
        for (size_t i = 0; i < ARRAY_SIZE(rw_ops); i++)
                if (rw_ops[i].code == code)
                        return &rw_ops[i];
        return NULL;
}

static void done(struct ata_cmd *c, uint8_t error) {
        c->action = ATA_DONE;
        c->proto = ATA_PROTO_NONE;
        c->error = error;
}

/* The address of a CHS command (ATA-7 table of "CHS" inputs): cylinder in
 * LBA mid/high, head in device bits 3-0, sector (1-based) in LBA low. */
static bool chs_to_lba(const struct ata_settings *s, const struct ata_taskfile *tf, uint64_t *lba) {
        unsigned cyl = (unsigned)tf->lbah << 8 | tf->lbam, head = tf->device & 0x0fu, sector = tf->lbal;
        if (s->heads == 0 || s->spt == 0 || sector == 0 || sector > s->spt || head >= s->heads ||
            cyl >= ata_current_cylinders(s))
                return false;
        *lba = ((uint64_t)cyl * s->heads + head) * s->spt + sector - 1;
        return true;
}

/* Address and count of a sector command; false: IDNF. */
static bool decode_address(const struct ata_settings *s, const struct ata_taskfile *tf, bool ext, uint64_t *lba,
                           uint32_t *count) {
        uint64_t limit = s->n_sectors;
        if (ext) {
                *lba = (uint64_t)tf->hob_lbah << 40 | (uint64_t)tf->hob_lbam << 32 | (uint64_t)tf->hob_lbal << 24 |
                       (uint64_t)tf->lbah << 16 | (uint64_t)tf->lbam << 8 | tf->lbal;
                *count = (uint32_t)tf->hob_nsect << 8 | tf->nsect;
                if (*count == 0)
                        *count = 65536; /* ATA-7 6.x: 0000h = 65,536 sectors */
        } else {
                *count = tf->nsect ? tf->nsect : 256;
                if (tf->device & ATA_DEV_LBA) {
                        *lba = (uint64_t)(tf->device & 0x0fu) << 24 | (uint64_t)tf->lbah << 16 |
                               (uint64_t)tf->lbam << 8 | tf->lbal;
                        limit = MIN(limit, ATA_LBA28_MAX); /* what words 60-61 report */
                } else if (!chs_to_lba(s, tf, lba)) {
                        return false;
                }
        }
        return *lba < limit && *count <= limit - *lba;
}

static void decode_rw(struct ata_settings *s, const struct ata_taskfile *tf, const struct ata_op *op,
                      struct ata_cmd *c) {
        bool ext = op->flags & F_EXT;
        if ((op->flags & F_MULTIPLE) && s->multiple == 0)
                return done(c, ATA_ERR_ABRT); /* ATA-7 6.26: multiple mode not enabled */
        if ((op->flags & F_WRITE) && s->read_only)
                return done(c, ATA_ERR_ABRT);
        if (!decode_address(s, tf, ext, &c->lba, &c->count))
                return done(c, ATA_ERR_IDNF);
        s->power = ATA_POWER_ACTIVE; /* media access spins the device up */
        c->lba48 = ext;
        if (op->flags & F_VERIFY)
                return done(c, 0);
        c->action = (op->flags & F_WRITE) ? ATA_WRITE : ATA_READ;
        c->proto = (op->flags & F_DMA) ? ATA_PROTO_DMA : ATA_PROTO_PIO;
        c->block = (op->flags & F_MULTIPLE) ? s->multiple : 1;
        c->fua = (op->flags & F_WRITE) && !s->write_cache;
}

/* SET FEATURES 03h: the transfer mode in the sector count (ATA-7 table 41). */
static bool valid_xfer_mode(uint8_t v) {
        uint8_t mode = v & 0x07u;
        switch (v & 0xf8u) {
        case 0x00:
                return mode <= 1;
        case ATA_XFER_PIO:
                return mode <= 4;
        case ATA_XFER_MWDMA:
                return mode <= 2;
        case ATA_XFER_UDMA:
                return mode <= 5;
        default:
                return false;
        }
}

static void set_features(struct ata_settings *s, const struct ata_taskfile *tf, struct ata_cmd *c) {
        switch (tf->feature) {
        case ATA_SF_ENABLE_WCACHE:
        case ATA_SF_DISABLE_WCACHE:
                s->write_cache = tf->feature == ATA_SF_ENABLE_WCACHE;
                return done(c, 0);
        case ATA_SF_ENABLE_LOOKAHEAD:
        case ATA_SF_DISABLE_LOOKAHEAD:
                s->lookahead = tf->feature == ATA_SF_ENABLE_LOOKAHEAD;
                return done(c, 0);
        case ATA_SF_SET_XFER:
                if (!valid_xfer_mode(tf->nsect))
                        return done(c, ATA_ERR_ABRT);
                s->xfer_mode = tf->nsect;
                return done(c, 0);
        case ATA_SF_DISABLE_REVERT:
        case ATA_SF_ENABLE_REVERT:
                /* Accepted; settings survive a software reset either way
                 * (docs/emulated-devices.md, deviations). */
                return done(c, 0);
        default:
                return done(c, ATA_ERR_ABRT);
        }
}

/* SET MULTIPLE MODE (ATA-7 6.47): 0 disables (ATA-5/6 semantics, which
 * ATA-7 keeps as "the device may abort"); otherwise a power of two no
 * larger than IDENTIFY word 47. */
static void set_multiple(struct ata_settings *s, const struct ata_taskfile *tf, struct ata_cmd *c) {
        uint8_t n = tf->nsect;
        if (n > ATA_MAX_MULTIPLE || (n & (n - 1)))
                return done(c, ATA_ERR_ABRT);
        s->multiple = n;
        done(c, 0);
}

/* INITIALIZE DEVICE PARAMETERS (ATA-7 6.18): heads = device bits 3-0 + 1,
 * sectors per track = sector count. */
static void init_parameters(struct ata_settings *s, const struct ata_taskfile *tf, struct ata_cmd *c) {
        if (tf->nsect == 0)
                return done(c, ATA_ERR_ABRT);
        s->heads = (uint8_t)((tf->device & 0x0fu) + 1);
        s->spt = tf->nsect;
        done(c, 0);
}

static void power_command(struct ata_settings *s, uint8_t code, struct ata_cmd *c) {
        switch (code) {
        case ATA_CMD_CHECK_POWER_MODE:
        case ATA_CMD_CHECK_POWER_MODE_OLD:
                /* ATA-7 6.6: 00h standby, FFh active or idle. */
                c->set_nsect = true;
                c->nsect = s->power == ATA_POWER_STANDBY ? 0x00 : 0xff;
                break;
        case ATA_CMD_IDLE:
        case ATA_CMD_IDLE_IMMEDIATE:
        case ATA_CMD_IDLE_OLD:
        case ATA_CMD_IDLE_IMMEDIATE_OLD:
                s->power = ATA_POWER_ACTIVE;
                break;
        default: /* STANDBY (IMMEDIATE), SLEEP: nothing spins; reported as standby */
                s->power = ATA_POWER_STANDBY;
                break;
        }
        done(c, 0);
}

static bool is_power_command(uint8_t code) {
        return (code >= ATA_CMD_STANDBY_IMMEDIATE_OLD && code <= ATA_CMD_SLEEP_OLD) ||
               (code >= ATA_CMD_STANDBY_IMMEDIATE && code <= ATA_CMD_SLEEP && code != 0xe4u);
}

static void decode_other(struct ata_settings *s, const struct ata_taskfile *tf, struct ata_cmd *c) {
        uint8_t code = tf->command;
        if (is_power_command(code))
                return power_command(s, code, c);
        if ((code & 0xf0u) == ATA_CMD_RECALIBRATE)
                return done(c, 0); /* obsolete, nothing to move */
        switch (code) {
        case ATA_CMD_IDENTIFY:
                c->action = ATA_IDENTIFY;
                c->proto = ATA_PROTO_PIO;
                c->count = 1;
                c->block = 1;
                return;
        case ATA_CMD_FLUSH_CACHE:
        case ATA_CMD_FLUSH_CACHE_EXT:
                c->action = ATA_FLUSH;
                return;
        case ATA_CMD_EXECUTE_DIAGNOSTIC:
                c->action = ATA_DIAGNOSE;
                return;
        case ATA_CMD_SET_FEATURES:
                return set_features(s, tf, c);
        case ATA_CMD_SET_MULTIPLE:
                return set_multiple(s, tf, c);
        case ATA_CMD_INIT_PARAMETERS:
                return init_parameters(s, tf, c);
        case ATA_CMD_SEEK: {
                uint64_t lba;
                bool ok = (tf->device & ATA_DEV_LBA)
                                  ? ((uint64_t)(tf->device & 0x0fu) << 24 | (uint64_t)tf->lbah << 16 |
                                     (uint64_t)tf->lbam << 8 | tf->lbal) < MIN(s->n_sectors, ATA_LBA28_MAX)
                                  : chs_to_lba(s, tf, &lba);
                return done(c, ok ? 0 : ATA_ERR_IDNF);
        }
        default:
                /* NOP (ATA-7 6.22 always aborts), DEVICE RESET and IDENTIFY
                 * PACKET DEVICE (PACKET feature set only), SMART, security,
                 * logs, DATA SET MANAGEMENT, anything unknown. */
                return done(c, ATA_ERR_ABRT);
        }
}

int ata_decode(struct ata_settings *s, const struct ata_taskfile *tf, struct ata_cmd *out) {
        if (!s || !tf || !out)
                return -EINVAL;
        *out = (struct ata_cmd){ .action = ATA_DONE };
        const struct ata_op *op = find_rw(tf->command);
        if (op)
                decode_rw(s, tf, op, out);
        else
                decode_other(s, tf, out);
        return 0;
}
