/* SPDX-License-Identifier: MIT */
/* The VMBus glue of netvsp, shared by provider.c (NIC, provider callbacks,
 * host ops) and chan.c (the channel thread). */
#pragma once

#include <pthread.h>

#include "netvsp/provider.h"
#include "vmbus/ring.h"

struct vmbus_gpadl;

struct netvsp_nic {
        struct netvsp_nic_config cfg;
        struct tap *tap;
        int link_fd;                 /* the TAP's link watch (netlink), -1 if none */
        pthread_mutex_t stats_lock;  /* guards stats */
        struct netvsp_nic_stats stats;
};

/* The receive and send buffers: the only GPADLs netvsc registers (§7.3). */
#define NETVSP_CHAN_GPADLS 2u
/* The largest guest packet we read: a GPA-direct SEND_RNDIS_PKT with
 * NETVSP_SG_MAX pages in as many ranges (Linux: <= 32 PFNs) and the NVSP
 * message. Longer packets are skipped by the ring library and counted. */
#define NETVSP_CHAN_PKT_MAX 4096u

struct netvsp_chan {
        struct netvsp_nic *nic;
        struct vmbus_channel *ch;
        struct vmbus_ring_pair *rp;
        struct netvsp_dev *nd;
        struct {
                uint32_t handle;
                struct vmbus_gpadl *g;
        } gpadls[NETVSP_CHAN_GPADLS];
        int epfd, stop_fd;
        unsigned tap_events;   /* EPOLLIN/EPOLLOUT the TAP is registered for; 0: not registered */
        unsigned want;         /* last NETVSP_WANT_* from netvsp_process */
        bool link_pending;     /* the link watch fd was readable */
        bool stopping;         /* atomic: close wants the thread to end */
        bool started;
        pthread_t thread;
        struct netvsp_nic_stats local; /* this thread's counters, published per batch */
        uint8_t pkt[NETVSP_CHAN_PKT_MAX];
};

/* provider.c */
extern const struct netvsp_host_ops netvsp_chan_host_ops;
/* The TAP's current state as the guest should see it. */
bool netvsp_nic_link_up(const struct netvsp_nic *nic);
void netvsp_chan_publish_stats(struct netvsp_chan *c);

/* chan.c */
int netvsp_chan_start(struct netvsp_chan *c);
void netvsp_chan_stop(struct netvsp_chan *c);
