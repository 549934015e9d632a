/* SPDX-License-Identifier: MIT */
/* A simulated guest for unit tests, fuzzers and benchmarks of the VMBus
 * server and of providers: guest RAM is a memfd-backed buffer, host ->
 * guest messages are captured in a queue, events are recorded per VP, and
 * a small guest-side driver (the same steps hv_vmbus takes, §4 and §5)
 * connects, creates GPADLs, opens channels and uses rings. No KVM needed.
 *
 *   struct vmbus_sim *sim;        vmbus_sim_new(16 << 20, 2, &sim);
 *   struct vmbus_server *srv;     vmbus_server_new(&cfg, &vmbus_sim_ops, sim, &srv);
 *   ... vmbus_server_add_device(srv, ...) ...
 *   vmbus_sim_connect(sim, VERSION_WIN10_V5_3);
 *   n = vmbus_sim_request_offers(sim, offers, 16);
 *   vmbus_sim_open(sim, offers[0].child_relid, offers[0].connection_id, 4, NULL, 0, &ch);
 *   vmbus_sim_ring_write(sim, &ch, VM_PKT_DATA_INBAND, flags, id, data, len);
 *   vmbus_sim_ring_read(sim, &ch, buf, sizeof buf, &pkt);
 *
 * Thread-safety: the host side (vmbus_sim_ops) is thread-safe; the guest
 * side of one channel must be used by one thread at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/vmbus.h"
#include "vmbus/host.h"
#include "vmbus/ring.h"

struct vmbus_sim;

extern const struct vmbus_host_ops vmbus_sim_ops; /* host context: the struct vmbus_sim */

int vmbus_sim_new(size_t ram_bytes, unsigned vp_count, struct vmbus_sim **out);
/* The same over RAM someone else owns (a vid partition: gm_map and
 * gm_fd_offset of GPA 0): ram is its host view, memfd offset 0 is GPA 0.
 * Both must outlive the sim. */
int vmbus_sim_new_external(int memfd, uint8_t *ram, size_t ram_bytes, unsigned vp_count, struct vmbus_sim **out);
void vmbus_sim_free(struct vmbus_sim *s);

uint8_t *vmbus_sim_ram(struct vmbus_sim *s);
size_t vmbus_sim_ram_size(const struct vmbus_sim *s);
/* Host mappings currently alive (leak checks). */
unsigned vmbus_sim_live_mappings(struct vmbus_sim *s);
/* Pages for the guest's own use, from a bump allocator over RAM (after the
 * first page). Returns the first PFN, or 0 when RAM is exhausted. */
uint64_t vmbus_sim_alloc_pages(struct vmbus_sim *s, size_t n);
/* Hand out pages from pfn on (external RAM that holds a guest image below). */
void vmbus_sim_set_alloc_start(struct vmbus_sim *s, uint64_t pfn);

/* ---- host -> guest, as the guest sees it ---------------------------------- */

/* Oldest captured control message: returns its length, -ENOMSG if none. */
int vmbus_sim_next_message(struct vmbus_sim *s, unsigned *vp, void *buf, size_t cap);
unsigned vmbus_sim_pending_messages(struct vmbus_sim *s);
/* post_message fails with -ENOBUFS while this many messages are queued
 * (a full SynIC queue); 0 = no limit. */
void vmbus_sim_set_queue_limit(struct vmbus_sim *s, unsigned limit);
/* Test-and-clear the event flag of relid on a VP (§3.3). */
bool vmbus_sim_take_event(struct vmbus_sim *s, unsigned vp, uint32_t relid);
uint64_t vmbus_sim_event_count(struct vmbus_sim *s);
/* An eventfd written on every host -> guest event (wait for interrupts). */
int vmbus_sim_event_fd(struct vmbus_sim *s);

/* ---- guest -> host ----------------------------------------------------------- */

/* HvPostMessage: HV_STATUS_INVALID_CONNECTION_ID if nobody listens. */
uint16_t vmbus_sim_post(struct vmbus_sim *s, uint32_t connection_id, unsigned vp, const void *msg, size_t len);
/* HvSignalEvent: -ENOENT if no eventfd is registered for the id. */
int vmbus_sim_signal(struct vmbus_sim *s, uint32_t connection_id);
bool vmbus_sim_event_registered(struct vmbus_sim *s, uint32_t connection_id);
/* HvSignalEvent calls that reached a registered eventfd (doorbells). */
uint64_t vmbus_sim_doorbell_count(struct vmbus_sim *s);

/* ---- the guest-side driver (sim-guest.c) ------------------------------------------ */

/* Pop messages until one of msgtype; others are discarded. Length or
 * -ENOMSG. */
