// SPDX-License-Identifier: MIT
/* vsc.hostile=msg: malformed VMBus channel messages (docs/vmbus.md,
 * "Messages and answers"; hvshim's HvPostMessage checks).
 *
 *  1. before INITIATE_CONTACT: requests that need a connection;
 *  2. INITIATE_CONTACT that must be refused (versions, connection ids,
 *     VP, SINT, VTL), then a proper connection;
 *  3. HvPostMessage inputs hvshim refuses (payload size, message type,
 *     connection id bits, input GPA unaligned / across a page / outside
 *     RAM / in the MMIO hole, rep count, fast bit, unknown call code);
 *  4. every message type shorter than a header, every guest->host type
 *     one byte shorter than its minimum, every host->guest and unknown
 *     type, and the guest->host types at the full 240 bytes;
 *  5. requests in the wrong order (open without a GPADL, a second open,
 *     close of a closed channel, a GPADL body without its header, ...).
 *
 * Every case is followed by a barrier (hostile.h) so its replies are its
 * own; requests the guest waits for must be answered (with a failure
 * status), everything else dropped. Then a fresh connection and the
 * survivor check. */
#include "hostile.h"

static const uint8_t heartbeat_class[16] = HV_HEART_BEAT_GUID;

/* A reply that says no (every hostile request must be refused). */
static bool refused(const struct vsc_msg *m) {
        switch (m->type) {
        case CHANNELMSG_OPENCHANNEL_RESULT:
                return m->u.open_result.status != 0;
        case CHANNELMSG_GPADL_CREATED:
                return m->u.gpadl_created.creation_status != 0;
        case CHANNELMSG_VERSION_RESPONSE:
                return !m->u.version_response.version_supported;
        case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
                return m->u.modify_response.status != 0;
        default:
                return true;
        }
}

/* Posts (conn, message_type, payload_size, copy_len bytes of msg), then the
 * barrier. ok: the hypercall status is want_status and the replies are
 * exactly one refusing want_reply (or none for want_reply 0). */
static int expect(struct hostile *h, const char *name, uint32_t conn, uint32_t message_type, uint32_t payload_size,
                  const void *msg, uint32_t copy_len, uint16_t want_status, uint32_t want_reply) {
        uint16_t st = hostile_post(h, conn, message_type, payload_size, msg, copy_len);
        int r = hostile_barrier(h);
        if (r < 0)
                return r;
        char got[96];
        hostile_replies_text(h, got, sizeof got);
        bool ok = st == want_status && (want_reply ? h->n_replies == 1 && h->replies[0].type == want_reply &&
                                                             refused(&h->replies[0])
                                                   : h->n_replies == 0);
        hostile_case(h, name, ok, "sent=%u hv_status=0x%x reply=%s", payload_size, st, got);
        return 0;
}

/* A message of len bytes to the connection of the current state. */
static int expect_msg(struct hostile *h, const char *name, const void *msg, uint32_t len, uint32_t want_reply) {
        uint32_t conn = h->bus->msg_conn_id ? h->bus->msg_conn_id : VMBUS_MESSAGE_CONNECTION_ID;
        return expect(h, name, conn, HVMSG_VMBUS, len, msg, len, HV_STATUS_SUCCESS, want_reply);
}

static int hv_up(struct hostile *h) {
        struct vsc_bus *bus = h->bus;
        vsc_bus_init(bus, &guest_vsc_ops, NULL);
        bus->timeout_ns = h->g->timeout_ns;
        int r = vsc_hv_enable(bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(bus));
        cpu_set_sint_auto_eoi(bus->auto_eoi);
        return 0;
}

static int before_contact(struct hostile *h) {
        struct vmbus_channel_open_channel o = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = 1,
                                                .openid = 1, .ringbuffer_gpadlhandle = 0xe1e10,
                                                .downstream_ringbuffer_pageoffset = 2 };
        uint8_t gh[sizeof(struct vmbus_channel_gpadl_header) + 16] = { 0 };
        struct vmbus_channel_gpadl_header hdr = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = 1,
                                                  .gpadl = h->next_gpadl++, .range_buflen = 16, .rangecount = 1 };
        struct vmbus_gpa_range range = { .byte_count = 4096 };
        uint64_t pfn = 0x200; /* 2 MiB: RAM */
        memcpy(gh, &hdr, sizeof hdr);
        memcpy(gh + sizeof hdr, &range, sizeof range);
        memcpy(gh + sizeof hdr + sizeof range, &pfn, sizeof pfn);
        struct vmbus_channel_message_header req = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        struct vmbus_channel_message_header unload = { .msgtype = CHANNELMSG_UNLOAD };
        int r = expect_msg(h, "precontact_openchannel", &o, sizeof o, CHANNELMSG_OPENCHANNEL_RESULT);
        if (r == 0)
                r = expect_msg(h, "precontact_gpadl_header", gh, sizeof gh, CHANNELMSG_GPADL_CREATED);
        if (r == 0)
                r = expect_msg(h, "precontact_requestoffers", &req, sizeof req, 0);
        if (r == 0)
                r = expect_msg(h, "precontact_unload", &unload, sizeof unload, CHANNELMSG_UNLOAD_RESPONSE);
        return r;
}

