/* SPDX-License-Identifier: MIT */
/* What the first blocks of an image file say about it as a disc (docs/
 * firmware.md "Disc images"), so that vmms can refuse with a clear error
 * an ISO cut short (its ISO 9660 volume is larger than the file) for a
 * DVD drive, and a DVD image given as a disk (an ISO 9660 volume with no
 * boot signature in its first sector: nothing a BIOS could boot from a
 * disk; an isohybrid image, which has one, is a disk image too). Pure:
 * bytes in, a verdict out (fuzz-iso-probe). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bytes a verdict needs: the system area and the primary volume
 * descriptor (ISO 9660 §6.2.1, §8.4: block 16 of 2048 bytes). */
#define ISO_PROBE_HEAD (17u * 2048u)

struct iso_probe {
        bool iso9660;        /* a primary volume descriptor at block 16 */
        bool boot_signature; /* 0x55 0xAA at bytes 510-511 (an MBR) */
        uint64_t volume_bytes; /* the volume's size by its descriptor (iso9660 only) */
};

/* head: the file's first len bytes (len may be short: a small file).
 * Fills *out; 0, or -EINVAL for a volume descriptor that contradicts
 * itself (its both-endian fields differ, or a block size that ISO 9660
 * does not allow), with why. */
int iso_probe(const uint8_t *head, size_t len, struct iso_probe *out, char *why, size_t whylen);

/* The DVD drive's check of an ISO of file_size bytes: 0, or -EINVAL with
 * a sentence in why (smaller than one block, truncated, inconsistent). */
int iso_probe_disc(const uint8_t *head, size_t len, uint64_t file_size, char *why, size_t whylen);

/* The disk's check of a raw image: 0, or -EINVAL with a sentence in why
 * when it is a DVD image that no BIOS boots as a disk. */
int iso_probe_disk(const uint8_t *head, size_t len, char *why, size_t whylen);
