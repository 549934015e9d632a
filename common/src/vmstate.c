// SPDX-License-Identifier: MIT
/* The saved-state reader (docs/saved-state.md): pure functions over a
 * buffer that may hold anything (a truncated, corrupt or hostile file).
 * Every offset is checked against the buffer with overflow-safe arithmetic
 * before it is used, nothing is allocated, and every refusal comes with a
 * sentence naming the section and its file offset. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "vmstate-internal.h"

void vmstate_tag_name(uint32_t tag, char out[5]) {
        size_t n = 0;
        for (unsigned i = 0; i < 4; i++) {
                uint8_t c = (uint8_t)(tag >> (8 * i));
                out[i] = c > 0x20 && c < 0x7f ? (char)c : c == ' ' ? ' ' : '?';
                if (c != ' ')
                        n = i + 1; /* trailing blanks are padding ("VP  ") */
        }
        out[n] = 0;
        if (n == 0)
                strcpy(out, "?");
}

unsigned vmstate_kind_width(unsigned kind) {
        switch (kind) {
        case VMSTATE_U8:
        case VMSTATE_BOOL:
        case VMSTATE_BYTES:
        case VMSTATE_VARBYTES:
                return 1;
        case VMSTATE_U16:
                return 2;
        case VMSTATE_U32:
        case VMSTATE_U32_ARRAY:
                return 4;
        case VMSTATE_U64:
        case VMSTATE_U64_ARRAY:
                return 8;
        default:
                return 0;
        }
}

static bool kind_is_scalar(unsigned kind) {
        return kind >= VMSTATE_U8 && kind <= VMSTATE_BOOL;
}

bool vmstate_value_ok(unsigned kind, const uint8_t *value, uint64_t length) {
        unsigned w = vmstate_kind_width(kind);
        if (w == 0)
                return false;
        if (kind_is_scalar(kind))
                return length == w && (kind != VMSTATE_BOOL || value[0] <= 1);
        return length % w == 0 && length <= VMSTATE_SECTION_MAX;
}

void vmstate_copy_le(void *dst, const void *src, size_t length, unsigned width) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        (void)width;
        memcpy(dst, src, length);
#else
        const uint8_t *s = src;
        uint8_t *d = dst;
        for (size_t i = 0; i + width <= length; i += width)
                for (unsigned b = 0; b < width; b++)
                        d[i + b] = s[i + width - 1 - b];
#endif
}

int vmstate_desc_check(const struct vmstate_desc *desc) {
        if (!desc || desc->version == 0 || desc->n_fields > VMSTATE_FIELDS_MAX || (!desc->fields && desc->n_fields))
                return -EINVAL;
        for (size_t i = 0; i < desc->n_fields; i++) {
                const struct vmstate_field_desc *f = &desc->fields[i];
                unsigned w = vmstate_kind_width(f->kind);
                size_t bytes;
                if (f->id == 0 || f->id > VMSTATE_FIELD_ID_MAX || w == 0 || f->min_version == 0 ||
                    f->min_version > desc->version || f->size == 0)
                        return -EINVAL;
                if (kind_is_scalar(f->kind) ? f->size != w
                                            : MUL_OVERFLOW(f->size, (size_t)w, &bytes) || bytes > VMSTATE_SECTION_MAX)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (desc->fields[j].id == f->id)
                                return -EINVAL;
        }
        return 0;
}

/* Fills err with the sentence (prefixed "section VP #1 at offset 4096: "
 * when it is about section s) and returns r. */
_printf_(5, 6) static int fail(char *err, size_t errlen, int r, const struct vmstate_section *s, const char *fmt,
                               ...) {
        if (!err || !errlen)
                return r;
        size_t n = 0;
        if (s) {
                char name[5];
                vmstate_tag_name(s->tag, name);
                int k = snprintf(err, errlen, "section %s #%" PRIu32 " at offset %" PRIu64 ": ", name, s->instance,
                                 s->offset);
                n = k > 0 ? MIN((size_t)k, errlen - 1) : 0;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - n, fmt, ap);
        va_end(ap);
        return r;
}

