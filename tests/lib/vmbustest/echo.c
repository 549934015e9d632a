// SPDX-License-Identifier: MIT
/* The echo provider (vmbustest/echo.h), the smallest complete provider on
 * a device worker. It shows the batch pattern every provider should use:
 * one recv batch and one send batch per process() round, so write_index
 * and read_index are published once and the guest is signalled at most
 * once per batch (§5.6); how to survive a full guest ring: keep the
 * packet, return 0, and the guest's pending_send_sz signal wakes us; and
 * the serve loop of a doorbell source (echo-serve.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "echo-internal.h"

static void stat_add(struct vmbus_channel *ch, size_t field, uint64_t v) {
        struct vmbus_echo *e = vmbus_device_data(vmbus_channel_device(ch));
        __atomic_fetch_add((uint64_t *)((uint8_t *)&e->stats + field), v, __ATOMIC_RELAXED);
}
#define ECHO_STAT(ch, f, v) stat_add((ch), offsetof(struct vmbus_echo_stats, f), (v))

static int echo_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct echo_channel *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->ch = ch;
        e->dev = vmbus_device_data(vmbus_channel_device(ch));
        int r = echo_channel_start(e);
        if (r < 0) {
                free(e);
                return r;
        }
        vmbus_channel_set_data(ch, e);
        return 0;
}

static void echo_close(struct vmbus_channel *ch) {
        struct echo_channel *e = vmbus_channel_data(ch);
        echo_channel_stop(e);
        free(e);
        vmbus_channel_set_data(ch, NULL);
}

/* Answer one packet: 0 (answered or dropped), -EAGAIN (ring full). */
static int echo_answer(struct vmbus_channel *ch, const struct vmbus_packet *p) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(ch);
        const void *payload = vmbus_packet_payload(p);
        uint32_t len = vmbus_packet_payload_len(p);
        struct vmbus_echo_subchannel_request sr;
        if (p->type == VM_PKT_COMP) {
                ECHO_STAT(ch, completions_seen, 1);
                return 0;
        }
        if (p->type != VM_PKT_DATA_INBAND)
                return 0;
        int r;
        if (len >= sizeof sr && (memcpy(&sr, payload, sizeof sr), memcmp(sr.magic, "SUBCHAN", 8) == 0)) {
                int32_t res = vmbus_device_offer_subchannels(vmbus_channel_device(ch), sr.count);
                r = vmbus_ring_send_completion(rp, p->trans_id, &res, sizeof res);
        } else if (p->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) {
                r = vmbus_ring_send_completion(rp, p->trans_id, payload, len);
        } else {
                r = vmbus_ring_send_inband(rp, p->trans_id, false, payload, len);
        }
        if (r == -EAGAIN) {
                ECHO_STAT(ch, blocked, 1);
                return r;
        }
        if (r == 0) {
                ECHO_STAT(ch, packets, 1);
                ECHO_STAT(ch, bytes, len);
        }
        return 0; /* too big for the guest (-EMSGSIZE): dropped, counted by the ring */
}

int echo_process(struct echo_channel *e) {
        struct vmbus_channel *ch = e->ch;
        struct vmbus_ring_pair *rp = vmbus_channel_rings(ch);
        int done = 0, r = 0;
        vmbus_ring_send_begin(rp);
        if (e->holding) {
                if (echo_answer(ch, &e->held) == -EAGAIN) {
                        vmbus_ring_send_end(rp);
                        return 0;
                }
                e->holding = false;
                done++;
        }
        r = vmbus_ring_recv_begin(rp);
        while (r >= 0 && (unsigned)done < ECHO_BATCH) {
                struct vmbus_packet p;
                r = vmbus_ring_recv(rp, e->buf, sizeof e->buf, &p);
                if (r == -EMSGSIZE) {
                        ECHO_STAT(ch, oversized, 1);
                        r = 0;
                        continue;
                }
                if (r <= 0)
                        break;
                done++;
                if (echo_answer(ch, &p) == -EAGAIN) {
                        memcpy(e->held_buf, p.data, p.len);
                        e->held = p;
                        e->held.data = e->held_buf;
                        e->holding = true;
                        break;
                }
        }
        vmbus_ring_recv_end(rp);
        vmbus_ring_send_end(rp);
        return r < 0 ? r : done;
}

