// SPDX-License-Identifier: MIT
/* seed_iso_build (vmms/seed-iso.h): an ISO 9660 image of a few root files
 * with Joliet names. Section numbers are ECMA-119's (2nd edition, 1987 =
 * ISO 9660:1988); Joliet is Microsoft's "Joliet Specification" (1995). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macro.h"
#include "vmms/seed-iso.h"

/* The fixed part of the image: system area (16 blocks, 6.2.1), the primary
 * and the Joliet descriptors, the terminator (8.3), four path tables (each
 * one block: L and M for each descriptor, 9.4), the two root directories. */
enum {
        BLK_PVD = 16,
        BLK_SVD,
        BLK_TERM,
        BLK_PT_L,     /* primary's L and M path tables */
        BLK_PT_M,
        BLK_PT_JL,    /* Joliet's */
        BLK_PT_JM,
        BLK_ROOT,     /* primary's root directory */
        BLK_JROOT,    /* Joliet's */
        BLK_DATA,     /* the first file's data */
};

#define PATH_TABLE_LEN 10u /* one entry, the root: 8 + a one-byte identifier + a pad byte (9.4) */

struct layout {
        const struct seed_iso_file *files;
        size_t n;
        uint32_t extent[SEED_ISO_FILES_MAX];
        uint8_t order[SEED_ISO_FILES_MAX];  /* primary directory order */
        uint8_t jorder[SEED_ISO_FILES_MAX]; /* Joliet directory order */
        char iso_name[SEED_ISO_FILES_MAX][SEED_ISO_NAME_MAX + 4]; /* "USER_DATA.;1" */
        uint8_t date17[17]; /* 8.4.26.1 */
        uint8_t date7[7];   /* 9.1.5 */
        uint32_t blocks;
};

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static void put_be16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}
static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}
static void put_be32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * (3 - i)));
}
/* "Both-byte orders" fields (7.2.3, 7.3.3): little-endian, then big. */
static void put_both16(uint8_t *p, uint16_t v) {
        put_le16(p, v), put_be16(p + 2, v);
}
static void put_both32(uint8_t *p, uint32_t v) {
        put_le32(p, v), put_be32(p + 4, v);
}

/* A text field, space-padded: a-/d-characters for the primary (7.4),
 * UCS-2 big-endian padded with U+0020 for Joliet. */
static void put_text(uint8_t *p, size_t len, const char *s, bool ucs2) {
        size_t n = strlen(s);
        if (!ucs2) {
                memset(p, ' ', len);
                memcpy(p, s, MIN(n, len));
                return;
        }
        for (size_t i = 0; i + 1 < len; i += 2)
                p[i] = 0, p[i + 1] = (uint8_t)(i / 2 < n ? s[i / 2] : ' ');
}

static bool name_ok(const char *s, size_t max, bool dash) {
        size_t n = s ? strnlen(s, max + 1) : 0;
        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (dash ? c == '-' : c == '_')))
                        return false;
        }
        return true;
}

static int check_files(const struct seed_iso_file *files, size_t n) {
        if (n > SEED_ISO_FILES_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                if (!name_ok(files[i].name, SEED_ISO_NAME_MAX, true))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(files[i].name, files[j].name))
                                return -EEXIST;
                if (files[i].len == 0 || !files[i].data)
                        return -ENODATA;
                if (files[i].len > SEED_ISO_FILE_MAX)
                        return -EFBIG;
        }
        return 0;
}

/* 8.4.26.1 (17 bytes, "YYYYMMDDHHMMSScc" and a GMT offset) and 9.1.5
 * (7 bytes: years since 1900, month, day, hour, minute, second, offset). */
