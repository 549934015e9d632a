// SPDX-License-Identifier: MIT
/* The NICs' minimum bandwidth weights (docs/netvsp.md "Minimum bandwidth
 * weight"): SetNicMinWeight(u index, u weight) changes a NIC's
 * qos.min_weight in any state the caps change in, and the uplink's qdisc
 * (host/uplink-qos.c, vmms --nic-uplink) follows every change of the set
 * of running NICs with a weight: a VM started, stopped, restored, moved
 * in or out, a NIC attached or detached, a weight changed, and vmms's own
 * start (vmms_uplink_sync after the re-attach). The worker has no part in
 * it: the weight lives in the configuration, so a save, a restore and a
 * migration's destination keep it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "host/uplink-qos.h"
#include "hotplug/hotplug.h"
#include "vmms/names.h"

/* States whose worker holds the VM's TAPs (its traffic reaches the uplink). */
static bool has_traffic(enum vmms_state s) {
        return s == VMMS_STATE_STARTING || s == VMMS_STATE_RUNNING || s == VMMS_STATE_PAUSED ||
               s == VMMS_STATE_SAVING || s == VMMS_STATE_MIGRATING || s == VMMS_STATE_STOPPING;
}

/* The running NICs with a weight, into a new array (*n of them). */
static struct vmms_uplink_nic *collect(struct vmms_daemon *d, size_t *n) {
        size_t cap = 0, k = 0;
        for (size_t i = 0; i < d->n_vms; i++)
                cap += has_traffic(d->vms[i]->state) ? d->vms[i]->config->n_nics : 0;
        struct vmms_uplink_nic *out = calloc(cap ? cap : 1, sizeof *out);
        for (size_t i = 0; out && i < d->n_vms; i++) {
                const struct vm_config *c = d->vms[i]->config;
                for (uint32_t j = 0; has_traffic(d->vms[i]->state) && j < c->n_nics; j++)
                        if (c->nics[j].qos.min_weight) {
                                memcpy(out[k].mac, c->nics[j].mac, 6);
                                out[k++].weight = (uint32_t)c->nics[j].qos.min_weight;
                        }
        }
        *n = k;
        return out;
}

int vmms_uplink_sync(struct vmms_daemon *d, char *err, size_t errlen) {
        size_t n = 0;
        int r;
        if (!d->opt.nic_uplink[0])
                return 0;
        struct vmms_uplink_nic *nics = collect(d, &n);
        if (!nics)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        if (d->uplink_made && n == d->n_uplink_nics && (!n || !memcmp(nics, d->uplink_nics, n * sizeof *nics))) {
                free(nics);
                return 0; /* nothing changed */
        }
        if ((r = vmms_uplink_apply(d->opt.nic_uplink, d->opt.nic_uplink_bps, nics, n, err, errlen)) < 0) {
                free(nics);
                d->uplink_made = false; /* tried again at the next change */
                return r;
        }
        free(d->uplink_nics);
        d->uplink_nics = nics;
        d->n_uplink_nics = n;
        d->uplink_made = true;
        log_info("uplink %s: %zu NIC(s) with a minimum bandwidth weight", d->opt.nic_uplink, n);
        return 0;
}

void vmms_uplink_changed(struct vmms_daemon *d) {
        char err[256];
        int r = vmms_uplink_sync(d, err, sizeof err);
        if (r < 0)
                log_error("the NICs' minimum bandwidth weights are not applied: %s", err);
}

int vmms_nic_min_weight_change(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, uint32_t weight,
                               sd_bus_error *e) {
        if (index >= vm->config->n_nics)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s' has no nics[%u] (it has %u)",
                                         vm->config->name, index, vm->config->n_nics);
        struct vm_nic_qos q = vm->config->nics[index].qos;
        q.min_weight = weight;
        const char *field, *why = vm_nic_qos_invalid(&q, &field); /* the configuration's own check */
        if (why)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s': nics[%u].qos.%s: %s",
                                         vm->config->name, index, field, why);
        _cleanup_free_ struct vm_config *next = malloc(sizeof *next);
        char what[96], err[256];
        if (!next)
                return -ENOMEM;
        *next = *vm->config;
        next->nics[index].qos = q;
        snprintf(what, sizeof what, "nics[%u]: minimum bandwidth weight %u (0: none)", index, weight);
        if (has_traffic(vm->state) && vm->d->opt.nic_uplink[0]) {
                /* Applied first: a refused uplink changes nothing. */
                struct vm_config *was = vm->config;
                vm->config = next;
                int r = vmms_uplink_sync(vm->d, err, sizeof err);
                vm->config = was;
                if (r < 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "VM '%s': nics[%u].qos.min_weight: %s",
                                                 vm->config->name, index, err);
        }
        return vmms_hotplug_store_and_reply(vm, call, next, -1, what, e);
}
