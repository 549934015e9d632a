/* SPDX-License-Identifier: MIT */
/* The configuration side of AttachDisk, DetachDisk, ResizeDisk, AttachNic
 * and DetachNic (docs/dbus-api.md, docs/vmms.md "Disks and NICs of a
 * running VM"), as pure functions with a fuzz target
 * (tests/fuzz/fuzz-vmms-hotplug.c). A D-Bus caller's entry is appended to
 * the VM's configuration and the whole is parsed as Update parses it
 * (vmms_config_parse_for), so a running VM's worker (which parses the
 * same way, vmwp/control-hotplug.c), the VM's next start and `vmctl edit`
 * accept exactly the same. A removal moves the later entries down one
 * index, as the worker does. Errors are "<field>: <reason>" sentences. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct json_object;

/* The smallest RLIMIT_FSIZE vmms asks a worker's sandbox for ("hot_plug"
 * "max_file_size", common/proto.h): a writable image hot-added later, or a
 * raw disk grown while the VM runs, may reach this size (or the largest
 * writable image the VM started with, if that is larger). */
#define VMMS_HOT_PLUG_FILE_SIZE (64ull << 30)

/* cur with one more disk: entry (the JSON text of one "disks" entry)
 * appended. Without "lun" it gets the first LUN its bus and controller
 * have free. out->disks[cur->n_disks] is the new entry. Errors:
 * -EINVAL (not a JSON object, duplicate keys, a field), -EEXIST (the image
 * or the bus, controller and LUN of another disk), -ENOSPC (VM_DISKS_MAX
 * disks, no LUN free). */
int vmms_config_add_disk(const struct vm_config *cur, const char *entry, size_t len, struct vm_config *out,
                         char *err, size_t errlen);

/* cur with one more NIC (the JSON text of one "nics" entry). Without
 * "instance" it gets the GUID vm_config_parse() derives for index k
 * ("nic<k>"), k the smallest from the new index on that no NIC has:
 * instances stay with their NICs when a removal moves them down, so the
 * new index's own may be taken. Errors: -EINVAL, -EEXIST (the MAC, the
 * TAP or the instance of another), -ENOSPC (VM_NICS_MAX NICs,
 * VM_NIC_QUEUES_MAX queues in all). */
int vmms_config_add_nic(const struct vm_config *cur, const char *entry, size_t len, struct vm_config *out,
                        char *err, size_t errlen);

/* cur without disks[index] (nics[index]); the later ones move down one
 * index, the NICs keep their instance GUIDs. -ENOENT for an index the VM
 * does not have. */
int vmms_config_remove_disk(const struct vm_config *cur, uint32_t index, struct vm_config *out, char *err,
                            size_t errlen);
int vmms_config_remove_nic(const struct vm_config *cur, uint32_t index, struct vm_config *out, char *err,
                           size_t errlen);

/* disks[index] (nics[index]) of c as a JSON object in the configuration's
 * own form (every field explicit), for the worker's request; NULL when out
 * of memory or out of range. */
struct json_object *vmms_config_disk_json(const struct vm_config *c, uint32_t index);
struct json_object *vmms_config_nic_json(const struct vm_config *c, uint32_t index);

/* ResizeDisk(index, bytes) against c: -ENOENT (no such disk), -EOPNOTSUPP
 * (a VHDX image; an IDE disk or a read-only one while the VM runs),
 * -EINVAL (0 bytes, not whole sectors). */
int vmms_disk_resize_check(const struct vm_config *c, uint32_t index, uint64_t bytes, bool running, char *err,
                           size_t errlen);

/* "hot_plug" "max_file_size" for a VM whose writable disks are sizes[n]
 * bytes large now: the largest of them and VMMS_HOT_PLUG_FILE_SIZE. */
uint64_t vmms_hot_plug_file_size(const uint64_t *sizes, size_t n);
