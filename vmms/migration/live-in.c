// SPDX-License-Identifier: MIT
/* Incoming migrations on the destination vmms (docs/migration.md "vmms"):
 * --migration-listen accepts TCP connections; each gets a channel thread
 * that shakes hands (migration/conn.c: the source's certificate against the CA
 * and --migration-allow), reads the request and hands it to the loop. The
 * loop checks it against this host's policy — the configuration parses,
 * no VM with its id or name here, --max-vms, the owner's limit and
 * identity, memory, every path inside this host's storage pools and
 * accessible to the owner; for a shared-nothing migration the writable
 * disks are created new first (migrate-disks.c) — and then defines the VM (not stored yet) and
 * starts a worker with "migrate_incoming", its end of a socketpair. The
 * thread answers the source and relays. The VM is stored once its worker
 * reports ready; a worker that ends before removes it again. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "migration/conn.h"
#include "vmms/validate.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "dm/dm.h"
#include "host/host.h"
#include "migration/migration.h"

#define VMMS_INCOMING_MAX 4u

struct vmms_incoming {
        struct vmms_daemon *d;
        struct vmms_incoming *next;
        pthread_t thread;
        int note[2];  /* [0] the loop's, [1] the thread's */
        int wpair[2]; /* [0] for the worker, [1] the thread's end */
        int fd;       /* the accepted socket, until the thread takes it */
        sd_event_source *note_src;
        pthread_mutex_t lock;
        int net_fd;
        /* Thread -> loop, before note 'R': */
        char *body;
        uint32_t len;
        uint8_t *seed; /* the SEED frame the request announced (NULL: none) */
        uint32_t seed_len;
        char peer[256];
        /* Loop -> thread, before note 'G': NULL to accept */
        char answer_error[VMMS_MIGCHAN_ERROR_MAX];
        bool refused;
        struct vmms_saved_in *saved; /* mode "saved": a state file instead of a worker's stream */
        char *query_answer; /* a query's answer: sent, and the channel ends */
        int thread_r;
        char thread_err[512];
        /* The thread's connection; the loop moves it to the channel a
         * resume names (handed_off) while the thread waits for 'G'. */
        struct vmms_mig_conn c;
        bool handed_off;
        /* A resumable channel (migration/resume.c): its session, and a source's
         * new connection after a cut (under lock; resume_efd wakes the
         * relay's reconnect). cut: incoming_cut was called. */
        bool resumable, resume_ready, cut;
        /* The VM it brings; hold: its worker runs on pages still coming
         * (vmms_mig_resume_ops.hold; the loop sets it, the relay reads). */
        struct guid vm_id;
        bool accepted; /* a live VM's worker started for it: vm_id is set */
        int hold;
        char cut_why[128]; /* the latest cut's reason (under lock), for note 'C' */
        struct vmms_migchan_session session;
        struct vmms_mig_conn resume_c;
        uint64_t resume_rx;
        int resume_efd;
};

static void note_send(int fd, char type) {
        (void)send(fd, &type, 1, MSG_NOSIGNAL);
}

/* After a cut: the source's new connection, which the loop hands over
 * (handoff), answered with what we received. */
static int dst_reconnect(void *opaque, uint64_t rx, uint64_t deadline_us, struct vmms_mig_conn *c, uint64_t *peer_rx,
                         char *err, size_t errlen) {
        struct vmms_incoming *in = opaque;
        /* The broken link goes, unpublished first: its fd number may be
         * reused at once, and a cut or a handoff must not reach that. */
        pthread_mutex_lock(&in->lock);
        in->net_fd = -1;
        pthread_mutex_unlock(&in->lock);
        vmms_mig_conn_close(c);
        for (;;) {
                pthread_mutex_lock(&in->lock);
                bool cut = in->cut, ready = in->resume_ready;
                if (ready && !cut) {
                        *c = in->resume_c, *peer_rx = in->resume_rx;
                        in->resume_c = VMMS_MIG_CONN_NULL;
                        in->resume_ready = false;
                        in->net_fd = c->fd;
                }
                pthread_mutex_unlock(&in->lock);
                if (cut)
                        return snprintf(err, errlen, "the migration ended here"), -ECANCELED;
                if (ready) {
                        _cleanup_free_ char *ans = vmms_migchan_resumed_build(rx);
                        int r = ans ? vmms_mig_send_frame(c, VMMS_MIGCHAN_ANSWER, ans) : -ENOMEM;
                        if (r >= 0)
                                return 0;
                        pthread_mutex_lock(&in->lock);
                        in->net_fd = -1;
                        pthread_mutex_unlock(&in->lock);
                        vmms_mig_conn_close(c); /* that one broke too: wait for the next */
                        continue;
                }
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (now >= deadline_us)
                        return snprintf(err, errlen, "the source did not come back within %u ms",
                                        in->d->opt.migration_recover_ms),
                               -ETIMEDOUT;
                struct pollfd p = { .fd = in->resume_efd, .events = POLLIN };
                eventfd_t v;
                if (poll(&p, 1, (int)MIN((deadline_us - now + 999) / 1000, 100ull)) > 0)
                        (void)eventfd_read(in->resume_efd, &v);
        }
}

