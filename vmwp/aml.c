// SPDX-License-Identifier: MIT
/* AML emitter. Encodings from ACPI 6.5 §20.2 (AML grammar) and §6.4
 * (resource data types). PkgLength fields are reserved at their maximum
 * size (4 bytes) when an object is opened and compacted on close, so the
 * callers never compute lengths. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmwp/aml.h"

enum {
        AML_ZERO_OP = 0x00,
        AML_ONE_OP = 0x01,
        AML_NAME_OP = 0x08,
        AML_BYTE_PREFIX = 0x0a,
        AML_WORD_PREFIX = 0x0b,
        AML_DWORD_PREFIX = 0x0c,
        AML_STRING_PREFIX = 0x0d,
        AML_QWORD_PREFIX = 0x0e,
        AML_SCOPE_OP = 0x10,
        AML_BUFFER_OP = 0x11,
        AML_PACKAGE_OP = 0x12,
        AML_DUAL_NAME_PREFIX = 0x2e,
        AML_MULTI_NAME_PREFIX = 0x2f,
        AML_EXT_OP_PREFIX = 0x5b,
        AML_DEVICE_OP = 0x82, /* after AML_EXT_OP_PREFIX */
        AML_ROOT_CHAR = 0x5c,
        AML_PARENT_PREFIX = 0x5e,
};

#define PKGLEN_RESERVED 4u
#define BUFFER_FLAG ((size_t)1 << (sizeof(size_t) * 8 - 1))

void aml_init(struct aml *a, size_t limit) {
        *a = (struct aml){ .limit = limit };
}

void aml_free(struct aml *a) {
        free(a->data);
        a->data = NULL;
        a->len = a->cap = 0;
}

int aml_finish(struct aml *a, uint8_t **out, size_t *out_len) {
        if (a->err == 0 && a->depth != 0)
                a->err = -EINVAL;
        if (a->err < 0) {
                int r = a->err;
                aml_free(a);
                return r;
        }
        *out = TAKE_PTR(a->data);
        *out_len = a->len;
        a->len = a->cap = 0;
        return 0;
}

static void fail(struct aml *a, int err) {
        if (a->err == 0)
                a->err = err;
}

static uint8_t *reserve(struct aml *a, size_t n) {
        size_t need;
        if (a->err < 0)
                return NULL;
        if (ADD_OVERFLOW(a->len, n, &need) || need > a->limit) {
                fail(a, -E2BIG);
                return NULL;
        }
        if (need > a->cap) {
                size_t cap = MAX(need, a->cap ? a->cap * 2 : 256);
                cap = MIN(cap, a->limit);
                uint8_t *d = realloc(a->data, cap);
                if (!d) {
                        fail(a, -ENOMEM);
                        return NULL;
                }
                a->data = d;
                a->cap = cap;
        }
        uint8_t *p = a->data + a->len;
        a->len = need;
        return p;
}

void aml_bytes(struct aml *a, const void *p, size_t n) {
        uint8_t *d = reserve(a, n);
        if (d && n)
                memcpy(d, p, n);
}

static void byte(struct aml *a, uint8_t b) {
        aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned n) {
        uint8_t b[8];
        for (unsigned i = 0; i < n; i++)
                b[i] = (uint8_t)(v >> (8 * i));
        aml_bytes(a, b, n);
}

/* A NameSeg (§20.2.2): a lead character A-Z or '_', then A-Z, 0-9 or '_',
 * padded with '_' to four characters. */
static int name_seg(const char *s, size_t n, uint8_t out[4]) {
        if (n == 0 || n > 4)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                char c = i < n ? s[i] : '_';
                bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
                if (!ok)
                        return -EINVAL;
                out[i] = (uint8_t)c;
        }
        return 0;
}

/* NameString (§20.2.2): [RootChar | ParentPrefix*] NamePath. */
static void name_string(struct aml *a, const char *name) {
        const char *s = name;
        if (*s == '\\')
                byte(a, AML_ROOT_CHAR), s++;
        else
                while (*s == '^')
                        byte(a, AML_PARENT_PREFIX), s++;
        uint8_t segs[255][4];
        size_t n = 0;
        while (*s) {
                const char *dot = strchr(s, '.');
                size_t l = dot ? (size_t)(dot - s) : strlen(s);
                if (n == ARRAY_SIZE(segs) || name_seg(s, l, segs[n]) < 0) {
                        fail(a, -EINVAL);
                        return;
                }
                n++;
                s += l + (dot ? 1 : 0);
                if (dot && !*s) {
                        fail(a, -EINVAL);
                        return;
                }
        }
        if (n == 0)
                byte(a, 0x00); /* NullName */
        else if (n == 2)
                byte(a, AML_DUAL_NAME_PREFIX);
        else if (n > 2)
                byte(a, AML_MULTI_NAME_PREFIX), byte(a, (uint8_t)n);
        aml_bytes(a, segs, n * 4);
}

