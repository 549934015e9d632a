// SPDX-License-Identifier: MIT
/* The guest services as one vmms feature (core/feature.h): the worker
 * events of KVP (kvp.c), file copy (fcopy.c) and hv_sock (hvsock.c), and
 * a copy in progress failed when the worker ends. The serial console
 * (console.c) has no events: it is a socket of the worker's. */
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/feature.h"
#include "guest/guest.h"

static const struct vmms_worker_event guest_events[] = {
        { "fcopy", NULL, vmms_fcopy_on_event },
        { "fcopy-progress", NULL, vmms_fcopy_on_event },
        { "hvsock-connect", NULL, vmms_hvsock_on_event },
        { "kvp", NULL, vmms_kvp_on_event },
        {},
};

static int guest_vm_new(struct vmms_vm *vm) {
        vm->guest = calloc(1, sizeof *vm->guest);
        if (!vm->guest)
                return -ENOMEM;
        snprintf(vm->guest->hb_status, sizeof vm->guest->hb_status, "unknown");
        return 0;
}

static void guest_vm_free(struct vmms_vm *vm) {
        if (!vm->guest)
                return;
        json_object_put(vm->guest->kvp_guest);
        json_object_put(vm->guest->kvp_host);
        free(vm->guest);
        vm->guest = NULL;
}

const struct vmms_feature vmms_feature_guest = {
        .name = "guest",
        .events = guest_events,
        .worker_ended = vmms_fcopy_worker_ended,
        .vm_new = guest_vm_new,
        .vm_free = guest_vm_free,
};
