// SPDX-License-Identifier: MIT
/* Migrate() on the source vmms (docs/migration.md "vmms", docs/dbus-api.md).
 * A channel thread connects to the destination vmms (migration/conn.c: TLS or the
 * loopback-only insecure mode), sends the request (the VM's configuration)
 * and reads the answer; once accepted it tells the loop, which hands the
 * worker its end of a socketpair with {"op":"migrate-send"}, and relays
 * between that socketpair and the channel. The worker's reply decides: ok
 * (the destination runs the VM) -> the caller is answered, the worker is
 * stopped and its end removes the VM here; a failure -> the worker runs on
 * (it resumed itself) and the VM is Running again. CancelMigration shuts
 * the channel down, which fails the worker's op unless the destination
 * already took over. */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "migration/conn.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "dm/dm.h"
#include "host/host.h"
#include "migration/migration.h"
#include "migration/live-out.h"

/* How long the worker's migrate-send may stay silent: no progress event
 * and no byte of its stream (on_alive). Its own limits before the COMMIT
 * are max_time_ms (60 s) of passes and 30 s of a silent peer; after a
 * post-copy's COMMIT, or while the channel is cut and reconnecting, it is
 * never taken for dead (that would lose the VM, or a resumable move). */
#define MIGRATE_REQUEST_TIMEOUT_US (100 * 1000000ull)

/* Between two queries of an unconfirmed commit: 1 s, growing to 5 s. */
#define QUERY_RETRY_US(n) ((uint64_t)MIN((n), 5u) * 1000000u)

static void migration_free(struct vmms_migration *m) {
        if (!m)
                return;
        if (m->thread_started) {
                vmms_live_out_channel_cut(m);
                pthread_join(m->thread, NULL);
        }
        sd_event_source_disable_unref(m->note_src);
        sd_event_source_disable_unref(m->retry_src);
        sd_event_source_disable_unref(m->alive_src);
        safe_close(m->note[0]), safe_close(m->note[1]);
        safe_close(m->wpair[0]), safe_close(m->wpair[1]);
        pthread_mutex_destroy(&m->lock);
        sd_bus_message_unref(m->call);
        free(m->request);
        free(m->request_plain);
        vmms_seed_out_free(&m->seed);
        safe_close(m->stop_efd);
        if (m->vm && m->vm->mig->migration == m)
                m->vm->mig->migration = NULL;
        free(m);
}

unsigned vmms_postcopies_out(struct vmms_daemon *d) {
        unsigned n = 0;
        /* Until it is removed here: a VM that moved away, whose worker is
         * stopped and whose configuration goes once it ended, must not come
         * back with the next vmms. */
        for (size_t i = 0; i < d->n_vms; i++) {
                const struct vmms_migration *m = d->vms[i]->mig->migration;
                n += (m && m->postcopy_committed) || d->vms[i]->mig->migrated_away;
        }
        return n;
}

/* Once nothing refers to it any more: the thread ended and the worker
 * answered (or was never asked). */
static void maybe_free(struct vmms_migration *m) {
        if (m->thread_done && (m->worker_answered || !m->worker_asked) && (!m->committed || m->resolved))
                migration_free(m);
}

static void fail(struct vmms_migration *m, const char *why) {
        struct vmms_vm *vm = m->vm;
        char msg[1400];
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "migration to %s:%u failed: %s", m->a.host, m->a.port, why);
        snprintf(msg, sizeof msg, "cannot migrate VM '%s' to %s: %s", vm->config->name, m->a.host, why);
        vmms_vm_migration_announce(vm, &m->announced, m->cancelled ? "cancelled" : "failed", m->a.host, m->a.port, "",
                                   msg);
        if (m->call) {
                (void)sd_bus_reply_method_errorf(m->call, VMMS_ERROR_FAILED, "%s", msg);
                m->call = sd_bus_message_unref(m->call);
        }
        if (vm->state == VMMS_STATE_MIGRATING && vm->worker)
                vmms_vm_set_state(vm, VMMS_STATE_RUNNING); /* the worker resumed it */
        vmms_live_out_channel_cut(m);
}

static void stop_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0 && vm->worker)
                (void)vmms_worker_kill(vm->worker); /* the VM runs on the destination */
}

