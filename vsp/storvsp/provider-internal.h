/* SPDX-License-Identifier: MIT */
/* Private state of the storvsp provider: the device (provider.c) and its
 * open channels, each served by a device worker (vchan.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/devworker.h"
#include "storvsp/protocol.h"
#include "storvsp/provider.h"

#define REPLIES_PER_REAP 64u
/* The largest packet storvsc sends: descriptor, one range with the PFNs of
 * the largest transfer, a vstor_packet. Longer ones are skipped by the ring. */
#define PACKET_BUF (32u + 8u * STORVSP_MAX_PFNS + VSTOR_PACKET_SIZE)

struct storvsp_vchan;

struct storvsp_device {
        struct storvsp_device_config cfg;
        struct storvsp_controller *ctl;
        struct storvsp_device_stats stats; /* atomic adds */
};

#define DEV_STAT(d, f, v) __atomic_fetch_add(&(d)->stats.f, (v), __ATOMIC_RELAXED)

/* An open channel. Everything below `w` belongs to the channel's worker
 * thread. */
struct storvsp_vchan {
        struct storvsp_device *dev;
        struct vmbus_channel *ch;
        struct storvsp_channel *core;
        struct devworker *w;
        struct dw_source *src[3]; /* doorbell, disk completions, [primary] hot plug */
        int disk_efd;             /* the disk queue's eventfd */
        bool primary;
        bool polling;        /* a session is under way (docs/storvsp.md): doorbells masked */
        bool broken;
        uint64_t idle_since; /* of the session: the last progress */
        uint64_t generation; /* of the LUN table, for hot-plug notifications */
        bool rescan_woken;   /* the controller's hot-plug eventfd fired */
        struct storvsp_reply *backlog; /* replies the full guest ring did not take, FIFO */
        unsigned backlog_cap, backlog_head, backlog_count;
        struct storvsp_reply replies[REPLIES_PER_REAP];
        uint8_t buf[PACKET_BUF];
};

/* vchan.c */
/* Makes the channel's worker (its sources: the doorbell, the disk queue's
 * eventfd, the primary's hot-plug eventfd) and starts it. */
int storvsp_vchan_start(struct storvsp_vchan *v);
