// SPDX-License-Identifier: MIT
/* The checkpoint tree as data: index.json parsed and written (see
 * vmms/include/vmms/checkpoints.h). Pure: no files, no bus.
 *
 * {"checkpoints": [{"id", "name", "parent" (id or null), "created_us",
 *   "type": "standard"|"production" (default standard), "state" (bool),
 *   "state_bytes", "config" (the VM's configuration),
 *   "disks": [{"kind": "vhdx"|"raw-copy"|"unchanged", "image": path}]}],
 *  "current": id or null, "owned": [path, ...]} */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/checkpoints.h"

static const char *const disk_kinds[] = {
        [VMMS_CKPT_DISK_VHDX] = "vhdx",
        [VMMS_CKPT_DISK_RAW_COPY] = "raw-copy",
        [VMMS_CKPT_DISK_UNCHANGED] = "unchanged",
};

void vmms_checkpoint_free(struct vmms_checkpoint *c) {
        if (!c)
                return;
        free(c->config);
        free(c->disks);
        free(c);
}

void vmms_checkpoints_clear(struct vmms_checkpoints *t) {
        for (uint32_t i = 0; i < t->n; i++)
                vmms_checkpoint_free(t->c[i]);
        free(t->owned);
        memset(t, 0, sizeof *t);
}

bool vmms_boot_status_word(const char *s) {
        return !strcmp(s, "firmware") || !strcmp(s, "booted") || !strcmp(s, "no-bootable-device");
}

bool vmms_checkpoint_name_ok(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n >= VMMS_CHECKPOINT_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f || name[i] == '/')
                        return false;
        return true;
}

static int perr(char *err, size_t errlen, unsigned i, const char *what) {
        snprintf(err, errlen, "checkpoints[%u]: %s", i, what);
        return -EINVAL;
}

static int get_str(json_object *o, const char *key, char *buf, size_t size) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EINVAL;
        const char *s = json_object_get_string(v);
        if (strlen(s) >= size)
                return -EINVAL;
        snprintf(buf, size, "%s", s);
        return 0;
}

static int get_guid_opt(json_object *o, const char *key, struct guid *g) {
        json_object *v;
        memset(g, 0, sizeof *g);
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EINVAL;
        return guid_from_string(json_object_get_string(v), g);
}

static bool absolute_path(const char *p) {
        return p[0] == '/';
}

static int parse_disks(json_object *o, struct vmms_checkpoint *c) {
        json_object *a;
        if (!json_object_object_get_ex(o, "disks", &a) || !json_object_is_type(a, json_type_array) ||
            json_object_array_length(a) > VM_DISKS_MAX)
                return -EINVAL;
        c->n_disks = (uint32_t)json_object_array_length(a);
        c->disks = calloc(c->n_disks ? c->n_disks : 1, sizeof *c->disks);
        if (!c->disks)
                return -ENOMEM;
        for (uint32_t i = 0; i < c->n_disks; i++) {
                json_object *d = json_object_array_get_idx(a, i);
                char kind[16];
                if (!json_object_is_type(d, json_type_object) || get_str(d, "kind", kind, sizeof kind) < 0 ||
                    get_str(d, "image", c->disks[i].image, sizeof c->disks[i].image) < 0 ||
                    !absolute_path(c->disks[i].image))
                        return -EINVAL;
                unsigned k = 0;
                while (k < ARRAY_SIZE(disk_kinds) && strcmp(kind, disk_kinds[k]))
                        k++;
                if (k == ARRAY_SIZE(disk_kinds))
                        return -EINVAL;
                c->disks[i].kind = (enum vmms_ckpt_disk_kind)k;
        }
        return 0;
}

