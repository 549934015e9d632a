/* SPDX-License-Identifier: MIT */
/* Scatter-gather views of what a guest sends (docs/hyperv-guest-interface.md
 * §5.3, §7.6): the GPA-direct ranges of a VMBus packet, and the "logical
 * message stream" of an NVSP SEND_RNDIS_PKT = [send-buffer section bytes]
 * followed by the bytes of the GPA-direct ranges (partial-copy mode).
 * Pure functions; mapping guest pages to host pointers is the caller's. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* 6.1.0 sends up to 32 one-page ranges, 6.1.192 at most 32 PFNs in total
 * (§5.3); we accept a few more pages than that and no more. */
#define NETVSP_MAX_GPA_PAGES 64u
/* One stream = a section + every page, plus headroom for merges. */
#define NETVSP_SG_MAX (NETVSP_MAX_GPA_PAGES + 2u)

/* One guest-physical piece of a GPA-direct packet, at most a page. */
struct netvsp_gpa_page {
        uint64_t gpa;
        uint32_t len;
};

/* A decoded guest -> host VMBus data packet. */
struct netvsp_vmbus_packet {
        uint16_t type;  /* VM_PKT_DATA_INBAND, _USING_GPA_DIRECT or VM_PKT_COMP */
        uint16_t flags; /* VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED */
        uint64_t trans_id;
        const uint8_t *payload; /* points into the packet buffer */
        uint32_t payload_len;
        uint32_t n_pages; /* GPA-direct: the ranges split into pages, in order */
        struct netvsp_gpa_page pages[NETVSP_MAX_GPA_PAGES];
        uint64_t gpa_bytes; /* sum of the pages' lengths */
};

/* Decodes a packet (descriptor, GPA-direct ranges, payload) of len bytes
 * that the caller copied out of the ring (trailer excluded). Checks
 * offset8/len8 against len, every range's byte_offset < 4096 and its PFN
 * count, and the page limit. Returns 0 or -EBADMSG. */
int netvsp_vmbus_packet_decode(const void *pkt, size_t len, struct netvsp_vmbus_packet *out);

/* A byte stream made of host segments. */
struct netvsp_sg {
        unsigned n;
        size_t total;
        struct iovec seg[NETVSP_SG_MAX];
};

static inline void netvsp_sg_init(struct netvsp_sg *sg) {
        sg->n = 0;
        sg->total = 0;
}
/* Appends a segment, merging with the previous one when contiguous.
 * -E2BIG when full; zero-length segments are ignored. */
int netvsp_sg_append(struct netvsp_sg *sg, void *base, size_t len);
/* The iovecs covering [off, off + len) of the stream, into out[max];
 * returns the number used, or -ERANGE (outside) / -E2BIG (max too small). */
int netvsp_sg_slice(const struct netvsp_sg *sg, size_t off, size_t len, struct iovec *out, unsigned max);
/* Copies up to len bytes from stream offset off into buf; returns the count
 * copied (less than len at the end of the stream). */
size_t netvsp_sg_copy(const struct netvsp_sg *sg, size_t off, void *buf, size_t len);
