# SPDX-License-Identifier: MIT
# load: 0x1000
# The guest of the hvshim component tests: runs the command the host left
# in the mailbox (tests/guests/hvshim_guest.h) and reports through the test
# device's ports. Boot, handlers and data: hvshim_common.inc.
#include "hvshim_common.inc"

guest_main:
        mov     MBOX(HG_MB_CMD), %eax
        cmp     $HG_CMD_CPUID, %eax
        je      cmd_cpuid
        cmp     $HG_CMD_HYPERCALL, %eax
        je      cmd_hypercall
        cmp     $HG_CMD_SYNIC, %eax
        je      cmd_synic
        cmp     $HG_CMD_TIME, %eax
        je      cmd_time
        cmp     $HG_CMD_USER_HYPERCALL, %eax
        je      cmd_user_hypercall
        cmp     $HG_CMD_PIO_RIP, %eax
        je      cmd_pio_rip
        cmp     $HG_CMD_MSR_GP, %eax
        je      cmd_msr_gp
        cmp     $HG_CMD_CRASH, %eax
        je      cmd_crash
        cmp     $HG_CMD_SMP, %eax
        je      cmd_smp
        cmp     $HG_CMD_STATE, %eax
        je      cmd_state
        jmp     done

# ---- commands -----------------------------------------------------------

cmd_cpuid:
        mov     $0x40000000, %eax
        cpuid
        mov     %rax, RES(HG_R_CPUID0)
        mov     %rbx, RES(HG_R_CPUID0 + 1)
        mov     %rcx, RES(HG_R_CPUID0 + 2)
        mov     %rdx, RES(HG_R_CPUID0 + 3)
        mov     $1, %eax
        cpuid
        mov     %rcx, RES(HG_R_CPUID1_ECX)
        mov     $0x40000001, %eax
        cpuid
        mov     %rax, RES(HG_R_IFACE)
        mov     $0x40000003, %eax
        cpuid
        mov     %rax, RES(HG_R_FEAT_EAX)
        mov     %rbx, RES(HG_R_FEAT_EBX)
        mov     %rdx, RES(HG_R_FEAT_EDX)
        mov     $0x40000004, %eax
        cpuid
        mov     %rax, RES(HG_R_HINTS_EAX)
        mov     %rbx, RES(HG_R_HINTS_EBX)
        mov     $0x40000005, %eax
        cpuid
        mov     %rax, RES(HG_R_LIMITS_EAX)
        mov     %rbx, RES(HG_R_LIMITS_EBX)
        # Linux's KVM detection: "KVMKVMKVM\0\0\0" at any 0x400xxx00 leaf.
        xor     %r12d, %r12d
        mov     $0x40000000, %r13d
1:      mov     %r13d, %eax
        xor     %ecx, %ecx
        cpuid
        cmp     $0x4b4d564b, %ebx       # "KVMK"
        jne     2f
        cmp     $0x564b4d56, %ecx       # "VMKV"
        jne     2f
        cmp     $0x0000004d, %edx       # "M\0\0\0"
        jne     2f
        inc     %r12d
2:      add     $0x100, %r13d
        cmp     $0x40010000, %r13d
        jne     1b
        mov     %r12, RES(HG_R_KVM_LEAVES)
        jmp     done

