// SPDX-License-Identifier: MIT
/* The single-channel device helper (vmbus/simple.h) on its own, with a
 * device made for the test ("tally": it counts and echoes the guest's
 * packets) against the simulated guest: the doorbell serves the ring on
 * the owner's worker, the tick's poll serves a packet that came without
 * one, a packet longer than the receive buffer is skipped and counted, a
 * refused open leaves nothing behind, close tells the device, and the
 * channel's section saves and restores (and a restore that the device
 * refuses keeps nothing). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/test.h"
#include "hv/vmbus.h"
#include "tests/lib/vmstate-file.h"
#include "vmbus/server.h"
#include "vmbus/simple.h"
#include "vmbustest/sim.h"

#define TALLY_STATE_TAG VMSTATE_TAG('T', 'L', 'L', 'Y')
#define TALLY_RX 256u

struct tally_state {
        uint32_t packets, opens;
};

struct tally {
        pthread_mutex_t lock;
        struct devworker *w;
        struct vmbus_simple sc;
        struct vmbus_device *dev;
        struct tally_state st;
        unsigned oversized, served, closes, quiet_closes, restores;
        int open_result;
        bool refuse_restore;
        uint8_t rxbuf[TALLY_RX];
};

static const struct vmstate_field_desc tally_fields[] = {
        VMSTATE_FIELD(1, VMSTATE_U32, struct tally_state, packets),
        VMSTATE_FIELD(2, VMSTATE_U32, struct tally_state, opens),
};
static const struct vmstate_desc tally_desc = {
        .tag = TALLY_STATE_TAG, .version = 1, .fields = tally_fields, .n_fields = ARRAY_SIZE(tally_fields),
        .name = "tally channel",
};

static struct tally *of(struct vmbus_simple *sc) {
        return container_of(sc, struct tally, sc);
}

static int t_opened(struct vmbus_simple *sc) {
        struct tally *t = of(sc);
        if (t->open_result < 0)
                return t->open_result;
        t->st.opens++;
        t->st.packets = 0;
        return 0;
}

static void t_packet(struct vmbus_simple *sc, const struct vmbus_packet *p) {
        struct tally *t = of(sc);
        if (!p) {
                t->oversized++;
                return;
        }
        t->st.packets++;
        struct vmbus_ring_pair *rp = vmbus_channel_rings(sc->ch);
        vmbus_ring_send_begin(rp);
        (void)vmbus_ring_send_inband(rp, p->trans_id, false, vmbus_packet_payload(p), vmbus_packet_payload_len(p));
        vmbus_ring_send_end(rp);
}

static void t_served(struct vmbus_simple *sc) {
        of(sc)->served++;
}

static void t_closed(struct vmbus_simple *sc, bool quiet) {
        if (quiet)
                of(sc)->quiet_closes++;
        else
                of(sc)->closes++;
}

static int t_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen) {
        *(struct tally_state *)st = of(sc)->st;
        return 0;
}

static void t_restore(struct vmbus_simple *sc, const void *st) {
        of(sc)->st = *(const struct tally_state *)st;
        of(sc)->restores++;
}

static int t_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen) {
        memset(st, 0, sizeof(struct tally_state));
        return vmstate_decode(s, &tally_desc, st, err, errlen);
}

static int t_check(struct vmbus_simple *sc, const void *st, uint32_t relid, char *err, size_t errlen) {
        return of(sc)->refuse_restore ? errorf(err, errlen, -EINVAL, "section TLLY #%u: refused", relid) : 0;
}

static int t_quiesce(struct vmbus_simple *sc) {
        return devworker_pause(of(sc)->w);
}

static const struct vmbus_simple_ops tally_simple = {
        .name = "tally", .state = &tally_desc, .state_size = sizeof(struct tally_state), .opened = t_opened,
        .packet = t_packet, .served = t_served, .closed = t_closed, .save = t_save, .restore = t_restore,
        .decode = t_decode, .check = t_check, .quiesce = t_quiesce,
};

static const struct vmbus_provider_ops tally_provider = {
        .name = "tally",
        .class_id = { HV_GUID_BYTES(0x6a1d2f0e, 0x53b1, 0x4c7a, 0x9e, 0x20, 0x11, 0x35, 0x7d, 0x42, 0xa8, 0x6c) },
        .guest_max_packet = 4096,
        VMBUS_SIMPLE_PROVIDER,
};

struct env {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct tally t;
        struct vmbus_sim_channel ch;
        uint32_t relid, connection_id;
};

static void build(struct env *e) {
        struct vmbus_server_config c = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&c, &vmbus_sim_ops, e->sim, &e->srv));
        struct tally *t = &e->t;
        *t = (struct tally){ 0 };
        pthread_mutex_init(&t->lock, NULL);
        ASSERT_OK(devworker_new(&(struct devworker_config){ .name = "tally" }, &t->w));
        vmbus_simple_init(&t->sc, &tally_simple, &t->lock, t->w, t->rxbuf, sizeof t->rxbuf);
        ASSERT_OK(devworker_start(t->w));
        struct vmbus_device_config dc = { .ops = &tally_provider, .data = &t->sc };
        dc.instance_id.b[0] = 1;
        ASSERT_OK(vmbus_server_add_device(e->srv, &dc, &t->dev));
}

static void teardown(struct env *e) {
        vmbus_server_free(e->srv);
        devworker_free(e->t.w);
        pthread_mutex_destroy(&e->t.lock);
}

static void env_init(struct env *e) {
        *e = (struct env){ 0 };
        ASSERT_OK(vmbus_sim_new(16u << 20, 1, &e->sim));
        build(e);
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel offers[2];
        ASSERT_EQ(vmbus_sim_request_offers(e->sim, offers, 2), 1);
        e->relid = offers[0].child_relid;
        e->connection_id = offers[0].connection_id;
}

static void env_free(struct env *e) {
        teardown(e);
        ASSERT_EQ(vmbus_sim_live_mappings(e->sim), 0u);
        vmbus_sim_free(e->sim);
}

static int open_channel(struct env *e) {
        return vmbus_sim_open(e->sim, e->relid, e->connection_id, 4, NULL, 0, &e->ch);
}

/* Under the device's lock: a field the worker writes. */
static unsigned locked(struct env *e, const unsigned *field) {
        pthread_mutex_lock(&e->t.lock);
        unsigned v = *field;
        pthread_mutex_unlock(&e->t.lock);
        return v;
}

