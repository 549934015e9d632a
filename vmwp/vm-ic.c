// SPDX-License-Identifier: MIT
/* The integration services of a VM (vsp/ic, docs/integration-services.md):
 * created from the configuration's "integration" section, fed with the
 * partition's reference time (time sync v4) and the VM's state (pause,
 * resume), asked for shutdowns and KVP items by the control protocol.
 *
 * Guest events from the service thread (heartbeat, shutdown answers, KVP
 * changes) are recorded here and announced on an eventfd; the main loop
 * (run.c) then has vmwp_ic_emit() make them control-protocol events
 * (vmwp/emit.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "hv/ic.h"
#include "hvshim/hvshim.h"
#include "icvsp/icvsp.h"
#include "emit.h"
#include "vm-internal.h"

static void notify(struct vmwp_vm *vm) {
        (void)!write(vm->guest_event_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

/* icvsp thread, its lock held: record and wake the main loop. */
static void ic_heartbeat(void *opaque, enum icvsp_heartbeat_state st, uint64_t last_beat_us) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.heartbeat = st;
        vm->guest.last_beat_us = last_beat_us;
        vm->guest.heartbeat_changed = true;
        pthread_mutex_unlock(&vm->guest_lock);
        notify(vm);
}

static void ic_shutdown_answered(void *opaque, bool accepted, uint32_t status) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.shutdown_answered = true;
        vm->guest.shutdown_accepted = accepted;
        pthread_mutex_unlock(&vm->guest_lock);
        notify(vm);
}

static void ic_kvp_changed(void *opaque) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.kvp_changed = true;
        pthread_mutex_unlock(&vm->guest_lock);
        notify(vm);
}

static void ic_vss_answered(void *opaque, uint8_t op, uint32_t status) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.vss_answered = true;
        vm->guest.vss_op = op;
        vm->guest.vss_status = status;
        pthread_mutex_unlock(&vm->guest_lock);
        notify(vm);
}

static void ic_fcopy_progress(void *opaque, uint64_t bytes) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.fcopy_progressed = true;
        vm->guest.fcopy_bytes = bytes;
        pthread_mutex_unlock(&vm->guest_lock);
        notify(vm);
}

/* The copy's last request was answered: icvsp reads the source no more. */
static void ic_fcopy_done(void *opaque, int r, uint32_t status, uint64_t bytes) {
        struct vmwp_vm *vm = opaque;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.fcopy_finished = true;
        vm->guest.fcopy_r = r;
        vm->guest.fcopy_status = status;
        vm->guest.fcopy_bytes = bytes;
        int fd = vm->fcopy_fd;
        vm->fcopy_fd = -1;
        pthread_mutex_unlock(&vm->guest_lock);
        safe_close(fd);
        notify(vm);
}

static const struct icvsp_owner_ops ic_owner_ops = {
        .heartbeat = ic_heartbeat, .shutdown_answered = ic_shutdown_answered, .kvp_changed = ic_kvp_changed,
        .vss_answered = ic_vss_answered, .fcopy_progress = ic_fcopy_progress, .fcopy_done = ic_fcopy_done,
};

/* The partition reference counter (§1.5) the guest compares time samples
 * against (§8.5, ictimesync_ref_data.vmreferencetime). */
static uint64_t reference_time(void *opaque) {
        struct vmwp_vm *vm = opaque;
        return hvshim_reference_time(vm->hv);
}

/* Hyper-V's host-provided intrinsic items (KVP_POOL_AUTO_EXTERNAL), which
 * a Linux guest's daemon keeps in /var/lib/hyperv/.kvp_pool_3. */
static void push_intrinsic_items(struct vmwp_vm *vm) {
        char id[GUID_STRING_MAX], host[256] = "";
        guid_to_string(&vm->cfg.id, id);
        (void)gethostname(host, sizeof host - 1);
        (void)icvsp_kvp_set(vm->ic, KVP_POOL_AUTO_EXTERNAL, "VirtualMachineName", vm->cfg.name);
        (void)icvsp_kvp_set(vm->ic, KVP_POOL_AUTO_EXTERNAL, "VirtualMachineId", id);
        if (host[0])
                (void)icvsp_kvp_set(vm->ic, KVP_POOL_AUTO_EXTERNAL, "HostName", host);
}

