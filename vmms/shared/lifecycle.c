// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/proto.h"
#include "vmms/lifecycle.h"

static const char *const state_names[VMMS_STATE_MAX] = {
        [VMMS_STATE_OFF] = "Off",           [VMMS_STATE_STARTING] = "Starting",
        [VMMS_STATE_RUNNING] = "Running",   [VMMS_STATE_PAUSED] = "Paused",
        [VMMS_STATE_STOPPING] = "Stopping", [VMMS_STATE_CRASHED] = "Crashed",
        [VMMS_STATE_SAVING] = "Saving",     [VMMS_STATE_SAVED] = "Saved",
        [VMMS_STATE_MIGRATING] = "Migrating",
};

static const char *const op_names[VMMS_OP_MAX] = {
        [VMMS_OP_START] = "Start",   [VMMS_OP_STOP] = "Stop",     [VMMS_OP_KILL] = "Kill",
        [VMMS_OP_REBOOT] = "Reboot", [VMMS_OP_PAUSE] = "Pause",   [VMMS_OP_RESUME] = "Resume",
        [VMMS_OP_DELETE] = "Delete", [VMMS_OP_CONSOLE] = "OpenConsole", [VMMS_OP_KVP] = "SetKVP",
        [VMMS_OP_SAVE] = "Save",     [VMMS_OP_DISCARD_SAVED] = "DiscardSavedState",
        [VMMS_OP_MIGRATE] = "Migrate", [VMMS_OP_CANCEL_MIGRATION] = "CancelMigration",
        [VMMS_OP_COPY_FILE] = "CopyFile", [VMMS_OP_CANCEL_FILE_COPY] = "CancelFileCopy",
        [VMMS_OP_EXPORT_SAVED] = "ExportSavedState", [VMMS_OP_IMPORT_SAVED] = "ImportSavedState",
        [VMMS_OP_ATTACH_DISK] = "AttachDisk", [VMMS_OP_DETACH_DISK] = "DetachDisk",
        [VMMS_OP_RESIZE_DISK] = "ResizeDisk", [VMMS_OP_ATTACH_NIC] = "AttachNic",
        [VMMS_OP_DETACH_NIC] = "DetachNic", [VMMS_OP_RECONNECT_MIGRATION] = "ReconnectMigration",
        [VMMS_OP_NMI] = "InjectNmi", [VMMS_OP_INSERT_DVD] = "InsertDvd", [VMMS_OP_EJECT_DVD] = "EjectDvd",
        [VMMS_OP_SET_DISK_QOS] = "SetDiskQoS", [VMMS_OP_SET_NIC_QOS] = "SetNicQoS",
        [VMMS_OP_SET_NIC_MIN_WEIGHT] = "SetNicMinWeight",
};

#define S(x) (1u << VMMS_STATE_##x)
/* The states each operation is allowed in. Stop and Kill are allowed in
 * Crashed so that a pending restart (restart policy) can be cancelled.
 * Start resumes a Saved VM. Stop and Kill are not allowed in Saved: they
 * would lose the saved state by accident; DiscardSavedState says so. A
 * Saved VM's devices are not changed (Update): its state must match
 * it (vmms_config_check_update). Kill while Saving ends the save (the VM is not lost: its worker's
 * end is handled as any other). */
