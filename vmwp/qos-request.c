// SPDX-License-Identifier: MIT
/* What the disk-qos and nic-qos requests share (common/proto.h): the
 * device's index and the settings' fields, each field left out keeping
 * its value. Pure: fuzzed with the other control requests. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>

#include "common/log.h"
#include "common/macro.h"
#include "vm-internal.h"

int vmwp_qos_request_index(struct json_object *req, const char *key, const char *noun, const char *array, uint32_t n,
                           uint32_t *index, char *err, size_t errlen) {
        struct json_object *o;
        if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, key, &o) ||
            !json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
                return errorf(err, errlen, -EINVAL, "\"%s\" must be a %s's index", key, noun);
        int64_t i = json_object_get_int64(o);
        if (i >= (int64_t)n)
                return errorf(err, errlen, -ENOENT, "%s[%lld]: no such %s (the VM has %u)", array, (long long)i, noun,
                              n);
        *index = (uint32_t)i;
        return 0;
}

int vmwp_qos_request_fields(struct json_object *req, const char *const *fields, uint64_t *const *v, size_t n,
                            const char *zero, char *err, size_t errlen) {
        for (size_t k = 0; k < n; k++) {
                struct json_object *o;
                if (!json_object_object_get_ex(req, fields[k], &o))
                        continue;
                errno = 0;
                /* -1 as int64 is what a peer's "-1" or 1.5 would become */
                int64_t x = json_object_is_type(o, json_type_int) ? json_object_get_int64(o) : -1;
                if (x < 0 || errno)
                        return errorf(err, errlen, -EINVAL, "\"%s\" must be a non-negative integer (0: %s)", fields[k],
                                      zero);
                *v[k] = (uint64_t)x;
        }
        return 0;
}