cmd_hypercall:
        call    enable_hypercall_page
        RDMSR64 MSR_HYPERCALL
        mov     %rax, RES(HG_R_HC_MSR)
        # Callee-saved registers must survive the page (§1.6).
        mov     $0x1b1b1b1b, %ebx
        mov     $0x5151, %esi
        mov     $0xd1d1, %edi
        mov     $0xb9b9, %ebp
        mov     $0x1212, %r12d
        mov     $0x1313, %r13d
        mov     $0x1414, %r14d
        mov     $0x1515, %r15d
        # HvPostMessage(ARG, type 1, 16 bytes)
        mov     $HG_INPUT_PAGE, %edi
        mov     MBOX(HG_MB_ARG), %eax
        mov     %eax, 0(%rdi)
        movl    $0, 4(%rdi)
        movl    $1, 8(%rdi)
        movl    $16, 12(%rdi)
        movl    $0xa1a2a3a4, 16(%rdi)
        movl    $0xb1b2b3b4, 20(%rdi)
        movl    $0xc1c2c3c4, 24(%rdi)
        movl    $0xd1d2d3d4, 28(%rdi)
        mov     $0xd1d1, %edi
        mov     $0x5c, %ecx
        mov     $HG_INPUT_PAGE, %edx
        xor     %r8d, %r8d
        HVCALL
        mov     %rax, RES(HG_R_POST_STATUS)
        # Misaligned input GPA.
        mov     $0x5c, %ecx
        mov     $HG_INPUT_PAGE + 4, %edx
        HVCALL
        mov     %rax, RES(HG_R_POST_MISALIGNED)
        # 8-byte aligned but the 256-byte input crosses into the next page.
        mov     $0x5c, %ecx
        mov     $HG_INPUT_PAGE - 8, %edx
        HVCALL
        mov     %rax, RES(HG_R_POST_CROSSING)
        # payload_size 241
        movl    $241, HG_INPUT_PAGE + 12
        mov     $0x5c, %ecx
        mov     $HG_INPUT_PAGE, %edx
        HVCALL
        mov     %rax, RES(HG_R_POST_BIGSIZE)
        movl    $16, HG_INPUT_PAGE + 12
        # Unknown connection.
        movl    $0x7777, HG_INPUT_PAGE
        mov     $0x5c, %ecx
        mov     $HG_INPUT_PAGE, %edx
        HVCALL
        mov     %rax, RES(HG_R_POST_UNKNOWN)
        # Ten fast HvSignalEvent(ARG2): doorbells, no exit to user space.
        mov     $HG_PHASE_SIGNAL, %eax
        mov     %rax, RES(HG_R_PHASE)
        MARK    HG_MARK_BEGIN
        mov     $10, %r12d
1:      mov     $0x1005d, %ecx
        mov     MBOX(HG_MB_ARG2), %edx
        HVCALL
        mov     %rax, RES(HG_R_SIGNAL_STATUS)
        dec     %r12d
        jnz     1b
        MARK    HG_MARK_END
        mov     $0x1212, %r12d
        # Fast HvSignalEvent to an unregistered id: the doorbell exits.
        mov     $0x1005d, %ecx
        mov     $0x4242, %edx
        HVCALL
        mov     %rax, RES(HG_R_SIGNAL_BAD)
        # Slow HvSignalEvent(ARG2, flag 0) from memory.
        mov     MBOX(HG_MB_ARG2), %eax
        mov     %rax, HG_INPUT_PAGE
        mov     $0x5d, %ecx
        mov     $HG_INPUT_PAGE, %edx
        HVCALL
        mov     %rax, RES(HG_R_SIGNAL_SLOW)
        # Fast HvSignalEvent(ARG2, flag 3): the stub's slow path.
        mov     MBOX(HG_MB_ARG2), %edx
        mov     $3, %rax
        shl     $32, %rax
        or      %rax, %rdx
        mov     $0x1005d, %ecx
        HVCALL
        mov     %rax, RES(HG_R_SIGNAL_FLAG)
        # A rep count on a simple call.
        mov     $1, %rcx
        shl     $32, %rcx
        or      $0x1005d, %rcx
        mov     MBOX(HG_MB_ARG2), %edx
        HVCALL
        mov     %rax, RES(HG_R_REP_COUNT)
        # An unknown call code.
        mov     $0x99, %ecx
        xor     %edx, %edx
        HVCALL
        mov     %rax, RES(HG_R_BAD_CODE)
        xor     %eax, %eax
        cmp     $0x1b1b1b1b, %ebx
        jne     2f
        cmp     $0x5151, %esi
        jne     2f
        cmp     $0xd1d1, %edi
        jne     2f
        cmp     $0xb9b9, %ebp
        jne     2f
        cmp     $0x1212, %r12d
        jne     2f
        cmp     $0x1313, %r13d
        jne     2f
        cmp     $0x1414, %r14d
        jne     2f
        cmp     $0x1515, %r15d
        jne     2f
        mov     $1, %eax
