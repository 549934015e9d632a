/* SPDX-License-Identifier: MIT */
/* Events to vmms (common/proto.h's PROTO_EVENTS) from the device modules
 * whose state they report: each module formats its own event and queues
 * it through this one helper; the main loop (run.c) owns the connection.
 *
 * The guest's services record what happened on their threads (struct
 * vmwp_guest_events, vm-ic.c) and wake the main loop, which calls each
 * module's emitter with what it took. The kinds a guest can change at will
 * (display, memory, heartbeat) go through vmwp/gev.h: at most one per
 * VMWP_GUEST_EVENT_INTERVAL_US each, built by their module from the state
 * as it is when one goes.
 *
 * All on the main loop's thread. */
#pragma once

#include <stdbool.h>

#include "vm-internal.h"
#include "vmwp/gev.h"

struct devworker;
struct json_object;

struct vmwp_emit {
        struct vmwp_vm *vm;
        /* Sends ev to vmms and puts it (NULL: out of memory, nothing sent). */
        void (*send)(void *opaque, struct json_object *ev);
        /* Whether vmms is there to answer (a worker run from a config file has none). */
        bool (*connected)(void *opaque);
        void *opaque;
        struct vmwp_gev gev; /* the rate-bounded kinds, vm->guest_rates */
};

/* The rate-bounded kinds' timer on loop. */
int vmwp_emit_attach(struct vmwp_emit *e, struct devworker *loop);
/* disk-qos.c: the Storage QoS minimum's sample every second, its
 * "disk-qos" events on loop. */
int vmwp_disk_qos_attach(struct vmwp_emit *e, struct devworker *loop);
/* A module's event, sent now (taken). */
void vmwp_emit(struct vmwp_emit *e, struct json_object *ev);
/* A rate-bounded kind's state changed: its module's event goes now or
 * when the interval ends. */
void vmwp_emit_changed(struct vmwp_emit *e, enum vmwp_gev_kind kind);
bool vmwp_emit_connected(const struct vmwp_emit *e);
/* The guest event fd was readable: every module emits what it has. */
void vmwp_emit_guest_events(struct vmwp_emit *e);

/* Each module's emitter, with what vmwp_vm_take_guest_events() took. */
void vmwp_ic_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e);
void vmwp_hvsock_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e);
void vmwp_display_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e);
void vmwp_dm_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e);
void vmwp_firmware_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e);
/* The rate-bounded kinds' events, from the state now (NULL: none). */
struct json_object *vmwp_ic_heartbeat_event(struct vmwp_vm *vm);
struct json_object *vmwp_display_event(struct vmwp_vm *vm);
struct json_object *vmwp_dm_event(struct vmwp_vm *vm);
/* The "status" reply's "heartbeat" and "last_beat_us". */
void vmwp_ic_add_heartbeat(struct vmwp_vm *vm, struct json_object *into);
/* A firmware VM's "boot_status" in the "status" reply (nothing for the
 * other boot kinds). */
void vmwp_firmware_add_status(struct vmwp_vm *vm, struct json_object *into);
