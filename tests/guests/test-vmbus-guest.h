/* SPDX-License-Identifier: MIT */
/* The VMBus component-test guest (tests/guests/test-vmbus-guest.S) and its
 * host (tests/component/test-vmbus-hvshim.c): a message pump on top of the
 * hvshim test guest's boot code and mailbox (hvshim_guest.h). The host puts
 * an operation in HG_MB_OP and bumps HG_MB_STEP; the guest performs it
 * with the real hypercall page and SynIC and reports HG_MARK_STEP_DONE.
 * Only #defines: the assembler includes it too. */
#pragma once

#define VG_MSG_OUT 0x110000 /* host -> guest: the control message to post */
#define VG_MSG_IN 0x111000  /* guest -> host: a copy of the SIMP slot-2 message (256 bytes) */

#define VG_OP_POST 21   /* HvPostMessage(VG_MSG_OUT, HG_MB_ARG conn id, HG_MB_ARG2 bytes) */
#define VG_OP_RECV 22   /* wait for slot 2, copy it to VG_MSG_IN, free it, EOM if pending */
#define VG_OP_SIGNAL 23 /* fast HvSignalEvent(HG_MB_ARG) through the hypercall page */
#define VG_OP_SCAN 24   /* test-and-clear SIEF bit HG_MB_ARG of SINT 2 */

#define VG_R_STATUS 76 /* result slot: hypercall status, or the scanned bit */
