/* SPDX-License-Identifier: MIT */
/* videovsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/synthvid.h"
#include "videovsp/videovsp.h"

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
        struct dw_source *doorbell;
        struct vmbus_device *dev;
        struct vmbus_channel *ch; /* non-NULL while the guest has it open */
        struct videovsp_config cfg;
        const struct videovsp_owner_ops *ops;
        void *opaque;
        bool paused, quiesced, restored;

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
int video_doorbell_add(struct videovsp *v, int fd);
/* Sends FEATURE_CHANGE with the owner's wish when it differs from what the
 * guest was last told (lock held, channel open, negotiated, not quiesced). */
void video_send_watch(struct videovsp *v);

int video_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen);
int video_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                          const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
