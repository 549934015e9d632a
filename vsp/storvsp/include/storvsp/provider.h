/* SPDX-License-Identifier: MIT */
/* storvsp as a VMBus provider (vmbus/provider.h): one storvsp_device per
 * synthetic SCSI controller, added with vmbus_server_add_device(.ops =
 * &storvsp_provider_ops, .data = the device). Every open channel gets a
 * device worker (common/devworker.h) that drains the ring in batches,
 * submits the batch's disk I/O with one io_uring_submit, writes completions
 * in batches (one guest signal per batch at most), and busy-polls briefly
 * with the guest's doorbells masked after any work. The device quiesces and
 * resumes as docs/vm-state.md describes. docs/storvsp.md has the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "hv/storvsc.h"
#include "storvsp/storvsp.h"
#include "vmbus/provider.h"

extern const struct vmbus_provider_ops storvsp_provider_ops;

#define STORVSP_MAX_RAM_REGIONS 2u

struct storvsp_device_config {
        struct storvsp_controller_config controller;
        struct storvsp_guest_memory gm; /* vmwp: gm_map on the partition */
        /* Guest RAM as the host maps it (vid_ram_regions + gm_map): registered
         * as io_uring fixed buffers per channel when RLIMIT_MEMLOCK allows
         * (it pins them). n_ram = 0: no fixed buffers. Not RAM the host
         * may take back while the guest runs (a balloon punching holes in
         * its memfd): a pinned page stays the fixed buffer's after the hole,
         * while the guest gets a new one, and a raw disk's write would send
         * the old page's bytes (measured: io_uring_prep_write_fixed after
         * FALLOC_FL_PUNCH_HOLE writes the page as it was). vmwp registers
         * none. */
        struct {
                void *base;
                size_t len;
        } ram[STORVSP_MAX_RAM_REGIONS];
        unsigned n_ram;
        /* Keep polling this long after the last progress while requests are
         * in flight, with the guest's doorbells masked (0: 50 us). */
        unsigned poll_us;
        /* The instance of the controller's saved-state section (vmwp: the
         * SCSI controller's number). */
        uint32_t state_instance;
};

struct storvsp_device;

/* ---- IDE accelerator channels (docs/storvsp.md "IDE accelerator channels") ----
 *
 * As on Hyper-V, each IDE disk of a Generation 1 VM is also offered on
 * VMBus: one device per IDE location, class HV_IDE_GUID (passed as the
 * vmbus_device_config's class_id, with storvsp_provider_ops), its instance
 * and user-defined bytes from storvsp_ide_offer, a controller with no
 * sub-channels whose config.target is the offer's target and the disk at
 * LUN 0, and state_instance the offer's. Linux's storvsc then addresses
 * the disk at path 0, target = position, lun 0 and takes it over from
 * ata_piix, which ignores ATA disks on a "Microsoft Corporation" /
 * "Virtual Machine" (SMBIOS). */
#define STORVSP_IDE_CHANNELS 2u
#define STORVSP_IDE_POSITIONS 2u
/* STCT instances of IDE channels: this + channel * 2 + position, above
 * any SCSI controller's number (docs/saved-state.md). */
#define STORVSP_IDE_STATE_INSTANCE_BASE 0x100u
struct storvsp_ide_offer {
        struct guid instance;                  /* data1 channel, data2 position, data3 8899h, data4 zero */
        struct storvsc_offer_properties props; /* the offer's user-defined bytes */
        uint8_t target;                        /* the controller config's target: the position */
        uint32_t state_instance;               /* the device config's state_instance */
};
/* The offer of IDE location (channel, position); -EINVAL outside 2 x 2. Pure. */
int storvsp_ide_offer(unsigned channel, unsigned position, struct storvsp_ide_offer *out);

/* The device owns its controller; attach LUNs to storvsp_device_controller()
 * before or after adding the device to the server (hot add). After a
 * successful vmbus_server_add_device the server frees the device (ops
 * destroy); otherwise the caller does with storvsp_device_free. */
int storvsp_device_new(const struct storvsp_device_config *cfg, struct storvsp_device **out);
void storvsp_device_free(struct storvsp_device *d);
struct storvsp_controller *storvsp_device_controller(struct storvsp_device *d);
/* Hot remove of a LUN with its I/O completed first: the LUN is gone for
 * new commands at once (storvsp_controller_detach: INVALID_LUN, and an
 * ENUMERATE_BUS for the guest to rescan); each open channel's worker waits
 * for the I/O it has in flight, writes those completions to the guest's
 * ring (or keeps them for the resume while the device is quiesced) and
 * lets go of the disk. When this returns the device holds no reference to
 * the disk: the caller's last disk_unref closes it and releases its image
 * lock. Any thread but a channel worker of the device. -ENOENT (nothing
 * attached at lun) and -EINVAL change nothing; another error (a disk
 * queue that failed, a call from a channel worker: -EDEADLK) leaves the
 * LUN detached, its disk released once the channels let go of it. */
int storvsp_device_detach(struct storvsp_device *d, unsigned lun);

struct storvsp_device_stats {
        uint64_t batches, replies, backlogged, polls, sleeps, subchannel_offer_failures, ram_unregistered;
        uint64_t submits, submitted; /* io_uring_submit calls with requests, and the requests they carried */
        uint64_t quiesces; /* storvsp_device_quiesce calls that quiesced a running device */
        uint64_t held;     /* completions of I/O a quiesce waited for, kept for the resume */
};
void storvsp_device_get_stats(const struct storvsp_device *d, struct storvsp_device_stats *s);