static int bad_contact(struct hostile *h, const char *name, uint32_t conn, uint32_t version, uint32_t vp,
                       uint8_t sint, uint8_t vtl, uint16_t want_status) {
        struct vmbus_channel_initiate_contact m = { .header.msgtype = CHANNELMSG_INITIATE_CONTACT,
                                                    .vmbus_version_requested = version, .target_vcpu = vp };
        m.msg_sint = sint;
        m.msg_vtl = vtl;
        return expect(h, name, conn, HVMSG_VMBUS, sizeof m, &m, sizeof m, want_status,
                      want_status == HV_STATUS_SUCCESS ? CHANNELMSG_VERSION_RESPONSE : 0);
}

static int contact(struct hostile *h) {
        const uint32_t c1 = VMBUS_MESSAGE_CONNECTION_ID, c4 = VMBUS_MESSAGE_CONNECTION_ID_4;
        const uint16_t ok = HV_STATUS_SUCCESS;
        int r = bad_contact(h, "contact_version_6_0", c4, VERSION_WIN_COPPER, 0, 2, 0, ok);
        if (r == 0)
                r = bad_contact(h, "contact_version_garbage", c1, 0xdeadbeefu, 0, 0, 0, ok);
        if (r == 0)
                r = bad_contact(h, "contact_5_3_on_conn_1", c1, VERSION_WIN10_V5_3, 0, 2, 0, ok);
        if (r == 0)
                r = bad_contact(h, "contact_4_0_on_conn_4", c4, VERSION_WIN10, 0, 0, 0, ok);
        if (r == 0)
                r = bad_contact(h, "contact_vp_63", c4, VERSION_WIN10_V5_3, 63, 2, 0, ok);
        if (r == 0)
                r = bad_contact(h, "contact_sint_3", c4, VERSION_WIN10_V5_3, 0, 3, 0, ok);
        if (r == 0)
                r = bad_contact(h, "contact_vtl_1", c4, VERSION_WIN10_V5_3, 0, 2, 1, ok);
        if (r == 0)
                r = bad_contact(h, "contact_conn_7", 7, VERSION_WIN10_V5_3, 0, 2, 0, HV_STATUS_INVALID_CONNECTION_ID);
        if (r < 0)
                return r;
        /* Now properly, as Linux does. */
        r = vsc_connect(h->bus);
        if (r == 0)
                r = vsc_request_offers(h->bus);
        if (r < 0)
                return guest_fail(r, "connecting after the refused contacts: %s", vsc_bus_error(h->bus));
        report("hostile_connected=%u.%u offers=%u", h->bus->version >> 16, h->bus->version & 0xffff,
               h->bus->n_offers);
        return 0;
}

/* HvPostMessage with an input GPA of our choosing: the status alone. */
static void post_at(struct hostile *h, const char *name, uint64_t control, uint64_t gpa, uint16_t want) {
        struct vsc_bus *bus = h->bus;
        uint16_t st = (uint16_t)bus->ops->hypercall(bus->ctx, bus->hypercall_page, control, gpa, 0);
        hostile_case(h, name, st == want, "input_gpa=0x%lx hv_status=0x%x", gpa, st);
}

