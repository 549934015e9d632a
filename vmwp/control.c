// SPDX-License-Identifier: MIT
/* Control requests (common/include/common/proto.h): the worker's one
 * dispatcher, one table op -> handler over the protocol's table of ops.
 * Everything in a request is untrusted input from a peer process: types
 * are checked, unknown ops are answered, nothing is assumed present. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/proto.h"
#include "disk/disk.h"
#include "hv/ic.h"
#include "vmwp/control.h"
#include "vmwp/vm.h"

static struct json_object *reply_new(struct json_object *id, bool ok) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (id)
                json_object_object_add(o, "id", json_object_get(id));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        return o;
}

static struct json_object *reply_error(struct json_object *id, int err, const char *msg) {
        struct json_object *o = reply_new(id, false);
        if (o) {
                json_object_object_add(o, "errno", json_object_new_int(err));
                json_object_object_add(o, "error", json_object_new_string(msg));
        }
        return o;
}

static struct json_object *reply_result(struct json_object *id, int r) {
        return r < 0 ? reply_error(id, -r, strerror(-r)) : reply_new(id, true);
}

struct json_object *vmwp_control_reply(const struct vmwp_request *r, int rc, const char *err) {
        return rc < 0 ? reply_error(r->id, -rc, err) : reply_new(r->id, true);
}

/* {"op":"kvp-get"[,"key":s]}: the guest's and the host's items, or one
 * value of the guest's ("value"). */
static struct json_object *kvp_get(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *req = rq->req, *id = rq->id;
        struct json_object *key = NULL, *items = NULL, *v = NULL;
        if (json_object_object_get_ex(req, "key", &key) && !json_object_is_type(key, json_type_string))
                return reply_error(id, EINVAL, "\"key\" must be a string");
        struct json_object *rep = reply_new(id, true);
        if (!rep)
                return NULL;
        int r = ops->kvp_get ? ops->kvp_get(opaque, rep) : -ENOTSUP;
        if (r >= 0 && key) {
                if (!json_object_object_get_ex(rep, "items", &items) ||
                    !json_object_object_get_ex(items, json_object_get_string(key), &v))
                        r = -ENOENT;
                else
                        json_object_object_add(rep, "value", json_object_get(v));
        }
        if (r < 0) {
                json_object_put(rep);
                return r == -ENOENT ? reply_error(id, ENOENT, "the guest reported no such key")
                                    : reply_result(id, r);
        }
        return rep;
}

/* {"op":"kvp-set","key":s,"value":s} or {"op":"kvp-set","key":s,"delete":true} */
static struct json_object *kvp_set(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *req = rq->req, *id = rq->id;
        struct json_object *key = NULL, *value = NULL, *del = NULL;
        if (!json_object_object_get_ex(req, "key", &key) || !json_object_is_type(key, json_type_string))
                return reply_error(id, EINVAL, "\"key\" missing or not a string");
        if (json_object_object_get_ex(req, "delete", &del) && !json_object_is_type(del, json_type_boolean))
                return reply_error(id, EINVAL, "\"delete\" must be true or false");
        bool deleting = del && json_object_get_boolean(del);
        bool has_value = json_object_object_get_ex(req, "value", &value);
        if (deleting == has_value || (has_value && !json_object_is_type(value, json_type_string)))
                return reply_error(id, EINVAL, "need a string \"value\", or \"delete\":true");
        if (strlen(json_object_get_string(key)) != (size_t)json_object_get_string_len(key) ||
            (has_value && strlen(json_object_get_string(value)) != (size_t)json_object_get_string_len(value)))
                return reply_error(id, EINVAL, "key and value may not contain NUL");
        int r = ops->kvp_set ? ops->kvp_set(opaque, json_object_get_string(key),
                                            deleting ? NULL : json_object_get_string(value))
                             : -ENOTSUP;
        switch (r) {
        case -EINVAL:
                return reply_error(id, EINVAL, "key or value too long or not valid UTF-8 (key: 1-255, value: up to "
                                               "1023 UTF-16 code units)");
        case -ENOSPC:
                return reply_error(id, ENOSPC, "too many host items");
        case -ENOENT:
                return reply_error(id, ENOENT, "no such host item");
        default:
                return reply_result(id, r);
        }
}

