// SPDX-License-Identifier: MIT
/* Pure parsers and builders of the VHDX structures (specification v1.0,
 * §2.2 headers and region table, §2.6 metadata). Everything read from the
 * file is bounds-checked here: an image is untrusted input (a user's file,
 * or one a guest could have written if it were ever opened as raw). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "vhdx-internal.h"

const struct guid vhdx_region_bat =
        GUID_INIT(0x2dc27766, 0xf623, 0x4200, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08);
const struct guid vhdx_region_metadata =
        GUID_INIT(0x8b7ca206, 0x4790, 0x4b9a, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e);
const struct guid vhdx_md_file_parameters =
        GUID_INIT(0xcaa16737, 0xfa36, 0x4d43, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b);
const struct guid vhdx_md_virtual_disk_size =
        GUID_INIT(0x2fa54224, 0xcd1b, 0x4876, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8);
const struct guid vhdx_md_virtual_disk_id =
        GUID_INIT(0xbeca12ab, 0xb2e6, 0x4523, 0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46);
const struct guid vhdx_md_logical_sector_size =
        GUID_INIT(0x8141bf1d, 0xa96f, 0x4709, 0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f);
const struct guid vhdx_md_physical_sector_size =
        GUID_INIT(0xcda348c7, 0x445d, 0x4471, 0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56);
const struct guid vhdx_md_parent_locator =
        GUID_INIT(0xa8d35f2d, 0xb30b, 0x454d, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c);
const struct guid vhdx_parent_locator_type =
        GUID_INIT(0xb04aefb7, 0xd19e, 0x4a81, 0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13);

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* CRC-32C of buf with the 4-byte checksum field at csum_off taken as zero
 * (§2.2.2, §2.2.3, §2.3.1.1). */
uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t csum_off) {
        static const uint8_t zero[4];
        uint32_t c = vmstate_crc32c(0, buf, csum_off);
        c = vmstate_crc32c(c, zero, 4);
        return vmstate_crc32c(c, buf + csum_off + 4, len - csum_off - 4);
}

static void get_guid(const uint8_t *p, struct guid *g) {
        memcpy(g->b, p, 16);
}

int vhdx_parse_header(const uint8_t *buf, struct vhdx_header *h) {
        if (le32(buf) != VHDX_HDR_SIGNATURE || le32(buf + VHDX_HDR_CHECKSUM) != vhdx_checksum(buf, VHDX_HEADER_SIZE, 4))
                return -EINVAL;
        h->sequence = le64(buf + VHDX_HDR_SEQUENCE);
        get_guid(buf + VHDX_HDR_FILE_WRITE_GUID, &h->file_write);
        get_guid(buf + VHDX_HDR_DATA_WRITE_GUID, &h->data_write);
        get_guid(buf + VHDX_HDR_LOG_GUID, &h->log_guid);
        h->log_version = le16(buf + VHDX_HDR_LOG_VERSION);
        h->version = le16(buf + VHDX_HDR_VERSION);
        h->log_length = le32(buf + VHDX_HDR_LOG_LENGTH);
        h->log_offset = le64(buf + VHDX_HDR_LOG_OFFSET);
        return 0;
}

void vhdx_build_header(uint8_t buf[VHDX_HEADER_SIZE], const struct vhdx_header *h) {
        memset(buf, 0, VHDX_HEADER_SIZE);
        vmstate_put_le32(buf, VHDX_HDR_SIGNATURE);
        vmstate_put_le64(buf + VHDX_HDR_SEQUENCE, h->sequence);
        memcpy(buf + VHDX_HDR_FILE_WRITE_GUID, h->file_write.b, 16);
        memcpy(buf + VHDX_HDR_DATA_WRITE_GUID, h->data_write.b, 16);
        memcpy(buf + VHDX_HDR_LOG_GUID, h->log_guid.b, 16);
        vmstate_put_le16(buf + VHDX_HDR_LOG_VERSION, h->log_version);
        vmstate_put_le16(buf + VHDX_HDR_VERSION, h->version);
        vmstate_put_le32(buf + VHDX_HDR_LOG_LENGTH, h->log_length);
        vmstate_put_le64(buf + VHDX_HDR_LOG_OFFSET, h->log_offset);
        vmstate_put_le32(buf + VHDX_HDR_CHECKSUM, vhdx_checksum(buf, VHDX_HEADER_SIZE, 4));
}