int vmwp_vm_add_integration_services(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        const struct vm_ic_config *c = &vm->cfg.ic;
        vm->guest.heartbeat = c->heartbeat ? ICVSP_HEARTBEAT_NO_CONTACT : ICVSP_HEARTBEAT_UNKNOWN;
        if (!c->shutdown && !c->heartbeat && !c->timesync && !c->kvp && !c->vss && !c->fcopy)
                return 0;
        struct icvsp_config ic = {
                .shutdown = c->shutdown, .heartbeat = c->heartbeat, .timesync = c->timesync, .kvp = c->kvp,
                .vss = c->vss, .fcopy = c->fcopy,
                .timesync_interval_s = c->timesync_interval_s, .reference_time = reference_time,
                .reference_opaque = vm, .time_dilation = vmwp_vm_time_dilation(vm),
        };
        guid_derive(&vm->cfg.id, "heartbeat", &ic.heartbeat_instance);
        int r = icvsp_new(vm->vmbus, &ic, &ic_owner_ops, vm, &vm->ic);
        if (r < 0) {
                snprintf(err, errlen, "integration services: %s", strerror(-r));
                return r;
        }
        if ((r = vmwp_devices_add(&vm->devices, &icvsp_device_ops, vm->ic)) < 0)
                return snprintf(err, errlen, "integration services: device table: %s", strerror(-r)), r;
        if (c->kvp)
                push_intrinsic_items(vm);
        return 0;
}

int vmwp_vm_shutdown(struct vmwp_vm *vm, bool reboot) {
        return vm->ic ? icvsp_request_shutdown(vm->ic, reboot) : -ENOTSUP;
}

int vmwp_vm_vss(struct vmwp_vm *vm, uint8_t op) {
        return vm->ic ? icvsp_request_vss(vm->ic, op) : -ENOTSUP;
}

int vmwp_vm_fcopy(struct vmwp_vm *vm, int fd, const char *dir, const char *name, uint64_t size, uint32_t flags) {
        int r = 0;
        pthread_mutex_lock(&vm->guest_lock);
        if (!vm->ic)
                r = -ENOTSUP;
        else if (vm->fcopy_fd >= 0)
                r = -EBUSY;
        else
                vm->fcopy_fd = fd;
        pthread_mutex_unlock(&vm->guest_lock);
        if (r == 0 && (r = icvsp_fcopy_start(vm->ic, fd, dir, name, size, flags)) < 0) {
                pthread_mutex_lock(&vm->guest_lock);
                vm->fcopy_fd = -1;
                pthread_mutex_unlock(&vm->guest_lock);
        }
        if (r < 0)
                safe_close(fd);
        return r;
}

int vmwp_vm_fcopy_cancel(struct vmwp_vm *vm) {
        return vm->ic ? icvsp_fcopy_cancel(vm->ic) : -ENOTSUP;
}

bool vmwp_vm_fcopy_busy(struct vmwp_vm *vm) {
        pthread_mutex_lock(&vm->guest_lock);
        bool busy = vm->fcopy_fd >= 0;
        pthread_mutex_unlock(&vm->guest_lock);
        return busy;
}


/* ---- KVP for the control protocol ---- */

int vmwp_vm_kvp_set(struct vmwp_vm *vm, const char *key, const char *value) {
        return vm->ic ? icvsp_kvp_set(vm->ic, KVP_POOL_EXTERNAL, key, value) : -ENOTSUP;
}

/* What the items of one object may take in a control message, JSON
 * escapes (6 bytes per byte at worst) included: the guest's and the host's
 * objects of a kvp-get reply together stay below PROTO_MAX_MSG. Items past
 * the budget are left out. */
