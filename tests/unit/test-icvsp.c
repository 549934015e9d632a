// SPDX-License-Identifier: MIT
/* Integration services against the simulated guest: offers, negotiation
 * the way hv_utils answers it (§8.2), heartbeat liveness, shutdown
 * requests, and malformed answers. */
#include <pthread.h>

#include "common/test.h"
#include "hv/ic.h"
#include "hv/vmbus.h"
#include "icvsp/icvsp.h"
#include "vmbus/server.h"
#include "vmbus/sim.h"

struct owner {
        pthread_mutex_t lock;
        enum icvsp_heartbeat_state hb;
        unsigned hb_changes, answers;
        bool accepted;
        uint32_t status;
};

static void on_heartbeat(void *opaque, enum icvsp_heartbeat_state st, uint64_t last) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->hb = st;
        o->hb_changes++;
        pthread_mutex_unlock(&o->lock);
}

static void on_shutdown(void *opaque, bool accepted, uint32_t status) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->answers++;
        o->accepted = accepted;
        o->status = status;
        pthread_mutex_unlock(&o->lock);
}

static const struct icvsp_owner_ops owner_ops = { .heartbeat = on_heartbeat, .shutdown_answered = on_shutdown };

struct env {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct icvsp *ic;
        struct owner o;
        struct vmbus_channel_offer_channel offers[8];
        int n_offers;
};

static void env_init(struct env *e, bool shutdown, bool heartbeat) {
        memset(e, 0, sizeof *e);
        pthread_mutex_init(&e->o.lock, NULL);
        ASSERT_OK(vmbus_sim_new(16u << 20, 1, &e->sim));
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct icvsp_config ic = { .shutdown = shutdown, .heartbeat = heartbeat, .heartbeat_interval_ms = 100 };
        ASSERT_OK(guid_from_string("11111111-2222-4333-8444-555555555555", &ic.heartbeat_instance));
        ASSERT_OK(icvsp_new(e->srv, &ic, &owner_ops, &e->o, &e->ic));
        ASSERT_OK(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3));
        e->n_offers = vmbus_sim_request_offers(e->sim, e->offers, 8);
        ASSERT_GE(e->n_offers, 0);
}

static void env_free(struct env *e) {
        vmbus_server_free(e->srv);
        icvsp_free(e->ic);
        vmbus_sim_free(e->sim);
}

static const struct vmbus_channel_offer_channel *find_offer(struct env *e, const uint8_t class_id[16]) {
        for (int i = 0; i < e->n_offers; i++)
                if (memcmp(e->offers[i].if_type, class_id, 16) == 0)
                        return &e->offers[i];
        return NULL;
}