static void g_send(struct env *e, uint64_t id, size_t len) {
        uint8_t buf[512];
        memset(buf, (int)id, sizeof buf);
        ASSERT_OK(vmbus_sim_ring_write(e->sim, &e->ch, VM_PKT_DATA_INBAND, 0, id, buf, len));
}

static void g_echo(struct env *e, uint64_t id, size_t len) {
        uint8_t buf[1024];
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(e->sim, &e->ch, buf, sizeof buf, &p, 5000), 0);
        ASSERT_EQ(p.trans_id, id);
        ASSERT_EQ((size_t)vmbus_packet_payload_len(&p), len);
        ASSERT_EQ(((const uint8_t *)vmbus_packet_payload(&p))[0], (uint8_t)id);
}

TEST(the_doorbell_serves_the_ring_on_the_owners_worker) {
        static struct env e;
        env_init(&e);
        ASSERT_EQ(open_channel(&e), 0);
        ASSERT_EQ(e.t.st.opens, 1u);
        for (uint64_t i = 1; i <= 3; i++)
                g_send(&e, i, 24);
        for (uint64_t i = 1; i <= 3; i++)
                g_echo(&e, i, 24);
        ASSERT_EQ(locked(&e, &e.t.st.packets), 3u);
        ASSERT_GE(locked(&e, &e.t.served), 1u);
        env_free(&e);
}

TEST(a_packet_longer_than_the_receive_buffer_is_skipped_and_counted) {
        static struct env e;
        env_init(&e);
        ASSERT_EQ(open_channel(&e), 0);
        g_send(&e, 1, TALLY_RX + 8); /* with its descriptor, past rxbuf */
        g_send(&e, 2, 16);
        g_echo(&e, 2, 16);
        ASSERT_EQ(locked(&e, &e.t.oversized), 1u);
        ASSERT_EQ(locked(&e, &e.t.st.packets), 1u);
        env_free(&e);
}

/* A packet the guest wrote into a ring that was not empty comes without
 * a doorbell (§5.5): the owner's tick serves it. */
TEST(the_ticks_poll_serves_a_packet_that_came_without_a_doorbell) {
        static struct env e;
        env_init(&e);
        ASSERT_EQ(open_channel(&e), 0);
        uint8_t pkt[16 + 8] = { 0 };
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 3, .trans_id = 7 };
        memcpy(pkt, &d, sizeof d);
        pkt[16] = 7;
        ASSERT_OK(vmbus_sim_ring_write_raw(e.sim, &e.ch, pkt, sizeof pkt, false));
        usleep(50 * 1000);
        ASSERT_EQ(locked(&e, &e.t.st.packets), 0u); /* no doorbell, nothing served */
        pthread_mutex_lock(&e.t.lock);
        vmbus_simple_poll(&e.t.sc);
        pthread_mutex_unlock(&e.t.lock);
        g_echo(&e, 7, 8);
        ASSERT_EQ(locked(&e, &e.t.st.packets), 1u);
        env_free(&e);
}

/* The refusal undoes the open: the doorbell left the worker, so the next
 * open adds it again and is served. */
