/* SPDX-License-Identifier: MIT */
/* Dynamic Memory in vmms (docs/dynamic-memory.md): what a worker reports
 * of its VM's memory, and the balancer that gives each VM a target from
 * the guests' demand, their buffers and weights, and the host's free
 * memory. Both pure: unit-tested and fuzzed (fuzz-vmms-memory). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Bytes. Every size is a multiple of 4 KiB and at most VMMS_DM_BYTES_MAX. */
#define VMMS_DM_BYTES_MAX (1ull << 50)
/* Targets move in steps of this (the guest balloons 2 MiB at a time). */
#define VMMS_DM_STEP (2ull << 20)

/* The worker's "memory" event, or its reply to the "memory" op. */
struct vmms_dm_status {
        bool connected, reported, can_balloon, can_hot_add;
        uint64_t startup, maximum, assigned, target, ballooned, hot_added, demand, available;
        uint64_t report_age_ms;
        char operation[16]; /* none, balloon, unballoon, hot-add */
        char note[128];
};
/* -EINVAL for a field of the wrong type or out of range (a size above
 * VMMS_DM_BYTES_MAX or not a multiple of 4 KiB, assigned above maximum, an
 * unknown operation, a note that does not fit). Unknown fields are
 * ignored (a newer worker). */
int vmms_dm_status_parse(struct json_object *o, struct vmms_dm_status *out);

/* One VM as the balancer sees it. */
struct vmms_dm_vm {
        uint64_t minimum, maximum;   /* the configuration's, in bytes */
        uint32_t buffer_percent;     /* 5..2000 */
        uint32_t weight;             /* 0..10000 */
        uint64_t manual;             /* the operator's target (SetTarget); 0: automatic */
        bool reported;               /* the guest reported its demand */
        uint64_t assigned, demand;   /* what it has; what it uses (reported) */
};

/* The VMs' targets (bytes, steps of VMMS_DM_STEP, within each VM's
 * minimum and maximum):
 *   - each VM wants its demand plus its buffer (an operator's target
 *     instead, where set; what it has, while it has not reported);
 *   - what VMs above their want give up, and host_free, go to the VMs
 *     below theirs, the heaviest weight first;
 *   - when that is negative (the host needs memory back), the lightest
 *     VMs give up their buffers first, down to their demand (never below
 *     an operator's target).
 * host_free: memory the host can still give (its free memory less a
 * reserve); negative when it is short. */
void vmms_dm_balance(const struct vmms_dm_vm *vms, size_t n, int64_t host_free, uint64_t *targets);
