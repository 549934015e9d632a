/* SPDX-License-Identifier: MIT */
/* Storage QoS of one virtual disk (docs/storvsp.md, "Storage QoS"), as
 * Hyper-V has it per virtual hard disk: a maximum of IOPS normalised to
 * 8 KiB (an I/O of up to 8 KiB counts 1, 16 KiB counts 2, ...), a maximum
 * byte rate, and a minimum of IOPS that is measured and reported, never
 * reserved (user space cannot reserve a share of the host's device).
 *
 * The limiter is a token bucket in its virtual-scheduling form (GCRA, as
 * ATM policing has it): each limit keeps the theoretical time at which its
 * next request is due; a request reserves its cost (its normalised I/Os or
 * its bytes as nanoseconds at the configured rate) and may start when
 * every limit's due time, less the burst tolerance, has come. Reservations
 * are taken in arrival order by every queue (channel) of the disk under
 * one lock, so the channels of a disk share its rate first come, first
 * served, and no channel can starve another; each disk has its own bucket,
 * so a capped disk does not slow an uncapped one. A bucket idle for a
 * while saves up at most the burst (DISK_QOS_BURST_NS of the rate).
 *
 * The functions here are pure (the caller passes a CLOCK_MONOTONIC time in
 * nanoseconds), for the unit tests' fake clock; the disk queue uses them
 * under the disk's lock (disk.h: disk_set_qos). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* Hard limits (docs/THREAT_MODEL.md): anything above is a configuration
 * error, not a limit worth enforcing. */
#define DISK_QOS_NORMAL_BYTES 8192u                  /* Hyper-V's IOPS normalisation size */
#define DISK_QOS_MAX_IOPS VM_DISK_QOS_MAX_IOPS               /* 10 M normalised IOPS (80 GB/s) */
#define DISK_QOS_MAX_BYTES_PER_S VM_DISK_QOS_MAX_BYTES_PER_S /* 1 TB/s */
/* The burst a limit allows after idling: a tenth of a second's worth of
 * the rate (QEMU's throttling default, block/throttle-groups). One second's
 * worth would let a 10 s measurement run 10 % over its cap. */
#define DISK_QOS_BURST_NS 100000000ull
/* A queue holding requests looks at the limits again at least this often
 * (a live change reaches requests already held). */
#define DISK_QOS_RECHECK_NS 50000000ull
/* The window over which delivered IOPS are held against the minimum. */
#define DISK_QOS_WINDOW_NS 1000000000ull
/* A disk counts as demanding I/O in a window when it had requests
 * outstanding for at least this share of it (per mille). */
#define DISK_QOS_BUSY_PERMILLE 900u

struct disk_qos_limits {
        uint64_t max_iops;        /* normalised I/Os per second; 0: unlimited */
        uint64_t max_bytes_per_s; /* 0: unlimited */
        uint64_t min_iops;        /* normalised I/Os per second reported when not met; 0: none */
};

/* 0, or -EINVAL with "<field>: <why>" in err (vm_disk_qos_invalid, the
 * configuration's own check): a minimum above the maximum, a value above
 * the hard limits. */
int disk_qos_limits_check(const struct disk_qos_limits *l, char *err, size_t errlen);
static inline bool disk_qos_limits_throttle(const struct disk_qos_limits *l) {
        return l->max_iops || l->max_bytes_per_s;
}

/* An I/O's normalised count: 1 for up to 8 KiB (also for no data: a
 * flush, a discard), then one per 8 KiB started. */
uint64_t disk_qos_units(uint64_t bytes);

struct disk_qos_bucket {
        struct disk_qos_limits lim;
        uint64_t tat_iops, tat_bytes; /* due times (ns) of the next request */
        unsigned gen;                 /* bumped by each change of the limits */
};

/* Sets the limits (the due times start again from now: requests held under
 * the old limits reserve again, disk_qos_bucket_reserve with the new gen). */
void disk_qos_bucket_set(struct disk_qos_bucket *b, const struct disk_qos_limits *l, uint64_t now);
/* Reserves a request of bytes (0: no data) arriving at now; returns the
 * time at which it may start (<= now: at once). */
uint64_t disk_qos_bucket_reserve(struct disk_qos_bucket *b, uint64_t now, uint64_t bytes);

/* The minimum's measurement: normalised I/Os completed and the time with
 * at least one request outstanding (queued, held or in flight). */
struct disk_qos_meter {
        uint64_t units_done;
        uint64_t busy_ns;
        uint64_t busy_since; /* when outstanding became non-zero */
        uint64_t outstanding;
        uint64_t window_start, window_units, window_busy; /* at the last sample */
};
void disk_qos_meter_start(struct disk_qos_meter *m, uint64_t now);
void disk_qos_meter_done(struct disk_qos_meter *m, uint64_t now, uint64_t units);

struct disk_qos_sample {
        uint64_t window_ns;     /* since the previous sample */
        uint64_t iops;          /* normalised I/Os per second delivered in it */
        uint64_t busy_permille; /* share of it with requests outstanding */
        bool demand;            /* busy_permille >= DISK_QOS_BUSY_PERMILLE */
        bool min_not_met;       /* a minimum is set, demand, and iops below it */
};
/* Closes the window that began at the previous sample (or the meter's
 * start) and opens the next. */
void disk_qos_meter_sample(struct disk_qos_meter *m, uint64_t now, uint64_t min_iops, struct disk_qos_sample *s);