#define KVP_JSON_BUDGET (PROTO_MAX_MSG * 3 / 8)

struct kvp_collect {
        struct json_object *obj;
        bool host;
        size_t budget;
};

static void add_item(void *opaque, uint8_t pool, const char *key, const char *value) {
        struct kvp_collect *k = opaque;
        /* Host: only what the administrator set (pool 0), not the
         * intrinsic items. Guest: the intrinsic pool is listed first and
         * wins over a guest-pool item of the same name. */
        size_t cost = 6 * (strlen(key) + strlen(value)) + 8;
        if ((k->host && pool != KVP_POOL_EXTERNAL) || json_object_object_get_ex(k->obj, key, NULL) ||
            cost > k->budget)
                return;
        k->budget -= cost;
        json_object_object_add(k->obj, key, json_object_new_string(value));
}

int vmwp_vm_kvp_items(struct vmwp_vm *vm, bool guest, struct json_object **out) {
        struct kvp_collect k = { .obj = json_object_new_object(), .host = !guest, .budget = KVP_JSON_BUDGET };
        if (!k.obj)
                return -ENOMEM;
        int r = vm->ic ? icvsp_kvp_list(vm->ic, guest, add_item, &k) : -ENOTSUP;
        if (r < 0) {
                json_object_put(k.obj);
                return r;
        }
        *out = k.obj;
        return 0;
}

bool vmwp_vm_kvp_ready(struct vmwp_vm *vm) {
        return vm->ic && icvsp_kvp_ready(vm->ic, NULL);
}

/* ---- the services' events to vmms (vmwp/emit.h, common/proto.h) ---- */

/* CLOCK_MONOTONIC microseconds -> wall-clock microseconds since the epoch. */
static uint64_t to_wall_us(uint64_t mono_us) {
        if (mono_us == 0)
                return 0;
        uint64_t now_mono = now_us(CLOCK_MONOTONIC), now_wall = now_us(CLOCK_REALTIME);
        return now_wall - MIN(now_wall, now_mono - MIN(now_mono, mono_us));
}

void vmwp_ic_add_heartbeat(struct vmwp_vm *vm, struct json_object *into) {
        struct vmwp_guest_events g;
        vmwp_vm_peek_guest_events(vm, &g);
        json_object_object_add(into, "heartbeat",
                               json_object_new_string(icvsp_heartbeat_state_to_string(g.heartbeat)));
        json_object_object_add(into, "last_beat_us", json_object_new_int64((int64_t)to_wall_us(g.last_beat_us)));
}

struct json_object *vmwp_ic_heartbeat_event(struct vmwp_vm *vm) {
        struct vmwp_guest_events g;
        vmwp_vm_peek_guest_events(vm, &g);
        struct json_object *ev = proto_event_new(PROTO_EV_HEARTBEAT);
        if (ev) {
                json_object_object_add(ev, "status", json_object_new_string(icvsp_heartbeat_state_to_string(g.heartbeat)));
                json_object_object_add(ev, "last_us", json_object_new_int64((int64_t)to_wall_us(g.last_beat_us)));
        }
        return ev;
}

static struct json_object *vss_event(const struct vmwp_guest_events *g) {
        static const char *const ops[] = { [VSS_OP_HOT_BACKUP] = "hot-backup", [VSS_OP_FREEZE] = "freeze",
                                           [VSS_OP_THAW] = "thaw" };
        struct json_object *ev = proto_event_new(PROTO_EV_VSS);
        if (ev) {
                const char *op = g->vss_op < ARRAY_SIZE(ops) && ops[g->vss_op] ? ops[g->vss_op] : "other";
                json_object_object_add(ev, "operation", json_object_new_string(op));
                json_object_object_add(ev, "ok", json_object_new_boolean(g->vss_status == HV_S_OK));
                json_object_object_add(ev, "status", json_object_new_int64(g->vss_status));
        }
        return ev;
}