/* §2.2.3: regions are 1 MiB aligned and sized, past the first megabyte. */
static int region_check(const struct vhdx_region *r, const char *name, char *err, size_t errlen) {
        if (r->offset % MiB || r->length % MiB || r->length == 0 || r->offset < MiB)
                return ERR("the %s region (offset %llu, length %u) is not 1 MiB aligned past the first MiB", name,
                           (unsigned long long)r->offset, r->length);
        return 0;
}

int vhdx_parse_regions(const uint8_t *buf, struct vhdx_region *bat, struct vhdx_region *meta, char *err,
                       size_t errlen) {
        if (le32(buf) != VHDX_RGT_SIGNATURE || le32(buf + 4) != vhdx_checksum(buf, VHDX_REGION_SIZE, 4))
                return ERR("bad region table signature or checksum");
        uint32_t n = le32(buf + 8);
        if (n > VHDX_REGION_MAX_ENTRIES)
                return ERR("region table has %u entries (at most %u)", n, VHDX_REGION_MAX_ENTRIES);
        bool have_bat = false, have_meta = false;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *e = buf + VHDX_RGT_HEADER + (size_t)i * VHDX_RGT_ENTRY;
                struct vhdx_region r;
                get_guid(e, &r.id);
                r.offset = le64(e + 16);
                r.length = le32(e + 24);
                r.required = le32(e + 28) & 1u;
                bool is_bat = guid_equal(&r.id, &vhdx_region_bat), is_meta = guid_equal(&r.id, &vhdx_region_metadata);
                if (!is_bat && !is_meta) {
                        if (r.required)
                                return snprintf(err, errlen, "a required region of a kind we do not know"), -ENOTSUP;
                        continue;
                }
                if ((is_bat && have_bat) || (is_meta && have_meta))
                        return ERR("the %s region appears twice", is_bat ? "BAT" : "metadata");
                int k = region_check(&r, is_bat ? "BAT" : "metadata", err, errlen);
                if (k < 0)
                        return k;
                if (is_bat)
                        *bat = r, have_bat = true;
                else
                        *meta = r, have_meta = true;
        }
        if (!have_bat || !have_meta)
                return ERR("the region table lacks the %s region", have_bat ? "metadata" : "BAT");
        if (bat->offset < meta->offset + meta->length && meta->offset < bat->offset + bat->length)
                return ERR("the BAT and metadata regions overlap");
        return 0;
}

static void put_region(uint8_t *e, const struct vhdx_region *r) {
        memcpy(e, r->id.b, 16);
        vmstate_put_le64(e + 16, r->offset);
        vmstate_put_le32(e + 24, r->length);
        vmstate_put_le32(e + 28, r->required ? 1u : 0u);
}

void vhdx_build_regions(uint8_t buf[VHDX_REGION_SIZE], const struct vhdx_region *bat,
                        const struct vhdx_region *meta) {
        memset(buf, 0, VHDX_REGION_SIZE);
        vmstate_put_le32(buf, VHDX_RGT_SIGNATURE);
        vmstate_put_le32(buf + 8, 2);
        put_region(buf + VHDX_RGT_HEADER, bat);
        put_region(buf + VHDX_RGT_HEADER + VHDX_RGT_ENTRY, meta);
        vmstate_put_le32(buf + 4, vhdx_checksum(buf, VHDX_REGION_SIZE, 4));
}

/* UTF-16LE (a locator value) to UTF-8, '\' to '/'. Unpaired surrogates
 * and NULs are refused: a path must be a path. */
