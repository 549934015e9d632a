// SPDX-License-Identifier: MIT
/* The daemon: directories and their lock, the bus connection and name,
 * loading configurations, re-attaching to workers, readiness, the loop. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "checkpoint/checkpoint.h"
#include "core/daemon.h"
#include "hotplug/hotplug.h"
#include "dm/dm.h"
#include "metering/metering.h"
#include "migration/migration.h"
#include "core/feature.h"
#include "worker/worker.h"
#include "processor/processor.h"

#define VMMS_MAX_PROBLEMS 256u

int vmms_daemon_add_problem(struct vmms_daemon *d, const char *fmt, ...) {
        char msg[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_warning("%s", msg);
        if (d->n_problems >= VMMS_MAX_PROBLEMS)
                return 0; /* logged; the property keeps the first ones */
        char **p = realloc(d->problems, (d->n_problems + 1) * sizeof *p);
        if (!p)
                return -ENOMEM;
        d->problems = p;
        if (!(p[d->n_problems] = strdup(msg)))
                return -ENOMEM;
        d->n_problems++;
        return 0;
}

struct vmms_vm *vmms_daemon_find_id(struct vmms_daemon *d, const struct guid *id) {
        for (size_t i = 0; i < d->n_vms; i++)
                if (guid_equal(&d->vms[i]->config->id, id))
                        return d->vms[i];
        return NULL;
}

struct vmms_vm *vmms_daemon_find_name(struct vmms_daemon *d, const char *name) {
        for (size_t i = 0; i < d->n_vms; i++)
                if (!strcmp(d->vms[i]->config->name, name))
                        return d->vms[i];
        return NULL;
}

struct vmms_vm *vmms_daemon_find_path(struct vmms_daemon *d, const char *path) {
        struct guid id;
        return path && vmms_vm_path_to_id(path, &id) >= 0 ? vmms_daemon_find_id(d, &id) : NULL;
}

unsigned vmms_daemon_count_state(struct vmms_daemon *d, enum vmms_state s) {
        unsigned n = 0;
        for (size_t i = 0; i < d->n_vms; i++)
                n += d->vms[i]->state == s;
        return n;
}

unsigned vmms_daemon_count_owner(struct vmms_daemon *d, uid_t owner) {
        unsigned n = 0;
        for (size_t i = 0; i < d->n_vms; i++)
                n += d->vms[i]->owner == owner;
        return n;
}

