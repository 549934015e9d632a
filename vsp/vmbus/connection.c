// SPDX-License-Identifier: MIT
/* The channel-management state machine (docs/hyperv-guest-interface.md §4):
 * message dispatch with per-type length checks, version negotiation,
 * offers, UNLOAD and the disconnect that UNLOAD, a reconnect and a VM reset
 * share. Channel and GPADL messages are handled in channel.c and gpadl.c.
 *
 * Every handler runs with serial and lock held (internal.h). A message that
 * is malformed or unexpected in the current state is counted and dropped,
 * except the requests the guest waits for without a timeout (§4.9): those
 * always get their answer, with a failure status where the protocol has
 * one. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "hv/tlfs.h"
#include "internal.h"

typedef void (*vmbus_msg_fn)(struct vmbus_server *srv, const void *msg, size_t len);

static void msg_request_offers(struct vmbus_server *srv, const void *msg, size_t len);
static void msg_unload(struct vmbus_server *srv, const void *msg, size_t len);
static void msg_tl_connect(struct vmbus_server *srv, const void *msg, size_t len);

/* Guest -> host messages and their minimum lengths (§4.1). A longer message
 * is accepted and its tail ignored, as newer guests append fields. */
static const struct {
        uint32_t min_len;
        vmbus_msg_fn fn;
} vmbus_msg_rules[CHANNELMSG_COUNT] = {
        [CHANNELMSG_REQUESTOFFERS] = { sizeof(struct vmbus_channel_message_header), msg_request_offers },
        [CHANNELMSG_OPENCHANNEL] = { sizeof(struct vmbus_channel_open_channel), vmbus_msg_open },
        [CHANNELMSG_CLOSECHANNEL] = { sizeof(struct vmbus_channel_relid_message), vmbus_msg_close },
        /* header + one range + one PFN; bodies carry at least one PFN */
        [CHANNELMSG_GPADL_HEADER] = { sizeof(struct vmbus_channel_gpadl_header) + 16, vmbus_msg_gpadl_header },
        [CHANNELMSG_GPADL_BODY] = { sizeof(struct vmbus_channel_gpadl_body) + 8, vmbus_msg_gpadl_body },
        [CHANNELMSG_GPADL_TEARDOWN] = { sizeof(struct vmbus_channel_gpadl_teardown), vmbus_msg_gpadl_teardown },
        [CHANNELMSG_RELID_RELEASED] = { sizeof(struct vmbus_channel_relid_message), vmbus_msg_relid_released },
        [CHANNELMSG_INITIATE_CONTACT] = { sizeof(struct vmbus_channel_initiate_contact), NULL },
        [CHANNELMSG_UNLOAD] = { sizeof(struct vmbus_channel_message_header), msg_unload },
        [CHANNELMSG_MODIFYCHANNEL] = { sizeof(struct vmbus_channel_modifychannel), vmbus_msg_modify },
        [CHANNELMSG_TL_CONNECT_REQUEST] = { sizeof(struct vmbus_channel_tl_connect_request), msg_tl_connect },
};

/* §4.2: the versions Linux 6.1 and current kernels offer that we serve.
 * 6.0 ("Copper") is refused: it would need its feature negotiation. */
bool vmbus_version_supported(uint32_t v) {
        switch (v) {
        case VERSION_WIN8:
        case VERSION_WIN8_1:
        case VERSION_WIN10:
        case VERSION_WIN10_V4_1:
        case VERSION_WIN10_V5:
        case VERSION_WIN10_V5_1:
        case VERSION_WIN10_V5_2:
        case VERSION_WIN10_V5_3:
                return true;
        default:
                return false;
        }
}

