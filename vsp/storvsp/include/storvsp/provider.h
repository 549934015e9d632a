/* SPDX-License-Identifier: MIT */
/* storvsp as a VMBus provider (vmbus/provider.h): one storvsp_device per
 * synthetic SCSI controller, added with vmbus_server_add_device(.ops =
 * &storvsp_provider_ops, .data = the device). Every open channel gets a
 * device worker (common/devworker.h) that drains the ring in batches,
 * submits the batch's disk I/O with one io_uring_submit, writes completions
 * in batches (one guest signal per batch at most), and busy-polls briefly
 * with the guest's doorbells masked after any work. docs/storvsp.md has the
 * loop. */
#pragma once

#include <stddef.h>

#include "storvsp/storvsp.h"
#include "vmbus/provider.h"

extern const struct vmbus_provider_ops storvsp_provider_ops;

#define STORVSP_MAX_RAM_REGIONS 2u

struct storvsp_device_config {
        struct storvsp_controller_config controller;
        struct storvsp_guest_memory gm; /* vmwp: gm_map on the partition */
        /* Guest RAM as the host maps it (vid_ram_regions + gm_map): registered
         * as io_uring fixed buffers per channel when RLIMIT_MEMLOCK allows
         * (it pins them). n_ram = 0: no fixed buffers. */
        struct {
                void *base;
                size_t len;
        } ram[STORVSP_MAX_RAM_REGIONS];
        unsigned n_ram;
        /* Keep polling this long after the last progress while requests are
         * in flight, with the guest's doorbells masked (0: 50 us). */
        unsigned poll_us;
};

struct storvsp_device;

/* The device owns its controller; attach LUNs to storvsp_device_controller()
 * before or after adding the device to the server (hot add). After a
 * successful vmbus_server_add_device the server frees the device (ops
 * destroy); otherwise the caller does with storvsp_device_free. */
int storvsp_device_new(const struct storvsp_device_config *cfg, struct storvsp_device **out);
void storvsp_device_free(struct storvsp_device *d);
struct storvsp_controller *storvsp_device_controller(struct storvsp_device *d);

struct storvsp_device_stats {
        uint64_t batches, replies, backlogged, polls, sleeps, subchannel_offer_failures, ram_unregistered;
        uint64_t submits, submitted; /* io_uring_submit calls with requests, and the requests they carried */
};
void storvsp_device_get_stats(const struct storvsp_device *d, struct storvsp_device_stats *s);
