# SPDX-License-Identifier: MIT
# load: 0x1000
# Writes 0x5a below the shadowed area (0xBF000), into three of its 16 KiB
# pieces (0xC0100, 0xC4100, 0xEC100), into the BIOS segment (0xF0100) and
# past it (0x100000), then says it is done on port 0x1f (test-vid.c).
        .code32
        .globl _start
_start:
        movb    $0x5a, 0xbf000
        movb    $0x5a, 0xc0100
        movb    $0x5a, 0xc4100
        movb    $0x5a, 0xec100
        movb    $0x5a, 0xf0100
        movb    $0x5a, 0x100000
        movw    $0x1f, %dx
        outb    %al, %dx
1:      hlt
        jmp     1b
