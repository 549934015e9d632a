// SPDX-License-Identifier: MIT
/* vmbus_server_quiesce with the guest active (docs/vm-state.md): the echo
 * devices' workers (one doorbell-driven, one polling) are busy when they
 * and the server quiesce; the guest goes on writing packets and asks for
 * sub-channels, the host hot-adds a device. For 50 ms no byte of guest RAM
 * changes, nothing is signalled and no message is posted; a guest message
 * is refused (retry). After resume every packet is echoed exactly once in
 * order, the held offer arrives once, then the sub-channel offers. */
#include <time.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/tlfs.h"
#include "vmbustest/echo.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"
#include "tests/lib/vmstate-file.h"
#include "test-vmbus-echo.h"

#define BUSY 48u  /* packets written before the quiesce */
#define HELD 16u  /* packets written while quiesced */

static uint64_t ram_hash(struct vmbus_sim *sim) {
        return test_ram_hash(vmbus_sim_ram(sim), vmbus_sim_ram_size(sim));
}


static uint8_t buf[1024];


static void nothing_more(struct vmbus_sim *sim, struct vmbus_sim_channel *ch) {
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_sim_ring_wait(sim, ch, buf, sizeof buf, &p, 50), -ETIMEDOUT);
}

static void open_offer(struct vmbus_sim *sim, const struct vmbus_channel_offer_channel *o,
                       struct vmbus_sim_channel *ch) {
        ASSERT_EQ(vmbus_sim_open(sim, o->child_relid, o->connection_id, 16, NULL, 0, ch), 0);
}

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_echo echo[3];
        struct vmbus_device_config dc[3]; /* the third is hot-added while quiesced */
        struct vmbus_sim_channel ch[2];   /* doorbell-driven, polling */
};

static uint64_t packets(struct fx *f, unsigned i) {
        return __atomic_load_n(&f->echo[i].stats.packets, __ATOMIC_RELAXED);
}

static void fx_setup(struct fx *f) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(8u << 20, 2, &f->sim));
        ASSERT_OK(vmbus_server_new(&(struct vmbus_server_config){ .vp_count = 2 }, &vmbus_sim_ops, f->sim, &f->srv));
        for (unsigned i = 0; i < 3; i++) {
                ASSERT_OK(vmbus_echo_init(&f->echo[i], i == 1 ? VMBUS_ECHO_POLL_US : 0));
                f->dc[i] = (struct vmbus_device_config){ .ops = &vmbus_echo_ops, .data = &f->echo[i] };
                f->dc[i].instance_id.b[0] = (uint8_t)(i + 1);
        }
        ASSERT_OK(vmbus_server_add_device(f->srv, &f->dc[0], NULL));
        ASSERT_OK(vmbus_server_add_device(f->srv, &f->dc[1], NULL));
        ASSERT_EQ(vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel offers[4];
        ASSERT_EQ(vmbus_sim_request_offers(f->sim, offers, 4), 2);
        for (unsigned i = 0; i < 2; i++)
                open_offer(f->sim, &offers[i], &f->ch[i]);
}

/* After resume: the held offer once, every packet echoed once in order,
 * the sub-channel request answered and its offers after the held one. */
static void check_resumed(struct fx *f) {
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.if_instance[0], 3);
        ASSERT_EQ(o.sub_channel_index, 0u);
        echo_expect(f->sim, &f->ch[1], 1, BUSY + HELD, 0);
        nothing_more(f->sim, &f->ch[1]);
        echo_expect(f->sim, &f->ch[0], 1, BUSY + HELD, 0);
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(f->sim, &f->ch[0], buf, sizeof buf, &p, 5000), 0);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.trans_id, 999u);
        int32_t res;
        memcpy(&res, vmbus_packet_payload(&p), sizeof res);
        ASSERT_EQ(res, 2);
        nothing_more(f->sim, &f->ch[0]);
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
                ASSERT_EQ(o.if_instance[0], 1);
                ASSERT_EQ(o.sub_channel_index, i + 1);
        }
        ASSERT_EQ(vmbus_sim_pending_messages(f->sim), 0u);
        ASSERT_EQ(packets(f, 0), BUSY + HELD + 1); /* the SUBCHAN answer counts */
        ASSERT_EQ(packets(f, 1), BUSY + HELD);
}

TEST(quiesce_holds_device_workers_and_host_messages) {
        static struct fx f;
        fx_setup(&f);
        /* Busy: the workers are serving when the quiesce comes. */
        for (uint64_t id = 1; id <= BUSY; id++) {
                echo_put(f.sim, &f.ch[0], id);
                echo_put(f.sim, &f.ch[1], id);
        }
        echo_rig_quiesce(f.srv, f.echo, 2);
        echo_rig_quiesce(f.srv, f.echo, 2); /* idempotent */
        /* The guest on its way in: more packets, a sub-channel request. */
        for (uint64_t id = BUSY + 1; id <= BUSY + HELD; id++) {
                echo_put(f.sim, &f.ch[0], id);
                echo_put(f.sim, &f.ch[1], id);
        }
        struct vmbus_echo_subchannel_request req = { .magic = "SUBCHAN", .count = 2 };
        ASSERT_OK(vmbus_sim_ring_write(f.sim, &f.ch[0], VM_PKT_DATA_INBAND,
                                       VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 999, &req, sizeof req));
        uint64_t h = ram_hash(f.sim), events = vmbus_sim_event_count(f.sim);
        unsigned msgs = vmbus_sim_pending_messages(f.sim);
        uint64_t served = packets(&f, 0) + packets(&f, 1);
        /* The host: a hot add; the guest: a message (refused, retried later). */
        ASSERT_OK(vmbus_server_add_device(f.srv, &f.dc[2], NULL));
        struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &ro, sizeof ro), HV_STATUS_INSUFFICIENT_BUFFERS);
        struct timespec ms50 = { 0, 50000000 };
        nanosleep(&ms50, NULL);
        ASSERT_EQ(ram_hash(f.sim), h);
        ASSERT_EQ(vmbus_sim_event_count(f.sim), events);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), msgs);
        ASSERT_EQ(packets(&f, 0) + packets(&f, 1), served);
        echo_rig_resume(f.srv, f.echo, 2);
        check_resumed(&f);
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &ro, sizeof ro), HV_STATUS_SUCCESS); /* the retry */
        vmbus_server_free(f.srv);
        for (unsigned i = 0; i < 3; i++)
                vmbus_echo_fini(&f.echo[i]);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        vmbus_sim_free(f.sim);
}

TEST_MAIN();
