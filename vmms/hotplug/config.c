// SPDX-License-Identifier: MIT
/* A VM's configuration with a disk or NIC more or less
 * (vmms/include/vmms/hotplug.h). Pure: no files, no bus. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "vmms/hotplug.h"
#include "vmms/validate.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* One entry as a caller sends it: a JSON object and nothing after it,
 * no key twice (json-c would keep the last one silently). */
static int entry_parse(const char *text, size_t len, const char *what, json_object **out, char *err, size_t errlen) {
        char why[320];
        *out = NULL;
        if (len > VM_CONFIG_MAX_BYTES)
                return errorf(err, errlen, -EINVAL, "%s: larger than %u bytes", what, VM_CONFIG_MAX_BYTES);
        if (memchr(text, 0, len))
                return errorf(err, errlen, -EINVAL, "%s: contains a NUL byte", what);
        if (vm_config_check_duplicate_keys(text, len, why, sizeof why) < 0)
                return errorf(err, errlen, -EINVAL, "%s: %s", what, why);
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(32);
        if (!tok)
                return -ENOMEM;
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse_ex(tok, text, (int)len);
        bool complete = o && json_tokener_get_error(tok) == json_tokener_success;
        for (size_t i = complete ? (size_t)tok->char_offset : len; i < len; i++)
                complete &= text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n';
        if (!complete || !json_object_is_type(o, json_type_object))
                return errorf(err, errlen, -EINVAL, "%s: must be one JSON object ({...}), an entry of the "
                              "configuration's \"%ss\"", what, what);
        *out = TAKE_PTR(o);
        return 0;
}

/* cur's document with entry appended to its array `key` (alone: instead
 * of the array's entries), parsed as Update parses a configuration. */
static int parse_with(const struct vm_config *cur, const char *key, json_object *entry, bool alone,
                      struct vm_config *out, char *err, size_t errlen) {
        _cleanup_free_ char *text = vm_config_to_json(cur);
        _cleanup_(json_object_putp) json_object *root = text ? json_tokener_parse(text) : NULL;
        json_object *a = alone ? json_object_new_array() : NULL;
        if (!root || (alone && !a))
                return json_object_put(a), -ENOMEM;
        if (alone)
                json_object_object_add(root, key, a);
        else if (!json_object_object_get_ex(root, key, &a) || !json_object_is_type(a, json_type_array))
                return -EINVAL; /* vm_config_to_json() always writes both arrays */
        if (json_object_array_add(a, json_object_get(entry)) < 0) {
                json_object_put(entry);
                return -ENOMEM;
        }
        size_t len = 0;
        const char *doc = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                            &len);
        if (!doc)
                return -ENOMEM;
        return vmms_config_parse_for(doc, len, &cur->id, true, out, err, errlen);
}

/* The entry on its own (the VM's other settings, no other entry of its
 * kind): NULL when it is not valid by itself, else the parsed copy. */
static struct vm_config *parse_alone(const struct vm_config *cur, const char *key, json_object *entry) {
        struct vm_config *a = malloc(sizeof *a);
        if (a && parse_with(cur, key, entry, true, a, NULL, 0) < 0)
                free(TAKE_PTR(a));
        return a;
}

/* Without "lun": the first one the entry's bus and controller have free. */
static int fill_lun(const struct vm_config *cur, json_object *o, char *err, size_t errlen) {
        json_object *v;
        bool ide = json_object_object_get_ex(o, "bus", &v) && json_object_is_type(v, json_type_string) &&
                   !strcmp(json_object_get_string(v), "ide");
        int64_t ctrl = 0;
        if (json_object_object_get_ex(o, "controller", &v))
                ctrl = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (ctrl < 0 || ctrl >= VM_SCSI_CONTROLLERS_MAX)
                return 0; /* vm_config_parse() names the field */
        uint32_t luns = ide ? 4 : VM_SCSI_LUNS_MAX;
        for (uint32_t lun = 0; lun < luns; lun++) {
                bool used = false;
                for (uint32_t j = 0; j < cur->n_disks && !used; j++)
                        used = (cur->disks[j].bus == VM_DISK_IDE) == ide && cur->disks[j].controller == ctrl &&
                               cur->disks[j].lun == lun;
                if (!used) {
                        json_object_object_add(o, "lun", json_object_new_int64(lun));
                        return 0;
                }
        }
        return errorf(err, errlen, -ENOSPC, "disks[%u].lun: %s controller %lld has no LUN free", cur->n_disks,
                      ide ? "the IDE" : "SCSI", (long long)ctrl);
}

