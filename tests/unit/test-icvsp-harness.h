/* SPDX-License-Identifier: MIT */
/* Shared by tests/unit/test-icvsp*.c: a VMBus server over the simulated
 * guest (vmbustest/sim.h) with an icvsp on it, and the guest's side of the IC
 * protocol done by hand the way hv_utils does it (§8.1, §8.2): read the
 * host's request, rewrite the same buffer as the answer, send it back with
 * the host's trans_id. */
#pragma once

#include <pthread.h>

#include "common/test.h"
#include "hv/ic.h"
#include "hv/vmbus.h"
#include "icvsp/icvsp.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

struct owner {
        pthread_mutex_t lock;
        enum icvsp_heartbeat_state hb;
        unsigned hb_changes, answers, kvp_changes;
        uint64_t hb_last; /* last_beat_us of the newest heartbeat callback */
        bool accepted;
        uint32_t status;
        unsigned vss_answers; /* VSS answers: the last one's operation and status */
        uint8_t vss_op;
        uint32_t vss_status;
        /* file copy: progress callbacks and the last one's bytes; ends and
         * the last one's result */
        unsigned fcopy_progresses, fcopy_dones;
        uint64_t fcopy_progress_bytes, fcopy_done_bytes;
        int fcopy_r;
        uint32_t fcopy_status;
};

static inline void on_heartbeat(void *opaque, enum icvsp_heartbeat_state st, uint64_t last) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->hb = st;
        o->hb_last = last;
        o->hb_changes++;
        pthread_mutex_unlock(&o->lock);
}

static inline void on_shutdown(void *opaque, bool accepted, uint32_t status) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->answers++;
        o->accepted = accepted;
        o->status = status;
        pthread_mutex_unlock(&o->lock);
}

static inline void on_kvp(void *opaque) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->kvp_changes++;
        pthread_mutex_unlock(&o->lock);
}

static inline void on_vss(void *opaque, uint8_t op, uint32_t status) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->vss_answers++;
        o->vss_op = op;
        o->vss_status = status;
        pthread_mutex_unlock(&o->lock);
}

static inline void on_fcopy_progress(void *opaque, uint64_t bytes) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->fcopy_progresses++;
        o->fcopy_progress_bytes = bytes;
        pthread_mutex_unlock(&o->lock);
}

static inline void on_fcopy_done(void *opaque, int r, uint32_t status, uint64_t bytes) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->fcopy_dones++;
        o->fcopy_r = r;
        o->fcopy_status = status;
        o->fcopy_done_bytes = bytes;
        pthread_mutex_unlock(&o->lock);
}

static const struct icvsp_owner_ops owner_ops = {
        .heartbeat = on_heartbeat, .shutdown_answered = on_shutdown, .kvp_changed = on_kvp, .vss_answered = on_vss,
        .fcopy_progress = on_fcopy_progress, .fcopy_done = on_fcopy_done,
};

struct env {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct icvsp *ic;
        struct owner o;
        struct vmbus_channel_offer_channel offers[8];
        int n_offers;
        uint8_t buf[16384], payload[16384]; /* the last request as read, and the answer being built */
        struct vmbus_packet p;
        size_t len;
};

/* The test changes the value while the icvsp thread reads it: atomic
 * both ways (__atomic_store_n in the test). */
static inline uint64_t fake_reference_time(void *opaque) {
        return __atomic_load_n((const uint64_t *)opaque, __ATOMIC_RELAXED);
}

/* The configuration every test starts from: no service, short intervals. */
static inline struct icvsp_config env_config(void) {
        struct icvsp_config c = { .heartbeat_interval_ms = 100, .kvp_poll_ms = 200 };
        ASSERT_OK(guid_from_string("11111111-2222-4333-8444-555555555555", &c.heartbeat_instance));
        return c;
}

