// SPDX-License-Identifier: MIT
/* VHDX's pure structure parsers on any bytes (vhdx/src/format.c): the
 * header (§2.2.2), the region table (§2.2.3) and the metadata region with
 * its parent locator (§2.6). The first byte picks the parser; bit 7 of it
 * fixes the checksum of a header or region table first, so the fuzzer
 * reaches the fields behind the CRC.
 *
 * Metadata input: the next two bytes say how much of the rest is the
 * table (its first 64 KiB); the remainder goes at 64 KiB, where items
 * live (an item's offset must be past the table).
 *
 * Invariants: a parsed header builds back to the same bytes' fields; a
 * refused region table or metadata says why; parsed regions are 1 MiB
 * aligned and do not overlap; parsed metadata is within its limits and,
 * where its locator paths are ASCII, builds and parses back to itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "tests/fuzz/fuzz-check.h"
#include "vhdx/src/vhdx-internal.h"

static void fuzz_header(const uint8_t *data, size_t size, bool fix) {
        uint8_t buf[VHDX_HEADER_SIZE] = { 0 };
        memcpy(buf, data, MIN(size, sizeof buf));
        if (fix)
                vmstate_put_le32(buf + VHDX_HDR_CHECKSUM, vhdx_checksum(buf, VHDX_HEADER_SIZE, 4));
        struct vhdx_header h, again;
        if (vhdx_parse_header(buf, &h) < 0)
                return;
        uint8_t out[VHDX_HEADER_SIZE];
        vhdx_build_header(out, &h);
        CHECK(vhdx_parse_header(out, &again) == 0);
        CHECK(memcmp(&h, &again, sizeof h) == 0);
}

static void fuzz_regions(const uint8_t *data, size_t size, bool fix) {
        uint8_t *buf = calloc(1, VHDX_REGION_SIZE);
        CHECK(buf);
        memcpy(buf, data, MIN(size, (size_t)VHDX_REGION_SIZE));
        if (fix)
                vmstate_put_le32(buf + 4, vhdx_checksum(buf, VHDX_REGION_SIZE, 4));
        struct vhdx_region bat, meta;
        char err[256] = "";
        int r = vhdx_parse_regions(buf, &bat, &meta, err, sizeof err);
        if (r < 0) {
                CHECK(err[0] && (r == -EINVAL || r == -ENOTSUP));
        } else {
                CHECK(bat.offset % MiB == 0 && bat.length % MiB == 0 && bat.length && bat.offset >= MiB);
                CHECK(meta.offset % MiB == 0 && meta.length % MiB == 0 && meta.length && meta.offset >= MiB);
                CHECK(bat.offset >= meta.offset + meta.length || meta.offset >= bat.offset + bat.length);
                struct vhdx_region b2, m2;
                vhdx_build_regions(buf, &bat, &meta);
                CHECK(vhdx_parse_regions(buf, &b2, &m2, err, sizeof err) == 0);
                CHECK(b2.offset == bat.offset && b2.length == bat.length && m2.offset == meta.offset &&
                      m2.length == meta.length);
        }
        free(buf);
}

static bool ascii(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
                        return false;
        return true;
}

static void fuzz_metadata(const uint8_t *data, size_t size) {
        if (size < 2)
                return;
        size_t table = MIN((size_t)(data[0] | data[1] << 8), size - 2);
        size_t items = size - 2 - table;
        size_t len = ALIGN_UP(VHDX_METADATA_TABLE_SIZE + items, (size_t)4096);
        uint8_t *buf = calloc(1, len);
        CHECK(buf);
        memcpy(buf, data + 2, MIN(table, (size_t)VHDX_METADATA_TABLE_SIZE));
        memcpy(buf + VHDX_METADATA_TABLE_SIZE, data + 2 + table, items);
        struct vhdx_meta m;
        char err[256] = "";
        int r = vhdx_parse_metadata(buf, len, &m, err, sizeof err);
        /* The item vhdx_grow patches: found only inside the region, and
         * in any table that parses. */
        uint32_t ioff, ilen;
        int k = vhdx_metadata_item(buf, len, &vhdx_md_virtual_disk_size, &ioff, &ilen);
        CHECK(k == 0 || k == -ENOENT || k == -EINVAL);
        if (k == 0)
                CHECK(ioff >= VHDX_METADATA_TABLE_SIZE && (uint64_t)ioff + ilen <= len);
        if (r == 0)
                CHECK(k == 0 && ilen >= 8);
        if (r < 0) {
                CHECK(err[0] && (r == -EINVAL || r == -ENOTSUP));
                free(buf);
                return;
        }
        CHECK(m.block_size >= VHDX_MIN_BLOCK_SIZE && m.block_size <= VHDX_MAX_BLOCK_SIZE);
        CHECK((m.block_size & (m.block_size - 1)) == 0);
        CHECK(m.logical_sector == 512 || m.logical_sector == 4096);
        CHECK(m.virtual_size && m.virtual_size <= VHDX_MAX_VIRTUAL_SIZE && m.virtual_size % m.logical_sector == 0);
        CHECK(!m.has_parent || m.have_locator);
        CHECK(memchr(m.parent_relative, 0, sizeof m.parent_relative) && memchr(m.parent_absolute, 0, sizeof m.parent_absolute));
        /* What we build (ASCII locators, as vhdx_create writes them) reads back the same. */
        if (ascii(m.parent_relative) && ascii(m.parent_absolute) && strlen(m.parent_relative) <= 1024 &&
            strlen(m.parent_absolute) <= 1024) {
                size_t out_len = VHDX_METADATA_TABLE_SIZE + 16384;
                uint8_t *out = calloc(1, out_len);
                CHECK(out);
                vhdx_build_metadata(out, out_len, &m);
                struct vhdx_meta again;
                CHECK(vhdx_parse_metadata(out, out_len, &again, err, sizeof err) == 0);
                CHECK(again.block_size == m.block_size && again.virtual_size == m.virtual_size &&
                      again.has_parent == m.has_parent && again.logical_sector == m.logical_sector &&
                      again.physical_sector == m.physical_sector && guid_equal(&again.disk_id, &m.disk_id) &&
                      again.leave_blocks_allocated == m.leave_blocks_allocated);
                if (m.has_parent)
                        CHECK(guid_equal(&again.parent_linkage, &m.parent_linkage) &&
                              !strcmp(again.parent_relative, m.parent_relative) &&
                              !strcmp(again.parent_absolute, m.parent_absolute));
                free(out);
        }
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        bool fix = data[0] & 0x80;
        switch (data[0] % 4) {
        case 0:
                fuzz_header(data + 1, size - 1, fix);
                break;
        case 1:
                fuzz_regions(data + 1, size - 1, fix);
                break;
        default:
                fuzz_metadata(data + 1, size - 1);
                break;
        }
        return 0;
}