2:      mov     %rax, RES(HG_R_CALLEE_SAVED)
        jmp     done

# The host drives this scenario: it writes HG_MB_OP, bumps HG_MB_STEP and
# sends HG_VECTOR_WAKE; the guest performs the operation with interrupts
# off, reports HG_MARK_STEP_DONE and waits (sti; hlt) for the next step.
# SINT interrupts are reported by the handler (HG_MARK_IRQ) only; the
# message slot is consumed by HG_OP_CONSUME, so the host decides when.
cmd_synic:
        call    enable_synic
        xor     %r12d, %r12d            # last step seen
        MARK    HG_MARK_READY
synic_loop:
        cli
        mov     MBOX(HG_MB_STEP), %eax
        cmp     %r12d, %eax
        jne     1f
        sti
        hlt
        jmp     synic_loop
1:      mov     %eax, %r12d
        mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_CONSUME, %eax
        jne     2f
        call    op_consume
2:      cmp     $HG_OP_SCAN, %eax
        jne     3f
        call    op_scan
3:      cmp     $HG_OP_MASK, %eax
        jne     4f
        mov     $MSR_SINT2, %ecx
        rdmsr
        or      $0x10000, %eax
        wrmsr
4:      mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_UNMASK, %eax
        jne     5f
        mov     $MSR_SINT2, %ecx
        rdmsr
        and     $~0x10000, %eax
        wrmsr
5:      mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_REVECTOR, %eax
        jne     6f
        mov     $MSR_SINT2, %ecx
        rdmsr
        and     $~0xff, %eax
        or      $HG_VECTOR_ALT, %eax
        wrmsr
6:      mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_DISABLE, %eax
        jne     7f
        WRMSR64 MSR_SCONTROL, 0
        WRMSR64 MSR_SIMP, 0
7:      mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_ENABLE, %eax
        jne     10f
        WRMSR64 MSR_SIMP, HG_SIMP | 1
        WRMSR64 MSR_SCONTROL, 1
10:     mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_TIME, %eax
        jne     11f
        call    op_time
11:     mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_READ_MSRS, %eax
        jne     12f
        call    op_read_msrs
12:     mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_SIEFP_OFF, %eax
        jne     13f
        WRMSR64 MSR_SIEFP, 0
13:     mov     MBOX(HG_MB_OP), %eax
        cmp     $HG_OP_SIEFP_ON, %eax
        jne     8f
        WRMSR64 MSR_SIEFP, HG_SIEFP | 1
8:      mov     %r12, RES(HG_R_STEP)
        MARK    HG_MARK_STEP_DONE
        jmp     synic_loop

# Report slot 2, free it and, only if msg_pending was set, write EOM
# (the Linux sequence, docs/hyperv-guest-interface.md §3.4).
op_consume:
        mov     SLOT2, %eax
        mov     %rax, RES(HG_R_MSG_TYPE)
        movzbl  SLOT2 + 4, %eax
        mov     %rax, RES(HG_R_MSG_SIZE)
        movzbl  SLOT2 + 5, %eax
        mov     %rax, RES(HG_R_MSG_FLAGS)
        mov     SLOT2 + 16, %eax
        mov     %rax, RES(HG_R_MSG_WORD0)
        MARK    HG_MARK_MESSAGE
        movl    $0, SLOT2
        lock orq $0, (%rsp)             # full barrier: free, then read flags
        testb   $1, SLOT2 + 5
        jz      1f
        WRMSR64 MSR_EOM, 0
1:      mov     MBOX(HG_MB_OP), %eax
        ret

# Report and clear each set event flag of SINT 2 (test-and-clear per word).
op_scan:
        xor     %r13d, %r13d            # word index
1:      xor     %eax, %eax
        xchg    %rax, SIEF2(,%r13,8)
        mov     %rax, %r14
