// SPDX-License-Identifier: MIT
/* The console of a VM with a display (docs/console.md): vmms runs one
 * display server (vmdisplay) per running VM, connected to the worker's
 * display socket, serving VNC on a Unix socket in the VM's runtime
 * directory and, when configured, on loopback TCP (VNC, and the web
 * console). Its password is made at the worker's start and kept in the
 * runtime directory (0600); OpenDisplay and DisplayPassword give it to
 * callers allowed to manage the VM.
 *
 * The display server's life follows the worker's: it exits on its own
 * when the worker's socket closes. One that fails while the worker runs
 * is started again after a back-off, unless it cannot be executed at all
 * (execve failed, or exit 126/127): that is reported once, with the path,
 * and waits for the VM's next start; one refused because another server
 * is connected (one left running by a vmms that restarted) is tried again
 * later, so that a console always comes back.
 *
 * Screenshot runs `vmdisplay --screenshot=-` with the caller's file as its
 * standard output: a snapshot connection to the worker that does not
 * disturb the console. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "worker/worker.h"
#include "video/video.h"
#include "core/feature.h"

#define RETRY_MIN_US (1000000ull)
#define RETRY_MAX_US (60000000ull)
#define REFUSED_RETRY_US (30000000ull)
#define SCREENSHOT_TIMEOUT_S 10u
#define SCREENSHOTS_MAX 4u

/* vmdisplay's exit codes (vmdisplay/include/vmdisplay/vmdisplay.h). */
enum {
        VMD_OK = 0,
        VMD_FAILURE = 1,
        VMD_USAGE = 2,
        VMD_WORKER_GONE = 3,
        VMD_REFUSED = 4,
        VMD_PROTOCOL = 5,
        VMD_NO_MODE = 6,
};

struct vmms_screenshot {
        struct vmms_display *owner;
        pid_t pid;
        int pidfd;
        sd_event_source *src;
        sd_bus_message *call;
};

struct vmms_display {
        struct vmms_vm *vm;
        pid_t pid; /* the display server, 0: none */
        int pidfd;
        sd_event_source *pid_src, *retry;
        uint64_t backoff_us;
        /* The guest's side, from the worker's "display" events. */
        bool video, keyboard, mouse, active;
        uint32_t width, height;
        struct vmms_screenshot shots[SCREENSHOTS_MAX];
};

static int path_of(const struct vmms_vm *vm, const char *file, char *buf, size_t len) {
        return vmms_vm_dir(vm, file, buf, len);
}

/* 12 characters of [a-zA-Z0-9] (VNC authentication uses the first 8). */
static int make_password(char out[13]) {
        static const char set[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        uint8_t rnd[12];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
                return -EIO;
        for (size_t i = 0; i < sizeof rnd; i++)
                out[i] = set[rnd[i] % (sizeof set - 1)];
        out[12] = 0;
        return 0;
}

/* The password file: kept while it exists (a display server that
 * outlived a vmms restart uses it), else made. */
static int ensure_password(struct vmms_vm *vm) {
        char path[PATH_MAX], pw[13];
        if (path_of(vm, "vnc.password", path, sizeof path) < 0)
                return -ENAMETOOLONG;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & 077) && st.st_size > 0)
                return 0;
        int r = make_password(pw);
        if (r < 0)
                return r;
        char line[16];
        snprintf(line, sizeof line, "%s\n", pw);
        return write_file_atomic(path, line, strlen(line), 0600);
}

int vmms_display_password(struct vmms_vm *vm, char *out, size_t len) {
        char path[PATH_MAX];
        _cleanup_free_ char *text = NULL;
        size_t n;
        if (path_of(vm, "vnc.password", path, sizeof path) < 0)
                return -ENAMETOOLONG;
        int r = read_file(path, 256, &text, &n);
        if (r < 0)
                return r;
        text[strcspn(text, "\r\n")] = 0;
        snprintf(out, len, "%s", text);
        return 0;
}

/* In the child, between fork() and exec(): async-signal-safe calls only.
 * An execve that fails writes its errno into errp (close-on-exec: a
 * successful one closes it, which the parent reads as EOF). */
