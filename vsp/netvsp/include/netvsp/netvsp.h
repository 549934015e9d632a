/* SPDX-License-Identifier: MIT */
/* netvsp: the synthetic NIC behind a netvsc guest (docs/netvsp.md,
 * docs/hyperv-guest-interface.md §7). struct netvsp_dev is the whole
 * device for one VMBus channel, independent of the VMBus server: the
 * provider glue feeds it the packets it reads from the guest's ring and
 * gives it a few host operations (send a completion, send a transfer-page
 * packet, map a GPADL, map guest pages); a backend (the TAP) carries the
 * frames. So the whole protocol runs, and is tested, without VMBus.
 *
 * Flow control (docs/netvsp.md "Back-pressure"): netvsp never drops a
 * guest packet for lack of host resources and never loses a completion.
 *  - backend full (-EAGAIN): the guest packet stays in progress, its
 *    completion is held, netvsp_can_take_packet() turns false and the glue
 *    stops reading the ring until the backend drains (want BACKEND_TX);
 *  - receive buffer full: the backend is not read (the kernel queues or
 *    drops, as a NIC's FIFO would) until the guest completes slots;
 *  - host -> guest ring full (-EAGAIN from a send op): the completion or
 *    transfer-page packet stays queued (want RING_SPACE).
 * Not thread-safe: one thread per channel drives it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "hv/nvsp.h"
#include "hv/vmbus.h"
#include "netvsp/rxbuf.h"
#include "netvsp/sg.h"
#include "rndis/device.h"

/* Hard limits (docs/netvsp.md "Limits"). */
#define NETVSP_MAX_RECV_BUF (32u << 20)  /* Linux asks for 16 MiB (31 MiB max) */
#define NETVSP_MAX_SEND_BUF (16u << 20)  /* Linux: 1 MiB (15 MiB max) */
#define NETVSP_SEND_SECTION_SIZE 6144u   /* what Hyper-V and OpenVMM use (§7.3) */
#define NETVSP_RX_BATCH_MAX 64u          /* ranges per transfer-page packet (Hyper-V: 375) */
#define NETVSP_RX_RESERVED_SLOTS 2u      /* kept free for control responses */
#define NETVSP_RX_DATA_OFFSET 96u        /* frame start in a slot: header + 3 PPIs, rounded */
#define NETVSP_CTRL_QUEUE 8u             /* RNDIS responses waiting for a slot */
#define NETVSP_CTRL_MSG_MAX 512u
#define NETVSP_MSGS_PER_PACKET 64u       /* RNDIS messages walked in one SEND_RNDIS_PKT */
#define NETVSP_COMP_QUEUE 4u
#define NETVSP_MAX_QUEUES 8u             /* channels per NIC with vRSS (the primary and 7 sub-channels) */
/* RSC (docs/netvsp.md "Receive segment coalescing"): the largest frame the
 * TAP hands over with TSO on (an IP packet of 65535 bytes, an Ethernet and
 * a VLAN header), read into as many slots as it takes, which must fit one
 * transfer-page packet. */
#define NETVSP_RSC_FRAME_MAX (65535u + 14u + 4u)

struct netvsp_config {
        struct rndis_config rndis; /* MAC, MTU, link speed, offload capabilities */
        uint32_t send_section_size;
        uint32_t rx_batch_max;     /* 1..NETVSP_RX_BATCH_MAX */
        uint32_t rx_budget;        /* frames read per netvsp_process() call */
        /* Channels the NIC serves (vRSS, §7.8): 1 (default) .. NETVSP_MAX_QUEUES.
         * With 2 or more and NVSP >= 5 the RSS capabilities report this many
         * queues, the receive buffer is split into as many ranges and the
         * guest may ask for queues - 1 sub-channels. */
        uint32_t queues;
};
void netvsp_config_init_defaults(struct netvsp_config *c);

struct vm_nic_config;
struct tap_config;
/* The device and TAP settings for one configured NIC (common/config.h):
 * the stable MAC, MTU, initial link state; the TAP to open ("" = create
 * one) and the bridge to attach it to. -EINVAL if out of range. */
int netvsp_config_from_vm_nic(const struct vm_nic_config *nic, struct netvsp_config *c, struct tap_config *tc);

/* Provided by the VMBus glue (or a test harness). All may be called only
 * from netvsp_handle_packet()/netvsp_process()/netvsp_set_link(). */