/* {"op":"vss","operation":"freeze"|"thaw"|"hot-backup"}: answered once
 * the request is sent; the guest's answer follows as a "vss" event. */
static struct json_object *vss(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *req = rq->req, *id = rq->id;
        static const struct {
                const char *name;
                uint8_t op;
        } names[] = { { "freeze", VSS_OP_FREEZE }, { "thaw", VSS_OP_THAW }, { "hot-backup", VSS_OP_HOT_BACKUP } };
        struct json_object *v;
        const char *name = json_object_object_get_ex(req, "operation", &v) && json_object_is_type(v, json_type_string)
                                   ? json_object_get_string(v)
                                   : "";
        size_t i = 0;
        while (i < ARRAY_SIZE(names) && strcmp(names[i].name, name))
                i++;
        if (i == ARRAY_SIZE(names))
                return reply_error(id, EINVAL, "\"operation\" must be freeze, thaw or hot-backup");
        int r = ops->vss ? ops->vss(opaque, names[i].op) : -ENOTSUP;
        if (r == -ENOTSUP)
                return reply_error(id, ENOTSUP, "the VM has no backup (VSS) integration service");
        if (r == -ENOTCONN)
                return reply_error(id, ENOTCONN, "the guest has not started its backup (VSS) service");
        if (r == -EBUSY)
                return reply_error(id, EBUSY, "a backup (VSS) request is unanswered");
        return reply_result(id, r);
}

/* {"op":"memory"[,"target_bytes":n]}: Dynamic Memory's state, after
 * moving the target when one is given. */
#define MEMORY_TARGET_MAX (1ull << 50)
static struct json_object *memory(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *req = rq->req, *id = rq->id;
        struct json_object *t = NULL;
        bool set = json_object_object_get_ex(req, "target_bytes", &t);
        int64_t target = set && json_object_is_type(t, json_type_int) ? json_object_get_int64(t) : -1;
        if (set && (target < 0 || (uint64_t)target > MEMORY_TARGET_MAX))
                return reply_error(id, EINVAL, "\"target_bytes\" must be a number of bytes up to 2^50");
        struct json_object *rep = reply_new(id, true);
        if (!rep)
                return NULL;
        int r = ops->memory ? ops->memory(opaque, set, set ? (uint64_t)target : 0, rep) : -ENOTSUP;
        if (r < 0) {
                json_object_put(rep);
                return r == -ENOTSUP ? reply_error(id, ENOTSUP, "the VM has no dynamic memory") : reply_result(id, r);
        }
        return rep;
}

/* {"op":"processor"[,"limit_pct":n]}: the processor limit, after setting
 * it when one is given (1..100; common/config.h's range). */
static struct json_object *processor(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *l = NULL;
        bool set = json_object_object_get_ex(rq->req, "limit_pct", &l);
        int64_t limit = set && json_object_is_type(l, json_type_int) ? json_object_get_int64(l) : -1;
        if (set && (limit < VM_CPU_LIMIT_MIN_PCT || limit > VM_CPU_LIMIT_NONE))
                return reply_error(rq->id, EINVAL, "\"limit_pct\" must be an integer from 1 to 100");
        struct json_object *rep = reply_new(rq->id, true);
        if (!rep)
                return NULL;
        int r = ops->processor ? ops->processor(opaque, set, set ? (uint32_t)limit : 0, rep) : -ENOTSUP;
        if (r < 0) {
                json_object_put(rep);
                return reply_result(rq->id, r);
        }
        return rep;
}

/* ---- the ops the VM answers in a line or two ---- */

static struct json_object *pause_(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        int r = ops->pause(opaque);
        if (r >= 0)
                rq->state_event = "paused";
        return r < 0 ? reply_error(rq->id, -r, vmwp_pause_strerror(r)) : reply_new(rq->id, true);
}

static struct json_object *resume(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        int r = ops->resume(opaque);
        if (r >= 0)
                rq->state_event = "running";
        return reply_result(rq->id, r);
}

static struct json_object *stop(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        ops->stop(opaque);
        return reply_new(rq->id, true);
}

static struct json_object *power_button(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        ops->power_button(opaque);
        return reply_new(rq->id, true);
}

