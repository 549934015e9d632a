// SPDX-License-Identifier: MIT
/* Disks and NICs of a VM changed through D-Bus: AttachDisk, DetachDisk,
 * ResizeDisk, AttachNic, DetachNic (docs/dbus-api.md, docs/vmms.md "Disks
 * and NICs of a running VM").
 *
 * An Off or Crashed VM's configuration changes as an Update would change
 * it: the same parse, the memory check and the caller's access to a new
 * image. A running VM's worker makes the change (docs/vmwp.md "Disks and
 * NICs of a running VM"): vmms checks it the same way, opens a new image
 * as Start does (the owner's rights, the lock, a VHDX's parents) or
 * creates the new NIC's TAP, grows a raw image with the caller's rights,
 * sends the op with the fds and closes its copies, and only when the
 * worker answers ok changes and stores the configuration, with the index
 * shift the worker makes. One change at a time per VM (its pending
 * operation of kind HOTPLUG, core/pending.h): the
 * indices a request names are those of the configuration it was checked
 * against. A worker that ends before it answers leaves the configuration
 * as it was (worker.c answers the call). */
#include <errno.h>
#include <json-c/json.h>
#include <linux/fs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "common/macro.h"
#include "vhdx/vhdx.h"
#include "vmms/hotplug.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "migration/migration.h"
#include "host/host.h"
#include "hotplug/hotplug.h"
#include "processor/processor.h"
#include "core/feature.h"

/* A detach waits for the guest's I/O in flight, an attach may replay a
 * VHDX's log: longer than the other requests may take. */
#define HOTPLUG_TIMEOUT_US (60 * 1000000ull)

struct vmms_hotplug {
        enum vmms_op op;
        uint32_t index;
        struct vm_disk_config disk; /* ATTACH_DISK: the entry as it is stored */
        struct vm_nic_config nic;   /* ATTACH_NIC: as stored (its "tap" as configured) */
        struct vm_dvd_config dvd;   /* INSERT_DVD, EJECT_DVD: the drive as stored afterwards */
        struct vm_disk_qos qos;     /* SET_DISK_QOS: the disk's settings afterwards */
        struct vm_nic_qos nic_qos;  /* SET_NIC_QOS: the NIC's caps afterwards */
        int fd;                     /* RESIZE_DISK: the image vmms grew, or -1 */
        uint64_t old_size;          /* ... and its size before, for a refusal */
};

static struct vmms_hotplug *hotplug_free(struct vmms_hotplug *h) {
        if (h) {
                safe_close(h->fd);
                free(h);
        }
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vmms_hotplug *, hotplug_free);

/* The change in progress, out of the VM's pending operations. */
static struct vmms_hotplug *pending_end(struct vmms_vm *vm) {
        return vmms_pending_take(&vm->op, VMMS_PENDING_HOTPLUG, NULL);
}

void vmms_hotplug_worker_ended(struct vmms_vm *vm) {
        hotplug_free(pending_end(vm));
}

/* The worker's errno (docs/vmwp.md) and vmms's own, as D-Bus errors. */
static const char *error_name(int r) {
        switch (r) {
        case -EBUSY:
                return VMMS_ERROR_BUSY;
        case -EEXIST:
                return VMMS_ERROR_EXISTS;
        case -ENOSPC:
        case -EFBIG:
        case -EDQUOT:
                return VMMS_ERROR_LIMIT_EXCEEDED;
        case -EINVAL:
        case -ENOENT:
        case -EOPNOTSUPP:
                return VMMS_ERROR_INVALID_ARGUMENT;
        case -EPERM:
        case -EACCES:
                return VMMS_ERROR_PERMISSION_DENIED;
        default:
                return VMMS_ERROR_FAILED;
        }
}

/* What the caller is told to do when the state does not allow it. */
static const char *state_hint(enum vmms_state s) {
        switch (s) {
        case VMMS_STATE_PAUSED:
                return "; resume it first (vmctl resume), or change its devices while it is off";
        case VMMS_STATE_SAVED:
                return "; its saved state is for the devices it has: start it (it resumes) and change them then, "
                       "or discard the saved state";
        case VMMS_STATE_STARTING:
                return "; wait until it runs (vmctl wait VM Running)";
        case VMMS_STATE_STOPPING:
                return "; wait until it is off (vmctl wait VM Off)";
        case VMMS_STATE_SAVING:
        case VMMS_STATE_MIGRATING:
                return "; wait until the save or the migration is done";
        default:
                return "";
        }
}

