// SPDX-License-Identifier: MIT
/* org.vmstack.VMMS1.Memory on each VM's object (docs/dbus-api.md
 * "Memory"): the VM's memory sizes, what its guest has and uses (Dynamic
 * Memory, docs/dynamic-memory.md), and SetTarget (the manage action,
 * polkit). The work is in dm/dm.c. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "core/daemon.h"
#include "dm/dm.h"

#define MiB (1ull << 20)

static int do_set_target(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm = vmms_daemon_find_path(d, sd_bus_message_get_path(m));
        uint64_t bytes;
        char err[300];
        int r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "t", &bytes)) < 0)
                return r;
        if (!vm)
                return sd_bus_error_setf(e, VMMS_ERROR_NO_SUCH_VM, "the VM was deleted");
        if ((r = vmms_dm_set_target(vm, bytes, err, sizeof err)) < 0)
                return sd_bus_error_setf(e, r == -EINVAL ? VMMS_ERROR_INVALID_ARGUMENT : VMMS_ERROR_INVALID_STATE,
                                         "%s", err);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_target(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_MANAGE, do_set_target, e);
}

#define VM_OF(userdata) ((struct vmms_vm *)(userdata))
#define PROP(name)                                                                                                  \
        static int name(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply, \
                        void *userdata, sd_bus_error *e)

static bool running(const struct vmms_vm *vm) {
        return vm->worker && (vm->state == VMMS_STATE_RUNNING || vm->state == VMMS_STATE_PAUSED);
}

PROP(prop_dynamic) {
        return sd_bus_message_append(reply, "b", (int)VM_OF(userdata)->config->dm.enabled);
}
PROP(prop_startup) {
        return sd_bus_message_append(reply, "t", (uint64_t)VM_OF(userdata)->config->memory_mib * MiB);
}
PROP(prop_minimum) {
        const struct vm_config *c = VM_OF(userdata)->config;
        return sd_bus_message_append(reply, "t", (uint64_t)(c->dm.enabled ? vm_dm_minimum_mib(c) : c->memory_mib) * MiB);
}
/* What the VM can reach: startup plus the whole 128 MiB blocks up to the
 * configured maximum (config.h vm_dm_hot_add_mib). */
PROP(prop_maximum) {
        const struct vm_config *c = VM_OF(userdata)->config;
        return sd_bus_message_append(reply, "t", vm_dm_reach_mib(c) * MiB);
}
PROP(prop_buffer) {
        return sd_bus_message_append(reply, "u", VM_OF(userdata)->config->dm.buffer_percent);
}
PROP(prop_weight) {
        return sd_bus_message_append(reply, "u", VM_OF(userdata)->config->dm.weight);
}
/* While it runs: Dynamic Memory's figure once the worker reported, else
 * the startup memory; 0 while it does not run. */
PROP(prop_assigned) {
        struct vmms_vm *vm = VM_OF(userdata);
        uint64_t b = !running(vm) ? 0 : vm->dm->known && vm->dm->status.connected ? vm->dm->status.assigned
                                                                          : (uint64_t)vm->config->memory_mib * MiB;
        return sd_bus_message_append(reply, "t", b);
}
PROP(prop_demand) {
        struct vmms_vm *vm = VM_OF(userdata);
        return sd_bus_message_append(reply, "t", running(vm) && vm->dm->status.reported ? vm->dm->status.demand : (uint64_t)0);
}
PROP(prop_available) {
        struct vmms_vm *vm = VM_OF(userdata);
        return sd_bus_message_append(reply, "t", running(vm) && vm->dm->status.reported ? vm->dm->status.available : (uint64_t)0);
}
PROP(prop_target) {
        return sd_bus_message_append(reply, "t", VM_OF(userdata)->dm->status.target);
}
PROP(prop_manual_target) {
        return sd_bus_message_append(reply, "t", VM_OF(userdata)->dm->manual);
}
PROP(prop_ballooned) {
        return sd_bus_message_append(reply, "t", VM_OF(userdata)->dm->status.ballooned);
}
PROP(prop_hot_added) {
        return sd_bus_message_append(reply, "t", VM_OF(userdata)->dm->status.hot_added);
}
/* disabled, off (not running), waiting (no guest driver yet), ok, or the
 * request in flight: balloon, unballoon, hot-add. */
PROP(prop_status) {
        struct vmms_vm *vm = VM_OF(userdata);
        const char *s = !vm->config->dm.enabled              ? "disabled"
                        : !running(vm)                       ? "off"
                        : !vm->dm->known || !vm->dm->status.connected ? "waiting"
                        : strcmp(vm->dm->status.operation, "none")   ? vm->dm->status.operation
                                                             : "ok";
        return sd_bus_message_append(reply, "s", s);
}
PROP(prop_note) {
        return sd_bus_message_append(reply, "s", VM_OF(userdata)->dm->status.note);
}
#undef PROP

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
static const sd_bus_vtable memory_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Dynamic", "b", prop_dynamic, 0, EMITS),
        SD_BUS_PROPERTY("Startup", "t", prop_startup, 0, EMITS),
        SD_BUS_PROPERTY("Minimum", "t", prop_minimum, 0, EMITS),
        SD_BUS_PROPERTY("Maximum", "t", prop_maximum, 0, EMITS),
        SD_BUS_PROPERTY("Buffer", "u", prop_buffer, 0, EMITS),
        SD_BUS_PROPERTY("Weight", "u", prop_weight, 0, EMITS),
        SD_BUS_PROPERTY("Assigned", "t", prop_assigned, 0, EMITS),
        SD_BUS_PROPERTY("Demand", "t", prop_demand, 0, EMITS),
        SD_BUS_PROPERTY("Available", "t", prop_available, 0, EMITS),
        SD_BUS_PROPERTY("Target", "t", prop_target, 0, EMITS),
        SD_BUS_PROPERTY("ManualTarget", "t", prop_manual_target, 0, EMITS),
        SD_BUS_PROPERTY("Ballooned", "t", prop_ballooned, 0, EMITS),
        SD_BUS_PROPERTY("HotAdded", "t", prop_hot_added, 0, EMITS),
        SD_BUS_PROPERTY("Status", "s", prop_status, 0, EMITS),
        SD_BUS_PROPERTY("Note", "s", prop_note, 0, EMITS),
        SD_BUS_METHOD_WITH_ARGS("SetTarget", SD_BUS_ARGS("t", bytes), SD_BUS_NO_RESULT, method_set_target,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
#undef EMITS

/* What a report or the VM's state may have changed. */
void vmms_bus_memory_emit(struct vmms_vm *vm) {
        if (vm->d->bus)
                (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_MEMORY_IFACE, "Assigned", "Demand",
                                                     "Available", "Target", "ManualTarget", "Ballooned", "HotAdded",
                                                     "Status", "Note", NULL);
}

int vmms_bus_memory_register(struct vmms_daemon *d) {
        int r = sd_bus_add_fallback_vtable(d->bus, NULL, VMMS_VM_PATH_PREFIX, VMMS_MEMORY_IFACE, memory_vtable,
                                           vmms_bus_find_vm, d);
        if (r < 0)
                return log_error_errno(r, "cannot register the memory interface: %m");
        return 0;
}
