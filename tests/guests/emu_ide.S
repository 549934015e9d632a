# SPDX-License-Identifier: MIT
# load: 0x100000
# elf: yes
# The emulated IDE controller from a tiny long-mode guest (test-emu-ide.c):
# finds the PIIX3 IDE function through PCI configuration mechanism #1
# (and moves its BAR4 from 0xC000 to 0xD040: the old BMIDE ports float),
# takes IRQ 14 through the IOAPIC (vector 0x2E, edge), and on the primary
# master runs: software reset (signature, absent device 1), IDENTIFY
# (dumped as hex for the host to check), LBA28 PIO write/read, IDNF beyond
# the 28-bit range, ABRT for IDENTIFY PACKET, LBA48 PIO write/read above
# 2^28, SET MULTIPLE + WRITE MULTIPLE + READ MULTIPLE EXT, bus-master DMA
# writes and reads (several PRDs, the interrupt, BMIDE status), nIEN,
# FLUSH CACHE (EXT), and finally a 64 KiB DMA write at LBA 2048 that the
# host reads back from the image and through storvsp. One line per step,
# "<step> ok" or "<step> FAIL <hex>"; "ide done" at the end, then S5.
#include "emu_common.inc"

#define ATA 0x1f0
#define ATA_CTL 0x3f6
#define VEC_IDE 0x2e
#define BUF_A 0x400000
#define BUF_B 0x420000
#define PRD 0x440000
#define SPIN 4000000

# al = value, port constant
.macro OUTB port
        mov     $\port, %dx
        out     %al, %dx
.endm
.macro INB port
        mov     $\port, %dx
        in      %dx, %al
.endm

main64:
        lea     ide_isr(%rip), %rax
        mov     $VEC_IDE, %edi
        call    set_gate
        mov     $14, %edi
        mov     $VEC_IDE, %esi          # edge, active high, fixed, physical dest 0
        call    ioapic_route
        sti
        call    t_pci
        call    t_reset
        call    t_identify
        call    t_lba28
        call    t_idnf
        call    t_abort
        call    t_lba48
        call    t_multiple
        call    t_dma
        call    t_nien
        call    t_flush
        call    t_xcheck
        call    t_cost
        lea     msg_done(%rip), %rsi
        call    puts
        jmp     poweroff

ide_isr:
        push    %rax
        push    %rdx
        INB     ATA+7                 # reading Status acknowledges INTRQ
        mov     %al, irq_status(%rip)
        incl    irq_count(%rip)
        call    eoi
        pop     %rdx
        pop     %rax
        iretq

# Waits for the next interrupt after the count in R12D; AL = the status
# the ISR read, R12D updated; CF set on timeout.
wait_irq:
        push    %rcx
        mov     $SPIN, %ecx
1:      cmp     irq_count(%rip), %r12d
        jne     2f
        pause
        dec     %ecx
        jnz     1b
        pop     %rcx
        stc
        ret
2:      mov     irq_count(%rip), %r12d
        movzbl  irq_status(%rip), %eax
        pop     %rcx
        clc
        ret

# Polls the alternate status until BSY clears; AL = status, CF on timeout.
wait_ready:
        push    %rcx
        mov     $SPIN, %ecx
1:      INB     ATA_CTL
        test    $0x80, %al
        jz      2f
        dec     %ecx
        jnz     1b
        pop     %rcx
        stc
        ret
2:      pop     %rcx
        clc
        ret

# LBA28 command: AL = command, EBX = LBA, ECX = count (0 = 256)
issue28:
        push    %rax
        mov     %cl, %al
        OUTB    ATA+2
        mov     %bl, %al
        OUTB    ATA+3
        mov     %bh, %al
        OUTB    ATA+4
        mov     %ebx, %eax
        shr     $16, %eax
        OUTB    ATA+5
        mov     %ebx, %eax
        shr     $24, %eax
        and     $0x0f, %al
        or      $0xe0, %al
        OUTB    ATA+6
        pop     %rax
        OUTB    ATA+7
        ret

