/* SPDX-License-Identifier: MIT */
/* The echo provider: a tiny in-tree VSP for tests and benchmarks, and the
 * smallest complete example of the provider API (docs/vmbus.md).
 *
 * Every in-band packet the guest sends comes back with the same payload and
 * transaction id: as a completion (VM_PKT_COMP) if the guest requested one,
 * else as an in-band packet. An in-band payload that is a struct
 * vmbus_echo_subchannel_request asks for sub-channels instead; the answer
 * is a completion carrying the int32 result of
 * vmbus_device_offer_subchannels(). Completions from the guest are
 * consumed silently. */
#pragma once

#include "common/vmstate.h"

#include <stdint.h>

#include "common/guid.h"
#include "vmbus/provider.h"

/* 3c5e0e3a-7b1d-4f36-9d0c-6f6b2a1e5c01: a class no guest driver binds. */
#define VMBUS_ECHO_CLASS_ID \
        GUID_INIT(0x3c5e0e3a, 0x7b1d, 0x4f36, 0x9d, 0x0c, 0x6f, 0x6b, 0x2a, 0x1e, 0x5c, 0x01)

#define VMBUS_ECHO_GUEST_MAX_PACKET 16384u
#define VMBUS_ECHO_MAX_SUBCHANNELS 8u

struct vmbus_echo_subchannel_request {
        char magic[8]; /* "SUBCHAN\0" */
        uint32_t count;
        uint32_t reserved;
};

struct vmbus_echo_stats {
        uint64_t packets, bytes, completions_seen, oversized, blocked;
};

struct devworker;

/* An echo device, the device data (vmbus_device_config.data) of
 * vmbus_echo_ops. Its channels are served on one device worker
 * (common/devworker.h) of its own, each open channel's doorbell a source
 * of it, as a VSP serves its channels: the worker masks the guest's
 * signals while it serves and keeps polling poll_us after the ring ran
 * dry before it unmasks and sleeps (§5.5). It quiesces as a device row
 * does (vmbus_echo_quiesce; the server's quiesce does not reach it), and
 * a restored channel comes back quiesced. Owned by the caller; outlives
 * its device (free it after vmbus_server_free or the device's removal). */
struct vmbus_echo {
        struct vmbus_echo_stats stats; /* updated atomically */
        unsigned poll_us;              /* 0: doorbell-driven, no polling */
        struct devworker *w;
};

/* What the benchmarks and the polling tests use. */
#define VMBUS_ECHO_POLL_US 50u

/* Starts the device's worker. */
int vmbus_echo_init(struct vmbus_echo *e, unsigned poll_us);
/* Stops the worker. NULL or never initialised: nothing. */
void vmbus_echo_fini(struct vmbus_echo *e);
/* Parks the worker (it finishes the round it is in; no ring access or
 * guest signal from it until resume). Idempotent; 0. */
int vmbus_echo_quiesce(struct vmbus_echo *e);
/* Serves again, first what arrived meanwhile. */
void vmbus_echo_resume(struct vmbus_echo *e);

extern const struct vmbus_provider_ops vmbus_echo_ops;

/* Saved state (docs/vm-state.md): the packet an echo channel consumed but
 * could not answer yet (its ring was full), section "VBEC", instance: the
 * channel's relid. */
#define VMBUS_ECHO_STATE_TAG VMSTATE_TAG('V', 'B', 'E', 'C')
struct vmbus_echo_state {
        bool holding;
        uint16_t type, flags;
        uint64_t trans_id;
        uint32_t offset; /* payload start in data */
        uint32_t len;
        uint8_t data[VMBUS_ECHO_GUEST_MAX_PACKET];
};
extern const struct vmstate_desc vmbus_echo_state_desc;
/* Pure: decodes and checks (offset within len, a held packet's type). */
int vmbus_echo_state_decode(const struct vmstate_section *s, struct vmbus_echo_state *out, char *err,
                            size_t errlen);

