/* SPDX-License-Identifier: MIT */
/* vsc: a freestanding VMBus client library (the guest side of VMBus).
 *
 * It is compiled twice: into the test guest (guest-vsc/guest/, freestanding,
 * CPL0/CPL3) and as the hosted static library `vsc` for unit tests and fuzz
 * targets. It uses only <stdint.h>/<stddef.h>/<stdbool.h> and compiler
 * builtins; everything it needs from the machine (CPUID, MSRs, the hypercall
 * page, the doorbell port, time, pages) comes through struct vsc_ops, so a
 * test can replace the hypervisor with a simulated host and a fake clock.
 *
 * All state hangs off a struct vsc_bus owned by the caller (no globals).
 * Errors are negative errno values; the bus keeps a one-line description of
 * the last failure (vsc_bus_error()). Every wait on the host has a deadline,
 * and every message or packet the host sends is length- and range-checked
 * before use (docs/guest-vsc.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/tlfs.h"
#include "hv/vmbus.h"
#include "vsc/errno.h"

/* ---- platform hooks ----------------------------------------------------- */

struct vsc_ops {
        void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
        uint64_t (*rdmsr)(void *ctx, uint32_t msr); /* CPL0 only */
        void (*wrmsr)(void *ctx, uint32_t msr, uint64_t value);
        /* Call the hypercall page at CPL0 with Linux's x64 ABI (§1.6): RCX =
         * control, RDX = input GPA (fast: first 8 bytes), R8 = output GPA
         * (fast: second 8 bytes); returns RAX. */
        uint64_t (*hypercall)(void *ctx, void *page, uint64_t control, uint64_t input, uint64_t output);
        /* OUT EAX = connection id to VMSTACK_DOORBELL_PORT (any CPL with IOPL 3). */
        void (*doorbell)(void *ctx, uint32_t connection_id);
        unsigned (*cpl)(void *ctx); /* current privilege level, 0..3 */
        uint64_t (*now_ns)(void *ctx);
        /* Wait briefly for host activity, never past deadline_ns (CPL0: hlt
         * until an interrupt or a timer; CPL3: pause). May return at once. */
        void (*idle)(void *ctx, uint64_t deadline_ns);
        /* n zeroed, physically contiguous 4 KiB pages, page aligned; NULL if none. */
        void *(*alloc_pages)(void *ctx, size_t n);
        void (*free_pages)(void *ctx, void *p, size_t n);
        uint64_t (*virt_to_phys)(void *ctx, const void *p);
        /* Optional: as alloc_pages, but the contents are unspecified. For
         * buffers the guest never reads before the host or the guest itself
         * wrote them (the NIC's receive and send buffers). Zeroing them costs
         * the test guest ~0.2 ms a page at emulated CPL0 on PVM hosts
         * (docs/guest-vsc.md, "NIC open"). NULL: alloc_pages is used. */
        void *(*alloc_pages_unzeroed)(void *ctx, size_t n);
};

/* ---- Hyper-V detection (§1.1) -------------------------------------------- */

struct vsc_hv_info {
        uint32_t max_leaf;
        char vendor[13];   /* CPUID 0x40000000 EBX/ECX/EDX, NUL-terminated */
        uint32_t features; /* 0x40000003 EAX */
        uint32_t priv_high;
        uint32_t misc;
        uint32_t hints; /* 0x40000004 EAX */
};

/* 0 if the CPU says it runs on Hyper-V as §1.1 defines it (hypervisor bit,
 * max leaf 0x40000005..0x4000FFFF, "Microsoft Hv", hypercall and VP index
 * MSRs); -ENODEV otherwise, with *why naming the first check that failed.
 * info is filled as far as it could be read (vendor even when absent). */
int vsc_hv_detect(const struct vsc_ops *ops, void *ctx, struct vsc_hv_info *info, const char **why);

/* Our guest OS id (TLFS: bit 63 open source, 62:56 OS type, 47:16 version).
 * OS type 0x7f ("other") so the host can tell us from a Linux guest. */
#define VSC_GUEST_OS_ID ((1ull << 63) | (0x7full << 56) | (0x000100ull << 16))

/* ---- offers (§4.4) ------------------------------------------------------ */

