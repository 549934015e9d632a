/* SPDX-License-Identifier: MIT */
/* vmms internals: the daemon, its VMs and their workers. Everything hangs off
 * struct vmms_daemon (no global state); one sd-event loop, one thread. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "common/config.h"
#include "common/macro.h"
#include "vmms/memory.h"
#include "vmms/names.h"
#include "vmms/paths.h"
#include "vmms/runtime.h"
#include "vmms/lifecycle.h"

struct json_object;
struct vmms_worker;
struct vmms_cred;

#define VMMS_MIGRATION_ALLOW_MAX 16u

struct vmms_options {
        const char *bus_address; /* NULL: the system bus */
        const char *state_dir;
        const char *runtime_dir;
        const char *log_dir;
        char worker[PATH_MAX];
        const char *group; /* members may manage VMs; "" for none */
        unsigned max_vms, max_vms_per_user, max_starting, max_pending, max_pending_per_sender;
        uint64_t start_timeout_us; /* Starting -> killed if not ready by then */
        uint64_t stop_grace_us;    /* after {"op":"stop"}: SIGKILL if still alive */
        uint64_t request_timeout_us;
        struct vmms_restart_limits restart;
        bool polkit;
        struct vmms_path_policy paths; /* --storage-pool, --allow-block-devices */
        uint64_t log_max_bytes;        /* --log-max-size: rotate the console/worker logs beyond; 0: never */
        uint64_t log_check_us;         /* --log-check-interval-ms */
        /* Live migration between vmms (migrate.c, migrate-in.c, migconn.c) */
        const char *migration_listen;  /* ADDR[:PORT]; NULL: no incoming migrations */
        const char *migration_cert, *migration_key, *migration_ca;
        const char *migration_allow[VMMS_MIGRATION_ALLOW_MAX];
        size_t n_migration_allow;
        bool migration_insecure;
        /* How long a cut live-migration channel may take to come back
         * (migresume.c); 0: no resumable channel, a cut fails the move. */
        uint32_t migration_recover_ms;
        /* Dynamic Memory (memory-vm.c): host memory never given to VMs,
         * and the balancer's period. */
        uint64_t memory_reserve_mib;
        bool memory_reserve_set; /* else a tenth of the host's, 256..4096 MiB */
        uint64_t memory_interval_us;
        /* The console (display.c): the vmdisplay binary; the address the
         * web consoles listen on (numeric, without brackets; 127.0.0.1 by
         * default) and their TLS certificate and key (NULL: plain http,
         * loopback only). The VNC ports stay on 127.0.0.1. */
        char display_server[PATH_MAX];
        char console_address[48];
        bool console_v6, console_remote, console_wildcard;
        const char *console_cert, *console_key;
};

/* Parses the command line; 0 to run, 1 after --help/--version was printed,
 * -EINVAL with a message in err. */
int vmms_options_parse(int argc, char **argv, struct vmms_options *o, char *err, size_t errlen);

enum vmms_stop_phase {
        VMMS_STOP_NONE,
        VMMS_STOP_GRACEFUL, /* shutdown IC or ACPI power button sent; timer running */
        VMMS_STOP_HARD,     /* {"op":"stop"} sent; SIGKILL on the grace timer */
        VMMS_STOP_KILLED,   /* SIGKILL sent */
};

/* A live migration's vmms-to-vmms channel, as MigrationChannel shows it
 * (docs/dbus-api.md), on either end. */
struct vmms_mig_channel {
        char state[8];     /* "" (none yet), "up", "cut" (reconnecting), "closed" */
        bool held;         /* while cut: waited out without limit (a post-copy after its COMMIT) */
        uint32_t cuts;     /* in this migration */
        char why[128];     /* the last cut's reason */
        uint64_t since_us; /* CLOCK_REALTIME: when the state began */
};

