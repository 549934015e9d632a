/* SPDX-License-Identifier: MIT */
/* A vmms feature as the VM's core sees it (docs/ARCHITECTURE.md "How to add
 * a vmms feature"): the worker events it handles, what it lets go of when
 * a worker ends, and its D-Bus interfaces. Each feature defines one const
 * struct vmms_feature in its own folder; core/features.c lists them in one
 * table, which vm.c (events), vm-exit.c (a worker's end) and daemon.c (the
 * bus) walk, so the core names no feature's hooks. Private to vmms/. */
#pragma once

#include <stdbool.h>

struct json_object;
struct vmms_daemon;
struct vmms_vm;

/* One event a worker sends ({"event": name, ...}, common/proto.h). */
struct vmms_worker_event {
        const char *name;
        /* A long request of the worker's this event shows alive (its
         * timeout starts again, vmms_worker_request_alive); NULL: none. */
        const char *alive_op;
        void (*handle)(struct vmms_vm *vm, struct json_object *ev);
};

struct vmms_feature {
        const char *name;
        /* The events it handles, ended by an entry whose name is NULL; NULL: none. */
        const struct vmms_worker_event *events;
        /* The VM's worker ended (its struct vmms_worker already freed),
         * before the core records the end and applies the restart policy:
         * what the feature held for that worker goes. NULL: nothing. */
        void (*worker_ended)(struct vmms_vm *vm);
        /* Adds its D-Bus interfaces (vtables) to the bus at start. NULL: none. */
        int (*bus_register)(struct vmms_daemon *d);
        /* The VM object is made (vmms_vm_new): the feature allocates its own
         * state, the VM's one pointer to it (-ENOMEM fails the VM). NULL: none. */
        int (*vm_new)(struct vmms_vm *vm);
        /* The VM object goes (vmms_vm_free, after the features' other frees):
         * the feature frees that state; it accepts one vm_new never made. */
        void (*vm_free)(struct vmms_vm *vm);
};

extern const struct vmms_feature vmms_feature_hotplug;
extern const struct vmms_feature vmms_feature_checkpoint;
extern const struct vmms_feature vmms_feature_dm;
extern const struct vmms_feature vmms_feature_video;
extern const struct vmms_feature vmms_feature_migration;
extern const struct vmms_feature vmms_feature_guest;
extern const struct vmms_feature vmms_feature_saved_state;
extern const struct vmms_feature vmms_feature_processor;
extern const struct vmms_feature vmms_feature_metering;

/* core/features.c: the table walked in its order. */
/* The worker event `name` to the feature that handles it: false when none does. */
bool vmms_features_on_event(struct vmms_vm *vm, const char *name, struct json_object *ev);
void vmms_features_worker_ended(struct vmms_vm *vm);
/* Every feature's vm_new in the table's order; on a failure the ones made go. */
int vmms_features_vm_new(struct vmms_vm *vm);
void vmms_features_vm_free(struct vmms_vm *vm);
int vmms_features_bus_register(struct vmms_daemon *d);
