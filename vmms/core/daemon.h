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

struct vmms_uplink_nic;
#include "vmms/paths.h"
#include "vmms/runtime.h"
#include "vmms/lifecycle.h"
#include "pending.h"

struct json_object;
struct vmms_worker;
struct vmms_cred;
struct vmms_saved_state;
struct vmms_guest;
struct vmms_dm;
struct vmms_mig;

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
        /* Live migration between vmms (migration/live-out.c, migration/live-in.c, migration/conn.c) */
        const char *migration_listen;  /* ADDR[:PORT]; NULL: no incoming migrations */
        const char *migration_cert, *migration_key, *migration_ca;
        const char *migration_allow[VMMS_MIGRATION_ALLOW_MAX];
        size_t n_migration_allow;
        bool migration_insecure;
        /* How long a cut live-migration channel may take to come back
         * (migration/resume.c); 0: no resumable channel, a cut fails the move. */
        uint32_t migration_recover_ms;
        /* Dynamic Memory (dm/dm.c): host memory never given to VMs,
         * and the balancer's period. */
        uint64_t memory_reserve_mib;
        bool memory_reserve_set; /* else a tenth of the host's, 256..4096 MiB */
        uint64_t memory_interval_us;
        /* Metering (metering/metering.c): the sampling period, and the
         * Prometheus textfile written at each (NULL: none). */
        uint64_t metering_interval_us;
        const char *metrics_file;
        /* The console (video/video.c): the vmdisplay binary; the address the
         * web consoles listen on (numeric, without brackets; 127.0.0.1 by
         * default) and their TLS certificate and key (NULL: plain http,
         * loopback only). The VNC ports stay on 127.0.0.1. */
        char display_server[PATH_MAX];
        char console_address[48];
        bool console_v6, console_remote, console_wildcard;
        const char *console_cert, *console_key;
        unsigned console_login_s; /* vmdisplay --login-timeout; 0: its default */
        /* --nic-uplink=DEV,rate=BITS (host/uplink-qos.h): the device whose
         * root qdisc shares the link by the NICs' min_weight; "" none. */
        char nic_uplink[16];
        uint64_t nic_uplink_bps;
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
        /* BootStatus: a firmware VM's boot as its worker reported it
         * ("firmware", "booted", "no-bootable-device"); "" for the other
         * boot kinds and without a run (kept while Saved). */
        char boot_status[24];
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
        int log_rotate_error;          /* the last rotation failure, logged once */
        /* The long operations in progress, of every kind: a save, a file
         * copy, a checkpoint operation, a device change, a processor
         * Update (core/pending.h) */
        struct vmms_pending op;
        /* Guest services: KVP, file copy, heartbeat (guest/guest.h) */
        struct vmms_guest *guest;
        /* Saved state (saved-state/saved-state.h, docs/vm-state.md) */
        struct vmms_saved_state *saved;
        sd_event_source *remove_src;   /* removal deferred out of the worker's callbacks */
        /* Live and quick migration, both ends (migration/migration.h) */
        struct vmms_mig *mig;
        /* Checkpoints (checkpoint*.c, docs/checkpoints.md) */
        struct vmms_checkpoints *ckpts; /* the tree (never NULL once loaded or created) */
        bool ckpts_damaged;             /* index.json unreadable: no checkpoint operation */
        /* Dynamic Memory (dm/dm.h, docs/dynamic-memory.md) */
        struct vmms_dm *dm;
        /* The console (video/video.c, docs/console.md); NULL until needed */
        struct vmms_display *display;
        /* The processor settings' state (processor/): the worker's
         * systemd scope and machine; NULL until needed */
        struct vmms_processor *processor;
        /* Metering (metering/metering.c); NULL until first needed */
        struct vmms_metering *metering;
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
        sd_event_source *dm_timer;  /* Dynamic Memory's balancer (dm/dm.c) */
        sd_event_source *metering_timer; /* samples the running VMs (metering/metering.c) */
        int metrics_file_error;          /* the last --metrics-file failure, logged once */
        struct vmms_mig_tls *mig_tls;  /* NULL: migration not configured */
        int mig_listen_fd;
        sd_event_source *mig_listen_src;
        struct vmms_incoming *incoming; /* incoming channels (migration/live-in.c) */
        unsigned n_incoming;
        struct vmms_scopes *scopes; /* the workers' systemd scopes (processor/scope.c); NULL until the first start */
        /* The weighted NICs the uplink's qdisc was last made for
         * (hotplug/min-weight.c); uplink_made: it was. */
        struct vmms_uplink_nic *uplink_nics;
        size_t n_uplink_nics;
        bool uplink_made;
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
/* BootStatus (vm.c): s one of its words or "", changed only when it differs. */
void vmms_vm_set_boot_status(struct vmms_vm *vm, const char *s);
/* A worker's "firmware" event or its "status" reply's "boot_status". */
void vmms_vm_on_boot_status(struct vmms_vm *vm, const char *s);
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

/* The restart policy's part of a worker's end (core/vm-exit.c), also after a
 * migration that held it back learned that the VM stays here. */
void vmms_vm_exit_finish(struct vmms_vm *vm, enum vmms_end end, enum vmms_state state);
/* Forgets a VM (configuration, logs, object): after it moved away, or an
 * incoming one that never ran. Deferred to the loop's next turn. */
void vmms_vm_remove_later(struct vmms_vm *vm, bool remove_logs);

int vmms_record_path(const struct vmms_vm *vm, char *buf, size_t len);

/* auth.c */
typedef int (*vmms_authorized_fn)(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e);
/* Runs fn now when the caller may perform `action`, or later after polkit
 * said yes; replies PermissionDenied otherwise. Returns what a method
 * handler returns. */
int vmms_auth_run(struct vmms_daemon *d, sd_bus_message *m, const char *action, vmms_authorized_fn fn,
                  sd_bus_error *e);
/* GetCallerAccess: replies (s access, s reason), "manage" when
 * vmms_auth_run would run a call of `action` for this caller (without
 * polkit asking anything), else "read" with the refusal's sentence; polkit
 * is asked as for a call. Returns what a method handler returns. */
int vmms_auth_access(struct vmms_daemon *d, sd_bus_message *m, const char *action, sd_bus_error *e);
void vmms_auth_free_all(struct vmms_daemon *d);
int vmms_auth_caller_uid(sd_bus_message *m, uid_t *uid);
/* The caller's file-system identity as the bus daemon reports it. */
int vmms_auth_caller_cred(sd_bus_message *m, struct vmms_cred *c);


/* core/manager-dbus.c, core/vm-dbus.c */
int vmms_bus_manager_register(struct vmms_daemon *d);
int vmms_bus_vm_register(struct vmms_daemon *d);
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
/* Reads the method's JSON string argument and refuses one over
 * VM_CONFIG_MAX_BYTES, before authorization so that an oversized request
 * costs little (CreateVM, Update, AttachDisk, AttachNic): 0, or
 * InvalidConfig "<what>: larger than ... bytes". */
int vmms_bus_check_json_size(sd_bus_message *m, const char *what, sd_bus_error *e);