struct vmms_vm {
        struct vmms_daemon *d;
        struct vm_config *config;
        char path[VMMS_VM_PATH_MAX];
        char id[GUID_STRING_MAX];
        uid_t owner;
        enum vmms_state state;
        char exit_reason[VMMS_EXIT_REASON_MAX];
        int exit_status;           /* last worker exit status, -1 if none/unknown */
        struct vmms_worker *worker;
        uint64_t running_since_us; /* CLOCK_REALTIME; 0 while not running */
        char hb_status[16];
        uint64_t hb_last_us;
        unsigned restarts;
        struct vmms_restart_state restart;
        sd_event_source *restart_timer;
        sd_event_source *op_timer; /* start timeout, stop timeout, kill grace */
        enum vmms_stop_phase stop_phase;
        bool stop_requested;       /* Stop/Kill: the end is "requested" */
        bool reboot_pending;       /* Reboot: start again when the worker ends */
        bool user_kill;            /* the end was a Kill call (not an escalated Stop) */
        uint32_t stop_timeout_s;
        char forced_reason[192];   /* overrides the exit reason (e.g. start timeout) */
        struct json_object *kvp_guest; /* the guest's KVP items as last reported; NULL: none */
        struct json_object *kvp_host;  /* host items (SetKVP), kept across guest reboots */
        sd_bus_message *fcopy_call;    /* CopyFile waiting for the guest (fcopy.c) */
        uint64_t fcopy_done, fcopy_total; /* FileCopyProgress */
        int log_rotate_error;          /* the last rotation failure, logged once */
        /* Saved state (save.c, docs/vm-state.md). */
        sd_bus_message *save_call;     /* the Save call waiting for the worker */
        enum vmms_state save_from;     /* Running or Paused: where a failed save returns */
        bool save_committed;           /* the file is in place: the worker's end makes the VM Saved */
        bool restoring;                /* this worker restores the saved state */
        uint64_t save_done, save_total; /* SaveProgress */
        uint64_t saved_bytes;          /* SavedStateSize */
        /* Live migration (migrate.c, migrate-in.c) */
        struct vmms_migration *migration; /* outgoing, while Migrating */
        bool migrated_away;            /* the destination runs it: this worker's end removes the VM */
        bool migrating_in;             /* an incoming migration's worker, not ready yet: not stored */
        bool migrate_in_aborted;       /* that worker ended before it ran: a source that asks resumes */
        bool incoming_disks;           /* ... and its writable disks are new here, filled by the stream */
        int incoming_fd;               /* the worker's end of the relay, for the spawn; -1 */
        struct vmms_quick *quick;      /* outgoing quick migration (migrate-saved.c) */
        struct vmms_saved_in *saved_in; /* an incoming Saved VM being resumed: its start result goes back */
        sd_event_source *remove_src;   /* removal deferred out of the worker's callbacks */
        uint32_t mig_pass;             /* MigrationProgress */
        uint64_t mig_bytes, mig_dirty_pages, mig_dirty_rate, mig_expected_downtime_ms;
        uint32_t mig_throttle_pct;     /* MigrationThrottle: auto-converge's share of time parked */
        struct vmms_mig_channel mig_chan; /* MigrationChannel: the live channel's (or the last one's) state */
        struct vmms_lock_handover *handover; /* image locks still held by the source (lock-handover.c) */
        /* Checkpoints (checkpoint*.c, docs/checkpoints.md) */
        struct vmms_checkpoints *ckpts; /* the tree (never NULL once loaded or created) */
        bool ckpts_damaged;             /* index.json unreadable: no checkpoint operation */
        struct vmms_ckpt_op *ckpt_op;   /* in progress: other operations wait (Busy) */
        /* Dynamic Memory (memory-vm.c, docs/dynamic-memory.md) */
        struct vmms_dm_status dm;       /* the worker's last report (all 0: none yet) */
        bool dm_known;
        uint64_t dm_manual;             /* SetTarget's bytes; 0: automatic. Kept for the guest's run (vmms_dm_run_ended) */
        uint64_t dm_sent;               /* the target last sent to the worker; 0: none */
        /* The console (display.c, docs/console.md); NULL until needed */
        struct vmms_display *display;
        /* A disk or NIC change the worker has not answered yet (hotplug.c) */
        struct vmms_hotplug *hotplug;
};

struct vmms_pending_auth;

struct vmms_daemon {
        sd_event *event;
        sd_bus *bus;
        struct vmms_options opt;
        struct vmms_vm **vms;
        size_t n_vms, cap_vms;
        int lock_fd;
        gid_t group_gid;
        bool have_group;
        bool journal;
        char boot_id[VMMS_BOOT_ID_LEN + 1];
        char **problems; /* corrupt files and records found at start: "path: reason" */
        size_t n_problems;
        /* A signal came while post-copy migrations were in flight: exit
         * once they are done (exit_timer checks), or at a second signal. */
        bool exiting;
        sd_event_source *exit_timer;
        struct vmms_pending_auth *pending;
        unsigned n_pending;
        sd_event_source *log_timer; /* rotates the logs of running VMs (logs.c) */
        sd_event_source *dm_timer;  /* Dynamic Memory's balancer (memory-vm.c) */
        struct vmms_mig_tls *mig_tls;  /* NULL: migration not configured */
        int mig_listen_fd;
        sd_event_source *mig_listen_src;
        struct vmms_incoming *incoming; /* incoming channels (migrate-in.c) */
        unsigned n_incoming;
};

