/* SPDX-License-Identifier: MIT */
/* What post-copy's two ends share (vmwp/postcopy.h): the page size, the
 * bitmaps of missing pages, the clock, a record without payload.
 * postcopy-send.c is the source's page server, postcopy.c the
 * destination's pager. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/macro.h"
#include "common/migstream.h"

#define PAGE MIG_PAGE_SIZE

static inline uint64_t now_ns(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline bool bit(const uint64_t *b, uint64_t i) {
        return b[i / 64] >> (i % 64) & 1;
}
static inline void bit_set(uint64_t *b, uint64_t i) {
        b[i / 64] |= 1ull << (i % 64);
}
static inline void bit_clear(uint64_t *b, uint64_t i) {
        b[i / 64] &= ~(1ull << (i % 64));
}

/* The next set bit at or after i, or n. */
static inline uint64_t next_bit(const uint64_t *b, uint64_t i, uint64_t n) {
        while (i < n) {
                uint64_t w = b[i / 64] >> (i % 64);
                if (w)
                        return MIN(i + (uint64_t)__builtin_ctzll(w), n);
                i = ALIGN_DOWN(i, 64u) + 64;
        }
        return n;
}

static inline int send_header(int fd, uint32_t type, uint64_t addr, uint64_t length, int timeout_ms) {
        uint8_t h[MIG_RECORD_HEADER];
        mig_record_encode(h, type, addr, length, 0);
        return mig_send_all(fd, h, sizeof h, timeout_ms);
}