int vmms_hotplug_check_state(struct vmms_vm *vm, enum vmms_op op, sd_bus_error *e) {
        char msg[200];
        if (vmms_state_check_op(vm->state, op, msg, sizeof msg) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s': %s%s", vm->config->name, msg,
                                         state_hint(vm->state));
        int r = vmms_pending_check(vm, op, e);
        if (r < 0)
                return r;
        const char *what = vm->mig->migration || vm->mig->quick ? "a migration"
                           : vm->mig->handover ? "the take-over of its image locks from a migration's source"
                                          : NULL;
        if (what)
                return sd_bus_error_setf(e, VMMS_ERROR_BUSY, "VM '%s': %s is in progress; try again when it is done",
                                         vm->config->name, what);
        if (vm->state == VMMS_STATE_RUNNING && !vm->worker)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "VM '%s' has no worker", vm->config->name);
        return 0;
}

/* As Update checks a configuration: its memory, and every image that is
 * new (or newly writable) opened as the caller (docs/vmms.md "Host files"). */
static int check_as_update(struct vmms_vm *vm, sd_bus_message *call, const struct vm_config *next, sd_bus_error *e) {
        int r = vmms_bus_check_memory(next, vm->config, e);
        return r < 0 ? r : vmms_bus_check_files(vm->d, call, next, vm->config, e);
}

/* An Off or Crashed VM: next is its configuration from now on. */
int vmms_hotplug_store_and_reply(struct vmms_vm *vm, sd_bus_message *call, const struct vm_config *next, int index,
                           const char *what, sd_bus_error *e) {
        int r = vmms_store_save(vm, next);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot store the configuration of '%s': %s",
                                         vm->config->name, strerror(-r));
        *vm->config = *next;
        vmms_uplink_changed(vm->d);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "%s (configuration)", what);
        vmms_vm_emit_changed(vm, "Config");
        return index >= 0 ? sd_bus_reply_method_return(call, "u", (uint32_t)index)
                          : sd_bus_reply_method_return(call, NULL);
}

/* ---- the worker's answer ---- */

static const char *op_what(const struct vmms_hotplug *h, char *buf, size_t len) {
        switch (h->op) {
        case VMMS_OP_ATTACH_DISK:
                snprintf(buf, len, "attach %s", h->disk.path);
                break;
        case VMMS_OP_ATTACH_NIC:
                snprintf(buf, len, "attach the NIC");
                break;
        case VMMS_OP_INSERT_DVD:
                snprintf(buf, len, "insert %s into dvd_drives[%u]", h->dvd.path, h->index);
                break;
        case VMMS_OP_EJECT_DVD:
                snprintf(buf, len, "eject dvd_drives[%u]", h->index);
                break;
        case VMMS_OP_SET_DISK_QOS:
                snprintf(buf, len, "set the Storage QoS of disks[%u]", h->index);
                break;
        case VMMS_OP_SET_NIC_QOS:
                snprintf(buf, len, "set the bandwidth caps of nics[%u]", h->index);
                break;
        default:
                snprintf(buf, len, "%s %s[%u]", h->op == VMMS_OP_RESIZE_DISK ? "resize" : "detach",
                         h->op == VMMS_OP_DETACH_NIC ? "nics" : "disks", h->index);
                break;
        }
        return buf;
}

/* A grown image the worker did not take goes back to its size: the guest
 * never saw more, and the next start would. */
static void resize_undo(struct vmms_vm *vm, struct vmms_hotplug *h) {
        if (h->fd >= 0 && ftruncate(h->fd, (off_t)h->old_size) < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, -errno, "disks[%u]: cannot shrink the image back to %llu bytes: %m",
                            h->index, (unsigned long long)h->old_size);
}

static void refused(struct vmms_vm *vm, sd_bus_message *call, struct vmms_hotplug *h, json_object *reply,
                    int error) {
        char what[VM_PATH_MAX + 32];
        json_object *v;
        op_what(h, what, sizeof what);
        if (!reply) { /* no answer in time: the worker may have done it, or not */
                vmms_vm_log(vm, LOG_LEVEL_WARNING, error, "the worker did not answer (%m) whether it could %s", what);
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                 "VM '%s': the worker did not answer whether it could %s (%s); the "
                                                 "configuration is unchanged: stop and start the VM to bring both "
                                                 "in line", vm->config->name, what, strerror(-error));
                return;
        }
        resize_undo(vm, h);
        const char *why = json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : NULL;
        vmms_vm_log(vm, LOG_LEVEL_INFO, error, "the worker could not %s: %s", what, why ? why : strerror(-error));
        (void)sd_bus_reply_method_errorf(call, error_name(error), "VM '%s': cannot %s: %s", vm->config->name, what,
                                         why ? why : strerror(-error));
}

