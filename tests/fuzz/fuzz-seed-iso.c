// SPDX-License-Identifier: MIT
/* cloud_init_seed_build and seed_iso_build (vmms/cloud-init.h,
 * vmms/seed-iso.h) with any files and names a D-Bus caller could send.
 * Input: one byte whose bits 0-2 say which of user-data, meta-data and
 * network-config are given, then their bytes, split at the first two
 * "\n--\n"; then the same bytes once more as seed_iso_build's file names
 * (split at '/'). An accepted seed is whole 2 KiB blocks within the bound,
 * its descriptors are in place, and each file's bytes are where both root
 * directories say (found by walking them); a refusal says why; nothing
 * leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"
#include "vmms/cloud-init.h"
#include "vmms/seed-iso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define B SEED_ISO_BLOCK

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Every file record of the root directory the descriptor at blk names
 * points inside the image; the total of their lengths is returned. */
static size_t walk_root(const uint8_t *img, size_t len, uint32_t desc) {
        const uint8_t *d = img + (size_t)desc * B;
        uint32_t root = le32(d + 156 + 2);
        CHECK((size_t)root * B + B <= len);
        const uint8_t *r = img + (size_t)root * B;
        size_t total = 0, off = 0;
        for (int n = 0; off < B && r[off]; n++) {
                CHECK(r[off] >= 34 && off + r[off] <= B);
                if (n >= 2) { /* after "." and ".." */
                        uint32_t ext = le32(r + off + 2), flen = le32(r + off + 10);
                        CHECK((size_t)ext * B + flen <= len);
                        total += flen;
                }
                off += r[off];
        }
        return total;
}

static void split(const uint8_t *p, size_t n, const uint8_t **part, size_t *plen, size_t max, const char *sep) {
        size_t k = 0, sl = strlen(sep);
        for (; k + 1 < max; k++) {
                const uint8_t *s = memmem(p, n, sep, sl);
                if (!s)
                        break;
                part[k] = p, plen[k] = (size_t)(s - p);
                n -= plen[k] + sl, p = s + sl;
        }
        part[k] = p, plen[k] = n;
        for (k++; k < max; k++)
                part[k] = NULL, plen[k] = 0;
}

static void seed(uint8_t which, const uint8_t *p, size_t n) {
        const uint8_t *part[CLOUD_INIT_FILES];
        size_t plen[CLOUD_INIT_FILES], sum = 0;
        struct cloud_init_input in = { 0 };
        split(p, n, part, plen, CLOUD_INIT_FILES, "\n--\n");
        for (int f = 0; f < (int)CLOUD_INIT_FILES; f++)
                if ((which >> f) & 1 && part[f]) {
                        in.data[f] = plen[f] ? (const void *)part[f] : "";
                        in.len[f] = plen[f];
                        sum += plen[f];
                }
        uint8_t *img = NULL;
        size_t len = 0;
        char err[256] = "";
        int r = cloud_init_seed_build(&in, "3f2a9c1d-0b7e-4c55-9a0e-7d2b1c4e5f60", "web1", 1764400000, &img, &len,
                                      err, sizeof err);
        if (r < 0) {
                CHECK(err[0] && !img);
                return;
        }
        CHECK(len % B == 0 && len <= (25 + CLOUD_INIT_FILES + (sum + 200) / B + 1) * (size_t)B);
        CHECK(!memcmp(img + 16 * B + 1, "CD001", 5) && !memcmp(img + 17 * B + 1, "CD001", 5));
        CHECK(img[18 * B] == 255);
        CHECK(le32(img + 16 * B + 80) == len / B);
        size_t a = walk_root(img, len, 16), b = walk_root(img, len, 17);
        CHECK(a == b);
        CHECK(!in.data[CLOUD_INIT_META_DATA] ? a > sum : a == sum);
        free(img);
}

static void names(const uint8_t *p, size_t n) {
        char buf[4][40];
        const uint8_t *part[4];
        size_t plen[4];
        struct seed_iso_file f[4];
        split(p, n, part, plen, 4, "/");
        size_t k = 0;
        for (; k < 4 && part[k]; k++) {
                size_t l = plen[k] < sizeof buf[k] - 1 ? plen[k] : sizeof buf[k] - 1;
                memcpy(buf[k], part[k], l);
                buf[k][l] = 0;
                f[k] = (struct seed_iso_file){ buf[k], "x", 1 };
        }
        uint8_t *img = NULL;
        size_t len = 0;
        if (seed_iso_build(f, k, buf[0], 0, &img, &len) == 0) {
                CHECK(len % B == 0);
                CHECK(walk_root(img, len, 16) == k && walk_root(img, len, 17) == k);
                free(img);
        } else {
                CHECK(!img);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        seed(data[0], data + 1, size - 1);
        names(data + 1, size - 1 < 200 ? size - 1 : 200);
        return 0;
}
