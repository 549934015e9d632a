/* SPDX-License-Identifier: MIT */
/* Checkpoints in vmms (docs/checkpoints.md): the operations
 * (checkpoint/checkpoint.c), their disk work (checkpoint/disks.c), the index on disk
 * and the merge thread (checkpoint/store.c), the D-Bus interface
 * org.vmstack.VMMS1.Checkpoints (checkpoint-dbus.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"
#include "vmms/checkpoints.h"

struct vmms_cred;

/* An operation in progress on a VM's checkpoints (vmms_ckpt_op(vm)): while one
 * is, every other operation on the VM but Kill is refused (Busy). */
enum vmms_ckpt_kind {
        VMMS_CKPT_TAKE,
        VMMS_CKPT_REVERT,
        VMMS_CKPT_MERGE,
        VMMS_CKPT_IMPORT, /* ImportSavedState (saved-state/transfer.c): not a checkpoint, the same exclusion */
};

/* A production take's place in the guest's freeze (checkpoint/vss.c). */
enum vmms_ckpt_vss {
        VMMS_CKPT_VSS_NONE,     /* a standard take */
        VMMS_CKPT_VSS_FREEZING, /* the guest was asked to freeze: its "vss" event is awaited */
        VMMS_CKPT_VSS_FROZEN,   /* frozen: the worker pauses, the disks move */
        VMMS_CKPT_VSS_THAWING,  /* taken: the guest was asked to thaw */
};

/* A checkpoint operation or an import in progress: the VM's pending
 * operation of kind CHECKPOINT or IMPORT (core/pending.h), which holds the
 * call answered at its end (NULL: nobody waits); other requests wait
 * (Busy) as pending.c's table says. */
struct vmms_ckpt_op {
        enum vmms_ckpt_kind kind;
        struct vmms_checkpoint *c;     /* TAKE: the new checkpoint, until it is in the tree */
        struct vm_config *next;        /* TAKE, REVERT: the configuration being installed */
        struct vm_config *prev;        /* TAKE: the one to go back to */
        bool was_running;              /* TAKE: resume afterwards; REVERT: start afterwards */
        bool config_stored;            /* TAKE: next is in the store (undo stores prev) */
        enum vmms_ckpt_vss vss;        /* TAKE: production only */
        bool fallback;                 /* TAKE: production may become standard */
        struct guid taken;             /* TAKE: the id, once in the tree (answered after the thaw) */
        struct guid target;            /* REVERT: the checkpoint */
        int start;                     /* REVERT: 1 start, 0 not, -1 if it ran before */
        /* MERGE: the disk whose present image merges into its parent, on
         * the job's thread (checkpoint/store.c) */
        uint32_t merge_disk;
        struct vmms_ckpt_merge *merge;
        /* MERGE of a running VM: its worker merges (disk-merge) into this
         * parent and moves the disk onto it; bytes copied so far */
        bool merge_online;
        char merge_parent[VM_PATH_MAX];
        uint64_t merge_online_done;
        /* IMPORT: the copy, on the job's thread (saved-state/transfer.c) */
        struct vmms_saved_import *import;
        struct vmms_ckpt_job *job;
};

/* checkpoint/store.c: <state-dir>/<id>.checkpoints/ */
int vmms_ckpt_dir(const struct vmms_vm *vm, const char *file, char *buf, size_t len);
/* The tree from index.json into vm->ckpts (none: empty); a damaged one is
 * a Problem and leaves the VM without checkpoint operations until repaired. */
int vmms_ckpt_load(struct vmms_vm *vm);
/* Writes index.json atomically (creating the directory). */
int vmms_ckpt_store(struct vmms_vm *vm);
/* A state file of checkpoint id: <dir>/<id>.vmrs (tmp: .vmrs.tmp). */
int vmms_ckpt_state_path(const struct vmms_vm *vm, const struct guid *id, bool tmp, char *buf, size_t len);
/* Removes the directory with what is in it (VM deleted). */
void vmms_ckpt_remove_all(struct vmms_vm *vm);

/* A job on a thread of its own (a merge of images can take minutes):
 * run(arg) there, then done(vm, r, arg) on the loop; progress through
 * done and total (read on the loop). */