TEST(a_refused_open_leaves_nothing_behind) {
        static struct env e;
        env_init(&e);
        e.t.open_result = -EIO;
        ASSERT_NE(open_channel(&e), 0);
        ASSERT_NULL(e.t.sc.ch);
        ASSERT_NULL(e.t.sc.doorbell);
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        ASSERT_EQ(e.t.closes, 0u);
        e.t.open_result = 0;
        ASSERT_EQ(open_channel(&e), 0);
        g_send(&e, 5, 8);
        g_echo(&e, 5, 8);
        env_free(&e);
}

TEST(a_guest_close_tells_the_device) {
        static struct env e;
        env_init(&e);
        ASSERT_EQ(open_channel(&e), 0);
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        ASSERT_EQ(e.t.closes, 1u);
        ASSERT_EQ(e.t.quiet_closes, 0u);
        ASSERT_NULL(e.t.sc.ch);
        ASSERT_NULL(e.t.sc.doorbell);
        env_free(&e);
}

static int save_server(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmbus_server_save(opaque, w, err, errlen);
}

/* A saved state: the file mapped and indexed. */
struct saved {
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[16];
        size_t n;
};

/* Saves the open channel after two packets; the server is rebuilt. */
static void save_and_rebuild(struct env *e, struct saved *sv) {
        env_init(e);
        ASSERT_EQ(open_channel(e), 0);
        g_send(e, 1, 8);
        g_send(e, 2, 8);
        g_echo(e, 1, 8);
        g_echo(e, 2, 8);
        ASSERT_OK(devworker_pause(e->t.w));
        ASSERT_OK(vmbus_server_quiesce(e->srv));
        sv->n = (size_t)vmstate_test_save(save_server, e->srv, &sv->map, &sv->len, sv->secs, ARRAY_SIZE(sv->secs));
        ASSERT_NOT_NULL(vmstate_find(sv->secs, sv->n, TALLY_STATE_TAG, e->relid));
        teardown(e);
        build(e);
}

TEST(the_channels_section_restores_quiesced_and_serves_once_at_resume) {
        static struct env e;
        static struct saved sv;
        save_and_rebuild(&e, &sv);
        char err[256] = "";
        if (vmbus_server_restore(e.srv, sv.secs, sv.n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_EQ(e.t.restores, 1u);
        ASSERT_EQ(e.t.st.packets, 2u);
        ASSERT_EQ(e.t.st.opens, 1u);
        ASSERT_TRUE(e.t.sc.restored);
        ASSERT_TRUE(devworker_is_paused(e.t.w)); /* back quiesced */
        g_send(&e, 3, 8); /* while restored, before the resume */
        usleep(50 * 1000);
        ASSERT_EQ(locked(&e, &e.t.st.packets), 2u);
        vmbus_server_resume(e.srv);
        pthread_mutex_lock(&e.t.lock);
        vmbus_simple_resumed(&e.t.sc);
        pthread_mutex_unlock(&e.t.lock);
        devworker_resume(e.t.w);
        g_echo(&e, 3, 8);
        ASSERT_EQ(locked(&e, &e.t.st.packets), 3u);
        ASSERT_FALSE(e.t.sc.restored);
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        ASSERT_EQ(e.t.closes, 1u); /* resumed: a real close */
        munmap(sv.map, sv.len);
        env_free(&e);
}

TEST(a_restore_the_device_refuses_keeps_nothing) {
        static struct env e;
        static struct saved sv;
        save_and_rebuild(&e, &sv);
        e.t.refuse_restore = true;
        char err[256] = "";
        ASSERT_LT(vmbus_server_restore(e.srv, sv.secs, sv.n, err, sizeof err), 0);
        ASSERT_NOT_NULL(strstr(err, "section TLLY #"));
        ASSERT_NOT_NULL(strstr(err, "refused"));
        ASSERT_EQ(e.t.restores, 0u);
        ASSERT_NULL(e.t.sc.ch);
        ASSERT_NULL(e.t.sc.doorbell);
        ASSERT_EQ(e.t.closes, 0u); /* a refused restore tells the device nothing */
        munmap(sv.map, sv.len);
        env_free(&e);
}

TEST(a_state_without_the_channels_section_is_refused_by_name) {
        static struct env e;
        static struct saved sv;
        save_and_rebuild(&e, &sv);
        struct vmstate_section kept[16];
        size_t k = 0;
        for (size_t i = 0; i < sv.n; i++)
                if (sv.secs[i].tag != TALLY_STATE_TAG)
                        kept[k++] = sv.secs[i];
        ASSERT_EQ(k, sv.n - 1);
        char err[256] = "", want[64];
        snprintf(want, sizeof want, "the state has no TLLY section for channel %u", e.relid);
        ASSERT_LT(vmbus_server_restore(e.srv, kept, k, err, sizeof err), 0);
        ASSERT_NOT_NULL(strstr(err, want));
        ASSERT_NULL(e.t.sc.ch);
        munmap(sv.map, sv.len);
        env_free(&e);
}

TEST_MAIN();
