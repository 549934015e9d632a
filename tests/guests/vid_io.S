# SPDX-License-Identifier: MIT
# load: 0x1000
# Entered in flat 32-bit protected mode (vid_vp_set_protected_mode_flat).
# Exercises PIO (byte, dword, read), MMIO (write, read) and an unclaimed port.
        .code32
        .globl _start
_start:
        mov     $0x42, %al
        out     %al, $0x10              # byte write -> 0x42
        mov     $0x12345678, %eax
        out     %eax, $0x14             # dword write
        in      $0x10, %al              # device returns 0x99
        out     %al, $0x11              # echo it
        movl    $0xdeadbeef, 0xd0000000 # MMIO write
        movl    0xd0000008, %eax        # MMIO read -> 0xcafef00d
        out     %eax, $0x14             # echo it
        in      $0x30, %al              # nothing there: 0xff
        out     %al, $0x11
        out     %al, $0x1f              # done
1:      hlt
        jmp     1b