/* ---- saved state ---- */

static const struct vmstate_field_desc echo_fields[] = {
        VMSTATE_FIELD(1, VMSTATE_BOOL, struct vmbus_echo_state, holding),
        VMSTATE_FIELD(2, VMSTATE_U16, struct vmbus_echo_state, type),
        VMSTATE_FIELD(3, VMSTATE_U16, struct vmbus_echo_state, flags),
        VMSTATE_FIELD(4, VMSTATE_U64, struct vmbus_echo_state, trans_id),
        VMSTATE_FIELD(5, VMSTATE_U32, struct vmbus_echo_state, offset),
        VMSTATE_ARRAY(6, VMSTATE_VARBYTES, struct vmbus_echo_state, data, len),
};
const struct vmstate_desc vmbus_echo_state_desc = {
        .tag = VMBUS_ECHO_STATE_TAG, .version = 1, .fields = echo_fields, .n_fields = ARRAY_SIZE(echo_fields),
        .name = "echo channel",
};

int vmbus_echo_state_decode(const struct vmstate_section *s, struct vmbus_echo_state *out, char *err,
                            size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vmbus_echo_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->offset > out->len || (!out->holding && (out->len || out->type || out->flags || out->trans_id)))
                return errorf(err, errlen, -EINVAL, "section VBEC #%u: held packet of %u bytes, payload at %u",
                              s->instance, out->len, out->offset);
        return 0;
}

static int echo_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen) {
        const struct echo_channel *e = vmbus_channel_data(ch);
        struct vmbus_echo_state *st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        if (e->holding)
                *st = (struct vmbus_echo_state){ .holding = true, .type = e->held.type, .flags = e->held.flags,
                                                 .trans_id = e->held.trans_id, .offset = e->held.offset,
                                                 .len = e->held.len };
        memcpy(st->data, e->held_buf, st->len);
        int r = vmstate_encode(w, &vmbus_echo_state_desc, vmbus_channel_relid(ch), st);
        free(st);
        return r;
}

static int echo_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                                const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        const struct vmstate_section *s = vmstate_find(secs, n, VMBUS_ECHO_STATE_TAG, vmbus_channel_relid(ch));
        if (!s)
                return errorf(err, errlen, -ENOENT, "the state has no VBEC section for channel %u",
                              vmbus_channel_relid(ch));
        struct vmbus_echo_state *st = malloc(sizeof *st);
        struct echo_channel *e = calloc(1, sizeof *e);
        int r = !st || !e ? -ENOMEM : vmbus_echo_state_decode(s, st, err, errlen);
        if (r == 0 && st->holding) {
                memcpy(e->held_buf, st->data, st->len);
                e->held = (struct vmbus_packet){ .type = st->type, .flags = st->flags, .trans_id = st->trans_id,
                                                 .len = st->len, .offset = st->offset, .data = e->held_buf };
                e->holding = true;
        }
        free(st);
        if (r == 0) {
                /* Restored quiesced: served from the resume on. */
                e->ch = ch;
                e->dev = vmbus_device_data(vmbus_channel_device(ch));
                r = vmbus_echo_quiesce(e->dev);
        }
        if (r == 0)
                r = echo_channel_start(e);
        if (r < 0) {
                free(e);
                return r;
        }
        vmbus_channel_set_data(ch, e);
        return 0;
}

const struct vmbus_provider_ops vmbus_echo_ops = {
        .name = "echo",
        .class_id = VMBUS_ECHO_CLASS_ID,
        .guest_max_packet = VMBUS_ECHO_GUEST_MAX_PACKET,
        .max_subchannels = VMBUS_ECHO_MAX_SUBCHANNELS,
        .open = echo_open,
        .close = echo_close,
        .save_channel = echo_save_channel,
        .restore_channel = echo_restore_channel,
};
