/* SPDX-License-Identifier: MIT */
/* The worker side of the vmms <-> vmwp protocol (common/include/common/proto.h).
 * The request handler is a pure function over a parsed message and a small
 * ops table, so it is unit-tested and fuzzed without a VM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct json_object;
struct vmwp_vm_options;

/* One request on its way to its handler (vmwp_control_handle). */
struct vmwp_request {
        struct json_object *req;
        struct json_object *id; /* the integer "id" to echo, NULL without */
        int fd;                 /* PROTO_FDS_ONE, _FIRST: the op's (taken), -1 none */
        int *fds;               /* PROTO_FDS_ALL: the op's to take, in order */
        size_t n_fds;
        const char *state_event; /* set by the handler: "running"/"paused" to follow the reply */
};

/* The reply to r: ok when rc >= 0, else "errno" -rc and "error" err;
 * the handler adds its fields. NULL without memory. */
struct json_object *vmwp_control_reply(const struct vmwp_request *r, int rc, const char *err);

/* An op the worker answers itself over the running VM (vmwp/run*.c): reads
 * r->req, takes its fds as its row in proto_ops says, answers with
 * vmwp_control_reply() and its fields. */
typedef struct json_object *vmwp_op_fn(void *opaque, struct vmwp_request *r);

struct vmwp_control_ops {
        int (*pause)(void *opaque);
        int (*resume)(void *opaque);
        bool (*is_paused)(void *opaque);
        void (*stop)(void *opaque);
        void (*power_button)(void *opaque);
        /* "nmi": an NMI to every vCPU; how many took it. NULL: ENOTSUP. */
        int (*nmi)(void *opaque);
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
        /* "processor": the processor limit (1..100 %, checked) set when
         * set, then "limit_pct" and "throttled_ms" into `into`. NULL: ENOTSUP. */
        int (*processor)(void *opaque, bool set, uint32_t limit_pct, struct json_object *into);
        /* The ops that carry fds or run long, answered whole by the
         * worker: save, migrate-send, dirty-check, disk-merge, disk-push,
         * fcopy, fcopy-cancel, hvsock-connected, the five hot-plug ops
         * (one handler: vmwp_control_hotplug_op() tells which) and
         * reattach-listen. Unlike the ops above, a non-integer "id" is left
         * out of their reply rather than refused. NULL: EOPNOTSUPP. */
        vmwp_op_fn *save, *migrate_send, *dirty_check, *disk_merge, *disk_push, *fcopy, *fcopy_cancel,
                *hvsock_connected, *hotplug, *reattach_listen;
        /* dvd-insert (r->fd: the ISO) and dvd-eject: one handler, the op
         * names which (vmwp_control_parse_dvd). */
        vmwp_op_fn *dvd;
        /* disk-qos: a disk's Storage QoS (vmwp_control_parse_disk_qos). */
        vmwp_op_fn *disk_qos;
        /* nic-qos: a NIC's bandwidth caps (vmwp_control_parse_nic_qos). */
        vmwp_op_fn *nic_qos;
};

/* The one dispatcher of the worker's requests: finds the op's row in the
 * protocol's table (common/proto.h), keeps the fds that row names (closes
 * the others; fds are always taken) and calls its handler. Returns the
 * reply to send (never NULL unless out of memory). *state_event is set to
 * "running"/"paused" when a state event must follow the reply, else NULL.
 * Malformed requests get ok:false replies: EINVAL (no op, bad id, bad
 * field), EOPNOTSUPP (unknown op, or one ops has no handler for), EBUSY (a
 * second config), and the integration services' own errors (ENOTSUP: the
 * service is not configured; shutdown: ENOTCONN, the guest has not opened
 * it, EBUSY, a request is pending; kvp-get with "key": ENOENT; kvp-set:
 * EINVAL, ENOSPC, ENOENT for deleting an unknown key; console-status:
 * ENOTSUP, the console is not a socket; vss: EINVAL for another operation,
 * ENOTSUP without the service, ENOTCONN before the guest opened it, EBUSY
 * while one is unanswered; memory: EINVAL for a target that is not a
 * number of bytes up to 2^50, ENOTSUP without Dynamic Memory). */
struct json_object *vmwp_control_handle(const struct vmwp_control_ops *ops, void *opaque, struct json_object *req,
                                        int *fds, size_t n_fds, const char **state_event);

/* {"op":"config","config":{...}} -> cfg; -EINVAL with the reason in err. */
int vmwp_control_parse_config(struct json_object *msg, struct vm_config *cfg, char *err, size_t errlen);
/* Assigns received fds: one per disk in disk order, then one per NIC with a
 * "tap" name, in NIC order, then the files the message's "files" names
 * (kernel, initrd, serial_log; proto.h), then the VHDX parents that
 * "disk_parents" counts per disk (into opt->parent_fds and
 * opt->n_disk_parents). Also reads "hot_plug" (opt->hotplug_*). Takes
 * ownership of all n fds (closes them on error). */