/* Whether a cut now is waited out past the window (its worker runs on
 * pages still coming, and is there). */
static bool holding(struct vmms_incoming *in) {
        return vmms_mig_relay_holds(&in->hold, in->wpair[1]);
}

static void dst_cut(void *opaque, const char *why) {
        struct vmms_incoming *in = opaque;
        pthread_mutex_lock(&in->lock);
        snprintf(in->cut_why, sizeof in->cut_why, "%s", why);
        pthread_mutex_unlock(&in->lock);
        note_send(in->note[1], 'C');
        if (holding(in))
                log_warning("incoming migration channel from %s cut (%s); waiting for the source until it is back: "
                            "the VM runs here on memory still there (killing it here gives up, and loses it)",
                            in->peer, why);
        else
                log_warning("incoming migration channel from %s cut (%s); waiting up to %u ms for the source", in->peer,
                            why, in->d->opt.migration_recover_ms);
}

static void dst_resumed(void *opaque, uint64_t outage_ms) {
        struct vmms_incoming *in = opaque;
        log_notice("incoming migration channel from %s is back after %llu ms", in->peer, (unsigned long long)outage_ms);
        note_send(in->note[1], 'U');
}

static void *incoming_thread(void *opaque) {
        struct vmms_incoming *in = opaque;
        struct vmms_daemon *d = in->d;
        char type = 0;
        int r = vmms_mig_accept(d->mig_tls, d->opt.migration_allow, d->opt.n_migration_allow, TAKE_FD(in->fd), &in->c,
                                in->peer, sizeof in->peer, in->thread_err, sizeof in->thread_err);
        pthread_mutex_lock(&in->lock);
        in->net_fd = in->c.fd;
        pthread_mutex_unlock(&in->lock);
        if (r == -EPERM) { /* a certificate of our CA, for a host we do not allow: tell it why */
                char *ignored = NULL;
                uint32_t len;
                _cleanup_free_ char *ans = vmms_migchan_answer_build(in->thread_err);
                if (ans && vmms_mig_recv_frame(&in->c, VMMS_MIGCHAN_REQUEST, &ignored, &len) >= 0)
                        (void)vmms_mig_send_frame(&in->c, VMMS_MIGCHAN_ANSWER, ans);
                free(ignored);
        }
        if (r >= 0 && (r = vmms_mig_recv_frame(&in->c, VMMS_MIGCHAN_REQUEST, &in->body, &in->len)) < 0)
                snprintf(in->thread_err, sizeof in->thread_err, "reading the request: %s", strerror(-r));
        if (r >= 0 && (r = vmms_seed_in_recv(&in->c, in->body, in->len, &in->seed, &in->seed_len)) < 0)
                snprintf(in->thread_err, sizeof in->thread_err, "reading the cloud-init seed: %s", strerror(-r));
        if (r >= 0) {
                note_send(in->note[1], 'R');
                if (recv(in->note[1], &type, 1, 0) != 1 || type != 'G')
                        r = -ECANCELED;
        }
        if (r >= 0 && !in->handed_off) { /* handed off: the channel it resumes answers */
                _cleanup_free_ char *ans = in->query_answer ? NULL
                                           : in->refused    ? vmms_migchan_answer_build(in->answer_error)
                                           : in->resumable  ? vmms_migchan_resumable_answer_build()
                                                            : vmms_migchan_answer_build(NULL);
                r = ans || in->query_answer ? vmms_mig_send_frame(&in->c, VMMS_MIGCHAN_ANSWER, in->query_answer ?: ans)
                                            : -ENOMEM;
                struct vmms_mig_resume_ops ops = { .reconnect = dst_reconnect, .cut = dst_cut, .resumed = dst_resumed,
                                                   .opaque = in, .recover_ms = d->opt.migration_recover_ms,
                                                   .stop_fd = -1, .hold = &in->hold };
                if (r >= 0 && !in->refused && !in->query_answer) {
                        uint64_t to = 0, from = 0;
                        r = in->saved      ? vmms_saved_in_run(in->saved, &in->c, in->thread_err, sizeof in->thread_err)
                            : in->resumable ? vmms_mig_relay_resumable(&in->c, in->wpair[1], &ops, &to, &from,
                                                                       in->thread_err, sizeof in->thread_err)
                                            : vmms_mig_relay(&in->c, in->wpair[1], &to, &from, in->thread_err,
                                                             sizeof in->thread_err);
                }
        }
        in->thread_r = r;
        pthread_mutex_lock(&in->lock);
        in->net_fd = -1;
        pthread_mutex_unlock(&in->lock);
        vmms_mig_conn_close(&in->c);
        note_send(in->note[1], 'D');
        return NULL;
}

