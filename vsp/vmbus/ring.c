// SPDX-License-Identifier: MIT
/* Host side of a VMBus ring pair (docs/hyperv-guest-interface.md §5).
 *
 * Shared indices are read once (READ_ONCE / load_acquire) into locals and
 * range-checked before use; our own index of each ring lives in private
 * memory and is only ever written to the shared header, never read back
 * from it, so a guest scribbling over it cannot steer us. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "common/macro.h"
#include "vmbus/ring.h"

#define RING_HEADER_BYTES VMBUS_PAGE_SIZE
#define DESC_BYTES ((uint32_t)sizeof(struct vmpacket_descriptor))
/* len8 and offset8 are u16 counts of 8-byte units (§5.3). */
#define PACKET_MAX_BYTES (0xffffu * 8u)

static int ring_break(struct vmbus_ring_pair *rp) {
        int expected = 0;
        __atomic_compare_exchange_n(&rp->broken, &expected, -EBADMSG, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
        return -EBADMSG;
}

void vmbus_ring_set_dirty(struct vmbus_ring_pair *rp, const atomic_bool *active, vmbus_ring_dirty_fn fn,
                          void *opaque) {
        rp->dirty_active = fn ? active : NULL;
        rp->dirty = fn;
        rp->dirty_opaque = opaque;
}

/* Report a host write, after it (docs/vm-state.md, "Dirty pages"). */
static inline void ring_dirty(const struct vmbus_ring_pair *rp, const struct vmbus_ring *r, uint32_t off,
                              uint32_t len) {
        if (rp->dirty_active && atomic_load_explicit(rp->dirty_active, memory_order_relaxed))
                rp->dirty(rp->dirty_opaque, r, off, len);
}

#define RING_FIELD_DIRTY(rp, r, field) \
        ring_dirty(rp, r, (uint32_t)offsetof(struct hv_ring_buffer, field), (uint32_t)sizeof((r)->hdr->field))

/* The data bytes [start, start + len) modulo the data area. */
static void ring_data_dirty(const struct vmbus_ring_pair *rp, const struct vmbus_ring *r, uint32_t start,
                            uint32_t len) {
        if (!rp->dirty_active || !atomic_load_explicit(rp->dirty_active, memory_order_relaxed))
                return;
        uint32_t first = MIN(len, r->size - start);
        rp->dirty(rp->dirty_opaque, r, RING_HEADER_BYTES + start, first);
        if (len > first)
                rp->dirty(rp->dirty_opaque, r, RING_HEADER_BYTES, len - first);
}

int vmbus_ring_broken(const struct vmbus_ring_pair *rp) {
        return __atomic_load_n(&rp->broken, __ATOMIC_ACQUIRE);
}

/* §5.2: indices are byte offsets in [0, datasize), and every packet
 * (descriptor, payload, trailer) is a multiple of 8 bytes. */
static bool index_ok(const struct vmbus_ring *r, uint32_t i) {
        return i < r->size && (i & 7u) == 0;
}

static uint32_t ring_used(uint32_t size, uint32_t write, uint32_t read) {
        return write >= read ? write - read : size - (read - write);
}

static int ring_attach(struct vmbus_ring *r, void *base, size_t len) {
        if (!base || len < 2 * RING_HEADER_BYTES || len % VMBUS_PAGE_SIZE != 0 ||
            len - RING_HEADER_BYTES > (size_t)INT32_MAX)
                return -EINVAL;
        r->hdr = base;
        r->data = (uint8_t *)base + RING_HEADER_BYTES;
        r->size = (uint32_t)(len - RING_HEADER_BYTES);
        return 0;
}

int vmbus_ring_pair_init(struct vmbus_ring_pair *rp, void *in_base, size_t in_len, void *out_base,
                         size_t out_len, uint32_t guest_max_packet, vmbus_ring_signal_fn signal,
                         void *opaque) {
        *rp = (struct vmbus_ring_pair){ 0 };
        if (guest_max_packet < DESC_BYTES + 8 || !signal)
                return -EINVAL;
        int r = ring_attach(&rp->in, in_base, in_len);
        if (r < 0)
                return r;
        r = ring_attach(&rp->out, out_base, out_len);
        if (r < 0)
                return r;
        /* The guest set both rings up before OPENCHANNEL (§4.6); take our
         * own indices from there once and check the guest's as well. */
        uint32_t in_read = READ_ONCE(rp->in.hdr->read_index), in_write = READ_ONCE(rp->in.hdr->write_index);
        uint32_t out_write = READ_ONCE(rp->out.hdr->write_index), out_read = READ_ONCE(rp->out.hdr->read_index);
        if (!index_ok(&rp->in, in_read) || !index_ok(&rp->in, in_write) || !index_ok(&rp->out, out_write) ||
            !index_ok(&rp->out, out_read))
                return -EINVAL;
        rp->in.priv = in_read;
        rp->out.priv = out_write;
        rp->guest_max_packet = guest_max_packet;
        rp->signal = signal;
        rp->signal_opaque = opaque;
        return 0;
}

/* ---- receive ------------------------------------------------------------- */

int vmbus_ring_recv_begin(struct vmbus_ring_pair *rp) {
        struct vmbus_ring *in = &rp->in;
        int b = vmbus_ring_broken(rp);
        if (b)
                return b;
        /* Acquire: the packet bytes are read after the index that covers them. */
        uint32_t w = load_acquire(&in->hdr->write_index);
        if (!index_ok(in, w))
                return ring_break(rp);
        if (!in->in_batch)
                in->batch_start = in->priv;
        in->snap_write = w;
        in->in_batch = true;
        return (int)ring_used(in->size, w, in->priv);
}

/* Validate the next descriptor against the snapshot; returns its length. */
static int recv_next_desc(struct vmbus_ring_pair *rp, struct vmpacket_descriptor *d) {
        struct vmbus_ring *in = &rp->in;
        uint32_t avail = ring_used(in->size, in->snap_write, in->priv);
        if (avail == 0)
                return 0;
        if (avail < DESC_BYTES + VMBUS_PKT_TRAILER)
                return ring_break(rp);
        memcpy(d, in->data + in->priv, sizeof *d);
        uint32_t len = (uint32_t)d->len8 * 8u, off = (uint32_t)d->offset8 * 8u;
        if (len < DESC_BYTES || off < DESC_BYTES || off > len || len + VMBUS_PKT_TRAILER > avail)
                return ring_break(rp);
        return (int)len;
}

static int recv_one(struct vmbus_ring_pair *rp, void *buf, size_t cap, struct vmbus_packet *pkt) {
        struct vmbus_ring *in = &rp->in;
        struct vmpacket_descriptor d;
        int len = recv_next_desc(rp, &d);
        if (len <= 0)
                return len;
        uint32_t start = in->priv;
        in->priv = (uint32_t)((start + (uint32_t)len + VMBUS_PKT_TRAILER) % in->size);
        if ((size_t)len > cap) {
                rp->stats.oversized_skipped++;
                return -EMSGSIZE;
        }
        /* One copy (the data area is mapped twice, so no split at the end);
         * then put back the descriptor we validated, in case the guest
         * changed it in between: everything parsed later comes from buf. */
        memcpy(buf, in->data + start, (size_t)len);
        memcpy(buf, &d, sizeof d);
        *pkt = (struct vmbus_packet){ .type = d.type, .flags = d.flags, .trans_id = d.trans_id,
                                      .len = (uint32_t)len, .offset = (uint32_t)d.offset8 * 8u,
                                      .data = buf };
        rp->stats.packets_in++;
        rp->stats.bytes_in += (uint64_t)len;
        return len;
}

int vmbus_ring_recv(struct vmbus_ring_pair *rp, void *buf, size_t cap, struct vmbus_packet *pkt) {
        int b = vmbus_ring_broken(rp);
        if (b)
                return b;
        bool single = !rp->in.in_batch;
        if (single) {
                int r = vmbus_ring_recv_begin(rp);
                if (r < 0)
                        return r;
        }
        int r = recv_one(rp, buf, cap, pkt);
        if (single)
                (void)vmbus_ring_recv_end(rp);
        return r;
}

int vmbus_ring_recv_end(struct vmbus_ring_pair *rp) {
        struct vmbus_ring *in = &rp->in;
        if (!in->in_batch)
                return 0;
        in->in_batch = false;
        if (in->priv == in->batch_start || vmbus_ring_broken(rp))
                return 0;
        store_release(&in->hdr->read_index, in->priv);
        RING_FIELD_DIRTY(rp, in, read_index);
        /* Order the read_index store before reading pending_send_sz: the
         * guest sets pending_send_sz and then re-reads read_index (§5.6). */
        smp_mb();
        uint32_t pending = READ_ONCE(in->hdr->pending_send_sz);
        if (pending == 0)
                return 0;
        uint32_t w = READ_ONCE(in->hdr->write_index);
        if (!index_ok(in, w))
                return ring_break(rp);
        uint32_t free_before = in->size - ring_used(in->size, w, in->batch_start);
        uint32_t free_now = in->size - ring_used(in->size, w, in->priv);
        /* Signal only when this batch moved free space across the mark; a
         * producer that already had room was signalled before (§5.6). */
        if (free_now <= pending || free_before > pending)
                return 0;
        rp->signal(rp->signal_opaque);
        rp->stats.recv_signals++;
        return 1;
}

void vmbus_ring_mask(struct vmbus_ring_pair *rp) {
        WRITE_ONCE(rp->in.hdr->interrupt_mask, 1u);
        RING_FIELD_DIRTY(rp, &rp->in, interrupt_mask);
}

bool vmbus_ring_has_data(struct vmbus_ring_pair *rp) {
        /* A corrupt index reads as "data": the caller's next recv finds it. */
        return READ_ONCE(rp->in.hdr->write_index) != rp->in.priv;
}

bool vmbus_ring_unmask(struct vmbus_ring_pair *rp) {
        WRITE_ONCE(rp->in.hdr->interrupt_mask, 0u);
        RING_FIELD_DIRTY(rp, &rp->in, interrupt_mask);
        /* Order the unmask before the re-check: a packet the guest published
         * before it could see the cleared mask was written without a signal
         * (§5.5), so it must be visible here. */
        smp_mb();
        return vmbus_ring_has_data(rp);
}

/* ---- send ---------------------------------------------------------------- */

size_t vmbus_ring_packet_space(size_t ext_len, size_t payload_len) {
        return ALIGN_UP(DESC_BYTES + ALIGN_UP(ext_len, 8) + payload_len, 8) + VMBUS_PKT_TRAILER;
}

static bool iov_total(const struct iovec *iov, size_t n, size_t *out) {
        size_t t = 0;
        for (size_t i = 0; i < n; i++)
                if (ADD_OVERFLOW(t, iov[i].iov_len, &t))
                        return false;
        *out = t;
        return true;
}

static uint8_t *put_iov(uint8_t *p, const struct iovec *iov, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (iov[i].iov_len)
                        memcpy(p, iov[i].iov_base, iov[i].iov_len);
                p += iov[i].iov_len;
        }
        return p;
}

