// SPDX-License-Identifier: MIT
/* The VM's processor limit (its configuration's "processor", docs/vmms.md
 * "Processor limit"): vid's throttle parks every vCPU 100 - limit % of
 * each 10 ms period (vid/throttle.c), on any host, whatever its cgroups.
 * Set when the VM is built (a start, a restore, a migration's
 * destination: each reads its configuration) and by the "processor" op on
 * a running VM. */
#include <errno.h>
#include <json-c/json.h>

#include "vid/vid.h"
#include "vm-internal.h"

int vmwp_vm_set_cpu_limit(struct vmwp_vm *vm, uint32_t limit_pct) {
        if (limit_pct < VM_CPU_LIMIT_MIN_PCT || limit_pct > VM_CPU_LIMIT_NONE)
                return -EINVAL;
        int r = vid_partition_set_cpu_limit(vm->p, limit_pct);
        if (r >= 0)
                vm->cfg.processor.limit_pct = limit_pct;
        return r;
}

void vmwp_vm_processor_report(struct vmwp_vm *vm, struct json_object *into) {
        json_object_object_add(into, "limit_pct", json_object_new_int64(vid_partition_cpu_limit(vm->p)));
        /* The vCPUs' time parked by the limit and auto-converge together. */
        json_object_object_add(into, "throttled_ms",
                               json_object_new_int64((int64_t)(vid_partition_throttled_ns(vm->p) / 1000000u)));
}
