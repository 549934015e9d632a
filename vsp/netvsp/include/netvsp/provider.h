/* SPDX-License-Identifier: MIT */
/* netvsp as a VMBus provider (vmbus/provider.h, docs/netvsp.md "The VMBus
 * provider glue"). One struct netvsp_nic per configured NIC owns its TAP
 * (created, opened by name, or adopted from vmms) and its link watch; vmwp
 * adds it with vmbus_server_add_device(.ops = &netvsp_provider_ops,
 * .data = nic). When the guest opens the channel a netvsp_dev and one device
 * worker (common/devworker.h) are created for it: the worker waits on the
 * guest's doorbell, the TAP (read and/or write, as the device wants) and the
 * link watch; it drains the ring in batches, publishes once (and every
 * 128 KiB sent within a batch, so a guest with every buffer in flight gets
 * its completions while large sends go out) and signals the guest at most
 * once per publish (§5.6), and while traffic flows it keeps
 * polling for a while with the guest's signals masked (§5.5). Close stops
 * and joins the worker before it returns. vmwp quiesces and resumes the NIC
 * around a save (docs/vm-state.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "netvsp/netvsp.h"
#include "netvsp/tap.h"
#include "vmbus/provider.h"

extern const struct vmbus_provider_ops netvsp_provider_ops;

#define NETVSP_GUEST_MAX_PACKET 4624u /* netvsc's max_pkt_size (§5.4) */
#define NETVSP_DEFAULT_POLL_US 50u

/* Host pointers to guest RAM for GPA-direct pages (vmwp: gm_map on the
 * partition). map must fail with -EFAULT outside RAM and may be called from
 * the channel thread at any time while a channel is open. */
struct netvsp_guest_memory {
        int (*map)(void *opaque, uint64_t gpa, size_t len, void **host);
        void *opaque;
};

struct rss_steer_map;

struct netvsp_nic_config {
        struct netvsp_config dev;  /* MAC, MTU, offloads, batching (netvsp_config_from_vm_nic) */
        struct tap_config tap;     /* used when tap_fd < 0: create, or open by name */
        int tap_fd;                /* >= 0: a TAP fd from vmms; owned by the NIC from netvsp_nic_new on */
        /* vRSS with a multi-queue TAP: the other queues' fds from vmms (with
         * tap_fd; owned by the NIC from netvsp_nic_new on), queue i for
         * sub-channel i. A NIC that creates its TAP opens dev.queues queues
         * itself. Sub-channels without a queue of their own only transmit
         * (on queue 0); frames for the guest then all arrive on the primary. */
        int queue_fds[NETVSP_MAX_QUEUES - 1];
        uint32_t n_queue_fds;
        /* The TAP's RSS steering map (common/rss-steer.h), mapped; NULL: none
         * (tun's flow table steers). With it, frames for the guest go to the
         * channel its RSS parameters name: the NIC keeps the map filled with
         * them and with each channel's queue index (docs/netvsp.md "vRSS",
         * step 7). Only with tap_fd and queue_fds from vmms, all attached in
         * order; owned by the NIC from netvsp_nic_new on. A NIC that opens
         * its TAP itself (tap_fd -1, vmwp --config) attaches the program
         * and makes the map itself where it may (CAP_BPF); one given then
         * is unmapped. */
        struct rss_steer_map *steer;
        struct netvsp_guest_memory gm;
        /* Keep polling this long after the last progress with the guest's
         * doorbells masked (0: NETVSP_DEFAULT_POLL_US; UINT32_MAX: never poll). */
        unsigned poll_us;
        /* Called first thing on each channel worker's thread with the policy
         * name "netvsp" (vmwp: sandbox_thread_hook, docs/sandbox.md); NULL: none.
         * A failure leaves the thread under its creator's filter (counted). */
        int (*thread_policy)(void *opaque, const char *policy);
        void *thread_policy_opaque;
        /* Bandwidth caps, bits/s, 0: none (docs/netvsp.md "Bandwidth caps");
         * in = host -> guest, out = guest -> host. */
        uint64_t max_in_bps, max_out_bps;
};

struct netvsp_nic;

/* Opens (or adopts) the TAP and starts watching its link. A TAP fd without
 * IFF_VNET_HDR works without offloads (they are taken out of cfg->dev).
 * On failure the fd is closed and *why (if given) names the step. */
