// SPDX-License-Identifier: MIT
/* The counters a device row adds to a "stats" reply (common/device.h). */
#include <json-c/json.h>

#include "common/device.h"

void device_stat_add(struct json_object *o, const char *key, uint64_t v) {
        struct json_object *old;
        if (json_object_object_get_ex(o, key, &old)) {
                uint64_t have = (uint64_t)json_object_get_int64(old);
                v = v > UINT64_MAX - have ? UINT64_MAX : v + have;
        }
        json_object_object_add(o, key, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

struct json_object *device_stat_object(struct json_object *o, const char *key) {
        struct json_object *sub;
        if (json_object_object_get_ex(o, key, &sub))
                return sub;
        sub = json_object_new_object();
        if (sub && json_object_object_add(o, key, sub) < 0) {
                json_object_put(sub);
                return NULL;
        }
        return sub;
}

struct json_object *device_stat_append(struct json_object *o, const char *key) {
        struct json_object *arr;
        if (!json_object_object_get_ex(o, key, &arr)) {
                arr = json_object_new_array();
                if (!arr || json_object_object_add(o, key, arr) < 0) {
                        json_object_put(arr);
                        return NULL;
                }
        }
        struct json_object *sub = json_object_new_object();
        if (sub && json_object_array_add(arr, sub) < 0) {
                json_object_put(sub);
                return NULL;
        }
        return sub;
}

void device_stat_bool(struct json_object *o, const char *key, bool v) {
        json_object_object_add(o, key, json_object_new_boolean(v));
}
