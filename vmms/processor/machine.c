// SPDX-License-Identifier: MIT
/* Each running VM registered with systemd-machined (docs/vmms.md
 * "Processor limit"), so that `machinectl list` shows it as libvirt's
 * VMs are shown: class "vm", service "vmstack", the VM's id as the
 * machine ID, the worker as the leader. The worker's scope is vmms's own
 * (scope.c), so machined is asked with RegisterMachine, which takes the
 * unit the leader is in (RegisterMachineWithNetwork, with the worker's
 * TAPs at its start), once that scope's start job is done: registered
 * earlier, the worker would still be in vmms's cgroup and machined would
 * take vmms.service for the VM's unit. JobRemoved of the scope's job
 * says when (systemd sends it to the client that queued the job). When
 * the worker ends the machine is unregistered (UnregisterMachine, before
 * a restarted VM's new worker registers the same name); machined would
 * also drop it once the scope is gone. A host without machined (Debian's
 * systemd-container not installed) is logged once and the VMs run on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "../worker/worker.h"
#include "processor.h"

#define MACHINED "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_IFACE "org.freedesktop.machine1.Manager"

struct machine_call {
        struct vmms_scopes *s; /* outlives the call: its bus ends the slot first */
        char name[VM_NAME_MAX + 1];
        bool unregister;
};

/* No machined: no activation file (systemd-container not installed), or
 * its activation failed: dbus-daemon's Spawn errors, or systemd's own
 * (a masked systemd-machined.service is org.freedesktop.systemd1.UnitMasked),
 * which machined itself never answers. */
static bool machined_missing(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
               (e->name && (!strncmp(e->name, "org.freedesktop.DBus.Error.Spawn.", 33) ||
                            !strncmp(e->name, "org.freedesktop.systemd1.", 25)));
}

static int machine_done(sd_bus_message *m, void *userdata, sd_bus_error *unused) {
        struct machine_call *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *what = c->unregister ? "UnregisterMachine" : "RegisterMachineWithNetwork";
        if (!e) {
                if (c->unregister)
                        log_debug("machine %s: unregistered from systemd-machined", c->name);
                else
                        log_info("machine %s: registered with systemd-machined (machinectl status %s)", c->name,
                                 c->name);
        } else if (machined_missing(e)) {
                if (!c->s->machined_off)
                        log_notice("systemd-machined is not available (%s): VMs are not registered, machinectl "
                                   "does not list them",
                                   e->message ? e->message : e->name);
                c->s->machined_off = true;
        } else if (c->unregister && sd_bus_error_has_name(e, "org.freedesktop.machine1.NoSuchMachine")) {
                log_debug("machine %s: already gone with its scope", c->name); /* machined saw the scope go first */
        } else {
                log_warning("machine %s: %s failed: %s", c->name, what, e->message ? e->message : e->name);
        }
        return 0;
}

static int machine_send(struct vmms_scopes *s, sd_bus_message *m, const char *name, bool unregister) {
        struct machine_call *c = calloc(1, sizeof *c);
        if (c) {
                c->s = s;
                c->unregister = unregister;
                snprintf(c->name, sizeof c->name, "%s", name);
        }
        return vmms_scopes_call_async(s, m, machine_done, c);
}

static void machine_register(struct vmms_vm *vm, struct vmms_scopes *s) {
        struct vmms_processor *p = vm->processor;
        uint8_t id[16];
        sd_bus_message *m = NULL;
        int r = vmms_machine_id_bytes(vm->id, id);
        if (r >= 0)
                r = sd_bus_message_new_method_call(s->bus, &m, MACHINED, MACHINED_PATH, MACHINED_IFACE,
                                                   "RegisterMachineWithNetwork");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", p->machine);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', id, sizeof id);
        if (r >= 0)
                r = sd_bus_message_append(m, "ssus", "vmstack", "vm", (uint32_t)p->machine_leader, "");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'i', p->ifindex, p->n_ifindex * sizeof p->ifindex[0]);
        if (r >= 0)
                r = machine_send(s, TAKE_PTR(m), p->machine, false);
        sd_bus_message_unref(m);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot ask systemd-machined to register it: %m");
}

/* JobRemoved(u id, o job, s unit, s result): a scope vmms asked for has
 * started (result "done", its worker in it) or failed to. */
static int job_removed(sd_bus_message *m, void *userdata, sd_bus_error *unused) {
        struct vmms_daemon *d = userdata;
        const char *job, *unit, *result;
        uint32_t id;
        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0 || strncmp(unit, "vmstack-", 8))
                return 0;
        for (size_t i = 0; i < d->n_vms; i++) {
                struct vmms_vm *vm = d->vms[i];
                struct vmms_processor *p = vm->processor;
                if (!p || !p->machine_wait || strcmp(p->unit, unit))
                        continue;
                p->machine_wait = false;
                if (!strcmp(result, "done"))
                        machine_register(vm, d->scopes);
                else
                        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "%s did not start (%s): not registered with "
                                    "systemd-machined", unit, result);
                break;
        }
        return 0;
}

int vmms_machine_watch(struct vmms_daemon *d, sd_bus *bus) {
        return sd_bus_match_signal_async(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                         "org.freedesktop.systemd1.Manager", "JobRemoved", job_removed, NULL, d);
}

void vmms_machine_scope_asked(struct vmms_vm *vm, pid_t pid) {
        struct vmms_scopes *s = vm->d->scopes;
        struct vmms_processor *p = vm->processor;
        if (!s || !s->bus || s->machined_off || !p)
                return;
        if (vmms_machine_name(vm->config->name, vm->id, p->machine, sizeof p->machine) < 0)
                return;
        p->machine_leader = pid;
        p->machine_wait = true;
        p->n_ifindex = 0;
}

void vmms_machine_taps(struct vmms_vm *vm, const char (*names)[16], uint32_t n) {
        struct vmms_processor *p = vm->processor;
        if (p && p->machine_wait)
                p->n_ifindex = vmms_machine_ifindices(names, n < VM_NICS_MAX ? n : VM_NICS_MAX, p->ifindex);
}

void vmms_machine_unregister(struct vmms_vm *vm) {
        struct vmms_scopes *s = vm->d->scopes;
        char name[VM_NAME_MAX + 1];
        sd_bus_message *m = NULL;
        if (!s || !s->bus || s->machined_off)
                return;
        /* A worker vmms re-attached to was registered by an earlier vmms
         * under the name the VM had then, taken to be the one it has. */
        if (vm->processor && vm->processor->machine[0])
                snprintf(name, sizeof name, "%s", vm->processor->machine);
        else if (vmms_machine_name(vm->config->name, vm->id, name, sizeof name) < 0)
                return;
        int r = sd_bus_message_new_method_call(s->bus, &m, MACHINED, MACHINED_PATH, MACHINED_IFACE,
                                               "UnregisterMachine");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = machine_send(s, TAKE_PTR(m), name, true);
        sd_bus_message_unref(m);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot ask systemd-machined to unregister it: %m");
}