int vmms_daemon_add_vm(struct vmms_daemon *d, struct vmms_vm *vm) {
        if (d->n_vms == d->cap_vms) {
                size_t cap = d->cap_vms ? d->cap_vms * 2 : 16;
                struct vmms_vm **v = realloc(d->vms, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                d->vms = v;
                d->cap_vms = cap;
        }
        d->vms[d->n_vms++] = vm;
        if (d->bus)
                (void)sd_bus_emit_properties_changed(d->bus, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "VMCount", NULL);
        return 0;
}

void vmms_daemon_remove_vm(struct vmms_daemon *d, struct vmms_vm *vm) {
        for (size_t i = 0; i < d->n_vms; i++)
                if (d->vms[i] == vm) {
                        memmove(&d->vms[i], &d->vms[i + 1], (d->n_vms - i - 1) * sizeof *d->vms);
                        d->n_vms--;
                        break;
                }
        vmms_vm_free(vm);
        (void)sd_bus_emit_properties_changed(d->bus, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "VMCount", NULL);
}

static int mkdir_p(const char *path, mode_t mode) {
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int setup_dirs(struct vmms_daemon *d) {
        char vms[PATH_MAX], lock[PATH_MAX];
        int r;
        snprintf(vms, sizeof vms, "%s/vms", d->opt.runtime_dir);
        snprintf(lock, sizeof lock, "%s/vmms.lock", d->opt.runtime_dir);
        if ((r = mkdir_p(d->opt.state_dir, 0700)) < 0 || (r = mkdir_p(d->opt.runtime_dir, 0755)) < 0 ||
            (r = mkdir_p(vms, 0700)) < 0 || (r = mkdir_p(d->opt.log_dir, 0750)) < 0)
                return log_error_errno(r, "cannot create the state, runtime or log directory: %m");
        d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (d->lock_fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", lock);
        /* One vmms per runtime directory: two would fight over the workers. */
        if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0)
                return log_error_errno(-errno, "another vmms uses %s (%s is locked): %m", d->opt.runtime_dir, lock);
        return 0;
}

static void setup_identity(struct vmms_daemon *d) {
        char *text = NULL;
        if (read_file("/proc/sys/kernel/random/boot_id", 64, &text, NULL) >= 0) {
                snprintf(d->boot_id, sizeof d->boot_id, "%.36s", text);
                free(text);
        }
        struct group *g = d->opt.group[0] ? getgrnam(d->opt.group) : NULL;
        if (g) {
                d->group_gid = g->gr_gid;
                d->have_group = true;
        } else if (d->opt.group[0])
                log_notice("group '%s' does not exist: only root (and polkit) may manage VMs", d->opt.group);
}

#define EXIT_CHECK_US 200000

static unsigned postcopies(struct vmms_daemon *d) {
        return vmms_postcopies_out(d) + vmms_postcopies_in(d);
}

static int on_exit_check(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_daemon *d = userdata;
        if (postcopies(d) == 0) {
                log_info("the migrations past their commit are done: exiting; running VMs keep running");
                return sd_event_exit(d->event, 0);
        }
        return sd_event_source_set_time_relative(s, EXIT_CHECK_US) < 0 ? sd_event_exit(d->event, 0)
                                                                      : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* The workers run on without vmms, but a post-copy's channel runs in it:
 * past its COMMIT the VM's memory is split between two hosts, and ending
 * the channel would lose it. So the exit waits for those, unless asked
 * again. */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct vmms_daemon *d = userdata;
        unsigned n = d->exiting ? 0 : postcopies(d);
        (void)sd_notify(0, "STOPPING=1");
        if (n == 0 || sd_event_add_time_relative(d->event, &d->exit_timer, CLOCK_MONOTONIC, EXIT_CHECK_US, 0,
                                                 on_exit_check, d) < 0) {
                log_info("signal %u: exiting%s; running VMs keep running", si->ssi_signo,
                         d->exiting ? " now, before the migrations past their commit are done" : "");
                return sd_event_exit(d->event, 0);
        }
        d->exiting = true;
        log_warning("signal %u: exiting once %u migration%s past %s commit %s done (a post-copy's VM has its memory "
                    "split between two hosts, which vmms's exit would lose; a second signal exits at once)",
                    si->ssi_signo, n, n == 1 ? "" : "s", n == 1 ? "its" : "their", n == 1 ? "is" : "are");
        return 0;
}

static int setup_bus(struct vmms_daemon *d) {
        int r;
        if (d->opt.bus_address) {
                if ((r = sd_bus_new(&d->bus)) < 0 || (r = sd_bus_set_address(d->bus, d->opt.bus_address)) < 0 ||
                    (r = sd_bus_set_bus_client(d->bus, 1)) < 0 || (r = sd_bus_negotiate_fds(d->bus, 1)) < 0 ||
                    (r = sd_bus_start(d->bus)) < 0)
                        return log_error_errno(r, "cannot connect to the bus at %s: %m", d->opt.bus_address);
        } else if ((r = sd_bus_open_system(&d->bus)) < 0)
                return log_error_errno(r, "cannot connect to the system bus: %m");
        /* Without its bus vmms is unreachable: exit (systemd restarts it; the
         * workers keep running and are re-attached). */
        if ((r = sd_bus_set_exit_on_disconnect(d->bus, 1)) < 0 ||
            (r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL)) < 0 ||
            (r = vmms_bus_manager_register(d)) < 0 || (r = vmms_bus_vm_register(d)) < 0 ||
            (r = vmms_features_bus_register(d)) < 0)
                return r;
        r = sd_bus_request_name(d->bus, VMMS_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "cannot own %s (is another vmms running, and does the D-Bus policy allow "
                                          "it?): %m", VMMS_BUS_NAME);
        return 0;
}

int vmms_daemon_new(const struct vmms_options *opt, struct vmms_daemon **out) {
        struct vmms_daemon *d = calloc(1, sizeof *d);
        sigset_t ss;
        int r;
        if (!d)
                return -ENOMEM;
        d->opt = *opt;
        d->lock_fd = -1;
        d->mig_listen_fd = -1;
        vmms_log_setup(d);
        setup_identity(d);
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if ((r = setup_dirs(d)) < 0 || (r = sd_event_new(&d->event)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d)) < 0 || (r = setup_bus(d)) < 0 ||
            (r = vmms_store_load(d)) < 0 ||
            /* The migration credentials before the workers: a re-attached
             * one may have a commit to ask a destination about. Nothing is
             * accepted before the loop runs. */
            (r = vmms_migration_listen(d)) < 0 || (r = vmms_reattach_all(d)) < 0 ||
            (r = vmms_logs_timer_start(d)) < 0 || (r = vmms_dm_timer_start(d)) < 0 ||
            (r = vmms_metering_timer_start(d)) < 0) {
                vmms_daemon_free(d);
                return r;
        }
        /* The uplink's qdisc as the re-attached VMs' weights have it (a
         * restarted vmms makes it again); an uplink with a root qdisc
         * vmms did not make is refused here, before anything runs. */
        char err[256];
        if ((r = vmms_uplink_sync(d, err, sizeof err)) < 0) {
                log_error("--nic-uplink: %s", err);
                vmms_daemon_free(d);
                return r;
        }
        for (size_t i = 0; i < d->n_vms; i++)
                vmms_ckpt_compact_idle(d->vms[i]); /* a merge cut short last time */
        vmms_metering_load_all(d); /* after the re-attach: whose base it is (metering/persist.c) */
        *out = d;
        return 0;
}