#define VSC_MAX_OFFERS 64u
struct vsc_offer {
        uint8_t if_type[16];
        uint8_t if_instance[16];
        uint32_t child_relid; /* 1..2047 */
        uint32_t connection_id;
        uint16_t sub_channel_index;
        uint16_t chn_flags;
        uint16_t mmio_megabytes;
        bool monitor_allocated;
        bool dedicated_interrupt;
        bool rescinded;
        uint8_t user_def[VMBUS_OFFER_USER_DEFINED_BYTES];
};

/* ---- host messages (§4.1) ----------------------------------------------- */

/* A validated private copy of one host->guest channel message. */
struct vsc_msg {
        uint32_t type; /* enum vmbus_channel_message_type */
        uint32_t len;  /* bytes the host sent (header included) */
        union {
                struct vmbus_channel_message_header header;
                struct vmbus_channel_offer_channel offer;
                struct vmbus_channel_relid_message rescind;
                struct vmbus_channel_open_result open_result;
                struct vmbus_channel_gpadl_created gpadl_created;
                struct vmbus_channel_gpadl_torndown gpadl_torndown;
                struct vmbus_channel_version_response version_response;
                struct vmbus_channel_modifychannel_response modify_response;
                uint8_t raw[HV_MESSAGE_PAYLOAD_BYTES];
        } u;
};

/* Validates the payload of a SynIC message as a host->guest channel
 * message: known host->guest type, at least the size the guest reads (the
 * "guest min accepted" column of §4.1), offers with relid 1..2047. Copies
 * it into out (bytes past len read as zero). -EBADMSG (too short/long,
 * unknown or guest->host type) or -EPROTO (bad field); *why says which. */
int vsc_msg_parse(const void *payload, size_t len, struct vsc_msg *out, const char **why);
const char *vsc_msg_name(uint32_t type);

/* ---- the bus ------------------------------------------------------------ */

struct vsc_bus_stats {
        uint64_t messages, messages_dropped, eoms, post_retries;
        uint64_t signals_hypercall, signals_doorbell;
};

#define VSC_DEFAULT_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define VSC_GPADL_FIRST_HANDLE 0xe1e10u /* Linux's first handle (§4.5) */
#define VSC_POST_MAX_RETRIES 100u       /* like Linux's hv_post_message loop (§1.7) */

struct vsc_bus {
        const struct vsc_ops *ops;
        void *ctx;
        struct vsc_hv_info hv;
        uint64_t timeout_ns; /* per wait on the host */

        void *hypercall_page;
        struct hv_message_page *simp;
        struct hv_synic_event_flags_page *siefp;
        struct hv_input_post_message *post; /* hypercall input page */
        uint8_t *monitor_pages;             /* 2 pages (INITIATE_CONTACT) */
        uint8_t *int_page;                  /* versions < 5.0 */
        bool hv_enabled, synic_enabled, auto_eoi;

        uint32_t vp_index;
        uint32_t version; /* negotiated, 0 if not connected */
        uint32_t msg_conn_id;
        uint32_t next_gpadl;

        struct vsc_offer offers[VSC_MAX_OFFERS];
        unsigned n_offers;
        bool all_offers_delivered;

        struct vsc_bus_stats stats;
        char err[192];
};

/* Zeroes bus and binds it to ops/ctx. Talks to nothing. */
void vsc_bus_init(struct vsc_bus *bus, const struct vsc_ops *ops, void *ctx);
/* The last failure, "" if none. */
const char *vsc_bus_error(const struct vsc_bus *bus);

/* CPL0: detect Hyper-V, write the guest OS id, enable the hypercall page,
 * set up SynIC (SIMP, SIEFP, SINT2 = 0xF3 unmasked, auto-EOI only without
 * the deprecate-AEOI hint, SCONTROL) (§1.5, §3.1). */
#define VSC_SINT_VECTOR 0xf3u
int vsc_hv_enable(struct vsc_bus *bus);
/* Masks SINT2, disables SynIC and the hypercall page, frees the pages. */
void vsc_hv_disable(struct vsc_bus *bus);

/* HvPostMessage to conn_id (0: the negotiated msg_conn_id) with Linux's
 * retry policy (§1.7): HV_STATUS_INSUFFICIENT_MEMORY/BUFFERS and (unless
 * fail_on_bad_conn) INVALID_CONNECTION_ID are retried with back-off, up to
 * VSC_POST_MAX_RETRIES times and never past the wait deadline; then -EAGAIN. INVALID_CONNECTION_ID with
 * fail_on_bad_conn (INITIATE_CONTACT) is -ECONNREFUSED at once; any other
 * status is -EIO (the status is in the error line). */
