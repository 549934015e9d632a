/* SPDX-License-Identifier: MIT */
/* A single-channel VMBus device (as OpenVMM's SimpleVmbusDevice,
 * vmbus_channel/src/simple.rs): the plumbing every device with one
 * primary channel and no sub-channels writes the same way, served on the
 * owner's device worker (common/devworker.h) under the owner's lock:
 *
 *   - the provider callbacks (open, close, save_channel, restore_channel:
 *     put VMBUS_SIMPLE_PROVIDER in the device's vmbus_provider_ops),
 *   - the doorbell as a source of the owner's worker, added and removed on
 *     that thread (devworker_call, never with the lock held),
 *   - the packet loop (recv batch, re-check after publishing read_index,
 *     §5.5), bounded per callback so a pause never waits for a busy guest,
 *   - the channel's saved-state section: find it by tag and relid, decode
 *     (the device's pure decoder), refuse a sub-channel, quiesce the owner,
 *     take the state, come back quiesced and serve once at resume.
 *
 * The device embeds one struct vmbus_simple per channel (the keyboard and
 * the mouse: one each; the integration services: one per service, all on
 * one worker and one lock), passes &its_simple as the vmbus_device_config's
 * .data, and gets back to its own struct with container_of. Its protocol
 * stays its own: the hooks below. vsp/dm, vsp/video, vsp/input and vsp/ic
 * use it; docs/vmbus.md "Single-channel devices". */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmbus/provider.h"

struct devworker;
struct dw_source;
struct vmbus_packet;
struct vmbus_simple;

struct vmbus_simple_ops {
        /* In error messages: "dynamic memory: not quiesced". */
        const char *name;
        /* The channel's saved-state section (its tag; the instance is the
         * relid) and the size of the struct it decodes into. */
        const struct vmstate_desc *state;
        size_t state_size;

        /* ---- with the owner's lock held ---------------------------------- */

        /* The guest opened the channel (sc->ch is set): start the channel's
         * state afresh. A host that speaks first sends here. Return 0, or
         * -errno to fail the open (sc->ch is cleared again). Optional. */
        int (*opened)(struct vmbus_simple *sc);
        /* One packet of the guest's, any type (p->type), valid until the
         * hook returns; NULL for one longer than the receive buffer, which
         * was skipped. Required. */
        void (*packet)(struct vmbus_simple *sc, const struct vmbus_packet *p);
        /* After each serve of the ring (doorbell or vmbus_simple_poll):
         * answers owed, queued events, the next request. Optional. */
        void (*served)(struct vmbus_simple *sc);
        /* The channel closed (sc->ch is NULL already). quiet: it was the
         * undo of a refused restore (restored, never resumed), which must
         * tell the owner nothing. Optional. */
        void (*closed)(struct vmbus_simple *sc, bool quiet);
        /* The channel's state now into st (zeroed, state_size bytes), for
         * its section. Return 0, or -errno with a sentence in err to refuse
         * the save. Required with state. */
        int (*save)(struct vmbus_simple *sc, void *st, char *err, size_t errlen);
        /* Take the decoded, checked st as the channel's state (sc->ch is
         * set, sc->restored true). Required with state. */
        void (*restore)(struct vmbus_simple *sc, const void *st);

        /* ---- without the lock --------------------------------------------- */

        /* Pure: decode and check the section into st (the device's fuzzed
         * decoder). Required with state. */
        int (*decode)(const struct vmstate_section *s, void *st, char *err, size_t errlen);
        /* After decode: check st against this device (its configuration,
         * its other channels) and map what it names (video's VRAM), before
         * the owner is quiesced. Return 0, or -errno with a sentence.
         * Optional. */
        int (*check)(struct vmbus_simple *sc, const void *st, uint32_t relid, char *err, size_t errlen);
        /* Park the owner's worker (its quiesce: idempotent). Required with
         * state: a restored channel comes back quiesced. */
        int (*quiesce)(struct vmbus_simple *sc);
};

struct vmbus_simple {
        /* vmbus_simple_init's */
        const struct vmbus_simple_ops *ops;
        pthread_mutex_t *lock;
        struct devworker *w;
        uint8_t *rxbuf;
        size_t rxlen;
        /* With the lock: the open channel (NULL while closed), and whether
         * it was restored and not yet resumed (the owner's resume clears
         * it, vmbus_simple_resumed). */
        struct vmbus_channel *ch;
        bool restored;
        /* The doorbell source: the worker's thread only. */
        struct dw_source *doorbell;
};

/* Before the device is added to the server. rxbuf (rxlen bytes, the
 * longest packet read with its descriptor) may be shared by channels under
 * the same lock. */
void vmbus_simple_init(struct vmbus_simple *sc, const struct vmbus_simple_ops *ops, pthread_mutex_t *lock,
                       struct devworker *w, uint8_t *rxbuf, size_t rxlen);

/* Lock held: serve the ring now if the channel is open (a tick's poll: a
 * missed doorbell cannot strand a message). A guest that keeps writing is
 * served on from the doorbell. */
void vmbus_simple_poll(struct vmbus_simple *sc);
/* Lock held, from the owner's resume: the channel is no longer a restore
 * that may be undone; serve it once (the guest may have written while it
 * was quiesced or saved). */
void vmbus_simple_resumed(struct vmbus_simple *sc);

/* The provider callbacks (vmbus/provider.h); the device's data must be its
 * struct vmbus_simple. */
int vmbus_simple_open(struct vmbus_channel *ch, const struct vmbus_open_request *req);
void vmbus_simple_close(struct vmbus_channel *ch);
int vmbus_simple_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen);
int vmbus_simple_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                                 const struct vmstate_section *secs, size_t n, char *err, size_t errlen);

#define VMBUS_SIMPLE_PROVIDER                                                                      \
        .drive = VMBUS_DRIVE_EVENTFD, .open = vmbus_simple_open, .close = vmbus_simple_close,     \
        .save_channel = vmbus_simple_save_channel, .restore_channel = vmbus_simple_restore_channel
