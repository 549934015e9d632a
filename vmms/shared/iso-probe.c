// SPDX-License-Identifier: MIT
/* iso_probe (vmms/iso-probe.h). ISO 9660 (ECMA-119, 4th edition 2019):
 * the volume descriptor set starts at logical sector 16 (§6.2.1); a
 * primary volume descriptor is type 1, "CD001", version 1 (§8.4.1-3);
 * its volume space size is a both-endian 32-bit field at BP 81-88
 * (§8.4.8, §7.3.3) and its logical block size a both-endian 16-bit field
 * at BP 129-132 (§8.4.12, §7.2.3), a power of two from 512 to 2048 here
 * (§6.1.2: 2^(n+9), at most the sector size). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmms/iso-probe.h"

#define PVD_OFF (16u * 2048u)
#define DISC_BLOCK 2048u

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}
static uint16_t le16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}
static uint16_t be16(const uint8_t *p) {
        return (uint16_t)(p[1] | p[0] << 8);
}

int iso_probe(const uint8_t *head, size_t len, struct iso_probe *out, char *why, size_t whylen) {
        *out = (struct iso_probe){ .boot_signature = len >= 512 && head[510] == 0x55 && head[511] == 0xaa };
        if (len < PVD_OFF + DISC_BLOCK)
                return 0;
        const uint8_t *d = head + PVD_OFF;
        if (d[0] != 1 || memcmp(d + 1, "CD001", 5) != 0 || d[6] != 1)
                return 0;
        uint32_t blocks = le32(d + 80);
        uint16_t bs = le16(d + 128);
        if (blocks != be32(d + 84) || bs != be16(d + 130))
                return snprintf(why, whylen, "its ISO 9660 volume descriptor contradicts itself (its both-endian "
                                "sizes differ)"), -EINVAL;
        if (bs != 512 && bs != 1024 && bs != 2048)
                return snprintf(why, whylen, "its ISO 9660 volume descriptor has a block size of %u bytes "
                                "(512, 1024 or 2048)", bs), -EINVAL;
        out->iso9660 = true;
        out->volume_bytes = (uint64_t)blocks * bs;
        return 0;
}

int iso_probe_disc(const uint8_t *head, size_t len, uint64_t file_size, char *why, size_t whylen) {
        struct iso_probe p;
        if (file_size < DISC_BLOCK)
                return snprintf(why, whylen, "not a disc image: %llu bytes, less than one 2048-byte block",
                                (unsigned long long)file_size), -EINVAL;
        int r = iso_probe(head, len, &p, why, whylen);
        if (r < 0)
                return r;
        if (p.iso9660 && p.volume_bytes > file_size)
                return snprintf(why, whylen, "truncated: its ISO 9660 volume is %llu bytes, the file %llu (copy it "
                                "again)", (unsigned long long)p.volume_bytes, (unsigned long long)file_size), -EINVAL;
        return 0;
}

int iso_probe_disk(const uint8_t *head, size_t len, char *why, size_t whylen) {
        struct iso_probe p;
        char ignored[160];
        if (iso_probe(head, len, &p, ignored, sizeof ignored) < 0 || !p.iso9660 || p.boot_signature)
                return 0; /* not a disc, or an isohybrid image that boots as a disk */
        return snprintf(why, whylen, "a DVD image (ISO 9660, no boot sector for a disk): give it to a DVD drive "
                        "(vmctl create --dvd=ISO, vmctl dvd insert)"), -EINVAL;
}
