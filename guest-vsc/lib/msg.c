// SPDX-License-Identifier: MIT
/* Validation of host->guest channel messages (§4.1). A plain function of
 * bytes, fuzzed by tests/fuzz/fuzz-vsc-msg.c. */
#include "internal.h"

/* What a host may send us and the bytes we read from each: the "guest min
 * accepted" column of §4.1 (ALLOFFERS_DELIVERED and UNLOAD_RESPONSE: the
 * header). 0 = not a host->guest message. */
static const uint8_t host_msg_min[CHANNELMSG_COUNT] = {
        [CHANNELMSG_OFFERCHANNEL] = sizeof(struct vmbus_channel_offer_channel),
        [CHANNELMSG_RESCIND_CHANNELOFFER] = sizeof(struct vmbus_channel_relid_message),
        [CHANNELMSG_ALLOFFERS_DELIVERED] = sizeof(struct vmbus_channel_message_header),
        [CHANNELMSG_OPENCHANNEL_RESULT] = sizeof(struct vmbus_channel_open_result),
        [CHANNELMSG_GPADL_CREATED] = sizeof(struct vmbus_channel_gpadl_created),
        [CHANNELMSG_GPADL_TORNDOWN] = sizeof(struct vmbus_channel_gpadl_torndown),
        [CHANNELMSG_VERSION_RESPONSE] = sizeof(struct vmbus_channel_version_response),
        [CHANNELMSG_UNLOAD_RESPONSE] = sizeof(struct vmbus_channel_message_header),
        [CHANNELMSG_TL_CONNECT_RESULT] = sizeof(struct vmbus_channel_message_header),
        [CHANNELMSG_MODIFYCHANNEL_RESPONSE] = sizeof(struct vmbus_channel_modifychannel_response),
};

static const char *const msg_names[CHANNELMSG_COUNT] = {
        [CHANNELMSG_INVALID] = "INVALID",
        [CHANNELMSG_OFFERCHANNEL] = "OFFERCHANNEL",
        [CHANNELMSG_RESCIND_CHANNELOFFER] = "RESCIND_CHANNELOFFER",
        [CHANNELMSG_REQUESTOFFERS] = "REQUESTOFFERS",
        [CHANNELMSG_ALLOFFERS_DELIVERED] = "ALLOFFERS_DELIVERED",
        [CHANNELMSG_OPENCHANNEL] = "OPENCHANNEL",
        [CHANNELMSG_OPENCHANNEL_RESULT] = "OPENCHANNEL_RESULT",
        [CHANNELMSG_CLOSECHANNEL] = "CLOSECHANNEL",
        [CHANNELMSG_GPADL_HEADER] = "GPADL_HEADER",
        [CHANNELMSG_GPADL_BODY] = "GPADL_BODY",
        [CHANNELMSG_GPADL_CREATED] = "GPADL_CREATED",
        [CHANNELMSG_GPADL_TEARDOWN] = "GPADL_TEARDOWN",
        [CHANNELMSG_GPADL_TORNDOWN] = "GPADL_TORNDOWN",
        [CHANNELMSG_RELID_RELEASED] = "RELID_RELEASED",
        [CHANNELMSG_INITIATE_CONTACT] = "INITIATE_CONTACT",
        [CHANNELMSG_VERSION_RESPONSE] = "VERSION_RESPONSE",
        [CHANNELMSG_UNLOAD] = "UNLOAD",
        [CHANNELMSG_UNLOAD_RESPONSE] = "UNLOAD_RESPONSE",
        [CHANNELMSG_18] = "RESERVED_18",
        [CHANNELMSG_19] = "RESERVED_19",
        [CHANNELMSG_20] = "RESERVED_20",
        [CHANNELMSG_TL_CONNECT_REQUEST] = "TL_CONNECT_REQUEST",
        [CHANNELMSG_MODIFYCHANNEL] = "MODIFYCHANNEL",
        [CHANNELMSG_TL_CONNECT_RESULT] = "TL_CONNECT_RESULT",
        [CHANNELMSG_MODIFYCHANNEL_RESPONSE] = "MODIFYCHANNEL_RESPONSE",
};

const char *vsc_msg_name(uint32_t type) {
        return type < CHANNELMSG_COUNT ? msg_names[type] : "UNKNOWN";
}

static int check_offer(const struct vmbus_channel_offer_channel *o, const char **why) {
        /* §4.4: relids are 1..2047 (bit 0 of the event page is reserved,
         * relid2channel fails for >= 2048). */
        if (o->child_relid == 0) {
                *why = "offer with child_relid 0";
                return -EPROTO;
        }
        if (o->child_relid > VMBUS_CHANNEL_MAX_RELID) {
                *why = "offer with child_relid >= 2048";
                return -EPROTO;
        }
        *why = "";
        return 0;
}

int vsc_msg_parse(const void *payload, size_t len, struct vsc_msg *out, const char **why) {
        vsc_memset(out, 0, sizeof *out);
        if (len > HV_MESSAGE_PAYLOAD_BYTES) {
                *why = "message longer than 240 bytes";
                return -EBADMSG;
        }
        if (len < sizeof(struct vmbus_channel_message_header)) {
                *why = "message shorter than its 8-byte header";
                return -EBADMSG;
        }
        /* Copy first, then look only at the copy: the slot is shared. */
        vsc_memcpy(out->u.raw, payload, len);
        out->len = (uint32_t)len;
        out->type = out->u.header.msgtype;
        if (out->type >= CHANNELMSG_COUNT) {
                *why = "unknown message type";
                return -EBADMSG;
        }
        if (host_msg_min[out->type] == 0) {
                *why = "not a host-to-guest message type";
                return -EBADMSG;
        }
        if (len < host_msg_min[out->type]) {
                *why = "message too short for its type";
                return -EBADMSG;
        }
        if (out->type == CHANNELMSG_OFFERCHANNEL)
                return check_offer(&out->u.offer, why);
        *why = "";
        return 0;
}
