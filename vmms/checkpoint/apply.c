// SPDX-License-Identifier: MIT
/* Reverting to a checkpoint, deleting one, and compacting the images
 * nothing needs any more (docs/checkpoints.md; checkpoint/checkpoint.c takes them). */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "core/daemon.h"
#include "host/host.h"
#include "saved-state/saved-state.h"
#include "worker/worker.h"

void vmms_ckpt_emit(struct vmms_vm *vm, const char *prop) {
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_CHECKPOINTS_IFACE, prop, NULL);
}

/* ---- revert ---- */

/* The checkpoint's saved state becomes the VM's (a hard link: the restore
 * consumes only the VM's name of it), or the VM has none. */
static int install_state(struct vmms_vm *vm, const struct vmms_checkpoint *k) {
        char vmrs[PATH_MAX], from[PATH_MAX];
        struct stat st;
        int r = vmms_saved_path(vm, false, vmrs, sizeof vmrs);
        if (r == 0 && unlink(vmrs) < 0 && errno != ENOENT)
                r = -errno;
        if (r == 0 && k->has_state && (r = vmms_ckpt_state_path(vm, &k->id, false, from, sizeof from)) == 0 &&
            (link(from, vmrs) < 0 || stat(vmrs, &st) < 0))
                r = -errno;
        vm->saved->saved_bytes = r == 0 && k->has_state ? (uint64_t)st.st_size : 0;
        return r;
}

/* The checkpoint's configuration, for this VM as it is named now. */
static int checkpoint_config(struct vmms_vm *vm, const struct vmms_checkpoint *k, struct vm_config *next, char *err,
                             size_t errlen) {
        char why[320];
        if (vm_config_parse(k->config, strlen(k->config), next, why, sizeof why) < 0)
                return snprintf(err, errlen, "the checkpoint's configuration: %s", why), -EINVAL;
        next->id = vm->config->id;
        snprintf(next->name, sizeof next->name, "%s", vm->config->name);
        return 0;
}

static int apply(struct vmms_vm *vm, const struct guid *target, char *err, size_t errlen) {
        struct vmms_checkpoint *k = vmms_checkpoints_find_id(vm->ckpts, target);
        if (!k)
                return snprintf(err, errlen, "the checkpoint was deleted meanwhile"), -ENOENT;
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        struct vmms_cred cred;
        struct guid new_id;
        int r = !next ? -ENOMEM : checkpoint_config(vm, k, next, err, errlen);
        if (r == 0 && ((r = vmms_cred_of_user(vm->owner, &cred)) < 0 || (r = guid_generate(&new_id)) < 0))
                snprintf(err, errlen, "%s", strerror(-r));
        if (r == 0)
                r = vmms_ckpt_revert_disks(vm, &cred, k, &new_id, next, err, errlen);
        if (r < 0)
                return r;
        /* From here the present state is the checkpoint's. */
        if ((r = install_state(vm, k)) < 0 || (r = vmms_ckpt_install_config(vm, next)) < 0)
                return snprintf(err, errlen, "cannot install the checkpoint's state or configuration: %s",
                                strerror(-r)), r;
        vm->ckpts->current = k->id;
        if ((r = vmms_ckpt_store_index(vm)) < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot store the checkpoint index: %m");
        vmms_ckpt_remove_unneeded(vm, &cred); /* the discarded present images */
        (void)vmms_ckpt_store(vm);
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "reverted to checkpoint '%s'", k->name);
        /* The state's BootStatus comes back with it (a checkpoint taken
         * before the record kept one has none); a VM reverted to Off has none. */
        vmms_vm_set_boot_status(vm, k->has_state ? k->boot_status : "");
        vmms_vm_set_state(vm, k->has_state ? VMMS_STATE_SAVED : VMMS_STATE_OFF);
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, "SavedStateSize", NULL);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "reverted to checkpoint '%s'", k->name);
        return 0;
}