2:      test    %r14, %r14
        jz      3f
        bsf     %r14, %rcx
        btr     %rcx, %r14
        mov     %r13, %rax
        shl     $6, %rax
        add     %rcx, %rax
        mov     %rax, RES(HG_R_FLAG)
        MARK    HG_MARK_FLAG
        jmp     2b
3:      inc     %r13d
        cmp     $32, %r13d
        jne     1b
        mov     MBOX(HG_MB_OP), %eax
        ret

# The state scenario (tests/component/test-hvshim-state.c): everything a
# saved state must carry is enabled, then the host drives the synic loop.
cmd_state:
        call    enable_hypercall_page
        WRMSR64 MSR_REFERENCE_TSC, HG_TSC_PAGE | 1
        call    enable_synic
        xor     %r12d, %r12d            # last step seen
        MARK    HG_MARK_READY
        jmp     synic_loop

op_time:
        RDMSR64 MSR_TIME_REF_COUNT
        mov     %rax, RES(HG_R_REF1)
        call    page_time
        mov     %rax, RES(HG_R_PAGE1)
        mov     %r10, RES(HG_R_TSC_RAW)
        mov     HG_TSC_PAGE, %eax
        mov     %rax, RES(HG_R_TSC_SEQ)
        ret

op_read_msrs:
        RDMSR64 MSR_HYPERCALL
        mov     %rax, RES(HG_R_HC_MSR)
        RDMSR64 MSR_SINT2
        mov     %rax, RES(HG_R_SINT2)
        RDMSR64 MSR_SIMP
        mov     %rax, RES(HG_R_SIMP_MSR)
        RDMSR64 MSR_SIEFP
        mov     %rax, RES(HG_R_SIEFP_MSR)
        RDMSR64 MSR_SCONTROL
        mov     %rax, RES(HG_R_SCONTROL_MSR)
        RDMSR64 MSR_GUEST_OS_ID
        mov     %rax, RES(HG_R_OS_ID)
        RDMSR64 MSR_REFERENCE_TSC
        mov     %rax, RES(HG_R_REFTSC_MSR)
        ret

cmd_time:
        WRMSR64 MSR_REFERENCE_TSC, HG_TSC_PAGE | 1
        RDMSR64 MSR_TIME_REF_COUNT
        mov     %rax, RES(HG_R_REF1)
        call    page_time
        mov     %rax, RES(HG_R_PAGE1)
        RDMSR64 MSR_TIME_REF_COUNT
        mov     %rax, RES(HG_R_REF2)
        call    page_time
        mov     %rax, RES(HG_R_PAGE2)
        mov     %r10, RES(HG_R_TSC_RAW)
        mov     HG_TSC_PAGE, %eax
        mov     %rax, RES(HG_R_TSC_SEQ)
        mov     HG_TSC_PAGE + 8, %rax
        mov     %rax, RES(HG_R_TSC_SCALE)
        mov     HG_TSC_PAGE + 16, %rax
        mov     %rax, RES(HG_R_TSC_OFFSET)
        RDMSR64 MSR_TSC_FREQUENCY
        mov     %rax, RES(HG_R_TSC_FREQ)
        RDMSR64 MSR_APIC_FREQUENCY
        mov     %rax, RES(HG_R_APIC_FREQ)
        jmp     done

# Reference time from the TSC page (§9.2): ((tsc * scale) >> 64) + offset,
# retried while the sequence changes. Returns rax, the raw TSC in r10.
page_time:
1:      mov     HG_TSC_PAGE, %r8d
        mov     HG_TSC_PAGE + 8, %r9
        mov     HG_TSC_PAGE + 16, %r11
        rdtsc
        shl     $32, %rdx
        or      %rdx, %rax
        mov     %rax, %r10
        mul     %r9
        mov     %rdx, %rax
        add     %r11, %rax
        cmp     HG_TSC_PAGE, %r8d
        jne     1b
        ret

cmd_user_hypercall:
        call    enable_hypercall_page
        lea     user_hypercall(%rip), %rax
        jmp     to_user

