// SPDX-License-Identifier: MIT
/* vmms's runtime records (read back after a restart; may be corrupt) and
 * /proc/<pid>/stat lines. A record that parses must serialise and parse
 * back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vmms_runtime_record a, b;
        struct vmms_proc_stat st;
        char err[128];
        (void)vmms_proc_stat_parse((const char *)data, size, &st);
        if (vmms_runtime_record_parse((const char *)data, size, &a, err, sizeof err) < 0)
                return 0;
        char *json = vmms_runtime_record_to_json(&a);
        if (!json)
                return 0;
        memset(&b, 0, sizeof b);
        if (vmms_runtime_record_parse(json, strlen(json), &b, err, sizeof err) < 0 || memcmp(&a, &b, sizeof a) != 0)
                abort();
        free(json);
        return 0;
}