struct netvsp_host_ops {
        /* VM_PKT_COMP carrying msg (len may be 0). -EAGAIN: ring full. */
        int (*send_completion)(void *ctx, uint64_t trans_id, const void *msg, size_t len);
        /* VM_PKT_DATA_USING_XFER_PAGES, pageset NVSP_RECV_BUF_ID, completion
         * requested, ranges into the receive buffer, msg = NVSP 107. */
        int (*send_xfer_pages)(void *ctx, uint64_t trans_id, const struct vmtransfer_page_range *ranges,
                               uint32_t n, const void *msg, size_t len);
        /* Host view of a GPADL the guest established (receive/send buffer). */
        int (*map_gpadl)(void *ctx, uint32_t gpadl, void **base, size_t *len);
        void (*unmap_gpadl)(void *ctx, uint32_t gpadl);
        /* Host pointer to [gpa, gpa + len), which lies within one page. */
        int (*map_gpa)(void *ctx, uint64_t gpa, size_t len, void **host);
        /* Optional: [off, off + len) of a mapped GPADL was written (every
         * receive-buffer slot a frame or response went into, whether posted
         * or dropped), after the write and before the packet announcing it:
         * live migration's dirty pages (docs/vm-state.md). */
        void (*mark_dirty)(void *ctx, uint32_t gpadl, size_t off, size_t len);
        /* Optional (the primary channel's device only): offers n sub-channels
         * (§7.8). Returns how many were offered, which the guest is told and
         * waits for, or a negative errno (none offered). */
        int (*offer_subchannels)(void *ctx, uint32_t n);
        /* Optional: VM_PKT_DATA_INBAND without completion (the send
         * indirection table). -EAGAIN: ring full. */
        int (*send_inband)(void *ctx, const void *msg, size_t len);
};

/* The frame backend; iov[0] is always a struct virtio_net_hdr (10 bytes).
 * tx: 0 taken, -EAGAIN full, -ENODEV gone, other: this frame refused.
 * rx: bytes read including the header, -EAGAIN empty, -ENODEV gone. */
struct netvsp_backend_ops {
        int (*tx)(void *be, const struct iovec *iov, int n);
        ssize_t (*rx)(void *be, const struct iovec *iov, int n);
        /* Optional: which GSO frames rx may return from now on
         * (NETVSP_BE_GSO_*; 0: only whole, checksummed frames), asked by the
         * primary channel's device when the guest turns RSC on or off.
         * Frames queued before may still come in the old form. */
        int (*set_rx_gso)(void *be, unsigned gso);
};
#define NETVSP_BE_GSO_TCPV4 (1u << 0)
#define NETVSP_BE_GSO_TCPV6 (1u << 1)

/* netvsp_process() result bits: what to wait for before calling it again. */
#define NETVSP_WANT_BACKEND_RX (1u << 0) /* poll the backend for POLLIN */
#define NETVSP_WANT_BACKEND_TX (1u << 1) /* poll the backend for POLLOUT */
#define NETVSP_WANT_RING_SPACE (1u << 2) /* host -> guest ring was full */
/* A bandwidth cap holds a direction: call again after
 * netvsp_dev_qos_wait_ns() (docs/netvsp.md "Bandwidth caps"). */
#define NETVSP_WANT_TIMER (1u << 3)

struct netvsp_stats {
        uint64_t tx_packets, tx_bytes, tx_dropped, tx_malformed, tx_stalls;
        uint64_t rx_packets, rx_bytes, rx_filtered, rx_dropped, rx_truncated;
        uint64_t ctrl_requests, ctrl_dropped, bad_packets, bogus_completions, ring_full;
        uint64_t announces; /* RARP frames sent after a restore */
        uint64_t rx_coalesced;  /* frames handed over as RSC fragments (rx_packets counts them too) */
        uint64_t rx_gso_errors; /* backend set_rx_gso failures (the guest gets plain frames) */
        uint64_t rx_buffer_full; /* times the guest held every free receive slot and the TAP went unread */
        uint64_t tx_qos_waits;   /* times the guest -> host cap held a send */
        uint64_t rx_qos_waits;   /* times the host -> guest cap left the TAP unread */
};

struct netvsp_dev;

int netvsp_dev_new(const struct netvsp_config *cfg, const struct netvsp_host_ops *host, void *host_ctx,
                   const struct netvsp_backend_ops *be, void *be_ctx, struct netvsp_dev **out);
/* Unmaps the buffers; accepts NULL. */
void netvsp_dev_free(struct netvsp_dev *nd);

/* ---- vRSS: sub-channels (docs/netvsp.md "vRSS and a multi-queue TAP") ----
 * A sub-channel carries data only: SEND_RNDIS_PKT with PACKET messages and
 * the guest's completions of transfer pages. It uses the buffers the guest
 * registered on the primary channel (a GPADL reference of its own) and
 * its own range of the receive slots, and takes the RNDIS state (filter,
 * offloads, MAC) from the primary's device. What it takes is published
 * by the primary's thread as this plain snapshot. */
