/* SPDX-License-Identifier: MIT */
/* Helpers shared by the boot loaders (vmwp/boot-*.c). */
#pragma once

#include <stdio.h>

#include "common/log.h" /* errorf */
#include "common/macro.h"
#include "vmwp/boot.h"

/* Writes len bytes of zeros. */
int boot_write_zeros(const struct boot_guest *g, uint64_t gpa, uint64_t len);

/* True if [a, a+alen) and [b, b+blen) intersect (lengths > 0, no overflow). */
static inline bool boot_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
        return a < b + blen && b < a + alen;
}

/* Largest end address of RAM below 4 GiB (end of the region starting at 0). */
uint64_t boot_low_ram_end(const struct boot_guest *g);
