// SPDX-License-Identifier: MIT
/* What the control protocol and the run loop ask of a running VM, and the
 * VMBus side lives in vm-vmbus.c. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "vid/vid.h"
#include "vm-emu.h"
#include "vm-internal.h"

const struct vm_config *vmwp_vm_config(const struct vmwp_vm *vm) {
        return &vm->cfg;
}

struct vid_partition *vmwp_vm_partition(struct vmwp_vm *vm) {
        return vm->p;
}

struct vmwp_console *vmwp_vm_console(struct vmwp_vm *vm) {
        return vm->console;
}

struct uart *vmwp_vm_uart(struct vmwp_vm *vm) {
        return vm->uart;
}

/* vCPUs first (each on an instruction boundary, nothing more to ask of
 * the devices), then the devices in reverse table order; resume is the
 * mirror image (docs/vm-state.md, "What consistent means"). */
int vmwp_vm_pause(struct vmwp_vm *vm) {
        int r = vid_partition_pause(vm->p);
        if (r < 0)
                return r;
        char err[256] = "";
        r = vmwp_devices_quiesce(&vm->devices, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "vmwp: %s: pause: %s\n", vm->cfg.name, err);
                vid_partition_resume(vm->p);
        }
        return r;
}

const char *vmwp_pause_strerror(int r) {
        return r == -ESHUTDOWN ? "the VM is stopping (its guest powered off or reset, or a virtual processor failed)"
                               : strerror(-r);
}

int vmwp_vm_resume(struct vmwp_vm *vm) {
        vmwp_devices_resume(&vm->devices);
        vmwp_devices_attach(&vm->devices); /* after a checkpoint's save or a failed one */
        return vid_partition_resume(vm->p);
}

int vmwp_vm_detach(struct vmwp_vm *vm) {
        return vmwp_devices_detach(&vm->devices);
}

void vmwp_vm_attach(struct vmwp_vm *vm) {
        vmwp_devices_attach(&vm->devices);
}

bool vmwp_vm_is_paused(const struct vmwp_vm *vm) {
        return vid_partition_is_paused(vm->p);
}

void vmwp_vm_power_button(struct vmwp_vm *vm) {
        acpi_pm_power_button(vm->pm);
}

int vmwp_vm_nmi(struct vmwp_vm *vm) {
        return vid_partition_nmi(vm->p); /* vmms logs the count from the reply */
}

void vmwp_vm_timing(const struct vmwp_vm *vm, struct vmwp_timing *out) {
        *out = (struct vmwp_timing){ .start_ns = vm->start_ns, .first_insn_ns = atomic_load(&vm->first_insn_ns),
                                     .booted_ns = atomic_load(&vm->booted_ns),
                                     .first_serial_ns = atomic_load(&vm->first_serial_ns) };
}

int vmwp_vm_stats(struct vmwp_vm *vm, struct json_object *into) {
        struct vid_stats vs;
        struct vmwp_console_stats cs;
        vid_partition_stats(vm->p, &vs);
        vmwp_console_get_stats(vm->console, &cs);
        device_stat_add(into, "exits", vs.exits);
        device_stat_add(into, "pio_exits", vs.pio_exits);
        device_stat_add(into, "mmio_exits", vs.mmio_exits);
        device_stat_add(into, "msr_exits", vs.msr_exits);
        device_stat_add(into, "unhandled_io", vs.unhandled_io);
        device_stat_add(into, "console_dropped_bytes", cs.out_dropped);
        device_stat_add(into, "console_clients", cs.clients);
        /* Every device's, from its row (the UART, ACPI PM, the emulated
         * devices, hv_sock, the providers), then the worker's own counters
         * of what it does for them. */
        vmwp_devices_stats(&vm->devices, into);
        if (vm->ic) {
                device_stat_add(into, "ic_heartbeat_events", vm->guest_rates[VMWP_GEV_HEARTBEAT].events);
                device_stat_add(into, "ic_heartbeat_events_coalesced", vm->guest_rates[VMWP_GEV_HEARTBEAT].coalesced);
        }
        vmwp_vm_dm_stats(vm, into);
        vmwp_vm_display_stats(vm, into);
        vmwp_vm_metering_stats(vm, into);
        return 0;
}
