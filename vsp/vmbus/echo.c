// SPDX-License-Identifier: MIT
/* The echo provider (vmbus/echo.h): a VMBUS_DRIVE_THREAD provider in under
 * 150 lines. It shows the batch pattern every provider should use: one
 * recv batch and one send batch per process() call, so write_index and
 * read_index are published once and the guest is signalled at most once
 * per batch (§5.6), and it shows how to survive a full guest ring: keep the
 * packet, return 0, and the guest's pending_send_sz signal wakes us. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmbus/echo.h"

#define ECHO_BATCH 64u /* packets per process() call, so close never waits long */

struct echo_channel {
        struct vmbus_packet held; /* consumed but not yet answered (ring full) */
        bool holding;
        uint8_t held_buf[VMBUS_ECHO_GUEST_MAX_PACKET];
        uint8_t buf[VMBUS_ECHO_GUEST_MAX_PACKET];
};

static void stat_add(struct vmbus_channel *ch, size_t field, uint64_t v) {
        struct vmbus_echo_stats *st = vmbus_device_data(vmbus_channel_device(ch));
        if (st)
                __atomic_fetch_add((uint64_t *)((uint8_t *)st + field), v, __ATOMIC_RELAXED);
}
#define ECHO_STAT(ch, f, v) stat_add((ch), offsetof(struct vmbus_echo_stats, f), (v))

static int echo_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct echo_channel *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        vmbus_channel_set_data(ch, e);
        return 0;
}

static void echo_close(struct vmbus_channel *ch) {
        free(vmbus_channel_data(ch));
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

static int echo_process(struct vmbus_channel *ch) {
        struct echo_channel *e = vmbus_channel_data(ch);
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

const struct vmbus_provider_ops vmbus_echo_ops = {
        .name = "echo",
        .class_id = VMBUS_ECHO_CLASS_ID,
        .guest_max_packet = VMBUS_ECHO_GUEST_MAX_PACKET,
        .max_subchannels = VMBUS_ECHO_MAX_SUBCHANNELS,
        .drive = VMBUS_DRIVE_THREAD,
        .open = echo_open,
        .process = echo_process,
        .close = echo_close,
};

const struct vmbus_provider_ops vmbus_echo_polling_ops = {
        .name = "echo-polling",
        .class_id = VMBUS_ECHO_CLASS_ID,
        .guest_max_packet = VMBUS_ECHO_GUEST_MAX_PACKET,
        .max_subchannels = VMBUS_ECHO_MAX_SUBCHANNELS,
        .drive = VMBUS_DRIVE_THREAD,
        .poll_us = 50,
        .open = echo_open,
        .process = echo_process,
        .close = echo_close,
};
