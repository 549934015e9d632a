// SPDX-License-Identifier: MIT
/* Events to vmms from the device modules (vmwp/emit.h). */
#include "common/macro.h"
#include "emit.h"

/* The modules that report the guest's events, in the order theirs go. */
static void (*const emitters[])(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e) = {
        vmwp_ic_emit, vmwp_hvsock_emit, vmwp_display_emit, vmwp_dm_emit, vmwp_firmware_emit,
};

/* The rate-bounded kinds' events, each built by its module. */
static struct json_object *(*const held[VMWP_GEV_N])(struct vmwp_vm *vm) = {
        [VMWP_GEV_DISPLAY] = vmwp_display_event,
        [VMWP_GEV_MEMORY] = vmwp_dm_event,
        [VMWP_GEV_HEARTBEAT] = vmwp_ic_heartbeat_event,
};

static void send_held(void *opaque, size_t kind) {
        struct vmwp_emit *e = opaque;
        vmwp_emit(e, held[kind](e->vm));
}

int vmwp_emit_attach(struct vmwp_emit *e, struct devworker *loop) {
        e->gev = (struct vmwp_gev){ .rates = e->vm->guest_rates, .n = VMWP_GEV_N, .send = send_held, .opaque = e };
        return vmwp_gev_attach(&e->gev, loop);
}

void vmwp_emit(struct vmwp_emit *e, struct json_object *ev) {
        e->send(e->opaque, ev);
}

void vmwp_emit_changed(struct vmwp_emit *e, enum vmwp_gev_kind kind) {
        vmwp_gev_changed(&e->gev, kind);
}

bool vmwp_emit_connected(const struct vmwp_emit *e) {
        return e->connected(e->opaque);
}

void vmwp_emit_guest_events(struct vmwp_emit *e) {
        struct vmwp_guest_events g;
        vmwp_vm_take_guest_events(e->vm, &g);
        for (size_t i = 0; i < ARRAY_SIZE(emitters); i++)
                emitters[i](e->vm, &g, e);
}
