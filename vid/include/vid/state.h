/* SPDX-License-Identifier: MIT */
/* The guest-visible state vid owns, as plain data (docs/saved-state.md,
 * sections "VP", "PART", "RAM"): each vCPU's architectural state, the
 * partition's interrupt controllers and clock, and guest RAM. Capture and
 * apply need the partition paused (or not yet started); encode/decode are
 * pure and fuzzed (tests/fuzz/fuzz-vid-state.c).
 *
 * The values are architectural (registers, the XSAVE image in the standard
 * format, the 1 KiB local APIC register page, MSRs by index) or, for the
 * PIC and IOAPIC, KVM's documented layouts. Host quirks never reach the
 * file: on a PVM host the guest's own LSTAR is saved, not the syscall
 * trampoline's address, and the trampoline is set up again on apply. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cpufeat.h"
#include "common/vmstate.h"

struct vid_partition;
struct vid_vp;

#define VID_STATE_TAG_VP VMSTATE_TAG('V', 'P', ' ', ' ')
#define VID_STATE_TAG_PART VMSTATE_TAG('P', 'A', 'R', 'T')
#define VID_STATE_TAG_RAM VMSTATE_TAG('R', 'A', 'M', ' ')
#define VID_STATE_TAG_CPUID VMSTATE_TAG('C', 'P', 'I', 'D')
#define VID_STATE_TAG_PIT VMSTATE_TAG('V', 'P', 'I', 'T')
#define VID_STATE_PIT_SIZE 112u /* KVM's struct kvm_pit_state2 */

#define VID_STATE_XSAVE_MAX 16384u /* KVM_GET_XSAVE2's size with AMX tiles is 11008 */
#define VID_STATE_XSAVE_MIN 576u   /* legacy area + XSAVE header */
#define VID_STATE_MSRS_MAX 320u
#define VID_STATE_XCRS_MAX 16u
#define VID_STATE_LAPIC_SIZE 1024u
#define VID_STATE_SEGMENTS 8u /* cs ds es fs gs ss tr ldt */
#define VID_STATE_CPUID_MAX 256u /* VID_CPUID_MAX_ENTRIES */

/* enum for mp_state (KVM's values, which are the architectural activity
 * states plus SIPI wait). */
enum {
        VID_MP_RUNNABLE = 0,
        VID_MP_UNINITIALIZED = 1,
        VID_MP_INIT_RECEIVED = 2,
        VID_MP_HALTED = 3,
        VID_MP_SIPI_RECEIVED = 4,
        VID_MP_MAX = VID_MP_SIPI_RECEIVED,
};

struct vid_vp_state {
        /* rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags */
        uint64_t gprs[18];
        uint32_t n_gprs;
        /* Segments in the order above: base, limit, and selector | type << 16
         * | present << 20 | dpl << 21 | db << 23 | s << 24 | l << 25 | g << 26
         * | avl << 27 | unusable << 28. */
        uint64_t seg_base[VID_STATE_SEGMENTS];
        uint32_t seg_limit[VID_STATE_SEGMENTS];
        uint32_t seg_attr[VID_STATE_SEGMENTS];
        uint32_t n_seg_base, n_seg_limit, n_seg_attr;
        uint64_t gdt_base, idt_base;
        uint32_t gdt_limit, idt_limit;
        uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
        /* The XSAVE image (standard format), as long as the host's. */
        uint8_t xsave[VID_STATE_XSAVE_MAX];
        uint32_t xsave_len;
        uint32_t xcr_index[VID_STATE_XCRS_MAX];
        uint64_t xcr_value[VID_STATE_XCRS_MAX];
        uint32_t n_xcr_index, n_xcr_value;
        uint8_t lapic[VID_STATE_LAPIC_SIZE];
        /* Pending and injected events (an exception, an interrupt, an NMI,
         * the interrupt shadow) at the instruction boundary the VP stopped on. */
        bool exc_injected, exc_pending, exc_has_error_code, exc_has_payload;
        uint8_t exc_vector;
        uint32_t exc_error_code;
        uint64_t exc_payload;
        bool irq_injected, irq_soft;
        uint8_t irq_vector;
        uint8_t interrupt_shadow;
        bool nmi_injected, nmi_pending, nmi_masked;
        uint32_t sipi_vector;
        uint32_t mp_state;
        uint64_t dr[4], dr6, dr7;
        uint32_t n_dr;
        /* Every MSR the host's KVM lists as state (KVM_GET_MSR_INDEX_LIST)
         * that it can read, in the order they are applied (TSC first,
         * TSC_DEADLINE last). */
        uint32_t msr_index[VID_STATE_MSRS_MAX];
        uint64_t msr_value[VID_STATE_MSRS_MAX];
        uint32_t n_msr_index, n_msr_value;
};