/* Free bytes for the producer, read once from the guest's read_index.
 * Returns -EBADMSG if the index is impossible. */
static int64_t out_free(struct vmbus_ring_pair *rp) {
        struct vmbus_ring *out = &rp->out;
        uint32_t r = load_acquire(&out->hdr->read_index);
        if (!index_ok(out, r))
                return ring_break(rp);
        return (int64_t)out->size - ring_used(out->size, out->priv, r);
}

/* §5.2: write only when the free space is strictly greater than the
 * packet; else ask the guest for a signal once it is (§5.6). */
static int out_reserve(struct vmbus_ring_pair *rp, uint32_t need) {
        int64_t f = out_free(rp);
        if (f < 0)
                return (int)f;
        if (f > need)
                return 0;
        WRITE_ONCE(rp->out.hdr->pending_send_sz, need);
        RING_FIELD_DIRTY(rp, &rp->out, pending_send_sz);
        /* Order the pending_send_sz store before re-reading read_index: the
         * guest may have consumed everything just before seeing it. */
        smp_mb();
        f = out_free(rp);
        if (f < 0)
                return (int)f;
        if (f > need)
                return 0;
        rp->stats.send_full++;
        return -EAGAIN;
}

void vmbus_ring_send_begin(struct vmbus_ring_pair *rp) {
        if (!rp->out.in_batch) {
                rp->out.in_batch = true;
                rp->out.batch_start = rp->out.priv;
        }
}