# LBA48 command: AL = command, RBX = LBA, ECX = count (0 = 65536); each
# register gets its high byte first (the HOB half), then its low byte.
issue48:
        push    %rax
        mov     $0x40, %al
        OUTB    ATA+6
        mov     %ch, %al
        OUTB    ATA+2
        mov     %cl, %al
        OUTB    ATA+2
        mov     %rbx, %rax
        shr     $24, %rax
        OUTB    ATA+3
        mov     %bl, %al
        OUTB    ATA+3
        mov     %rbx, %rax
        shr     $32, %rax
        OUTB    ATA+4
        mov     %bh, %al
        OUTB    ATA+4
        mov     %rbx, %rax
        shr     $40, %rax
        OUTB    ATA+5
        mov     %rbx, %rax
        shr     $16, %rax
        OUTB    ATA+5
        pop     %rax
        OUTB    ATA+7
        ret

# Fills ECX bytes at RDI: byte i = (i * 13 + EDX) ^ (i >> 9)
fill:
        push    %r8
        push    %r9
        push    %rax
        xor     %r8d, %r8d
1:      mov     %r8d, %eax
        imul    $13, %eax
        add     %edx, %eax
        mov     %r8d, %r9d
        shr     $9, %r9d
        xor     %r9d, %eax
        mov     %al, (%rdi,%r8)
        inc     %r8d
        cmp     %ecx, %r8d
        jne     1b
        pop     %rax
        pop     %r9
        pop     %r8
        ret

# Compares ECX bytes at RSI and RDI: ZF set when equal.
compare:
        push    %rsi
        push    %rdi
        push    %rcx
        cld
        repe cmpsb
        pop     %rcx
        pop     %rdi
        pop     %rsi
        ret

# PIO data-in: RDI = buffer, ECX = sectors, R9D = sectors per DRQ block.
# Waits for the interrupt of each block; CF set (EAX = status) on error.
pio_in:
        push    %rcx
        mov     %ecx, %r10d
1:      call    wait_irq
        jc      8f
        test    $0x01, %al
        jnz     8f
        test    $0x08, %al
        jz      8f
        mov     %r9d, %ecx
        cmp     %r10d, %ecx
        jbe     2f
        mov     %r10d, %ecx
2:      sub     %ecx, %r10d
        shl     $8, %ecx                # words
        mov     $ATA, %dx
        cld
        rep insw
        test    %r10d, %r10d
        jnz     1b
        pop     %rcx
        clc
        ret
8:      pop     %rcx
        stc
        ret

# PIO data-out: RSI = buffer, ECX = sectors, R9D = sectors per DRQ block.
# The first block when DRQ is up, the next ones after their interrupt,
# then the completion interrupt; CF set (EAX = status) on error.
pio_out:
        push    %rcx
        mov     %ecx, %r10d
        call    wait_ready
        jc      8f
1:      test    $0x01, %al
        jnz     8f
        test    $0x08, %al
        jz      8f
        mov     %r9d, %ecx
        cmp     %r10d, %ecx
        jbe     2f
        mov     %r10d, %ecx
2:      sub     %ecx, %r10d
        shl     $8, %ecx
        mov     $ATA, %dx
        cld
        rep outsw
        call    wait_irq
        jc      8f
        test    %r10d, %r10d
        jnz     1b
        test    $0x01, %al
        jnz     8f
        pop     %rcx
        clc
        ret
8:      pop     %rcx
        stc
        ret

# ---- the steps ----