static struct json_object *nmi(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        int r = ops->nmi ? ops->nmi(opaque) : -ENOTSUP;
        if (r < 0)
                return reply_result(rq->id, r);
        if (r == 0)
                return reply_error(rq->id, EAGAIN, "no virtual processor could take the NMI");
        struct json_object *rep = reply_new(rq->id, true);
        if (rep)
                json_object_object_add(rep, "vcpus", json_object_new_int(r));
        return rep;
}

static struct json_object *status(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *rep = reply_new(rq->id, true);
        if (!rep)
                return NULL;
        json_object_object_add(rep, "state", json_object_new_string(ops->is_paused(opaque) ? "paused" : "running"));
        ops->status(opaque, rep);
        return rep;
}

static struct json_object *stats(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *rep = reply_new(rq->id, true);
        if (rep && ops->stats(opaque, rep) < 0) {
                json_object_put(rep);
                return reply_error(rq->id, EIO, "collecting statistics failed");
        }
        return rep;
}

static struct json_object *shutdown(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *rb = NULL;
        if (json_object_object_get_ex(rq->req, "reboot", &rb) && !json_object_is_type(rb, json_type_boolean))
                return reply_error(rq->id, EINVAL, "\"reboot\" must be true or false");
        int r = ops->shutdown ? ops->shutdown(opaque, rb && json_object_get_boolean(rb)) : -ENOTSUP;
        if (r == -ENOTCONN)
                return reply_error(rq->id, ENOTCONN, "the guest has not started its shutdown service");
        return reply_result(rq->id, r);
}

static struct json_object *console_status(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        struct json_object *rep = reply_new(rq->id, true);
        int r = !rep ? -ENOMEM : ops->console_status ? ops->console_status(opaque, rep) : -ENOTSUP;
        if (r < 0) {
                json_object_put(rep);
                return r == -ENOMEM ? NULL : reply_error(rq->id, -r, "the console is not a socket");
        }
        return rep;
}

/* Closes the fds a request left to its handler, for one that takes none of them. */
static void drop_fds(struct vmwp_request *rq) {
        rq->fd = safe_close(rq->fd);
        for (size_t i = 0; i < rq->n_fds; i++)
                safe_close(rq->fds[i]);
        rq->n_fds = 0;
}

/* A running worker got its configuration at start. */
static struct json_object *config(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) {
        drop_fds(rq);
        return reply_error(rq->id, EBUSY, "the VM is already configured");
}

/* ---- the one table: op -> handler ---- */

typedef struct json_object *handler_fn(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq);

/* The VM's own ops (struct vmwp_control_ops's vmwp_op_fn members). */
#define VM_OP(f) \
        static struct json_object *vm_##f(const struct vmwp_control_ops *ops, void *opaque, struct vmwp_request *rq) { \
                if (ops->f) \
                        return ops->f(opaque, rq); \
                drop_fds(rq); \
                return reply_error(rq->id, EOPNOTSUPP, "unknown op"); \
        }
VM_OP(save)
VM_OP(migrate_send)
VM_OP(dirty_check)
VM_OP(disk_merge)
VM_OP(disk_push)
VM_OP(fcopy)
VM_OP(fcopy_cancel)
VM_OP(hvsock_connected)
VM_OP(hotplug)
VM_OP(reattach_listen)
VM_OP(dvd)
VM_OP(disk_qos)
VM_OP(nic_qos)
#undef VM_OP