static int set_dates(struct layout *l, int64_t created) {
        struct tm tm;
        time_t t = (time_t)created;
        if (created < 0 || (int64_t)t != created || !gmtime_r(&t, &tm) || tm.tm_year > 255)
                return -EINVAL;
        char s[64];
        snprintf(s, sizeof s, "%04d%02d%02d%02d%02d%02d00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        memcpy(l->date17, s, 16);
        l->date17[16] = 0;
        const int v[6] = { tm.tm_year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec };
        for (int i = 0; i < 6; i++)
                l->date7[i] = (uint8_t)v[i];
        l->date7[6] = 0;
        return 0;
}

/* Directory records are sorted by their identifiers (9.3), each
 * directory by its own: "USER_DATA" and "user-data" need not sort alike. */
static void sort_order(uint8_t *order, size_t n, const char *(*key)(const struct layout *, size_t),
                       const struct layout *l) {
        for (size_t i = 0; i < n; i++)
                order[i] = (uint8_t)i;
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(key(l, order[j - 1]), key(l, order[j])) > 0; j--) {
                        uint8_t t = order[j];
                        order[j] = order[j - 1], order[j - 1] = t;
                }
}
static const char *key_iso(const struct layout *l, size_t i) {
        return l->iso_name[i];
}
static const char *key_joliet(const struct layout *l, size_t i) {
        return l->files[i].name; /* UCS-2 of ASCII sorts as the ASCII does */
}

static int plan(struct layout *l, const struct seed_iso_file *files, size_t n, int64_t created) {
        int r = check_files(files, n);
        if (r < 0 || (r = set_dates(l, created)) < 0)
                return r;
        l->files = files, l->n = n;
        uint32_t next = BLK_DATA;
        for (size_t i = 0; i < n; i++) {
                /* The primary's name: d-characters (7.4.1) in a level 2
                 * identifier with its separators, "NAME.;1" (7.5.1). */
                size_t k = 0;
                for (const char *c = files[i].name; *c; c++)
                        l->iso_name[i][k++] = *c == '-' ? '_' : (*c >= 'a' && *c <= 'z') ? (char)(*c - 32) : *c;
                memcpy(l->iso_name[i] + k, ".;1", 4);
                l->extent[i] = next;
                next += (uint32_t)DIV_ROUND_UP(files[i].len, SEED_ISO_BLOCK);
        }
        l->blocks = next;
        sort_order(l->order, n, key_iso, l);
        sort_order(l->jorder, n, key_joliet, l);
        return 0;
}

/* A directory record (9.1) at p; returns its length. id_len bytes of id. */
static size_t put_record(uint8_t *p, const struct layout *l, uint32_t extent, uint32_t len, bool dir,
                         const uint8_t *id, size_t id_len) {
        size_t rec = 33 + id_len + (id_len % 2 == 0); /* 9.1.12: a pad byte after an even-length id */
        p[0] = (uint8_t)rec;
        put_both32(p + 2, extent);
        put_both32(p + 10, len);
        memcpy(p + 18, l->date7, 7);
        p[25] = dir ? 0x02 : 0x00; /* 9.1.6: the Directory bit */
        put_both16(p + 28, 1);     /* volume sequence number */
        p[32] = (uint8_t)id_len;
        memcpy(p + 33, id, id_len);
        return rec;
}

static void put_directory(uint8_t *blk, const struct layout *l, bool joliet) {
        const uint32_t self = joliet ? BLK_JROOT : BLK_ROOT;
        const uint8_t dot = 0x00, dotdot = 0x01; /* 6.8.2.2: "." and ".." of the root are itself */
        size_t off = put_record(blk, l, self, SEED_ISO_BLOCK, true, &dot, 1);
        off += put_record(blk + off, l, self, SEED_ISO_BLOCK, true, &dotdot, 1);
        for (size_t k = 0; k < l->n; k++) {
                size_t i = joliet ? l->jorder[k] : l->order[k];
                uint8_t id[2 * SEED_ISO_NAME_MAX];
                size_t id_len;
                if (joliet) {
                        const char *s = l->files[i].name;
                        id_len = 2 * strlen(s);
                        put_text(id, id_len, s, true);
                } else {
                        id_len = strlen(l->iso_name[i]);
                        memcpy(id, l->iso_name[i], id_len);
                }
                off += put_record(blk + off, l, l->extent[i], (uint32_t)l->files[i].len, false, id, id_len);
        }
}

