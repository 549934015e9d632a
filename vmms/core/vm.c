// SPDX-License-Identifier: MIT
/* One VM: the state machine of vmms/lifecycle.h applied to a worker's life —
 * start, graceful and hard stop, kill, reboot, the worker's events and its
 * end, and the restart policy. Every state change is announced with
 * PropertiesChanged. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "checkpoint/checkpoint.h"
#include "vmms/validate.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "core/feature.h"
#include "guest/guest.h"
#include "host/host.h"
#include "hotplug/hotplug.h"
#include "metering/metering.h"
#include "migration/migration.h"
#include "processor/processor.h"
#include "saved-state/saved-state.h"
#include "video/video.h"

struct vmms_vm *vmms_vm_new(struct vmms_daemon *d, const struct vm_config *c, uid_t owner) {
        struct vmms_vm *vm = calloc(1, sizeof *vm);
        if (!vm || !(vm->config = malloc(sizeof *vm->config)) || !(vm->ckpts = calloc(1, sizeof *vm->ckpts))) {
                if (vm)
                        free(vm->config);
                free(vm);
                return NULL;
        }
        *vm->config = *c;
        vm->d = d;
        vm->owner = owner;
        vm->state = VMMS_STATE_OFF;
        vm->exit_status = -1;
        guid_to_string(&c->id, vm->id);
        vmms_vm_path(&c->id, vm->path);
        if (vmms_features_vm_new(vm) < 0) { /* each feature's state, the VM's one pointer to it */
                free(vm->ckpts);
                free(vm->config);
                free(vm);
                return NULL;
        }
        return vm;
}

struct vmms_vm *vmms_vm_free(struct vmms_vm *vm) {
        if (!vm)
                return NULL;
        vmms_vm_migration_free(vm);
        vmms_vm_quick_free(vm);
        vmms_vm_handover_free(vm);
        vm->worker = vmms_worker_free(vm->worker);
        vmms_hotplug_worker_ended(vm);
        vmms_processor_free(vm);
        vmms_ckpt_free(vm);
        vmms_display_free(vm);
        vmms_metering_free(vm);
        sd_event_source_disable_unref(vm->restart_timer);
        sd_event_source_disable_unref(vm->op_timer);
        sd_event_source_disable_unref(vm->remove_src);
        vmms_pending_drop(&vm->op); /* vmms exits: the caller's call fails with the bus */
        vmms_features_vm_free(vm);
        free(vm->config);
        free(vm);
        return NULL;
}

void vmms_vm_emit_changed(struct vmms_vm *vm, const char *prop) {
        int r = sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, prop, NULL);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, r, "cannot emit PropertiesChanged(%s): %m", prop);
}

void vmms_vm_set_state(struct vmms_vm *vm, enum vmms_state s) {
        enum vmms_state old = vm->state;
        int r;
        vm->state = s;
        if (old != s) {
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "%s -> %s", vmms_state_to_string(old), vmms_state_to_string(s));
                vmms_uplink_changed(vm->d); /* its NICs' weights come or go with its worker */
        }
        if ((old == VMMS_STATE_CRASHED || s == VMMS_STATE_CRASHED || old == VMMS_STATE_SAVED ||
             s == VMMS_STATE_SAVED) && (r = vmms_store_save_state(vm)) < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot store the VM's state: %m");
        /* One signal with everything a state change touches. */
        r = sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, "State", "WorkerPid",
                                               "RunningSince", "ExitReason", "ExitStatus", "Heartbeat", "Restarts",
                                               "ConsoleSocket", NULL);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, r, "cannot emit PropertiesChanged: %m");
}

static void set_op_timer(struct vmms_vm *vm, uint64_t usec, sd_event_time_handler_t fn) {
        vm->op_timer = sd_event_source_disable_unref(vm->op_timer);
        int r = sd_event_add_time_relative(vm->d->event, &vm->op_timer, CLOCK_MONOTONIC, usec, 0, fn, vm);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot arm a timer: %m");
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_vm *vm = userdata;
        if (vm->worker) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "worker did not stop; killing it");
                vm->stop_phase = VMMS_STOP_KILLED;
                (void)vmms_worker_kill(vm->worker);
        }
        return 0;
}

