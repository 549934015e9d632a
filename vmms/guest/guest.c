// SPDX-License-Identifier: MIT
/* The guest services as one vmms feature (core/feature.h): the worker
 * events of KVP (kvp.c), file copy (fcopy.c) and hv_sock (hvsock.c), and
 * a copy in progress failed when the worker ends. The serial console
 * (console.c) has no events: it is a socket of the worker's. */
#include <stddef.h>

#include "core/feature.h"
#include "guest/guest.h"

static const struct vmms_worker_event guest_events[] = {
        { "fcopy", NULL, vmms_fcopy_on_event },
        { "fcopy-progress", NULL, vmms_fcopy_on_event },
        { "hvsock-connect", NULL, vmms_hvsock_on_event },
        { "kvp", NULL, vmms_kvp_on_event },
        {},
};

const struct vmms_feature vmms_feature_guest = {
        .name = "guest",
        .events = guest_events,
        .worker_ended = vmms_fcopy_worker_ended,
};
