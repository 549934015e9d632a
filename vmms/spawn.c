// SPDX-License-Identifier: MIT
/* Starting a worker: vmms opens everything the VM needs (disk images with the
 * right mode and a lock, kernel and initrd, TAPs, the worker's listening
 * control and console sockets, the console log) and hands the fds over with
 * the configuration (common/proto.h), so that the worker needs no path
 * access and no privileges of its own. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "worker.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* The fds that travel with the config message, and where each one is. */
struct spawn_fds {
        int fd[PROTO_MAX_FDS];
        size_t n;
        json_object *map; /* the message's "fds" object */
};

static void spawn_fds_done(struct spawn_fds *s) {
        for (size_t i = 0; i < s->n; i++)
                safe_close(s->fd[i]);
        json_object_put(s->map);
}

/* Appends fd (taking it) and returns its index in the SCM_RIGHTS array. */
static int spawn_fds_add(struct spawn_fds *s, int fd) {
        if (fd < 0)
                return fd;
        if (s->n >= PROTO_MAX_FDS) {
                safe_close(fd);
                return -EMSGSIZE;
        }
        s->fd[s->n] = fd;
        return (int)s->n++;
}

static int open_disks(struct vmms_vm *vm, struct spawn_fds *s, char *err, size_t errlen) {
        json_object *arr = json_object_new_array();
        json_object_object_add(s->map, "disks", arr);
        for (uint32_t i = 0; i < vm->config->n_disks; i++) {
                const struct vm_disk_config *dc = &vm->config->disks[i];
                int fd = open(dc->path, (dc->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        int r = -errno;
                        snprintf(err, errlen, "disks[%u].path: %s: %s", i, dc->path, strerror(errno));
                        safe_close(fd);
                        return r;
                }
                if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                        snprintf(err, errlen, "disks[%u].path: %s is not a file or block device", i, dc->path);
                        safe_close(fd);
                        return -EINVAL;
                }
                /* The lock belongs to the open file description, which the
                 * worker inherits: it holds as long as the VM runs, across a
                 * vmms restart, and keeps two VMs off one writable image. */
                if (flock(fd, (dc->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
                        snprintf(err, errlen, "disks[%u].path: %s is in use by another VM", i, dc->path);
                        safe_close(fd);
                        return -EBUSY;
                }
                int idx = spawn_fds_add(s, fd);
                if (idx < 0)
                        return idx;
                json_object_array_add(arr, json_object_new_int(idx));
        }
        return 0;
}

static int open_taps(struct vmms_vm *vm, struct spawn_fds *s, char *err, size_t errlen) {
        json_object *arr = json_object_new_array(), *names = json_object_new_array();
        json_object_object_add(s->map, "taps", arr);
        json_object_object_add(s->map, "tap_names", names);
        for (uint32_t i = 0; i < vm->config->n_nics; i++) {
                char ifname[IFNAMSIZ];
                int idx = spawn_fds_add(s, vmms_tap_open(&vm->config->nics[i], &vm->config->id, i, ifname, err,
                                                         errlen));
                if (idx < 0)
                        return idx;
                json_object_array_add(arr, json_object_new_int(idx));
                json_object_array_add(names, json_object_new_string(ifname));
        }
        return 0;
}

static int open_ro(struct spawn_fds *s, const char *key, const char *path, const char *field, char *err,
                   size_t errlen) {
        if (!path[0])
                return 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                snprintf(err, errlen, "%s: %s: %s", field, path, strerror(errno));
                return -errno;
        }
        int idx = spawn_fds_add(s, fd);
        if (idx >= 0)
                json_object_object_add(s->map, key, json_object_new_int(idx));
        return idx < 0 ? idx : 0;
}

static int listen_unix(const char *path, int type, int backlog) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path); /* a stale socket of an earlier run */
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int add_socket(struct vmms_vm *vm, struct spawn_fds *s, const char *file, int type, const char *key,
                      char *path, char *err, size_t errlen) {
        int r = vmms_vm_dir(vm, file, path, VMMS_SOCKET_PATH_MAX);
        if (r >= 0)
                r = spawn_fds_add(s, listen_unix(path, type, 8));
        if (r < 0) {
                snprintf(err, errlen, "%s socket %s: %s", key, path, strerror(-r));
                return r;
        }
        json_object_object_add(s->map, key, json_object_new_int(r));
        return 0;
}

