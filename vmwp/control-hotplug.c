// SPDX-License-Identifier: MIT
/* The hot-plug requests (docs/vmwp.md "Disks and NICs of a running VM",
 * common/proto.h): disk-attach, disk-detach, disk-resize, nic-attach,
 * nic-detach, checked against the VM's configuration and the fds they
 * came with. Pure (fuzzed by tests/fuzz/fuzz-vmwp-control.c): everything
 * a peer sends is checked here, the worker then only does it.
 *
 * A new disk or NIC entry is checked by vm_config_parse() itself, on the
 * configuration with the entry appended: the worker accepts exactly what
 * vmms's own parse of its edited configuration accepts (field ranges,
 * duplicates, the queue total) and derives a missing NIC instance GUID the
 * same way, from the new entry's index. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "disk/disk.h"
#include "vmwp/control.h"

/* The hot-plug ops' rows in the protocol's table (common/proto.h). */
static const struct {
        enum proto_op proto;
        enum vmwp_hotplug_op op;
} ops[] = {
        { PROTO_OP_DISK_ATTACH, VMWP_DISK_ATTACH }, { PROTO_OP_DISK_DETACH, VMWP_DISK_DETACH },
        { PROTO_OP_DISK_RESIZE, VMWP_DISK_RESIZE }, { PROTO_OP_NIC_ATTACH, VMWP_NIC_ATTACH },
        { PROTO_OP_NIC_DETACH, VMWP_NIC_DETACH },
};

enum vmwp_hotplug_op vmwp_control_hotplug_op(struct json_object *req) {
        struct json_object *op;
        if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "op", &op) ||
            !json_object_is_type(op, json_type_string))
                return VMWP_HOTPLUG_NONE;
        enum proto_op p = proto_op_lookup(json_object_get_string(op));
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (ops[i].proto == p)
                        return ops[i].op;
        return VMWP_HOTPLUG_NONE;
}

const char *vmwp_hotplug_op_name(enum vmwp_hotplug_op op) {
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (ops[i].op == op)
                        return proto_ops[ops[i].proto].name;
        return "?";
}

/* An optional integer field: def when absent, -1 when not an integer. */
static int64_t get_int(struct json_object *req, const char *key, int64_t def) {
        struct json_object *v;
        if (!json_object_object_get_ex(req, key, &v))
                return def;
        return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

/* cfg with entry appended to its array `key` (alone: instead of the
 * array's entries), through vm_config_parse(). The result is malloc()ed. */
static int parse_with(const struct vm_config *cfg, const char *key, struct json_object *entry, bool alone,
                      struct vm_config **out, char *err, size_t errlen) {
        char *text = vm_config_to_json(cfg);
        struct json_object *root = text ? json_tokener_parse(text) : NULL, *a = NULL;
        free(text);
        int r = root ? 0 : -ENOMEM;
        if (r == 0 && alone) {
                a = json_object_new_array();
                r = a ? json_object_object_add(root, key, a) : -ENOMEM;
        } else if (r == 0 && (!json_object_object_get_ex(root, key, &a) || !json_object_is_type(a, json_type_array))) {
                r = -EINVAL; /* vm_config_to_json always writes both arrays */
        }
        if (r == 0 && json_object_array_add(a, json_object_get(entry)) < 0) {
                json_object_put(entry);
                r = -ENOMEM;
        }
        size_t len = 0;
        const char *s = r == 0 ? json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &len) : NULL;
        *out = s ? malloc(sizeof **out) : NULL;
        if (r == 0 && !*out)
                r = -ENOMEM;
        if (r == 0 && (r = vm_config_parse(s, len, *out, err, errlen)) < 0)
                free(TAKE_PTR(*out));
        json_object_put(root);
        if (r < 0 && err && errlen && !err[0])
                snprintf(err, errlen, "%s", strerror(-r));
        return r;
}

/* Same bus, controller and LUN, or the same image: EEXIST with the other's
 * index (the configuration parse says the same with EINVAL). */
