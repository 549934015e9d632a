/* SPDX-License-Identifier: MIT */
/* The worker side of the vmms <-> vmwp protocol (common/include/common/proto.h).
 * The request handler is a pure function over a parsed message and a small
 * ops table, so it is unit-tested and fuzzed without a VM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

struct json_object;
struct vmwp_vm_options;

struct vmwp_control_ops {
        int (*pause)(void *opaque);
        int (*resume)(void *opaque);
        bool (*is_paused)(void *opaque);
        void (*stop)(void *opaque);
        void (*power_button)(void *opaque);
        /* Graceful shutdown/reboot through the guest's integration service. */
        int (*shutdown)(void *opaque, bool reboot);
        /* KVP (the integration service, §8.6): add "items" (the guest's),
         * "host" (the host's items) and "ready" to a reply; set a host
         * item, or delete it (value NULL). NULL ops answer ENOTSUP. */
        int (*kvp_get)(void *opaque, struct json_object *into);
        int (*kvp_set)(void *opaque, const char *key, const char *value);
        /* "console-status": add "connected", "clients", "since_us" (the
         * serial console's client slot); -ENOTSUP without a socket console. */
        int (*console_status)(void *opaque, struct json_object *into);
        /* Add fields to a status / stats reply. */
        void (*status)(void *opaque, struct json_object *into);
        int (*stats)(void *opaque, struct json_object *into);
        /* "vss": ask the guest's backup service to freeze, thaw or report
         * (enum hv_vss_op); its answer is a "vss" event. NULL: ENOTSUP. */
        int (*vss)(void *opaque, uint8_t op);
        /* "memory": Dynamic Memory's state into `into`, after setting the
         * target when set (vmwp_vm_memory). NULL: ENOTSUP. */
        int (*memory)(void *opaque, bool set, uint64_t target_bytes, struct json_object *into);
};

/* Handles one request. Returns the reply to send (never NULL unless out of
 * memory). *state_event is set to "running"/"paused" when a state event must
 * follow the reply, else NULL. Malformed requests get ok:false replies:
 * EINVAL (no op, bad id, bad field), EOPNOTSUPP (unknown op), EBUSY (a
 * second config), and the integration services' own errors (ENOTSUP: the
 * service is not configured; shutdown: ENOTCONN, the guest has not opened
 * it, EBUSY, a request is pending; kvp-get with "key": ENOENT; kvp-set:
 * EINVAL, ENOSPC, ENOENT for deleting an unknown key; console-status:
 * ENOTSUP, the console is not a socket; vss: EINVAL for another operation,
 * ENOTSUP without the service, ENOTCONN before the guest opened it, EBUSY
 * while one is unanswered; memory: EINVAL for a target that is not a
 * number of bytes up to 2^50, ENOTSUP without Dynamic Memory). */
struct json_object *vmwp_control_handle(const struct vmwp_control_ops *ops, void *opaque, struct json_object *req,
                                        const char **state_event);

/* {"op":"config","config":{...}} -> cfg; -EINVAL with the reason in err. */
int vmwp_control_parse_config(struct json_object *msg, struct vm_config *cfg, char *err, size_t errlen);
/* Assigns received fds: one per disk in disk order, then one per NIC with a
 * "tap" name, in NIC order, then the files the message's "files" names
 * (kernel, initrd, serial_log; proto.h), then the VHDX parents that
 * "disk_parents" counts per disk (into opt->parent_fds and
 * opt->n_disk_parents). Takes ownership of all n fds (closes them on
 * error). */
int vmwp_control_assign_fds(const struct vm_config *cfg, struct json_object *msg, int *fds, size_t n,
                            struct vmwp_vm_options *opt, char *err, size_t errlen);

/* {"event":name} with optional fields added by the caller. */
struct json_object *vmwp_control_event(const char *name);
