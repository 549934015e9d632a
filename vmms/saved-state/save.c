// SPDX-License-Identifier: MIT
/* Hyper-V's Saved state in vmms (docs/vm-state.md, docs/vmms.md "Saved
 * state"). Save: vmms creates <state-dir>/<id>.vmrs.tmp (root, 0600, in its
 * own directory: never a caller's path) and hands the worker its fd with
 * {"op":"save"}; the worker pauses the VM, writes and syncs the state and
 * stays paused. On its ok, vmms renames the file into place, syncs the
 * directory, answers the caller and stops the worker: its end makes the VM
 * Saved. A failed save removes the temporary and leaves the VM as it was;
 * a worker that dies while saving ends as any worker does, never Saved.
 * Start on a Saved VM spawns a worker with the file's fd; once it runs
 * the file goes (the state is consumed, as in Hyper-V). A restore that
 * fails leaves the VM Saved with the file and the worker's reason. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "migration/quick.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "dm/dm.h"
#include "migration/migration.h"
#include "saved-state/saved-state.h"
#include "core/feature.h"

int vmms_saved_path(const struct vmms_vm *vm, bool tmp, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s.vmrs%s", vm->d->opt.state_dir, vm->id, tmp ? ".tmp" : "");
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void sync_state_dir(struct vmms_vm *vm) {
        vmms_saved_sync_dir(vm->d->opt.state_dir);
}

void vmms_saved_emit_props(struct vmms_vm *vm) {
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, "SaveProgress", "SavedStateSize",
                                             NULL);
}

static void remove_tmp(struct vmms_vm *vm) {
        char tmp[PATH_MAX];
        if (vmms_saved_path(vm, true, tmp, sizeof tmp) == 0)
                (void)unlink(tmp);
}

static void reply_error(struct vmms_vm *vm, const char *why) {
        sd_bus_message *call = vmms_pending_end(&vm->op, VMMS_PENDING_SAVE);
        if (call) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "cannot save VM '%s': %s", vm->config->name,
                                                 why);
                sd_bus_message_unref(call);
        }
}

static void stop_reply_ignore(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
}

static void stop_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0 && vm->worker)
                (void)vmms_worker_kill(vm->worker); /* the state is safe: end the worker anyway */
}

static void save_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        json_object *v;
        char tmp[PATH_MAX], path[PATH_MAX];
        if (error < 0) {
                const char *why = vmms_worker_reply_why(reply, error);
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "save failed: %s", why);
                remove_tmp(vm);
                vm->saved->save_done = vm->saved->save_total = 0;
                vmms_saved_emit_props(vm);
                if (vm->state == VMMS_STATE_SAVING && vm->worker)
                        vmms_vm_set_state(vm, vm->saved->save_from);
                reply_error(vm, why);
                vmms_vm_quick_on_saved(vm, why); /* a quick migration's save: it fails */
                return;
        }
        int r = vmms_saved_path(vm, true, tmp, sizeof tmp);
        if (r == 0)
                r = vmms_saved_path(vm, false, path, sizeof path);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot put the saved state in place: %m");
                remove_tmp(vm);
                if (vm->worker && vm->saved->save_from == VMMS_STATE_RUNNING)
                        (void)vmms_worker_request(vm->worker, "resume", NULL, stop_reply_ignore, NULL);
                vmms_vm_set_state(vm, vm->saved->save_from);
                reply_error(vm, strerror(-r));
                vmms_vm_quick_on_saved(vm, strerror(-r));
                return;
        }
        sync_state_dir(vm);
        vm->saved->save_committed = true;
        vm->saved->saved_bytes = json_object_object_get_ex(reply, "bytes", &v) ? (uint64_t)json_object_get_int64(v) : 0;
        vm->saved->save_done = vm->saved->save_total = vm->saved->saved_bytes;
        vmms_saved_emit_props(vm);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "saved (%llu bytes)", (unsigned long long)vm->saved->saved_bytes);
        /* Durable: the caller may go. The worker's end makes the VM Saved. */
        sd_bus_message *c = vmms_pending_end(&vm->op, VMMS_PENDING_SAVE);
        if (c) {
                (void)sd_bus_reply_method_return(c, NULL);
                sd_bus_message_unref(c);
        }
        if (!vm->worker || vmms_worker_request(vm->worker, "stop", NULL, stop_reply, NULL) < 0)
                stop_reply(vm, NULL, NULL, -EIO);
}

int vmms_vm_save(struct vmms_vm *vm, sd_bus_message *call, char *err, size_t errlen) {
        char tmp[PATH_MAX];
        int r = vmms_saved_path(vm, true, tmp, sizeof tmp);
        if (r < 0)
                return snprintf(err, errlen, "state file name: %s", strerror(-r)), r;
        (void)unlink(tmp); /* a stale one of a save that died */
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return snprintf(err, errlen, "%s: %s", tmp, strerror(errno)), -errno;
        vm->saved->save_from = vm->state;
        vm->saved->save_committed = false;
        vm->saved->save_done = vm->saved->save_total = 0;
        r = vmms_worker_request_fds_timeout(vm->worker, "save", NULL, &fd, 1, VMMS_SAVE_QUIET_US, save_reply, NULL);
        if (r < 0) {
                (void)unlink(tmp);
                return snprintf(err, errlen, "cannot reach the worker: %s", strerror(-r)), r;
        }
        vmms_pending_begin(&vm->op, VMMS_PENDING_SAVE, call, NULL);
        vmms_vm_set_state(vm, VMMS_STATE_SAVING);
        return 0;
}