static const struct op_row {
        handler_fn *fn;
        bool lax_id; /* a non-integer "id" is left out of the reply, not refused */
} rows[PROTO_OP_N] = {
        [PROTO_OP_CONFIG] = { config },
        [PROTO_OP_PAUSE] = { pause_ },
        [PROTO_OP_RESUME] = { resume },
        [PROTO_OP_STOP] = { stop },
        [PROTO_OP_POWER_BUTTON] = { power_button },
        [PROTO_OP_NMI] = { nmi },
        [PROTO_OP_STATUS] = { status },
        [PROTO_OP_STATS] = { stats },
        [PROTO_OP_SHUTDOWN] = { shutdown },
        [PROTO_OP_VSS] = { vss },
        [PROTO_OP_MEMORY] = { memory },
        [PROTO_OP_PROCESSOR] = { processor },
        [PROTO_OP_KVP_GET] = { kvp_get },
        [PROTO_OP_KVP_SET] = { kvp_set },
        [PROTO_OP_CONSOLE_STATUS] = { console_status },
        [PROTO_OP_SAVE] = { vm_save, true },
        [PROTO_OP_MIGRATE_SEND] = { vm_migrate_send, true },
        [PROTO_OP_DIRTY_CHECK] = { vm_dirty_check, true },
        [PROTO_OP_DISK_MERGE] = { vm_disk_merge, true },
        [PROTO_OP_DISK_PUSH] = { vm_disk_push, true },
        [PROTO_OP_FCOPY] = { vm_fcopy, true },
        [PROTO_OP_FCOPY_CANCEL] = { vm_fcopy_cancel, true },
        [PROTO_OP_HVSOCK_CONNECTED] = { vm_hvsock_connected, true },
        [PROTO_OP_DISK_ATTACH] = { vm_hotplug, true },
        [PROTO_OP_DISK_DETACH] = { vm_hotplug, true },
        [PROTO_OP_DISK_RESIZE] = { vm_hotplug, true },
        [PROTO_OP_NIC_ATTACH] = { vm_hotplug, true },
        [PROTO_OP_NIC_DETACH] = { vm_hotplug, true },
        [PROTO_OP_DVD_INSERT] = { vm_dvd, true },
        [PROTO_OP_DVD_EJECT] = { vm_dvd, true },
        [PROTO_OP_REATTACH_LISTEN] = { vm_reattach_listen, true },
        [PROTO_OP_DISK_QOS] = { vm_disk_qos, true },
        [PROTO_OP_NIC_QOS] = { vm_nic_qos, true },
};

/* The fds the op's row in proto_ops keeps go into rq, the others are closed. */
static void take_fds(struct vmwp_request *rq, enum proto_fds how, int *fds, size_t n) {
        size_t kept = 0;
        if (how == PROTO_FDS_ALL) {
                rq->fds = fds;
                rq->n_fds = n;
                return;
        }
        if ((how == PROTO_FDS_ONE && n == 1) || (how == PROTO_FDS_FIRST && n > 0)) {
                rq->fd = fds[0];
                kept = 1;
        }
        for (size_t i = kept; i < n; i++)
                safe_close(fds[i]);
}

struct json_object *vmwp_control_handle(const struct vmwp_control_ops *ops, void *opaque, struct json_object *req,
                                        int *fds, size_t n_fds, const char **state_event) {
        *state_event = NULL;
        struct json_object *id = NULL, *op = NULL;
        enum proto_op o = PROTO_OP_UNKNOWN;
        bool is_object = json_object_is_type(req, json_type_object);
        bool has_op = is_object && json_object_object_get_ex(req, "op", &op) && json_object_is_type(op, json_type_string);
        if (has_op)
                o = proto_op_lookup(json_object_get_string(op));
        struct vmwp_request rq = { .req = req, .fd = -1 };
        take_fds(&rq, rows[o].fn ? proto_ops[o].fds : PROTO_FDS_NONE, fds, n_fds);
        if (!is_object)
                return reply_error(NULL, EINVAL, "request must be a JSON object");
        if (json_object_object_get_ex(req, "id", &id) && !json_object_is_type(id, json_type_int)) {
                if (!rows[o].lax_id) {
                        drop_fds(&rq);
                        return reply_error(NULL, EINVAL, "\"id\" must be an integer");
                }
                id = NULL;
        }
        rq.id = id;
        if (!has_op)
                return reply_error(id, EINVAL, "\"op\" missing or not a string");
        if (!rows[o].fn)
                return reply_error(id, EOPNOTSUPP, "unknown op");
        struct json_object *rep = rows[o].fn(ops, opaque, &rq);
        *state_event = rq.state_event;
        return rep;
}

int vmwp_control_parse_config(struct json_object *msg, struct vm_config *cfg, char *err, size_t errlen) {
        struct json_object *op, *c;
        if (!json_object_object_get_ex(msg, "op", &op) || !json_object_is_type(op, json_type_string) ||
            proto_op_lookup(json_object_get_string(op)) != PROTO_OP_CONFIG)
                return snprintf(err, errlen, "expected {\"op\":\"config\"} first"), -EINVAL;
        if (!json_object_object_get_ex(msg, "config", &c) || !json_object_is_type(c, json_type_object))
                return snprintf(err, errlen, "\"config\" missing or not an object"), -EINVAL;
        size_t len;
        const char *s = json_object_to_json_string_length(c, JSON_C_TO_STRING_PLAIN, &len);
        if (!s)
                return -ENOMEM;
        return vm_config_parse(s, len, cfg, err, errlen);
}

