# SPDX-License-Identifier: MIT
# load: 0x1000
# Writes 0x5a below the BIOS segment (0xEF000), into it (0xF0100) and past
# it (0x100000), then says it is done on port 0x1f (test-vid.c).
        .code32
        .globl _start
_start:
        movb    $0x5a, 0xef000
        movb    $0x5a, 0xf0100
        movb    $0x5a, 0x100000
        movw    $0x1f, %dx
        outb    %al, %dx
1:      hlt
        jmp     1b
