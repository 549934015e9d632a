/* SPDX-License-Identifier: MIT */
/* The processor settings of a VM whose worker runs (docs/vmms.md
 * "Processor limit"): Update's change sent to the worker ("processor" op,
 * common/proto.h) before the configuration is stored, and the worker's
 * systemd scope with its CPU weight (scope.c). Private to vmms/. */
#pragma once

#include "../core/daemon.h"
#include "vmms/processor.h"

struct vmms_processor {
        struct vm_config *next;          /* an Update waiting for the worker's answer */
        char unit[VMMS_SCOPE_UNIT_MAX];  /* the worker's scope; "": none */
};

/* Takes next (the whole new configuration, checked as Update checks it):
 * sends its processor settings to vm's worker and answers call when the
 * worker has applied them (the configuration then stored, a new weight
 * set on the scope) or refused them (nothing changed). Another Update
 * meanwhile is Busy. Returns 1 when the reply is deferred, or a negative
 * errno with e set. */
int vmms_processor_update(struct vmms_vm *vm, sd_bus_message *call, struct vm_config *next, sd_bus_error *e);
/* An Update waiting for the worker: it holds the VM's configuration. */
bool vmms_processor_pending(const struct vmms_vm *vm);
void vmms_processor_free(struct vmms_vm *vm);

/* scope.c. A worker just started (pid): into a scope of its own with the
 * VM's weight where the host allows (asynchronous; a failure is logged
 * and the worker runs on in vmms's cgroup), else the reason logged when
 * the VM has a weight other than the default (not enforced). */
void vmms_scope_worker_started(struct vmms_vm *vm, pid_t pid);
/* The VM's weight changed while its worker runs: the scope's CPUWeight. */
void vmms_scope_set_weight(struct vmms_vm *vm, uint32_t weight);
void vmms_scopes_free(struct vmms_daemon *d);
