// SPDX-License-Identifier: MIT
/* Quick migration and the move of a Saved VM between two vmms
 * (docs/migration.md "Quick migration"). Over the same channel, with the
 * same authentication and the destination's same policy check as a live
 * migration (migration/conn.c, migration/live-in.c's check_request), the request says
 * mode "saved" with the state file's size; after the ok answer:
 *
 *   source                                destination
 *   the file's bytes, STEP sent(crc) ->   <id>.vmrs.tmp, fdatasync, CRC,
 *                                         vmstate_index, rename, store the
 *                                         configuration, the VM Saved here
 *                                   <-    STEP stored (or refused)
 *   remove the VM (config, state)
 *   STEP released                   ->    resume it if asked
 *                                   <-    STEP started (or saved, why)
 *
 * Ownership moves at "stored": before it, the source keeps its Saved VM
 * (and resumes it if it ran when Migrate was called); after it, the source
 * removes its copy. A destination that stored the VM but never got
 * "released" keeps it Saved and never starts it: a channel cut exactly
 * there can leave two copies (never two running ones, never none).
 *
 * Source: a Running VM is saved first (save.c, Saving -> Saved), once the
 * destination has said, on a channel of its own ("mode":"check"), that its
 * policy would take it: a refusal then costs the guest nothing. The
 * channel thread then streams the file while the VM is Migrating, and the
 * loop answers the caller when the thread ends. The destination's side is
 * migration/quick-in.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "migration/conn.h"
#include "migration/quick.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "dm/dm.h"
#include "host/host.h"
#include "migration/migration.h"
#include "saved-state/saved-state.h"

void vmms_saved_note_put(int fd, char type) {
        (void)send(fd, &type, 1, MSG_NOSIGNAL);
}

char vmms_saved_note_get(int fd) {
        char t = 0;
        ssize_t k;
        do
                k = recv(fd, &t, 1, 0);
        while (k < 0 && errno == EINTR);
        return k == 1 ? t : 0;
}

void vmms_saved_sync_dir(const char *dir) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void)fsync(dfd);
}

int vmms_saved_send_step(struct vmms_mig_conn *c, enum vmms_migchan_step step, uint32_t crc, const char *why) {
        _cleanup_free_ char *b = vmms_migchan_step_build(step, crc, why);
        return b ? vmms_mig_send_frame(c, VMMS_MIGCHAN_STEP, b) : -ENOMEM;
}

int vmms_saved_recv_step(struct vmms_mig_conn *c, enum vmms_migchan_step *step, uint32_t *crc, char *why,
                     size_t whylen) {
        _cleanup_free_ char *body = NULL;
        uint32_t len;
        int r = vmms_mig_recv_frame(c, VMMS_MIGCHAN_STEP, &body, &len);
        if (r < 0)
                return r;
        return vmms_migchan_step_parse(body, len, step, crc, why, whylen) < 0 ? -EBADMSG : 0;
}

/* ---- source ------------------------------------------------------------ */

struct vmms_quick {
        struct vmms_vm *vm;
        sd_bus_message *call;
        struct vmms_migrate_args a;
        bool was_running; /* Running when Migrate was called: resumed here if it does not move */
        bool checking;    /* the thread only asks whether the destination would take it */
        bool start;       /* the destination resumes it */
        sd_event_source *defer_src;
        /* The move (after the save): */
        char *request;
        int fd; /* the state file, read by the thread */
        uint64_t size;
        pthread_t thread;
        bool thread_started;
        int note[2]; /* [0] the loop's, [1] the thread's */
        sd_event_source *note_src;
        pthread_mutex_t lock; /* net_fd, cancelled, stored, sent */
        int net_fd;
        bool cancelled, stored;
        bool announced; /* MigrationFinished sent */
        uint64_t sent;
        /* Written by the thread, read by the loop after 'S' or the join: */
        bool released;
        enum vmms_migchan_step result; /* STARTED or SAVED; 0: none arrived */
        char result_why[VMMS_MIGCHAN_ERROR_MAX + 1];
        int thread_r;
        char thread_err[1024];
        struct vmms_seed_out seed; /* the VM's cloud-init seed, after m->request */
        /* Written by the loop before its answer to 'S': */
        bool removed;
};

