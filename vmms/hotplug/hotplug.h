/* SPDX-License-Identifier: MIT */
/* Disks and NICs of a VM changed through D-Bus (hotplug.c; the pure
 * configuration half is config.c, vmms/hotplug.h). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"
#include "../core/feature.h"

/* hotplug.c: AttachDisk, DetachDisk, ResizeDisk, AttachNic, DetachNic
 * (docs/dbus-api.md): an Off or Crashed VM's configuration changes; a
 * running VM's worker is asked (disk-attach, ...) and the configuration
 * follows its answer, with which the call is answered. op is one of
 * VMMS_OP_ATTACH_DISK..VMMS_OP_DETACH_NIC; the call's arguments are read
 * here. Returns what a method handler returns. */
int vmms_hotplug_request(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, sd_bus_error *e);
/* Shared with dvd.c: the VM's state allows op and no other change is in
 * progress (else an error set in e, returned); an Off VM's configuration
 * stored and the call answered (index >= 0: "u"); the dvd-insert (fd the
 * ISO, the caller's to close) or dvd-eject op sent, the configuration's
 * drive becoming *dvd when the worker answers. */
int vmms_hotplug_check_state(struct vmms_vm *vm, enum vmms_op op, sd_bus_error *e);
int vmms_hotplug_store_and_reply(struct vmms_vm *vm, sd_bus_message *call, const struct vm_config *next, int index,
                                 const char *what, sd_bus_error *e);
int vmms_hotplug_send_dvd(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, uint32_t drive,
                          const struct vm_dvd_config *dvd, int fd, sd_bus_error *e);
/* Sends disk-qos for disks[index]; the configuration's disk takes q when
 * the worker answers. */
int vmms_hotplug_send_disk_qos(struct vmms_vm *vm, sd_bus_message *call, uint32_t index,
                               const struct vm_disk_qos *q, sd_bus_error *e);
/* qos.c: SetDiskQoS(index, max_iops, min_iops, max_bytes_per_s). */
int vmms_disk_qos_change(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, const struct vm_disk_qos *q,
                         sd_bus_error *e);
/* The worker's "disk-qos" events: logged, signalled (DiskQoSMinimum). */
extern const struct vmms_worker_event vmms_disk_qos_events[];
/* "disks[i]: Storage QoS max_iops N, min_iops N, max_bytes_per_s N" for the log. */
void vmms_disk_qos_describe(uint32_t index, const struct vm_disk_qos *q, char *buf, size_t len);
/* Sends nic-qos for nics[index]; the configuration's NIC takes q when
 * the worker answers. */
int vmms_hotplug_send_nic_qos(struct vmms_vm *vm, sd_bus_message *call, uint32_t index,
                              const struct vm_nic_qos *q, sd_bus_error *e);
/* nic-qos.c: SetNicQoS(index, max_in_bps, max_out_bps). */
int vmms_nic_qos_change(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, const struct vm_nic_qos *q,
                        sd_bus_error *e);
/* "nics[i]: bandwidth caps in N, out N bits/s" for the log. */
void vmms_nic_qos_describe(uint32_t index, const struct vm_nic_qos *q, char *buf, size_t len);
/* min-weight.c: SetNicMinWeight(index, weight). */
int vmms_nic_min_weight_change(struct vmms_vm *vm, sd_bus_message *call, uint32_t index, uint32_t weight,
                               sd_bus_error *e);
/* Makes the uplink's qdisc (--nic-uplink) the running NICs' weights', if
 * they changed since it was last made: 0, or -errno with why in err
 * (-EBUSY: a root qdisc vmms did not make). */
int vmms_uplink_sync(struct vmms_daemon *d, char *err, size_t errlen);
/* The same, logging a failure: after a state or configuration change. */
void vmms_uplink_changed(struct vmms_daemon *d);
/* dvd.c: InsertDvd (path) and EjectDvd (path NULL) of dvd_drives[drive]. */
int vmms_dvd_change(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, uint32_t drive, const char *path,
                    sd_bus_error *e);
/* The worker ended (the call was answered by worker.c) or the VM goes. */
void vmms_hotplug_worker_ended(struct vmms_vm *vm);