/* "files": the fds after the disks and TAPs, in this order, each at most
 * once (vmms/worker/spawn.c). "kernel" or "firmware" (kind firmware's
 * image; both take kernel_fd, the boot image); "saved_state": restore the
 * VM from it instead of booting (docs/vm-state.md); "migrate_incoming":
 * receive the VM from a live migration's source over this socket
 * (docs/migration.md). Returns a mask of VMWP_FILE_*. */
static int parse_files(struct json_object *msg, char *err, size_t errlen) {
        static const struct {
                const char *name;
                int bit;
        } names[] = { { "kernel", VMWP_FILE_KERNEL },           { "firmware", VMWP_FILE_FIRMWARE },
                      { "initrd", VMWP_FILE_INITRD },           { "serial_log", VMWP_FILE_SERIAL_LOG },
                      { "saved_state", VMWP_FILE_SAVED_STATE }, { "migrate_incoming", VMWP_FILE_MIGRATE_INCOMING } };
        struct json_object *files;
        int mask = 0;
        size_t next = 0;
        if (!json_object_object_get_ex(msg, "files", &files))
                return 0;
        if (!json_object_is_type(files, json_type_array) || json_object_array_length(files) > ARRAY_SIZE(names))
                return snprintf(err, errlen, "\"files\" must be an array of at most 6 names"), -EINVAL;
        for (size_t i = 0; i < json_object_array_length(files); i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(files, i));
                while (next < ARRAY_SIZE(names) && (!s || strcmp(s, names[next].name)))
                        next++;
                if (next == ARRAY_SIZE(names))
                        return snprintf(err, errlen,
                                        "\"files\": kernel, firmware, initrd, serial_log, saved_state, "
                                        "migrate_incoming, in this order"),
                               -EINVAL;
                mask |= names[next++].bit;
        }
        if ((mask & VMWP_FILE_KERNEL) && (mask & VMWP_FILE_FIRMWARE))
                return snprintf(err, errlen, "\"files\": kernel and firmware exclude each other"), -EINVAL;
        return mask;
}

/* "dvd_fds" (proto.h): how many DVD drives' ISOs follow the files, one for
 * each drive with a path, in drive order. Absent: none (standalone, or an
 * older vmms: the worker opens the paths). Fills dvd_slot[] with the drive
 * index of each. */
static int parse_dvd_fds(const struct vm_config *cfg, struct json_object *msg, uint32_t *dvd_slot, char *err,
                         size_t errlen) {
        struct json_object *v;
        if (!json_object_object_get_ex(msg, "dvd_fds", &v))
                return 0;
        uint32_t n = 0;
        for (uint32_t i = 0; i < cfg->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (cfg->dvds[i].path[0])
                        dvd_slot[n++] = i;
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != (int64_t)n)
                return snprintf(err, errlen, "\"dvd_fds\" must count the DVD drives with an ISO (%u)", n), -EINVAL;
        return (int)n;
}

/* "disk_parents" (proto.h): one count per disk of the VHDX parents that
 * follow all other fds. Fills opt->n_disk_parents; returns their sum. */
static int parse_disk_parents(const struct vm_config *cfg, struct json_object *msg, struct vmwp_vm_options *opt,
                              char *err, size_t errlen) {
        struct json_object *a;
        size_t sum = 0;
        if (!json_object_object_get_ex(msg, "disk_parents", &a))
                return 0;
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != cfg->n_disks)
                return snprintf(err, errlen, "\"disk_parents\" must be an array of one count per disk"), -EINVAL;
        for (uint32_t i = 0; i < cfg->n_disks; i++) {
                struct json_object *v = json_object_array_get_idx(a, i);
                int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
                if (n < 0 || n > DISK_MAX_PARENTS || (n > 0 && cfg->disks[i].format != VM_DISK_VHDX))
                        return snprintf(err, errlen,
                                        "\"disk_parents\"[%u]: a count of 0..%u parents, and only for a VHDX disk", i,
                                        DISK_MAX_PARENTS),
                               -EINVAL;
                opt->n_disk_parents[i] = (uint8_t)n;
                sum += (size_t)n;
        }
        if (sum > PROTO_MAX_PARENT_FDS)
                return snprintf(err, errlen, "\"disk_parents\": more than %u parents in all", PROTO_MAX_PARENT_FDS),
                       -EINVAL;
        return (int)sum;
}

