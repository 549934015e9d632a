// SPDX-License-Identifier: MIT
/* The hot-plug control ops on the main thread (docs/vmwp.md "Disks and
 * NICs of a running VM"): the request checked against the configuration
 * (vmwp_control_parse_hotplug, pure), the VM's state checked, the op run
 * (vm-storage-hotplug.c, vm-net.c), one reply. Every fd that came with
 * the request is taken: by the op, or closed here. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "vm-emu.h"
#include "vm-internal.h"
#include "vmwp/control.h"

/* {"id":n,"ok":...} as run.c's op_reply, with the op's fields added by it. */
static struct json_object *reply(struct json_object *req, int r, const char *err, struct json_object *fields) {
        struct json_object *id = NULL, *rep = json_object_new_object();
        if (!rep) {
                json_object_put(fields);
                return NULL;
        }
        if (json_object_object_get_ex(req, "id", &id) && json_object_is_type(id, json_type_int))
                json_object_object_add(rep, "id", json_object_get(id));
        json_object_object_add(rep, "ok", json_object_new_boolean(r >= 0));
        if (r < 0) {
                json_object_object_add(rep, "errno", json_object_new_int(-r));
                json_object_object_add(rep, "error", json_object_new_string(err));
        } else if (fields) {
                json_object_object_foreach(fields, key, val) json_object_object_add(rep, key, json_object_get(val));
        }
        json_object_put(fields);
        return rep;
}

/* Paused means quiesced (a pause, a save, a migration's end or a merge's
 * last step): nothing of a device may move then, and the guest could
 * not answer a hot plug; vmms resumes first or does it while the VM is
 * off. */
static int check_state(struct vmwp_vm *vm, char *err, size_t errlen) {
        if (!vm->vmbus)
                return errorf(err, errlen, -EOPNOTSUPP, "the VM has no VMBus");
        if (vmwp_vm_is_paused(vm))
                return errorf(err, errlen, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        return 0;
}

static int run_op(struct vmwp_vm *vm, const struct vmwp_hotplug *h, const int *fds, struct json_object *fields,
                  char *err, size_t errlen) {
        switch (h->op) {
        case VMWP_DISK_ATTACH:
                return vmwp_vm_disk_attach(vm, h, fds, fields, err, errlen);
        case VMWP_DISK_DETACH:
                return vmwp_vm_disk_detach(vm, h, fields, err, errlen);
        case VMWP_DISK_RESIZE:
                return vmwp_vm_disk_resize(vm, h, fields, err, errlen);
        case VMWP_NIC_ATTACH:
                return vmwp_vm_nic_attach(vm, h, fds, fields, err, errlen);
        case VMWP_NIC_DETACH:
                return vmwp_vm_nic_detach(vm, h, fields, err, errlen);
        case VMWP_HOTPLUG_NONE:
                break;
        }
        return errorf(err, errlen, -EOPNOTSUPP, "unknown op");
}

struct json_object *vmwp_run_hotplug(struct vmwp_vm *vm, struct json_object *req, int *fds, size_t n_fds) {
        char err[1024] = "";
        struct vmwp_hotplug *h = calloc(1, sizeof *h); /* two configuration entries: off the stack */
        struct json_object *fields = json_object_new_object();
        int r = h && fields ? vmwp_control_parse_hotplug(&vm->cfg, req, n_fds, h, err, sizeof err) : -ENOMEM;
        if (r == 0)
                r = check_state(vm, err, sizeof err);
        if (r < 0) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
        } else {
                r = run_op(vm, h, fds, fields, err, sizeof err); /* takes the fds */
        }
        enum vmwp_hotplug_op op = vmwp_control_hotplug_op(req);
        if (r < 0)
                fprintf(stderr, "vmwp: %s: %s: %s\n", vm->cfg.name, vmwp_hotplug_op_name(op),
                        err[0] ? err : strerror(-r));
        free(h);
        return reply(req, r, err[0] ? err : strerror(-r), fields);
}

/* dvd-insert / dvd-eject (common/proto.h): the drive's disc changes on the
 * emulated devices' service thread; the worker's configuration follows
 * ("path", set or cleared). */
struct json_object *vmwp_run_dvd(struct vmwp_vm *vm, struct json_object *req, int fd) {
        char err[1024] = "", path[VM_PATH_MAX];
        uint32_t drive = 0;
        bool insert = false;
        int r = vmwp_control_parse_dvd(&vm->cfg, req, fd >= 0, &drive, &insert, path, err, sizeof err);
        if (r == 0 && vmwp_vm_is_paused(vm))
                r = errorf(err, sizeof err, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        if (r < 0)
                safe_close(fd);
        else
                r = vmwp_vm_dvd_change(vm, drive, insert ? fd : -1, err, sizeof err); /* takes fd */
        struct json_object *fields = json_object_new_object();
        if (r >= 0) {
                if (!insert || path[0]) /* an insert without "path" keeps the old one */
                        snprintf(vm->cfg.dvds[drive].path, sizeof vm->cfg.dvds[drive].path, "%s", path);
                if (fields)
                        json_object_object_add(fields, "drive", json_object_new_int64(drive));
        } else {
                fprintf(stderr, "vmwp: %s: %s: %s\n", vm->cfg.name, insert ? "dvd-insert" : "dvd-eject",
                        err[0] ? err : strerror(-r));
        }
        return reply(req, r, err[0] ? err : strerror(-r), fields);
}
