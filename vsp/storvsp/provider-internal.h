/* SPDX-License-Identifier: MIT */
/* Private state of the storvsp provider: the device (provider.c) and its
 * open channels, each served by a device worker (vchan.c). */
#pragma once

#include <pthread.h>
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
        /* The open channels and the quiesce state. Held across a whole
         * quiesce, resume, open or close; channel threads never take it
         * (nor does anything they wait for), so a quiesce can wait for them
         * under it. */
        pthread_mutex_t lock;
        struct storvsp_vchan *vchans;
        bool quiesced;
};

#define DEV_STAT(d, f, v) __atomic_fetch_add(&(d)->stats.f, (v), __ATOMIC_RELAXED)

/* An open channel. Everything below `next` belongs to the channel's worker
 * thread, or to whoever holds the worker paused. */
struct storvsp_vchan {
        struct storvsp_device *dev;
        struct vmbus_channel *ch;
        struct storvsp_channel *core;
        struct storvsp_vchan *next; /* dev->vchans, under dev->lock */
        struct devworker *w;
        struct dw_source *src[3]; /* doorbell, disk completions, [primary] hot plug */
        int disk_efd;             /* the disk queue's eventfd (also the resume wake-up) */
        bool primary;
        bool polling;        /* a session is under way (docs/storvsp.md): doorbells masked */
        bool broken;
        uint64_t idle_since; /* of the session: the last progress */
        uint64_t generation; /* of the LUN table, for hot-plug notifications */
        bool rescan_woken;   /* the controller's hot-plug eventfd fired */
        struct storvsp_reply *backlog; /* replies owed to the guest, not yet in its ring, FIFO */
        unsigned backlog_cap, backlog_head, backlog_count;
        struct storvsp_reply replies[REPLIES_PER_REAP];
        uint8_t buf[PACKET_BUF];
};

/* vchan.c */
/* Makes the channel's worker (its sources: the doorbell, the disk queue's
 * eventfd, the primary's hot-plug eventfd) and starts it, paused if asked
 * (the device is quiesced). */
int storvsp_vchan_start(struct storvsp_vchan *v, bool paused);
/* With the worker paused: waits for the disk I/O in flight and keeps its
 * completions in the backlog, unsent. Runs on the worker's thread (the
 * io_uring is its own, docs/sandbox.md). */
int storvsp_vchan_hold(struct storvsp_vchan *v);
/* After devworker_resume: have the worker serve what was held and what the
 * guest queued meanwhile. Any thread. */
void storvsp_vchan_wake(struct storvsp_vchan *v);
/* After a LUN was detached, under dev->lock: on the worker's thread, waits
 * for the I/O in flight, posts its completions to the guest (keeps them
 * while quiesced) and releases the detached disks. */
int storvsp_vchan_release(struct storvsp_vchan *v);

/* provider.c: OPENCHANNEL (also a restored channel's start, quiesced). */
int storvsp_provider_open(struct vmbus_channel *ch, const struct vmbus_open_request *req);
/* state.c: the VMBus provider hooks of the saved state. */
int storvsp_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen);
int storvsp_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                            const struct vmstate_section *secs, size_t n, char *err, size_t errlen);

