// SPDX-License-Identifier: MIT
/* Each worker in a systemd scope of its own (docs/vmms.md "Processor
 * limit"), as libvirt puts each QEMU in machine.slice: where vmms runs
 * under systemd with cgroup v2, a new worker's pid goes into a transient
 * scope "vmstack-<name>-<id8>-<pid>.scope" (org.freedesktop.systemd1's
 * StartTransientUnit, Slice=machine.slice) whose CPUWeight is the VM's
 * processor weight: cgroup v2's cpu.weight, the share each VM's worker
 * gets of a busy host against the others, and whose MemoryHigh bounds
 * the worker's memory: the VM's guest memory and an allowance for the
 * worker's own (vmms_scope_memory_high). A weight or a memory setting
 * changed on a running VM is SetUnitProperties. Once the scope has
 * started, the VM is registered with systemd-machined (machine.c). Elsewhere (the development machines: no
 * systemd as PID 1, cgroup v1) the workers stay in vmms's cgroup and a
 * VM's weight other than the default is logged as not enforced at each
 * start. The calls are asynchronous on a system-bus connection of their
 * own (vmms's bus may be another); their failures are logged, never
 * fatal to the VM. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/macro.h"
#include "../worker/worker.h"
#include "processor.h"

/* What a reply is for, freed with its slot. */
struct scope_call {
        char unit[VMMS_SCOPE_UNIT_MAX];
        char what[48];
};

