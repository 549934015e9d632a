// SPDX-License-Identifier: MIT
/* Dynamic Memory in vmms (docs/dynamic-memory.md): each worker reports
 * its VM's memory ("memory" events: what the guest has, uses and could
 * still give); every memory_interval_us the balancer (dm/balancer.c) gives each
 * Running VM that has Dynamic Memory a target from those reports and the
 * host's free memory, and vmms sends the targets that moved to their
 * workers ("memory" op), which balloon, give back or hot-add toward them. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "core/daemon.h"
#include "worker/worker.h"
#include "dm/dm.h"
#include "host/host.h"
#include "core/feature.h"

/* A target moves only by at least this much, or a hundredth of the VM's
 * maximum: a demand that wobbles does not make the guest balloon back and
 * forth. */
#define RETARGET_MIN (8ull << 20)

static void input_of(const struct vmms_vm *vm, struct vmms_dm_vm *in);

static bool dm_active(const struct vmms_vm *vm) {
        return vm->config->dm.enabled && vm->worker && vm->state == VMMS_STATE_RUNNING && vm->dm->known &&
               vm->dm->status.connected;
}

/* Whether two reports differ in anything the Memory properties show (the
 * report's age aside, which every report moves). */
static bool status_differs(const struct vmms_dm_status *a, const struct vmms_dm_status *b) {
        return a->connected != b->connected || a->reported != b->reported || a->can_balloon != b->can_balloon ||
               a->can_hot_add != b->can_hot_add || a->startup != b->startup || a->maximum != b->maximum ||
               a->assigned != b->assigned || a->target != b->target || a->ballooned != b->ballooned ||
               a->hot_added != b->hot_added || a->demand != b->demand || a->available != b->available ||
               strcmp(a->operation, b->operation) || strcmp(a->note, b->note);
}

/* A worker reports with each heartbeat (about once a second): the
 * properties' PropertiesChanged goes out when a figure changed, not to
 * every client of the bus every second for every VM. */
static void store_status(struct vmms_vm *vm, json_object *o) {
        struct vmms_dm_status s;
        if (vmms_dm_status_parse(o, &s) < 0) {
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "malformed memory report from the worker");
                return;
        }
        bool was = vm->dm->known && vm->dm->status.connected;
        bool changed = !vm->dm->known || status_differs(&vm->dm->status, &s);
        vm->dm->status = s;
        vm->dm->known = true;
        if (!was && s.connected)
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "the guest's dynamic memory driver is connected");
        if (changed)
                vmms_bus_memory_emit(vm);
}

void vmms_dm_on_event(struct vmms_vm *vm, json_object *ev) {
        store_status(vm, ev);
}

void vmms_dm_worker_ended(struct vmms_vm *vm) {
        vm->dm->status = (struct vmms_dm_status){ 0 };
        vm->dm->known = false;
        vm->dm->sent = 0;
        vmms_bus_memory_emit(vm);
}

/* The operator's target in the worker's runtime record, for a vmms that
 * restarts while it runs. */
static void record_target(struct vmms_vm *vm) {
        if (vm->worker && vm->worker->rec.memory_target != vm->dm->manual) {
                vm->worker->rec.memory_target = vm->dm->manual;
                (void)vmms_worker_record_update(vm->worker);
        }
}

void vmms_dm_run_ended(struct vmms_vm *vm) {
        if (!vm->dm->manual)
                return;
        vm->dm->manual = 0;
        record_target(vm);
        vmms_bus_memory_emit(vm);
}

void vmms_dm_reattached(struct vmms_vm *vm, uint64_t target) {
        struct vmms_dm_vm in;
        input_of(vm, &in);
        if (!target || !vm->config->dm.enabled || target < in.minimum || target > in.maximum)
                return; /* none, or the configuration moved under it: automatic */
        vm->dm->manual = target;
        vmms_bus_memory_emit(vm);
}

static void target_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0) {
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, error, "memory target: %m");
                vm->dm->sent = 0; /* try again at the next round */
                return;
        }
        store_status(vm, reply);
}

static int send_target(struct vmms_vm *vm, uint64_t bytes) {
        json_object *args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        json_object_object_add(args, "target_bytes", json_object_new_int64((int64_t)bytes));
        int r = vmms_worker_request(vm->worker, "memory", args, target_reply, NULL);
        if (r >= 0)
                vm->dm->sent = bytes;
        return r;
}

/* /proc/meminfo's MemAvailable, in bytes; 0 if it cannot be read. */
static uint64_t mem_available(void) {
        FILE *f = fopen("/proc/meminfo", "re");
        char line[128];
        unsigned long long kib = 0;
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
                        break;
        if (f)
                fclose(f);
        return (uint64_t)kib << 10;
}