static int publish_fd(int fd, void *opaque) {
        struct vmms_quick *m = opaque;
        pthread_mutex_lock(&m->lock);
        m->net_fd = fd;
        bool c = m->cancelled;
        pthread_mutex_unlock(&m->lock);
        return c && fd >= 0;
}

static int quick_request(struct vmms_quick *m, struct vmms_mig_conn *c) {
        _cleanup_free_ char *body = NULL;
        char why[VMMS_MIGCHAN_ERROR_MAX + 1];
        uint32_t len;
        bool ok = false;
        int r = vmms_mig_send_frame(c, VMMS_MIGCHAN_REQUEST, m->request);
        if (r < 0)
                return snprintf(m->thread_err, sizeof m->thread_err, "sending the request: %s", strerror(-r)), r;
        if ((r = vmms_seed_out_send(c, &m->seed)) < 0)
                return snprintf(m->thread_err, sizeof m->thread_err, "sending the cloud-init seed: %s (a destination "
                                "from before seeds moved ends the channel: eject the seed first)", strerror(-r)),
                       r;
        if ((r = vmms_mig_recv_frame(c, VMMS_MIGCHAN_ANSWER, &body, &len)) < 0)
                return snprintf(m->thread_err, sizeof m->thread_err, "no answer from the destination: %s",
                                strerror(-r)),
                       r;
        if (vmms_migchan_answer_parse(body, len, &ok, why, sizeof why) < 0)
                return snprintf(m->thread_err, sizeof m->thread_err, "the destination's answer is malformed"),
                       -EBADMSG;
        if (!ok)
                return snprintf(m->thread_err, sizeof m->thread_err, "the destination refused: %s", why), -EPERM;
        return 0;
}

static int quick_send_file(struct vmms_quick *m, struct vmms_mig_conn *c) {
        _cleanup_free_ char *buf = malloc(QUICK_CHUNK);
        uint32_t crc = 0;
        if (!buf)
                return -ENOMEM;
        for (uint64_t off = 0; off < m->size;) {
                size_t want = (size_t)MIN((uint64_t)QUICK_CHUNK, m->size - off);
                ssize_t n = pread(m->fd, buf, want, (off_t)off);
                if (n <= 0)
                        return snprintf(m->thread_err, sizeof m->thread_err, "reading the saved state: %s",
                                        n < 0 ? strerror(errno) : "it is shorter than it was"),
                               n < 0 ? -errno : -EIO;
                crc = vmstate_crc32c(crc, buf, (size_t)n);
                int r = vmms_mig_send_raw(c, buf, (size_t)n);
                if (r < 0)
                        return snprintf(m->thread_err, sizeof m->thread_err,
                                        "sending the saved state (%llu of %llu bytes sent): %s",
                                        (unsigned long long)off, (unsigned long long)m->size, strerror(-r)),
                               r;
                off += (uint64_t)n;
                pthread_mutex_lock(&m->lock);
                m->sent = off;
                pthread_mutex_unlock(&m->lock);
                char p = 'P';
                (void)send(m->note[1], &p, 1, MSG_NOSIGNAL | MSG_DONTWAIT); /* progress; dropped if behind */
        }
        int r = vmms_saved_send_step(c, VMMS_STEP_SENT, crc, NULL);
        if (r < 0)
                snprintf(m->thread_err, sizeof m->thread_err, "sending the state's CRC: %s", strerror(-r));
        return r;
}

static int quick_await_stored(struct vmms_quick *m, struct vmms_mig_conn *c) {
        enum vmms_migchan_step step = 0;
        uint32_t crc;
        char why[VMMS_MIGCHAN_ERROR_MAX + 1];
        int r = vmms_saved_recv_step(c, &step, &crc, why, sizeof why);
        if (r < 0)
                return snprintf(m->thread_err, sizeof m->thread_err,
                                "the destination did not confirm storing the state: %s", strerror(-r)),
                       r;
        if (step == VMMS_STEP_REFUSED)
                return snprintf(m->thread_err, sizeof m->thread_err, "the destination refused the state: %s", why),
                       -EPERM;
        if (step != VMMS_STEP_STORED)
                return snprintf(m->thread_err, sizeof m->thread_err, "the destination sent '%s' instead of 'stored'",
                                vmms_migchan_step_name(step)),
                       -EPROTO;
        pthread_mutex_lock(&m->lock);
        m->stored = true; /* from here on a cancel no longer cuts the channel */
        pthread_mutex_unlock(&m->lock);
        return 0;
}