/* "nic_queues" (proto.h): one count per NIC of its TAP queue fds, 1..8,
 * for the NICs that name a TAP. Absent: one each. "nic_steer": one boolean
 * per NIC, true only with 2 or more queues: an RSS steering map's fd
 * follows its queues. Returns the fds the TAPs bring in all. */
static int parse_nic_queues(const struct vm_config *cfg, struct json_object *msg, struct vmwp_vm_options *opt,
                            char *err, size_t errlen) {
        struct json_object *a, *st;
        int sum = 0, maps = 0;
        bool given = json_object_object_get_ex(msg, "nic_queues", &a);
        if (given && (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != cfg->n_nics))
                return snprintf(err, errlen, "\"nic_queues\" must be an array of one count per NIC"), -EINVAL;
        bool steer = json_object_object_get_ex(msg, "nic_steer", &st);
        if (steer && (!json_object_is_type(st, json_type_array) || json_object_array_length(st) != cfg->n_nics))
                return snprintf(err, errlen, "\"nic_steer\" must be an array of one boolean per NIC"), -EINVAL;
        for (uint32_t i = 0; i < cfg->n_nics && i < VM_NICS_MAX; i++) {
                struct json_object *v = given ? json_object_array_get_idx(a, i) : NULL;
                int64_t n = !given ? 1 : json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
                if (!cfg->nics[i].tap[0]) /* the worker creates its TAP: no fd */
                        n = n == 0 || n == 1 ? 0 : -1;
                else if (n == 0)
                        n = -1;
                if (n < 0 || n > (int64_t)vm_nic_queues(&cfg->nics[i], cfg->vcpus))
                        return snprintf(err, errlen,
                                        "\"nic_queues\"[%u]: 1..the NIC's queues, and only for a NIC with a TAP", i),
                               -EINVAL;
                opt->n_nic_queues[i] = (uint8_t)n;
                sum += (int)n;
                struct json_object *s = steer ? json_object_array_get_idx(st, i) : NULL;
                if (s && (!json_object_is_type(s, json_type_boolean) || (json_object_get_boolean(s) && n < 2)))
                        return snprintf(err, errlen,
                                        "\"nic_steer\"[%u]: a boolean, true only for a NIC with 2 or more queues", i),
                               -EINVAL;
                opt->nic_steer[i] = s && json_object_get_boolean(s);
                maps += opt->nic_steer[i];
        }
        if (sum > (int)VM_NIC_QUEUES_MAX) /* the configuration's own check; the fd table's size */
                return snprintf(err, errlen, "\"nic_queues\": more than %u in all", VM_NIC_QUEUES_MAX), -EINVAL;
        return sum + maps;
}

/* "hot_plug" (proto.h): {"disks":bool,"nics":bool,"max_file_size":bytes},
 * each optional: what the VM may get while it runs, prepared for at start. */
#define HOTPLUG_FILE_SIZE_MAX (1ull << 62)
static int parse_hot_plug(struct json_object *msg, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        struct json_object *h, *v;
        if (!json_object_object_get_ex(msg, "hot_plug", &h))
                return 0;
        if (!json_object_is_type(h, json_type_object))
                goto bad;
        json_object_object_foreach(h, key, val) {
                if (strcmp(key, "disks") == 0 || strcmp(key, "nics") == 0) {
                        if (!json_object_is_type(val, json_type_boolean))
                                goto bad;
                } else if (strcmp(key, "max_file_size") == 0) {
                        if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0 ||
                            (uint64_t)json_object_get_int64(val) > HOTPLUG_FILE_SIZE_MAX)
                                goto bad;
                } else {
                        goto bad;
                }
        }
        opt->hotplug_disks = json_object_object_get_ex(h, "disks", &v) && json_object_get_boolean(v);
        opt->hotplug_nics = json_object_object_get_ex(h, "nics", &v) && json_object_get_boolean(v);
        opt->hotplug_file_size =
                json_object_object_get_ex(h, "max_file_size", &v) ? (uint64_t)json_object_get_int64(v) : 0;
        return 0;
