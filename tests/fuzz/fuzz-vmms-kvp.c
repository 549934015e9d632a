// SPDX-License-Identifier: MIT
/* vmms's KVP checks (vmms/guest/kvp.c): SetKVP's key/value from any D-Bus caller
 * and a worker's "items" object. Input: "KEY\0VALUE" for the item check,
 * and the whole input as JSON for the items check. An accepted item is
 * valid UTF-8 within the wire limits. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/kvp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 2), err[160];
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = s[size + 1] = 0;
        const char *value = s + strlen(s) + 1;
        if (vmms_kvp_check_item(s, value, err, sizeof err) == 0) {
                if (!s[0] || strlen(s) > 3 * 255 || strlen(value) > 3 * 1023)
                        abort();
        } else if (!strchr(err, ':')) {
                abort(); /* every refusal names the field */
        }
        json_tokener *tok = json_tokener_new_ex(8);
        json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)data, (int)size) : NULL;
        if (o && vmms_kvp_items_valid(o, 128) && json_object_object_length(o) > 128)
                abort();
        json_object_put(o);
        if (tok)
                json_tokener_free(tok);
        free(s);
        return 0;
}
