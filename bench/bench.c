// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <time.h>

#include "bench.h"

void bench_result(const char *metric, double ours, double baseline, const char *unit, const char *target,
                  const char *better) {
        printf("RESULT\t%s\t%.6g\t%.6g\t%s\t%s\t%s\n", metric, ours, baseline, unit, target ? target : "-",
               better ? better : "-");
        fflush(stdout);
}

uint64_t bench_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