t_pci:
        lea     msg_pci(%rip), %rsi
        mov     $0x80000800, %eax       # bus 0, device 1, function 0: PIIX3 ISA bridge
        mov     $0xcf8, %dx
        out     %eax, %dx
        mov     $0xcfc, %dx
        in      %dx, %eax
        cmp     $0x70008086, %eax
        jne     9f
        mov     $0x80000900, %eax       # function 1: the IDE function
        mov     $0xcf8, %dx
        out     %eax, %dx
        mov     $0xcfc, %dx
        in      %dx, %eax
        cmp     $0x70108086, %eax
        jne     9f
        mov     $0x80000908, %eax       # class 01 01 80, revision 0
        mov     $0xcf8, %dx
        out     %eax, %dx
        mov     $0xcfc, %dx
        in      %dx, %eax
        cmp     $0x01018000, %eax
        jne     9f
        mov     $0x80000920, %eax       # BAR4: the bus-master block
        mov     $0xcf8, %dx
        out     %eax, %dx
        mov     $0xcfc, %dx
        in      %dx, %eax
        test    $1, %eax
        jz      9f
        and     $0xfff0, %eax
        cmp     $0xc000, %eax           # where the worker's platform puts it
        jne     9f
        # Moved as a BIOS may (docs/emulated-devices.md): the bus-master
        # ports follow BAR4 (vid's port window), the old ones float, and
        # every DMA test below runs through the new ones.
        mov     $0x80000920, %eax
        mov     $0xcf8, %dx
        out     %eax, %dx
        mov     $0xd041, %eax
        mov     $0xcfc, %dx
        out     %eax, %dx
        in      %dx, %eax
        cmp     $0xd041, %eax
        jne     9f
        mov     $0xc002, %dx            # the old BMIDE status port
        in      %dx, %al
        cmp     $0xff, %al
        jne     9f
        mov     $0xd042, %dx            # the new one answers
        in      %dx, %al
        cmp     $0xff, %al
        je      9f
        mov     $0xd040, %eax
        mov     %eax, bm_base(%rip)
        jmp     ok_line
9:      jmp     fail_line

t_reset:
        lea     msg_reset(%rip), %rsi
        mov     $0x04, %al              # SRST
        OUTB    ATA_CTL
        mov     $0x00, %al
        OUTB    ATA_CTL
        call    wait_ready
        jc      9f
        cmp     $0x50, %al              # DRDY | DSC
        jne     9f
        INB     ATA+2                 # the ATA signature: 01 01 00 00
        shl     $8, %eax
        INB     ATA+3
        shl     $8, %eax
        INB     ATA+4
        shl     $8, %eax
        INB     ATA+5
        cmp     $0x01010000, %eax
        jne     9f
        INB     ATA+1                 # diagnostic code 01h
        cmp     $0x01, %al
        jne     9f
        mov     $0xb0, %al              # device 1 is absent: its status reads 00h
        OUTB    ATA+6
        INB     ATA+7
        mov     %eax, %ebx
        mov     $0xa0, %al
        OUTB    ATA+6
        movzbl  %bl, %eax
        test    %al, %al
        jnz     9f
        jmp     ok_line
9:      jmp     fail_line

t_identify:
        lea     msg_identify(%rip), %rsi
        mov     irq_count(%rip), %r12d
        mov     $0xe0, %al
        OUTB    ATA+6
        mov     $0xec, %al
        OUTB    ATA+7
        mov     $BUF_A, %edi
        mov     $1, %ecx
        mov     $1, %r9d
        call    pio_in
        jc      9f
        INB     ATA+7                 # no more data: DRQ clear
        test    $0x08, %al
        jnz     9f
        lea     msg_iddump(%rip), %rsi
        call    puts
        mov     $BUF_A, %esi
        mov     $512, %ecx
1:      mov     (%rsi), %al
        call    puthex8
        inc     %rsi
        dec     %ecx
        jnz     1b
        call    nl
        lea     msg_identify(%rip), %rsi
        jmp     ok_line
9:      jmp     fail_line

t_lba28:
        lea     msg_lba28(%rip), %rsi
        mov     $BUF_A, %edi
        mov     $1024, %ecx
        mov     $0x11, %edx
        call    fill
        mov     irq_count(%rip), %r12d
        mov     $0x30, %al              # WRITE SECTORS, 2 at LBA 1
        mov     $1, %ebx
        mov     $2, %ecx
        call    issue28
        push    %rsi
        mov     $BUF_A, %esi
        mov     $1, %r9d
        call    pio_out
        pop     %rsi
        jc      9f
        mov     $0x20, %al              # READ SECTORS
        mov     $1, %ebx
        mov     $2, %ecx
        call    issue28
        mov     $BUF_B, %edi
        mov     $1, %r9d
        call    pio_in
        jc      9f
        push    %rsi
        mov     $BUF_A, %esi
        mov     $BUF_B, %edi
        mov     $1024, %ecx
        call    compare
        pop     %rsi
        mov     $0xc0, %eax
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

