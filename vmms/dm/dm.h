/* SPDX-License-Identifier: MIT */
/* Dynamic Memory in vmms (docs/dynamic-memory.md): the workers' reports and
 * SetTarget (dm.c), the balancer's pure half (balancer.c, vmms/memory.h),
 * org.vmstack.VMMS1.Memory (dm-dbus.c). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"

/* The VM's Dynamic Memory part (vm->dm), made and freed with the VM. */
struct vmms_dm {
        struct vmms_dm_status status; /* the worker's last report (all 0: none yet) */
        bool known;
        uint64_t manual; /* SetTarget's bytes; 0: automatic. Kept for the guest's run (vmms_dm_run_ended) */
        uint64_t sent;   /* the target last sent to the worker; 0: none */
};

/* dm.c: Dynamic Memory (docs/dynamic-memory.md): the workers'
 * "memory" events, the balancer run every memory_interval_us over the
 * Running VMs that have it, and SetTarget. */
int vmms_dm_timer_start(struct vmms_daemon *d);
void vmms_dm_on_event(struct vmms_vm *vm, struct json_object *ev);
/* The worker ended: its reports go (the operator's target stays). */
void vmms_dm_worker_ended(struct vmms_vm *vm);
/* The guest's run ended (Off, Crashed, the saved state discarded): the
 * operator's target goes with it. It outlives a reset, a save and its
 * resume, a revert and a migration (docs/dynamic-memory.md). */
void vmms_dm_run_ended(struct vmms_vm *vm);
/* A restarted vmms re-attached to the worker: its record's target. */
void vmms_dm_reattached(struct vmms_vm *vm, uint64_t target);
/* SetTarget: bytes within the VM's minimum and maximum, or 0 (automatic). */
int vmms_dm_set_target(struct vmms_vm *vm, uint64_t bytes, char *err, size_t errlen);
/* The host memory the balancer may hand out now: MemAvailable less the
 * reserve (negative when the host is short). */
int64_t vmms_dm_host_free(const struct vmms_daemon *d);
/* dm-dbus.c: org.vmstack.VMMS1.Memory on every VM object. */
int vmms_bus_memory_register(struct vmms_daemon *d);
void vmms_bus_memory_emit(struct vmms_vm *vm);
