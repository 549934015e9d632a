// SPDX-License-Identifier: MIT
/* KVP messages (docs/hyperv-guest-interface.md §8.6, include/uapi/linux/
 * hyperv.h): building the host's requests and decoding the guest's answers.
 * Keys and values are NUL-terminated UTF-16LE on the wire, UTF-8 here.
 * Pure functions: no I/O, no state; fuzzed by tests/fuzz/fuzz-icvsp-kvp.c. */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* One code point from UTF-8 at s (len bytes left); its length in *n, or
 * -EINVAL for malformed, overlong, surrogate or out-of-range sequences. */
static int32_t utf8_next(const uint8_t *s, size_t len, size_t *n) {
        static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
        uint32_t c = s[0];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (k == 0 || k > len)
                return -EINVAL;
        if (k > 1)
                c &= 0x3fu >> (k - 1);
        for (size_t i = 1; i < k; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return -EINVAL;
                c = c << 6 | (s[i] & 0x3fu);
        }
        if (c < min[k - 1] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return -EINVAL;
        *n = k;
        return (int32_t)c;
}

static void put16(uint8_t *out, size_t at, uint32_t u) {
        out[at] = (uint8_t)u;
        out[at + 1] = (uint8_t)(u >> 8);
}

/* Returns the bytes written including the 2-byte NUL (the wire's
 * key_size/value_size), -EINVAL for invalid UTF-8 or an embedded NUL,
 * -E2BIG if it does not fit cap. */
int ic_utf8_to_utf16(const char *str, uint8_t *out, size_t cap) {
        const uint8_t *s = (const uint8_t *)str;
        size_t len = strlen(str), at = 0;
        for (size_t i = 0; i < len;) {
                size_t n;
                int32_t c = utf8_next(s + i, len - i, &n);
                if (c < 0)
                        return c;
                size_t units = c >= 0x10000 ? 2 : 1;
                if (at + 2 * units + 2 > cap)
                        return -E2BIG;
                if (units == 2) {
                        put16(out, at, 0xd800u + (((uint32_t)c - 0x10000) >> 10));
                        put16(out, at + 2, 0xdc00u + (((uint32_t)c - 0x10000) & 0x3ff));
                } else {
                        put16(out, at, (uint32_t)c);
                }
                at += 2 * units;
                i += n;
        }
        if (at + 2 > cap)
                return -E2BIG;
        put16(out, at, 0);
        return (int)(at + 2);
}

static size_t put_utf8(char *out, uint32_t c) {
        if (c < 0x80) {
                out[0] = (char)c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char)(0xc0 | c >> 6);
                out[1] = (char)(0x80 | (c & 0x3f));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char)(0xe0 | c >> 12);
                out[1] = (char)(0x80 | (c >> 6 & 0x3f));
                out[2] = (char)(0x80 | (c & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | c >> 18);
        out[1] = (char)(0x80 | (c >> 12 & 0x3f));
        out[2] = (char)(0x80 | (c >> 6 & 0x3f));
        out[3] = (char)(0x80 | (c & 0x3f));
        return 4;
}

/* UTF-16LE (in_bytes, even) up to its first NUL, which must be there, into
 * NUL-terminated UTF-8. Returns the UTF-8 length, -EBADMSG for an odd size,
 * a missing terminator or unpaired surrogates, -E2BIG if cap is too small. */
int ic_utf16_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap) {
        size_t at = 0;
        if (in_bytes % 2 || cap == 0)
                return -EBADMSG;
        for (size_t i = 0; i + 1 < in_bytes; i += 2) {
                uint32_t c = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8;
                if (c == 0) {
                        out[at] = 0;
                        return (int)at;
                }
                if (c >= 0xdc00 && c <= 0xdfff)
                        return -EBADMSG;
                if (c >= 0xd800 && c <= 0xdbff) {
                        if (i + 3 >= in_bytes)
                                return -EBADMSG;
                        uint32_t lo = (uint32_t)in[i + 2] | (uint32_t)in[i + 3] << 8;
                        if (lo < 0xdc00 || lo > 0xdfff)
                                return -EBADMSG;
                        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                        i += 2;
                }
                size_t need = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
                if (at + need + 1 > cap)
                        return -E2BIG;
                at += put_utf8(out + at, c);
        }
        return -EBADMSG;
}

