/* SPDX-License-Identifier: MIT */
/* Network bandwidth caps per NIC (docs/netvsp.md "Bandwidth caps"): one
 * bucket per direction, shared by every channel of the NIC (vRSS), as a
 * GCRA (the virtual-scheduling form of a token bucket): one 64-bit
 * "theoretical arrival time" moved by a compare-and-swap per frame, so the
 * channels' threads share it without a lock. A frame may pass while the
 * bucket is at most NETVSP_QOS_BURST ahead of now; passing moves it on by
 * the frame's time at the cap. Nothing is dropped: a held direction waits
 * (the guest's send stays in progress; the TAP is not read). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Caps a client may set (bits/s): 0 = none; 1 Mbit/s .. 1 Tbit/s. */
#define NETVSP_QOS_MIN_BPS 1000000ull /* = VM_NIC_QOS_MIN_BPS (common/config.h) */
#define NETVSP_QOS_MAX_BPS 1000000000000ull /* = VM_NIC_QOS_MAX_BPS */

/* The longest a held channel sleeps before it looks at its cap again. */
#define NETVSP_QOS_RECHECK_US 10000u

struct netvsp_qos_bucket {
        uint64_t bps;    /* the cap, bits per second; 0: none (atomic) */
        uint64_t tat_ns; /* when the bucket is empty again, CLOCK_MONOTONIC ns (atomic) */
};

/* Both directions of one NIC; in = host -> guest, out = guest -> host. */
struct netvsp_qos {
        struct netvsp_qos_bucket in, out;
};

/* The burst a bucket lets through at once, as time at its cap: 64 KiB (a
 * GSO frame) or 20 ms, whichever is longer, so that a thread woken late by
 * its timer loses nothing. */
uint64_t netvsp_qos_burst_ns(uint64_t bps);
/* 0 when a frame may pass at now_ns (always without a cap), else the ns
 * to wait. */
uint64_t netvsp_qos_wait_ns(struct netvsp_qos_bucket *b, uint64_t now_ns);
/* How long a held direction sleeps after a wait_ns of wait: until a
 * quarter of the burst may pass, so that a wake-up moves a batch of
 * frames (at 100 Mbit/s: 5 ms, ~40 frames) and the rest of the burst
 * covers a late timer. */
uint64_t netvsp_qos_hold_ns(const struct netvsp_qos_bucket *b, uint64_t wait);
/* A frame of bytes passed at now_ns. */
void netvsp_qos_charge(struct netvsp_qos_bucket *b, uint64_t now_ns, size_t bytes);
/* Changes the cap (0: none) from any thread; the bucket starts full. */
void netvsp_qos_set(struct netvsp_qos_bucket *b, uint64_t bps);
uint64_t netvsp_qos_get(const struct netvsp_qos_bucket *b);
/* b when it has a cap, else NULL (also for NULL): a NIC without one reads
 * no clock. */
struct netvsp_qos_bucket *netvsp_qos_capped(struct netvsp_qos_bucket *b);
/* -EINVAL unless 0 or NETVSP_QOS_MIN_BPS..NETVSP_QOS_MAX_BPS. */
int netvsp_qos_check(uint64_t bps);
uint64_t netvsp_qos_now_ns(void);