struct vmms_ckpt_job;
int vmms_ckpt_job_start(struct vmms_vm *vm, int (*run)(void *arg, uint64_t *done, uint64_t *total),
                        void (*done)(struct vmms_vm *vm, int r, void *arg), void *arg, struct vmms_ckpt_job **out);
void vmms_ckpt_job_progress(const struct vmms_ckpt_job *j, uint64_t *done, uint64_t *total);
/* Waits for the thread (vmms exits, the VM goes) and frees. */
void vmms_ckpt_job_free(struct vmms_ckpt_job *j);

/* checkpoint/disks.c */
/* The file name of a new differencing child of image for checkpoint (or
 * revert) id: <dir>/<stem>_<8 hex of id>.avhdx (a stem of ours loses its
 * earlier suffix). */
int vmms_ckpt_child_name(const char *image, const struct guid *id, char *out, size_t len);
/* Makes each writable disk's part of checkpoint c (VHDX: a child, the VM
 * goes on on it: next's path; raw: a reflinked copy) as the owner, and
 * owns what it made. All or nothing: on error what it made is gone, with
 * the reason in err. */
int vmms_ckpt_take_disks(struct vmms_vm *vm, const struct vmms_cred *as, struct vmms_checkpoint *c,
                         struct vm_config *next, char *err, size_t errlen);
/* Removes what take_disks made (and disowns it). */
void vmms_ckpt_drop_disks(struct vmms_vm *vm, const struct vmms_checkpoint *c, const struct vm_config *next);
/* Checkpoint k's disks for a new present state (ids from new_id): VHDX:
 * new children of its images into next; raw: its copies reflinked back
 * over the disks. */
int vmms_ckpt_revert_disks(struct vmms_vm *vm, const struct vmms_cred *as, const struct vmms_checkpoint *k,
                           const struct guid *new_id, struct vm_config *next, char *err, size_t errlen);
/* The parent path of a VHDX image: 1, or 0 when it has none (not
 * differencing), or -errno (it cannot be read). */
int vmms_ckpt_parent_of(struct vmms_vm *vm, const struct vmms_cred *as, const char *image, char *parent,
                        size_t len);
/* Images vmms owns that nothing needs any more (not a checkpoint's, not
 * the VM's, no image's parent) are removed. */
void vmms_ckpt_remove_unneeded(struct vmms_vm *vm, const struct vmms_cred *as);
/* A disk whose top image vmms made and whose parent nothing else needs:
 * the index of the first such disk of cfg (its parent in parent), or -1. */
int vmms_ckpt_next_pop(struct vmms_vm *vm, const struct vmms_cred *as, const struct vm_config *cfg,
                       char parent[static VM_PATH_MAX]);
/* Merges the image top into its parent (both files, no worker using them)
 * on a job's thread; opened here as the owner. */
struct vmms_ckpt_merge;
int vmms_ckpt_merge_prepare(struct vmms_vm *vm, const struct vmms_cred *as, const char *top, const char *parent,
                            struct vmms_ckpt_merge **out, char *err, size_t errlen);
int vmms_ckpt_merge_run(void *merge, uint64_t *done, uint64_t *total);
/* A running VM's worker reported a pass of its merge (merge-progress). */
void vmms_ckpt_on_merge_progress(struct vmms_vm *vm, struct json_object *ev);
/* Asks a running merge to stop after its current block (-ECANCELED): the
 * images stay consistent and a later compaction merges again. */
void vmms_ckpt_merge_stop(struct vmms_ckpt_merge *m);
const char *vmms_ckpt_merge_error(const struct vmms_ckpt_merge *m);
const char *vmms_ckpt_merge_parent(const struct vmms_ckpt_merge *m);
void vmms_ckpt_merge_free(struct vmms_ckpt_merge *m);

/* checkpoint/checkpoint.c: helpers the operations share */
struct vm_config *vmms_ckpt_config_copy(const struct vm_config *c);
/* The operation in progress; NULL: none. */
static inline struct vmms_ckpt_op *vmms_ckpt_op(const struct vmms_vm *vm) {
        struct vmms_ckpt_op *op = vmms_pending_data(&vm->op, VMMS_PENDING_CHECKPOINT);
        return op ? op : vmms_pending_data(&vm->op, VMMS_PENDING_IMPORT);
}
int vmms_ckpt_op_new(struct vmms_vm *vm, enum vmms_ckpt_kind kind, sd_bus_message *call);
/* Ends the operation; its call, if any, goes unanswered (the caller
 * answered it, or vmms ends). */