int netvsp_nic_new(const struct netvsp_nic_config *cfg, struct netvsp_nic **out, const char **why);
/* Accepts NULL. After a successful vmbus_server_add_device the server frees
 * the NIC (ops destroy); otherwise the caller does. */
void netvsp_nic_free(struct netvsp_nic *nic);
const char *netvsp_nic_tap_name(const struct netvsp_nic *nic);
/* Changes the bandwidth caps (bits/s, 0: none) of a NIC whose channels
 * may be running; they hold from each channel's next frame (a channel held
 * by the old cap looks again within NETVSP_QOS_RECHECK_US). -EINVAL if
 * either is out of range (netvsp_qos_check); nothing changes then. */
int netvsp_nic_set_qos(struct netvsp_nic *nic, uint64_t max_in_bps, uint64_t max_out_bps);

struct netvsp_nic_stats {
        uint64_t opens, closes;
        uint64_t batches;        /* serve() rounds */
        uint64_t early_publishes; /* completions published inside a round (every 128 KiB sent) */
        uint64_t polls;          /* idle rounds spent polling */
        uint64_t sleeps;         /* epoll waits */
        uint64_t doorbells;      /* wake-ups by the guest's doorbell */
        uint64_t link_changes;   /* TAP state changes passed to the device */
        uint64_t channels_broken; /* rings found corrupt: the channel is no longer served */
        uint64_t thread_policy_failures;
        uint64_t queue_attach_failures; /* a sub-channel's TAP queue could not be attached (it drops frames) */
        bool link_up;            /* what the guest was last told */
        bool rss_steering;       /* a steering program on the TAP follows the guest's RSS table (cfg.steer) */
        bool tap_removed;
        struct netvsp_stats dev; /* the channels' device counters, summed (a closed channel's last ones) */
        struct netvsp_stats queue[NETVSP_MAX_QUEUES]; /* per channel (sub_channel_index) */
};
/* A consistent snapshot (the channel worker updates it once per round). */
void netvsp_nic_get_stats(struct netvsp_nic *nic, struct netvsp_nic_stats *out);

/* ---- quiesce, resume, state (docs/vm-state.md) ---- */

/* Stops the NIC touching guest state. When it returns, and until
 * netvsp_nic_resume, netvsp reads no guest ring, writes nothing into guest
 * RAM (no received frame, completion or indication), signals no interrupt
 * and reads no frame from the TAP (frames wait in the kernel's queue,
 * which drops past its length as a NIC's FIFO would). Guest frames already
 * written to the TAP stay sent; their completions not yet in the ring are
 * kept and posted after resume, as are link changes seen meanwhile.
 * Idempotent, prompt under load (the worker finishes at most the round it
 * is in, and a ring drain stops at the request). Also without an open
 * channel: one opened while quiesced starts parked, and close works while
 * quiesced. Returns 0 (-EDEADLK on the channel worker itself). */
int netvsp_nic_quiesce(struct netvsp_nic *nic);
/* After a restore (docs/vm-state.md): the NIC counts as quiesced, its
 * channel (restored through the VMBus hooks) waits for netvsp_nic_resume. */
int netvsp_nic_restored(struct netvsp_nic *nic);
void netvsp_nic_resume(struct netvsp_nic *nic);

/* What a save of the NIC needs, as plain data (netvsp/netvsp.h). */
struct netvsp_nic_state {
        bool channel_open;   /* false: nothing below is set */
        bool channel_broken; /* its ring was found corrupt: no longer served */
        struct netvsp_dev_state dev;
};
/* A consistent snapshot, taken on the channel worker (while quiesced: what
 * a save writes; otherwise one moment of a moving device). */
void netvsp_nic_get_state(struct netvsp_nic *nic, struct netvsp_nic_state *out);
/* netvsp_dev_get_rx_slots of the open channel (0 without one). */
uint32_t netvsp_nic_get_rx_slots(struct netvsp_nic *nic, uint64_t *owner, uint32_t n);

/* A NIC's row of the worker's device table (common/device.h), after the
 * VMBus server's; its dev is the struct netvsp_nic. */
extern const struct device_ops netvsp_nic_device_ops;
