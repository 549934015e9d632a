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