int vmstate_parse_header(const void *buf, size_t len, struct vmstate_header *out, char *err, size_t errlen) {
        const uint8_t *p = buf;
        if (!p || len < 8 || memcmp(p, VMSTATE_MAGIC, 8) != 0)
                return fail(err, errlen, -EINVAL, NULL, "not a vmstack saved-state file (no VMSTACK magic)");
        if (len < VMSTATE_HEADER_SIZE)
                return fail(err, errlen, -EINVAL, NULL, "file is truncated: the header needs %u bytes, %zu present",
                            VMSTATE_HEADER_SIZE, len);
        uint16_t major = vmstate_le16(p + VMSTATE_HDR_MAJOR), minor = vmstate_le16(p + VMSTATE_HDR_MINOR);
        /* Before the CRC: a newer major may lay its header out differently,
         * only the magic and the two version numbers stay where they are. */
        if (major > VMSTATE_MAJOR)
                return fail(err, errlen, -EPROTONOSUPPORT, NULL,
                            "saved by a newer vmstack (format %u.%u); this build reads format %u.x", major, minor,
                            VMSTATE_MAJOR);
        if (vmstate_crc32c(0, p, VMSTATE_HDR_CRC) != vmstate_le32(p + VMSTATE_HDR_CRC))
                return fail(err, errlen, -EINVAL, NULL, "file header CRC mismatch (corrupt file)");
        if (major != VMSTATE_MAJOR)
                return fail(err, errlen, -EPROTONOSUPPORT, NULL,
                            "saved in format %u.%u, which this build (format %u.x) cannot read", major, minor,
                            VMSTATE_MAJOR);
        uint32_t size = vmstate_le32(p + VMSTATE_HDR_SIZE), reserved = vmstate_le32(p + VMSTATE_HDR_RESERVED);
        uint64_t flags = vmstate_le64(p + VMSTATE_HDR_FLAGS);
        if (size < VMSTATE_HEADER_SIZE || size > VMSTATE_HEADER_SIZE_MAX || size % 8)
                return fail(err, errlen, -EINVAL, NULL, "file header: header size %" PRIu32 " is invalid", size);
        if (size > len)
                return fail(err, errlen, -EINVAL, NULL,
                            "file is truncated: the header needs %" PRIu32 " bytes, %zu present", size, len);
        if (reserved)
                return fail(err, errlen, -EINVAL, NULL, "file header: reserved field is 0x%" PRIx32 ", not 0",
                            reserved);
        if (flags & ~(uint64_t)VMSTATE_FILE_FLAGS_KNOWN)
                return fail(err, errlen, -EINVAL, NULL, "file header: unknown flags 0x%" PRIx64, flags);
        if (out)
                *out = (struct vmstate_header){ .major = major, .minor = minor, .flags = flags };
        return (int)size;
}

/* The checks of a section header that need nothing but its 32 bytes. */
static int section_header_check(const struct vmstate_section *s, uint32_t reserved, uint32_t payload_crc,
                                char *err, size_t errlen) {
        if (reserved)
                return fail(err, errlen, -EINVAL, s, "reserved field is 0x%" PRIx32 ", not 0", reserved);
        if (s->flags & ~VMSTATE_SECTION_FLAGS_KNOWN)
                return fail(err, errlen, -EINVAL, s, "unknown flags 0x%x", s->flags);
        if (s->version == 0)
                return fail(err, errlen, -EINVAL, s, "version 0 does not exist");
        if (s->tag == VMSTATE_TAG_END && (s->instance || s->length || s->flags || payload_crc))
                return fail(err, errlen, -EINVAL, s, "the end section has an instance, flags or a payload");
        if (s->tag == VMSTATE_TAG_END && s->version != 1)
                return fail(err, errlen, -EPROTONOSUPPORT, s, "version %u is newer than this build's 1", s->version);
        if (!(s->flags & VMSTATE_SECTION_BULK) && s->length > VMSTATE_SECTION_MAX)
                return fail(err, errlen, -EINVAL, s, "payload of %" PRIu64 " bytes is over the limit of %llu bytes",
                            s->length, VMSTATE_SECTION_MAX);
        if ((s->flags & VMSTATE_SECTION_BULK) && payload_crc)
                return fail(err, errlen, -EINVAL, s, "a bulk section's header carries a payload CRC");
        return 0;
}

