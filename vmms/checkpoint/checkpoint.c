// SPDX-License-Identifier: MIT
/* Checkpoints: take, revert, delete (docs/checkpoints.md).
 *
 * Take: a checkpoint is the VM's configuration, its saved state (when it
 * runs, or is Saved) and a frozen image of every writable disk; the VM goes
 * on on new differencing children (raw disks: reflinked copies). A running
 * VM is saved by its worker, which stays paused while vmms makes the
 * children and the worker moves its disks onto them ("disk-push"), then
 * resumes: the guest keeps its worker, its network and its console. The
 * order keeps a crash harmless: the configuration naming the children is
 * stored before the worker uses them, and the index last (the checkpoint
 * exists once the index says so).
 *
 * Revert: the VM's present state is discarded (a running worker is
 * killed), new children of the checkpoint's images are made, its
 * configuration and saved state come back; the VM is Saved (state) or Off,
 * and started again if it ran (or as asked).
 *
 * Delete: the record and its saved state go; then what nothing needs any
 * more is compacted (checkpoint/disks.c): unneeded images vmms made are
 * removed, and a present image vmms made whose parent nothing else needs
 * is merged into it: on a thread when the VM is Off, Saved or Crashed;
 * by its worker while it runs (checkpoint/apply.c, vmwp "disk-merge"). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "guest/guest.h"
#include "host/host.h"
#include "saved-state/saved-state.h"
#include "core/feature.h"

struct vm_config *vmms_ckpt_config_copy(const struct vm_config *c) {
        struct vm_config *n = malloc(sizeof *n);
        if (n)
                *n = *c;
        return n;
}

static enum vmms_pending_kind op_kind(const struct vmms_vm *vm) {
        return vmms_pending_is(&vm->op, VMMS_PENDING_IMPORT) ? VMMS_PENDING_IMPORT : VMMS_PENDING_CHECKPOINT;
}

/* The operation out of the VM's pending ones: its call (NULL: none), and
 * *op for the caller to free (NULL: none was in progress). */
static sd_bus_message *op_end(struct vmms_vm *vm, struct vmms_ckpt_op **op) {
        sd_bus_message *call;
        *op = vmms_pending_take(&vm->op, op_kind(vm), &call);
        return call;
}

static void op_destroy(struct vmms_vm *vm, struct vmms_ckpt_op *op) {
        if (op->job && op->merge) {
                /* The thread ends at its next block; the images stay
                 * consistent and the next start merges again. */
                vmms_ckpt_merge_stop(op->merge);
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "merge into %s stopped: vmms is ending; it goes on when vmms "
                            "starts again", vmms_ckpt_merge_parent(op->merge));
        }
        vmms_saved_import_stop(op->import); /* its thread gives up at its next chunk */
        vmms_ckpt_job_free(op->job);
        vmms_saved_import_free(op->import); /* with its temporary, unless in place */
        vmms_ckpt_merge_free(op->merge);
        vmms_checkpoint_free(op->c);
        free(op->next);
        free(op->prev);
        free(op);
        vmms_ckpt_emit(vm, "Operation");
}

void vmms_ckpt_op_free(struct vmms_vm *vm) {
        struct vmms_ckpt_op *op;
        sd_bus_message_unref(op_end(vm, &op));
        if (op)
                op_destroy(vm, op);
}

int vmms_ckpt_op_new(struct vmms_vm *vm, enum vmms_ckpt_kind kind, sd_bus_message *call) {
        struct vmms_ckpt_op *op = calloc(1, sizeof *op);
        if (!op)
                return -ENOMEM;
        op->kind = kind;
        vmms_pending_begin(&vm->op, kind == VMMS_CKPT_IMPORT ? VMMS_PENDING_IMPORT : VMMS_PENDING_CHECKPOINT, call, op);
        vmms_ckpt_emit(vm, "Operation");
        return 0;
}

