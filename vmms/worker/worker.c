// SPDX-License-Identifier: MIT
/* Talking to a running worker over its control socket (common/proto.h) and
 * noticing its end through a pidfd. A worker vmms spawned is its child, so
 * waitid(P_PIDFD) gives the exit status; after a vmms restart the worker is
 * not, and the status comes from its "exit" event or, while it is a zombie,
 * from /proc/<pid>/stat. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "core/feature.h"
#include "worker/worker.h"
#include "core/daemon.h"
#include "host/host.h"
#include "migration/migration.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* /proc files report size 0: read them into a buffer, not with read_file(). */
int vmms_proc_stat_read(pid_t pid, struct vmms_proc_stat *out) {
        char path[64], buf[2048];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        ssize_t n = read_full(fd, buf, sizeof buf);
        if (n < 0)
                return (int)n == -ESRCH ? -ESRCH : (int)n;
        return vmms_proc_stat_parse(buf, (size_t)n, out);
}

static void request_free(struct vmms_request *q) {
        sd_event_source_disable_unref(q->timer);
        sd_bus_message_unref(q->call);
        free(q);
}

static struct vmms_request *request_unlink(struct vmms_worker *w, uint64_t id) {
        for (struct vmms_request **p = &w->requests; *p; p = &(*p)->next)
                if ((*p)->id == id) {
                        struct vmms_request *q = *p;
                        *p = q->next;
                        w->n_requests--;
                        return q;
                }
        return NULL;
}

static int request_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_request *q = userdata;
        struct vmms_worker *w = q->w;
        request_unlink(w, q->id);
        vmms_vm_log(w->vm, LOG_LEVEL_WARNING, 0, "worker did not answer request %" PRIu64 " in time", q->id);
        q->cb(w->vm, q->call, NULL, -ETIMEDOUT);
        request_free(q);
        return 0;
}

const char *vmms_worker_reply_why(json_object *reply, int error) {
        json_object *v;
        const char *why = reply && json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : NULL;
        return why ? why : strerror(-error);
}

int vmms_worker_request(struct vmms_worker *w, const char *op, json_object *args, vmms_reply_fn cb,
                        sd_bus_message *call) {
        return vmms_worker_request_fds(w, op, args, NULL, 0, cb, call);
}

int vmms_worker_request_fds(struct vmms_worker *w, const char *op, json_object *args, const int *fds, size_t n_fds,
                            vmms_reply_fn cb, sd_bus_message *call) {
        return vmms_worker_request_fds_timeout(w, op, args, fds, n_fds, w->vm->d->opt.request_timeout_us, cb, call);
}

int vmms_worker_request_fds_timeout(struct vmms_worker *w, const char *op, json_object *args, const int *fds,
                                    size_t n_fds, uint64_t timeout_us, vmms_reply_fn cb, sd_bus_message *call) {
        _cleanup_(json_object_putp) json_object *msg = args ? args : json_object_new_object();
        if (!msg)
                return -ENOMEM;
        if (w->ctl_fd < 0)
                return -ENOTCONN;
        if (w->n_requests >= VMMS_WORKER_MAX_REQUESTS)
                return -EBUSY;
        struct vmms_request *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->w = w;
        q->id = ++w->next_id;
        q->cb = cb;
        q->timeout_us = timeout_us;
        snprintf(q->op, sizeof q->op, "%s", op);
        json_object_object_add(msg, "op", json_object_new_string(op));
        json_object_object_add(msg, "id", json_object_new_int64((int64_t)q->id));
        int r = proto_send(w->ctl_fd, msg, fds, n_fds);
        if (r >= 0 && timeout_us) /* 0: none; the reply or the worker's end settles it */
                r = sd_event_add_time_relative(w->vm->d->event, &q->timer, CLOCK_MONOTONIC,
                                               timeout_us, 0, request_timeout, q);
        if (r < 0) {
                free(q);
                return r;
        }
        q->call = sd_bus_message_ref(call);
        q->next = w->requests;
        w->requests = q;
        w->n_requests++;
        return 0;
}