/* The worker's configuration changed: vmms's follows, stored. A store
 * that fails leaves the change in effect (the worker has it) until vmms
 * restarts, and says so. */
static void commit(struct vmms_vm *vm, sd_bus_message *call, const struct vm_config *c, int index, const char *what) {
        /* A disk or NIC the worker took or let go: its scope's memory
         * bound follows (docs/vmms.md "The worker's memory"). */
        vmms_scope_config_changed(vm, vm->config, c);
        int r = vmms_store_save(vm, c);
        *vm->config = *c;
        vmms_uplink_changed(vm->d); /* a NIC attached or detached */
        vmms_vm_emit_changed(vm, "Config");
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "%s, but the configuration could not be stored: %m", what);
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                 "VM '%s': %s, but its configuration could not be stored (%s): "
                                                 "vmms keeps the change until it restarts",
                                                 vm->config->name, what, strerror(-r));
                return;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "%s", what);
        if (index >= 0)
                (void)sd_bus_reply_method_return(call, "u", (uint32_t)index);
        else
                (void)sd_bus_reply_method_return(call, NULL);
}

/* The index the worker gave the new entry ("disk" or "nic"): the one
 * vmms expects, or the two configurations went apart. */
static bool index_matches(json_object *reply, const char *key, uint32_t want, uint32_t have) {
        json_object *v;
        return have == want && json_object_object_get_ex(reply, key, &v) && json_object_is_type(v, json_type_int) &&
               json_object_get_int64(v) == (int64_t)want;
}

/* The worker's answer to h applied to c, the configuration it changes;
 * what: the change in words. False when the answer does not match. */
static bool apply_to_config(struct vmms_hotplug *h, json_object *reply, struct vm_config *c, char *what, size_t wl) {
        bool ok = true;
        char s[GUID_STRING_MAX];
        json_object *v;
        switch (h->op) {
        case VMMS_OP_ATTACH_DISK:
                if ((ok = index_matches(reply, "disk", h->index, c->n_disks) && c->n_disks < VM_DISKS_MAX))
                        c->disks[c->n_disks++] = h->disk;
                snprintf(what, wl, "disks[%u] attached: %s", h->index, h->disk.path);
                break;
        case VMMS_OP_ATTACH_NIC:
                if ((ok = index_matches(reply, "nic", h->index, c->n_nics) && c->n_nics < VM_NICS_MAX)) {
                        /* the GUID the guest knows it by: kept with the NIC */
                        if (json_object_object_get_ex(reply, "instance", &v))
                                (void)guid_from_string(json_object_get_string(v), &h->nic.instance);
                        c->nics[c->n_nics++] = h->nic;
                }
                snprintf(what, wl, "nics[%u] attached (instance %s)", h->index,
                         guid_to_string(&h->nic.instance, s));
                break;
        case VMMS_OP_DETACH_DISK:
                ok = vmms_config_remove_disk(c, h->index, c, NULL, 0) >= 0;
                snprintf(what, wl, "disks[%u] detached", h->index);
                break;
        case VMMS_OP_DETACH_NIC:
                ok = vmms_config_remove_nic(c, h->index, c, NULL, 0) >= 0;
                snprintf(what, wl, "nics[%u] detached", h->index);
                break;
        case VMMS_OP_INSERT_DVD:
        case VMMS_OP_EJECT_DVD:
                if ((ok = index_matches(reply, "drive", h->index, h->index) && h->index < c->n_dvds))
                        c->dvds[h->index] = h->dvd;
                if (h->op == VMMS_OP_INSERT_DVD)
                        snprintf(what, wl, "dvd_drives[%u]: %s inserted", h->index, h->dvd.path);
                else
                        snprintf(what, wl, "dvd_drives[%u]: ejected", h->index);
                break;
        case VMMS_OP_SET_DISK_QOS:
                if ((ok = h->index < c->n_disks))
                        c->disks[h->index].qos = h->qos;
                vmms_disk_qos_describe(h->index, &h->qos, what, wl);
                break;
        case VMMS_OP_SET_NIC_QOS:
                if ((ok = h->index < c->n_nics))
                        c->nics[h->index].qos = h->nic_qos;
                vmms_nic_qos_describe(h->index, &h->nic_qos, what, wl);
                break;
        default:
                snprintf(what, wl, "disks[%u] resized", h->index);
                break;
        }
        return ok;
}

