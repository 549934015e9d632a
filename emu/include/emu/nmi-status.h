/* SPDX-License-Identifier: MIT */
/* Port 61h: the chipset's NMI status and control register (PIIX3 NMISC;
 * on the PC/AT, port B of the 8255). Read: bit 7 SERR# NMI source, 6
 * IOCHK# NMI source, 5 timer counter 2 OUT, 4 refresh cycle toggle;
 * bits 3-0 the enables (IOCHK#, SERR#, speaker data, timer 2 gate).
 *
 * Our machines have no system-error source and no PIT: the status bits
 * read 0, so a guest that takes an NMI (vmctl nmi) finds no hardware
 * reason for it (Linux: "unknown reason", where kernel.unknown_nmi_panic
 * and Hyper-V's handler decide) instead of the all-ones of an empty port,
 * which Linux reads as a PCI system error. The refresh bit toggles every
 * 15 µs as on hardware, for code that waits on it. Writes (the enables,
 * the speaker) change nothing, so there is no state to save. */
#pragma once

#include <stdint.h>

struct vid_partition;

#define NMI_STATUS_PORT 0x61u
#define NMI_STATUS_REFRESH 0x10u
#define NMI_STATUS_REFRESH_NS 15085u /* one DRAM refresh request */

/* The register's value at a CLOCK_MONOTONIC time (pure: unit-tested). */
uint8_t nmi_status_read(uint64_t now_ns);
int nmi_status_register(struct vid_partition *p);