int vmbus_sim_expect(struct vmbus_sim *s, uint32_t msgtype, void *buf, size_t cap);
/* INITIATE_CONTACT on the connection id §4.2 prescribes for the version,
 * target VP 0. 1 = accepted, 0 = refused, < 0 no answer. */
int vmbus_sim_connect(struct vmbus_sim *s, uint32_t version);
/* REQUESTOFFERS; collects offers until ALLOFFERS_DELIVERED. Count or < 0. */
int vmbus_sim_request_offers(struct vmbus_sim *s, struct vmbus_channel_offer_channel *offers, size_t max);
/* GPADL_HEADER (+ BODY messages, split as Linux does: 26 PFNs in the
 * header, 28 per body) for one range over pfns; returns creation_status
 * (0 = created) or < 0 without an answer. */
int vmbus_sim_create_gpadl(struct vmbus_sim *s, uint32_t relid, uint32_t handle, const uint64_t *pfns, size_t n,
                           uint32_t byte_count);
/* GPADL_TEARDOWN: 0 when GPADL_TORNDOWN came, -ENOMSG if not (yet). */
int vmbus_sim_teardown_gpadl(struct vmbus_sim *s, uint32_t relid, uint32_t handle);
/* A fresh GPADL handle from the guest's counter (0xE1E10 onwards, §4.5). */
uint32_t vmbus_sim_next_gpadl_handle(struct vmbus_sim *s);

/* The guest's view of an open channel. Ring pages are deliberately not in
 * PFN order, so the host's contiguous mapping is really exercised. */
struct vmbus_sim_ring {
        uint64_t pfns[64]; /* header page first */
        unsigned n_pages;
        struct hv_ring_buffer *hdr;
        uint32_t size;
};
struct vmbus_sim_channel {
        uint32_t relid, connection_id, gpadl, openid;
        struct vmbus_sim_ring out; /* guest -> host (the guest's outbound ring) */
        struct vmbus_sim_ring in;  /* host -> guest */
};
/* Allocate and initialise the two rings of a channel without telling the
 * host (ring library tests): ch->out.pfns then ch->in.pfns form the ring
 * GPADL's page list, ring_pages (2..64) each. */
int vmbus_sim_channel_alloc(struct vmbus_sim *s, unsigned ring_pages, struct vmbus_sim_channel *ch);
/* Allocate 2 x ring_pages (header included, 2..64 each), create the ring
 * GPADL, initialise both headers as Linux does (feature_bits = 1) and send
 * OPENCHANNEL. Returns the OPENCHANNEL_RESULT status (0 = open) or < 0. */
int vmbus_sim_open(struct vmbus_sim *s, uint32_t relid, uint32_t connection_id, unsigned ring_pages,
                   const void *userdata, size_t userdata_len, struct vmbus_sim_channel *ch);
/* CLOSECHANNEL, then teardown of the ring GPADL: 0 when torn down. */
int vmbus_sim_close(struct vmbus_sim *s, struct vmbus_sim_channel *ch);

/* Guest writes one packet into its outbound ring and signals the host if
 * the host's interrupt_mask is 0 and the ring was empty (§5.5). 0, -EAGAIN
 * if full, -EMSGSIZE. write_raw takes a whole packet (descriptor first,
 * len a multiple of 8) and signals only if asked to, for malformed input
 * and batches. */
int vmbus_sim_ring_write(struct vmbus_sim *s, struct vmbus_sim_channel *ch, uint16_t type, uint16_t flags,
                         uint64_t trans_id, const void *data, size_t len);
int vmbus_sim_ring_write_raw(struct vmbus_sim *s, struct vmbus_sim_channel *ch, const void *pkt, size_t len,
                             bool signal);
/* Guest reads one packet from its inbound ring into buf (descriptor
 * first). Length, 0 if empty, -EBADMSG on a malformed ring, -EMSGSIZE.
 * Signals the host if it freed space past the host's pending_send_sz. */
int vmbus_sim_ring_read(struct vmbus_sim *s, struct vmbus_sim_channel *ch, void *buf, size_t cap,
                        struct vmbus_packet *pkt);
/* vmbus_sim_ring_read, waiting up to timeout_ms for a packet (a provider
 * thread answers asynchronously). -ETIMEDOUT if none came. */
int vmbus_sim_ring_wait(struct vmbus_sim *s, struct vmbus_sim_channel *ch, void *buf, size_t cap,
                        struct vmbus_packet *pkt, int timeout_ms);
/* Raw access to a ring's bytes as the guest sees them (data area offset). */
void vmbus_sim_ring_copy_in(struct vmbus_sim *s, const struct vmbus_sim_ring *r, uint32_t off, const void *src,
                            size_t len);
