/* SPDX-License-Identifier: MIT */
/* The integration services (docs/hyperv-guest-interface.md §8): VMBus
 * devices hv_utils serves in a Linux guest. One struct icvsp per VM adds the
 * configured services to the VMBus server and runs them on one thread of
 * its own (the services are host-initiated: negotiate on open, periodic
 * heartbeats, shutdown on request), so no VP thread ever waits on a guest.
 * docs/integration-services.md describes the protocol handling. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/guid.h"

struct vmbus_server;
struct icvsp;

enum icvsp_heartbeat_state {
        ICVSP_HEARTBEAT_UNKNOWN,    /* the service is not configured */
        ICVSP_HEARTBEAT_NO_CONTACT, /* no beat answered yet (no hv_utils, still booting) */
        ICVSP_HEARTBEAT_OK,         /* beats answered within ICVSP_HEARTBEAT_LOST_AFTER intervals */
        ICVSP_HEARTBEAT_LOST,       /* had contact, then the answers stopped */
};

const char *icvsp_heartbeat_state_to_string(enum icvsp_heartbeat_state s);

struct icvsp_config {
        bool shutdown, heartbeat;
        uint32_t heartbeat_interval_ms; /* 0: ICVSP_HEARTBEAT_INTERVAL_MS */
        struct guid heartbeat_instance; /* stable per VM (Hyper-V derives it per VM too) */
};
#define ICVSP_HEARTBEAT_INTERVAL_MS 2000u /* what Hyper-V sends (§8.4) */
#define ICVSP_HEARTBEAT_LOST_AFTER 3u     /* intervals without an answer */
#define ICVSP_REQUEST_TIMEOUT_MS 10000u   /* an unanswered request is dropped */

/* Called on the icvsp thread with its lock held: record and return, never
 * call back into icvsp. */
struct icvsp_owner_ops {
        void (*heartbeat)(void *opaque, enum icvsp_heartbeat_state state, uint64_t last_beat_us);
        /* The guest answered a shutdown/reboot request: accepted (S_OK) or not. */
        void (*shutdown_answered)(void *opaque, bool accepted, uint32_t status);
};

/* Adds the configured services to srv (offered at the guest's next
 * REQUESTOFFERS) and starts the service thread. */
int icvsp_new(struct vmbus_server *srv, const struct icvsp_config *cfg, const struct icvsp_owner_ops *ops,
              void *opaque, struct icvsp **out);
/* Call after vmbus_server_free(srv), which closes the channels through this
 * icvsp (its thread still running); then stops the thread and frees.
 * Accepts NULL. */
void icvsp_free(struct icvsp *ic);

/* Ask the guest to shut down (reboot = restart). -ENOTCONN if the guest has
 * not opened and negotiated the shutdown service, -EBUSY while an earlier
 * request is unanswered, -ENOTSUP if it is not configured. */
int icvsp_request_shutdown(struct icvsp *ic, bool reboot);
bool icvsp_shutdown_ready(struct icvsp *ic);

enum icvsp_heartbeat_state icvsp_heartbeat(struct icvsp *ic, uint64_t *last_beat_us);

struct icvsp_stats {
        uint64_t requests_sent, responses, bad_packets, timeouts, negotiations, negotiation_failures;
        uint64_t heartbeats_answered;
};
void icvsp_get_stats(struct icvsp *ic, struct icvsp_stats *out);