bad:
        snprintf(err, errlen, "\"hot_plug\" must be {\"disks\":bool,\"nics\":bool,\"max_file_size\":0..2^62}, "
                              "each optional");
        return -EINVAL;
}

static void close_all(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

int vmwp_control_assign_fds(const struct vm_config *cfg, struct json_object *msg, int *fds, size_t n,
                            struct vmwp_vm_options *opt, char *err, size_t errlen) {
        int taps = parse_nic_queues(cfg, msg, opt, err, errlen);
        if (taps < 0) {
                close_all(fds, n);
                return taps;
        }
        size_t want_taps = (size_t)taps;
        int files = parse_files(msg, err, errlen);
        if (files < 0) {
                close_all(fds, n);
                return files;
        }
        if ((files & VMWP_FILE_SAVED_STATE) && (files & VMWP_FILE_MIGRATE_INCOMING)) {
                snprintf(err, errlen, "\"files\": saved_state and migrate_incoming exclude each other");
                close_all(fds, n);
                return -EINVAL;
        }
        struct json_object *md;
        if (json_object_object_get_ex(msg, "migrate_disks", &md) &&
            (!json_object_is_type(md, json_type_boolean) ||
             (json_object_get_boolean(md) && !(files & VMWP_FILE_MIGRATE_INCOMING)))) {
                snprintf(err, errlen, "\"migrate_disks\" must be a boolean, and true only with migrate_incoming");
                close_all(fds, n);
                return -EINVAL;
        }
        if (parse_hot_plug(msg, opt, err, errlen) < 0) {
                close_all(fds, n);
                return -EINVAL;
        }
        bool fw = cfg->boot_kind == VM_BOOT_FIRMWARE;
        if ((fw && (files & VMWP_FILE_KERNEL)) || (!fw && (files & VMWP_FILE_FIRMWARE))) {
                snprintf(err, errlen, "\"files\": \"firmware\" for boot kind firmware, \"kernel\" for the others");
                close_all(fds, n);
                return -EINVAL;
        }
        size_t n_files = (size_t)__builtin_popcount((unsigned)files);
        uint32_t dvd_slot[VM_DVD_DRIVES_MAX];
        int parents = parse_disk_parents(cfg, msg, opt, err, errlen);
        int dvds = parents < 0 ? parents : parse_dvd_fds(cfg, msg, dvd_slot, err, errlen);
        if (parents < 0 || dvds < 0) {
                close_all(fds, n);
                return parents < 0 ? parents : dvds;
        }
        if (n != cfg->n_disks + want_taps + n_files + (size_t)dvds + (size_t)parents) {
                snprintf(err, errlen,
                         "received %zu fds, expected %u disk + %zu TAP + %zu file + %d DVD + %d parent fds", n,
                         cfg->n_disks, want_taps, n_files, dvds, parents);
                close_all(fds, n);
                return -EINVAL;
        }
        size_t k = 0;
        for (; k < cfg->n_disks; k++)
                opt->disk_fds[opt->n_disk_fds++] = fds[k];
        for (; k < cfg->n_disks + want_taps; k++)
                opt->tap_fds[opt->n_tap_fds++] = fds[k];
        if (files & (VMWP_FILE_KERNEL | VMWP_FILE_FIRMWARE)) /* exclusive: the boot image */
                opt->kernel_fd = fds[k++];
        if (files & VMWP_FILE_INITRD)
                opt->initrd_fd = fds[k++];
        if (files & VMWP_FILE_SERIAL_LOG)
                opt->serial_log_fd = fds[k++];
        if (files & VMWP_FILE_SAVED_STATE)
                opt->saved_state_fd = fds[k++];
        if (files & VMWP_FILE_MIGRATE_INCOMING)
                opt->migrate_incoming_fd = fds[k++];
        for (int i = 0; i < dvds; i++)
                opt->dvd_fds[dvd_slot[i]] = fds[k++];
        while (k < n) /* last: the VHDX parents, disk by disk */
                opt->parent_fds[opt->n_parent_fds++] = fds[k++];
        /* "migrate_disks": the incoming migration copies the disks (new
         * images here); a type error was refused above. */
        opt->migrate_disks = json_object_object_get_ex(msg, "migrate_disks", &md) && json_object_get_boolean(md);

        return 0;
}
