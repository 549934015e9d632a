/* SPDX-License-Identifier: MIT */
/* Host side of a VMBus ring pair (docs/hyperv-guest-interface.md §5).
 *
 * One ring GPADL holds two rings: the guest's outbound ring (guest -> host,
 * "in" here: we consume it) and its inbound ring (host -> guest, "out" here:
 * we produce it). Each is a 4 KiB header page followed by the data area,
 * mapped with the data area twice back to back (VMBUS_MAP_WRAP), so packets
 * are copied in one piece across the end of the ring.
 *
 * The guest can change any shared byte at any time. Every shared index is
 * read once per batch and range-checked; packets are copied out of the ring
 * before they are parsed. An index or packet header that cannot be right
 * marks the pair broken: every later call returns -EBADMSG and the owner
 * stops serving the channel (other channels are unaffected).
 *
 * Threading: the receive side (vmbus_ring_recv*, mask/unmask) and the send
 * side (vmbus_ring_send*) may run on two different threads; each side must
 * be serialised by its user. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hv/vmbus.h"

/* Called to raise the channel's guest event (SIEF bit + SINT, §5.8). */
typedef void (*vmbus_ring_signal_fn)(void *opaque);

struct vmbus_ring;
/* Called after the host wrote [off, off + len) of ring r's mapping (header
 * page first, then the data area, offsets within one copy: a write across
 * the end of the data area comes as two calls), for live migration's dirty
 * pages (docs/vm-state.md, "Dirty pages"). */
typedef void (*vmbus_ring_dirty_fn)(void *opaque, const struct vmbus_ring *r, uint32_t off, uint32_t len);

struct vmbus_ring {
        struct hv_ring_buffer *hdr; /* shared, guest-writable */
        uint8_t *data;              /* data area, mapped twice back to back */
        uint32_t size;              /* data area bytes */
        uint32_t priv;              /* our index: read (in ring) or write (out ring) */
        uint32_t batch_start;       /* priv when the current batch began */
        uint32_t snap_write;        /* in ring: guest write_index at batch begin */
        bool in_batch;
};

struct vmbus_ring_stats {
        /* receive side */
        uint64_t packets_in, bytes_in, oversized_skipped, recv_signals;
        /* send side */
        uint64_t packets_out, bytes_out, send_full, send_too_big, send_signals;
};

struct vmbus_ring_pair {
        struct vmbus_ring in;  /* guest -> host */
        struct vmbus_ring out; /* host -> guest */
        uint32_t guest_max_packet; /* §5.4: never write a longer packet */
        int broken; /* 0, or the -errno it broke with; atomic access only */
        vmbus_ring_signal_fn signal;
        void *signal_opaque;
        /* vmbus_ring_set_dirty: dirty called while *dirty_active */
        const atomic_bool *dirty_active;
        vmbus_ring_dirty_fn dirty;
        void *dirty_opaque;
        struct vmbus_ring_stats stats;
};

/* Attach to two mapped rings. *_base points at a ring's header page, the
 * mapping continues with its data area twice; *_len is header + data area
 * (one copy), a multiple of 4096 and at least two pages. The indices the
 * guest initialised (§4.6) are read once and must be in range and 8-byte
 * aligned, else -EINVAL. guest_max_packet: the guest's max_pkt_size for this
 * channel (§5.4), descriptor included, at least 24. */
int vmbus_ring_pair_init(struct vmbus_ring_pair *rp, void *in_base, size_t in_len, void *out_base,
                         size_t out_len, uint32_t guest_max_packet, vmbus_ring_signal_fn signal,
                         void *opaque);

/* Every host write to either ring (packets, write_index, read_index,
 * interrupt_mask, pending_send_sz) is reported to fn while *active (one
 * relaxed load per write otherwise). After init, before the pair is used. */
void vmbus_ring_set_dirty(struct vmbus_ring_pair *rp, const atomic_bool *active, vmbus_ring_dirty_fn fn,
                          void *opaque);

/* 0 while healthy, else the negative errno that broke it (-EBADMSG). */
int vmbus_ring_broken(const struct vmbus_ring_pair *rp);

/* ---- receive (guest -> host) ------------------------------------------ */

/* A packet copied out of the ring into the caller's buffer (§5.3). All
 * fields were validated: 16 <= offset <= len. */
struct vmbus_packet {
        uint16_t type;  /* enum vmbus_packet_type */
        uint16_t flags; /* VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED */
        uint64_t trans_id;
        uint32_t len;        /* len8 * 8: descriptor .. padding, no trailer */
        uint32_t offset;     /* offset8 * 8: payload start */
        const uint8_t *data; /* the packet, descriptor first (the caller's buffer) */
};

static inline const void *vmbus_packet_payload(const struct vmbus_packet *p) {
        return p->data + p->offset;
}
static inline uint32_t vmbus_packet_payload_len(const struct vmbus_packet *p) {
        return p->len - p->offset;
}

/* Start a receive batch: reads the guest's write_index once. Returns the
 * bytes available or -EBADMSG. */
int vmbus_ring_recv_begin(struct vmbus_ring_pair *rp);
/* Copy the next packet into buf. Returns its length (> 0), 0 when the batch
 * is drained, -EMSGSIZE if it is longer than cap (it is skipped and
 * counted), -EBADMSG if the ring is broken. Outside a batch it runs as a
 * batch of one packet. */
