/* SPDX-License-Identifier: MIT */
/* The VMBus server (root side of docs/hyperv-guest-interface.md §4): one per
 * VM. It answers the guest's channel-management messages, offers the
 * devices vmwp adds, keeps GPADLs and maps ring pairs for providers
 * (vmbus/provider.h). It reaches the guest only through struct
 * vmbus_host_ops (vmbus/host.h). docs/vmbus.md describes the state machine,
 * the limits and the threading model. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/guid.h"
#include "vmbus/host.h"
#include "vmbus/provider.h"

struct vmbus_server;

/* Hard limits on what a guest (or the configuration) can make the server
 * allocate. Zero fields take the defaults in brackets. */
struct vmbus_limits {
        unsigned max_channels;        /* live relids incl. sub-channels [256, at most 2047] */
        unsigned max_gpadl_pages;     /* pages in one GPADL [8190 = the wire maximum] */
        unsigned max_gpadls_per_channel; /* [32] */
        unsigned max_gpadls;          /* GPADLs per VM, complete or not [1024] */
        unsigned max_total_gpadl_pages; /* pages over all GPADLs of the VM [32768 = 128 MiB] */
        unsigned max_pending_gpadls;  /* GPADLs still waiting for bodies [16] */
};

/* A guest's hv_sock connect (CHANNELMSG_TL_CONNECT_REQUEST, §4.12): the
 * endpoint and service GUIDs as sent. Called on a VP thread with the
 * server's locks held: queue the request and return at once; never call
 * the server from it. The answer is a hot-added device whose class is the
 * service and whose instance is the endpoint, or
 * vmbus_server_tl_connect_result() with a failure status. */
typedef void (*vmbus_tl_connect_fn)(void *opaque, const struct guid *endpoint, const struct guid *service);

struct vmbus_server_config {
        unsigned vp_count; /* VP indices the guest may name: 0 .. vp_count-1 */
        struct vmbus_limits limits;
        /* Optional: without it every TL_CONNECT_REQUEST is refused. */
        vmbus_tl_connect_fn tl_connect;
        void *tl_connect_opaque;
};

/* Creates the server and registers its message handlers for connection
 * ids 1 and 4 (§4.2) with the host. host must outlive the server. */
int vmbus_server_new(const struct vmbus_server_config *cfg, const struct vmbus_host_ops *ops, void *host,
                     struct vmbus_server **out);
/* Closes every channel, destroys every device, unmaps everything and
 * unregisters the handlers. Accepts NULL. Call it with the VPs stopped or
 * paused: a message handler already running on a VP thread must not outlive
 * the server. */
void vmbus_server_free(struct vmbus_server *srv);

/* The entry point the host's message handler calls (HvPostMessage on a
 * connection id of ours); returns the hypercall status. Exposed for tests
 * and fuzzers; vmbus_host_ops.set_message_handler wires it up otherwise. */
uint16_t vmbus_server_handle_message(struct vmbus_server *srv, uint32_t connection_id, unsigned vp_index,
                                     const void *msg, size_t len);

/* ---- devices (from the VM configuration) ------------------------------- */

struct vmbus_device_config {
        const struct vmbus_provider_ops *ops;
        /* The offer's if_type when not ops->class_id (hv_sock: one device
         * per connection, its class the service GUID). NULL: ops->class_id. */
        const struct guid *class_id;
        struct guid instance_id; /* stable, from the VM configuration; unique per class */
        /* The instance an older version offered this device with (all
         * zero: none). A restored state that names it keeps it: the
         * guest's offer stays as it was (vmbus_server_restore). */
        struct guid former_instance;
        void *data;              /* the provider's device state: vmbus_device_data() */
        /* Optional offer user_def bytes (IDE accelerator path/target); for
         * pipe-mode providers the first 4 bytes are pipe_mode. */
        const uint8_t *user_def;
        size_t user_def_len; /* <= 120 */
};

/* Adds a device: offered at the guest's next REQUESTOFFERS, or at once (hot
 * add) if the guest already asked for offers. -EEXIST for a duplicate
 * class+instance, -ENOSPC without a free relid, -EINVAL for bad ops. On
 * failure the provider's destroy is not called. */
int vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_device_config *cfg,
                            struct vmbus_device **out);
/* Hot remove: closes its open channels (provider close), rescinds the
 * offers (RESCIND_CHANNELOFFER; the relids return once the guest sends
 * RELID_RELEASED), then calls the provider's destroy. dev is gone
 * afterwards. -EBUSY while the guest is not taking messages (retry later). */
int vmbus_server_remove_device(struct vmbus_server *srv, struct vmbus_device *dev);

/* Refuse a guest's TL_CONNECT_REQUEST (status < 0, an NTSTATUS such as
 * 0xC0000236 STATUS_CONNECTION_REFUSED) with TL_CONNECT_RESULT. Any thread
 * but the tl_connect callback. -ENOTCONN if the guest is not connected. */
