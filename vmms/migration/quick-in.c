// SPDX-License-Identifier: MIT
/* The destination's side of a quick migration (docs/migration.md "Quick
 * migration"; the source's side and the protocol's outline are in
 * migration/quick-out.c). The incoming channel's thread (migration/live-in.c) calls
 * vmms_saved_in_run() after its ok answer: it receives the state file into
 * <id>.vmrs.tmp, checks it (the source's CRC-32C, vmstate_index), has the
 * loop define the VM (note 'F' -> 'G'/'N'), answers "stored", waits for
 * "released", has the loop resume it if asked ('T' -> 'S'/'K') and sends
 * the result. The VM is Migrating here from "stored" to "released"; never
 * released, it is Saved and not started. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "migration/conn.h"
#include "migration/quick.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "dm/dm.h"
#include "migration/migration.h"
#include "saved-state/saved-state.h"

struct vmms_saved_in {
        struct vmms_daemon *d;
        struct vm_config *config;
        uid_t owner;
        char peer[256];
        uint64_t size;
        uint64_t memory_target; /* the operator's Dynamic Memory target, carried (0: none) */
        char boot_status[24];   /* a firmware VM's BootStatus, carried ("": none) */
        bool start;
        int fd; /* <id>.vmrs.tmp, written by the thread */
        char tmp[PATH_MAX], path[PATH_MAX];
        int note_loop, note_thread;
        bool defined; /* the VM exists here, Saved and stored */
        /* Loop -> thread, before 'N' or 'K': */
        char loop_why[VMMS_MIGCHAN_ERROR_MAX];
};

int vmms_saved_in_accept(struct vmms_daemon *d, const struct vmms_migchan_request *q, const char *peer,
                         int note_loop, int note_thread, struct vmms_saved_in **out, char *err, size_t errlen) {
        struct statvfs fs;
        char id[GUID_STRING_MAX];
        if (statvfs(d->opt.state_dir, &fs) < 0)
                return snprintf(err, errlen, "the state directory: %s", strerror(errno)), -errno;
        if ((uint64_t)fs.f_bavail * fs.f_frsize < q->size)
                return snprintf(err, errlen, "not enough free space for the saved state (%llu bytes)",
                                (unsigned long long)q->size),
                       -ENOSPC;
        _cleanup_free_ struct vmms_saved_in *s = calloc(1, sizeof *s);
        if (!s || !(s->config = malloc(sizeof *s->config)))
                return -ENOMEM;
        *s->config = q->config;
        s->d = d, s->owner = q->owner, s->size = q->size, s->start = q->start;
        s->memory_target = q->memory_target;
        snprintf(s->boot_status, sizeof s->boot_status, "%s", q->boot_status);
        s->note_loop = note_loop, s->note_thread = note_thread;
        snprintf(s->peer, sizeof s->peer, "%s", peer);
        guid_to_string(&q->config.id, id);
        int n1 = snprintf(s->tmp, sizeof s->tmp, "%s/%s.vmrs.tmp", d->opt.state_dir, id);
        int n2 = snprintf(s->path, sizeof s->path, "%s/%s.vmrs", d->opt.state_dir, id);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof s->tmp || (size_t)n2 >= sizeof s->path) {
                free(s->config);
                return snprintf(err, errlen, "state file name: too long"), -ENAMETOOLONG;
        }
        (void)unlink(s->tmp); /* of an incoming move that died; no VM has this id here */
        s->fd = open(s->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600); /* read back: check_state */
        if (s->fd < 0) {
                int r = -errno;
                free(s->config);
                return snprintf(err, errlen, "%s: %s", s->tmp, strerror(-r)), r;
        }
        log_info("incoming Saved VM '%s' from %s (%llu bytes of state)", q->config.name, peer,
                 (unsigned long long)q->size);
        *out = TAKE_PTR(s);
        return 0;
}

bool vmms_saved_in_is(const struct vmms_saved_in *s, const struct guid *id) {
        return guid_equal(&s->config->id, id);
}

static struct vmms_vm *saved_in_vm(struct vmms_saved_in *s) {
        return s->defined ? vmms_daemon_find_id(s->d, &s->config->id) : NULL;
}