# CPL3 (port access through the TSS I/O bitmap): a registered doorbell is
# matched inside KVM and works; the hypercall port must raise #UD, and so
# must an unregistered doorbell (ARG = 1), which reaches hvshim.
user_hypercall:
        mov     $0x1005d, %ecx
        mov     MBOX(HG_MB_ARG2), %edx
        HVCALL
        mov     %rax, RES(HG_R_USER_SIGNAL_OK)
        cmpl    $1, MBOX(HG_MB_ARG)
        jne     1f
        mov     $0x1005d, %ecx
        mov     $0x4242, %edx
        HVCALL
        mov     %rax, RES(HG_R_USER_SIGNAL)
        MARK    HG_MARK_DONE            # must not get here
        jmp     2f
1:      lea     3f(%rip), %rax
        mov     %rax, RES(HG_R_USER_IN_RIP)
        mov     $0x5c, %ecx
        mov     $HG_INPUT_PAGE, %r9d
        xor     %r8d, %r8d
        mov     $VMSTACK_HYPERCALL_PORT, %edx
        mov     $0x12345678, %eax
3:      in      (%dx), %eax
        MARK    HG_MARK_DONE            # must not get here
2:      jmp     2b

# Crash report with a message (§9.6): P3 = GPA of the text, P4 = length.
cmd_crash:
        lea     crash_text(%rip), %rsi
        mov     $HG_INPUT_PAGE, %edi
        mov     $crash_text_end - crash_text, %ecx
        rep movsb
        WRMSR64 MSR_CRASH_P0, 0
        WRMSR64 (MSR_CRASH_P0+1), 0
        WRMSR64 (MSR_CRASH_P0+2), 0
        WRMSR64 (MSR_CRASH_P0+3), HG_INPUT_PAGE
        WRMSR64 (MSR_CRASH_P0+4), (crash_text_end-crash_text)
        RDMSR64 MSR_CRASH_CTL
        mov     %rax, RES(HG_R_CRASH_CAPS)
        WRMSR64 MSR_CRASH_CTL, 0xc000000000000000
        jmp     done
crash_text:
        .ascii  "Kernel panic - not syncing: hvshim test\n\033[0m"
crash_text_end:

# Raw KVM port-I/O exit semantics, at CPL0 and then at CPL3: where RIP
# points at the exit, and whether a RIP written by the host on an OUT exit
# is where the guest resumes (the unmatched-doorbell answer relies on it).
cmd_pio_rip:
        call    pio_probes
        lea     user_pio_rip(%rip), %rax
        jmp     to_user
user_pio_rip:
        call    pio_probes
        MARK    HG_MARK_DONE
1:      jmp     1b

pio_probes:
        mov     %cs, %eax
        and     $3, %eax
        mov     %rax, RES(HG_R_PROBE_CPL)
        lea     1f(%rip), %rax
        mov     %rax, RES(HG_R_PROBE_ADDR)
        movq    $1, RES(HG_R_PROBE_KIND)
1:      out     %eax, $HG_PORT_BASE + 0xc
        lea     2f(%rip), %rax
        mov     %rax, RES(HG_R_PROBE_ADDR)
        movq    $2, RES(HG_R_PROBE_KIND)
2:      in      $HG_PORT_BASE + 0xc, %eax
        mov     %rax, RES(HG_R_PROBE_VALUE)
        MARK    HG_MARK_PROBE
        lea     3f(%rip), %rax
        mov     %rax, RES(HG_R_PROBE_ADDR)
        movq    $3, RES(HG_R_PROBE_KIND)
        xor     %ebx, %ebx
3:      out     %eax, $HG_PORT_BASE + 0xc   # host: rip = 3b + 2 + 5, rax = 0x77
        mov     $0x1111, %ebx               # 5 bytes, skipped
        shl     $32, %rbx
        or      %rbx, %rax
        mov     %rax, RES(HG_R_PROBE_VALUE)
        MARK    HG_MARK_PROBE
        ret

