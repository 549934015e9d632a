// SPDX-License-Identifier: MIT
/* Channels end to end with the echo provider on its device worker and the
 * simulated guest: packets and completions, wrong orders (open before the
 * GPADL, double open, close of an unopened channel), a corrupted ring that
 * stops one channel while the others keep echoing, a full guest ring,
 * rescind + RELID_RELEASED, sub-channels, MODIFYCHANNEL per version, and a
 * provider whose open fails. */
#include <poll.h>
#include <sys/eventfd.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/tlfs.h"
#include "vmbus/server.h"
#include "vmbustest/echo.h"
#include "vmbustest/sim.h"

#define WAIT_MS 5000

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_echo echo[4];
        struct vmbus_device *dev[4];
        struct vmbus_channel_offer_channel offer[16];
        int n_offers;
};

static void fx_setup_version(struct fx *f, unsigned n_dev, uint32_t version) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(8u << 20, 2, &f->sim));
        struct vmbus_server_config cfg = { .vp_count = 2 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv));
        for (unsigned i = 0; i < ARRAY_SIZE(f->echo); i++)
                ASSERT_OK(vmbus_echo_init(&f->echo[i], 0));
        for (unsigned i = 0; i < n_dev; i++) {
                struct vmbus_device_config dc = { .ops = &vmbus_echo_ops, .data = &f->echo[i] };
                dc.instance_id.b[0] = (uint8_t)(i + 1);
                ASSERT_OK(vmbus_server_add_device(f->srv, &dc, &f->dev[i]));
        }
        ASSERT_EQ(vmbus_sim_connect(f->sim, version), 1);
        f->n_offers = vmbus_sim_request_offers(f->sim, f->offer, ARRAY_SIZE(f->offer));
        ASSERT_EQ(f->n_offers, (int)n_dev);
}

static void fx_setup(struct fx *f, unsigned n_dev) {
        fx_setup_version(f, n_dev, VERSION_WIN10_V5_3);
}

static void fx_free(struct fx *f) {
        vmbus_server_free(f->srv);
        for (unsigned i = 0; i < ARRAY_SIZE(f->echo); i++)
                vmbus_echo_fini(&f->echo[i]);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        vmbus_sim_free(f->sim);
}

static struct vmbus_server_stats stats(struct fx *f) {
        struct vmbus_server_stats s;
        vmbus_server_get_stats(f->srv, &s);
        return s;
}

static void open_echo(struct fx *f, unsigned i, struct vmbus_sim_channel *ch) {
        ASSERT_EQ(vmbus_sim_open(f->sim, f->offer[i].child_relid, f->offer[i].connection_id, 4, NULL, 0, ch), 0);
}

/* One request, one echo. */
static void echo_once(struct fx *f, struct vmbus_sim_channel *ch, uint64_t id, bool completion) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "hello %llu", (unsigned long long)id);
        ASSERT_OK(vmbus_sim_ring_write(f->sim, ch, VM_PKT_DATA_INBAND,
                                       completion ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0, id, msg,
                                       (size_t)n));
        uint8_t buf[256];
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(f->sim, ch, buf, sizeof buf, &p, WAIT_MS), 0);
        ASSERT_EQ(p.type, completion ? VM_PKT_COMP : VM_PKT_DATA_INBAND);
        ASSERT_EQ(p.trans_id, id);
        ASSERT_MEMEQ(vmbus_packet_payload(&p), msg, (size_t)n);
}

TEST(channel_echo_inband_and_completion) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_sim_channel ch;
        open_echo(&f, 0, &ch);
        ASSERT_TRUE(vmbus_sim_event_registered(f.sim, f.offer[0].connection_id));
        for (uint64_t i = 1; i <= 50; i++)
                echo_once(&f, &ch, i, i % 2);
        ASSERT_EQ(__atomic_load_n(&f.echo[0].stats.packets, __ATOMIC_RELAXED), 50u);
        ASSERT_TRUE(vmbus_sim_take_event(f.sim, 0, f.offer[0].child_relid)); /* events on target_vp 0 */
        ASSERT_OK(vmbus_sim_close(f.sim, &ch));
        ASSERT_FALSE(vmbus_sim_event_registered(f.sim, f.offer[0].connection_id));
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        /* A channel may be opened again after a close (§4.6). */
        open_echo(&f, 0, &ch);
        echo_once(&f, &ch, 99, true);
        fx_free(&f);
}