static int check_disk_unique(const struct vm_config *cfg, const struct vm_disk_config *d, char *err,
                             size_t errlen) {
        for (uint32_t j = 0; j < cfg->n_disks; j++) {
                const struct vm_disk_config *o = &cfg->disks[j];
                if (o->bus == d->bus && o->controller == d->controller && o->lun == d->lun)
                        return errorf(err, errlen, -EEXIST, "controller %u LUN %u is disks[%u]'s already",
                                      d->controller, d->lun, j);
                if (strcmp(o->path, d->path) == 0)
                        return errorf(err, errlen, -EEXIST, "%s is disks[%u] already", d->path, j);
        }
        return 0;
}

static int parse_disk_attach(const struct vm_config *cfg, struct json_object *req, size_t n_fds,
                             struct vmwp_hotplug *out, char *err, size_t errlen) {
        struct json_object *entry;
        if (!json_object_object_get_ex(req, "disk", &entry) || !json_object_is_type(entry, json_type_object))
                return errorf(err, errlen, -EINVAL, "\"disk\" must be a disk entry of the configuration");
        if (cfg->n_disks >= VM_DISKS_MAX)
                return errorf(err, errlen, -ENOSPC, "the VM has %u disks, the most it may have", cfg->n_disks);
        int64_t parents = get_int(req, "parents", 0);
        if (parents < 0 || parents > DISK_MAX_PARENTS)
                return errorf(err, errlen, -EINVAL, "\"parents\" must be 0..%u", DISK_MAX_PARENTS);
        if (n_fds != 1 + (size_t)parents)
                return errorf(err, errlen, -EINVAL, "expected the image's fd and %lld parent fds, got %zu fds",
                              (long long)parents, n_fds);
        struct vm_config *nc;
        int r = parse_with(cfg, "disks", entry, false, &nc, err, errlen);
        if (r == -EINVAL && parse_with(cfg, "disks", entry, true, &nc, NULL, 0) == 0) {
                /* valid on its own: a clash with another disk, said with EEXIST */
                int k = check_disk_unique(cfg, &nc->disks[0], err, errlen);
                free(nc);
                return k < 0 ? k : r;
        }
        if (r < 0)
                return r;
        out->index = cfg->n_disks;
        out->disk = nc->disks[cfg->n_disks];
        out->parents = (uint32_t)parents;
        free(nc);
        if (out->disk.bus == VM_DISK_IDE)
                return errorf(err, errlen, -EOPNOTSUPP,
                              "IDE disks cannot be added to a running VM (emulated ATA has no hot plug): "
                              "attach it to a SCSI controller, or while the VM is off");
        if (parents && out->disk.format != VM_DISK_VHDX)
                return errorf(err, errlen, -EINVAL, "only a VHDX disk has parents");
        return check_disk_unique(cfg, &out->disk, err, errlen);
}

/* "disk": the index of an existing disk on a SCSI controller. */
static int parse_disk_index(const struct vm_config *cfg, struct json_object *req, struct vmwp_hotplug *out,
                            char *err, size_t errlen) {
        int64_t i = get_int(req, "disk", -1);
        if (i < 0)
                return errorf(err, errlen, -EINVAL, "\"disk\" must be a disk's index");
        if (i >= (int64_t)cfg->n_disks)
                return errorf(err, errlen, -ENOENT, "disks[%lld]: no such disk (the VM has %u)", (long long)i,
                              cfg->n_disks);
        out->index = (uint32_t)i;
        if (cfg->disks[i].bus == VM_DISK_IDE)
                return errorf(err, errlen, -EOPNOTSUPP,
                              "disks[%lld] is an IDE disk: emulated ATA cannot change while the VM runs",
                              (long long)i);
        return 0;
}

static int parse_disk_resize(const struct vm_config *cfg, struct json_object *req, struct vmwp_hotplug *out,
                             char *err, size_t errlen) {
        int r = parse_disk_index(cfg, req, out, err, errlen);
        if (r < 0)
                return r;
        const struct vm_disk_config *d = &cfg->disks[out->index];
        int64_t size = get_int(req, "size", -1);
        if (size <= 0 || size % d->sector_size)
                return errorf(err, errlen, -EINVAL, "\"size\" must be the new size in bytes, whole %u-byte sectors",
                              d->sector_size);
        out->size = (uint64_t)size;
        return 0;
}

