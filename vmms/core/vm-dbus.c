// SPDX-License-Identifier: MIT
/* org.vmstack.VMMS1.VM at /org/vmstack/VMMS1/vm/<id> (docs/dbus-api.md).
 * Every method that changes a VM is authorized first (auth.c); the work is
 * done in a do_*() continuation that looks the VM up again by path, because
 * an asynchronous polkit check may outlive the VM. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "checkpoint/checkpoint.h"
#include "core/cloud-init.h"
#include "core/daemon.h"
#include "vmms/checkpoints.h"
#include "vmms/paths.h"
#include "vmms/processor.h"
#include "vmms/validate.h"
#include "worker/worker.h"
#include "guest/guest.h"
#include "hotplug/hotplug.h"
#include "migration/migration.h"
#include "processor/processor.h"
#include "saved-state/saved-state.h"

static int lookup(struct vmms_daemon *d, sd_bus_message *m, struct vmms_vm **vm, sd_bus_error *e) {
        *vm = vmms_daemon_find_path(d, sd_bus_message_get_path(m));
        if (!*vm)
                return sd_bus_error_setf(e, VMMS_ERROR_NO_SUCH_VM, "the VM was deleted");
        return 0;
}

static int check_op(struct vmms_vm *vm, enum vmms_op op, sd_bus_error *e) {
        char msg[200];
        if (vmms_state_check_op(vm->state, op, msg, sizeof msg) == 0)
                return 0;
        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s': %s", vm->config->name, msg);
}

/* Resolves the VM and checks that op is allowed; *vm is NULL on error. */
static int begin(struct vmms_daemon *d, sd_bus_message *m, enum vmms_op op, struct vmms_vm **vm, sd_bus_error *e) {
        int r = lookup(d, m, vm, e);
        if (r >= 0)
                r = check_op(*vm, op, e);
        /* An operation in progress that excludes op (core/pending.c). */
        if (r >= 0)
                r = vmms_pending_check(*vm, op, e);
        return r;
}

static int do_start(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        char err[VMMS_EXIT_REASON_MAX - 64];
        int r = begin(d, m, VMMS_OP_START, &vm, e);
        if (r < 0)
                return r;
        vmms_vm_cancel_restart(vm);
        if ((r = vmms_vm_start(vm, err, sizeof err)) < 0)
                return sd_bus_error_setf(e, r == -EUSERS  ? VMMS_ERROR_LIMIT_EXCEEDED
                                            : r == -E2BIG ? VMMS_ERROR_INVALID_CONFIG
                                                          : VMMS_ERROR_FAILED,
                                         "cannot start VM '%s': %s", vm->config->name, err);
        return sd_bus_reply_method_return(m, NULL);
}

static int do_stop(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        uint32_t timeout, resolved;
        char err[200];
        int r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "u", &timeout)) < 0 ||
            (r = begin(d, m, VMMS_OP_STOP, &vm, e)) < 0)
                return r;
        if (vmms_stop_timeout_resolve(timeout, vm->config, &resolved, err, sizeof err) < 0)
                return sd_bus_error_set(e, VMMS_ERROR_INVALID_ARGUMENT, err);
        if ((r = vmms_vm_stop(vm, resolved)) < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int do_kill(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_KILL, &vm, e);
        if (r < 0 || (r = vmms_vm_kill(vm)) < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int do_reboot(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_REBOOT, &vm, e);
        if (r < 0 || (r = vmms_vm_reboot(vm)) < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

/* Pause and Resume answer when the worker did. */
static void pause_resume_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        bool pause = !strcmp(sd_bus_message_get_member(call), "Pause");
        if (error < 0) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "the worker could not %s VM '%s': %s",
                                                 pause ? "pause" : "resume", vm->config->name,
                                                 vmms_worker_reply_why(reply, error));
                return;
        }
        if (vm->state == (pause ? VMMS_STATE_RUNNING : VMMS_STATE_PAUSED))
                vmms_vm_set_state(vm, pause ? VMMS_STATE_PAUSED : VMMS_STATE_RUNNING);
        (void)sd_bus_reply_method_return(call, NULL);
}