/* Answers the waiting caller (if any) and ends the operation. */
void vmms_ckpt_op_finish(struct vmms_vm *vm, int r, const char *why, const char *id) {
        struct vmms_ckpt_op *op;
        sd_bus_message *call = op_end(vm, &op);
        if (call && r < 0)
                (void)sd_bus_reply_method_errorf(call, r == -EBUSY ? VMMS_ERROR_BUSY : VMMS_ERROR_FAILED, "VM '%s': %s",
                                                 vm->config->name, why);
        else if (call)
                (void)(id ? sd_bus_reply_method_return(call, "s", id) : sd_bus_reply_method_return(call, NULL));
        sd_bus_message_unref(call);
        if (op)
                op_destroy(vm, op);
}

int vmms_ckpt_install_config(struct vmms_vm *vm, const struct vm_config *c) {
        int r = vmms_store_save(vm, c);
        if (r < 0)
                return r;
        *vm->config = *c;
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, "Config", NULL);
        return 0;
}

int vmms_ckpt_store_index(struct vmms_vm *vm) {
        int r = vmms_ckpt_store(vm);
        if (r >= 0) {
                vmms_ckpt_emit(vm, "Current");
                vmms_ckpt_emit(vm, "Count");
        }
        return r;
}

int vmms_ckpt_check_ready(struct vmms_vm *vm, char *err, size_t errlen) {
        if (vm->ckpts_damaged)
                return snprintf(err, errlen, "its checkpoint index is damaged (see vmms's Problems)"), -EIO;
        return vmms_pending_refusal(&vm->op, VMMS_ASK_CHECKPOINT, err, errlen);
}

int vmms_ckpt_target(struct vmms_vm *vm, const char *ref, struct vmms_checkpoint **k, char *err, size_t errlen) {
        int r = vmms_ckpt_check_ready(vm, err, errlen);
        if (r < 0)
                return r;
        if (!(*k = vmms_checkpoints_find(vm->ckpts, ref)))
                return snprintf(err, errlen, "no checkpoint '%s'", ref), -ENOENT;
        return 0;
}

/* ---- take ---- */

static struct vmms_checkpoint *new_checkpoint(struct vmms_vm *vm, const char *name, char *err, size_t errlen) {
        struct vmms_checkpoint *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        if (guid_generate(&c->id) < 0 || !(c->config = vm_config_to_json(vm->config))) {
                vmms_checkpoint_free(c);
                return snprintf(err, errlen, "out of memory"), NULL;
        }
        c->parent = vm->ckpts->current;
        c->created_us = now_us(CLOCK_REALTIME);
        if (name && name[0]) {
                snprintf(c->name, sizeof c->name, "%s", name);
        } else { /* Hyper-V's default: the VM's name and the time */
                time_t t = (time_t)(c->created_us / 1000000u);
                struct tm tm;
                char when[32];
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
                snprintf(c->name, sizeof c->name, "%.40s - %.19s", vm->config->name, when);
        }
        return c;
}

/* The saved state of a Saved VM becomes the checkpoint's too (a hard link:
 * the restore opens it read-only and only unlinks the VM's own name). */
static int link_saved_state(struct vmms_vm *vm, struct vmms_checkpoint *c) {
        char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];
        struct stat st;
        int r = vmms_saved_path(vm, false, from, sizeof from);
        if (r == 0)
                r = vmms_ckpt_state_path(vm, &c->id, false, to, sizeof to);
        if (r == 0)
                r = vmms_ckpt_dir(vm, NULL, dir, sizeof dir);
        if (r == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
                r = -errno;
        if (r == 0 && (link(from, to) < 0 || stat(to, &st) < 0))
                r = -errno;
        if (r == 0) {
                c->has_state = true;
                c->state_bytes = (uint64_t)st.st_size;
                snprintf(c->boot_status, sizeof c->boot_status, "%s", vm->boot_status); /* a Saved VM's */
        }
        return r;
}