static int check_nic_unique(const struct vm_config *cfg, const struct vm_nic_config *n, char *err, size_t errlen) {
        char s[GUID_STRING_MAX];
        for (uint32_t j = 0; j < cfg->n_nics; j++) {
                const struct vm_nic_config *o = &cfg->nics[j];
                if (memcmp(o->mac, n->mac, sizeof n->mac) == 0)
                        return errorf(err, errlen, -EEXIST, "the MAC address is nics[%u]'s already", j);
                if (strcmp(o->tap, n->tap) == 0)
                        return errorf(err, errlen, -EEXIST, "TAP %s is nics[%u]'s already", n->tap, j);
                if (guid_equal(&o->instance, &n->instance))
                        return errorf(err, errlen, -EEXIST,
                                      "instance %s is nics[%u]'s already (derived from the index when absent: "
                                      "give the NIC its own)",
                                      guid_to_string(&n->instance, s), j);
        }
        return 0;
}

/* VM_NIC_QUEUES_MAX (the configuration's "queues", all NICs together). */
static int check_queue_total(const struct vm_config *cfg, const struct vm_nic_config *n, char *err, size_t errlen) {
        uint32_t total = n->queues;
        for (uint32_t j = 0; j < cfg->n_nics; j++)
                total += cfg->nics[j].queues;
        if (total > VM_NIC_QUEUES_MAX)
                return errorf(err, errlen, -ENOSPC, "the NICs would have %u queues, at most %u in all", total,
                              VM_NIC_QUEUES_MAX);
        return 0;
}

static int parse_nic_attach(const struct vm_config *cfg, struct json_object *req, size_t n_fds,
                            struct vmwp_hotplug *out, char *err, size_t errlen) {
        struct json_object *entry;
        if (!json_object_object_get_ex(req, "nic", &entry) || !json_object_is_type(entry, json_type_object))
                return errorf(err, errlen, -EINVAL, "\"nic\" must be a NIC entry of the configuration");
        if (cfg->n_nics >= VM_NICS_MAX)
                return errorf(err, errlen, -ENOSPC, "the VM has %u NICs, the most it may have", cfg->n_nics);
        int64_t queues = get_int(req, "queues", 1);
        struct vm_config *nc;
        int r = parse_with(cfg, "nics", entry, false, &nc, err, errlen);
        if (r == -EINVAL && parse_with(cfg, "nics", entry, true, &nc, NULL, 0) == 0) {
                /* valid on its own: a clash with another NIC (its instance
                 * is index 0's here, so only the MAC and the TAP count) */
                nc->nics[0].instance = (struct guid){ 0 };
                int k = check_nic_unique(cfg, &nc->nics[0], err, errlen);
                if (k == 0)
                        k = check_queue_total(cfg, &nc->nics[0], err, errlen);
                free(nc);
                return k < 0 ? k : r;
        }
        if (r < 0)
                return r;
        out->index = cfg->n_nics;
        out->nic = nc->nics[cfg->n_nics];
        free(nc);
        if (!out->nic.tap[0])
                return errorf(err, errlen, -EINVAL, "the NIC needs \"tap\": vmms passes its TAP's fds");
        if (queues < 1 || queues > (int64_t)vm_nic_queues(&out->nic, cfg->vcpus))
                return errorf(err, errlen, -EINVAL, "\"queues\" must be 1..%u (the NIC's queues, at most one per vCPU)",
                              vm_nic_queues(&out->nic, cfg->vcpus));
        struct json_object *st;
        bool steer = json_object_object_get_ex(req, "steer", &st);
        if (steer && (!json_object_is_type(st, json_type_boolean) || (json_object_get_boolean(st) && queues < 2)))
                return errorf(err, errlen, -EINVAL, "\"steer\" must be a boolean, true only with 2 or more queues");
        steer = steer && json_object_get_boolean(st);
        if (n_fds != (size_t)queues + steer)
                return errorf(err, errlen, -EINVAL, "expected %lld TAP queue fds%s, got %zu", (long long)queues,
                              steer ? " and the steering map's" : "", n_fds);
        out->queues = (uint32_t)queues;
        out->steer = steer;
        return check_nic_unique(cfg, &out->nic, err, errlen);
}

