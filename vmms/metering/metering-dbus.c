// SPDX-License-Identifier: MIT
/* org.vmstack.VMMS1.Metering on each VM's object (docs/dbus-api.md
 * "Metering"): GetMetrics and GetMetricsHistory, which anyone may call (as
 * anyone may read a VM's properties: the figures say no more than Config
 * and Memory do), and
 * ResetMetering (the manage action); and GetAllMetrics on the Manager
 * (every VM's figures in one call, for a list; anyone, as GetMetrics).
 * The work is in metering/metering.c. */
#include "common/log.h"
#include "core/daemon.h"
#include "metering/metering.h"

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_metering_get(userdata, m, e);
}

static int method_history(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_metering_history(userdata, m, e);
}

static int do_reset(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm = vmms_daemon_find_path(d, sd_bus_message_get_path(m));
        if (!vm)
                return sd_bus_error_setf(e, VMMS_ERROR_NO_SUCH_VM, "the VM was deleted");
        return vmms_metering_reset(vm, m, e);
}

static int method_reset(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_MANAGE, do_reset, e);
}

static const sd_bus_vtable metering_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", metrics), method_get,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMetricsHistory", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", documents),
                                method_history, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResetMetering", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reset,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int method_get_all(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_metering_get_all(userdata, m, e);
}

/* A second vtable of the Manager interface (sd-bus joins them): metering
 * keeps its call, and the core names no feature's. */
static const sd_bus_vtable manager_metering_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetAllMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", metrics), method_get_all,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int vmms_bus_metering_register(struct vmms_daemon *d) {
        int r = sd_bus_add_fallback_vtable(d->bus, NULL, VMMS_VM_PATH_PREFIX, VMMS_METERING_IFACE, metering_vtable,
                                           vmms_bus_find_vm, d);
        if (r >= 0)
                r = sd_bus_add_object_vtable(d->bus, NULL, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE,
                                             manager_metering_vtable, d);
        if (r < 0)
                return log_error_errno(r, "cannot register the metering interface: %m");
        return 0;
}