t_idnf:
        lea     msg_idnf(%rip), %rsi
        mov     irq_count(%rip), %r12d
        mov     $0x20, %al              # READ SECTORS at 0FFFFFFFh: past words 60-61
        mov     $0x0fffffff, %ebx
        mov     $1, %ecx
        call    issue28
        call    wait_irq
        jc      9f
        test    $0x01, %al              # ERR
        jz      9f
        INB     ATA+1
        cmp     $0x10, %al              # IDNF
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

t_abort:
        lea     msg_abort(%rip), %rsi
        mov     irq_count(%rip), %r12d
        mov     $0xa1, %al              # IDENTIFY PACKET DEVICE: not a packet device
        OUTB    ATA+7
        call    wait_irq
        jc      9f
        test    $0x01, %al
        jz      9f
        INB     ATA+1
        cmp     $0x04, %al              # ABRT
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

t_lba48:
        lea     msg_lba48(%rip), %rsi
        mov     $BUF_A, %edi
        mov     $1536, %ecx
        mov     $0x48, %edx
        call    fill
        mov     irq_count(%rip), %r12d
        mov     $0x34, %al              # WRITE SECTORS EXT, 3 at 10000005h
        mov     $0x10000005, %rbx
        mov     $3, %ecx
        call    issue48
        push    %rsi
        mov     $BUF_A, %esi
        mov     $1, %r9d
        call    pio_out
        pop     %rsi
        jc      9f
        mov     $0x24, %al              # READ SECTORS EXT
        mov     $0x10000005, %rbx
        mov     $3, %ecx
        call    issue48
        mov     $BUF_B, %edi
        mov     $1, %r9d
        call    pio_in
        jc      9f
        push    %rsi
        mov     $BUF_A, %esi
        mov     $BUF_B, %edi
        mov     $1536, %ecx
        call    compare
        pop     %rsi
        mov     $0xc0, %eax
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

t_multiple:
        lea     msg_multiple(%rip), %rsi
        mov     irq_count(%rip), %r12d
        mov     $4, %al                 # SET MULTIPLE MODE: 4 sectors per block
        OUTB    ATA+2
        mov     $0xc6, %al
        OUTB    ATA+7
        call    wait_irq
        jc      9f
        test    $0x01, %al
        jnz     9f
        mov     $BUF_A, %edi
        mov     $5120, %ecx
        mov     $0x4d, %edx
        call    fill
        mov     $0xc5, %al              # WRITE MULTIPLE, 10 at LBA 16: blocks 4, 4, 2
        mov     $16, %ebx
        mov     $10, %ecx
        call    issue28
        push    %rsi
        mov     $BUF_A, %esi
        mov     $4, %r9d
        call    pio_out
        pop     %rsi
        jc      9f
        mov     $0x29, %al              # READ MULTIPLE EXT
        mov     $16, %rbx
        mov     $10, %ecx
        call    issue48
        mov     $BUF_B, %edi
        mov     $4, %r9d
        call    pio_in
        jc      9f
        push    %rsi
        mov     $BUF_A, %esi
        mov     $BUF_B, %edi
        mov     $5120, %ecx
        call    compare
        pop     %rsi
        mov     $0xc0, %eax
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

# A DMA command: AL = ATA command, EBX = BMIDE command (direction), the
# PRD table at PRD; issue with issue28 (AH = 0) or issue48 (AH = 1),
# RBX' = LBA in R13, count in R14D. Returns EAX = BMIDE status << 8 |
# ATA status, CF on timeout.
dma:
        push    %rdx
        push    %rcx
        push    %rax
        mov     bm_base(%rip), %edx
        add     $4, %edx
        mov     $PRD, %eax
        out     %eax, %dx               # PRD table address
        sub     $4, %edx
        mov     %bl, %al
        out     %al, %dx                # direction, stopped
        add     $2, %edx
        mov     $0x06, %al
        out     %al, %dx                # clear INTR and ERROR
        mov     irq_count(%rip), %r12d
        pop     %rax
        mov     %r13, %rbx
        mov     %r14d, %ecx
        test    %ah, %ah
        jnz     1f
        call    issue28
        jmp     2f
