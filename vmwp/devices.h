/* SPDX-License-Identifier: MIT */
/* The worker's device table (docs/vm-state.md, "The device lifecycle
 * contract"): every part of the worker that holds guest-visible state
 * apart from vid's vCPUs and irqchip is one row, added in dependency order
 * as the VM is built (platform devices, then hvshim, the VMBus server and
 * its providers). Pause parks the vCPUs first (vid), then quiesces the rows
 * in reverse order; resume goes in table order, then the vCPUs run. A new
 * device adds one row and one section; nothing else in pause, save,
 * migration or checkpoints changes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct vmstate_writer;
struct vmstate_section;

struct vmwp_device_ops {
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
};

#define VMWP_DEVICES_MAX 48u

struct vmwp_devices {
        size_t n, n_quiesced;
        struct vmwp_device_row {
                const struct vmwp_device_ops *ops;
                void *dev;
        } rows[VMWP_DEVICES_MAX];
};

int vmwp_devices_add(struct vmwp_devices *t, const struct vmwp_device_ops *ops, void *dev);
/* Hot remove (docs/vmwp.md "Disks and NICs of a running VM"): the row of
 * dev leaves the table, the others keep their order. Only while nothing is
 * quiesced; nothing happens for a dev that has no row. */
void vmwp_devices_remove(struct vmwp_devices *t, const void *dev);
/* Reverse table order. On a failure the rows already quiesced are resumed
 * and the error names the device. */
int vmwp_devices_quiesce(struct vmwp_devices *t, char *err, size_t errlen);
/* Table order; only what was quiesced. */
void vmwp_devices_resume(struct vmwp_devices *t);
bool vmwp_devices_quiesced(const struct vmwp_devices *t);
/* Table order; the devices must be quiesced. */
int vmwp_devices_save(struct vmwp_devices *t, struct vmstate_writer *w, char *err, size_t errlen);
/* The same without the rows that have a memory (a live migration's final
 * state: their memory went ahead). */
int vmwp_devices_save_live(struct vmwp_devices *t, struct vmstate_writer *w, char *err, size_t errlen);
/* The i-th device memory, counting the rows that have one in table order
 * (the index DEVMEM records carry): its mapping, *len and *fd, or NULL
 * past the last. */
void *vmwp_devices_memory(const struct vmwp_devices *t, unsigned i, size_t *len, int *fd);
/* Before anything is applied: refuses (-EPROTONOSUPPORT, naming the tag,
 * instance and offset) a section of secs whose tag neither a row's tags
 * nor also (0-terminated: vid's) list, unless it is flagged
 * VMSTATE_SECTION_OPTIONAL (docs/saved-state.md, "Compatibility rules"). */
int vmwp_devices_check_sections(const struct vmwp_devices *t, const uint32_t *also,
                                const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
/* Table order, on devices that have not run. Afterwards every row counts
 * as quiesced: vmwp_devices_resume starts them. On a failure the rows
 * restored so far keep their state (the worker gives up on the VM). */
int vmwp_devices_restore(struct vmwp_devices *t, const struct vmstate_section *secs, size_t n, char *err,
                         size_t errlen);