/* Applies the operation's target, then starts the VM if asked. */
static void revert_now(struct vmms_vm *vm) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        char err[1024] = "", why[1100];
        int r = apply(vm, &op->target, err, sizeof err);
        bool start = op->start > 0 || (op->start < 0 && op->was_running);
        if (r == 0 && start && (r = vmms_vm_start(vm, err, sizeof err)) < 0)
                snprintf(why, sizeof why, "reverted, but it did not start: %s", err);
        else
                snprintf(why, sizeof why, "cannot revert: %s", err);
        vmms_ckpt_op_finish(vm, r, why, NULL);
}

int vmms_vm_checkpoint_revert(struct vmms_vm *vm, sd_bus_message *call, const char *ref, int start, char *err,
                              size_t errlen) {
        struct vmms_checkpoint *k;
        int r = vmms_ckpt_target(vm, ref, &k, err, errlen);
        if (r < 0)
                return r;
        bool running = vm->state == VMMS_STATE_RUNNING || vm->state == VMMS_STATE_PAUSED ||
                       vm->state == VMMS_STATE_STARTING;
        if (!running && vm->state != VMMS_STATE_OFF && vm->state != VMMS_STATE_CRASHED &&
            vm->state != VMMS_STATE_SAVED)
                return snprintf(err, errlen, "a revert is not possible while the VM is %s",
                                vmms_state_to_string(vm->state)), -EBUSY;
        if ((r = vmms_ckpt_op_new(vm, VMMS_CKPT_REVERT, call)) < 0)
                return r;
        vmms_ckpt_op(vm)->target = k->id;
        vmms_ckpt_op(vm)->start = start;
        vmms_ckpt_op(vm)->was_running = running;
        vmms_vm_cancel_restart(vm);
        if (!running) {
                revert_now(vm);
                return 1;
        }
        /* The present state is discarded: the worker goes first. Not by
         * SIGKILL: the images it leaves are opened again at once, and a
         * killed worker's io_urings let go of them (and their locks) only
         * later, in the kernel's own time. */
        if ((r = vmms_vm_stop_hard(vm)) < 0) {
                vmms_ckpt_op_free(vm);
                return snprintf(err, errlen, "cannot stop the VM: %s", strerror(-r)), r;
        }
        return 1;
}

/* ---- delete and compaction ---- */

static void compact_merged(struct vmms_vm *vm, int r, void *arg);
static int compact(struct vmms_vm *vm);

/* After a merge of disk i's present image into parent: the configuration
 * names the parent, the image vmms made goes. 0, or -errno with why. */
static int take_parent(struct vmms_vm *vm, uint32_t i, const char *parent, char *why, size_t whylen) {
        _cleanup_free_ struct vm_config *next = vmms_ckpt_config_copy(vm->config);
        char top[VM_PATH_MAX];
        snprintf(top, sizeof top, "%s", vm->config->disks[i].path);
        if (next)
                snprintf(next->disks[i].path, sizeof next->disks[i].path, "%s", parent);
        int r = next ? vmms_ckpt_install_config(vm, next) : -ENOMEM;
        if (r < 0)
                return snprintf(why, whylen, "merged, but the configuration could not be stored"), r;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "merged %s into %s", top, parent);
        (void)unlink(top);
        vmms_checkpoints_disown(vm->ckpts, top);
        (void)vmms_ckpt_store(vm);
        return 0;
}

#define MERGE_ONLINE_TIMEOUT_US (3600ull * 1000000u) /* a pass per chunk the guest keeps writing */

/* The worker's answer to disk-merge: the disk runs on the parent now, or
 * (refused, failed) on its image as before, merged when the VM stops. */
static void merge_online_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        (void)call;
        if (!op || op->kind != VMMS_CKPT_MERGE || !op->merge_online)
                return; /* the worker ended first (vmms_ckpt_on_worker_exit) */
        op->merge_online = false;
        json_object *v;
        char why[1400] = "";
        if (error < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, error, "not merged while the VM runs (merged once it stops): %s",
                            vmms_worker_reply_why(reply, error));
                vmms_ckpt_op_finish(vm, 0, NULL, NULL); /* the checkpoint is deleted all the same */
                return;
        }
        double pause = reply && json_object_object_get_ex(reply, "pause_ms", &v) ? json_object_get_double(v) : 0;
        int64_t bytes = reply && json_object_object_get_ex(reply, "bytes", &v) ? json_object_get_int64(v) : 0;
        int64_t passes = reply && json_object_object_get_ex(reply, "passes", &v) ? json_object_get_int64(v) : 0;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "the worker merged disks[%u] while the VM ran: %" PRId64 " passes, %.1f MiB, "
                    "paused %.1f ms", op->merge_disk, passes, (double)bytes / 1048576.0, pause);
        int r = take_parent(vm, op->merge_disk, op->merge_parent, why, sizeof why);
        if (r >= 0 && compact(vm))
                return; /* the next merge: the operation goes on */
        vmms_ckpt_op_finish(vm, r, why, NULL);
}

