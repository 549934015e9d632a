/* SPDX-License-Identifier: MIT */
/* icvsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/ic.h"
#include "icvsp/icvsp.h"

struct vmbus_channel;
struct vmbus_device;
struct ic_service;

/* One integration service (a VMBus device class). */
struct ic_service_ops {
        const char *name;
        uint16_t msgtype;
        const struct ic_version *msg_versions; /* the host's, newest first */
        size_t n_msg_versions;
        /* Negotiation finished: versions in s->fw/s->msg. */
        void (*ready)(struct ic_service *s, uint64_t now_us);
        /* Periodic, every ICVSP_TICK_MS, with the lock held. */
        void (*tick)(struct ic_service *s, uint64_t now_us);
        /* The guest answered our outstanding request of msgtype. */
        void (*response)(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                         uint64_t now_us);
        /* The outstanding request was not answered in time, or the channel
         * closed with one outstanding. */
        void (*abandoned)(struct ic_service *s, uint64_t now_us);
};

struct ic_service {
        struct icvsp *ic;
        const struct ic_service_ops *ops;
        struct vmbus_device *dev;
        struct vmbus_channel *ch; /* non-NULL while the guest has it open */
        bool negotiated;
        struct ic_version fw, msg;
        bool outstanding;       /* a request waits for its answer */
        uint16_t outstanding_type;
        uint64_t sent_us;
        uint8_t txid;
        /* heartbeat */
        uint64_t hb_seq, hb_last_sent_us, hb_last_beat_us, hb_interval_us;
        enum icvsp_heartbeat_state hb_state;
};

enum { IC_SHUTDOWN, IC_HEARTBEAT, IC_N_SERVICES };

#define ICVSP_TICK_MS 250u
#define IC_GUEST_MAX_PACKET 4096u /* util channels (§5.4, §8.1) */
#define IC_PACKET_MAX (ICMSG_HDR + sizeof(struct shutdown_msg_data))

struct icvsp {
        pthread_mutex_t lock;
        pthread_t thread;
        bool thread_started;
        int epfd, timerfd, stopfd;
        struct ic_service svc[IC_N_SERVICES];
        bool enabled[IC_N_SERVICES];
        const struct icvsp_owner_ops *ops;
        void *opaque;
        struct icvsp_stats stats;
        uint8_t rxbuf[IC_GUEST_MAX_PACKET];
};

extern const struct ic_service_ops ic_shutdown_ops, ic_heartbeat_ops;

/* icmsg.c: pure framing (fuzzed) */
extern const struct ic_version ic_framework_versions[2];
size_t icmsg_build(uint8_t *buf, size_t cap, uint16_t type, struct ic_version fw, struct ic_version msg,
                   uint8_t txid, const void *body, size_t body_len);
size_t ic_negotiate_build(uint8_t *buf, size_t cap, const struct ic_version *msg_versions, size_t n_msg,
                          uint8_t txid);
int icmsg_parse(const uint8_t *pkt, size_t len, struct icmsg_hdr *hdr, const uint8_t **body, size_t *body_len);
int ic_negotiate_parse(const uint8_t *body, size_t len, const struct ic_version *msg_versions, size_t n_msg,
                       struct ic_version *fw, struct ic_version *msg);

/* icvsp.c */
uint64_t ic_now_us(void);
/* Send a request on the open, negotiated channel; marks it outstanding. */
int ic_send_request(struct ic_service *s, const void *body, size_t len, uint64_t now_us);
