/* SPDX-License-Identifier: MIT */
/* Metering (docs/metering.md): what vmms takes from a worker's "stats"
 * reply and the kernel, the totals since a reset, the rates over a window,
 * and the JSON document GetMetrics returns (and the Prometheus exposition
 * is made from: vmms/metrics-prom.h). Pure: unit-tested
 * (tests/unit/test-vmms-metering.c) and fuzzed (fuzz-vmms-metering): a
 * worker runs a hostile guest's VM, so its reply is bounded and checked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct json_object;

struct vmms_meter_disk {
        uint64_t read_bytes, write_bytes, read_ops, write_ops, flush_ops;
        uint64_t read_latency_ns, write_latency_ns;
};

struct vmms_meter_nic {
        uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_dropped, tx_dropped;
};

/* One sample of a VM's counters (or a difference of two). Arrays by the
 * configuration's index (disks[i] is the configuration's disks[i]); a
 * count is the number of entries the worker reported. */
struct vmms_meter_sample {
        uint64_t at_us;          /* CLOCK_MONOTONIC when taken; 0: none */
        uint64_t worker_cpu_ns;  /* the worker process's user + system time (/proc/PID/stat) */
        unsigned n_vcpus, n_disks, n_nics;
        uint64_t vcpu_ns[VM_VCPUS_MAX];
        struct vmms_meter_disk disks[VM_DISKS_MAX];
        struct vmms_meter_nic nics[VM_NICS_MAX];
};

/* Fills out's counters from a worker's "stats" reply (vcpu_cpu_ns,
 * disk_io, nics: docs/vmwp.md); at_us and worker_cpu_ns are the caller's.
 * -EINVAL for a field of the wrong type, a negative counter, more vCPUs,
 * disks or NICs than a VM may have, a disk index out of range or twice;
 * out is then all zero. Missing arrays count as none (an older worker). */
int vmms_meter_parse(struct json_object *stats, struct vmms_meter_sample *out);

/* The user + system time in /proc/PID/stat's text, in ns (ticks_per_s:
 * sysconf(_SC_CLK_TCK)). -EINVAL for text that is not a stat line. */
int vmms_meter_proc_cpu_parse(const char *text, size_t len, uint64_t ticks_per_s, uint64_t *ns);

/* out = a - b, counter by counter; a counter below its base (the worker
 * started again and counts from 0) gives a's own value. Counts: a's. */
void vmms_meter_sub(const struct vmms_meter_sample *a, const struct vmms_meter_sample *b,
                    struct vmms_meter_sample *out);
/* acc = the larger of acc and d, counter by counter (a worker's final
 * counters over its newest sample: a counter it could no longer read is
 * 0 there); counts: the larger. */
void vmms_meter_max(struct vmms_meter_sample *acc, const struct vmms_meter_sample *d);
/* acc += d, counter by counter, saturating; counts: the larger. */
void vmms_meter_add(struct vmms_meter_sample *acc, const struct vmms_meter_sample *d);

/* A sample as JSON (the worker's "stats" names, with at_us and
 * worker_cpu_ns; counters above INT64_MAX saturate), what vmms keeps in
 * <state-dir>/<id>.metering; NULL without memory. And back:
 * vmms_meter_parse's rules, -EINVAL (out all zero) for a file that breaks
 * them. */
struct json_object *vmms_meter_to_json(const struct vmms_meter_sample *s);
int vmms_meter_from_json(struct json_object *o, struct vmms_meter_sample *out);

/* What a GetMetrics document is made of. */
struct vmms_meter_view {
        const char *name, *id, *state;
        uint64_t uptime_us;          /* 0 when it does not run */
        uint64_t reset_at_us;        /* CLOCK_REALTIME of the last reset (or of vmms's start) */
        uint64_t sampled_at_us;      /* CLOCK_REALTIME of the sample */
        uint64_t memory_assigned, memory_demand; /* bytes */
        const struct vmms_meter_sample *total; /* since the reset */
        /* The rates: (now - then) / window; then NULL: no window yet. */
        const struct vmms_meter_sample *now, *then;
        /* The configuration's disk paths and NIC MACs by index (NULL: none). */
        const char *const *disk_paths;
        const char *const *nic_macs;
};
/* The document (docs/metering.md "GetMetrics"); NULL without memory. */
struct json_object *vmms_meter_document(const struct vmms_meter_view *v);

/* The documents of a VM's periodic samples (GetMetricsHistory), oldest
 * first: at most VMMS_METER_HISTORY_MAX, none taken more than
 * VMMS_METER_HISTORY_US before the newest (the Cockpit page's graphs show
 * 5 minutes: 30 samples at the default 10 s interval). */
#define VMMS_METER_HISTORY_MAX 60u
#define VMMS_METER_HISTORY_US (300ull * 1000000)
struct vmms_meter_history {
        char *doc[VMMS_METER_HISTORY_MAX];      /* JSON text */
        uint64_t at_us[VMMS_METER_HISTORY_MAX]; /* CLOCK_MONOTONIC when taken */
        unsigned first, n;
};
/* Adds a copy of doc, taken at at_us (not before the newest), and drops
 * what falls outside the bounds; -ENOMEM or -EINVAL (time went back)
 * leave the history as it was. */
int vmms_meter_history_push(struct vmms_meter_history *h, const char *doc, uint64_t at_us);
/* The history as one JSON array's text, "[]" when empty; malloc'd, NULL
 * without memory. */
char *vmms_meter_history_text(const struct vmms_meter_history *h);
void vmms_meter_history_clear(struct vmms_meter_history *h);
