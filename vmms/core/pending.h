/* SPDX-License-Identifier: MIT */
/* The VM's pending operations (vm->op): the long requests of D-Bus
 * callers that its worker, its guest or a thread of vmms's answers later,
 * as systemd's machined keeps one Operation per forked child
 * (src/machine/operation.h): of each kind, whether one is in progress,
 * the call to answer at its end and the feature's own state of it. One
 * object instead of a field per kind: which kind refuses which request
 * while it is in progress, and how the refusal reads, is one table
 * (pending.c), and every request asks it (vmms_pending_check) before it
 * begins. Its timer is its worker request's, its cancel a method of the
 * kind's (CancelFileCopy); its progress stays the feature's (SaveProgress
 * outlives the save). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <vmms/lifecycle.h>

struct vmms_vm;

enum vmms_pending_kind {
        VMMS_PENDING_CHECKPOINT, /* Take, Apply, Delete... (checkpoint/): struct vmms_ckpt_op */
        VMMS_PENDING_IMPORT,     /* ImportSavedState (saved-state/transfer.c): struct vmms_ckpt_op */
        VMMS_PENDING_SAVE,       /* Save (saved-state/save.c); call NULL for a save of vmms's own */
        VMMS_PENDING_FCOPY,      /* CopyFile (guest/fcopy.c) */
        VMMS_PENDING_HOTPLUG,    /* a disk, NIC or DVD change (hotplug/): struct vmms_hotplug */
        VMMS_PENDING_PROCESSOR,  /* an Update the worker applies first (processor/): struct vm_config */
        VMMS_PENDING_KINDS,
};

/* What a caller asks, for vmms_pending_check: one of lifecycle.h's
 * operations, or one of these, which have no row in its state table. */
enum vmms_pending_ask {
        VMMS_ASK_CHECKPOINT = VMMS_OP_MAX, /* a checkpoint operation, or an import (vmms_ckpt_check_ready) */
        VMMS_ASK_UPDATE,                   /* Update: a new configuration */
        VMMS_ASK_MAX,
};

struct vmms_pending {
        struct vmms_pending_op {
                bool on;
                sd_bus_message *call; /* answered at the end; NULL: none, or its worker request holds it */
                void *data;           /* the kind's state, its feature's to free; NULL: none */
        } ops[VMMS_PENDING_KINDS];
};

static inline bool vmms_pending_is(const struct vmms_pending *p, enum vmms_pending_kind kind) {
        return p->ops[kind].on;
}

/* The state of the operation of that kind in progress; NULL: none. */
static inline void *vmms_pending_data(const struct vmms_pending *p, enum vmms_pending_kind kind) {
        return p->ops[kind].on ? p->ops[kind].data : NULL;
}

/* An operation of that kind begins: the slot takes a reference to call
 * (NULL: none) and data (its feature's). vmms_pending_check said it may. */
void vmms_pending_begin(struct vmms_pending *p, enum vmms_pending_kind kind, sd_bus_message *call, void *data);
/* The operation of that kind ends: its call, for the caller to answer and
 * unref (NULL: none, or none of that kind was in progress). Its data is
 * the feature's to free. */
sd_bus_message *vmms_pending_end(struct vmms_pending *p, enum vmms_pending_kind kind);
/* vmms_pending_end that hands back the kind's data too (NULL: none in
 * progress); *call gets the call (NULL: unref'd here). */
static inline void *vmms_pending_take(struct vmms_pending *p, enum vmms_pending_kind kind, sd_bus_message **call) {
        void *data = vmms_pending_data(p, kind);
        sd_bus_message *c = vmms_pending_end(p, kind);
        if (call)
                *call = c;
        else
                sd_bus_message_unref(c);
        return data;
}
/* The VM goes (vmms exits): the calls are dropped unanswered, and fail
 * with the bus; the features freed their data first. */
void vmms_pending_drop(struct vmms_pending *p);

/* 0 when no operation in progress refuses ask (an enum vmms_op, or an
 * enum vmms_pending_ask); else a negative errno with org.vmstack.Error.Busy in e,
 * naming what is in progress ("VM 'web': a checkpoint operation is in
 * progress; try again when it is done"). */
int vmms_pending_check(const struct vmms_vm *vm, unsigned ask, sd_bus_error *e);
/* The same refusal as a phrase ("a file copy into it is in progress"),
 * for a caller that words its own error; 0 when none. */
int vmms_pending_refusal(const struct vmms_pending *p, unsigned ask, char *msg, size_t len);