static int hypercall_garbage(struct hostile *h) {
        const uint32_t conn = h->bus->msg_conn_id;
        const uint16_t param = HV_STATUS_INVALID_PARAMETER, input = HV_STATUS_INVALID_HYPERCALL_INPUT;
        struct vmbus_channel_message_header req = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        int r = expect(h, "hv_payload_241", conn, HVMSG_VMBUS, 241, &req, sizeof req, param, 0);
        if (r == 0)
                r = expect(h, "hv_payload_4g", conn, HVMSG_VMBUS, 0xffffffffu, &req, sizeof req, param, 0);
        if (r == 0)
                r = expect(h, "hv_message_type_none", conn, HVMSG_NONE, sizeof req, &req, sizeof req, param, 0);
        if (r == 0)
                r = expect(h, "hv_message_type_high", conn, 0x80000001u, sizeof req, &req, sizeof req, param, 0);
        if (r == 0)
                r = expect(h, "hv_connection_id_bits", conn | 0x01000000u, HVMSG_VMBUS, sizeof req, &req, sizeof req,
                           input, 0);
        if (r == 0)
                r = expect(h, "hv_unknown_connection", 0x123456u, HVMSG_VMBUS, sizeof req, &req, sizeof req,
                           HV_STATUS_INVALID_CONNECTION_ID, 0);
        if (r < 0)
                return r;
        uint64_t page = h->bus->ops->virt_to_phys(h->bus->ctx, h->bus->post);
        post_at(h, "hv_input_unaligned", HVCALL_POST_MESSAGE, page + 4, HV_STATUS_INVALID_ALIGNMENT);
        post_at(h, "hv_input_across_pages", HVCALL_POST_MESSAGE, page + 4096 - 64, HV_STATUS_INVALID_ALIGNMENT);
        post_at(h, "hv_input_past_ram", HVCALL_POST_MESSAGE, 1ull << 40, HV_STATUS_INVALID_ALIGNMENT);
        post_at(h, "hv_input_mmio_hole", HVCALL_POST_MESSAGE, 0xc0000000ull, HV_STATUS_INVALID_ALIGNMENT);
        post_at(h, "hv_rep_count", HVCALL_POST_MESSAGE | 1ull << HV_HYPERCALL_REP_COUNT_SHIFT, page, input);
        post_at(h, "hv_reserved_control_bits", HVCALL_POST_MESSAGE | 1ull << 27, page, input);
        post_at(h, "hv_fast_post", HVCALL_POST_MESSAGE | HV_HYPERCALL_FAST_BIT, page, input);
        post_at(h, "hv_unknown_call", 0x99, page, HV_STATUS_INVALID_HYPERCALL_CODE);
        post_at(h, "hv_signal_flag_2048", HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
                0x2001ull | 2048ull << HV_SIGNAL_EVENT_FLAG_SHIFT, param);
        post_at(h, "hv_signal_unknown_connection", HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, 0x7777,
                HV_STATUS_INVALID_CONNECTION_ID);
        return hostile_barrier(h) < 0 ? -ETIMEDOUT : 0;
}

/* Minimum length of each guest->host type (docs/vmbus.md), 0 otherwise. */
static uint32_t min_len(uint32_t type) {
        switch (type) {
        case CHANNELMSG_REQUESTOFFERS:
        case CHANNELMSG_UNLOAD:
                return sizeof(struct vmbus_channel_message_header);
        case CHANNELMSG_OPENCHANNEL:
                return sizeof(struct vmbus_channel_open_channel);
        case CHANNELMSG_CLOSECHANNEL:
        case CHANNELMSG_RELID_RELEASED:
                return sizeof(struct vmbus_channel_relid_message);
        case CHANNELMSG_GPADL_HEADER:
                return sizeof(struct vmbus_channel_gpadl_header) + 16;
        case CHANNELMSG_GPADL_BODY:
                return sizeof(struct vmbus_channel_gpadl_body) + 8;
        case CHANNELMSG_GPADL_TEARDOWN:
        case CHANNELMSG_MODIFYCHANNEL:
                return 16;
        case CHANNELMSG_INITIATE_CONTACT:
                return sizeof(struct vmbus_channel_initiate_contact);
        case CHANNELMSG_TL_CONNECT_REQUEST: /* hv_sock (§4.12) */
                return sizeof(struct vmbus_channel_tl_connect_request);
        default:
                return 0;
        }
}

/* What a full 240-byte message of a guest->host type with a zeroed body
 * (relid 0, handle 0) must get. INITIATE_CONTACT and UNLOAD would end the
 * connection: they are covered before contact. */
static uint32_t oversized_reply(uint32_t type) {
        switch (type) {
        case CHANNELMSG_OPENCHANNEL:
                return CHANNELMSG_OPENCHANNEL_RESULT;
        case CHANNELMSG_GPADL_HEADER:
                return CHANNELMSG_GPADL_CREATED;
        case CHANNELMSG_GPADL_TEARDOWN:
                return CHANNELMSG_GPADL_TORNDOWN;
        case CHANNELMSG_MODIFYCHANNEL:
                return CHANNELMSG_MODIFYCHANNEL_RESPONSE;
        case CHANNELMSG_TL_CONNECT_REQUEST: /* a VM without hv_sock refuses it */
                return CHANNELMSG_TL_CONNECT_RESULT;
        case CHANNELMSG_REQUESTOFFERS:
                return CHANNELMSG_ALLOFFERS_DELIVERED;
        default:
                return 0;
        }
}