struct vmms_saved_in *vmms_saved_in_free(struct vmms_saved_in *s) {
        if (!s)
                return NULL;
        struct vmms_vm *vm = saved_in_vm(s);
        if (vm && vm->mig->saved_in == s)
                vm->mig->saved_in = NULL;
        if (vm && vm->state == VMMS_STATE_MIGRATING) { /* stored, never released */
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "stored here but never released by %s: it stays Saved and is "
                                                      "not started (the source may still have its copy)", s->peer);
                vmms_vm_set_state(vm, VMMS_STATE_SAVED);
        }
        if (!s->defined && s->fd >= 0)
                (void)unlink(s->tmp); /* the channel ended before the file came (the answer never went) */
        if (!s->defined)
                vmms_seed_in_discard(s->d, s->config); /* the seed that came with it, if any */
        safe_close(s->fd);
        free(s->config);
        free(s);
        return NULL;
}

static int write_all(int fd, const char *buf, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                done += (size_t)n;
        }
        return 0;
}

/* Receives the file into the temporary and checks it; why: a sentence for
 * the source. */
static int receive_state(struct vmms_saved_in *s, struct vmms_mig_conn *c, char *why, size_t whylen) {
        _cleanup_free_ char *buf = malloc(QUICK_CHUNK);
        uint32_t crc = 0, sent_crc = 0;
        enum vmms_migchan_step step = 0;
        char ignored[8];
        int r;
        if (!buf)
                return -ENOMEM;
        for (uint64_t off = 0; off < s->size;) {
                size_t want = (size_t)MIN((uint64_t)QUICK_CHUNK, s->size - off);
                if ((r = vmms_mig_recv_raw(c, buf, want)) < 0)
                        return snprintf(why, whylen, "the state file ended after %llu of %llu bytes: %s",
                                        (unsigned long long)off, (unsigned long long)s->size, strerror(-r)),
                               r;
                if ((r = write_all(s->fd, buf, want)) < 0)
                        return snprintf(why, whylen, "writing the state file: %s", strerror(-r)), r;
                crc = vmstate_crc32c(crc, buf, want);
                off += want;
        }
        if ((r = vmms_saved_recv_step(c, &step, &sent_crc, ignored, sizeof ignored)) < 0 || step != VMMS_STEP_SENT)
                return snprintf(why, whylen, "no CRC after the state file: %s",
                                r < 0 ? strerror(-r) : vmms_migchan_step_name(step)),
                       r < 0 ? r : -EPROTO;
        if (sent_crc != crc)
                return snprintf(why, whylen, "the state file's CRC-32C is %08x, the source sent %08x", crc, sent_crc),
                       -EBADMSG;
        if (fdatasync(s->fd) < 0)
                return snprintf(why, whylen, "syncing the state file: %s", strerror(errno)), -errno;
        return vmms_saved_check_fd(s->fd, s->size, why, whylen); /* every CRC, the end section */
}

int vmms_saved_in_run(struct vmms_saved_in *s, struct vmms_mig_conn *c, char *err, size_t errlen) {
        char why[VMMS_MIGCHAN_ERROR_MAX];
        int r = receive_state(s, c, why, sizeof why);
        if (r >= 0) {
                vmms_saved_note_put(s->note_thread, 'F');
                char t = vmms_saved_note_get(s->note_thread);
                if (t != 'G') {
                        snprintf(why, sizeof why, "%s", t == 'N' ? s->loop_why : "the destination is shutting down");
                        r = -EPERM;
                }
        }
        if (r < 0) {
                (void)unlink(s->tmp);
                (void)vmms_saved_send_step(c, VMMS_STEP_REFUSED, 0, why); /* where the channel still carries it */
                return snprintf(err, errlen, "incoming Saved VM '%s' refused: %s", s->config->name, why), r;
        }
        /* Stored here: from now on this copy stays, Saved unless released. */
        if ((r = vmms_saved_send_step(c, VMMS_STEP_STORED, 0, NULL)) >= 0) {
                enum vmms_migchan_step step = 0;
                uint32_t crc;
                char ignored[8];
                r = vmms_saved_recv_step(c, &step, &crc, ignored, sizeof ignored);
                if (r >= 0 && step != VMMS_STEP_RELEASED)
                        r = -EPROTO;
        }
        if (r < 0)
                return snprintf(err, errlen,
                                "VM '%s' is stored here but its source never released it (%s): it stays Saved here "
                                "and is not started; the source may still have its copy",
                                s->config->name, strerror(-r)),
                       r;
        vmms_saved_note_put(s->note_thread, 'T');
        char t = vmms_saved_note_get(s->note_thread);
        if (t == 'S')
                r = vmms_saved_send_step(c, VMMS_STEP_STARTED, 0, NULL);
        else
                r = vmms_saved_send_step(c, VMMS_STEP_SAVED, 0, t == 'K' ? s->loop_why : "the destination is shutting down");
        if (r < 0)
                snprintf(err, errlen, "VM '%s': sending the start result: %s", s->config->name, strerror(-r));
        return r;
}