/* The loop removes the VM here ('S' -> 'G'), then "released" goes out. */
static int quick_release(struct vmms_quick *m, struct vmms_mig_conn *c) {
        vmms_saved_note_put(m->note[1], 'S');
        if (vmms_saved_note_get(m->note[1]) != 'G')
                return snprintf(m->thread_err, sizeof m->thread_err,
                                "the VM could not be removed here, so it was not released: it is Saved on both "
                                "hosts now"),
                       -EIO;
        int r = vmms_saved_send_step(c, VMMS_STEP_RELEASED, 0, NULL);
        if (r < 0)
                return snprintf(m->thread_err, sizeof m->thread_err,
                                "the channel broke before the VM was released: it stays Saved there (%s)",
                                strerror(-r)),
                       r;
        m->released = true;
        enum vmms_migchan_step step = 0;
        uint32_t crc;
        r = vmms_saved_recv_step(c, &step, &crc, m->result_why, sizeof m->result_why);
        if (r < 0 || (step != VMMS_STEP_STARTED && step != VMMS_STEP_SAVED))
                return snprintf(m->thread_err, sizeof m->thread_err, "no start result from the destination: %s",
                                r < 0 ? strerror(-r) : vmms_migchan_step_name(step)),
                       r < 0 ? r : -EPROTO;
        m->result = step;
        return 0;
}

static void *quick_thread(void *opaque) {
        struct vmms_quick *m = opaque;
        struct vmms_mig_conn c = VMMS_MIG_CONN_NULL;
        int r = vmms_mig_connect(m->vm->d->mig_tls, m->a.host, m->a.port, &c, publish_fd, m, m->thread_err,
                                 sizeof m->thread_err);
        if (r >= 0)
                r = quick_request(m, &c);
        if (r >= 0 && m->checking) /* the answer was all */
                goto done;
        if (r >= 0)
                r = quick_send_file(m, &c);
        if (r >= 0)
                r = quick_await_stored(m, &c);
        if (r >= 0)
                r = quick_release(m, &c);
done:
        m->thread_r = r;
        pthread_mutex_lock(&m->lock);
        m->net_fd = -1;
        pthread_mutex_unlock(&m->lock);
        vmms_mig_conn_close(&c);
        vmms_saved_note_put(m->note[1], 'D');
        return NULL;
}

/* false when the destination stored the VM already (and force is not set):
 * the move goes on, a cut could only leave it unreleased there. */
static bool quick_cut(struct vmms_quick *m, bool force) {
        pthread_mutex_lock(&m->lock);
        bool cut = force || !m->stored;
        if (cut) {
                m->cancelled = true;
                if (m->net_fd >= 0)
                        (void)shutdown(m->net_fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&m->lock);
        return cut;
}

static void quick_free(struct vmms_quick *m) {
        if (!m)
                return;
        if (m->thread_started) {
                quick_cut(m, true);
                if (m->note[0] >= 0)
                        (void)shutdown(m->note[0], SHUT_RDWR); /* a thread waiting for the loop */
                pthread_join(m->thread, NULL);
        }
        sd_event_source_disable_unref(m->note_src);
        sd_event_source_disable_unref(m->defer_src);
        safe_close(m->note[0]), safe_close(m->note[1]);
        safe_close(m->fd);
        pthread_mutex_destroy(&m->lock);
        sd_bus_message_unref(m->call);
        free(m->request);
        vmms_seed_out_free(&m->seed);
        if (m->vm && m->vm->mig->quick == m)
                m->vm->mig->quick = NULL;
        free(m);
}

void vmms_vm_quick_free(struct vmms_vm *vm) {
        quick_free(vm->mig->quick);
}

/* msg: the whole sentence after "VM 'name' "; outcome and there as
 * MigrationFinished has them (NULL: "cancelled" or "failed", nothing
 * there). */
static void reply_error(struct vmms_quick *m, const char *outcome, const char *there, const char *msg) {
        struct vmms_vm *vm = m->vm;
        char full[2200];
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "quick migration: %s", msg);
        snprintf(full, sizeof full, "VM '%s' %s", vm->config->name, msg);
        vmms_vm_migration_announce(vm, &m->announced, outcome ?: (m->cancelled && !m->stored ? "cancelled" : "failed"),
                                   m->a.host, m->a.port, there ?: "", full);
        if (m->call)
                (void)sd_bus_reply_method_errorf(m->call, VMMS_ERROR_FAILED, "%s", full);
        m->call = sd_bus_message_unref(m->call);
}