struct netvsp_shared {
        uint32_t version;
        bool recv_ok;
        uint32_t recv_gpadl, recv_slot_size, recv_total, rx_split;
        bool send_ok;
        uint32_t send_gpadl, send_sections;
        struct rndis_device rndis;
};
/* On the primary's device (its thread). */
void netvsp_dev_get_shared(const struct netvsp_dev *nd, struct netvsp_shared *out);

struct netvsp_sub_config {
        uint16_t index;  /* sub_channel_index, 1 .. NETVSP_MAX_QUEUES - 1 */
        bool backend_rx; /* reads frames for the guest from be (its own TAP queue); false: transmit only */
};
/* A sub-channel's device. sh: the primary's snapshot; the buffers are
 * mapped (host ops map_gpadl) and the receive range sub->index taken.
 * -EINVAL without both buffers, below NVSP 5 or past the split. sh NULL:
 * a bare device that netvsp_dev_restore fills. */
int netvsp_dev_new_sub(const struct netvsp_config *cfg, const struct netvsp_host_ops *host, void *host_ctx,
                       const struct netvsp_backend_ops *be, void *be_ctx, const struct netvsp_sub_config *sub,
                       const struct netvsp_shared *sh, struct netvsp_dev **out);
/* A sub-channel's device takes the primary's current RNDIS state, and
 * gives up a buffer the primary revoked. */
void netvsp_dev_sync(struct netvsp_dev *nd, const struct netvsp_shared *sh);
uint16_t netvsp_dev_sub_index(const struct netvsp_dev *nd);

/* The send indirection table the host gives the guest (§7.8): 16 entries,
 * entry i = i mod channels. NVSP 134 with the table at byte 40 (where
 * Linux reads it for NVSP <= 6 whatever the offset says). */
#define NETVSP_SEND_TABLE_MSG_LEN (NVSP_MESSAGE_SIZE + 4u * NVSP_SEND_INDIRECTION_TABLE_ENTRIES)
size_t netvsp_send_table_build(uint8_t msg[NETVSP_SEND_TABLE_MSG_LEN], uint32_t channels);

/* One guest -> host packet as read from the ring (descriptor included,
 * trailer excluded), copied into private memory by the caller. Returns 0
 * (handled; malformed packets are counted, completed with a failure status
 * where one is owed, and never crash), or -EBUSY when called while
 * netvsp_can_take_packet() is false. */
int netvsp_handle_packet(struct netvsp_dev *nd, const void *pkt, size_t len);
bool netvsp_can_take_packet(const struct netvsp_dev *nd);

/* Retries what waits (stalled frame, queued completions and responses),
 * delivers link indications and moves backend frames to the guest.
 * Returns NETVSP_WANT_* bits. */
unsigned netvsp_process(struct netvsp_dev *nd);

struct netvsp_qos;
/* The NIC's bandwidth caps (netvsp/qos.h; shared by its channels, may be
 * changed by another thread at any time); NULL: none. */
void netvsp_dev_set_qos(struct netvsp_dev *nd, struct netvsp_qos *qos);
/* After a netvsp_process() that wanted NETVSP_WANT_TIMER: ns from the
 * last check until a held direction may move again. */
uint64_t netvsp_dev_qos_wait_ns(const struct netvsp_dev *nd);

/* Backend link state (TAP admin up && carrier && present). */
void netvsp_set_link(struct netvsp_dev *nd, bool up);

/* After a restore, before the first round (docs/netvsp.md "Saved state"):
 * the backend's current link state replaces the saved one and the guest
 * is told it once more (an INDICATE_STATUS, also when unchanged), in the
 * first round after resume. Writes no guest memory itself. */
void netvsp_dev_resume_restored(struct netvsp_dev *nd, bool up);

/* The announce after a restore: a RARP frame (ethertype 0x8035, broadcast,
 * source and both hardware addresses the MAC, RFC 903 op 3), as QEMU's
 * announce-self sends. */
#define NETVSP_ETH_P_RARP 0x8035u
#define NETVSP_RARP_LEN 60u
size_t netvsp_rarp_build(uint8_t frame[NETVSP_RARP_LEN], const uint8_t mac[6]);
/* Sends one RARP from the guest's current MAC through the backend (counted
 * in stats.announces). 0, -ENOTCONN when the guest has not initialised
 * RNDIS or the backend's link is down (nothing sent), or the backend's
 * error (-EAGAIN: full, this one is skipped). */
int netvsp_announce(struct netvsp_dev *nd);