static void ignore_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, error, "worker request failed: %m");
}

/* {"op":"stop"}, and SIGKILL if the worker is still there after the grace. */
static void hard_stop(struct vmms_vm *vm) {
        vm->stop_phase = VMMS_STOP_HARD;
        if (!vm->worker)
                return;
        if (vmms_worker_request(vm->worker, "stop", NULL, ignore_reply, NULL) < 0) {
                on_kill_timer(NULL, 0, vm);
                return;
        }
        set_op_timer(vm, vm->d->opt.stop_grace_us, on_kill_timer);
}

static int on_start_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_vm *vm = userdata;
        snprintf(vm->forced_reason, sizeof vm->forced_reason, "the worker did not report ready within %llu s",
                 (unsigned long long)(vm->d->opt.start_timeout_us / 1000000));
        if (vm->worker)
                (void)vmms_worker_kill(vm->worker);
        return 0;
}

int vmms_vm_start(struct vmms_vm *vm, char *err, size_t errlen) {
        if (vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->kind == VMMS_CKPT_MERGE) /* a restart timer's start */
                return snprintf(err, errlen, "its checkpoint images are being merged"), -EBUSY;
        if (vmms_daemon_count_state(vm->d, VMMS_STATE_STARTING) >= vm->d->opt.max_starting) {
                snprintf(err, errlen, "%u VMs are starting already (--max-starting); try again shortly",
                         vm->d->opt.max_starting);
                return -EUSERS;
        }
        vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
        vm->stop_requested = vm->reboot_pending = vm->user_kill = false;
        vm->stop_phase = VMMS_STOP_NONE;
        vm->forced_reason[0] = 0;
        /* The host may have less memory than when the VM was created (or
         * its configuration file came from elsewhere). */
        int r = vmms_config_check_memory(vm->config, NULL, vmms_host_memory_mib(), err, errlen);
        vm->saved->restoring = vm->state == VMMS_STATE_SAVED; /* the worker restores instead of booting */
        if (r >= 0)
                r = vmms_worker_spawn(vm, err, errlen);
        if (r < 0) {
                vm->saved->restoring = false; /* a Saved VM stays Saved */
                /* Also in ExitReason, where `vmctl show` looks, not only in
                 * the caller's error (a restart has no caller). */
                snprintf(vm->exit_reason, sizeof vm->exit_reason, "cannot start: %s", err);
                vm->exit_status = -1;
                vmms_vm_emit_changed(vm, "ExitReason");
                vmms_vm_emit_changed(vm, "ExitStatus");
                return r;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "worker %d started", (int)vmms_worker_pid(vm->worker));
        set_op_timer(vm, vm->d->opt.start_timeout_us, on_start_timeout);
        snprintf(vm->guest->hb_status, sizeof vm->guest->hb_status, "unknown");
        vm->guest->hb_last_us = 0;
        if (!vm->saved->restoring && !vm->mig->migrating_in) /* those go on from where they were */
                vmms_vm_set_boot_status(vm, vm->config->boot_kind == VM_BOOT_FIRMWARE ? "firmware" : "");
        vmms_vm_set_state(vm, VMMS_STATE_STARTING);
        return 0;
}