static int do_pause_resume(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        bool pause = !strcmp(sd_bus_message_get_member(m), "Pause");
        int r = begin(d, m, pause ? VMMS_OP_PAUSE : VMMS_OP_RESUME, &vm, e);
        if (r < 0)
                return r;
        r = vmms_worker_request(vm->worker, pause ? "pause" : "resume", NULL, pause_resume_reply, m);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        return 1;
}

/* InjectNmi answers when the worker did: every vCPU got an NMI (Hyper-V's
 * Debug-VM -InjectNonMaskableInterrupt; a guest may dump or panic on it). */
static void nmi_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        json_object *v;
        if (error < 0) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "cannot inject an NMI into VM '%s': %s",
                                                 vm->config->name, vmms_worker_reply_why(reply, error));
                return;
        }
        int n = reply && json_object_object_get_ex(reply, "vcpus", &v) ? json_object_get_int(v) : 0;
        vmms_vm_log(vm, LOG_LEVEL_NOTICE, 0, "NMI injected (%d of %u vCPUs took it)", n, vm->config->vcpus);
        (void)sd_bus_reply_method_return(call, NULL);
}

static int do_nmi(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_NMI, &vm, e);
        if (r < 0)
                return r;
        r = vmms_worker_request(vm->worker, "nmi", NULL, nmi_reply, m);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        return 1;
}

/* Save answers once the state is durable on disk (save.c). */
static int do_save(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        char err[PATH_MAX + 128];
        int r = begin(d, m, VMMS_OP_SAVE, &vm, e);
        if (r < 0)
                return r;
        if ((r = vmms_vm_save(vm, m, err, sizeof err)) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot save VM '%s': %s", vm->config->name, err);
        return 1;
}

/* Migrate(s destination, a{sv} options): answers when the destination runs
 * the VM (or, for a Saved VM moved without "start", holds it), or with the
 * reason the VM stays here (migration/live-out.c; quick: migration/quick-out.c). */
static int read_migrate_options(sd_bus_message *m, const char **mode, int64_t *downtime, int *auto_converge,
                                int *postcopy, int *start, const char **storage_path, sd_bus_error *e) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r > 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                uint32_t u;
                int b;
                if ((r = sd_bus_message_read(m, "s", &key)) < 0)
                        return r;
                if (!strcmp(key, "mode"))
                        r = sd_bus_message_read(m, "v", "s", mode);
                else if (!strcmp(key, "max-downtime-ms") && (r = sd_bus_message_read(m, "v", "u", &u)) >= 0)
                        *downtime = u;
                else if (!strcmp(key, "auto-converge"))
                        r = sd_bus_message_read(m, "v", "b", auto_converge);
                else if (!strcmp(key, "postcopy"))
                        r = sd_bus_message_read(m, "v", "b", postcopy);
                else if (!strcmp(key, "start") && (r = sd_bus_message_read(m, "v", "b", &b)) >= 0)
                        *start = !!b;
                else if (!strcmp(key, "storage-path"))
                        r = sd_bus_message_read(m, "v", "s", storage_path);
                else if (strcmp(key, "max-downtime-ms") != 0 && strcmp(key, "start") != 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                                 "options: unknown key '%.64s' (mode, max-downtime-ms, "
                                                 "auto-converge, postcopy, start, storage-path)",
                                                 key);
                if (r < 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                                 "options: %s: wrong type (mode: s, max-downtime-ms: u, "
                                                 "auto-converge: b, postcopy: b, start: b, storage-path: s)",
                                                 key);
                if ((r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int do_migrate(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        struct vmms_migrate_args a;
        const char *dest, *mode = NULL, *storage_path = NULL;
        int64_t downtime = 0;
        int auto_converge = 1, postcopy = 0, start = -1;
        char err[700];
        int r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &dest)) < 0 ||
            (r = read_migrate_options(m, &mode, &downtime, &auto_converge, &postcopy, &start, &storage_path, e)) < 0 ||
            (r = begin(d, m, VMMS_OP_MIGRATE, &vm, e)) < 0)
                return r;
        if (vmms_migrate_args_check(dest, mode, downtime, &a, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        /* The tree and its states are this vmms's files (docs/checkpoints.md). */
        if (vm->ckpts->n)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE,
                                         "VM '%s' has %u checkpoint(s), which do not move with it: delete them first",
                                         vm->config->name, vm->ckpts->n);
        a.no_auto_converge = !auto_converge;
        /* A Saved VM has no running guest to pre-copy: it moves as it is. */
        if (vm->state == VMMS_STATE_SAVED && mode && !a.quick)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "VM '%s' is Saved: it moves with mode quick, not live", vm->config->name);
        a.quick |= vm->state == VMMS_STATE_SAVED;
        if (start >= 0 && !a.quick)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "start: only with mode quick");
        if (postcopy && a.quick)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "postcopy: only with mode live");
        a.postcopy = postcopy;
        a.start = start;
        /* Shared-nothing: a directory the destination's policy then checks. */
        if (storage_path && (a.quick || storage_path[0] != '/' || !vmms_path_is_plain(storage_path) ||
                             strlen(storage_path) >= sizeof a.storage_path - 64))
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         a.quick ? "storage-path: a quick migration moves the VM's state, not its "
                                                   "disks: only with mode live"
                                                 : "storage-path: must be an absolute, plain directory path");
        snprintf(a.storage_path, sizeof a.storage_path, "%s", storage_path ? storage_path : "");
        r = a.quick ? vmms_vm_migrate_quick(vm, m, &a, err, sizeof err) : vmms_vm_migrate(vm, m, &a, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot migrate VM '%s': %s", vm->config->name, err);
        return 1;
}

