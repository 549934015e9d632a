/* SPDX-License-Identifier: MIT */
/* What emu/atapi.c and atapi-mmc.c share: big-endian fields (SCSI is
 * big-endian on the wire) and the command context. */
#pragma once

#include <stdint.h>

#include "emu/atapi.h"

static inline uint16_t atapi_be16(const uint8_t *p) {
        return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t atapi_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void atapi_put16(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}
static inline void atapi_put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

struct atapi_ctx {
        struct atapi_state *s;
        const uint8_t *cdb;
        uint8_t *reply; /* ATAPI_REPLY_MAX bytes, zeroed */
        struct atapi_result *r;
};

/* Completions (atapi.c). */
void atapi_good(struct atapi_ctx *c);
void atapi_fail(struct atapi_ctx *c, uint8_t key, uint16_t asc_ascq);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB. */
void atapi_bad_field(struct atapi_ctx *c);
/* GOOD with len bytes of reply, cut to the allocation length. */
void atapi_data(struct atapi_ctx *c, uint32_t len, uint32_t alloc);
/* NOT READY, MEDIUM NOT PRESENT unless a disc can be read; true if it can. */
bool atapi_need_medium(struct atapi_ctx *c);

/* The MMC commands of atapi-mmc.c. */
void atapi_read_toc(struct atapi_ctx *c);
void atapi_get_configuration(struct atapi_ctx *c);
void atapi_get_event_status(struct atapi_ctx *c);
void atapi_mode_sense(struct atapi_ctx *c);
void atapi_read_disc_info(struct atapi_ctx *c);
void atapi_mechanism_status(struct atapi_ctx *c);