static void succeed(struct vmms_migration *m);
static void query_start(struct vmms_migration *m);
static void record_unresolved(struct vmms_migration *m, bool on);
static int on_note(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void migrate_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_migration *m = vm->mig->migration;
        json_object *v;
        if (!m)
                return;
        m->worker_answered = true;
        if (error < 0 && reply && json_object_object_get_ex(reply, "committed", &v) && json_object_get_boolean(v)) {
                const char *why = json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : "";
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "%s; the VM stays paused here while %s:%u is asked who has it",
                            why, m->a.host, m->a.port);
                m->committed = true;
                record_unresolved(m, true);
                vmms_live_out_channel_cut(m);
                if (m->thread_done)
                        query_start(m);
                return; /* else once the channel thread is joined */
        }
        if (error < 0) {
                const char *why = vmms_worker_reply_why(reply, error);
                fail(m, m->cancelled && !m->succeeded ? "cancelled" : why);
                maybe_free(m);
                return;
        }
        double total = json_object_object_get_ex(reply, "total_ms", &v) ? json_object_get_double(v) : 0;
        double down = json_object_object_get_ex(reply, "downtime_ms", &v) ? json_object_get_double(v) : 0;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "migrated to %s:%u (%.1f ms in the worker, %.1f ms downtime, %.1f ms in vmms)",
                    m->a.host, m->a.port, total, down, (double)(now_us(CLOCK_MONOTONIC) - m->t0_us) / 1000.0);
        int64_t devmem = json_object_object_get_ex(reply, "devmem_bytes", &v) ? json_object_get_int64(v) : 0;
        if (devmem > 0) {
                int64_t last = json_object_object_get_ex(reply, "final_devmem_bytes", &v) ? json_object_get_int64(v) : 0;
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0,
                            "device memory (the VRAM): %lld KiB sent while the guest ran, %lld KiB of it in the "
                            "downtime",
                            (long long)((devmem - last) >> 10), (long long)(last >> 10));
        }
        if (json_object_object_get_ex(reply, "postcopy", &v) && json_object_get_boolean(v)) {
                json_object *pages = NULL, *asked = NULL, *ms = NULL;
                (void)json_object_object_get_ex(reply, "postcopy_pages", &pages);
                (void)json_object_object_get_ex(reply, "postcopy_requested", &asked);
                (void)json_object_object_get_ex(reply, "postcopy_ms", &ms);
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0,
                            "post-copy: %lld pages served after the switch-over (%lld asked for by the destination) "
                            "in %.1f ms",
                            (long long)json_object_get_int64(pages), (long long)json_object_get_int64(asked),
                            json_object_get_double(ms));
        }
        succeed(m);
        maybe_free(m);
}

/* The destination has the VM: the caller is answered, this worker stopped
 * (its end removes the VM here). */
static void succeed(struct vmms_migration *m) {
        struct vmms_vm *vm = m->vm;
        m->succeeded = true;
        vm->mig->migrated_away = true;
        vmms_vm_migration_announce(vm, &m->announced, "moved", m->a.host, m->a.port, "Running", "");
        if (m->call) {
                (void)sd_bus_reply_method_return(m->call, NULL);
                m->call = sd_bus_message_unref(m->call);
        }
        vmms_live_out_channel_cut(m); /* nothing more to carry: the destination runs */
        if (!vm->worker || vmms_worker_request(vm->worker, "stop", NULL, stop_reply, NULL) < 0)
                stop_reply(vm, NULL, NULL, -EIO);
}

/* The question in the worker's runtime record, so that a vmms restarted
 * before the answer asks again (reattach.c). */
static void record_unresolved(struct vmms_migration *m, bool on) {
        struct vmms_worker *w = m->vm->worker;
        if (!w)
                return;
        if (on)
                snprintf(w->rec.migration_unresolved, sizeof w->rec.migration_unresolved,
                         strchr(m->a.host, ':') ? "[%s]:%u" : "%s:%u", m->a.host, m->a.port);
        else
                w->rec.migration_unresolved[0] = 0;
        (void)vmms_worker_record_update(w);
}

static void resume_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, error, "cannot resume the VM after the destination gave it back: %m");
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_migration *m = userdata;
        m->retry_src = sd_event_source_disable_unref(m->retry_src);
        query_start(m);
        return 0;
}

