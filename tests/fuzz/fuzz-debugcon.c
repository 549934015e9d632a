// SPDX-License-Identifier: MIT
/* Fuzz the firmware's debug port (emu/debugcon.c): any bytes. Checks:
 * every line handed out is printable ASCII of at most DEBUGCON_LINE_MAX
 * characters, and the bytes taken never pass DEBUGCON_BUDGET (the rest is
 * counted as dropped, exactly). The input is repeated so that the budget
 * is reached. */
#include <string.h>

#include "emu/debugcon.h"
#include "tests/fuzz/fuzz-check.h"

static size_t lines;

static void line(void *opaque, const char *s) {
        size_t n = strlen(s);
        CHECK(n <= DEBUGCON_LINE_MAX);
        for (size_t i = 0; i < n; i++)
                CHECK(s[i] >= 0x20 && s[i] < 0x7f);
        lines++;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        struct debugcon d;
        debugcon_init(&d, line, NULL);
        uint64_t total = 0;
        unsigned rounds = size ? (unsigned)(DEBUGCON_BUDGET / size) + 2 : 0;
        if (rounds > 64)
                rounds = 64;
        for (unsigned r = 0; r < rounds; r++)
                for (size_t i = 0; i < size; i++, total++)
                        debugcon_put(&d, in[i]);
        CHECK(d.bytes <= DEBUGCON_BUDGET);
        CHECK(d.bytes + d.dropped == total);
        debugcon_destroy(&d);
        return 0;
}
