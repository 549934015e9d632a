// SPDX-License-Identifier: MIT
/* A disk's Storage QoS changed through D-Bus: SetDiskQoS(u index,
 * t max_iops, t min_iops, t max_bytes_per_s) (docs/dbus-api.md; Hyper-V's
 * Set-VMHardDiskDrive -MaximumIOPS/-MinimumIOPS). Checked as the
 * configuration checks it (vm_disk_qos_invalid: a named field, nothing
 * changed); a running or paused VM's worker applies it at once
 * (disk-qos, docs/vmwp.md) and the configuration follows its answer; an
 * Off, Crashed or Saved VM's configuration changes (its disks open with it
 * at the next start or restore). The configuration is what a save, a
 * restore and a migration's destination take, so the setting stays. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/feature.h"
#include "vmms/names.h"
#include "core/daemon.h"
#include "hotplug/hotplug.h"

void vmms_disk_qos_describe(uint32_t index, const struct vm_disk_qos *q, char *buf, size_t len) {
        snprintf(buf, len, "disks[%u]: Storage QoS max_iops %llu, min_iops %llu, max_bytes_per_s %llu (0: none)",
                 index, (unsigned long long)q->max_iops, (unsigned long long)q->min_iops,
                 (unsigned long long)q->max_bytes_per_s);
}

int vmms_disk_qos_change(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, const struct vm_disk_qos *q,
                         sd_bus_error *e) {
        const char *field, *why = vm_disk_qos_invalid(q, &field);
        if (index >= vm->config->n_disks)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s' has no disks[%u] (it has %u)",
                                         vm->config->name, index, vm->config->n_disks);
        if (why)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s': disks[%u].qos.%s: %s",
                                         vm->config->name, index, field, why);
        if (vm->state == VMMS_STATE_RUNNING || vm->state == VMMS_STATE_PAUSED)
                return vmms_hotplug_send_disk_qos(vm, call, index, q, e);
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char what[200];
        if (!next)
                return -ENOMEM;
        *next = *vm->config;
        next->disks[index].qos = *q;
        vmms_disk_qos_describe(index, q, what, sizeof what);
        return vmms_hotplug_store_and_reply(vm, call, next, -1, what, e);
}

/* An integer field of a worker's event, -1 when absent or not one. */
static int64_t ev_int(json_object *ev, const char *key) {
        json_object *v;
        return json_object_object_get_ex(ev, key, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
                                                                                                 : -1;
}

/* The worker's "disk-qos" event (docs/vmwp.md): a disk's minimum went
 * unmet, or met again. Logged (a warning when unmet) and signalled on the
 * VM's object (DiskQoSMinimum, docs/dbus-api.md), as Hyper-V raises an
 * event. A malformed one is ignored. */
static void on_disk_qos_event(struct vmms_vm *vm, json_object *ev) {
        json_object *m;
        int64_t disk = ev_int(ev, "disk"), iops = ev_int(ev, "iops"), min = ev_int(ev, "min_iops");
        if (disk < 0 || disk >= (int64_t)vm->config->n_disks || iops < 0 || min < 0 ||
            !json_object_object_get_ex(ev, "met", &m) || !json_object_is_type(m, json_type_boolean))
                return;
        bool met = json_object_get_boolean(m);
        if (met)
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "disks[%lld]: the Storage QoS minimum of %lld IOPS is met again",
                            (long long)disk, (long long)min);
        else
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0,
                            "disks[%lld]: the Storage QoS minimum of %lld IOPS is not met: %lld normalised IOPS "
                            "delivered while the guest wanted more",
                            (long long)disk, (long long)min, (long long)iops);
        (void)sd_bus_emit_signal(vm->d->bus, vm->path, VMMS_VM_IFACE, "DiskQoSMinimum", "ubtt", (uint32_t)disk, met,
                                 (uint64_t)iops, (uint64_t)min);
}

const struct vmms_worker_event vmms_disk_qos_events[] = {
        { "disk-qos", NULL, on_disk_qos_event },
        { NULL, NULL, NULL },
};
