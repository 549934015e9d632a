/* SPDX-License-Identifier: MIT */
/* Metering in vmms (docs/metering.md): each running worker sampled every
 * --metering-interval-ms ("stats" and /proc/PID/stat), totals since the
 * last ResetMetering across the VM's runs, rates over the last window,
 * the Prometheus textfile (--metrics-file), and org.vmstack.VMMS1.Metering
 * (metering-dbus.c). The pure half: vmms/metering.h, vmms/metrics-prom.h.
 * Private to vmms/. */
#pragma once

#include <systemd/sd-bus.h>

#include "../core/daemon.h"
#include "vmms/metering.h"

struct vmms_metering {
        uint64_t reset_at_us;              /* CLOCK_REALTIME of the reset (or of the first sample) */
        struct vmms_meter_sample acc;      /* what ended runs counted since the reset */
        struct vmms_meter_sample base;     /* this worker's counters at the reset (zero: its start) */
        struct vmms_meter_sample prev, last; /* this worker's last two periodic samples */
        struct vmms_meter_sample newest;   /* this worker's newest sample, periodic or asked for */
        bool sampling;                     /* a periodic "stats" request in flight */
        struct vmms_meter_history history; /* the periodic samples' documents */
};

/* metering.c */
int vmms_metering_timer_start(struct vmms_daemon *d);
/* vm's metering state, made (reset time now) on first use; NULL without memory. */
struct vmms_metering *vmms_metering_of(struct vmms_vm *vm);
void vmms_metering_free(struct vmms_vm *vm);
/* GetMetrics, ResetMetering: a fresh sample of a running VM, then the
 * reply to m (1: it follows); a VM that does not run answers at once. */
int vmms_metering_get(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e);
int vmms_metering_reset(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e);
/* GetMetricsHistory: the documents of the periodic samples kept (the
 * last 5 minutes of the VM's runs, at most VMMS_METER_HISTORY_MAX), the
 * reply to m. */
int vmms_metering_history(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e);
/* GetAllMetrics: a JSON array of every VM's document from its newest
 * sample (no worker is asked), the reply to m. */
int vmms_metering_get_all(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e);
/* The document of vm now (from its last sample); NULL without memory. */
struct json_object *vmms_metering_document(struct vmms_vm *vm, const struct vmms_meter_sample *now);

/* persist.c: <state-dir>/<id>.metering. save: vm's state now (none
 * made yet: nothing written); remove: at the VM's deletion; load_all: at
 * start, after the workers re-attached; save_all: at exit. */
int vmms_metering_save(struct vmms_vm *vm);
void vmms_metering_remove(struct vmms_vm *vm);
void vmms_metering_load_all(struct vmms_daemon *d);
void vmms_metering_save_all(struct vmms_daemon *d);

/* metering-dbus.c */
int vmms_bus_metering_register(struct vmms_daemon *d);
