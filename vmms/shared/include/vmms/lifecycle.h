/* SPDX-License-Identifier: MIT */
/* The VM state machine of vmms, as pure functions: which operation is allowed
 * in which state, how a worker's end is classified (Off or Crashed, and why),
 * and whether the restart policy starts the VM again and after what delay.
 * docs/vmms.md describes the states; the daemon only applies these. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* ExitReason: long enough for a worker's reason that names a whole path
 * (VM_PATH_MAX) followed by its cause, and vmms's additions around it. */
#define VMMS_EXIT_REASON_MAX (VM_PATH_MAX + 512)

enum vmms_state {
        VMMS_STATE_OFF,
        VMMS_STATE_STARTING,
        VMMS_STATE_RUNNING,
        VMMS_STATE_PAUSED,
        VMMS_STATE_STOPPING,
        VMMS_STATE_CRASHED,
        VMMS_STATE_SAVING, /* the worker writes the saved state (docs/vm-state.md) */
        VMMS_STATE_SAVED,  /* no worker; the state file restores it at Start */
        VMMS_STATE_MIGRATING, /* the worker sends the running VM to another vmms (docs/migration.md) */
        VMMS_STATE_MAX,
};

enum vmms_op {
        VMMS_OP_START,
        VMMS_OP_STOP,
        VMMS_OP_KILL,
        VMMS_OP_REBOOT,
        VMMS_OP_PAUSE,
        VMMS_OP_RESUME,
        VMMS_OP_DELETE,
        VMMS_OP_CONSOLE,
        VMMS_OP_KVP, /* SetKVP, RemoveKVP: the worker's KVP service */
        VMMS_OP_SAVE,
        VMMS_OP_DISCARD_SAVED, /* DiscardSavedState */
        VMMS_OP_MIGRATE,
        VMMS_OP_CANCEL_MIGRATION,
        VMMS_OP_COPY_FILE, /* CopyFile: the worker's file-copy service */
        VMMS_OP_CANCEL_FILE_COPY,
        VMMS_OP_EXPORT_SAVED, /* ExportSavedState */
        VMMS_OP_IMPORT_SAVED, /* ImportSavedState */
        /* A running VM's devices (hotplug.c), or an Off one's configuration */
        VMMS_OP_ATTACH_DISK,
        VMMS_OP_DETACH_DISK,
        VMMS_OP_RESIZE_DISK,
        VMMS_OP_ATTACH_NIC,
        VMMS_OP_DETACH_NIC,
        VMMS_OP_RECONNECT_MIGRATION, /* ReconnectMigration: a live channel's new address */
        VMMS_OP_NMI, /* InjectNmi */
        VMMS_OP_INSERT_DVD, /* InsertDvd, EjectDvd: a running VM's drive, or an Off one's configuration */
        VMMS_OP_EJECT_DVD,
        VMMS_OP_SET_DISK_QOS, /* SetDiskQoS: a running or paused VM's worker, else the configuration */
        VMMS_OP_SET_NIC_QOS,  /* SetNicQoS: likewise, a NIC's bandwidth caps */
        VMMS_OP_SET_NIC_MIN_WEIGHT, /* SetNicMinWeight: a NIC's share of the uplink (vmms's qdisc) */
        VMMS_OP_MAX,
};

const char *vmms_state_to_string(enum vmms_state s);
/* -EINVAL for an unknown name. */
int vmms_state_from_string(const char *s);
const char *vmms_op_to_string(enum vmms_op op);
/* A worker exists in these states (Starting, Running, Paused, Stopping, Saving, Migrating). */
bool vmms_state_has_worker(enum vmms_state s);

/* 0 if op is allowed in state s; -EALREADY when the VM already is where the
 * operation would take it; -EBUSY when another operation is in progress;
 * -EINVAL otherwise. msg receives a sentence for the caller either way. */
int vmms_state_check_op(enum vmms_state s, enum vmms_op op, char *msg, size_t msglen);

/* How a worker ended, as far as vmms knows. */
struct vmms_exit_report {
        int code;           /* exit status; -1 if killed by a signal or unknown */
        int signal;         /* terminating signal; 0 if none or unknown */
        const char *reason; /* the worker's reason from its "exit" event; may be NULL */
        bool requested;     /* vmms stopped or killed it on request (Stop, Kill) */
        const char *request; /* which request ("Kill", "Stop"), for the reason; may be NULL */
};

enum vmms_end {
        VMMS_END_CLEAN,     /* guest powered off, or stopped from outside vmms */
        VMMS_END_REQUESTED, /* Stop/Kill through the API: never restarted */
        VMMS_END_RESET,     /* guest reboot: always started again */
        VMMS_END_FAILURE,   /* crash, setup failure, unknown: Crashed */
};

struct vmms_exit_verdict {
        enum vmms_end end;
        enum vmms_state state; /* Off or Crashed */
        char reason[VMMS_EXIT_REASON_MAX];
};

void vmms_exit_classify(const struct vmms_exit_report *r, struct vmms_exit_verdict *v);

/* Restart policy: exponential back-off from base_delay_us up to max_delay_us;
 * more than burst restarts within window_us stop the policy (the VM stays
 * Crashed with "restart limit reached"). */
struct vmms_restart_limits {
        uint64_t base_delay_us;
        uint64_t max_delay_us;
        uint64_t window_us;
        unsigned burst;
};

struct vmms_restart_state {
        uint64_t window_start_us;
        unsigned count;
};

enum vmms_restart_decision {
        VMMS_RESTART_NO,
        VMMS_RESTART_YES,
        VMMS_RESTART_LIMIT, /* the policy wanted a restart but the limit was hit */
};

/* Decides for a VM whose worker ended with `end` at now_us; updates st and
 * sets *delay_us for VMMS_RESTART_YES. Resets restart immediately. */
enum vmms_restart_decision vmms_restart_decide(enum vm_restart_policy p, enum vmms_end end,
                                               const struct vmms_restart_limits *lim,
                                               struct vmms_restart_state *st, uint64_t now_us,
                                               uint64_t *delay_us);
