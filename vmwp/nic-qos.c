// SPDX-License-Identifier: MIT
/* Bandwidth caps of a VM's NICs (docs/netvsp.md "Bandwidth caps",
 * common/proto.h "nic-qos"): the configuration's caps given to each NIC
 * when it is made (vm-net.c), changed on the running VM by vmms. The
 * request's check is pure (fuzzed with the other control requests). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "netvsp/provider.h"
#include "vm-internal.h"
#include "vmwp/control.h"

static const char *const fields[] = { "max_in_bps", "max_out_bps" };

int vmwp_control_parse_nic_qos(const struct vm_config *cfg, struct json_object *req, uint32_t *nic,
                               struct vm_nic_qos *out, char *err, size_t errlen) {
        uint32_t i;
        int r = vmwp_qos_request_index(req, "nic", "NIC", "nics", cfg->n_nics, &i, err, errlen);
        if (r < 0)
                return r;
        struct vm_nic_qos q = cfg->nics[i].qos; /* a field left out keeps its value */
        uint64_t *v[] = { &q.max_in_bps, &q.max_out_bps };
        if ((r = vmwp_qos_request_fields(req, fields, v, ARRAY_SIZE(fields), "no cap", err, errlen)) < 0)
                return r;
        const char *field, *why = vm_nic_qos_invalid(&q, &field);
        if (why)
                return errorf(err, errlen, -EINVAL, "nics[%u].qos.%s: %s", i, field, why);
        *nic = i;
        *out = q;
        return 0;
}

int vmwp_vm_set_nic_qos(struct vmwp_vm *vm, struct json_object *req, char *err, size_t errlen) {
        uint32_t i = 0;
        struct vm_nic_qos q;
        int r = vmwp_control_parse_nic_qos(&vm->cfg, req, &i, &q, err, errlen);
        if (r == 0 && !vm->nic[i])
                r = errorf(err, errlen, -ENODEV, "nics[%u] is not open in this worker", i);
        if (r == 0 && (r = netvsp_nic_set_qos(vm->nic[i], q.max_in_bps, q.max_out_bps)) < 0)
                errorf(err, errlen, r, "nics[%u]: the caps were refused", i);
        if (r < 0) {
                fprintf(stderr, "vmwp: %s: nic-qos: %s\n", vm->cfg.name, err);
                return r;
        }
        vm->cfg.nics[i].qos = q; /* the worker's configuration: what a save or a migration sends along */
        return 0;
}