void vmms_ckpt_unlink_state(struct vmms_vm *vm, const struct guid *id) {
        char path[PATH_MAX];
        for (int tmp = 0; tmp < 2; tmp++)
                if (vmms_ckpt_state_path(vm, id, tmp, path, sizeof path) == 0)
                        (void)unlink(path);
}

/* The checkpoint joins the tree as the present state's: the end of a take. */
static int commit_take(struct vmms_vm *vm, struct vmms_checkpoint *c, char *err, size_t errlen) {
        struct guid prev_current = vm->ckpts->current;
        int r = vmms_checkpoints_add(vm->ckpts, c);
        if (r < 0)
                return snprintf(err, errlen, "%s", r == -EEXIST ? "a checkpoint of that name exists" : strerror(-r)), r;
        vm->ckpts->current = c->id;
        if ((r = vmms_ckpt_store_index(vm)) < 0) {
                vm->ckpts->current = prev_current;
                vm->ckpts->n--; /* c is the last one: the caller still owns it */
                return snprintf(err, errlen, "cannot store the checkpoint index: %s", strerror(-r)), r;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "checkpoint '%s' taken%s", c->name,
                    c->production ? " (production: the guest froze its file systems)"
                    : c->has_state ? " (with its state)"
                                   : "");
        return 0;
}

static int take_offline(struct vmms_vm *vm, struct vmms_checkpoint *c, char *err, size_t errlen) {
        struct vmms_cred cred;
        _cleanup_free_ struct vm_config *next = vmms_ckpt_config_copy(vm->config), *prev = vmms_ckpt_config_copy(vm->config);
        int r = !next || !prev ? -ENOMEM : vmms_cred_of_user(vm->owner, &cred);
        if (r < 0)
                return snprintf(err, errlen, "%s", strerror(-r)), r;
        if ((r = vmms_ckpt_take_disks(vm, &cred, c, next, err, errlen)) < 0)
                return r;
        if (vm->state == VMMS_STATE_SAVED && (r = link_saved_state(vm, c)) < 0)
                snprintf(err, errlen, "the saved state: %s", strerror(-r));
        if (r == 0 && (r = vmms_ckpt_install_config(vm, next)) < 0)
                snprintf(err, errlen, "cannot store the configuration: %s", strerror(-r));
        if (r == 0 && (r = commit_take(vm, c, err, errlen)) < 0)
                (void)vmms_ckpt_install_config(vm, prev);
        if (r < 0) {
                vmms_ckpt_unlink_state(vm, &c->id);
                vmms_ckpt_drop_disks(vm, c, next);
        }
        return r;
}

static void push_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error);

static void resume_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, error, "the worker did not resume after the checkpoint: %m");
}

void vmms_ckpt_resume_worker(struct vmms_vm *vm) {
        if (vmms_ckpt_op(vm)->was_running && vm->worker)
                (void)vmms_worker_request(vm->worker, "resume", NULL, resume_reply, NULL);
}

/* Each VHDX disk's new child, opened read-write and locked for the worker. */
static int push_fds(struct vmms_vm *vm, const struct vmms_cred *cred, json_object *disks, int *fds, size_t *n,
                    char *err, size_t errlen) {
        const struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        *n = 0;
        for (uint32_t i = 0; i < op->next->n_disks; i++) {
                if (op->c->disks[i].kind != VMMS_CKPT_DISK_VHDX)
                        continue;
                int fd = vmms_file_open(&vm->d->opt.paths, op->next->disks[i].path, VMMS_FILE_DISK_RW, cred, err,
                                        errlen);
                if (fd < 0)
                        return fd;
                fds[(*n)++] = fd;
                /* On the description the worker gets: kept while it runs. */
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        return snprintf(err, errlen, "%s: locking: %s", op->next->disks[i].path, strerror(errno)), -errno;
                json_object_array_add(disks, json_object_new_int((int)i));
        }
        return 0;
}