static void applied(struct vmms_vm *vm, sd_bus_message *call, struct vmms_hotplug *h, json_object *reply) {
        _cleanup_free_ struct vm_config *c = malloc(sizeof *c);
        char what[VM_PATH_MAX + 96];
        if (!c) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "out of memory");
                return;
        }
        if (h->op == VMMS_OP_RESIZE_DISK) { /* the configuration does not hold sizes */
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "disks[%u] resized", h->index);
                (void)sd_bus_reply_method_return(call, NULL);
                return;
        }
        *c = *vm->config;
        bool ok = apply_to_config(h, reply, c, what, sizeof what);
        if (!ok) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, 0, "the worker's answer does not match vmms's configuration (%s)",
                            what);
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                 "VM '%s': the worker's disks or NICs no longer match vmms's "
                                                 "configuration; stop and start the VM to bring both in line",
                                                 vm->config->name);
                return;
        }
        commit(vm, call, c, h->op == VMMS_OP_ATTACH_DISK || h->op == VMMS_OP_ATTACH_NIC ? (int)h->index : -1, what);
}


static void worker_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        _cleanup_(hotplug_freep) struct vmms_hotplug *h = pending_end(vm);
        if (!h)
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "VM '%s': the change was forgotten",
                                                 vm->config->name);
        else if (error < 0)
                refused(vm, call, h, reply, error);
        else
                applied(vm, call, h, reply);
}

/* Sends op; h (taken) waits for the answer as the VM's pending HOTPLUG; args are
 * consumed; fds stay the caller's to close (the worker has its copies). */
static int send_op(struct vmms_vm *vm, sd_bus_message *call, const char *op, json_object *args, const int *fds,
                   size_t n_fds, struct vmms_hotplug *h, sd_bus_error *e) {
        uint64_t timeout = MAX(vm->d->opt.request_timeout_us, HOTPLUG_TIMEOUT_US);
        vmms_pending_begin(&vm->op, VMMS_PENDING_HOTPLUG, NULL, h); /* the request holds call */
        int r = vmms_worker_request_fds_timeout(vm->worker, op, args, fds, n_fds, timeout, worker_reply, call);
        if (r < 0) {
                resize_undo(vm, h);
                hotplug_free(pending_end(vm));
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        }
        return 1; /* answered in worker_reply */
}

static struct vmms_hotplug *hotplug_new(enum vmms_op op, uint32_t index) {
        struct vmms_hotplug *h = calloc(1, sizeof *h);
        if (h)
                *h = (struct vmms_hotplug){ .op = op, .index = index, .fd = -1 };
        return h;
}

int vmms_hotplug_send_dvd(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, uint32_t drive,
                          const struct vm_dvd_config *dvd, int fd, sd_bus_error *e) {
        struct vmms_hotplug *h = hotplug_new(op, drive);
        json_object *args = json_object_new_object();
        if (!h || !args)
                return hotplug_free(h), json_object_put(args), -ENOMEM;
        h->dvd = *dvd;
        json_object_object_add(args, "drive", json_object_new_int64(drive));
        if (op == VMMS_OP_INSERT_DVD)
                json_object_object_add(args, "path", json_object_new_string(dvd->path));
        return send_op(vm, call, op == VMMS_OP_INSERT_DVD ? "dvd-insert" : "dvd-eject", args, fd >= 0 ? &fd : NULL,
                       fd >= 0 ? 1 : 0, h, e);
}

int vmms_hotplug_send_disk_qos(struct vmms_vm *vm, sd_bus_message *call, uint32_t index,
                               const struct vm_disk_qos *q, sd_bus_error *e) {
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_SET_DISK_QOS, index);
        json_object *args = json_object_new_object();
        if (!h || !args)
                return hotplug_free(h), json_object_put(args), -ENOMEM;
        h->qos = *q;
        json_object_object_add(args, "disk", json_object_new_int64(index));
        json_object_object_add(args, "max_iops", json_object_new_int64((int64_t)q->max_iops));
        json_object_object_add(args, "min_iops", json_object_new_int64((int64_t)q->min_iops));
        json_object_object_add(args, "max_bytes_per_s", json_object_new_int64((int64_t)q->max_bytes_per_s));
        return send_op(vm, call, "disk-qos", args, NULL, 0, h, e);
}