/* Read the next host request: returns its payload length and header. */
static size_t host_request(struct env *e, struct vmbus_sim_channel *ch, uint8_t *buf, struct vmbus_packet *p,
                           struct icmsg_hdr *h) {
        int n = vmbus_sim_ring_wait(e->sim, ch, buf, 4096, p, 5000);
        ASSERT_GT(n, 0);
        ASSERT_EQ(p->type, VM_PKT_DATA_INBAND);
        size_t len = vmbus_packet_payload_len(p);
        ASSERT_GE(len, (size_t)ICMSG_HDR);
        memcpy(h, (const uint8_t *)vmbus_packet_payload(p) + sizeof(struct vmbuspipe_hdr), sizeof *h);
        ASSERT_EQ(h->icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
        /* The ring pads payloads to 8 bytes: icmsgsize is the exact body. */
        ASSERT_LE((size_t)h->icmsgsize, len - ICMSG_HDR);
        ASSERT_LT(len - ICMSG_HDR - h->icmsgsize, (size_t)8);
        return len;
}

/* Answer in place, as hv_utils does: same buffer, response flag, status. */
static void guest_answer(struct env *e, struct vmbus_sim_channel *ch, const struct vmbus_packet *p, uint8_t *payload,
                         size_t len, uint32_t status) {
        struct icmsg_hdr *h = (struct icmsg_hdr *)(void *)(payload + sizeof(struct vmbuspipe_hdr));
        h->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        h->status = status;
        ASSERT_OK(vmbus_sim_ring_write(e->sim, ch, VM_PKT_DATA_INBAND, 0, p->trans_id, payload, len));
}

/* Open a service and negotiate like Linux 6.1 (framework 3.0, message want). */
static void open_and_negotiate(struct env *e, const uint8_t class_id[16], struct ic_version want,
                               struct vmbus_sim_channel *ch) {
        const struct vmbus_channel_offer_channel *o = find_offer(e, class_id);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(vmbus_sim_open(e->sim, o->child_relid, o->connection_id, 4, NULL, 0, ch), 0);
        uint8_t buf[4096];
        struct vmbus_packet p;
        struct icmsg_hdr h;
        size_t len = host_request(e, ch, buf, &p, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        uint8_t payload[4096];
        memcpy(payload, vmbus_packet_payload(&p), len);
        struct icmsg_negotiate n;
        memcpy(&n, payload + ICMSG_HDR, sizeof n);
        ASSERT_EQ(n.icframe_vercnt, 2);
        ASSERT_GE(n.icmsg_vercnt, 1);
        n.icframe_vercnt = n.icmsg_vercnt = 1;
        memcpy(payload + ICMSG_HDR, &n, sizeof n);
        struct ic_version chosen[2] = { { 3, 0 }, want };
        memcpy(payload + ICMSG_HDR + sizeof n, chosen, sizeof chosen);
        guest_answer(e, ch, &p, payload, ICMSG_HDR + sizeof n + sizeof chosen, HV_S_OK);
}

static bool wait_owner(struct owner *o, bool (*cond)(struct owner *), int ms) {
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

static bool hb_ok(struct owner *o) {
        return o->hb == ICVSP_HEARTBEAT_OK;
}
static bool hb_lost(struct owner *o) {
        return o->hb == ICVSP_HEARTBEAT_LOST;
}
static bool answered(struct owner *o) {
        return o->answers > 0;
}

TEST(offers_are_pipe_mode_util_channels) {
        struct env e;
        env_init(&e, true, true);
        ASSERT_EQ(e.n_offers, 2);
        static const uint8_t sd[16] = HV_SHUTDOWN_GUID, hb[16] = HV_HEART_BEAT_GUID, sd_inst[16] = HV_SHUTDOWN_INSTANCE;
        const struct vmbus_channel_offer_channel *o = find_offer(&e, sd);
        ASSERT_NOT_NULL(o);
        ASSERT_MEMEQ(o->if_instance, sd_inst, 16);
        ASSERT_EQ(o->chn_flags, VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
        uint32_t pipe_mode;
        memcpy(&pipe_mode, o->user_def, 4);
        ASSERT_EQ(pipe_mode, VMBUS_PIPE_TYPE_MESSAGE);
        ASSERT_NOT_NULL(find_offer(&e, hb));
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_NO_CONTACT);
        env_free(&e);
}

TEST(heartbeat_ok_then_lost) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, false, true);
        ASSERT_EQ(e.n_offers, 1);
        static const uint8_t hb[16] = HV_HEART_BEAT_GUID;
        open_and_negotiate(&e, hb, (struct ic_version){ 3, 0 }, &ch);
        uint8_t buf[4096], payload[4096];
        struct vmbus_packet p;
        struct icmsg_hdr h;
        uint64_t prev = 0;
        for (int i = 0; i < 3; i++) {
                size_t len = host_request(&e, &ch, buf, &p, &h);
                ASSERT_EQ(h.icmsgtype, ICMSGTYPE_HEARTBEAT);
                ASSERT_EQ(h.icvermsg.major, 3);
                ASSERT_GE(len, (size_t)(ICMSG_HDR + 8)); /* §8.4: the guest needs >= 36 bytes */
                memcpy(payload, vmbus_packet_payload(&p), len);
                uint64_t seq;
                memcpy(&seq, payload + ICMSG_HDR, 8);
                ASSERT_GT(seq, prev);
                prev = seq;
                seq++;
                memcpy(payload + ICMSG_HDR, &seq, 8);
                guest_answer(&e, &ch, &p, payload, len, HV_S_OK);
                ASSERT_TRUE(wait_owner(&e.o, hb_ok, 5000));
        }
        uint64_t last = 0;
        ASSERT_EQ(icvsp_heartbeat(e.ic, &last), ICVSP_HEARTBEAT_OK);
        ASSERT_GT(last, 0u);
        /* The guest stops answering: lost after 3 intervals. */
        ASSERT_TRUE(wait_owner(&e.o, hb_lost, 5000));
        struct icvsp_stats st;
        icvsp_get_stats(e.ic, &st);
        ASSERT_EQ(st.heartbeats_answered, 3u);
        ASSERT_EQ(st.negotiations, 1u);
        env_free(&e);
}

TEST(heartbeat_wrong_sequence_is_not_a_beat) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, false, true);
        static const uint8_t hb[16] = HV_HEART_BEAT_GUID;
        open_and_negotiate(&e, hb, (struct ic_version){ 1, 0 }, &ch);
        uint8_t buf[4096], payload[4096];
        struct vmbus_packet p;
        struct icmsg_hdr h;
        size_t len = host_request(&e, &ch, buf, &p, &h);
        ASSERT_EQ(h.icvermsg.major, 1);
        memcpy(payload, vmbus_packet_payload(&p), len);
        uint64_t seq;
        memcpy(&seq, payload + ICMSG_HDR, 8);
        seq += 7; /* not seq + 1 */
        memcpy(payload + ICMSG_HDR, &seq, 8);
        guest_answer(&e, &ch, &p, payload, len, HV_S_OK);
        usleep(300000);
        ASSERT_EQ(icvsp_heartbeat(e.ic, NULL), ICVSP_HEARTBEAT_NO_CONTACT);
        struct icvsp_stats st;
        icvsp_get_stats(e.ic, &st);
        ASSERT_GE(st.bad_packets, 1u);
        env_free(&e);
}