/* A query's answer (on the loop, the query thread joined). */
static void query_done(struct vmms_migration *m) {
        struct vmms_vm *vm = m->vm;
        if (m->thread_r >= 0 && m->outcome == VMMS_OUTCOME_TAKEN) {
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "the destination has the VM: migrated to %s:%u", m->a.host,
                            m->a.port);
                m->resolved = true;
                succeed(m);
                bool gone = m->worker_gone;
                maybe_free(m);
                if (gone) { /* no worker's end to wait for */
                        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "moved to another host: removed here");
                        vmms_vm_set_state(vm, VMMS_STATE_OFF);
                        vmms_vm_remove_later(vm, true);
                }
                return;
        }
        if (m->thread_r >= 0 && m->outcome == VMMS_OUTCOME_ABORTED) {
                m->resolved = true;
                record_unresolved(m, false);
                bool gone = m->worker_gone;
                enum vmms_end end = m->exit_end;
                enum vmms_state state = m->exit_state;
                if (vm->worker)
                        (void)vmms_worker_request(vm->worker, "resume", NULL, resume_reply, NULL);
                fail(m, gone ? "the worker ended during the migration, and the destination does not have the VM"
                             : "the destination did not take the VM (the commit did not reach it); it runs here again");
                maybe_free(m);
                if (gone) /* the worker's end, held back until now */
                        vmms_vm_exit_finish(vm, end, state);
                return;
        }
        if (m->queries == 1 || m->queries % 10 == 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "the destination cannot tell yet who has the VM (%s); asking again",
                            m->thread_r >= 0 ? "its worker has not decided" : m->thread_err);
        if (sd_event_add_time_relative(vm->d->event, &m->retry_src, CLOCK_MONOTONIC, QUERY_RETRY_US(m->queries), 0,
                                       on_retry, m) < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, -ENOMEM, "cannot schedule the next query; the VM stays paused");
}

static void query_start(struct vmms_migration *m) {
        m->queries++;
        m->thread_r = 0, m->thread_err[0] = 0;
        pthread_mutex_lock(&m->lock);
        m->cancelled = false; /* a query is never cancelled: only the VM's removal cuts it */
        pthread_mutex_unlock(&m->lock);
        int r = -pthread_create(&m->thread, NULL, vmms_live_out_query_thread, m);
        if (r < 0) {
                m->thread_r = r;
                snprintf(m->thread_err, sizeof m->thread_err, "cannot start a thread: %s", strerror(-r));
                query_done(m);
                return;
        }
        m->thread_started = true;
        m->thread_done = false;
        if (!m->note_src && sd_event_add_io(m->vm->d->event, &m->note_src, m->note[0], EPOLLIN, on_note, m) < 0)
                vmms_vm_log(m->vm, LOG_LEVEL_ERR, -ENOMEM, "cannot watch the query");
}

#define MIGRATE_ALIVE_US (5 * 1000000ull)

static int on_alive(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_migration *m = userdata;
        uint64_t bytes = __atomic_load_n(&m->to_net, __ATOMIC_RELAXED) + __atomic_load_n(&m->from_net, __ATOMIC_RELAXED);
        if (bytes != m->alive_bytes || m->postcopy_committed || !strcmp(m->vm->mig->chan.state, "cut"))
                vmms_worker_request_alive(m->vm->worker, "migrate-send");
        m->alive_bytes = bytes;
        if (m->worker_answered)
                return 0;
        return sd_event_source_set_time_relative(s, MIGRATE_ALIVE_US) < 0 ? 0
                                                                          : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void ask_worker(struct vmms_migration *m) {
        struct vmms_vm *vm = m->vm;
        json_object *args = json_object_new_object();
        if (args && m->a.max_downtime_ms)
                json_object_object_add(args, "max_downtime_ms", json_object_new_int64(m->a.max_downtime_ms));
        if (args && m->a.no_auto_converge)
                json_object_object_add(args, "auto_converge", json_object_new_boolean(false));
        if (args && m->a.storage_path[0])
                json_object_object_add(args, "copy_disks", json_object_new_boolean(true));
        if (args && m->a.postcopy)
                json_object_object_add(args, "postcopy", json_object_new_boolean(true));
        int r = !args ? -ENOMEM
                      : vmms_worker_request_fds_timeout(vm->worker, "migrate-send", args, &m->wpair[0], 1,
                                                        MIGRATE_REQUEST_TIMEOUT_US, migrate_reply, NULL);
        /* The worker has its copy; ours would keep the stream open. */
        m->wpair[0] = safe_close(m->wpair[0]);
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof why, "cannot reach the worker: %s", strerror(-r));
                fail(m, why);
                return;
        }
        m->worker_asked = true;
        if (sd_event_add_time_relative(vm->d->event, &m->alive_src, CLOCK_MONOTONIC, MIGRATE_ALIVE_US, 0, on_alive,
                                       m) < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, -ENOMEM, "cannot watch the migration's stream: a first pass "
                            "longer than %llu s without a report will fail it",
                            (unsigned long long)(MIGRATE_REQUEST_TIMEOUT_US / 1000000u));
}

