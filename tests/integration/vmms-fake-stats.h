/* SPDX-License-Identifier: MIT */
/* The fake worker's "stats" counters (vmms-fake-stats.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct json_object;

/* Adds to the reply m the counters after k "stats" requests. */
void fake_stats_fill(struct json_object *m, uint64_t k, unsigned vcpus, unsigned disks, unsigned nics, bool bad);
