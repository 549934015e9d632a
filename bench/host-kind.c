// SPDX-License-Identifier: MIT
/* Prints the kind of host this is (bench/host.h), one line: bench/run.sh's
 * header and the shell benchmarks' "host:" line. */
#include <stdio.h>

#include "host.h"

int main(void) {
        struct bench_host_facts f;
        char line[256];
        bench_host_probe(&f);
        bench_host_describe(&f, line, sizeof line);
        printf("%s\n", line);
        return 0;
}