static void incoming_cut(struct vmms_incoming *in) {
        pthread_mutex_lock(&in->lock);
        in->cut = true;
        if (in->net_fd >= 0)
                (void)shutdown(in->net_fd, SHUT_RDWR);
        pthread_mutex_unlock(&in->lock);
        if (in->resume_efd >= 0)
                (void)eventfd_write(in->resume_efd, 1);
        if (in->wpair[1] >= 0)
                (void)shutdown(in->wpair[1], SHUT_RDWR);
        if (in->note[0] >= 0)
                (void)shutdown(in->note[0], SHUT_RDWR);
}

static void incoming_free(struct vmms_incoming *in, bool join) {
        if (join) {
                incoming_cut(in);
                pthread_join(in->thread, NULL);
        }
        for (struct vmms_incoming **p = &in->d->incoming; *p; p = &(*p)->next)
                if (*p == in) {
                        *p = in->next;
                        in->d->n_incoming--;
                        break;
                }
        sd_event_source_disable_unref(in->note_src);
        safe_close(in->note[0]), safe_close(in->note[1]);
        safe_close(in->wpair[0]), safe_close(in->wpair[1]);
        safe_close(in->fd);
        safe_close(in->resume_efd);
        vmms_mig_conn_close(&in->resume_c);
        vmms_mig_conn_close(&in->c);
        pthread_mutex_destroy(&in->lock);
        vmms_saved_in_free(in->saved);
        free(in->body);
        free(in->seed);
        free(in->query_answer);
        free(in);
}

/* The destination's policy for an incoming VM: what CreateVM and Start
 * would check, for the owner the source names. */
static int check_request(struct vmms_daemon *d, const struct vmms_migchan_request *q, char *err, size_t errlen) {
        struct vmms_vm *other;
        char why[VMMS_MIGCHAN_ERROR_MAX];
        if ((other = vmms_daemon_find_id(d, &q->config.id)))
                return snprintf(err, errlen, "VM id %s exists here (%s)", other->id, other->config->name), -EEXIST;
        if ((other = vmms_daemon_find_name(d, q->config.name)))
                return snprintf(err, errlen, "a VM named '%s' exists here", q->config.name), -EEXIST;
        if (d->n_vms >= d->opt.max_vms)
                return snprintf(err, errlen, "--max-vms (%u) reached", d->opt.max_vms), -EUSERS;
        if (q->owner != 0 && vmms_daemon_count_owner(d, q->owner) >= d->opt.max_vms_per_user)
                return snprintf(err, errlen, "uid %u owns --max-vms-per-user VMs here", q->owner), -EUSERS;
        if (vmms_config_check_memory(&q->config, NULL, vmms_host_memory_mib(), why, sizeof why) < 0)
                return snprintf(err, errlen, "%s", why), -E2BIG;
        _cleanup_free_ struct vmms_cred *cred = malloc(sizeof *cred);
        if (!cred)
                return -ENOMEM;
        (void)vmms_cred_of_user(q->owner, cred); /* map_owner made sure the user exists */
        /* Shared-nothing: the writable disks are made here, new, as the
         * owner, inside the pools (migrate-disks.c), then checked as any. */
        int r = q->copy_disks ? vmms_migrate_disks_create(d, q, cred, why, sizeof why) : 0;
        if (r >= 0 && (r = vmms_config_check_files(&d->opt.paths, &q->config, NULL, cred, why, sizeof why)) < 0 &&
            q->copy_disks)
                vmms_migrate_disks_remove(&q->config, q->config.n_disks);
        if (r < 0)
                return snprintf(err, errlen, "%s", why), r;
        return 0;
}

