// SPDX-License-Identifier: MIT
/* Prints the kind of host this is (bench/host.h), one line: bench/run.sh's
 * header and the shell benchmarks' "host:" line. */
#include <stdio.h>

#include "host.h"

int main(void) {
        char line[256];
        bench_host_line(line, sizeof line);
        printf("%s\n", line);
        return 0;
}