static _Noreturn void exec_display(const char *path, char *const argv[], int out_fd, int err_fd, int errp) {
        vmms_child_detach();
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 10);
        err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, 10);
        errp = fcntl(errp, F_DUPFD_CLOEXEC, 10);
        if (devnull < 0 || out_fd < 0 || err_fd < 0 || errp < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 ||
            dup2(err_fd, 2) < 0 || dup3(errp, 3, O_CLOEXEC) < 0)
                _exit(127);
        close_range(4, ~0u, 0);
        static char *const env[] = { (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                     NULL };
        execve(path, argv, env);
        int e = errno;
        (void)!write(3, &e, sizeof e);
        _exit(127);
}

/* Forks and executes the display server with argv; stdout to out_fd (-1:
 * the worker log), stderr to the worker log. -errno of the execve when
 * the program cannot be executed (-ENOENT: not there), the child reaped. */
static int spawn(struct vmms_vm *vm, char *const argv[], int out_fd, pid_t *pid, int *pidfd) {
        char log[PATH_MAX];
        int errp[2];
        if (vmms_worker_log_path(vm, log, sizeof log) < 0)
                return -ENAMETOOLONG;
        _cleanup_close_ int log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (log_fd < 0)
                return -errno;
        if (pipe2(errp, O_CLOEXEC) < 0)
                return -errno;
        pid_t p = fork();
        if (p < 0) {
                int r = -errno;
                safe_close(errp[0]), safe_close(errp[1]);
                return r;
        }
        if (p == 0)
                exec_display(vm->d->opt.display_server, argv, out_fd >= 0 ? out_fd : log_fd, log_fd, errp[1]);
        int e = vmms_child_exec_result(p, errp);
        if (e)
                return -e;
        *pidfd = (int)syscall(SYS_pidfd_open, p, 0);
        if (*pidfd < 0) {
                int r = -errno;
                kill(p, SIGKILL);
                (void)waitpid(p, NULL, 0);
                return r;
        }
        *pid = p;
        return 0;
}

/* The exit code of a child whose pidfd fired (reaped), -1 if unknown. */
static int reap(int pidfd) {
        siginfo_t si = { 0 };
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
                return -1;
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

static bool worker_runs(const struct vmms_vm *vm) {
        return vm->worker && !vm->worker->ended && vmms_state_has_worker(vm->state);
}

static int start_server(struct vmms_display *dp);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_display *dp = userdata;
        dp->retry = sd_event_source_disable_unref(dp->retry);
        if (worker_runs(dp->vm) && !dp->pid)
                (void)start_server(dp);
        return 0;
}

static void schedule_retry(struct vmms_display *dp, uint64_t after_us) {
        dp->retry = sd_event_source_disable_unref(dp->retry);
        (void)sd_event_add_time_relative(dp->vm->d->event, &dp->retry, CLOCK_MONOTONIC, after_us, 0, on_retry, dp);
}

static int on_server_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_display *dp = userdata;
        struct vmms_vm *vm = dp->vm;
        int code = reap(dp->pidfd);
        dp->pid_src = sd_event_source_disable_unref(dp->pid_src);
        safe_close(dp->pidfd);
        dp->pidfd = -1;
        dp->pid = 0;
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_DISPLAY_IFACE, "ServerRunning", NULL);
        if (!worker_runs(vm) || code == VMD_WORKER_GONE)
                return 0;
        if (code == VMD_REFUSED) {
                /* Another display server is connected (one a former vmms
                 * started): it serves the console; look again later. */
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "another display server serves the console; checking again in %llu s",
                            (unsigned long long)(REFUSED_RETRY_US / 1000000));
                schedule_retry(dp, REFUSED_RETRY_US);
                return 0;
        }
        if (code == 126 || code == 127) {
                /* What a program that cannot be executed exits with (a
                 * wrapper script's missing target, a missing library):
                 * starting it again would fail the same way, for ever. */
                vmms_vm_log(vm, LOG_LEVEL_ERR, 0,
                            "the display server %s cannot be executed (exit status %d, see the worker log); the "
                            "console stays off until the VM starts again", vm->d->opt.display_server, code);
                return 0;
        }
        dp->backoff_us = dp->backoff_us ? MIN(dp->backoff_us * 2, RETRY_MAX_US) : RETRY_MIN_US;
        vmms_vm_log(vm, LOG_LEVEL_WARNING, 0,
                    "the display server ended (exit status %d, see the worker log); starting it again in %.0f s", code,
                    (double)dp->backoff_us / 1e6);
        schedule_retry(dp, dp->backoff_us);
        return 0;
}