static uint32_t open_raw(struct fx *f, uint32_t relid, uint32_t gpadl, uint32_t offset, uint32_t vp) {
        struct vmbus_channel_open_channel o = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = relid,
                                                .openid = relid, .ringbuffer_gpadlhandle = gpadl,
                                                .target_vp = vp, .downstream_ringbuffer_pageoffset = offset };
        ASSERT_EQ(vmbus_sim_post(f->sim, 1, 0, &o, sizeof o), HV_STATUS_SUCCESS);
        struct vmbus_channel_open_result r;
        ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_OPENCHANNEL_RESULT, &r, sizeof r), (int)sizeof r);
        ASSERT_EQ(r.child_relid, relid);
        ASSERT_EQ(r.openid, relid);
        return r.status;
}

TEST(channel_wrong_orders) {
        struct fx f;
        fx_setup(&f, 2);
        /* OPEN before any GPADL, with an unknown relid, a bad VP. */
        ASSERT_NE(open_raw(&f, 1, 0xe1e10, 2, 0), 0u);
        ASSERT_NE(open_raw(&f, 99, 0xe1e10, 2, 0), 0u);
        uint64_t base = vmbus_sim_alloc_pages(f.sim, 8);
        uint64_t pfns[8];
        for (int i = 0; i < 8; i++)
                pfns[i] = base + (uint64_t)i;
        uint32_t h = vmbus_sim_next_gpadl_handle(&*f.sim);
        ASSERT_EQ(vmbus_sim_create_gpadl(f.sim, 1, h, pfns, 8, 8 * 4096), 0);
        ASSERT_NE(open_raw(&f, 1, h, 2, 7), 0u);  /* no VP 7 */
        ASSERT_NE(open_raw(&f, 1, h, 1, 0), 0u);  /* ring of one page */
        ASSERT_NE(open_raw(&f, 1, h, 7, 0), 0u);  /* inbound ring of one page */
        ASSERT_NE(open_raw(&f, 1, h, 99, 0), 0u);
        ASSERT_NE(open_raw(&f, 2, h, 4, 0), 0u);  /* another channel's GPADL */
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 1u); /* only the GPADL itself */
        ASSERT_EQ(open_raw(&f, 1, h, 4, 0), 0u);
        ASSERT_NE(open_raw(&f, 1, h, 4, 0), 0u); /* double open: refused, stays open */
        struct vmbus_server_stats s = stats(&f);
        ASSERT_EQ(s.opens, 1u);
        ASSERT_GE(s.unexpected, 2u);
        ASSERT_NOT_NULL(vmbus_server_open_channel(f.srv, 1));
        /* Close of a channel that is not open: dropped. */
        struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = 2 };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &cl, sizeof cl), 0);
        cl.child_relid = 1;
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &cl, sizeof cl), 0);
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &cl, sizeof cl), 0); /* twice */
        ASSERT_EQ(stats(&f).closes, 1u);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        fx_free(&f);
}

/* A corrupt ring stops its channel; the others keep going (§5). */
static void corrupt_and_check(void (*corrupt)(struct vmbus_sim *, struct vmbus_sim_channel *)) {
        struct fx f;
        fx_setup(&f, 2);
        struct vmbus_sim_channel a, b;
        open_echo(&f, 0, &a);
        open_echo(&f, 1, &b);
        echo_once(&f, &a, 1, false);
        corrupt(f.sim, &a);
        ASSERT_OK(vmbus_sim_signal(f.sim, a.connection_id));
        for (uint64_t i = 0; i < 20; i++)
                echo_once(&f, &b, 100 + i, true);
        uint8_t buf[256];
        struct vmbus_packet p;
        /* Nothing more from A (a guest that corrupted its own read_index
         * cannot even look). */
        int r = vmbus_sim_ring_wait(f.sim, &a, buf, sizeof buf, &p, 50);
        ASSERT_TRUE(r == -ETIMEDOUT || r == -EBADMSG);
        /* The host finds the corruption on A's worker, which a loaded
         * machine may not have run yet: a close before that would stop the
         * worker with the doorbell unserved. */
        struct vmbus_channel *ca = vmbus_server_open_channel(f.srv, a.relid);
        ASSERT_NOT_NULL(ca);
        for (int i = 0; i < 5000 && !vmbus_channel_failed(ca); i++)
                usleep(1000);
        ASSERT_TRUE(vmbus_channel_failed(ca));
        /* The guest can still close it; it is counted as broken. */
        ASSERT_OK(vmbus_sim_close(f.sim, &a));
        ASSERT_EQ(stats(&f).channels_broken, 1u);
        echo_once(&f, &b, 200, false);
        fx_free(&f);
}

