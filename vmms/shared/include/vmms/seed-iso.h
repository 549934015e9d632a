// SPDX-License-Identifier: MIT
/* A small ISO 9660 image of a few files in its root directory, as a
 * cloud-init NoCloud seed needs (volume label "cidata"; docs/vmms.md
 * "cloud-init seeds"). Pure and bounded: the caller's bytes in, an image in
 * memory out, the same bytes for the same input and time.
 *
 * The image (ECMA-119, 2048-byte blocks): the primary volume descriptor,
 * a Joliet supplementary one (UCS-2 names, so Linux's isofs and other
 * readers see "user-data" rather than "USER_DATA"), the terminator, both
 * descriptors' path tables (L and M), both root directories, then each
 * file's data once (both directories point at it). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SEED_ISO_FILES_MAX 4u
#define SEED_ISO_NAME_MAX 30u     /* a file's name: 1-30 of [a-z0-9-] */
#define SEED_ISO_LABEL_MAX 16u    /* the volume label: 1-16 of [a-z0-9_] (Joliet's 16 UCS-2 chars) */
#define SEED_ISO_FILE_MAX (1u << 20) /* each file's bytes: 1 B..1 MiB */
#define SEED_ISO_BLOCK 2048u

struct seed_iso_file {
        const char *name;
        const void *data;
        size_t len;
};

/* Builds the image of files[0..n) under the volume label, every time stamp
 * at created (seconds since the epoch, UTC, 1970-2155). *out is malloc'd,
 * *out_len a multiple of SEED_ISO_BLOCK. Errors: -EINVAL (a bad name or
 * label, or a time out of range), -EEXIST (a name twice), -E2BIG (more than
 * SEED_ISO_FILES_MAX files), -ENODATA (an empty file), -EFBIG (a file over
 * SEED_ISO_FILE_MAX), -ENOMEM. Nothing is allocated on an error. */
int seed_iso_build(const struct seed_iso_file *files, size_t n, const char *label, int64_t created,
                   uint8_t **out, size_t *out_len);
