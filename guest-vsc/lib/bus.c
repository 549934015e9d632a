// SPDX-License-Identifier: MIT
/* Channel-management protocol, guest side: message reception from SynIC
 * slot 2, version negotiation, offers, UNLOAD (§3.4, §4.2-§4.4, §4.8). */
#include "internal.h"

/* ---- offers ---- */

static struct vsc_offer *offer_by_relid(struct vsc_bus *bus, uint32_t relid) {
        for (unsigned i = 0; i < bus->n_offers; i++)
                if (bus->offers[i].child_relid == relid)
                        return &bus->offers[i];
        return NULL;
}

static int note_offer(struct vsc_bus *bus, const struct vmbus_channel_offer_channel *o) {
        if (offer_by_relid(bus, o->child_relid))
                return vsc_fail(bus, -EPROTO, "bad host message: duplicate offer for relid %u", o->child_relid);
        for (unsigned i = 0; i < bus->n_offers; i++) {
                const struct vsc_offer *e = &bus->offers[i];
                /* §4.4: same type+instance+index again is dropped by Linux. */
                if (!e->rescinded && !vsc_memcmp(e->if_type, o->if_type, 16) &&
                    !vsc_memcmp(e->if_instance, o->if_instance, 16) && e->sub_channel_index == o->sub_channel_index)
                        return vsc_fail(bus, -EPROTO,
                                        "bad host message: relid %u repeats the offer of relid %u", o->child_relid,
                                        e->child_relid);
        }
        if (bus->n_offers >= VSC_MAX_OFFERS)
                return vsc_fail(bus, -ENOSPC, "more than %u offers", VSC_MAX_OFFERS);
        struct vsc_offer *n = &bus->offers[bus->n_offers++];
        vsc_memset(n, 0, sizeof *n);
        vsc_memcpy(n->if_type, o->if_type, 16);
        vsc_memcpy(n->if_instance, o->if_instance, 16);
        vsc_memcpy(n->user_def, o->user_def, sizeof n->user_def);
        n->child_relid = o->child_relid;
        n->connection_id = o->connection_id;
        n->sub_channel_index = o->sub_channel_index;
        n->chn_flags = o->chn_flags;
        n->mmio_megabytes = o->mmio_megabytes;
        n->monitor_allocated = o->monitor_allocated & 1;
        n->dedicated_interrupt = o->is_dedicated_interrupt & 1;
        return 0;
}

static int note_rescind(struct vsc_bus *bus, uint32_t relid) {
        struct vsc_offer *o = offer_by_relid(bus, relid);
        if (!o)
                return vsc_fail(bus, -EPROTO, "bad host message: rescind of unknown relid %u", relid);
        o->rescinded = true;
        return 0;
}

int vsc_offer_release(struct vsc_bus *bus, uint32_t relid) {
        struct vsc_offer *o = offer_by_relid(bus, relid);
        if (!o || !o->rescinded)
                return vsc_fail(bus, -ENOENT, "RELID_RELEASED for relid %u, which was not rescinded", relid);
        struct vmbus_channel_relid_message m;
        vsc_memset(&m, 0, sizeof m);
        m.header.msgtype = CHANNELMSG_RELID_RELEASED;
        m.child_relid = relid;
        int r = vsc_post_message(bus, 0, &m, sizeof m, false);
        if (r < 0)
                return r;
        size_t i = (size_t)(o - bus->offers);
        for (; i + 1 < bus->n_offers; i++)
                bus->offers[i] = bus->offers[i + 1];
        bus->n_offers--;
        return 0;
}

const struct vsc_offer *vsc_find_offer(const struct vsc_bus *bus, const uint8_t if_type[16], uint16_t sub_index) {
        for (unsigned i = 0; i < bus->n_offers; i++) {
                const struct vsc_offer *o = &bus->offers[i];
                if (!o->rescinded && o->sub_channel_index == sub_index && !vsc_memcmp(o->if_type, if_type, 16))
                        return o;
        }
        return NULL;
}

const struct vsc_offer *vsc_find_sub_offer(const struct vsc_bus *bus, const uint8_t if_type[16],
                                           const uint8_t if_instance[16], uint16_t sub_index) {
        for (unsigned i = 0; i < bus->n_offers; i++) {
                const struct vsc_offer *o = &bus->offers[i];
                if (!o->rescinded && o->sub_channel_index == sub_index && !vsc_memcmp(o->if_type, if_type, 16) &&
                    !vsc_memcmp(o->if_instance, if_instance, 16))
                        return o;
        }
        return NULL;
}

