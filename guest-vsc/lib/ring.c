// SPDX-License-Identifier: MIT
/* Ring buffers, guest side (§5.2, §5.3, §5.5). The guest keeps the index it
 * owns privately and publishes it; the host's index is read once per call
 * and range-checked; packets are copied out and then validated. Plain
 * functions of memory, fuzzed by tests/fuzz/fuzz-vsc-ring.c. */
#include "internal.h"

#define RING_HDR_OFF(field) offsetof(struct hv_ring_buffer, field)
/* Descriptor + trailer: the smallest thing a ring can hold. */
#define RING_MIN_PACKET (sizeof(struct vmpacket_descriptor) + VMBUS_PKT_TRAILER)

int vsc_ring_init(struct vsc_ring *r, void *hdr, uint32_t data_bytes) {
        if (!hdr || data_bytes < RING_MIN_PACKET * 2 || data_bytes % 8 || data_bytes > 0x80000000u)
                return -EINVAL;
        r->hdr = hdr;
        r->data = (uint8_t *)hdr + sizeof(struct hv_ring_buffer);
        r->size = data_bytes;
        r->own = 0;
        r->published = 0;
        return 0;
}

/* A host-owned index: in range and 8-byte aligned, or the ring is broken. */
static int host_index(const struct vsc_ring *r, size_t off, uint32_t *out) {
        uint32_t v = vsc_load32((const uint8_t *)r->hdr + off);
        if (v >= r->size || v % 8)
                return -EPROTO;
        *out = v;
        return 0;
}

/* Free bytes for the producer (§5.2); the whole ring when empty. */
static uint32_t ring_free(uint32_t size, uint32_t write, uint32_t read) {
        return write >= read ? size - (write - read) : read - write;
}

static void copy_to_ring(struct vsc_ring *r, uint32_t *pos, const void *src, size_t n) {
        if (n == 0)
                return;
        size_t first = n < r->size - *pos ? n : r->size - *pos;
        vsc_memcpy(r->data + *pos, src, first);
        vsc_memcpy(r->data, (const uint8_t *)src + first, n - first);
        *pos = (uint32_t)((*pos + n) % r->size);
}

static void zero_ring(struct vsc_ring *r, uint32_t *pos, size_t n) {
        static const uint8_t zeros[8];
        copy_to_ring(r, pos, zeros, n); /* n < 8: padding only */
}

static void copy_from_ring(const struct vsc_ring *r, uint32_t pos, void *dst, size_t n) {
        size_t first = n < r->size - pos ? n : r->size - pos;
        vsc_memcpy(dst, r->data + pos, first);
        vsc_memcpy((uint8_t *)dst + first, r->data, n - first);
}

int vsc_ring_write_space(const struct vsc_ring *r, uint32_t *space) {
        uint32_t read;
        if (host_index(r, RING_HDR_OFF(read_index), &read) < 0)
                return -EPROTO;
        uint32_t avail = ring_free(r->size, r->own, read);
        /* Strictly greater than the packet: never fill the ring (§5.2). */
        *space = avail > 8 ? avail - 8 : 0;
        return 0;
}

/* §5.5: signal only if the host is not polling (interrupt_mask 0) and the
 * ring was empty before these packets, judged by the read index *after* the
 * new write index is visible (the host may have caught up meanwhile). With
 * one publish per batch the host sees all of it or none of it, so this is
 * Linux's rule with "this packet" read as "this batch". */
static bool ring_needs_signal(const struct vsc_ring *r, uint32_t old_write) {
        vsc_mb();
        if (vsc_load32((const uint8_t *)r->hdr + RING_HDR_OFF(interrupt_mask)))
                return false;
        return vsc_load32((const uint8_t *)r->hdr + RING_HDR_OFF(read_index)) == old_write;
}

