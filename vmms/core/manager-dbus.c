// SPDX-License-Identifier: MIT
/* org.vmstack.VMMS1.Manager at /org/vmstack/VMMS1 (docs/dbus-api.md):
 * CreateVM, CreateVMWithCloudInit, ListVMs, GetVM, GetHostCapabilities,
 * GetCallerAccess, the storage pools' images (host/pools.c), VMAdded/VMRemoved. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/cloud-init.h"
#include "core/daemon.h"
#include "vmms/validate.h"
#include "host/host.h"

int vmms_bus_emit_vm_added(struct vmms_vm *vm) {
        int r = sd_bus_emit_signal(vm->d->bus, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "VMAdded", "oss", vm->path,
                                   vm->id, vm->config->name);
        if (r >= 0)
                r = sd_bus_emit_object_added(vm->d->bus, vm->path);
        return r;
}

int vmms_bus_emit_vm_removed(struct vmms_vm *vm) {
        /* InterfacesRemoved must go out while the object can still be found. */
        int r = sd_bus_emit_object_removed(vm->d->bus, vm->path);
        int k = sd_bus_emit_signal(vm->d->bus, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "VMRemoved", "oss", vm->path,
                                   vm->id, vm->config->name);
        return r < 0 ? r : k;
}

int vmms_bus_check_memory(const struct vm_config *c, const struct vm_config *cur, sd_bus_error *e) {
        char err[256];
        if (vmms_config_check_memory(c, cur, vmms_host_memory_mib(), err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG, "%s", err);
        return 0;
}

int vmms_bus_check_json_size(sd_bus_message *m, const char *what, sd_bus_error *e) {
        const char *json;
        int r = sd_bus_message_read(m, "s", &json);
        if (r < 0)
                return r;
        if (strlen(json) > VM_CONFIG_MAX_BYTES)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG, "%s: larger than %u bytes", what,
                                         VM_CONFIG_MAX_BYTES);
        return 0;
}

int vmms_bus_check_files(struct vmms_daemon *d, sd_bus_message *m, const struct vm_config *c,
                         const struct vm_config *cur, sd_bus_error *e) {
        _cleanup_free_ struct vmms_cred *cred = malloc(sizeof *cred);
        char err[1200];
        if (!cred)
                return -ENOMEM;
        int r = vmms_auth_caller_cred(m, cred);
        if (r < 0)
                return sd_bus_error_set_errnof(e, r, "cannot determine the caller's identity: %s", strerror(-r));
        r = vmms_config_check_files(&d->opt.paths, c, cur, cred, err, sizeof err);
        if (r == -EPERM || r == -EACCES)
                return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED, "%s", err);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG, "%s", err);
        return 0;
}

static int check_limits(struct vmms_daemon *d, uid_t uid, sd_bus_error *e) {
        if (d->n_vms >= d->opt.max_vms)
                return sd_bus_error_setf(e, VMMS_ERROR_LIMIT_EXCEEDED,
                                         "there are %zu VMs, the limit (--max-vms) is %u; delete VMs first",
                                         d->n_vms, d->opt.max_vms);
        if (uid != 0 && vmms_daemon_count_owner(d, uid) >= d->opt.max_vms_per_user)
                return sd_bus_error_setf(e, VMMS_ERROR_LIMIT_EXCEEDED,
                                         "user %u owns %u VMs, the limit (--max-vms-per-user) is %u; delete VMs first",
                                         (unsigned)uid, vmms_daemon_count_owner(d, uid), d->opt.max_vms_per_user);
        return 0;
}

static int create_vm(struct vmms_daemon *d, const struct vm_config *c, uid_t uid, struct vmms_vm **out,
                     sd_bus_error *e) {
        struct vmms_vm *vm = vmms_vm_new(d, c, uid);
        if (!vm)
                return -ENOMEM;
        int r = vmms_store_save(vm, c);
        if (r < 0) {
                vmms_vm_free(vm);
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot store the configuration in %s: %s",
                                         d->opt.state_dir, strerror(-r));
        }
        if ((r = vmms_daemon_add_vm(d, vm)) < 0) {
                (void)vmms_store_remove(vm);
                vmms_vm_free(vm);
                return r;
        }
        *out = vm;
        return 0;
}

static int do_create(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *c = malloc(sizeof *c);
        const char *json;
        char err[320], seed[PATH_MAX] = "";
        struct guid id;
        struct vmms_vm *vm = NULL, *other;
        uid_t uid;
        int r;
        if (!c)
                return -ENOMEM;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &json)) < 0 ||
            (r = vmms_auth_caller_uid(m, &uid)) < 0 || (r = guid_generate(&id)) < 0)
                return r;
        if ((r = check_limits(d, uid, e)) < 0)
                return r;
        if (vmms_config_parse_for(json, strlen(json), &id, false, c, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG, "%s", err);
        if ((other = vmms_daemon_find_id(d, &c->id)))
                return sd_bus_error_setf(e, VMMS_ERROR_EXISTS, "id: VM %s (%s) already has this id", other->id,
                                         other->config->name);
        if ((other = vmms_daemon_find_name(d, c->name)))
                return sd_bus_error_setf(e, VMMS_ERROR_EXISTS, "name: a VM named '%s' exists (id %s)", c->name,
                                         other->id);
        /* CreateVMWithCloudInit: the seed is written and in a DVD drive
         * before the files are checked, and goes if the VM does not come. */
        if (sd_bus_message_is_method_call(m, NULL, "CreateVMWithCloudInit") &&
            (r = vmms_cloud_init_make(d, m, c, seed, sizeof seed, e)) < 0)
                return r;
        /* CreateVMWithSeed: an exported VM's seed, the same way. */
        if (sd_bus_message_is_method_call(m, NULL, "CreateVMWithSeed") &&
            (r = vmms_seed_take(d, m, c, seed, sizeof seed, e)) < 0)
                return r;
        if ((r = vmms_bus_check_memory(c, NULL, e)) < 0 || (r = vmms_bus_check_files(d, m, c, NULL, e)) < 0 ||
            (r = create_vm(d, c, uid, &vm, e)) < 0) {
                if (seed[0])
                        (void)unlink(seed);
                return r;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "created by uid %u%s", (unsigned)uid, seed[0] ? " with a cloud-init seed" : "");
        (void)vmms_bus_emit_vm_added(vm);
        return sd_bus_reply_method_return(m, "o", vm->path);
}

