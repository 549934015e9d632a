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

struct netvsp_config {
        struct rndis_config rndis; /* MAC, MTU, link speed, offload capabilities */
        uint32_t send_section_size;
        uint32_t rx_batch_max;     /* 1..NETVSP_RX_BATCH_MAX */
        uint32_t rx_budget;        /* frames read per netvsp_process() call */
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
};

/* The frame backend; iov[0] is always a struct virtio_net_hdr (10 bytes).
 * tx: 0 taken, -EAGAIN full, -ENODEV gone, other: this frame refused.
 * rx: bytes read including the header, -EAGAIN empty, -ENODEV gone. */
struct netvsp_backend_ops {
        int (*tx)(void *be, const struct iovec *iov, int n);
        ssize_t (*rx)(void *be, const struct iovec *iov, int n);
};

/* netvsp_process() result bits: what to wait for before calling it again. */
#define NETVSP_WANT_BACKEND_RX (1u << 0) /* poll the backend for POLLIN */
#define NETVSP_WANT_BACKEND_TX (1u << 1) /* poll the backend for POLLOUT */
#define NETVSP_WANT_RING_SPACE (1u << 2) /* host -> guest ring was full */

struct netvsp_stats {
        uint64_t tx_packets, tx_bytes, tx_dropped, tx_malformed, tx_stalls;
        uint64_t rx_packets, rx_bytes, rx_filtered, rx_dropped, rx_truncated;
        uint64_t ctrl_requests, ctrl_dropped, bad_packets, bogus_completions, ring_full;
};

struct netvsp_dev;

int netvsp_dev_new(const struct netvsp_config *cfg, const struct netvsp_host_ops *host, void *host_ctx,
                   const struct netvsp_backend_ops *be, void *be_ctx, struct netvsp_dev **out);
/* Unmaps the buffers; accepts NULL. */
void netvsp_dev_free(struct netvsp_dev *nd);

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

/* Backend link state (TAP admin up && carrier && present). */
void netvsp_set_link(struct netvsp_dev *nd, bool up);

const struct netvsp_stats *netvsp_dev_stats(const struct netvsp_dev *nd);
const struct rndis_device *netvsp_dev_rndis(const struct netvsp_dev *nd);
uint32_t netvsp_dev_version(const struct netvsp_dev *nd);
const struct netvsp_rxbuf *netvsp_dev_rxbuf(const struct netvsp_dev *nd);

/* The TAP as a backend (be_ctx = struct tap *). */
extern const struct netvsp_backend_ops netvsp_tap_backend;
