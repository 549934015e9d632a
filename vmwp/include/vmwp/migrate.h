/* SPDX-License-Identifier: MIT */
/* Live migration between two workers (docs/migration.md): the source's
 * pre-copy passes and switch-over (migrate.c), the destination's receive
 * (migrate-in.c). The stream is common/migstream.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct vmwp_vm;

struct vmwp_migrate_options {
        uint32_t max_downtime_ms; /* the pause the switch-over may take; default 300 */
        uint32_t max_passes;      /* pre-copy passes before giving up; default 30 */
        uint32_t max_time_ms;     /* pre-copy time before giving up; default 60000 */
        uint32_t peer_timeout_ms; /* the destination's answers and reads; default 30000 */
        bool auto_converge;       /* throttle the vCPUs when passes do not converge; default true */
        /* Shared-nothing: send the writable disks' content too (the
         * destination's disks are new, empty images); default false. */
        bool copy_disks;
        /* Post-copy (docs/migration.md "Post-copy"): when the passes or the
         * time run out without meeting the budget, switch over all the
         * same and let the destination fetch the pages still dirty while
         * the guest runs there, instead of failing; default false. */
        bool postcopy;
};
void vmwp_migrate_options_init(struct vmwp_migrate_options *o);
/* {"max_downtime_ms":n,"max_passes":n,"max_time_ms":n,"peer_timeout_ms":n,
 * "auto_converge":bool,"copy_disks":bool,"postcopy":bool}, each optional, from a migrate-send request; -EINVAL and a sentence for a
 * wrong type or a value out of range. */
int vmwp_migrate_options_parse(struct json_object *req, struct vmwp_migrate_options *o, char *err, size_t errlen);

/* What the source reports after each pass. */
struct vmwp_migrate_progress {
        uint32_t pass;             /* 1: all of RAM; then the pages dirtied meanwhile */
        uint64_t bytes_sent;       /* the whole stream so far */
        uint64_t dirty_pages;      /* dirtied during this pass: the next pass's work */
        uint64_t dirty_rate;       /* pages per second during this pass */
        uint64_t bandwidth;        /* bytes per second this pass reached */
        uint64_t dirty_disk_bytes; /* shared-nothing: disk chunks written during this pass */
        uint64_t expected_downtime_ms; /* sending dirty_pages (and dirty_disk_bytes, the device memories' dirty pages) at that bandwidth, and the devices */
        uint32_t throttle_pct;     /* auto-converge: the share of each 10 ms the vCPUs spend parked from now on */
        /* Post-copy, after the switch-over: dirty_pages is what is left to
         * send; committed once the COMMIT went (the VM is the
         * destination's: no cancel any more). */
        bool postcopy, committed;
};

/* Auto-converge (docs/migration.md, "Convergence"): the throttle after a
 * pass whose estimate is expect_ns, the previous pass's prev_expect_ns (0
 * after pass 1: nothing to compare with yet). Unchanged while the
 * estimate fits the budget or falls clearly (below 3/4 of the previous
 * one); otherwise 20 %, then 10 more per pass, at most 99. Pure. */
#define VMWP_THROTTLE_INITIAL_PCT 20u
#define VMWP_THROTTLE_STEP_PCT 10u
#define VMWP_THROTTLE_MAX_PCT 99u
uint32_t vmwp_migrate_throttle_next(uint32_t pct, uint64_t prev_expect_ns, uint64_t expect_ns, uint64_t budget_ns);