static const unsigned op_allowed[VMMS_OP_MAX] = {
        [VMMS_OP_START] = S(OFF) | S(CRASHED) | S(SAVED),
        [VMMS_OP_STOP] = S(STARTING) | S(RUNNING) | S(PAUSED) | S(CRASHED),
        [VMMS_OP_KILL] = S(STARTING) | S(RUNNING) | S(PAUSED) | S(STOPPING) | S(CRASHED) | S(SAVING) | S(MIGRATING),
        [VMMS_OP_REBOOT] = S(RUNNING),
        [VMMS_OP_PAUSE] = S(RUNNING),
        [VMMS_OP_RESUME] = S(PAUSED),
        [VMMS_OP_DELETE] = S(OFF) | S(CRASHED) | S(SAVED),
        [VMMS_OP_CONSOLE] = S(STARTING) | S(RUNNING) | S(PAUSED) | S(STOPPING),
        [VMMS_OP_KVP] = S(RUNNING) | S(PAUSED),
        [VMMS_OP_SAVE] = S(RUNNING) | S(PAUSED),
        [VMMS_OP_DISCARD_SAVED] = S(SAVED),
        [VMMS_OP_MIGRATE] = S(RUNNING) | S(SAVED), /* a Saved VM moves (quick) */
        /* Running: a quick migration asking the destination before its save. */
        [VMMS_OP_CANCEL_MIGRATION] = S(MIGRATING) | S(RUNNING),
        [VMMS_OP_COPY_FILE] = S(RUNNING),
        [VMMS_OP_CANCEL_FILE_COPY] = S(RUNNING) | S(PAUSED), /* a copy stalls while paused */
        [VMMS_OP_EXPORT_SAVED] = S(SAVED),
        [VMMS_OP_IMPORT_SAVED] = S(OFF) | S(CRASHED), /* a Saved VM's state is discarded first */
        /* A running VM's worker changes its devices; a paused one cannot
         * (quiesced), a Saved one's state is for the devices it has. */
        [VMMS_OP_ATTACH_DISK] = S(OFF) | S(CRASHED) | S(RUNNING),
        [VMMS_OP_DETACH_DISK] = S(OFF) | S(CRASHED) | S(RUNNING),
        [VMMS_OP_RESIZE_DISK] = S(OFF) | S(CRASHED) | S(RUNNING),
        [VMMS_OP_ATTACH_NIC] = S(OFF) | S(CRASHED) | S(RUNNING),
        [VMMS_OP_DETACH_NIC] = S(OFF) | S(CRASHED) | S(RUNNING),
        [VMMS_OP_RECONNECT_MIGRATION] = S(MIGRATING),
        [VMMS_OP_NMI] = S(RUNNING), /* as Hyper-V: a paused guest would take it only later */
        [VMMS_OP_INSERT_DVD] = S(OFF) | S(CRASHED) | S(RUNNING),
        [VMMS_OP_EJECT_DVD] = S(OFF) | S(CRASHED) | S(RUNNING),
        /* A rate, no device: a paused worker takes it too, a Saved VM's
         * configuration (its disks open with it at the restore). */
        [VMMS_OP_SET_DISK_QOS] = S(OFF) | S(CRASHED) | S(SAVED) | S(RUNNING) | S(PAUSED),
        [VMMS_OP_SET_NIC_QOS] = S(OFF) | S(CRASHED) | S(SAVED) | S(RUNNING) | S(PAUSED),
        /* vmms's own qdisc on the uplink: no worker involved. */
        [VMMS_OP_SET_NIC_MIN_WEIGHT] = S(OFF) | S(CRASHED) | S(SAVED) | S(RUNNING) | S(PAUSED),
};
/* Where an operation leads: asking for it there again is "already". */
static const unsigned op_already[VMMS_OP_MAX] = {
        [VMMS_OP_START] = S(RUNNING) | S(PAUSED),
        [VMMS_OP_STOP] = S(OFF) | S(STOPPING),
        [VMMS_OP_KILL] = S(OFF),
        [VMMS_OP_PAUSE] = S(PAUSED),
        [VMMS_OP_RESUME] = S(RUNNING),
        [VMMS_OP_SAVE] = S(SAVING) | S(SAVED),
        [VMMS_OP_MIGRATE] = S(MIGRATING),
        [VMMS_OP_DISCARD_SAVED] = S(OFF),
};
#undef S

const char *vmms_state_to_string(enum vmms_state s) {
        return (unsigned)s < VMMS_STATE_MAX ? state_names[s] : "Unknown";
}