void vmms_vm_on_ready(struct vmms_vm *vm) {
        if (vm->state != VMMS_STATE_STARTING)
                return;
        vm->op_timer = sd_event_source_disable_unref(vm->op_timer);
        /* The runtime record's time, so that it survives a vmms restart. */
        vm->running_since_us = vm->worker && vm->worker->rec.running_since_us ? vm->worker->rec.running_since_us
                                                                              : now_us(CLOCK_REALTIME);
        snprintf(vm->guest->hb_status, sizeof vm->guest->hb_status, "%s", vm->config->ic.heartbeat ? "no-contact" : "unknown");
        vmms_vm_saved_consumed(vm); /* a restored VM runs: its saved state is used up */
        vmms_vm_migrated_in(vm);    /* an incoming VM runs: it is defined here now */
        vmms_vm_set_state(vm, VMMS_STATE_RUNNING);
        vmms_kvp_sync(vm);
        vmms_display_start(vm);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_vm *vm = userdata;
        vmms_vm_log(vm, LOG_LEVEL_NOTICE, 0, "the guest did not shut down within %u s; stopping it",
                    vm->stop_timeout_s);
        hard_stop(vm);
        return 0;
}

static void power_button_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_NOTICE, error, "ACPI power button failed (%m); waiting for the timeout");
}

/* The worker answers ENOTSUP without the shutdown integration service and
 * ENOTCONN until the guest has opened and negotiated it: fall back to the
 * ACPI power button (or, for a reboot, a hard reset). */
static void shutdown_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error >= 0 || !vm->worker || vm->stop_phase != VMMS_STOP_GRACEFUL)
                return;
        vmms_vm_log(vm, LOG_LEVEL_INFO, error, "the guest did not take the shutdown request (%m); %s",
                    vm->reboot_pending ? "resetting" : "pressing the ACPI power button");
        if (vm->reboot_pending)
                hard_stop(vm);
        else if (vmms_worker_request(vm->worker, "power-button", NULL, power_button_reply, NULL) < 0)
                hard_stop(vm);
}

/* The guest refused (§8.3: E_FAIL, e.g. flags it does not support): the
 * same fallback as a guest without the service. */
static void shutdown_refused(struct vmms_vm *vm) {
        shutdown_reply(vm, NULL, NULL, -ECANCELED);
}

static void graceful_stop(struct vmms_vm *vm, bool reboot) {
        vm->stop_phase = VMMS_STOP_GRACEFUL;
        set_op_timer(vm, (uint64_t)vm->stop_timeout_s * 1000000u, on_stop_timeout);
        if (vm->config->ic.shutdown) {
                json_object *args = json_object_new_object();
                json_object_object_add(args, "reboot", json_object_new_boolean(reboot));
                if (vmms_worker_request(vm->worker, "shutdown", args, shutdown_reply, NULL) >= 0)
                        return;
        }
        shutdown_reply(vm, NULL, NULL, -ENOTSUP);
}

void vmms_vm_cancel_restart(struct vmms_vm *vm) {
        if (vm->restart_timer) {
                vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "pending restart cancelled");
        }
}

int vmms_vm_stop(struct vmms_vm *vm, uint32_t timeout_s) {
        if (!vm->worker) {
                vmms_vm_cancel_restart(vm);
                return 0;
        }
        vm->stop_requested = true;
        vm->reboot_pending = false; /* Stop wins over an earlier Reboot */
        vm->stop_timeout_s = timeout_s;
        /* A guest that is not up (Starting) or not running (Paused) cannot
         * react to a shutdown request. */
        if (vm->state == VMMS_STATE_RUNNING)
                graceful_stop(vm, false);
        else
                hard_stop(vm);
        vmms_vm_set_state(vm, VMMS_STATE_STOPPING);
        return 0;
}

int vmms_vm_stop_hard(struct vmms_vm *vm) {
        if (!vm->worker)
                return 0;
        vm->stop_requested = true; /* an end on request: no restart */
        vm->reboot_pending = false;
        hard_stop(vm);
        vmms_vm_set_state(vm, VMMS_STATE_STOPPING);
        return 0;
}

int vmms_vm_kill(struct vmms_vm *vm) {
        if (!vm->worker) {
                vmms_vm_cancel_restart(vm);
                return 0;
        }
        vm->stop_requested = vm->user_kill = true;
        vm->reboot_pending = false;
        vm->stop_phase = VMMS_STOP_KILLED;
        int r = vmms_worker_kill(vm->worker);
        if (r < 0)
                return r;
        vmms_vm_set_state(vm, VMMS_STATE_STOPPING);
        return 0;
}