static int on_note(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_migration *m = userdata;
        struct note_msg n;
        ssize_t k = recv(fd, &n, sizeof n, MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
                return 0;
        if (k != (ssize_t)sizeof n)
                n.type = 'D';
        if (n.type == 'C' || n.type == 'U') { /* the channel cut, or resumed */
                char why[sizeof m->cut_why];
                pthread_mutex_lock(&m->lock);
                snprintf(why, sizeof why, "%s", m->cut_why);
                uint64_t ms = m->outage_ms;
                pthread_mutex_unlock(&m->lock);
                if (n.type == 'C' && m->postcopy_committed)
                        vmms_vm_log(m->vm, LOG_LEVEL_WARNING, 0,
                                    "the migration channel to %s:%u was cut (%s); reconnecting until it is back: the "
                                    "VM runs there on memory still here (killing it here gives up, and loses it)",
                                    m->a.host, m->a.port, why);
                else if (n.type == 'C')
                        vmms_vm_log(m->vm, LOG_LEVEL_WARNING, 0,
                                    "the migration channel to %s:%u was cut (%s); reconnecting for up to %u ms",
                                    m->a.host, m->a.port, why, m->vm->d->opt.migration_recover_ms);
                else
                        vmms_vm_log(m->vm, LOG_LEVEL_NOTICE, 0, "the migration channel to %s:%u is back after %llu ms",
                                    m->a.host, m->a.port, (unsigned long long)ms);
                vmms_vm_set_mig_channel(m->vm, n.type == 'C' ? "cut" : "up", n.type == 'C' ? why : NULL,
                                        m->postcopy_committed);
                return 0;
        }
        if (n.type == 'A')
                vmms_vm_set_mig_channel(m->vm, "up", NULL, false);
        if (n.type == 'A' && !m->cancelled) {
                if (m->vm->worker)
                        ask_worker(m);
                else
                        fail(m, "the worker ended");
                return 0;
        }
        if (n.type != 'D')
                return 0;
        if (!strcmp(m->vm->mig->chan.state, "up") || !strcmp(m->vm->mig->chan.state, "cut"))
                vmms_vm_set_mig_channel(m->vm, "closed", NULL, false);
        pthread_join(m->thread, NULL);
        m->thread_started = false;
        m->thread_done = true;
        m->note_src = sd_event_source_disable_unref(m->note_src);
        if (m->committed && !m->resolved) {
                if (m->queries == 0)
                        query_start(m); /* the channel thread ended: the first query */
                else
                        query_done(m);
                return 0;
        }
        if (!m->worker_asked && !m->succeeded)
                fail(m, m->cancelled ? "cancelled" : m->thread_err[0] ? m->thread_err : strerror(-m->thread_r));
        else if (m->thread_r < 0)
                vmms_vm_log(m->vm, LOG_LEVEL_DEBUG, 0, "migration channel ended: %s", m->thread_err);
        maybe_free(m);
        return 0;
}

/* The request frame (the configuration, the destination's paths and
 * disks for shared-nothing, the session, the seed) and the one without
 * a session for a destination from before it: m->request, m->request_plain
 * (NULL where memory ran out: the caller checks); < 0 where the disks or
 * the seed could not be read, err said. */
static int build_request(struct vmms_migration *m, char *err, size_t errlen) {
        struct vmms_vm *vm = m->vm;
        int r = -ENOMEM;
        char owner_name[VMMS_MIGCHAN_USER_MAX + 1];
        if (vmms_user_name(vm->owner, owner_name, sizeof owner_name) < 0)
                owner_name[0] = 0; /* no name here: the destination goes by the uid */
        if (m->a.storage_path[0]) { /* shared-nothing: the destination's paths, the disks' geometry */
                _cleanup_free_ struct vm_config *c = malloc(sizeof *c);
                struct vmms_migchan_disk disks[VM_DISKS_MAX];
                r = c ? vmms_migrate_disks_prepare(vm, m->a.storage_path, c, disks, err, errlen) : -ENOMEM;
                if (r < 0)
                        return r;
                r = -ENOMEM;
                m->request = vmms_migchan_live_request_build(c, vm->owner, owner_name, disks,
                                                             m->has_session ? &m->session : NULL, vm->dm->manual,
                                                             vm->boot_status);
                m->request_plain = m->has_session ? vmms_migchan_disks_request_build(c, vm->owner, owner_name, disks)
                                                  : NULL;
                r = m->request ? vmms_seed_out_prepare(vm, c, &m->request, &m->seed, err, errlen) : -ENOMEM;
        } else {
                m->request = vmms_migchan_live_request_build(vm->config, vm->owner, owner_name, NULL,
                                                             m->has_session ? &m->session : NULL, vm->dm->manual,
                                                             vm->boot_status);
                m->request_plain = m->has_session ? vmms_migchan_request_build(vm->config, vm->owner, owner_name,
                                                                               VMMS_MIGRATE_LIVE)
                                                  : NULL;
                r = m->request ? vmms_seed_out_prepare(vm, vm->config, &m->request, &m->seed, err, errlen) : -ENOMEM;
        }
        return r == -ENOMEM ? 0 : r; /* the caller tells a request it could not build */
}

int vmms_vm_migrate(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_migrate_args *a, char *err,
                    size_t errlen) {
        if (!vm->d->mig_tls)
                return snprintf(err, errlen, "migration is not configured on this host (vmms --migration-cert/"
                                             "-key/-ca, or --migration-insecure)"),
                       -EOPNOTSUPP;
        struct vmms_migration *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        *m = (struct vmms_migration){ .vm = vm, .a = *a, .note = { -1, -1 }, .wpair = { -1, -1 }, .net_fd = -1,
                                      .t0_us = now_us(CLOCK_MONOTONIC),
                                      .stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        pthread_mutex_init(&m->lock, NULL);
        /* A session for a resumable channel, unless cuts are to fail. */
        m->has_session = vm->d->opt.migration_recover_ms > 0 &&
                         getrandom(m->session.id, sizeof m->session.id, 0) == (ssize_t)sizeof m->session.id;
        int r = build_request(m, err, errlen);
        if (r < 0) {
                migration_free(m);
                return r;
        }
        r = -ENOMEM;
        if (!m->request || (m->has_session && !m->request_plain) || m->stop_efd < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->note) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m->wpair) < 0 ||
            (r = sd_event_add_io(vm->d->event, &m->note_src, m->note[0], EPOLLIN, on_note, m)) < 0 ||
            (r = -pthread_create(&m->thread, NULL, vmms_live_out_channel_thread, m)) < 0) {
                migration_free(m);
                return snprintf(err, errlen, "cannot set up the channel: %s", strerror(-r)), r;
        }
        m->thread_started = true;
        m->call = sd_bus_message_ref(call);
        vm->mig->migration = m;
        vm->mig->pass = 0;
        vm->mig->bytes = vm->mig->dirty_pages = vm->mig->dirty_rate = vm->mig->expected_downtime_ms = 0;
        vm->mig->throttle_pct = 0;
        vmms_vm_emit_migration_progress(vm);
        vmms_vm_set_mig_channel(vm, "", NULL, false);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "migrating to %s:%u%s%s", a->host, a->port,
                    a->storage_path[0] ? ", its disks copied into " : "", a->storage_path);
        vmms_vm_set_state(vm, VMMS_STATE_MIGRATING);
        return 0;
}

