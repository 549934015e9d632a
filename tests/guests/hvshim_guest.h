/* SPDX-License-Identifier: MIT */
/* Layout and protocol shared by the guests tests/guests/hvshim_guest.S,
 * hvshim_bench.S (and their hvshim_common.inc) and the host side
 * (tests/component/test-hvshim*.c, bench/bench-hvshim.c). Only #defines:
 * the file is included by the assembler too.
 *
 * Note: cmake/TinyGuest.cmake does not track this header; touch the .S
 * files after changing it. */
#pragma once

/* Guest physical = virtual (identity map of 4 GiB, user-accessible). */
#define HG_LOAD 0x1000
#define HG_KSTACK_TOP 0x40000
#define HG_USTACK_TOP 0x50000
#define HG_HYPERCALL_PAGE 0x100000
#define HG_INPUT_PAGE 0x101000
#define HG_SIMP 0x103000
#define HG_SIEFP 0x104000
#define HG_TSC_PAGE 0x105000
#define HG_MAILBOX 0x106000 /* host -> guest, see HG_MB_* */
#define HG_RESULTS 0x107000 /* guest -> host, u64 slots, see HG_R_* */
#define HG_SIMP_AP 0x108000  /* VP 1's SynIC pages (HG_CMD_SMP) */
#define HG_SIEFP_AP 0x109000
#define HG_AP_STACK_TOP 0x30000

/* Mailbox (u32 fields, byte offsets). */
#define HG_MB_CMD 0x00   /* HG_CMD_* (hvshim_guest.S) */
#define HG_MB_STEP 0x04  /* synic scenario: step counter written by the host */
#define HG_MB_OP 0x08    /* synic scenario: HG_OP_* for that step */
#define HG_MB_ARG 0x0c   /* connection id / iterations */
#define HG_MB_ARG2 0x10  /* second connection id / iterations */
#define HG_MB_USER 0x14  /* bench: 1 = run the loops at CPL3 (hvshim_bench.S) */
#define HG_MB_ARG3 0x18  /* bench: doorbell connection id of the IRQ phase */
#define HG_MB_ARG4 0x1c  /* bench: doorbell connection id of the doorbell-only phase */

#define HG_CMD_CPUID 1
#define HG_CMD_HYPERCALL 2
#define HG_CMD_SYNIC 3
#define HG_CMD_TIME 4
#define HG_CMD_USER_HYPERCALL 5
#define HG_CMD_PIO_RIP 7
#define HG_CMD_MSR_GP 8
#define HG_CMD_CRASH 9
#define HG_CMD_SMP 10
#define HG_CMD_STATE 11 /* hypercall page, TSC page, SynIC; then the synic scenario's loop */

/* Synic scenario operations (HG_MB_OP), performed when HG_MB_STEP changes. */
#define HG_OP_CONSUME 1   /* report slot 2 (type, size, flags, payload[0]); free it; EOM if pending */
#define HG_OP_SCAN 2      /* report and clear every set event flag of SINT 2 */
#define HG_OP_MASK 3      /* SINT2.masked = 1 */
#define HG_OP_UNMASK 4    /* SINT2.masked = 0 */
#define HG_OP_REVECTOR 5  /* SINT2.vector = HG_VECTOR_ALT */
#define HG_OP_DISABLE 6   /* SCONTROL = 0, SIMP disabled (kexec-like) */
#define HG_OP_ENABLE 7    /* SIMP and SCONTROL enabled again */
#define HG_OP_TIME 8      /* R_REF1 = TIME_REF_COUNT, then R_PAGE1 = TSC page time (R_TSC_RAW, R_TSC_SEQ) */
#define HG_OP_READ_MSRS 9 /* R_HC_MSR, R_SINT2 .. R_REFTSC_MSR */
#define HG_OP_SIEFP_OFF 10 /* SIEFP disabled */
#define HG_OP_SIEFP_ON 11  /* SIEFP enabled at HG_SIEFP again */

#define HG_VECTOR_SINT 0xf3 /* HYPERVISOR_CALLBACK_VECTOR, as Linux */
#define HG_VECTOR_ALT 0xf4
#define HG_VECTOR_WAKE 0x40 /* host -> guest "look at the mailbox" */

/* Ports of the test device (registered by the host test). */
#define HG_PORT_BASE 0x10
#define HG_PORT_MARK 0x10  /* OUT dword: HG_MARK_* (values in the result slots) */
#define HG_PORT_VALUE 0x14 /* OUT dword: a value to record (reports, echo) */
#define HG_PORT_BENCH 0x18 /* OUT dword: the plain user-space exit of the benchmark */
#define HG_PORT_LEN 0x10

#define HG_MARK_READY 1
#define HG_MARK_DONE 2
#define HG_MARK_IRQ 3        /* slot R_VECTOR = vector taken */
#define HG_MARK_MESSAGE 4    /* R_MSG_* slots */
#define HG_MARK_FLAG 5       /* slot R_FLAG = event flag found set */
#define HG_MARK_STEP_DONE 6  /* slot R_STEP = step completed */
#define HG_MARK_UD 7         /* R_FAULT_RIP, R_FAULT_CS */
#define HG_MARK_EXC 8        /* unexpected exception, R_VECTOR */
#define HG_MARK_BEGIN 9      /* bench phase begins (R_PHASE) */
#define HG_MARK_END 10       /* bench phase ends (R_PHASE) */
#define HG_MARK_PROBE 11     /* pio_rip: R_PROBE_* */
#define HG_MARK_AP_READY 12  /* VP 1 is up: R_AP_* */