int vsc_post_message(struct vsc_bus *bus, uint32_t conn_id, const void *msg, size_t len,
                     bool fail_on_bad_conn);

/* Takes one message from SIMP slot 2 if there is one: copy, validate, free
 * the slot, EOM if msg_pending (§3.4). Offers and rescinds are recorded in
 * the offer table as they arrive. 1: *out holds a message; 0: none; <0: the
 * host sent something invalid (the slot is freed either way). */
int vsc_poll_message(struct vsc_bus *bus, struct vsc_msg *out);
/* Waits (deadline from timeout_ns) for a message of type `type`; other
 * valid messages are handled (offers) or counted and dropped. -ETIMEDOUT
 * names the message it waited for. */
int vsc_wait_message(struct vsc_bus *bus, uint32_t type, struct vsc_msg *out);

/* Version negotiation exactly as Linux 6.1 (§4.2): 5.3, 5.2, 5.1, 5.0 on
 * connection id 4 with msg_sint 2, then 4.1, 4.0, 3.0, 2.4 on id 1 with an
 * interrupt page; afterwards messages go to VERSION_RESPONSE.msg_conn_id. */
int vsc_connect(struct vsc_bus *bus);
/* REQUESTOFFERS, then collect offers until ALLOFFERS_DELIVERED. */
int vsc_request_offers(struct vsc_bus *bus);
/* First live offer of that class with that sub-channel index, or NULL. */
const struct vsc_offer *vsc_find_offer(const struct vsc_bus *bus, const uint8_t if_type[16],
                                       uint16_t sub_channel_index);
/* The live offer of sub-channel sub_index of the device with that class
 * and instance, or NULL. */
const struct vsc_offer *vsc_find_sub_offer(const struct vsc_bus *bus, const uint8_t if_type[16],
                                           const uint8_t if_instance[16], uint16_t sub_index);
/* Handles bus messages until sub-channels first..first+n-1 of that device
 * are offered (§6.7, §7.8); -ETIMEDOUT after timeout_ns, naming `what`. */
int vsc_wait_sub_offers(struct vsc_bus *bus, const uint8_t if_type[16], const uint8_t if_instance[16],
                        unsigned first, unsigned n, const char *what);
/* After a rescind (and after closing the channel, if it was open):
 * RELID_RELEASED, and the relid leaves the offer table so the host may
 * reuse it (§4.7). -ENOENT for a relid that was not rescinded. */
int vsc_offer_release(struct vsc_bus *bus, uint32_t relid);
/* UNLOAD and wait for UNLOAD_RESPONSE (only if version >= 3.0, §4.8). */
int vsc_unload(struct vsc_bus *bus);

/* ---- GPADLs (§4.5) ------------------------------------------------------ */

/* Describes [buf, buf+bytes) (page aligned, whole pages) to the host as
 * one range and waits for GPADL_CREATED. */
int vsc_gpadl_create(struct vsc_bus *bus, uint32_t relid, const void *buf, size_t bytes, uint32_t *handle);
int vsc_gpadl_teardown(struct vsc_bus *bus, uint32_t relid, uint32_t handle);

/* ---- ring buffers (§5) -------------------------------------------------- */

/* One direction of a channel, seen from the guest. The index the guest owns
 * is kept privately (`own`) and only published, so a host scribbling on it
 * cannot confuse us; the host-owned index is read once per call and checked. */
struct vsc_ring {
        struct hv_ring_buffer *hdr;
        uint8_t *data;
        uint32_t size; /* data area bytes, multiple of 8 */
        uint32_t own;       /* outbound: our write index; inbound: our read index */
        uint32_t published; /* outbound: the write index the host has seen */
};

struct vsc_packet {
        uint16_t type, flags;
        uint64_t trans_id;
        uint32_t len;        /* len8 * 8: descriptor + extra + payload + padding */
        uint32_t payload_off; /* offset8 * 8, from the start of the packet */
};