static int lengths_and_types(struct hostile *h) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        char name[48];
        int r = 0;
        static const uint32_t unknown[] = { CHANNELMSG_COUNT, 0x100, 0x7fffffffu, 0xffffffffu };
        for (uint32_t t = 0; r == 0 && t < CHANNELMSG_COUNT + 4; t++) {
                uint32_t type = t < CHANNELMSG_COUNT ? t : unknown[t - CHANNELMSG_COUNT];
                memset(m, 0, sizeof m);
                memcpy(m, &type, 4);
                vsc_snprintf(name, sizeof name, "type_%u_shorter_than_header", type);
                r = expect_msg(h, name, m, 4, 0);
                uint32_t min = min_len(type);
                if (r == 0 && min > 8) {
                        vsc_snprintf(name, sizeof name, "type_%u_truncated_%u", type, min - 1);
                        r = expect_msg(h, name, m, min - 1, 0);
                }
                if (r == 0 && min == 0) { /* not a guest->host type: dropped whatever it holds */
                        for (size_t i = 4; i < sizeof m; i++)
                                m[i] = (uint8_t)hostile_random(h);
                        vsc_snprintf(name, sizeof name, "type_%u_not_from_guest", type);
                        r = expect_msg(h, name, m, sizeof m, 0);
                }
                if (r == 0 && min && type != CHANNELMSG_INITIATE_CONTACT && type != CHANNELMSG_UNLOAD) {
                        vsc_snprintf(name, sizeof name, "type_%u_oversized_240", type);
                        r = expect_msg(h, name, m, sizeof m, oversized_reply(type));
                }
        }
        return r;
}

/* The heartbeat service's channel, opened through the library. */
static int wrong_order_open(struct hostile *h, const struct vsc_offer *o) {
        struct vsc_channel ch;
        int r = vsc_channel_open(h->bus, &ch, o, 4 * 4096, 4 * 4096, NULL, 0);
        if (r < 0)
                return guest_fail(r, "opening the heartbeat channel: %s", vsc_bus_error(h->bus));
        struct vmbus_channel_open_channel again = { .header.msgtype = CHANNELMSG_OPENCHANNEL,
                                                    .child_relid = o->child_relid, .openid = o->child_relid,
                                                    .ringbuffer_gpadlhandle = ch.gpadl,
                                                    .downstream_ringbuffer_pageoffset = ch.send_pages };
        r = expect_msg(h, "open_twice", &again, sizeof again, CHANNELMSG_OPENCHANNEL_RESULT);
        /* still open and served: the host's negotiation arrives */
        if (r == 0) {
                int w = vsc_channel_wait(&ch, h->g->timeout_ns);
                hostile_case(h, "open_twice_still_served", w == 0, "negotiation=%s", w == 0 ? "received" : "none");
        }
        int k = vsc_channel_close(&ch);
        if (k < 0)
                return guest_fail(k, "closing the heartbeat channel: %s", vsc_bus_error(h->bus));
        return r;
}

static int wrong_order(struct hostile *h) {
        const struct vsc_offer *o = hostile_offer(h, heartbeat_class, 0);
        if (!o)
                return guest_fail(-ENODEV, "hostile msg: no heartbeat offer (integration services off?)");
        uint32_t relid = o->child_relid;
        struct vmbus_channel_open_channel open = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = relid,
                                                   .openid = relid, .ringbuffer_gpadlhandle = 0x7eadbeefu,
                                                   .downstream_ringbuffer_pageoffset = 2 };
        struct vmbus_channel_relid_message close = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = relid };
        struct vmbus_channel_gpadl_body body = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = 0x7eadbeefu };
        uint8_t bm[sizeof body + 8] = { 0 };
        memcpy(bm, &body, sizeof body);
        struct vmbus_channel_modifychannel mod = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL, .child_relid = relid };
        int r = expect_msg(h, "open_without_gpadl", &open, sizeof open, CHANNELMSG_OPENCHANNEL_RESULT);
        open.child_relid = 2000;
        if (r == 0)
                r = expect_msg(h, "open_unknown_relid", &open, sizeof open, CHANNELMSG_OPENCHANNEL_RESULT);
        open.child_relid = 0xffffffffu;
        if (r == 0)
                r = expect_msg(h, "open_relid_4g", &open, sizeof open, CHANNELMSG_OPENCHANNEL_RESULT);
        if (r == 0)
                r = expect_msg(h, "close_not_open", &close, sizeof close, 0);
        if (r == 0)
                r = expect_msg(h, "gpadl_body_without_header", bm, sizeof bm, 0);
        if (r == 0 && h->bus->version >= VERSION_WIN10_V5_3)
                r = expect_msg(h, "modify_closed_channel", &mod, sizeof mod, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
        if (r == 0)
                r = wrong_order_open(h, o);
        return r;
}

int hostile_msg(struct hostile *h) {
        int r = hv_up(h);
        if (r == 0)
                r = before_contact(h);
        if (r == 0)
                r = contact(h);
        if (r == 0)
                r = hypercall_garbage(h);
        if (r == 0)
                r = lengths_and_types(h);
        if (r == 0)
                r = wrong_order(h);
        if (r == 0)
                r = hostile_disconnect(h);
        if (r == 0)
                r = hostile_connect(h); /* a fresh connection after all that */
        return r < 0 ? r : hostile_alive(h, 0);
}
