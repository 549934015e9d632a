// SPDX-License-Identifier: MIT
/* vm_config_parse(): JSON from D-Bus callers and from files on disk. A
 * configuration that parses must serialise and parse back to itself. */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vm_config *c = malloc(sizeof *c), *c2 = malloc(sizeof *c2);
        char err[256];
        if (c && c2 && vm_config_parse((const char *)data, size, c, err, sizeof err) == 0) {
                char *json = vm_config_to_json(c);
                if (!json || vm_config_parse(json, strlen(json), c2, err, sizeof err) != 0 ||
                    memcmp(c, c2, sizeof *c) != 0)
                        abort();
                free(json);
        }
        free(c);
        free(c2);
        return 0;
}
