// SPDX-License-Identifier: MIT
/* CopyFile(h source, s destination, a{sv} options): a host file into the
 * running guest through the file-copy integration service, Hyper-V's
 * Copy-VMFile (docs/integration-services.md "File copy"). The caller
 * opens the file (its own rights decide what it may copy); vmms reopens
 * it read-only for the worker, whose icvsp thread sends it to the guest's
 * hv_fcopy_daemon chunk by chunk. The call is answered when the guest has
 * the whole file ("fcopy" event), with the bytes copied. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "vmms/fcopy.h"
#include "worker/worker.h"
#include "guest/guest.h"

int vmms_fcopy_split_destination(const char *dest, char *dir, size_t dirlen, char *name, size_t namelen, char *err,
                             size_t errlen) {
        const char *slash = strrchr(dest, '/');
        if (dest[0] != '/' || !slash)
                return snprintf(err, errlen, "the destination must be an absolute path in the guest"), -EINVAL;
        const char *base = slash + 1;
        size_t dl = slash == dest ? 1 : (size_t)(slash - dest);
        if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
                return snprintf(err, errlen, "the destination must name a file, not a directory"), -EINVAL;
        if (dl + (dl > 1) > VMMS_FCOPY_NAME_MAX || strlen(base) > VMMS_FCOPY_NAME_MAX || dl >= dirlen ||
            strlen(base) >= namelen)
                return snprintf(err, errlen, "the destination's directory (with its '/') and file name are %u bytes "
                                             "at most each", VMMS_FCOPY_NAME_MAX), -EINVAL;
        memcpy(dir, dest, dl);
        dir[dl] = 0;
        snprintf(name, namelen, "%s", base);
        return 0;
}

static void reply_error(struct vmms_vm *vm, const char *name, const char *why) {
        sd_bus_message *call = vmms_pending_end(&vm->op, VMMS_PENDING_FCOPY);
        if (call)
                (void)sd_bus_reply_method_errorf(call, name, "cannot copy a file into VM '%s': %s", vm->config->name,
                                                 why);
        sd_bus_message_unref(call);
        vm->guest->fcopy_done = vm->guest->fcopy_total = 0;
}

static void start_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error >= 0 || !vmms_pending_is(&vm->op, VMMS_PENDING_FCOPY))
                return; /* started: the guest's answer comes as an event */
        const char *why = vmms_worker_reply_why(reply, error);
        reply_error(vm, error == -ENOTSUP ? VMMS_ERROR_INVALID_STATE : VMMS_ERROR_FAILED, why);
}

int vmms_fcopy_open_source(int fd, uint64_t *size) {
        char self[64];
        struct stat st;
        /* O_PATH opens without read permission: reopening one as root would
         * read what the caller may not. */
        int acc = fcntl(fd, F_GETFL);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || acc < 0 || (acc & O_PATH) ||
            (acc & O_ACCMODE) == O_WRONLY)
                return -EINVAL;
        /* The worker gets a read-only description of its own: never the
         * caller's, which may be writable. */
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        int ro = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (ro < 0)
                return -errno;
        *size = (uint64_t)st.st_size;
        return ro;
}

int vmms_fcopy_request(struct vmms_vm *vm, sd_bus_message *call, int fd, const char *dest, bool overwrite,
                       bool create_path, sd_bus_error *e) {
        char dir[1100], name[1100], err[200];
        uint64_t size;
        int r = vmms_fcopy_split_destination(dest, dir, sizeof dir, name, sizeof name, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "cannot copy a file into VM '%s': %s",
                                         vm->config->name, err);
        _cleanup_close_ int ro = vmms_fcopy_open_source(fd, &size);
        if (ro == -EINVAL)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "cannot copy a file into VM '%s': the source must be a regular file "
                                         "open for reading", vm->config->name);
        if (ro < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot copy a file into VM '%s': reopening the "
                                         "source: %s", vm->config->name, strerror(-ro));
        json_object *args = json_object_new_object();
        if (!args)
                return -ENOMEM;
        json_object_object_add(args, "dir", json_object_new_string(dir));
        json_object_object_add(args, "name", json_object_new_string(name));
        json_object_object_add(args, "size", json_object_new_int64((int64_t)size));
        json_object_object_add(args, "overwrite", json_object_new_boolean(overwrite));
        json_object_object_add(args, "create_path", json_object_new_boolean(create_path));
        vmms_pending_begin(&vm->op, VMMS_PENDING_FCOPY, call, NULL);
        vm->guest->fcopy_done = 0;
        vm->guest->fcopy_total = size;
        r = vmms_worker_request_fds(vm->worker, "fcopy", args, &ro, 1, start_reply, NULL);
        if (r < 0) {
                (void)sd_bus_message_unref(vmms_pending_end(&vm->op, VMMS_PENDING_FCOPY));
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot copy a file into VM '%s': the worker: %s",
                                         vm->config->name, strerror(-r));
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "copying %llu bytes to %s in the guest", (unsigned long long)size,
                    dest);
        return 1;
}