/* A refused combined parse whose entry is valid alone clashes with
 * another disk: -EEXIST (the parse's message names both). */
static int disk_clash(const struct vm_config *cur, json_object *entry, int r) {
        _cleanup_free_ struct vm_config *a = parse_alone(cur, "disks", entry);
        if (!a)
                return r;
        const struct vm_disk_config *d = &a->disks[0];
        for (uint32_t j = 0; j < cur->n_disks; j++) {
                const struct vm_disk_config *o = &cur->disks[j];
                if (!strcmp(o->path, d->path) || (o->bus == d->bus && o->controller == d->controller && o->lun == d->lun))
                        return -EEXIST;
        }
        return r;
}

int vmms_config_add_disk(const struct vm_config *cur, const char *entry, size_t len, struct vm_config *out,
                         char *err, size_t errlen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = entry_parse(entry, len, "disk", &o, err, errlen);
        if (r < 0)
                return r;
        if (cur->n_disks >= VM_DISKS_MAX)
                return errorf(err, errlen, -ENOSPC, "disks: the VM has %u disks, the most it may have",
                              cur->n_disks);
        if (!json_object_object_get_ex(o, "lun", NULL) && (r = fill_lun(cur, o, err, errlen)) < 0)
                return r;
        r = parse_with(cur, "disks", o, false, out, err, errlen);
        return r == -EINVAL ? disk_clash(cur, o, r) : r;
}

/* Without "instance": the derived GUID of the first index from the new
 * one on whose GUID no NIC has (vm_config_parse derives "nic<index>"). */
static void fill_instance(const struct vm_config *cur, json_object *o) {
        for (uint32_t k = cur->n_nics; k <= cur->n_nics + VM_NICS_MAX; k++) {
                char name[32], s[GUID_STRING_MAX];
                struct guid g;
                bool used = false;
                snprintf(name, sizeof name, "nic%u", k);
                guid_derive(&cur->id, name, &g);
                for (uint32_t j = 0; j < cur->n_nics && !used; j++)
                        used = guid_equal(&cur->nics[j].instance, &g);
                if (!used) {
                        json_object_object_add(o, "instance", json_object_new_string(guid_to_string(&g, s)));
                        return;
                }
        }
}

/* As disk_clash: the MAC or the TAP of another NIC (-EEXIST), else the
 * queues of all NICs together (-ENOSPC). */
static int nic_clash(const struct vm_config *cur, json_object *entry, int r) {
        _cleanup_free_ struct vm_config *a = parse_alone(cur, "nics", entry);
        if (!a)
                return r;
        const struct vm_nic_config *n = &a->nics[0];
        uint32_t queues = n->queues;
        for (uint32_t j = 0; j < cur->n_nics; j++) {
                const struct vm_nic_config *o = &cur->nics[j];
                if (!memcmp(o->mac, n->mac, sizeof n->mac) || (n->tap[0] && !strcmp(o->tap, n->tap)))
                        return -EEXIST;
                queues += o->queues;
        }
        return queues > VM_NIC_QUEUES_MAX ? -ENOSPC : r;
}