static int do_cancel_migration(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_CANCEL_MIGRATION, &vm, e);
        if (r < 0)
                return r;
        if ((r = vmms_vm_cancel_migration(vm)) == -ENOENT && (r = vmms_vm_cancel_quick(vm)) == -EBUSY)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE,
                                         "VM '%s': the destination has stored it; the move can no longer be cancelled",
                                         vm->config->name);
        if (r == -EBUSY)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE,
                                         "VM '%s': the migration is committed; the destination's answer decides "
                                         "where the VM runs",
                                         vm->config->name);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s': no migration to cancel",
                                         vm->config->name);
        return sd_bus_reply_method_return(m, NULL);
}

static int do_discard_saved(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_DISCARD_SAVED, &vm, e);
        if (r < 0)
                return r;
        if ((r = vmms_vm_discard_saved(vm)) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot remove the saved state of '%s': %s",
                                         vm->config->name, strerror(-r));
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "saved state discarded");
        return sd_bus_reply_method_return(m, NULL);
}

/* ExportSavedState() -> h: the state file, read-only; the caller copies it. */
static int do_export_saved(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        char err[PATH_MAX + 64];
        int r = begin(d, m, VMMS_OP_EXPORT_SAVED, &vm, e);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = vmms_saved_open(vm, err, sizeof err);
        if (fd < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "VM '%s': %s", vm->config->name, err);
        return sd_bus_reply_method_return(m, "h", fd);
}

/* ExportSavedSeed() -> h: a Saved VM's cloud-init seed, read-only, for
 * export-saved --config (FileNotFound: it has none). */
static int do_export_seed(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        char err[PATH_MAX + 64];
        int r = begin(d, m, VMMS_OP_EXPORT_SAVED, &vm, e);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = vmms_seed_export(vm, err, sizeof err);
        if (fd < 0)
                return sd_bus_error_setf(e, fd == -ENOENT ? SD_BUS_ERROR_FILE_NOT_FOUND : VMMS_ERROR_FAILED, "%s", err);
        return sd_bus_reply_method_return(m, "h", fd);
}

/* ImportSavedState(h): an Off VM becomes Saved from the caller's file. */
static int do_import_saved(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int fd, r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "h", &fd)) < 0 ||
            (r = begin(d, m, VMMS_OP_IMPORT_SAVED, &vm, e)) < 0)
                return r;
        return vmms_saved_import(vm, m, fd, e);
}

