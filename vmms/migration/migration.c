// SPDX-License-Identifier: MIT
/* Migration as one vmms feature (core/feature.h): the source worker's
 * progress, and the image locks an incoming VM's worker held
 * (lock-handover.c), let go when it ends; what live and quick migration
 * share: Migrate()'s arguments checked, the MigrationChannel property. */
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "core/feature.h"
#include "migration/migration.h"
#include "vmms/migchan.h"

static const struct vmms_worker_event migration_events[] = {
        { "migrate-progress", "migrate-send", vmms_vm_on_migrate_progress },
        {},
};

static int migration_vm_new(struct vmms_vm *vm) {
        vm->mig = calloc(1, sizeof *vm->mig);
        if (!vm->mig)
                return -ENOMEM;
        vm->mig->incoming_fd = -1;
        return 0;
}

/* After vmms_vm_free let go of what the pointers held (vmms_vm_migration_free,
 * vmms_vm_quick_free, vmms_vm_handover_free, before the worker goes). */
static void migration_vm_free(struct vmms_vm *vm) {
        free(vm->mig);
        vm->mig = NULL;
}

const struct vmms_feature vmms_feature_migration = {
        .name = "migration",
        .events = migration_events,
        .worker_ended = vmms_vm_handover_free,
        .vm_new = migration_vm_new,
        .vm_free = migration_vm_free,
};

void vmms_vm_migration_announce(struct vmms_vm *vm, bool *announced, const char *outcome, const char *host,
                                uint16_t port, const char *there, const char *message) {
        char dest[300];
        if (*announced)
                return;
        *announced = true;
        snprintf(dest, sizeof dest, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
        int r = sd_bus_emit_signal(vm->d->bus, vm->path, VMMS_VM_IFACE, "MigrationFinished", "ssss", outcome, dest,
                                   there, message);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, r, "cannot emit MigrationFinished: %m");
}

int vmms_migrate_args_check(const char *dest, const char *mode, int64_t max_downtime_ms,
                            struct vmms_migrate_args *out, char *err, size_t errlen) {
        if (vmms_migchan_address_parse(dest, out->host, sizeof out->host, &out->port) < 0)
                return snprintf(err, errlen, "destination: '%.100s' is not HOST or HOST:PORT", dest), -EINVAL;
        if (mode && strcmp(mode, "live") != 0 && strcmp(mode, "quick") != 0)
                return snprintf(err, errlen, "mode: '%.32s' is not supported (live, quick)", mode), -EINVAL;
        out->quick = mode && strcmp(mode, "quick") == 0; /* migration/quick-out.c */
        out->start = -1;
        if (max_downtime_ms < 0 || max_downtime_ms > 600000)
                return snprintf(err, errlen, "max-downtime-ms: must be 0..600000"), -EINVAL;
        out->max_downtime_ms = (uint32_t)max_downtime_ms;
        return 0;
}

void vmms_vm_set_mig_channel(struct vmms_vm *vm, const char *state, const char *why, bool held) {
        struct vmms_mig_channel *c = &vm->mig->chan;
        if (!state[0])
                *c = (struct vmms_mig_channel){ 0 };
        else {
                if (!strcmp(state, "cut")) {
                        c->cuts++;
                        snprintf(c->why, sizeof c->why, "%s", why ? why : "");
                }
                snprintf(c->state, sizeof c->state, "%s", state);
                c->held = held && !strcmp(state, "cut");
                c->since_us = now_us(CLOCK_REALTIME);
        }
        vmms_vm_emit_changed(vm, "MigrationChannel");
}

void vmms_vm_emit_migration_progress(struct vmms_vm *vm) {
        int r = sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_VM_IFACE, "MigrationProgress",
                                               "MigrationThrottle", NULL);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, r, "cannot emit PropertiesChanged(MigrationProgress): %m");
}

void vmms_vm_on_migrate_progress(struct vmms_vm *vm, json_object *ev) {
        json_object *v;
        if (vm->state != VMMS_STATE_MIGRATING)
                return;
#define GET(key, field, type) \
        if (json_object_object_get_ex(ev, key, &v) && json_object_get_int64(v) >= 0) \
                vm->mig->field = (type)json_object_get_int64(v);
        GET("pass", pass, uint32_t)
        GET("bytes", bytes, uint64_t)
        GET("dirty_pages", dirty_pages, uint64_t)
        GET("dirty_rate", dirty_rate, uint64_t)
        GET("expected_downtime_ms", expected_downtime_ms, uint64_t)
        if (json_object_object_get_ex(ev, "throttle_pct", &v) && json_object_get_int64(v) >= 0 &&
            json_object_get_int64(v) <= 100)
                vm->mig->throttle_pct = (uint32_t)json_object_get_int64(v);
        if (json_object_object_get_ex(ev, "committed", &v) && json_object_get_boolean(v))
                vmms_vm_migration_committed(vm); /* live-out.c */
#undef GET
        vmms_vm_emit_migration_progress(vm);
}