int64_t vmms_dm_host_free(const struct vmms_daemon *d) {
        uint64_t reserve = d->opt.memory_reserve_mib << 20;
        if (!d->opt.memory_reserve_set)
                reserve = MIN(MAX((vmms_host_memory_mib() << 20) / 10, 256ull << 20), 4096ull << 20);
        uint64_t avail = MIN(mem_available(), VMMS_DM_BYTES_MAX);
        return (int64_t)avail - (int64_t)MIN(reserve, VMMS_DM_BYTES_MAX);
}

static void input_of(const struct vmms_vm *vm, struct vmms_dm_vm *in) {
        const struct vm_config *c = vm->config;
        *in = (struct vmms_dm_vm){
                .minimum = (uint64_t)vm_dm_minimum_mib(c) << 20,
                .maximum = vm_dm_reach_mib(c) << 20,
                .buffer_percent = c->dm.buffer_percent,
                .weight = c->dm.weight,
                .manual = vm->dm->manual,
                .reported = vm->dm->status.reported,
                .assigned = vm->dm->status.assigned,
                .demand = vm->dm->status.demand,
        };
}

/* One round over every VM that takes part. */
static void balance(struct vmms_daemon *d) {
        size_t n = 0;
        for (size_t i = 0; i < d->n_vms; i++)
                n += dm_active(d->vms[i]);
        if (n == 0)
                return;
        struct vmms_dm_vm *in = calloc(n, sizeof *in);
        uint64_t *targets = calloc(n, sizeof *targets);
        struct vmms_vm **vms = calloc(n, sizeof *vms);
        if (!in || !targets || !vms) {
                free(in), free(targets), free(vms);
                return;
        }
        size_t k = 0;
        for (size_t i = 0; i < d->n_vms; i++)
                if (dm_active(d->vms[i])) {
                        vms[k] = d->vms[i];
                        input_of(vms[k], &in[k]);
                        k++;
                }
        vmms_dm_balance(in, n, vmms_dm_host_free(d), targets);
        for (size_t i = 0; i < n; i++) {
                struct vmms_vm *vm = vms[i];
                uint64_t t = targets[i], last = vm->dm->sent;
                uint64_t delta = t > last ? t - last : last - t;
                if (last && delta < MAX(RETARGET_MIN, in[i].maximum / 100u) && t != in[i].minimum &&
                    t != in[i].maximum && !vm->dm->manual)
                        continue;
                if (t != last && send_target(vm, t) < 0)
                        vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "cannot send the memory target");
        }
        free(in), free(targets), free(vms);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_daemon *d = userdata;
        balance(d);
        (void)sd_event_source_set_time_relative(s, d->opt.memory_interval_us);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int vmms_dm_timer_start(struct vmms_daemon *d) {
        return sd_event_add_time_relative(d->event, &d->dm_timer, CLOCK_MONOTONIC, d->opt.memory_interval_us, 0,
                                          on_timer, d);
}

int vmms_dm_set_target(struct vmms_vm *vm, uint64_t bytes, char *err, size_t errlen) {
        struct vmms_dm_vm in;
        if (!vm->config->dm.enabled)
                return errorf(err, errlen, -EPERM, "VM '%s' has no dynamic memory (vmctl edit --dynamic-memory=on)",
                              vm->config->name);
        if (!vm->worker || (vm->state != VMMS_STATE_RUNNING && vm->state != VMMS_STATE_PAUSED))
                return errorf(err, errlen, -EPERM, "VM '%s' is %s: a target applies while it runs", vm->config->name,
                              vmms_state_to_string(vm->state));
        input_of(vm, &in);
        if (bytes && (bytes < in.minimum || bytes > in.maximum))
                return errorf(err, errlen, -EINVAL,
                              "%llu MiB is outside VM '%s''s dynamic memory range (%llu..%llu MiB)",
                              (unsigned long long)(bytes >> 20), vm->config->name,
                              (unsigned long long)(in.minimum >> 20), (unsigned long long)(in.maximum >> 20));
        vm->dm->manual = bytes;
        record_target(vm);
        if (bytes)
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "memory target set to %llu MiB", (unsigned long long)(bytes >> 20));
        else
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "memory target automatic");
        vmms_bus_memory_emit(vm);
        if (dm_active(vm))
                balance(vm->d); /* at once, not at the next round */
        return 0;
}

static const struct vmms_worker_event dm_events[] = {
        { "memory", NULL, vmms_dm_on_event },
        {},
};

static int dm_vm_new(struct vmms_vm *vm) {
        vm->dm = calloc(1, sizeof *vm->dm);
        return vm->dm ? 0 : -ENOMEM;
}

static void dm_vm_free(struct vmms_vm *vm) {
        free(vm->dm);
        vm->dm = NULL;
}

const struct vmms_feature vmms_feature_dm = {
        .name = "dm",
        .events = dm_events,
        .worker_ended = vmms_dm_worker_ended,
        .bus_register = vmms_bus_memory_register,
        .vm_new = dm_vm_new,
        .vm_free = dm_vm_free,
};
