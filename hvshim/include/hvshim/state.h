/* SPDX-License-Identifier: MIT */
/* The guest-visible state hvshim owns, as plain data (docs/saved-state.md,
 * sections "HVPT" and "HVSY"): the partition-wide synthetic MSRs and the
 * reference-time formula the guest was given, and per VP its SynIC: the
 * registers, the interrupts owed, the event flags signalled while its
 * SIEFP was off and the messages queued for its slots. Guest addresses,
 * register values and counters only: routes, irqfds and page mappings are
 * rebuilt from them on restore. Save needs the VPs parked; restore runs
 * after vid_state_restore() on a freshly created hvshim of the same
 * configuration, before the VPs first run. Decoders are pure and fuzzed
 * (tests/fuzz/fuzz-hvshim-state.c).
 *
 * What the guest already has is not saved twice: the hypercall, SIMP,
 * SIEFP and reference TSC pages are its RAM, restored by vid (so are a
 * message slot's msg_pending flag and the event flags it has not yet
 * cleared); a restore maps them again without touching them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/vmstate.h"
#include "hv/tlfs.h"
#include "hvshim/hvshim.h"

#define HVSHIM_STATE_TAG_PARTITION VMSTATE_TAG('H', 'V', 'P', 'T')
#define HVSHIM_STATE_TAG_SYNIC VMSTATE_TAG('H', 'V', 'S', 'Y')

#define HVSHIM_STATE_CRASH_P 5u /* CRASH_P0..P4 */
/* Event-flag words of a VP: 2048 flags per SINT, 64 per word. */
#define HVSHIM_STATE_SIEF_WORDS (HV_SYNIC_SINT_COUNT * (HV_EVENT_FLAGS_COUNT / 64u))

struct hvshim_partition_state {
        uint32_t n_vps; /* must equal the restoring VM's */
        /* The features the guest was offered (CPUID 0x40000003): the
         * restoring hvshim must offer the same. */
        bool reference_tsc, frequency_msrs, tsc_invariant, crash_msrs;
        /* Partition-wide synthetic MSRs. */
        uint64_t guest_os_id, hypercall, reference_tsc_msr, tsc_invariant_control;
        uint64_t crash_p[HVSHIM_STATE_CRASH_P];
        uint32_t n_crash_p;
        uint64_t crash_ctl;
        /* Reference time = ((guest TSC * tsc_scale) >> 64) + ref_offset, in
         * 100 ns units; tsc_hz is the TSC rate the guest was told (the real
         * rate times time_dilation). Rate, scale and dilation are kept
         * across a restore; the offset too where the guest TSC continues
         * from its saved value, else it takes the difference (a PVM host
         * cannot offset the TSC), so reference time continues from where
         * the guest stopped (hvshim_state_restore). */
        uint64_t tsc_hz;
        uint32_t time_dilation; /* 1..HVSHIM_MAX_TIME_DILATION */
        uint64_t tsc_scale;     /* hv_tsc_scale(tsc_hz); 0: no TSC page, a monotonic clock instead */
        uint64_t ref_offset;    /* two's complement */
        uint32_t tsc_sequence;  /* of the reference TSC page, last published */
        uint64_t reference_time; /* when saved; continues the timeline when tsc_scale is 0 */
};

struct hvshim_synic_state {
        uint64_t vp_assist, scontrol, siefp, simp;
        uint64_t sint[HV_SYNIC_SINT_COUNT];
        uint32_t n_sint;
        uint32_t pending_irq; /* bit per SINT: an interrupt is owed (masked or SCONTROL off when raised) */
        /* Flags signalled while SIEFP was disabled, merged into the page
         * when the guest enables it: the non-zero words only, by index
         * (SINT * 32 + word), in increasing order. */
        uint32_t shadow_word[HVSHIM_STATE_SIEF_WORDS];
        uint64_t shadow_bits[HVSHIM_STATE_SIEF_WORDS];
        uint32_t n_shadow_word, n_shadow_bits;
        /* Messages queued behind busy (or disabled) slots, SINT by SINT,
         * each queue in order: SINT, type, payload size, and the payloads
         * one after the other, each exactly its size. */
        uint32_t msg_sint[HVSHIM_MAX_QUEUED];
        uint32_t msg_type[HVSHIM_MAX_QUEUED];
        uint32_t msg_size[HVSHIM_MAX_QUEUED];
        uint32_t n_msg_sint, n_msg_type, n_msg_size;
        uint8_t msg_payload[HVSHIM_MAX_QUEUED * HV_MESSAGE_PAYLOAD_BYTES];
        uint32_t msg_payload_len;
};

extern const struct vmstate_desc hvshim_partition_state_desc;
extern const struct vmstate_desc hvshim_synic_state_desc;

/* Pure: section -> struct, refusing what hvshim could not have saved (a
 * register value a guest write would have refused, a scale that does not
 * belong to the TSC rate, counts that do not pair up, a queued message
 * with a bad SINT, type or size) with a sentence naming the section. */
int hvshim_partition_state_decode(const struct vmstate_section *s, struct hvshim_partition_state *out, char *err,
                                  size_t errlen);
int hvshim_synic_state_decode(const struct vmstate_section *s, struct hvshim_synic_state *out, char *err,
                              size_t errlen);

/* HVPT, then one HVSY per VP. The VPs must be parked (vid_partition_pause
 * or not started): -EBUSY otherwise. */
int hvshim_state_save(struct hvshim *hv, struct vmstate_writer *w);
/* Decodes HVPT and every HVSY of an index made by vmstate_index(), checks
 * them against this hvshim (VP count, offered features), then applies
 * them. Call after vid_state_restore() (guest RAM, the TSC) and before
 * the partition starts; hv must be fresh from hvshim_create(). Reference
 * time continues from VP 0's guest TSC in vid's VP section: at that TSC
 * the formula gives what it gave when saved. A refusal changes nothing. */
int hvshim_state_restore(struct hvshim *hv, const struct vmstate_section *secs, size_t n, char *err,
                         size_t errlen);

/* The row of the worker's device table (common/device.h); its dev is the
 * struct hvshim. */
extern const struct device_ops hvshim_device_ops;