static int do_delete(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_DELETE, &vm, e);
        if (r < 0)
                return r;
        vmms_vm_cancel_restart(vm);
        if ((r = vmms_store_remove(vm)) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot remove the configuration of '%s': %s",
                                         vm->config->name, strerror(-r));
        vmms_vm_logs_remove(vm);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "deleted");
        (void)vmms_bus_emit_vm_removed(vm);
        vmms_daemon_remove_vm(d, vm);
        return sd_bus_reply_method_return(m, NULL);
}

static int do_update(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        _cleanup_free_ struct vm_config *c = malloc(sizeof *c);
        struct vmms_vm *vm, *other;
        const char *json;
        char err[320];
        int r;
        if (!c)
                return -ENOMEM;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &json)) < 0 ||
            (r = lookup(d, m, &vm, e)) < 0)
                return r;
        if (vmms_config_parse_for(json, strlen(json), &vm->config->id, true, c, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG, "%s", err);
        if ((other = vmms_daemon_find_name(d, c->name)) && other != vm)
                return sd_bus_error_setf(e, VMMS_ERROR_EXISTS, "name: a VM named '%s' exists (id %s)", c->name,
                                         other->id);
        bool processor_to_worker;
        if (vmms_config_check_update(vm->config, c, vm->state, err, sizeof err) < 0 ||
            vmms_processor_check_update(vm->config, c, vm->state, &processor_to_worker, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "%s", err);
        if ((r = vmms_pending_check(vm, VMMS_ASK_UPDATE, e)) < 0)
                return r;
        if ((r = vmms_bus_check_memory(c, vm->config, e)) < 0 || (r = vmms_bus_check_files(d, m, c, vm->config, e)) < 0)
                return r;
        if (processor_to_worker) /* the worker first: stored and answered when it has applied it */
                return vmms_processor_update(vm, m, TAKE_PTR(c), e);
        if ((r = vmms_store_save(vm, c)) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot store the configuration: %s", strerror(-r));
        if (vm->worker) /* Dynamic Memory's settings: the scope's MemoryHigh */
                vmms_scope_config_changed(vm, vm->config, c);
        *vm->config = *c;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "configuration updated");
        (void)sd_bus_emit_properties_changed(d->bus, vm->path, VMMS_VM_IFACE, "Name", "Config", "ConsoleLog", NULL);
        return sd_bus_reply_method_return(m, NULL);
}

static int do_console(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int ro = 0, r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "b", &ro)) < 0 ||
            (r = begin(d, m, VMMS_OP_CONSOLE, &vm, e)) < 0)
                return r;
        if (!ro)
                return vmms_console_open_interactive(vm, m, e);
        char why[PATH_MAX + 128] = "";
        _cleanup_close_ int fd = vmms_worker_open_console(vm->worker, ro, why, sizeof why);
        if (fd < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "the console of VM '%s' is not available: %s",
                                         vm->config->name, why[0] ? why : strerror(-fd));
        return sd_bus_reply_method_return(m, "h", fd);
}

/* SetKVP(s key, s value) / RemoveKVP(s key): a host KVP item for the guest. */
static int do_kvp(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        const char *key, *value = NULL;
        bool set = !strcmp(sd_bus_message_get_member(m), "SetKVP");
        int r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 ||
            (r = set ? sd_bus_message_read(m, "ss", &key, &value) : sd_bus_message_read(m, "s", &key)) < 0 ||
            (r = begin(d, m, VMMS_OP_KVP, &vm, e)) < 0)
                return r;
        return vmms_kvp_request(vm, m, key, value, e);
}

/* CopyFile(h source, s destination, a{sv} options) -> (t bytes): options
 * "overwrite" (b), "create_path" (b). */
