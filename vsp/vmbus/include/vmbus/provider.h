/* SPDX-License-Identifier: MIT */
/* The provider API: what a VSP (storvsp, netvsp, the integration services)
 * implements, and what it may call. docs/vmbus.md has the threading model
 * and a worked example; read it before writing a provider.
 *
 * A provider is a const struct vmbus_provider_ops (one per device class).
 * vmwp adds one device per configured instance with vmbus_server_add_device()
 * (vmbus/server.h); the server offers it to the guest, and for every channel
 * the guest opens calls ops->open with the ring pair mapped and a doorbell
 * eventfd registered. From then on the provider serves the rings on its
 * device worker (common/devworker.h), the doorbell one of the worker's
 * sources, until ops->close; it quiesces, resumes, saves and restores
 * through its device row (struct device_ops, common/device.h). A
 * single-channel device does all of this through vmbus/simple.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/guid.h"
#include "vmbus/ring.h"

struct vmbus_device;
struct vmbus_channel;
struct vmbus_gpadl;
struct vmstate_writer;
struct vmstate_section;

/* Who waits for the guest's doorbell (HvSignalEvent on the channel's
 * connection id). There is one way: the provider watches
 * vmbus_channel_event_fd() on its device worker (or its io_uring); the
 * library starts no thread. */
enum vmbus_drive {
        VMBUS_DRIVE_EVENTFD,
};

/* What the guest sent in OPENCHANNEL (§4.6). */
struct vmbus_open_request {
        uint16_t sub_channel_index; /* 0 = primary */
        uint32_t target_vp;
        const uint8_t *userdata; /* 120 bytes (storvsc: 24 zero bytes of properties) */
        size_t userdata_len;
};

struct vmbus_provider_ops {
        const char *name;
        struct guid class_id;    /* the offer's if_type (§4.11) */
        uint16_t chn_flags;      /* offer chn_flags: 0 for SCSI/NIC; ICs: NAMED_PIPE_MODE | ENUMERATE_DEVICE_INTERFACE */
        uint32_t pipe_mode;      /* with NAMED_PIPE_MODE: VMBUS_PIPE_TYPE_MESSAGE (written at user_def[0]) */
        uint16_t mmio_megabytes; /* 0 for storage, network and ICs */
        /* The guest's max_pkt_size on this class's host->guest rings (§5.4):
         * storvsc 80, netvsc 4624, util 4096, KVP 16384. The ring library
         * refuses to write longer packets. Required. */
        uint32_t guest_max_packet;
        /* Most sub-channels vmbus_device_offer_subchannels may create per
         * device (0: none). At most VMBUS_MAX_SUBCHANNELS. */
        uint16_t max_subchannels;
        enum vmbus_drive drive;

        /* The guest opened a channel of the device. The ring pair is mapped
         * and may be written already (an IC sends its negotiate here). Return
         * 0, or -errno to fail the open (the guest gets a failure status).
         * Runs on a VP thread with the server's control path serialised: be
         * brief, never wait for the guest. */
        int (*open)(struct vmbus_channel *ch, const struct vmbus_open_request *req);
        /* The channel is being closed (CLOSECHANNEL, rescind, unload, reset,
         * server teardown). When this returns the provider must no longer
         * touch the ring pair nor call anything on ch: the pages are unmapped
         * right after. GPADL references it holds stay valid until put. Take
         * the doorbell off the device worker first (devworker_call), so
         * that no callback of the channel runs after this returns. */
        void (*close)(struct vmbus_channel *ch);
        /* The guest disconnected (UNLOAD, a new INITIATE_CONTACT, VM reset):
         * all channels are closed; go back to the state before the first
         * open. Optional. */
        void (*reset)(struct vmbus_device *dev);
        /* The device is being removed (hot remove, server teardown), after
         * close and reset. Free the provider's device state. Optional. */
        void (*destroy)(struct vmbus_device *dev);

        /* ---- saved state (docs/vm-state.md) ------------------------------
         * The channel level of a provider's state, under its device row
         * (struct device_ops, common/device.h): the VMBus server's row calls
         * these for each open channel, and the provider defines them in its
         * state.c beside its row's ops, whose tags list the channel
         * sections too. Optional; a save is refused (-EOPNOTSUPP, naming
         * the provider) while a channel of a provider without them is
         * open. */