/* A running VM: its worker merges the next image (vmwp "disk-merge") and
 * moves the disk onto the parent; 1 when asked (the answer ends it). */
static int compact_online(struct vmms_vm *vm, const struct vmms_cred *cred) {
        char parent[VM_PATH_MAX], why[1024];
        if (!vm->worker || (vm->state != VMMS_STATE_RUNNING && vm->state != VMMS_STATE_PAUSED))
                return 0; /* starting, stopping: when its worker ends */
        int i = vmms_ckpt_next_pop(vm, cred, vm->config, parent);
        if (i < 0)
                return 0;
        int pfd = vmms_file_open(&vm->d->opt.paths, parent, VMMS_FILE_DISK_RW, cred, why, sizeof why);
        if (pfd < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, pfd, "not merged while the VM runs: %s", why);
                return 0;
        }
        json_object *args = json_object_new_object();
        if (!args || (!vmms_ckpt_op(vm) && vmms_ckpt_op_new(vm, VMMS_CKPT_MERGE, NULL) < 0)) {
                json_object_put(args);
                close(pfd);
                return 0;
        }
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        op->kind = VMMS_CKPT_MERGE;
        op->merge_disk = (uint32_t)i;
        op->merge_online = true;
        op->merge_online_done = 0;
        snprintf(op->merge_parent, sizeof op->merge_parent, "%s", parent);
        json_object_object_add(args, "disk", json_object_new_int(i));
        int r = vmms_worker_request_fds_timeout(vm->worker, "disk-merge", args, &pfd, 1, MERGE_ONLINE_TIMEOUT_US,
                                                merge_online_reply, NULL);
        close(pfd); /* the worker has its own */
        if (r < 0) {
                op->merge_online = false;
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "not merged while the VM runs: cannot ask the worker: %m");
                return 0;
        }
        vmms_ckpt_emit(vm, "Operation");
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "merging %s into %s while the VM runs", vm->config->disks[i].path, parent);
        return 1;
}

void vmms_ckpt_on_merge_progress(struct vmms_vm *vm, json_object *ev) {
        json_object *v;
        if (vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->merge_online && json_object_object_get_ex(ev, "bytes", &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
                vmms_ckpt_op(vm)->merge_online_done = (uint64_t)json_object_get_int64(v);
}

/* Merges the next present image vmms made into a parent nothing else
 * needs; 1 when a merge started (the operation answers at its end). */
static int compact(struct vmms_vm *vm) {
        struct vmms_cred cred;
        char parent[VM_PATH_MAX], err[1024];
        if (vmms_cred_of_user(vm->owner, &cred) < 0)
                return 0;
        vmms_ckpt_remove_unneeded(vm, &cred);
        (void)vmms_ckpt_store(vm);
        if (vmms_state_has_worker(vm->state))
                return compact_online(vm, &cred); /* its worker uses the images: it merges them */
        int i = vmms_ckpt_next_pop(vm, &cred, vm->config, parent);
        if (i < 0)
                return 0;
        struct vmms_ckpt_merge *m;
        int r = vmms_ckpt_merge_prepare(vm, &cred, vm->config->disks[i].path, parent, &m, err, sizeof err);
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "not merged now: %s", err);
                return 0;
        }
        if (!vmms_ckpt_op(vm) && vmms_ckpt_op_new(vm, VMMS_CKPT_MERGE, NULL) < 0) {
                vmms_ckpt_merge_free(m);
                return 0;
        }
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        op->kind = VMMS_CKPT_MERGE;
        op->merge_disk = (uint32_t)i;
        op->merge = m;
        vmms_ckpt_emit(vm, "Operation");
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "merging %s into %s", vm->config->disks[i].path, parent);
        if ((r = vmms_ckpt_job_start(vm, vmms_ckpt_merge_run, compact_merged, m, &op->job)) < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot start the merge: %m");
                op->merge = NULL;
                vmms_ckpt_merge_free(m);
                return 0;
        }
        return 1;
}