/* daemon.c */
int vmms_daemon_new(const struct vmms_options *opt, struct vmms_daemon **out);
struct vmms_daemon *vmms_daemon_free(struct vmms_daemon *d);
int vmms_daemon_run(struct vmms_daemon *d);
int vmms_daemon_add_problem(struct vmms_daemon *d, const char *fmt, ...) _printf_(2, 3);
struct vmms_vm *vmms_daemon_find_id(struct vmms_daemon *d, const struct guid *id);
struct vmms_vm *vmms_daemon_find_name(struct vmms_daemon *d, const char *name);
struct vmms_vm *vmms_daemon_find_path(struct vmms_daemon *d, const char *path);
int vmms_daemon_add_vm(struct vmms_daemon *d, struct vmms_vm *vm);
void vmms_daemon_remove_vm(struct vmms_daemon *d, struct vmms_vm *vm);
unsigned vmms_daemon_count_state(struct vmms_daemon *d, enum vmms_state s);
unsigned vmms_daemon_count_owner(struct vmms_daemon *d, uid_t owner);

/* log-journal.c: per-VM log lines carry VMSTACK_VM_ID/VMSTACK_VM_NAME fields
 * in the journal; on stderr they are prefixed with the VM name. */
bool vmms_journal_stream_matches(const char *env, dev_t dev, ino_t ino);
void vmms_log_setup(struct vmms_daemon *d);
int vmms_vm_log(const struct vmms_vm *vm, int level, int error, const char *fmt, ...) _printf_(4, 5);

/* store.c: configurations under the state directory */
int vmms_store_load(struct vmms_daemon *d);
int vmms_store_save(struct vmms_vm *vm, const struct vm_config *c);
int vmms_store_remove(struct vmms_vm *vm);
/* Keeps a Crashed VM's state, ExitReason and ExitStatus across a vmms
 * restart (<state-dir>/<id>.state); other states remove it. */
int vmms_store_save_state(struct vmms_vm *vm);
int vmms_vm_dir(const struct vmms_vm *vm, const char *file, char *buf, size_t len);
int vmms_console_log_path(const struct vmms_vm *vm, char *buf, size_t len);
int vmms_worker_log_path(const struct vmms_vm *vm, char *buf, size_t len);

/* logs.c: console and worker logs bounded by --log-max-size (copytruncate
 * into "<log>.1") and removed with their VM (docs/vmms.md "Files") */
int vmms_log_rotate(const char *path, uint64_t max_bytes, char *err, size_t errlen);
void vmms_vm_logs_rotate(struct vmms_vm *vm);
void vmms_vm_logs_remove(struct vmms_vm *vm);
int vmms_logs_timer_start(struct vmms_daemon *d);

/* vm.c: the state machine applied */
struct vmms_vm *vmms_vm_new(struct vmms_daemon *d, const struct vm_config *c, uid_t owner);
struct vmms_vm *vmms_vm_free(struct vmms_vm *vm);
void vmms_vm_set_state(struct vmms_vm *vm, enum vmms_state s);
void vmms_vm_emit_changed(struct vmms_vm *vm, const char *prop);
int vmms_vm_start(struct vmms_vm *vm, char *err, size_t errlen);
int vmms_vm_stop(struct vmms_vm *vm, uint32_t timeout_s);
int vmms_vm_kill(struct vmms_vm *vm);
/* Ends the worker at once without asking the guest: {"op":"stop"} (it
 * tears down in order, its io_urings letting go of the images before it
 * exits, where a SIGKILL leaves that to the kernel, later), SIGKILL after
 * the grace period. */
int vmms_vm_stop_hard(struct vmms_vm *vm);
int vmms_vm_reboot(struct vmms_vm *vm);
void vmms_vm_cancel_restart(struct vmms_vm *vm);
/* Called by the worker module. */
void vmms_vm_on_event(struct vmms_vm *vm, struct json_object *ev);
void vmms_vm_on_exit(struct vmms_vm *vm, const struct vmms_exit_report *r);
void vmms_vm_on_ready(struct vmms_vm *vm);

/* save.c: Hyper-V's Saved state (docs/vm-state.md, docs/vmms.md "Saved
 * state"): <state-dir>/<id>.vmrs, written by the worker through an fd. */
int vmms_saved_path(const struct vmms_vm *vm, bool tmp, char *buf, size_t len);
/* Save: creates the file, asks the worker; the D-Bus reply follows the
 * worker's (call may be NULL). */
int vmms_vm_save(struct vmms_vm *vm, sd_bus_message *call, char *err, size_t errlen);
void vmms_vm_on_save_progress(struct vmms_vm *vm, struct json_object *ev);
/* The worker ended while Saving or while restoring: true when this took
 * care of the VM's state (Saved, or back to it). */
