// SPDX-License-Identifier: MIT
/* The VMBus server's connection state machine through its message API with
 * a simulated guest: version negotiation and connection ids (§4.2), the
 * target VP, messages before INITIATE_CONTACT, length checks, offers and
 * hot add, UNLOAD and reconnect, reset, SynIC back-pressure and limits. */
#include <poll.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/tlfs.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

/* A provider that records what the server does to it. */
struct rec {
        int opens, closes, resets, destroys, open_result;
};

static int rec_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct rec *r = vmbus_device_data(vmbus_channel_device(ch));
        r->opens++;
        return r->open_result;
}
static void rec_close(struct vmbus_channel *ch) {
        ((struct rec *)vmbus_device_data(vmbus_channel_device(ch)))->closes++;
}
static void rec_reset(struct vmbus_device *dev) {
        ((struct rec *)vmbus_device_data(dev))->resets++;
}
static void rec_destroy(struct vmbus_device *dev) {
        ((struct rec *)vmbus_device_data(dev))->destroys++;
}

#define REC_CLASS GUID_INIT(0x11111111, 0x2222, 0x3333, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55)
static const struct vmbus_provider_ops rec_ops = {
        .name = "rec", .class_id = REC_CLASS, .guest_max_packet = 4096, .drive = VMBUS_DRIVE_EVENTFD,
        .open = rec_open, .close = rec_close, .reset = rec_reset, .destroy = rec_destroy,
};
static const struct vmbus_provider_ops pipe_ops = {
        .name = "pipe",
        .class_id = GUID_INIT(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d),
        .chn_flags = VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE,
        .pipe_mode = VMBUS_PIPE_TYPE_MESSAGE, .guest_max_packet = 4096, .drive = VMBUS_DRIVE_EVENTFD,
        .open = rec_open, .close = rec_close,
};

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct rec rec[64];
};

static void fx_setup_limits(struct fx *f, unsigned vps, const struct vmbus_limits *lim) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(8u << 20, vps, &f->sim));
        struct vmbus_server_config cfg = { .vp_count = vps };
        if (lim)
                cfg.limits = *lim;
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv));
}

static void fx_setup(struct fx *f, unsigned vps) {
        fx_setup_limits(f, vps, NULL);
}

static void fx_free(struct fx *f) {
        vmbus_server_free(f->srv);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        vmbus_sim_free(f->sim);
}

static struct vmbus_device *add_rec(struct fx *f, unsigned i) {
        struct vmbus_device_config cfg = { .ops = &rec_ops, .data = &f->rec[i] };
        cfg.instance_id.b[0] = (uint8_t)(i + 1);
        struct vmbus_device *dev;
        ASSERT_OK(vmbus_server_add_device(f->srv, &cfg, &dev));
        return dev;
}

static uint32_t msgtype(const void *m) {
        uint32_t t;
        memcpy(&t, m, sizeof t);
        return t;
}

static struct vmbus_server_stats stats(struct fx *f) {
        struct vmbus_server_stats s;
        vmbus_server_get_stats(f->srv, &s);
        return s;
}

static uint16_t post(struct fx *f, uint32_t conn, const void *m, size_t len) {
        return vmbus_sim_post(f->sim, conn, 0, m, len);
}

static struct vmbus_channel_version_response contact_sint(struct fx *f, uint32_t conn, uint32_t version,
                                                          uint32_t vcpu, unsigned *reply_vp, uint8_t sint) {
        struct vmbus_channel_initiate_contact ic = { .header.msgtype = CHANNELMSG_INITIATE_CONTACT,
                                                     .vmbus_version_requested = version, .target_vcpu = vcpu };
        if (version >= VERSION_WIN10_V5)
                ic.msg_sint = sint;
        ASSERT_EQ(post(f, conn, &ic, sizeof ic), HV_STATUS_SUCCESS);
        struct vmbus_channel_version_response vr;
        ASSERT_EQ(vmbus_sim_next_message(f->sim, reply_vp, &vr, sizeof vr), (int)sizeof vr);
        ASSERT_EQ(msgtype(&vr), CHANNELMSG_VERSION_RESPONSE);
        return vr;
}

static struct vmbus_channel_version_response contact(struct fx *f, uint32_t conn, uint32_t version, uint32_t vcpu,
                                                     unsigned *reply_vp) {
        return contact_sint(f, conn, version, vcpu, reply_vp, VMBUS_MESSAGE_SINT);
}