static int method_create(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        int r = vmms_bus_check_json_size(m, "configuration", e);
        if (r < 0)
                return r;
        return vmms_auth_run(userdata, m, VMMS_POLKIT_ACTION_MANAGE, do_create, e);
}

static int method_create_cloud_init(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        int r = vmms_bus_check_json_size(m, "configuration", e);
        if (r < 0)
                return r;
        if ((r = vmms_cloud_init_precheck(m, e)) < 0) /* the files' names and sizes, cheaply */
                return r;
        return vmms_auth_run(userdata, m, VMMS_POLKIT_ACTION_MANAGE, do_create, e);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_daemon *d = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(osss)");
        for (size_t i = 0; r >= 0 && i < d->n_vms; i++) {
                struct vmms_vm *vm = d->vms[i];
                r = sd_bus_message_append(reply, "(osss)", vm->path, vm->id, vm->config->name,
                                          vmms_state_to_string(vm->state));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_daemon *d = userdata;
        struct vmms_vm *vm = NULL;
        struct guid id;
        const char *ref;
        int r = sd_bus_message_read(m, "s", &ref);
        if (r < 0)
                return r;
        int kind = vmms_vm_ref_parse(ref, &id);
        if (kind < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "name_or_id: '%.80s' is neither a VM name nor a VM id", ref);
        if (kind == VMMS_VM_REF_ID)
                vm = vmms_daemon_find_id(d, &id);
        if (!vm)
                vm = vmms_daemon_find_name(d, ref);
        if (!vm)
                return sd_bus_error_setf(e, VMMS_ERROR_NO_SUCH_VM, "no VM is named '%s' or has that id (see ListVMs)",
                                         ref);
        return sd_bus_reply_method_return(m, "o", vm->path);
}

static int method_caps(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = vmms_host_capabilities(userdata, reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* Whether the caller may manage VMs, answered as the managing calls would
 * decide (auth.c), so that a client can show itself read-only before a
 * click rather than after a refusal. */
static int method_access(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_auth_access(userdata, m, VMMS_POLKIT_ACTION_MANAGE, e);
}

static int method_pool_list(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_pool_list(userdata, m, e);
}

static int method_pool_create(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_pool_create(userdata, m, e);
}

static int method_pool_delete(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        return vmms_pool_delete(userdata, m, e);
}

static int prop_version(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                        void *userdata, sd_bus_error *e) {
        return sd_bus_message_append(reply, "s", VMSTACK_VERSION);
}

static int prop_problems(sd_bus *bus, const char *path, const char *iface, const char *prop,
                         sd_bus_message *reply, void *userdata, sd_bus_error *e) {
        struct vmms_daemon *d = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "s");
        for (size_t i = 0; r >= 0 && i < d->n_problems; i++)
                r = sd_bus_message_append(reply, "s", d->problems[i]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int prop_count(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                      void *userdata, sd_bus_error *e) {
        struct vmms_daemon *d = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t)d->n_vms);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", prop_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VMCount", "u", prop_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Problems", "as", prop_problems, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("CreateVM", SD_BUS_ARGS("s", config), SD_BUS_RESULT("o", vm), method_create,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListVMs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(osss)", vms), method_list,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetVM", SD_BUS_ARGS("s", name_or_id), SD_BUS_RESULT("o", vm), method_get,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHostCapabilities", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", capabilities),
                                method_caps, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateVMWithSeed", SD_BUS_ARGS("s", config, "h", seed), SD_BUS_RESULT("o", vm),
                                method_create, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateVMWithCloudInit", SD_BUS_ARGS("s", config, "a{say}", cloud_init),
                                SD_BUS_RESULT("o", vm), method_create_cloud_init, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetCallerAccess", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", access, "s", reason),
                                method_access, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPoolImages", SD_BUS_ARGS("s", pool), SD_BUS_RESULT("a(ssttas)", images),
                                method_pool_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreatePoolImage",
                                SD_BUS_ARGS("s", pool, "s", name, "s", format, "t", size, "s", parent),
                                SD_BUS_RESULT("s", path), method_pool_create, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeletePoolImage", SD_BUS_ARGS("s", pool, "s", name), SD_BUS_NO_RESULT,
                                method_pool_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("VMAdded", SD_BUS_ARGS("o", vm, "s", id, "s", name), 0),
        SD_BUS_SIGNAL_WITH_ARGS("VMRemoved", SD_BUS_ARGS("o", vm, "s", id, "s", name), 0),
        SD_BUS_VTABLE_END,
};

int vmms_bus_manager_register(struct vmms_daemon *d) {
        int r = sd_bus_add_object_vtable(d->bus, NULL, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, manager_vtable, d);
        if (r < 0)
                return log_error_errno(r, "cannot register the Manager interface: %m");
        r = sd_bus_add_object_manager(d->bus, NULL, VMMS_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "cannot register the object manager: %m");
        return 0;
}