static int send_one(struct vmbus_ring_pair *rp, const struct vmbus_send_desc *d) {
        struct vmbus_ring *out = &rp->out;
        size_t ext_len, payload_len;
        if (!iov_total(d->ext, d->ext_cnt, &ext_len) || !iov_total(d->iov, d->iovcnt, &payload_len) ||
            ext_len > PACKET_MAX_BYTES || payload_len > PACKET_MAX_BYTES)
                return -EMSGSIZE;
        size_t offset = DESC_BYTES + ALIGN_UP(ext_len, 8);
        size_t len = ALIGN_UP(offset + payload_len, 8);
        if (len > rp->guest_max_packet || len > PACKET_MAX_BYTES || len + VMBUS_PKT_TRAILER >= out->size) {
                rp->stats.send_too_big++;
                return -EMSGSIZE;
        }
        uint32_t need = (uint32_t)len + VMBUS_PKT_TRAILER;
        int r = out_reserve(rp, need);
        if (r < 0)
                return r;

        struct vmpacket_descriptor desc = { .type = d->type, .offset8 = (uint16_t)(offset / 8),
                                            .len8 = (uint16_t)(len / 8), .flags = d->flags,
                                            .trans_id = d->trans_id };
        /* The data area is mapped twice, so the packet is written in one
         * piece even where it wraps. */
        uint8_t *start = out->data + out->priv, *p = start;
        memcpy(p, &desc, sizeof desc);
        p = put_iov(p + sizeof desc, d->ext, d->ext_cnt);
        memset(p, 0, (size_t)(start + offset - p));
        p = put_iov(start + offset, d->iov, d->iovcnt);
        memset(p, 0, (size_t)(start + len - p));
        uint64_t trailer = (uint64_t)out->priv << 32; /* §5.3 */
        memcpy(start + len, &trailer, sizeof trailer);
        ring_data_dirty(rp, out, out->priv, need);

        out->priv = (out->priv + need) % out->size;
        if (READ_ONCE(out->hdr->pending_send_sz)) {
                WRITE_ONCE(out->hdr->pending_send_sz, 0u);
                RING_FIELD_DIRTY(rp, out, pending_send_sz);
        }
        rp->stats.packets_out++;
        rp->stats.bytes_out += len;
        return 0;
}