int vmms_vm_migration_ask_again(struct vmms_vm *vm, const char *dest) {
        if (!vm->d->mig_tls) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, 0, "its migration to %s was committed without an answer, and migration "
                            "is not configured here to ask: the VM stays paused", dest);
                return -EOPNOTSUPP;
        }
        struct vmms_migration *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        *m = (struct vmms_migration){ .vm = vm, .note = { -1, -1 }, .wpair = { -1, -1 }, .net_fd = -1, .stop_efd = -1,
                                      .t0_us = now_us(CLOCK_MONOTONIC), .worker_asked = true,
                                      .worker_answered = true, .committed = true, .thread_done = true };
        pthread_mutex_init(&m->lock, NULL);
        if (vmms_migchan_address_parse(dest, m->a.host, sizeof m->a.host, &m->a.port) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->note) < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, 0, "cannot ask %s who has the VM; it stays paused", dest);
                migration_free(m);
                return -EINVAL;
        }
        vm->mig->migration = m;
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "its migration to %s was committed without an answer before vmms "
                    "restarted; the VM stays paused here while %s is asked who has it", dest, dest);
        vmms_vm_set_state(vm, VMMS_STATE_MIGRATING);
        query_start(m);
        return 0;
}

int vmms_vm_reconnect_migration(struct vmms_vm *vm, const char *dest, char *err, size_t errlen) {
        struct vmms_migration *m = vm->mig->migration;
        char host[sizeof m->a.host];
        uint16_t port;
        if (!m || m->committed || m->succeeded || !m->thread_started)
                return snprintf(err, errlen, "no live migration channel to reconnect"), -ENOENT;
        if (vmms_migchan_address_parse(dest, host, sizeof host, &port) < 0)
                return snprintf(err, errlen, "destination: '%.100s' is not HOST or HOST:PORT", dest), -EINVAL;
        pthread_mutex_lock(&m->lock);
        bool resumable = m->resumable_on;
        if (resumable) {
                snprintf(m->a.host, sizeof m->a.host, "%s", host);
                m->a.port = port;
                if (m->net_fd >= 0) /* the link in use (or being dialled) goes: the next is dialled there */
                        (void)shutdown(m->net_fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&m->lock);
        if (!resumable)
                return snprintf(err, errlen, "its channel cannot be resumed (the destination's vmms does not, or "
                                             "--migration-recover-ms=0)"),
                       -EOPNOTSUPP;
        vmms_vm_log(vm, LOG_LEVEL_NOTICE, 0, "the migration channel reconnects to %s:%u from now on", host, port);
        return 0;
}

int vmms_vm_cancel_migration(struct vmms_vm *vm) {
        if (!vm->mig->migration)
                return -ENOENT;
        /* The VM may run there: only the destination's answer decides. In
         * post-copy it runs there for sure, on pages still coming from here. */
        if (vm->mig->migration->committed || vm->mig->migration->postcopy_committed)
                return -EBUSY;
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "migration cancelled");
        vmms_live_out_channel_cut(vm->mig->migration);
        return 0;
}