struct vmwp_migrate_result {
        uint32_t passes;
        uint64_t bytes;       /* the whole stream */
        uint64_t pages, zero_pages; /* PAGES and ZERO pages sent, every pass */
        uint64_t final_pages; /* in the final state's RAM section */
        uint64_t disk_bytes;  /* shared-nothing: the disks' content sent (DISK payloads), every pass */
        uint64_t final_disk_bytes; /* of those, sent in the downtime */
        uint64_t devmem_bytes; /* device memory (a VRAM) sent as DEVMEM payloads, every pass */
        uint64_t final_devmem_bytes; /* of those, sent in the downtime */
        uint64_t total_ns;    /* from the request to the destination's RUNNING */
        uint64_t downtime_ns; /* from the pause to the destination's RUNNING */
        /* The downtime's parts: pausing (vCPUs parked, devices quiesced);
         * the last pages and the final state sent; the destination's
         * READY, the COMMIT and its RUNNING (its restore and start). */
        uint64_t pause_ns, state_ns, commit_ns;
        uint64_t paused_at_ns; /* the pause began (vmwp_now_ns's clock, CLOCK_MONOTONIC); 0: never paused */
        /* COMMIT went out: the VM is the destination's. With a failure, it
         * stays paused here (the destination's confirmation was lost; its
         * vmms knows whether it runs). */
        bool committed;
        uint32_t throttle_pct; /* auto-converge's throttle at the end (0: never on); off again either way */
        uint64_t throttled_ns; /* the vCPUs' time parked by it, all vCPUs together */
        /* Post-copy: it switched to it; the pages it served after the
         * switch-over (of which asked for by the destination's faults),
         * and how long that took (to the destination's POSTCOPY_DONE). */
        bool postcopy;
        uint64_t postcopy_pages, postcopy_requested, postcopy_requests, postcopy_ns;
        uint64_t running_at_ns; /* post-copy: the destination's RUNNING (vmwp_now_ns's clock) */
};

/* The source: sends the VM over the connected stream socket fd while it
 * runs, pass after pass, until what is left fits max_downtime_ms; then
 * pauses it (vCPUs and devices), sends the final state, waits for the
 * destination's READY, sends COMMIT and waits for RUNNING. Success leaves
 * the VM paused (the caller stops it: it runs on the destination now). A
 * failure before COMMIT (the peer gone or refusing, no convergence within
 * the limits, no READY in time) stops the tracking, resumes a VM it paused
 * and returns -errno with a sentence: the VM keeps running here. A failure
 * after COMMIT (no RUNNING) sets res->committed and leaves the VM paused:
 * only the destination's side knows whether it runs there. With
 * auto_converge, passes that leave the estimate above the budget and not
 * clearly falling throttle the vCPUs (vid_partition_set_throttle); the
 * throttle is off again when this returns, whatever the outcome. Main
 * thread; blocks until done. */
int vmwp_vm_migrate_send(struct vmwp_vm *vm, int fd, const struct vmwp_migrate_options *o,
                         void (*progress)(void *opaque, const struct vmwp_migrate_progress *p), void *opaque,
                         struct vmwp_migrate_result *res, char *err, size_t errlen);

/* The destination, step 1 (vmwp_vm_create, before the sandbox, on a VM
 * built from the same configuration that has not run): the hello checked
 * against this VM (answered ACCEPT or REFUSE), every page written into
 * guest RAM, the final saved state into a memfd, indexed and vid's
 * sections applied (vm-state.c). Keeps a duplicate of fd for step 2.
 * On a failure the source is told why (REFUSE) where the stream still
 * allows it. */
int vmwp_vm_migrate_receive(struct vmwp_vm *vm, int fd, char *err, size_t errlen);
/* Step 2, with the devices restored, right before the vCPUs start (on
 * the thread that starts them): READY to the source, COMMIT awaited, then
 * RUNNING (the confirmation) and the socket closed. 0: committed, the
 * vCPUs start; a failure (no COMMIT: the source gave up, went away or the
 * stream broke) means they must not, with a sentence. 0 when the VM did
 * not come from a migration. */
int vmwp_vm_migrate_commit(struct vmwp_vm *vm, char *err, size_t errlen);

/* The VM's shape for the hello (RAM, vCPUs, the device table's rows). */
struct mig_hello;
void vmwp_vm_migrate_hello(const struct vmwp_vm *vm, struct mig_hello *h);