static void msg_initiate_contact(struct vmbus_server *srv, uint32_t connection_id, const void *msg, size_t len) {
        struct vmbus_channel_initiate_contact ic;
        memcpy(&ic, msg, sizeof ic);
        /* Contact while connected: the guest restarted without (or after a
         * lost) UNLOAD, e.g. kdump. Forget everything as UNLOAD does (§4.8). */
        if (srv->conn != VMBUS_CONN_DISCONNECTED)
                vmbus_disconnect(srv);
        uint32_t v = ic.vmbus_version_requested;
        /* Before WIN8.1 control messages always went to VP 0 (§3.5). */
        uint32_t vp = v >= VERSION_WIN8_1 ? ic.target_vcpu : 0;
        bool vp_ok = vmbus_vp_valid(srv, vp);
        /* §4.2: 5.x is negotiated on connection id 4 only, older versions on
         * 1 only; the wrong pairing is refused so the guest tries the next
         * version. The interrupt page (< 5.0) and the monitor pages are not
         * used: every offer has monitor_allocated = 0 (§4.10). */
        bool ok = vp_ok && vmbus_version_supported(v) &&
                  (v >= VERSION_WIN10_V5) == (connection_id == VMBUS_MESSAGE_CONNECTION_ID_4);
        /* From 5.0 the guest names the SINT (and, newer, the VTL) it listens
         * on; we deliver on SINT 2 of VTL 0 only (§4.3). */
        if (v >= VERSION_WIN10_V5 && (ic.msg_sint != VMBUS_MESSAGE_SINT || ic.msg_vtl != 0))
                ok = false;
        srv->msg_vp = vp_ok ? vp : 0;
        struct vmbus_channel_version_response resp = {
                .header.msgtype = CHANNELMSG_VERSION_RESPONSE,
                .version_supported = ok,
                .connection_state = vp_ok ? VMBUS_CONNECTION_STATE_SUCCESSFUL : VMBUS_CONNECTION_STATE_UNKNOWN_FAILURE,
                /* Where all further messages go; Linux uses it from 5.0 on. */
                .msg_conn_id = ok ? VMBUS_MESSAGE_CONNECTION_ID : 0,
        };
        if (ok) {
                srv->conn = VMBUS_CONN_CONNECTED;
                srv->version = v;
                srv->offers_requested = false;
        }
        (void)vmbus_post_locked(srv, &resp, sizeof resp);
}

void vmbus_send_offer_locked(struct vmbus_server *srv, struct vmbus_channel *ch) {
        const struct vmbus_device *dev = ch->dev;
        struct vmbus_channel_offer_channel o = {
                .header.msgtype = CHANNELMSG_OFFERCHANNEL,
                .chn_flags = dev->ops->chn_flags,
                .mmio_megabytes = dev->ops->mmio_megabytes,
                .sub_channel_index = ch->sub_index,
                .child_relid = ch->relid,
                .monitor_allocated = 0, /* every guest signal is a hypercall (§4.10) */
                .is_dedicated_interrupt = 1,
                .connection_id = ch->connection_id,
        };
        memcpy(o.if_type, dev->class_id.b, sizeof o.if_type);
        memcpy(o.if_instance, dev->instance.b, sizeof o.if_instance);
        memcpy(o.user_def, dev->user_def, sizeof o.user_def);
        (void)vmbus_post_locked(srv, &o, sizeof o);
        ch->state = VMBUS_CH_OFFERED;
}

static void msg_request_offers(struct vmbus_server *srv, const void *msg, size_t len) {
        if (srv->conn != VMBUS_CONN_CONNECTED) {
                srv->stats.unexpected++;
                return;
        }
        srv->offers_requested = true;
        /* Primaries before sub-channels; a repeated request offers only what
         * was not offered yet (a second offer of a primary makes the guest
         * WARN, §4.4). */
        for (int pass = 0; pass < 2; pass++)
                for (uint32_t relid = 1; relid <= VMBUS_CHANNEL_MAX_RELID; relid++) {
                        struct vmbus_channel *ch = srv->relids[relid];
                        if (ch && ch->dev && ch->state == VMBUS_CH_UNOFFERED && (ch->sub_index == 0) == (pass == 0))
                                vmbus_send_offer_locked(srv, ch);
                }
        /* Newer guests wait for this (§2.2); 6.1 ignores it. */
        struct vmbus_channel_message_header done = { .msgtype = CHANNELMSG_ALLOFFERS_DELIVERED };
        (void)vmbus_post_locked(srv, &done, sizeof done);
}

/* Close every channel, drop sub-channels, rescinded relids and all GPADLs
 * without answering, reset the providers. serial and lock held. */
void vmbus_disconnect(struct vmbus_server *srv) {
        /* No new sub-channels from provider threads from here on. */
        srv->conn = VMBUS_CONN_DISCONNECTING;
        for (struct vmbus_device *dev = srv->devices; dev; dev = dev->next)
                for (unsigned i = dev->n_channels; i-- > 0;) /* sub-channels first (§4.7) */
                        if (dev->channels[i]->state == VMBUS_CH_OPEN)
                                vmbus_channel_close(dev->channels[i]);
        vmbus_gpadls_orphan_locked(srv, 0);
        for (uint32_t relid = 1; relid <= VMBUS_CHANNEL_MAX_RELID; relid++)
                if (srv->relids[relid] && !srv->relids[relid]->dev)
                        vmbus_channel_free_locked(srv->relids[relid]);
        for (struct vmbus_device *dev = srv->devices; dev; dev = dev->next) {
                for (unsigned i = dev->n_channels; i-- > 1;) {
                        vmbus_channel_free_locked(dev->channels[i]);
                        dev->channels[i] = NULL;
                }
                __atomic_store_n(&dev->n_channels, 1u, __ATOMIC_RELEASE);
                dev->channels[0]->state = VMBUS_CH_UNOFFERED;
        }
        for (struct vmbus_device *dev = srv->devices; dev; dev = dev->next)
                if (dev->ops->reset) {
                        pthread_mutex_unlock(&srv->lock);
                        dev->ops->reset(dev);
                        pthread_mutex_lock(&srv->lock);
                }
        srv->conn = VMBUS_CONN_DISCONNECTED;
        srv->version = 0;
        srv->offers_requested = false;
}