static int start_server(struct vmms_display *dp) {
        struct vmms_vm *vm = dp->vm;
        const struct vmms_options *o = &vm->d->opt;
        const struct vm_display_config *c = &vm->config->display;
        char sock[PATH_MAX], vnc[PATH_MAX], pw[PATH_MAX];
        char a_connect[PATH_MAX + 16], a_listen[PATH_MAX + 16], a_pw[PATH_MAX + 24], a_name[VM_NAME_MAX + 16];
        char a_tcp[48], a_web[sizeof o->console_address + 16], a_keymap[VM_KEYMAP_MAX + 16], a_login[32];
        char a_cert[PATH_MAX + 16], a_key[PATH_MAX + 16];
        int r;
        if (path_of(vm, "display.sock", sock, sizeof sock) < 0 || path_of(vm, "vnc.sock", vnc, sizeof vnc) < 0 ||
            path_of(vm, "vnc.password", pw, sizeof pw) < 0)
                return -ENAMETOOLONG;
        if ((r = ensure_password(vm)) < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot write the console password: %m");
                return r;
        }
        snprintf(a_connect, sizeof a_connect, "--connect=%s", sock);
        snprintf(a_listen, sizeof a_listen, "--listen=%s", vnc);
        snprintf(a_pw, sizeof a_pw, "--password-file=%s", pw);
        snprintf(a_name, sizeof a_name, "--name=%s", vm->config->name);
        /* VNC's own port stays on loopback: its authentication is no
         * protection on a network (docs/console.md). */
        snprintf(a_tcp, sizeof a_tcp, "--listen-tcp=127.0.0.1:%u", c->vnc_port);
        snprintf(a_web, sizeof a_web, o->console_v6 ? "--web=[%s]:%u" : "--web=%s:%u", o->console_address,
                 c->web_port);
        snprintf(a_keymap, sizeof a_keymap, "--keymap=%s", c->keymap);
        snprintf(a_login, sizeof a_login, "--login-timeout=%u", o->console_login_s);
        snprintf(a_cert, sizeof a_cert, "--web-cert=%s", o->console_cert ? o->console_cert : "");
        snprintf(a_key, sizeof a_key, "--web-key=%s", o->console_key ? o->console_key : "");
        char *argv[14];
        size_t n = 0;
        argv[n++] = (char *)"vmdisplay";
        argv[n++] = a_connect;
        argv[n++] = a_listen;
        argv[n++] = a_pw;
        argv[n++] = a_name;
        if (c->vnc_port)
                argv[n++] = a_tcp;
        if (c->web_port) {
                argv[n++] = a_web;
                if (o->console_remote)
                        argv[n++] = (char *)"--allow-remote";
                if (o->console_cert)
                        argv[n++] = a_cert;
                if (o->console_key)
                        argv[n++] = a_key;
        }
        if (c->keymap[0])
                argv[n++] = a_keymap;
        if (o->console_login_s)
                argv[n++] = a_login;
        argv[n] = NULL;
        if ((r = spawn(vm, argv, -1, &dp->pid, &dp->pidfd)) < 0 && r != -ENOMEM && r != -EAGAIN && r != -EMFILE &&
            r != -ENFILE) {
                /* Not there, not executable, not a program: it would fail
                 * the same way at every retry (docs/console.md). */
                vmms_vm_log(vm, LOG_LEVEL_ERR, r,
                            "cannot execute the display server %s: %m; the console stays off until the VM starts "
                            "again", vm->d->opt.display_server);
                return r;
        }
        if (r < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, r, "cannot start the display server %s: %m", vm->d->opt.display_server);
                dp->backoff_us = dp->backoff_us ? MIN(dp->backoff_us * 2, RETRY_MAX_US) : RETRY_MIN_US;
                schedule_retry(dp, dp->backoff_us);
                return r;
        }
        if ((r = sd_event_add_io(vm->d->event, &dp->pid_src, dp->pidfd, EPOLLIN, on_server_exit, dp)) < 0) {
                (void)syscall(SYS_pidfd_send_signal, dp->pidfd, SIGKILL, NULL, 0);
                (void)reap(dp->pidfd);
                safe_close(dp->pidfd);
                dp->pidfd = -1;
                dp->pid = 0;
                return r;
        }
        vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "display server %d started", (int)dp->pid);
        (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_DISPLAY_IFACE, "ServerRunning", NULL);
        return 0;
}

