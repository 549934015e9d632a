// SPDX-License-Identifier: MIT
/* The end of a worker: classify it (vmms/lifecycle.h), record why, and apply the
 * VM's restart policy with back-off and a limit. A guest reboot (worker exit
 * VMWP_EXIT_RESET) starts a new worker at once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "checkpoint/checkpoint.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "core/feature.h"
#include "dm/dm.h"
#include "guest/guest.h"
#include "migration/migration.h"
#include "saved-state/saved-state.h"

static void restart_now_or_schedule(struct vmms_vm *vm, enum vmms_end end, enum vmms_state rest_state);

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_vm *vm = userdata;
        char err[VMMS_EXIT_REASON_MAX - 64];
        vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
        if (vm->worker)
                return 0;
        vm->restarts++;
        int r = vmms_vm_start(vm, err, sizeof err);
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "restart failed: %s", err);
                snprintf(vm->exit_reason, sizeof vm->exit_reason, "restart failed: %s", err);
                /* Counts against the limit like any other failure. */
                restart_now_or_schedule(vm, VMMS_END_FAILURE, VMMS_STATE_CRASHED);
        }
        return 0;
}

static void restart_now_or_schedule(struct vmms_vm *vm, enum vmms_end end, enum vmms_state rest_state) {
        uint64_t delay;
        enum vmms_restart_decision dec = vmms_restart_decide(vm->config->restart_policy, end, &vm->d->opt.restart,
                                                             &vm->restart, now_us(CLOCK_MONOTONIC), &delay);
        if (dec == VMMS_RESTART_LIMIT) {
                size_t l = strlen(vm->exit_reason);
                snprintf(vm->exit_reason + l, sizeof vm->exit_reason - l, " (restart limit reached: %u restarts in %llu s)",
                         vm->d->opt.restart.burst, (unsigned long long)(vm->d->opt.restart.window_us / 1000000));
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "restart limit reached; leaving the VM %s",
                            vmms_state_to_string(rest_state));
        }
        if (dec != VMMS_RESTART_YES) {
                vmms_vm_set_state(vm, rest_state);
                return;
        }
        vmms_vm_set_state(vm, rest_state);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "restarting in %llu ms (restart policy %s)",
                    (unsigned long long)(delay / 1000), vm_restart_policy_to_string(vm->config->restart_policy));
        int r = sd_event_add_time_relative(vm->d->event, &vm->restart_timer, CLOCK_MONOTONIC, delay, 0,
                                           on_restart_timer, vm);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot schedule the restart: %m");
}

static void restart_after_reset(struct vmms_vm *vm) {
        char err[VMMS_EXIT_REASON_MAX - 64];
        vm->restarts++;
        int r = vmms_vm_start(vm, err, sizeof err);
        if (r >= 0)
                return;
        vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot start the VM again after a reset: %s", err);
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "restart after reset failed: %s", err);
        vmms_vm_set_state(vm, VMMS_STATE_CRASHED);
}

/* An incoming migration's worker ended before the VM ran here: the VM
 * goes. False when this worker was no incoming one. */
static bool incoming_ended(struct vmms_vm *vm, const char *reason) {
        if (!vm->mig->migrating_in)
                return false;
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "incoming migration failed: %s", reason);
        vm->mig->migrating_in = false;
        /* It never ran (status 3: set-up, the commit included); a
         * source that asks is told so until the VM is gone. */
        vm->mig->migrate_in_aborted = true;
        if (vm->mig->incoming_disks) /* the copies it was filling: the source runs on its own */
                vmms_migrate_disks_remove(vm->config, vm->config->n_disks);
        vm->mig->incoming_disks = false;
        vmms_kvp_worker_ended(vm, false);
        vmms_vm_set_state(vm, VMMS_STATE_OFF);
        vmms_vm_remove_later(vm, true);
        return true;
}