static void msg_unload(struct vmbus_server *srv, const void *msg, size_t len) {
        /* Answered in every state: the guest waits for it (§4.8). */
        if (srv->conn != VMBUS_CONN_CONNECTED)
                srv->stats.unexpected++;
        vmbus_disconnect(srv);
        srv->stats.unloads++;
        struct vmbus_channel_message_header resp = { .msgtype = CHANNELMSG_UNLOAD_RESPONSE };
        (void)vmbus_post_locked(srv, &resp, sizeof resp);
}

/* hv_sock (§4.12): needs 4.0 (Linux loads hv_sock only from WIN10). The
 * owner's callback queues the request; without one, or before contact, the
 * guest is told no (a guest that ignores the result times out). */
static void msg_tl_connect(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_tl_connect_request m;
        memcpy(&m, msg, sizeof m);
        if (srv->conn != VMBUS_CONN_CONNECTED || srv->version < VERSION_WIN10) {
                srv->stats.unexpected++;
                return;
        }
        struct guid endpoint, service;
        memcpy(endpoint.b, m.guest_endpoint_id, 16);
        memcpy(service.b, m.host_service_id, 16);
        srv->stats.tl_connects++;
        if (srv->tl_connect) {
                srv->tl_connect(srv->tl_connect_opaque, &endpoint, &service);
                return;
        }
        struct vmbus_channel_tl_connect_result res = { .header.msgtype = CHANNELMSG_TL_CONNECT_RESULT,
                                                       .status = (int32_t)VMBUS_STATUS_CONNECTION_REFUSED };
        memcpy(res.guest_endpoint_id, m.guest_endpoint_id, 16);
        memcpy(res.host_service_id, m.host_service_id, 16);
        (void)vmbus_post_locked(srv, &res, sizeof res);
}

static void dispatch_locked(struct vmbus_server *srv, uint32_t connection_id, const void *msg, size_t len) {
        struct vmbus_channel_message_header hdr;
        srv->stats.messages++;
        if (!msg || len < sizeof hdr || len > VMBUS_MESSAGE_MAX_BYTES) {
                srv->stats.bad_messages++;
                return;
        }
        memcpy(&hdr, msg, sizeof hdr);
        if (hdr.msgtype >= CHANNELMSG_COUNT || vmbus_msg_rules[hdr.msgtype].min_len == 0 ||
            len < vmbus_msg_rules[hdr.msgtype].min_len) {
                srv->stats.bad_messages++;
                return;
        }
        if (hdr.msgtype == CHANNELMSG_INITIATE_CONTACT)
                msg_initiate_contact(srv, connection_id, msg, len);
        else
                vmbus_msg_rules[hdr.msgtype].fn(srv, msg, len);
}

uint16_t vmbus_server_handle_message(struct vmbus_server *srv, uint32_t connection_id, unsigned vp_index,
                                     const void *msg, size_t len) {
        /* Only ids 1 and 4 are ours (§4.2); the host routes nothing else. */
        if (connection_id != VMBUS_MESSAGE_CONNECTION_ID && connection_id != VMBUS_MESSAGE_CONNECTION_ID_4)
                return HV_STATUS_INVALID_CONNECTION_ID;
        uint16_t status = HV_STATUS_SUCCESS;
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        /* While earlier replies still wait for room in the SynIC queue, take
         * nothing new: the guest retries on INSUFFICIENT_BUFFERS, and every
         * request is still answered in order. Nor while quiesced (the VPs
         * are parked first, so this is a safety net): the reply would wait
         * and the handler may open or close a provider's channel. */
        if (srv->quiesced || vmbus_flush_locked(srv) > 0) {
                srv->stats.refused_busy++;
                status = HV_STATUS_INSUFFICIENT_BUFFERS;
        } else {
                dispatch_locked(srv, connection_id, msg, len);
        }
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
        return status;
}