/* On the loop, after the merge thread: the parent takes the top's place. */
static void compact_merged(struct vmms_vm *vm, int r, void *arg) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        struct vmms_ckpt_merge *m = arg;
        char why[1400] = "";
        op->job = (vmms_ckpt_job_free(op->job), NULL);
        if (r < 0) {
                snprintf(why, sizeof why, "the checkpoint was deleted, but merging its image failed (the images "
                                          "stay as they were): %s", vmms_ckpt_merge_error(m));
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "%s", why);
        } else {
                r = take_parent(vm, op->merge_disk, vmms_ckpt_merge_parent(m), why, sizeof why);
        }
        op->merge = NULL;
        vmms_ckpt_merge_free(m);
        if (r >= 0 && compact(vm))
                return; /* the next merge: the operation goes on */
        vmms_ckpt_op_finish(vm, r, why, NULL);
}

int vmms_vm_checkpoint_delete(struct vmms_vm *vm, sd_bus_message *call, const char *ref, char *err,
                              size_t errlen) {
        struct vmms_checkpoint *k;
        int r = vmms_ckpt_target(vm, ref, &k, err, errlen);
        if (r < 0)
                return r;
        if (vm->state == VMMS_STATE_SAVING || vm->state == VMMS_STATE_MIGRATING)
                return snprintf(err, errlen, "not while the VM is %s", vmms_state_to_string(vm->state)), -EBUSY;
        struct guid id = k->id;
        char name[VMMS_CHECKPOINT_NAME_MAX];
        snprintf(name, sizeof name, "%s", k->name);
        vmms_checkpoints_remove(vm->ckpts, k);
        if ((r = vmms_ckpt_store_index(vm)) < 0) {
                (void)vmms_ckpt_load(vm); /* the tree as the file still has it */
                return snprintf(err, errlen, "cannot store the checkpoint index: %s", strerror(-r)), r;
        }
        vmms_ckpt_unlink_state(vm, &id);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "checkpoint '%s' deleted", name);
        if ((r = vmms_ckpt_op_new(vm, VMMS_CKPT_MERGE, call)) < 0)
                return r;
        if (!compact(vm))
                vmms_ckpt_op_finish(vm, 0, NULL, NULL);
        return 1;
}

void vmms_ckpt_on_worker_exit(struct vmms_vm *vm) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        if (op && op->kind == VMMS_CKPT_REVERT) {
                revert_now(vm);
                return;
        }
        /* A take's requests went with the worker, unanswered. */
        if (op && op->kind == VMMS_CKPT_TAKE) {
                vmms_ckpt_take_worker_ended(vm);
                return;
        }
        /* A running VM's merge went with its worker, unanswered: the
         * checkpoint is deleted; what is left merges now, offline. */
        if (op && op->kind == VMMS_CKPT_MERGE && op->merge_online) {
                op->merge_online = false;
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "the worker ended during its merge into %s: merged now, offline",
                            op->merge_parent);
                vmms_ckpt_op_finish(vm, 0, NULL, NULL);
        }
        /* What waited for the worker to end may go now. */
        vmms_ckpt_compact_idle(vm);
}

void vmms_ckpt_compact_idle(struct vmms_vm *vm) {
        if (!vmms_ckpt_op(vm) && !vm->ckpts_damaged && vm->ckpts && vm->ckpts->n_owned &&
            (vm->state == VMMS_STATE_OFF || vm->state == VMMS_STATE_SAVED))
                (void)compact(vm);
}

void vmms_ckpt_free(struct vmms_vm *vm) {
        vmms_ckpt_op_free(vm); /* waits for a merge thread */
        if (vm->ckpts)
                vmms_checkpoints_clear(vm->ckpts);
        free(vm->ckpts);
        vm->ckpts = NULL;
}