/* Result slots (u64 index). */
#define HG_R_CPUID0 0 /* 0x40000000 eax, ebx, ecx, edx in slots 0..3 */
#define HG_R_CPUID1_ECX 4
#define HG_R_KVM_LEAVES 5 /* leaves 0x40000000..0x4000ff00 carrying "KVMKVMKVM" */
#define HG_R_IFACE 6      /* 0x40000001 eax */
#define HG_R_FEAT_EAX 7
#define HG_R_FEAT_EBX 8
#define HG_R_FEAT_EDX 9
#define HG_R_HINTS_EAX 10
#define HG_R_HINTS_EBX 11
#define HG_R_LIMITS_EAX 12
#define HG_R_LIMITS_EBX 13

#define HG_R_HC_MSR 16           /* HYPERCALL MSR read back */
#define HG_R_POST_STATUS 17      /* HvPostMessage */
#define HG_R_SIGNAL_STATUS 18    /* fast HvSignalEvent, registered id (last of N) */
#define HG_R_SIGNAL_BAD 19       /* fast HvSignalEvent, unregistered id */
#define HG_R_SIGNAL_SLOW 20      /* slow (memory) HvSignalEvent */
#define HG_R_BAD_CODE 21         /* unknown call code */
#define HG_R_POST_MISALIGNED 22  /* HvPostMessage at input + 4 */
#define HG_R_POST_CROSSING 23    /* HvPostMessage 8 bytes before a page end */
#define HG_R_POST_BIGSIZE 24     /* payload_size 241 */
#define HG_R_REP_COUNT 25        /* HvSignalEvent with a rep count */
#define HG_R_SIGNAL_FLAG 26      /* fast HvSignalEvent with flag 3 (slow path) */
#define HG_R_POST_UNKNOWN 27     /* HvPostMessage to an unknown connection */
#define HG_R_CALLEE_SAVED 28     /* rbx/rsi/rdi/rbp/r12-r15 preserved across calls: 1 */

#define HG_R_VECTOR 32
#define HG_R_MSG_TYPE 33
#define HG_R_MSG_SIZE 34
#define HG_R_MSG_FLAGS 35
#define HG_R_MSG_WORD0 36
#define HG_R_FLAG 37
#define HG_R_STEP 38

#define HG_R_REF1 40  /* TIME_REF_COUNT */
#define HG_R_PAGE1 41 /* reference time from the TSC page */
#define HG_R_REF2 42
#define HG_R_PAGE2 43
#define HG_R_TSC_SEQ 44
#define HG_R_TSC_SCALE 45
#define HG_R_TSC_OFFSET 46
#define HG_R_TSC_FREQ 47
#define HG_R_APIC_FREQ 48
#define HG_R_TSC_RAW 49 /* rdtsc used for PAGE2 */

#define HG_R_FAULT_RIP 56
#define HG_R_FAULT_CS 57
#define HG_R_USER_IN_RIP 58  /* address of the IN the CPL3 code executes */
#define HG_R_USER_SIGNAL 59    /* fast HvSignalEvent from CPL3, unregistered id (must not complete) */
#define HG_R_USER_SIGNAL_OK 60 /* fast HvSignalEvent from CPL3, registered id */
#define HG_R_CRASH_CAPS 61     /* CRASH_CTL read */

#define HG_R_PHASE 64
#define HG_R_PROBE_ADDR 65  /* pio_rip: address of the probed instruction */
#define HG_R_PROBE_KIND 66  /* 1 OUT, 2 IN, 3 result of OUT with RIP moved */
#define HG_R_PROBE_VALUE 67
#define HG_R_PROBE_CPL 68

#define HG_R_IRQ_CPU 69     /* APIC ID of the CPU that took the SINT interrupt */
#define HG_R_AP_VP_INDEX 70 /* VP_INDEX read on VP 1 */
#define HG_R_AP_POST 71     /* HvPostMessage status on VP 1 */
#define HG_R_GP_COUNT 72   /* #GP taken by the MSR scenario */
#define HG_R_GP_MASK 73    /* bit i: check i raised #GP */
#define HG_R_AP_SIGNAL 74  /* fast HvSignalEvent status on VP 1 */
#define HG_R_SINT2 75      /* HG_OP_READ_MSRS */
#define HG_R_SIMP_MSR 76
#define HG_R_SIEFP_MSR 77
#define HG_R_SCONTROL_MSR 78
#define HG_R_OS_ID 79
#define HG_R_REFTSC_MSR 80

/* Benchmark phases (R_PHASE). */
#define HG_PHASE_PIO 1      /* plain OUT to HG_PORT_BENCH (exit to user space) */
#define HG_PHASE_DOORBELL 4 /* HvSignalEvent through the page, nobody answers */
#define HG_PHASE_SIGNAL 2   /* HvSignalEvent doorbell -> host replies with an event */
#define HG_PHASE_IRQ 3      /* host event -> guest ISR -> doorbell back */