int vmms_hotplug_send_nic_qos(struct vmms_vm *vm, sd_bus_message *call, uint32_t index,
                              const struct vm_nic_qos *q, sd_bus_error *e) {
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_SET_NIC_QOS, index);
        json_object *args = json_object_new_object();
        if (!h || !args)
                return hotplug_free(h), json_object_put(args), -ENOMEM;
        h->nic_qos = *q;
        json_object_object_add(args, "nic", json_object_new_int64(index));
        json_object_object_add(args, "max_in_bps", json_object_new_int64((int64_t)q->max_in_bps));
        json_object_object_add(args, "max_out_bps", json_object_new_int64((int64_t)q->max_out_bps));
        return send_op(vm, call, "nic-qos", args, NULL, 0, h, e);
}

/* {"<key>": index} for the detach and resize ops. */
static json_object *index_args(const char *key, uint32_t index) {
        json_object *a = json_object_new_object();
        if (a)
                json_object_object_add(a, key, json_object_new_int64(index));
        return a;
}

/* ---- disks ---- */

/* next has the new disk last: opened as Start opens it, sent. */
static int attach_disk_running(struct vmms_vm *vm, sd_bus_message *call, const struct vm_config *next,
                               sd_bus_error *e) {
        uint32_t i = vm->config->n_disks;
        const struct vm_disk_config *dc = &next->disks[i];
        char err[2600];
        if (dc->bus == VM_DISK_IDE)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "VM '%s': IDE disks cannot be added to a running VM (emulated ATA has no "
                                         "hot plug): attach it to a SCSI controller, or while the VM is off",
                                         vm->config->name);
        _cleanup_free_ struct vmms_cred *owner = malloc(sizeof *owner);
        struct vmms_disk_fds df = { .fd = -1 };
        int r = owner ? vmms_cred_of_user(vm->owner, owner) : -ENOMEM;
        if (r >= 0 && (r = vmms_disk_open(vm, owner, dc, i, &df, err, sizeof err)) < 0)
                return sd_bus_error_setf(e, r == -EBUSY ? VMMS_ERROR_BUSY
                                            : r == -EPERM || r == -EACCES ? VMMS_ERROR_PERMISSION_DENIED
                                                                          : VMMS_ERROR_INVALID_CONFIG,
                                         "cannot attach the disk to VM '%s': %s", vm->config->name, err);
        if (r < 0)
                return r;
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_ATTACH_DISK, i);
        json_object *args = json_object_new_object(), *entry = vmms_config_disk_json(next, i);
        int fds[1 + VHDX_CHAIN_MAX] = { df.fd };
        memcpy(fds + 1, df.parents, df.n_parents * sizeof df.parents[0]);
        if (!h || !args || !entry) {
                hotplug_free(h), json_object_put(args), json_object_put(entry);
                vmms_disk_fds_done(&df);
                return -ENOMEM;
        }
        h->disk = *dc;
        json_object_object_add(args, "disk", entry);
        json_object_object_add(args, "parents", json_object_new_int64((int64_t)df.n_parents));
        r = send_op(vm, call, "disk-attach", args, fds, 1 + df.n_parents, h, e);
        vmms_disk_fds_done(&df);
        return r;
}