int vmstate_next_section(const void *buf, size_t len, uint64_t *off, struct vmstate_section *out, char *err,
                         size_t errlen) {
        const uint8_t *base = buf;
        if (!base || !off || !out || *off > len || *off % 8)
                return fail(err, errlen, -EINVAL, NULL, "offset %" PRIu64 " is not a section boundary", off ? *off : 0);
        uint64_t left = len - *off;
        if (left == 0)
                return fail(err, errlen, -EINVAL, NULL,
                            "file is truncated: no end section (the file ends at offset %zu)", len);
        if (left < VMSTATE_SECTION_HEADER_SIZE)
                return fail(err, errlen, -EINVAL, NULL,
                            "file is truncated: the section header at offset %" PRIu64 " needs %u bytes, %" PRIu64
                            " left",
                            *off, VMSTATE_SECTION_HEADER_SIZE, left);
        const uint8_t *h = base + *off;
        if (vmstate_crc32c(0, h, VMSTATE_SEC_HEADER_CRC) != vmstate_le32(h + VMSTATE_SEC_HEADER_CRC))
                return fail(err, errlen, -EINVAL, NULL, "section header at offset %" PRIu64 ": header CRC mismatch",
                            *off);
        struct vmstate_section s = {
                .tag = vmstate_le32(h + VMSTATE_SEC_TAG),
                .instance = vmstate_le32(h + VMSTATE_SEC_INSTANCE),
                .version = vmstate_le16(h + VMSTATE_SEC_VERSION),
                .flags = vmstate_le16(h + VMSTATE_SEC_FLAGS),
                .length = vmstate_le64(h + VMSTATE_SEC_LENGTH),
                .payload = h + VMSTATE_SECTION_HEADER_SIZE,
                .offset = *off,
        };
        uint32_t payload_crc = vmstate_le32(h + VMSTATE_SEC_PAYLOAD_CRC);
        int r = section_header_check(&s, vmstate_le32(h + VMSTATE_SEC_RESERVED), payload_crc, err, errlen);
        if (r < 0)
                return r;
        if (s.tag == VMSTATE_TAG_END) {
                *off += VMSTATE_SECTION_HEADER_SIZE;
                *out = s;
                return 0;
        }
        bool bulk = s.flags & VMSTATE_SECTION_BULK;
        /* A length near 2^64 cannot be padded without overflowing; no
         * buffer holds it anyway. */
        uint64_t trailer = bulk ? VMSTATE_BULK_TRAILER_SIZE : 0u;
        uint64_t padded = s.length > UINT64_MAX - 64 ? UINT64_MAX - 64 : VMSTATE_PAD(s.length);
        uint64_t need = VMSTATE_SECTION_HEADER_SIZE + padded + trailer;
        if (need > left) {
                char name[5];
                vmstate_tag_name(s.tag, name);
                return fail(err, errlen, -EINVAL, NULL,
                            "file is truncated: section %s #%" PRIu32 " at offset %" PRIu64 " needs %" PRIu64
                            " bytes, %" PRIu64 " left",
                            name, s.instance, s.offset, MAX(s.length, padded + trailer),
                            left - VMSTATE_SECTION_HEADER_SIZE);
        }
        if (!mem_is_zero(s.payload + s.length, padded - s.length))
                return fail(err, errlen, -EINVAL, &s, "nonzero padding after the payload");
        if (bulk) {
                const uint8_t *t = s.payload + padded;
                payload_crc = vmstate_le32(t);
                if (vmstate_le32(t + 4))
                        return fail(err, errlen, -EINVAL, &s, "reserved word of the CRC trailer is not 0");
        }
        if (vmstate_crc32c(0, s.payload, s.length) != payload_crc)
                return fail(err, errlen, -EINVAL, &s, "payload CRC mismatch");
        *off += need;
        *out = s;
        return 1;
}

