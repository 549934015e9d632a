/* SPDX-License-Identifier: MIT */
/* This project's own guest-visible ABI beyond the TLFS: the I/O ports the
 * hypercall page traps through, the guest-to-host doorbell, and the boot
 * marker port. Linux guests only ever see these through the hypercall page
 * (docs/hyperv-guest-interface.md §1.6: the page content is the host's
 * choice); our test guest uses the doorbell and marker ports directly. */
#pragma once

/* IN EAX, DX from the hypercall page: the host reads RCX (control), R9
 * (input GPA or first fast input), R8 (output GPA or second fast input) and
 * returns the status in EAX. At CPL > 0 the host raises #UD (TLFS). */
#define VMSTACK_HYPERCALL_PORT 0x0e00

/* OUT EAX, DX with EAX = connection id: HvSignalEvent's fast path. Matched
 * by an ioeventfd per open channel inside KVM (no user-space exit); any
 * other value exits to the host, which answers with a status in EAX and
 * resumes at the stub's RET. */
#define VMSTACK_DOORBELL_PORT 0x0e04

/* OUT AL/EAX, DX: guest progress markers, timestamped by the worker
 * (first guest instruction, boot milestones). Never required. */
#define VMSTACK_MARKER_PORT 0x0e08
#define VMSTACK_MARKER_FIRST_INSN 0x01
#define VMSTACK_MARKER_BOOTED 0x02

/* ACPI fixed hardware (FADT). */
#define VMSTACK_PM1A_EVT_PORT 0x0600 /* 4 bytes: status, enable */
#define VMSTACK_PM1A_CNT_PORT 0x0604 /* 2 bytes */
#define VMSTACK_PM_TMR_PORT 0x0608   /* 4 bytes, 3.579545 MHz, 24 bit */
#define VMSTACK_RESET_PORT 0x0cf9    /* FADT reset register, value 0x06 */
#define VMSTACK_RESET_VALUE 0x06
#define VMSTACK_SLP_TYP_S5 5         /* \_S5 package value, PM1a_CNT.SLP_TYP */