static int attach_disk(struct vmms_vm *vm, sd_bus_message *call, const char *json, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char err[1400], what[VM_PATH_MAX + 32];
        if (!next)
                return -ENOMEM;
        int r = vmms_config_add_disk(vm->config, json, strlen(json), next, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(e, r == -EINVAL ? VMMS_ERROR_INVALID_CONFIG : error_name(r),
                                         "cannot attach the disk to VM '%s': %s", vm->config->name, err);
        if ((r = check_as_update(vm, call, next, e)) < 0)
                return r;
        uint32_t i = vm->config->n_disks;
        if (vm->state == VMMS_STATE_RUNNING)
                return attach_disk_running(vm, call, next, e);
        snprintf(what, sizeof what, "disks[%u] attached: %s", i, next->disks[i].path);
        return vmms_hotplug_store_and_reply(vm, call, next, (int)i, what, e);
}

static int detach_disk(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char err[200];
        if (!next)
                return -ENOMEM;
        if (vmms_config_remove_disk(vm->config, index, next, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s': %s", vm->config->name, err);
        if (vm->state != VMMS_STATE_RUNNING) {
                snprintf(err, sizeof err, "disks[%u] detached", index);
                return vmms_hotplug_store_and_reply(vm, call, next, -1, err, e);
        }
        if (vm->config->disks[index].bus == VM_DISK_IDE)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "VM '%s': disks[%u] is an IDE disk: emulated ATA cannot change while the VM "
                                         "runs; detach it while the VM is off", vm->config->name, index);
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_DETACH_DISK, index);
        json_object *args = index_args("disk", index);
        if (!h || !args)
                return hotplug_free(h), json_object_put(args), -ENOMEM;
        return send_op(vm, call, "disk-detach", args, NULL, 0, h, e);
}

/* The image of disk dc opened to be grown (a regular file, read-write)
 * or measured (a block device), as the caller: *size its bytes now. */
static int open_for_resize(struct vmms_vm *vm, sd_bus_message *call, const struct vm_disk_config *dc, int *fd,
                           uint64_t *size, bool *block, char *err, size_t errlen) {
        _cleanup_free_ struct vmms_cred *cred = malloc(sizeof *cred);
        struct stat st;
        *block = !strncmp(dc->path, VMMS_BLOCK_ROOT "/", strlen(VMMS_BLOCK_ROOT) + 1);
        int r = cred ? vmms_auth_caller_cred(call, cred) : -ENOMEM;
        if (r < 0)
                return errorf(err, errlen, r, "cannot determine the caller's identity: %s", strerror(-r));
        /* A file is written (its size); a device's size is only read. */
        enum vmms_file_use use = *block && dc->read_only ? VMMS_FILE_DISK_RO : VMMS_FILE_DISK_RW;
        if ((*fd = vmms_file_open(&vm->d->opt.paths, dc->path, use, cred, err, errlen)) < 0)
                return *fd;
        if (fstat(*fd, &st) < 0)
                return errorf(err, errlen, -errno, "%s: %s", dc->path, strerror(errno));
        *size = (uint64_t)st.st_size;
        if (*block && ioctl(*fd, BLKGETSIZE64, size) < 0)
                return errorf(err, errlen, -errno, "%s: cannot read its size: %s", dc->path, strerror(errno));
        /* An Off VM's image may be another VM's: growing it under that
         * one would change a disk it runs with. */
        if (vm->state != VMMS_STATE_RUNNING && flock(*fd, LOCK_EX | LOCK_NB) < 0)
                return errorf(err, errlen, -EBUSY, "%s is in use by another VM", dc->path);
        return 0;
}

/* A VHDX image grows by its own metadata (vhdx_grow), not its file size:
 * a running VM's worker, which has it open, does it; an Off VM's image is
 * grown here, as the caller. A differencing image (the disk has
 * checkpoints) keeps its parent's size: refused, with the reason. */
static int resize_vhdx(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, uint64_t bytes, sd_bus_error *e) {
        const struct vm_disk_config *dc = &vm->config->disks[index];
        char err[1400];
        if (vm->state == VMMS_STATE_RUNNING) {
                struct vmms_hotplug *h = hotplug_new(VMMS_OP_RESIZE_DISK, index);
                json_object *args = index_args("disk", index);
                if (!h || !args)
                        return hotplug_free(h), json_object_put(args), -ENOMEM;
                json_object_object_add(args, "size", json_object_new_int64((int64_t)bytes));
                return send_op(vm, call, "disk-resize", args, NULL, 0, h, e);
        }
        _cleanup_close_ int fd = -1;
        uint64_t file_size;
        bool block;
        int r = open_for_resize(vm, call, dc, &fd, &file_size, &block, err, sizeof err);
        struct vhdx *v = NULL;
        if (r == 0 && (r = vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err)) < 0)
                v = NULL;
        struct vhdx_info info = { 0 };
        if (v)
                vhdx_get_info(v, &info);
        if (r == 0)
                r = vhdx_grow(v, bytes, err, sizeof err);
        if (v && (vhdx_close(v) < 0 && r == 0))
                r = -EIO, snprintf(err, sizeof err, "closing the image failed");
        if (r < 0)
                return sd_bus_error_setf(e, r == -EINVAL ? VMMS_ERROR_INVALID_ARGUMENT : error_name(r),
                                         "cannot resize disks[%u] of VM '%s': %s: %s", index, vm->config->name,
                                         dc->path, err);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "disks[%u]: %s %llu -> %llu bytes (VHDX)", index, dc->path,
                    (unsigned long long)info.virtual_size, (unsigned long long)bytes);
        return sd_bus_reply_method_return(call, NULL);
}