static int open_runtime(struct vmms_vm *vm, struct spawn_fds *s, struct vmms_runtime_record *rec, char *err,
                        size_t errlen) {
        char dir[PATH_MAX], log[PATH_MAX];
        int r;
        if ((r = vmms_vm_dir(vm, NULL, dir, sizeof dir)) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
                r = r < 0 ? r : -errno;
                snprintf(err, errlen, "runtime directory %s: %s", dir, strerror(-r));
                return r;
        }
        if ((r = add_socket(vm, s, "control.sock", SOCK_SEQPACKET, "control_listen", rec->control, err, errlen)) < 0 ||
            (r = add_socket(vm, s, "console.sock", SOCK_STREAM, "console_listen", rec->console, err, errlen)) < 0)
                return r;
        if ((r = vmms_console_log_path(vm, log, sizeof log)) < 0)
                return r;
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0) {
                snprintf(err, errlen, "console log %s: %s", log, strerror(errno));
                return -errno;
        }
        if ((r = spawn_fds_add(s, fd)) < 0)
                return r;
        json_object_object_add(s->map, "console_log", json_object_new_int(r));
        return 0;
}

static int worker_log_fd(struct vmms_vm *vm) {
        char path[PATH_MAX];
        if (vm->d->journal) /* the worker logs to the journal through our stream */
                return fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (snprintf(path, sizeof path, "%s/%s.worker.log", vm->d->opt.log_dir, vm->id) >= (int)sizeof path)
                return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        return fd < 0 ? -errno : fd;
}

/* The worker's environment: nothing of ours but the log settings. */
static void build_env(struct vmms_vm *vm, char **env, size_t max, char *store, size_t storelen) {
        extern char **environ;
        size_t n = 0, used = 0;
        const char *fixed[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
        env[n++] = (char *)fixed[0];
        int k = snprintf(store, storelen, "VMSTACK_VM_ID=%s", vm->id);
        env[n++] = store;
        used = (size_t)k + 1;
        snprintf(store + used, storelen - used, "VMSTACK_VM_NAME=%s", vm->config->name);
        env[n++] = store + used;
        for (char **e = environ; *e && n + 1 < max; e++)
                if (!strncmp(*e, "VM_", 3) || !strncmp(*e, "ASAN_OPTIONS=", 13) ||
                    !strncmp(*e, "UBSAN_OPTIONS=", 14) || !strncmp(*e, "LSAN_OPTIONS=", 13) ||
                    (vm->d->journal && !strncmp(*e, "JOURNAL_STREAM=", 15)))
                        env[n++] = *e;
        env[n] = NULL;
}

/* In the child, between fork() and exec(): async-signal-safe calls only. */
static _Noreturn void child_exec(const char *path, int ctl, int log_fd, int errp, char **env) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        /* Own session: a Ctrl-C aimed at a foreground vmms must not reach VMs. */
        setsid();
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        /* Move everything above the target numbers first, so dup2 cannot clobber. */
        ctl = fcntl(ctl, F_DUPFD_CLOEXEC, 10);
        log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 10);
        errp = fcntl(errp, F_DUPFD_CLOEXEC, 10);
        devnull = fcntl(devnull, F_DUPFD_CLOEXEC, 10);
        if (ctl < 0 || log_fd < 0 || errp < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(log_fd, 1) < 0 ||
            dup2(log_fd, 2) < 0 || dup2(ctl, PROTO_CONTROL_FD) < 0 || dup3(errp, 4, O_CLOEXEC) < 0)
                _exit(127);
        close_range(5, ~0u, 0);
        char *argv[] = { (char *)"vmwp", (char *)"--control-fd", (char *)"3", NULL };
        execve(path, argv, env);
        int e = errno;
        (void)!write(4, &e, sizeof e);
        _exit(127);
}

