/* SPDX-License-Identifier: MIT */
/* hvshim's pure parts: the Hyper-V CPUID leaves, the synthetic-MSR
 * register file, hypercall decoding and validation, the hypercall page and
 * the reference-time arithmetic. No I/O, no locks, no guest memory, no
 * global state: every guest-controlled value passes through these
 * functions, which is what the unit tests and the fuzzers
 * (tests/fuzz/fuzz-hypercall.c, fuzz-msr.c) exercise. Exported for them;
 * other components use hvshim/hvshim.h. Section numbers refer to
 * docs/hyperv-guest-interface.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/tlfs.h"
#include "hvshim/hvshim.h"

/* ---- CPUID (§1.1-§1.4) ---------------------------------------------- */

struct hv_cpuid_leaf {
        uint32_t function, eax, ebx, ecx, edx;
};
#define HV_CPUID_LEAF_COUNT 6u /* 0x40000000..0x40000005 */
#define HV_CPUID_HYPERVISOR_PRESENT (1u << 31) /* CPUID.1:ECX */

/* The leaves 0x40000000..HV_CPUID_MAX_LEAF for cfg: only features hvshim
 * implements, hints = deprecate-AEOI, never a KVM signature. */
void hv_cpuid_leaves(const struct hvshim_config *cfg, unsigned n_vps,
                     struct hv_cpuid_leaf out[HV_CPUID_LEAF_COUNT]);

/* ---- synthetic MSRs (§1.5) ------------------------------------------ */

#define HV_MSR_FIRST 0x40000000u
#define HV_MSR_LAST 0x40000118u /* HV_X64_MSR_TSC_INVARIANT_CONTROL */
/* KVM's in-kernel LAPIC timer counts at 1 GHz (1 ns bus cycle) unless
 * KVM_CAP_X86_APIC_BUS_CYCLES_NS changes it; vid never does. */
#define HV_KVM_APIC_HZ 1000000000ull

/* Partition-wide registers. */
struct hv_msr_partition {
        uint64_t guest_os_id, hypercall, reference_tsc, tsc_invariant_control;
        uint64_t crash_p[5], crash_ctl;
};

/* Per-VP registers. */
struct hv_msr_vp {
        uint64_t vp_assist, scontrol, siefp, simp;
        uint64_t sint[HV_SYNIC_SINT_COUNT];
};

/* Values at partition creation / VP reset (TLFS: SINTs masked, rest 0). */
void hv_msr_partition_init(struct hv_msr_partition *pm);
void hv_msr_vp_init(struct hv_msr_vp *vm);

/* What a read of a computed register needs. */
struct hv_msr_env {
        unsigned vp_index;
        uint64_t tsc_hz;
        uint64_t apic_hz;
        uint64_t (*ref_time)(void *opaque); /* TIME_REF_COUNT */
        void *opaque;
};

/* What a successful write asks the caller to do. */
enum {
        HV_MSR_FX_HYPERCALL_PAGE = 1u << 0, /* write the stub into the enabled page */
        HV_MSR_FX_REFERENCE_TSC = 1u << 1,  /* fill the enabled reference TSC page */
        HV_MSR_FX_SYNIC = 1u << 2,          /* SCONTROL, SIMP, SIEFP or a SINT of this VP changed */
        HV_MSR_FX_EOM = 1u << 3,            /* deliver the next queued message(s) */
        HV_MSR_FX_CRASH = 1u << 4,          /* CRASH_CTL.CRASH_NOTIFY written: report */
};

/* The range the MSR filter routes to hvshim. */
bool hv_msr_in_range(uint32_t index);
/* Registers held per VP (SynIC, VP assist page); the rest are partition-wide
 * or computed. */
bool hv_msr_is_per_vp(uint32_t index);
/* 0 and *value, or -EPERM (the guest gets #GP): an MSR we do not implement
 * or cfg does not offer. */
int hv_msr_read(const struct hvshim_config *cfg, const struct hv_msr_env *env, const struct hv_msr_partition *pm,
                const struct hv_msr_vp *vm, uint32_t index, uint64_t *value);
/* 0 and *effects (HV_MSR_FX_*), or -EPERM for #GP: read-only register,
 * reserved bit set, locked hypercall MSR changed, unmasked SINT with a
 * vector below 16, MSR unknown or not offered. On error nothing changes. */
int hv_msr_write(const struct hvshim_config *cfg, struct hv_msr_partition *pm, struct hv_msr_vp *vm,
                 uint32_t index, uint64_t value, unsigned *effects);

