// SPDX-License-Identifier: MIT
/* IDENTIFY DEVICE data (ATA/ATAPI-7 volume 1, 6.16, table 16). What the
 * device claims here is exactly what emu/ata.c implements: LBA28 and
 * LBA48, PIO modes 0-4, multiword DMA 0-2 and Ultra DMA 0-5 (timings mean
 * nothing to an emulated device; the controller limits what a guest
 * picks), READ/WRITE MULTIPLE up to 16 sectors, a volatile write cache
 * with FLUSH CACHE (EXT), look-ahead, the power management feature set. */
#include <string.h>

#include "common/macro.h"
#include "emu/ata.h"

void ata_put_string(uint16_t *words, const char *s, size_t n_words) {
        size_t len = strlen(s);
        for (size_t i = 0; i < n_words; i++) {
                uint8_t hi = 2 * i < len ? (uint8_t)s[2 * i] : ' ';
                uint8_t lo = 2 * i + 1 < len ? (uint8_t)s[2 * i + 1] : ' ';
                words[i] = (uint16_t)(hi << 8 | lo);
        }
}

static void put32(uint16_t *w, uint32_t v) {
        w[0] = (uint16_t)v;
        w[1] = (uint16_t)(v >> 16);
}

static void put_geometry(uint16_t *id, const struct ata_settings *s) {
        uint16_t cyls;
        uint8_t heads, spt;
        ata_default_chs(s->n_sectors, &cyls, &heads, &spt);
        id[1] = cyls;
        id[3] = heads;
        id[6] = spt;
        uint16_t cur = ata_current_cylinders(s);
        id[54] = cur;
        id[55] = s->heads;
        id[56] = s->spt;
        put32(&id[57], (uint32_t)cur * s->heads * s->spt);
}

/* Words 63 and 88: supported modes in the low byte, the selected one
 * (SET FEATURES 03h) in the high byte. */
static void put_dma_modes(uint16_t *id, uint8_t xfer) {
        id[63] = 0x0007; /* multiword DMA 0-2 */
        id[88] = 0x003f; /* Ultra DMA 0-5 */
        if ((xfer & 0xf8u) == ATA_XFER_MWDMA)
                id[63] |= (uint16_t)(0x100u << (xfer & 7u));
        else if ((xfer & 0xf8u) == ATA_XFER_UDMA)
                id[88] |= (uint16_t)(0x100u << (xfer & 7u));
}

static void put_features(uint16_t *id, const struct ata_settings *s) {
        /* 82/85: NOP (14), look-ahead (6), write cache (5), power management (3). */
        id[82] = 0x4068;
        id[85] = (uint16_t)(0x4008u | (s->lookahead ? 0x40u : 0) | (s->write_cache ? 0x20u : 0));
        /* 83/86: bit 14 one (83 only), FLUSH CACHE EXT (13), FLUSH CACHE (12), 48-bit (10). */
        id[83] = 0x7400;
        id[86] = 0x3400;
        id[84] = 0x4000; /* bit 14 shall be one; no logging, no FUA */
        id[87] = 0x4000;
}

void ata_identify(const struct ata_identity *who, const struct ata_settings *s, uint16_t id[ATA_IDENTIFY_WORDS]) {
        memset(id, 0, ATA_IDENTIFY_WORDS * sizeof *id);
        id[0] = 0x0040;  /* ATA device, fixed (not removable) */
        id[2] = 0xc837;  /* no SET FEATURES needed to spin up; IDENTIFY complete */
        put_geometry(id, s);
        ata_put_string(&id[10], who->serial, 10);
        ata_put_string(&id[23], who->firmware, 4);
        ata_put_string(&id[27], who->model, 20);
        id[47] = 0x8000 | ATA_MAX_MULTIPLE;
        id[49] = 0x0b00; /* IORDY supported (11), LBA (9), DMA (8) */
        id[50] = 0x4000;
        id[51] = 0x0200; /* obsolete PIO timing: mode 2 */
        id[53] = 0x0007; /* words 54-58, 64-70 and 88 valid */
        id[59] = (uint16_t)(0x0100u | s->multiple);
        put32(&id[60], (uint32_t)MIN(s->n_sectors, ATA_LBA28_MAX));
        put_dma_modes(id, s->xfer_mode);
        id[64] = 0x0003; /* PIO 3 and 4 */
        id[65] = id[66] = id[67] = id[68] = 120; /* ns: the fastest of each mode */
        id[80] = 0x00f0; /* ATA/ATAPI-4 to ATA/ATAPI-7 */
        put_features(id, s);
        /* Word 93 (hardware reset result): bit 14 one, 80-conductor cable
         * (13), and this device's byte: detected by jumper (01b), passed. */
        id[93] = (uint16_t)(0x6000u | (who->device1 ? 0x0b00u : 0x000bu));
        put32(&id[100], (uint32_t)s->n_sectors);
        put32(&id[102], (uint32_t)(s->n_sectors >> 32));
        id[106] = 0x4000; /* valid; one 512-byte logical sector per physical sector */
        /* Word 255: signature A5h and a checksum making the 512 bytes sum to
         * zero (ATA-7 6.16.64). */
        uint8_t sum = 0xa5;
        for (unsigned i = 0; i < ATA_IDENTIFY_WORDS - 1; i++)
                sum = (uint8_t)(sum + (id[i] & 0xffu) + (id[i] >> 8));
        id[255] = (uint16_t)((unsigned)(uint8_t)(0u - sum) << 8 | 0xa5u);
}