        /* With the server quiesced (vmbus_server_quiesce) and the provider's
         * device worker parked (its row's quiesce): write this open channel's
         * provider state as plain data (versions, counters, GPADL handles,
         * owed completions; never pointers or fds), one or more sections
         * whose instance is vmbus_channel_relid(ch). */
        int (*save_channel)(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen);
        /* Called by vmbus_server_restore instead of open, for a channel that
         * was open when saved: the ring pair is mapped again over the same
         * guest pages (whose bytes are the restored guest RAM), the doorbell
         * is registered and every GPADL exists again (vmbus_channel_gpadl_get
         * works). secs is the whole file's index (vmstate_index); find the
         * sections with instance vmbus_channel_relid(ch). Decode them all
         * first (pure, fuzzed), then rebuild the channel's state without
         * anything the guest can see: no ring write, no signal, no message.
         * The channel comes back quiesced: it serves nothing until resumed
         * (its device row's resume, not the server's).
         * On resume, serve the ring once before waiting for a doorbell: the
         * guest may have queued packets with its interrupt mask set.
         * Return 0, or -errno with a sentence naming the section and field;
         * on failure nothing of the channel may be kept (close is not
         * called). */
        int (*restore_channel)(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                               const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
};

#define VMBUS_MAX_SUBCHANNELS 64u

/* ---- device ------------------------------------------------------------ */

void *vmbus_device_data(const struct vmbus_device *dev);
const struct guid *vmbus_device_instance(const struct vmbus_device *dev);
/* Offer n more sub-channels (same class and instance, sub_channel_index
 * continuing from the last, §6.7/§7.8). Any thread; typically the primary
 * channel's thread on the guest's request. All or nothing: returns n, or
 * -EINVAL past max_subchannels, -ENOSPC without relids, -ENOTCONN unless the
 * primary channel is open, -ENOBUFS if the offers cannot be queued. Never
 * promise the guest more than this returned (netvsc waits for all of them). */
int vmbus_device_offer_subchannels(struct vmbus_device *dev, unsigned n);
/* Channels of the device: index 0 is the primary. */
unsigned vmbus_device_channel_count(struct vmbus_device *dev);

/* ---- channel (valid from open until close returns) --------------------- */

struct vmbus_device *vmbus_channel_device(const struct vmbus_channel *ch);
uint16_t vmbus_channel_subchannel_index(const struct vmbus_channel *ch);
uint32_t vmbus_channel_relid(const struct vmbus_channel *ch);
/* Per-channel provider state: set in open, read anywhere. */
void vmbus_channel_set_data(struct vmbus_channel *ch, void *data);
void *vmbus_channel_data(const struct vmbus_channel *ch);
/* The mapped ring pair; the provider owns both sides of it. */
struct vmbus_ring_pair *vmbus_channel_rings(struct vmbus_channel *ch);
/* The doorbell: readable (eventfd counter) when the guest signalled. */
int vmbus_channel_event_fd(const struct vmbus_channel *ch);
/* Raise the channel's guest event now (the ring library does this itself
 * where §5.6 requires it). Lock-free, any thread. */
void vmbus_channel_signal(struct vmbus_channel *ch);

/* ---- guest memory ------------------------------------------------------ */

/* A GPADL the guest created on any channel of this channel's device, by
 * handle (netvsc: its receive and send buffers). The reference keeps the
 * pages mapped: a guest teardown is answered only once every reference is
 * put (§4.5: the guest waits for GPADL_TORNDOWN). -ENOENT if unknown, not
 * complete, being torn down, or another device's. */
int vmbus_channel_gpadl_get(struct vmbus_channel *ch, uint32_t handle, struct vmbus_gpadl **out);
void vmbus_gpadl_put(struct vmbus_gpadl *g);
uint32_t vmbus_gpadl_handle(const struct vmbus_gpadl *g);
/* The buffer a range of the GPADL describes (byte_offset applied), in a
 * host mapping that stays valid until the reference is put. The guest may
 * change it at any time: copy, then validate. -EINVAL past the last range. */
int vmbus_gpadl_buffer(const struct vmbus_gpadl *g, unsigned range, uint8_t **data, size_t *len);
/* After writing [offset, offset + len) of that buffer (bytes past the range
 * are ignored): its guest pages are dirty while the host tracks them (live
 * migration, docs/vm-state.md "Dirty pages"); one relaxed load otherwise.
 * Writes through the ring library and vmbus_channel_gpa_write are marked
 * already; a provider marks what it writes into a GPADL buffer itself. */
void vmbus_gpadl_mark_dirty(const struct vmbus_gpadl *g, unsigned range, size_t offset, size_t len);
unsigned vmbus_gpadl_range_count(const struct vmbus_gpadl *g);

/* Copy to/from the guest pages of a GPA-direct range (storvsc data buffers),
 * offset counted from the range's byte_offset. -EFAULT if a PFN is not RAM
 * or the span exceeds byte_count. */
int vmbus_channel_gpa_read(struct vmbus_channel *ch, const struct vmbus_gpa_range_view *r, size_t offset,
                           void *buf, size_t len);
int vmbus_channel_gpa_write(struct vmbus_channel *ch, const struct vmbus_gpa_range_view *r, size_t offset,
                            const void *buf, size_t len);