static inline bool hv_msr_enabled(uint64_t v) {
        return v & 1u; /* HYPERCALL, REFERENCE_TSC, SIMP, SIEFP, SCONTROL, VP_ASSIST_PAGE */
}
static inline uint64_t hv_msr_page_gpa(uint64_t v) {
        return v & ~0xfffull;
}
static inline bool hv_sint_masked(uint64_t sint) {
        return sint & HV_SYNIC_SINT_MASKED;
}
static inline uint8_t hv_sint_vector(uint64_t sint) {
        return (uint8_t)(sint & HV_SYNIC_SINT_VECTOR_MASK);
}

/* ---- hypercalls (§1.6, §1.7) ---------------------------------------- */

struct hv_hypercall_control {
        uint16_t code;
        bool fast;
        uint16_t var_header; /* 8-byte units */
        uint16_t rep_count, rep_start;
};

/* Control word of a call we implement (HvPostMessage, HvSignalEvent):
 * HV_STATUS_INVALID_HYPERCALL_CODE for any other code, then
 * HV_STATUS_INVALID_HYPERCALL_INPUT for reserved bits, a rep count or
 * start (both are simple calls), a variable header, or the fast form of
 * HvPostMessage (256 bytes of input do not fit in registers). */
uint16_t hv_hypercall_decode(uint64_t control, struct hv_hypercall_control *out);
/* A parameter block of size bytes at gpa: 8-byte aligned and inside one
 * page, else HV_STATUS_INVALID_ALIGNMENT (TLFS common status codes). */
uint16_t hv_hypercall_check_gpa(uint64_t gpa, size_t size);

struct hv_post_message {
        uint32_t connection_id, message_type, payload_size;
        const uint8_t *payload; /* points into the parsed input */
};
/* HvPostMessage input: reserved bits (connection id 31:24, RsvdZ) ->
 * INVALID_HYPERCALL_INPUT; message type 0 or with bit 31 set, payload over
 * 240 bytes -> INVALID_PARAMETER (TLFS HvCallPostMessage). */
uint16_t hv_post_message_parse(const struct hv_input_post_message *in, struct hv_post_message *out);

struct hv_signal_event {
        uint32_t connection_id;
        uint16_t flag_number;
};
/* HvSignalEvent's 8 input bytes (fast: RDX; else from memory): reserved
 * bits -> INVALID_HYPERCALL_INPUT; flag_number >= 2048 ->
 * INVALID_PARAMETER (TLFS HvCallSignalEvent). */
uint16_t hv_signal_event_parse(uint64_t input, struct hv_signal_event *out);

/* ---- the hypercall page --------------------------------------------- */
/* The page content is ours (§1.6 KVM note). x86-64 only:
 *
 *   0x00 endbr64                  (IBT-enabled callers, §1.6)
 *   0x04 cmp  rcx, 0x1005d        fast HvSignalEvent, no rep/varhead?
 *   0x0b jne  slow
 *   0x0d mov  eax, edx            connection id ...
 *   0x0f cmp  rax, rdx            ... and flag number/RsvdZ (63:32) zero?
 *   0x12 jne  slow
 *   0x14 mov  edx, VMSTACK_DOORBELL_PORT
 *   0x19 out  dx, eax             ioeventfd datamatch = id: no exit
 *   0x1a xor  eax, eax            HV_STATUS_SUCCESS
 *   0x1c ret
 *   0x1d int3                     (no straight-line speculation past ret)
 *   0x1e slow: mov r9, rdx        input GPA / fast input 1
 *   0x21 mov  edx, VMSTACK_HYPERCALL_PORT
 *   0x26 in   eax, dx             exit: hvshim returns the status in EAX
 *   0x27 ret
 *   0x28 int3 ... (rest of the page)
 *
 * Clobbers RAX, RDX, R9 and flags, all volatile in the hypercall ABI. The
 * fast path is 10 instructions: on real hardware they cost nothing next to
 * an exit; under PVM's CPL0 emulator each one counts (docs/hvshim.md). */
#define HV_STUB_OUT_OFFSET 0x19u
#define HV_STUB_RET_OFFSET 0x1cu
#define HV_STUB_IN_OFFSET 0x26u
extern const uint8_t hv_hypercall_stub[];
extern const size_t hv_hypercall_stub_len;
/* The whole page: the stub, then int3. */
void hv_hypercall_page_fill(uint8_t page[HV_HYP_PAGE_SIZE]);

/* ---- reference time (§9.2) ------------------------------------------ */

/* floor(2^64 * 10^7 / tsc_hz), or 0 when the page cannot express it
 * (tsc_hz <= 10 MHz: the scale would not fit). */
uint64_t hv_tsc_scale(uint64_t tsc_hz);
/* The page's formula, which TIME_REF_COUNT uses too so both agree:
 * ((tsc * scale) >> 64) + offset, modulo 2^64. */
uint64_t hv_tsc_to_ref(uint64_t tsc, uint64_t scale, int64_t offset);
/* The next sequence number after seq: never 0 (invalid) or 0xffffffff. */
uint32_t hv_tsc_sequence_next(uint32_t seq);