void vmms_worker_request_alive(struct vmms_worker *w, const char *op) {
        for (struct vmms_request *q = w ? w->requests : NULL; q; q = q->next)
                if (q->timer && !strcmp(q->op, op))
                        (void)sd_event_source_set_time_relative(q->timer, q->timeout_us);
}

static void handle_reply(struct vmms_worker *w, json_object *msg, int64_t id) {
        struct vmms_request *q = request_unlink(w, (uint64_t)id);
        json_object *ok, *e;
        if (!q) {
                vmms_vm_log(w->vm, LOG_LEVEL_DEBUG, 0, "reply to unknown request %" PRId64, id);
                return;
        }
        int error = 0;
        if (!json_object_object_get_ex(msg, "ok", &ok) || !json_object_get_boolean(ok)) {
                int64_t en = json_object_object_get_ex(msg, "errno", &e) ? json_object_get_int64(e) : EIO;
                error = en > 0 && en < 4096 ? -(int)en : -EIO;
        }
        q->cb(w->vm, q->call, msg, error);
        request_free(q);
}

static void handle_exit_event(struct vmms_worker *w, json_object *msg) {
        json_object *v;
        w->exit_event = true;
        w->exit_event_status = json_object_object_get_ex(msg, "status", &v) ? json_object_get_int(v) : -1;
        const char *reason = json_object_object_get_ex(msg, "reason", &v) ? json_object_get_string(v) : "";
        snprintf(w->exit_event_reason, sizeof w->exit_event_reason, "%s", reason ? reason : "");
}

static void handle_message(struct vmms_worker *w, json_object *msg) {
        json_object *v;
        if (json_object_object_get_ex(msg, "id", &v) && json_object_is_type(v, json_type_int)) {
                handle_reply(w, msg, json_object_get_int64(v));
                return;
        }
        const char *ev = json_object_object_get_ex(msg, "event", &v) ? json_object_get_string(v) : NULL;
        if (!ev)
                return;
        if (!strcmp(ev, "exit")) {
                handle_exit_event(w, msg);
                /* the features that read its final figures (metering's totals) */
                (void)vmms_features_on_event(w->vm, "exit", msg);
        } else if (!strcmp(ev, "ready")) {
                /* rec.reattach stays as it is: the reply to "reattach-listen"
                 * sets it, before or after this (a worker re-attached while
                 * it was starting has its listener already) */
                w->rec.running_since_us = now_us(CLOCK_REALTIME);
                (void)vmms_worker_record_update(w);
                if (json_object_object_get_ex(msg, "postcopy", &v) && json_object_is_type(v, json_type_boolean) &&
                    json_object_get_boolean(v))
                        vmms_vm_migrated_in_postcopy(w->vm);
                vmms_vm_on_ready(w->vm);
        } else
                vmms_vm_on_event(w->vm, msg);
}

static int eof_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_worker *w = userdata;
        snprintf(w->vm->forced_reason, sizeof w->vm->forced_reason,
                 "the worker closed its control connection and did not exit");
        (void)vmms_worker_kill(w);
        return 0;
}

static void control_lost(struct vmms_worker *w) {
        w->ctl_src = sd_event_source_disable_unref(w->ctl_src);
        w->ctl_fd = safe_close(w->ctl_fd);
        /* Usually the worker is about to exit; give it the grace period. */
        (void)sd_event_add_time_relative(w->vm->d->event, &w->eof_timer, CLOCK_MONOTONIC,
                                         w->vm->d->opt.stop_grace_us, 0, eof_timeout, w);
}

