/* SPDX-License-Identifier: MIT */
/* The VMBus glue of netvsp, shared by provider.c (NIC, provider callbacks,
 * host ops, quiesce) and chan.c (the channel worker). */
#pragma once

#include <pthread.h>

#include "common/rss-steer.h"
#include "netvsp/provider.h"
#include "netvsp/qos.h"
#include "vmbus/ring.h"

struct devworker;
struct dw_source;
struct vmbus_gpadl;
struct netvsp_chan;

struct netvsp_nic {
        struct netvsp_nic_config cfg;
        struct tap *tap;             /* queue 0: the primary's, and the link watch */
        struct tap *qtap[NETVSP_MAX_QUEUES]; /* a multi-queue TAP's queue i for sub-channel i, NULL if none */
        int link_fd;                 /* the TAP's link watch (netlink), -1 if none */
        pthread_mutex_t stats_lock;  /* guards stats */
        struct netvsp_nic_stats stats;
        /* Guards chan and quiesced: open/close (the server's control path)
         * against quiesce/resume (vmwp). Never taken on the channel worker,
         * so holding it across devworker_pause/call cannot deadlock. */
        pthread_mutex_t chan_lock;
        /* the open channels by sub_channel_index ([0]: the primary), NULL if none */
        struct netvsp_chan *chans[NETVSP_MAX_QUEUES];
        bool quiesced;
        bool restored; /* a channel was restored: its first resume reports the link and announces */
        /* vRSS: what the sub-channels take from the primary's device, published
         * by the primary's worker (shared_gen counts changes) */
        pthread_mutex_t shared_lock;
        struct netvsp_shared shared;
        uint64_t shared_gen;
        /* the open sub-channels' doorbells, rung when shared changes (a
         * revoked buffer is given up promptly: the guest's GPADL teardown
         * waits for it); guarded by wake_lock, never held across a wait */
        pthread_mutex_t wake_lock;
        int sub_efd[NETVSP_MAX_QUEUES];
        struct netvsp_stats chan_stats[NETVSP_MAX_QUEUES]; /* per channel, under stats_lock */
        /* RSS steering (cfg.steer): tun's queue order as our attaches and
         * detaches change it, and the guest's parameters last written to the
         * map (by the primary's worker); guarded by steer_lock */
        pthread_mutex_t steer_lock;
        struct rss_queue_order order;
        bool steer_on;
        uint32_t steer_types, steer_n;
        uint8_t steer_key[RSS_STEER_KEY_SIZE];
        uint32_t steer_table[RSS_STEER_TABLE];
        struct netvsp_qos qos; /* the bandwidth caps, every channel's (atomics) */
};

/* A sub-channel's TAP queue attached (true) or detached, and the steering
 * map told where its channel now is. */
int netvsp_nic_set_queue(struct netvsp_nic *nic, struct tap *q, uint32_t channel, bool attach);
/* The primary's worker, after its RNDIS state changed: the guest's RSS
 * parameters into the steering map, if they differ from the last ones. */
void netvsp_nic_steer(struct netvsp_nic *nic, const struct rndis_device *r);

/* The receive and send buffers: the only GPADLs netvsc registers (§7.3). */
#define NETVSP_CHAN_GPADLS 2u
/* The largest guest packet we read: a GPA-direct SEND_RNDIS_PKT with
 * NETVSP_SG_MAX pages in as many ranges (Linux: <= 32 PFNs) and the NVSP
 * message. Longer packets are skipped by the ring library and counted. */
#define NETVSP_CHAN_PKT_MAX 4096u

struct netvsp_chan {
        struct netvsp_nic *nic;
        uint16_t index;        /* sub_channel_index */
        struct tap *tap;       /* its TAP queue: the NIC's own or the primary's (transmit only) */
        struct vmbus_channel *ch;
        struct vmbus_ring_pair *rp;
        struct netvsp_dev *nd;
        struct {
                uint32_t handle;
                struct vmbus_gpadl *g;
        } gpadls[NETVSP_CHAN_GPADLS];
        struct devworker *w;
        struct dw_source *src_doorbell, *src_tap, *src_link; /* NULL once gone */
        struct dw_source *src_qos; /* a timer: a direction held by a bandwidth cap moves again */
        bool qos_armed;
        struct dw_source *pump; /* the source serving rounds (DW_AGAIN), NULL when idle */
        struct dw_source *src_announce; /* the announce timer while it runs */
        unsigned announce_round;        /* RARP rounds done */
        uint64_t idle_since;   /* last progress of the pump, CLOCK_MONOTONIC µs */
        unsigned tap_events;   /* EPOLLIN/EPOLLOUT the TAP source waits for */
        unsigned want;         /* last NETVSP_WANT_* from netvsp_process */
        bool busy;             /* the pump runs: the guest's signals are masked */
        bool link_pending;     /* the link watch fd was readable */
        bool broken;           /* the ring is corrupt: no longer served */
        struct netvsp_nic_stats local; /* the worker's counters, published per round */
        uint64_t shared_seen;          /* a sub-channel: the nic->shared_gen it took */
        struct netvsp_shared shared;   /* the primary: scratch for publishing; a sub-channel: what it took */
        uint8_t pkt[NETVSP_CHAN_PKT_MAX];
};

/* provider.c */
extern const struct netvsp_host_ops netvsp_chan_host_ops;
/* The TAP's current state as the guest should see it. */
bool netvsp_nic_link_up(const struct netvsp_nic *nic);
void netvsp_chan_publish_stats(struct netvsp_chan *c);
/* vRSS, on the channel's worker: the primary publishes what its device's
 * sub-channels take (when the NIC has more than one queue), a sub-channel
 * takes it when it changed. */
void netvsp_chan_share(struct netvsp_chan *c);

/* chan.c */
/* Starts the channel's worker; paused: it runs nothing until resumed. */
int netvsp_chan_start(struct netvsp_chan *c, bool paused);
/* Stops and joins the worker (also a paused one); nothing touches the
 * rings after it returns. */
void netvsp_chan_stop(struct netvsp_chan *c);
/* Starts the announce after a restore (on the worker, or parked): RARP
 * frames at once and after 50, 150, 250 and 350 ms more, from a timer of
 * the worker (it never sleeps for them). */
int netvsp_chan_announce(struct netvsp_chan *c);

/* provider.c: a channel opened as the guest's OPENCHANNEL opens it
 * (restoring: quiesced, its state to come), and closed. */
int netvsp_chan_open(struct vmbus_channel *ch, const struct vmbus_open_request *req, bool restoring);
void netvsp_close(struct vmbus_channel *ch);
/* state.c: the provider's saved-state hooks (vmbus/provider.h), NVCH. */
int netvsp_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen);
int netvsp_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                           const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
