/* SPDX-License-Identifier: MIT */
/* The kill -9 tests of test-vhdx and test-disk-vhdx: what a killed writer
 * left at one location, sector by sector. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Each 512-byte sector of got holds want (the newest reported write
 * there), or, where the write after the last reported one goes
 * (in_flight), that write's data (next): it may have reached the file
 * before the kill. False, naming the first sector lost, otherwise. */
static inline bool crash_sectors_ok(const uint8_t *want, const uint8_t *next, const uint8_t *got, size_t len,
                                    bool in_flight, unsigned round, uint32_t k, uint32_t last) {
        for (size_t s = 0; s < len; s += 512)
                if (memcmp(want + s, got + s, 512) != 0 && !(in_flight && !memcmp(next + s, got + s, 512))) {
                        fprintf(stderr, "round %u: write %u of %u lost (sector %zu)\n", round, k, last, s / 512);
                        return false;
                }
        return true;
}