/* What the guest can observe of a device, as plain data (no host pointers,
 * fds or iovecs): what a saved state needs (docs/vm-state.md, "The device
 * lifecycle contract"). Consistent only while the device is not driven
 * (the NIC quiesced). A restore derives the host pointers again: the
 * buffers from their GPADL ids, the stalled packet's stream from its
 * section and guest pages. Not in here: the rings (guest RAM, their host
 * indices are the VMBus channel's), configuration (MAC, MTU, offload
 * capabilities: the VM's), counters. */
struct netvsp_dev_state {
        /* NVSP (§7.3) */
        uint32_t nvsp_version;       /* negotiated; 0 before INIT */
        uint32_t ndis_major, ndis_minor;
        uint32_t guest_mtu;          /* SEND_NDIS_CONFIG */
        uint64_t guest_caps;

        /* the receive buffer (§7.3 step 5, §7.4) */
        bool recv_buf;               /* mapped; the fields below are valid */
        uint32_t recv_gpadl;
        uint32_t recv_slot_size, recv_slots; /* sub_alloc_size, num_sub_allocs as answered */
        uint32_t recv_generation;    /* of the last transfer-page id handed out */
        uint32_t recv_posted_slots;  /* slots the guest holds (netvsp_dev_get_rx_slots) */
        /* vRSS: this channel's range [recv_first, recv_first + recv_slots) of
         * the recv_total slots, one of rx_split ranges */
        uint32_t recv_first, recv_total, rx_split;
        uint32_t sub_index;          /* 0: the primary channel */
        uint32_t subs_offered;       /* the primary: sub-channels offered */
        /* Filled slots not yet announced (the ring was full); byte_offset =
         * slot * recv_slot_size. */
        uint32_t rx_batch_n;
        struct {
                uint32_t slot, byte_count;
        } rx_batch[NETVSP_RX_BATCH_MAX];

        /* the send buffer (§7.3 step 6) */
        bool send_buf;
        uint32_t send_gpadl, send_sections;

        /* RNDIS (§7.4, §7.5) */
        uint32_t rndis_state;        /* enum rndis_state */
        uint8_t current_mac[6];
        bool link_up;                /* the media state the guest was told */
        bool backend_link_up;        /* the TAP's, as last passed to netvsp_set_link */
        bool link_indication;        /* an INDICATE_STATUS for link_up is still owed */
        uint32_t packet_filter;
        struct rndis_offload_state offload;
        bool rss_enabled;
        uint32_t rss_hashinfo, rss_table_len;
        uint8_t rss_key[NDIS_RSS_HASH_KEY_SIZE];
        uint32_t rss_table[NDIS_RSS_INDIRECTION_MAX_ENTRIES];

        /* owed to the guest */
        uint32_t n_comps;            /* completions waiting for ring space, oldest first */
        struct {
                uint64_t trans_id;
                uint32_t len;
                uint8_t msg[NVSP_MESSAGE_SIZE];
        } comps[NETVSP_COMP_QUEUE];
        uint32_t n_ctrl;             /* RNDIS responses/indications waiting for a slot */
        struct {
                uint32_t len;
                uint8_t data[NETVSP_CTRL_MSG_MAX];
        } ctrl[NETVSP_CTRL_QUEUE];
        /* A SEND_RNDIS_PKT stopped by a full TAP: its frames before pos went
         * out, the walk resumes at pos, the completion is owed. The stream is
         * the section's first section_size bytes (section_index
         * NVSP_INVALID_SECTION_INDEX: none) followed by the pages. */
        struct {
                bool active, want_comp;
                uint64_t trans_id;
                uint32_t status;     /* NVSP status of the owed completion */
                uint32_t msgs;       /* RNDIS messages walked */
                uint64_t pos;        /* stream offset of the next message */
                uint32_t section_index, section_size;
                uint32_t n_pages;
                struct netvsp_gpa_page pages[NETVSP_MAX_GPA_PAGES];
        } stall;
};

void netvsp_dev_get_state(const struct netvsp_dev *nd, struct netvsp_dev_state *out);

/* ---- the saved state (docs/vm-state.md, docs/saved-state.md "NVCH") ----
 * One section per open channel (instance: relid), written through the
 * VMBus provider hooks: netvsp_dev_state flattened, plus the receive
 * slots the guest holds, as batches (transaction id, slots), so that its
 * completions free them after the restore and no slot it holds is
 * written. A SEND_RNDIS_PKT stalled on a full TAP is not carried over: its
 * remaining frames are dropped (a NIC may lose frames) and its completion
 * is sent, so the guest loses no send completion. */
