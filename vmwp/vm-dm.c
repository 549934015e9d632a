// SPDX-License-Identifier: MIT
/* Dynamic Memory in the worker (vsp/dm, docs/dynamic-memory.md): the
 * device on the VMBus server, fed with the partition's RAM layout (the
 * boot regions and the hot-add window vid maps from the start), told its
 * target by vmms ("memory" op), its changes announced to the main loop as
 * "memory" events. Pages the guest balloons out are punched out of guest
 * RAM (vid_ram_discard): the worker's memory shrinks. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "dmvsp/dmvsp.h"
#include "hvshim/hvshim.h"
#include "vid/vid.h"
#include "emit.h"
#include "vm-internal.h"
#include "vmwp/sandbox-providers.h"
#include "vmwp/sandbox.h"

/* dm thread, its lock held. A page that cannot be punched stays the
 * host's memory: counted, nothing else. */
static void dm_release(void *opaque, uint64_t pfn, uint64_t pages) {
        struct vmwp_vm *vm = opaque;
        if (vid_ram_discard(vm->p, pfn << VID_PAGE_SHIFT, pages << VID_PAGE_SHIFT) < 0)
                atomic_fetch_add_explicit(&vm->dm_discard_failures, 1, memory_order_relaxed);
}

/* The window is guest RAM from the start (vid maps it, no memory map
 * names it): adding part of it asks nothing of the host but a check. */
static int dm_hot_add(void *opaque, uint64_t pfn, uint64_t pages) {
        struct vmwp_vm *vm = opaque;
        struct vid_ram_region w;
        if (vid_ram_window(vm->p, &w) < 0)
                return -ENOTSUP;
        uint64_t first = w.gpa >> VID_PAGE_SHIFT, n = w.size >> VID_PAGE_SHIFT;
        return pfn >= first && pages <= n && pfn - first <= n - pages ? 0 : -ERANGE;
}

static void dm_changed(void *opaque) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.memory_changed = true;
        pthread_mutex_unlock(&vm->guest_lock);
        (void)!write(vm->guest_event_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

/* dm thread, its lock held: hvshim's locks are leaves. */
static size_t dm_overlays(void *opaque, uint64_t *pfns, size_t max) {
        struct vmwp_vm *vm = opaque;
        return vm->hv ? hvshim_overlay_pages(vm->hv, pfns, max) : 0;
}

static const struct dmvsp_owner_ops dm_owner_ops = { .release = dm_release, .hot_add = dm_hot_add,
                                                     .changed = dm_changed, .overlays = dm_overlays };

int vmwp_vm_add_dm(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        if (!vm->cfg.dm.enabled)
                return 0;
        struct vid_ram_region boot[2], w;
        struct dmvsp_config c = { .min_pages = (uint64_t)vm_dm_minimum_mib(&vm->cfg) << (20 - VID_PAGE_SHIFT) };
        c.n_boot = vid_ram_regions(vm->p, boot);
        for (size_t i = 0; i < c.n_boot; i++)
                c.boot[i] = (struct dmvsp_region){ boot[i].gpa >> VID_PAGE_SHIFT, boot[i].size >> VID_PAGE_SHIFT };
        if (vid_ram_window(vm->p, &w) == 0) {
                c.hot_add_pfn = w.gpa >> VID_PAGE_SHIFT;
                c.hot_add_pages = w.size >> VID_PAGE_SHIFT;
        }
        int r;
        if (vm->sandbox && (r = sandbox_register_policy(vm->sandbox, &sandbox_dm_policy)) < 0)
                return errorf(err, errlen, r, "sandbox: dynamic memory policy: %s", strerror(-r));
        if ((r = dmvsp_new(vm->vmbus, &c, &dm_owner_ops, vm, &vm->dm)) < 0)
                return errorf(err, errlen, r, "dynamic memory: %s", strerror(-r));
        if ((r = vmwp_devices_add(&vm->devices, &dmvsp_device_ops, vm->dm)) < 0)
                return errorf(err, errlen, r, "dynamic memory: device table: %s", strerror(-r));
        return 0;
}

void vmwp_vm_dm_free(struct vmwp_vm *vm) {
        dmvsp_free(vm->dm);
        vm->dm = NULL;
}

/* The sizes the "memory" op and event carry: at most 2^50 bytes, what
 * vmms takes (VMMS_DM_BYTES_MAX; a report with more is dropped whole).
 * Some come from the guest (demand, available: dmvsp clamps them to
 * 2^40 pages), so the shift is checked. */
#define MEMORY_BYTES_MAX (1ull << 50)
static void add_bytes(struct json_object *o, const char *key, uint64_t pages) {
        uint64_t bytes = MIN(pages, MEMORY_BYTES_MAX >> VID_PAGE_SHIFT) << VID_PAGE_SHIFT;
        json_object_object_add(o, key, json_object_new_int64((int64_t)bytes));
}

int vmwp_vm_memory(struct vmwp_vm *vm, bool set, uint64_t target_bytes, struct json_object *into) {
        if (!vm->dm)
                return -ENOTSUP;
        if (set)
                (void)dmvsp_set_target(vm->dm, target_bytes >> VID_PAGE_SHIFT);
        struct dmvsp_status s;
        dmvsp_get_status(vm->dm, &s);
        json_object_object_add(into, "connected", json_object_new_boolean(s.connected));
        add_bytes(into, "startup_bytes", s.boot_pages);
        add_bytes(into, "maximum_bytes", s.boot_pages + s.hot_add_max);
        add_bytes(into, "assigned_bytes", s.assigned);
        add_bytes(into, "target_bytes", s.target);
        add_bytes(into, "ballooned_bytes", s.ballooned);
        add_bytes(into, "hot_added_bytes", s.hot_added);
        json_object_object_add(into, "reported", json_object_new_boolean(s.reported));
        add_bytes(into, "demand_bytes", s.demand);
        add_bytes(into, "available_bytes", s.avail);
        json_object_object_add(into, "report_age_ms", json_object_new_int64((int64_t)MIN(s.report_age_ms, (uint64_t)INT64_MAX)));
        json_object_object_add(into, "can_balloon", json_object_new_boolean(s.can_balloon));
        json_object_object_add(into, "can_hot_add", json_object_new_boolean(s.can_hot_add));
        json_object_object_add(into, "operation", json_object_new_string(dmvsp_op_to_string(s.op)));
        json_object_object_add(into, "note", json_object_new_string(s.note));
        return 0;
}

/* The "memory" event: as the op's reply, the state when it goes. */
struct json_object *vmwp_dm_event(struct vmwp_vm *vm) {
        struct json_object *ev = proto_event_new(PROTO_EV_MEMORY);
        if (ev && vmwp_vm_memory(vm, false, 0, ev) < 0)
                ev = (json_object_put(ev), NULL);
        return ev;
}

void vmwp_dm_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e) {
        if (g->memory_changed)
                vmwp_emit_changed(e, VMWP_GEV_MEMORY);
}

void vmwp_vm_dm_stats(struct vmwp_vm *vm, struct json_object *into) {
        if (!vm->dm)
                return;
        struct json_object *o = device_stat_object(into, "dm");
        if (!o)
                return;
        /* The "memory" events to vmms (run.c, this thread's). */
        device_stat_add(o, "events", vm->guest_rates[VMWP_GEV_MEMORY].events);
        device_stat_add(o, "events_coalesced", vm->guest_rates[VMWP_GEV_MEMORY].coalesced);
        device_stat_add(o, "discard_failures", atomic_load(&vm->dm_discard_failures));
}