bool vmms_vm_saved_on_exit(struct vmms_vm *vm, const char *reason);
/* A restored worker runs: the state is consumed (the file goes). */
void vmms_vm_saved_consumed(struct vmms_vm *vm);
int vmms_vm_discard_saved(struct vmms_vm *vm);
/* The file to restore from, opened for the worker. */
int vmms_saved_open(struct vmms_vm *vm, char *err, size_t errlen);
/* At load: a VM with a state file is Saved; a stale temporary is removed. */
void vmms_saved_load(struct vmms_vm *vm);
/* PropertiesChanged(SaveProgress, SavedStateSize). */
void vmms_saved_emit_props(struct vmms_vm *vm);

/* saved-transfer.c: ExportSavedState/ImportSavedState (docs/vm-state.md
 * "Export and import"). The whole file a complete saved state (every CRC,
 * the end section); why: a sentence. */
int vmms_saved_check_fd(int fd, uint64_t size, char *why, size_t whylen);
/* An Off VM becomes Saved from fd (the caller's file), copied and checked
 * on a job thread; call is answered at the end (1: pending). */
int vmms_saved_import(struct vmms_vm *vm, sd_bus_message *call, int fd, sd_bus_error *e);
struct vmms_saved_import;
void vmms_saved_import_stop(struct vmms_saved_import *j);
void vmms_saved_import_free(struct vmms_saved_import *j);

/* migrate.c: Migrate() on the source (docs/migration.md "vmms") */
struct vmms_migrate_args {
        char host[256];
        uint16_t port;
        uint32_t max_downtime_ms;
        bool no_auto_converge; /* the options' auto-converge: false (the worker's default is on) */
        bool postcopy; /* the options' postcopy: switch to post-copy rather than fail to converge */
        bool quick; /* mode "quick" (a Saved VM's move is always quick) */
        /* Shared-nothing: the directory on the destination the writable
         * disks are copied into ("" : shared storage). */
        char storage_path[VM_PATH_MAX];
        int start;  /* option "start": 1, 0, -1 when not given (quick: resume there if it ran here) */
};
/* The destination and the a{sv} options as pure checks: -EINVAL with a
 * sentence. */
int vmms_migrate_args_check(const char *dest, const char *mode, int64_t max_downtime_ms,
                            struct vmms_migrate_args *out, char *err, size_t errlen);
int vmms_vm_migrate(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_migrate_args *a, char *err,
                    size_t errlen);
int vmms_vm_cancel_migration(struct vmms_vm *vm);
/* The live migration's resumable channel reconnects to dest (HOST[:PORT],
 * the same destination vmms at another address) from now on: the link in
 * use, if any, is let go. -ENOENT (no live channel), -EINVAL (dest),
 * -EOPNOTSUPP (not resumable), with a sentence. */
int vmms_vm_reconnect_migration(struct vmms_vm *vm, const char *dest, char *err, size_t errlen);
/* Shared-nothing (migrate-disks.c). The source: the configuration the
 * destination gets (each writable disk under dir by its file name) and
 * every disk's geometry (size 0: read-only, not copied), read as the
 * owner. The destination: the new images, as `as`, removed again on
 * failure; and their removal when the migration does not complete (the
 * writable disks among the first n). */
struct vmms_migchan_disk;
struct vmms_migchan_request;
int vmms_migrate_disks_prepare(struct vmms_vm *vm, const char *dir, struct vm_config *out,
                               struct vmms_migchan_disk *disks, char *err, size_t errlen);
int vmms_migrate_disks_create(struct vmms_daemon *d, const struct vmms_migchan_request *q, const struct vmms_cred *as,
                              char *err, size_t errlen);
void vmms_migrate_disks_remove(const struct vm_config *c, uint32_t n);
/* A re-attached worker whose record says its live migration to dest
 * (HOST:PORT) was committed without an answer: Migrating, and the
 * destination asked again (migrate.c). */
int vmms_vm_migration_ask_again(struct vmms_vm *vm, const char *dest);
void vmms_vm_on_migrate_progress(struct vmms_vm *vm, struct json_object *ev);
/* An incoming VM's image locks (lock-handover.c): add(disk, its fd, shared)
 * at the spawn for an image whose lock the source holds; start once the VM
 * runs here; free when the worker ends or the VM goes. */
int vmms_vm_handover_add(struct vmms_vm *vm, uint32_t disk, int fd, bool shared);
void vmms_vm_handover_start(struct vmms_vm *vm);
void vmms_vm_handover_free(struct vmms_vm *vm);
/* The worker ended: true when this took care of the VM (migrated away, or
 * held back until the destination says who has it). */
bool vmms_vm_migration_on_exit(struct vmms_vm *vm, const char *reason, enum vmms_end end, enum vmms_state state);
/* The restart policy's part of a worker's end (vm-exit.c), also after a
 * migration that held it back learned that the VM stays here. */
void vmms_vm_exit_finish(struct vmms_vm *vm, enum vmms_end end, enum vmms_state state);
/* Forgets a VM (configuration, logs, object): after it moved away, or an
 * incoming one that never ran. Deferred to the loop's next turn. */
