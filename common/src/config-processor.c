// SPDX-License-Identifier: MIT
/* The configuration's "processor" object (common/config.h): parsed and
 * written apart from the rest of the document, so that each resource
 * control keeps to a file of its own. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

/* An integer member from min to max into *out (absent: unchanged). */
static int get_range(struct json_object *o, const char *key, uint32_t min, uint32_t max, const char *what,
                     uint32_t *out, char *err, size_t errlen) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        errno = 0;
        int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (errno || x < (int64_t)min || x > (int64_t)max)
                return snprintf(err, errlen, "processor.%s: must be an integer from %u to %u (%s)", key, min, max,
                                what),
                       -EINVAL;
        *out = (uint32_t)x;
        return 0;
}

/* The keys as vmstack.json(5) lists them (tests/unit/test-manpages.sh
 * reads this array). */
static int parse_processor(struct json_object *o, char *err, size_t errlen) {
        static const char *const keys[] = { "limit_pct", "weight", NULL };
        json_object_object_foreach(o, key, val) {
                (void)val;
                size_t i = 0;
                while (keys[i] && strcmp(key, keys[i]))
                        i++;
                if (!keys[i])
                        return snprintf(err, errlen, "processor.%s: unknown field (known: limit_pct, weight)", key),
                               -EINVAL;
        }
        return 0;
}

int vm_processor_config_parse(struct json_object *o, struct vm_processor_config *out, char *err, size_t errlen) {
        if (!o)
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return snprintf(err, errlen, "processor: must be an object"), -EINVAL;
        int r = parse_processor(o, err, errlen);
        if (r >= 0)
                r = get_range(o, "limit_pct", VM_CPU_LIMIT_MIN_PCT, VM_CPU_LIMIT_NONE,
                          "% of each vCPU's time; 100: no limit", &out->limit_pct, err, errlen);
        if (r >= 0)
                r = get_range(o, "weight", VM_CPU_WEIGHT_MIN, VM_CPU_WEIGHT_MAX, "relative to other VMs; default 100",
                              &out->weight, err, errlen);
        return r;
}

struct json_object *vm_processor_config_to_json(const struct vm_processor_config *pc) {
        if (pc->limit_pct == VM_CPU_LIMIT_NONE && pc->weight == VM_CPU_WEIGHT_DEFAULT)
                return NULL;
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (pc->limit_pct != VM_CPU_LIMIT_NONE)
                json_object_object_add(o, "limit_pct", json_object_new_int64(pc->limit_pct));
        if (pc->weight != VM_CPU_WEIGHT_DEFAULT)
                json_object_object_add(o, "weight", json_object_new_int64(pc->weight));
        return o;
}