TEST(server_accepts_linux_versions) {
        static const uint32_t v[] = { VERSION_WIN8, VERSION_WIN8_1, VERSION_WIN10, VERSION_WIN10_V4_1,
                                      VERSION_WIN10_V5, VERSION_WIN10_V5_1, VERSION_WIN10_V5_2, VERSION_WIN10_V5_3 };
        for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
                struct fx f;
                fx_setup(&f, 1);
                uint32_t conn = v[i] >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
                struct vmbus_channel_version_response vr = contact(&f, conn, v[i], 0, NULL);
                ASSERT_EQ(vr.version_supported, 1);
                ASSERT_EQ(vr.connection_state, VMBUS_CONNECTION_STATE_SUCCESSFUL);
                ASSERT_EQ(vr.msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID); /* 5.x: later messages on id 1 */
                ASSERT_EQ(vmbus_server_version(f.srv), v[i]);
                fx_free(&f);
        }
}

TEST(server_refuses_wrong_connection_id_and_unknown_versions) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_channel_version_response vr;
        vr = contact(&f, VMBUS_MESSAGE_CONNECTION_ID, VERSION_WIN10_V5_3, 0, NULL); /* 5.x on id 1 */
        ASSERT_EQ(vr.version_supported, 0);
        ASSERT_EQ(vr.msg_conn_id, 0u);
        vr = contact(&f, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V4_1, 0, NULL); /* 4.1 on id 4 */
        ASSERT_EQ(vr.version_supported, 0);
        vr = contact(&f, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN_COPPER, 0, NULL); /* 6.0 */
        ASSERT_EQ(vr.version_supported, 0);
        vr = contact(&f, VMBUS_MESSAGE_CONNECTION_ID, VERSION_WIN7, 0, NULL);
        ASSERT_EQ(vr.version_supported, 0);
        vr = contact(&f, VMBUS_MESSAGE_CONNECTION_ID, 0x00040002, 0, NULL);
        ASSERT_EQ(vr.version_supported, 0);
        /* 5.x asking for messages on a SINT other than 2 (§4.3). */
        vr = contact_sint(&f, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, 0, NULL, 3);
        ASSERT_EQ(vr.version_supported, 0);
        ASSERT_EQ(vmbus_server_version(f.srv), 0u);
        /* Connection ids other than 1 and 4 are not ours at all. */
        struct vmbus_channel_initiate_contact ic = { .header.msgtype = CHANNELMSG_INITIATE_CONTACT,
                                                     .vmbus_version_requested = VERSION_WIN10 };
        ASSERT_EQ(post(&f, 2, &ic, sizeof ic), HV_STATUS_INVALID_CONNECTION_ID);
        ASSERT_EQ(vmbus_server_handle_message(f.srv, 3, 0, &ic, sizeof ic), HV_STATUS_INVALID_CONNECTION_ID);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        fx_free(&f);
}

TEST(server_negotiation_like_linux) {
        /* A current kernel: 6.0 first, then 5.3 (§4.2). */
        struct fx f;
        fx_setup(&f, 1);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN_COPPER), 0);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        fx_free(&f);
        /* 6.1 with hv_vmbus.max_version=0x40001. */
        fx_setup(&f, 1);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V4_1), 1);
        ASSERT_EQ(vmbus_server_version(f.srv), VERSION_WIN10_V4_1);
        fx_free(&f);
}

TEST(server_replies_on_target_vcpu) {
        struct fx f;
        fx_setup(&f, 2);
        add_rec(&f, 0);
        unsigned vp = 99;
        struct vmbus_channel_version_response vr = contact(&f, 4, VERSION_WIN10_V5_3, 1, &vp);
        ASSERT_EQ(vr.version_supported, 1);
        ASSERT_EQ(vp, 1u);
        struct vmbus_channel_message_header h = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        ASSERT_EQ(post(&f, 1, &h, sizeof h), HV_STATUS_SUCCESS);
        uint8_t m[240];
        ASSERT_GT(vmbus_sim_next_message(f.sim, &vp, m, sizeof m), 0);
        ASSERT_EQ(msgtype(m), CHANNELMSG_OFFERCHANNEL);
        ASSERT_EQ(vp, 1u);
        ASSERT_EQ(vmbus_sim_next_message(f.sim, &vp, m, sizeof m), 8);
        ASSERT_EQ(msgtype(m), CHANNELMSG_ALLOFFERS_DELIVERED);
        ASSERT_EQ(vp, 1u);
        /* A VP that does not exist: refused, answered on VP 0. */
        vr = contact(&f, 4, VERSION_WIN10_V5_3, 7, &vp);
        ASSERT_EQ(vr.version_supported, 0);
        ASSERT_EQ(vr.connection_state, VMBUS_CONNECTION_STATE_UNKNOWN_FAILURE);
        ASSERT_EQ(vp, 0u);
        /* Before WIN8.1 control messages go to VP 0 whatever was asked. */
        vr = contact(&f, 1, VERSION_WIN8, 1, &vp);
        ASSERT_EQ(vr.version_supported, 1);
        ASSERT_EQ(vp, 0u);
        fx_free(&f);
}

