// SPDX-License-Identifier: MIT
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/runtime.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

static int rerr(char *err, size_t errlen, const char *field, const char *what) {
        snprintf(err, errlen, "%s: %s", field, what);
        return -EINVAL;
}

static int rec_u64(json_object *root, const char *key, bool required, uint64_t max, uint64_t *out,
                   char *err, size_t errlen) {
        json_object *v;
        if (!json_object_object_get_ex(root, key, &v))
                return required ? rerr(err, errlen, key, "is required") : 0;
        if (!json_object_is_type(v, json_type_int))
                return rerr(err, errlen, key, "must be an integer");
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno != 0 || x < 0 || (uint64_t)x > max)
                return rerr(err, errlen, key, "is out of range");
        *out = (uint64_t)x;
        return 0;
}

static int rec_str(json_object *root, const char *key, bool required, char *buf, size_t size, char *err,
                   size_t errlen) {
        json_object *v;
        if (!json_object_object_get_ex(root, key, &v))
                return required ? rerr(err, errlen, key, "is required") : 0;
        if (!json_object_is_type(v, json_type_string))
                return rerr(err, errlen, key, "must be a string");
        size_t n = (size_t)json_object_get_string_len(v);
        const char *s = json_object_get_string(v);
        if (n >= size || memchr(s, 0, n))
                return rerr(err, errlen, key, "is too long or contains NUL");
        memcpy(buf, s, n + 1);
        return 0;
}

static int rec_fields(json_object *root, struct vmms_runtime_record *r, char *err, size_t errlen) {
        static const char *const keys[] = { "version", "id", "pid", "starttime", "boot_id", "control",
                                            "console", "started_at_us", "running_since_us", "reattach",
                                            "migration_unresolved", "memory_target", "boot_status", NULL };
        char id[GUID_STRING_MAX] = "";
        uint64_t version = 0, pid = 0;
        int r1;
        json_object_object_foreach(root, key, val) {
                (void)val;
                bool known = false;
                for (const char *const *k = keys; *k; k++)
                        known |= strcmp(*k, key) == 0;
                if (!known)
                        return rerr(err, errlen, key, "unknown field");
        }
        if ((r1 = rec_u64(root, "version", true, UINT32_MAX, &version, err, errlen)) < 0 ||
            (r1 = rec_str(root, "id", true, id, sizeof id, err, errlen)) < 0 ||
            (r1 = rec_u64(root, "pid", true, 4194304, &pid, err, errlen)) < 0 ||
            (r1 = rec_u64(root, "starttime", true, UINT64_MAX >> 1, &r->starttime, err, errlen)) < 0 ||
            (r1 = rec_str(root, "boot_id", true, r->boot_id, sizeof r->boot_id, err, errlen)) < 0 ||
            (r1 = rec_str(root, "control", true, r->control, sizeof r->control, err, errlen)) < 0 ||
            (r1 = rec_str(root, "console", false, r->console, sizeof r->console, err, errlen)) < 0 ||
            (r1 = rec_u64(root, "started_at_us", true, UINT64_MAX >> 1, &r->started_at_us, err, errlen)) < 0 ||
            (r1 = rec_u64(root, "running_since_us", false, UINT64_MAX >> 1, &r->running_since_us, err,
                          errlen)) < 0 ||
            (r1 = rec_str(root, "migration_unresolved", false, r->migration_unresolved,
                          sizeof r->migration_unresolved, err, errlen)) < 0 ||
            (r1 = rec_u64(root, "memory_target", false, 1ull << 50, &r->memory_target, err, errlen)) < 0 ||
            (r1 = rec_str(root, "boot_status", false, r->boot_status, sizeof r->boot_status, err, errlen)) < 0)
                return r1;
        if (r->boot_status[0] && strcmp(r->boot_status, "firmware") && strcmp(r->boot_status, "booted") &&
            strcmp(r->boot_status, "no-bootable-device"))
                return rerr(err, errlen, "boot_status", "must be firmware, booted or no-bootable-device");
        for (const char *c = r->migration_unresolved; *c; c++)
                if (*c < 0x21 || *c > 0x7e)
                        return rerr(err, errlen, "migration_unresolved", "must be HOST:PORT");
        if (version != 1)
                return rerr(err, errlen, "version", "must be 1");
        if (pid < 2)
                return rerr(err, errlen, "pid", "must be a process id above 1");
        r->pid = (pid_t)pid;
        if (guid_from_string(id, &r->id) < 0)
                return rerr(err, errlen, "id", "is not a GUID");
        if (r->control[0] != '/')
                return rerr(err, errlen, "control", "must be an absolute path");
        if (r->console[0] && r->console[0] != '/')
                return rerr(err, errlen, "console", "must be an absolute path");
        json_object *v;
        if (json_object_object_get_ex(root, "reattach", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return rerr(err, errlen, "reattach", "must be true or false");
                r->reattach = json_object_get_boolean(v);
        }
        return 0;
}

int vmms_runtime_record_parse(const char *json, size_t len, struct vmms_runtime_record *out, char *err,
                              size_t errlen) {
        if (len > VMMS_RUNTIME_RECORD_MAX)
                return rerr(err, errlen, "record", "is too large");
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(8);
        if (!tok)
                return -ENOMEM;
        _cleanup_(json_object_putp) json_object *root = json_tokener_parse_ex(tok, json, (int)len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(root, json_type_object))
                return rerr(err, errlen, "record", "is not a JSON object");
        struct vmms_runtime_record r = { 0 };
        int k = rec_fields(root, &r, err, errlen);
        if (k < 0)
                return k;
        *out = r;
        return 0;
}

char *vmms_runtime_record_to_json(const struct vmms_runtime_record *r) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        char id[GUID_STRING_MAX];
        if (!o)
                return NULL;
        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "id", json_object_new_string(guid_to_string(&r->id, id)));
        json_object_object_add(o, "pid", json_object_new_int64(r->pid));
        json_object_object_add(o, "starttime", json_object_new_int64((int64_t)r->starttime));
        json_object_object_add(o, "boot_id", json_object_new_string(r->boot_id));
        json_object_object_add(o, "control", json_object_new_string(r->control));
        if (r->console[0])
                json_object_object_add(o, "console", json_object_new_string(r->console));
        json_object_object_add(o, "started_at_us", json_object_new_int64((int64_t)r->started_at_us));
        json_object_object_add(o, "running_since_us", json_object_new_int64((int64_t)r->running_since_us));
        json_object_object_add(o, "reattach", json_object_new_boolean(r->reattach));
        if (r->migration_unresolved[0])
                json_object_object_add(o, "migration_unresolved", json_object_new_string(r->migration_unresolved));
        if (r->memory_target)
                json_object_object_add(o, "memory_target", json_object_new_int64((int64_t)r->memory_target));
        if (r->boot_status[0])
                json_object_object_add(o, "boot_status", json_object_new_string(r->boot_status));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}

