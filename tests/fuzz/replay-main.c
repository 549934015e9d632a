// SPDX-License-Identifier: MIT
/* Corpus replay driver for builds without libFuzzer: runs every file in the
 * given directories (or the given files) through LLVMFuzzerTestOneInput. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fd-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        char *buf;
        size_t len;
        int r = read_file(path, 16u << 20, &buf, &len);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        return 0;
}

int main(int argc, char **argv) {
        int n = 0, failed = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: missing\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        failed |= run_file(argv[i]);
                        n++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                for (struct dirent *e; d && (e = readdir(d));) {
                        if (e->d_name[0] == '.')
                                continue;
                        char p[4096];
                        snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
                        failed |= run_file(p);
                        n++;
                }
                if (d)
                        closedir(d);
        }
        if (n == 0) {
                fprintf(stderr, "empty corpus: every fuzz target needs seeds\n");
                return 1;
        }
        printf("replayed %d input(s)\n", n);
        return failed;
}