static inline void env_init_cfg(struct env *e, const struct icvsp_config *c) {
        memset(e, 0, sizeof *e);
        pthread_mutex_init(&e->o.lock, NULL);
        ASSERT_OK(vmbus_sim_new(16u << 20, 1, &e->sim));
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        ASSERT_OK(icvsp_new(e->srv, c, &owner_ops, &e->o, &e->ic));
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
        e->n_offers = vmbus_sim_request_offers(e->sim, e->offers, 8);
        ASSERT_GE(e->n_offers, 0);
}

static inline void env_init(struct env *e, bool shutdown, bool heartbeat) {
        struct icvsp_config c = env_config();
        c.shutdown = shutdown;
        c.heartbeat = heartbeat;
        env_init_cfg(e, &c);
}

static inline void env_free(struct env *e) {
        vmbus_server_free(e->srv);
        icvsp_free(e->ic);
        vmbus_sim_free(e->sim);
}

static inline const struct vmbus_channel_offer_channel *find_offer(struct env *e, const uint8_t class_id[16]) {
        for (int i = 0; i < e->n_offers; i++)
                if (memcmp(e->offers[i].if_type, class_id, 16) == 0)
                        return &e->offers[i];
        return NULL;
}

/* Read the next host request into e->buf and copy its payload into
 * e->payload (for the answer); returns the payload length and the header. */