int vmms_display_web_url(const struct vmms_options *o, unsigned port, char *buf, size_t len) {
        char host[256];
        const char *h = o->console_address;
        /* A browser cannot go to a wildcard address: the host's name, which
         * is what its certificate would name. */
        if (o->console_wildcard && gethostname(host, sizeof host) == 0 && memchr(host, 0, sizeof host))
                h = host;
        bool brackets = h == o->console_address && o->console_v6;
        int k = snprintf(buf, len, "%s://%s%s%s:%u/", o->console_cert ? "https" : "http", brackets ? "[" : "", h,
                         brackets ? "]" : "", port);
        return k < 0 || (size_t)k >= len ? -ENAMETOOLONG : 0;
}

static struct vmms_display *display_of(struct vmms_vm *vm) {
        if (vm->display)
                return vm->display;
        struct vmms_display *dp = calloc(1, sizeof *dp);
        if (!dp)
                return NULL;
        dp->vm = vm;
        dp->pidfd = -1;
        for (size_t i = 0; i < SCREENSHOTS_MAX; i++)
                dp->shots[i].pidfd = -1;
        vm->display = dp;
        return dp;
}

void vmms_display_start(struct vmms_vm *vm) {
        if (!vm->config->display.enabled || !worker_runs(vm))
                return;
        struct vmms_display *dp = display_of(vm);
        if (!dp || dp->pid)
                return;
        dp->backoff_us = 0;
        (void)start_server(dp);
}

/* The worker ended: its display server ends with it (it would on its own
 * once the socket closed); the guest's side is gone. A new worker makes
 * a new password. */
void vmms_display_worker_ended(struct vmms_vm *vm) {
        struct vmms_display *dp = vm->display;
        char path[PATH_MAX];
        if (path_of(vm, "vnc.password", path, sizeof path) == 0)
                (void)unlink(path);
        if (!dp)
                return;
        dp->retry = sd_event_source_disable_unref(dp->retry);
        if (dp->pid)
                (void)syscall(SYS_pidfd_send_signal, dp->pidfd, SIGTERM, NULL, 0);
        dp->video = dp->keyboard = dp->mouse = dp->active = false;
        dp->width = dp->height = 0;
        vmms_bus_display_emit(vm);
}

static void shot_done(struct vmms_screenshot *s, int code) {
        struct vmms_display *dp = s->owner;
        const char *vm = dp->vm->config->name;
        if (s->call) {
                if (code == VMD_OK)
                        (void)sd_bus_reply_method_return(s->call, NULL);
                else if (code == VMD_NO_MODE)
                        (void)sd_bus_reply_method_errorf(s->call, VMMS_ERROR_INVALID_STATE,
                                                         "VM '%s': the guest has not set a display mode (no synthetic "
                                                         "video driver yet, or it is still booting)",
                                                         vm);
                else if (code == VMD_WORKER_GONE)
                        (void)sd_bus_reply_method_errorf(s->call, VMMS_ERROR_INVALID_STATE, "VM '%s' stopped", vm);
                else
                        (void)sd_bus_reply_method_errorf(s->call, VMMS_ERROR_FAILED,
                                                         "VM '%s': the screenshot failed (vmdisplay exit status %d, "
                                                         "see the worker log)",
                                                         vm, code);
        }
        s->call = sd_bus_message_unref(s->call);
        s->src = sd_event_source_disable_unref(s->src);
        safe_close(s->pidfd);
        s->pidfd = -1;
        s->pid = 0;
}

static int on_shot_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct vmms_screenshot *s = userdata;
        shot_done(s, reap(s->pidfd));
        return 0;
}

