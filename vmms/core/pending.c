// SPDX-License-Identifier: MIT
/* The VM's pending operations (core/pending.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "core/daemon.h"
#include "core/pending.h"
#include "vmms/names.h"

#define A(x) (UINT64_C(1) << (x))
_Static_assert(VMMS_ASK_MAX <= 64, "the asks are bits of a uint64_t");

/* The requests that change a running VM's devices (hotplug/). */
#define HOTPLUG_ASKS                                                                                                  \
        (A(VMMS_OP_ATTACH_DISK) | A(VMMS_OP_DETACH_DISK) | A(VMMS_OP_RESIZE_DISK) | A(VMMS_OP_ATTACH_NIC) |         \
         A(VMMS_OP_DETACH_NIC) | A(VMMS_OP_INSERT_DVD) | A(VMMS_OP_EJECT_DVD) | A(VMMS_OP_SET_DISK_QOS) |            \
         A(VMMS_OP_SET_NIC_QOS) | A(VMMS_OP_SET_NIC_MIN_WEIGHT))
#define ALL_ASKS (A(VMMS_ASK_MAX) - 1)

/* Of each kind: what it refuses while in progress, which of those are its
 * own kind asked again, and what the refusal names. The order is the
 * order asked in: the first kind that refuses is the one named. */
static const struct {
        uint64_t refuses;
        uint64_t own;
        const char *what;  /* "<what> is in progress" */
        const char *again; /* the same, asked again of its own kind */
} kinds[VMMS_PENDING_KINDS] = {
        /* It moves the VM's disks and state and installs the
         * configuration it began from: only Kill and the console cut in
         * (an Update meanwhile would be undone by it). */
        [VMMS_PENDING_CHECKPOINT] = { ALL_ASKS & ~(A(VMMS_OP_KILL) | A(VMMS_OP_CONSOLE)), A(VMMS_ASK_CHECKPOINT),
                                      "a checkpoint operation", "a checkpoint operation" },
        [VMMS_PENDING_IMPORT] = { ALL_ASKS & ~(A(VMMS_OP_KILL) | A(VMMS_OP_CONSOLE)), A(VMMS_ASK_CHECKPOINT),
                                  "an import of a saved state", "an import of a saved state" },
        /* The VM is Saving: the state table refuses what it must. */
        [VMMS_PENDING_SAVE] = { 0, 0, "a save", "a save" },
        /* Its source is open in the worker and its guest side is
         * mid-transfer: it goes with no saved state and no checkpoint. */
        [VMMS_PENDING_FCOPY] = { A(VMMS_OP_SAVE) | A(VMMS_OP_MIGRATE) | A(VMMS_OP_COPY_FILE) | A(VMMS_ASK_CHECKPOINT),
                                 A(VMMS_OP_COPY_FILE), "a file copy into it", "a file copy into it" },
        /* Not answered yet: the configuration a save, a migration or a
         * checkpoint carries would miss it, and the indices the next change
         * names are those of the configuration it was checked against. */
        [VMMS_PENDING_HOTPLUG] = { A(VMMS_OP_SAVE) | A(VMMS_OP_MIGRATE) | A(VMMS_ASK_CHECKPOINT) | HOTPLUG_ASKS,
                                   HOTPLUG_ASKS, "a change of its disks or NICs",
                                   "another change of its disks or NICs" },
        /* The worker applies it before it is stored: the next Update
         * would be checked against a configuration about to change. */
        [VMMS_PENDING_PROCESSOR] = { A(VMMS_ASK_UPDATE), A(VMMS_ASK_UPDATE), "a change of its processor settings",
                                     "an earlier change of its processor settings" },
};

void vmms_pending_begin(struct vmms_pending *p, enum vmms_pending_kind kind, sd_bus_message *call, void *data) {
        struct vmms_pending_op *o = &p->ops[kind];
        sd_bus_message_unref(o->call);
        *o = (struct vmms_pending_op){ true, call ? sd_bus_message_ref(call) : NULL, data };
}

sd_bus_message *vmms_pending_end(struct vmms_pending *p, enum vmms_pending_kind kind) {
        struct vmms_pending_op *o = &p->ops[kind];
        if (!o->on)
                return NULL;
        sd_bus_message *call = o->call;
        *o = (struct vmms_pending_op){ 0 };
        return call;
}

void vmms_pending_drop(struct vmms_pending *p) {
        for (unsigned k = 0; k < VMMS_PENDING_KINDS; k++) {
                sd_bus_message_unref(p->ops[k].call);
                p->ops[k] = (struct vmms_pending_op){ 0 };
        }
}

int vmms_pending_refusal(const struct vmms_pending *p, unsigned ask, char *msg, size_t len) {
        if (ask >= VMMS_ASK_MAX)
                return 0;
        for (unsigned k = 0; k < VMMS_PENDING_KINDS; k++)
                if (p->ops[k].on && (kinds[k].refuses & A(ask))) {
                        snprintf(msg, len, "%s is in progress",
                                 kinds[k].own & A(ask) ? kinds[k].again : kinds[k].what);
                        return -EBUSY;
                }
        return 0;
}

int vmms_pending_check(const struct vmms_vm *vm, unsigned ask, sd_bus_error *e) {
        char msg[120];
        if (vmms_pending_refusal(&vm->op, ask, msg, sizeof msg) == 0)
                return 0;
        return sd_bus_error_setf(e, VMMS_ERROR_BUSY, "VM '%s': %s; try again when it is done", vm->config->name, msg);
}
