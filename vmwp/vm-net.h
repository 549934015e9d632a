/* SPDX-License-Identifier: MIT */
/* The VM's NICs as netvsp devices on the VMBus server (vm-net.c). */
#pragma once

#include <stddef.h>

struct vmwp_vm;
struct vmwp_vm_options;

/* One netvsp device per configured NIC (instance GUID, MAC and MTU from the
 * configuration): on the TAP fd vmms passed for it, else (vmwp --config) on
 * a TAP opened by name or created (and attached to its bridge). Writes the
 * reason into err and returns -errno if a NIC cannot work. */
int vmwp_vm_add_nics(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