struct vid_partition_state {
        uint32_t n_vps;
        uint64_t ram_bytes;
        uint32_t tsc_khz;
        /* KVM's struct kvm_pic_state (master, slave) and kvm_ioapic_state. */
        uint8_t pic[2][16];
        uint8_t ioapic[216];
        uint64_t clock_ns; /* KVM clock */
};

/* The CPUID table the guest was offered (CPID section): the entries vid
 * gave KVM_SET_CPUID2, as the guest sees them, save the per-vCPU APIC IDs
 * (leaves 1, 0xB, 0x1F), which vid fills in on every host. Entry i is
 * function[i], index[i] (the subleaf), flags[i] (VID_CPUID_SIGNIFICANT_INDEX)
 * and its four registers. */
struct vid_cpuid_state {
        uint32_t function[VID_STATE_CPUID_MAX], index[VID_STATE_CPUID_MAX], flags[VID_STATE_CPUID_MAX];
        uint32_t eax[VID_STATE_CPUID_MAX], ebx[VID_STATE_CPUID_MAX], ecx[VID_STATE_CPUID_MAX],
                edx[VID_STATE_CPUID_MAX];
        uint32_t n_function, n_index, n_flags, n_eax, n_ebx, n_ecx, n_edx;
};

extern const struct vmstate_desc vid_cpuid_state_desc;
extern const struct vmstate_desc vid_vp_state_desc;
extern const struct vmstate_desc vid_partition_state_desc;

/* KVM's in-kernel PIT (VPIT section), in a partition made with one. */
struct vid_pit_state {
        uint8_t pit[VID_STATE_PIT_SIZE]; /* struct kvm_pit_state2 */
};
extern const struct vmstate_desc vid_pit_state_desc;
bool vid_partition_has_pit(const struct vid_partition *p);
/* -ENOENT without a PIT. */
int vid_pit_state_get(struct vid_partition *p, struct vid_pit_state *out);
int vid_pit_state_set(struct vid_partition *p, const struct vid_pit_state *in);
/* Pure: the section, with the 8254's ranges checked. */
int vid_pit_state_decode(const struct vmstate_section *s, struct vid_pit_state *out, char *err, size_t errlen);

/* The guest TSC a decoded VP state holds (its IA32_TSC); false when it
 * holds none. */
bool vid_vp_state_tsc(const struct vid_vp_state *st, uint64_t *tsc);

/* The VP's state now (partition paused or not started). */
int vid_vp_state_get(struct vid_vp *vp, struct vid_vp_state *st);
/* Applies st (checked by vid_vp_state_check) to the VP. Its TSC reads
 * the saved value from then on (through KVM's TSC offset where KVM has
 * it: vid/state.c, "the TSC at restore"). */
int vid_vp_state_set(struct vid_vp *vp, const struct vid_vp_state *st, char *err, size_t errlen);
/* The same for n VPs of p, st[i] to vps[i]: VPs whose saved TSCs lie
 * within a second of the first one's share its offset, so TSCs that ran
 * synchronized stay so. */
int vid_vps_state_set(struct vid_partition *p, struct vid_vp *const *vps, const struct vid_vp_state *st, unsigned n,
                      char *err, size_t errlen);

int vid_partition_state_get(struct vid_partition *p, struct vid_partition_state *st);
/* Refuses a state that does not fit this partition (VP count, RAM size,
 * TSC frequency KVM cannot scale to) with a sentence. */
int vid_partition_state_set(struct vid_partition *p, const struct vid_partition_state *st, char *err,
                            size_t errlen);

/* Pure: section -> struct, with the checks encode guarantees (array counts
 * in pairs, sizes, enum ranges, a valid XSAVE header). */
