/* SPDX-License-Identifier: MIT */
/* Validation of what D-Bus callers send to vmms, as pure functions with a
 * fuzz target (tests/fuzz/fuzz-dbus-args.c): configurations for CreateVM and
 * Update, stop timeouts, and which configuration changes a VM accepts in
 * which state. Errors are "<field>: <reason>" sentences. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "vmms/lifecycle.h"

#define VMMS_STOP_TIMEOUT_MAX_S 3600u

/* vm_config_parse() with the VM id made explicit before parsing: instance
 * GUIDs are derived from the id, so a configuration without "id" gets
 * `id` (CreateVM: a new one; Update: the VM's) before it is parsed. A
 * configuration that names a different id than `id` is rejected when
 * must_match is true. Also rejects names that look like ids. */
int vmms_config_parse_for(const char *json, size_t len, const struct guid *id, bool must_match,
                          struct vm_config *out, char *err, size_t errlen);

/* Whether `next` may replace `cur` while the VM is in state s: while a
 * worker runs only vmms-side settings (name, restart_policy,
 * stop_timeout_s, checkpoint_type) may change; everything the worker uses needs Off or
 * Crashed, but "processor", which Update checks apart
 * (vmms_processor_check_update, vmms/processor.h) and a running worker
 * applies. Returns 0, or -EBUSY with the first field that may not change. */
int vmms_config_check_update(const struct vm_config *cur, const struct vm_config *next, enum vmms_state s,
                             char *err, size_t errlen);

/* memory_mib above host_mib (the host's RAM, MemTotal; 0: unknown, not
 * checked) is refused unless c->allow_memory_over_host. With cur (Update)
 * only a change of memory_mib or of the allowance is checked, so a VM
 * that was accepted stays editable. -E2BIG with "memory_mib: ..." naming
 * both sizes. */
int vmms_config_check_memory(const struct vm_config *c, const struct vm_config *cur, uint64_t host_mib, char *err,
                             size_t errlen);

/* Stop(timeout): 0 means the VM's stop_timeout_s; otherwise 1..3600. */
int vmms_stop_timeout_resolve(uint32_t requested, const struct vm_config *c, uint32_t *out_s, char *err,
                              size_t errlen);
