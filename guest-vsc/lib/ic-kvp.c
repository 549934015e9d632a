// SPDX-License-Identifier: MIT
/* KVP, guest side (§8.6): what hv_kvp.c and hv_kvp_daemon do with a host
 * request. The host's strings are UTF-16LE with sizes in bytes including
 * the terminator (include/uapi/linux/hyperv.h); the store keeps UTF-8 like
 * the daemon's pool files. Failures answer as the daemon does: HV_S_CONT
 * for "no such item / past the end / cannot store", HV_E_FAIL for what it
 * cannot do at all (IP injection, unknown operations). */
#include "ic-internal.h"
#include "internal.h"

const char *const vsc_kvp_auto_keys[KVP_AUTO_KEY_COUNT] = {
        "FullyQualifiedDomainName", "IntegrationServicesVersion", "NetworkAddressIPv4", "NetworkAddressIPv6",
        "OSBuildNumber", "OSName", "OSMajorVersion", "OSMinorVersion", "OSVersion", "ProcessorArchitecture",
};

static bool str_eq(const char *a, const char *b) {
        size_t i = 0;
        for (; a[i] && a[i] == b[i]; i++)
                ;
        return a[i] == b[i];
}

static size_t utf8_put(char *out, uint32_t c) {
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

int vsc_utf16_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap) {
        size_t at = 0;
        if (cap == 0)
                return -E2BIG;
        for (size_t i = 0; i + 1 < in_bytes; i += 2) {
                uint32_t c = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8;
                if (c == 0)
                        break;
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
                at += utf8_put(out + at, c);
        }
        out[at] = 0;
        return (int)at;
}

static void put16(uint8_t *out, size_t at, uint32_t u) {
        out[at] = (uint8_t)u;
        out[at + 1] = (uint8_t)(u >> 8);
}

