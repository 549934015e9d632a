// SPDX-License-Identifier: MIT
/* The VMBus server's sections (vmbus/state.h): descriptors and the pure
 * decoders a restore runs before it applies anything (fuzzed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/state.h"

#define F(id_, kind_, type_, m_) VMSTATE_FIELD(id_, kind_, type_, m_)

static const struct vmstate_field_desc server_fields[] = {
        F(1, VMSTATE_U8, struct vmbus_saved_server, conn),
        F(2, VMSTATE_U32, struct vmbus_saved_server, version),
        F(3, VMSTATE_U32, struct vmbus_saved_server, msg_vp),
        F(4, VMSTATE_BOOL, struct vmbus_saved_server, offers_requested),
        F(5, VMSTATE_U32, struct vmbus_saved_server, n_channels),
        F(6, VMSTATE_U32, struct vmbus_saved_server, n_gpadls),
        VMSTATE_ARRAY(7, VMSTATE_VARBYTES, struct vmbus_saved_server, held, held_len),
};
const struct vmstate_desc vmbus_server_state_desc = {
        .tag = VMBUS_STATE_TAG_SERVER, .version = 1, .fields = server_fields,
        .n_fields = ARRAY_SIZE(server_fields), .name = "VMBus server",
};

static const struct vmstate_field_desc channel_fields[] = {
        F(1, VMSTATE_BOOL, struct vmbus_saved_channel, has_device),
        F(2, VMSTATE_BYTES, struct vmbus_saved_channel, class_id),
        F(3, VMSTATE_BYTES, struct vmbus_saved_channel, instance_id),
        F(4, VMSTATE_U16, struct vmbus_saved_channel, sub_index),
        F(5, VMSTATE_U8, struct vmbus_saved_channel, state),
        F(6, VMSTATE_BOOL, struct vmbus_saved_channel, dead),
        F(7, VMSTATE_U32, struct vmbus_saved_channel, ring_gpadl),
        F(8, VMSTATE_U32, struct vmbus_saved_channel, ring_send_pages),
        F(9, VMSTATE_U32, struct vmbus_saved_channel, target_vp),
        F(10, VMSTATE_U32, struct vmbus_saved_channel, openid),
        F(11, VMSTATE_BYTES, struct vmbus_saved_channel, userdata),
};
const struct vmstate_desc vmbus_channel_state_desc = {
        .tag = VMBUS_STATE_TAG_CHANNEL, .version = 1, .fields = channel_fields,
        .n_fields = ARRAY_SIZE(channel_fields), .name = "VMBus channel",
};

static const struct vmstate_field_desc gpadl_fields[] = {
        F(1, VMSTATE_U32, struct vmbus_saved_gpadl, relid),
        F(2, VMSTATE_U8, struct vmbus_saved_gpadl, state),
        F(3, VMSTATE_U16, struct vmbus_saved_gpadl, rangecount),
        F(4, VMSTATE_U32, struct vmbus_saved_gpadl, buflen),
        VMSTATE_ARRAY(5, VMSTATE_VARBYTES, struct vmbus_saved_gpadl, buf, filled),
};
const struct vmstate_desc vmbus_gpadl_state_desc = {
        .tag = VMBUS_STATE_TAG_GPADL, .version = 1, .fields = gpadl_fields, .n_fields = ARRAY_SIZE(gpadl_fields),
        .name = "VMBus GPADL",
};

int vmbus_state_held_walk(const struct vmbus_saved_server *st,
                          void (*fn)(void *opaque, uint32_t vp, const uint8_t *msg, uint32_t len), void *opaque) {
        size_t off = 0;
        int n = 0;
        while (off < st->held_len) {
                if (st->held_len - off < 8)
                        return -EINVAL;
                uint32_t vp = vmstate_le32(st->held + off), len = vmstate_le32(st->held + off + 4);
                off += 8;
                if (len < sizeof(struct vmbus_channel_message_header) || len > VMBUS_MESSAGE_MAX_BYTES ||
                    ALIGN_UP((size_t)len, 8) > st->held_len - off)
                        return -EINVAL;
                if (fn)
                        fn(opaque, vp, st->held + off, len);
                off += ALIGN_UP((size_t)len, 8);
                n++;
        }
        return n;
}

int vmbus_server_state_decode(const struct vmstate_section *s, struct vmbus_saved_server *out, char *err,
                              size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vmbus_server_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->conn > VMBUS_STATE_CONNECTED)
                return errorf(err, errlen, -EINVAL, "section VBSV: conn %u is not a connection state", out->conn);
        if (out->conn == VMBUS_STATE_DISCONNECTED && (out->version || out->offers_requested || out->n_gpadls))
                return errorf(err, errlen, -EINVAL, "section VBSV: a disconnected bus with a version, offers or GPADLs");
        if (out->n_channels > VMBUS_CHANNEL_MAX_RELID)
                return errorf(err, errlen, -EINVAL, "section VBSV: n_channels %u", out->n_channels);
        if (vmbus_state_held_walk(out, NULL, NULL) < 0)
                return errorf(err, errlen, -EINVAL, "section VBSV: held messages are malformed");
        return 0;
}

int vmbus_channel_state_decode(const struct vmstate_section *s, struct vmbus_saved_channel *out, char *err,
                               size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vmbus_channel_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (s->instance < 1 || s->instance > VMBUS_CHANNEL_MAX_RELID)
                return errorf(err, errlen, -EINVAL, "section VBCH #%u: relid out of range", s->instance);
        if (out->state > VMBUS_STATE_CH_RELEASED)
                return errorf(err, errlen, -EINVAL, "section VBCH #%u: state %u", s->instance, out->state);
        if (out->has_device != (out->state != VMBUS_STATE_CH_RESCINDED))
                return errorf(err, errlen, -EINVAL, "section VBCH #%u: only a rescinded channel has no device",
                              s->instance);
        if (out->sub_index > VMBUS_MAX_SUBCHANNELS || (!out->has_device && out->sub_index))
                return errorf(err, errlen, -EINVAL, "section VBCH #%u: sub_index %u", s->instance, out->sub_index);
        if (out->state == VMBUS_STATE_CH_OPEN && (out->ring_gpadl == 0 || out->ring_send_pages < 2))
                return errorf(err, errlen, -EINVAL, "section VBCH #%u: an open channel without its rings",
                              s->instance);
        if (out->state != VMBUS_STATE_CH_OPEN &&
            (out->ring_gpadl || out->ring_send_pages || out->target_vp || out->openid || out->dead ||
             !mem_is_zero(out->userdata, sizeof out->userdata)))
                return errorf(err, errlen, -EINVAL, "section VBCH #%u: ring fields on a channel that is not open",
                              s->instance);
        return 0;
}

int vmbus_gpadl_state_decode(const struct vmstate_section *s, struct vmbus_saved_gpadl *out, char *err,
                             size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vmbus_gpadl_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        uint32_t h = s->instance;
        if (h == 0 || out->relid < 1 || out->relid > VMBUS_CHANNEL_MAX_RELID)
                return errorf(err, errlen, -EINVAL, "section VBGP #%u: handle or relid out of range", h);
        if (out->state > VMBUS_STATE_GPADL_TEARDOWN)
                return errorf(err, errlen, -EINVAL, "section VBGP #%u: state %u", h, out->state);
        /* The checks of a GPADL_HEADER (gpadl.c header_check). */
        if (out->rangecount == 0 || out->buflen % 8 || out->buflen < 16u * out->rangecount ||
            out->buflen > VMBUS_STATE_GPADL_BYTES || out->filled % 8 || out->filled > out->buflen)
                return errorf(err, errlen, -EINVAL, "section VBGP #%u: range buffer sizes", h);
        if ((out->state == VMBUS_STATE_GPADL_PENDING) != (out->filled < out->buflen))
                return errorf(err, errlen, -EINVAL, "section VBGP #%u: %s GPADL with %u of %u bytes", h,
                              out->state == VMBUS_STATE_GPADL_PENDING ? "a pending" : "a complete", out->filled,
                              out->buflen);
        if (out->state != VMBUS_STATE_GPADL_PENDING) {
                size_t max_pages = out->buflen / 8 - out->rangecount, n_pages;
                struct vmbus_gpadl_range *ranges = calloc(out->rangecount, sizeof *ranges);
                uint64_t *pfns = calloc(max_pages ? max_pages : 1, sizeof *pfns);
                r = !ranges || !pfns ? -ENOMEM
                                     : vmbus_gpadl_parse_ranges(out->buf, out->buflen, out->rangecount, max_pages,
                                                                ranges, pfns, &n_pages);
                free(ranges);
                free(pfns);
                if (r < 0)
                        return errorf(err, errlen, r, "section VBGP #%u: the ranges do not parse", h);
        }
        return 0;
}