void vmms_vm_migration_committed(struct vmms_vm *vm) {
        struct vmms_migration *m = vm->mig->migration;
        if (!m || m->postcopy_committed)
                return;
        __atomic_store_n(&m->postcopy_committed, 1, __ATOMIC_RELEASE);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "post-copy: committed, the VM runs on %s:%u while its last pages go there",
                    m->a.host, m->a.port);
}

bool vmms_vm_migration_on_exit(struct vmms_vm *vm, const char *reason, enum vmms_end end, enum vmms_state state) {
        struct vmms_migration *m = vm->mig->migration;
        /* Ended inside its migrate-send (it may have sent the COMMIT), or
         * committed and waiting for the answer: only the destination knows
         * whether the VM runs there; restarting it here could run it twice. */
        if (m && !m->succeeded && !m->resolved && m->worker_asked && (!m->worker_answered || m->committed)) {
                m->worker_answered = true;
                m->worker_gone = true;
                m->exit_end = end, m->exit_state = state;
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "the worker ended during the migration (%s); asking %s:%u who has "
                            "the VM before anything else", reason ? reason : "no reason", m->a.host, m->a.port);
                if (!m->committed) {
                        m->committed = true;
                        vmms_live_out_channel_cut(m);
                        if (m->thread_done)
                                query_start(m);
                }
                return true;
        }
        if (m && !m->succeeded) {
                m->worker_answered = true; /* its request went with the worker */
                char why[VMMS_EXIT_REASON_MAX];
                snprintf(why, sizeof why, "the worker ended (%s)", reason ? reason : "no reason");
                fail(m, why);
                maybe_free(m);
        } else if (m) {
                m->worker_answered = true;
                maybe_free(m);
        }
        if (vm->mig->migrated_away) {
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "moved to another host: removed here");
                vmms_vm_set_state(vm, VMMS_STATE_OFF);
                vmms_vm_remove_later(vm, true);
                return true;
        }
        return false;
}

void vmms_vm_migration_free(struct vmms_vm *vm) {
        migration_free(vm->mig->migration); /* cuts the channel and joins its thread */
}

void vmms_migrations_free(struct vmms_daemon *d) {
        for (size_t i = 0; i < d->n_vms; i++)
                vmms_vm_migration_free(d->vms[i]);
}