int vmbus_server_tl_connect_result(struct vmbus_server *srv, const struct guid *endpoint,
                                   const struct guid *service, int32_t status);
/* The offer's class of a device (ops->class_id or the config's). */
const struct guid *vmbus_device_class(const struct vmbus_device *dev);

/* VM reset: close every channel and forget the guest's state as UNLOAD
 * does, without answering anything. Devices stay and are offered again. */
void vmbus_server_reset(struct vmbus_server *srv);

/* ---- message back-pressure --------------------------------------------- */

/* When a VP's SynIC queue is full (post_message -ENOBUFS), the server keeps
 * its replies in order and refuses new guest messages with
 * HV_STATUS_INSUFFICIENT_BUFFERS (the guest retries). This timerfd becomes
 * readable while replies wait; the owner then calls
 * vmbus_server_dispatch(), which retries them. Returns the replies still
 * waiting. */
int vmbus_server_fd(const struct vmbus_server *srv);
int vmbus_server_dispatch(struct vmbus_server *srv);

/* ---- quiesce (docs/vm-state.md) --------------------------------------- */

/* With the VPs parked: holds every message to the guest (offers of
 * hot-added devices and sub-channels, rescinds, deferred replies) in the
 * reply queue, in order. Guest messages are refused with
 * HV_STATUS_INSUFFICIENT_BUFFERS (the guest retries). The providers'
 * channels are served on their device workers, which their own device
 * rows quiesce (vmwp quiesces the rows last first: the providers before
 * this server). Idempotent; returns 0. */
int vmbus_server_quiesce(struct vmbus_server *srv);
/* Posts what was held (exactly once, in order; what finds the SynIC queue
 * full waits as a deferred reply does). */
void vmbus_server_resume(struct vmbus_server *srv);

/* ---- saved state (docs/vm-state.md, docs/saved-state.md) -------------- */

/* Quiesced server (-EBUSY otherwise): writes the connection (version,
 * message VP, offers requested), every channel (relid, device class and
 * instance, sub-channel index, state; for open ones the ring GPADL, its
 * split, target VP, open id and the OPENCHANNEL user data), every GPADL
 * (handle, owner relid, state, ranges and PFNs; a pending one's bytes so
 * far) and the messages held for the guest, as plain data; then each open
 * channel's provider state through ops->save_channel. -EOPNOTSUPP (naming
 * the provider) if an open channel's provider cannot save. */
int vmbus_server_save(struct vmbus_server *srv, struct vmstate_writer *w, char *err, size_t errlen);
/* On a server that has seen no guest message, with the same devices added
 * in the same order (the same configuration): decodes every VMBus section
 * of secs (the whole file's index) with pure, fuzzed functions and checks
 * them against this server (each saved device exists, relids, limits)
 * before changing anything; then rebuilds relids, GPADLs (pages mapped
 * again), channels (open ones through the provider's restore_channel) and
 * the held messages. The server is left quiesced: vmbus_server_resume
 * posts the held messages (the providers' rows resume their channels). On failure the
 * server is as it was built (nothing restored) and err names the section
 * and field. */
int vmbus_server_restore(struct vmbus_server *srv, const struct vmstate_section *secs, size_t n, char *err,
                         size_t errlen);

/* ---- observation ------------------------------------------------------- */

struct vmbus_server_stats {
        uint64_t messages;        /* guest messages received */
        uint64_t bad_messages;    /* wrong length or unknown type: dropped */
        uint64_t unexpected;      /* valid but not in this state: refused or dropped */
        uint64_t refused_busy;    /* answered with HV_STATUS_INSUFFICIENT_BUFFERS */
        uint64_t replies_posted, replies_deferred, replies_dropped;
        uint64_t gpadls_created, gpadls_failed, gpadls_torn_down;
        uint64_t opens, open_failures, closes, rescinds, unloads;
        uint64_t channels_broken; /* rings found corrupt or providers that stopped */
        uint64_t tl_connects;     /* hv_sock connect requests taken (§4.12) */
};
void vmbus_server_get_stats(struct vmbus_server *srv, struct vmbus_server_stats *out);

/* The negotiated version (0 while not connected). */
uint32_t vmbus_server_version(struct vmbus_server *srv);
/* Live GPADLs (complete or pending) and their pages. */
void vmbus_server_gpadl_usage(struct vmbus_server *srv, unsigned *gpadls, unsigned *pages);
/* The channel with this relid if it is open (tests, diagnostics). Not a
 * reference: only valid while the caller keeps the channel open. */
struct vmbus_channel *vmbus_server_open_channel(struct vmbus_server *srv, uint32_t relid);
/* The channel is no longer served: its ring was found corrupt or its
 * provider failed (§5). The guest can still close it. Any thread. */
bool vmbus_channel_failed(const struct vmbus_channel *ch);

/* The server's row of the worker's device table (common/device.h), after
 * hvshim's and before its providers'; its dev is the struct vmbus_server.
 * The providers' channels are saved and restored through it. */
extern const struct device_ops vmbus_server_device_ops;
