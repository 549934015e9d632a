# SPDX-License-Identifier: MIT
# load: 0x1000
# The guest of bench/bench-hvshim.c: signalling loops at CPL0 or CPL3,
# timed by the host between HG_MARK_BEGIN and HG_MARK_END. Boot, handlers
# (the SINT handler's bench modes) and data: hvshim_common.inc.
#include "hvshim_common.inc"

# Mailbox: ARG = doorbell connection id, ARG2 = iterations, ARG3 =
# doorbell id the handler rings in the IRQ phase, ARG4 = doorbell id of the
# doorbell-only phase, USER = run the loops at CPL3.
guest_main:
        call    enable_hypercall_page
        call    enable_synic
        movl    $1, isr_mode(%rip)
        sti
        cmpl    $0, MBOX(HG_MB_USER)
        je      bench_body
        lea     bench_body(%rip), %rax
        jmp     to_user
bench_body:
        mov     $HG_PHASE_PIO, %eax
        mov     %rax, RES(HG_R_PHASE)
        MARK    HG_MARK_BEGIN
        mov     MBOX(HG_MB_ARG2), %r12d
1:      out     %eax, $HG_PORT_BENCH
        dec     %r12d
        jnz     1b
        MARK    HG_MARK_END
        # Doorbells alone (an eventfd nobody answers): the stub's cost.
        mov     $HG_PHASE_DOORBELL, %eax
        mov     %rax, RES(HG_R_PHASE)
        MARK    HG_MARK_BEGIN
        mov     MBOX(HG_MB_ARG2), %r12d
2:      mov     $0x1005d, %ecx
        mov     MBOX(HG_MB_ARG4), %edx
        HVCALL
        dec     %r12d
        jnz     2b
        MARK    HG_MARK_END
        # Doorbell, then wait for the host's event interrupt.
        mov     $HG_PHASE_SIGNAL, %eax
        mov     %rax, RES(HG_R_PHASE)
        MARK    HG_MARK_BEGIN
        mov     MBOX(HG_MB_ARG2), %r12d
3:      movl    $0, irq_seen(%rip)
        mov     $0x1005d, %ecx
        mov     MBOX(HG_MB_ARG), %edx
        HVCALL
4:      cmpl    $0, irq_seen(%rip)
        jne     6f
        cmpl    $0, MBOX(HG_MB_USER)
        jne     4b                      # CPL3: spin (no cli/sti/hlt there)
        cli                             # CPL0: wait in hlt
        cmpl    $0, irq_seen(%rip)
        jne     5f
        sti
        hlt
        jmp     4b
5:      sti
6:      dec     %r12d
        jnz     3b
        MARK    HG_MARK_END
        # From here the host drives: each event interrupt answers with a
        # doorbell from the handler.
        movl    $2, isr_mode(%rip)
        mov     $HG_PHASE_IRQ, %eax
        mov     %rax, RES(HG_R_PHASE)
        MARK    HG_MARK_BEGIN
7:      cmpl    $0, MBOX(HG_MB_USER)
        jne     7b
        hlt
        jmp     7b