int vid_vp_state_decode(const struct vmstate_section *s, struct vid_vp_state *out, char *err, size_t errlen);
int vid_partition_state_decode(const struct vmstate_section *s, struct vid_partition_state *out, char *err,
                               size_t errlen);

/* Pure: a CPID section -> struct: every array as long as the others, 1 to
 * VID_STATE_CPUID_MAX entries, leaf 0 and leaf 1 among them, known flags,
 * no (function, index) twice. */
int vid_cpuid_state_decode(const struct vmstate_section *s, struct vid_cpuid_state *out, char *err, size_t errlen);
/* Pure: the feature words of a table (common/cpufeat.h). */
void vid_cpuid_state_features(const struct vid_cpuid_state *st, struct cpufeat *out);
/* The partition's table now (what its guest is offered), and what this
 * host's KVM supports, as vid would offer it (host quirks applied). */
int vid_cpuid_state_get(const struct vid_partition *p, struct vid_cpuid_state *st);
int vid_cpuid_host_features(struct vid_partition *p, struct cpufeat *out);
int vid_cpuid_guest_features(const struct vid_partition *p, struct cpufeat *out);
/* Refuses (-ENOTSUP, a sentence naming the features) a saved table that
 * offered the guest something this host's KVM does not support; else
 * installs it on every VP (before the VP state that depends on it). */
int vid_cpuid_state_set(struct vid_partition *p, const struct vid_cpuid_state *st, char *err, size_t errlen);

/* Every section vid owns, in order: CPID, PART, VPIT (with a PIT), one VP
 * per vCPU, RAM. */
int vid_state_save(struct vid_partition *p, struct vmstate_writer *w);
/* Applies PART, each VP and RAM from an index made by vmstate_index(). The
 * partition must be fresh (created with the saved VP count and RAM size,
 * not started). */
int vid_state_restore(struct vid_partition *p, const struct vmstate_section *secs, size_t n, char *err,
                      size_t errlen);

/* Guest RAM (RAM section). Pages the guest never touched are holes in the
 * memfd and are not written; the payload is
 *   u64 ram_bytes, then extents: u64 offset, u64 length, length bytes.
 * The offset is into guest RAM as one array (the part below the MMIO hole,
 * then the part from 4 GiB; vid_ram_regions()), page-aligned, extents in
 * increasing order without overlap. ram_save writes the bulk section;
 * ram_check validates a payload against a RAM size (pure);
 * vid_state_restore copies the extents into guest RAM. */
int vid_ram_save(struct vid_partition *p, struct vmstate_writer *w);
/* An upper bound of the RAM section's payload vid_ram_save would write
 * now, for a save's progress total: the memfd's data extents, found
 * without reading RAM (vid_ram_save leaves out their all-zero pages). */
int vid_ram_save_size(struct vid_partition *p, uint64_t *bytes);
int vid_ram_check(const struct vmstate_section *s, uint64_t ram_bytes, char *err, size_t errlen);

/* ---- live migration (migrate-ram.c, docs/migration.md) ----------------- */

/* PART and one VP per vCPU, without RAM (the partition quiet). */
int vid_state_save_cpus(struct vid_partition *p, struct vmstate_writer *w);
/* Every vid section, with a RAM section holding only the pages set in
 * bitmap (vid_dirty_log_get's numbering), all-zero ones included: the
 * final state of a live migration, whose destination has the rest. */
int vid_state_save_pages(struct vid_partition *p, struct vmstate_writer *w, const uint64_t *bitmap);
/* The memfd's data extents (RAM offsets, page-aligned, in order, touching
 * ones merged); holes are pages never written. *out is the caller's to free. */
struct vid_ram_extent {
        uint64_t offset, length;
};
int vid_ram_extents(struct vid_partition *p, struct vid_ram_extent **out, size_t *n);
/* Guest RAM as one array in the host (RAM offsets), for reading. */
const uint8_t *vid_ram_host(const struct vid_partition *p);
/* A partition that has not run yet takes pages from a migration source:
 * len bytes at RAM offset off (page-aligned, inside RAM; -EINVAL else)
 * written, or zeroed (holes punched where the memfd can). */
int vid_ram_write(struct vid_partition *p, uint64_t off, const void *data, uint64_t len);
int vid_ram_zero(struct vid_partition *p, uint64_t off, uint64_t len);