static uint32_t answer_type(struct fx *f) {
        uint8_t m[240];
        int n = vmbus_sim_next_message(f->sim, NULL, m, sizeof m);
        return n < 0 ? 0 : msgtype(m);
}

TEST(server_messages_before_contact) {
        struct fx f;
        fx_setup(&f, 1);
        add_rec(&f, 0);
        struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        ASSERT_EQ(post(&f, 1, &ro, sizeof ro), HV_STATUS_SUCCESS);
        ASSERT_EQ(answer_type(&f), 0u); /* no offers before contact */
        /* Requests the guest waits for are answered, with a failure status. */
        struct vmbus_channel_open_channel o = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = 1, .openid = 1 };
        ASSERT_EQ(post(&f, 1, &o, sizeof o), HV_STATUS_SUCCESS);
        struct vmbus_channel_open_result res;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OPENCHANNEL_RESULT, &res, sizeof res), (int)sizeof res);
        ASSERT_NE(res.status, 0u);
        uint64_t pfn = 5;
        ASSERT_GT(vmbus_sim_create_gpadl(f.sim, 1, 0xe1e10, &pfn, 1, 4096), 0);
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, 1, 0xe1e10));
        struct vmbus_channel_message_header ul = { .msgtype = CHANNELMSG_UNLOAD };
        ASSERT_EQ(post(&f, 1, &ul, sizeof ul), HV_STATUS_SUCCESS);
        ASSERT_EQ(answer_type(&f), (uint32_t)CHANNELMSG_UNLOAD_RESPONSE);
        /* The rest is dropped and counted. */
        struct vmbus_channel_modifychannel mc = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL, .child_relid = 1 };
        struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = 1 };
        struct vmbus_channel_relid_message rr = { .header.msgtype = CHANNELMSG_RELID_RELEASED, .child_relid = 1 };
        uint64_t before = stats(&f).unexpected;
        ASSERT_EQ(post(&f, 1, &mc, sizeof mc), HV_STATUS_SUCCESS);
        ASSERT_EQ(post(&f, 1, &cl, sizeof cl), HV_STATUS_SUCCESS);
        ASSERT_EQ(post(&f, 1, &rr, sizeof rr), HV_STATUS_SUCCESS);
        ASSERT_EQ(stats(&f).unexpected, before + 3);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        ASSERT_EQ(f.rec[0].opens, 0);
        fx_free(&f);
}

