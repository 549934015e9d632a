/* SPDX-License-Identifier: MIT */
/* The one device lifecycle (docs/vm-state.md, "The device lifecycle
 * contract"): what every part of a worker that holds guest-visible state
 * implements, apart from vid's vCPUs and irqchip. It sits in common, below
 * every device library, so that each library (hvshim, vsp/vmbus, each
 * vsp/<provider>, emu) exports its own const struct device_ops from its
 * own state.c and vmwp only lists the rows (vmwp/devices.h) with no
 * per-device code in between.
 *
 * A VSP's state has two levels, both in its state.c: the device's own
 * (this struct, one row per device instance) and its open channels'
 * (struct vmbus_provider_ops save_channel/restore_channel, vmbus/provider.h),
 * which the VMBus server's row calls for every open channel because the
 * channels' relids, rings and GPADLs are the server's. The device's tags
 * list both, so that a section neither level reads is refused. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmstate_writer;
struct vmstate_section;
struct json_object;

struct device_ops {
        const char *name; /* "uart", "storvsp" */
        /* Stop touching guest state: no ring read, no guest RAM write, no
         * interrupt, host I/O drained or recorded. Idempotent. */
        int (*quiesce)(void *dev);
        void (*resume)(void *dev);
        /* Only while quiesced: plain data, no host pointers or fds. NULL:
         * the device cannot be saved yet (the save is refused, naming it). */
        int (*save)(void *dev, struct vmstate_writer *w, char *err, size_t errlen);
        /* On a device built from the same configuration that has not run:
         * finds its sections in secs (the whole file), decodes all of them
         * (pure, fuzzed) and only then applies. */
        int (*restore)(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
        /* The section tags its restore reads (itself or, for a provider,
         * through the VMBus server's restore_channel), 0-terminated. A
         * section whose tag no row and no vid part reads is refused
         * unless it is OPTIONAL (vmwp_devices_check_sections). */
        const uint32_t *tags;
        /* Memory of the device's own that the guest writes directly,
         * outside RAM (a VRAM mapped with vid_devmem_map), or NULL: its
         * mapping, *len its bytes (a multiple of the page size), *fd the
         * memfd it maps from offset 0 (its holes read as zeros: never
         * read, sent or written as data) or -1. Such a
         * row's save writes that memory and nothing else: a live migration
         * copies the memory ahead while the guest runs (dirty-logged
         * through vid, sent as DEVMEM records) and leaves the row out of
         * its final state (docs/migration.md, "Device memory"). */
        void *(*memory)(void *dev, size_t *len, int *fd);
        /* Optional, for what a saved state cannot hold (hv_sock's
         * connections to host processes). detach: before a save or a
         * migration, while the guest still runs, end it and refuse more;
         * 0, or -errno (the save goes on and fails where the state is
         * incomplete). attach: when the VM runs on here (a resume, a
         * migration that failed), take more again; also without a
         * detach before it. */
        int (*detach)(void *dev);
        void (*attach)(void *dev);
        /* Optional: adds the device's counters to a "stats" reply
         * (docs/vmwp.md), as top-level keys or in an object or array of
         * its own (device_stat_object, device_stat_append); rows of one
         * kind sum into the same keys (device_stat_add). Any thread: it
         * only reads counters. */
        void (*stats)(void *dev, struct json_object *into);
};

/* A counter into a "stats" reply: added to what o holds under key already
 * (0 if nothing), saturated at INT64_MAX (json-c's integers are signed). */
void device_stat_add(struct json_object *o, const char *key, uint64_t v);
void device_stat_bool(struct json_object *o, const char *key, bool v);
/* o's object under key, added if there is none; NULL without memory. */
struct json_object *device_stat_object(struct json_object *o, const char *key);
/* A new object at the end of o's array under key (added if there is
 * none: one object per device, in table order); NULL without memory. */
struct json_object *device_stat_append(struct json_object *o, const char *key);