static int utf16_to_path(const uint8_t *p, size_t bytes, char *out, size_t outlen) {
        size_t o = 0;
        for (size_t i = 0; i + 2 <= bytes; i += 2) {
                uint32_t c = le16(p + i);
                if (c >= 0xd800 && c <= 0xdbff) {
                        if (i + 4 > bytes)
                                return -EINVAL;
                        uint32_t lo = le16(p + i + 2);
                        if (lo < 0xdc00 || lo > 0xdfff)
                                return -EINVAL;
                        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                        i += 2;
                } else if ((c >= 0xdc00 && c <= 0xdfff) || c == 0) {
                        return -EINVAL;
                }
                if (c == '\\')
                        c = '/';
                uint8_t u[4];
                size_t n;
                if (c < 0x80)
                        u[0] = (uint8_t)c, n = 1;
                else if (c < 0x800)
                        u[0] = (uint8_t)(0xc0 | (c >> 6)), u[1] = (uint8_t)(0x80 | (c & 0x3f)), n = 2;
                else if (c < 0x10000)
                        u[0] = (uint8_t)(0xe0 | (c >> 12)), u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)),
                        u[2] = (uint8_t)(0x80 | (c & 0x3f)), n = 3;
                else
                        u[0] = (uint8_t)(0xf0 | (c >> 18)), u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f)),
                        u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)), u[3] = (uint8_t)(0x80 | (c & 0x3f)), n = 4;
                if (o + n >= outlen)
                        return -ENAMETOOLONG;
                memcpy(out + o, u, n);
                o += n;
        }
        out[o] = 0;
        return 0;
}

static bool key_is(const uint8_t *k, size_t bytes, const char *name) {
        size_t n = strlen(name);
        if (bytes != 2 * n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (le16(k + 2 * i) != (uint8_t)name[i])
                        return false;
        return true;
}

/* §2.6.2.6: the parent locator, a type GUID and UTF-16 key/value pairs. */
static int parse_locator(const uint8_t *p, size_t len, struct vhdx_meta *m, char *err, size_t errlen) {
        if (len < 20)
                return ERR("the parent locator is %zu bytes", len);
        struct guid type;
        get_guid(p, &type);
        if (!guid_equal(&type, &vhdx_parent_locator_type))
                return snprintf(err, errlen, "a parent locator of a type we do not know"), -ENOTSUP;
        uint32_t n = le16(p + 18);
        if (20 + (size_t)n * 12 > len)
                return ERR("the parent locator's %u entries do not fit in %zu bytes", n, len);
        char linkage[80] = "";
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *e = p + 20 + (size_t)i * 12;
                uint64_t ko = le32(e), vo = le32(e + 4), kl = le16(e + 8), vl = le16(e + 10);
                if (ko + kl > len || vo + vl > len || kl == 0 || vl == 0 || kl % 2 || vl % 2)
                        return ERR("parent locator entry %u lies outside the locator", i);
                char *dst = NULL;
                size_t dlen = 0;
                if (key_is(p + ko, kl, "parent_linkage"))
                        dst = linkage, dlen = sizeof linkage;
                else if (key_is(p + ko, kl, "relative_path"))
                        dst = m->parent_relative, dlen = sizeof m->parent_relative;
                else if (key_is(p + ko, kl, "absolute_win32_path"))
                        dst = m->parent_absolute, dlen = sizeof m->parent_absolute;
                if (dst && utf16_to_path(p + vo, vl, dst, dlen) < 0)
                        return ERR("parent locator entry %u is not a valid UTF-16 string", i);
        }
        /* "{xxxxxxxx-xxxx-...}" */
        size_t ll = strlen(linkage);
        if (ll != 38 || linkage[0] != '{' || linkage[37] != '}')
                return ERR("the parent locator has no valid parent_linkage");
        linkage[37] = 0;
        if (guid_from_string(linkage + 1, &m->parent_linkage) < 0)
                return ERR("the parent locator has no valid parent_linkage");
        m->have_locator = true;
        return 0;
}

