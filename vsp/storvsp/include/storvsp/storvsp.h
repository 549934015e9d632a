/* SPDX-License-Identifier: MIT */
/* storvsp core: a synthetic SCSI controller and its VMBus channels, without
 * the VMBus itself. The provider glue (one thread per open channel) feeds
 * it the packets it reads from the ring and writes the replies it gets
 * back; everything between (the init handshake of §6.3, SCSI execution,
 * guest-buffer mapping, disk I/O through io_uring, completions) is here.
 *
 *   controller  = one VMBus SCSI device (instance GUID): a LUN table and the
 *                 protocol state shared by its channels. Several per VM.
 *   channel     = primary (index 0) or sub-channel: one io_uring, a table
 *                 of request slots (the in-flight limit), owned by one
 *                 thread. SRBs are completed on the channel they came in on.
 *
 * Per channel thread (see docs/storvsp.md for the whole loop):
 *   while packets in the ring and storvsp_channel_handle() != -EBUSY:
 *           write the reply, if any (room for one 80-byte packet is needed)
 *   storvsp_channel_submit()            one io_uring_submit for the batch
 *   storvsp_channel_reap()              completions -> replies, in batches
 *   signal the guest once per batch
 *
 * Threading: a channel is used by one thread at a time. Attach/detach may
 * be called from any thread; channels pick the new LUN table up at their
 * next call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/disk.h"
#include "hv/storvsc.h"
#include "scsi/scsi.h"

struct storvsp_controller;
struct storvsp_channel;

/* Hard limits (docs/THREAT_MODEL.md). */
#define STORVSP_MAX_ATTACHED 64u        /* LUNs per controller (VM_SCSI_LUNS_MAX) */
#define STORVSP_MAX_SUB_CHANNELS 64u    /* per controller (VID_MAX_VPS) */
#define STORVSP_MAX_QUEUE_DEPTH 1024u   /* in-flight SRBs per channel */
#define STORVSP_DEFAULT_QUEUE_DEPTH 256u
#define STORVSP_DEFAULT_MAX_TRANSFER (1024u * 1024u)

struct storvsp_controller_config {
        uint32_t max_transfer_bytes; /* advertised in QUERY_PROPERTIES; 0: 1 MiB; <= 2 MiB, 4 KiB multiple */
        uint16_t max_sub_channels;   /* offered to the guest (e.g. vCPUs - 1); 0: single channel */
        unsigned queue_depth;        /* per channel; 0: 256 */
        /* The SCSI target (path 0) at which the LUNs answer: 0 for a
         * synthetic SCSI controller; an IDE accelerator channel's device
         * position, where Linux addresses its one disk (lun 0,
         * docs/storvsp.md "IDE accelerator channels"). */
        uint8_t target;
};

int storvsp_controller_new(const struct storvsp_controller_config *cfg, struct storvsp_controller **out);
/* All channels must be freed first. Accepts NULL. */
void storvsp_controller_free(struct storvsp_controller *c);

/* Attaches disk at LUN lun of path 0, target cfg.target (hot add when the guest is
 * running: then send storvsp_build_enumerate_bus() on the primary channel).
 * Takes a reference to disk. cfg NULL: derived from the disk (size, block
 * size, read-only, discard) with serial "lun<N>". -EEXIST, -E2BIG (more
 * than STORVSP_MAX_ATTACHED), -EINVAL (lun > 254, geometry mismatch). */
int storvsp_controller_attach(struct storvsp_controller *c, unsigned lun, struct disk *disk,
                              const struct scsi_lun_config *cfg);
/* Hot remove: the LUN disappears for new commands at once (INVALID_LUN,
 * after which Linux removes the device); I/O in flight completes; the disk
 * is released when the last channel has let go of it. -ENOENT if absent. */
int storvsp_controller_detach(struct storvsp_controller *c, unsigned lun);
/* The disk at lun grew (disk_resize): its SCSI capacity follows, with a
 * pending UNIT ATTENTION, CAPACITY DATA HAS CHANGED (2Ah/09h) for the next
 * command (Linux's storvsc then rescans the disk, which reads the new
 * capacity, and retries the command), and an ENUMERATE_BUS, as for a hot
 * add, so that an idle guest learns of it too: Linux answers that with
 * TEST UNIT READY on every disk, which meets the unit attention. Returns 0
 * (also when the disk did not grow), -ENOENT, -EINVAL if it shrank. */
int storvsp_controller_resize(struct storvsp_controller *c, unsigned lun);
/* LUNs attached now. */
unsigned storvsp_controller_lun_count(struct storvsp_controller *c);
/* disk_sync_metadata on every attached disk (VHDX: the BAT through the log,
 * the log emptied), with no I/O in flight: a quiesce does it before the
 * image can be opened elsewhere. Returns the first error. */
int storvsp_controller_sync_metadata(struct storvsp_controller *c);
/* Hot add/remove notification for the primary channel's thread: an eventfd
 * that becomes readable on attach/detach; storvsp_controller_rescan_due()
 * consumes it and says whether to send ENUMERATE_BUS now (only once the
 * guest finished the handshake: before that, its own scan sees the LUNs). */
