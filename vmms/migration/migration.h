/* SPDX-License-Identifier: MIT */
/* Migration between two vmms (docs/migration.md): live (live-out.c on the
 * source, live-in.c on the destination), quick and a Saved VM's move
 * (quick-out.c, quick-in.c), shared-nothing storage (disks.c), the image
 * locks the source hands over (lock-handover.c). The channel itself:
 * channel.c (vmms/migchan.h), conn.h, resume.c. Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"

/* A live migration's vmms-to-vmms channel, as MigrationChannel shows it
 * (docs/dbus-api.md), on either end. */
struct vmms_mig_channel {
        char state[8];     /* "" (none yet), "up", "cut" (reconnecting), "closed" */
        bool held;         /* while cut: waited out without limit (a post-copy after its COMMIT) */
        uint32_t cuts;     /* in this migration */
        char why[128];     /* the last cut's reason */
        uint64_t since_us; /* CLOCK_REALTIME: when the state began */
};

/* The VM's migration part (vm->mig), made and freed with the VM. */
struct vmms_mig {
        struct vmms_migration *migration; /* outgoing, while Migrating */
        bool migrated_away;            /* the destination runs it: this worker's end removes the VM */
        bool migrating_in;             /* an incoming migration's worker, not ready yet: not stored */
        bool migrate_in_aborted;       /* that worker ended before it ran: a source that asks resumes */
        bool incoming_disks;           /* ... and its writable disks are new here, filled by the stream */
        int incoming_fd;               /* the worker's end of the relay, for the spawn; -1 */
        struct vmms_quick *quick;      /* outgoing quick migration (migration/quick-out.c) */
        struct vmms_saved_in *saved_in; /* an incoming Saved VM being resumed: its start result goes back */
        uint32_t pass;                 /* MigrationProgress */
        uint64_t bytes, dirty_pages, dirty_rate, expected_downtime_ms;
        uint32_t throttle_pct;         /* MigrationThrottle: auto-converge's share of time parked */
        struct vmms_mig_channel chan;  /* MigrationChannel: the live channel's (or the last one's) state */
        struct vmms_lock_handover *handover; /* image locks still held by the source (migration/lock-handover.c) */
};

/* live-out.c: Migrate() on the source (docs/migration.md "vmms"); its
 * arguments checked in migration.c */
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
/* Shared-nothing (disks.c). The source: the configuration the
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
 * destination asked again (live-out.c). */
int vmms_vm_migration_ask_again(struct vmms_vm *vm, const char *dest);
void vmms_vm_on_migrate_progress(struct vmms_vm *vm, struct json_object *ev);
/* MigrationFinished(outcome, destination, state there, message) on the
 * VM's object (migration.c; docs/dbus-api.md), once per migration
 * (*announced): what Migrate answered its caller, for every other client.
 * outcome: "moved", "failed" or "cancelled"; there: the VM's state on the
 * destination when it moved ("Running", "Saved"), else ""; message: ""
 * when it moved as asked, else the sentence of Migrate's answer. */
void vmms_vm_migration_announce(struct vmms_vm *vm, bool *announced, const char *outcome, const char *host,
                                uint16_t port, const char *there, const char *message);
/* PropertiesChanged(MigrationProgress, MigrationThrottle) (migration.c). */
void vmms_vm_emit_migration_progress(struct vmms_vm *vm);
/* The source's post-copy reported its COMMIT (live-out.c): no cancel from
 * now on, and its channel waits out a cut for as long as it lasts. */
void vmms_vm_migration_committed(struct vmms_vm *vm);
/* An incoming VM's image locks (lock-handover.c): add(disk, its fd, shared)
 * at the spawn for an image whose lock the source holds; start once the VM
 * runs here; free when the worker ends or the VM goes. */
int vmms_vm_handover_add(struct vmms_vm *vm, uint32_t disk, int fd, bool shared);
void vmms_vm_handover_start(struct vmms_vm *vm);
void vmms_vm_handover_free(struct vmms_vm *vm);
/* The worker ended: true when this took care of the VM (migrated away, or
 * held back until the destination says who has it). */
bool vmms_vm_migration_on_exit(struct vmms_vm *vm, const char *reason, enum vmms_end end, enum vmms_state state);
void vmms_migrations_free(struct vmms_daemon *d);
/* A VM that goes away takes its migration (the channel thread) along. */
void vmms_vm_migration_free(struct vmms_vm *vm);

