/* SPDX-License-Identifier: MIT */
/* The processor settings of a VM whose worker runs (docs/vmms.md
 * "Processor limit"): Update's change sent to the worker ("processor" op,
 * common/proto.h) before the configuration is stored, and the worker's
 * systemd scope with its CPU weight (scope.c). Private to vmms/. */
#pragma once

#include "../core/daemon.h"
#include "vmms/processor.h"

struct vmms_processor {
        char unit[VMMS_SCOPE_UNIT_MAX];  /* the worker's scope; "": none */
        uint64_t reach_mib;              /* the guest memory the worker mapped at its start */
        uint64_t memory_high;            /* the scope's MemoryHigh as last asked for (bytes) */
        char machine[VM_NAME_MAX + 1];   /* its name with systemd-machined (machine.c); "": none */
        pid_t machine_leader;            /* the worker, registered once its scope has started */
        bool machine_wait;               /* waiting for the scope's start job (JobRemoved) */
        int32_t ifindex[VM_NICS_MAX];    /* the worker's TAPs at its start, for machined */
        uint32_t n_ifindex;
};

/* The daemon's connection to systemd for the scopes (scope.c), NULL
 * until the first start. */
struct vmms_scopes {
        sd_bus *bus; /* NULL: not used, why says why */
        char why[200];
        bool machined_off; /* systemd-machined is not there: said once, not asked again */
};

/* Takes next (the whole new configuration, checked as Update checks it):
 * sends its processor settings to vm's worker and answers call when the
 * worker has applied them (the configuration then stored, a new weight
 * set on the scope) or refused them (nothing changed). Another Update
 * meanwhile is Busy. Returns 1 when the reply is deferred, or a negative
 * errno with e set. */
int vmms_processor_update(struct vmms_vm *vm, sd_bus_message *call, struct vm_config *next, sd_bus_error *e);
void vmms_processor_free(struct vmms_vm *vm);

/* scope.c. A worker just started (pid): into a scope of its own with the
 * VM's weight where the host allows (asynchronous; a failure is logged
 * and the worker runs on in vmms's cgroup), else the reason logged when
 * the VM has a weight other than the default (not enforced). */
void vmms_scope_worker_started(struct vmms_vm *vm, pid_t pid);
/* The VM's configuration changes from old (vm->config) to next while its
 * worker runs: the scope's CPUWeight and MemoryHigh follow next where they
 * differ. Called before vm->config becomes next. */
void vmms_scope_config_changed(struct vmms_vm *vm, const struct vm_config *old, const struct vm_config *next);
void vmms_scopes_free(struct vmms_daemon *d);
/* Calls m (taken) on the scopes' bus without waiting; done gets the reply
 * with c, which is freed after it (or at once when the call cannot be
 * sent, as m is); a NULL c (its allocation failed) is -ENOMEM. */
int vmms_scopes_call_async(struct vmms_scopes *s, sd_bus_message *m, sd_bus_message_handler_t done, void *c);

/* machine.c: the VM registered with systemd-machined once its worker's
 * scope has started. vmms_machine_watch follows the scopes' start jobs on
 * the scopes' bus; vmms_machine_scope_asked marks the VM to register when
 * its scope's job is done (pid its leader); vmms_machine_unregister when
 * its worker has ended. Failures are logged, never fatal to the VM; no
 * machined is logged once. */
int vmms_machine_watch(struct vmms_daemon *d, sd_bus *bus);
void vmms_machine_scope_asked(struct vmms_vm *vm, pid_t pid);
/* The worker's TAPs (names[0..n), by NIC index) as it starts, after
 * vmms_scope_worker_started: machined is given their interfaces with the
 * registration (RegisterMachineWithNetwork), so that machinectl status
 * names them. Nothing when the VM is not to be registered. */
void vmms_machine_taps(struct vmms_vm *vm, const char (*names)[16], uint32_t n);
void vmms_machine_unregister(struct vmms_vm *vm);
