# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# PVH guest for vmwp: checks hvm_start_info (magic, command line, RSDP,
# memory map), prints a report and a block of binary bytes on COM1, then
# does what the first character of its command line says:
#   p: ACPI power off (PM1a S5)   r: reset via 0xCF9   k: reset via 0x64
#   e: echo COM1 input (polled) until '.', then power off
#   t: triple fault (ud2 at 0x100807, IDT of not-present gates)   i: popcnt from MMIO at 0x100900
#   w: dirty every page of 4..16 MiB over and over, each sweep checking
#      that every page holds the previous sweep's value (live migration's
#      tests: a write lost or replayed prints "dirty BAD" and powers off;
#      a '.' every 64 sweeps; needs 16 MiB of RAM)
#   W<n>: right after the start-info magic (before the other checks, so
#      that QEMU's PVH boot runs it too): dirty the pages of 4..16 MiB
#      one after the other, one page per n TSC cycles (bench-migrate's
#      guest dirtying memory at a set rate); after a stall of 2^32 cycles
#      or more the pace starts afresh instead of catching up
#   H<n>: like W, right after the magic: a '.' on COM1 every n TSC cycles,
#      forever (bench-migrate's heartbeat: the gap in its output seen from
#      outside is a migration's blackout)
#   anything else: hang (cli; hlt)
#include "vmwp_pvh.h"
        .code32
        .globl _start
_start:
        mov     $MARKER_PORT, %dx       # first instruction: the marker
        mov     $1, %al
        out     %al, %dx
        mov     $0x200000, %esp
        mov     %ebx, %esi              # hvm_start_info
        cmpl    $0x336ec578, (%esi)
        jne     bad
        mov     24(%esi), %edi          # cmdline_paddr
        test    %edi, %edi
        jz      1f
        cmpb    $'W', (%edi)
        je      dirty_paced
        cmpb    $'H', (%edi)
        je      heartbeat
1:
        mov     $msg_ok, %eax
        call    puts
        mov     $msg_cmdline, %eax
        call    puts
        mov     24(%esi), %edi          # cmdline_paddr
        mov     %edi, %eax
        test    %eax, %eax
        jz      1f
        call    puts
1:      mov     $msg_nl, %eax
        call    puts
        mov     32(%esi), %ebx          # rsdp_paddr
        cmpl    $0x20445352, (%ebx)     # "RSD "
        jne     bad
        cmpl    $0x20525450, 4(%ebx)    # "PTR "
        jne     bad
        mov     $msg_rsdp, %eax
        call    puts
        mov     48(%esi), %eax          # memmap_entries
        add     $'0', %al
        call    putc
        mov     $'\n', %al
        call    putc
        mov     $binary, %ebx           # byte-exact output, NULs included
        mov     $binary_end - binary, %ecx
2:      mov     (%ebx), %al
        call    putc
        inc     %ebx
        loop    2b
        mov     $MARKER_PORT, %dx       # booted
        mov     $2, %al
        out     %al, %dx
        xor     %eax, %eax
        test    %edi, %edi
        jz      hang
        movb    (%edi), %al
        cmp     $'p', %al
        je      poweroff
        cmp     $'r', %al
        je      reset
        cmp     $'k', %al
        je      kbc_reset
        cmp     $'e', %al
        je      echo
        cmp     $'t', %al
        je      triple
        cmp     $'i', %al
        je      internal
        cmp     $'w', %al
        je      dirty
hang:   cli
        hlt
        jmp     hang

poweroff:
        mov     $PM1A_CNT, %dx
        mov     $SLP_S5, %ax
        out     %ax, %dx
        jmp     hang
reset:
        mov     $0xcf9, %dx
        mov     $6, %al
        out     %al, %dx
        jmp     hang
kbc_reset:
        mov     $0xfe, %al
        out     %al, $0x64
        jmp     hang
echo:
        mov     $COM1 + 5, %dx          # LSR.DR
        in      %dx, %al
        test    $1, %al
        jz      echo
        mov     $COM1, %dx
        in      %dx, %al
        call    putc
        cmp     $'.', %al
        je      poweroff
        jmp     echo
