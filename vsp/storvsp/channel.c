// SPDX-License-Identifier: MIT
/* A storvsc channel: the init handshake on the primary channel (§6.3),
 * control requests, sub-channel creation (§6.7), bus reset (§6.5), and
 * dispatch of SRBs to srb.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "storvsp-internal.h"

int storvsp_channel_new(struct storvsp_controller *c, uint16_t index, const struct storvsp_guest_memory *gm,
                        struct storvsp_channel **out) {
        if (!c || !gm || !gm->map || index > c->cfg.max_sub_channels)
                return -EINVAL;
        struct storvsp_channel *ch = calloc(1, sizeof *ch);
        if (!ch)
                return -ENOMEM;
        ch->c = c;
        ch->index = index;
        ch->gm = *gm;
        ch->depth = c->cfg.queue_depth;
        ch->max_pfns = c->cfg.max_transfer_bytes / 4096 + 1;
        ch->generation = UINT64_MAX; /* take the first snapshot on first use */
        ch->slots = calloc(ch->depth, sizeof *ch->slots);
        ch->free_slots = calloc(ch->depth, sizeof *ch->free_slots);
        ch->scratch_iov = calloc(ch->max_pfns, sizeof *ch->scratch_iov);
        int r = ch->slots && ch->free_slots && ch->scratch_iov ? disk_queue_new(ch->depth, &ch->q) : -ENOMEM;
        if (r < 0) {
                storvsp_channel_free(ch);
                return r;
        }
        for (unsigned i = 0; i < ch->depth; i++)
                ch->free_slots[i] = ch->depth - 1 - i;
        ch->n_free = ch->depth;
        *out = ch;
        return 0;
}

void storvsp_channel_quiesce(struct storvsp_channel *ch) {
        if (!ch || !ch->q)
                return;
        disk_queue_free(TAKE_PTR(ch->q)); /* waits for the I/O in flight */
        /* Reads it waited for landed in guest RAM without a completion. */
        for (unsigned i = 0; ch->slots && i < ch->depth; i++)
                if (ch->slots[i].used)
                        storvsp_slot_mark_dirty(ch, &ch->slots[i]);
}

void storvsp_channel_free(struct storvsp_channel *ch) {
        if (!ch)
                return;
        storvsp_channel_quiesce(ch);
        for (unsigned i = 0; ch->slots && i < ch->depth; i++) {
                storvsp_lun_unref(ch->slots[i].lun);
                free(ch->slots[i].iov);
        }
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++)
                storvsp_lun_unref(ch->luns[i]);
        for (unsigned i = 0; i < ch->n_forget; i++)
                disk_unref(ch->forget[i]);
        if (ch->index == 0) { /* the guest closed the device: a new handshake comes */
                __atomic_store_n(&ch->c->state, STORVSP_EXPECT_BEGIN, __ATOMIC_RELEASE);
                __atomic_store_n(&ch->c->version, 0, __ATOMIC_RELEASE);
                ch->c->sub_channels = 0;
        }
        free(ch->slots);
        free(ch->free_slots);
        free(ch->scratch_iov);
        free(ch);
}

static int reply_len(const struct storvsp_request *req, struct storvsp_reply *out, size_t len) {
        if (!req->completion_requested)
                return STORVSP_NONE;
        out->len = len;
        return STORVSP_REPLY;
}

static int reply_status(const struct storvsp_request *req, struct storvsp_reply *out, uint32_t status) {
        return reply_len(req, out, storvsp_complete_status(out->data, req, status));
}

static void set_state(struct storvsp_controller *c, enum storvsp_proto_state s) {
        __atomic_store_n(&c->state, (int)s, __ATOMIC_RELEASE);
}