/* Attaches to a ring whose header page is hdr, data area bytes after it. */
int vsc_ring_init(struct vsc_ring *r, void *hdr, uint32_t data_bytes);
/* Bytes the producer may still write (strictly less than free: §5.2). */
int vsc_ring_write_space(const struct vsc_ring *r, uint32_t *space);
/* Writes one packet: a 16-byte descriptor built here, `extra` (further
 * descriptor bytes, length a multiple of 8; offset8 points past them), the
 * payload, zero padding to 8 bytes and the trailer (§5.3), then publishes
 * write_index. *signal says whether the host must be signalled (§5.5).
 * -EAGAIN if it does not fit, -EMSGSIZE if len8 would overflow, -EPROTO if
 * the host's read_index is out of range. */
int vsc_ring_write(struct vsc_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id, const void *extra,
                   size_t extra_len, const void *payload, size_t len, bool *signal);
/* Batching: vsc_ring_put writes a packet like vsc_ring_write but does not
 * publish it; vsc_ring_publish makes everything put so far visible with one
 * store of write_index and says whether the host must be signalled (once
 * per batch, §5.5). Nothing put is visible to the host before publishing. */
int vsc_ring_put(struct vsc_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id, const void *extra,
                 size_t extra_len, const void *payload, size_t len);
bool vsc_ring_publish(struct vsc_ring *r);
/* Reads the next packet into buf (whole packet, descriptor first, without
 * the trailer) and consumes it. -EAGAIN if empty; -EMSGSIZE if cap is too
 * small (nothing consumed, pkt->len says how much is needed); -EPROTO for a
 * host index or descriptor out of range (the ring is then unusable).
 * *space_before (may be NULL): the producer's free space before this read,
 * for the pending_send_sz rule (§5.6). */
int vsc_ring_read(struct vsc_ring *r, void *buf, size_t cap, struct vsc_packet *pkt, uint32_t *space_before);
/* Non-zero if the host has published data we have not consumed (or -EPROTO). */
int vsc_ring_has_data(const struct vsc_ring *r);

/* ---- channels (§4.6, §4.7, §5.5) --------------------------------------- */

struct vsc_channel_stats {
        uint64_t sent, received, signals, signals_suppressed, host_pending_signals;
};

struct vsc_channel {
        struct vsc_bus *bus;
        uint32_t relid, connection_id, gpadl;
        uint32_t send_pages, recv_pages; /* header page included */
        void *ring_pages;
        struct vsc_ring out, in;
        bool open;
        struct vsc_channel_stats stats;
};

/* Allocates send_bytes + recv_bytes of ring pages (each a multiple of 4096,
 * at least 2 pages, header included), makes them a GPADL and opens the
 * channel with target_vp = bus->vp_index and the given user data (<= 120). */
int vsc_channel_open(struct vsc_bus *bus, struct vsc_channel *ch, const struct vsc_offer *offer,
                     uint32_t send_bytes, uint32_t recv_bytes, const void *userdata, size_t userdata_len);
/* CLOSECHANNEL, GPADL teardown, frees the rings. */
int vsc_channel_close(struct vsc_channel *ch);
/* Writes a packet; signals the host only on empty->non-empty while the
 * host's interrupt_mask is 0 (§5.5). -EAGAIN if the ring is full. */
int vsc_channel_send(struct vsc_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id,
                     const void *payload, size_t len);
/* Batching at the channel level: queue packets (unpublished), then flush:
 * one write_index store and at most one signal for the whole batch. */
int vsc_channel_queue(struct vsc_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id,
                      const void *payload, size_t len);
void vsc_channel_flush(struct vsc_channel *ch);
/* Reads a packet; signals the host if it waits for space (pending_send_sz, §5.6). */
int vsc_channel_recv(struct vsc_channel *ch, void *buf, size_t cap, struct vsc_packet *pkt);
/* Waits until the inbound ring has data or the deadline passes (-ETIMEDOUT). */
int vsc_channel_wait(struct vsc_channel *ch, uint64_t timeout_ns);
/* Inbound interrupt_mask: 1 = "I am polling, do not signal me". Unmasking
 * returns >0 if data arrived meanwhile (re-check after unmask, §5.6). */
int vsc_channel_mask(struct vsc_channel *ch, bool masked);
/* HvSignalEvent(connection_id): hypercall page at CPL0, doorbell port at
 * CPL3 (hypercalls from CPL > 0 raise #UD, TLFS; see docs/guest-vsc.md). */
void vsc_channel_signal(struct vsc_channel *ch);