int vmms_config_add_nic(const struct vm_config *cur, const char *entry, size_t len, struct vm_config *out,
                        char *err, size_t errlen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = entry_parse(entry, len, "nic", &o, err, errlen);
        if (r < 0)
                return r;
        uint32_t i = cur->n_nics;
        if (i >= VM_NICS_MAX)
                return errorf(err, errlen, -ENOSPC, "nics: the VM has %u NICs, the most it may have", i);
        if (!json_object_object_get_ex(o, "instance", NULL))
                fill_instance(cur, o);
        if ((r = parse_with(cur, "nics", o, false, out, err, errlen)) < 0)
                return r == -EINVAL ? nic_clash(cur, o, r) : r;
        char s[GUID_STRING_MAX];
        for (uint32_t j = 0; j < i; j++)
                if (guid_equal(&out->nics[j].instance, &out->nics[i].instance))
                        return errorf(err, errlen, -EEXIST, "nics[%u].instance: %s is nics[%u]'s already", i,
                                      guid_to_string(&out->nics[i].instance, s), j);
        return 0;
}

int vmms_config_remove_disk(const struct vm_config *cur, uint32_t index, struct vm_config *out, char *err,
                            size_t errlen) {
        if (index >= cur->n_disks)
                return errorf(err, errlen, -ENOENT, "disks[%u]: no such disk (the VM has %u)", index, cur->n_disks);
        if (out != cur)
                *out = *cur;
        memmove(&out->disks[index], &out->disks[index + 1], (out->n_disks - index - 1) * sizeof out->disks[0]);
        out->n_disks--;
        memset(&out->disks[out->n_disks], 0, sizeof out->disks[0]);
        return 0;
}

int vmms_config_remove_nic(const struct vm_config *cur, uint32_t index, struct vm_config *out, char *err,
                           size_t errlen) {
        if (index >= cur->n_nics)
                return errorf(err, errlen, -ENOENT, "nics[%u]: no such NIC (the VM has %u)", index, cur->n_nics);
        if (out != cur)
                *out = *cur;
        memmove(&out->nics[index], &out->nics[index + 1], (out->n_nics - index - 1) * sizeof out->nics[0]);
        out->n_nics--;
        memset(&out->nics[out->n_nics], 0, sizeof out->nics[0]);
        return 0;
}

static json_object *entry_json(const struct vm_config *c, const char *key, uint32_t index) {
        _cleanup_free_ char *text = vm_config_to_json(c);
        _cleanup_(json_object_putp) json_object *root = text ? json_tokener_parse(text) : NULL;
        json_object *a, *e;
        if (!root || !json_object_object_get_ex(root, key, &a) || !(e = json_object_array_get_idx(a, index)))
                return NULL;
        return json_object_get(e); /* outlives root */
}

json_object *vmms_config_disk_json(const struct vm_config *c, uint32_t index) {
        return index < c->n_disks ? entry_json(c, "disks", index) : NULL;
}

json_object *vmms_config_nic_json(const struct vm_config *c, uint32_t index) {
        return index < c->n_nics ? entry_json(c, "nics", index) : NULL;
}

int vmms_disk_resize_check(const struct vm_config *c, uint32_t index, uint64_t bytes, bool running, char *err,
                           size_t errlen) {
        if (index >= c->n_disks)
                return errorf(err, errlen, -ENOENT, "disks[%u]: no such disk (the VM has %u)", index, c->n_disks);
        const struct vm_disk_config *d = &c->disks[index];
        if (running && d->bus == VM_DISK_IDE)
                return errorf(err, errlen, -EOPNOTSUPP,
                              "disks[%u] is an IDE disk: emulated ATA cannot change while the VM runs; resize it "
                              "while the VM is off", index);
        if (running && d->read_only)
                return errorf(err, errlen, -EOPNOTSUPP,
                              "disks[%u] is read-only (other VMs may read its image too): resize it while the VM "
                              "is off", index);
        if (!bytes || bytes % d->sector_size || bytes > (1ull << 62))
                return errorf(err, errlen, -EINVAL, "size: %llu bytes are not a size of whole %u-byte sectors "
                              "(at most 2^62)", (unsigned long long)bytes, d->sector_size);
        return 0;
}

uint64_t vmms_hot_plug_file_size(const uint64_t *sizes, size_t n) {
        uint64_t m = VMMS_HOT_PLUG_FILE_SIZE;
        for (size_t i = 0; i < n; i++)
                m = MAX(m, sizes[i]);
        return MIN(m, 1ull << 62); /* the worker's limit (docs/vmwp.md) */
}
