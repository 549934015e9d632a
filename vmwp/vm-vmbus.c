// SPDX-License-Identifier: MIT
/* The VMBus side of the assembly: the Hyper-V guest interface (hvshim:
 * CPUID leaves, synthetic MSRs, hypercall page, SynIC), the VMBus server on
 * it, then the devices of the configuration: the integration services
 * (vm-ic.c), and (as they land) storvsp per SCSI controller and netvsp per
 * NIC. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "hvshim/hvshim.h"
#include "hvshim/state.h"
#include "hvsock/hvsock.h"
#include "icvsp/icvsp.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vm-net.h"
#include "vmbus/server.h"
#include "vmbus/state.h"

static void guest_crashed(void *opaque, const struct hvshim_crash_report *r) {
        struct vmwp_vm *vm = opaque;
        vid_partition_request_stop(vm->p, VMWP_EXIT_GUEST_CRASH,
                                   "guest crashed (Hyper-V crash MSRs: P0=0x%llx P2=0x%llx)%s%.200s",
                                   (unsigned long long)r->p[0], (unsigned long long)r->p[2],
                                   r->message[0] ? ": " : "", r->message);
}

static const struct hvshim_owner_ops hv_owner_ops = { .guest_crashed = guest_crashed };

/* What this host gives a guest it boots (a restore keeps the saved one). */
static unsigned host_time_dilation(const struct vmwp_vm *vm) {
        return vm->cfg.boot_kind == VM_BOOT_LINUX ? vid_pvm_linux_time_dilation(vm->p) : 1u;
}

unsigned vmwp_vm_time_dilation(const struct vmwp_vm *vm) {
        return vm->hv ? hvshim_time_dilation(vm->hv) : 1u;
}

void vmwp_vm_follow_guest_clock(struct vmwp_vm *vm) {
        vmwp_vm_hvsock_follow_clock(vm);
        if (vm->ic)
                icvsp_set_time_dilation(vm->ic, vmwp_vm_time_dilation(vm));
}

int vmwp_vm_add_hvshim(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        /* Every enlightenment we implement: the reference TSC page and the
         * frequency MSRs spare the guest clock calibration, TSC invariance
         * lets it use the plain TSC, the crash MSRs report panics. */
        const struct hvshim_config hc = {
                .reference_tsc = true,
                .frequency_msrs = true,
                .tsc_invariant = true,
                .crash_msrs = true,
                .time_dilation = host_time_dilation(vm),
        };
        int r = hvshim_create(vm->p, &hc, &vm->hv);
        if (r < 0) {
                snprintf(err, errlen, "setting up the Hyper-V interface: %s", strerror(-r));
                return r;
        }
        hvshim_set_owner_ops(vm->hv, &hv_owner_ops, vm);
        if ((r = vmwp_devices_add(&vm->devices, &hvshim_device_ops, vm->hv)) < 0)
                return errorf(err, errlen, r, "the device table: %s", strerror(-r));
        return 0;
}

/* The server on hvshim, with hv_sock's transport (vmwp_vm_hvsock_create
 * ran before) and the rows of both. */
int vmwp_vm_add_vmbus_server(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        int r;
        struct vmbus_server_config sc = { .vp_count = vm->cfg.vcpus };
        if (vm->hvsock) { /* a relid per connection besides the devices' */
                sc.limits.max_channels = 256 + vm->cfg.hvsock.max_connections;
                sc.tl_connect = hvsock_tl_connect;
                sc.tl_connect_opaque = vm->hvsock;
        }
        if ((r = vmbus_host_hv_new(vm->hv, vm->p, &vm->vmbus_host)) < 0 ||
            (r = vmbus_server_new(&sc, &vmbus_host_hv_ops, vm->vmbus_host, &vm->vmbus)) < 0) {
                snprintf(err, errlen, "setting up the VMBus server: %s", strerror(-r));
                return r;
        }
        if ((r = vmwp_devices_add(&vm->devices, &vmbus_server_device_ops, vm->vmbus)) < 0 ||
            (vm->hvsock && (r = vmwp_devices_add(&vm->devices, &hvsock_device_ops, vm->hvsock)) < 0))
                return errorf(err, errlen, r, "the device table: %s", strerror(-r));
        return 0;
}

/* The VPs are stopped: no message handler runs, no guest touches a ring. */
void vmwp_vm_detach_vmbus(struct vmwp_vm *vm) {
        /* The server closes the channels through the providers, which must
         * still be alive; then the providers go, then what they ran on. */
        /* The table's rows point at what goes now: no pause after this. */
        vm->devices.n = vm->devices.n_quiesced = 0;
        vmwp_vm_hvsock_stop(vm); /* no server calls from its thread from here on */
        vmwp_vm_display_stop(vm);  /* nor device calls from the display thread */
        vmbus_server_free(vm->vmbus);
        vm->vmbus = NULL;
        vmwp_vm_hvsock_free(vm);
        icvsp_free(vm->ic);
        vm->ic = NULL;
        vmwp_vm_dm_free(vm);
        vmwp_vm_display_free(vm);
        vmbus_host_hv_free(vm->vmbus_host);
        vm->vmbus_host = NULL;
        hvshim_destroy(vm->hv);
        vm->hv = NULL;
}

int vmwp_vm_vmbus_fd(const struct vmwp_vm *vm) {
        return vm->vmbus ? vmbus_server_fd(vm->vmbus) : -1;
}

void vmwp_vm_vmbus_dispatch(struct vmwp_vm *vm) {
        if (vm->vmbus)
                (void)vmbus_server_dispatch(vm->vmbus);
}