static int send_push(struct vmms_vm *vm, const struct vmms_cred *cred, char *err, size_t errlen) {
        int fds[VM_DISKS_MAX];
        size_t n = 0;
        json_object *args = json_object_new_object(), *disks = json_object_new_array();
        int r = !args || !disks ? -ENOMEM : push_fds(vm, cred, disks, fds, &n, err, errlen);
        if (r >= 0 && n == 0) { /* raw and read-only disks only: nothing moves */
                json_object_put(args);
                json_object_put(disks);
                push_reply(vm, NULL, NULL, 0);
                return 0;
        }
        if (r >= 0) {
                json_object_object_add(args, "disks", TAKE_PTR(disks));
                r = vmms_worker_request_fds(vm->worker, "disk-push", TAKE_PTR(args), fds, n, push_reply, NULL);
                if (r < 0)
                        snprintf(err, errlen, "cannot reach the worker: %s", strerror(-r));
        }
        json_object_put(args);
        json_object_put(disks);
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
        return r;
}

static void push_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        char err[1024];
        if (!op || op->kind != VMMS_CKPT_TAKE)
                return;
        if (error < 0) {
                char why[1024];
                snprintf(why, sizeof why, "the worker could not move its disks onto the checkpoint's children: %s",
                         vmms_worker_reply_why(reply, error));
                return vmms_ckpt_take_fail(vm, error, why);
        }
        struct vmms_checkpoint *c = op->c;
        if (commit_take(vm, c, err, sizeof err) < 0)
                return vmms_ckpt_take_fail(vm, -EIO, err);
        op->c = NULL; /* the tree's now */
        op->taken = c->id;
        vmms_ckpt_resume_worker(vm);
        if (op->vss == VMMS_CKPT_VSS_FROZEN)
                return vmms_ckpt_thaw(vm, 0, NULL); /* answers after the thaw */
        vmms_ckpt_take_done(vm);
}

void vmms_ckpt_take_done(struct vmms_vm *vm) {
        char g[GUID_STRING_MAX];
        vmms_ckpt_op_finish(vm, 0, NULL, guid_to_string(&vmms_ckpt_op(vm)->taken, g));
}

void vmms_ckpt_take_worker_ended(struct vmms_vm *vm) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        if (!op->c)
                return vmms_ckpt_take_done(vm); /* taken; the thaw went with the guest */
        op->vss = VMMS_CKPT_VSS_NONE;
        vmms_ckpt_take_fail(vm, -ESRCH, "the worker ended during the checkpoint");
}

void vmms_ckpt_take_disks_and_push(struct vmms_vm *vm) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        char err[1024] = "";
        struct vmms_cred cred;
        int r;
        if ((r = vmms_cred_of_user(vm->owner, &cred)) < 0 ||
            (r = vmms_ckpt_take_disks(vm, &cred, op->c, op->next, err, sizeof err)) < 0)
                return vmms_ckpt_take_fail(vm, r, err[0] ? err : strerror(-r));
        if ((r = vmms_ckpt_install_config(vm, op->next)) < 0) {
                vmms_ckpt_drop_disks(vm, op->c, op->next);
                return vmms_ckpt_take_fail(vm, r, "cannot store the configuration");
        }
        op->config_stored = true;
        if ((r = send_push(vm, &cred, err, sizeof err)) < 0)
                vmms_ckpt_take_fail(vm, r, err);
}

/* The worker saved and is paused: the state goes in place, then the
 * children and the push. */
