// SPDX-License-Identifier: MIT
/* The configuration's "processor" object (common/config.h): parsed and
 * written apart from the rest of the document, so that each resource
 * control keeps to a file of its own. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

int vm_processor_config_parse(struct json_object *o, struct vm_processor_config *out, char *err, size_t errlen) {
        struct json_object *v;
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return snprintf(err, errlen, "processor: must be an object"), -EINVAL;
        json_object_object_foreach(o, key, val) {
                (void)val;
                if (strcmp(key, "limit_pct"))
                        return snprintf(err, errlen, "processor.%s: unknown field (known: limit_pct)", key), -EINVAL;
        }
        if (!json_object_object_get_ex(o, "limit_pct", &v))
                return 0;
        errno = 0;
        int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (errno || x < VM_CPU_LIMIT_MIN_PCT || x > VM_CPU_LIMIT_NONE)
                return snprintf(err, errlen,
                                "processor.limit_pct: must be an integer from %u to %u (%% of each vCPU's time; "
                                "%u: no limit)",
                                VM_CPU_LIMIT_MIN_PCT, VM_CPU_LIMIT_NONE, VM_CPU_LIMIT_NONE),
                       -EINVAL;
        out->limit_pct = (uint32_t)x;
        return 0;
}

struct json_object *vm_processor_config_to_json(const struct vm_processor_config *pc) {
        if (pc->limit_pct == VM_CPU_LIMIT_NONE)
                return NULL;
        struct json_object *o = json_object_new_object();
        if (o)
                json_object_object_add(o, "limit_pct", json_object_new_int64(pc->limit_pct));
        return o;
}
