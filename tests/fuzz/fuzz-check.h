/* SPDX-License-Identifier: MIT */
/* CHECK(x): a fuzz target's invariant; a violation aborts, which libFuzzer
 * (and the replay driver) report as a crash with the input kept. */
#pragma once

#include <stdlib.h>

#define CHECK(x)                      \
        do {                          \
                if (!(x))             \
                        abort();      \
        } while (0)