TEST(server_length_checks) {
        static const struct {
                uint32_t type;
                size_t min;
        } rules[] = {
                { CHANNELMSG_REQUESTOFFERS, 8 },   { CHANNELMSG_OPENCHANNEL, 148 },  { CHANNELMSG_CLOSECHANNEL, 12 },
                { CHANNELMSG_GPADL_HEADER, 36 },   { CHANNELMSG_GPADL_BODY, 24 },    { CHANNELMSG_GPADL_TEARDOWN, 16 },
                { CHANNELMSG_RELID_RELEASED, 12 }, { CHANNELMSG_INITIATE_CONTACT, 40 }, { CHANNELMSG_UNLOAD, 8 },
                { CHANNELMSG_MODIFYCHANNEL, 16 },  { CHANNELMSG_TL_CONNECT_REQUEST, 40 },
        };
        struct fx f;
        fx_setup(&f, 1);
        add_rec(&f, 0);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        uint8_t m[256] = { 0 };
        for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
                if (rules[i].min <= 8)
                        continue; /* a header-only message cannot be shorter than the header check */
                memset(m, 0, sizeof m);
                memcpy(m, &rules[i].type, 4);
                uint64_t bad = stats(&f).bad_messages;
                ASSERT_EQ(post(&f, 1, m, rules[i].min - 1), HV_STATUS_SUCCESS);
                ASSERT_EQ(stats(&f).bad_messages, bad + 1);
                ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        }
        /* Host-to-guest and unknown types, too short, too long. */
        uint32_t types[] = { 0, 1, 2, 4, 6, 10, 12, 15, 17, 18, 19, 20, 23, 24, 25, 0xffffffffu };
        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                memcpy(m, &types[i], 4);
                uint64_t bad = stats(&f).bad_messages;
                ASSERT_EQ(post(&f, 1, m, 200), HV_STATUS_SUCCESS);
                ASSERT_EQ(stats(&f).bad_messages, bad + 1);
        }
        uint64_t bad = stats(&f).bad_messages;
        ASSERT_EQ(vmbus_server_handle_message(f.srv, 1, 0, m, 7), HV_STATUS_SUCCESS);
        ASSERT_EQ(vmbus_server_handle_message(f.srv, 1, 0, m, 241), HV_STATUS_SUCCESS);
        ASSERT_EQ(vmbus_server_handle_message(f.srv, 1, 0, NULL, 0), HV_STATUS_SUCCESS);
        ASSERT_EQ(stats(&f).bad_messages, bad + 3);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        /* Still serving. */
        struct vmbus_channel_offer_channel offers[4];
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, offers, 4), 1);
        fx_free(&f);
}

TEST(server_offers) {
        struct fx f;
        fx_setup(&f, 1);
        add_rec(&f, 0);
        add_rec(&f, 1);
        uint8_t ud8[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
        struct vmbus_device_config pcfg = { .ops = &pipe_ops, .data = &f.rec[2], .user_def = ud8, .user_def_len = 8 };
        pcfg.instance_id.b[15] = 0x42;
        ASSERT_OK(vmbus_server_add_device(f.srv, &pcfg, NULL));
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel o[8];
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 8), 3);
        static const struct guid rec_class = REC_CLASS;
        for (int i = 0; i < 3; i++) {
                ASSERT_EQ(o[i].child_relid, (uint32_t)(i + 1));
                ASSERT_EQ(o[i].monitor_allocated, 0);
                ASSERT_EQ(o[i].is_dedicated_interrupt, 1);
                ASSERT_EQ(o[i].sub_channel_index, 0);
                ASSERT_GT(o[i].connection_id, VMBUS_MONITOR_CONNECTION_ID + 1);
                for (int k = 0; k < i; k++)
                        ASSERT_NE(o[i].connection_id, o[k].connection_id);
        }
        /* relid order == order of addition here; find each by instance */
        int pipe_i = -1;
        for (int i = 0; i < 3; i++)
                if (o[i].if_instance[15] == 0x42)
                        pipe_i = i;
        ASSERT_GE(pipe_i, 0);
        ASSERT_MEMEQ(o[pipe_i].if_type, pipe_ops.class_id.b, 16);
        ASSERT_EQ(o[pipe_i].chn_flags, VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
        uint32_t mode;
        memcpy(&mode, o[pipe_i].user_def, 4);
        ASSERT_EQ(mode, VMBUS_PIPE_TYPE_MESSAGE); /* pipe_mode wins over user_def[0..3] */
        ASSERT_EQ(o[pipe_i].user_def[4], 5);
        ASSERT_MEMEQ(o[(pipe_i + 1) % 3].if_type, rec_class.b, 16);
        ASSERT_EQ(o[(pipe_i + 1) % 3].chn_flags, 0);
        /* Asking again offers nothing twice. */
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 8), 0);
        fx_free(&f);
}

