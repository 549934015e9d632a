/* SPDX-License-Identifier: MIT */
/* The VM's processor settings ("processor" in its configuration,
 * common/config.h) as Update changes them: the pure decision of where a
 * change goes, unit-tested (tests/unit/test-vmms-processor.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "vmms/lifecycle.h"

/* Whether next's "processor" may replace cur's while the VM is in state s.
 * 0 and *to_worker false: unchanged, or the configuration alone changes
 * (Off, Crashed, Saved: the next start or restore applies it). 0 and
 * *to_worker true: a worker runs the VM (Running, Paused) and must apply
 * it before the change is stored. -EBUSY with "processor: ..." in err
 * while a worker is being started, stopped, saved or migrated (the change
 * would miss the worker that carries the VM on). */
int vmms_processor_check_update(const struct vm_config *cur, const struct vm_config *next, enum vmms_state s,
                                bool *to_worker, char *err, size_t errlen);

/* The worker's systemd scope (processor/scope.c, docs/vmms.md "Processor
 * limit"): "vmstack-<name>-<first 8 of the id>-<worker pid>.scope" in
 * machine.slice: one per worker, so that a restarted VM's new worker does
 * not meet the scope of its last one before systemd collected it.
 * -EINVAL when it does not fit len (never with a valid name and id). */
#define VMMS_SCOPE_UNIT_MAX 96
int vmms_scope_unit_name(const char *name, const char *id, pid_t pid, char *out, size_t len);
/* Whether this host can hold the workers in scopes of their own, from its
 * files under root ("/"; a test's directory): systemd as PID 1
 * (root/run/systemd/system) and cgroup v2 with the CPU controller
 * (root/sys/fs/cgroup/cgroup.controllers names "cpu"). 0, or -ENOTSUP
 * with the reason in why. */
int vmms_scope_host_check(const char *root, char *why, size_t len);

/* The worker's memory bound (docs/vmms.md "Processor limit", "The
 * worker's memory"): the scope's MemoryHigh, in bytes, is the most guest
 * memory the worker maps (startup memory and Dynamic Memory's hot-add
 * window: vm_dm_reach_mib, or reach_mib when that is larger: the window
 * a running worker mapped at its start) plus an allowance for the
 * worker's own overhead: VMMS_WORKER_OVERHEAD_BASE_MIB, per vCPU
 * VMMS_WORKER_OVERHEAD_VCPU_MIB, per disk and per NIC
 * VMMS_WORKER_OVERHEAD_DEVICE_MIB (so that a device added to the running
 * VM raises it as a settings change does), the video's VRAM when the VM
 * has a display, and 1/VMMS_WORKER_OVERHEAD_RAM_DIV of the guest memory
 * (rounded up: the host's page tables and KVM's per-page tables for it,
 * charged to the worker's cgroup). */
#define VMMS_WORKER_OVERHEAD_BASE_MIB 256u
#define VMMS_WORKER_OVERHEAD_VCPU_MIB 8u
#define VMMS_WORKER_OVERHEAD_DEVICE_MIB 4u
#define VMMS_WORKER_OVERHEAD_VRAM_MIB 16u /* VIDEOVSP_VRAM_MIB, which vmms does not link */
#define VMMS_WORKER_OVERHEAD_RAM_DIV 64u
uint64_t vmms_scope_memory_high(const struct vm_config *c, uint64_t reach_mib);

/* The name systemd-machined lists the VM under (machinectl list): its own
 * name when that is a valid machine name (a host name: letters, digits,
 * '-' and '.', no '_', no empty label, no '-' or '.' at either end, at
 * most 64 characters), else "vmstack-<first 8 of the id>". -EINVAL when
 * it does not fit len (at least 65 always fits). */
int vmms_machine_name(const char *name, const char *id, char *out, size_t len);
/* The VM's id ("00112233-4455-...") as the 16 bytes of machined's
 * machine ID, in the order they are written (machinectl shows the same
 * UUID). -EINVAL for a malformed id. */
int vmms_machine_id_bytes(const char *id, uint8_t out[16]);
/* The interface indices of the TAPs named in names[0..n) (the worker's,
 * at its start) for machined's RegisterMachineWithNetwork, into out[]
 * (room for n); a name no interface has (gone, or "") is left out.
 * Returns how many. */
uint32_t vmms_machine_ifindices(const char (*names)[16], uint32_t n, int32_t *out);