static void bad_write_index(struct vmbus_sim *s, struct vmbus_sim_channel *ch) {
        ch->out.hdr->write_index = ch->out.size + 8;
}
static void bad_len8(struct vmbus_sim *s, struct vmbus_sim_channel *ch) {
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 0x7fff };
        uint8_t pkt[32] = { 0 };
        memcpy(pkt, &d, sizeof d);
        ASSERT_OK(vmbus_sim_ring_write_raw(s, ch, pkt, sizeof pkt, false));
}
static void bad_offset8(struct vmbus_sim *s, struct vmbus_sim_channel *ch) {
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 9, .len8 = 4 };
        uint8_t pkt[32] = { 0 };
        memcpy(pkt, &d, sizeof d);
        ASSERT_OK(vmbus_sim_ring_write_raw(s, ch, pkt, sizeof pkt, false));
}
static void bad_guest_read_index(struct vmbus_sim *s, struct vmbus_sim_channel *ch) {
        ch->in.hdr->read_index = 3; /* the host's send side finds it */
        ASSERT_OK(vmbus_sim_ring_write(s, ch, VM_PKT_DATA_INBAND, 0, 5, "x", 1));
}

TEST(channel_corrupt_write_index_isolated) {
        corrupt_and_check(bad_write_index);
}
TEST(channel_corrupt_len8_isolated) {
        corrupt_and_check(bad_len8);
}
TEST(channel_corrupt_offset8_isolated) {
        corrupt_and_check(bad_offset8);
}
TEST(channel_corrupt_read_index_isolated) {
        corrupt_and_check(bad_guest_read_index);
}

TEST(channel_full_guest_ring_blocks_then_resumes) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_sim_channel ch;
        open_echo(&f, 0, &ch); /* 3 data pages per ring */
        uint8_t payload[1000], buf[2048];
        int sent = 0;
        /* The guest writes without reading: the echo fills the guest's ring
         * and then blocks with pending_send_sz set (§5.6). */
        for (int tries = 0; sent < 40 && tries < 10000; tries++) {
                memset(payload, sent, sizeof payload);
                int r = vmbus_sim_ring_write(f.sim, &ch, VM_PKT_DATA_INBAND, 0, (uint64_t)sent, payload,
                                             sizeof payload);
                if (r == 0)
                        sent++;
                else
                        usleep(1000);
                if (sent > 20 && __atomic_load_n(&f.echo[0].stats.blocked, __ATOMIC_RELAXED))
                        break;
        }
        ASSERT_GT(__atomic_load_n(&f.echo[0].stats.blocked, __ATOMIC_RELAXED), 0u);
        /* Now read everything: the guest's reads signal the host past
         * pending_send_sz and every packet comes back, in order. */
        for (int i = 0; i < sent; i++) {
                struct vmbus_packet p;
                ASSERT_GT(vmbus_sim_ring_wait(f.sim, &ch, buf, sizeof buf, &p, WAIT_MS), 0);
                ASSERT_EQ(p.trans_id, (uint64_t)i);
                ASSERT_EQ(((const uint8_t *)vmbus_packet_payload(&p))[999], (uint8_t)i);
        }
        fx_free(&f);
}

TEST(channel_rescind_and_relid_release) {
        struct fx f;
        fx_setup(&f, 2);
        struct vmbus_sim_channel ch;
        open_echo(&f, 0, &ch);
        echo_once(&f, &ch, 1, true);
        ASSERT_OK(vmbus_server_remove_device(f.srv, f.dev[0]));
        struct vmbus_channel_relid_message m;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &m, sizeof m), 12);
        ASSERT_EQ(m.child_relid, 1u);
        ASSERT_EQ(stats(&f).closes, 1u);
        ASSERT_FALSE(vmbus_sim_event_registered(f.sim, ch.connection_id));
        /* Opening a rescinded channel fails. */
        ASSERT_NE(vmbus_sim_open(f.sim, 1, ch.connection_id, 2, NULL, 0, &ch), 0);
        /* relid 1 is not reused before RELID_RELEASED (§4.7). */
        struct vmbus_device_config dc = { .ops = &vmbus_echo_ops, .data = &f.echo[2] };
        dc.instance_id.b[0] = 3;
        ASSERT_OK(vmbus_server_add_device(f.srv, &dc, &f.dev[2]));
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.child_relid, 3u);
        m.header.msgtype = CHANNELMSG_RELID_RELEASED;
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &m, sizeof m), 0);
        dc.instance_id.b[0] = 4;
        ASSERT_OK(vmbus_server_add_device(f.srv, &dc, &f.dev[3]));
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.child_relid, 1u);
        /* A second release of it is unexpected and harmless. */
        uint64_t before = stats(&f).unexpected;
        m.child_relid = 42;
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &m, sizeof m), 0);
        ASSERT_EQ(stats(&f).unexpected, before + 1);
        fx_free(&f);
}

