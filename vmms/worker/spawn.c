// SPDX-License-Identifier: MIT
/* Starting a worker: vmms opens what the VM needs (disk images with the right
 * mode and a lock, TAPs) and hands the fds over with the configuration
 * (common/proto.h), then gives the worker its re-attach listener. The
 * worker serves the console itself (--serial socket:PATH) and appends to the
 * console log (the configuration's serial_log). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
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
#include "vmms/hotplug.h"
#include "worker/worker.h"
#include "processor/processor.h"
#include "core/daemon.h"
#include "migration/migration.h"
#include "dm/dm.h"
#include "host/host.h"
#include "saved-state/saved-state.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* The fds that travel with the config message: one per disk, then one per
 * NIC (common/proto.h), and the names of the TAPs vmms created; last the
 * VHDX disks' parents. */
struct spawn_fds {
        int fd[PROTO_MAX_FDS];
        size_t n;
        char tap_names[VM_NICS_MAX][IFNAMSIZ];
        uint8_t nic_queues[VM_NICS_MAX]; /* each NIC's TAP queue fds (proto.h "nic_queues") */
        bool nic_steer[VM_NICS_MAX];     /* its RSS steering map follows them (proto.h "nic_steer") */
        const char *files[5]; /* after the disks and TAPs: "kernel" or "firmware", "initrd", "serial_log", "saved_state" or "migrate_incoming" */
        size_t n_files;
        uint32_t n_dvd_fds; /* after the files: the DVD drives' ISOs (proto.h "dvd_fds") */
        /* Parents of each disk, nearest first, disk by disk; they join fd[]
         * after everything else (append_parents), in this order. */
        int parent_fd[PROTO_MAX_PARENT_FDS];
        size_t n_parent_fds;
        uint8_t disk_parents[VM_DISKS_MAX];
};

_Static_assert(VM_DISKS_MAX + VM_NIC_QUEUES_MAX + VM_NICS_MAX + 5 + VM_DVD_DRIVES_MAX + PROTO_MAX_PARENT_FDS <=
                       PROTO_MAX_FDS,
               "a config message with every disk, NIC, file and parent fits one SCM_RIGHTS");

static void spawn_fds_done(struct spawn_fds *s) {
        for (size_t i = 0; i < s->n; i++)
                safe_close(s->fd[i]);
        for (size_t i = 0; i < s->n_parent_fds; i++)
                safe_close(s->parent_fd[i]);
}

/* Appends fd (taking it); returns its index in the SCM_RIGHTS array. */
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

