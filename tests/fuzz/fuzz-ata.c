// SPDX-License-Identifier: MIT
/* Fuzz the ATA command decoder and IDENTIFY (emu/ata.c, ata-identify.c):
 * a disk size and flags, then task files decoded one after the other
 * against the settings they change. Checks the decoder's promises: every
 * sector transfer lies inside the disk (and inside the 28-bit capacity for
 * 28-bit commands), counts and DRQ block sizes are bounded, writes never
 * reach a read-only disk, refusals carry ABRT or IDNF, settings stay
 * valid, and the identify data always checksums.
 *
 * Input: [n_sectors u48 le][flags u8] then 12-byte task files:
 *        feature nsect lbal lbam lbah hob_feature hob_nsect hob_lbal hob_lbam hob_lbah device command */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/ata.h"
#include "tests/fuzz/fuzz-check.h"


static void check_settings(const struct ata_settings *s) {
        CHECK(s->multiple <= ATA_MAX_MULTIPLE && (s->multiple & (s->multiple - 1)) == 0);
        CHECK(s->heads >= 1 && s->heads <= 16 && s->spt >= 1);
        CHECK(s->power == ATA_POWER_ACTIVE || s->power == ATA_POWER_STANDBY);
}

static void check_cmd(const struct ata_settings *s, const struct ata_cmd *c) {
        switch (c->action) {
        case ATA_READ:
        case ATA_WRITE: {
                uint64_t cap = c->lba48 ? s->n_sectors : (s->n_sectors < ATA_LBA28_MAX ? s->n_sectors : ATA_LBA28_MAX);
                CHECK(c->count >= 1 && c->count <= 65536);
                CHECK(c->lba < cap && c->count <= cap - c->lba);
                CHECK(c->action == ATA_READ || !s->read_only);
                CHECK(c->proto == ATA_PROTO_DMA || (c->proto == ATA_PROTO_PIO && c->block >= 1 && c->block <= 16));
                CHECK(!c->fua || c->action == ATA_WRITE);
                break;
        }
        case ATA_DONE:
                CHECK(c->error == 0 || c->error == ATA_ERR_ABRT || c->error == ATA_ERR_IDNF);
                break;
        case ATA_IDENTIFY:
                CHECK(c->count == 1 && c->block == 1);
                break;
        case ATA_FLUSH:
        case ATA_DIAGNOSE:
                break;
        default:
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        if (size < 7)
                return 0;
        uint64_t n = 0;
        for (int i = 5; i >= 0; i--)
                n = n << 8 | in[i];
        if (n == 0)
                n = 1;
        struct ata_settings s;
        ata_settings_init(&s, n, in[6] & 1);
        struct ata_identity id = { .model = "Virtual HD", .serial = "0123456789", .firmware = "1.1.0",
                                   .device1 = in[6] & 2 };
        for (size_t off = 7; off + 12 <= size; off += 12) {
                const uint8_t *t = in + off;
                struct ata_taskfile tf = { .feature = t[0], .nsect = t[1], .lbal = t[2], .lbam = t[3], .lbah = t[4],
                                           .hob_feature = t[5], .hob_nsect = t[6], .hob_lbal = t[7], .hob_lbam = t[8],
                                           .hob_lbah = t[9], .device = t[10], .command = t[11] };
                struct ata_cmd c;
                CHECK(ata_decode(&s, &tf, &c) == 0);
                check_cmd(&s, &c);
                check_settings(&s);
                uint16_t w[ATA_IDENTIFY_WORDS];
                ata_identify(&id, &s, w);
                uint8_t sum = 0;
                for (unsigned i = 0; i < ATA_IDENTIFY_WORDS; i++)
                        sum = (uint8_t)(sum + (w[i] & 0xff) + (w[i] >> 8));
                CHECK(sum == 0 && (w[255] & 0xff) == 0xa5);
        }
        return 0;
}