/* 'F': the state file is complete; it becomes a Saved VM here. */
static void saved_in_define(struct vmms_saved_in *s) {
        struct vmms_daemon *d = s->d;
        struct vmms_vm *vm = NULL;
        int r = 0;
        if (vmms_daemon_find_id(d, &s->config->id) || vmms_daemon_find_name(d, s->config->name)) {
                snprintf(s->loop_why, sizeof s->loop_why, "a VM with its id or name was defined here meanwhile");
                r = -EEXIST;
        } else if (rename(s->tmp, s->path) < 0) {
                r = -errno;
                snprintf(s->loop_why, sizeof s->loop_why, "putting the state file in place: %s", strerror(-r));
        } else if (!(vm = vmms_vm_new(d, s->config, s->owner)))
                r = -ENOMEM;
        else if ((r = vmms_daemon_add_vm(d, vm)) < 0)
                vm = vmms_vm_free(vm);
        if (r < 0 && !s->loop_why[0])
                snprintf(s->loop_why, sizeof s->loop_why, "cannot define the VM: %s", strerror(-r));
        if (vm) {
                vmms_saved_sync_dir(d->opt.state_dir);
                /* Migrating until the source releases it: nobody starts or
                 * deletes it here meanwhile (the source may still resume its
                 * own copy if "stored" never reached it). */
                vm->state = VMMS_STATE_MIGRATING;
                vm->saved->saved_bytes = s->size;
                vm->dm->manual = s->memory_target; /* for its resume */
                snprintf(vm->boot_status, sizeof vm->boot_status, "%s", s->boot_status); /* kept by its resume */
                snprintf(vm->exit_reason, sizeof vm->exit_reason, "saved");
                if ((r = vmms_store_save(vm, vm->config)) < 0) {
                        snprintf(s->loop_why, sizeof s->loop_why, "cannot store the configuration: %s",
                                 strerror(-r));
                        (void)vmms_store_remove(vm); /* the configuration and the state file */
                        vmms_daemon_remove_vm(d, vm);
                        vm = NULL;
                }
        }
        if (!vm) {
                (void)unlink(s->tmp);
                if (r != -EEXIST) /* renamed into place (no VM here has this id): it goes too */
                        (void)unlink(s->path);
                log_warning("incoming Saved VM '%s' from %s refused: %s", s->config->name, s->peer, s->loop_why);
                vmms_saved_note_put(s->note_loop, 'N');
                return;
        }
        s->defined = true;
        (void)vmms_bus_emit_vm_added(vm);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "migrated in from %s: Saved here (%llu bytes of state)", s->peer,
                    (unsigned long long)s->size);
        vmms_saved_note_put(s->note_loop, 'G');
}

static void saved_in_kept(struct vmms_saved_in *s, const char *why) {
        snprintf(s->loop_why, sizeof s->loop_why, "%.*s", (int)sizeof s->loop_why - 1, why); /* cut to the frame's limit */
        vmms_saved_note_put(s->note_loop, 'K');
}

/* 'T': released by the source; resume it if asked. */
static void saved_in_start(struct vmms_saved_in *s) {
        struct vmms_vm *vm = saved_in_vm(s);
        char err[VMMS_EXIT_REASON_MAX - 64];
        if (vm && vm->state == VMMS_STATE_MIGRATING)
                vmms_vm_set_state(vm, VMMS_STATE_SAVED); /* released: it is ours */
        if (!vm || vm->state != VMMS_STATE_SAVED)
                saved_in_kept(s, vm ? "it is no longer Saved here" : "it was deleted here");
        else if (!s->start)
                saved_in_kept(s, "not asked to resume it");
        else if (vmms_vm_start(vm, err, sizeof err) < 0)
                saved_in_kept(s, err);
        else
                vm->mig->saved_in = s; /* save.c's hooks answer: it runs, or the restore failed */
}

void vmms_vm_saved_in_started(struct vmms_vm *vm, const char *why) {
        struct vmms_saved_in *s = vm->mig->saved_in;
        if (!s)
                return;
        vm->mig->saved_in = NULL;
        if (why)
                saved_in_kept(s, why);
        else
                vmms_saved_note_put(s->note_loop, 'S');
}

bool vmms_saved_in_on_note(struct vmms_saved_in *s, char type) {
        if (type == 'F')
                saved_in_define(s);
        else if (type == 'T')
                saved_in_start(s);
        else
                return false;
        return true;
}