# Invalid synthetic MSR accesses must raise #GP; valid ones must not.
# r15 = check number; the #GP handler sets bit r15 of R_GP_MASK.
cmd_msr_gp:
        xor     %r15d, %r15d
        WRMSR64 MSR_VP_INDEX, 1                 # 0: read-only
        inc     %r15d
        WRMSR64 MSR_HYPERCALL, 0x4              # 1: reserved bit 2
        inc     %r15d
        mov     $MSR_RESET, %ecx                # 2: not offered
        rdmsr
        inc     %r15d
        WRMSR64 MSR_SINT2, 5                    # 3: unmasked vector < 16
        inc     %r15d
        WRMSR64 MSR_TIME_REF_COUNT, 0           # 4: read-only
        inc     %r15d
        mov     $MSR_STIMER0_CONFIG, %ecx       # 5: synthetic timers not offered
        rdmsr
        inc     %r15d
        WRMSR64 MSR_SINT2, 0x100f3              # 6: valid
        inc     %r15d
        mov     $MSR_GUEST_OS_ID, %ecx          # 7: valid
        rdmsr
        jmp     done


# Two VPs: VP 0 wakes VP 1 (INIT, SIPI to the real-mode trampoline below),
# which reads VP_INDEX, makes hypercalls and enables its own SynIC pages.
# Both then wait for interrupts, which the handler reports with the CPU.
cmd_smp:
        call    enable_hypercall_page
        call    enable_synic
        mov     $0xfee00000, %ebx
        movl    $0x01000000, 0x310(%rbx)        # ICR high: APIC 1
        movl    $0x00004500, 0x300(%rbx)        # INIT
        lea     ap_trampoline(%rip), %rax
        shr     $12, %eax
        or      $0x4600, %eax                   # SIPI, vector = trampoline page
        mov     %eax, 0x300(%rbx)
        mov     %eax, 0x300(%rbx)               # second SIPI, as the MP spec says
        MARK    HG_MARK_READY
1:      sti
        hlt
        jmp     1b

ap_main:
        RDMSR64 MSR_VP_INDEX
        mov     %rax, RES(HG_R_AP_VP_INDEX)
        mov     $HG_INPUT_PAGE + 0x800, %edi    # HvPostMessage(ARG, type 1, 4 bytes)
        mov     MBOX(HG_MB_ARG), %eax
        mov     %eax, 0(%rdi)
        movl    $0, 4(%rdi)
        movl    $1, 8(%rdi)
        movl    $4, 12(%rdi)
        movl    $0xa9a9a9a9, 16(%rdi)
        mov     $0x5c, %ecx
        mov     %edi, %edx
        xor     %r8d, %r8d
        HVCALL
        mov     %rax, RES(HG_R_AP_POST)
        mov     $0x1005d, %ecx
        mov     MBOX(HG_MB_ARG2), %edx
        HVCALL
        mov     %rax, RES(HG_R_AP_SIGNAL)
        mov     $HG_SIMP_AP | 1, %esi
        mov     $HG_SIEFP_AP | 1, %edi
        call    enable_synic_at
        MARK    HG_MARK_AP_READY
1:      sti
        hlt
        jmp     1b

# VP 1 starts here in real mode (CS = page, IP = 0): flat 32-bit protected
# mode with the shared GDT, then long mode with VP 0's page tables and IDT.
        .code16
        .p2align 12
ap_trampoline:
        cli
        mov     %cs, %ax
        mov     %ax, %ds
        lgdtl   ap_gdtr - ap_trampoline
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $KCODE32, $ap_protected
        .p2align 3
ap_gdtr: .word  gdt_end - gdt - 1
        .long   gdt

        .code32
ap_protected:
        mov     $KDATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     $0xc0000080, %ecx
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        ljmp    $KCODE, $ap_long

        .code64
ap_long:
        mov     $HG_AP_STACK_TOP, %rsp
        lidt    idtr(%rip)
        mov     $0xfee00000, %ebx
        movl    $0x1ff, 0xf0(%rbx)              # LAPIC software enable
        jmp     ap_main
