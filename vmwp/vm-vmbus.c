// SPDX-License-Identifier: MIT
/* The VMBus side of the assembly: the Hyper-V guest interface (hvshim:
 * CPUID leaves, synthetic MSRs, hypercall page, SynIC), the VMBus server on
 * it, then the devices of the configuration: the integration services, and
 * (as they land) storvsp per SCSI controller and netvsp per NIC.
 *
 * Guest events from the service threads (heartbeat, shutdown answers) are
 * recorded here and announced on an eventfd that the main loop (run.c)
 * turns into control-protocol events. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "hvshim/hvshim.h"
#include "icvsp/icvsp.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vm-net.h"
#include "vmbus/server.h"

static void guest_crashed(void *opaque, const struct hvshim_crash_report *r) {
        struct vmwp_vm *vm = opaque;
        vid_partition_request_stop(vm->p, VMWP_EXIT_GUEST_CRASH,
                                   "guest crashed (Hyper-V crash MSRs: P0=0x%llx P2=0x%llx)%s%.200s",
                                   (unsigned long long)r->p[0], (unsigned long long)r->p[2],
                                   r->message[0] ? ": " : "", r->message);
}

static const struct hvshim_owner_ops hv_owner_ops = { .guest_crashed = guest_crashed };

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

static const struct icvsp_owner_ops ic_owner_ops = { .heartbeat = ic_heartbeat,
                                                     .shutdown_answered = ic_shutdown_answered };

static int add_integration_services(struct vmwp_vm *vm, char *err, size_t errlen) {
        const struct vm_ic_config *c = &vm->cfg.ic;
        if (!c->shutdown && !c->heartbeat)
                return 0;
        struct icvsp_config ic = { .shutdown = c->shutdown, .heartbeat = c->heartbeat };
        guid_derive(&vm->cfg.id, "heartbeat", &ic.heartbeat_instance);
        int r = icvsp_new(vm->vmbus, &ic, &ic_owner_ops, vm, &vm->ic);
        if (r < 0)
                snprintf(err, errlen, "integration services: %s", strerror(-r));
        return r;
}

int vmwp_vm_attach_vmbus(struct vmwp_vm *vm, char *err, size_t errlen) {
        vm->guest.heartbeat = vm->cfg.ic.heartbeat ? ICVSP_HEARTBEAT_NO_CONTACT : ICVSP_HEARTBEAT_UNKNOWN;
        /* Every enlightenment we implement: the reference TSC page and the
         * frequency MSRs spare the guest clock calibration, TSC invariance
         * lets it use the plain TSC, the crash MSRs report panics. */
        const struct hvshim_config hc = { .reference_tsc = true, .frequency_msrs = true,
                                          .tsc_invariant = true, .crash_msrs = true };
        int r = hvshim_create(vm->p, &hc, &vm->hv);
        if (r < 0) {
                snprintf(err, errlen, "setting up the Hyper-V interface: %s", strerror(-r));
                return r;
        }
        hvshim_set_owner_ops(vm->hv, &hv_owner_ops, vm);
        struct vmbus_server_config sc = { .vp_count = vm->cfg.vcpus };
        if ((r = vmbus_host_hv_new(vm->hv, vm->p, &vm->vmbus_host)) < 0 ||
            (r = vmbus_server_new(&sc, &vmbus_host_hv_ops, vm->vmbus_host, &vm->vmbus)) < 0) {
                snprintf(err, errlen, "setting up the VMBus server: %s", strerror(-r));
                return r;
        }
        if ((r = add_integration_services(vm, err, errlen)) < 0)
                return r;
        if ((r = vmwp_vm_add_disks(vm, err, errlen)) < 0)
                return r;
        return vmwp_vm_add_nics(vm, err, errlen);
}

/* The VPs are stopped: no message handler runs, no guest touches a ring. */
void vmwp_vm_detach_vmbus(struct vmwp_vm *vm) {
        /* The server closes the channels through the providers, which must
         * still be alive; then the providers go, then what they ran on. */
        vmbus_server_free(vm->vmbus);
        vm->vmbus = NULL;
        icvsp_free(vm->ic);
        vm->ic = NULL;
        vmbus_host_hv_free(vm->vmbus_host);
        vm->vmbus_host = NULL;
        hvshim_destroy(vm->hv);
        vm->hv = NULL;
}

int vmwp_vm_shutdown(struct vmwp_vm *vm, bool reboot) {
        return vm->ic ? icvsp_request_shutdown(vm->ic, reboot) : -ENOTSUP;
}

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
        pthread_mutex_unlock(&vm->guest_lock);
}

void vmwp_vm_peek_guest_events(struct vmwp_vm *vm, struct vmwp_guest_events *out) {
        pthread_mutex_lock(&vm->guest_lock);
        *out = vm->guest;
        pthread_mutex_unlock(&vm->guest_lock);
}

int vmwp_vm_vmbus_fd(const struct vmwp_vm *vm) {
        return vm->vmbus ? vmbus_server_fd(vm->vmbus) : -1;
}

void vmwp_vm_vmbus_dispatch(struct vmwp_vm *vm) {
        if (vm->vmbus)
                (void)vmbus_server_dispatch(vm->vmbus);
}
