// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "common/guid.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Position of each wire byte's two hex digits in the text form. The first
 * three groups are little-endian on the wire, so their bytes are reversed. */
static const uint8_t text_pos[16] = { 6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34 };

int guid_from_string(const char *s, struct guid *out) {
        if (!s || strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
                return -EINVAL;
        struct guid g;
        for (int i = 0; i < 16; i++) {
                int hi = hexval(s[text_pos[i]]), lo = hexval(s[text_pos[i] + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                g.b[i] = (uint8_t)(hi << 4 | lo);
        }
        *out = g;
        return 0;
}

char *guid_to_string(const struct guid *g, char buf[static GUID_STRING_MAX]) {
        static const char hex[] = "0123456789abcdef";
        memcpy(buf, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", GUID_STRING_MAX);
        for (int i = 0; i < 16; i++) {
                buf[text_pos[i]] = hex[g->b[i] >> 4];
                buf[text_pos[i] + 1] = hex[g->b[i] & 15];
        }
        return buf;
}

static void guid_set_version(struct guid *g, unsigned version) {
        g->b[7] = (uint8_t)((g->b[7] & 0x0f) | (version << 4)); /* time_hi_and_version, LE */
        g->b[8] = (uint8_t)((g->b[8] & 0x3f) | 0x80);           /* RFC 4122 variant */
}

int guid_generate(struct guid *out) {
        size_t got = 0;
        while (got < sizeof out->b) {
                ssize_t n = getrandom(out->b + got, sizeof out->b - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t)n;
        }
        guid_set_version(out, 4);
        return 0;
}

/* 64-bit FNV-1a, run twice with different seeds for 128 bits. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
        const uint8_t *p = data;
        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= 0x100000001b3ull;
        }
        return h;
}

void guid_derive(const struct guid *ns, const char *name, struct guid *out) {
        uint64_t h1 = fnv1a(0xcbf29ce484222325ull, ns->b, sizeof ns->b);
        uint64_t h2 = fnv1a(0x84222325cbf29ce4ull, ns->b, sizeof ns->b);
        h1 = fnv1a(h1, name, strlen(name));
        h2 = fnv1a(h2 ^ h1, name, strlen(name));
        memcpy(out->b, &h1, 8);
        memcpy(out->b + 8, &h2, 8);
        guid_set_version(out, 5);
}
