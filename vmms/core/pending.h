/* SPDX-License-Identifier: MIT */
/* The VM's one pending operation (vm->op): a long request of a D-Bus
 * caller's that its worker, or its guest, answers later, as systemd's
 * machined keeps one Operation per forked child (src/machine/operation.h):
 * what kind it is and the call to answer at its end. It replaces a call
 * field per kind; the kinds held here exclude one another (a Save waits for
 * no file copy, a copy needs a Running VM), so one slot holds them, and
 * begin() in vm-dbus.c refuses what the operation in it excludes. Its
 * timer is its worker request's (vmms_worker_request_fds_timeout), its
 * cancel a method of the kind's (CancelFileCopy); its progress stays the
 * feature's (SaveProgress outlives the save). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

struct vmms_vm;

enum vmms_pending_kind {
        VMMS_PENDING_NONE,
        VMMS_PENDING_SAVE,  /* Save (saved-state/save.c); call NULL for a save of vmms's own */
        VMMS_PENDING_FCOPY, /* CopyFile (guest/fcopy.c) */
};

struct vmms_pending {
        enum vmms_pending_kind kind;
        sd_bus_message *call; /* answered at the end; NULL: none */
};

static inline bool vmms_pending_is(const struct vmms_pending *p, enum vmms_pending_kind kind) {
        return p->kind == kind;
}

/* The slot takes kind and a reference to call (NULL: none). */
void vmms_pending_begin(struct vmms_pending *p, enum vmms_pending_kind kind, sd_bus_message *call);
/* The operation of that kind ends: its call, for the caller to answer and
 * unref (NULL: none, or another kind is pending, which stays). */
sd_bus_message *vmms_pending_end(struct vmms_pending *p, enum vmms_pending_kind kind);
/* The VM goes (vmms exits): the call is dropped unanswered, and fails
 * with the bus. */
void vmms_pending_drop(struct vmms_pending *p);
