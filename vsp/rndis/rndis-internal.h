/* SPDX-License-Identifier: MIT */
/* Shared between device.c (message framing, state machine) and oid.c (the
 * QUERY/SET handlers). Not part of the public API. */
#pragma once

#include <stdint.h>
#include <string.h>

#include "rndis/device.h"

/* Unaligned little-endian loads/stores: guest messages carry no alignment
 * promise, and each field is read exactly once into a local. */
static inline uint32_t rndis_get_u32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
}
static inline uint16_t rndis_get_u16(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return v;
}
static inline void rndis_put_u32(uint8_t *p, uint32_t v) {
        memcpy(p, &v, sizeof v);
}

/* True when [off, off + len) lies inside [0, size), without overflow. */
static inline int rndis_range_ok(uint64_t off, uint64_t len, uint64_t size) {
        return off <= size && len <= size - off;
}

/* OID handlers. in/in_len: the request's information buffer (validated to
 * lie inside the message). Return an RNDIS status. */
uint32_t rndis_oid_query(struct rndis_device *d, uint32_t oid, const uint8_t *in, uint32_t in_len,
                         uint8_t *out, uint32_t out_cap, uint32_t *out_len);
uint32_t rndis_oid_set(struct rndis_device *d, uint32_t oid, const uint8_t *in, uint32_t in_len);