static int fork_worker(struct vmms_vm *vm, int ctl_child, pid_t *pid, int *pidfd, char *err, size_t errlen) {
        char *env[40], store[256];
        int errp[2];
        _cleanup_close_ int log_fd = worker_log_fd(vm);
        if (log_fd < 0) {
                snprintf(err, errlen, "worker log in %s: %s", vm->d->opt.log_dir, strerror(-log_fd));
                return log_fd;
        }
        build_env(vm, env, ARRAY_SIZE(env), store, sizeof store);
        if (pipe2(errp, O_CLOEXEC) < 0)
                return -errno;
        pid_t p = fork();
        if (p < 0) {
                safe_close(errp[0]), safe_close(errp[1]);
                return -errno;
        }
        if (p == 0)
                child_exec(vm->d->opt.worker, ctl_child, log_fd, errp[1], env);
        safe_close(errp[1]);
        int e = 0;
        ssize_t n = read_full(errp[0], &e, sizeof e);
        safe_close(errp[0]);
        if (n == (ssize_t)sizeof e) {
                (void)waitpid(p, NULL, 0);
                snprintf(err, errlen, "cannot execute the worker %s: %s", vm->d->opt.worker, strerror(e));
                return -e;
        }
        /* Our own unreaped child: its pid cannot have been reused yet. */
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

static int read_starttime(pid_t pid, uint64_t *starttime) {
        struct vmms_proc_stat st;
        int r = vmms_proc_stat_read(pid, &st);
        if (r >= 0)
                *starttime = st.starttime;
        return r;
}

static int send_config(struct vmms_vm *vm, int ctl, struct spawn_fds *s, const char *log_path) {
        struct vm_config *c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        /* A worker that only knows paths still logs to the same file. */
        *c = *vm->config;
        snprintf(c->serial_log, sizeof c->serial_log, "%s", log_path);
        _cleanup_free_ char *json = vm_config_to_json(c);
        free(c);
        _cleanup_(json_object_putp) json_object *msg = json_object_new_object();
        json_object *cfg = json ? json_tokener_parse(json) : NULL;
        if (!msg || !cfg) {
                json_object_put(cfg);
                return -ENOMEM;
        }
        json_object_object_add(msg, "op", json_object_new_string("config"));
        json_object_object_add(msg, "config", cfg);
        json_object_object_add(msg, "fds", json_object_get(s->map));
        return proto_send(ctl, msg, s->fd, s->n);
}

static int prepare_fds(struct vmms_vm *vm, struct spawn_fds *s, struct vmms_runtime_record *rec, char *err,
                       size_t errlen) {
        int r;
        if (!(s->map = json_object_new_object()))
                return -ENOMEM;
        if ((r = open_disks(vm, s, err, errlen)) < 0 || (r = open_taps(vm, s, err, errlen)) < 0 ||
            (r = open_ro(s, "kernel", vm->config->kernel, "boot.kernel", err, errlen)) < 0 ||
            (r = open_ro(s, "initrd", vm->config->initrd, "boot.initrd", err, errlen)) < 0 ||
            (r = open_runtime(vm, s, rec, err, errlen)) < 0)
                return r;
        return 0;
}

int vmms_worker_spawn(struct vmms_vm *vm, char *err, size_t errlen) {
        _cleanup_(spawn_fds_done) struct spawn_fds s = { .n = 0 };
        struct vmms_runtime_record rec = { .id = vm->config->id };
        char log_path[PATH_MAX];
        int ctl[2], pidfd = -1, r;
        pid_t pid;

        if ((r = prepare_fds(vm, &s, &rec, err, errlen)) < 0 ||
            (r = vmms_console_log_path(vm, log_path, sizeof log_path)) < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
                return -errno;
        r = fork_worker(vm, ctl[1], &pid, &pidfd, err, errlen);
        safe_close(ctl[1]);
        if (r < 0) {
                safe_close(ctl[0]);
                return r;
        }
        rec.pid = pid;
        rec.started_at_us = now_us(CLOCK_REALTIME);
        snprintf(rec.boot_id, sizeof rec.boot_id, "%s", vm->d->boot_id);
        if ((r = read_starttime(pid, &rec.starttime)) < 0 || (r = send_config(vm, ctl[0], &s, log_path)) < 0) {
                snprintf(err, errlen, "worker %d did not take its configuration: %s", (int)pid, strerror(-r));
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                (void)waitpid(pid, NULL, 0);
                safe_close(pidfd), safe_close(ctl[0]);
                return r;
        }
        if ((r = vmms_worker_attach(vm, pid, pidfd, ctl[0], true, &rec, &vm->worker)) < 0) {
                snprintf(err, errlen, "cannot watch worker %d: %s", (int)pid, strerror(-r));
                kill(pid, SIGKILL); /* our unreaped child: the pid is still ours */
                (void)waitpid(pid, NULL, 0);
                return r;
        }
        (void)vmms_worker_record_update(vm->worker);
        return 0;
}