/* Defines the VM and starts its incoming worker. */
static int accept_request(struct vmms_incoming *in, const struct vmms_migchan_request *q, char *err, size_t errlen) {
        struct vmms_vm *vm = vmms_vm_new(in->d, &q->config, q->owner);
        if (!vm)
                return -ENOMEM;
        int r = vmms_daemon_add_vm(in->d, vm);
        if (r < 0) {
                vmms_vm_free(vm);
                return r;
        }
        vm->mig->migrating_in = true;
        vm->dm->manual = q->memory_target; /* the operator's target moves with the VM */
        vmms_vm_set_boot_status(vm, q->boot_status); /* its worker restores it: no firmware event */
        in->vm_id = q->config.id;
        vm->mig->incoming_disks = q->copy_disks;
        vm->mig->incoming_fd = in->wpair[0];
        (void)vmms_bus_emit_vm_added(vm);
        r = vmms_vm_start(vm, err, errlen);
        vm->mig->incoming_fd = -1;
        in->wpair[0] = safe_close(in->wpair[0]); /* the worker has it */
        if (r < 0) {
                if (q->copy_disks)
                        vmms_migrate_disks_remove(&q->config, q->config.n_disks);
                vmms_vm_remove_later(vm, true);
                return r;
        }
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "incoming migration from %s", in->peer);
        vmms_vm_set_mig_channel(vm, "up", NULL, false);
        in->accepted = true;
        return 0;
}

/* Who has the VM a source committed to us without hearing back
 * (docs/migration.md "One running copy"): our worker decides, by starting
 * or by ending before it starts (status 3, VMWP_EXIT_SETUP). */
static enum vmms_migchan_outcome query_outcome(struct vmms_daemon *d, const struct guid *id) {
        struct vmms_vm *vm = vmms_daemon_find_id(d, id);
        if (!vm || vm->mig->migrate_in_aborted)
                return VMMS_OUTCOME_ABORTED;
        return vm->mig->migrating_in ? VMMS_OUTCOME_PENDING : VMMS_OUTCOME_TAKEN;
}

/* Users are the same people on both hosts by name, not by number: the
 * owner's name from the source becomes this host's uid for it. A request
 * without a name (the source's uid has none there) keeps its uid. */
static int map_owner(struct vmms_incoming *in, struct vmms_migchan_request *q, char *err, size_t errlen) {
        uid_t uid;
        char name[VMMS_MIGCHAN_USER_MAX + 1];
        if (!q->owner_name[0])
                return vmms_user_name(q->owner, name, sizeof name) == -ENOENT
                               ? (snprintf(err, errlen, "owner: uid %u is not a user here", q->owner), -ENOENT)
                               : 0;
        if (vmms_user_uid(q->owner_name, &uid) < 0)
                return snprintf(err, errlen, "owner: user '%s' (uid %u on the source) does not exist here",
                                q->owner_name, q->owner),
                       -ENOENT;
        if (uid != q->owner)
                log_info("incoming migration from %s: owner '%s' is uid %u there, %u here", in->peer, q->owner_name,
                         q->owner, (unsigned)uid);
        q->owner = (uint32_t)uid;
        return 0;
}

