/* SPDX-License-Identifier: MIT */
/* Interrupt entry stubs (long mode only, iretq) and the CPL0 <-> CPL3
 * switch of the test guest. */
#include "layout.h"

        .text
        .code64

/* One stub per vector: push a dummy error code where the CPU pushes none,
 * push the vector, join the common path. Each stub starts on a 16-byte
 * boundary so cpu.c can compute its address from isr_stubs. */
        .balign 16
        .globl  isr_stubs
isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16
        .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        pushq   $vec
        .else
        pushq   $0
        pushq   $vec
        .endif
        jmp     isr_common
        .set    vec, vec + 1
        .endr

/* struct trap_frame in guest.h mirrors this layout. */
isr_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, %rdi
        /* Align the stack for C; the frame pointer survives in rbx. */
        mov     %rsp, %rbx
        and     $-16, %rsp
        call    guest_trap
        mov     %rbx, %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp               /* vector, error code */
        iretq

/* Vector VEC_USER_CALL (DPL 3): the cheapest CPL3 -> CPL0 -> CPL3 round
 * trip, with nothing done at CPL0; used to measure the gate. */
        .balign 16
        .globl  isr_user_call
isr_user_call:
        iretq

/* long guest_user_call(long (*fn)(void *), void *arg, uint64_t rflags,
 *                      void *user_stack_top)
 * Runs fn(arg) at CPL3 with the given RFLAGS (IOPL 3 so CPL3 code may use
 * port I/O: the doorbell, the serial console) and returns its result when
 * fn returns (int3 at user_return_insn, caught by isr_int3). */
        .globl  guest_user_call
guest_user_call:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, -8(%rcx)          /* per CPU: its own user stack */
        sub     $16, %rcx
        pushq   $(SEL_UDATA | 3)        /* SS */
        pushq   %rcx                    /* RSP */
        pushq   %rdx                    /* RFLAGS */
        pushq   $(SEL_UCODE | 3)        /* CS */
        lea     user_trampoline(%rip), %rax
        pushq   %rax                    /* RIP */
        mov     %rdi, %rax
        mov     %rsi, %rdi
        xor     %esi, %esi
        xor     %edx, %edx
        xor     %ecx, %ecx
        iretq

/* At CPL3: call fn(arg), hand its result back to CPL0 with int3 through
 * its DPL 3 gate (isr_int3). Measured on the PVM host (docs/guest-vsc.md):
 * `int n` at CPL3 raises #UD there instead of using its gate, and int3 is
 * the cheapest way from CPL3 to CPL0 that works on both kinds of host. */
user_trampoline:
        call    *%rax
        mov     %rax, %rdi
        .globl  user_return_insn
user_return_insn:
        int3
        ud2

/* Vector 3 (DPL 3): the return from guest_user_call comes first, without
 * saving anything (every instruction at CPL0 is emulated on the PVM host);
 * any other int3 takes the common path. */
        .balign 16
        .globl  isr_int3
isr_int3:
        cmpq    $(user_return_insn + 1), (%rsp)
        je      user_return_from_trap
        pushq   $0
        pushq   $3
        jmp     isr_common

/* Abandon the interrupt frame on the RSP0 stack and return from
 * guest_user_call with RDI (fn's result). The frame's RSP is the user
 * stack's top - 16 (fn returned), the saved stack pointer is above it. */
        .balign 16
        .globl  user_return_from_trap
user_return_from_trap:
        mov     24(%rsp), %rax          /* the frame's RSP */
        mov     8(%rax), %rsp
        mov     %rdi, %rax
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

        .section .note.GNU-stack, "", @progbits