/* One code point of valid UTF-8 at s, its length in *n; -1 if malformed. */
static int32_t utf8_get(const uint8_t *s, size_t *n) {
        uint32_t c = s[0], min;
        size_t k;
        if (c < 0x80) {
                *n = 1;
                return (int32_t)c;
        }
        if ((c & 0xe0) == 0xc0)
                k = 2, c &= 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
                k = 3, c &= 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
                k = 4, c &= 0x07, min = 0x10000;
        else
                return -1;
        for (size_t i = 1; i < k; i++) {
                if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
                        return -1;
                c = c << 6 | (s[i] & 0x3fu);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return -1;
        *n = k;
        return (int32_t)c;
}

int vsc_utf8_to_utf16(const char *in, uint8_t *out, size_t cap) {
        const uint8_t *s = (const uint8_t *)in;
        size_t at = 0;
        for (size_t i = 0; s[i];) {
                size_t n;
                int32_t c = utf8_get(s + i, &n);
                if (c < 0)
                        return -EBADMSG;
                uint32_t u = (uint32_t)c;
                size_t units = u >= 0x10000 ? 2 : 1;
                if (at + 2 * units + 2 > cap)
                        return -E2BIG;
                if (units == 2) {
                        put16(out, at, 0xd800u + ((u - 0x10000) >> 10));
                        put16(out, at + 2, 0xdc00u + ((u - 0x10000) & 0x3ff));
                } else {
                        put16(out, at, u);
                }
                at += 2 * units;
                i += n;
        }
        if (at + 2 > cap)
                return -E2BIG;
        put16(out, at, 0);
        return (int)(at + 2);
}

const struct vsc_kvp_item *vsc_kvp_find(const struct vsc_kvp_store *s, uint8_t pool, const char *key) {
        for (unsigned i = 0; i < s->n_items; i++)
                if (s->items[i].pool == pool && str_eq(s->items[i].key, key))
                        return &s->items[i];
        return NULL;
}

static void decimal(uint64_t v, char *out) {
        char tmp[24];
        size_t n = 0;
        do
                tmp[n++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        for (size_t i = 0; i < n; i++)
                out[i] = tmp[n - 1 - i];
        out[n] = 0;
}

/* hv_kvp.c kvp_send_key: REG_SZ converted, REG_U32/REG_U64 as decimal. */
static int value_of(const struct hv_kvp_exchg_msg_value *d, char *value) {
        size_t size = d->value_size < HV_KVP_EXCHANGE_MAX_VALUE_SIZE ? d->value_size : HV_KVP_EXCHANGE_MAX_VALUE_SIZE;
        switch (d->value_type) {
        case KVP_REG_SZ:
                return vsc_utf16_to_utf8(d->value, size, value, VSC_KVP_VALUE_MAX);
        case KVP_REG_U32:
                decimal(d->value_u32, value);
                return 0;
        case KVP_REG_U64:
                decimal(d->value_u64, value);
                return 0;
        default:
                return -EBADMSG;
        }
}

static int key_of(const uint8_t *key16, uint32_t key_size, char *key) {
        size_t size = key_size < HV_KVP_EXCHANGE_MAX_KEY_SIZE ? key_size : HV_KVP_EXCHANGE_MAX_KEY_SIZE;
        int r = vsc_utf16_to_utf8(key16, size, key, VSC_KVP_KEY_MAX);
        return r == 0 ? -EBADMSG : r; /* the daemon has no empty keys */
}

static uint32_t kvp_set(struct vsc_kvp_store *s, struct hv_kvp_exchange_msg *m, struct vsc_ic_result *out) {
        struct vsc_kvp_item it = { .pool = m->kvp_hdr.pool };
        if (key_of(m->body.kvp_get.key, m->body.kvp_get.key_size, it.key) < 0 || value_of(&m->body.kvp_get, it.value) < 0)
                return HV_S_CONT;
        struct vsc_kvp_item *slot = (struct vsc_kvp_item *)vsc_kvp_find(s, it.pool, it.key);
        if (!slot) {
                if (s->n_items == VSC_KVP_MAX_ITEMS)
                        return HV_S_CONT; /* kvp_key_add_or_modify failed */
                slot = &s->items[s->n_items++];
        }
        vsc_memcpy(slot, &it, sizeof it);
        out->kvp_item = slot;
        return HV_S_OK;
}

static uint32_t kvp_delete(struct vsc_kvp_store *s, struct hv_kvp_exchange_msg *m, struct vsc_ic_result *out) {
        char key[VSC_KVP_KEY_MAX];
        if (key_of(m->body.kvp_delete.key, m->body.kvp_delete.key_size, key) < 0)
                return HV_S_CONT;
        const struct vsc_kvp_item *it = vsc_kvp_find(s, m->kvp_hdr.pool, key);
        if (!it)
                return HV_S_CONT;
        size_t i = (size_t)(it - s->items);
        vsc_memcpy(&s->removed, it, sizeof *it);
        out->kvp_item = &s->removed;
        __builtin_memmove(&s->items[i], &s->items[i + 1], (s->n_items - i - 1) * sizeof s->items[0]);
        s->n_items--;
        return HV_S_OK;
}

/* Fills d with key and value as UTF-16, type REG_SZ (kvp_respond_to_host). */
static uint32_t fill(struct hv_kvp_exchg_msg_value *d, const char *key, const char *value) {
        if (key) {
                int k = vsc_utf8_to_utf16(key, d->key, sizeof d->key);
                if (k < 0)
                        return HV_E_FAIL;
                d->key_size = (uint32_t)k;
        }
        int v = vsc_utf8_to_utf16(value, d->value, sizeof d->value);
        if (v < 0)
                return HV_E_FAIL;
        d->value_size = (uint32_t)v;
        d->value_type = KVP_REG_SZ;
        return HV_S_OK;
}

static uint32_t kvp_get(struct vsc_kvp_store *s, struct hv_kvp_exchange_msg *m, struct vsc_ic_result *out) {
        char key[VSC_KVP_KEY_MAX];
        if (key_of(m->body.kvp_get.key, m->body.kvp_get.key_size, key) < 0)
                return HV_S_CONT;
        const struct vsc_kvp_item *it = vsc_kvp_find(s, m->kvp_hdr.pool, key);
        if (!it)
                return HV_S_CONT;
        out->kvp_item = it;
        return fill(&m->body.kvp_get, NULL, it->value);
}

static uint32_t kvp_enumerate(struct vsc_kvp_store *s, struct hv_kvp_exchange_msg *m, struct vsc_ic_result *out) {
        uint32_t index = m->body.kvp_enum_data.index;
        out->kvp_index = index;
        if (m->kvp_hdr.pool == KVP_POOL_AUTO) {
                if (index >= KVP_AUTO_KEY_COUNT)
                        return HV_S_CONT;
                const char *v = s->auto_values[index];
                return fill(&m->body.kvp_enum_data.data, vsc_kvp_auto_keys[index], v ? v : "");
        }
        for (unsigned i = 0, n = 0; i < s->n_items; i++)
                if (s->items[i].pool == m->kvp_hdr.pool && n++ == index) {
                        out->kvp_item = &s->items[i];
                        return fill(&m->body.kvp_enum_data.data, s->items[i].key, s->items[i].value);
                }
        return HV_S_CONT;
}

uint32_t vsc_ic_kvp_serve(struct vsc_kvp_store *s, uint8_t *body, size_t body_len, struct vsc_ic_result *out) {
        struct hv_kvp_exchange_msg m;
        size_t n = body_len < sizeof m ? body_len : sizeof m;
        vsc_memset(&m, 0, sizeof m);
        vsc_memcpy(&m, body, n);
        out->kvp_op = m.kvp_hdr.operation;
        out->kvp_pool = m.kvp_hdr.pool;
        if (body_len < sizeof m.kvp_hdr || m.kvp_hdr.pool >= KVP_POOL_COUNT)
                return HV_E_FAIL;
        uint32_t status;
        switch (m.kvp_hdr.operation) {
        case KVP_OP_SET:
                return kvp_set(s, &m, out);
        case KVP_OP_DELETE:
                return kvp_delete(s, &m, out);
        case KVP_OP_GET:
                status = kvp_get(s, &m, out);
                break;
        case KVP_OP_ENUMERATE:
                status = kvp_enumerate(s, &m, out);
                break;
        default: /* IP injection needs a network configuration: none here */
                return HV_E_FAIL;
        }
        /* The answer must fit the bytes the host sent (hv_kvp.c answers
         * with the received length). */
        if (status == HV_S_OK && body_len < sizeof m.kvp_hdr + sizeof m.body.kvp_enum_data)
                return HV_E_FAIL;
        if (status == HV_S_OK)
                vsc_memcpy(body, &m, n);
        return status;
}