void vmms_vm_remove_later(struct vmms_vm *vm, bool remove_logs);
void vmms_migrations_free(struct vmms_daemon *d);
/* A VM that goes away takes its migration (the channel thread) along. */
void vmms_vm_migration_free(struct vmms_vm *vm);

/* migrate-saved.c: quick migration and a Saved VM's move (docs/migration.md
 * "Quick migration"). Source: a Running VM is saved first, then the Saved
 * VM moves; the caller is answered at the end. */
int vmms_vm_migrate_quick(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_migrate_args *a, char *err,
                          size_t errlen);
/* -ENOENT: no quick migration moving; -EBUSY: the destination stored it. */
int vmms_vm_cancel_quick(struct vmms_vm *vm);
/* save.c's hooks: the save a quick migration asked for ended (why NULL:
 * the VM is Saved now). */
void vmms_vm_quick_on_saved(struct vmms_vm *vm, const char *why);
void vmms_vm_quick_free(struct vmms_vm *vm);
/* Destination: an accepted request of mode "saved" (migrate-in.c's hooks).
 * note_loop/note_thread: the incoming channel's note pair, which carries
 * this one's steps too (types 'F', 'T' to the loop; 'G', 'N', 'S', 'K' back). */
struct vmms_saved_in;
struct vmms_migchan_request;
struct vmms_mig_conn;
int vmms_saved_in_accept(struct vmms_daemon *d, const struct vmms_migchan_request *q, const char *peer,
                         int note_loop, int note_thread, struct vmms_saved_in **out, char *err, size_t errlen);
/* On the channel's thread after the ok answer: receive, check, store, wait
 * for "released", have the loop resume it, report. */
int vmms_saved_in_run(struct vmms_saved_in *s, struct vmms_mig_conn *c, char *err, size_t errlen);
/* On the loop: a note of the thread's; false when the type is not ours. */
bool vmms_saved_in_on_note(struct vmms_saved_in *s, char type);
struct vmms_saved_in *vmms_saved_in_free(struct vmms_saved_in *s);
/* Whether it brings the VM of that id (not defined here until stored). */
bool vmms_saved_in_is(const struct vmms_saved_in *s, const struct guid *id);
/* save.c's hooks: a restore this destination started runs (why NULL) or
 * ended with the VM Saved. */
void vmms_vm_saved_in_started(struct vmms_vm *vm, const char *why);

/* migrate-in.c: the destination's listener */
int vmms_migration_listen(struct vmms_daemon *d);
void vmms_incoming_free_all(struct vmms_daemon *d);
/* The incoming VM runs: store its configuration. */
void vmms_vm_migrated_in(struct vmms_vm *vm);
/* Its worker, ready, runs on pages still coming from the source (a
 * post-copy): its channel waits out a cut for as long as it lasts. */
void vmms_vm_migrated_in_postcopy(struct vmms_vm *vm);
/* Post-copy migrations past their COMMIT whose channel runs here, on
 * either end, and VMs that moved away and are not removed yet (migrate.c,
 * migrate-in.c): vmms's exit would lose the first, bring back the second. */
unsigned vmms_postcopies_out(struct vmms_daemon *d);
unsigned vmms_postcopies_in(struct vmms_daemon *d);

/* migrate.c: MigrationChannel's new state (why: a cut's reason, else
 * NULL), emitted; "" starts a new migration's. */
void vmms_vm_set_mig_channel(struct vmms_vm *vm, const char *state, const char *why, bool held);

/* kvp.c: KVP items (docs/integration-services.md) */
void vmms_kvp_on_event(struct vmms_vm *vm, struct json_object *ev);
/* A worker is ready or re-attached: push the host items, read its items. */
void vmms_kvp_sync(struct vmms_vm *vm);
/* The worker ended; a reboot keeps the host items for the next worker. */
void vmms_kvp_worker_ended(struct vmms_vm *vm, bool reboot);
void vmms_kvp_free(struct vmms_vm *vm);
/* SetKVP (value) / RemoveKVP (value NULL): checks, then the worker's
 * kvp-set; the D-Bus reply follows the worker's. Returns what a method
 * handler returns. */
int vmms_kvp_request(struct vmms_vm *vm, sd_bus_message *call, const char *key, const char *value, sd_bus_error *e);
/* Appends items as a{ss} (NULL: empty). */
int vmms_kvp_append(sd_bus_message *reply, struct json_object *items);

/* memory-vm.c: Dynamic Memory (docs/dynamic-memory.md): the workers'
 * "memory" events, the balancer run every memory_interval_us over the
 * Running VMs that have it, and SetTarget. */
