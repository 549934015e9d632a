// SPDX-License-Identifier: MIT
/* Dynamic Memory's pure half in vmms (vmms/memory.h): the worker's status
 * checked into plain fields, and the balancer. Fuzzed by
 * tests/fuzz/fuzz-vmms-memory.c. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/memory.h"

static int get_bytes(struct json_object *o, const char *key, uint64_t *out) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return 0; /* an older worker: 0 */
        int64_t b = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (b < 0 || (uint64_t)b > VMMS_DM_BYTES_MAX || b % 4096)
                return -EINVAL;
        *out = (uint64_t)b;
        return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *out) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *out = json_object_get_boolean(v);
        return 0;
}

static int get_string(struct json_object *o, const char *key, char *out, size_t size) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) >= size ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return -EINVAL;
        memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
        return 0;
}

int vmms_dm_status_parse(struct json_object *o, struct vmms_dm_status *out) {
        static const char *const ops[] = { "none", "balloon", "unballoon", "hot-add" };
        struct vmms_dm_status s = { .operation = "none" };
        struct json_object *v;
        if (!json_object_is_type(o, json_type_object))
                return -EINVAL;
        int r = 0;
        r = r ?: get_bool(o, "connected", &s.connected);
        r = r ?: get_bool(o, "reported", &s.reported);
        r = r ?: get_bool(o, "can_balloon", &s.can_balloon);
        r = r ?: get_bool(o, "can_hot_add", &s.can_hot_add);
        r = r ?: get_bytes(o, "startup_bytes", &s.startup);
        r = r ?: get_bytes(o, "maximum_bytes", &s.maximum);
        r = r ?: get_bytes(o, "assigned_bytes", &s.assigned);
        r = r ?: get_bytes(o, "target_bytes", &s.target);
        r = r ?: get_bytes(o, "ballooned_bytes", &s.ballooned);
        r = r ?: get_bytes(o, "hot_added_bytes", &s.hot_added);
        r = r ?: get_bytes(o, "demand_bytes", &s.demand);
        r = r ?: get_bytes(o, "available_bytes", &s.available);
        r = r ?: get_string(o, "operation", s.operation, sizeof s.operation);
        r = r ?: get_string(o, "note", s.note, sizeof s.note);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(o, "report_age_ms", &v)) {
                int64_t age = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
                if (age < 0)
                        return -EINVAL;
                s.report_age_ms = (uint64_t)age;
        }
        size_t i = 0;
        while (i < ARRAY_SIZE(ops) && strcmp(ops[i], s.operation))
                i++;
        if (i == ARRAY_SIZE(ops) || s.assigned > s.maximum || s.startup > s.maximum || s.target > s.maximum)
                return -EINVAL;
        *out = s;
        return 0;
}

/* ---- the balancer ---- */

static uint64_t clamp(uint64_t v, const struct vmms_dm_vm *m) {
        return MIN(MAX(v, m->minimum), MAX(m->maximum, m->minimum));
}

static uint64_t step_up(uint64_t v) {
        return v > VMMS_DM_BYTES_MAX ? VMMS_DM_BYTES_MAX : ALIGN_UP(v, VMMS_DM_STEP);
}

/* What a VM wants, and the least it keeps when the host is short. */
static void want_of(const struct vmms_dm_vm *m, uint64_t *want, uint64_t *floor) {
        if (m->manual) {
                *want = *floor = clamp(m->manual, m);
        } else if (m->reported) {
                uint64_t d = MIN(m->demand, VMMS_DM_BYTES_MAX); /* d * 2000 fits */
                *want = clamp(step_up(d + d * m->buffer_percent / 100u), m);
                *floor = clamp(step_up(d), m);
        } else {
                *want = *floor = clamp(m->assigned, m);
        }
}

struct order {
        size_t i;
        uint32_t weight;
        uint64_t want, floor;
};

static int heavier_first(const void *a, const void *b) {
        const struct order *x = a, *y = b;
        return x->weight != y->weight ? (x->weight < y->weight ? 1 : -1) : (x->i > y->i) - (x->i < y->i);
}

void vmms_dm_balance(const struct vmms_dm_vm *vms, size_t n, int64_t host_free, uint64_t *targets) {
        struct order *ord = n ? calloc(n, sizeof *ord) : NULL;
        if (!ord) { /* out of memory (or nothing to do): everyone keeps what it has */
                for (size_t i = 0; i < n; i++)
                        targets[i] = clamp(vms[i].assigned, &vms[i]);
                return;
        }
        /* Signed arithmetic on sizes of at most 2^50 each. */
        int64_t pool = MAX(MIN(host_free, (int64_t)VMMS_DM_BYTES_MAX), -(int64_t)VMMS_DM_BYTES_MAX);
        for (size_t i = 0; i < n; i++) {
                struct order *o = &ord[i];
                uint64_t assigned = MIN(vms[i].assigned, VMMS_DM_BYTES_MAX);
                *o = (struct order){ .i = i, .weight = vms[i].weight };
                want_of(&vms[i], &o->want, &o->floor);
                if (assigned > o->want)
                        pool += (int64_t)(assigned - o->want); /* given up */
                targets[i] = MIN(assigned, o->want);           /* growth below, as the pool allows */
        }
        qsort(ord, n, sizeof *ord, heavier_first);
        for (size_t k = 0; k < n && pool > 0; k++) {
                size_t i = ord[k].i;
                uint64_t grant = MIN(ord[k].want - MIN(targets[i], ord[k].want), (uint64_t)pool);
                targets[i] += grant;
                pool -= (int64_t)grant;
        }
        /* Short: the lightest give up their buffers first. */
        for (size_t k = n; pool < 0 && k-- > 0;) {
                size_t i = ord[k].i;
                uint64_t take = MIN(targets[i] - MIN(targets[i], ord[k].floor), (uint64_t)-pool);
                targets[i] -= take;
                pool += (int64_t)take;
        }
        for (size_t i = 0; i < n; i++)
                targets[i] = clamp(ALIGN_DOWN(targets[i], VMMS_DM_STEP), &vms[i]);
        free(ord);
}