TEST(server_hot_add_and_bad_devices) {
        struct fx f;
        fx_setup(&f, 1);
        add_rec(&f, 0);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* not connected: nothing sent */
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        add_rec(&f, 1);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* connected, offers not requested yet */
        struct vmbus_channel_offer_channel o[4];
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 4), 2);
        add_rec(&f, 2); /* hot add */
        struct vmbus_channel_offer_channel hot;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &hot, sizeof hot), (int)sizeof hot);
        ASSERT_EQ(hot.child_relid, 3u);
        ASSERT_EQ(hot.if_instance[0], 3);
        struct vmbus_device_config cfg = { .ops = &rec_ops, .data = &f.rec[9] };
        cfg.instance_id.b[0] = 1;
        ASSERT_ERROR(vmbus_server_add_device(f.srv, &cfg, NULL), EEXIST);
        struct vmbus_provider_ops bad = rec_ops;
        bad.guest_max_packet = 0;
        cfg.ops = &bad;
        ASSERT_ERROR(vmbus_server_add_device(f.srv, &cfg, NULL), EINVAL);
        bad = rec_ops;
        bad.max_subchannels = VMBUS_MAX_SUBCHANNELS + 1;
        ASSERT_ERROR(vmbus_server_add_device(f.srv, &cfg, NULL), EINVAL);
        cfg.ops = &rec_ops;
        cfg.instance_id.b[0] = 50;
        uint8_t ud[121] = { 0 };
        cfg.user_def = ud;
        cfg.user_def_len = sizeof ud;
        ASSERT_ERROR(vmbus_server_add_device(f.srv, &cfg, NULL), EINVAL);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        fx_free(&f);
}

/* hv_sock (§4.12): TL_CONNECT_REQUEST goes to the owner's callback (from
 * 4.0 on, after contact); without one the guest gets TL_CONNECT_RESULT
 * with a failure status. A device may carry its own class (the service
 * GUID), so two devices of one provider differ by class alone. */
struct tl_seen {
        int calls;
        struct guid endpoint, service;
};
static void tl_record(void *opaque, const struct guid *endpoint, const struct guid *service) {
        struct tl_seen *t = opaque;
        t->calls++;
        t->endpoint = *endpoint;
        t->service = *service;
}

TEST(server_tl_connect_and_per_device_class) {
        struct vmbus_channel_tl_connect_request req = { .header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST };
        memset(req.guest_endpoint_id, 0xe1, 16);
        memset(req.host_service_id, 0x5e, 16);
        struct vmbus_channel_tl_connect_result res;

        /* No callback: refused, endpoint and service echoed. */
        struct fx f;
        fx_setup(&f, 1);
        ASSERT_EQ(post(&f, VMBUS_MESSAGE_CONNECTION_ID, &req, sizeof req), HV_STATUS_SUCCESS);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* before contact: dropped */
        ASSERT_EQ(stats(&f).unexpected, 1u);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(post(&f, VMBUS_MESSAGE_CONNECTION_ID, &req, sizeof req - 1), HV_STATUS_SUCCESS);
        ASSERT_EQ(stats(&f).bad_messages, 1u); /* short */
        ASSERT_EQ(post(&f, VMBUS_MESSAGE_CONNECTION_ID, &req, sizeof req), HV_STATUS_SUCCESS);
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_TL_CONNECT_RESULT, &res, sizeof res), (int)sizeof res);
        ASSERT_EQ((uint32_t)res.status, VMBUS_STATUS_CONNECTION_REFUSED);
        ASSERT_EQ(memcmp(res.guest_endpoint_id, req.guest_endpoint_id, 16), 0);
        ASSERT_EQ(memcmp(res.host_service_id, req.host_service_id, 16), 0);
        fx_free(&f);

        /* With a callback: it sees the GUIDs; the owner answers later. */
        struct tl_seen seen = { 0 };
        *(&f) = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(8u << 20, 1, &f.sim));
        struct vmbus_server_config cfg = { .vp_count = 1, .tl_connect = tl_record, .tl_connect_opaque = &seen };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f.sim, &f.srv));
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN8_1), 1);
        ASSERT_EQ(post(&f, VMBUS_MESSAGE_CONNECTION_ID, &req, sizeof req), HV_STATUS_SUCCESS);
        ASSERT_EQ(seen.calls, 0); /* 3.0: no hv_sock */
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10), 1);
        struct vmbus_channel_offer_channel o[4];
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 4), 0);
        uint8_t longer[56] = { 0 }; /* with a silo id appended */
        memcpy(longer, &req, sizeof req);
        ASSERT_EQ(post(&f, VMBUS_MESSAGE_CONNECTION_ID, longer, sizeof longer), HV_STATUS_SUCCESS);
        ASSERT_EQ(seen.calls, 1);
        ASSERT_EQ(seen.endpoint.b[0], 0xe1);
        ASSERT_EQ(seen.service.b[15], 0x5e);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        ASSERT_EQ(stats(&f).tl_connects, 1u);
        ASSERT_OK(vmbus_server_tl_connect_result(f.srv, &seen.endpoint, &seen.service,
                                                 (int32_t)VMBUS_STATUS_UNSUCCESSFUL));
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_TL_CONNECT_RESULT, &res, sizeof res), (int)sizeof res);
        ASSERT_EQ((uint32_t)res.status, VMBUS_STATUS_UNSUCCESSFUL);

        /* Two devices of one provider and one instance, told apart by class. */
        struct vmbus_device_config dc = { .ops = &pipe_ops, .data = &f.rec[0], .class_id = &seen.service,
                                          .instance_id = seen.endpoint };
        uint8_t ud[8] = { 0xff, 0xff, 0xff, 0xff, 1 };
        dc.user_def = ud;
        dc.user_def_len = sizeof ud;
        struct vmbus_device *d1, *d2;
        ASSERT_OK(vmbus_server_add_device(f.srv, &dc, &d1));
        ASSERT_ERROR(vmbus_server_add_device(f.srv, &dc, NULL), EEXIST);
        struct guid other = seen.service;
        other.b[0] = 7;
        dc.class_id = &other;
        ASSERT_OK(vmbus_server_add_device(f.srv, &dc, &d2));
        ASSERT_TRUE(guid_equal(vmbus_device_class(d2), &other));
        struct vmbus_channel_offer_channel hot;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &hot, sizeof hot), (int)sizeof hot);
        ASSERT_EQ(memcmp(hot.if_type, seen.service.b, 16), 0);
        ASSERT_EQ(memcmp(hot.if_instance, seen.endpoint.b, 16), 0);
        uint32_t pipe_mode;
        memcpy(&pipe_mode, hot.user_def, 4);
        ASSERT_EQ(pipe_mode, VMBUS_PIPE_TYPE_MESSAGE); /* the provider's, over the config's bytes */
        ASSERT_EQ(hot.user_def[4], 1);
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &hot, sizeof hot), (int)sizeof hot);
        ASSERT_EQ(hot.if_type[0], 7);
        ASSERT_OK(vmbus_server_remove_device(f.srv, d1));
        ASSERT_OK(vmbus_server_remove_device(f.srv, d2));
        fx_free(&f);
}

