// SPDX-License-Identifier: MIT
/* iso_probe and its two checks (vmms/iso-probe.h) on any image head: the
 * input's first 8 bytes are the file's size (little-endian), the rest its
 * first bytes (at most ISO_PROBE_HEAD). Checks: a refusal says why; an
 * accepted disc with an ISO 9660 volume fits the file; a volume's size is
 * a whole number of its blocks; a disk refused is ISO 9660 without a boot
 * signature. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-check.h"
#include "vmms/iso-probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 8)
                return 0;
        uint64_t file_size = 0;
        memcpy(&file_size, data, 8);
        const uint8_t *head = data + 8;
        size_t len = size - 8 > ISO_PROBE_HEAD ? ISO_PROBE_HEAD : size - 8;
        struct iso_probe p;
        char why[256] = "";
        int r = iso_probe(head, len, &p, why, sizeof why);
        CHECK(r == 0 || (r == -EINVAL && why[0]));
        if (r == 0 && p.iso9660)
                CHECK(p.volume_bytes % 512 == 0);
        why[0] = 0;
        int d = iso_probe_disc(head, len, file_size, why, sizeof why);
        CHECK(d == 0 || (d == -EINVAL && why[0]));
        if (d == 0) {
                CHECK(file_size >= 2048);
                CHECK(r == 0 && (!p.iso9660 || p.volume_bytes <= file_size));
        }
        why[0] = 0;
        int k = iso_probe_disk(head, len, why, sizeof why);
        CHECK(k == 0 || (k == -EINVAL && why[0]));
        if (k < 0)
                CHECK(r == 0 && p.iso9660 && !p.boot_signature);
        return 0;
}