/* Before "stored": the VM stays here, Saved, and runs again if it ran. */
static void quick_fail(struct vmms_quick *m, const char *why) {
        struct vmms_vm *vm = m->vm;
        char err[VMMS_EXIT_REASON_MAX - 64], tail[VMMS_EXIT_REASON_MAX], msg[2048];
        if (vm->state == VMMS_STATE_MIGRATING)
                vmms_vm_set_state(vm, VMMS_STATE_SAVED);
        vm->mig->pass = 0, vm->mig->bytes = 0;
        vmms_vm_emit_changed(vm, "MigrationProgress");
        snprintf(tail, sizeof tail, "it stays Saved here");
        if (m->was_running && vm->state == VMMS_STATE_SAVED) {
                m->fd = safe_close(m->fd);
                if (vmms_vm_start(vm, err, sizeof err) >= 0)
                        snprintf(tail, sizeof tail, "it runs here again (resumed from its saved state)");
                else
                        snprintf(tail, sizeof tail, "it stays Saved here: resuming it failed: %s", err);
        }
        snprintf(msg, sizeof msg, "cannot be migrated to %s: %s; %s", m->a.host, why, tail);
        reply_error(m, NULL, NULL, msg);
}

/* After "stored": the VM is the destination's now; this one goes. */
static void quick_moved(struct vmms_quick *m) {
        struct vmms_vm *vm = m->vm;
        char msg[2048];
        if (!m->released) {
                snprintf(msg, sizeof msg, "was stored on %s but not released (%s); it is removed here and stays "
                         "Saved there: start it there", m->a.host, m->thread_err);
                reply_error(m, "moved", "Saved", msg);
        } else if (m->result == VMMS_STEP_STARTED || (m->result == VMMS_STEP_SAVED && !m->start)) {
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "moved to %s:%u (%llu bytes of saved state): %s there",
                            m->a.host, m->a.port, (unsigned long long)m->size,
                            m->result == VMMS_STEP_STARTED ? "running" : "Saved");
                vmms_vm_migration_announce(vm, &m->announced, "moved", m->a.host, m->a.port,
                                           m->result == VMMS_STEP_STARTED ? "Running" : "Saved", "");
                if (m->call)
                        (void)sd_bus_reply_method_return(m->call, NULL);
                m->call = sd_bus_message_unref(m->call);
        } else {
                if (m->result == VMMS_STEP_SAVED)
                        snprintf(msg, sizeof msg, "moved to %s, but it stays Saved there: %s", m->a.host,
                                 m->result_why);
                else
                        snprintf(msg, sizeof msg, "moved to %s, but its resume there was not confirmed: %s",
                                 m->a.host, m->thread_err);
                reply_error(m, "moved", m->result == VMMS_STEP_SAVED ? "Saved" : "", msg);
        }
        vmms_vm_set_state(vm, VMMS_STATE_OFF);
        vmms_vm_remove_later(vm, true);
}

/* 'S': "stored" arrived; the VM's files go here, then the thread releases it. */
static void quick_remove_here(struct vmms_quick *m) {
        struct vmms_vm *vm = m->vm;
        int r = vmms_store_remove(vm);
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "the destination stored the VM, but it cannot be removed here "
                                                  "(%m): not releasing it, it is Saved on both hosts");
                vmms_saved_note_put(m->note[0], 'N');
                return;
        }
        m->removed = true;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "stored on %s:%u: removed here, releasing it", m->a.host, m->a.port);
        vmms_saved_note_put(m->note[0], 'G');
}

static int quick_start_thread(struct vmms_quick *m, char *err, size_t errlen);

/* The destination answered the check: save, or tell the caller why not
 * (the guest was never paused). A destination that does not know the
 * check (an older vmms) is asked by the move itself, as before. */
