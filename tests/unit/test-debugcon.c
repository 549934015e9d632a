// SPDX-License-Identifier: MIT
/* The firmware's debug port (emu/debugcon.c): lines as SeaBIOS writes
 * them, CR dropped, other control bytes shown as '?', long lines cut, and
 * the per-start budget after which bytes are only counted. */
#include <string.h>

#include "common/test.h"
#include "emu/debugcon.h"

static char got[8][DEBUGCON_LINE_MAX + 1];
static unsigned n_got;

static void line(void *opaque, const char *s) {
        if (n_got < 8)
                snprintf(got[n_got], sizeof got[0], "%s", s);
        n_got++;
}

static void put(struct debugcon *d, const char *s) {
        while (*s)
                debugcon_put(d, (uint8_t)*s++);
}

TEST(lines_as_seabios_writes_them) {
        struct debugcon d;
        n_got = 0;
        debugcon_init(&d, line, NULL);
        put(&d, "SeaBIOS (version 1.16.2)\r\nBooting\x1b[0m\n");
        ASSERT_EQ(n_got, 2u);
        ASSERT_STREQ(got[0], "SeaBIOS (version 1.16.2)");
        ASSERT_STREQ(got[1], "Booting?[0m");
        put(&d, "no newline yet");
        ASSERT_EQ(n_got, 2u);
        debugcon_destroy(&d);
}

TEST(a_long_line_is_cut) {
        struct debugcon d;
        n_got = 0;
        debugcon_init(&d, line, NULL);
        for (unsigned i = 0; i < DEBUGCON_LINE_MAX + 5; i++)
                debugcon_put(&d, 'x');
        ASSERT_EQ(n_got, 1u);
        ASSERT_EQ(strlen(got[0]), (size_t)DEBUGCON_LINE_MAX);
        debugcon_destroy(&d);
}

TEST(the_budget_bounds_what_is_kept) {
        struct debugcon d;
        n_got = 0;
        debugcon_init(&d, line, NULL);
        for (unsigned i = 0; i < DEBUGCON_BUDGET + 1000; i++)
                debugcon_put(&d, i % 80 == 79 ? '\n' : 'a');
        ASSERT_EQ(d.bytes, (uint64_t)DEBUGCON_BUDGET);
        ASSERT_EQ(d.dropped, 1000u);
        unsigned before = n_got;
        put(&d, "later\n");
        ASSERT_EQ(n_got, before);
        debugcon_destroy(&d);
}

int main(int argc, char **argv) {
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
