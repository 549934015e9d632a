/* SPDX-License-Identifier: MIT */
/* Hyper-V's Saved state in vmms (docs/vm-state.md): Save, the restore at
 * Start, DiscardSavedState (save.c), ExportSavedState/ImportSavedState
 * (transfer.c). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"

/* The VM's saved-state part (vm->saved), made and freed with the VM. */
struct vmms_saved_state {
        enum vmms_state save_from;      /* Running or Paused: where a failed save returns */
        bool save_committed;            /* the file is in place: the worker's end makes the VM Saved */
        bool restoring;                 /* this worker restores the saved state */
        uint64_t save_done, save_total; /* SaveProgress */
        uint64_t saved_bytes;           /* SavedStateSize */
};

/* save.c: Hyper-V's Saved state (docs/vm-state.md, docs/vmms.md "Saved
 * state"): <state-dir>/<id>.vmrs, written by the worker through an fd. */
int vmms_saved_path(const struct vmms_vm *vm, bool tmp, char *buf, size_t len);
/* Save: creates the file, asks the worker; the D-Bus reply follows the
 * worker's (call may be NULL). */
int vmms_vm_save(struct vmms_vm *vm, sd_bus_message *call, char *err, size_t errlen);
void vmms_vm_on_save_progress(struct vmms_vm *vm, struct json_object *ev);
/* The worker ended while Saving or while restoring: true when this took
 * care of the VM's state (Saved, or back to it). */
bool vmms_vm_saved_on_exit(struct vmms_vm *vm, const char *reason);
/* A restored worker runs: the state is consumed (the file goes). */
void vmms_vm_saved_consumed(struct vmms_vm *vm);
int vmms_vm_discard_saved(struct vmms_vm *vm);
/* The file to restore from, opened for the worker. */
int vmms_saved_open(struct vmms_vm *vm, char *err, size_t errlen);
/* At load: a VM with a state file is Saved; a stale temporary is removed. */
void vmms_saved_load(struct vmms_vm *vm);
/* PropertiesChanged(SaveProgress, SavedStateSize). */
void vmms_saved_emit_props(struct vmms_vm *vm);

/* transfer.c: ExportSavedState/ImportSavedState (docs/vm-state.md
 * "Export and import"). The whole file a complete saved state (every CRC,
 * the end section); why: a sentence. */
int vmms_saved_check_fd(int fd, uint64_t size, char *why, size_t whylen);
/* An Off VM becomes Saved from fd (the caller's file), copied and checked
 * on a job thread; call is answered at the end (1: pending). */
int vmms_saved_import(struct vmms_vm *vm, sd_bus_message *call, int fd, sd_bus_error *e);
struct vmms_saved_import;
void vmms_saved_import_stop(struct vmms_saved_import *j);
void vmms_saved_import_free(struct vmms_saved_import *j);
