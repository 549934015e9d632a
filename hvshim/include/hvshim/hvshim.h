/* SPDX-License-Identifier: MIT */
/* hvshim: the Hyper-V guest interface (TLFS) emulated in user space on top of
 * vid: CPUID leaves, synthetic MSRs, the hypercall page and hypercalls,
 * SynIC and reference time. KVM's own Hyper-V support is never used.
 *
 * Threading: MSR and hypercall handling run on VP threads. The host->guest
 * calls (synic_post_message, synic_signal_event) may be called from any
 * thread; synic_signal_event is lock-free (an atomic OR into the guest's
 * event page and an eventfd write into an irqfd). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vid_partition;
struct vid_msr_range;
struct hvshim;

/* Optional features (docs/hvshim.md). A NULL config enables all four. The
 * TSC page and the frequency MSRs are dropped when KVM reports no TSC rate. */
struct hvshim_config {
        bool reference_tsc;  /* CPUID 0x40000003 EAX bit 9 + the TSC page */
        bool frequency_msrs; /* TSC/APIC frequency MSRs */
        bool tsc_invariant;  /* EAX bit 15 + TSC_INVARIANT_CONTROL */
        bool crash_msrs;     /* EDX bit 10 + CRASH_P0..4/CTL */
        /* Guest time runs this many times slower than real time (0 and 1:
         * not at all): the TSC and APIC frequencies the guest is told, and
         * with them the reference time, are scaled by it. For hosts that
         * emulate the guest kernel (vid_pvm_linux_time_dilation()). */
        unsigned time_dilation;
};
#define HVSHIM_MAX_TIME_DILATION 64u

/* Sets CPUID, the MSR filter and the hypercall/doorbell ports on p. Must be
 * called before vid_partition_start(). vid cannot undo registrations: after
 * a failure, destroy the partition instead of starting it. */
int hvshim_create(struct vid_partition *p, const struct hvshim_config *cfg, struct hvshim **out);
/* The MSR ranges hvshim_create routes to itself, for
 * vid_partition_config.msr_ranges (the filter is then set up once, early). */
size_t hvshim_msr_ranges(const struct vid_msr_range **ranges);
/* Once the VPs are stopped (vid_partition_join) and before
 * vid_partition_destroy(): removes ioeventfds and irqfds. Accepts NULL. */
void hvshim_destroy(struct hvshim *hv);

/* ---- guest -> host -------------------------------------------------- */

/* HvPostMessage for a connection id. Runs on the VP thread of the caller;
 * payload is a validated private copy. Returns an HV_STATUS_* code that the
 * guest sees (e.g. HV_STATUS_INSUFFICIENT_BUFFERS to make it retry). */
typedef uint16_t (*hvshim_message_fn)(void *opaque, unsigned vp_index, uint32_t message_type,
                                      const void *payload, uint32_t size);
/* Setting an id that has a handler replaces it. A handler must not set or
 * clear handlers itself (it runs under the table's read lock); it may post
 * messages, signal events and register/unregister events. At most HVSHIM_MAX_MESSAGE_HANDLERS ids. */
#define HVSHIM_MAX_MESSAGE_HANDLERS 64u
int hvshim_set_message_handler(struct hvshim *hv, uint32_t connection_id, hvshim_message_fn fn, void *opaque);
int hvshim_clear_message_handler(struct hvshim *hv, uint32_t connection_id);

/* HvSignalEvent(connection_id) makes efd readable. Implemented with an
 * ioeventfd on the doorbell port, so the signal never reaches user space
 * (nor the vmwp main loop). At most HVSHIM_MAX_EVENTS registrations; ids
 * are 24 bits. hvshim keeps its own duplicate of efd. May be called while
 * the partition runs. */
#define HVSHIM_MAX_EVENTS 4096u
int hvshim_register_event(struct hvshim *hv, uint32_t connection_id, int efd);
int hvshim_unregister_event(struct hvshim *hv, uint32_t connection_id);

/* ---- host -> guest -------------------------------------------------- */

/* Post a message to a VP's SINT: written into its SIMP slot if free, else
 * queued (msg_pending + EOM, TLFS). Returns 0 if delivered or queued,
 * -ENOBUFS if that VP's queue is full (HVSHIM_MAX_QUEUED), -EINVAL on a bad
 * VP/SINT/size. A message for a VP whose SynIC is not enabled is queued
 * and delivered once the guest enables SCONTROL, SIMP and unmasks the SINT. */
#define HVSHIM_MAX_QUEUED 256u
int synic_post_message(struct hvshim *hv, unsigned vp_index, unsigned sint, uint32_t message_type,
                       const void *payload, size_t len);

/* Set event flag `flag` of `sint` in the VP's SIEF page and raise the SINT
 * (if enabled and unmasked; else remembered until unmask). */
int synic_signal_event(struct hvshim *hv, unsigned vp_index, unsigned sint, unsigned flag);

/* Partition reference time in 100 ns units: the timeline of the guest's
 * TIME_REF_COUNT and reference TSC page, 0 at hvshim_create() (after
 * hvshim_state_restore(), the saved timeline's, continued). */
uint64_t hvshim_reference_time(struct hvshim *hv);
/* How many times slower the guest's clock runs than the host's: the
 * configuration's time_dilation (1 for 0) at hvshim_create(), the saved
 * one after hvshim_state_restore() (a guest keeps the clock it
 * calibrated, whatever this host would have chosen). */
unsigned hvshim_time_dilation(const struct hvshim *hv);

/* ---- notifications to the owner (vmwp) ------------------------------- */

struct hvshim_crash_report {
        uint64_t p[5]; /* CRASH_P0..P4 */
        uint64_t ctl;
        char message[512]; /* with CRASH_NOTIFY_MSG: the guest's log tail, NUL-terminated */
};

struct hvshim_owner_ops {
        /* The guest reported a crash through the crash MSRs (on a VP thread). */
        void (*guest_crashed)(void *opaque, const struct hvshim_crash_report *r);
        /* The guest disabled SynIC messaging on a VP (kexec, CPU offline):
         * queued messages for it were dropped. */
        void (*synic_reset)(void *opaque, unsigned vp_index);
};
void hvshim_set_owner_ops(struct hvshim *hv, const struct hvshim_owner_ops *ops, void *opaque);

/* The guest-physical pages the hypervisor overlays on the guest's RAM
 * (TLFS 5.2.1 "GPA overlay pages"): the hypercall page, the reference TSC
 * page, and each VP's SynIC message and event-flag pages and VP assist
 * page, those enabled now. The RAM under an overlay is hidden, not gone:
 * whoever takes RAM away (Dynamic Memory's balloon) must leave these
 * pages be. Fills at most max page frame numbers, returns how many there
 * are (more than max: some left out). Any thread. */
#define HVSHIM_OVERLAYS_MAX (2u + 3u * VID_MAX_VPS)
size_t hvshim_overlay_pages(struct hvshim *hv, uint64_t *pfns, size_t max);

struct hvshim_stats {
        uint64_t hypercalls, post_messages, signal_events_user, hypercall_errors;
        uint64_t msr_reads, msr_writes, msr_gp;
        uint64_t messages_posted, messages_queued, messages_dropped, events_signaled;
};
void hvshim_get_stats(struct hvshim *hv, struct hvshim_stats *out);
