// SPDX-License-Identifier: MIT
/* vmms's checkpoint index (vmms/checkpoint/tree.c) on any bytes: a refusal
 * says why and leaves the tree empty; a parsed tree has unique names and
 * ids, parents in the tree and no loop, and writes out to a text that
 * parses back to the same tree. */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz-check.h"
#include "vmms/checkpoints.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vmms_checkpoints t, again;
        char err[256] = "";
        if (vmms_checkpoints_parse((const char *)data, size, &t, err, sizeof err) < 0) {
                CHECK(err[0] && t.n == 0 && !t.owned);
                return 0;
        }
        for (uint32_t i = 0; i < t.n; i++) {
                CHECK(vmms_checkpoint_name_ok(t.c[i]->name) && t.c[i]->config);
                CHECK(vmms_checkpoints_find_id(&t, &t.c[i]->id) == t.c[i]);
                CHECK(guid_is_null(&t.c[i]->parent) || vmms_checkpoints_find_id(&t, &t.c[i]->parent));
        }
        char *json = vmms_checkpoints_to_json(&t);
        CHECK(json);
        CHECK(vmms_checkpoints_parse(json, strlen(json), &again, err, sizeof err) == 0);
        CHECK(again.n == t.n && again.n_owned == t.n_owned && guid_equal(&again.current, &t.current));
        for (uint32_t i = 0; i < t.n; i++)
                CHECK(!strcmp(again.c[i]->name, t.c[i]->name) && again.c[i]->n_disks == t.c[i]->n_disks);
        /* removing every checkpoint, oldest first, keeps the tree whole */
        while (t.n)
                vmms_checkpoints_remove(&t, t.c[0]);
        CHECK(guid_is_null(&t.current));
        vmms_checkpoints_clear(&t);
        vmms_checkpoints_clear(&again);
        free(json);
        return 0;
}