int vmms_dm_timer_start(struct vmms_daemon *d);
void vmms_dm_on_event(struct vmms_vm *vm, struct json_object *ev);
/* The worker ended: its reports go (the operator's target stays). */
void vmms_dm_worker_ended(struct vmms_vm *vm);
/* The guest's run ended (Off, Crashed, the saved state discarded): the
 * operator's target goes with it. It outlives a reset, a save and its
 * resume, a revert and a migration (docs/dynamic-memory.md). */
void vmms_dm_run_ended(struct vmms_vm *vm);
/* A restarted vmms re-attached to the worker: its record's target. */
void vmms_dm_reattached(struct vmms_vm *vm, uint64_t target);
/* SetTarget: bytes within the VM's minimum and maximum, or 0 (automatic). */
int vmms_dm_set_target(struct vmms_vm *vm, uint64_t bytes, char *err, size_t errlen);
/* The host memory the balancer may hand out now: MemAvailable less the
 * reserve (negative when the host is short). */
int64_t vmms_dm_host_free(const struct vmms_daemon *d);
/* bus-memory.c: org.vmstack.VMMS1.Memory on every VM object. */
int vmms_bus_memory_register(struct vmms_daemon *d);
void vmms_bus_memory_emit(struct vmms_vm *vm);

/* display.c: the display server of a VM with a display (docs/console.md) */
struct vmms_display;
struct vmms_display_status {
        bool server_running;
        bool video, keyboard, mouse; /* the guest's drivers */
        uint32_t width, height;      /* its mode; 0: none */
};
/* The worker is ready (or re-attached): start its display server. */
void vmms_display_start(struct vmms_vm *vm);
void vmms_display_worker_ended(struct vmms_vm *vm);
void vmms_display_on_event(struct vmms_vm *vm, struct json_object *ev);
void vmms_display_status(const struct vmms_vm *vm, struct vmms_display_status *out);
/* The web console's address for a browser: http(s)://ADDR:PORT/ (the
 * host's name for a wildcard --console-address); -ENAMETOOLONG. */
int vmms_display_web_url(const struct vmms_options *o, unsigned port, char *buf, size_t len);
/* The console password (the runtime directory's vnc.password). */
int vmms_display_password(struct vmms_vm *vm, char *out, size_t len);
/* A PNG of the screen into out_fd; call is answered when it is written.
 * -errno with a sentence when it cannot start. */
int vmms_display_screenshot(struct vmms_vm *vm, int out_fd, sd_bus_message *call, char *err, size_t errlen);
void vmms_display_free(struct vmms_vm *vm);
/* bus-display.c: org.vmstack.VMMS1.Display */
int vmms_bus_display_register(struct vmms_daemon *d);
void vmms_bus_display_emit(struct vmms_vm *vm);

/* fcopy.c: CopyFile, a host file into the guest (file-copy integration
 * service, docs/integration-services.md "File copy") */
int vmms_fcopy_request(struct vmms_vm *vm, sd_bus_message *call, int fd, const char *dest, bool overwrite,
                       bool create_path, sd_bus_error *e);
/* CancelFileCopy: the worker cancels the copy in progress; its CopyFile
 * call fails once the guest has deleted the partial file. */
int vmms_fcopy_cancel(struct vmms_vm *vm, sd_bus_message *call, sd_bus_error *e);
/* The worker's "fcopy" (done) and "fcopy-progress" events. */
void vmms_fcopy_on_event(struct vmms_vm *vm, struct json_object *ev);
/* hvsock.c: a guest's hv_sock connect ("hvsock-connect" event). */
void vmms_hvsock_on_event(struct vmms_vm *vm, struct json_object *ev);
/* The worker ended: a copy in progress failed. */
void vmms_fcopy_worker_ended(struct vmms_vm *vm);

/* worker.c and spawn.c */
/* First thing in a child of vmms between fork() and exec() (a worker, a
 * display server): nothing blocked, SIGPIPE default, and a session of its
 * own, so a Ctrl-C aimed at a foreground vmms does not reach it; the
 * session's autogroup at vmms's nice. Async-signal-safe. */
void vmms_child_detach(void);
/* After fork(): closes the child's end of the exec-error pipe (errp, both
 * O_CLOEXEC) and waits for the child to exec or to write the errno its
 * exec failed with. 0 once it runs the program; else that errno (EIO if
 * garbled), the child reaped. */
int vmms_child_exec_result(pid_t pid, int errp[2]);
typedef void (*vmms_reply_fn)(struct vmms_vm *vm, sd_bus_message *call, struct json_object *reply, int error);
/* Why a request failed: the worker's "error" text, else strerror(-error)
 * (the connection reset, the request timed out). */