static inline size_t host_request_ms(struct env *e, struct vmbus_sim_channel *ch, struct icmsg_hdr *h, int ms) {
        int n = vmbus_sim_ring_wait(e->sim, ch, e->buf, sizeof e->buf, &e->p, ms);
        ASSERT_GT(n, 0);
        ASSERT_EQ(e->p.type, VM_PKT_DATA_INBAND);
        ASSERT_EQ(e->p.flags, 0); /* no completion requested (§8.1) */
        size_t len = vmbus_packet_payload_len(&e->p);
        ASSERT_GE(len, (size_t)ICMSG_HDR);
        memcpy(e->payload, vmbus_packet_payload(&e->p), len);
        struct vmbuspipe_hdr pipe;
        memcpy(&pipe, e->payload, sizeof pipe);
        ASSERT_EQ(pipe.flags, IC_PIPE_TYPE_DATA);
        memcpy(h, e->payload + sizeof(struct vmbuspipe_hdr), sizeof *h);
        ASSERT_EQ(h->icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
        /* The ring pads payloads to 8 bytes: icmsgsize is the exact body. */
        ASSERT_LE((size_t)h->icmsgsize, len - ICMSG_HDR);
        ASSERT_LT(len - ICMSG_HDR - h->icmsgsize, (size_t)8);
        ASSERT_EQ(pipe.msgsize, (uint32_t)(sizeof(struct icmsg_hdr) + h->icmsgsize));
        e->len = len;
        return len;
}

static inline size_t host_request(struct env *e, struct vmbus_sim_channel *ch, struct icmsg_hdr *h) {
        return host_request_ms(e, ch, h, 5000);
}

/* Nothing from the host for ms milliseconds. */
static inline void no_request(struct env *e, struct vmbus_sim_channel *ch, int ms) {
        ASSERT_EQ(vmbus_sim_ring_wait(e->sim, ch, e->buf, sizeof e->buf, &e->p, ms), -ETIMEDOUT);
}

/* Answer e->payload in place, as hv_utils does: same length, response
 * flag, status, the host's trans_id. */
static inline void guest_answer_len(struct env *e, struct vmbus_sim_channel *ch, size_t len, uint32_t status) {
        struct icmsg_hdr h;
        memcpy(&h, e->payload + sizeof(struct vmbuspipe_hdr), sizeof h);
        h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        h.status = status;
        memcpy(e->payload + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        ASSERT_OK(vmbus_sim_ring_write(e->sim, ch, VM_PKT_DATA_INBAND, 0, e->p.trans_id, e->payload, len));
}

static inline void guest_answer(struct env *e, struct vmbus_sim_channel *ch, uint32_t status) {
        guest_answer_len(e, ch, e->len, status);
}

/* The versions of a negotiate request (§8.2): frameworks, then messages. */
static inline void negotiate_lists(struct env *e, struct ic_version fw[IC_MAX_VERSIONS], unsigned *nfw,
                            struct ic_version msg[IC_MAX_VERSIONS], unsigned *nmsg) {
        struct icmsg_negotiate n;
        memcpy(&n, e->payload + ICMSG_HDR, sizeof n);
        ASSERT_LE(n.icframe_vercnt, IC_MAX_VERSIONS);
        ASSERT_LE(n.icmsg_vercnt, IC_MAX_VERSIONS);
        ASSERT_GE(e->len, IC_NEGOTIATE_PKT_SIZE(n.icframe_vercnt, n.icmsg_vercnt));
        *nfw = n.icframe_vercnt;
        *nmsg = n.icmsg_vercnt;
        memcpy(fw, e->payload + ICMSG_HDR + sizeof n, *nfw * sizeof *fw);
        memcpy(msg, e->payload + ICMSG_HDR + sizeof n + *nfw * sizeof *fw, *nmsg * sizeof *msg);
}

/* The guest's answer to the pending negotiate request: chosen versions,
 * counts 1/1 and icmsgsize 0x10 as vmbus_prep_negotiate_resp writes them
 * (or 0/0 when fw.major == 0: no match). */
static inline void answer_negotiate(struct env *e, struct vmbus_sim_channel *ch, struct ic_version fw,
                             struct ic_version want) {
        struct icmsg_hdr h;
        memcpy(&h, e->payload + sizeof(struct vmbuspipe_hdr), sizeof h);
        h.icmsgsize = IC_NEGOTIATE_RESPONSE_SIZE;
        memcpy(e->payload + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        struct icmsg_negotiate n = { .icframe_vercnt = fw.major ? 1 : 0, .icmsg_vercnt = fw.major ? 1 : 0 };
        memcpy(e->payload + ICMSG_HDR, &n, sizeof n);
        struct ic_version chosen[2] = { fw, want };
        memcpy(e->payload + ICMSG_HDR + sizeof n, chosen, sizeof chosen);
        guest_answer(e, ch, HV_S_OK);
}

/* Open a service and negotiate like Linux 6.1 (framework 3.0, message want). */
static inline void open_and_negotiate(struct env *e, const uint8_t class_id[16], struct ic_version want,
                               struct vmbus_sim_channel *ch) {
        const struct vmbus_channel_offer_channel *o = find_offer(e, class_id);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(vmbus_sim_open(e->sim, o->child_relid, o->connection_id, 4, NULL, 0, ch), 0);
        struct icmsg_hdr h;
        host_request(e, ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        struct ic_version fw[IC_MAX_VERSIONS], msg[IC_MAX_VERSIONS];
        unsigned nfw, nmsg;
        negotiate_lists(e, fw, &nfw, msg, &nmsg);
        ASSERT_EQ(nfw, 2u);
        ASSERT_GE(nmsg, 1u);
        answer_negotiate(e, ch, (struct ic_version){ 3, 0 }, want);
}

static inline bool wait_owner(struct owner *o, bool (*cond)(struct owner *), int ms) {
        for (int i = 0; i < ms; i++) {
                pthread_mutex_lock(&o->lock);
                bool ok = cond(o);
                pthread_mutex_unlock(&o->lock);
                if (ok)
                        return true;
                usleep(1000);
        }
        return false;
}

static inline struct icvsp_stats stats_of(struct env *e) {
        struct icvsp_stats st;
        icvsp_get_stats(e->ic, &st);
        return st;
}

/* Polls a statistic until cond holds (the service thread is asynchronous). */
#define WAIT_STATS(e, st, cond)                                      \
        do {                                                         \
                for (int _i = 0; _i < 5000; _i++) {                  \
                        st = stats_of(e);                            \
                        if (cond)                                    \
                                break;                               \
                        usleep(1000);                                \
                }                                                    \
                ASSERT_TRUE(cond);                                   \
        } while (0)
