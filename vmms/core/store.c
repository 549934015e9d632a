// SPDX-License-Identifier: MIT
/* VM configurations on disk: <state-dir>/<id>.json, one JSON document per VM
 * (common/config.h), written atomically. The file's owner is the uid that
 * created the VM (the per-user limit counts it). A file that cannot be used
 * is reported (log + Manager.Problems) and left untouched: it is never
 * deleted or rewritten, so nothing an admin could recover is lost. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "checkpoint/checkpoint.h"
#include "core/cloud-init.h"
#include "core/daemon.h"
#include "metering/metering.h"
#include "saved-state/saved-state.h"

int vmms_vm_dir(const struct vmms_vm *vm, const char *file, char *buf, size_t len) {
        int n = file ? snprintf(buf, len, "%s/vms/%s/%s", vm->d->opt.runtime_dir, vm->id, file)
                     : snprintf(buf, len, "%s/vms/%s", vm->d->opt.runtime_dir, vm->id);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vmms_record_path(const struct vmms_vm *vm, char *buf, size_t len) {
        return vmms_vm_dir(vm, "worker.json", buf, len);
}

int vmms_console_log_path(const struct vmms_vm *vm, char *buf, size_t len) {
        int n = vm->config->serial_log[0] ? snprintf(buf, len, "%s", vm->config->serial_log)
                                          : snprintf(buf, len, "%s/%s.console.log", vm->d->opt.log_dir, vm->id);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vmms_worker_log_path(const struct vmms_vm *vm, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s.worker.log", vm->d->opt.log_dir, vm->id);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int config_path(struct vmms_daemon *d, const char *id, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s.json", d->opt.state_dir, id);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int state_path(struct vmms_daemon *d, const char *id, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s.state", d->opt.state_dir, id);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A Crashed VM's state, reason and status survive a vmms restart in
 * <state-dir>/<id>.state (written atomically), and so does a Saved VM's
 * BootStatus (a firmware VM's: {"state":"Saved","boot_status":"booted"};
 * the saved state itself is <id>.vmrs); any other state removes the file.
 * A worker that runs is found again through its runtime record, which
 * wins over this file. */
int vmms_store_save_state(struct vmms_vm *vm) {
        char path[PATH_MAX];
        int r = state_path(vm->d, vm->id, path, sizeof path);
        if (r < 0)
                return r;
        bool saved = vm->state == VMMS_STATE_SAVED && vm->boot_status[0];
        if (vm->state != VMMS_STATE_CRASHED && !saved)
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "state", json_object_new_string(vmms_state_to_string(vm->state)));
        if (saved) {
                json_object_object_add(o, "boot_status", json_object_new_string(vm->boot_status));
        } else {
                json_object_object_add(o, "exit_reason", json_object_new_string(vm->exit_reason));
                json_object_object_add(o, "exit_status", json_object_new_int(vm->exit_status));
        }
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = s ? write_file_atomic(path, s, strlen(s), 0600) : -ENOMEM;
        json_object_put(o);
        return r;
}

/* A Saved VM's BootStatus; the state itself is the saved state's
 * (vmms_saved_load, after this). */
static bool load_saved_boot_status(struct vmms_vm *vm, json_object *o) {
        json_object *st, *b;
        if (!json_object_object_get_ex(o, "state", &st) || !json_object_is_type(st, json_type_string) ||
            strcmp(json_object_get_string(st), "Saved") || !json_object_object_get_ex(o, "boot_status", &b) ||
            !json_object_is_type(b, json_type_string) || !vmms_boot_status_word(json_object_get_string(b)))
                return false;
        if (vm->config->boot_kind == VM_BOOT_FIRMWARE) /* a kernel VM has none, whatever the file says */
                snprintf(vm->boot_status, sizeof vm->boot_status, "%s", json_object_get_string(b));
        return true;
}

/* Restores what vmms_store_save_state() kept; a file that is not usable is
 * reported and the VM stays Off. */
static void load_state(struct vmms_vm *vm) {
        char path[PATH_MAX];
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (state_path(vm->d, vm->id, path, sizeof path) < 0 || read_file(path, 16384, &text, &len) < 0)
                return;
        json_object *o = json_tokener_parse(text), *st, *why, *code;
        if (json_object_is_type(o, json_type_object) && load_saved_boot_status(vm, o)) {
                json_object_put(o);
                return;
        }
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "state", &st) ||
            !json_object_is_type(st, json_type_string) || strcmp(json_object_get_string(st), "Crashed") ||
            !json_object_object_get_ex(o, "exit_reason", &why) || !json_object_is_type(why, json_type_string) ||
            !json_object_object_get_ex(o, "exit_status", &code) || !json_object_is_type(code, json_type_int))
                (void)vmms_daemon_add_problem(vm->d, "%s: not a VM state vmms wrote; ignored (the VM is Off)", path);
        else {
                vm->state = VMMS_STATE_CRASHED;
                snprintf(vm->exit_reason, sizeof vm->exit_reason, "%s", json_object_get_string(why));
                vm->exit_status = json_object_get_int(code);
        }
        json_object_put(o);
}

