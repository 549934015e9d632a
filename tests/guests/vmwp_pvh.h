/* SPDX-License-Identifier: MIT */
/* For tiny guests booted through vmwp's PVH loader: the Xen PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY = 18, name "Xen") and small helpers. */
#define PVH_NOTE(entry)                            \
        .pushsection .note.Xen, "a", @note;        \
        .balign 4;                                 \
        .long 4, 4, 18;                            \
        .asciz "Xen";                              \
        .long entry;                               \
        .popsection

#define COM1 0x3f8
#define MARKER_PORT 0xe08
#define PM1A_EVT 0x600
#define PM1A_CNT 0x604
/* SLP_TYP = 5 (S5) in bits 10-12, SLP_EN bit 13 */
#define SLP_S5 ((5 << 10) | (1 << 13))

/* The BSP's half of waking APIC 1 (vmwp_smp.S, vmwp_spin.S): copy the
 * real-mode trampoline [start, end) to 0x8000, enable the LAPIC, send
 * INIT and SIPI twice (vector 0x08 = 0x8000 >> 12, SDM Vol. 3 10.4.4.1),
 * then wait until the AP stores 1 at flag. Clobbers ESI, EDI, ECX. */
.macro AP_WAKE start, end, flag
        mov     $\start, %esi           # trampoline -> 0x8000
        mov     $0x8000, %edi
        mov     $\end - \start, %ecx
        rep movsb
        movl    $0x1ff, 0xfee000f0      # LAPIC software enable
        movl    $0x01000000, 0xfee00310 # ICR high: APIC 1
        movl    $0x00004500, 0xfee00300 # INIT
        movl    $0x00004608, 0xfee00300 # SIPI, vector 0x08
        movl    $0x00004608, 0xfee00300
1:      cmpl    $1, \flag
        je      2f
        pause
        jmp     1b
2:
.endm

/* The AP's half, in real mode at 0x8000: print 'A' on COM1 and store 1
 * at flag (DS = 0). The caller decides how the AP then stops. */
.macro AP_SAY_HELLO flag
        mov     $COM1 + 5, %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        mov     $COM1, %dx
        mov     $'A', %al
        out     %al, %dx
        xor     %ax, %ax
        mov     %ax, %ds
        movl    $1, \flag
.endm
