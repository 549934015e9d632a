// SPDX-License-Identifier: MIT
/* Receive-buffer slot accounting (see netvsp/rxbuf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "netvsp/rxbuf.h"

#define NO_SLOT UINT32_MAX

int netvsp_rxbuf_init(struct netvsp_rxbuf *rb, uint32_t buf_size, uint32_t slot_size) {
        *rb = (struct netvsp_rxbuf){ 0 };
        if (slot_size < NETVSP_RXBUF_MIN_SLOT || buf_size / slot_size == 0)
                return -EINVAL;
        return netvsp_rxbuf_init_range(rb, slot_size, 0, MIN(buf_size / slot_size, NETVSP_RXBUF_MAX_SLOTS));
}

int netvsp_rxbuf_init_range(struct netvsp_rxbuf *rb, uint32_t slot_size, uint32_t first, uint32_t n) {
        *rb = (struct netvsp_rxbuf){ 0 };
        if (slot_size < NETVSP_RXBUF_MIN_SLOT || n == 0 || first > NETVSP_RXBUF_MAX_SLOTS ||
            n > NETVSP_RXBUF_MAX_SLOTS - first)
                return -EINVAL;
        rb->free_stack = calloc(n, sizeof *rb->free_stack);
        rb->next = calloc(n, sizeof *rb->next);
        rb->gen = calloc(n, sizeof *rb->gen);
        rb->state = calloc(n, sizeof *rb->state);
        if (!rb->free_stack || !rb->next || !rb->gen || !rb->state) {
                netvsp_rxbuf_destroy(rb);
                return -ENOMEM;
        }
        rb->slot_size = slot_size;
        rb->first = first;
        rb->n_slots = rb->n_free = n;
        /* Hand out low slots first: the first messages land at the buffer start. */
        for (uint32_t i = 0; i < n; i++) {
                rb->free_stack[i] = n - 1 - i;
                rb->next[i] = NO_SLOT;
        }
        return 0;
}

void netvsp_rxbuf_destroy(struct netvsp_rxbuf *rb) {
        if (!rb)
                return;
        free(rb->free_stack);
        free(rb->next);
        free(rb->gen);
        free(rb->state);
        *rb = (struct netvsp_rxbuf){ 0 };
}

int netvsp_rxbuf_alloc(struct netvsp_rxbuf *rb, uint32_t *slot) {
        if (rb->n_free == 0)
                return -ENOSPC;
        *slot = rb->free_stack[--rb->n_free];
        rb->state[*slot] = NETVSP_SLOT_FILLING;
        rb->next[*slot] = NO_SLOT;
        return 0;
}

static void release(struct netvsp_rxbuf *rb, uint32_t slot) {
        rb->state[slot] = NETVSP_SLOT_FREE;
        rb->next[slot] = NO_SLOT;
        rb->free_stack[rb->n_free++] = slot;
}

int netvsp_rxbuf_unalloc(struct netvsp_rxbuf *rb, uint32_t slot) {
        if (slot >= rb->n_slots || rb->state[slot] != NETVSP_SLOT_FILLING)
                return -EINVAL;
        release(rb, slot);
        return 0;
}

int netvsp_rxbuf_post(struct netvsp_rxbuf *rb, const uint32_t *slots, uint32_t n, uint64_t *trans_id) {
        if (n == 0)
                return -EINVAL;
        for (uint32_t i = 0; i < n; i++)
                if (slots[i] >= rb->n_slots || rb->state[slots[i]] != NETVSP_SLOT_FILLING)
                        return -EINVAL; /* a host bug; nothing was changed */
        for (uint32_t i = 0; i < n; i++) {
                rb->state[slots[i]] = NETVSP_SLOT_POSTED;
                rb->next[slots[i]] = i + 1 < n ? slots[i + 1] : NO_SLOT;
        }
        /* Generations start at 1 and skip 0, so a zero id is never valid. */
        if (++rb->generation == 0)
                rb->generation = 1;
        rb->gen[slots[0]] = rb->generation;
        rb->posted++;
        *trans_id = (uint64_t)rb->generation << 32 | slots[0];
        return 0;
}

static bool posted_head(const struct netvsp_rxbuf *rb, uint64_t trans_id) {
        uint32_t head = (uint32_t)trans_id, gen = (uint32_t)(trans_id >> 32);
        return gen != 0 && head < rb->n_slots && rb->state[head] == NETVSP_SLOT_POSTED && rb->gen[head] == gen;
}