int vmbus_ring_send(struct vmbus_ring_pair *rp, const struct vmbus_send_desc *d) {
        int b = vmbus_ring_broken(rp);
        if (b)
                return b;
        bool single = !rp->out.in_batch;
        vmbus_ring_send_begin(rp);
        int r = send_one(rp, d);
        if (single)
                (void)vmbus_ring_send_end(rp);
        return r;
}

int vmbus_ring_send_end(struct vmbus_ring_pair *rp) {
        struct vmbus_ring *out = &rp->out;
        if (!out->in_batch)
                return 0;
        out->in_batch = false;
        if (out->priv == out->batch_start || vmbus_ring_broken(rp))
                return 0;
        store_release(&out->hdr->write_index, out->priv);
        RING_FIELD_DIRTY(rp, out, write_index);
        /* Order the write_index store before reading the guest's mask and
         * read_index; pairs with the guest's unmask-then-recheck (§5.6). */
        smp_mb();
        if (READ_ONCE(out->hdr->interrupt_mask))
                return 0;
        /* Signal on empty -> non-empty only: a guest still behind the batch
         * start reads on and finds these packets itself. */
        if (READ_ONCE(out->hdr->read_index) != out->batch_start)
                return 0;
        rp->signal(rp->signal_opaque);
        rp->stats.send_signals++;
        return 1;
}

int vmbus_ring_kick(struct vmbus_ring_pair *rp) {
        struct vmbus_ring *out = &rp->out;
        if (out->in_batch || vmbus_ring_broken(rp))
                return 0;
        /* Pairs with the guest's unmask-then-signal: a mask it cleared
         * before its signal reached us reads as clear here. */
        smp_mb();
        if (READ_ONCE(out->hdr->read_index) == out->priv)
                return 0;
        if (READ_ONCE(out->hdr->interrupt_mask))
                return -EAGAIN;
        rp->signal(rp->signal_opaque);
        rp->stats.send_signals++;
        return 1;
}

int vmbus_ring_send_inband(struct vmbus_ring_pair *rp, uint64_t trans_id, bool completion_requested,
                           const void *data, size_t len) {
        struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
        struct vmbus_send_desc d = {
                .type = VM_PKT_DATA_INBAND,
                .flags = completion_requested ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0,
                .trans_id = trans_id, .iov = &iov, .iovcnt = 1,
        };
        return vmbus_ring_send(rp, &d);
}

int vmbus_ring_send_completion(struct vmbus_ring_pair *rp, uint64_t trans_id, const void *data, size_t len) {
        struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
        struct vmbus_send_desc d = { .type = VM_PKT_COMP, .trans_id = trans_id, .iov = &iov, .iovcnt = 1 };
        return vmbus_ring_send(rp, &d);
}

int vmbus_ring_send_xfer_pages(struct vmbus_ring_pair *rp, uint64_t trans_id, uint16_t pageset_id,
                               const struct vmtransfer_page_range *ranges, uint32_t n) {
        if (n == 0)
                return -EINVAL;
        /* The fields after the descriptor (§5.3): pageset id, sender_owns_set,
         * reserved, range_cnt, then the ranges; offset8 points past them. */
        struct {
                uint16_t xfer_pageset_id;
                uint8_t sender_owns_set, reserved;
                uint32_t range_cnt;
        } _packed_ x = { .xfer_pageset_id = pageset_id, .range_cnt = n };
        struct iovec ext[2] = {
                { .iov_base = &x, .iov_len = sizeof x },
                { .iov_base = (void *)ranges, .iov_len = (size_t)n * sizeof *ranges },
        };
        struct vmbus_send_desc d = { .type = VM_PKT_DATA_USING_XFER_PAGES,
                                     .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                     .trans_id = trans_id, .ext = ext, .ext_cnt = 2 };
        return vmbus_ring_send(rp, &d);
}