dirty:                                  # sweep n writes n to each page, checking n-1 first
        xor     %ecx, %ecx
2:      mov     $0x400000, %ebx
1:      cmp     %ecx, (%ebx)
        jne     dirty_bad
        lea     1(%ecx), %eax
        mov     %eax, (%ebx)
        add     $4096, %ebx
        cmp     $0x1000000, %ebx
        jb      1b
        inc     %ecx
        test    $63, %ecx               # a '.' every 64 sweeps
        jnz     2b
        mov     $'.', %al
        call    putc
        jmp     2b
decimal:                                # EBP = the decimal at EDI + 1 (after the mode's letter)
        xor     %ebp, %ebp
        inc     %edi
5:      movzbl  (%edi), %eax
        sub     $'0', %eax
        cmp     $9, %eax
        ja      6f
        imul    $10, %ebp, %ebp
        add     %eax, %ebp
        inc     %edi
        jmp     5b
6:      ret
pace_start:                             # EBP = the decimal after the mode's letter (TSC cycles
        call    decimal                 # per step), EDI:ESI = now, the first deadline
        rdtsc
        mov     %eax, %esi
        mov     %edx, %edi
        ret
# The next deadline (EDI:ESI + EBP), waited for; far behind it (a
# pause): start afresh from now. EAX and EDX clobbered. A macro, not a
# call: the paced loops write no memory but what they mean to (the stack
# would be a dirty page of its own).
.macro PACE
        add     %ebp, %esi
        adc     $0, %edi
91:     rdtsc
        cmp     %edi, %edx
        jb      91b
        ja      92f
        cmp     %esi, %eax
        jb      91b
        jmp     93f
92:     mov     %eax, %esi
        mov     %edx, %edi
93:
.endm
heartbeat:                              # a '.' every EBP cycles
        call    pace_start
2:      mov     $COM1, %dx
        mov     $'.', %al
        out     %al, %dx
        PACE
        jmp     2b
dirty_paced:                            # a page every EBP cycles
        call    pace_start
        xor     %ecx, %ecx              # the sweep
2:      mov     $0x400000, %ebx
1:      mov     %ecx, (%ebx)
        PACE
        add     $4096, %ebx
        cmp     $0x1000000, %ebx
        jb      1b
        inc     %ecx
        jmp     2b
dirty_bad:                              # a page lost a write (or got one twice)
        mov     $msg_dirty_bad, %eax
        call    puts
        jmp     poweroff
bad:
        mov     $msg_bad, %eax
        call    puts
        jmp     poweroff

# putc: AL to COM1 once the transmitter holding register is empty.
putc:
        push    %edx
        push    %eax
1:      mov     $COM1 + 5, %dx
        in      %dx, %al
        test    $0x20, %al
        jz      1b
        pop     %eax
        mov     $COM1, %dx
        out     %al, %dx
        pop     %edx
        ret
# puts: NUL-terminated string at EAX.
puts:
        push    %ebx
        mov     %eax, %ebx
1:      mov     (%ebx), %al
        test    %al, %al
        jz      2f
        call    putc
        inc     %ebx
        jmp     1b
2:      pop     %ebx
        ret

msg_ok:         .asciz "vmwp-pvh: start_info ok\n"
msg_cmdline:    .asciz "cmdline: "
msg_nl:         .asciz "\n"
msg_rsdp:       .asciz "rsdp ok\nmemmap "
msg_bad:        .asciz "start_info BAD\n"
msg_dirty_bad:  .asciz "dirty BAD\n"
binary:         .byte 0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x0d, 0x0a
binary_end:

        .org    0x800
triple:                                 # 0x100800
        lidt    idtr0
        ud2                             # 0x100807
idtr0:  .word   0x7ff                   # 256 not-present gates (zeroed RAM):
        .long   0x1000                  # #UD -> #NP -> #DF -> shutdown
        .org    0x900
internal:                               # 0x100900: KVM cannot emulate popcnt
        popcnt  0xd0000000, %eax
        jmp     hang
PVH_NOTE(_start)