int vmstate_index(const void *buf, size_t len, struct vmstate_header *hdr, struct vmstate_section *out, size_t max,
                  char *err, size_t errlen) {
        struct vmstate_header h;
        int r = vmstate_parse_header(buf, len, &h, err, errlen);
        if (r < 0)
                return r;
        if (max && !out)
                return fail(err, errlen, -EINVAL, NULL, "no room for the index");
        uint64_t off = (uint64_t)r;
        size_t n = 0;
        struct vmstate_section s;
        while ((r = vmstate_next_section(buf, len, &off, &s, err, errlen)) > 0) {
                if (n >= VMSTATE_SECTIONS_MAX)
                        return fail(err, errlen, -EINVAL, &s, "more than %u sections (the limit)",
                                    VMSTATE_SECTIONS_MAX);
                if (n < max) {
                        const struct vmstate_section *dup = vmstate_find(out, n, s.tag, s.instance);
                        if (dup)
                                return fail(err, errlen, -EINVAL, &s,
                                            "a second section with this tag and instance (the first is at "
                                            "offset %" PRIu64 ")",
                                            dup->offset);
                        out[n] = s;
                }
                n++;
        }
        if (r < 0)
                return r;
        if (off != len)
                return fail(err, errlen, -EINVAL, NULL,
                            "%" PRIu64 " bytes after the end section (at offset %" PRIu64 ")", len - off,
                            off - VMSTATE_SECTION_HEADER_SIZE);
        if (n > max)
                return fail(err, errlen, -E2BIG, NULL, "the file has %zu sections, more than the %zu expected", n, max);
        if (hdr)
                *hdr = h;
        return (int)n;
}

const struct vmstate_section *vmstate_find(const struct vmstate_section *secs, size_t n, uint32_t tag,
                                           uint32_t instance) {
        for (size_t i = 0; secs && i < n; i++)
                if (secs[i].tag == tag && secs[i].instance == instance)
                        return &secs[i];
        return NULL;
}

int vmstate_next_field(const struct vmstate_section *s, uint64_t *off, struct vmstate_field *out) {
        if (!s || !off || !out || (s->flags & VMSTATE_SECTION_BULK) || *off > s->length || *off % 8)
                return -EINVAL;
        uint64_t left = s->length - *off;
        if (left == 0)
                return 0;
        if (left < VMSTATE_FIELD_HEADER_SIZE)
                return -EINVAL;
        const uint8_t *p = s->payload + *off;
        struct vmstate_field f = {
                .id = vmstate_le16(p),
                .kind = vmstate_le16(p + 2),
                .length = vmstate_le32(p + 4),
                .value = p + VMSTATE_FIELD_HEADER_SIZE,
        };
        uint64_t padded = VMSTATE_PAD((uint64_t)f.length);
        if (f.id == 0 || f.id > VMSTATE_FIELD_ID_MAX || padded > left - VMSTATE_FIELD_HEADER_SIZE ||
            !vmstate_value_ok(f.kind, f.value, f.length) || !mem_is_zero(f.value + f.length, padded - f.length))
                return -EINVAL;
        *off += VMSTATE_FIELD_HEADER_SIZE + padded;
        *out = f;
        return 1;
}

/* ---- decoding into a described struct ---------------------------------- */

static const struct vmstate_field_desc *desc_field(const struct vmstate_desc *desc, uint16_t id) {
        for (size_t i = 0; i < desc->n_fields; i++)
                if (desc->fields[i].id == id)
                        return &desc->fields[i];
        return NULL;
}

/* Whether a field's length fits its descriptor: scalars were checked by
 * vmstate_next_field(); BYTES is exactly the size, arrays and VARBYTES at
 * most the capacity. */
static const char *field_name(const struct vmstate_field_desc *d) {
        return d->name ? d->name : "?";
}

static bool field_fits(const struct vmstate_field_desc *d, uint32_t length) {
        if (d->kind == VMSTATE_BYTES)
                return length == d->size;
        return length / vmstate_kind_width(d->kind) <= d->size;
}

static void field_store(const struct vmstate_field_desc *d, const struct vmstate_field *f, uint8_t *out) {
        unsigned w = vmstate_kind_width(d->kind);
        if (d->kind == VMSTATE_BOOL) {
                bool b = f->value[0];
                memcpy(out + d->offset, &b, sizeof b);
                return;
        }
        vmstate_copy_le(out + d->offset, f->value, f->length, w);
        if (d->kind == VMSTATE_U32_ARRAY || d->kind == VMSTATE_U64_ARRAY || d->kind == VMSTATE_VARBYTES) {
                uint32_t count = f->length / w;
                memcpy(out + d->count_offset, &count, sizeof count);
        }
}

