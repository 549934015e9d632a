// SPDX-License-Identifier: MIT
/* The figures metering takes from a "stats" reply (docs/vmwp.md "stats",
 * docs/metering.md): each vCPU thread's CPU time from the kernel, and each
 * configured disk's I/O as the disk backend counted it (the same counters
 * for SCSI and IDE disks, which share the backend), by the configuration's
 * index. Nothing here comes from the guest. */
#include <json-c/json.h>
#include <stdint.h>

#include "common/device.h"
#include "disk/disk.h"
#include "vid/vid.h"
#include "vm-internal.h"

static void vcpu_times(struct vmwp_vm *vm, struct json_object *into) {
        struct json_object *a = json_object_new_array();
        if (!a)
                return;
        unsigned n = vid_partition_vp_count(vm->p);
        for (unsigned i = 0; i < n; i++) {
                uint64_t ns = 0;
                /* a VP whose thread is not running (yet) used nothing we can read: 0 */
                (void)vid_vp_cpu_time_ns(vid_partition_vp(vm->p, i), &ns);
                json_object_array_add(a, json_object_new_int64(ns > INT64_MAX ? INT64_MAX : (int64_t)ns));
        }
        json_object_object_add(into, "vcpu_cpu_ns", a);
}

static void disk_io(struct vmwp_vm *vm, struct json_object *into) {
        for (uint32_t i = 0; i < vm->cfg.n_disks && i < VM_DISKS_MAX; i++) {
                if (!vm->disks[i])
                        continue;
                struct json_object *o = device_stat_append(into, "disk_io");
                if (!o)
                        return;
                struct disk_io_stats s;
                disk_get_io_stats(vm->disks[i], &s);
                device_stat_add(o, "index", i);
                device_stat_add(o, "read_bytes", s.read_bytes);
                device_stat_add(o, "write_bytes", s.write_bytes);
                device_stat_add(o, "read_ops", s.read_ops);
                device_stat_add(o, "write_ops", s.write_ops);
                device_stat_add(o, "flush_ops", s.flush_ops);
                device_stat_add(o, "other_ops", s.other_ops);
                device_stat_add(o, "read_latency_ns", s.read_latency_ns);
                device_stat_add(o, "write_latency_ns", s.write_latency_ns);
                device_stat_add(o, "errors", s.errors);
        }
}

void vmwp_vm_metering_stats(struct vmwp_vm *vm, struct json_object *into) {
        vcpu_times(vm, into);
        disk_io(vm, into);
}
