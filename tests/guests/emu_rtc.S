# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# The emulated MC146818 RTC from a tiny long-mode guest (test-emu-rtc.c):
# reads the date and time the way Linux's mc146818_get_time() does (wait
# for UIP clear, read, check UIP and seconds again) and prints them
# ("time CCYY-MM-DD HH:MM:SS" in the BCD the RTC gives); checks register D
# and the CMOS memory size bytes ("cmos <base> <ext>"); counts periodic
# interrupts at 64 Hz on IRQ 8 (vector 0x28) against the ACPI PM timer
# ("periodic <n> <pm ticks>"); waits for two update-ended interrupts and
# an alarm interrupt; sets a date with SET and reads it back in BCD,
# binary and 12-hour formats; then powers off.
#include "emu_common.inc"

#define VEC_RTC 0x28
#define PM_TMR 0x608

.macro CMOS_READ idx
        mov     $\idx, %al
        out     %al, $0x70
        in      $0x71, %al
.endm
.macro CMOS_WRITE idx, val
        mov     $\idx, %al
        out     %al, $0x70
        mov     $\val, %al
        out     %al, $0x71
.endm

main64:
        lea     rtc_isr(%rip), %rax
        mov     $VEC_RTC, %edi
        call    set_gate
        mov     $8, %edi
        mov     $VEC_RTC, %esi
        call    ioapic_route
        call    t_time
        call    t_cmos
        sti
        call    t_periodic
        call    t_update
        call    t_alarm
        cli
        call    t_set
        call    t_cost
        lea     msg_done(%rip), %rsi
        call    puts
        jmp     poweroff

# Counts the flags of register C (read: clears them and the interrupt).
rtc_isr:
        push    %rax
        CMOS_READ 0x0c
        test    $0x40, %al
        jz      1f
        incl    pf_count(%rip)
1:      test    $0x10, %al
        jz      2f
        incl    uf_count(%rip)
2:      test    $0x20, %al
        jz      3f
        incl    af_count(%rip)
3:      call    eoi
        pop     %rax
        iretq

t_time:
1:      CMOS_READ 0x0a                  # wait while an update is in progress
        test    $0x80, %al
        jnz     1b
        CMOS_READ 0x00
        mov     %al, r_sec(%rip)
        CMOS_READ 0x02
        mov     %al, r_min(%rip)
        CMOS_READ 0x04
        mov     %al, r_hour(%rip)
        CMOS_READ 0x07
        mov     %al, r_day(%rip)
        CMOS_READ 0x08
        mov     %al, r_mon(%rip)
        CMOS_READ 0x09
        mov     %al, r_year(%rip)
        CMOS_READ 0x32
        mov     %al, r_cent(%rip)
        CMOS_READ 0x0a                  # consistent only if no update began
        test    $0x80, %al
        jnz     1b
        CMOS_READ 0x00
        cmp     r_sec(%rip), %al
        jne     1b
        lea     msg_time(%rip), %rsi
        call    puts
        mov     r_cent(%rip), %al
        call    puthex8
        mov     r_year(%rip), %al
        call    puthex8
        mov     $'-', %al
        call    putc
        mov     r_mon(%rip), %al
        call    puthex8
        mov     $'-', %al
        call    putc
        mov     r_day(%rip), %al
        call    puthex8
        mov     $' ', %al
        call    putc
        mov     r_hour(%rip), %al
        call    puthex8
        mov     $':', %al
        call    putc
        mov     r_min(%rip), %al
        call    puthex8
        mov     $':', %al
        call    putc
        mov     r_sec(%rip), %al
        call    puthex8
        call    nl
        ret

t_cmos:
        lea     msg_cmos(%rip), %rsi
        call    puts
        CMOS_READ 0x0d                  # VRT set, bit 6 clear
        call    puthex8
        mov     $' ', %al
        call    putc
        CMOS_READ 0x16                  # base memory, KiB
        call    puthex8
        CMOS_READ 0x15
        call    puthex8
        mov     $' ', %al
        call    putc
        CMOS_READ 0x18                  # extended memory, KiB
        call    puthex8
        CMOS_READ 0x17
        call    puthex8
        call    nl
        ret

read_pm:
        push    %rdx
        mov     $PM_TMR, %dx
        in      %dx, %eax
        and     $0xffffff, %eax
        pop     %rdx
        ret

# 16 periodic interrupts at 64 Hz: the PM timer tells how long they took.
t_periodic:
        CMOS_WRITE 0x0a, 0x2a           # 32.768 kHz time base, rate 10: 64 Hz
        CMOS_READ 0x0c                  # clear stale flags
        call    read_pm
        mov     %eax, %r12d
        movl    $0, pf_count(%rip)
        CMOS_WRITE 0x0b, 0x42           # PIE, 24-hour, BCD
1:      hlt
        cmpl    $16, pf_count(%rip)
        jb      1b
        call    read_pm
        sub     %r12d, %eax
        and     $0xffffff, %eax
        mov     %eax, %r13d
        CMOS_WRITE 0x0b, 0x02
        lea     msg_periodic(%rip), %rsi
        call    puts
        mov     pf_count(%rip), %eax
        call    puthex32
        mov     $' ', %al
        call    putc
        mov     %r13d, %eax
        call    puthex32
        call    nl
        ret