int vsc_ring_put(struct vsc_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id, const void *extra,
                 size_t extra_len, const void *payload, size_t len) {
        if (extra_len % 8 || extra_len > 0x7fff8u)
                return -EINVAL;
        if (len > r->size)
                return -EMSGSIZE; /* can never fit */
        size_t hdrlen = sizeof(struct vmpacket_descriptor) + extra_len;
        size_t pktlen = hdrlen + len, padded = (pktlen + 7) & ~(size_t)7;
        if (padded / 8 > 0xffff)
                return -EMSGSIZE; /* len8 is 16 bits */
        uint32_t space;
        if (vsc_ring_write_space(r, &space) < 0)
                return -EPROTO;
        if (padded + VMBUS_PKT_TRAILER > space)
                return -EAGAIN;
        struct vmpacket_descriptor d = {
                .type = type, .offset8 = (uint16_t)(hdrlen / 8), .len8 = (uint16_t)(padded / 8),
                .flags = flags, .trans_id = trans_id,
        };
        uint32_t pos = r->own;
        uint64_t trailer = (uint64_t)pos << 32; /* §5.3 */
        copy_to_ring(r, &pos, &d, sizeof d);
        copy_to_ring(r, &pos, extra, extra_len);
        copy_to_ring(r, &pos, payload, len);
        zero_ring(r, &pos, padded - pktlen);
        copy_to_ring(r, &pos, &trailer, sizeof trailer);
        r->own = pos;
        return 0;
}

bool vsc_ring_publish(struct vsc_ring *r) {
        uint32_t old = r->published;
        if (old == r->own)
                return false; /* nothing new */
        r->published = r->own;
        vsc_store32((uint8_t *)r->hdr + RING_HDR_OFF(write_index), r->own);
        return ring_needs_signal(r, old);
}

int vsc_ring_write(struct vsc_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id, const void *extra,
                   size_t extra_len, const void *payload, size_t len, bool *signal) {
        *signal = false;
        int ret = vsc_ring_put(r, type, flags, trans_id, extra, extra_len, payload, len);
        if (ret == 0)
                *signal = vsc_ring_publish(r);
        return ret;
}

int vsc_ring_has_data(const struct vsc_ring *r) {
        uint32_t write;
        if (host_index(r, RING_HDR_OFF(write_index), &write) < 0)
                return -EPROTO;
        return write != r->own;
}

static int check_descriptor(const struct vmpacket_descriptor *d, uint32_t avail) {
        uint32_t len = (uint32_t)d->len8 * 8, off = (uint32_t)d->offset8 * 8;
        if (len < sizeof *d || off < sizeof *d || off > len)
                return -EPROTO;
        if (len + VMBUS_PKT_TRAILER > avail)
                return -EPROTO;
        return 0;
}

int vsc_ring_read(struct vsc_ring *r, void *buf, size_t cap, struct vsc_packet *pkt, uint32_t *space_before) {
        uint32_t write, read = r->own;
        vsc_memset(pkt, 0, sizeof *pkt);
        if (host_index(r, RING_HDR_OFF(write_index), &write) < 0)
                return -EPROTO;
        if (write == read)
                return -EAGAIN;
        uint32_t avail = r->size - ring_free(r->size, write, read); /* bytes published */
        if (avail < RING_MIN_PACKET)
                return -EPROTO;
        struct vmpacket_descriptor d;
        copy_from_ring(r, read, &d, sizeof d);
        if (check_descriptor(&d, avail) < 0)
                return -EPROTO;
        pkt->type = d.type;
        pkt->flags = d.flags;
        pkt->trans_id = d.trans_id;
        pkt->len = (uint32_t)d.len8 * 8;
        pkt->payload_off = (uint32_t)d.offset8 * 8;
        if (pkt->len > cap)
                return -EMSGSIZE;
        copy_from_ring(r, read, buf, pkt->len);
        /* The caller parses buf: make its descriptor the one we checked,
         * not a second read of shared memory. */
        vsc_memcpy(buf, &d, sizeof d);
        if (space_before)
                *space_before = ring_free(r->size, write, read);
        r->own = (uint32_t)((read + pkt->len + VMBUS_PKT_TRAILER) % r->size);
        vsc_store32((uint8_t *)r->hdr + RING_HDR_OFF(read_index), r->own);
        return 0;
}
