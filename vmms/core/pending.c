// SPDX-License-Identifier: MIT
/* The VM's one pending operation (core/pending.h). */
#include <stddef.h>

#include "core/pending.h"

void vmms_pending_begin(struct vmms_pending *p, enum vmms_pending_kind kind, sd_bus_message *call) {
        sd_bus_message_unref(p->call);
        p->kind = kind;
        p->call = call ? sd_bus_message_ref(call) : NULL;
}

sd_bus_message *vmms_pending_end(struct vmms_pending *p, enum vmms_pending_kind kind) {
        if (p->kind != kind)
                return NULL;
        sd_bus_message *call = p->call;
        *p = (struct vmms_pending){ VMMS_PENDING_NONE, NULL };
        return call;
}

void vmms_pending_drop(struct vmms_pending *p) {
        p->call = sd_bus_message_unref(p->call);
        p->kind = VMMS_PENDING_NONE;
}