static int do_copy_file(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        const char *dest;
        int fd, r, overwrite = 0, create_path = 0;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "hs", &fd, &dest)) < 0 ||
            (r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                if ((r = sd_bus_message_read(m, "s", &key)) < 0)
                        return r;
                if (strcmp(key, "overwrite") && strcmp(key, "create_path"))
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                                 "options: unknown key '%.64s' (overwrite, create_path)", key);
                if (sd_bus_message_read(m, "v", "b", key[0] == 'o' ? &overwrite : &create_path) < 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "options: %s: must be a boolean",
                                                 key);
                if ((r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0 || (r = begin(d, m, VMMS_OP_COPY_FILE, &vm, e)) < 0)
                return r;
        return vmms_fcopy_request(vm, m, fd, dest, overwrite, create_path, e);
}

/* CancelFileCopy(): the copy in progress ends; its CopyFile call fails
 * with "the copy was cancelled" once the guest deleted what it wrote. */
static int do_cancel_file_copy(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        int r = begin(d, m, VMMS_OP_CANCEL_FILE_COPY, &vm, e);
        if (r < 0)
                return r;
        return vmms_fcopy_cancel(vm, m, e);
}

/* AttachDisk(s disk) -> u, DetachDisk(u), ResizeDisk(u, t), AttachNic(s nic)
 * -> u, DetachNic(u), InsertDvd(u, s), EjectDvd(u): hotplug.c, dvd.c. */
static int do_hotplug(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        static const struct {
                const char *member;
                enum vmms_op op;
        } ops[] = {
                { "AttachDisk", VMMS_OP_ATTACH_DISK }, { "DetachDisk", VMMS_OP_DETACH_DISK },
                { "ResizeDisk", VMMS_OP_RESIZE_DISK }, { "AttachNic", VMMS_OP_ATTACH_NIC },
                { "DetachNic", VMMS_OP_DETACH_NIC }, { "InsertDvd", VMMS_OP_INSERT_DVD },
                { "EjectDvd", VMMS_OP_EJECT_DVD }, { "SetDiskQoS", VMMS_OP_SET_DISK_QOS },
                { "SetNicQoS", VMMS_OP_SET_NIC_QOS }, { "SetNicMinWeight", VMMS_OP_SET_NIC_MIN_WEIGHT },
        };
        struct vmms_vm *vm;
        int r = lookup(d, m, &vm, e);
        for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(ops); i++)
                if (!strcmp(sd_bus_message_get_member(m), ops[i].member))
                        return vmms_hotplug_request(vm, m, ops[i].op, e);
        return r < 0 ? r : -EINVAL;
}

#define AUTHORIZED(name, fn, action)                                                    \
        static int name(sd_bus_message *m, void *userdata, sd_bus_error *e) {           \
                struct vmms_vm *vm = userdata;                                          \
                return vmms_auth_run(vm->d, m, action, fn, e);                          \
        }
AUTHORIZED(method_start, do_start, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_stop, do_stop, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_kill, do_kill, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_reboot, do_reboot, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_pause_resume, do_pause_resume, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_nmi, do_nmi, VMMS_POLKIT_ACTION_MANAGE)
static int do_reconnect_migration(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm;
        const char *dest;
        char err[256];
        int r;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &dest)) < 0 ||
            (r = begin(d, m, VMMS_OP_RECONNECT_MIGRATION, &vm, e)) < 0)
                return r;
        r = vmms_vm_reconnect_migration(vm, dest, err, sizeof err);
        if (r == -EINVAL)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s': %s", vm->config->name, err);
        return sd_bus_reply_method_return(m, NULL);
}

AUTHORIZED(method_delete, do_delete, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_kvp, do_kvp, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_copy_file, do_copy_file, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_cancel_file_copy, do_cancel_file_copy, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_save, do_save, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_discard_saved, do_discard_saved, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_export_saved, do_export_saved, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_export_seed, do_export_seed, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_import_saved, do_import_saved, VMMS_POLKIT_ACTION_MANAGE)
AUTHORIZED(method_migrate, do_migrate, VMMS_POLKIT_ACTION_MIGRATE)
AUTHORIZED(method_cancel_migration, do_cancel_migration, VMMS_POLKIT_ACTION_MIGRATE)
AUTHORIZED(method_reconnect_migration, do_reconnect_migration, VMMS_POLKIT_ACTION_MIGRATE)
AUTHORIZED(method_hotplug, do_hotplug, VMMS_POLKIT_ACTION_MANAGE)
#undef AUTHORIZED