struct vmms_daemon *vmms_daemon_free(struct vmms_daemon *d) {
        if (!d)
                return NULL;
        vmms_auth_free_all(d);
        vmms_scopes_free(d);
        sd_event_source_disable_unref(d->exit_timer);
        vmms_migrations_free(d);
        vmms_incoming_free_all(d);
        sd_event_source_disable_unref(d->log_timer);
        sd_event_source_disable_unref(d->dm_timer);
        sd_event_source_disable_unref(d->metering_timer);
        vmms_metering_save_all(d); /* the totals outlive vmms (VMs made no metering state: none written) */
        for (size_t i = 0; i < d->n_vms; i++)
                vmms_vm_free(d->vms[i]);
        free(d->vms);
        free(d->uplink_nics);
        for (size_t i = 0; i < d->n_problems; i++)
                free(d->problems[i]);
        free(d->problems);
        sd_bus_flush_close_unref(d->bus);
        sd_event_unref(d->event);
        safe_close(d->lock_fd);
        free(d);
        return NULL;
}

int vmms_daemon_run(struct vmms_daemon *d) {
        unsigned running = vmms_daemon_count_state(d, VMMS_STATE_RUNNING) + vmms_daemon_count_state(d, VMMS_STATE_PAUSED);
        /* Ready means: the name is ours, configurations are loaded and the
         * surviving workers are re-attached. Without systemd this is a no-op. */
        (void)sd_notifyf(0, "READY=1\nSTATUS=%zu VMs, %u running", d->n_vms, running);
        log_info("ready on %s: %zu VMs, %u running", d->opt.bus_address ? d->opt.bus_address : "the system bus",
                 d->n_vms, running);
        return sd_event_loop(d->event);
}