# Two update-ended interrupts, about a second apart.
t_update:
        movl    $0, uf_count(%rip)
        CMOS_WRITE 0x0b, 0x12           # UIE
1:      hlt
        cmpl    $1, uf_count(%rip)
        jb      1b
        call    read_pm
        mov     %eax, %r12d
2:      hlt
        cmpl    $2, uf_count(%rip)
        jb      2b
        call    read_pm
        sub     %r12d, %eax
        and     $0xffffff, %eax
        mov     %eax, %r13d
        CMOS_WRITE 0x0b, 0x02
        lea     msg_update(%rip), %rsi
        call    puts
        mov     %r13d, %eax
        call    puthex32
        call    nl
        ret

# An alarm two seconds ahead (hours and minutes "don't care").
t_alarm:
        movl    $0, af_count(%rip)
1:      CMOS_READ 0x0a
        test    $0x80, %al
        jnz     1b
        CMOS_READ 0x00                  # BCD seconds + 2, modulo 60
        movzbl  %al, %eax
        mov     %eax, %ecx
        shr     $4, %ecx
        imul    $10, %ecx
        and     $0xf, %eax
        add     %ecx, %eax
        add     $2, %eax
        cmp     $60, %eax
        jb      2f
        sub     $60, %eax
2:      xor     %edx, %edx
        mov     $10, %ecx
        div     %ecx
        shl     $4, %eax
        or      %edx, %eax
        mov     %al, %bl
        mov     $0x01, %al
        out     %al, $0x70
        mov     %bl, %al
        out     %al, $0x71
        CMOS_WRITE 0x03, 0xc0
        CMOS_WRITE 0x05, 0xc0
        CMOS_WRITE 0x0b, 0x22           # AIE
3:      hlt
        cmpl    $1, af_count(%rip)
        jb      3b
        CMOS_WRITE 0x0b, 0x02
        lea     msg_alarm(%rip), %rsi
        jmp     ok_line

# SET, a new date, SET cleared: read back in BCD, binary and 12-hour.
t_set:
        lea     msg_set(%rip), %rsi
        CMOS_WRITE 0x0b, 0x82           # SET (24-hour, BCD)
        CMOS_WRITE 0x32, 0x20
        CMOS_WRITE 0x09, 0x31
        CMOS_WRITE 0x08, 0x07
        CMOS_WRITE 0x07, 0x04
        CMOS_WRITE 0x04, 0x13
        CMOS_WRITE 0x02, 0x34
        CMOS_WRITE 0x00, 0x56
        CMOS_WRITE 0x0b, 0x02
        CMOS_READ 0x09
        cmp     $0x31, %al
        jne     9f
        CMOS_READ 0x08
        cmp     $0x07, %al
        jne     9f
        CMOS_READ 0x07
        cmp     $0x04, %al
        jne     9f
        CMOS_READ 0x06                  # 2031-07-04 is a Friday: 6
        cmp     $0x06, %al
        jne     9f
        CMOS_READ 0x04
        cmp     $0x13, %al
        jne     9f
        CMOS_WRITE 0x0b, 0x06           # binary
        CMOS_READ 0x04
        cmp     $13, %al
        jne     9f
        CMOS_READ 0x09
        cmp     $31, %al
        jne     9f
        CMOS_WRITE 0x0b, 0x00           # BCD, 12-hour: 1 PM
        CMOS_READ 0x04
        cmp     $0x81, %al
        jne     9f
        CMOS_WRITE 0x0b, 0x02
        mov     $0x8d, %al              # register D with the NMI mask bit: ignored
        out     %al, $0x70
        in      $0x71, %al
        cmp     $0x80, %al
        jne     9f
        jmp     ok_line
9:      movzbl  %al, %eax
        jmp     fail_line

# 1000 reads of a time register (index write + data read: two exits),
# in PM timer ticks: "cost cmos <ticks>".
t_cost:
        call    read_pm
        mov     %eax, %r12d
        mov     $1000, %ecx
1:      CMOS_READ 0x00
        dec     %ecx
        jnz     1b
        call    read_pm
        sub     %r12d, %eax
        and     $0xffffff, %eax
        lea     msg_cost(%rip), %rsi
        call    puts
        call    puthex32
        jmp     nl

pf_count: .long 0
uf_count: .long 0
af_count: .long 0
r_sec:  .byte 0
r_min:  .byte 0
r_hour: .byte 0
r_day:  .byte 0
r_mon:  .byte 0
r_year: .byte 0
r_cent: .byte 0
msg_time:     .asciz "time "
msg_cmos:     .asciz "cmos "
msg_periodic: .asciz "periodic "
msg_update:   .asciz "update "
msg_alarm:    .asciz "alarm"
msg_set:      .asciz "set"
msg_done:     .asciz "rtc done\n"
msg_cost:     .asciz "cost cmos "
        .code32
PVH_NOTE(_start)
