/* SPDX-License-Identifier: MIT */
/* Hypervisor Top-Level Functional Specification: the numbers and layouts a
 * Linux guest depends on (docs/hyperv-guest-interface.md §1, §3, §9). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- CPUID (§1.1-§1.4) ---- */
#define HV_CPUID_VENDOR_AND_MAX 0x40000000u
#define HV_CPUID_INTERFACE 0x40000001u
#define HV_CPUID_VERSION 0x40000002u
#define HV_CPUID_FEATURES 0x40000003u
#define HV_CPUID_ENLIGHTENMENT_INFO 0x40000004u
#define HV_CPUID_IMPLEMENT_LIMITS 0x40000005u
#define HV_CPUID_MAX_LEAF HV_CPUID_IMPLEMENT_LIMITS

#define HV_CPUID_SIGNATURE_EBX 0x7263694du /* "Micr" */
#define HV_CPUID_SIGNATURE_ECX 0x666f736fu /* "osof" */
#define HV_CPUID_SIGNATURE_EDX 0x76482074u /* "t Hv" */
#define HV_CPUID_INTERFACE_HV1 0x31237648u /* "Hv#1" */

/* 0x40000003 EAX: partition privileges (MSR access) */
#define HV_MSR_VP_RUNTIME_AVAILABLE (1u << 0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE (1u << 1)
#define HV_MSR_SYNIC_AVAILABLE (1u << 2)
#define HV_MSR_SYNTIMER_AVAILABLE (1u << 3)
#define HV_MSR_APIC_ACCESS_AVAILABLE (1u << 4)
#define HV_MSR_HYPERCALL_AVAILABLE (1u << 5)
#define HV_MSR_VP_INDEX_AVAILABLE (1u << 6)
#define HV_MSR_RESET_AVAILABLE (1u << 7)
#define HV_MSR_REFERENCE_TSC_AVAILABLE (1u << 9)
#define HV_MSR_GUEST_IDLE_AVAILABLE (1u << 10)
#define HV_ACCESS_FREQUENCY_MSRS (1u << 11)
#define HV_ACCESS_REENLIGHTENMENT (1u << 13)
#define HV_ACCESS_TSC_INVARIANT (1u << 15)
/* 0x40000003 EBX: hypercall privileges */
#define HV_ACCESS_PARTITION_ID (1u << 1)
#define HV_POST_MESSAGES (1u << 4)
#define HV_SIGNAL_EVENTS (1u << 5)
#define HV_CPU_MANAGEMENT (1u << 12)
#define HV_ENABLE_EXTENDED_HYPERCALLS (1u << 20)
#define HV_ISOLATION (1u << 22)
/* 0x40000003 EDX: misc features */
#define HV_FEATURE_FREQUENCY_MSRS_AVAILABLE (1u << 8)
#define HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE (1u << 10)
/* 0x40000004 EAX: recommendations */
#define HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED (1u << 2)
#define HV_X64_APIC_ACCESS_RECOMMENDED (1u << 3)
#define HV_DEPRECATING_AEOI_RECOMMENDED (1u << 9)
#define HV_X64_CLUSTER_IPI_RECOMMENDED (1u << 10)

/* ---- synthetic MSRs (§1.5) ---- */
#define HV_X64_MSR_GUEST_OS_ID 0x40000000u
#define HV_X64_MSR_HYPERCALL 0x40000001u
#define HV_X64_MSR_VP_INDEX 0x40000002u
#define HV_X64_MSR_RESET 0x40000003u
#define HV_X64_MSR_VP_RUNTIME 0x40000010u
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020u
#define HV_X64_MSR_REFERENCE_TSC 0x40000021u
#define HV_X64_MSR_TSC_FREQUENCY 0x40000022u
#define HV_X64_MSR_APIC_FREQUENCY 0x40000023u
#define HV_X64_MSR_EOI 0x40000070u
#define HV_X64_MSR_ICR 0x40000071u
#define HV_X64_MSR_TPR 0x40000072u
#define HV_X64_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV_X64_MSR_SCONTROL 0x40000080u
#define HV_X64_MSR_SVERSION 0x40000081u
#define HV_X64_MSR_SIEFP 0x40000082u
#define HV_X64_MSR_SIMP 0x40000083u
#define HV_X64_MSR_EOM 0x40000084u
#define HV_X64_MSR_SINT0 0x40000090u
#define HV_X64_MSR_SINT15 0x4000009fu
#define HV_X64_MSR_STIMER0_CONFIG 0x400000b0u
#define HV_X64_MSR_GUEST_IDLE 0x400000f0u
#define HV_X64_MSR_CRASH_P0 0x40000100u
#define HV_X64_MSR_CRASH_P4 0x40000104u
#define HV_X64_MSR_CRASH_CTL 0x40000105u
#define HV_X64_MSR_TSC_INVARIANT_CONTROL 0x40000118u