int storvsp_controller_rescan_fd(const struct storvsp_controller *c);
bool storvsp_controller_rescan_due(struct storvsp_controller *c);
/* Bumped on every attach/detach (cheap to poll). */
uint64_t storvsp_controller_generation(const struct storvsp_controller *c);
/* The effective per-channel request-slot count. */
unsigned storvsp_controller_queue_depth(const struct storvsp_controller *c);
/* True once the guest finished the init handshake (§6.3). */
bool storvsp_controller_is_ready(const struct storvsp_controller *c);
uint16_t storvsp_controller_version(const struct storvsp_controller *c);

/* How the core reaches guest memory: a host pointer for [gpa, gpa + len)
 * (len <= 4096, never crossing a page), or -EFAULT. vmwp passes gm_map.
 * mark_dirty (optional): [host, host + len), from map, was written (live
 * migration's dirty pages, docs/vm-state.md): called after a disk read
 * landed there and before its completion is posted, and after immediate
 * data (INQUIRY, sense, mode pages...) was copied in. vmwp passes
 * vid_mark_dirty_host. */
struct storvsp_guest_memory {
        int (*map)(void *opaque, uint64_t gpa, size_t len, void **host);
        void *opaque;
        void (*mark_dirty)(void *opaque, const void *host, size_t len);
};

int storvsp_channel_new(struct storvsp_controller *c, uint16_t index, const struct storvsp_guest_memory *gm,
                        struct storvsp_channel **out);
/* Waits for in-flight I/O (dropping its completions: the channel is going
 * away, the guest will not read them); closing the primary channel resets
 * the protocol state (a new handshake is expected). Accepts NULL. */
void storvsp_channel_free(struct storvsp_channel *ch);
/* The first half of storvsp_channel_free, for the thread that drove the
 * channel to call as its last act: waits for the I/O in flight, releases
 * the disks registered with the channel's io_uring and closes it, so every
 * io_uring call stays on that thread (its sandbox policy has them; the
 * thread that frees the channel later may not, docs/sandbox.md). Nothing
 * but storvsp_channel_free may follow. Accepts NULL; idempotent. */
void storvsp_channel_quiesce(struct storvsp_channel *ch);
/* With nothing in flight on the channel (storvsp_channel_inflight 0), on
 * its thread: takes the controller's LUN table now and lets go of the
 * disks detached from it (the channel's references and its io_uring's
 * registration), instead of at the next packet. A hot remove then
 * releases the disk, and its image lock, before the caller goes on. */
void storvsp_channel_release_detached(struct storvsp_channel *ch);

/* data[0..16) is the VMBus descriptor (VM_PKT_COMP with the request's
 * trans_id, or VM_PKT_DATA_INBAND for ENUMERATE_BUS), data[16..len) the
 * vstor_packet: hand the payload to the ring's completion/inband writer. */
struct storvsp_reply {
        uint8_t data[STORVSC_MAX_PKT_SIZE];
        size_t len;
        /* CREATE_SUB_CHANNELS was accepted: offer this many more sub-channels
         * (§6.7). Set whatever the outcome (the guest may not want a reply). */
        uint16_t new_sub_channels;
};

enum storvsp_outcome {
        STORVSP_NONE = 0,   /* nothing to send now */
        STORVSP_REPLY = 1,  /* write out->data (out->len bytes) to the ring */
        STORVSP_QUEUED = 2, /* I/O prepared; its reply comes from storvsp_channel_reap() */
};

/* Handles one packet (descriptor included, len = len8 * 8, a private copy).
 * Returns an outcome, or -EBUSY when all request slots are in use (leave
 * the packet in the ring, reap, come back), or -EBADMSG for a packet that
 * is not storvsc protocol at all (counted; drop it). */
int storvsp_channel_handle(struct storvsp_channel *ch, const void *pkt, size_t len, struct storvsp_reply *out);
/* Whether a request slot is free: read the next packet only then, and the
 * in-flight limit never has to push a packet back into the ring. */
bool storvsp_channel_has_room(const struct storvsp_channel *ch);
/* Submits everything queued since the last call (one io_uring_submit). */
int storvsp_channel_submit(struct storvsp_channel *ch);
/* Turns up to max finished requests into replies; waits for at least
 * min_wait of them (bounded by what is in flight). Returns the count. */
int storvsp_channel_reap(struct storvsp_channel *ch, struct storvsp_reply *out, unsigned max, unsigned min_wait);
unsigned storvsp_channel_inflight(const struct storvsp_channel *ch);
/* Readable when disk completions are waiting (for the channel thread's poll). */
int storvsp_channel_eventfd(struct storvsp_channel *ch);
/* Registers guest RAM (host mapping) as io_uring fixed buffers. */
int storvsp_channel_register_memory(struct storvsp_channel *ch, void *base, size_t len);

struct storvsp_channel_stats {
        uint64_t packets, srbs, immediate, io, dropped, rejected, busy;
        struct disk_queue_stats disk;
};
void storvsp_channel_get_stats(const struct storvsp_channel *ch, struct storvsp_channel_stats *s);