int netvsp_rxbuf_unpost(struct netvsp_rxbuf *rb, uint64_t trans_id) {
        if (!posted_head(rb, trans_id))
                return -ENOENT;
        rb->gen[(uint32_t)trans_id] = 0;
        for (uint32_t s = (uint32_t)trans_id; s != NO_SLOT; s = rb->next[s])
                rb->state[s] = NETVSP_SLOT_FILLING;
        rb->posted--;
        return 0;
}

int netvsp_rxbuf_complete(struct netvsp_rxbuf *rb, uint64_t trans_id) {
        uint32_t head = (uint32_t)trans_id, n = 0;

        if (!posted_head(rb, trans_id)) {
                rb->bogus_completions++;
                return -ENOENT;
        }
        rb->gen[head] = 0; /* a second completion of the same id is now bogus */
        for (uint32_t s = head, nx; s != NO_SLOT; s = nx) {
                nx = rb->next[s];
                release(rb, s);
                n++;
        }
        rb->completed++;
        return (int)n;
}

uint32_t netvsp_rxbuf_posted_slots(const struct netvsp_rxbuf *rb) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < rb->n_slots; i++)
                n += rb->state[i] == NETVSP_SLOT_POSTED;
        return n;
}

void netvsp_rxbuf_owners(const struct netvsp_rxbuf *rb, uint64_t *owner, uint32_t n) {
        n = MIN(n, rb->n_slots);
        for (uint32_t i = 0; i < n; i++)
                owner[i] = 0;
        /* a batch's head carries its generation; the rest hang off next[] */
        for (uint32_t head = 0; head < rb->n_slots; head++) {
                if (rb->state[head] != NETVSP_SLOT_POSTED || rb->gen[head] == 0)
                        continue;
                uint64_t tid = (uint64_t)rb->gen[head] << 32 | head;
                for (uint32_t s = head; s != NO_SLOT; s = rb->next[s])
                        if (s < n)
                                owner[s] = tid;
        }
}

int netvsp_rxbuf_restore(struct netvsp_rxbuf *rb, uint32_t generation, const uint64_t *tids, const uint32_t *lens,
                         uint32_t n_batches, const uint32_t *slots, const uint32_t *filling, uint32_t n_filling) {
        if (rb->n_free != rb->n_slots)
                return -EBUSY;
        uint8_t *seen = calloc(rb->n_slots, 1);
        if (!seen)
                return -ENOMEM;
        int r = 0;
        uint32_t k = 0;
        for (uint32_t b = 0; r == 0 && b < n_batches; b++) {
                uint32_t head = (uint32_t)tids[b], gen = (uint32_t)(tids[b] >> 32);
                if (lens[b] == 0 || lens[b] > rb->n_slots - k || gen == 0 || slots[k] != head)
                        r = -EINVAL;
                for (uint32_t i = 0; r == 0 && i < lens[b]; i++, k++)
                        r = slots[k] < rb->n_slots && !seen[slots[k]]++ ? 0 : -EINVAL;
        }
        for (uint32_t i = 0; r == 0 && i < n_filling; i++)
                r = filling[i] < rb->n_slots && !seen[filling[i]]++ ? 0 : -EINVAL;
        if (r == 0) {
                k = 0;
                for (uint32_t b = 0; b < n_batches; b++) {
                        for (uint32_t i = 0; i < lens[b]; i++, k++) {
                                rb->state[slots[k]] = NETVSP_SLOT_POSTED;
                                rb->next[slots[k]] = i + 1 < lens[b] ? slots[k + 1] : NO_SLOT;
                        }
                        rb->gen[(uint32_t)tids[b]] = (uint32_t)(tids[b] >> 32);
                }
                for (uint32_t i = 0; i < n_filling; i++)
                        rb->state[filling[i]] = NETVSP_SLOT_FILLING;
                rb->n_free = 0;
                for (uint32_t i = rb->n_slots; i-- > 0;) /* low slots handed out first, as after init */
                        if (!seen[i])
                                rb->free_stack[rb->n_free++] = i;
                rb->generation = generation;
                rb->posted = n_batches;
        }
        free(seen);
        return r;
}
