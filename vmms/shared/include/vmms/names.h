/* SPDX-License-Identifier: MIT */
/* The names vmms publishes on D-Bus (docs/dbus-api.md) and the pure helpers
 * that map VM ids to object paths and parse "name or id" arguments. Shared by
 * vmms, vmctl, the tests and the fuzzers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/guid.h"

#define VMMS_BUS_NAME "org.vmstack.VMMS1"
#define VMMS_MANAGER_PATH "/org/vmstack/VMMS1"
#define VMMS_VM_PATH_PREFIX "/org/vmstack/VMMS1/vm"
#define VMMS_MANAGER_IFACE "org.vmstack.VMMS1.Manager"
#define VMMS_VM_IFACE "org.vmstack.VMMS1.VM"
#define VMMS_CHECKPOINTS_IFACE "org.vmstack.VMMS1.Checkpoints" /* on each VM's object */
#define VMMS_MEMORY_IFACE "org.vmstack.VMMS1.Memory"           /* on each VM's object */
#define VMMS_METERING_IFACE "org.vmstack.VMMS1.Metering"       /* on each VM's object */
#define VMMS_DISPLAY_IFACE "org.vmstack.VMMS1.Display"         /* on each VM's object */

#define VMMS_ERROR_NO_SUCH_VM "org.vmstack.Error.NoSuchVM"
#define VMMS_ERROR_INVALID_CONFIG "org.vmstack.Error.InvalidConfig"
#define VMMS_ERROR_INVALID_ARGUMENT "org.vmstack.Error.InvalidArgument"
#define VMMS_ERROR_INVALID_STATE "org.vmstack.Error.InvalidState"
#define VMMS_ERROR_PERMISSION_DENIED "org.vmstack.Error.PermissionDenied"
#define VMMS_ERROR_LIMIT_EXCEEDED "org.vmstack.Error.LimitExceeded"
#define VMMS_ERROR_EXISTS "org.vmstack.Error.Exists"
#define VMMS_ERROR_BUSY "org.vmstack.Error.Busy"
#define VMMS_ERROR_FAILED "org.vmstack.Error.Failed"

#define VMMS_POLKIT_ACTION_MANAGE "org.vmstack.vmms.manage"
#define VMMS_POLKIT_ACTION_READ "org.vmstack.vmms.read"
#define VMMS_POLKIT_ACTION_MIGRATE "org.vmstack.vmms.migrate"

/* "/org/vmstack/VMMS1/vm/" + 36 + NUL */
#define VMMS_VM_PATH_MAX (sizeof(VMMS_VM_PATH_PREFIX) + GUID_STRING_MAX + 1)

/* /org/vmstack/VMMS1/vm/<id with '-' written as '_'> */
char *vmms_vm_path(const struct guid *id, char buf[static VMMS_VM_PATH_MAX]);
/* The inverse; -EINVAL for anything that is not exactly such a path. */
int vmms_vm_path_to_id(const char *path, struct guid *id);

enum vmms_vm_ref_kind {
        VMMS_VM_REF_ID,   /* a GUID; also tried as a name if no VM has that id */
        VMMS_VM_REF_NAME,
};
/* Validates a "name or id" argument (GetVM, vmctl). Returns the kind or
 * -EINVAL (empty, too long, characters a name cannot have). */
int vmms_vm_ref_parse(const char *s, struct guid *id);
/* A VM name must not look like an id, so that "name or id" is unambiguous. */
bool vmms_name_is_id_like(const char *name);