int vmwp_control_assign_fds(const struct vm_config *cfg, struct json_object *msg, int *fds, size_t n,
                            struct vmwp_vm_options *opt, char *err, size_t errlen);

/* ---- disks and NICs of a running VM (docs/vmwp.md "Disks and NICs of a
 * running VM", common/proto.h) ---- */

enum vmwp_hotplug_op {
        VMWP_HOTPLUG_NONE,
        VMWP_DISK_ATTACH, /* {"op":"disk-attach","disk":{entry},"parents":n} + image fd + n parent fds */
        VMWP_DISK_DETACH, /* {"op":"disk-detach","disk":i} */
        VMWP_DISK_RESIZE, /* {"op":"disk-resize","disk":i,"size":bytes} */
        VMWP_NIC_ATTACH,  /* {"op":"nic-attach","nic":{entry},"queues":q} + q TAP fds */
        VMWP_NIC_DETACH,  /* {"op":"nic-detach","nic":i} */
};

struct vmwp_hotplug {
        enum vmwp_hotplug_op op;
        /* detach, resize: the disk's or NIC's index; attach: the index the
         * new one gets (the configuration's n_disks or n_nics) */
        uint32_t index;
        uint64_t size;              /* disk-resize: bytes, whole sectors */
        uint32_t parents;           /* disk-attach: VHDX parent fds after the image's, nearest first */
        uint32_t queues;            /* nic-attach: TAP queue fds */
        bool steer;                 /* nic-attach: the TAP's RSS steering map follows the queue fds */
        struct vm_disk_config disk; /* disk-attach: the entry as vm_config_parse() reads it */
        struct vm_nic_config nic;   /* nic-attach: likewise, its instance GUID derived if absent */
};

/* Which hot-plug op req is; VMWP_HOTPLUG_NONE for any other request. */
enum vmwp_hotplug_op vmwp_control_hotplug_op(struct json_object *req);
const char *vmwp_hotplug_op_name(enum vmwp_hotplug_op op);
/* Checks a hot-plug request against the VM's configuration and the number
 * of fds it came with, and fills out. A new entry must be one that
 * vm_config_parse() accepts appended to the configuration (the same
 * field checks, duplicates and limits vmms applies); a missing NIC
 * instance is derived as the parse would, from the new index. Errors,
 * with a sentence: EINVAL (a field, the fd count), ENOENT (no such index),
 * ENOSPC (VM_DISKS_MAX, VM_NICS_MAX, VM_NIC_QUEUES_MAX), EEXIST (the
 * controller and LUN, the image, the MAC, the TAP or the instance of
 * another), EOPNOTSUPP (an IDE disk; growing a VHDX). The caller closes the
 * fds on error. Pure. */
int vmwp_control_parse_hotplug(const struct vm_config *cfg, struct json_object *req, size_t n_fds,
                               struct vmwp_hotplug *out, char *err, size_t errlen);

/* disk-qos (common/proto.h): *disk an index of cfg->disks, *out its
 * Storage QoS with the request's fields ("max_iops", "min_iops",
 * "max_bytes_per_s"; one left out keeps its value) applied. -EINVAL (a
 * field negative or not an integer; the settings vm_disk_qos_invalid
 * refuses, named "disks[i].qos.<field>"), -ENOENT (no such disk), with a
 * sentence. Pure. */
int vmwp_control_parse_disk_qos(const struct vm_config *cfg, struct json_object *req, uint32_t *disk,
                                struct vm_disk_qos *out, char *err, size_t errlen);

/* nic-qos (common/proto.h): *nic an index of cfg->nics, *out its
 * bandwidth caps with the request's fields ("max_in_bps", "max_out_bps";
 * one left out keeps its value) applied. -EINVAL (a field negative or not
 * an integer; the settings vm_nic_qos_invalid refuses, named
 * "nics[i].qos.<field>"), -ENOENT (no such NIC), with a sentence. Pure. */
int vmwp_control_parse_nic_qos(const struct vm_config *cfg, struct json_object *req, uint32_t *nic,
                               struct vm_nic_qos *out, char *err, size_t errlen);

/* A DVD change (common/proto.h dvd-insert, dvd-eject) checked against the
 * configuration: *drive an index of cfg->dvds, *insert which op, *path
 * the new disc's "path" (insert; "" when absent, else a plain string of
 * less than VM_PATH_MAX bytes). has_fd: the request came with its one fd
 * (insert needs it, eject takes none). -EINVAL (a field, the fd),
 * -ENOENT (no such drive), with a sentence. Pure. */
int vmwp_control_parse_dvd(const struct vm_config *cfg, struct json_object *req, bool has_fd, uint32_t *drive,
                           bool *insert, char *path, char *err, size_t errlen);