#include "common/vmstate.h"
#define NETVSP_STATE_TAG VMSTATE_TAG('N', 'V', 'C', 'H')
#define NETVSP_STATE_COMPS_BYTES (NETVSP_COMP_QUEUE * (16u + NVSP_MESSAGE_SIZE))
#define NETVSP_STATE_CTRL_BYTES (NETVSP_CTRL_QUEUE * (8u + NETVSP_CTRL_MSG_MAX))
struct netvsp_saved {
        uint8_t perm_mac[6];
        uint32_t nvsp_version, ndis_major, ndis_minor, guest_mtu;
        uint64_t guest_caps;
        bool recv_buf;
        uint32_t recv_gpadl, recv_slot_size, recv_slots, recv_generation;
        /* vRSS (absent in states without it: one range, the whole buffer) */
        uint32_t recv_first, recv_total, rx_split, sub_index, subs_offered;
        bool send_buf;
        uint32_t send_gpadl, send_sections;
        uint32_t rndis_state;
        uint8_t current_mac[6];
        bool link_up, backend_link_up, link_indication;
        uint32_t packet_filter, offload; /* offload: bits tx_csum tcp4 udp4 tcp6 udp6, lso ip4 ip6, rsc ip4 ip6 */
        bool rss_enabled;
        uint32_t rss_hashinfo;
        uint8_t rss_key[NDIS_RSS_HASH_KEY_SIZE];
        uint32_t rss_table_len;
        uint32_t rss_table[NDIS_RSS_INDIRECTION_MAX_ENTRIES];
        uint32_t comps_len; /* records: u64 trans_id, u32 len, u32 0, NVSP_MESSAGE_SIZE bytes */
        uint8_t comps[NETVSP_STATE_COMPS_BYTES];
        uint32_t ctrl_len;  /* records: u32 len, u32 0, len bytes padded to 8 */
        uint8_t ctrl[NETVSP_STATE_CTRL_BYTES];
        uint32_t rx_batch_n, rx_batch_bytes_n;
        uint32_t rx_batch_slot[NETVSP_RX_BATCH_MAX], rx_batch_bytes[NETVSP_RX_BATCH_MAX];
        /* posted batches: trans ids, each batch's slot count, the slots */
        uint32_t n_posted, n_posted_len, n_posted_slots;
        uint64_t posted_tid[NETVSP_RXBUF_MAX_SLOTS];
        uint32_t posted_len[NETVSP_RXBUF_MAX_SLOTS];
        uint32_t posted_slots[NETVSP_RXBUF_MAX_SLOTS];
        /* a stalled send: its completion is owed (frames dropped) */
        bool stall_comp;
        uint64_t stall_trans_id;
        uint32_t stall_status;
};
extern const struct vmstate_desc netvsp_saved_desc;
/* The device's state as a section (heap: sizeof is about 1 MiB). */
int netvsp_dev_save(const struct netvsp_dev *nd, const uint8_t perm_mac[6], struct vmstate_writer *w,
                    uint32_t instance);
/* Pure: every value in range and consistent: the receive slots (in range,
 * each named once, batch ids naming their first slot, lengths adding up in
 * 64 bits), the queues (the owed completions and the stalled send's fit
 * NETVSP_COMP_QUEUE). What it accepts the restore can apply in full. */
int netvsp_saved_decode(const struct vmstate_section *s, struct netvsp_saved *out, char *err, size_t errlen);
/* On a fresh device: maps the buffers again (host ops map_gpadl), rebuilds
 * the receive slots and queues, queues the stalled send's completion; sends
 * nothing (the first netvsp_process posts what is owed). On failure nothing
 * is applied: what was mapped is unmapped again. */
int netvsp_dev_restore(struct netvsp_dev *nd, const struct netvsp_saved *st, char *err, size_t errlen);
/* Which transfer-page packet holds each receive slot: owner[i] is the
 * transaction id of the posted batch slot i belongs to, 0 when the host
 * has it. Fills min(n, slots) entries; returns the slot count (0 without a
 * receive buffer). */
uint32_t netvsp_dev_get_rx_slots(const struct netvsp_dev *nd, uint64_t *owner, uint32_t n);

const struct netvsp_stats *netvsp_dev_stats(const struct netvsp_dev *nd);
const struct rndis_device *netvsp_dev_rndis(const struct netvsp_dev *nd);
uint32_t netvsp_dev_version(const struct netvsp_dev *nd);
const struct netvsp_rxbuf *netvsp_dev_rxbuf(const struct netvsp_dev *nd);

/* The TAP as a backend (be_ctx = struct tap *). */
extern const struct netvsp_backend_ops netvsp_tap_backend;