/* One pass over the fields of s: checks every one against desc and, with
 * apply, stores it. decode runs it twice so that a refused section leaves
 * the caller's struct as it was. */
static int decode_fields(const struct vmstate_section *s, const struct vmstate_desc *desc, uint8_t *out,
                         bool apply, char *err, size_t errlen) {
        uint64_t seen[VMSTATE_FIELDS_MAX / 64] = { 0 }, off = 0, at;
        unsigned n = 0;
        struct vmstate_field f;
        int r;
        for (at = off; (r = vmstate_next_field(s, &off, &f)) > 0; at = off) {
                uint64_t file_off = s->offset + VMSTATE_SECTION_HEADER_SIZE + at;
                const struct vmstate_field_desc *d = desc_field(desc, f.id);
                if (++n > VMSTATE_FIELDS_MAX)
                        return fail(err, errlen, -EINVAL, s, "more than %u fields (the limit)", VMSTATE_FIELDS_MAX);
                if (!d || d->min_version > s->version)
                        return fail(err, errlen, -EINVAL, s, "unknown field id %u at offset %" PRIu64 " in version %u",
                                    f.id, file_off, s->version);
                size_t i = (size_t)(d - desc->fields);
                if (seen[i / 64] & (1ull << (i % 64)))
                        return fail(err, errlen, -EINVAL, s, "field %s (id %u) appears twice", field_name(d), f.id);
                seen[i / 64] |= 1ull << (i % 64);
                if (f.kind != d->kind || !field_fits(d, f.length))
                        return fail(err, errlen, -EINVAL, s,
                                    "field %s (id %u) at offset %" PRIu64 " has kind %u and %" PRIu32
                                    " bytes, this build expects kind %u and %s%zu",
                                    field_name(d), f.id, file_off, f.kind, f.length, d->kind,
                                    d->kind == VMSTATE_BYTES || kind_is_scalar(d->kind) ? "" : "at most ",
                                    kind_is_scalar(d->kind) ? vmstate_kind_width(d->kind)
                                                            : d->size * vmstate_kind_width(d->kind));
                if (apply)
                        field_store(d, &f, out);
        }
        if (r < 0)
                return fail(err, errlen, -EINVAL, s, "malformed field at offset %" PRIu64,
                            s->offset + VMSTATE_SECTION_HEADER_SIZE + at);
        /* A writer of version v writes every field up to v: one missing is
         * not a default to keep, it is a damaged or foreign section. */
        for (size_t i = 0; i < desc->n_fields; i++)
                if (desc->fields[i].min_version <= s->version && !(seen[i / 64] & (1ull << (i % 64))))
                        return fail(err, errlen, -EINVAL, s, "field %s (id %u) is missing", field_name(&desc->fields[i]),
                                    desc->fields[i].id);
        return 0;
}

int vmstate_decode(const struct vmstate_section *s, const struct vmstate_desc *desc, void *out, char *err,
                   size_t errlen) {
        if (!s || !out || vmstate_desc_check(desc) < 0)
                return fail(err, errlen, -EINVAL, NULL, "invalid section descriptor");
        if (s->tag != desc->tag) {
                char want[5];
                vmstate_tag_name(desc->tag, want);
                return fail(err, errlen, -EINVAL, s, "is not a %s section (%s)", want, desc->name ? desc->name : "?");
        }
        if (s->version > desc->version) {
                char name[5];
                vmstate_tag_name(s->tag, name);
                return fail(err, errlen, -EPROTONOSUPPORT, NULL,
                            "section %s #%" PRIu32 " version %u is newer than this build's %u (at offset %" PRIu64 ")",
                            name, s->instance, s->version, desc->version, s->offset);
        }
        if (s->version == 0)
                return fail(err, errlen, -EINVAL, s, "version 0 does not exist");
        if (s->flags & VMSTATE_SECTION_BULK)
                return fail(err, errlen, -EINVAL, s, "is a bulk section, not a run of fields");
        int r = decode_fields(s, desc, out, false, err, errlen);
        if (r < 0)
                return r;
        return decode_fields(s, desc, out, true, err, errlen);
}