/* A source's new connection after a cut (vmms/migchan.h "A resumable
 * channel"): moved to the channel of the same session from the same
 * peer, whose relay answers it; the old connection, if that relay has not
 * noticed its end yet, is shut down. */
static int handoff(struct vmms_incoming *in, const struct vmms_migchan_session *s, uint64_t rx, char *err,
                   size_t errlen) {
        struct vmms_incoming *o = in->d->incoming;
        while (o && (o == in || !o->resumable || memcmp(&o->session, s, sizeof *s) != 0 || strcmp(o->peer, in->peer)))
                o = o->next;
        if (!o)
                return snprintf(err, errlen, "no migration from %s to resume here", in->peer), -ENOENT;
        pthread_mutex_lock(&in->lock);
        struct vmms_mig_conn c = in->c;
        in->c = VMMS_MIG_CONN_NULL;
        in->net_fd = -1; /* o's now: in's cut must not reach it */
        pthread_mutex_unlock(&in->lock);
        pthread_mutex_lock(&o->lock);
        vmms_mig_conn_close(&o->resume_c); /* an earlier one that was not taken */
        o->resume_c = c, o->resume_rx = rx, o->resume_ready = true;
        if (o->net_fd >= 0)
                (void)shutdown(o->net_fd, SHUT_RDWR);
        pthread_mutex_unlock(&o->lock);
        (void)eventfd_write(o->resume_efd, 1);
        in->handed_off = true;
        return 0;
}

/* A resume of a cut channel, or a query about an unconfirmed commit:
 * answered (the loop told), true; false for a request, which *qr says
 * whether the query parse found malformed (< 0). */
static bool decide_resume_or_query(struct vmms_incoming *in, int *qr) {
        char err[VMMS_MIGCHAN_ERROR_MAX] = "";
        struct guid id;
        struct vmms_migchan_session session;
        uint64_t rx;
        int rr = vmms_migchan_resume_parse(in->body, in->len, &session, &rx);
        if (rr != 0) {
                if (rr < 0 || handoff(in, &session, rx, err, sizeof err) < 0) {
                        in->refused = true;
                        snprintf(in->answer_error, sizeof in->answer_error, "%s", rr < 0 ? "a malformed resume" : err);
                        log_notice("migration resume from %s refused: %s", in->peer, in->answer_error);
                }
                note_send(in->note[0], 'G');
                return true;
        }
        *qr = vmms_migchan_query_parse(in->body, in->len, &id);
        if (*qr <= 0)
                return false;
        enum vmms_migchan_outcome o = query_outcome(in->d, &id);
        char ids[GUID_STRING_MAX];
        log_info("migration query from %s about VM %s: %s", in->peer, guid_to_string(&id, ids),
                 o == VMMS_OUTCOME_TAKEN ? "taken" : o == VMMS_OUTCOME_ABORTED ? "aborted" : "pending");
        if (!(in->query_answer = vmms_migchan_outcome_build(o)))
                in->refused = true, snprintf(in->answer_error, sizeof in->answer_error, "out of memory");
        note_send(in->note[0], 'G');
        return true;
}