const char *vmms_worker_reply_why(struct json_object *reply, int error);
int vmms_worker_spawn(struct vmms_vm *vm, char *err, size_t errlen);
int vmms_worker_reattach(struct vmms_vm *vm, const struct vmms_runtime_record *rec, int pidfd, char *err,
                         size_t errlen);
/* Sends {"op":op,...args}; args (may be NULL) is consumed. cb runs once with
 * the reply, or with -ECONNRESET/-ETIMEDOUT. call (may be NULL) is passed
 * through to cb so that a D-Bus reply can wait for the worker. */
int vmms_worker_request(struct vmms_worker *w, const char *op, struct json_object *args, vmms_reply_fn cb,
                        sd_bus_message *call);
int vmms_worker_request_fds(struct vmms_worker *w, const char *op, struct json_object *args, const int *fds,
                            size_t n_fds, vmms_reply_fn cb, sd_bus_message *call);
/* The same with its own timeout (a migration outlasts --request-timeout). */
int vmms_worker_request_fds_timeout(struct vmms_worker *w, const char *op, struct json_object *args, const int *fds,
                                    size_t n_fds, uint64_t timeout_us, vmms_reply_fn cb, sd_bus_message *call);
/* A long op shows it is alive (its progress events, its stream moving):
 * the timeouts of w's requests for op start again. A request's timeout is
 * thus the longest the worker may stay silent, not the op's length. */
void vmms_worker_request_alive(struct vmms_worker *w, const char *op);
/* A save's longest silence: its progress comes every 50 ms while it
 * writes; its last fsync may take long on a slow disk. */
#define VMMS_SAVE_QUIET_US (120 * 1000000ull)
int vmms_worker_kill(struct vmms_worker *w);
pid_t vmms_worker_pid(const struct vmms_worker *w);
/* Interactive: a connection to the worker's console socket. Read-only: the
 * console log, opened for reading (a reason in err when it is refused). */
int vmms_worker_open_console(struct vmms_worker *w, bool read_only, char *err, size_t errlen);
int vmms_worker_record_update(struct vmms_worker *w);
struct vmms_worker *vmms_worker_free(struct vmms_worker *w);
/* The identity check behind re-attach: opens a pidfd for rec->pid and
 * verifies its start time. -ESRCH if that process is gone. */
int vmms_worker_open_pidfd(const struct vmms_runtime_record *rec, int *pidfd);
int vmms_proc_stat_read(pid_t pid, struct vmms_proc_stat *out);

/* console.c: OpenConsole(false), one interactive client at a time */
struct vmms_console_holder {
        uid_t uid;
        pid_t pid;        /* 0: unknown (not handed out by this vmms) */
        char comm[16];
        uint64_t since_us; /* CLOCK_REALTIME */
        uint64_t seq;      /* the worker's number of that connection ("clients") */
};
/* Asks the worker whether its console is free; the D-Bus reply (the
 * connected socket, or org.vmstack.Error.Busy naming the holder) follows
 * its answer. Returns what a method handler returns. */
int vmms_console_open_interactive(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e);
/* "VM 'NAME': the console is in use by uid U (USER), pid P (COMM), since
 * DATE" (local time); a holder with pid 0 is one vmms did not hand out. */
void vmms_console_busy_message(const char *vm_name, const struct vmms_console_holder *h, const char *user,
                               char *buf, size_t len);

/* hotplug.c: AttachDisk, DetachDisk, ResizeDisk, AttachNic, DetachNic
 * (docs/dbus-api.md): an Off or Crashed VM's configuration changes; a
 * running VM's worker is asked (disk-attach, ...) and the configuration
 * follows its answer, with which the call is answered. op is one of
 * VMMS_OP_ATTACH_DISK..VMMS_OP_DETACH_NIC; the call's arguments are read
 * here. Returns what a method handler returns. */
int vmms_hotplug_request(struct vmms_vm *vm, sd_bus_message *call, enum vmms_op op, sd_bus_error *e);
/* The worker ended (the call was answered by worker.c) or the VM goes. */
void vmms_hotplug_worker_ended(struct vmms_vm *vm);

/* tap.c */
/* The default name of a TAP for a NIC added to a running VM: from index
 * on, the first no interface has (hotplug.c). 0, or -errno. */
int vmms_tap_free_name(const struct guid *id, unsigned index, char *ifname);
/* Opens (creating it unless it exists) the NIC's TAP with `queues` queue
 * fds (IFF_MULTI_QUEUE when more than one) into fds[]; returns how many
 * (one for a pre-created TAP that is not multi-queue) or -errno. With more
 * than one, *steer_fd is the RSS steering map of the program attached to
 * the TAP (common/rss-steer.h), or -1 where the kernel refused it (logged:
 * tun's flow table steers then). */
int vmms_tap_open(const struct vm_nic_config *nic, const struct guid *id, unsigned index, uint32_t queues, int *fds,
                  int *steer_fd, char *ifname, char *err, size_t errlen);