int vsc_wait_sub_offers(struct vsc_bus *bus, const uint8_t if_type[16], const uint8_t if_instance[16],
                        unsigned first, unsigned n, const char *what) {
        uint64_t start = bus->ops->now_ns(bus->ctx), deadline = start + bus->timeout_ns;
        for (unsigned i = first; i < first + n;) {
                if (vsc_find_sub_offer(bus, if_type, if_instance, (uint16_t)i)) {
                        i++;
                        continue;
                }
                struct vsc_msg m;
                int r = vsc_poll_message(bus, &m);
                if (r < 0)
                        return r;
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (r == 0 && now >= deadline)
                        return vsc_fail(bus, -ETIMEDOUT, "timeout: no offer of %s sub-channel %u within %lu ms", what,
                                        i, (now - start) / 1000000);
                if (r == 0)
                        bus->ops->idle(bus->ctx, deadline);
        }
        return 0;
}

/* ---- reception (§3.4) ---- */

/* Frees slot 2 and tells the host to deliver the next queued message if it
 * flagged one: clear message_type, full barrier, then read msg_pending from
 * the slot itself (the host may have set it after we copied). */
static void slot_release(struct vsc_bus *bus, struct hv_message *slot) {
        vsc_store32(VSC_FIELD(slot, struct hv_message, header.message_type), HVMSG_NONE);
        vsc_mb();
        if (vsc_load8(VSC_FIELD(slot, struct hv_message, header.message_flags)) & HV_MESSAGE_FLAG_PENDING) {
                bus->ops->wrmsr(bus->ctx, HV_X64_MSR_EOM, 0);
                bus->stats.eoms++;
        }
}

static int dispatch(struct vsc_bus *bus, const struct hv_message *copy, struct vsc_msg *out) {
        const char *why;
        unsigned size = copy->header.payload_size;
        if (copy->header.message_type != HVMSG_VMBUS) {
                bus->stats.messages_dropped++; /* not VMBus (e.g. a timer): not ours */
                return 0;
        }
        if (size > HV_MESSAGE_PAYLOAD_BYTES)
                return vsc_fail(bus, -EBADMSG, "bad host message: payload_size %u > 240", size);
        int r = vsc_msg_parse(copy->payload, size, out, &why);
        if (r < 0)
                return vsc_fail(bus, r, "bad host message (type %u, %u bytes): %s", copy->payload[0] |
                                (unsigned)copy->payload[1] << 8, size, why);
        if (out->type == CHANNELMSG_OFFERCHANNEL)
                r = note_offer(bus, &out->u.offer);
        else if (out->type == CHANNELMSG_RESCIND_CHANNELOFFER)
                r = note_rescind(bus, out->u.rescind.child_relid);
        return r < 0 ? r : 1;
}

int vsc_poll_message(struct vsc_bus *bus, struct vsc_msg *out) {
        if (!bus->synic_enabled)
                return vsc_fail(bus, -ENOTCONN, "SynIC is not enabled");
        struct hv_message *slot = &bus->simp->sint_message[VMBUS_MESSAGE_SINT];
        if (vsc_load32(VSC_FIELD(slot, struct hv_message, header.message_type)) == HVMSG_NONE)
                return 0;
        /* Copy, release, then validate only the copy (CONVENTIONS.md §5). */
        struct hv_message copy;
        vsc_memcpy(&copy, slot, sizeof copy);
        slot_release(bus, slot);
        bus->stats.messages++;
        return dispatch(bus, &copy, out);
}

int vsc_wait_message(struct vsc_bus *bus, uint32_t type, struct vsc_msg *out) {
        uint64_t start = bus->ops->now_ns(bus->ctx);
        uint64_t deadline = start + bus->timeout_ns;
        for (;;) {
                int r = vsc_poll_message(bus, out);
                if (r < 0)
                        return r;
                if (r > 0 && out->type == type)
                        return 0;
                if (r > 0 && out->type != CHANNELMSG_OFFERCHANNEL && out->type != CHANNELMSG_RESCIND_CHANNELOFFER)
                        bus->stats.messages_dropped++; /* valid, but nobody asked */
                /* The deadline is checked on every path: a host that floods
                 * us with valid messages cannot keep us here either. */
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (now >= deadline)
                        return vsc_fail(bus, -ETIMEDOUT, "timeout: no %s from the host within %lu ms",
                                        vsc_msg_name(type), (now - start) / 1000000);
                if (r == 0)
                        bus->ops->idle(bus->ctx, deadline);
        }
}