static void save_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        char tmp[PATH_MAX], path[PATH_MAX], err[1024] = "";
        if (!op || op->kind != VMMS_CKPT_TAKE || op->vss != VMMS_CKPT_VSS_NONE)
                return;
        if (error < 0) {
                snprintf(err, sizeof err, "the worker could not save the VM: %s", vmms_worker_reply_why(reply, error));
                return vmms_ckpt_take_fail(vm, error, err);
        }
        struct stat st;
        int r = vmms_ckpt_state_path(vm, &op->c->id, true, tmp, sizeof tmp);
        if (r == 0)
                r = vmms_ckpt_state_path(vm, &op->c->id, false, path, sizeof path);
        if (r == 0 && (rename(tmp, path) < 0 || stat(path, &st) < 0))
                r = -errno;
        if (r < 0)
                return vmms_ckpt_take_fail(vm, r, "cannot put the checkpoint's state in place");
        op->c->has_state = true;
        op->c->state_bytes = (uint64_t)st.st_size;
        snprintf(op->c->boot_status, sizeof op->c->boot_status, "%s", vm->boot_status); /* the run's, now */
        vmms_ckpt_take_disks_and_push(vm);
}

void vmms_ckpt_take_fail(struct vmms_vm *vm, int r, const char *why) {
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "checkpoint '%s' failed: %s", op->c->name, why);
        if (op->config_stored) {
                if (vmms_ckpt_install_config(vm, op->prev) < 0)
                        vmms_vm_log(vm, LOG_LEVEL_ERR, 0, "cannot store the configuration back");
                vmms_ckpt_drop_disks(vm, op->c, op->next);
        }
        vmms_ckpt_unlink_state(vm, &op->c->id);
        (void)vmms_ckpt_store(vm); /* what it owned is disowned */
        vmms_ckpt_resume_worker(vm);
        if (op->vss == VMMS_CKPT_VSS_FROZEN)
                return vmms_ckpt_thaw(vm, r, why);
        vmms_ckpt_op_finish(vm, r, why, NULL);
}