static void quick_checked(struct vmms_quick *m) {
        struct vmms_vm *vm = m->vm;
        char err[1024], msg[1400];
        m->checking = false;
        free(m->request);
        m->request = NULL;
        vmms_seed_out_free(&m->seed);
        safe_close(m->note[0]), safe_close(m->note[1]);
        m->note[0] = m->note[1] = -1;
        bool old_peer = m->thread_r == -EPERM && strstr(m->thread_err, "mode: must be \"live\" or \"saved\"");
        if (m->thread_r < 0 && !old_peer) {
                snprintf(msg, sizeof msg, "cannot be migrated to %s: %s; it runs here (never paused)", m->a.host,
                         m->cancelled ? "cancelled" : m->thread_err[0] ? m->thread_err : strerror(-m->thread_r));
                reply_error(m, NULL, NULL, msg);
                quick_free(m);
                return;
        }
        m->thread_err[0] = 0;
        m->thread_r = 0;
        m->cancelled = false;
        /* It may have been stopped or paused meanwhile. */
        int r = vm->state == VMMS_STATE_RUNNING && vm->worker
                        ? vmms_vm_save(vm, NULL, err, sizeof err)
                        : (snprintf(err, sizeof err, "it is %s now", vmms_state_to_string(vm->state)), -EBUSY);
        if (r < 0) {
                snprintf(msg, sizeof msg, "cannot be migrated to %s: %s", m->a.host, err);
                reply_error(m, NULL, NULL, msg);
                quick_free(m);
                return;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "%s:%u would take it: saving it", m->a.host, m->a.port);
}

static int on_quick_note(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_quick *m = userdata;
        struct vmms_vm *vm = m->vm;
        char type = 'D';
        ssize_t k = recv(fd, &type, 1, MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
                return 0;
        if (k == 1 && type == 'P') {
                pthread_mutex_lock(&m->lock);
                vm->mig->bytes = m->sent;
                pthread_mutex_unlock(&m->lock);
                vmms_vm_emit_changed(vm, "MigrationProgress");
                return 0;
        }
        if (k == 1 && type == 'S') {
                quick_remove_here(m);
                return 0;
        }
        pthread_join(m->thread, NULL);
        m->thread_started = false;
        m->note_src = sd_event_source_disable_unref(m->note_src);
        if (m->checking) {
                quick_checked(m);
                return 0;
        }
        if (m->removed)
                quick_moved(m);
        else
                quick_fail(m, m->cancelled && !m->stored ? "cancelled"
                              : m->thread_err[0]        ? m->thread_err
                                                        : strerror(-m->thread_r));
        quick_free(m);
        return 0;
}

/* The channel thread and the loop's end of its notes. */
static int quick_start_thread(struct vmms_quick *m, char *err, size_t errlen) {
        int r = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->note) < 0 ? -errno : 0;
        if (r >= 0)
                r = sd_event_add_io(m->vm->d->event, &m->note_src, m->note[0], EPOLLIN, on_quick_note, m);
        if (r >= 0)
                r = -pthread_create(&m->thread, NULL, quick_thread, m);
        if (r < 0)
                return snprintf(err, errlen, "cannot set up the channel: %s", strerror(-r)), r;
        m->thread_started = true;
        return 0;
}

/* A Running VM: would the destination take it? (The check, before the save.) */
static int quick_check(struct vmms_quick *m, char *err, size_t errlen) {
        struct vmms_vm *vm = m->vm;
        char owner_name[VMMS_MIGCHAN_USER_MAX + 1];
        if (vmms_user_name(vm->owner, owner_name, sizeof owner_name) < 0)
                owner_name[0] = 0;
        if (!(m->request = vmms_migchan_check_request_build(vm->config, vm->owner, owner_name)))
                return snprintf(err, errlen, "cannot set up the channel: %s", strerror(ENOMEM)), -ENOMEM;
        int r = vmms_seed_out_prepare(vm, vm->config, &m->request, &m->seed, err, errlen);
        if (r < 0)
                return r;
        m->checking = true;
        return quick_start_thread(m, err, errlen);
}