TEST(channel_guest_releases_offer_it_cannot_use) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_RELID_RELEASED, .child_relid = 1 };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &m, sizeof m), 0);
        struct vmbus_sim_channel ch;
        ASSERT_NE(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 2, NULL, 0, &ch), 0);
        /* Offered again on the next connection. */
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, f.offer, 4), 1);
        open_echo(&f, 0, &ch);
        echo_once(&f, &ch, 3, false);
        fx_free(&f);
}

static int32_t ask_subchannels(struct fx *f, struct vmbus_sim_channel *ch, uint32_t n) {
        struct vmbus_echo_subchannel_request req = { .magic = "SUBCHAN", .count = n };
        ASSERT_OK(vmbus_sim_ring_write(f->sim, ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       7, &req, sizeof req));
        uint8_t buf[64];
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(f->sim, ch, buf, sizeof buf, &p, WAIT_MS), 0);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        int32_t res;
        memcpy(&res, vmbus_packet_payload(&p), sizeof res);
        return res;
}

/* Asks the echo provider on ch for n sub-channels: the n offers, numbered
 * from 1, the same class and instance as the primary's. */
static void expect_sub_offers(struct fx *f, struct vmbus_sim_channel *ch, int n,
                              struct vmbus_channel_offer_channel *o) {
        ASSERT_EQ(ask_subchannels(f, ch, (uint32_t)n), n);
        for (int i = 0; i < n; i++) {
                ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_OFFERCHANNEL, &o[i], sizeof o[i]), 196);
                ASSERT_MEMEQ(o[i].if_type, f->offer[0].if_type, 16); /* same class and instance (§6.7) */
                ASSERT_MEMEQ(o[i].if_instance, f->offer[0].if_instance, 16);
                ASSERT_EQ(o[i].sub_channel_index, (uint16_t)(i + 1));
                ASSERT_NE(o[i].child_relid, f->offer[0].child_relid);
        }
}

TEST(channel_subchannels) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_sim_channel prim, sub[3];
        open_echo(&f, 0, &prim);
        struct vmbus_channel_offer_channel o[3];
        expect_sub_offers(&f, &prim, 3, o);
        ASSERT_EQ(vmbus_device_channel_count(f.dev[0]), 4u);
        for (int i = 0; i < 3; i++) {
                ASSERT_EQ(vmbus_sim_open(f.sim, o[i].child_relid, o[i].connection_id, 2, NULL, 0, &sub[i]), 0);
                echo_once(&f, &sub[i], 10 + (uint64_t)i, true);
        }
        /* Beyond the provider's maximum: refused, nothing offered. */
        ASSERT_ERROR(ask_subchannels(&f, &prim, VMBUS_ECHO_MAX_SUBCHANNELS), EINVAL);
        ASSERT_EQ(ask_subchannels(&f, &prim, 0), 0);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        /* Sub-channels close before the primary (§4.7); then unload. */
        ASSERT_OK(vmbus_sim_close(f.sim, &sub[2]));
        struct vmbus_channel_message_header ul = { .msgtype = CHANNELMSG_UNLOAD };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &ul, sizeof ul), 0);
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_UNLOAD_RESPONSE, &ul, sizeof ul), 8);
        ASSERT_EQ(vmbus_device_channel_count(f.dev[0]), 1u);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        /* A new connection sees only the primary. */
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, f.offer, 16), 1);
        /* And sub-channels need an open primary. */
        ASSERT_ERROR(vmbus_device_offer_subchannels(f.dev[0], 1), ENOTCONN);
        fx_free(&f);
}

/* Closing the primary rescinds the sub-channels (one the guest left open
 * is closed first); a reopened primary's new sub-channels are numbered
 * from 1 again, as a guest that re-initialises its device (netvsc after
 * an MTU change) waits for exactly those. */