int vmms_ckpt_take_save(struct vmms_vm *vm, char *err, size_t errlen) {
        char tmp[PATH_MAX];
        _cleanup_close_ int fd = -1;
        int r = vmms_ckpt_state_path(vm, &vmms_ckpt_op(vm)->c->id, true, tmp, sizeof tmp);
        if (r == 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
                r = -errno;
        if (r == 0)
                r = vm->worker ? vmms_worker_request_fds_timeout(vm->worker, "save", NULL, &fd, 1, VMMS_SAVE_QUIET_US, save_reply,
                                                                NULL)
                               : -ESRCH;
        if (r < 0) {
                if (fd >= 0)
                        (void)unlink(tmp);
                snprintf(err, errlen, "cannot ask the worker to save: %s", strerror(-r));
        }
        return r;
}

static int take_online(struct vmms_vm *vm, sd_bus_message *call, struct vmms_checkpoint *c, bool production,
                       bool fallback, char *err, size_t errlen) {
        char dir[PATH_MAX];
        int r = vmms_ckpt_dir(vm, NULL, dir, sizeof dir);
        if (r == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
                r = -errno;
        if (r < 0)
                return snprintf(err, errlen, "the checkpoint directory: %s", strerror(-r)), r;
        if ((r = vmms_ckpt_op_new(vm, VMMS_CKPT_TAKE, call)) < 0)
                return r;
        struct vmms_ckpt_op *op = vmms_ckpt_op(vm);
        op->next = vmms_ckpt_config_copy(vm->config);
        op->prev = vmms_ckpt_config_copy(vm->config);
        op->was_running = vm->state == VMMS_STATE_RUNNING;
        op->fallback = fallback;
        op->c = c;
        if (!op->next || !op->prev)
                r = -ENOMEM, snprintf(err, errlen, "out of memory");
        else if (production)
                r = vmms_ckpt_take_production(vm, err, errlen);
        else
                r = vmms_ckpt_take_save(vm, err, errlen);
        if (r < 0) {
                op->c = NULL; /* the caller's again */
                vmms_ckpt_op_free(vm);
        }
        return r;
}

/* What a take of the VM as it is now will be: production (the guest
 * freezes) or standard; an error when the type cannot be had. */
static int choose_type(struct vmms_vm *vm, int type, bool *production, bool *fallback, char *err, size_t errlen) {
        enum vm_checkpoint_type t = type < 0 ? vm->config->checkpoint_type : (enum vm_checkpoint_type)type;
        *production = *fallback = false;
        if (t == VM_CHECKPOINT_DISABLED)
                return snprintf(err, errlen, "its checkpoints are disabled (checkpoint_type)"), -EPERM;
        if (t == VM_CHECKPOINT_STANDARD || vm->state == VMMS_STATE_OFF)
                return 0; /* an Off VM's disks are all there is */
        const char *why = vm->state != VMMS_STATE_RUNNING ? vmms_state_to_string(vm->state)
                          : !vm->config->ic.vss ? "without the backup (VSS) integration service (integration.vss)"
                                                : NULL;
        if (!why) {
                *production = true;
                *fallback = t == VM_CHECKPOINT_PRODUCTION;
                return 0;
        }
        if (t == VM_CHECKPOINT_PRODUCTION_ONLY)
                return snprintf(err, errlen, "a production checkpoint needs the guest running with the backup "
                                             "(VSS) integration service, and it is %s", why), -EPERM;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "a production checkpoint is not possible while the VM is %s: a standard "
                                           "one is taken", why);
        return 0;
}

int vmms_vm_checkpoint(struct vmms_vm *vm, sd_bus_message *call, const char *name, int type, char *err,
                       size_t errlen) {
        bool production, fallback;
        int r = vmms_ckpt_check_ready(vm, err, errlen);
        if (r < 0)
                return r;
        if (name[0] && !vmms_checkpoint_name_ok(name))
                return snprintf(err, errlen, "a checkpoint name is 1 to %u printable characters without '/'",
                                VMMS_CHECKPOINT_NAME_MAX - 1), -EINVAL;
        if (vm->ckpts->n >= VMMS_CHECKPOINTS_MAX)
                return snprintf(err, errlen, "it has %u checkpoints, the most a VM may have", VMMS_CHECKPOINTS_MAX),
                       -E2BIG;
        struct vmms_checkpoint *c = new_checkpoint(vm, name, err, errlen);
        if (!c)
                return -ENOMEM;
        if (vmms_checkpoints_find(vm->ckpts, c->name)) {
                snprintf(err, errlen, "a checkpoint named '%s' exists", c->name);
                vmms_checkpoint_free(c);
                return -EEXIST;
        }
        switch (vm->state) {
        case VMMS_STATE_OFF:
        case VMMS_STATE_CRASHED:
        case VMMS_STATE_SAVED:
                if ((r = choose_type(vm, type, &production, &fallback, err, errlen)) < 0)
                        break;
                r = take_offline(vm, c, err, errlen);
                if (r == 0) {
                        char g[GUID_STRING_MAX];
                        (void)sd_bus_reply_method_return(call, "s", guid_to_string(&c->id, g));
                        return 1;
                }
                break;
        case VMMS_STATE_RUNNING:
        case VMMS_STATE_PAUSED:
                if ((r = choose_type(vm, type, &production, &fallback, err, errlen)) < 0)
                        break;
                if ((r = take_online(vm, call, c, production, fallback, err, errlen)) == 0)
                        return 1; /* answered at the end */
                break;
        default:
                snprintf(err, errlen, "a checkpoint is not possible while the VM is %s (possible in: Off, Running, "
                                      "Paused, Saved, Crashed)", vmms_state_to_string(vm->state));
                r = -EBUSY;
        }
        vmms_checkpoint_free(c);
        return r;
}

static const struct vmms_worker_event checkpoint_events[] = {
        { "vss", NULL, vmms_ckpt_on_vss },                       /* a production take's freeze (vss.c) */
        { "merge-progress", NULL, vmms_ckpt_on_merge_progress }, /* apply.c */
        {},
};

const struct vmms_feature vmms_feature_checkpoint = {
        .name = "checkpoint",
        .events = checkpoint_events,
        .bus_register = vmms_bus_checkpoints_register,
};