#define HV_X64_MSR_HYPERCALL_ENABLE (1ull << 0)
#define HV_X64_MSR_HYPERCALL_LOCKED (1ull << 1)
#define HV_X64_MSR_HYPERCALL_RESERVED 0xffcull /* bits 11:2 */
#define HV_X64_MSR_REFERENCE_TSC_ENABLE (1ull << 0)
#define HV_SYNIC_SCONTROL_ENABLE (1ull << 0)
#define HV_SYNIC_SIMP_ENABLE (1ull << 0)  /* also SIEFP */
#define HV_SYNIC_SVERSION 1u
#define HV_SYNIC_SINT_VECTOR_MASK 0xffull
#define HV_SYNIC_SINT_MASKED (1ull << 16)
#define HV_SYNIC_SINT_AUTO_EOI (1ull << 17)
#define HV_SYNIC_SINT_POLLING (1ull << 18)
#define HV_SYNIC_SINT_RESERVED (~0x7ffffull) /* bits 63:19 */
#define HV_CRASH_CTL_CRASH_NOTIFY (1ull << 63)
#define HV_CRASH_CTL_CRASH_NOTIFY_MSG (1ull << 62)
/* Reserved (RsvdP) bit ranges: read as 0, so a guest that preserves them
 * (read-modify-write, as Linux does) writes 0. */
#define HV_X64_MSR_PAGE_RESERVED 0xffeull /* bits 11:1 of SIMP, SIEFP, REFERENCE_TSC, VP_ASSIST_PAGE */
#define HV_X64_MSR_VP_ASSIST_PAGE_ENABLE (1ull << 0)
#define HV_SYNIC_SINT_RESERVED_P1 0xff00ull /* bits 15:8 */
#define HV_SYNIC_SCONTROL_RESERVED (~1ull)
#define HV_SYNIC_FIRST_VALID_VECTOR 16u     /* an unmasked SINT with a lower vector is invalid */
#define HV_EXPOSE_INVARIANT_TSC (1ull << 0) /* TSC_INVARIANT_CONTROL */

#define HV_HYP_PAGE_SIZE 4096u /* always 4 KiB (§0) */
#define HV_SYNIC_SINT_COUNT 16u
#define HV_VMBUS_MESSAGE_SINT 2u

/* ---- hypercalls (§1.6, §1.7) ---- */
#define HVCALL_GET_PARTITION_ID 0x0046u
#define HVCALL_POST_MESSAGE 0x005cu
#define HVCALL_SIGNAL_EVENT 0x005du

/* Control word */
#define HV_HYPERCALL_CODE_MASK 0xffffull
#define HV_HYPERCALL_FAST_BIT (1ull << 16)
#define HV_HYPERCALL_VARHEAD_SHIFT 17
#define HV_HYPERCALL_VARHEAD_MASK (0x3ffull << 17)
#define HV_HYPERCALL_RSVD0_MASK (0x1full << 27)
#define HV_HYPERCALL_REP_COUNT_SHIFT 32
#define HV_HYPERCALL_REP_COUNT_MASK (0xfffull << 32)
#define HV_HYPERCALL_RSVD1_MASK (0xfull << 44)
#define HV_HYPERCALL_REP_START_SHIFT 48
#define HV_HYPERCALL_REP_START_MASK (0xfffull << 48)
#define HV_HYPERCALL_RSVD2_MASK (0xfull << 60)