static void decide(struct vmms_incoming *in) {
        char err[VMMS_MIGCHAN_ERROR_MAX] = "";
        int qr = 0;
        if (decide_resume_or_query(in, &qr))
                return;
        _cleanup_free_ struct vmms_migchan_request *q = malloc(sizeof *q);
        int r = !q ? -ENOMEM : qr < 0 ? (snprintf(err, sizeof err, "a malformed query"), -EINVAL)
                                      : vmms_migchan_request_parse(in->body, in->len, q, err, sizeof err);
        if (r >= 0)
                r = map_owner(in, q, err, sizeof err);
        /* A Saved VM on its way is defined only once stored: no second
         * move of the same VM meanwhile (it would write the same files). */
        for (struct vmms_incoming *o = in->d->incoming; r >= 0 && o; o = o->next)
                if (o != in && o->saved && vmms_saved_in_is(o->saved, &q->config.id)) {
                        char ids[GUID_STRING_MAX];
                        r = -EEXIST;
                        snprintf(err, sizeof err, "VM id %s is arriving here already",
                                 guid_to_string(&q->config.id, ids));
                }
        /* The seed it brings becomes this host's file (or, for a check, an
         * empty drive), before the files are checked. */
        char seed_written[PATH_MAX] = "";
        if (r >= 0 && q->has_seed)
                r = vmms_seed_in_store(in->d, q, in->seed, in->seed_len, seed_written, sizeof seed_written, err,
                                       sizeof err);
        if (r >= 0)
                r = check_request(in->d, q, err, sizeof err);
        if (r >= 0 && q->mode == VMMS_MIGRATE_CHECK) { /* a quick migration asks before its save */
                log_info("migration check from %s for VM '%s': it would be taken", in->peer, q->config.name);
                if (!(in->query_answer = vmms_migchan_answer_build(NULL)))
                        r = -ENOMEM;
        } else if (r >= 0 && q->mode == VMMS_MIGRATE_SAVED) /* migration/quick-out.c */
                r = vmms_saved_in_accept(in->d, q, in->peer, in->note[0], in->note[1], &in->saved, err, sizeof err);
        else if (r >= 0 && (r = accept_request(in, q, err, sizeof err)) >= 0 && q->has_session &&
                 in->d->opt.migration_recover_ms > 0) {
                in->resumable = true; /* the answer says so; the relay frames */
                in->session = q->session;
        }
        if (r < 0) {
                if (!err[0])
                        snprintf(err, sizeof err, "%s", strerror(-r));
                if (seed_written[0])
                        (void)unlink(seed_written);
                log_warning("incoming migration from %s refused: %s", in->peer, err);
                snprintf(in->answer_error, sizeof in->answer_error, "%s", err);
                in->refused = true;
        }
        note_send(in->note[0], 'G');
}

static int on_note(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_incoming *in = userdata;
        char type = 'D';
        ssize_t k = recv(fd, &type, 1, MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
                return 0;
        if (k == 1 && type == 'R') {
                decide(in);
                return 0;
        }
        /* The VM it brings, if it is still here (it is not stored before
         * it runs, and goes when its worker fails). */
        struct vmms_vm *vm = in->accepted ? vmms_daemon_find_id(in->d, &in->vm_id) : NULL;
        if (k == 1 && (type == 'C' || type == 'U')) { /* the relay's channel cut, or back */
                char why[sizeof in->cut_why];
                pthread_mutex_lock(&in->lock);
                snprintf(why, sizeof why, "%s", in->cut_why);
                pthread_mutex_unlock(&in->lock);
                if (vm)
                        vmms_vm_set_mig_channel(vm, type == 'C' ? "cut" : "up", type == 'C' ? why : NULL, holding(in));
                return 0;
        }
        if (k == 1 && in->saved && vmms_saved_in_on_note(in->saved, type))
                return 0;
        if (vm && (!strcmp(vm->mig->chan.state, "up") || !strcmp(vm->mig->chan.state, "cut")))
                vmms_vm_set_mig_channel(vm, "closed", NULL, false);
        pthread_join(in->thread, NULL);
        if (in->thread_r < 0)
                log_notice("incoming migration channel from %s ended: %s", in->peer,
                           in->thread_err[0] ? in->thread_err : strerror(-in->thread_r));
        incoming_free(in, false);
        return 0;
}

static int on_accept(sd_event_source *s, int lfd, uint32_t revents, void *userdata) {
        struct vmms_daemon *d = userdata;
        struct sockaddr_storage sa;
        socklen_t salen = sizeof sa;
        char addr[INET6_ADDRSTRLEN] = "?";
        int fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
        if (fd < 0)
                return 0;
        if (d->n_incoming >= VMMS_INCOMING_MAX) {
                log_notice("incoming migration refused: %u in progress", d->n_incoming);
                safe_close(fd);
                return 0;
        }
        struct vmms_incoming *in = calloc(1, sizeof *in);
        if (!in) {
                safe_close(fd);
                return 0;
        }
        *in = (struct vmms_incoming){ .d = d, .note = { -1, -1 }, .wpair = { -1, -1 }, .fd = fd, .net_fd = -1,
                                      .c = VMMS_MIG_CONN_NULL, .resume_c = VMMS_MIG_CONN_NULL,
                                      .resume_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        pthread_mutex_init(&in->lock, NULL);
        if (sa.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, addr, sizeof addr);
        else if (sa.ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, addr, sizeof addr);
        snprintf(in->peer, sizeof in->peer, "%s", addr);
        in->next = d->incoming;
        d->incoming = in;
        d->n_incoming++;
        if (in->resume_efd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, in->note) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in->wpair) < 0 ||
            sd_event_add_io(d->event, &in->note_src, in->note[0], EPOLLIN, on_note, in) < 0 ||
            pthread_create(&in->thread, NULL, incoming_thread, in) != 0) {
                log_warning("cannot take an incoming migration: out of resources");
                incoming_free(in, false);
        }
        return 0;
}

