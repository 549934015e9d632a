/* SPDX-License-Identifier: MIT */
/* The guest side of the integration services (docs/hyperv-guest-interface.md
 * §8), behaving like Linux's hv_utils (+ hv_kvp_daemon): version
 * negotiation as vmbus_prep_negotiate_resp does it, heartbeats answered
 * with seq + 1, shutdown/reboot requests accepted, time samples recorded,
 * KVP requests served from a small pool store.
 *
 * vsc_ic_handle() is a pure function over one host packet payload: it
 * rewrites the buffer in place into the answer (same length, as hv_utils
 * does, §8.1) and says what the host asked. Opening the channels and moving
 * packets is the caller's (guest/mode-services.c). Everything the host
 * sends is length-checked before use; what Linux would drop without an
 * answer is dropped here too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/ic.h"

/* hv_utils' ring size per direction, header page included (§8.1), and
 * the largest packet a service accepts (§5.4). */
#define VSC_IC_RING_BYTES (4u * 4096u)
#define VSC_IC_MAX_PACKET 4096u
#define VSC_IC_KVP_MAX_PACKET 16384u

enum vsc_ic_kind { VSC_IC_SHUTDOWN, VSC_IC_HEARTBEAT, VSC_IC_TIMESYNC, VSC_IC_KVP, VSC_IC_KINDS };

/* One service's protocol state. */
struct vsc_ic {
        enum vsc_ic_kind kind;
        bool negotiated;
        struct ic_version fw, msg; /* chosen (valid once negotiated) */
        uint64_t requests, answers, dropped;
};

/* KVP store (what hv_kvp_daemon keeps in /var/lib/hyperv/.kvp_pool_N):
 * the intrinsic KVP_POOL_AUTO items are the caller's (index order of §8.6:
 * FullyQualifiedDomainName, IntegrationServicesVersion, NetworkAddressIPv4,
 * NetworkAddressIPv6, OSBuildNumber, OSName, OSMajorVersion,
 * OSMinorVersion, OSVersion, ProcessorArchitecture), the other pools hold
 * what the host sets, up to VSC_KVP_MAX_ITEMS items in all. */
#define VSC_KVP_MAX_ITEMS 16u
#define VSC_KVP_KEY_MAX 512u    /* UTF-8 bytes with the NUL, like the daemon */
#define VSC_KVP_VALUE_MAX 2048u
struct vsc_kvp_item {
        uint8_t pool;
        char key[VSC_KVP_KEY_MAX];
        char value[VSC_KVP_VALUE_MAX];
};
struct vsc_kvp_store {
        const char *auto_values[KVP_AUTO_KEY_COUNT]; /* NULL reads as "" */
        struct vsc_kvp_item items[VSC_KVP_MAX_ITEMS];
        unsigned n_items;
        struct vsc_kvp_item removed; /* the item the last DELETE removed */
};
extern const char *const vsc_kvp_auto_keys[KVP_AUTO_KEY_COUNT];

/* What one host packet asked for. */
enum vsc_ic_event {
        VSC_IC_EV_DROPPED,    /* malformed: no answer (buffer unchanged) */
        VSC_IC_EV_NEGOTIATE,  /* answered; ic->negotiated says whether a version matched */
        VSC_IC_EV_HEARTBEAT,  /* seq is the answered value (the host's + 1) */
        VSC_IC_EV_SHUTDOWN,   /* accepted: power off */
        VSC_IC_EV_REBOOT,     /* accepted: reset */
        VSC_IC_EV_REFUSED,    /* a request answered with a failure status (unknown flags, hibernate) */
        VSC_IC_EV_TIME,       /* parenttime/reftime/time_flags recorded */
        VSC_IC_EV_KVP,        /* kvp_op/kvp_pool/kvp_index/kvp_item; status says how it went */
};

struct vsc_ic_result {
        enum vsc_ic_event event;
        uint32_t status; /* the status written into the answer */
        uint64_t seq;
        uint32_t shutdown_flags;
        uint64_t parenttime, reftime; /* reftime: 0 for v1/v3 (no reference time) */
        uint8_t time_flags;
        uint8_t kvp_op, kvp_pool;
        uint32_t kvp_index;
        /* SET, GET, ENUMERATE of a stored item, DELETE (store->removed);
         * NULL otherwise. Valid until the next call. */
        const struct vsc_kvp_item *kvp_item;
};

/* The versions hv_utils offers, preference order (§8.2). */
void vsc_ic_init(struct vsc_ic *ic, enum vsc_ic_kind kind);

/* Handles the payload of one inband packet from the host (buf, len bytes;
 * cap: the buffer's size) and rewrites it into the answer. Returns 1 if the
 * caller must send buf back (len bytes, same trans_id), 0 if dropped.
 * kvp: the store (KVP service only; may be NULL for the others). */
int vsc_ic_handle(struct vsc_ic *ic, struct vsc_kvp_store *kvp, uint8_t *buf, size_t len,
                  struct vsc_ic_result *out);

/* UTF-16LE (bytes, stops at a NUL) <-> UTF-8 with a NUL, for KVP keys and
 * values. Length written without the NUL, or -EBADMSG (bad sequence),
 * -E2BIG (does not fit). vsc_utf8_to_utf16 returns the bytes written with
 * the 2-byte NUL (the wire's key_size/value_size). */
int vsc_utf16_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap);
int vsc_utf8_to_utf16(const char *in, uint8_t *out, size_t cap);

/* Host -> guest pool items by (pool, key), NULL if absent. */
const struct vsc_kvp_item *vsc_kvp_find(const struct vsc_kvp_store *s, uint8_t pool, const char *key);