static int on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_worker *w = userdata;
        static const unsigned burst = 64; /* let other sources run under a flood */
        for (unsigned i = 0; i < burst && w->ctl_fd >= 0; i++) {
                json_object *msg = NULL;
                int fds[4];
                size_t n_fds = 0;
                int r = proto_recv(w->ctl_fd, &msg, fds, ARRAY_SIZE(fds), &n_fds);
                for (size_t k = 0; k < n_fds; k++)
                        safe_close(fds[k]); /* workers send vmms no fds */
                if (r == -EAGAIN)
                        return 0;
                if (r == -ECONNRESET || r == -ECONNREFUSED || r == -EPIPE) {
                        /* A worker that exits with messages of ours unread
                         * leaves ECONNRESET pending on our end, and the
                         * kernel reports it once ahead of what the worker
                         * sent last (its "exit" event, with the reason):
                         * read on; the end proper repeats the error. */
                        if (!w->ctl_reset_seen) {
                                w->ctl_reset_seen = true;
                                continue;
                        }
                        control_lost(w);
                        return 0;
                }
                if (r < 0) {
                        vmms_vm_log(w->vm, LOG_LEVEL_DEBUG, r, "bad message from worker: %m");
                        continue;
                }
                /* Handlers change the VM's state but never free the worker:
                 * only its end (on_pidfd) does. */
                handle_message(w, msg);
                json_object_put(msg);
        }
        return 0;
}

/* Fills code/signal of the report as well as vmms can know them. */
static void collect_status(struct vmms_worker *w, struct vmms_exit_report *r) {
        siginfo_t si = { 0 };
        r->code = -1;
        r->signal = 0;
        if (w->is_child && waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
                if (si.si_code == CLD_EXITED)
                        r->code = si.si_status;
                else
                        r->signal = si.si_status;
                return;
        }
        struct vmms_proc_stat st;
        if (vmms_proc_stat_read(w->pid, &st) >= 0 && st.state == 'Z' && st.starttime == w->rec.starttime &&
            st.exit_code >= 0) {
                if (WIFEXITED(st.exit_code))
                        r->code = WEXITSTATUS(st.exit_code);
                else if (WIFSIGNALED(st.exit_code))
                        r->signal = WTERMSIG(st.exit_code);
        } else if (w->exit_event)
                r->code = w->exit_event_status;
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_worker *w = userdata;
        /* Drain what the worker said last (its "exit" event) first. */
        if (w->ctl_fd >= 0)
                on_control(NULL, w->ctl_fd, EPOLLIN, w);
        struct vmms_exit_report r = { .reason = w->exit_event ? w->exit_event_reason : NULL };
        collect_status(w, &r);
        w->pid_src = sd_event_source_disable_unref(w->pid_src);
        w->ended = true;
        vmms_vm_on_exit(w->vm, &r); /* frees w */
        return 0;
}

int vmms_worker_attach(struct vmms_vm *vm, pid_t pid, int pidfd, int ctl_fd, bool is_child,
                       const struct vmms_runtime_record *rec, struct vmms_worker **out) {
        struct vmms_worker *w = calloc(1, sizeof *w);
        int r;
        if (!w) {
                safe_close(pidfd), safe_close(ctl_fd);
                return -ENOMEM;
        }
        *w = (struct vmms_worker){ .vm = vm, .pid = pid, .pidfd = pidfd, .ctl_fd = ctl_fd,
                                   .is_child = is_child, .rec = *rec };
        if ((r = fd_set_nonblock(ctl_fd, true)) < 0 ||
            (r = sd_event_add_io(vm->d->event, &w->ctl_src, ctl_fd, EPOLLIN, on_control, w)) < 0 ||
            (r = sd_event_add_io(vm->d->event, &w->pid_src, pidfd, EPOLLIN, on_pidfd, w)) < 0) {
                vmms_worker_free(w);
                return r;
        }
        /* Exits are handled before control messages queued after them. */
        (void)sd_event_source_set_priority(w->pid_src, SD_EVENT_PRIORITY_NORMAL + 1);
        *out = w;
        return 0;
}

int vmms_worker_kill(struct vmms_worker *w) {
        if (syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0) < 0)
                return -errno;
        return 0;
}

pid_t vmms_worker_pid(const struct vmms_worker *w) {
        return w ? w->pid : 0;
}

