// SPDX-License-Identifier: MIT
/* org.vmstack.VMMS1.Checkpoints on each VM's object (docs/dbus-api.md
 * "Checkpoints"): Create, Revert, Delete (the manage action, polkit),
 * List (anyone may read, as the VM's properties), properties Current,
 * Count, Operation and Progress. The work is in checkpoint*.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "core/daemon.h"

static int lookup(struct vmms_daemon *d, sd_bus_message *m, struct vmms_vm **vm, sd_bus_error *e) {
        *vm = vmms_daemon_find_path(d, sd_bus_message_get_path(m));
        return *vm ? 0 : sd_bus_error_setf(e, VMMS_ERROR_NO_SUCH_VM, "the VM was deleted");
}

static int fail(sd_bus_error *e, struct vmms_vm *vm, const char *what, int r, const char *err) {
        const char *name = r == -ENOENT ? VMMS_ERROR_INVALID_ARGUMENT
                           : r == -EEXIST ? VMMS_ERROR_EXISTS
                           : r == -EINVAL ? VMMS_ERROR_INVALID_ARGUMENT
                           : r == -E2BIG  ? VMMS_ERROR_LIMIT_EXCEEDED
                           : r == -EBUSY  ? VMMS_ERROR_BUSY
                           : r == -EPERM  ? VMMS_ERROR_INVALID_STATE /* checkpoint_type, production-only */
                                          : VMMS_ERROR_FAILED;
        return sd_bus_error_setf(e, name, "cannot %s VM '%s': %s", what, vm->config->name, err);
}

/* Options a{sv}: "start" (b) for Revert (*value: 1, 0, or -1 when not
 * given), "type" (s: production, production-only, standard) for Create
 * (*value: enum vm_checkpoint_type, or -1); anything else is refused by
 * name. */
static int read_options(sd_bus_message *m, bool revert, int *value, sd_bus_error *e) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        *value = -1;
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *type = NULL;
                int b;
                if ((r = sd_bus_message_read(m, "s", &key)) < 0)
                        return r;
                if (revert && !strcmp(key, "start") && (r = sd_bus_message_read(m, "v", "b", &b)) >= 0)
                        *value = b;
                else if (!revert && !strcmp(key, "type") && (r = sd_bus_message_read(m, "v", "s", &type)) >= 0) {
                        *value = vm_checkpoint_type_from_string(type);
                        if (*value < 0 || *value == VM_CHECKPOINT_DISABLED)
                                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                                         "options: type '%.64s' (production, production-only or "
                                                         "standard)", type);
                } else if (r >= 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "options: unknown key '%.64s' (%s)",
                                                 key, revert ? "start" : "type");
                if (r < 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "options: %s: wrong type", key);
                if ((r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int do_create(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        const char *name;
        char err[1400];
        int type, r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &name)) < 0 ||
            (r = read_options(m, false, &type, e)) < 0 || (r = lookup(d, m, &vm, e)) < 0)
                return r;
        if ((r = vmms_vm_checkpoint(vm, m, name, type, err, sizeof err)) < 0)
                return fail(e, vm, "checkpoint", r, err);
        return 1;
}

static int do_revert(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        const char *ref;
        char err[1400];
        int start, r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &ref)) < 0 ||
            (r = read_options(m, true, &start, e)) < 0 || (r = lookup(d, m, &vm, e)) < 0)
                return r;
        if ((r = vmms_vm_checkpoint_revert(vm, m, ref, start, err, sizeof err)) < 0)
                return fail(e, vm, "revert", r, err);
        return 1;
}

static int do_delete(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        const char *ref;
        char err[1400];
        int r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &ref)) < 0 ||
            (r = lookup(d, m, &vm, e)) < 0)
                return r;
        if ((r = vmms_vm_checkpoint_delete(vm, m, ref, err, sizeof err)) < 0)
                return fail(e, vm, "delete a checkpoint of", r, err);
        return 1;
}

#define AUTHORIZED(name, fn)                                                                    \
        static int name(sd_bus_message *m, void *userdata, sd_bus_error *e) {                   \
                struct vmms_vm *vm = userdata;                                                  \
                return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_MANAGE, fn, e);               \
        }
