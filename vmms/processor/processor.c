// SPDX-License-Identifier: MIT
/* The processor settings of a running VM (docs/vmms.md "Processor
 * limit"): Update hands a changed "processor" to this file while a worker
 * runs the VM; the worker applies the limit (vid's throttle, op
 * "processor") and only then is the new configuration stored, a new
 * weight set on the worker's scope (scope.c) and the call answered. A
 * worker that refuses or goes away leaves the configuration as it was.
 * The worker reads the limit from its configuration when it starts,
 * restores or receives a migration, and a new worker's scope gets the
 * weight, so nothing else re-applies them. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "../core/daemon.h"
#include "../core/feature.h"
#include "../worker/worker.h"
#include "processor.h"
#include "vmms/names.h"
#include "vmms/processor.h"

int vmms_processor_check_update(const struct vm_config *cur, const struct vm_config *next, enum vmms_state s,
                                bool *to_worker, char *err, size_t errlen) {
        *to_worker = false;
        if (!memcmp(&cur->processor, &next->processor, sizeof cur->processor))
                return 0;
        if (s == VMMS_STATE_RUNNING || s == VMMS_STATE_PAUSED) {
                *to_worker = true;
                return 0;
        }
        if (!vmms_state_has_worker(s))
                return 0;
        snprintf(err, errlen,
                 "processor: can change while the VM is Off, Crashed, Saved, Running or Paused (it is %s); try "
                 "again when it is",
                 vmms_state_to_string(s));
        return -EBUSY;
}

/* The Update the worker has not answered yet (core/pending.h): the new
 * configuration. */
static struct vm_config *pending_end(struct vmms_vm *vm) {
        return vmms_pending_take(&vm->op, VMMS_PENDING_PROCESSOR, NULL);
}

void vmms_processor_free(struct vmms_vm *vm) {
        free(pending_end(vm));
        free(vm->processor);
        vm->processor = NULL;
}

/* The worker's answer: its limit is the new one (store and answer) or
 * the old one still (refuse). */
static void worker_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        _cleanup_free_ struct vm_config *next = pending_end(vm);
        if (!next) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "VM '%s': the change was forgotten",
                                                 vm->config->name);
                return;
        }
        if (error < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, error, "processor limit %u %% not applied: %s",
                            next->processor.limit_pct, vmms_worker_reply_why(reply, error));
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                 "processor: the worker of VM '%s' did not apply it (%s); nothing "
                                                 "changed",
                                                 vm->config->name, vmms_worker_reply_why(reply, error));
                return;
        }
        int r = vmms_store_save(vm, next);
        vmms_scope_config_changed(vm, vm->config, next);
        /* The worker has it: vmms's view follows even when the file could
         * not be written (it is then lost at vmms's restart, and said so). */
        *vm->config = *next;
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, "Name", "Config", "ConsoleLog",
                                             NULL);
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "processor limit applied, but the configuration could not be stored: %m");
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                 "VM '%s': the processor limit is applied, but the configuration "
                                                 "could not be stored (%s): vmms keeps it until it restarts",
                                                 vm->config->name, strerror(-r));
                return;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "configuration updated (processor limit %u %%, applied by the worker)",
                    next->processor.limit_pct);
        (void)sd_bus_reply_method_return(call, NULL);
}

int vmms_processor_update(struct vmms_vm *vm, sd_bus_message *call, struct vm_config *next, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *c = next;
        int r = vmms_pending_check(vm, VMMS_ASK_UPDATE, e);
        if (r < 0)
                return r;
        if (!vm->worker)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s' has no worker", vm->config->name);
        json_object *args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        if (!vm->processor && !(vm->processor = calloc(1, sizeof *vm->processor))) {
                json_object_put(args);
                return -ENOMEM;
        }
        json_object_object_add(args, "limit_pct", json_object_new_int64(c->processor.limit_pct));
        vmms_pending_begin(&vm->op, VMMS_PENDING_PROCESSOR, NULL, TAKE_PTR(c)); /* the request holds call */
        r = vmms_worker_request(vm->worker, "processor", args, worker_reply, call);
        if (r < 0) {
                free(pending_end(vm));
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        }
        return 1; /* answered in worker_reply */
}

/* An Update in flight: its call was answered when the worker went. The
 * scope goes with the worker's last process (CollectMode); the machine
 * is unregistered from systemd-machined (machine.c). */
static void worker_ended(struct vmms_vm *vm) {
        vmms_machine_unregister(vm);
        vmms_processor_free(vm);
}

const struct vmms_feature vmms_feature_processor = {
        .name = "processor",
        .worker_ended = worker_ended,
};
