// SPDX-License-Identifier: MIT
/* A NIC's bandwidth caps changed through D-Bus: SetNicQoS(u index,
 * t max_in_bps, t max_out_bps) (docs/dbus-api.md; Hyper-V's
 * Set-VMNetworkAdapter -MaximumBandwidth, here each way). Checked as the
 * configuration checks it (vm_nic_qos_invalid: a named field, nothing
 * changed); a running or paused VM's worker applies it at once (nic-qos,
 * docs/vmwp.md: netvsp holds the caps, so a TAP the admin made is capped
 * like one vmms made) and the configuration follows its answer; an Off,
 * Crashed or Saved VM's configuration changes (its NICs are made with it
 * at the next start or restore). The configuration is what a save, a
 * restore and a migration's destination take, so the setting stays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/macro.h"
#include "core/daemon.h"
#include "hotplug/hotplug.h"
#include "vmms/names.h"

void vmms_nic_qos_describe(uint32_t index, const struct vm_nic_qos *q, char *buf, size_t len) {
        snprintf(buf, len, "nics[%u]: bandwidth caps in (to the guest) %llu, out (from the guest) %llu bits/s (0: none)",
                 index, (unsigned long long)q->max_in_bps, (unsigned long long)q->max_out_bps);
}

int vmms_nic_qos_change(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, const struct vm_nic_qos *caps,
                        sd_bus_error *e) {
        struct vm_nic_qos qos = *caps, *q = &qos;
        const char *field, *why = vm_nic_qos_invalid(q, &field);
        if (index >= vm->config->n_nics)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s' has no nics[%u] (it has %u)",
                                         vm->config->name, index, vm->config->n_nics);
        if (why)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s': nics[%u].qos.%s: %s",
                                         vm->config->name, index, field, why);
        q->min_weight = vm->config->nics[index].qos.min_weight; /* the caps' call keeps the weight */
        if (vm->state == VMMS_STATE_RUNNING || vm->state == VMMS_STATE_PAUSED)
                return vmms_hotplug_send_nic_qos(vm, call, index, q, e);
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char what[200];
        if (!next)
                return -ENOMEM;
        *next = *vm->config;
        next->nics[index].qos = *q;
        vmms_nic_qos_describe(index, q, what, sizeof what);
        return vmms_hotplug_store_and_reply(vm, call, next, -1, what, e);
}
