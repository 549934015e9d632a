// SPDX-License-Identifier: MIT
/* After a vmms restart: find the workers that kept running and take them
 * over again. A runtime record names the worker (pid + start time) and its
 * control socket; the worker accepts a new control connection there (see
 * common/proto.h "Re-attach"). A record that is corrupt is renamed aside and
 * reported; a worker that is gone leaves its VM Crashed (with the restart
 * policy applied) since vmms could not see how it ended. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "dm/dm.h"
#include "guest/guest.h"
#include "migration/migration.h"
#include "video/video.h"

static void record_gone(struct vmms_vm *vm, const char *path, const char *why) {
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "%s", why);
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "%s", why);
        (void)unlink(path);
        uint64_t delay;
        vm->state = VMMS_STATE_CRASHED;
        vm->exit_status = -1;
        (void)vmms_store_save_state(vm);
        if (vmms_restart_decide(vm->config->restart_policy, VMMS_END_FAILURE, &vm->d->opt.restart, &vm->restart,
                                now_us(CLOCK_MONOTONIC), &delay) == VMMS_RESTART_YES) {
                char err[VMMS_EXIT_REASON_MAX - 64];
                vm->restarts++;
                if (vmms_vm_start(vm, err, sizeof err) < 0)
                        vmms_vm_log(vm, LOG_LEVEL_ERR, 0, "restart failed: %s", err);
        }
}

static void status_reply(struct vmms_vm *vm, sd_bus_message *call, struct json_object *reply, int error) {
        if (error < 0 || !reply)
                return; /* an older worker: keep what the record said */
        struct json_object *v;
        const char *s = json_object_object_get_ex(reply, "state", &v) ? json_object_get_string(v) : NULL;
        if (s && !strcmp(s, "paused") && vm->state == VMMS_STATE_RUNNING)
                vmms_vm_set_state(vm, VMMS_STATE_PAUSED);
        if (json_object_object_get_ex(reply, "boot_status", &v)) /* a firmware VM's */
                vmms_vm_on_boot_status(vm, json_object_get_string(v));
        /* It became ready while vmms was away: its "ready" event was lost. */
        if (s && strcmp(s, "starting") && vm->state == VMMS_STATE_STARTING && vm->worker) {
                vm->worker->rec.running_since_us = now_us(CLOCK_REALTIME);
                (void)vmms_worker_record_update(vm->worker);
                vmms_vm_on_ready(vm);
                if (!strcmp(s, "paused"))
                        vmms_vm_set_state(vm, VMMS_STATE_PAUSED);
        }
}

static void reattach_one(struct vmms_vm *vm) {
        char path[PATH_MAX], err[256], aside[PATH_MAX + 16];
        _cleanup_free_ char *text = NULL;
        struct vmms_runtime_record rec;
        size_t len;
        int pidfd, r;

        if (vmms_record_path(vm, path, sizeof path) < 0 ||
            read_file(path, VMMS_RUNTIME_RECORD_MAX, &text, &len) < 0)
                return; /* no record: the VM was not running */
        if (vmms_runtime_record_parse(text, len, &rec, err, sizeof err) < 0 || !guid_equal(&rec.id, &vm->config->id)) {
                snprintf(aside, sizeof aside, "%s.corrupt", path);
                (void)rename(path, aside);
                (void)vmms_daemon_add_problem(vm->d, "%s: corrupt runtime record (%s); kept as %s", path,
                                              err[0] ? err : "id mismatch", aside);
                return;
        }
        if (strcmp(rec.boot_id, vm->d->boot_id)) {
                (void)unlink(path); /* from an earlier boot: nothing runs */
                return;
        }
        if ((r = vmms_worker_open_pidfd(&rec, &pidfd)) < 0) {
                record_gone(vm, path, "the worker ended while vmms was not running");
                return;
        }
        if ((r = vmms_worker_reattach(vm, &rec, pidfd, err, sizeof err)) < 0) {
                /* Alive but unreachable (an older worker without re-attach
                 * support): it cannot be managed, so end it. */
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "cannot re-attach to worker %d (%s); killing it", (int)rec.pid, err);
                if (vmms_worker_open_pidfd(&rec, &pidfd) >= 0) {
                        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                        safe_close(pidfd);
                }
                record_gone(vm, path, "vmms could not re-attach to the worker after a restart");
                return;
        }
        vm->running_since_us = rec.running_since_us;
        vm->state = rec.running_since_us ? VMMS_STATE_RUNNING : VMMS_STATE_STARTING;
        vmms_dm_reattached(vm, rec.memory_target);
        vmms_vm_on_boot_status(vm, rec.boot_status[0] ? rec.boot_status : NULL); /* a restored worker's */
        (void)vmms_store_save_state(vm); /* a worker runs: no longer Crashed */
        snprintf(vm->guest->hb_status, sizeof vm->guest->hb_status, "%s", vm->config->ic.heartbeat ? "no-contact" : "unknown");
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "re-attached to worker %d", (int)rec.pid);
        (void)vmms_worker_request(vm->worker, "status", NULL, status_reply, NULL);
        vmms_kvp_sync(vm); /* the worker has the VM's KVP items */
        if (vm->state == VMMS_STATE_RUNNING) /* its display server may still be connected (video/video.c) */
                vmms_display_start(vm);
        if (rec.migration_unresolved[0]) /* paused at a commit nobody confirmed: only the destination knows */
                (void)vmms_vm_migration_ask_again(vm, rec.migration_unresolved);
}

int vmms_reattach_all(struct vmms_daemon *d) {
        for (size_t i = 0; i < d->n_vms; i++)
                reattach_one(d->vms[i]);
        return 0;
}