int vmms_scope_unit_name(const char *name, const char *id, pid_t pid, char *out, size_t len) {
        int n = snprintf(out, len, "vmstack-%s-%.8s-%d.scope", name, id, (int)pid);
        return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

int vmms_scope_host_check(const char *root, char *why, size_t len) {
        char path[512], buf[512] = "";
        struct stat st;
        snprintf(path, sizeof path, "%s/run/systemd/system", root);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return snprintf(why, len, "systemd is not PID 1 (no /run/systemd/system)"), -ENOTSUP;
        snprintf(path, sizeof path, "%s/sys/fs/cgroup/cgroup.controllers", root);
        FILE *f = fopen(path, "re");
        if (!f) {
                /* An empty /sys/fs/cgroup is no cgroup file system at all:
                 * a namespace's own /sys (ip netns exec mounts one) or a
                 * container's. */
                snprintf(path, sizeof path, "%s/sys/fs/cgroup", root);
                bool empty = true;
                DIR *dir = opendir(path);
                for (struct dirent *e; dir && empty && (e = readdir(dir));)
                        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
                if (dir)
                        closedir(dir);
                if (empty)
                        return snprintf(why, len, "no cgroup file system mounted at /sys/fs/cgroup"), -ENOTSUP;
                return snprintf(why, len, "no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup v1 or hybrid)"), -ENOTSUP;
        }
        bool cpu = false;
        if (fgets(buf, sizeof buf, f))
                for (char *save = NULL, *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
                        cpu |= !strcmp(w, "cpu");
        fclose(f);
        if (!cpu)
                return snprintf(why, len, "cgroup v2 without the cpu controller"), -ENOTSUP;
        return 0;
}

/* The daemon's scopes, checked at the first start: the host, then a
 * system-bus connection on vmms's event loop. */
static struct vmms_scopes *scopes_of(struct vmms_daemon *d) {
        if (d->scopes)
                return d->scopes;
        struct vmms_scopes *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        int r = vmms_scope_host_check("/", s->why, sizeof s->why);
        if (r >= 0 && (r = sd_bus_open_system(&s->bus)) >= 0 &&
            ((r = sd_bus_attach_event(s->bus, d->event, 0)) < 0 || (r = vmms_machine_watch(d, s->bus)) < 0))
                s->bus = sd_bus_flush_close_unref(s->bus);
        if (r < 0 && !s->why[0])
                snprintf(s->why, sizeof s->why, "cannot connect to systemd on the system bus: %s", strerror(-r));
        if (s->bus)
                log_info("workers run in scopes of their own in machine.slice");
        else
                log_notice("workers stay in vmms's cgroup: %s", s->why);
        return d->scopes = s;
}

void vmms_scopes_free(struct vmms_daemon *d) {
        if (!d->scopes)
                return;
        sd_bus_flush_close_unref(d->scopes->bus); /* the calls in flight go with their slots */
        free(d->scopes);
        d->scopes = NULL;
}

static int call_done(sd_bus_message *m, void *userdata, sd_bus_error *unused) {
        const struct scope_call *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        if (e)
                log_warning("%s: %s failed: %s", c->unit, c->what, e->message ? e->message : e->name);
        else
                log_debug("%s: %s done", c->unit, c->what);
        return 0;
}

int vmms_scopes_call_async(struct vmms_scopes *s, sd_bus_message *m, sd_bus_message_handler_t done, void *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = m;
        sd_bus_slot *slot = NULL;
        if (!c)
                return -ENOMEM;
        int r = sd_bus_call_async(s->bus, &slot, msg, done, c, 0);
        if (r < 0) {
                free(c);
                return r;
        }
        (void)sd_bus_slot_set_destroy_callback(slot, free);
        (void)sd_bus_slot_set_floating(slot, 1);
        return 0;
}

/* Sends m on the scopes' bus with a reply that logs; takes m. */
static int send_logged(struct vmms_scopes *s, sd_bus_message *m, const char *unit, const char *what) {
        struct scope_call *c = calloc(1, sizeof *c);
        if (c) {
                snprintf(c->unit, sizeof c->unit, "%s", unit);
                snprintf(c->what, sizeof c->what, "%s", what);
        }
        return vmms_scopes_call_async(s, m, call_done, c);
}

static int start_scope(struct vmms_scopes *s, const char *unit, const struct vmms_vm *vm, pid_t pid) {
        sd_bus_message *m = NULL;
        char desc[128];
        snprintf(desc, sizeof desc, "vmstack VM %s (%s)", vm->config->name, vm->id);
        int r = sd_bus_message_new_method_call(s->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 6, "Description", "s", desc, "Slice", "s", "machine.slice",
                                          "PIDs", "au", 1, (uint32_t)pid, "CPUWeight", "t",
                                          (uint64_t)vm->config->processor.weight, "MemoryHigh", "t",
                                          vm->processor->memory_high, "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        return send_logged(s, m, unit, "StartTransientUnit");
}

void vmms_scope_worker_started(struct vmms_vm *vm, pid_t pid) {
        struct vmms_scopes *s = scopes_of(vm->d);
        uint32_t weight = vm->config->processor.weight;
        if (!s || !s->bus) {
                if (weight != VM_CPU_WEIGHT_DEFAULT)
                        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "processor weight %u not enforced: %s", weight,
                                    s ? s->why : "out of memory");
                return;
        }
        if (!vm->processor && !(vm->processor = calloc(1, sizeof *vm->processor)))
                return;
        struct vmms_processor *p = vm->processor;
        p->reach_mib = vm_dm_reach_mib(vm->config);
        p->memory_high = vmms_scope_memory_high(vm->config, p->reach_mib);
        int r = vmms_scope_unit_name(vm->config->name, vm->id, pid, p->unit, sizeof p->unit);
        if (r >= 0 && (r = start_scope(s, p->unit, vm, pid)) < 0)
                p->unit[0] = 0;
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot ask systemd for the worker's scope: %m");
                return;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "worker %d in %s (machine.slice, CPUWeight %u, MemoryHigh %" PRIu64 " MiB)",
                    (int)pid, p->unit, weight, p->memory_high >> 20);
        vmms_machine_scope_asked(vm, pid);
}

/* The unit of vm's running worker: the one vmms asked for, or for a
 * worker vmms re-attached to (placed by an earlier vmms) the name the VM
 * had then, taken to be the one it has. */
static int unit_of(const struct vmms_vm *vm, char *unit, size_t len) {
        if (vm->processor && vm->processor->unit[0])
                return snprintf(unit, len, "%s", vm->processor->unit), 0;
        return vmms_scope_unit_name(vm->config->name, vm->id, vmms_worker_pid(vm->worker), unit, len);
}

void vmms_scope_config_changed(struct vmms_vm *vm, const struct vm_config *old, const struct vm_config *next) {
        uint32_t weight = next->processor.weight;
        bool new_weight = weight != old->processor.weight;
        struct vmms_processor *p = vm->processor;
        /* The window a worker mapped at its start stays while it runs. */
        uint64_t reach = p && p->reach_mib ? p->reach_mib : vm_dm_reach_mib(old);
        uint64_t high = vmms_scope_memory_high(next, reach);
        uint64_t old_high = p && p->memory_high ? p->memory_high : vmms_scope_memory_high(old, reach);
        if (!new_weight && high == old_high)
                return;
        struct vmms_scopes *s = scopes_of(vm->d);
        char unit[VMMS_SCOPE_UNIT_MAX] = "";
        if (!s || !s->bus) {
                if (new_weight)
                        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "processor weight %u not enforced: %s", weight,
                                    s ? s->why : "out of memory");
                return;
        }
        if (!vm->worker || unit_of(vm, unit, sizeof unit) < 0)
                return;
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(s->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0 && new_weight)
                r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", (uint64_t)weight);
        if (r >= 0 && high != old_high)
                r = sd_bus_message_append(m, "(sv)", "MemoryHigh", "t", high);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = send_logged(s, m, unit, new_weight && high != old_high ? "SetUnitProperties(CPUWeight, MemoryHigh)"
                                            : new_weight ? "SetUnitProperties(CPUWeight)"
                                                         : "SetUnitProperties(MemoryHigh)");
        else
                sd_bus_message_unref(m);
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot change %s: %m", unit);
                return;
        }
        if (p)
                p->memory_high = high;
        if (high != old_high)
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "%s: MemoryHigh %" PRIu64 " MiB", unit, high >> 20);
}