int vmms_migration_listen(struct vmms_daemon *d) {
        char host[256], err[600];
        uint16_t port;
        int r = vmms_mig_tls_load(&d->opt, &d->mig_tls, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "%s", err);
        if (!d->opt.migration_listen)
                return 0;
        if (vmms_migchan_address_parse(d->opt.migration_listen, host, sizeof host, &port) < 0)
                return log_error_errno(-EINVAL, "--migration-listen=%s: not ADDR[:PORT]", d->opt.migration_listen);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
        char svc[8];
        snprintf(svc, sizeof svc, "%u", port);
        if (getaddrinfo(host, svc, &hints, &ai) != 0 || !ai)
                return log_error_errno(-EINVAL, "--migration-listen=%s: cannot resolve %s", d->opt.migration_listen,
                                       host);
        if (vmms_mig_tls_insecure(d->mig_tls) && !vmms_mig_is_loopback(ai->ai_addr)) {
                freeaddrinfo(ai);
                return log_error_errno(-EPERM, "--migration-insecure: --migration-listen must be a loopback address");
        }
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
        r = fd < 0 ? -errno : 0;
        if (r == 0)
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (r == 0 && (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 8) < 0))
                r = -errno;
        freeaddrinfo(ai);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "--migration-listen=%s: %m", d->opt.migration_listen);
        }
        d->mig_listen_fd = fd;
        r = sd_event_add_io(d->event, &d->mig_listen_src, fd, EPOLLIN, on_accept, d);
        if (r < 0)
                return log_error_errno(r, "cannot watch the migration listener: %m");
        log_info("accepting migrations on %s%s", d->opt.migration_listen,
                 vmms_mig_tls_insecure(d->mig_tls) ? " (insecure: no TLS, no authentication)" : " (TLS)");
        return 0;
}

void vmms_incoming_free_all(struct vmms_daemon *d) {
        while (d->incoming)
                incoming_free(d->incoming, true);
        d->mig_listen_src = sd_event_source_disable_unref(d->mig_listen_src);
        d->mig_listen_fd = safe_close(d->mig_listen_fd);
        d->mig_tls = vmms_mig_tls_free(d->mig_tls);
}

unsigned vmms_postcopies_in(struct vmms_daemon *d) {
        unsigned n = 0;
        for (struct vmms_incoming *in = d->incoming; in; in = in->next)
                n += __atomic_load_n(&in->hold, __ATOMIC_ACQUIRE) != 0;
        return n;
}

void vmms_vm_migrated_in_postcopy(struct vmms_vm *vm) {
        if (!vm->mig->migrating_in)
                return;
        for (struct vmms_incoming *in = vm->d->incoming; in; in = in->next)
                if (in->accepted && !memcmp(&in->vm_id, &vm->config->id, sizeof in->vm_id)) {
                        __atomic_store_n(&in->hold, 1, __ATOMIC_RELEASE);
                        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "post-copy: runs here while its last pages come from %s%s",
                                    in->peer, in->resumable ? "; the channel waits out any cut" : "");
                        return;
                }
}

void vmms_vm_migrated_in(struct vmms_vm *vm) {
        if (!vm->mig->migrating_in)
                return;
        vm->mig->migrating_in = false;
        vm->mig->incoming_disks = false; /* the copied images are the VM's now */
        int r = vmms_store_save(vm, vm->config);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot store the configuration of the migrated VM: %m");
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "migrated in: running here");
        vmms_vm_handover_start(vm); /* the source's worker ends now: its image locks become ours */
}