int vmbus_ring_recv(struct vmbus_ring_pair *rp, void *buf, size_t cap, struct vmbus_packet *pkt);
/* End the batch: publish read_index once; signal the guest if that freed
 * space past its pending_send_sz (§5.5, §5.6). Returns 1 if it signalled. */
int vmbus_ring_recv_end(struct vmbus_ring_pair *rp);

/* Polling (§5.5): with the in ring's interrupt_mask set, the guest does not
 * signal us. unmask clears it and returns true if data arrived meanwhile,
 * so the caller drains again instead of waiting for a doorbell. */
void vmbus_ring_mask(struct vmbus_ring_pair *rp);
bool vmbus_ring_unmask(struct vmbus_ring_pair *rp);
bool vmbus_ring_has_data(struct vmbus_ring_pair *rp);

/* ---- send (host -> guest) --------------------------------------------- */

struct vmbus_send_desc {
        uint16_t type;
        uint16_t flags;
        uint64_t trans_id;
        /* Descriptor extension after the 16 bytes (transfer-page or GPA-direct
         * ranges), padded to 8; offset8 points past it. May be empty. */
        const struct iovec *ext;
        size_t ext_cnt;
        const struct iovec *iov; /* payload, padded to 8 */
        size_t iovcnt;
};

/* Start a send batch: packets become visible together at send_end. */
void vmbus_ring_send_begin(struct vmbus_ring_pair *rp);
/* Write one packet. 0; -EMSGSIZE if longer than guest_max_packet (§5.4);
 * -EAGAIN if the ring lacks space: pending_send_sz is set so that the
 * guest signals us when it has read enough (§5.6), retry then; -EBADMSG if
 * broken. Outside a batch it is published (and signalled) at once. */
int vmbus_ring_send(struct vmbus_ring_pair *rp, const struct vmbus_send_desc *d);
/* Publish write_index once; signal the guest if the ring went from empty to
 * non-empty and the guest's interrupt_mask is 0 (§5.6). Returns 1 if it
 * signalled. */
int vmbus_ring_send_end(struct vmbus_ring_pair *rp);
/* For a signal send_end withheld (the guest's interrupt_mask was set):
 * signal now if the guest left packets unread and its interrupt_mask is
 * 0. A guest that masks, then unmasks without reading the ring again
 * (uio_hv_generic's user space, hv_fcopy_uio_daemon: it waits for the
 * next interrupt) would otherwise never hear of them. 1 if it signalled,
 * 0 if the guest read everything (nothing is owed any more), -EAGAIN if
 * packets are unread and the mask still set (ask again later). */
int vmbus_ring_kick(struct vmbus_ring_pair *rp);

/* Convenience forms of vmbus_ring_send. */
int vmbus_ring_send_inband(struct vmbus_ring_pair *rp, uint64_t trans_id, bool completion_requested,
                           const void *data, size_t len);
int vmbus_ring_send_completion(struct vmbus_ring_pair *rp, uint64_t trans_id, const void *data, size_t len);
/* Transfer-page packet (netvsc receive, §5.3): ranges into a guest GPADL the
 * guest registered as pageset_id; no payload of its own. */
int vmbus_ring_send_xfer_pages(struct vmbus_ring_pair *rp, uint64_t trans_id, uint16_t pageset_id,
                               const struct vmtransfer_page_range *ranges, uint32_t n);

/* Bytes a packet with ext_len bytes of descriptor extension and payload_len
 * bytes of payload occupies in the ring, trailer included. */
size_t vmbus_ring_packet_space(size_t ext_len, size_t payload_len);

/* ---- packet parsers (over a packet already copied out) ------------------- */

/* GPA-direct (type 9, §5.3) ranges. pfns points into the packet copy
 * (read them with vmbus_gpa_range_pfn: no alignment is assumed). */
struct vmbus_gpa_range_view {
        uint32_t byte_count;
        uint32_t byte_offset; /* < 4096 */
        uint32_t n_pfns;      /* ceil((byte_offset + byte_count) / 4096) */
        const uint8_t *pfns;
};
#define VMBUS_GPA_DIRECT_MAX_RANGES 64u
#define VMBUS_GPA_DIRECT_MAX_PFNS 1024u /* 4 MiB per packet */
/* Returns the number of ranges (<= max), -EBADMSG if malformed, -E2BIG past
 * the limits above or max. Checks: range_cnt >= 1, byte_count > 0,
 * byte_offset < 4096, every PFN below 2^52, the ranges fit before offset8. */
int vmbus_packet_parse_gpa_direct(const struct vmbus_packet *p, struct vmbus_gpa_range_view *out, size_t max);
uint64_t vmbus_gpa_range_pfn(const struct vmbus_gpa_range_view *r, uint32_t i);

/* Transfer-page (type 7) ranges, for completeness of the guest->host
 * direction (Linux sends none). Returns the range count or -EBADMSG. */
int vmbus_packet_parse_xfer_pages(const struct vmbus_packet *p, uint16_t *pageset_id,
                                  const struct vmtransfer_page_range **ranges);