static int resize_disk(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, uint64_t bytes, sd_bus_error *e) {
        bool running = vm->state == VMMS_STATE_RUNNING, block;
        char err[1400];
        int r = vmms_disk_resize_check(vm->config, index, bytes, running, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(e, error_name(r), "cannot resize a disk of VM '%s': %s", vm->config->name, err);
        const struct vm_disk_config *dc = &vm->config->disks[index];
        if (dc->format == VM_DISK_VHDX)
                return resize_vhdx(vm, call, index, bytes, e);
        _cleanup_close_ int fd = -1;
        uint64_t size = 0;
        if ((r = open_for_resize(vm, call, dc, &fd, &size, &block, err, sizeof err)) < 0)
                return sd_bus_error_setf(e, r == -EINVAL ? VMMS_ERROR_INVALID_CONFIG : error_name(r),
                                         "cannot resize disks[%u] of VM '%s': %s", index, vm->config->name, err);
        if (bytes < size || (block && bytes != size))
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "cannot resize disks[%u] of VM '%s': %s holds %llu bytes; %s", index,
                                         vm->config->name, dc->path, (unsigned long long)size,
                                         bytes < size ? "shrinking a disk is not supported"
                                                      : "grow the block device first (e.g. lvextend) and give its "
                                                        "new size");
        if (bytes > size && ftruncate(fd, (off_t)bytes) < 0)
                return sd_bus_error_setf(e, error_name(-errno), "cannot resize disks[%u] of VM '%s': growing %s to "
                                         "%llu bytes: %s", index, vm->config->name, dc->path,
                                         (unsigned long long)bytes, strerror(errno));
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "disks[%u]: %s %llu -> %llu bytes", index, dc->path,
                    (unsigned long long)size, (unsigned long long)bytes);
        if (!running)
                return sd_bus_reply_method_return(call, NULL);
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_RESIZE_DISK, index);
        json_object *args = index_args("disk", index);
        if (!h || !args) {
                if (bytes > size)
                        (void)!ftruncate(fd, (off_t)size);
                return hotplug_free(h), json_object_put(args), -ENOMEM;
        }
        if (bytes > size) /* a refusal shrinks it back */
                h->fd = TAKE_FD(fd), h->old_size = size;
        json_object_object_add(args, "size", json_object_new_int64((int64_t)bytes));
        return send_op(vm, call, "disk-resize", args, NULL, 0, h, e);
}

/* ---- NICs ---- */

/* next has the new NIC last: its TAP made (or opened) as Start does, under
 * a name no interface has, its queue fds sent. */
static int attach_nic_running(struct vmms_vm *vm, sd_bus_message *call, const struct vm_config *next,
                              sd_bus_error *e) {
        uint32_t i = vm->config->n_nics;
        struct vm_nic_config nic = next->nics[i];
        char err[512], ifname[IFNAMSIZ];
        int fds[VM_NIC_QUEUES_MAX + 1], steer = -1;
        int r = nic.tap[0] ? 0 : vmms_tap_free_name(&vm->config->id, i, nic.tap);
        int n = r < 0 ? r : vmms_tap_open(&nic, &vm->config->id, i, vm_nic_queues(&nic, vm->config->vcpus), fds,
                                         &steer, ifname, err, sizeof err);
        if (n < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot attach the NIC to VM '%s': %s", vm->config->name,
                                         r < 0 ? "no free name for its TAP" : err);
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_ATTACH_NIC, i);
        json_object *args = json_object_new_object(), *entry = vmms_config_nic_json(next, i);
        if (h && args && entry) {
                h->nic = next->nics[i];
                json_object_object_add(entry, "tap", json_object_new_string(ifname)); /* the worker's name for it */
                json_object_object_add(args, "nic", TAKE_PTR(entry));
                json_object_object_add(args, "queues", json_object_new_int64(n));
                if (steer >= 0) { /* the RSS steering map, after the queues */
                        json_object_object_add(args, "steer", json_object_new_boolean(true));
                        fds[n] = steer;
                }
                r = send_op(vm, call, "nic-attach", TAKE_PTR(args), fds, (size_t)n + (steer >= 0), TAKE_PTR(h), e);
        } else {
                r = -ENOMEM;
        }
        hotplug_free(h), json_object_put(args), json_object_put(entry);
        for (int k = 0; k < n; k++) /* a TAP vmms made goes with the last of them (the worker's) */
                safe_close(fds[k]);
        safe_close(steer);
        return r;
}