TEST(channel_primary_close_rescinds_subchannels) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_sim_channel prim, sub[2];
        open_echo(&f, 0, &prim);
        struct vmbus_channel_offer_channel o[2];
        expect_sub_offers(&f, &prim, 2, o); /* both offers first: an open skips other messages */
        for (int i = 0; i < 2; i++)
                ASSERT_EQ(vmbus_sim_open(f.sim, o[i].child_relid, o[i].connection_id, 2, NULL, 0, &sub[i]), 0);
        ASSERT_OK(vmbus_sim_close(f.sim, &sub[0])); /* sub[1] stays open: a careless guest */
        struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
                                                  .child_relid = f.offer[0].child_relid };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &cl, sizeof cl), 0);
        bool rescinded[2] = { false, false };
        for (int i = 0; i < 2; i++) {
                struct vmbus_channel_relid_message r;
                ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &r, sizeof r), (int)sizeof r);
                for (int k = 0; k < 2; k++)
                        rescinded[k] |= r.child_relid == o[k].child_relid;
        }
        ASSERT_TRUE(rescinded[0] && rescinded[1]);
        ASSERT_EQ(vmbus_device_channel_count(f.dev[0]), 1u);
        for (int i = 0; i < 2; i++) {
                struct vmbus_channel_relid_message rr = { .header.msgtype = CHANNELMSG_RELID_RELEASED,
                                                          .child_relid = o[i].child_relid };
                ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &rr, sizeof rr), 0);
        }
        /* the primary again, and sub-channels 1 and 2 again */
        open_echo(&f, 0, &prim);
        expect_sub_offers(&f, &prim, 2, o);
        for (int i = 0; i < 2; i++) {
                ASSERT_EQ(vmbus_sim_open(f.sim, o[i].child_relid, o[i].connection_id, 2, NULL, 0, &sub[i]), 0);
                echo_once(&f, &sub[i], 20 + (uint64_t)i, true);
        }
        fx_free(&f);
}

/* The device signals after the packet is in the ring, so a reader of the
 * ring can be ahead of the event: wait for it (up to WAIT_MS). */
static bool wait_event(struct fx *f, unsigned vp, uint32_t relid) {
        for (int i = 0; i < WAIT_MS; i++) {
                if (vmbus_sim_take_event(f->sim, vp, relid))
                        return true;
                usleep(1000);
        }
        return false;
}

static uint32_t modify(struct fx *f, uint32_t relid, uint32_t vp, bool expect_response) {
        struct vmbus_channel_modifychannel m = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL, .child_relid = relid,
                                                 .target_vp = vp };
        ASSERT_EQ(vmbus_sim_post(f->sim, 1, 0, &m, sizeof m), 0);
        if (!expect_response) {
                ASSERT_EQ(vmbus_sim_pending_messages(f->sim), 0u);
                return 0;
        }
        struct vmbus_channel_modifychannel_response r;
        ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_MODIFYCHANNEL_RESPONSE, &r, sizeof r), 16);
        ASSERT_EQ(r.child_relid, relid);
        return r.status;
}

TEST(channel_modify_target_vp) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_sim_channel ch;
        open_echo(&f, 0, &ch);
        echo_once(&f, &ch, 1, false);
        /* Taken before the move: CI's asan+ubsan run once saw it land on
         * VP 0 after a single test-and-clear here missed it. */
        ASSERT_TRUE(wait_event(&f, 0, ch.relid));
        ASSERT_EQ(modify(&f, ch.relid, 1, true), 0u); /* 5.3: answered */
        echo_once(&f, &ch, 2, false);
        ASSERT_TRUE(wait_event(&f, 1, ch.relid)); /* events now on VP 1 */
        ASSERT_FALSE(vmbus_sim_take_event(f.sim, 0, ch.relid));
        ASSERT_NE(modify(&f, ch.relid, 5, true), 0u); /* no such VP */
        ASSERT_NE(modify(&f, 42, 0, true), 0u);       /* no such channel */
        fx_free(&f);
        /* 4.1: modified without an answer; 4.0: not even that. */
        fx_setup_version(&f, 1, VERSION_WIN10_V4_1);
        open_echo(&f, 0, &ch);
        modify(&f, ch.relid, 1, false);
        echo_once(&f, &ch, 3, false);
        ASSERT_TRUE(wait_event(&f, 1, ch.relid));
        fx_free(&f);
        fx_setup_version(&f, 1, VERSION_WIN10);
        open_echo(&f, 0, &ch);
        uint64_t before = stats(&f).unexpected;
        modify(&f, ch.relid, 1, false);
        ASSERT_EQ(stats(&f).unexpected, before + 1);
        fx_free(&f);
}