void vmms_ckpt_op_free(struct vmms_vm *vm);
/* Answers the waiting caller (an error with why, or id or nothing) and
 * ends the operation. */
void vmms_ckpt_op_finish(struct vmms_vm *vm, int r, const char *why, const char *id);
/* Stores c as the VM's configuration and makes it current. */
int vmms_ckpt_install_config(struct vmms_vm *vm, const struct vm_config *c);
int vmms_ckpt_store_index(struct vmms_vm *vm);
/* -EIO (a damaged index) or -EBUSY (an operation runs), with the reason. */
int vmms_ckpt_check_ready(struct vmms_vm *vm, char *err, size_t errlen);
/* check_ready, then the checkpoint ref names (name or id): -ENOENT with
 * "no checkpoint '<ref>'" when none. */
int vmms_ckpt_target(struct vmms_vm *vm, const char *ref, struct vmms_checkpoint **k, char *err, size_t errlen);
void vmms_ckpt_unlink_state(struct vmms_vm *vm, const struct guid *id);

/* checkpoint/checkpoint.c: the steps of a take that checkpoint/vss.c shares */
/* Asks the worker to save (a standard take of a running VM). */
int vmms_ckpt_take_save(struct vmms_vm *vm, char *err, size_t errlen);
/* The worker is paused (and saved, or the guest frozen): the children,
 * the configuration naming them, the worker moved onto them. */
void vmms_ckpt_take_disks_and_push(struct vmms_vm *vm);
/* Everything a failed take made goes; the VM runs on as it was. */
void vmms_ckpt_take_fail(struct vmms_vm *vm, int r, const char *why);
void vmms_ckpt_resume_worker(struct vmms_vm *vm);
/* Answers the caller with the id of the checkpoint taken (op->taken). */
void vmms_ckpt_take_done(struct vmms_vm *vm);

/* checkpoint/vss.c: production checkpoints. Starts the take of a running
 * VM with the guest's freeze; a guest that cannot freeze makes it
 * standard when op->fallback allows, or fails it. */
int vmms_ckpt_take_production(struct vmms_vm *vm, char *err, size_t errlen);
/* The worker's "vss" event: the guest's answer. */
void vmms_ckpt_on_vss(struct vmms_vm *vm, struct json_object *ev);
/* The take's disks moved (or it failed): the guest thaws; the caller is
 * answered after it did (taken) or at once (failed). */
void vmms_ckpt_thaw(struct vmms_vm *vm, int r, const char *why);
/* The worker ended during a take: undone, or (taken, the thaw awaited)
 * answered. */
void vmms_ckpt_take_worker_ended(struct vmms_vm *vm);

/* checkpoint/checkpoint.c, checkpoint/apply.c: the operations */
/* type: what the caller asked (enum vm_checkpoint_type), -1 for the VM's
 * checkpoint_type. */
int vmms_vm_checkpoint(struct vmms_vm *vm, sd_bus_message *call, const char *name, int type, char *err,
                       size_t errlen);
int vmms_vm_checkpoint_revert(struct vmms_vm *vm, sd_bus_message *call, const char *ref, int start, char *err,
                              size_t errlen);
int vmms_vm_checkpoint_delete(struct vmms_vm *vm, sd_bus_message *call, const char *ref, char *err,
                              size_t errlen);
/* The worker ended: a revert waiting for it goes on; a take in progress
 * is undone; a pending merge of the present images may start. */
void vmms_ckpt_on_worker_exit(struct vmms_vm *vm);
/* A VM without a worker (Off, Saved) merges what compaction would: when
 * its worker ends, and when vmms starts (a merge cut short by vmms's end
 * or a crash runs again: docs/checkpoints.md "Deleting"). */
void vmms_ckpt_compact_idle(struct vmms_vm *vm);
void vmms_ckpt_free(struct vmms_vm *vm);
/* Properties changed on the Checkpoints interface. */
void vmms_ckpt_emit(struct vmms_vm *vm, const char *prop);

/* checkpoint-dbus.c: org.vmstack.VMMS1.Checkpoints on every VM object */
int vmms_bus_checkpoints_register(struct vmms_daemon *d);