/* Result status (RAX bits 15:0) */
#define HV_STATUS_SUCCESS 0u
#define HV_STATUS_INVALID_HYPERCALL_CODE 2u
#define HV_STATUS_INVALID_HYPERCALL_INPUT 3u
#define HV_STATUS_INVALID_ALIGNMENT 4u
#define HV_STATUS_INVALID_PARAMETER 5u
#define HV_STATUS_ACCESS_DENIED 6u
#define HV_STATUS_OPERATION_DENIED 8u
#define HV_STATUS_INSUFFICIENT_MEMORY 11u
#define HV_STATUS_INVALID_PORT_ID 17u
#define HV_STATUS_INVALID_CONNECTION_ID 18u
#define HV_STATUS_INSUFFICIENT_BUFFERS 19u

#define HV_HYPERCALL_PARAM_ALIGN 8u
#define HV_MESSAGE_PAYLOAD_BYTES 240u
#define HV_CONNECTION_ID_MASK 0x00ffffffu

/* HvPostMessage input (256 bytes, slow form). */
struct hv_input_post_message {
        uint32_t connection_id; /* low 24 bits; top 8 reserved */
        uint32_t reserved;
        uint32_t message_type;
        uint32_t payload_size;
        uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_input_post_message) == 256, "hv_input_post_message");
_Static_assert(offsetof(struct hv_input_post_message, payload) == 16, "payload offset");

/* HvSignalEvent input (8 bytes, fast form in RDX). */
struct hv_input_signal_event {
        uint32_t connection_id;
        uint16_t flag_number;
        uint16_t rsvdz;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_input_signal_event) == 8, "hv_input_signal_event");

/* HvPostMessage/HvSignalEvent connection ids carry 24 bits (§1.7); an
 * event port has HV_EVENT_FLAGS_COUNT flags (§3.3). */
#define HV_SIGNAL_EVENT_FLAG_SHIFT 32
#define HV_SIGNAL_EVENT_RSVD_SHIFT 48

/* ---- SynIC pages (§3.2, §3.3) ---- */
#define HVMSG_NONE 0x00000000u
#define HVMSG_VMBUS 0x00000001u /* VMBus channel messages */
#define HVMSG_TIMER_EXPIRED 0x80000010u
#define HV_MESSAGE_FLAG_PENDING 0x01u

struct hv_message_header {
        uint32_t message_type;
        uint8_t payload_size;
        uint8_t message_flags;
        uint16_t reserved;
        uint64_t sender; /* port id in the low 24 bits */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_message_header) == 16, "hv_message_header");

struct hv_message {
        struct hv_message_header header;
        uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_message) == 256, "hv_message");
_Static_assert(offsetof(struct hv_message, header.message_flags) == 5, "message_flags offset");

struct hv_message_page {
        struct hv_message sint_message[HV_SYNIC_SINT_COUNT];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_message_page) == 4096, "hv_message_page");

#define HV_EVENT_FLAGS_COUNT 2048u /* bits per SINT */
#define HV_EVENT_FLAGS_BYTES (HV_EVENT_FLAGS_COUNT / 8)
struct hv_synic_event_flags_page {
        uint8_t flags[HV_SYNIC_SINT_COUNT][HV_EVENT_FLAGS_BYTES];
};
_Static_assert(sizeof(struct hv_synic_event_flags_page) == 4096, "hv_synic_event_flags_page");

/* ---- reference TSC page (§9.2) ---- */
#define HV_REFERENCE_TIME_HZ 10000000ull /* 100 ns units */
#define HV_TSC_SEQUENCE_INVALID 0u       /* "use TIME_REF_COUNT instead" */
struct hv_reference_tsc_page {
        uint32_t tsc_sequence; /* 0: invalid, use TIME_REF_COUNT */
        uint32_t reserved1;
        uint64_t tsc_scale;
        int64_t tsc_offset;
        uint8_t reserved2[4072];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_reference_tsc_page) == 4096, "hv_reference_tsc_page");
_Static_assert(offsetof(struct hv_reference_tsc_page, tsc_offset) == 16, "tsc_offset offset");

/* Linux guest OS id: bits 63:48 = 0x8100 (open source, Linux). */
#define HV_GUEST_OS_ID_LINUX_MASK 0xffff000000000000ull
#define HV_GUEST_OS_ID_LINUX 0x8100000000000000ull