/* An EVENTFD-drive provider whose open can fail. */
static int failing_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        int *calls = vmbus_device_data(vmbus_channel_device(ch));
        (*calls)++;
        ASSERT_EQ(req->userdata_len, 120u);
        ASSERT_EQ(req->userdata[0], 0xaa);
        return -EIO;
}
static void never_close(struct vmbus_channel *ch) {
        ASSERT_TRUE(false);
}

TEST(channel_provider_open_failure_leaves_nothing) {
        static const struct vmbus_provider_ops ops = {
                .name = "failing",
                .class_id = GUID_INIT(0x33333333, 0x2222, 0x3333, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55),
                .guest_max_packet = 4096, .drive = VMBUS_DRIVE_EVENTFD, .open = failing_open, .close = never_close,
        };
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        ASSERT_OK(vmbus_sim_new(4u << 20, 1, &sim));
        struct vmbus_server_config cfg = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, sim, &srv));
        int calls = 0;
        struct vmbus_device_config dc = { .ops = &ops, .data = &calls };
        ASSERT_OK(vmbus_server_add_device(srv, &dc, NULL));
        ASSERT_EQ(vmbus_sim_connect(sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_request_offers(sim, &o, 1), 1);
        struct vmbus_sim_channel ch;
        uint8_t ud[120] = { 0xaa };
        ASSERT_GT(vmbus_sim_open(sim, 1, o.connection_id, 2, ud, sizeof ud, &ch), 0);
        ASSERT_EQ(calls, 1);
        ASSERT_FALSE(vmbus_sim_event_registered(sim, o.connection_id));
        ASSERT_EQ(vmbus_sim_live_mappings(sim), 1u); /* the ring GPADL only, no ring mappings */
        ASSERT_OK(vmbus_sim_teardown_gpadl(sim, 1, ch.gpadl)); /* not held by anything */
        vmbus_server_free(srv);
        ASSERT_EQ(vmbus_sim_live_mappings(sim), 0u);
        vmbus_sim_free(sim);
}

static int nop_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        return 0;
}
static void nop_close(struct vmbus_channel *ch) {
}

/* A provider that serves nothing: the test reads the doorbell and the
 * ring itself. */
TEST(channel_eventfd_drive_doorbell) {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        ASSERT_OK(vmbus_sim_new(4u << 20, 1, &sim));
        struct vmbus_server_config cfg = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, sim, &srv));
        static const struct vmbus_provider_ops ops = {
                .name = "doorbell", .class_id = VMBUS_ECHO_CLASS_ID, .guest_max_packet = 4096,
                .drive = VMBUS_DRIVE_EVENTFD, .open = nop_open, .close = nop_close,
        };
        ASSERT_OK(vmbus_server_add_device(srv, &(struct vmbus_device_config){ .ops = &ops }, NULL));
        ASSERT_EQ(vmbus_sim_connect(sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_request_offers(sim, &o, 1), 1);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(sim, 1, o.connection_id, 2, NULL, 0, &ch), 0);
        struct vmbus_channel *hc = vmbus_server_open_channel(srv, 1);
        ASSERT_NOT_NULL(hc);
        int efd = vmbus_channel_event_fd(hc);
        ASSERT_OK(vmbus_sim_ring_write(sim, &ch, VM_PKT_DATA_INBAND, 0, 1, "ping", 4));
        struct pollfd pfd = { .fd = efd, .events = POLLIN };
        ASSERT_EQ(poll(&pfd, 1, 1000), 1); /* HvSignalEvent reached the provider's eventfd */
        eventfd_t v;
        ASSERT_OK(eventfd_read(efd, &v));
        uint8_t buf[64];
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_ring_recv(vmbus_channel_rings(hc), buf, sizeof buf, &p), 24);
        ASSERT_EQ(vmbus_channel_relid(hc), 1u);
        ASSERT_EQ(vmbus_channel_subchannel_index(hc), 0);
        vmbus_server_free(srv);
        ASSERT_EQ(vmbus_sim_live_mappings(sim), 0u);
        vmbus_sim_free(sim);
}

TEST_MAIN();