int vmms_state_from_string(const char *s) {
        for (int i = 0; i < VMMS_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *vmms_op_to_string(enum vmms_op op) {
        return (unsigned)op < VMMS_OP_MAX ? op_names[op] : "Unknown";
}

bool vmms_state_has_worker(enum vmms_state s) {
        return s == VMMS_STATE_STARTING || s == VMMS_STATE_RUNNING || s == VMMS_STATE_PAUSED ||
               s == VMMS_STATE_STOPPING || s == VMMS_STATE_SAVING || s == VMMS_STATE_MIGRATING;
}

int vmms_state_check_op(enum vmms_state s, enum vmms_op op, char *msg, size_t msglen) {
        if ((unsigned)op >= VMMS_OP_MAX || (unsigned)s >= VMMS_STATE_MAX) {
                snprintf(msg, msglen, "unknown operation or state");
                return -EINVAL;
        }
        unsigned bit = 1u << s;
        if (op_allowed[op] & bit) {
                snprintf(msg, msglen, "%s allowed", op_names[op]);
                return 0;
        }
        char allowed[160] = "";
        for (int i = 0; i < VMMS_STATE_MAX; i++)
                if (op_allowed[op] & (1u << i)) {
                        size_t l = strlen(allowed);
                        snprintf(allowed + l, sizeof allowed - l, "%s%s", l ? ", " : "", state_names[i]);
                }
        snprintf(msg, msglen, "%s is not possible while the VM is %s (possible in: %s)", op_names[op],
                 state_names[s], allowed);
        if (op_already[op] & bit)
                return -EALREADY;
        if (s == VMMS_STATE_STARTING || s == VMMS_STATE_STOPPING || s == VMMS_STATE_SAVING ||
            s == VMMS_STATE_MIGRATING)
                return -EBUSY;
        return -EINVAL;
}

static void describe_end(const struct vmms_exit_report *r, char *buf, size_t len) {
        const char *why = r->reason && r->reason[0] ? r->reason : NULL;
        if (r->signal > 0) {
                const char *name = sigabbrev_np(r->signal);
                snprintf(buf, len, "worker killed by signal %s%s%s%s", name ? name : "?",
                         r->requested ? " (" : "", r->requested ? (r->request ? r->request : "stop") : "",
                         r->requested ? " requested)" : "");
        } else if (r->code >= 0) {
                const char *what = vmwp_exit_status_to_string(r->code);
                /* vmwp's reasons often start with the same words ("powered off (ACPI S5)"). */
                if (why && !strncmp(why, what, strlen(what)))
                        what = NULL;
                snprintf(buf, len, "%s%s%s (exit status %d)", what ? what : "", what && why ? ": " : "",
                         why ? why : "", r->code);
        }
        else
                snprintf(buf, len, "worker ended without an exit status%s%s", why ? ": " : "",
                         why ? why : "");
}

void vmms_exit_classify(const struct vmms_exit_report *r, struct vmms_exit_verdict *v) {
        describe_end(r, v->reason, sizeof v->reason);
        if (r->requested) {
                v->end = VMMS_END_REQUESTED;
                v->state = VMMS_STATE_OFF;
                return;
        }
        switch (r->signal > 0 ? -1 : r->code) {
        case VMWP_EXIT_POWEROFF:
        case VMWP_EXIT_STOPPED: /* stopped from outside vmms, e.g. SIGTERM by an admin */
                v->end = VMMS_END_CLEAN;
                v->state = VMMS_STATE_OFF;
                return;
        case VMWP_EXIT_RESET:
                v->end = VMMS_END_RESET;
                v->state = VMMS_STATE_OFF;
                return;
        default:
                v->end = VMMS_END_FAILURE;
                v->state = VMMS_STATE_CRASHED;
                return;
        }
}

enum vmms_restart_decision vmms_restart_decide(enum vm_restart_policy p, enum vmms_end end,
                                               const struct vmms_restart_limits *lim,
                                               struct vmms_restart_state *st, uint64_t now_us,
                                               uint64_t *delay_us) {
        *delay_us = 0;
        if (end == VMMS_END_RESET)
                return VMMS_RESTART_YES;
        bool want = (p == VM_RESTART_ALWAYS && (end == VMMS_END_CLEAN || end == VMMS_END_FAILURE)) ||
                    (p == VM_RESTART_ON_FAILURE && end == VMMS_END_FAILURE);
        if (!want)
                return VMMS_RESTART_NO;
        if (st->count == 0 || now_us < st->window_start_us || now_us - st->window_start_us >= lim->window_us) {
                st->window_start_us = now_us;
                st->count = 0;
        }
        if (st->count >= lim->burst)
                return VMMS_RESTART_LIMIT;
        uint64_t d = lim->base_delay_us;
        for (unsigned i = 0; i < st->count && d < lim->max_delay_us; i++)
                d *= 2;
        *delay_us = MIN(d, lim->max_delay_us);
        st->count++;
        return VMMS_RESTART_YES;
}
