/* SPDX-License-Identifier: MIT */
/* Small file helpers for tests that hand files to a worker and read back
 * what it wrote. */
#pragma once

#include <stdio.h>

#include "common/test.h"

/* Writes n bytes to path (created or truncated); asserts it worked. */
static inline void test_write_file(const char *path, const void *p, size_t n) {
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(p, 1, n, f), n);
        fclose(f);
}

/* Reads up to cap - 1 bytes of path into buf, NUL-terminated; 0 when the
 * file cannot be opened. */
static inline size_t test_read_file(const char *path, char *buf, size_t cap) {
        FILE *f = fopen(path, "r");
        if (!f)
                return 0;
        size_t n = fread(buf, 1, cap - 1, f);
        buf[n] = 0;
        fclose(f);
        return n;
}
