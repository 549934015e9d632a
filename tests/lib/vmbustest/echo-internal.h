/* SPDX-License-Identifier: MIT */
/* The echo provider's halves: the protocol (echo.c) and the serve loop of
 * its channels on the device's worker (echo-serve.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmbus/ring.h"
#include "vmbustest/echo.h"

struct dw_source;

#define ECHO_BATCH 64u /* packets per process round, so a pause never waits long */

struct echo_channel {
        struct vmbus_channel *ch;
        struct vmbus_echo *dev;
        /* The worker's thread only (added and freed through devworker_call). */
        struct dw_source *doorbell;
        bool masked;         /* the guest's signals are masked while we serve */
        uint64_t idle_since; /* polling: when the ring ran dry, CLOCK_MONOTONIC µs */
        bool dead;           /* the ring failed: not served any more */
        struct vmbus_packet held; /* consumed but not yet answered (ring full) */
        bool holding;
        uint8_t held_buf[VMBUS_ECHO_GUEST_MAX_PACKET];
        uint8_t buf[VMBUS_ECHO_GUEST_MAX_PACKET];
};

/* One round: the packets handled (0: nothing to do), or -errno when the
 * ring failed. On the worker's thread. */
int echo_process(struct echo_channel *e);

/* The channel's doorbell as a source of the device's worker, served once
 * at once (or at resume, quiesced), and taken off again. */
int echo_channel_start(struct echo_channel *e);
void echo_channel_stop(struct echo_channel *e);
