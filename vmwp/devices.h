/* SPDX-License-Identifier: MIT */
/* The worker's device table (docs/vm-state.md, "The device lifecycle
 * contract"): every part of the worker that holds guest-visible state
 * apart from vid's vCPUs and irqchip is one row, its ops (struct
 * device_ops, common/device.h) exported by the device's own library,
 * added in dependency order as the VM is built (vm.c's vm_parts: platform
 * devices, then hvshim, the VMBus server and its providers). Pause parks
 * the vCPUs first (vid), then quiesces the rows in reverse order; resume
 * goes in table order, then the vCPUs run. A new device adds one row and
 * its sections; nothing else in pause, save, migration, checkpoints or
 * stats changes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/device.h"

#define VMWP_DEVICES_MAX 48u

struct vmwp_devices {
        size_t n, n_quiesced;
        struct vmwp_device_row {
                const struct device_ops *ops;
                void *dev;
        } rows[VMWP_DEVICES_MAX];
};

int vmwp_devices_add(struct vmwp_devices *t, const struct device_ops *ops, void *dev);
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
/* Every row's counters into a "stats" reply, in table order (rows of one
 * kind sum, common/device.h). */
void vmwp_devices_stats(const struct vmwp_devices *t, struct json_object *into);
/* Before a save or a migration: the rows' detach, in reverse table order
 * (those without one have nothing a saved state cannot hold). Every row
 * is detached; the first error is returned. */
int vmwp_devices_detach(struct vmwp_devices *t);
/* The rows' attach, in table order: after their resume, and when a
 * migration failed with the VM still running. */
void vmwp_devices_attach(struct vmwp_devices *t);
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