TEST(server_unload_and_reconnect) {
        struct fx f;
        fx_setup(&f, 1);
        add_rec(&f, 0);
        add_rec(&f, 1);
        for (int round = 0; round < 3; round++) {
                ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
                struct vmbus_channel_offer_channel o[4];
                ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 4), 2);
                ASSERT_EQ(o[0].child_relid, 1u); /* stable relids across reconnects */
                struct vmbus_sim_channel ch;
                ASSERT_EQ(vmbus_sim_open(f.sim, o[0].child_relid, o[0].connection_id, 4, NULL, 0, &ch), 0);
                uint64_t pfn = vmbus_sim_alloc_pages(f.sim, 1);
                ASSERT_EQ(vmbus_sim_create_gpadl(f.sim, 2, vmbus_sim_next_gpadl_handle(f.sim), &pfn, 1, 4096), 0);
                ASSERT_TRUE(vmbus_sim_event_registered(f.sim, o[0].connection_id));
                unsigned gpadls, pages;
                vmbus_server_gpadl_usage(f.srv, &gpadls, &pages);
                ASSERT_EQ(gpadls, 2u);
                struct vmbus_channel_message_header ul = { .msgtype = CHANNELMSG_UNLOAD };
                ASSERT_EQ(post(&f, 1, &ul, sizeof ul), HV_STATUS_SUCCESS);
                ASSERT_EQ(answer_type(&f), (uint32_t)CHANNELMSG_UNLOAD_RESPONSE);
                ASSERT_EQ(f.rec[0].closes, round + 1);
                ASSERT_EQ(f.rec[0].resets, round + 1);
                ASSERT_EQ(f.rec[1].resets, round + 1);
                vmbus_server_gpadl_usage(f.srv, &gpadls, &pages);
                ASSERT_EQ(gpadls, 0u);
                ASSERT_EQ(pages, 0u);
                ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
                ASSERT_FALSE(vmbus_sim_event_registered(f.sim, o[0].connection_id));
                ASSERT_EQ(vmbus_server_version(f.srv), 0u);
        }
        ASSERT_EQ(stats(&f).unloads, 3u);
        fx_free(&f);
}