/* 9.4: the root's entry; L tables little-endian, M tables big-endian. */
static void put_path_table(uint8_t *blk, uint32_t root, bool big) {
        blk[0] = 1; /* identifier length; the root's identifier is 0x00 */
        if (big)
                put_be32(blk + 2, root), put_be16(blk + 6, 1);
        else
                put_le32(blk + 2, root), put_le16(blk + 6, 1);
}

/* 8.4 (primary) and 8.5 (supplementary; Joliet's escape sequence). */
static void put_descriptor(uint8_t *d, const struct layout *l, const char *label, bool joliet) {
        d[0] = joliet ? 2 : 1;
        memcpy(d + 1, "CD001", 5);
        d[6] = 1;
        put_text(d + 8, 32, "LINUX", joliet);
        put_text(d + 40, 32, label, joliet);
        put_both32(d + 80, l->blocks);
        if (joliet)
                memcpy(d + 88, "%/E", 3); /* UCS-2 Level 3 */
        put_both16(d + 120, 1);              /* volume set size */
        put_both16(d + 124, 1);              /* volume sequence number */
        put_both16(d + 128, SEED_ISO_BLOCK); /* logical block size */
        put_both32(d + 132, PATH_TABLE_LEN);
        put_le32(d + 140, joliet ? BLK_PT_JL : BLK_PT_L);
        put_be32(d + 148, joliet ? BLK_PT_JM : BLK_PT_M);
        const uint8_t root_id = 0;
        put_record(d + 156, l, joliet ? BLK_JROOT : BLK_ROOT, SEED_ISO_BLOCK, true, &root_id, 1);
        put_text(d + 190, 128, "", joliet); /* volume set */
        put_text(d + 318, 128, "", joliet); /* publisher */
        put_text(d + 446, 128, "", joliet); /* data preparer */
        put_text(d + 574, 128, "VMSTACK", joliet);
        for (size_t off = 702; off < 813; off += 37) /* copyright, abstract, bibliographic files */
                put_text(d + off, 37, "", joliet);
        memcpy(d + 813, l->date17, 17); /* creation */
        memcpy(d + 830, l->date17, 17); /* modification */
        memset(d + 847, '0', 16);       /* expiration and effective: not specified (8.4.26.1) */
        memset(d + 864, '0', 16);
        d[881] = 1; /* file structure version */
}

int seed_iso_build(const struct seed_iso_file *files, size_t n, const char *label, int64_t created,
                   uint8_t **out, size_t *out_len) {
        struct layout l = { 0 };
        int r;
        if (!name_ok(label, SEED_ISO_LABEL_MAX, false))
                return -EINVAL;
        if ((r = plan(&l, files, n, created)) < 0)
                return r;
        size_t len = (size_t)l.blocks * SEED_ISO_BLOCK;
        uint8_t *img = calloc(1, len);
        if (!img)
                return -ENOMEM;
        put_descriptor(img + BLK_PVD * SEED_ISO_BLOCK, &l, label, false);
        put_descriptor(img + BLK_SVD * SEED_ISO_BLOCK, &l, label, true);
        uint8_t *term = img + BLK_TERM * SEED_ISO_BLOCK;
        term[0] = 255, memcpy(term + 1, "CD001", 5), term[6] = 1;
        put_path_table(img + BLK_PT_L * SEED_ISO_BLOCK, BLK_ROOT, false);
        put_path_table(img + BLK_PT_M * SEED_ISO_BLOCK, BLK_ROOT, true);
        put_path_table(img + BLK_PT_JL * SEED_ISO_BLOCK, BLK_JROOT, false);
        put_path_table(img + BLK_PT_JM * SEED_ISO_BLOCK, BLK_JROOT, true);
        put_directory(img + BLK_ROOT * SEED_ISO_BLOCK, &l, false);
        put_directory(img + BLK_JROOT * SEED_ISO_BLOCK, &l, true);
        for (size_t i = 0; i < n; i++)
                memcpy(img + (size_t)l.extent[i] * SEED_ISO_BLOCK, files[i].data, files[i].len);
        *out = img;
        *out_len = len;
        return 0;
}
