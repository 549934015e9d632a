/* SPDX-License-Identifier: MIT */
/* videovsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/synthvid.h"
#include "videovsp/videovsp.h"
#include "vmbus/simple.h"

struct devworker;
struct dw_source;
struct vmbus_channel;
struct vmbus_device;
struct vmbus_open_request;

#define VIDEO_TICK_MS 250u
/* Linux's receive buffer (hyperv_drm: VMBUS_MAX_PACKET_SIZE). */
#define VIDEO_GUEST_MAX_PACKET 0x4000u
/* A guest message: a DIRT of 255 rectangles is the largest Linux sends. */
#define VIDEO_RX_MAX 8192u
#define VIDEO_TX_MAX 512u
/* Dirty rectangles kept between two takes; past this they collapse into
 * their bounding box. */
#define VIDEO_DIRTY_MAX 64u

struct videovsp {
        pthread_mutex_t lock;
        struct devworker *w;
        struct vmbus_device *dev;
        struct vmbus_simple sc; /* the channel: sc.ch non-NULL while the guest has it open */
        struct videovsp_config cfg;
        const struct videovsp_owner_ops *ops;
        void *opaque;
        bool paused, quiesced;

        struct videovsp_channel_state cs;
        bool watch;   /* what the owner wants (videovsp_watch) */
        bool watch_sent_pending; /* FEATURE_CHANGE owed (quiesced, or the ring was full) */

        struct display_rect dirty[VIDEO_DIRTY_MAX];
        size_t n_dirty;

        struct videovsp_stats stats;
        uint8_t rxbuf[VIDEO_RX_MAX];
        uint8_t txbuf[VIDEO_TX_MAX];
};

uint64_t video_now_us(void);
/* Sends FEATURE_CHANGE with the owner's wish when it differs from what the
 * guest was last told (lock held, channel open, negotiated, not quiesced). */
void video_send_watch(struct videovsp *v);

/* state.c: the channel's saved state, hooks of videovsp.c's vmbus_simple_ops. */
int video_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen);
void video_channel_restore(struct vmbus_simple *sc, const void *st);
int video_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen);
int video_channel_check(struct vmbus_simple *sc, const void *st, uint32_t relid, char *err, size_t errlen);
int video_channel_quiesce(struct vmbus_simple *sc);