int ic_kvp_check_strings(const char *key, const char *value) {
        uint8_t buf[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
        int k = ic_utf8_to_utf16(key, buf, HV_KVP_EXCHANGE_MAX_KEY_SIZE);
        if (k < 0 || k == 2) /* invalid, too long, or empty */
                return -EINVAL;
        if (value && ic_utf8_to_utf16(value, buf, HV_KVP_EXCHANGE_MAX_VALUE_SIZE) < 0)
                return -EINVAL;
        return 0;
}

int ic_kvp_build(struct hv_kvp_exchange_msg *m, uint8_t op, uint8_t pool, const char *key, const char *value,
                 uint32_t index) {
        memset(m, 0, sizeof *m);
        m->kvp_hdr.operation = op;
        m->kvp_hdr.pool = pool;
        int k, v;
        switch (op) {
        case KVP_OP_SET:
                k = ic_utf8_to_utf16(key, m->body.kvp_get.key, HV_KVP_EXCHANGE_MAX_KEY_SIZE);
                v = ic_utf8_to_utf16(value, m->body.kvp_get.value, HV_KVP_EXCHANGE_MAX_VALUE_SIZE);
                if (k < 0 || v < 0)
                        return -EINVAL;
                m->body.kvp_get.value_type = KVP_REG_SZ;
                m->body.kvp_get.key_size = (uint32_t)k;
                m->body.kvp_get.value_size = (uint32_t)v;
                return 0;
        case KVP_OP_DELETE:
                k = ic_utf8_to_utf16(key, m->body.kvp_delete.key, HV_KVP_EXCHANGE_MAX_KEY_SIZE);
                if (k < 0)
                        return -EINVAL;
                m->body.kvp_delete.key_size = (uint32_t)k;
                return 0;
        case KVP_OP_ENUMERATE:
                m->body.kvp_enum_data.index = index;
                return 0;
        default:
                return -EINVAL;
        }
}

/* A value of the types Linux or Windows guests answer with (§8.6). */
static int decode_value(const struct hv_kvp_exchg_msg_value *d, char value[ICVSP_KVP_VALUE_MAX]) {
        uint64_t u;
        switch (d->value_type) {
        case KVP_REG_SZ:
        case 2: /* REG_EXPAND_SZ: a string too */
                if (d->value_size > HV_KVP_EXCHANGE_MAX_VALUE_SIZE)
                        return -EBADMSG;
                return ic_utf16_to_utf8(d->value, d->value_size, value, ICVSP_KVP_VALUE_MAX) < 0 ? -EBADMSG : 0;
        case KVP_REG_U32:
                if (d->value_size != 4)
                        return -EBADMSG;
                u = d->value_u32;
                break;
        case KVP_REG_U64:
        case KVP_REG_QWORD:
                if (d->value_size != 8)
                        return -EBADMSG;
                u = d->value_u64;
                break;
        default:
                return -EBADMSG;
        }
        char tmp[24];
        size_t n = 0;
        do
                tmp[n++] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        for (size_t i = 0; i < n; i++)
                value[i] = tmp[n - 1 - i];
        value[n] = 0;
        return 0;
}

int ic_kvp_parse_enumerate(const uint8_t *body, size_t len, uint8_t pool, char key[ICVSP_KVP_KEY_MAX],
                           char value[ICVSP_KVP_VALUE_MAX]) {
        struct hv_kvp_exchange_msg m;
        if (len < sizeof m.kvp_hdr + sizeof m.body.kvp_enum_data)
                return -EBADMSG;
        memcpy(&m, body, sizeof m.kvp_hdr + sizeof m.body.kvp_enum_data);
        if (m.kvp_hdr.operation != KVP_OP_ENUMERATE || m.kvp_hdr.pool != pool)
                return -EBADMSG;
        const struct hv_kvp_exchg_msg_value *d = &m.body.kvp_enum_data.data;
        if (d->key_size > HV_KVP_EXCHANGE_MAX_KEY_SIZE ||
            ic_utf16_to_utf8(d->key, d->key_size, key, ICVSP_KVP_KEY_MAX) <= 0)
                return -EBADMSG;
        return decode_value(d, value);
}