/* reattach.c */
int vmms_reattach_all(struct vmms_daemon *d);
int vmms_record_path(const struct vmms_vm *vm, char *buf, size_t len);

/* auth.c */
typedef int (*vmms_authorized_fn)(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e);
/* Runs fn now when the caller may perform `action`, or later after polkit
 * said yes; replies PermissionDenied otherwise. Returns what a method
 * handler returns. */
int vmms_auth_run(struct vmms_daemon *d, sd_bus_message *m, const char *action, vmms_authorized_fn fn,
                  sd_bus_error *e);
void vmms_auth_free_all(struct vmms_daemon *d);
int vmms_auth_caller_uid(sd_bus_message *m, uid_t *uid);
/* The caller's file-system identity as the bus daemon reports it. */
int vmms_auth_caller_cred(sd_bus_message *m, struct vmms_cred *c);

/* files.c: host files opened for a VM (docs/vmms.md "Host files") */
#define VMMS_CRED_GROUPS_MAX 256
struct vmms_cred {
        uid_t uid;
        gid_t gid;
        size_t n_groups;
        gid_t groups[VMMS_CRED_GROUPS_MAX];
};
/* The identity of a user from the user database (a VM's owner at start). */
int vmms_cred_of_user(uid_t uid, struct vmms_cred *c);
/* The user database: uid -> name (-ENOENT, -ENAMETOOLONG), name -> uid. */
int vmms_user_name(uid_t uid, char *name, size_t len);
int vmms_user_uid(const char *name, uid_t *uid);
/* Opens a kernel, initrd or disk of a VM, as `as` would (see files.c);
 * the path must pass the policy. Returns the fd, or -errno with
 * "<path>: <reason>" in err: -EPERM/-EACCES for what the policy or the
 * file's permissions refuse, -EINVAL for the wrong kind of file. */
int vmms_file_open(const struct vmms_path_policy *p, const char *path, enum vmms_file_use use,
                   const struct vmms_cred *as, char *err, size_t errlen);
/* Creates a new disk image file for a VM (a checkpoint's differencing
 * child, a reflinked copy) as `as`: the path must pass the policy as a
 * writable disk; O_EXCL, mode 0600, owned by `as`. Returns the fd
 * (read-write) or -errno with "<path>: <reason>" in err. */
int vmms_file_create(const struct vmms_path_policy *p, const char *path, const struct vmms_cred *as, char *err,
                     size_t errlen);
/* CreateVM and Update: vmms_config_check_paths(), then every path that is
 * new (or newly writable) against cur is opened as `as` and closed again:
 * it exists, has the right kind and the caller may use it. */
int vmms_config_check_files(const struct vmms_path_policy *p, const struct vm_config *next,
                            const struct vm_config *cur, const struct vmms_cred *as, char *err, size_t errlen);
/* Opens a log vmms writes (appends, creating it 0640), reads, or rotates
 * (read-write, to copy and truncate it; -ENOENT if it does not exist): a
 * regular file, never through a symlink, never blocking on a FIFO. */
enum vmms_log_access { VMMS_LOG_READ, VMMS_LOG_APPEND, VMMS_LOG_ROTATE };
int vmms_log_open(const char *path, enum vmms_log_access how, char *err, size_t errlen);

/* bus-manager.c, bus-vm.c */
int vmms_bus_manager_register(struct vmms_daemon *d);
int vmms_bus_vm_register(struct vmms_daemon *d);
/* bus-checkpoint.c: org.vmstack.VMMS1.Checkpoints on every VM object */
int vmms_bus_checkpoints_register(struct vmms_daemon *d);
/* The object-find callback of the VM objects' fallback vtables (userdata:
 * the daemon). */
int vmms_bus_find_vm(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found, sd_bus_error *e);
int vmms_bus_emit_vm_added(struct vmms_vm *vm);
int vmms_bus_emit_vm_removed(struct vmms_vm *vm);
/* The path policy and the caller's access for CreateVM/Update: 0, or a
 * PermissionDenied / InvalidConfig error naming the field. */
int vmms_bus_check_files(struct vmms_daemon *d, sd_bus_message *m, const struct vm_config *c,
                         const struct vm_config *cur, sd_bus_error *e);
int vmms_bus_error_from_errno(sd_bus_error *e, int r, const char *msg);
/* Memory above the host's RAM without "allow_memory_over_host" (CreateVM,
 * Update): 0, or InvalidConfig naming both sizes. */
int vmms_bus_check_memory(const struct vm_config *c, const struct vm_config *cur, sd_bus_error *e);

/* hostcaps.c */
int vmms_host_capabilities(struct vmms_daemon *d, sd_bus_message *reply);
uint64_t vmms_host_memory_mib(void);