int vmms_store_save(struct vmms_vm *vm, const struct vm_config *c) {
        char path[PATH_MAX];
        int r = config_path(vm->d, vm->id, path, sizeof path);
        if (r < 0)
                return r;
        _cleanup_free_ char *json = vm_config_to_json(c);
        if (!json)
                return -ENOMEM;
        if ((r = write_file_atomic(path, json, strlen(json), 0600)) < 0)
                return r;
        /* The owner is metadata of vmms, kept where the file keeps it. */
        if (chown(path, vm->owner, (gid_t)-1) < 0)
                return -errno;
        return 0;
}

int vmms_store_remove(struct vmms_vm *vm) {
        char path[PATH_MAX];
        int r = config_path(vm->d, vm->id, path, sizeof path);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (state_path(vm->d, vm->id, path, sizeof path) >= 0)
                (void)unlink(path);
        for (int tmp = 0; tmp < 2; tmp++) /* the saved state goes with the VM */
                if (vmms_saved_path(vm, tmp, path, sizeof path) >= 0)
                        (void)unlink(path);
        vmms_seed_remove(vm); /* its cloud-init seed (core/cloud-init.c) */
        vmms_metering_remove(vm); /* its metering totals (metering/persist.c) */
        vmms_ckpt_remove_all(vm); /* its checkpoints' index and states; the images stay (docs/checkpoints.md) */
        _cleanup_close_ int dfd = open(vm->d->opt.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void)fsync(dfd);
        return 0;
}

/* "<guid>.json" in canonical (lowercase) form. */
static bool is_config_name(const char *name, struct guid *id) {
        char s[GUID_STRING_MAX], canon[GUID_STRING_MAX];
        size_t n = strlen(name);
        if (n != GUID_STRING_MAX - 1 + 5 || strcmp(name + GUID_STRING_MAX - 1, ".json"))
                return false;
        memcpy(s, name, GUID_STRING_MAX - 1);
        s[GUID_STRING_MAX - 1] = 0;
        return guid_from_string(s, id) == 0 && !strcmp(guid_to_string(id, canon), s);
}

static int load_one(struct vmms_daemon *d, int dfd, const char *name, const struct guid *id) {
        char path[PATH_MAX], err[256];
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct vm_config *c = malloc(sizeof *c);
        size_t len;
        struct stat st;
        if (!c)
                return -ENOMEM;
        snprintf(path, sizeof path, "%s/%s", d->opt.state_dir, name);
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return vmms_daemon_add_problem(d, "%s: not a regular file; skipped", path);
        int r = read_file(path, VM_CONFIG_MAX_BYTES, &text, &len);
        if (r < 0)
                return vmms_daemon_add_problem(d, "%s: cannot read (%s); skipped", path, strerror(-r));
        if (vm_config_parse(text, len, c, err, sizeof err) < 0)
                return vmms_daemon_add_problem(d, "%s: invalid configuration: %s; skipped", path, err);
        if (!guid_equal(&c->id, id))
                return vmms_daemon_add_problem(d, "%s: its id does not match the file name; skipped", path);
        struct vmms_vm *other = vmms_daemon_find_name(d, c->name);
        if (other)
                return vmms_daemon_add_problem(d, "%s: name \"%s\" is already used by VM %s; skipped", path,
                                               c->name, other->id);
        struct vmms_vm *vm = vmms_vm_new(d, c, st.st_uid);
        if (!vm)
                return -ENOMEM;
        load_state(vm);
        vmms_saved_load(vm);
        if (vm->state != VMMS_STATE_SAVED) /* a BootStatus kept for a saved state that is gone */
                vm->boot_status[0] = 0;
        (void)vmms_ckpt_load(vm);
        if ((r = vmms_daemon_add_vm(d, vm)) < 0) {
                vmms_vm_free(vm);
                return r;
        }
        return 0;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int vmms_store_load(struct vmms_daemon *d) {
        DIR *dir = opendir(d->opt.state_dir);
        char **names = NULL;
        size_t n = 0;
        int r = 0;
        if (!dir)
                return log_error_errno(-errno, "cannot open the state directory %s: %m", d->opt.state_dir);
        for (struct dirent *e; (e = readdir(dir));) {
                struct guid id;
                if (e->d_name[0] == '.' || !is_config_name(e->d_name, &id))
                        continue; /* temp files of an interrupted write, other files */
                char **nn = realloc(names, (n + 1) * sizeof *names);
                if (!nn || !(nn[n] = strdup(e->d_name))) {
                        names = nn ? nn : names;
                        r = -ENOMEM;
                        break;
                }
                names = nn;
                n++;
        }
        /* Sorted, so that which of two same-named VMs wins is deterministic. */
        if (r == 0 && n)
                qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct guid id;
                is_config_name(names[i], &id);
                r = load_one(d, dirfd(dir), names[i], &id);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        closedir(dir);
        if (r < 0)
                return log_error_errno(r, "loading configurations from %s failed: %m", d->opt.state_dir);
        log_info("loaded %zu VM configuration(s) from %s", d->n_vms, d->opt.state_dir);
        return 0;
}