TEST(shutdown_request_and_answer) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false);
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), ENOTCONN); /* not opened yet */
        ASSERT_FALSE(icvsp_shutdown_ready(e.ic));
        static const uint8_t sd[16] = HV_SHUTDOWN_GUID;
        open_and_negotiate(&e, sd, (struct ic_version){ 3, 2 }, &ch);
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e.ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_shutdown_ready(e.ic));
        ASSERT_OK(icvsp_request_shutdown(e.ic, true));
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), EBUSY); /* one at a time */
        uint8_t buf[4096], payload[4096];
        struct vmbus_packet p;
        struct icmsg_hdr h;
        size_t len = host_request(&e, &ch, buf, &p, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_SHUTDOWN);
        ASSERT_GE(len, (size_t)2088); /* §8.3 */
        memcpy(payload, vmbus_packet_payload(&p), len);
        struct shutdown_msg_data d;
        memcpy(&d, payload + ICMSG_HDR, sizeof d);
        ASSERT_EQ(d.flags, IC_SHUTDOWN_FLAG_REBOOT | IC_SHUTDOWN_FLAG_FORCED);
        ASSERT_EQ(d.reason_code, IC_SHUTDOWN_REASON_PLANNED);
        guest_answer(&e, &ch, &p, payload, len, HV_S_OK);
        ASSERT_TRUE(wait_owner(&e.o, answered, 5000));
        ASSERT_TRUE(e.o.accepted);
        env_free(&e);
}

TEST(no_common_version_and_malformed_answers) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false);
        static const uint8_t sd[16] = HV_SHUTDOWN_GUID;
        const struct vmbus_channel_offer_channel *o = find_offer(&e, sd);
        ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        uint8_t buf[4096], payload[4096];
        struct vmbus_packet p;
        struct icmsg_hdr h;
        size_t len = host_request(&e, &ch, buf, &p, &h);
        memcpy(payload, vmbus_packet_payload(&p), len);
        /* Garbage first: too short, a request instead of a response, a
         * completion packet. None may be taken as the answer. */
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_DATA_INBAND, 0, 1, payload, 10));
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_DATA_INBAND, 0, 1, payload, len));
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_COMP, 0, 1, payload, len));
        /* Then the real answer: zero counts = no common version (§8.2). */
        struct icmsg_negotiate n = { 0 };
        memcpy(payload + ICMSG_HDR, &n, sizeof n);
        guest_answer(&e, &ch, &p, payload, ICMSG_HDR + sizeof n, HV_S_OK);
        struct icvsp_stats st = { 0 };
        for (int i = 0; i < 5000 && st.negotiation_failures == 0; i++) {
                usleep(1000);
                icvsp_get_stats(e.ic, &st);
        }
        ASSERT_EQ(st.negotiation_failures, 1u);
        ASSERT_EQ(st.bad_packets, 3u);
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), ENOTCONN);
        /* Closing and opening again negotiates afresh. */
        ASSERT_OK(vmbus_sim_close(e.sim, &ch));
        open_and_negotiate(&e, sd, (struct ic_version){ 3, 0 }, &ch);
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e.ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_shutdown_ready(e.ic));
        env_free(&e);
}

TEST_MAIN();