/* Last in the message, so that every other fd keeps its place. */
static int append_parents(struct spawn_fds *s) {
        for (size_t k = 0; k < s->n_parent_fds; k++) {
                int fd = s->parent_fd[k];
                s->parent_fd[k] = -1; /* spawn_fds_add takes it, even on error */
                int r = spawn_fds_add(s, fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Each disk as vmms_disk_open() opens it (disk-open.c); its VHDX parents
 * wait in parent_fd for append_parents. */
static int open_disks(struct vmms_vm *vm, const struct vmms_cred *owner, struct spawn_fds *s, char *err,
                      size_t errlen) {
        for (uint32_t i = 0; i < vm->config->n_disks; i++) {
                struct vmms_disk_fds df;
                int r = vmms_disk_open(vm, owner, &vm->config->disks[i], i, &df, err, errlen);
                if (r < 0)
                        return r;
                if (s->n_parent_fds + df.n_parents > PROTO_MAX_PARENT_FDS) {
                        vmms_disk_fds_done(&df);
                        snprintf(err, errlen, "disks[%u].path: the VM's VHDX disks have more than %u parent images "
                                 "in all", i, PROTO_MAX_PARENT_FDS);
                        return -E2BIG;
                }
                memcpy(s->parent_fd + s->n_parent_fds, df.parents, df.n_parents * sizeof df.parents[0]);
                s->n_parent_fds += df.n_parents;
                s->disk_parents[i] = (uint8_t)df.n_parents;
                if ((r = spawn_fds_add(s, df.fd)) < 0) /* takes it, also on error */
                        return r;
        }
        return 0;
}

/* The boot image: the kernel, or (kind firmware) the firmware image, which
 * vmms reads itself from a firmware directory (paths.h). */
static int open_boot_image(struct vmms_vm *vm, const struct vmms_cred *owner, struct spawn_fds *s, char *err,
                           size_t errlen) {
        const struct vm_config *c = vm->config;
        bool fw = c->boot_kind == VM_BOOT_FIRMWARE;
        char why[1024];
        int fd = vmms_file_open(&vm->d->opt.paths, fw ? c->firmware : c->kernel,
                                fw ? VMMS_FILE_FIRMWARE : VMMS_FILE_BOOT, owner, why, sizeof why);
        if (fd < 0)
                return snprintf(err, errlen, "%s: %s", fw ? "boot.firmware" : "boot.kernel", why), fd;
        if ((fd = spawn_fds_add(s, fd)) < 0)
                return fd;
        s->files[s->n_files++] = fw ? "firmware" : "kernel";
        return 0;
}

/* The boot image, the initrd and the console log travel as fds too, after
 * the disks and TAPs, named in the message's "files" (common/proto.h); the
 * DVD drives' ISOs follow them ("dvd_fds"): the worker opens no host path
 * (docs/vmms.md "Host files"). */
static int open_files(struct vmms_vm *vm, const struct vmms_cred *owner, const char *log_path, struct spawn_fds *s,
                      char *err, size_t errlen) {
        const struct vm_config *c = vm->config;
        char why[1024];
        int fd = open_boot_image(vm, owner, s, err, errlen);
        if (fd < 0)
                return fd;
        if (c->initrd[0]) {
                fd = vmms_file_open(&vm->d->opt.paths, c->initrd, VMMS_FILE_BOOT, owner, why, sizeof why);
                if (fd < 0)
                        return snprintf(err, errlen, "boot.initrd: %s", why), fd;
                if ((fd = spawn_fds_add(s, fd)) < 0)
                        return fd;
                s->files[s->n_files++] = "initrd";
        }
        fd = vmms_log_open(log_path, VMMS_LOG_APPEND, why, sizeof why);
        if (fd < 0)
                return snprintf(err, errlen, "console log: %s", why), fd;
        if ((fd = spawn_fds_add(s, fd)) < 0)
                return fd;
        s->files[s->n_files++] = "serial_log";
        if (vm->mig->incoming_fd >= 0) { /* an incoming migration: the relay's socket */
                fd = fcntl(vm->mig->incoming_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0 || (fd = spawn_fds_add(s, fd)) < 0)
                        return fd < 0 ? -errno : fd;
                s->files[s->n_files++] = "migrate_incoming";
        }
        if (vm->saved->restoring) { /* a Saved VM: the worker restores it instead of booting */
                fd = vmms_saved_open(vm, err, errlen);
                if (fd < 0 || (fd = spawn_fds_add(s, fd)) < 0)
                        return fd;
                s->files[s->n_files++] = "saved_state";
        }
        for (uint32_t i = 0; i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++) {
                if (!c->dvds[i].path[0])
                        continue;
                char field[32];
                snprintf(field, sizeof field, "dvd_drives[%u].path", i);
                if ((fd = spawn_fds_add(s, vmms_iso_open(vm, owner, c->dvds[i].path, field, err, errlen))) < 0)
                        return fd;
                s->n_dvd_fds++;
        }
        return 0;
}

static int open_taps(struct vmms_vm *vm, struct spawn_fds *s, char *err, size_t errlen) {
        for (uint32_t i = 0; i < vm->config->n_nics; i++) {
                const struct vm_nic_config *nic = &vm->config->nics[i];
                uint32_t want = vm_nic_queues(nic, vm->config->vcpus);
                int fds[VM_NIC_QUEUES_MAX], steer;
                int n = vmms_tap_open(nic, &vm->config->id, i, want, fds, &steer, s->tap_names[i], err, errlen);
                if (n < 0)
                        return n;
                if ((uint32_t)n < want)
                        vmms_vm_log(vm, LOG_LEVEL_NOTICE, 0,
                                    "nics[%u]: TAP %s is not multi-queue: one queue instead of %u (create it "
                                    "with \"ip tuntap add mode tap multi_queue\")",
                                    i, s->tap_names[i], want);
                s->nic_queues[i] = (uint8_t)n;
                int r = 0;
                for (int k = 0; k < n; k++) /* spawn_fds_add takes each fd, also on error */
                        r = r < 0 ? (safe_close(fds[k]), r) : spawn_fds_add(s, fds[k]);
                if (steer >= 0) /* after the queues */
                        r = r < 0 ? (safe_close(steer), r) : spawn_fds_add(s, steer);
                s->nic_steer[i] = steer >= 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The VM's runtime directory, its control listener (the fd is returned) and
 * the console socket path the worker will bind. */
static int open_runtime(struct vmms_vm *vm, struct vmms_runtime_record *rec, char *err, size_t errlen) {
        char dir[PATH_MAX];
        int r;
        if ((r = vmms_vm_dir(vm, NULL, dir, sizeof dir)) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
                r = r < 0 ? r : -errno;
                snprintf(err, errlen, "runtime directory %s: %s", dir, strerror(-r));
                return r;
        }
        if ((r = vmms_vm_dir(vm, "console.sock", rec->console, sizeof rec->console)) < 0 ||
            (r = vmms_vm_dir(vm, "control.sock", rec->control, sizeof rec->control)) < 0)
                return r;
        (void)unlink(rec->console); /* the worker refuses to replace anything but a socket */
        int fd = unix_listen(rec->control, SOCK_SEQPACKET, 4, 0);
        if (fd < 0)
                snprintf(err, errlen, "control socket %s: %s", rec->control, strerror(-fd));
        return fd;
}

static int worker_log_fd(struct vmms_vm *vm, char *err, size_t errlen) {
        char path[PATH_MAX], why[PATH_MAX + 128];
        if (vm->d->journal) /* the worker logs to the journal through our stream */
                return fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        int fd = vmms_worker_log_path(vm, path, sizeof path);
        if (fd < 0)
                return fd;
        fd = vmms_log_open(path, VMMS_LOG_APPEND, why, sizeof why);
        if (fd < 0)
                snprintf(err, errlen, "worker log: %s", why);
        return fd;
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

/* setsid() starts a session, and with the kernel's autogroups
 * (CONFIG_SCHED_AUTOGROUP, on in Debian's kernels) a scheduling group of
 * its own, at nice 0 whatever the process's nice: the scheduler shares the
 * CPUs between groups first. The group takes the nice vmms runs at, so
 * that `nice vmms` or systemd's Nice= reaches the workers as it would
 * without autogroups. Best effort: no file without autogroups; in a cgroup
 * with the cpu controller they do not apply. Async-signal-safe. */
static void autogroup_take_nice(void) {
        errno = 0;
        int nice = getpriority(PRIO_PROCESS, 0);
        if (errno || !nice)
                return;
        char buf[8], *p = buf + sizeof buf;
        unsigned v = (unsigned)(nice < 0 ? -nice : nice);
        *--p = '\n';
        do
                *--p = (char)('0' + v % 10);
        while ((v /= 10) && p > buf + 1);
        if (nice < 0)
                *--p = '-';
        int fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void)!write(fd, p, (size_t)(buf + sizeof buf - p));
        close(fd);
}

int vmms_child_exec_result(pid_t pid, int errp[2]) {
        safe_close(errp[1]);
        int e = 0;
        ssize_t n = read_full(errp[0], &e, sizeof e);
        safe_close(errp[0]);
        if (n != (ssize_t)sizeof e)
                return 0; /* closed on exec: nothing written */
        (void)waitpid(pid, NULL, 0);
        return e > 0 ? e : EIO;
}

void vmms_child_detach(void) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        setsid();
        autogroup_take_nice();
}

/* In the child, between fork() and exec(): async-signal-safe calls only. */
static _Noreturn void child_exec(const char *path, const char *serial, int ctl, int log_fd, int errp, char **env) {
        vmms_child_detach();
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
        char *argv[] = { (char *)"vmwp", (char *)"--control-fd", (char *)"3", (char *)"--serial", (char *)serial, NULL };
        execve(path, argv, env);
        int e = errno;
        (void)!write(4, &e, sizeof e);
        _exit(127);
}

static int fork_worker(struct vmms_vm *vm, const char *console, int ctl_child, pid_t *pid, int *pidfd, char *err,
                       size_t errlen) {
        char *env[40], store[256], serial[VMMS_SOCKET_PATH_MAX + 8];
        int errp[2];
        _cleanup_close_ int log_fd = worker_log_fd(vm, err, errlen);
        if (log_fd < 0)
                return log_fd;
        build_env(vm, env, ARRAY_SIZE(env), store, sizeof store);
        /* The worker serves the console on this socket (one client at a time). */
        snprintf(serial, sizeof serial, "socket:%s", console);
        if (pipe2(errp, O_CLOEXEC) < 0)
                return -errno;
        pid_t p = fork();
        if (p < 0) {
                safe_close(errp[0]), safe_close(errp[1]);
                return -errno;
        }
        if (p == 0)
                child_exec(vm->d->opt.worker, serial, ctl_child, log_fd, errp[1], env);
        int e = vmms_child_exec_result(p, errp);
        if (e) {
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

/* "hot_plug" (common/proto.h): disks and NICs may come while the VM runs
 * (hotplug.c), so its sandbox is prepared for both whatever it starts
 * with, and a writable image added or grown later may reach
 * VMMS_HOT_PLUG_FILE_SIZE, or the size of the largest it has now
 * (docs/vmms.md "Disks and NICs of a running VM"). Its disks' fds are the
 * first n_disks of s (open_disks). */
static json_object *hot_plug_json(const struct vmms_vm *vm, const struct spawn_fds *s) {
        uint64_t sizes[VM_DISKS_MAX];
        size_t n = 0;
        for (uint32_t i = 0; i < vm->config->n_disks && i < s->n && i < VM_DISKS_MAX; i++) {
                struct stat st;
                if (!vm->config->disks[i].read_only && fstat(s->fd[i], &st) == 0 && S_ISREG(st.st_mode))
                        sizes[n++] = (uint64_t)st.st_size;
        }
        json_object *h = json_object_new_object();
        if (!h)
                return NULL;
        json_object_object_add(h, "disks", json_object_new_boolean(true));
        json_object_object_add(h, "nics", json_object_new_boolean(true));
        json_object_object_add(h, "max_file_size", json_object_new_int64((int64_t)vmms_hot_plug_file_size(sizes, n)));
        return h;
}

/* The VM's configuration as its worker reads it: the console log, the
 * NICs' TAPs, the hv_sock and display sockets filled in (NULL: no memory). */
static json_object *worker_config(struct vmms_vm *vm, struct spawn_fds *s, const char *log_path) {
        struct vm_config *c = malloc(sizeof *c);
        if (!c)
                return NULL;
        /* The worker appends the console output to the log itself, and every
         * NIC names its (vmms-created) TAP, so each NIC comes with its fd. */
        *c = *vm->config;
        snprintf(c->serial_log, sizeof c->serial_log, "%s", log_path);
        for (uint32_t i = 0; i < c->n_nics; i++)
                snprintf(c->nics[i].tap, sizeof c->nics[i].tap, "%s", s->tap_names[i]);
        /* hv_sock: the worker binds the VM's socket for host clients here. */
        if (c->hvsock.enabled && vmms_vm_dir(vm, "hvsock.sock", c->hvsock.socket, sizeof c->hvsock.socket) < 0)
                c->hvsock.socket[0] = 0;
        /* The display: the worker listens here for the display server. */
        if (c->display.enabled &&
            vmms_vm_dir(vm, "display.sock", c->display.socket, sizeof c->display.socket) < 0)
                c->display.socket[0] = 0;
        _cleanup_free_ char *json = vm_config_to_json(c);
        free(c);
        return json ? json_tokener_parse(json) : NULL;
}

/* Each NIC's queues and steering, only for a multi-queue NIC: the message
 * stays as before for one queue per NIC. */
static int add_nic_queues(struct vmms_vm *vm, struct spawn_fds *s, json_object *msg) {
        bool multi_queue = false;
        for (uint32_t i = 0; i < vm->config->n_nics; i++)
                multi_queue |= s->nic_queues[i] > 1;
        if (!multi_queue)
                return 0;
        json_object *q = json_object_new_array();
        for (uint32_t i = 0; q && i < vm->config->n_nics; i++)
                json_object_array_add(q, json_object_new_int(s->nic_queues[i]));
        if (!q)
                return -ENOMEM;
        json_object_object_add(msg, "nic_queues", q);
        json_object *st = json_object_new_array();
        for (uint32_t i = 0; st && i < vm->config->n_nics; i++)
                json_object_array_add(st, json_object_new_boolean(s->nic_steer[i]));
        if (!st)
                return -ENOMEM;
        json_object_object_add(msg, "nic_steer", st);
        return 0;
}

static int send_config(struct vmms_vm *vm, int ctl, struct spawn_fds *s, const char *log_path) {
        _cleanup_(json_object_putp) json_object *msg = json_object_new_object();
        json_object *cfg = worker_config(vm, s, log_path);
        if (!msg || !cfg) {
                json_object_put(cfg);
                return -ENOMEM;
        }
        json_object_object_add(msg, "op", json_object_new_string("config"));
        json_object_object_add(msg, "config", cfg);
        json_object *files = json_object_new_array();
        for (size_t i = 0; files && i < s->n_files; i++)
                json_object_array_add(files, json_object_new_string(s->files[i]));
        if (!files)
                return -ENOMEM;
        json_object_object_add(msg, "files", files);
        if (s->n_dvd_fds) /* only then: the message stays as before without ISOs */
                json_object_object_add(msg, "dvd_fds", json_object_new_int((int)s->n_dvd_fds));
        if (vm->mig->incoming_fd >= 0 && vm->mig->incoming_disks) /* shared-nothing: the stream fills the new images */
                json_object_object_add(msg, "migrate_disks", json_object_new_boolean(true));
        int r = add_nic_queues(vm, s, msg);
        if (r < 0)
                return r;
        if (s->n_parent_fds > 0) { /* only then: the message stays as before for raw disks */
                json_object *parents = json_object_new_array();
                for (uint32_t i = 0; parents && i < vm->config->n_disks; i++)
                        json_object_array_add(parents, json_object_new_int(s->disk_parents[i]));
                if (!parents)
                        return -ENOMEM;
                json_object_object_add(msg, "disk_parents", parents);
        }
        json_object *hp = hot_plug_json(vm, s);
        if (!hp)
                return -ENOMEM;
        json_object_object_add(msg, "hot_plug", hp);
        return proto_send(ctl, msg, s->fd, s->n);
}

/* A worker that supports re-attach keeps running across a vmms restart. */
static void reattach_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (!vm->worker)
                return;
        vm->worker->rec.reattach = error >= 0;
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_NOTICE, error,
                            "the worker cannot re-attach (%m): this VM will not survive a vmms restart");
        (void)vmms_worker_record_update(vm->worker);
}

/* Everything is opened with the VM owner's rights (files.c). */
static int prepare_fds(struct vmms_vm *vm, const char *log_path, struct spawn_fds *s, char *err, size_t errlen) {
        _cleanup_free_ struct vmms_cred *owner = malloc(sizeof *owner);
        int r;
        if (!owner)
                return -ENOMEM;
        if ((r = vmms_cred_of_user(vm->owner, owner)) < 0 || (r = open_disks(vm, owner, s, err, errlen)) < 0 ||
            (r = open_taps(vm, s, err, errlen)) < 0 || (r = open_files(vm, owner, log_path, s, err, errlen)) < 0 ||
            (r = append_parents(s)) < 0)
                return r;
        return 0;
}

int vmms_worker_spawn(struct vmms_vm *vm, char *err, size_t errlen) {
        _cleanup_(spawn_fds_done) struct spawn_fds s = { .n = 0 };
        struct vmms_runtime_record rec = { .id = vm->config->id };
        char log_path[VM_PATH_MAX]; /* it becomes the config's serial_log */
        int ctl[2], pidfd = -1, r;
        pid_t pid = 0;

        if ((r = vmms_console_log_path(vm, log_path, sizeof log_path)) < 0 ||
            (r = prepare_fds(vm, log_path, &s, err, errlen)) < 0)
                return r;
        _cleanup_close_ int listener = open_runtime(vm, &rec, err, errlen);
        if (listener < 0)
                return listener;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
                return -errno;
        r = fork_worker(vm, rec.console, ctl[1], &pid, &pidfd, err, errlen);
        safe_close(ctl[1]);
        if (r < 0) {
                safe_close(ctl[0]);
                return r;
        }
        rec.pid = pid;
        rec.started_at_us = now_us(CLOCK_REALTIME);
        rec.memory_target = vm->dm->manual; /* a resume, a revert or an incoming migration keeps it */
        if (vm->saved->restoring || vm->mig->migrating_in) /* its worker reports none (docs/firmware.md) */
                snprintf(rec.boot_status, sizeof rec.boot_status, "%s", vm->boot_status);
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
        vmms_scope_worker_started(vm, pid);
        vmms_machine_taps(vm, s.tap_names, vm->config->n_nics);
        /* No time limit: vmwp reads no request until it has built the VM (a
         * saved state restored, an incoming migration taken: minutes for a
         * large one), yet it takes the listener then and keeps running
         * across a vmms restart. Under a limit the reply came too late and
         * vmms said it would not (2026-12-02, the emulated AMD-V host). */
        r = vmms_worker_request_fds_timeout(vm->worker, "reattach-listen", NULL, &listener, 1, 0, reattach_reply, NULL);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot give the worker its re-attach listener: %m");
        return 0;
}