static int parse_nic_detach(const struct vm_config *cfg, struct json_object *req, struct vmwp_hotplug *out,
                            char *err, size_t errlen) {
        int64_t i = get_int(req, "nic", -1);
        if (i < 0)
                return errorf(err, errlen, -EINVAL, "\"nic\" must be a NIC's index");
        if (i >= (int64_t)cfg->n_nics)
                return errorf(err, errlen, -ENOENT, "nics[%lld]: no such NIC (the VM has %u)", (long long)i,
                              cfg->n_nics);
        out->index = (uint32_t)i;
        return 0;
}

int vmwp_control_parse_hotplug(const struct vm_config *cfg, struct json_object *req, size_t n_fds,
                               struct vmwp_hotplug *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        if (err && errlen)
                err[0] = 0;
        out->op = vmwp_control_hotplug_op(req);
        bool takes_fds = out->op == VMWP_DISK_ATTACH || out->op == VMWP_NIC_ATTACH;
        if (out->op != VMWP_HOTPLUG_NONE && !takes_fds && n_fds)
                return errorf(err, errlen, -EINVAL, "%s takes no fds", vmwp_hotplug_op_name(out->op));
        switch (out->op) {
        case VMWP_DISK_ATTACH:
                return parse_disk_attach(cfg, req, n_fds, out, err, errlen);
        case VMWP_DISK_DETACH:
                return parse_disk_index(cfg, req, out, err, errlen);
        case VMWP_DISK_RESIZE:
                return parse_disk_resize(cfg, req, out, err, errlen);
        case VMWP_NIC_ATTACH:
                return parse_nic_attach(cfg, req, n_fds, out, err, errlen);
        case VMWP_NIC_DETACH:
                return parse_nic_detach(cfg, req, out, err, errlen);
        case VMWP_HOTPLUG_NONE:
                break;
        }
        return errorf(err, errlen, -EOPNOTSUPP, "not a hot-plug op");
}

int vmwp_control_parse_dvd(const struct vm_config *cfg, struct json_object *req, bool has_fd, uint32_t *drive,
                           bool *insert, char *path, char *err, size_t errlen) {
        struct json_object *op, *p;
        path[0] = 0;
        if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "op", &op) ||
            !json_object_is_type(op, json_type_string))
                return errorf(err, errlen, -EINVAL, "not a DVD request");
        enum proto_op o = proto_op_lookup(json_object_get_string(op));
        if (o != PROTO_OP_DVD_INSERT && o != PROTO_OP_DVD_EJECT)
                return errorf(err, errlen, -EINVAL, "not a DVD request");
        *insert = o == PROTO_OP_DVD_INSERT;
        int64_t i = get_int(req, "drive", -1);
        if (i < 0)
                return errorf(err, errlen, -EINVAL, "\"drive\" must be a DVD drive's index");
        if ((uint64_t)i >= cfg->n_dvds)
                return errorf(err, errlen, -ENOENT, "the VM has no dvd_drives[%lld] (%u drive(s))", (long long)i,
                              cfg->n_dvds);
        if (*insert != has_fd)
                return errorf(err, errlen, -EINVAL, "%s", *insert ? "dvd-insert needs the ISO's fd"
                                                                   : "dvd-eject takes no fd");
        if (json_object_object_get_ex(req, "path", &p)) {
                const char *s = json_object_is_type(p, json_type_string) ? json_object_get_string(p) : NULL;
                if (!*insert || !s || strlen(s) >= VM_PATH_MAX)
                        return errorf(err, errlen, -EINVAL, "\"path\": a string of less than %u bytes, with "
                                      "dvd-insert only", VM_PATH_MAX);
                memcpy(path, s, strlen(s) + 1);
        }
        *drive = (uint32_t)i;
        return 0;
}