/* The VM is Saved here: stream its state to the destination. */
static int quick_move(struct vmms_quick *m, char *err, size_t errlen) {
        struct vmms_vm *vm = m->vm;
        struct stat st;
        int r = -ENOMEM;
        if ((m->fd = vmms_saved_open(vm, err, errlen)) < 0)
                return m->fd;
        if (fstat(m->fd, &st) < 0 || st.st_size <= 0)
                return snprintf(err, errlen, "the saved state is empty"), -EINVAL;
        m->size = (uint64_t)st.st_size;
        char owner_name[VMMS_MIGCHAN_USER_MAX + 1];
        if (vmms_user_name(vm->owner, owner_name, sizeof owner_name) < 0)
                owner_name[0] = 0; /* no name here: the destination goes by the uid */
        if (!(m->request = vmms_migchan_saved_request_build(vm->config, vm->owner, owner_name, m->size, m->start,
                                                                  vm->dm->manual, vm->boot_status)))
                return snprintf(err, errlen, "cannot set up the channel: %s", strerror(ENOMEM)), -ENOMEM;
        if ((r = vmms_seed_out_prepare(vm, vm->config, &m->request, &m->seed, err, errlen)) < 0 ||
            (r = quick_start_thread(m, err, errlen)) < 0)
                return r;
        vm->mig->pass = 1;
        vm->mig->bytes = vm->mig->dirty_pages = vm->mig->dirty_rate = vm->mig->expected_downtime_ms = 0;
        vm->mig->throttle_pct = 0;
        vmms_vm_emit_changed(vm, "MigrationProgress");
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "moving the saved state (%llu bytes) to %s:%u",
                    (unsigned long long)m->size, m->a.host, m->a.port);
        vmms_vm_set_state(vm, VMMS_STATE_MIGRATING);
        return 0;
}

/* Out of the worker's exit handling (save.c's hook runs inside it). */
static int on_saved_defer(sd_event_source *s, void *userdata) {
        struct vmms_quick *m = userdata;
        char err[512];
        m->defer_src = sd_event_source_disable_unref(m->defer_src);
        if (quick_move(m, err, sizeof err) < 0) {
                quick_fail(m, err);
                quick_free(m);
        }
        return 0;
}

void vmms_vm_quick_on_saved(struct vmms_vm *vm, const char *why) {
        struct vmms_quick *m = vm->mig->quick;
        if (!m || m->thread_started || m->defer_src)
                return;
        if (why) { /* the save failed: the worker resumed the VM, or it ended */
                char msg[1024];
                snprintf(msg, sizeof msg, "cannot be migrated to %s: the save failed: %s; %s", m->a.host, why,
                         vm->worker ? "it runs here" : "it stays here");
                reply_error(m, NULL, NULL, msg);
                quick_free(m);
                return;
        }
        if (sd_event_add_defer(vm->d->event, &m->defer_src, on_saved_defer, m) < 0)
                on_saved_defer(NULL, m);
}

int vmms_vm_migrate_quick(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_migrate_args *a, char *err,
                          size_t errlen) {
        if (!vm->d->mig_tls)
                return snprintf(err, errlen, "migration is not configured on this host (vmms --migration-cert/"
                                             "-key/-ca, or --migration-insecure)"),
                       -EOPNOTSUPP;
        if (vm->mig->quick)
                return snprintf(err, errlen, "a quick migration is in progress"), -EBUSY;
        struct vmms_quick *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        bool running = vm->state == VMMS_STATE_RUNNING;
        *m = (struct vmms_quick){ .vm = vm, .a = *a, .was_running = running, .start = a->start < 0 ? running : a->start,
                                  .fd = -1, .note = { -1, -1 }, .net_fd = -1 };
        pthread_mutex_init(&m->lock, NULL);
        vm->mig->quick = m;
        int r = running ? quick_check(m, err, errlen) : quick_move(m, err, errlen);
        if (r < 0) {
                quick_free(m);
                return r;
        }
        m->call = sd_bus_message_ref(call);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "quick migration to %s:%u%s", a->host, a->port,
                    running ? ": asking it first, then saving" : "");
        return 0;
}

int vmms_vm_cancel_quick(struct vmms_vm *vm) {
        struct vmms_quick *m = vm->mig->quick;
        if (!m || !m->thread_started)
                return -ENOENT;
        if (!quick_cut(m, false))
                return -EBUSY;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "quick migration cancelled");
        return 0;
}

