// SPDX-License-Identifier: MIT
/* Production checkpoints (docs/checkpoints.md "Production checkpoints"):
 * the guest freezes its file systems through the backup (VSS) integration
 * service, so that the disks the checkpoint keeps are consistent without
 * the memory; no state is saved and a revert boots the VM from them.
 *
 *   "vss" freeze -> the guest's "vss" event (ok) -> "pause" -> the
 *   children, the configuration, "disk-push" -> the index -> "resume" ->
 *   "vss" thaw -> the guest's "vss" event -> the caller's answer
 *
 * A guest that cannot freeze (no daemon, a file system that refuses, no
 * answer within the worker's ICVSP_VSS_TIMEOUT_MS) makes the take
 * standard when op->fallback allows (type "production", Hyper-V's
 * default), or fails it ("production-only"). A take that fails after the
 * freeze thaws the guest before it answers. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "worker/worker.h"
#include "core/daemon.h"

static void ignore_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
}

static int ask(struct vmms_vm *vm, const char *operation, vmms_reply_fn cb) {
        json_object *args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        json_object_object_add(args, "operation", json_object_new_string(operation));
        return vm->worker ? vmms_worker_request(vm->worker, "vss", args, cb, NULL) : (json_object_put(args), -ESRCH);
}

/* The freeze did not happen: standard if allowed, else the take fails.
 * sent: the guest got the request (a late freeze is undone by a thaw). */
static void freeze_failed(struct vmms_vm *vm, int r, const char *why, bool sent) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        char err[1024];
        op->vss = VMMS_CKPT_VSS_NONE;
        if (sent)
                (void)ask(vm, "thaw", ignore_reply);
        if (!op->fallback) {
                snprintf(err, sizeof err, "a production-only checkpoint needs the guest's file systems frozen: %s", why);
                return vmms_ckpt_take_fail(vm, r, err);
        }
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "checkpoint '%s': no production checkpoint (%s): a standard one is taken",
                    op->c->name, why);
        if ((r = vmms_ckpt_take_save(vm, err, sizeof err)) < 0)
                vmms_ckpt_take_fail(vm, r, err);
}

static void freeze_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        if (!op || op->kind != VMMS_CKPT_TAKE || op->vss != VMMS_CKPT_VSS_FREEZING || error >= 0)
                return; /* asked: the guest's answer comes as an event */
        char why[600];
        snprintf(why, sizeof why, "%s", vmms_worker_reply_why(reply, error));
        freeze_failed(vm, error, why, false);
}

int vmms_ckpt_take_production(struct vmms_vm *vm, char *err, size_t errlen) {
        vmms_ckpt_op(vm)->vss = VMMS_CKPT_VSS_FREEZING;
        int r = ask(vm, "freeze", freeze_reply);
        if (r < 0) {
                vmms_ckpt_op(vm)->vss = VMMS_CKPT_VSS_NONE;
                snprintf(err, errlen, "cannot ask the worker for the guest's freeze: %s", strerror(-r));
        }
        return r;
}

/* Frozen and paused: the disks move as in a standard take. */
static void pause_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        if (!op || op->kind != VMMS_CKPT_TAKE || op->vss != VMMS_CKPT_VSS_FROZEN)
                return;
        if (error < 0) {
                char why[700];
                snprintf(why, sizeof why, "the worker could not pause: %s", vmms_worker_reply_why(reply, error));
                return vmms_ckpt_take_fail(vm, error, why);
        }
        vmms_ckpt_take_disks_and_push(vm);
}

static void thaw_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        if (error >= 0)
                return;
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "cannot ask the guest to thaw its file systems: %s",
                    vmms_worker_reply_why(reply, error));
        if (op && op->kind == VMMS_CKPT_TAKE && op->vss == VMMS_CKPT_VSS_THAWING)
                vmms_ckpt_take_done(vm);
}

void vmms_ckpt_thaw(struct vmms_vm *vm, int r, const char *why) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        op->vss = VMMS_CKPT_VSS_THAWING;
        int s = ask(vm, "thaw", thaw_reply);
        if (s < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, s, "cannot ask the guest to thaw its file systems: %m");
        if (r < 0)
                vmms_ckpt_op_finish(vm, r, why, NULL); /* the thaw goes on without it */
        else if (s < 0)
                vmms_ckpt_take_done(vm);
}

void vmms_ckpt_on_vss(struct vmms_vm *vm, json_object *ev) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        json_object *v;
        const char *operation = json_object_object_get_ex(ev, "operation", &v) ? json_object_get_string(v) : NULL;
        bool ok = json_object_object_get_ex(ev, "ok", &v) && json_object_get_boolean(v);
        int64_t status = json_object_object_get_ex(ev, "status", &v) ? json_object_get_int64(v) : -1;
        if (!operation)
                return;
        if (op && op->kind == VMMS_CKPT_TAKE && op->vss == VMMS_CKPT_VSS_FREEZING && !strcmp(operation, "freeze")) {
                if (!ok) {
                        char why[128];
                        snprintf(why, sizeof why, "the guest could not freeze its file systems (status 0x%08llx)",
                                 (unsigned long long)(uint32_t)status);
                        return freeze_failed(vm, -EIO, why, true);
                }
                op->vss = VMMS_CKPT_VSS_FROZEN;
                op->c->production = true;
                int r = vm->worker ? vmms_worker_request(vm->worker, "pause", NULL, pause_reply, NULL) : -ESRCH;
                if (r < 0) {
                        char why[128];
                        snprintf(why, sizeof why, "cannot ask the worker to pause: %s", strerror(-r));
                        vmms_ckpt_take_fail(vm, r, why);
                }
        } else if (op && op->kind == VMMS_CKPT_TAKE && op->vss == VMMS_CKPT_VSS_THAWING && !strcmp(operation, "thaw")) {
                if (!ok)
                        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0,
                                    "the guest could not thaw its file systems (status 0x%08llx)",
                                    (unsigned long long)(uint32_t)status);
                vmms_ckpt_take_done(vm);
        } else {
                vmms_vm_log(vm, ok ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING, 0, "the guest answered a VSS %s: %s",
                            operation, ok ? "done" : "failed");
        }
}