TEST(server_contact_while_connected_resets) {
        struct fx f;
        fx_setup(&f, 1);
        add_rec(&f, 0);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel o[2];
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 2), 1);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, o[0].connection_id, 2, NULL, 0, &ch), 0);
        /* kdump: a new kernel starts over without UNLOAD (§4.8). */
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_2), 1);
        ASSERT_EQ(f.rec[0].closes, 1);
        ASSERT_EQ(f.rec[0].resets, 1);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 2), 1);
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, o[0].connection_id, 2, NULL, 0, &ch), 0);
        fx_free(&f);
        ASSERT_EQ(f.rec[0].closes, 2);
        ASSERT_EQ(f.rec[0].destroys, 1);
}

TEST(server_reset_and_remove_unoffered) {
        struct fx f;
        fx_setup(&f, 1);
        struct vmbus_device *d0 = add_rec(&f, 0);
        ASSERT_OK(vmbus_server_remove_device(f.srv, d0)); /* never offered: just gone */
        ASSERT_EQ(f.rec[0].destroys, 1);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        add_rec(&f, 1);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10), 1);
        struct vmbus_channel_offer_channel o[2];
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, o, 2), 1);
        ASSERT_EQ(o[0].child_relid, 1u); /* relid 1 was free again */
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, o[0].connection_id, 2, NULL, 0, &ch), 0);
        vmbus_server_reset(f.srv);
        ASSERT_EQ(f.rec[1].closes, 1);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        ASSERT_EQ(vmbus_server_version(f.srv), 0u);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* a reset answers nothing */
        fx_free(&f);
}

TEST(server_backpressure_keeps_order) {
        struct fx f;
        fx_setup(&f, 1);
        for (unsigned i = 0; i < 40; i++)
                add_rec(&f, i);
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        vmbus_sim_set_queue_limit(f.sim, 10); /* a SynIC queue that is full at 10 */
        struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        ASSERT_EQ(post(&f, 1, &ro, sizeof ro), HV_STATUS_SUCCESS);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 10u);
        ASSERT_EQ(stats(&f).replies_deferred, 31u); /* 30 offers + ALLOFFERS_DELIVERED */
        /* New requests are refused until the replies are out. */
        ASSERT_EQ(post(&f, 1, &ro, sizeof ro), HV_STATUS_INSUFFICIENT_BUFFERS);
        ASSERT_EQ(stats(&f).refused_busy, 1u);
        struct pollfd pfd = { .fd = vmbus_server_fd(f.srv), .events = POLLIN };
        ASSERT_EQ(poll(&pfd, 1, 1000), 1);
        uint32_t next_relid = 1;
        bool all_delivered = false;
        for (int rounds = 0; rounds < 10 && !all_delivered; rounds++) {
                uint8_t m[240];
                while (vmbus_sim_next_message(f.sim, NULL, m, sizeof m) > 0) {
                        if (msgtype(m) == CHANNELMSG_ALLOFFERS_DELIVERED) {
                                all_delivered = true;
                                continue;
                        }
                        ASSERT_EQ(msgtype(m), CHANNELMSG_OFFERCHANNEL);
                        struct vmbus_channel_offer_channel o;
                        memcpy(&o, m, sizeof o);
                        ASSERT_EQ(o.child_relid, next_relid++); /* in order */
                }
                (void)vmbus_server_dispatch(f.srv);
        }
        ASSERT_TRUE(all_delivered);
        ASSERT_EQ(next_relid, 41u);
        ASSERT_EQ(vmbus_server_dispatch(f.srv), 0);
        ASSERT_EQ(poll(&pfd, 1, 20), 0); /* timer disarmed */
        ASSERT_EQ(post(&f, 1, &ro, sizeof ro), HV_STATUS_SUCCESS);
        ASSERT_EQ(stats(&f).replies_dropped, 0u);
        fx_free(&f);
}

TEST(server_channel_limit) {
        struct vmbus_limits lim = { .max_channels = 2 };
        struct fx f;
        fx_setup_limits(&f, 1, &lim);
        add_rec(&f, 0);
        add_rec(&f, 1);
        struct vmbus_device_config cfg = { .ops = &rec_ops, .data = &f.rec[2] };
        cfg.instance_id.b[0] = 77;
        ASSERT_ERROR(vmbus_server_add_device(f.srv, &cfg, NULL), ENOSPC);
        fx_free(&f);
        ASSERT_EQ(f.rec[0].destroys, 1);
        ASSERT_EQ(f.rec[2].destroys, 0); /* a failed add never calls destroy */
}

TEST_MAIN();