/* quick-out.c: quick migration and a Saved VM's move (docs/migration.md
 * "Quick migration"). Source: a Running VM is saved first, then the Saved
 * VM moves; the caller is answered at the end. */
int vmms_vm_migrate_quick(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_migrate_args *a, char *err,
                          size_t errlen);
/* -ENOENT: no quick migration moving; -EBUSY: the destination stored it. */
int vmms_vm_cancel_quick(struct vmms_vm *vm);
/* saved-state/save.c's hooks: the save a quick migration asked for ended (why NULL:
 * the VM is Saved now). */
void vmms_vm_quick_on_saved(struct vmms_vm *vm, const char *why);
void vmms_vm_quick_free(struct vmms_vm *vm);
/* Destination: an accepted request of mode "saved" (live-in.c's hooks).
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
/* saved-state/save.c's hooks: a restore this destination started runs (why NULL) or
 * ended with the VM Saved. */
void vmms_vm_saved_in_started(struct vmms_vm *vm, const char *why);

/* live-in.c: the destination's listener */
int vmms_migration_listen(struct vmms_daemon *d);
void vmms_incoming_free_all(struct vmms_daemon *d);
/* The incoming VM runs: store its configuration. */
void vmms_vm_migrated_in(struct vmms_vm *vm);
/* Its worker, ready, runs on pages still coming from the source (a
 * post-copy): its channel waits out a cut for as long as it lasts. */
void vmms_vm_migrated_in_postcopy(struct vmms_vm *vm);
/* Post-copy migrations past their COMMIT whose channel runs here, on
 * either end, and VMs that moved away and are not removed yet (live-out.c,
 * live-in.c): vmms's exit would lose the first, bring back the second. */
unsigned vmms_postcopies_out(struct vmms_daemon *d);
unsigned vmms_postcopies_in(struct vmms_daemon *d);

/* migration.c: MigrationChannel's new state (why: a cut's reason, else
 * NULL), emitted; "" starts a new migration's. */
void vmms_vm_set_mig_channel(struct vmms_vm *vm, const char *state, const char *why, bool held);

/* seed-move.c: a VM's cloud-init seed (<state-dir>/<id>.cidata.iso,
 * docs/vmms.md "cloud-init seeds") moves with it in a SEED frame after
 * the request (docs/migration.md "The cloud-init seed"). */
struct vmms_seed_out {
        uint8_t *bytes; /* NULL: the VM's drives hold no seed of its own */
        uint32_t len;
};
/* Source: when a DVD drive of c (the configuration sent; c's id is vm's)
 * holds vm's own seed, reads it into *out and replaces *request by the
 * request with its "seed". 0 (also with no seed), or -errno with a
 * sentence. */
int vmms_seed_out_prepare(struct vmms_vm *vm, const struct vm_config *c, char **request, struct vmms_seed_out *out,
                          char *err, size_t errlen);
/* The SEED frame after the request, when there is a seed; 0 or -errno. */
struct vmms_mig_conn;
int vmms_seed_out_send(struct vmms_mig_conn *c, const struct vmms_seed_out *s);
void vmms_seed_out_free(struct vmms_seed_out *s);
/* Destination's channel thread, after the request: the SEED frame the
 * request's body announces into *bytes (free it), or nothing (*bytes NULL). */
int vmms_seed_in_recv(struct vmms_mig_conn *c, const char *body, size_t len, uint8_t **bytes, uint32_t *blen);
/* Destination's loop, for a request with a seed: its bytes checked, then
 * (live, saved) written as this host's <state-dir>/<id>.cidata.iso, never
 * over an existing file, its path (PATH_MAX) in written for the caller to
 * remove should the request be refused after all, and the drive's path in
 * q->config made that file; a check request's drive is checked empty.
 * -errno with a sentence in err. */
int vmms_seed_in_store(struct vmms_daemon *d, struct vmms_migchan_request *q, const uint8_t *bytes, uint32_t len,
                       char *written, size_t wlen, char *err, size_t errlen);
/* A VM that never arrived (a Saved VM's move that was not stored): the
 * seed vmms_seed_in_store wrote for c, if one of c's drives names it. */
void vmms_seed_in_discard(struct vmms_daemon *d, const struct vm_config *c);
