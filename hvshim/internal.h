/* SPDX-License-Identifier: MIT */
/* hvshim internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "hvshim/decode.h"
#include "hvshim/hvshim.h"
#include "hvshim/state.h"
#include "vid/vid.h"

#define HV_SIEF_WORDS_PER_SINT (HV_EVENT_FLAGS_COUNT / 64u)

struct synic_qmsg {
        struct synic_qmsg *next;
        struct hv_message msg;
};

struct synic_queue {
        struct synic_qmsg *head, *tail;
};

/* One VP's SynIC (docs/hyperv-guest-interface.md §3). The MSR values,
 * the message page and the queues are under `lock` (the VP thread writes
 * the MSRs, any thread posts). Event signalling is lock-free: it only uses
 * the atomics in the second half. */
struct synic_vp {
        struct hvshim *hv;
        unsigned index;
        uint32_t apic_id;
        bool lock_init;

        pthread_mutex_t lock;
        struct hv_msr_vp msrs;
        uint8_t *simp;    /* host view of the enabled SIMP page, or NULL */
        bool active;      /* SCONTROL and SIMP enabled: slots may be written */
        struct synic_queue queue[HV_SYNIC_SINT_COUNT];
        unsigned n_queued; /* <= HVSHIM_MAX_QUEUED */
        bool routed[HV_SYNIC_SINT_COUNT];
        unsigned gsi[HV_SYNIC_SINT_COUNT];
        uint8_t routed_vector[HV_SYNIC_SINT_COUNT];

        _Atomic(uint64_t *) sief; /* host view of the enabled SIEF page, or NULL */
        atomic_uint sief_users;   /* signallers that may hold an old `sief` */
        atomic_uint deliverable;  /* bit per SINT: SCONTROL on, unmasked, valid vector */
        atomic_uint pending_irq;  /* bit per SINT: an interrupt is owed */
        atomic_int irq_fd[HV_SYNIC_SINT_COUNT];        /* irqfd eventfd, or -1: KVM_SIGNAL_MSI */
        _Atomic uint8_t vector[HV_SYNIC_SINT_COUNT];
        /* Flags signalled while SIEFP is disabled, merged in on enable. */
        uint64_t shadow[HV_SYNIC_SINT_COUNT][HV_SIEF_WORDS_PER_SINT];
};

struct hvshim_msg_handler {
        uint32_t connection_id;
        hvshim_message_fn fn;
        void *opaque;
};

struct hvshim_event {
        uint32_t connection_id;
        int efd; /* our dup of the caller's eventfd */
};

struct hvshim {
        struct vid_partition *p;
        struct hvshim_config cfg;
        unsigned n_vps;
        struct synic_vp *vps;
        unsigned n_vps_init;
        bool locks_init;

        /* Reference time (reftime.c), fixed at creation or restore. */
        uint32_t tsc_khz;        /* the partition's TSC rate at creation (KVM's, unscaled) */
        uint64_t tsc_hz;         /* as the guest is told: the TSC's rate x time_dilation */
        unsigned time_dilation; /* >= 1 */
        int64_t tsc_offset;     /* guest TSC = host TSC + tsc_offset */
        uint64_t tsc_scale;     /* 0: no usable reference TSC page */
        int64_t ref_offset;     /* page offset: reference time 0 at creation */
        uint64_t mono_start_ns; /* clock when the TSC frequency is unknown */

        pthread_mutex_t msr_lock; /* partition-wide MSRs and the pages they fill */
        struct hv_msr_partition pmsrs;
        uint32_t tsc_sequence;

        pthread_mutex_t ops_lock;
        struct hvshim_owner_ops ops;
        void *ops_opaque;

        /* Two locks, so a message handler (run under conn_lock) may
         * register and unregister events (the VMBus server does on OPEN). */
        pthread_rwlock_t conn_lock;  /* message handlers */
        pthread_rwlock_t event_lock; /* event registrations */
        struct hvshim_msg_handler handlers[HVSHIM_MAX_MESSAGE_HANDLERS];
        size_t n_handlers;
        struct hvshim_event *events; /* sorted by connection_id */
        size_t n_events, cap_events;

        struct {
                atomic_uint_fast64_t hypercalls, post_messages, signal_events_user, hypercall_errors;
                atomic_uint_fast64_t msr_reads, msr_writes, msr_gp;
                atomic_uint_fast64_t messages_posted, messages_queued, messages_dropped, events_signaled;
        } stats;
};

#define HV_STAT_INC(hv, field) atomic_fetch_add_explicit(&(hv)->stats.field, 1, memory_order_relaxed)
#define HV_STAT_ADD(hv, field, n) atomic_fetch_add_explicit(&(hv)->stats.field, (n), memory_order_relaxed)

/* cpuid.c */
int hvshim_cpuid_install(struct hvshim *hv);

/* reftime.c */
int hvshim_time_init(struct hvshim *hv);
/* Where KVM cannot report the TSC offset: IA32_TSC through KVM paired with
 * rdtsc; *window = host TSC ticks around the best sample (the error bound
 * is half of it). */
int hvshim_tsc_offset_estimate(struct vid_vp *vp, int64_t *offset, uint64_t *window);
int hvshim_tsc_page_update(struct hvshim *hv, uint64_t msr_value);
/* The formula's parameters and the reference time now (msr_lock held). */
void hvshim_time_state_get(struct hvshim *hv, struct hvshim_partition_state *st);
/* Takes the saved formula over after vid restored the guest TSC (VP 0's
 * was saved_tsc): reference time continues from there. Changes nothing
 * when it fails (a TSC that KVM now scales, the offset unreadable);
 * msr_lock held. The caller publishes the TSC page again. */
int hvshim_time_state_set(struct hvshim *hv, const struct hvshim_partition_state *st, uint64_t saved_tsc,
                          char *err, size_t errlen);

/* synic.c */
void synic_vp_init(struct hvshim *hv, struct synic_vp *sv, unsigned index);
void synic_vp_free(struct synic_vp *sv);
/* After an MSR write changed sv->msrs (from *old); sv->lock held. Returns
 * true when messaging was switched off: the caller reports synic_reset. */
bool synic_msrs_changed(struct synic_vp *sv, const struct hv_msr_vp *old);
/* EOM (sv->lock held): deliver queued messages into free slots. */
void synic_eom(struct synic_vp *sv);
/* Saved state (hvshim/state.h): capture; queues built from a decoded
 * state (-ENOMEM), then applied to a VP that never ran, which takes them
 * over (q is left empty). */
void synic_vp_state_get(struct synic_vp *sv, struct hvshim_synic_state *st);
int synic_queues_build(const struct hvshim_synic_state *st, struct synic_queue q[HV_SYNIC_SINT_COUNT]);
void synic_queues_free(struct synic_queue q[HV_SYNIC_SINT_COUNT]);
void synic_vp_state_set(struct synic_vp *sv, const struct hvshim_synic_state *st,
                        struct synic_queue q[HV_SYNIC_SINT_COUNT]);

/* connection.c */
uint16_t hvshim_deliver_message(struct hvshim *hv, unsigned vp_index, const struct hv_post_message *m);
uint16_t hvshim_deliver_signal(struct hvshim *hv, uint32_t connection_id);
void hvshim_connections_free(struct hvshim *hv);

/* dispatch.c */
int hvshim_register_ports(struct hvshim *hv);
uint16_t hvshim_hypercall(struct hvshim *hv, unsigned vp_index, uint64_t control, uint64_t input,
                          uint64_t output);