int vmms_display_screenshot(struct vmms_vm *vm, int out_fd, sd_bus_message *call, char *err, size_t errlen) {
        if (!vm->config->display.enabled)
                return errorf(err, errlen, -ENOTSUP, "VM '%s' has no display (\"display\": {\"enabled\": true})",
                              vm->config->name);
        if (!worker_runs(vm))
                return errorf(err, errlen, -ESRCH, "VM '%s' is not running", vm->config->name);
        struct vmms_display *dp = display_of(vm);
        if (!dp)
                return -ENOMEM;
        struct vmms_screenshot *s = NULL;
        for (size_t i = 0; i < SCREENSHOTS_MAX && !s; i++)
                if (!dp->shots[i].pid)
                        s = &dp->shots[i];
        if (!s)
                return errorf(err, errlen, -EBUSY, "VM '%s': %u screenshots are being taken already",
                              vm->config->name, SCREENSHOTS_MAX);
        char sock[PATH_MAX], a_connect[PATH_MAX + 16], a_timeout[32];
        if (path_of(vm, "display.sock", sock, sizeof sock) < 0)
                return -ENAMETOOLONG;
        snprintf(a_connect, sizeof a_connect, "--connect=%s", sock);
        snprintf(a_timeout, sizeof a_timeout, "--timeout=%u", SCREENSHOT_TIMEOUT_S);
        char *argv[] = { (char *)"vmdisplay", a_connect, (char *)"--screenshot=-", a_timeout, NULL };
        *s = (struct vmms_screenshot){ .owner = dp, .pidfd = -1 };
        int r = spawn(vm, argv, out_fd, &s->pid, &s->pidfd);
        if (r < 0)
                return errorf(err, errlen, r, "cannot run %s: %s", vm->d->opt.display_server, strerror(-r));
        if ((r = sd_event_add_io(vm->d->event, &s->src, s->pidfd, EPOLLIN, on_shot_exit, s)) < 0) {
                (void)syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
                (void)reap(s->pidfd);
                shot_done(s, -1);
                return errorf(err, errlen, r, "%s", strerror(-r));
        }
        s->call = sd_bus_message_ref(call);
        return 0;
}

void vmms_display_on_event(struct vmms_vm *vm, json_object *ev) {
        struct vmms_display *dp = display_of(vm);
        if (!dp)
                return;
        json_object *v;
#define B(k) (json_object_object_get_ex(ev, #k, &v) && json_object_get_boolean(v))
#define U(k) (json_object_object_get_ex(ev, #k, &v) && json_object_is_type(v, json_type_int) && \
              json_object_get_int64(v) > 0 && json_object_get_int64(v) <= 65535 ? (uint32_t)json_object_get_int64(v) : 0u)
        bool video = B(video), keyboard = B(keyboard), mouse = B(mouse), active = B(active);
        uint32_t width = active ? U(width) : 0, height = active ? U(height) : 0;
#undef B
#undef U
        /* What the properties say already is no news to the bus's
         * subscribers: a worker may send a state again (its coalescing
         * sends the state as it is when an interval ends). */
        if (video == dp->video && keyboard == dp->keyboard && mouse == dp->mouse && active == dp->active &&
            width == dp->width && height == dp->height)
                return;
        dp->video = video, dp->keyboard = keyboard, dp->mouse = mouse, dp->active = active;
        dp->width = width, dp->height = height;
        vmms_bus_display_emit(vm);
}

void vmms_display_status(const struct vmms_vm *vm, struct vmms_display_status *out) {
        const struct vmms_display *dp = vm->display;
        *out = (struct vmms_display_status){ 0 };
        if (!dp)
                return;
        out->server_running = dp->pid != 0;
        out->video = dp->video, out->keyboard = dp->keyboard, out->mouse = dp->mouse;
        out->width = dp->width, out->height = dp->height;
}

void vmms_display_free(struct vmms_vm *vm) {
        struct vmms_display *dp = vm->display;
        if (!dp)
                return;
        /* vmms exits: the display server goes on with the worker (a new
         * vmms finds it connected); a screenshot's caller gets no answer. */
        dp->retry = sd_event_source_disable_unref(dp->retry);
        dp->pid_src = sd_event_source_disable_unref(dp->pid_src);
        safe_close(dp->pidfd);
        for (size_t i = 0; i < SCREENSHOTS_MAX; i++) {
                dp->shots[i].call = sd_bus_message_unref(dp->shots[i].call);
                dp->shots[i].src = sd_event_source_disable_unref(dp->shots[i].src);
                safe_close(dp->shots[i].pidfd);
        }
        free(dp);
        vm->display = NULL;
}

static const struct vmms_worker_event video_events[] = {
        { "display", NULL, vmms_display_on_event },
        {},
};

const struct vmms_feature vmms_feature_video = {
        .name = "video",
        .events = video_events,
        .worker_ended = vmms_display_worker_ended,
        .bus_register = vmms_bus_display_register,
};
