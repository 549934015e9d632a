/* SPDX-License-Identifier: MIT */
/* The VMBus server's saved state as plain data (docs/saved-state.md,
 * sections "VBSV", "VBCH", "VBGP"; docs/vm-state.md): what the guest can
 * observe of the connection, its channels and its GPADLs, with no host
 * pointer or fd in it. vmbus_server_save() writes it and
 * vmbus_server_restore() (vmbus/server.h) applies it; the decoders here are
 * pure and bounded, fuzzed by tests/fuzz/fuzz-vmbus-state.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vmstate.h"
#include "hv/vmbus.h"

#define VMBUS_STATE_TAG_SERVER VMSTATE_TAG('V', 'B', 'S', 'V')
#define VMBUS_STATE_TAG_CHANNEL VMSTATE_TAG('V', 'B', 'C', 'H') /* instance: relid */
#define VMBUS_STATE_TAG_GPADL VMSTATE_TAG('V', 'B', 'G', 'P')   /* instance: GPADL handle */

/* The messages held for the guest (a quiesced server's reply queue), as
 * records of u32 vp, u32 length, length bytes zero-padded to 8. */
#define VMBUS_STATE_HELD_BYTES (256u * 1024u)
/* A GPADL's range buffer: rangecount times {u32 byte_count, u32
 * byte_offset, u64 pfn...} (§4.5), at most one range per PFN. */
#define VMBUS_STATE_GPADL_BYTES (2u * 8u * VMBUS_GPADL_WIRE_MAX_PFNS)
#define VMBUS_STATE_USERDATA_BYTES 120u

/* Connection states as saved (enum vmbus_conn_state's stable values). */
enum { VMBUS_STATE_DISCONNECTED = 0, VMBUS_STATE_CONNECTED = 1 };
/* Channel states as saved (enum vmbus_channel_state's stable values). */
enum {
        VMBUS_STATE_CH_UNOFFERED = 0,
        VMBUS_STATE_CH_OFFERED = 1,
        VMBUS_STATE_CH_OPEN = 2,
        VMBUS_STATE_CH_RESCINDED = 3,
        VMBUS_STATE_CH_RELEASED = 4,
};
/* GPADL states as saved. */
enum { VMBUS_STATE_GPADL_PENDING = 0, VMBUS_STATE_GPADL_READY = 1, VMBUS_STATE_GPADL_TEARDOWN = 2 };

struct vmbus_saved_server {
        uint8_t conn;
        uint32_t version;
        uint32_t msg_vp;
        bool offers_requested;
        uint32_t n_channels, n_gpadls; /* the VBCH and VBGP sections that belong to it */
        uint32_t held_len;
        uint8_t held[VMBUS_STATE_HELD_BYTES];
};

struct vmbus_saved_channel {
        bool has_device; /* false: rescinded, waiting for RELID_RELEASED */
        uint8_t class_id[16], instance_id[16];
        uint16_t sub_index;
        uint8_t state;
        bool dead; /* the ring broke or the provider stopped: not served */
        /* while open (OPENCHANNEL as the guest sent it, §4.6) */
        uint32_t ring_gpadl, ring_send_pages, target_vp, openid;
        uint8_t userdata[VMBUS_STATE_USERDATA_BYTES];
};

struct vmbus_saved_gpadl {
        uint32_t relid;
        uint8_t state;
        uint16_t rangecount;
        uint32_t buflen; /* the range buffer's announced length */
        uint32_t filled; /* bytes of it received: buflen unless pending */
        uint8_t buf[VMBUS_STATE_GPADL_BYTES];
};

extern const struct vmstate_desc vmbus_server_state_desc;
extern const struct vmstate_desc vmbus_channel_state_desc;
extern const struct vmstate_desc vmbus_gpadl_state_desc;

/* Pure decoders: decode and check each value on its own (ranges, the held
 * records' framing, a complete GPADL's ranges parse). What needs the
 * server (devices, limits, VP count, relids of other sections) is checked
 * by vmbus_server_restore. */
int vmbus_server_state_decode(const struct vmstate_section *s, struct vmbus_saved_server *out, char *err,
                              size_t errlen);
int vmbus_channel_state_decode(const struct vmstate_section *s, struct vmbus_saved_channel *out, char *err,
                               size_t errlen);
int vmbus_gpadl_state_decode(const struct vmstate_section *s, struct vmbus_saved_gpadl *out, char *err,
                             size_t errlen);

/* Walks the held records: fn(vp, msg, len) for each (NULL: check only).
 * Returns the count, or -EINVAL for a malformed record. Pure. */
int vmbus_state_held_walk(const struct vmbus_saved_server *st,
                          void (*fn)(void *opaque, uint32_t vp, const uint8_t *msg, uint32_t len), void *opaque);
