# SPDX-License-Identifier: MIT
# load: 0x1000
# The guest of the VMBus component test: enables the hypercall page and the
# SynIC, then performs the operations the host puts in the mailbox
# (tests/guests/test-vmbus-guest.h), as hv_vmbus would: control messages
# with HvPostMessage, replies from SIMP slot 2 freed then EOM'd only if
# msg_pending (docs/hyperv-guest-interface.md §3.4), channel doorbells with
# the fast HvSignalEvent, event flags test-and-cleared. Boot, interrupt
# handlers (every SINT interrupt is reported as HG_MARK_IRQ) and data:
# hvshim_common.inc.
#include "hvshim_common.inc"
#include "test-vmbus-guest.h"

guest_main:
        call    enable_hypercall_page
        call    enable_synic
        xor     %r12d, %r12d            # last step seen
        MARK    HG_MARK_READY
vg_loop:
        cli
        mov     MBOX(HG_MB_STEP), %eax
        cmp     %r12d, %eax
        jne     1f
        sti
        hlt
        jmp     vg_loop
1:      mov     %eax, %r12d
        sti
        mov     MBOX(HG_MB_OP), %eax
        cmp     $VG_OP_POST, %eax
        je      op_post
        cmp     $VG_OP_RECV, %eax
        je      op_recv
        cmp     $VG_OP_SIGNAL, %eax
        je      op_signal
        cmp     $VG_OP_SCAN, %eax
        je      op_scan
step_done:
        mov     %r12, RES(HG_R_STEP)
        MARK    HG_MARK_STEP_DONE
        jmp     vg_loop

# HvPostMessage input (TLFS): connection id, reserved, message type 1
# (VMBus), payload size, then the 240-byte payload.
op_post:
        mov     MBOX(HG_MB_ARG), %eax
        mov     %eax, HG_INPUT_PAGE
        movl    $0, HG_INPUT_PAGE + 4
        movl    $1, HG_INPUT_PAGE + 8
        mov     MBOX(HG_MB_ARG2), %eax
        mov     %eax, HG_INPUT_PAGE + 12
        xor     %ecx, %ecx
1:      mov     VG_MSG_OUT(,%rcx,8), %rax
        mov     %rax, HG_INPUT_PAGE + 16(,%rcx,8)
        inc     %ecx
        cmp     $30, %ecx
        jne     1b
        mov     $0x5c, %ecx             # HvPostMessage, memory form
        mov     $HG_INPUT_PAGE, %edx
        xor     %r8d, %r8d
        HVCALL
        movzwl  %ax, %eax
        mov     %rax, RES(VG_R_STATUS)
        jmp     step_done

op_recv:
1:      mov     SLOT2, %eax
        test    %eax, %eax
        jnz     2f
        pause
        jmp     1b
2:      xor     %ecx, %ecx
3:      mov     SLOT2(,%rcx,8), %rax
        mov     %rax, VG_MSG_IN(,%rcx,8)
        inc     %ecx
        cmp     $32, %ecx
        jne     3b
        movl    $0, SLOT2
        lock orq $0, (%rsp)             # full barrier: free, then read flags
        testb   $1, SLOT2 + 5
        jz      step_done
        WRMSR64 MSR_EOM, 0
        jmp     step_done

op_signal:
        mov     $0x1005d, %ecx          # fast HvSignalEvent, flag number 0
        mov     MBOX(HG_MB_ARG), %edx
        HVCALL
        movzwl  %ax, %eax
        mov     %rax, RES(VG_R_STATUS)
        jmp     step_done

op_scan:
        mov     MBOX(HG_MB_ARG), %eax
        lock btrq %rax, SIEF2
        setc    %al
        movzbl  %al, %eax
        mov     %rax, RES(VG_R_STATUS)
        jmp     step_done