1:      call    issue48
2:      mov     bm_base(%rip), %edx
        in      %dx, %al
        or      $0x01, %al              # START
        out     %al, %dx
        call    wait_irq
        jc      8f
        mov     %eax, %ecx
        mov     bm_base(%rip), %edx
        add     $2, %edx
        in      %dx, %al                # BMIDE status
        shl     $8, %eax
        mov     %cl, %al
        push    %rax
        mov     bm_base(%rip), %edx
        mov     $0x00, %al              # stop
        out     %al, %dx
        add     $2, %edx
        mov     $0x06, %al
        out     %al, %dx
        pop     %rax
        pop     %rcx
        pop     %rdx
        clc
        ret
8:      pop     %rcx
        pop     %rdx
        stc
        ret

t_dma:
        lea     msg_dma(%rip), %rsi
        mov     $BUF_A, %edi
        mov     $8192, %ecx
        mov     $0x33, %edx
        call    fill
        movl    $BUF_A, PRD             # two 4 KiB regions, EOT on the second
        movl    $4096, PRD + 4
        movl    $BUF_A + 4096, PRD + 8
        movl    $0x80001000, PRD + 12
        mov     $0xca, %al              # WRITE DMA, 16 at LBA 100
        xor     %ah, %ah
        mov     $0x00, %ebx             # bus master reads memory
        mov     $100, %r13
        mov     $16, %r14d
        call    dma
        jc      9f
        and     $0x0701, %eax           # INTR set, ACTIVE and ERROR clear; no ATA ERR
        cmp     $0x0400, %eax
        jne     9f
        movl    $BUF_B, PRD             # 4 KiB + 2 KiB + 2 KiB
        movl    $4096, PRD + 4
        movl    $BUF_B + 4096, PRD + 8
        movl    $2048, PRD + 12
        movl    $BUF_B + 6144, PRD + 16
        movl    $0x80000800, PRD + 20
        mov     $0x25, %al              # READ DMA EXT
        mov     $1, %ah
        mov     $0x08, %ebx             # bus master writes memory
        mov     $100, %r13
        mov     $16, %r14d
        call    dma
        jc      9f
        and     $0x0701, %eax
        cmp     $0x0400, %eax
        jne     9f
        push    %rsi
        mov     $BUF_A, %esi
        mov     $BUF_B, %edi
        mov     $8192, %ecx
        call    compare
        pop     %rsi
        mov     $0xc0, %eax
        jne     9f
        jmp     ok_line
9:      jmp     fail_line

t_nien:
        lea     msg_nien(%rip), %rsi
        mov     $0x02, %al              # nIEN
        OUTB    ATA_CTL
        mov     irq_count(%rip), %r12d
        mov     $0xe5, %al              # CHECK POWER MODE
        OUTB    ATA+7
        call    wait_ready
        jc      9f
        mov     $200000, %ecx           # an interrupt would have come by now
1:      pause
        dec     %ecx
        jnz     1b
        mov     $0xdead, %eax
        cmp     irq_count(%rip), %r12d
        jne     9f
        INB     ATA+2                 # FFh: active or idle
        cmp     $0xff, %al
        jne     9f
        INB     ATA+7                 # acknowledges before nIEN is cleared
        test    $0x01, %al
        jnz     9f
        mov     $0x00, %al
        OUTB    ATA_CTL
        jmp     ok_line
9:      push    %rax
        mov     $0x00, %al
        OUTB    ATA_CTL
        pop     %rax
        jmp     fail_line

t_flush:
        lea     msg_flush(%rip), %rsi
        mov     irq_count(%rip), %r12d
        mov     $0xe7, %al              # FLUSH CACHE
        OUTB    ATA+7
        call    wait_irq
        jc      9f
        test    $0x01, %al
        jnz     9f
        mov     $0xea, %al              # FLUSH CACHE EXT
        OUTB    ATA+7
        call    wait_irq
        jc      9f
        test    $0x01, %al
        jnz     9f
        jmp     ok_line