/* Parses one unsigned decimal field; returns the position after it or NULL. */
static const char *stat_u64(const char *p, const char *end, uint64_t *out) {
        uint64_t v = 0;
        const char *start = p;
        while (p < end && *p >= '0' && *p <= '9') {
                if (MUL_OVERFLOW(v, 10, &v) || ADD_OVERFLOW(v, (uint64_t)(*p - '0'), &v))
                        return NULL;
                p++;
        }
        *out = v;
        return p == start ? NULL : p;
}

int vmms_proc_stat_parse(const char *text, size_t len, struct vmms_proc_stat *out) {
        const char *rp = NULL;
        for (size_t i = 0; i < len; i++)
                if (text[i] == ')')
                        rp = text + i;
        if (!rp || (size_t)(rp - text) + 3 >= len || rp[1] != ' ')
                return -EINVAL;
        const char *p = rp + 2, *end = text + len;
        out->state = *p++;
        out->exit_code = -1;
        /* Fields 4..52; '-' appears in some (e.g. tty_nr is signed, pgrp of
         * kernel threads): skip any field that is not a plain number. */
        for (int field = 4; field <= 52; field++) {
                if (p >= end || *p != ' ')
                        return field > 22 ? 0 : -EINVAL;
                p++;
                uint64_t v;
                const char *q = stat_u64(p, end, &v);
                if (!q) {
                        while (p < end && *p != ' ' && *p != '\n')
                                p++;
                        if (field == 22)
                                return -EINVAL;
                        continue;
                }
                p = q;
                if (field == 22)
                        out->starttime = v;
                else if (field == 52 && v <= 0xffff)
                        out->exit_code = (int)v;
        }
        return 0;
}