/* CREATE_SUB_CHANNELS (§6.3 step 6): count = sub-channels wanted in total. */
static int create_sub_channels(struct storvsp_channel *ch, const struct storvsp_request *req,
                               struct storvsp_reply *out) {
        struct storvsp_controller *c = ch->c;
        uint16_t n = req->pkt.sub_channel_count;
        if (n > c->cfg.max_sub_channels)
                return reply_status(req, out, STORVSC_STATUS_INVALID_PARAMETER);
        if (n > c->sub_channels) {
                out->new_sub_channels = (uint16_t)(n - c->sub_channels);
                c->sub_channels = n;
        }
        return reply_status(req, out, STORVSC_STATUS_SUCCESS);
}

/* The handshake, in order, on the primary channel only (§6.3); anything
 * out of order gets INVALID_DEVICE_STATE, like Hyper-V. */
static int handle_init(struct storvsp_channel *ch, const struct storvsp_request *req, struct storvsp_reply *out) {
        struct storvsp_controller *c = ch->c;
        int state = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
        struct storvsp_properties props = { c->cfg.max_transfer_bytes, c->cfg.max_sub_channels };
        if (ch->index != 0)
                return reply_status(req, out, STORVSC_STATUS_INVALID_DEVICE_STATE);
        switch (req->operation) {
        case VSTOR_OPERATION_BEGIN_INITIALIZATION:
                if (state != STORVSP_EXPECT_BEGIN)
                        break;
                set_state(c, STORVSP_EXPECT_VERSION);
                return reply_status(req, out, STORVSC_STATUS_SUCCESS);
        case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION:
                if (state != STORVSP_EXPECT_VERSION)
                        break;
                if (storvsp_version_supported(req->pkt.version.major_minor)) {
                        __atomic_store_n(&c->version, req->pkt.version.major_minor, __ATOMIC_RELEASE);
                        set_state(c, STORVSP_EXPECT_PROPERTIES);
                }
                return reply_len(req, out, storvsp_complete_version(out->data, req));
        case VSTOR_OPERATION_QUERY_PROPERTIES:
                if (state != STORVSP_EXPECT_PROPERTIES)
                        break;
                set_state(c, STORVSP_EXPECT_END);
                return reply_len(req, out, storvsp_complete_properties(out->data, req, &props));
        case VSTOR_OPERATION_END_INITIALIZATION:
                if (state != STORVSP_EXPECT_END)
                        break;
                set_state(c, STORVSP_READY);
                return reply_status(req, out, STORVSC_STATUS_SUCCESS);
        case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
                if (state != STORVSP_EXPECT_END && state != STORVSP_READY)
                        break;
                return create_sub_channels(ch, req, out);
        }
        return reply_status(req, out, STORVSC_STATUS_INVALID_DEVICE_STATE);
}

static unsigned inflight_before(const struct storvsp_channel *ch, uint64_t seq) {
        unsigned n = 0;
        for (unsigned i = 0; i < ch->depth; i++)
                if (ch->slots[i].used && ch->slots[i].seq < seq)
                        n++;
        return n;
}

/* RESET_BUS: completed once the I/O in flight on this channel is done (§6.5). */
static int handle_reset_bus(struct storvsp_channel *ch, const struct storvsp_request *req,
                            struct storvsp_reply *out) {
        if (ch->reset_pending || inflight_before(ch, ch->seq) == 0)
                return reply_status(req, out, STORVSC_STATUS_SUCCESS);
        ch->reset_pending = true;
        ch->reset_req = *req;
        ch->reset_seq = ch->seq;
        return STORVSP_QUEUED;
}

