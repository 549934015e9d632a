/* SPDX-License-Identifier: MIT */
/* The fake worker's disks and NICs of a running VM (vmms-fake-hotplug.c):
 * disk-attach, disk-detach, disk-resize, nic-attach and nic-detach as vmwp
 * answers them (docs/vmwp.md "Disks and NICs of a running VM"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

struct json_object;
struct fake_hotplug;

/* The VM as it started: its configuration c (copied) and the config
 * message msg with its n fds (disks first, then TAP queues, ..., VHDX
 * parents last: common/proto.h), of which the disks', TAPs' and parents'
 * are kept from now on. NULL with a reason in err for a "hot_plug" vmwp
 * would refuse. */
struct fake_hotplug *fake_hotplug_new(const struct vm_config *c, struct json_object *msg, const int *fds, size_t n,
                                      char *err, size_t errlen);
/* Whether op is one of the five. */
bool fake_hotplug_is_op(const char *op);
/* Runs req with its fds (taken: kept or closed): 0 with the reply's
 * fields added to fields, or -errno with a sentence in err. line gets
 * what the console shows (may stay empty). */
int fake_hotplug_run(struct fake_hotplug *h, struct json_object *req, int *fds, size_t n_fds, bool paused,
                     struct json_object *fields, char *err, size_t errlen, char *line, size_t linelen);
/* "fake-vmwp: disks[I] PATH" and "fake-vmwp: nics[I] tap=T instance=G"
 * lines of the VM's devices now, into buf. */
void fake_hotplug_describe(const struct fake_hotplug *h, char *buf, size_t len);