/* AttachDisk, AttachNic: an oversized entry is refused before authorization. */
static int method_hotplug_attach(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        int r = vmms_bus_check_json_size(m, strcmp(sd_bus_message_get_member(m), "AttachNic") ? "disk" : "nic", e);
        if (r < 0)
                return r;
        return method_hotplug(m, userdata, e);
}

static int method_update(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        int r = vmms_bus_check_json_size(m, "configuration", e);
        if (r < 0)
                return r;
        return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_MANAGE, do_update, e);
}

static int method_console(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        int ro, r = sd_bus_message_read(m, "b", &ro);
        if (r < 0)
                return r;
        /* Watching the console is reading; typing into it is managing. */
        return vmms_auth_run(vm->d, m, ro ? VMMS_POLKIT_ACTION_READ : VMMS_POLKIT_ACTION_MANAGE, do_console, e);
}

#define VM_OF(userdata) ((struct vmms_vm *)(userdata))
#define PROP(name) \
        static int name(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply, \
                        void *userdata, sd_bus_error *e)

PROP(prop_id) {
        return sd_bus_message_append(reply, "s", VM_OF(userdata)->id);
}
PROP(prop_name) {
        return sd_bus_message_append(reply, "s", VM_OF(userdata)->config->name);
}
PROP(prop_state) {
        return sd_bus_message_append(reply, "s", vmms_state_to_string(VM_OF(userdata)->state));
}
PROP(prop_config) {
        _cleanup_free_ char *json = vm_config_to_json(VM_OF(userdata)->config);
        return json ? sd_bus_message_append(reply, "s", json) : -ENOMEM;
}
PROP(prop_pid) {
        return sd_bus_message_append(reply, "u", (uint32_t)vmms_worker_pid(VM_OF(userdata)->worker));
}
PROP(prop_running_since) {
        return sd_bus_message_append(reply, "t", VM_OF(userdata)->running_since_us);
}
PROP(prop_uptime) {
        uint64_t since = VM_OF(userdata)->running_since_us, now = now_us(CLOCK_REALTIME);
        return sd_bus_message_append(reply, "t", since && now > since ? now - since : (uint64_t)0);
}
PROP(prop_exit_reason) {
        return sd_bus_message_append(reply, "s", VM_OF(userdata)->exit_reason);
}
PROP(prop_exit_status) {
        return sd_bus_message_append(reply, "i", VM_OF(userdata)->exit_status);
}
PROP(prop_heartbeat) {
        return sd_bus_message_append(reply, "(st)", VM_OF(userdata)->guest->hb_status, VM_OF(userdata)->guest->hb_last_us);
}
PROP(prop_boot_status) {
        return sd_bus_message_append(reply, "s", VM_OF(userdata)->boot_status);
}
PROP(prop_guest_kvp) {
        return vmms_kvp_append(reply, VM_OF(userdata)->guest->kvp_guest);
}
PROP(prop_host_kvp) {
        return vmms_kvp_append(reply, VM_OF(userdata)->guest->kvp_host);
}
PROP(prop_restarts) {
        return sd_bus_message_append(reply, "u", VM_OF(userdata)->restarts);
}
PROP(prop_owner) {
        return sd_bus_message_append(reply, "u", (uint32_t)VM_OF(userdata)->owner);
}
PROP(prop_console_log) {
        char buf[PATH_MAX];
        int r = vmms_console_log_path(VM_OF(userdata), buf, sizeof buf);
        return r < 0 ? r : sd_bus_message_append(reply, "s", buf);
}
PROP(prop_save_progress) {
        return sd_bus_message_append(reply, "(tt)", VM_OF(userdata)->saved->save_done, VM_OF(userdata)->saved->save_total);
}
PROP(prop_fcopy_progress) {
        return sd_bus_message_append(reply, "(tt)", VM_OF(userdata)->guest->fcopy_done, VM_OF(userdata)->guest->fcopy_total);
}
PROP(prop_saved_size) {
        return sd_bus_message_append(reply, "t", VM_OF(userdata)->saved->saved_bytes);
}
PROP(prop_migration_progress) {
        struct vmms_vm *vm = VM_OF(userdata);
        return sd_bus_message_append(reply, "(utttt)", vm->mig->pass, vm->mig->bytes, vm->mig->dirty_pages,
                                     vm->mig->dirty_rate, vm->mig->expected_downtime_ms);
}
PROP(prop_migration_throttle) {
        return sd_bus_message_append(reply, "u", VM_OF(userdata)->mig->throttle_pct);
}
PROP(prop_migration_channel) {
        const struct vmms_mig_channel *c = &VM_OF(userdata)->mig->chan;
        return sd_bus_message_append(reply, "(sbust)", c->state, c->held, c->cuts, c->why, c->since_us);
}
PROP(prop_console_socket) {
        struct vmms_worker *w = VM_OF(userdata)->worker;
        return sd_bus_message_append(reply, "s", w ? w->rec.console : "");
}
/* The socket host processes reach guest hv_sock listeners through
 * ("CONNECT <port>\n", docs/hvsock.md): while a worker runs a VM with
 * hvsock enabled, else "". */