void vmms_vm_on_exit(struct vmms_vm *vm, const struct vmms_exit_report *report) {
        struct vmms_exit_report r = *report;
        struct vmms_exit_verdict v;
        r.requested = vm->stop_requested;
        r.request = vm->user_kill ? "Kill" : vm->reboot_pending ? "Reboot" : "Stop";
        vmms_exit_classify(&r, &v);
        if (vm->forced_reason[0] && !vm->stop_requested) {
                snprintf(v.reason, sizeof v.reason, "%s", vm->forced_reason);
                v.end = VMMS_END_FAILURE;
                v.state = VMMS_STATE_CRASHED;
        }
        if (vm->reboot_pending && v.end != VMMS_END_FAILURE)
                v.end = VMMS_END_RESET;

        vm->worker = vmms_worker_free(vm->worker);
        vmms_features_worker_ended(vm); /* what each feature held for it (core/features.c) */
        vmms_vm_logs_rotate(vm); /* a VM that stopped is not checked on the timer */
        vm->op_timer = sd_event_source_disable_unref(vm->op_timer);
        vm->running_since_us = 0;
        vm->guest->hb_last_us = 0;
        snprintf(vm->guest->hb_status, sizeof vm->guest->hb_status, "unknown");
        vm->exit_status = r.code;
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "%s", v.reason);
        vm->stop_phase = VMMS_STOP_NONE;
        /* Moved to another host, or an incoming VM that never ran here:
         * the VM goes. */
        if (vmms_vm_migration_on_exit(vm, v.reason, v.end, v.state)) {
                vmms_kvp_worker_ended(vm, false);
                return;
        }
        if (incoming_ended(vm, v.reason))
                return;
        /* A save that completed (Saved), or a restore that never ran (Saved
         * again): no restart policy applies. */
        if (vmms_vm_saved_on_exit(vm, v.reason)) { /* r.reason was the freed worker's */
                vmms_kvp_worker_ended(vm, false);
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "worker ended: %s", vm->exit_reason);
                vmms_ckpt_on_worker_exit(vm);
                return;
        }
        vmms_kvp_worker_ended(vm, v.end == VMMS_END_RESET);
        vmms_vm_set_boot_status(vm, ""); /* the run ended (a Saved VM's stays, above) */
        /* A take in progress is undone first: a restart (at once after a
         * guest's reset) must find the configuration it started from. */
        if (vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->kind == VMMS_CKPT_TAKE)
                vmms_ckpt_take_worker_ended(vm);
        /* A reset reboots the same run, a revert goes on from a checkpoint
         * of it; anything else ends it. */
        if (v.end != VMMS_END_RESET && !(vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->kind == VMMS_CKPT_REVERT))
                vmms_dm_run_ended(vm);
        vmms_vm_exit_finish(vm, v.end, v.state);
        vmms_ckpt_on_worker_exit(vm); /* a revert waiting for it; a merge waiting */
}

void vmms_vm_exit_finish(struct vmms_vm *vm, enum vmms_end end, enum vmms_state state) {
        vmms_vm_log(vm, end == VMMS_END_FAILURE ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, 0, "worker ended: %s",
                    vm->exit_reason);
        if (end == VMMS_END_RESET) {
                restart_after_reset(vm);
                return;
        }
        restart_now_or_schedule(vm, end, state);
}

static int on_remove(sd_event_source *s, void *userdata) {
        struct vmms_vm *vm = userdata;
        vm->remove_src = sd_event_source_disable_unref(vm->remove_src);
        if (vm->worker)
                return 0; /* started again meanwhile: keep it */
        (void)vmms_store_remove(vm);
        vmms_vm_logs_remove(vm);
        (void)vmms_bus_emit_vm_removed(vm);
        vmms_daemon_remove_vm(vm->d, vm);
        return 0;
}

void vmms_vm_remove_later(struct vmms_vm *vm, bool remove_logs) {
        (void)remove_logs;
        if (!vm->remove_src && sd_event_add_defer(vm->d->event, &vm->remove_src, on_remove, vm) < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, -ENOMEM, "cannot schedule the VM's removal");
}