/* ---- version negotiation (§4.2, §4.3) ---- */

/* Linux 6.1's order, highest first. */
static const uint32_t vsc_versions[] = {
        VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1, VERSION_WIN10_V5,
        VERSION_WIN10_V4_1, VERSION_WIN10,      VERSION_WIN8_1,     VERSION_WIN8,
};

/* 1: accepted, 0: refused (try the next), <0: error. */
static int try_version(struct vsc_bus *bus, uint32_t version) {
        struct vmbus_channel_initiate_contact m;
        vsc_memset(&m, 0, sizeof m);
        m.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
        m.vmbus_version_requested = version;
        m.target_vcpu = bus->vp_index;
        uint32_t conn = VMBUS_MESSAGE_CONNECTION_ID;
        if (version >= VERSION_WIN10_V5) {
                m.msg_sint = VMBUS_MESSAGE_SINT;
                conn = VMBUS_MESSAGE_CONNECTION_ID_4;
        } else {
                m.interrupt_page = bus->ops->virt_to_phys(bus->ctx, bus->int_page);
        }
        m.monitor_page1 = bus->ops->virt_to_phys(bus->ctx, bus->monitor_pages);
        m.monitor_page2 = bus->ops->virt_to_phys(bus->ctx, bus->monitor_pages + VMBUS_PAGE_SIZE);
        int r = vsc_post_message(bus, conn, &m, sizeof m, true);
        if (r == -ECONNREFUSED)
                return 0; /* 6.1: INVALID_CONNECTION_ID skips this version */
        if (r < 0)
                return r;
        struct vsc_msg resp;
        r = vsc_wait_message(bus, CHANNELMSG_VERSION_RESPONSE, &resp);
        if (r < 0)
                return r;
        if (!resp.u.version_response.version_supported)
                return 0;
        uint32_t id = version >= VERSION_WIN10_V5 ? resp.u.version_response.msg_conn_id : VMBUS_MESSAGE_CONNECTION_ID;
        if (id == 0 || id > HV_CONNECTION_ID_MASK)
                return vsc_fail(bus, -EPROTO, "bad host message: VERSION_RESPONSE msg_conn_id 0x%x", id);
        bus->version = version;
        bus->msg_conn_id = id;
        return 1;
}

int vsc_connect(struct vsc_bus *bus) {
        if (!bus->synic_enabled)
                return vsc_fail(bus, -ENOTCONN, "vsc_connect before vsc_hv_enable");
        if (bus->version)
                return vsc_fail(bus, -EALREADY, "already connected");
        for (size_t i = 0; i < sizeof vsc_versions / sizeof vsc_versions[0]; i++) {
                int r = try_version(bus, vsc_versions[i]);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
        }
        return vsc_fail(bus, -EPROTONOSUPPORT, "host refused every VMBus version from 5.3 down to 2.4");
}

int vsc_request_offers(struct vsc_bus *bus) {
        if (!bus->version)
                return vsc_fail(bus, -ENOTCONN, "REQUESTOFFERS before connecting");
        struct vmbus_channel_message_header h = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        bus->all_offers_delivered = false;
        int r = vsc_post_message(bus, 0, &h, sizeof h, false);
        if (r < 0)
                return r;
        struct vsc_msg m;
        r = vsc_wait_message(bus, CHANNELMSG_ALLOFFERS_DELIVERED, &m);
        if (r < 0)
                return r;
        bus->all_offers_delivered = true;
        return (int)bus->n_offers;
}

int vsc_unload(struct vsc_bus *bus) {
        if (!bus->version)
                return 0;
        /* §4.8: Linux sends UNLOAD only for versions >= 3.0. */
        if (bus->version < VERSION_WIN8_1) {
                bus->version = 0;
                return 0;
        }
        struct vmbus_channel_message_header h = { .msgtype = CHANNELMSG_UNLOAD };
        int r = vsc_post_message(bus, 0, &h, sizeof h, false);
        if (r < 0)
                return r;
        struct vsc_msg m;
        r = vsc_wait_message(bus, CHANNELMSG_UNLOAD_RESPONSE, &m);
        if (r < 0)
                return r;
        /* The host forgets every channel after UNLOAD (§4.8). */
        bus->version = 0;
        bus->n_offers = 0;
        bus->all_offers_delivered = false;
        return 0;
}