static int parse_one(json_object *o, struct vmms_checkpoint *c) {
        char id[GUID_STRING_MAX];
        json_object *v;
        if (!json_object_is_type(o, json_type_object) || get_str(o, "id", id, sizeof id) < 0 ||
            guid_from_string(id, &c->id) < 0 || guid_is_null(&c->id) || get_str(o, "name", c->name, sizeof c->name) < 0 ||
            !vmms_checkpoint_name_ok(c->name) || get_guid_opt(o, "parent", &c->parent) < 0)
                return -EINVAL;
        if (!json_object_object_get_ex(o, "created_us", &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                return -EINVAL;
        c->created_us = (uint64_t)json_object_get_int64(v);
        if (!json_object_object_get_ex(o, "state", &v) || !json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        c->has_state = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "type", &v)) {
                const char *t = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
                if (strcmp(t, "standard") && strcmp(t, "production"))
                        return -EINVAL;
                c->production = t[0] == 'p';
                if (c->production && c->has_state)
                        return -EINVAL; /* a production checkpoint has no memory state */
        }
        if (json_object_object_get_ex(o, "state_bytes", &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int64(v) >= 0)
                c->state_bytes = (uint64_t)json_object_get_int64(v);
        if (json_object_object_get_ex(o, "boot_status", &v) &&
            (!c->has_state || get_str(o, "boot_status", c->boot_status, sizeof c->boot_status) < 0 ||
             !vmms_boot_status_word(c->boot_status)))
                return -EINVAL; /* only with a state, and only the protocol's words */
        /* The configuration is kept as text: reverting parses it as any
         * configuration is parsed (vm_config_parse). */
        if (!json_object_object_get_ex(o, "config", &v) || !json_object_is_type(v, json_type_object))
                return -EINVAL;
        const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || !(c->config = strdup(text)))
                return -ENOMEM;
        return parse_disks(o, c);
}

static int parse_owned(json_object *root, struct vmms_checkpoints *t, char *err, size_t errlen) {
        json_object *a;
        if (!json_object_object_get_ex(root, "owned", &a))
                return 0;
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > VMMS_CHECKPOINT_OWNED_MAX)
                return snprintf(err, errlen, "owned: not a list of at most %u paths", VMMS_CHECKPOINT_OWNED_MAX),
                       -EINVAL;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *p = json_object_array_get_idx(a, i);
                const char *s = json_object_is_type(p, json_type_string) ? json_object_get_string(p) : "";
                if (!absolute_path(s) || strlen(s) >= VM_PATH_MAX)
                        return snprintf(err, errlen, "owned[%zu]: not an absolute path", i), -EINVAL;
                int r = vmms_checkpoints_own(t, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every parent must exist, names and ids be unique, and the tree have no
 * loop (each walk up ends within n steps). */
static int check_tree(const struct vmms_checkpoints *t, char *err, size_t errlen) {
        for (uint32_t i = 0; i < t->n; i++) {
                for (uint32_t j = 0; j < i; j++)
                        if (guid_equal(&t->c[i]->id, &t->c[j]->id) || !strcmp(t->c[i]->name, t->c[j]->name))
                                return perr(err, errlen, i, "the same id or name as an earlier checkpoint");
                const struct vmms_checkpoint *c = t->c[i];
                for (uint32_t steps = 0; !guid_is_null(&c->parent); steps++) {
                        c = vmms_checkpoints_find_id(t, &c->parent);
                        if (!c)
                                return perr(err, errlen, i, "its parent is not in the list");
                        if (steps > t->n)
                                return perr(err, errlen, i, "the parents form a loop");
                }
        }
        if (!guid_is_null(&t->current) && !vmms_checkpoints_find_id(t, &t->current)) {
                snprintf(err, errlen, "current: no such checkpoint");
                return -EINVAL;
        }
        return 0;
}

int vmms_checkpoints_parse(const char *text, size_t len, struct vmms_checkpoints *t, char *err, size_t errlen) {
        memset(t, 0, sizeof *t);
        if (len > VMMS_CHECKPOINTS_FILE_MAX)
                return snprintf(err, errlen, "larger than %u bytes", VMMS_CHECKPOINTS_FILE_MAX), -EINVAL;
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *root = json_tokener_parse_ex(tok, text, (int)len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success && tok->char_offset == (int)len;
        json_tokener_free(tok);
        json_object *a;
        int r = 0;
        if (!root || !complete || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "checkpoints", &a) || !json_object_is_type(a, json_type_array)) {
                snprintf(err, errlen, "not a checkpoint index (a JSON object with a \"checkpoints\" array)");
                r = -EINVAL;
        } else if (json_object_array_length(a) > VMMS_CHECKPOINTS_MAX) {
                snprintf(err, errlen, "more than %u checkpoints", VMMS_CHECKPOINTS_MAX);
                r = -EINVAL;
        }
        for (size_t i = 0; r == 0 && i < json_object_array_length(a); i++) {
                struct vmms_checkpoint *c = calloc(1, sizeof *c);
                if (!c) {
                        r = -ENOMEM;
                        break;
                }
                t->c[t->n++] = c;
                if ((r = parse_one(json_object_array_get_idx(a, i), c)) < 0 && r != -ENOMEM)
                        r = perr(err, errlen, (unsigned)i, "a field is missing or not valid");
        }
        if (r == 0 && get_guid_opt(root, "current", &t->current) < 0)
                r = (snprintf(err, errlen, "current: not a GUID"), -EINVAL);
        if (r == 0)
                r = parse_owned(root, t, err, errlen);
        if (r == 0)
                r = check_tree(t, err, errlen);
        json_object_put(root);
        if (r < 0)
                vmms_checkpoints_clear(t);
        return r;
}

static json_object *guid_json(const struct guid *g) {
        char s[GUID_STRING_MAX];
        return guid_is_null(g) ? NULL : json_object_new_string(guid_to_string(g, s));
}

char *vmms_checkpoints_to_json(const struct vmms_checkpoints *t) {
        json_object *root = json_object_new_object(), *a = json_object_new_array();
        for (uint32_t i = 0; i < t->n; i++) {
                const struct vmms_checkpoint *c = t->c[i];
                json_object *o = json_object_new_object(), *disks = json_object_new_array();
                json_object_object_add(o, "id", guid_json(&c->id));
                json_object_object_add(o, "name", json_object_new_string(c->name));
                json_object_object_add(o, "parent", guid_json(&c->parent));
                json_object_object_add(o, "created_us", json_object_new_int64((int64_t)c->created_us));
                json_object_object_add(o, "type", json_object_new_string(c->production ? "production" : "standard"));
                json_object_object_add(o, "state", json_object_new_boolean(c->has_state));
                json_object_object_add(o, "state_bytes", json_object_new_int64((int64_t)c->state_bytes));
                if (c->has_state && c->boot_status[0]) /* absent otherwise: the file as before */
                        json_object_object_add(o, "boot_status", json_object_new_string(c->boot_status));
                json_object_object_add(o, "config", c->config ? json_tokener_parse(c->config) : NULL);
                for (uint32_t k = 0; k < c->n_disks; k++) {
                        json_object *d = json_object_new_object();
                        json_object_object_add(d, "kind", json_object_new_string(disk_kinds[c->disks[k].kind]));
                        json_object_object_add(d, "image", json_object_new_string(c->disks[k].image));
                        json_object_array_add(disks, d);
                }
                json_object_object_add(o, "disks", disks);
                json_object_array_add(a, o);
        }
        json_object_object_add(root, "checkpoints", a);
        json_object_object_add(root, "current", guid_json(&t->current));
        json_object *owned = json_object_new_array();
        for (uint32_t i = 0; i < t->n_owned; i++)
                json_object_array_add(owned, json_object_new_string(t->owned[i]));
        json_object_object_add(root, "owned", owned);
        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *out = s ? strdup(s) : NULL;
        json_object_put(root);
        return out;
}

struct vmms_checkpoint *vmms_checkpoints_find_id(const struct vmms_checkpoints *t, const struct guid *id) {
        for (uint32_t i = 0; i < t->n; i++)
                if (guid_equal(&t->c[i]->id, id))
                        return t->c[i];
        return NULL;
}

struct vmms_checkpoint *vmms_checkpoints_find(const struct vmms_checkpoints *t, const char *name_or_id) {
        for (uint32_t i = 0; i < t->n; i++)
                if (!strcmp(t->c[i]->name, name_or_id))
                        return t->c[i];
        struct guid g;
        return guid_from_string(name_or_id, &g) == 0 ? vmms_checkpoints_find_id(t, &g) : NULL;
}

int vmms_checkpoints_add(struct vmms_checkpoints *t, struct vmms_checkpoint *c) {
        if (t->n >= VMMS_CHECKPOINTS_MAX)
                return -E2BIG;
        for (uint32_t i = 0; i < t->n; i++)
                if (!strcmp(t->c[i]->name, c->name))
                        return -EEXIST;
        t->c[t->n++] = c;
        return 0;
}

void vmms_checkpoints_remove(struct vmms_checkpoints *t, struct vmms_checkpoint *c) {
        for (uint32_t i = 0; i < t->n; i++)
                if (guid_equal(&t->c[i]->parent, &c->id))
                        t->c[i]->parent = c->parent;
        if (guid_equal(&t->current, &c->id))
                t->current = c->parent;
        for (uint32_t i = 0; i < t->n; i++)
                if (t->c[i] == c) {
                        memmove(&t->c[i], &t->c[i + 1], (t->n - i - 1) * sizeof t->c[0]);
                        t->n--;
                        break;
                }
        vmms_checkpoint_free(c);
}

bool vmms_checkpoints_holds(const struct vmms_checkpoints *t, const char *path) {
        for (uint32_t i = 0; i < t->n; i++)
                for (uint32_t k = 0; k < t->c[i]->n_disks; k++)
                        if (!strcmp(t->c[i]->disks[k].image, path))
                                return true;
        return false;
}

bool vmms_checkpoints_owns(const struct vmms_checkpoints *t, const char *path) {
        for (uint32_t i = 0; i < t->n_owned; i++)
                if (!strcmp(t->owned[i], path))
                        return true;
        return false;
}

int vmms_checkpoints_own(struct vmms_checkpoints *t, const char *path) {
        if (vmms_checkpoints_owns(t, path))
                return 0;
        if (t->n_owned >= VMMS_CHECKPOINT_OWNED_MAX || strlen(path) >= VM_PATH_MAX)
                return -E2BIG;
        if (!t->owned && !(t->owned = calloc(VMMS_CHECKPOINT_OWNED_MAX, sizeof *t->owned)))
                return -ENOMEM;
        snprintf(t->owned[t->n_owned++], VM_PATH_MAX, "%s", path);
        return 0;
}

void vmms_checkpoints_disown(struct vmms_checkpoints *t, const char *path) {
        for (uint32_t i = 0; i < t->n_owned; i++)
                if (!strcmp(t->owned[i], path)) {
                        memmove(t->owned[i], t->owned[i + 1], (size_t)(t->n_owned - i - 1) * sizeof *t->owned);
                        t->n_owned--;
                        return;
                }
}