static int parse_item(const struct guid *id, const uint8_t *p, uint32_t len, struct vhdx_meta *m, unsigned *seen,
                      char *err, size_t errlen) {
        struct {
                const struct guid *id;
                uint32_t len;
        } known[] = {
                { &vhdx_md_file_parameters, 8 },     { &vhdx_md_virtual_disk_size, 8 },
                { &vhdx_md_virtual_disk_id, 16 },    { &vhdx_md_logical_sector_size, 4 },
                { &vhdx_md_physical_sector_size, 4 }, { &vhdx_md_parent_locator, 0 },
        };
        for (unsigned i = 0; i < ARRAY_SIZE(known); i++) {
                if (!guid_equal(id, known[i].id))
                        continue;
                if ((*seen >> i) & 1u)
                        return ERR("a metadata item appears twice");
                if (known[i].len && len != known[i].len)
                        return ERR("metadata item %u is %u bytes, not %u", i, len, known[i].len);
                *seen |= 1u << i;
                switch (i) {
                case 0:
                        m->block_size = le32(p);
                        m->leave_blocks_allocated = le32(p + 4) & 1u;
                        m->has_parent = (le32(p + 4) >> 1) & 1u;
                        return 0;
                case 1:
                        m->virtual_size = le64(p);
                        return 0;
                case 2:
                        get_guid(p, &m->disk_id);
                        return 0;
                case 3:
                        m->logical_sector = le32(p);
                        return 0;
                case 4:
                        m->physical_sector = le32(p);
                        return 0;
                default:
                        return parse_locator(p, len, m, err, errlen);
                }
        }
        return 1; /* not known */
}

static int meta_check(const struct vhdx_meta *m, unsigned seen, char *err, size_t errlen) {
        if ((seen & 0x1f) != 0x1f)
                return ERR("the metadata lacks a required item");
        if (m->block_size < VHDX_MIN_BLOCK_SIZE || m->block_size > VHDX_MAX_BLOCK_SIZE ||
            (m->block_size & (m->block_size - 1)))
                return ERR("block size %u is not a power of two from 1 MiB to 256 MiB", m->block_size);
        if (m->logical_sector != 512 && m->logical_sector != 4096)
                return ERR("logical sector size %u is neither 512 nor 4096", m->logical_sector);
        if (m->physical_sector != 512 && m->physical_sector != 4096)
                return ERR("physical sector size %u is neither 512 nor 4096", m->physical_sector);
        if (m->virtual_size == 0 || m->virtual_size > VHDX_MAX_VIRTUAL_SIZE || m->virtual_size % m->logical_sector)
                return ERR("virtual size %llu is not a multiple of the sector size up to 64 TiB",
                           (unsigned long long)m->virtual_size);
        if (m->has_parent && !(seen & 0x20))
                return ERR("a differencing image without a parent locator");
        return 0;
}

int vhdx_metadata_item(const uint8_t *buf, size_t len, const struct guid *id, uint32_t *off, uint32_t *ilen) {
        if (len < VHDX_METADATA_TABLE_SIZE || le64(buf) != VHDX_MDT_SIGNATURE)
                return -EINVAL;
        uint32_t n = le16(buf + 10);
        for (uint32_t i = 0; i < n && i < VHDX_METADATA_MAX_ENTRIES; i++) {
                const uint8_t *e = buf + VHDX_MDT_HEADER + (size_t)i * VHDX_MDT_ENTRY;
                struct guid g;
                get_guid(e, &g);
                if (!guid_equal(&g, id))
                        continue;
                *off = le32(e + 16);
                *ilen = le32(e + 20);
                return *off >= VHDX_METADATA_TABLE_SIZE && (uint64_t)*off + *ilen <= len ? 0 : -EINVAL;
        }
        return -ENOENT;
}

int vhdx_parse_metadata(const uint8_t *buf, size_t len, struct vhdx_meta *m, char *err, size_t errlen) {
        memset(m, 0, sizeof *m);
        if (len < VHDX_METADATA_TABLE_SIZE || le64(buf) != VHDX_MDT_SIGNATURE)
                return ERR("bad metadata table signature");
        uint32_t n = le16(buf + 10);
        if (n > VHDX_METADATA_MAX_ENTRIES)
                return ERR("the metadata table has %u entries (at most %u)", n, VHDX_METADATA_MAX_ENTRIES);
        unsigned seen = 0;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *e = buf + VHDX_MDT_HEADER + (size_t)i * VHDX_MDT_ENTRY;
                struct guid id;
                get_guid(e, &id);
                uint32_t off = le32(e + 16), ilen = le32(e + 20), flags = le32(e + 24);
                if (ilen && (off < VHDX_METADATA_TABLE_SIZE || (uint64_t)off + ilen > len))
                        return ERR("metadata item %u lies outside the metadata region", i);
                int k = parse_item(&id, buf + off, ilen, m, &seen, err, errlen);
                if (k < 0)
                        return k;
                if (k == 1 && (flags & VHDX_MD_IS_REQUIRED))
                        return snprintf(err, errlen, "a required metadata item of a kind we do not know"), -ENOTSUP;
        }
        return meta_check(m, seen, err, errlen);
}

