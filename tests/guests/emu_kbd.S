# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# The emulated i8042 from a tiny long-mode guest (test-emu-i8042.c): the
# controller and keyboard commands Linux's i8042/atkbd drivers use, by
# polling (command byte, self test, interface test, keyboard reset,
# identify, LEDs, scan code set, enable, echo), then "kbd ready" and
# interrupt-driven input on IRQ 1 (vector 0x21): the scan codes the host
# types arrive translated to set 1; at the break code of '.' (B4h) the
# guest prints them ("scan <hex>") and resets the machine with 0xFE to
# port 0x64. One line per step, "<step> ok" or "<step> FAIL <hex>".
#include "emu_common.inc"

#define VEC_KBD 0x21
#define SPIN 2000000

main64:
        lea     kbd_isr(%rip), %rax
        mov     $VEC_KBD, %edi
        call    set_gate
        mov     $1, %edi
        mov     $VEC_KBD, %esi
        call    ioapic_route
        mov     $0x60, %al              # first, keyboard interrupts off while probing
        call    kbc_cmd
        mov     $0x64, %al
        call    kbc_data
        sti
        call    t_controller
        call    t_keyboard
        call    t_cost
        lea     msg_ready(%rip), %rsi
        call    puts
1:      hlt
        cmpb    $0, done(%rip)
        je      1b
        cli
        lea     msg_scan(%rip), %rsi
        call    puts
        lea     scans(%rip), %rsi
        mov     nscans(%rip), %ecx
2:      mov     (%rsi), %al
        call    puthex8
        inc     %rsi
        dec     %ecx
        jnz     2b
        call    nl
        mov     $0xfe, %al              # pulse the reset line
        out     %al, $0x64
3:      hlt
        jmp     3b

kbd_isr:
        push    %rax
        push    %rcx
        in      $0x60, %al
        mov     nscans(%rip), %ecx
        cmp     $64, %ecx
        jae     1f
        push    %rdx
        lea     scans(%rip), %rdx
        mov     %al, (%rdx,%rcx)
        pop     %rdx
        incl    nscans(%rip)
1:      cmp     $0xb4, %al
        jne     2f
        movb    $1, done(%rip)
2:      call    eoi
        pop     %rcx
        pop     %rax
        iretq

# Controller command AL to port 0x64 (waits for an empty input buffer).
kbc_cmd:
        push    %rax
1:      in      $0x64, %al
        test    $0x02, %al
        jnz     1b
        pop     %rax
        out     %al, $0x64
        ret

# Data AL to port 0x60.
kbc_data:
        push    %rax
1:      in      $0x64, %al
        test    $0x02, %al
        jnz     1b
        pop     %rax
        out     %al, $0x60
        ret

# Reads the next byte: AL, CF set on timeout.
kbc_read:
        push    %rcx
        mov     $SPIN, %ecx
1:      in      $0x64, %al
        test    $0x01, %al
        jnz     2f
        dec     %ecx
        jnz     1b
        pop     %rcx
        stc
        ret
2:      in      $0x60, %al
        pop     %rcx
        clc
        ret

# Expects the byte in BL next; on mismatch jumps to the caller's failure
# by returning with CF set and EAX = what came (FFFFFFFFh: nothing).
expect:
        call    kbc_read
        jc      1f
        movzbl  %al, %eax
        cmp     %bl, %al
        jne     2f
        clc
        ret
1:      mov     $0xffffffff, %eax
2:      stc
        ret

.macro EXPECT byte
        mov     $\byte, %bl
        call    expect
        jc      9f
.endm

t_controller:
        lea     msg_ctrl(%rip), %rsi
        mov     $0x20, %al              # read the command byte back
        call    kbc_cmd
        EXPECT  0x64
        mov     $0xaa, %al              # self test
        call    kbc_cmd
        EXPECT  0x55
        mov     $0xab, %al              # keyboard interface test
        call    kbc_cmd
        EXPECT  0x00
        in      $0x64, %al              # system flag set, nothing pending
        and     $0x05, %al
        movzbl  %al, %eax
        cmp     $0x04, %al
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

t_keyboard:
        lea     msg_kbd(%rip), %rsi
        mov     $0xff, %al              # reset: ACK, self-test passed
        call    kbc_data
        EXPECT  0xfa
        EXPECT  0xaa
        mov     $0xf2, %al              # identify: ACK, AB 83 translated to AB 41
        call    kbc_data
        EXPECT  0xfa
        EXPECT  0xab
        EXPECT  0x41
        mov     $0xed, %al              # LEDs
        call    kbc_data
        EXPECT  0xfa
        mov     $0x07, %al
        call    kbc_data
        EXPECT  0xfa
        mov     $0xf0, %al              # scan code set 2
        call    kbc_data
        EXPECT  0xfa
        mov     $0x02, %al
        call    kbc_data
        EXPECT  0xfa
        mov     $0xee, %al              # echo
        call    kbc_data
        EXPECT  0xee
        mov     $0xf4, %al              # enable scanning
        call    kbc_data
        EXPECT  0xfa
        mov     $0x60, %al              # interrupts on: KBDINT | SYS | AUXDIS | XLATE
        call    kbc_cmd
        mov     $0x65, %al
        call    kbc_data
        jmp     ok_line
9:      jmp     fail_line

# 1000 status register reads, in PM timer ticks: "cost kbc <ticks>".
t_cost:
        push    %rdx
        mov     $0x608, %dx
        in      %dx, %eax
        mov     %eax, %r12d
        mov     $1000, %ecx
1:      in      $0x64, %al
        dec     %ecx
        jnz     1b
        in      %dx, %eax
        sub     %r12d, %eax
        and     $0xffffff, %eax
        pop     %rdx
        lea     msg_cost(%rip), %rsi
        call    puts
        call    puthex32
        jmp     nl

done:    .byte 0
        .p2align 2
nscans:  .long 0
scans:   .fill 64, 1, 0
msg_ready: .asciz "kbd ready\n"
msg_cost:  .asciz "cost kbc "
msg_scan:  .asciz "scan "
msg_ctrl:  .asciz "controller"
msg_kbd:   .asciz "keyboard"
        .code32
PVH_NOTE(_start)