9:      jmp     fail_line

t_xcheck:
        lea     msg_xcheck(%rip), %rsi
        mov     $BUF_A, %edi
        mov     $65536, %ecx
        mov     $0x5a, %edx
        call    fill
        movl    $BUF_A, PRD             # one region of 64 KiB: byte count 0
        movl    $0x80000000, PRD + 4
        mov     $0x35, %al              # WRITE DMA EXT, 128 at LBA 2048
        mov     $1, %ah
        mov     $0x00, %ebx
        mov     $2048, %r13
        mov     $128, %r14d
        call    dma
        jc      9f
        and     $0x0701, %eax
        cmp     $0x0400, %eax
        jne     9f
        mov     irq_count(%rip), %r12d  # and make it durable
        mov     $0xe7, %al
        OUTB    ATA+7
        call    wait_irq
        jc      9f
        jmp     ok_line
9:      jmp     fail_line

# What accesses cost, in PM timer ticks (3.579545 MHz): 1000 alternate
# status reads, 100 one-sector PIO reads (command, interrupt, 256 words),
# 20 DMA reads of 64 KiB. Printed as "cost <what> <ticks>".
read_pm:
        push    %rdx
        mov     $0x608, %dx
        in      %dx, %eax
        and     $0xffffff, %eax
        pop     %rdx
        ret

cost_start:                             # the PM timer now, into cost_t0
        push    %rax
        call    read_pm
        mov     %eax, cost_t0(%rip)
        pop     %rax
        ret

cost_line:                              # RSI = name: "cost <name> <ticks since cost_start>"
        call    read_pm
        sub     cost_t0(%rip), %eax
        and     $0xffffff, %eax
        push    %rsi
        push    %rax
        lea     msg_cost(%rip), %rsi
        call    puts
        pop     %rax
        pop     %rsi
        call    puts
        push    %rax
        mov     $' ', %al
        call    putc
        pop     %rax
        call    puthex32
        jmp     nl

t_cost:
        call    cost_start
        mov     $1000, %ecx
1:      INB     ATA_CTL
        dec     %ecx
        jnz     1b
        lea     msg_c_status(%rip), %rsi
        call    cost_line
        call    cost_start
        mov     $100, %r15d
2:      mov     irq_count(%rip), %r12d
        mov     $0x20, %al
        xor     %ebx, %ebx
        mov     $1, %ecx
        call    issue28
        mov     $BUF_B, %edi
        mov     $1, %ecx
        mov     $1, %r9d
        call    pio_in
        dec     %r15d
        jnz     2b
        lea     msg_c_pio(%rip), %rsi
        call    cost_line
        movl    $BUF_B, PRD             # one 64 KiB region
        movl    $0x80000000, PRD + 4
        call    cost_start
        mov     $20, %r15d
3:      mov     $0xc8, %al              # READ DMA, 128 sectors
        xor     %ah, %ah
        mov     $0x08, %ebx
        mov     $2048, %r13
        mov     $128, %r14d
        call    dma
        dec     %r15d
        jnz     3b
        lea     msg_c_dma(%rip), %rsi
        jmp     cost_line

cost_t0:     .long 0
irq_count:   .long 0
irq_status:  .byte 0
        .p2align 2
bm_base:     .long 0
msg_done:    .asciz "ide done\n"
msg_cost:    .asciz "cost "
msg_c_status: .asciz "status"
msg_c_pio:   .asciz "pio"
msg_c_dma:   .asciz "dma"
msg_pci:     .asciz "pci"
msg_reset:   .asciz "reset"
msg_identify: .asciz "identify"
msg_iddump:  .asciz "id "
msg_lba28:   .asciz "lba28"
msg_idnf:    .asciz "idnf"
msg_abort:   .asciz "abort"
msg_lba48:   .asciz "lba48"
msg_multiple: .asciz "multiple"
msg_dma:     .asciz "dma"
msg_nien:    .asciz "nien"
msg_flush:   .asciz "flush"
msg_xcheck:  .asciz "xcheck"
        .code32
PVH_NOTE(_start)
