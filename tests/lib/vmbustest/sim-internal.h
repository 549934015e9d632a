/* SPDX-License-Identifier: MIT */
/* The simulated guest's state, shared by sim.c and sim-guest.c. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/tlfs.h"
#include "vmbustest/sim.h"

#define SIM_MAX_VPS 64u
#define SIM_MAX_HANDLERS 8u
#define SIM_MAX_EVENTS 2048u
#define SIM_MAX_QUEUE 65536u

struct sim_msg {
        unsigned vp;
        uint32_t len;
        uint8_t msg[VMBUS_MESSAGE_MAX_BYTES];
};

struct sim_handler {
        uint32_t connection_id;
        vmbus_host_message_fn fn;
        void *opaque;
};

struct sim_event {
        uint32_t connection_id;
        int efd;
        bool used;
};

struct vmbus_sim {
        pthread_mutex_t lock;
        unsigned vp_count;
        int memfd;
        bool external_ram; /* memfd and ram belong to the caller */
        uint8_t *ram;
        size_t ram_bytes;
        uint64_t next_page;
        uint32_t next_gpadl;
        unsigned live_mappings;

        struct sim_msg *queue;
        unsigned q_head, q_count, q_cap, queue_limit;

        struct sim_handler handlers[SIM_MAX_HANDLERS];
        struct sim_event events[SIM_MAX_EVENTS];

        uint64_t flags[SIM_MAX_VPS][HV_EVENT_FLAGS_COUNT / 64];
        uint64_t events_signalled;
        uint64_t doorbells;
        int event_fd;
};