PROP(prop_hv_socket) {
        struct vmms_vm *vm = VM_OF(userdata);
        char sock[PATH_MAX] = "";
        if (!vm->worker || !vm->config->hvsock.enabled || vmms_vm_dir(vm, "hvsock.sock", sock, sizeof sock) < 0)
                sock[0] = 0;
        return sd_bus_message_append(reply, "s", sock);
}
#undef PROP

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
static const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", prop_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", prop_name, 0, EMITS),
        SD_BUS_PROPERTY("HvSocket", "s", prop_hv_socket, 0, 0),
        SD_BUS_PROPERTY("State", "s", prop_state, 0, EMITS),
        SD_BUS_PROPERTY("Config", "s", prop_config, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("WorkerPid", "u", prop_pid, 0, EMITS),
        SD_BUS_PROPERTY("RunningSince", "t", prop_running_since, 0, EMITS),
        SD_BUS_PROPERTY("Uptime", "t", prop_uptime, 0, 0),
        SD_BUS_PROPERTY("ExitReason", "s", prop_exit_reason, 0, EMITS),
        SD_BUS_PROPERTY("ExitStatus", "i", prop_exit_status, 0, EMITS),
        SD_BUS_PROPERTY("Heartbeat", "(st)", prop_heartbeat, 0, EMITS),
        SD_BUS_PROPERTY("BootStatus", "s", prop_boot_status, 0, EMITS),
        SD_BUS_PROPERTY("GuestKVP", "a{ss}", prop_guest_kvp, 0, EMITS),
        SD_BUS_PROPERTY("HostKVP", "a{ss}", prop_host_kvp, 0, EMITS),
        SD_BUS_PROPERTY("Restarts", "u", prop_restarts, 0, EMITS),
        SD_BUS_PROPERTY("Owner", "u", prop_owner, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConsoleLog", "s", prop_console_log, 0, EMITS),
        SD_BUS_PROPERTY("ConsoleSocket", "s", prop_console_socket, 0, EMITS),
        SD_BUS_PROPERTY("SaveProgress", "(tt)", prop_save_progress, 0, EMITS),
        SD_BUS_PROPERTY("FileCopyProgress", "(tt)", prop_fcopy_progress, 0, 0),
        SD_BUS_PROPERTY("SavedStateSize", "t", prop_saved_size, 0, EMITS),
        SD_BUS_PROPERTY("MigrationProgress", "(utttt)", prop_migration_progress, 0, EMITS),
        SD_BUS_PROPERTY("MigrationThrottle", "u", prop_migration_throttle, 0, EMITS),
        SD_BUS_PROPERTY("MigrationChannel", "(sbust)", prop_migration_channel, 0, EMITS),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("u", timeout_s), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reboot", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reboot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_pause_resume,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_pause_resume,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("InjectNmi", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_nmi, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Save", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_save, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Migrate", SD_BUS_ARGS("s", destination, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_migrate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CancelMigration", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_cancel_migration,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReconnectMigration", SD_BUS_ARGS("s", destination), SD_BUS_NO_RESULT,
                                method_reconnect_migration, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DiscardSavedState", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_discard_saved,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ExportSavedState", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", state), method_export_saved,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ExportSavedSeed", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", seed), method_export_seed,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportSavedState", SD_BUS_ARGS("h", state), SD_BUS_NO_RESULT, method_import_saved,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("s", config), SD_BUS_NO_RESULT, method_update,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetKVP", SD_BUS_ARGS("s", key, "s", value), SD_BUS_NO_RESULT, method_kvp,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveKVP", SD_BUS_ARGS("s", key), SD_BUS_NO_RESULT, method_kvp,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_ARGS("b", read_only), SD_BUS_RESULT("h", fd), method_console,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyFile", SD_BUS_ARGS("h", source, "s", destination, "a{sv}", options),
                                SD_BUS_RESULT("t", bytes), method_copy_file, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CancelFileCopy", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_cancel_file_copy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AttachDisk", SD_BUS_ARGS("s", disk), SD_BUS_RESULT("u", index),
                                method_hotplug_attach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DetachDisk", SD_BUS_ARGS("u", index), SD_BUS_NO_RESULT, method_hotplug,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResizeDisk", SD_BUS_ARGS("u", index, "t", bytes), SD_BUS_NO_RESULT, method_hotplug,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AttachNic", SD_BUS_ARGS("s", nic), SD_BUS_RESULT("u", index), method_hotplug_attach,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DetachNic", SD_BUS_ARGS("u", index), SD_BUS_NO_RESULT, method_hotplug,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("InsertDvd", SD_BUS_ARGS("u", drive, "s", path), SD_BUS_NO_RESULT, method_hotplug,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("EjectDvd", SD_BUS_ARGS("u", drive), SD_BUS_NO_RESULT, method_hotplug,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetDiskQoS",
                                SD_BUS_ARGS("u", index, "t", max_iops, "t", min_iops, "t", max_bytes_per_s),
                                SD_BUS_NO_RESULT, method_hotplug, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetNicQoS", SD_BUS_ARGS("u", index, "t", max_in_bps, "t", max_out_bps),
                                SD_BUS_NO_RESULT, method_hotplug, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetNicMinWeight", SD_BUS_ARGS("u", index, "u", weight), SD_BUS_NO_RESULT,
                                method_hotplug, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("DiskQoSMinimum", SD_BUS_ARGS("u", index, "b", met, "t", iops, "t", min_iops), 0),
        SD_BUS_SIGNAL_WITH_ARGS("MigrationFinished",
                                SD_BUS_ARGS("s", outcome, "s", destination, "s", state_there, "s", message), 0),
        SD_BUS_VTABLE_END,
};
#undef EMITS

int vmms_bus_find_vm(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found, sd_bus_error *e) {
        struct vmms_vm *vm = vmms_daemon_find_path(userdata, path);
        if (!vm)
                return 0;
        *found = vm;
        return 1;
}

static int vm_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *e) {
        struct vmms_daemon *d = userdata;
        char **l = calloc(d->n_vms + 1, sizeof *l);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_vms; i++)
                if (!(l[i] = strdup(d->vms[i]->path))) {
                        for (size_t k = 0; k < i; k++)
                                free(l[k]);
                        free(l);
                        return -ENOMEM;
                }
        *nodes = l;
        return 0;
}

int vmms_bus_vm_register(struct vmms_daemon *d) {
        int r = sd_bus_add_fallback_vtable(d->bus, NULL, VMMS_VM_PATH_PREFIX, VMMS_VM_IFACE, vm_vtable, vmms_bus_find_vm, d);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(d->bus, NULL, VMMS_VM_PATH_PREFIX, vm_enumerate, d);
        if (r < 0)
                return log_error_errno(r, "cannot register the VM interface: %m");
        return 0;
}