void aml_integer(struct aml *a, uint64_t v) {
        if (v == 0)
                byte(a, AML_ZERO_OP);
        else if (v == 1)
                byte(a, AML_ONE_OP);
        else if (v <= 0xff)
                byte(a, AML_BYTE_PREFIX), le(a, v, 1);
        else if (v <= 0xffff)
                byte(a, AML_WORD_PREFIX), le(a, v, 2);
        else if (v <= 0xffffffffu)
                byte(a, AML_DWORD_PREFIX), le(a, v, 4);
        else
                byte(a, AML_QWORD_PREFIX), le(a, v, 8);
}

/* String (§20.2.3): ASCII 0x01-0x7F, NUL-terminated. */
void aml_string(struct aml *a, const char *s) {
        for (const char *c = s; *c; c++)
                if ((unsigned char)*c > 0x7f) {
                        fail(a, -EINVAL);
                        return;
                }
        byte(a, AML_STRING_PREFIX);
        aml_bytes(a, s, strlen(s) + 1);
}

/* EISA id compression (§19.6.35 EISAID): three letters, 5 bits each
 * ('A' = 1), then four hex digits, stored big-endian as a 32-bit integer. */
void aml_eisaid(struct aml *a, const char *id) {
        if (strlen(id) != 7) {
                fail(a, -EINVAL);
                return;
        }
        uint32_t v = 0;
        for (int i = 0; i < 3; i++) {
                if (id[i] < 'A' || id[i] > 'Z') {
                        fail(a, -EINVAL);
                        return;
                }
                v = (v << 5) | (uint32_t)(id[i] - 'A' + 1);
        }
        for (int i = 3; i < 7; i++) {
                char c = id[i];
                uint32_t d;
                if (c >= '0' && c <= '9')
                        d = (uint32_t)(c - '0');
                else if (c >= 'A' && c <= 'F')
                        d = (uint32_t)(c - 'A' + 10);
                else {
                        fail(a, -EINVAL);
                        return;
                }
                v = (v << 4) | d;
        }
        /* v holds the id in reading order (bits 30..0); AML stores it with
         * the first byte most significant. */
        uint32_t swapped = __builtin_bswap32(v);
        byte(a, AML_DWORD_PREFIX);
        le(a, swapped, 4);
}

void aml_name(struct aml *a, const char *name) {
        byte(a, AML_NAME_OP);
        name_string(a, name);
}

size_t aml_pkglen_encode(size_t content_len, uint8_t out[4]) {
        static const size_t max_total[5] = { 0, 0x3f, 0xfff, 0xfffff, 0xfffffff };
        for (size_t n = 1; n <= 4; n++) {
                size_t total = content_len + n;
                if (total < content_len || total > max_total[n])
                        continue;
                if (n == 1) {
                        out[0] = (uint8_t)total;
                        return 1;
                }
                /* Lead byte: bits 7-6 = following byte count, 3-0 = low nibble. */
                out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
                for (size_t i = 1; i < n; i++)
                        out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
                return n;
        }
        return 0;
}

static void open_pkg(struct aml *a, bool buffer) {
        if (a->err < 0)
                return;
        if (a->depth == AML_MAX_DEPTH) {
                fail(a, -E2BIG);
                return;
        }
        size_t at = a->len;
        if (!reserve(a, PKGLEN_RESERVED))
                return;
        a->open[a->depth++] = at | (buffer ? BUFFER_FLAG : 0);
}

void aml_scope_open(struct aml *a, const char *name) {
        byte(a, AML_SCOPE_OP);
        open_pkg(a, false);
        name_string(a, name);
}

void aml_device_open(struct aml *a, const char *name) {
        byte(a, AML_EXT_OP_PREFIX);
        byte(a, AML_DEVICE_OP);
        open_pkg(a, false);
        name_string(a, name);
}

void aml_package_open(struct aml *a, uint8_t n_elements) {
        byte(a, AML_PACKAGE_OP);
        open_pkg(a, false);
        byte(a, n_elements);
}

