// SPDX-License-Identifier: MIT
/* Storage QoS of a VM's disks (docs/storvsp.md "Storage QoS",
 * common/proto.h "disk-qos"): the configuration's limits applied when a
 * disk opens (SCSI and IDE alike: the disk library enforces them under
 * both), changed on the running VM by vmms, and the minimum's sample the
 * run loop takes every second. The request's check is pure (fuzzed with
 * the other control requests). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "disk/disk.h"
#include "common/devworker.h"
#include "emit.h"
#include "vm-internal.h"
#include "vmwp/control.h"

static const char *const fields[] = { "max_iops", "min_iops", "max_bytes_per_s" };

int vmwp_control_parse_disk_qos(const struct vm_config *cfg, struct json_object *req, uint32_t *disk,
                                struct vm_disk_qos *out, char *err, size_t errlen) {
        uint32_t i;
        int r = vmwp_qos_request_index(req, "disk", "disk", "disks", cfg->n_disks, &i, err, errlen);
        if (r < 0)
                return r;
        struct vm_disk_qos q = cfg->disks[i].qos; /* a field left out keeps its value */
        uint64_t *v[] = { &q.max_iops, &q.min_iops, &q.max_bytes_per_s };
        if ((r = vmwp_qos_request_fields(req, fields, v, ARRAY_SIZE(fields), "none", err, errlen)) < 0)
                return r;
        const char *field, *why = vm_disk_qos_invalid(&q, &field);
        if (why)
                return errorf(err, errlen, -EINVAL, "disks[%u].qos.%s: %s", i, field, why);
        *disk = i;
        *out = q;
        return 0;
}

int vmwp_disk_apply_qos(struct disk *d, const struct vm_disk_qos *q, char *err, size_t errlen) {
        const struct disk_qos_limits l = { .max_iops = q->max_iops, .min_iops = q->min_iops,
                                           .max_bytes_per_s = q->max_bytes_per_s };
        return disk_set_qos(d, &l, err, errlen);
}

int vmwp_vm_set_disk_qos(struct vmwp_vm *vm, struct json_object *req, char *err, size_t errlen) {
        uint32_t i = 0;
        struct vm_disk_qos q;
        int r = vmwp_control_parse_disk_qos(&vm->cfg, req, &i, &q, err, errlen);
        if (r == 0 && !vm->disks[i])
                r = errorf(err, errlen, -ENODEV, "disks[%u] is not open in this worker", i);
        if (r == 0)
                r = vmwp_disk_apply_qos(vm->disks[i], &q, err, errlen);
        if (r < 0) {
                fprintf(stderr, "vmwp: %s: disk-qos: %s\n", vm->cfg.name, err);
                return r;
        }
        vm->cfg.disks[i].qos = q; /* the worker's configuration: what a save or a migration sends along */
        return 0;
}

/* Every second: each disk with a minimum is sampled (disk_sample_qos);
 * when it goes from met to unmet or back, one "disk-qos" event says so
 * (Hyper-V raises an event when a disk's minimum is not met). A change
 * is at most once a second per disk, whatever the guest does. */
static int on_sample(struct dw_source *s, int fd, uint32_t revents, void *opaque) {
        struct vmwp_emit *e = opaque;
        struct vmwp_vm *vm = e->vm;
        (void)s, (void)fd, (void)revents;
        for (uint32_t i = 0; i < vm->cfg.n_disks && i < VM_DISKS_MAX; i++) {
                struct disk_qos_sample q;
                if (!vm->disks[i] || !vm->cfg.disks[i].qos.min_iops) {
                        vm->qos_not_met[i] = false;
                        continue;
                }
                disk_sample_qos(vm->disks[i], &q);
                if (q.min_not_met == vm->qos_not_met[i])
                        continue;
                vm->qos_not_met[i] = q.min_not_met;
                struct json_object *ev = proto_event_new(PROTO_EV_DISK_QOS);
                if (!ev)
                        continue;
                json_object_object_add(ev, "disk", json_object_new_int64(i));
                json_object_object_add(ev, "met", json_object_new_boolean(!q.min_not_met));
                json_object_object_add(ev, "iops", json_object_new_int64((int64_t)q.iops));
                json_object_object_add(ev, "min_iops", json_object_new_int64((int64_t)vm->cfg.disks[i].qos.min_iops));
                json_object_object_add(ev, "busy_permille", json_object_new_int64((int64_t)q.busy_permille));
                vmwp_emit(e, ev);
        }
        return 0;
}

int vmwp_disk_qos_attach(struct vmwp_emit *e, struct devworker *loop) {
        return devworker_add_timer(loop, DISK_QOS_WINDOW_NS / 1000, DISK_QOS_WINDOW_NS / 1000, on_sample, e, NULL);
}
