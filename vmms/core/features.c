// SPDX-License-Identifier: MIT
/* The table of vmms's features (core/feature.h) and its walks. The order
 * is the order of their hooks: the D-Bus interfaces are registered in it
 * (introspection lists them so: Checkpoints, Memory, Display after the
 * VM's own interface) and a worker's end is handed to them in it. */
#include <stddef.h>
#include <string.h>

#include "common/macro.h"
#include "core/feature.h"
#include "worker/worker.h"

static const struct vmms_feature *const features[] = {
        &vmms_feature_hotplug,   /* a change the worker did not answer: the configuration stays */
        &vmms_feature_checkpoint,
        &vmms_feature_dm,
        &vmms_feature_video,
        &vmms_feature_migration, /* the image locks went with the worker */
        &vmms_feature_guest,     /* a file copy in progress failed */
        &vmms_feature_saved_state,
        &vmms_feature_processor, /* an Update the worker did not answer: the configuration stays */
        &vmms_feature_metering,
};

bool vmms_features_on_event(struct vmms_vm *vm, const char *name, struct json_object *ev) {
        for (size_t i = 0; i < ARRAY_SIZE(features); i++)
                for (const struct vmms_worker_event *e = features[i]->events; e && e->name; e++)
                        if (!strcmp(e->name, name)) {
                                if (e->alive_op)
                                        vmms_worker_request_alive(vm->worker, e->alive_op);
                                e->handle(vm, ev);
                                return true;
                        }
        return false;
}

void vmms_features_worker_ended(struct vmms_vm *vm) {
        for (size_t i = 0; i < ARRAY_SIZE(features); i++)
                if (features[i]->worker_ended)
                        features[i]->worker_ended(vm);
}

int vmms_features_vm_new(struct vmms_vm *vm) {
        for (size_t i = 0; i < ARRAY_SIZE(features); i++)
                if (features[i]->vm_new) {
                        int r = features[i]->vm_new(vm);
                        if (r < 0) {
                                vmms_features_vm_free(vm);
                                return r;
                        }
                }
        return 0;
}

void vmms_features_vm_free(struct vmms_vm *vm) {
        for (size_t i = 0; i < ARRAY_SIZE(features); i++)
                if (features[i]->vm_free)
                        features[i]->vm_free(vm);
}

int vmms_features_bus_register(struct vmms_daemon *d) {
        for (size_t i = 0; i < ARRAY_SIZE(features); i++)
                if (features[i]->bus_register) {
                        int r = features[i]->bus_register(d);
                        if (r < 0)
                                return r;
                }
        return 0;
}