int vmms_worker_open_console(struct vmms_worker *w, bool read_only, char *err, size_t errlen) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (read_only) {
                /* Watching is reading the log: it has everything the console
                 * printed, and it does not take the worker's one console
                 * client slot away from whoever types. */
                char path[PATH_MAX];
                int r = vmms_console_log_path(w->vm, path, sizeof path);
                if (r < 0)
                        return r;
                return vmms_log_open(path, VMMS_LOG_READ, err, errlen);
        }
        if (!w->rec.console[0])
                return -ENOTSUP;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", w->rec.console);
        /* Non-blocking: a worker that stopped accepting (SIGSTOP, a full
         * backlog) gets EAGAIN, not a frozen event loop. */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return -errno;
        int r = fd_set_nonblock(fd, false);
        return r < 0 ? r : TAKE_FD(fd);
}

int vmms_worker_record_update(struct vmms_worker *w) {
        char path[PATH_MAX];
        int r = vmms_record_path(w->vm, path, sizeof path);
        if (r < 0)
                return r;
        _cleanup_free_ char *json = vmms_runtime_record_to_json(&w->rec);
        if (!json)
                return -ENOMEM;
        r = write_file_atomic(path, json, strlen(json), 0600);
        if (r < 0)
                vmms_vm_log(w->vm, LOG_LEVEL_WARNING, r, "cannot write runtime record %s: %m", path);
        return r;
}

int vmms_worker_open_pidfd(const struct vmms_runtime_record *rec, int *pidfd) {
        struct vmms_proc_stat st;
        _cleanup_close_ int fd = (int)syscall(SYS_pidfd_open, rec->pid, 0);
        if (fd < 0)
                return -errno;
        /* Read the start time only after the pidfd pins the process: if the
         * pid had been recycled before, the start time does not match. */
        int r = vmms_proc_stat_read(rec->pid, &st);
        if (r < 0)
                return r;
        if (st.starttime != rec->starttime || st.state == 'Z' || st.state == 'X')
                return -ESRCH;
        *pidfd = TAKE_FD(fd);
        return 0;
}

int vmms_worker_reattach(struct vmms_vm *vm, const struct vmms_runtime_record *rec, int pidfd, char *err,
                         size_t errlen) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", rec->control);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                int r = -errno;
                snprintf(err, errlen, "cannot connect to %s: %s", rec->control, strerror(errno));
                safe_close(fd), safe_close(pidfd);
                return r;
        }
        int r = vmms_worker_attach(vm, rec->pid, pidfd, fd, false, rec, &vm->worker);
        if (r < 0)
                snprintf(err, errlen, "cannot watch worker %d: %s", (int)rec->pid, strerror(-r));
        return r;
}

static void remove_runtime_files(struct vmms_worker *w) {
        char path[PATH_MAX];
        if (vmms_record_path(w->vm, path, sizeof path) >= 0)
                (void)unlink(path);
        if (w->rec.control[0])
                (void)unlink(w->rec.control);
        if (w->rec.console[0])
                (void)unlink(w->rec.console);
        if (vmms_vm_dir(w->vm, NULL, path, sizeof path) >= 0)
                (void)rmdir(path);
}

/* Frees vmms's side. A worker that has not ended keeps running (vmms is
 * shutting down, or re-attach failed half-way) and its runtime files stay. */
struct vmms_worker *vmms_worker_free(struct vmms_worker *w) {
        if (!w)
                return NULL;
        if (w->ended)
                remove_runtime_files(w);
        while (w->requests) {
                struct vmms_request *q = w->requests;
                w->requests = q->next;
                if (q->call)
                        (void)sd_bus_reply_method_errorf(q->call, VMMS_ERROR_FAILED,
                                                         "the worker went away before it answered");
                request_free(q);
        }
        sd_event_source_disable_unref(w->ctl_src);
        sd_event_source_disable_unref(w->pid_src);
        sd_event_source_disable_unref(w->eof_timer);
        safe_close(w->ctl_fd);
        safe_close(w->pidfd);
        free(w);
        return NULL;
}