int storvsp_channel_handle(struct storvsp_channel *ch, const void *pkt, size_t len, struct storvsp_reply *out) {
        struct storvsp_request req;
        out->len = 0;
        out->new_sub_channels = 0;
        ch->stats.packets++;
        storvsp_channel_sync_luns(ch);
        int r = storvsp_parse_packet(pkt, len, ch->c->cfg.max_transfer_bytes, &req);
        if (r < 0) {
                ch->stats.dropped++;
                return r;
        }
        /* Replies mirror the request's size only until a version is
         * negotiated (pre-5.19 kernels send 48 bytes before WIN8); after it
         * every completion is a whole vstor_packet, or Linux drops it
         * ("Invalid pkt") and the refusal of a truncated request never
         * reaches the guest (found by vsc.hostile=scsi). */
        if (__atomic_load_n(&ch->c->version, __ATOMIC_ACQUIRE) && req.payload_len < VSTOR_PACKET_SIZE)
                req.payload_len = VSTOR_PACKET_SIZE;
        bool ready = storvsp_controller_is_ready(ch->c);
        if (req.reject)
                ch->stats.rejected++;
        switch (req.operation) {
        case VSTOR_OPERATION_EXECUTE_SRB:
                if (!ready)
                        return reply_status(&req, out, STORVSC_STATUS_INVALID_DEVICE_STATE);
                if (ch->n_free == 0) { /* the in-flight limit: leave it in the ring */
                        ch->stats.busy++;
                        return -EBUSY;
                }
                ch->stats.srbs++;
                return storvsp_srb_execute(ch, &req, out);
        case VSTOR_OPERATION_RESET_BUS:
                return ready ? handle_reset_bus(ch, &req, out)
                             : reply_status(&req, out, STORVSC_STATUS_INVALID_DEVICE_STATE);
        case VSTOR_OPERATION_RESET_LUN:
        case VSTOR_OPERATION_RESET_ADAPTER: /* never sent by Linux; no-ops as on Hyper-V */
                return reply_status(&req, out, ready ? STORVSC_STATUS_SUCCESS : STORVSC_STATUS_INVALID_DEVICE_STATE);
        case VSTOR_OPERATION_BEGIN_INITIALIZATION:
        case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION:
        case VSTOR_OPERATION_QUERY_PROPERTIES:
        case VSTOR_OPERATION_END_INITIALIZATION:
        case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
                if (req.reject)
                        return reply_status(&req, out, req.reject);
                return handle_init(ch, &req, out);
        default:
                return reply_status(&req, out, STORVSC_STATUS_INVALID_DEVICE_REQUEST);
        }
}

bool storvsp_channel_has_room(const struct storvsp_channel *ch) {
        return ch->n_free > 0;
}

int storvsp_channel_submit(struct storvsp_channel *ch) {
        return disk_queue_submit(ch->q);
}

/* Completes a pending RESET_BUS once the I/O that preceded it is done. */
static int reset_reply(struct storvsp_channel *ch, struct storvsp_reply *out) {
        if (!ch->reset_pending || inflight_before(ch, ch->reset_seq) > 0)
                return 0;
        ch->reset_pending = false;
        out->new_sub_channels = 0;
        return reply_status(&ch->reset_req, out, STORVSC_STATUS_SUCCESS) == STORVSP_REPLY ? 1 : 0;
}

int storvsp_channel_reap(struct storvsp_channel *ch, struct storvsp_reply *out, unsigned max, unsigned min_wait) {
        if (max == 0)
                return 0;
        /* keep one reply free for a RESET_BUS that may become due */
        int n = storvsp_srb_reap(ch, out, ch->reset_pending && max > 1 ? max - 1 : max, min_wait);
        if (n < 0)
                return n;
        if (ch->reset_pending && (unsigned)n < max)
                n += reset_reply(ch, &out[n]);
        return n;
}

unsigned storvsp_channel_inflight(const struct storvsp_channel *ch) {
        /* a pending RESET_BUS counts: its reply still has to come out of reap */
        return ch->depth - ch->n_free + (ch->reset_pending ? 1u : 0u);
}

int storvsp_channel_eventfd(struct storvsp_channel *ch) {
        return disk_queue_eventfd(ch->q);
}

int storvsp_channel_register_memory(struct storvsp_channel *ch, void *base, size_t len) {
        return disk_queue_register_memory(ch->q, base, len);
}

void storvsp_channel_get_stats(const struct storvsp_channel *ch, struct storvsp_channel_stats *s) {
        *s = ch->stats;
        disk_queue_get_stats(ch->q, &s->disk);
}