int vmms_vm_reboot(struct vmms_vm *vm) {
        if (!vm->worker)
                return -ESRCH;
        vm->reboot_pending = true;
        vm->stop_timeout_s = vm->config->stop_timeout_s;
        graceful_stop(vm, true);
        return 0;
}

void vmms_vm_set_boot_status(struct vmms_vm *vm, const char *s) {
        if (!strcmp(vm->boot_status, s))
                return;
        snprintf(vm->boot_status, sizeof vm->boot_status, "%s", s);
        vmms_vm_emit_changed(vm, "BootStatus");
        int r;
        if (vm->state == VMMS_STATE_SAVED && (r = vmms_store_save_state(vm)) < 0) /* kept with the Saved VM */
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot store the VM's state: %m");
}

/* Only the words of the protocol (common/proto.h) and only for a firmware
 * VM: the worker runs the guest's side and may say anything. The guest
 * can only mislabel its own VM (docs/THREAT_MODEL.md). */
void vmms_vm_on_boot_status(struct vmms_vm *vm, const char *s) {
        if (!s || vm->config->boot_kind != VM_BOOT_FIRMWARE ||
            (strcmp(s, "firmware") && strcmp(s, "booted") && strcmp(s, "no-bootable-device")))
                return;
        if (!strcmp(s, "no-bootable-device") && strcmp(vm->boot_status, s))
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0,
                            "the firmware found nothing to boot (\"No bootable device.\"); the VM waits: "
                            "insert a DVD or attach a bootable disk and start it again");
        vmms_vm_set_boot_status(vm, s);
}

void vmms_vm_on_event(struct vmms_vm *vm, json_object *ev) {
        json_object *v;
        const char *name = json_object_get_string(json_object_object_get_ex(ev, "event", &v) ? v : NULL);
        if (!name)
                return;
        if (!strcmp(name, "state") && json_object_object_get_ex(ev, "state", &v)) {
                const char *s = json_object_get_string(v);
                if (vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->kind == VMMS_CKPT_TAKE)
                        return; /* a take pauses and resumes the worker: the VM runs on */
                if (s && vm->state == VMMS_STATE_RUNNING && !strcmp(s, "paused"))
                        vmms_vm_set_state(vm, VMMS_STATE_PAUSED);
                else if (s && vm->state == VMMS_STATE_PAUSED && !strcmp(s, "running"))
                        vmms_vm_set_state(vm, VMMS_STATE_RUNNING);
        } else if (!strcmp(name, "heartbeat")) {
                const char *s = json_object_object_get_ex(ev, "status", &v) ? json_object_get_string(v) : NULL;
                if (!s || (strcmp(s, "ok") && strcmp(s, "no-contact") && strcmp(s, "lost")))
                        return;
                /* A beat (about one a second) only moves the time, which a
                 * read returns: PropertiesChanged goes out when the status
                 * changes (docs/dbus-api.md), not to every client every second. */
                bool changed = strcmp(vm->guest->hb_status, s) != 0;
                snprintf(vm->guest->hb_status, sizeof vm->guest->hb_status, "%s", s);
                vm->guest->hb_last_us = json_object_object_get_ex(ev, "last_us", &v) ? (uint64_t)json_object_get_int64(v) : 0;
                if (changed)
                        vmms_vm_emit_changed(vm, "Heartbeat");
        } else if (!strcmp(name, "firmware")) {
                vmms_vm_on_boot_status(vm, json_object_object_get_ex(ev, "status", &v) ? json_object_get_string(v) : NULL);
        } else if (!strcmp(name, "guest-shutdown")) {
                bool ok = json_object_object_get_ex(ev, "ok", &v) && json_object_get_boolean(v);
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "guest %s the shutdown request", ok ? "accepted" : "refused");
                if (!ok)
                        shutdown_refused(vm);
        } else if (!vmms_features_on_event(vm, name, ev)) /* the features' events (core/features.c) */
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "worker event %s", name);
}
