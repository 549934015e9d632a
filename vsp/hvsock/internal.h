/* SPDX-License-Identifier: MIT */
/* hvsock internals, shared by the files of this directory only: the
 * connection and the service's state (the worker and locks are described
 * at the top of hvsock.c), and what the service round (hvsock.c) calls in
 * the connections' file (conn.c). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/devworker.h"
#include "common/log.h"
#include "hv/vmbus.h"
#include "hvsock/hvsock.h"
#include "vmbus/provider.h"


/* Most payload bytes in one host -> guest packet: the MTU, which with the
 * descriptor, the pipe header and the trailer is the guest's packet buffer
 * (hv_sock's HVS_MAX_PKT_SIZE). */
#define CHUNK VMBUS_HVSOCK_MTU
#define PKT_OVERHEAD (16u + (unsigned)sizeof(struct vmbus_pipe_header) + 8u) /* descriptor, pipe header, trailer */
_Static_assert(PKT_OVERHEAD + CHUNK <= VMBUS_HVSOCK_GUEST_MAX_PACKET,
               "a full host -> guest packet fits the guest's packet buffer");
#define HELLO_MAX 64u
#define FIRST_HOST_PORT 0x80000000u
#define REMOVE_RETRY_MS 50u
/* A connection's sources on the device worker: its host socket and its
 * doorbell; the worker has one more, the deadline timer. */
#define SOURCES_PER_CONN 2u

enum conn_state {
        C_BROKER,  /* guest connect: waiting for the owner's host socket */
        C_HELLO,   /* host client: waiting for its CONNECT line */
        C_OFFERED, /* offered, not opened yet */
        C_OPEN,
        C_CLOSING, /* host socket closed; device still to be removed */
};

struct conn {
        struct hvsock *hs;
        struct conn *next;
        uint64_t token;
        enum conn_state state;
        bool from_host;
        struct guid service, endpoint;
        uint32_t port, host_port;
        int fd;
        uint32_t sock_events; /* what fd is registered for (0: not) */
        struct dw_source *sock_src; /* fd on the worker (sock_events 0: out of its set) */
        /* The doorbell on the worker: our duplicate of the channel's
         * eventfd, so that a close (a VP thread) never leaves the worker's
         * set holding a number the server closed and may reuse. */
        struct dw_source *bell_src;
        int bell_fd;
        struct vmbus_device *dev;
        uint64_t deadline_ms; /* C_BROKER, C_HELLO, C_OFFERED, C_CLOSING retries */
        bool touched; /* had an event this round */

        pthread_mutex_t lock; /* ch, rp, bell, dead, opened, closed */
        struct vmbus_channel *ch;
        struct vmbus_ring_pair *rp;
        int bell;
        bool dead;   /* being withdrawn: refuse an open */
        bool opened; /* open came; the service round has not seen it yet */
        bool closed; /* close or reset came */

        /* the worker's thread only */
        bool guest_fin, host_eof, fin_sent;
        uint8_t *tx; /* guest -> host bytes the host socket did not take yet */
        size_t tx_off, tx_len;
        bool rx_pending; /* rx holds a packet for the guest that found the ring full */
        uint32_t rx_len;
        uint8_t rx[sizeof(struct vmbus_pipe_header) + CHUNK];
        char hello[HELLO_MAX];
        size_t hello_len;
};

struct tl_req {
        struct guid endpoint, service;
};
struct done {
        uint64_t token;
        int fd;
};

struct hvsock {
        struct hvsock_config cfg;
        struct vmbus_server *srv;
        /* The device worker: every connection's socket and doorbell, the
         * deadline timer; the service round is its on_idle hook. */
        struct devworker *w;
        struct dw_source *timer;
        bool started;

        pthread_mutex_t lock;
        struct tl_req *tl;  /* queue of max_pending */
        unsigned n_tl;
        struct done *done;  /* queue, grown as needed */
        unsigned n_done, cap_done;
        int *clients;       /* queue of max_connections */
        unsigned n_clients;
        unsigned n_conns;   /* live, including queued requests' */
        bool stopping, suspend, suspended;
        struct hvsock_stats st;
        _Atomic unsigned offer_timeout_ms; /* cfg's, or hvsock_set_offer_timeout's */

        /* the worker's thread only */
        struct conn *conns;
        uint64_t timer_at; /* the deadline the timer is armed for (0: none) */
        uint64_t next_token;
        uint32_t next_host_port;
        uint8_t pkt[16 + sizeof(struct vmbus_pipe_header) + VMBUS_HVSOCK_MTU + 64];
};

static inline uint64_t now_ms(void) {
        return now_us(CLOCK_MONOTONIC) / 1000;
}

/* A statistics counter (hs->lock: hvsock_get_stats reads them all at once). */
static inline void count(struct hvsock *hs, uint64_t *counter, uint64_t n) {
        pthread_mutex_lock(&hs->lock);
        *counter += n;
        pthread_mutex_unlock(&hs->lock);
}

/* A service round soon, on the worker (any thread). */
static inline void wake(struct hvsock *hs) {
        devworker_kick(hs->w);
}

/* hvsock.c: the provider of every connection's device. */
extern const struct vmbus_provider_ops hvsock_ops;

/* conn.c, on the worker's thread. */
struct conn *hvsock_conn_new(struct hvsock *hs, bool from_host);
/* Registers the host socket for what the connection waits for now. */
void hvsock_conn_sock_interest(struct conn *c);
/* Answers a guest connect to a service nobody serves. */
void hvsock_refuse(struct hvsock *hs, const struct guid *endpoint, const struct guid *service);
void hvsock_conn_end(struct conn *c);
/* True once the connection is gone and freed. */
bool hvsock_conn_reap(struct conn *c);
int hvsock_conn_offer(struct conn *c);
void hvsock_hello_read(struct conn *c);
void hvsock_conn_pump(struct conn *c);
void hvsock_conn_events(struct conn *c);
/* Closes what the connection owns and frees it, with its worker sources
 * (sources false: the worker is gone and freed them). */
void hvsock_conn_free(struct conn *c, bool sources);
