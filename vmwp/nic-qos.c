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

/* A field of the request: absent keeps *v; negative or not an integer is
 * refused (-1 as int64 is what a peer's "-1" or 1.5 would become). */
static int get_field(struct json_object *req, const char *key, uint64_t *v, char *err, size_t errlen) {
        struct json_object *o;
        if (!json_object_object_get_ex(req, key, &o))
                return 0;
        errno = 0;
        int64_t x = json_object_is_type(o, json_type_int) ? json_object_get_int64(o) : -1;
        if (x < 0 || errno)
                return errorf(err, errlen, -EINVAL, "\"%s\" must be a non-negative integer (0: no cap)", key);
        *v = (uint64_t)x;
        return 0;
}

int vmwp_control_parse_nic_qos(const struct vm_config *cfg, struct json_object *req, uint32_t *nic,
                               struct vm_nic_qos *out, char *err, size_t errlen) {
        struct json_object *o;
        if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "nic", &o) ||
            !json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
                return errorf(err, errlen, -EINVAL, "\"nic\" must be a NIC's index");
        int64_t i = json_object_get_int64(o);
        if (i >= (int64_t)cfg->n_nics)
                return errorf(err, errlen, -ENOENT, "nics[%lld]: no such NIC (the VM has %u)", (long long)i,
                              cfg->n_nics);
        struct vm_nic_qos q = cfg->nics[i].qos; /* a field left out keeps its value */
        uint64_t *v[] = { &q.max_in_bps, &q.max_out_bps };
        for (size_t k = 0; k < ARRAY_SIZE(fields); k++) {
                int r = get_field(req, fields[k], v[k], err, errlen);
                if (r < 0)
                        return r;
        }
        const char *field, *why = vm_nic_qos_invalid(&q, &field);
        if (why)
                return errorf(err, errlen, -EINVAL, "nics[%lld].qos.%s: %s", (long long)i, field, why);
        *nic = (uint32_t)i;
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