/* ---- quiesce and resume (docs/vm-state.md, "What consistent means") ----
 *
 * When storvsp_device_quiesce returns, no channel of the device reads its
 * ring, writes a completion or anything else into guest memory, or signals
 * the guest, until storvsp_device_resume; the guest may go on ringing. Disk
 * I/O in flight is waited for (a read lands in guest RAM through its
 * iovecs); its completions are kept, not posted, and go out first after the
 * resume, in order, ahead of anything new. A channel the guest opens while
 * the device is quiesced starts quiesced; one it closes drops what it held
 * (the guest will not read that ring again).
 *
 * Quiesce is idempotent and returns once every channel's worker finished
 * its current batch and the I/O in flight completed, however busy the guest
 * keeps the rings. Any thread but a channel worker of the device (-EDEADLK);
 * 0, or a negative errno from the disk queue (the device stays quiesced:
 * call it again or resume). Resume of a running device does nothing. */
int storvsp_device_quiesce(struct storvsp_device *d);
void storvsp_device_resume(struct storvsp_device *d);
bool storvsp_device_is_quiesced(struct storvsp_device *d);

/* What a quiesced device owes the guest, as plain data for its saved state
 * (no host pointers, fds or iovecs). A quiesce leaves nothing in flight on
 * the host: every request storvsp took from a ring is answered either in
 * the guest's ring (guest RAM, saved with it) or here, its I/O done and its
 * completion built byte for byte as it will be written. A restore writes
 * these into the channel's ring, in order, before serving it; requests
 * still in the guest's ring are read from the restored RAM. The completion
 * is saved rather than the request because the request has already run:
 * a read's data is in guest RAM, a write on the disk; resubmitting is only
 * for I/O that was never waited for, which a quiesce does not leave. */
struct storvsp_pending {
        uint16_t channel;  /* sub-channel index: 0 is the primary */
        uint16_t type;     /* VM_PKT_COMP: a completion; VM_PKT_DATA_INBAND: an unsolicited ENUMERATE_BUS */
        uint64_t trans_id; /* the guest's transaction id it completes (0 for ENUMERATE_BUS) */
        uint32_t len;      /* bytes of packet: descriptor + vstor_packet */
        uint8_t packet[STORVSC_MAX_PKT_SIZE];
};

/* Calls fn for each pending completion, channel by channel, in the order
 * they will reach the guest; stops at fn's first negative return and
 * returns it. fn runs under the device's lock: it must not call into the
 * device. -EBUSY unless the device is quiesced; the count on success. */
int storvsp_device_for_each_pending(struct storvsp_device *d,
                                    int (*fn)(void *opaque, const struct storvsp_pending *p), void *opaque);

/* ---- saved state (docs/vm-state.md, docs/saved-state.md) ---- */

#include "common/vmstate.h"

/* The controller ("STCT", instance: state_instance): the handshake's
 * progress and what the guest set per LUN, with each LUN's geometry to
 * check the restoring VM's disks against. Per open channel ("STCH",
 * instance: relid, through the VMBus provider hooks): the replies owed to
 * the guest, in order, as packet bytes (records u16 length, bytes padded
 * to 8). I/O in flight was completed at quiesce, so nothing is to be
 * resubmitted. */
#define STORVSP_CONTROLLER_STATE_TAG VMSTATE_TAG('S', 'T', 'C', 'T')
#define STORVSP_CHANNEL_STATE_TAG VMSTATE_TAG('S', 'T', 'C', 'H')
#define STORVSP_STATE_LUNS 256u
#define STORVSP_STATE_LUN_READ_ONLY 1u
#define STORVSP_STATE_LUN_WCE 2u
struct storvsp_controller_state {
        uint8_t proto_state; /* 0 expect BEGIN .. 4 ready */
        uint16_t version, sub_channels;
        uint32_t n_luns, n_blocks_count, block_size_count, flags_count;
        uint32_t lun[STORVSP_STATE_LUNS];
        uint64_t n_blocks[STORVSP_STATE_LUNS];
        uint32_t block_size[STORVSP_STATE_LUNS];
        uint32_t flags[STORVSP_STATE_LUNS];
        /* Version 2: each LUN's pending unit attention (scsi_lun_attention:
         * ASC << 8 | ASCQ, 0 none), so that a resize the guest has not
         * heard of yet reaches it after a restore too. */
        uint32_t attention_count;
        uint32_t attention[STORVSP_STATE_LUNS];
};
#define STORVSP_STATE_REPLIES_BYTES ((STORVSP_MAX_QUEUE_DEPTH + 4u) * (8u + 80u))
struct storvsp_channel_state {
        uint16_t sub_index;
        uint32_t replies_len;
        uint8_t replies[STORVSP_STATE_REPLIES_BYTES];
};
extern const struct vmstate_desc storvsp_controller_state_desc;
extern const struct vmstate_desc storvsp_channel_state_desc;
/* Pure decoders (fuzzed: tests/fuzz/fuzz-storvsp-state.c). */
int storvsp_controller_state_decode(const struct vmstate_section *s, struct storvsp_controller_state *out,
                                    char *err, size_t errlen);
int storvsp_channel_state_decode(const struct vmstate_section *s, struct storvsp_channel_state *out, char *err,
                                 size_t errlen);
/* The device's row: the controller section; restore checks the LUNs
 * against the attached disks and leaves the device quiesced. */
int storvsp_device_save(struct storvsp_device *d, struct vmstate_writer *w, char *err, size_t errlen);
int storvsp_device_restore(struct storvsp_device *d, const struct vmstate_section *secs, size_t n, char *err,
                           size_t errlen);

/* A SCSI controller's row of the worker's device table (common/device.h),
 * after the VMBus server's; its dev is the struct storvsp_device. */
extern const struct device_ops storvsp_device_ops;