static size_t put_utf16(uint8_t *p, const char *s) {
        size_t n = 0;
        for (; *s; s++, n += 2)
                vmstate_put_le16(p + n, (uint16_t)(*s == '/' ? '\\' : (uint8_t)*s));
        return n;
}

/* Builds the parent locator at p (the caller checked the paths are ASCII
 * and short); returns its length. */
static size_t build_locator(uint8_t *p, const struct vhdx_meta *m) {
        char linkage[GUID_STRING_MAX + 2], g[GUID_STRING_MAX];
        snprintf(linkage, sizeof linkage, "{%s}", guid_to_string(&m->parent_linkage, g));
        const char *kv[3][2] = {
                { "parent_linkage", linkage },
                { "relative_path", m->parent_relative },
                { "absolute_win32_path", m->parent_absolute },
        };
        unsigned n = 0;
        size_t at = 20 + 3 * 12;
        for (unsigned i = 0; i < 3; i++) {
                if (!kv[i][1][0])
                        continue;
                uint8_t *e = p + 20 + (size_t)n * 12;
                size_t kl = put_utf16(p + at, kv[i][0]);
                vmstate_put_le32(e, (uint32_t)at);
                vmstate_put_le16(e + 8, (uint16_t)kl);
                at += kl;
                size_t vl = put_utf16(p + at, kv[i][1]);
                vmstate_put_le32(e + 4, (uint32_t)at);
                vmstate_put_le16(e + 10, (uint16_t)vl);
                at += vl;
                n++;
        }
        memcpy(p, vhdx_parent_locator_type.b, 16);
        vmstate_put_le16(p + 18, (uint16_t)n);
        return at;
}

static void put_entry(uint8_t *e, const struct guid *id, uint32_t off, uint32_t len, uint32_t flags) {
        memcpy(e, id->b, 16);
        vmstate_put_le32(e + 16, off);
        vmstate_put_le32(e + 20, len);
        vmstate_put_le32(e + 24, flags);
}

size_t vhdx_build_metadata(uint8_t *buf, size_t len, const struct vhdx_meta *m) {
        memset(buf, 0, len);
        vmstate_put_le64(buf, VHDX_MDT_SIGNATURE);
        uint32_t off = VHDX_METADATA_TABLE_SIZE, vd = VHDX_MD_IS_VIRTUAL_DISK | VHDX_MD_IS_REQUIRED;
        uint8_t *e = buf + VHDX_MDT_HEADER;
        vmstate_put_le32(buf + off, m->block_size);
        vmstate_put_le32(buf + off + 4, (m->leave_blocks_allocated ? 1u : 0u) | (m->has_parent ? 2u : 0u));
        put_entry(e, &vhdx_md_file_parameters, off, 8, VHDX_MD_IS_REQUIRED);
        off += 8;
        vmstate_put_le64(buf + off, m->virtual_size);
        put_entry(e += VHDX_MDT_ENTRY, &vhdx_md_virtual_disk_size, off, 8, vd);
        off += 8;
        memcpy(buf + off, m->disk_id.b, 16);
        put_entry(e += VHDX_MDT_ENTRY, &vhdx_md_virtual_disk_id, off, 16, vd);
        off += 16;
        vmstate_put_le32(buf + off, m->logical_sector);
        put_entry(e += VHDX_MDT_ENTRY, &vhdx_md_logical_sector_size, off, 4, vd);
        off += 4;
        vmstate_put_le32(buf + off, m->physical_sector);
        put_entry(e += VHDX_MDT_ENTRY, &vhdx_md_physical_sector_size, off, 4, vd);
        off += 4;
        uint16_t n = 5;
        if (m->has_parent) {
                size_t ll = build_locator(buf + off, m);
                put_entry(e += VHDX_MDT_ENTRY, &vhdx_md_parent_locator, off, (uint32_t)ll, VHDX_MD_IS_REQUIRED);
                off += (uint32_t)ll;
                n++;
        }
        vmstate_put_le16(buf + 10, n);
        return off;
}