/* The copy's end: "why" names a refusal for vmms's error. */
static struct json_object *fcopy_event(const struct vmwp_guest_events *g) {
        static const struct {
                uint32_t status;
                const char *why;
        } refusals[] = { { HV_ERROR_ALREADY_EXISTS, "exists" }, { HV_ERROR_DISK_FULL, "full" } };
        const char *why = g->fcopy_r == 0            ? ""
                          : g->fcopy_r == -ETIMEDOUT  ? "timeout"
                          : g->fcopy_r == -ECANCELED  ? "cancelled"
                          : g->fcopy_r == -ECONNRESET ? "closed"
                          : g->fcopy_status == 0      ? "read"
                                                      : "refused";
        for (size_t i = 0; i < ARRAY_SIZE(refusals); i++)
                if (g->fcopy_r && g->fcopy_status == refusals[i].status)
                        why = refusals[i].why;
        struct json_object *ev = proto_event_new(PROTO_EV_FCOPY);
        if (ev) {
                json_object_object_add(ev, "ok", json_object_new_boolean(g->fcopy_r == 0));
                json_object_object_add(ev, "errno", json_object_new_int(-g->fcopy_r));
                json_object_object_add(ev, "status", json_object_new_int64(g->fcopy_status));
                json_object_object_add(ev, "why", json_object_new_string(why));
                json_object_object_add(ev, "bytes", json_object_new_int64((int64_t)g->fcopy_bytes));
        }
        return ev;
}

void vmwp_ic_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e) {
        if (g->heartbeat_changed)
                vmwp_emit_changed(e, VMWP_GEV_HEARTBEAT);
        if (g->shutdown_answered) {
                struct json_object *ev = proto_event_new(PROTO_EV_GUEST_SHUTDOWN);
                if (ev)
                        json_object_object_add(ev, "ok", json_object_new_boolean(g->shutdown_accepted));
                vmwp_emit(e, ev);
        }
        if (g->vss_answered)
                vmwp_emit(e, vss_event(g));
        if (g->fcopy_progressed && !g->fcopy_finished) {
                struct json_object *ev = proto_event_new(PROTO_EV_FCOPY_PROGRESS);
                if (ev)
                        json_object_object_add(ev, "bytes", json_object_new_int64((int64_t)g->fcopy_bytes));
                vmwp_emit(e, ev);
        }
        if (g->fcopy_finished)
                vmwp_emit(e, fcopy_event(g));
        struct json_object *items;
        if (g->kvp_changed && vmwp_vm_kvp_items(vm, true, &items) >= 0) {
                struct json_object *ev = proto_event_new(PROTO_EV_KVP);
                if (ev)
                        json_object_object_add(ev, "items", items);
                else
                        json_object_put(items);
                vmwp_emit(e, ev);
        }
}

/* ---- guest events for the main loop ---- */

int vmwp_vm_guest_event_fd(const struct vmwp_vm *vm) {
        return vm->guest_event_fd;
}

void vmwp_vm_take_guest_events(struct vmwp_vm *vm, struct vmwp_guest_events *out) {
        uint64_t v;
        (void)!read(vm->guest_event_fd, &v, sizeof v);
        pthread_mutex_lock(&vm->guest_lock);
        *out = vm->guest;
        vm->guest.heartbeat_changed = false;
        vm->guest.shutdown_answered = false;
        vm->guest.kvp_changed = false;
        vm->guest.vss_answered = false;
        vm->guest.fcopy_progressed = vm->guest.fcopy_finished = false;
        vm->guest.memory_changed = false;
        vm->guest.display_changed = false; /* left set, every later pass sent a "display" event */
        vm->guest.boot_changed = false;
        pthread_mutex_unlock(&vm->guest_lock);
}

void vmwp_vm_peek_guest_events(struct vmwp_vm *vm, struct vmwp_guest_events *out) {
        pthread_mutex_lock(&vm->guest_lock);
        *out = vm->guest;
        pthread_mutex_unlock(&vm->guest_lock);
}