/* What the worker's "why" means for the caller. */
static const char *guest_why(const char *why) {
        static const struct {
                const char *why, *text;
        } texts[] = {
                { "exists", "the file exists in the guest (overwrite replaces it)" },
                { "full", "the guest's file system is full" },
                { "refused", "the guest refused it: its hv_fcopy_daemon is not running, or the directory does not "
                             "exist (create_path makes it)" },
                { "timeout", "the guest did not answer in time" },
                { "cancelled", "the copy was cancelled" },
                { "closed", "the guest closed its file-copy service" },
                { "read", "reading the source failed" },
        };
        for (size_t i = 0; why && i < ARRAY_SIZE(texts); i++)
                if (!strcmp(why, texts[i].why))
                        return texts[i].text;
        return "the copy failed";
}

void vmms_fcopy_on_event(struct vmms_vm *vm, json_object *ev) {
        json_object *v;
        const char *name = json_object_get_string(json_object_object_get_ex(ev, "event", &v) ? v : NULL);
        uint64_t bytes = json_object_object_get_ex(ev, "bytes", &v) ? (uint64_t)json_object_get_int64(v) : 0;
        if (!vmms_pending_is(&vm->op, VMMS_PENDING_FCOPY) || !name)
                return;
        if (!strcmp(name, "fcopy-progress")) {
                vm->guest->fcopy_done = bytes <= vm->guest->fcopy_total ? bytes : vm->guest->fcopy_total;
                return;
        }
        bool ok = json_object_object_get_ex(ev, "ok", &v) && json_object_get_boolean(v);
        uint32_t status = json_object_object_get_ex(ev, "status", &v) ? (uint32_t)json_object_get_int64(v) : 0;
        const char *w = json_object_object_get_ex(ev, "why", &v) ? json_object_get_string(v) : NULL;
        if (!ok || bytes != vm->guest->fcopy_total) {
                char why[300];
                snprintf(why, sizeof why, "%s (status 0x%08x, %llu of %llu bytes)", ok ? "the guest took a different size" : guest_why(w), status,
                         (unsigned long long)bytes, (unsigned long long)vm->guest->fcopy_total);
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "file copy failed: %s", why);
                return reply_error(vm, VMMS_ERROR_FAILED, why);
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "file copy done: %llu bytes", (unsigned long long)bytes);
        sd_bus_message *call = vmms_pending_end(&vm->op, VMMS_PENDING_FCOPY);
        (void)sd_bus_reply_method_return(call, "t", bytes);
        sd_bus_message_unref(call);
        vm->guest->fcopy_done = vm->guest->fcopy_total = 0;
}

static void cancel_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (!call)
                return;
        if (error < 0) {
                const char *why = vmms_worker_reply_why(reply, error);
                (void)sd_bus_reply_method_errorf(call, error == -ENOENT || error == -EALREADY
                                                               ? VMMS_ERROR_INVALID_STATE
                                                               : VMMS_ERROR_FAILED,
                                                 "cannot cancel the file copy into VM '%s': %s", vm->config->name,
                                                 why);
                return;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "file copy cancelled");
        (void)sd_bus_reply_method_return(call, NULL);
}

int vmms_fcopy_cancel(struct vmms_vm *vm, sd_bus_message *call, sd_bus_error *e) {
        if (!vmms_pending_is(&vm->op, VMMS_PENDING_FCOPY))
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s': no file copy is in progress",
                                         vm->config->name);
        int r = vmms_worker_request(vm->worker, "fcopy-cancel", NULL, cancel_reply, call);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot cancel the file copy into VM '%s': the "
                                         "worker: %s", vm->config->name, strerror(-r));
        return 1;
}

void vmms_fcopy_worker_ended(struct vmms_vm *vm) {
        if (vmms_pending_is(&vm->op, VMMS_PENDING_FCOPY))
                reply_error(vm, VMMS_ERROR_FAILED, "the worker ended during the copy");
}