static int attach_nic(struct vmms_vm *vm, sd_bus_message *call, const char *json, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char err[1400], s[GUID_STRING_MAX];
        if (!next)
                return -ENOMEM;
        int r = vmms_config_add_nic(vm->config, json, strlen(json), next, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(e, r == -EINVAL ? VMMS_ERROR_INVALID_CONFIG : error_name(r),
                                         "cannot attach the NIC to VM '%s': %s", vm->config->name, err);
        if ((r = check_as_update(vm, call, next, e)) < 0)
                return r;
        uint32_t i = vm->config->n_nics;
        if (vm->state == VMMS_STATE_RUNNING)
                return attach_nic_running(vm, call, next, e);
        snprintf(err, sizeof err, "nics[%u] attached (instance %s)", i, guid_to_string(&next->nics[i].instance, s));
        return vmms_hotplug_store_and_reply(vm, call, next, (int)i, err, e);
}

static int detach_nic(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char err[200];
        if (!next)
                return -ENOMEM;
        if (vmms_config_remove_nic(vm->config, index, next, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s': %s", vm->config->name, err);
        if (vm->state != VMMS_STATE_RUNNING) {
                snprintf(err, sizeof err, "nics[%u] detached", index);
                return vmms_hotplug_store_and_reply(vm, call, next, -1, err, e);
        }
        struct vmms_hotplug *h = hotplug_new(VMMS_OP_DETACH_NIC, index);
        json_object *args = index_args("nic", index);
        if (!h || !args)
                return hotplug_free(h), json_object_put(args), -ENOMEM;
        return send_op(vm, call, "nic-detach", args, NULL, 0, h, e);
}

int vmms_hotplug_request(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, sd_bus_error *e) {
        const char *json = NULL;
        uint32_t index = 0;
        uint64_t bytes = 0;
        uint32_t weight = 0;
        struct vm_disk_qos qos = { 0 };
        struct vm_nic_qos nic_qos = { 0 };
        int r = sd_bus_message_rewind(call, true);
        if (r >= 0)
                r = op == VMMS_OP_ATTACH_DISK || op == VMMS_OP_ATTACH_NIC ? sd_bus_message_read(call, "s", &json)
                    : op == VMMS_OP_RESIZE_DISK ? sd_bus_message_read(call, "ut", &index, &bytes)
                    : op == VMMS_OP_SET_DISK_QOS
                            ? sd_bus_message_read(call, "uttt", &index, &qos.max_iops, &qos.min_iops,
                                                  &qos.max_bytes_per_s)
                    : op == VMMS_OP_SET_NIC_QOS
                            ? sd_bus_message_read(call, "utt", &index, &nic_qos.max_in_bps, &nic_qos.max_out_bps)
                    : op == VMMS_OP_SET_NIC_MIN_WEIGHT ? sd_bus_message_read(call, "uu", &index, &weight)
                    : op == VMMS_OP_INSERT_DVD  ? sd_bus_message_read(call, "us", &index, &json)
                                                : sd_bus_message_read(call, "u", &index);
        if (r < 0 || (r = vmms_hotplug_check_state(vm, op, e)) < 0)
                return r;
        switch (op) {
        case VMMS_OP_ATTACH_DISK:
                return attach_disk(vm, call, json, e);
        case VMMS_OP_DETACH_DISK:
                return detach_disk(vm, call, index, e);
        case VMMS_OP_RESIZE_DISK:
                return resize_disk(vm, call, index, bytes, e);
        case VMMS_OP_ATTACH_NIC:
                return attach_nic(vm, call, json, e);
        case VMMS_OP_DETACH_NIC:
                return detach_nic(vm, call, index, e);
        case VMMS_OP_INSERT_DVD:
        case VMMS_OP_EJECT_DVD:
                return vmms_dvd_change(vm, call, op, index, json, e);
        case VMMS_OP_SET_DISK_QOS:
                return vmms_disk_qos_change(vm, call, index, &qos, e);
        case VMMS_OP_SET_NIC_QOS:
                return vmms_nic_qos_change(vm, call, index, &nic_qos, e);
        case VMMS_OP_SET_NIC_MIN_WEIGHT:
                return vmms_nic_min_weight_change(vm, call, index, weight, e);
        default:
                return -EINVAL;
        }
}

const struct vmms_feature vmms_feature_hotplug = {
        .name = "hotplug",
        .events = vmms_disk_qos_events,
        .worker_ended = vmms_hotplug_worker_ended,
};