AUTHORIZED(method_create, do_create)
AUTHORIZED(method_revert, do_revert)
AUTHORIZED(method_delete, do_delete)
#undef AUTHORIZED

/* The bytes a checkpoint keeps on disk: its state and its own images
 * (a frozen VHDX, a raw copy; never a read-only disk it shares). */
static uint64_t checkpoint_bytes(struct vmms_vm *vm, const struct vmms_checkpoint *c) {
        uint64_t n = c->state_bytes;
        struct stat st;
        for (uint32_t i = 0; i < c->n_disks; i++)
                if (c->disks[i].kind != VMMS_CKPT_DISK_UNCHANGED && stat(c->disks[i].image, &st) == 0)
                        n += (uint64_t)st.st_blocks * 512;
        return n;
}

/* List() -> a(ssstbtts): id, name, parent id ("" for a root), created
 * (µs, realtime), has a saved state, state bytes, bytes on disk, type
 * ("standard" or "production"). */
static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssstbtts)");
        for (uint32_t i = 0; r >= 0 && vm->ckpts && i < vm->ckpts->n; i++) {
                const struct vmms_checkpoint *c = vm->ckpts->c[i];
                char id[GUID_STRING_MAX], parent[GUID_STRING_MAX] = "";
                if (!guid_is_null(&c->parent))
                        guid_to_string(&c->parent, parent);
                r = sd_bus_message_append(reply, "(ssstbtts)", guid_to_string(&c->id, id), c->name, parent,
                                          c->created_us, (int)c->has_state, c->state_bytes, checkpoint_bytes(vm, c),
                                          c->production ? "production" : "standard");
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

#define PROP(name)                                                                                                  \
        static int name(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply, \
                        void *userdata, sd_bus_error *e)
PROP(prop_current) {
        struct vmms_vm *vm = userdata;
        char id[GUID_STRING_MAX] = "";
        if (vm->ckpts && !guid_is_null(&vm->ckpts->current))
                guid_to_string(&vm->ckpts->current, id);
        return sd_bus_message_append(reply, "s", id);
}
PROP(prop_count) {
        struct vmms_vm *vm = userdata;
        return sd_bus_message_append(reply, "u", vm->ckpts ? vm->ckpts->n : 0u);
}
PROP(prop_operation) {
        static const char *const names[] = { [VMMS_CKPT_TAKE] = "creating", [VMMS_CKPT_REVERT] = "reverting",
                                             [VMMS_CKPT_MERGE] = "merging", [VMMS_CKPT_IMPORT] = "importing" };
        struct vmms_vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vmms_ckpt_op(vm) ? names[vmms_ckpt_op(vm)->kind] : "");
}
PROP(prop_progress) {
        struct vmms_vm *vm = userdata;
        uint64_t done = 0, total = 0;
        if (vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->job)
                vmms_ckpt_job_progress(vmms_ckpt_op(vm)->job, &done, &total);
        else if (vmms_ckpt_op(vm) && vmms_ckpt_op(vm)->merge_online) /* the worker's passes: no total known */
                done = vmms_ckpt_op(vm)->merge_online_done;
        return sd_bus_message_append(reply, "(tt)", done, total);
}
#undef PROP

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
static const sd_bus_vtable checkpoints_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Current", "s", prop_current, 0, EMITS),
        SD_BUS_PROPERTY("Count", "u", prop_count, 0, EMITS),
        SD_BUS_PROPERTY("Operation", "s", prop_operation, 0, EMITS),
        SD_BUS_PROPERTY("Progress", "(tt)", prop_progress, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Create", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_RESULT("s", id),
                                method_create, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Revert", SD_BUS_ARGS("s", checkpoint, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_revert, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("s", checkpoint), SD_BUS_NO_RESULT, method_delete,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssstbtts)", checkpoints), method_list,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
#undef EMITS

int vmms_bus_checkpoints_register(struct vmms_daemon *d) {
        int r = sd_bus_add_fallback_vtable(d->bus, NULL, VMMS_VM_PATH_PREFIX, VMMS_CHECKPOINTS_IFACE,
                                           checkpoints_vtable, vmms_bus_find_vm, d);
        if (r < 0)
                return log_error_errno(r, "cannot register the checkpoints interface: %m");
        return 0;
}
