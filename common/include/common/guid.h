/* SPDX-License-Identifier: MIT */
/* GUIDs in the Microsoft mixed-endian wire form used by VMBus
 * (docs/hyperv-guest-interface.md §0): the first 32-bit group and the next
 * two 16-bit groups little-endian, the last 8 bytes in text order. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct guid {
        uint8_t b[16];
};
_Static_assert(sizeof(struct guid) == 16, "guid size");

#define GUID_STRING_MAX 37 /* 36 characters + NUL */

/* "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f" -> wire bytes. -EINVAL if malformed. */
int guid_from_string(const char *s, struct guid *out);
/* Writes the canonical lowercase form; buf must hold GUID_STRING_MAX. */
char *guid_to_string(const struct guid *g, char buf[static GUID_STRING_MAX]);
/* Random version-4 GUID from getrandom(). */
int guid_generate(struct guid *out);
/* A stable GUID derived from a namespace GUID and a name (version 5 style,
 * with a SHA-1-free hash: the result only needs to be stable and unique). */
void guid_derive(const struct guid *ns, const char *name, struct guid *out);

static inline bool guid_equal(const struct guid *a, const struct guid *b) {
        return memcmp(a, b, sizeof *a) == 0;
}
static inline bool guid_is_null(const struct guid *g) {
        static const struct guid null;
        return guid_equal(g, &null);
}

/* Compile-time wire GUID from the text groups, e.g.
 * GUID_INIT(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f) */
#define GUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                   \
        { { (uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16), (uint8_t)((a) >> 24), \
            (uint8_t)(b), (uint8_t)((b) >> 8), (uint8_t)(c), (uint8_t)((c) >> 8),           \
            d0, d1, d2, d3, d4, d5, d6, d7 } }