void vmms_vm_on_save_progress(struct vmms_vm *vm, json_object *ev) {
        json_object *d, *t;
        if (vm->state != VMMS_STATE_SAVING || !json_object_object_get_ex(ev, "done", &d) ||
            !json_object_object_get_ex(ev, "total", &t))
                return;
        vm->saved->save_done = (uint64_t)json_object_get_int64(d);
        vm->saved->save_total = (uint64_t)json_object_get_int64(t);
        vmms_vm_emit_changed(vm, "SaveProgress");
}

bool vmms_vm_saved_on_exit(struct vmms_vm *vm, const char *reason) {
        if (vm->state == VMMS_STATE_SAVING && vm->saved->save_committed) {
                vm->saved->save_committed = false;
                snprintf(vm->exit_reason, sizeof vm->exit_reason, "saved");
                vmms_vm_set_state(vm, VMMS_STATE_SAVED);
                vmms_vm_quick_on_saved(vm, NULL); /* a quick migration moves it now */
                return true;
        }
        if (vm->state == VMMS_STATE_SAVING) { /* died while saving: never Saved */
                remove_tmp(vm);
                vm->saved->save_done = vm->saved->save_total = 0;
                vmms_saved_emit_props(vm);
                char why[VMMS_EXIT_REASON_MAX];
                snprintf(why, sizeof why, "the worker ended (%s)", reason ? reason : "no reason");
                reply_error(vm, why);
                vmms_vm_quick_on_saved(vm, why);
                return false;
        }
        if (vm->saved->restoring) { /* never ran: the state and its file stay */
                vm->saved->restoring = false;
                snprintf(vm->exit_reason, sizeof vm->exit_reason, "restoring the saved state failed: %s",
                         reason ? reason : "the worker ended");
                vmms_vm_set_state(vm, VMMS_STATE_SAVED);
                vmms_vm_saved_in_started(vm, vm->exit_reason); /* an incoming Saved VM: tell its source */
                return true;
        }
        return false;
}

void vmms_vm_saved_consumed(struct vmms_vm *vm) {
        char path[PATH_MAX];
        if (!vm->saved->restoring)
                return;
        vm->saved->restoring = false;
        if (vmms_saved_path(vm, false, path, sizeof path) == 0 && unlink(path) < 0 && errno != ENOENT)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, -errno, "cannot remove the consumed saved state %s: %m", path);
        sync_state_dir(vm);
        vm->saved->saved_bytes = vm->saved->save_done = vm->saved->save_total = 0;
        vmms_saved_emit_props(vm);
        vmms_vm_saved_in_started(vm, NULL); /* an incoming Saved VM runs: tell its source */
}

int vmms_vm_discard_saved(struct vmms_vm *vm) {
        char path[PATH_MAX];
        int r = vmms_saved_path(vm, false, path, sizeof path);
        if (r == 0 && unlink(path) < 0 && errno != ENOENT)
                r = -errno;
        if (r < 0)
                return r;
        sync_state_dir(vm);
        vm->saved->saved_bytes = vm->saved->save_done = vm->saved->save_total = 0;
        vmms_saved_emit_props(vm);
        vmms_dm_run_ended(vm);
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "saved state discarded");
        vmms_vm_set_boot_status(vm, ""); /* the run it was is over */
        vmms_vm_set_state(vm, VMMS_STATE_OFF);
        return 0;
}

int vmms_saved_open(struct vmms_vm *vm, char *err, size_t errlen) {
        char path[PATH_MAX];
        int r = vmms_saved_path(vm, false, path, sizeof path);
        if (r < 0)
                return snprintf(err, errlen, "saved state: %s", strerror(-r)), r;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = fd < 0 ? -errno : -EINVAL;
                safe_close(fd);
                return snprintf(err, errlen, "saved state %s: %s", path, strerror(-r)), r;
        }
        return fd;
}

void vmms_saved_load(struct vmms_vm *vm) {
        char path[PATH_MAX];
        struct stat st;
        if (vmms_saved_path(vm, true, path, sizeof path) == 0 && unlink(path) == 0)
                (void)vmms_daemon_add_problem(vm->d, "%s: an unfinished save; removed (the VM was not saved)", path);
        if (vmms_saved_path(vm, false, path, sizeof path) < 0 || lstat(path, &st) < 0)
                return;
        if (!S_ISREG(st.st_mode)) {
                (void)vmms_daemon_add_problem(vm->d, "%s: not a regular file; ignored (the VM is Off)", path);
                return;
        }
        vm->state = VMMS_STATE_SAVED;
        vm->saved->saved_bytes = (uint64_t)st.st_size;
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "saved");
}

static const struct vmms_worker_event saved_state_events[] = {
        { "save-progress", "save", vmms_vm_on_save_progress },
        {},
};

static int saved_state_vm_new(struct vmms_vm *vm) {
        vm->saved = calloc(1, sizeof *vm->saved);
        return vm->saved ? 0 : -ENOMEM;
}

static void saved_state_vm_free(struct vmms_vm *vm) {
        free(vm->saved);
        vm->saved = NULL;
}

const struct vmms_feature vmms_feature_saved_state = {
        .name = "saved-state",
        .events = saved_state_events,
        .vm_new = saved_state_vm_new,
        .vm_free = saved_state_vm_free,
};
