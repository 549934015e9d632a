/* SPDX-License-Identifier: MIT */
/* Receive-buffer section accounting (docs/hyperv-guest-interface.md §7.3
 * step 5, §7.4). The guest's receive buffer is one section of
 * num_sub_allocs slots of sub_alloc_size bytes; the host fills free slots
 * with one RNDIS message each and announces a batch of them in one
 * transfer-page packet. A slot is reused only after the guest completed the
 * packet that carried it (VM_PKT_COMP with the packet's transaction id).
 *
 * Transaction ids name a batch: (generation << 32) | head slot, so a
 * stale, duplicate or invented completion is recognised and ignored.
 * Pure bookkeeping: no guest memory is touched here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETVSP_RXBUF_MAX_SLOTS 65536u /* hard limit (16 MiB / 256 bytes) */
#define NETVSP_RXBUF_MIN_SLOT 68u     /* ETH_MIN_MTU: the guest refuses smaller (§7.3) */

struct netvsp_rxbuf {
        uint32_t slot_size; /* sub_alloc_size */
        uint32_t n_slots;   /* num_sub_allocs (of this range) */
        uint32_t first;     /* the range's first slot in the guest's buffer (vRSS: one range per channel) */
        uint32_t n_free;
        uint32_t *free_stack; /* n_slots entries; [0, n_free) are free */
        uint32_t *next;       /* per slot: next slot of its batch, or UINT32_MAX */
        uint32_t *gen;        /* per slot: generation while it heads a posted batch */
        uint8_t *state;       /* per slot: enum netvsp_rxbuf_slot_state */
        uint32_t generation;
        uint64_t posted, completed, bogus_completions;
};

enum netvsp_rxbuf_slot_state {
        NETVSP_SLOT_FREE,
        NETVSP_SLOT_FILLING, /* allocated, not yet posted */
        NETVSP_SLOT_POSTED,  /* in a transfer-page packet, owned by the guest */
};

/* Sets up n_slots = min(buf_size / slot_size, NETVSP_RXBUF_MAX_SLOTS) slots.
 * -EINVAL when slot_size < 68 or the buffer holds no slot. */
int netvsp_rxbuf_init(struct netvsp_rxbuf *rb, uint32_t buf_size, uint32_t slot_size);
/* A range of the buffer's slots: [first, first + count) of the buffer,
 * numbered 0..count-1 here (slot numbers and transaction ids are the
 * range's; offsets the buffer's). -EINVAL when slot_size < 68, count is 0
 * or the range ends past NETVSP_RXBUF_MAX_SLOTS. */
int netvsp_rxbuf_init_range(struct netvsp_rxbuf *rb, uint32_t slot_size, uint32_t first, uint32_t count);
/* Frees the tables; accepts a zeroed or half-initialised struct. */
void netvsp_rxbuf_destroy(struct netvsp_rxbuf *rb);

static inline uint32_t netvsp_rxbuf_free_slots(const struct netvsp_rxbuf *rb) {
        return rb->n_free;
}
static inline uint32_t netvsp_rxbuf_slot_offset(const struct netvsp_rxbuf *rb, uint32_t slot) {
        return (rb->first + slot) * rb->slot_size;
}

/* Takes a free slot for filling; -ENOSPC when all are with the guest. */
int netvsp_rxbuf_alloc(struct netvsp_rxbuf *rb, uint32_t *slot);
/* Gives back a slot that was allocated but not posted (frame dropped). */
int netvsp_rxbuf_unalloc(struct netvsp_rxbuf *rb, uint32_t slot);
/* Posts n >= 1 filled slots as one batch; returns its transaction id in
 * *trans_id. The slots stay owned by the guest until completion. */
int netvsp_rxbuf_post(struct netvsp_rxbuf *rb, const uint32_t *slots, uint32_t n, uint64_t *trans_id);
/* Takes back a batch that could not be sent (ring full): its slots return
 * to "filling" and its id becomes invalid. -ENOENT for an unknown id. */
int netvsp_rxbuf_unpost(struct netvsp_rxbuf *rb, uint64_t trans_id);
/* The guest completed the batch trans_id: its slots become free. Returns the
 * number of slots freed, or -ENOENT for an id that names no posted batch
 * (counted in bogus_completions; nothing changes). */
int netvsp_rxbuf_complete(struct netvsp_rxbuf *rb, uint64_t trans_id);
/* Slots currently owned by the guest. */
uint32_t netvsp_rxbuf_posted_slots(const struct netvsp_rxbuf *rb);
/* owner[i] (i < min(n, n_slots)) = the transaction id of the posted batch
 * slot i belongs to, 0 if it is not with the guest (saved state). */
void netvsp_rxbuf_owners(const struct netvsp_rxbuf *rb, uint64_t *owner, uint32_t n);

/* Saved state: on a freshly initialised buffer of the same geometry, marks
 * the posted batches (trans id = generation << 32 | first slot; slots
 * concatenated, lens per batch) and the slots being filled, and continues
 * the generation. -EINVAL (nothing changed) for a slot out of range, used
 * twice, or an id that does not name its batch's first slot. */
int netvsp_rxbuf_restore(struct netvsp_rxbuf *rb, uint32_t generation, const uint64_t *tids, const uint32_t *lens,
                         uint32_t n_batches, const uint32_t *slots, const uint32_t *filling, uint32_t n_filling);