void aml_buffer_open(struct aml *a) {
        byte(a, AML_BUFFER_OP);
        open_pkg(a, true);
}

/* For a buffer, insert the BufferSize integer in front of its bytes. */
static void insert_buffer_size(struct aml *a, size_t content) {
        struct aml tmp;
        aml_init(&tmp, 16);
        aml_integer(&tmp, content);
        if (tmp.err < 0) {
                fail(a, tmp.err);
                aml_free(&tmp);
                return;
        }
        size_t n = tmp.len;
        if (reserve(a, n)) {
                memmove(a->data + a->len - content, a->data + a->len - content - n, content);
                memcpy(a->data + a->len - content - n, tmp.data, n);
        }
        aml_free(&tmp);
}

void aml_close(struct aml *a) {
        if (a->err < 0)
                return;
        if (a->depth == 0) {
                fail(a, -EINVAL);
                return;
        }
        size_t tag = a->open[--a->depth];
        size_t at = tag & ~BUFFER_FLAG;
        size_t start = at + PKGLEN_RESERVED;
        if (tag & BUFFER_FLAG)
                insert_buffer_size(a, a->len - start);
        if (a->err < 0)
                return;
        size_t content = a->len - start;
        uint8_t enc[4];
        size_t n = aml_pkglen_encode(content, enc);
        if (n == 0) {
                fail(a, -E2BIG);
                return;
        }
        memcpy(a->data + at, enc, n);
        memmove(a->data + at + n, a->data + start, content);
        a->len -= PKGLEN_RESERVED - n;
}

/* I/O port descriptor (§6.4.2.5): 16-bit decode, fixed base. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len) {
        uint8_t d[8] = { 0x47, 0x01, (uint8_t)base, (uint8_t)(base >> 8), (uint8_t)base, (uint8_t)(base >> 8),
                         0x01, len };
        aml_bytes(a, d, sizeof d);
}

/* IRQ descriptor without flags (§6.4.2.1): edge, active high, exclusive. */
void aml_res_irq(struct aml *a, uint8_t irq) {
        if (irq > 15) {
                fail(a, -EINVAL);
                return;
        }
        uint16_t mask = (uint16_t)(1u << irq);
        uint8_t d[3] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };
        aml_bytes(a, d, sizeof d);
}

/* End tag (§6.4.2.9); a zero checksum means "not computed". */
void aml_res_end(struct aml *a) {
        static const uint8_t d[2] = { 0x79, 0x00 };
        aml_bytes(a, d, sizeof d);
}

/* Word Address Space Descriptor (§6.4.3.5.3): tag 88h, length 13,
 * resource type, general flags (bit 3 _MAF, bit 2 _MIF, bit 1 _DEC = 0,
 * bit 0 = 0: producer), type-specific flags, then granularity, minimum,
 * maximum, translation offset and length, 16 bits each. */
static void word_space(struct aml *a, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max) {
        uint16_t len = (uint16_t)(max - min + 1);
        uint8_t d[16] = { 0x88, 13, 0, type, 0x0c, type_flags, 0, 0, (uint8_t)min, (uint8_t)(min >> 8),
                          (uint8_t)max, (uint8_t)(max >> 8), 0, 0, (uint8_t)len, (uint8_t)(len >> 8) };
        if (max < min) {
                fail(a, -EINVAL);
                return;
        }
        aml_bytes(a, d, sizeof d);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max) {
        word_space(a, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max) {
        word_space(a, 1, 0x03, min, max); /* _RNG = 3: ISA and non-ISA ranges */
}

/* Tag 87h, length 23: resource type 0 (memory), general flags (_MIF and
 * _MAF fixed, a producer), type-specific flags 1 (read-write,
 * non-cacheable), then granularity, minimum, maximum, translation offset
 * and length, 32 bits each. */
void aml_res_dword_memory(struct aml *a, uint32_t min, uint32_t max) {
        if (max < min) {
                fail(a, -EINVAL);
                return;
        }
        uint32_t len = max - min + 1, f[5] = { 0, min, max, 0, len };
        uint8_t d[26] = { 0x87, 23, 0, 0, 0x0c, 0x01 };
        for (unsigned i = 0; i < 5; i++)
                for (unsigned b = 0; b < 4; b++)
                        d[6 + 4 * i + b] = (uint8_t)(f[i] >> (8 * b));
        aml_bytes(a, d, sizeof d);
}
