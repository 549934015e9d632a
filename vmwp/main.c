// SPDX-License-Identifier: MIT
/* vmwp: runs one VM. Thin: parse the command line, get the configuration
 * (a file, or the config message from vmms), build the VM, run it, exit
 * with its status (common/include/common/proto.h, docs/vmwp.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "vmwp/control.h"
#include "vmwp/sandbox.h"
#include "vmwp/vm.h"

static const char usage[] =
        "Usage: vmwp --config FILE.json [--serial stdio|file:PATH|socket:PATH|pty|none] [--timing]\n"
        "            [--keyboard socket:PATH|none] [--restore STATE] [--incoming fd:N|PATH]\n"
        "            [--sandbox-user NAME|UID[:GID]] [--no-sandbox] [--sandbox-probe PATH]\n"
        "       vmwp --control-fd N [--serial ...] [--timing] [--sandbox-user ...]\n"
        "\n"
        "Runs one virtual machine (the Virtual Machine Worker Process).\n"
        "\n"
        "  --config FILE      VM configuration (JSON, common/config.h); standalone mode\n"
        "  --control-fd N     vmms mode: receive the configuration and requests on the\n"
        "                     SOCK_SEQPACKET socket N (common/proto.h); normally 3\n"
        "  --serial SPEC      where COM1 goes: stdio (default with --config), file:PATH,\n"
        "                     socket:PATH (a unix socket, one client at a time, its input\n"
        "                     goes to the guest), pty (path printed on stderr), none\n"
        "                     (default with --control-fd; serial_log still applies)\n"
        "  --keyboard SPEC    socket:PATH: a unix socket (one client at a time) whose\n"
        "                     bytes are typed on the emulated PS/2 keyboard as ASCII\n"
        "                     characters (US layout); none (default)\n"
        "  --restore STATE    standalone: resume the VM from a saved state (a file\n"
        "                     written by a save of the same configuration) instead\n"
        "                     of booting it (docs/vm-state.md)\n"
        "  --incoming SPEC    standalone: receive the VM from a live migration's\n"
        "                     source instead of booting it: fd:N, a connected stream\n"
        "                     socket inherited as fd N, or PATH, a unix socket to\n"
        "                     listen on for the source's one connection\n"
        "                     (docs/migration.md)\n"
        "  --timing           print boot timestamps (first guest instruction, booted\n"
        "                     marker, first serial byte) and the start-up and exit\n"
        "                     phases (docs/vmwp.md) on exit\n"
        "  --sandbox-user U   user (and group) the sandboxed worker runs as when started\n"
        "                     as root (default: vmstack-worker if it exists, else 65534)\n"
        "  --no-sandbox       run without the sandbox (development only; docs/sandbox.md)\n"
        "  --sandbox-probe P  testing aid: once started, try open(P) from the main and a\n"
        "                     vCPU thread and report the result on stderr\n"
        "  -h, --help         this text\n"
        "\n"
        "Exit status: 0 powered off, 2 usage/config error, 3 setup failed, 10 reset,\n"
        "11 triple fault, 12 internal error, 13 guest crash, 14 stopped (signal or\n"
        "vmms), 15 control connection lost, 16 forbidden system call (sandbox). The reason is printed as\n"
        "\"vmwp: <vm name>: <reason>\".\n";

struct args {
        const char *config_path;
        int control_fd;
        const char *serial;
        const char *keyboard;
        const char *restore;
        const char *incoming;
        bool timing;
        struct sandbox_options sandbox;
};

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' }, { "control-fd", required_argument, NULL, 'f' },
                { "serial", required_argument, NULL, 's' }, { "timing", no_argument, NULL, 't' },
                { "sandbox-user", required_argument, NULL, 'u' }, { "no-sandbox", no_argument, NULL, 'n' },
                { "sandbox-probe", required_argument, NULL, 'p' }, { "keyboard", required_argument, NULL, 'k' },
                { "restore", required_argument, NULL, 'r' }, { "incoming", required_argument, NULL, 'i' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        *a = (struct args){ .control_fd = -1 };
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        a->config_path = optarg;
                        break;
                case 'f': {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || *end || v < 0 || v > 65535)
                                return fprintf(stderr, "vmwp: --control-fd: not a file descriptor: %s\n", optarg), -EINVAL;
                        a->control_fd = (int)v;
                        break;
                }
                case 's':
                        a->serial = optarg;
                        break;
                case 't':
                        a->timing = true;
                        break;
                case 'k':
                        a->keyboard = optarg;
                        break;
                case 'r':
                        a->restore = optarg;
                        break;
                case 'i':
                        a->incoming = optarg;
                        break;
                case 'u':
                        a->sandbox.user = optarg;
                        break;
                case 'n':
                        a->sandbox.disabled = true;
                        break;
                case 'p':
                        a->sandbox.probe_path = optarg;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 1;
                default:
                        fputs(usage, stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc || !a->config_path == (a->control_fd < 0) || (a->sandbox.disabled && a->sandbox.user) ||
            (a->restore && !a->config_path) || (a->incoming && (!a->config_path || a->restore))) {
                fputs(usage, stderr);
                return -EINVAL;
        }
        return 0;
}

/* Reports a failure before the VM exists, to stderr and (vmms mode) as the exit event. */
static int fail(int control_fd, const char *name, int status, const char *reason) {
        fprintf(stderr, "vmwp: %s: %s\n", name, reason);
        if (control_fd >= 0) {
                struct json_object *ev = proto_event_new(PROTO_EV_EXIT);
                if (ev) {
                        json_object_object_add(ev, "status", json_object_new_int(status));
                        json_object_object_add(ev, "reason", json_object_new_string(reason));
                        (void)proto_send(control_fd, ev, NULL, 0);
                        json_object_put(ev);
                }
        }
        return status;
}

static int config_from_file(const char *path, struct vm_config *cfg, char *err, size_t errlen) {
        _cleanup_free_ char *json = NULL;
        size_t len;
        int r = read_file(path, VM_CONFIG_MAX_BYTES, &json, &len);
        if (r < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(-r)), r;
        char why[256] = "";
        r = vm_config_parse(json, len, cfg, why, sizeof why);
        if (r < 0)
                snprintf(err, errlen, "%s: %s", path, why);
        return r;
}

static int config_from_vmms(int fd, struct vm_config *cfg, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                return snprintf(err, errlen, "--control-fd %d is not a socket", fd), -ENOTSOCK;
        struct json_object *msg = NULL;
        int fds[VMWP_MAX_FDS];
        size_t n_fds = 0;
        int r = proto_recv(fd, &msg, fds, VMWP_MAX_FDS, &n_fds);
        if (r < 0)
                return snprintf(err, errlen, "receiving the configuration: %s", strerror(-r)), r;
        char why[256] = "";
        r = vmwp_control_parse_config(msg, cfg, why, sizeof why);
        if (r < 0) {
                json_object_put(msg);
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return snprintf(err, errlen, "configuration: %s", why), r;
        }
        r = vmwp_control_assign_fds(cfg, msg, fds, n_fds, opt, why, sizeof why);
        json_object_put(msg);
        if (r < 0)
                snprintf(err, errlen, "configuration: %s", why);
        return r;
}

/* --incoming fd:N (an inherited, connected stream socket) or PATH (a unix
 * socket to listen on for one connection, then removed). */
static int incoming_open(const char *spec, char *err, size_t errlen) {
        if (strncmp(spec, "fd:", 3) == 0) {
                char *end;
                errno = 0;
                long v = strtol(spec + 3, &end, 10);
                int type = 0;
                socklen_t tl = sizeof type;
                if (errno || *end || v < 3 || v > 65535 || getsockopt((int)v, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
                    type != SOCK_STREAM)
                        return snprintf(err, errlen, "--incoming %s: not a stream socket", spec), -EINVAL;
                return fcntl((int)v, F_DUPFD_CLOEXEC, 3);
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(spec) >= sizeof sa.sun_path)
                return snprintf(err, errlen, "--incoming %s: path too long", spec), -EINVAL;
        strcpy(sa.sun_path, spec);
        _cleanup_close_ int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1) < 0)
                return snprintf(err, errlen, "--incoming %s: %s", spec, strerror(errno)), -errno;
        fprintf(stderr, "vmwp: waiting for the migration source on %s\n", spec);
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        int e = errno;
        unlink(spec);
        if (c < 0)
                return snprintf(err, errlen, "--incoming %s: accept: %s", spec, strerror(e)), -e;
        return c;
}

/* Step one of the sandbox (vmwp/sandbox.h), before the VM is built: keeps
 * only the control socket and the fds vmms sent. */
static int sandbox_setup(const struct args *a, const struct vm_config *cfg, struct vmwp_vm_options *opt,
                         struct sandbox **sb, char *err, size_t errlen) {
        opt->sandbox_probe = a->sandbox.probe_path;
        if (a->sandbox.disabled) {
                fprintf(stderr, "vmwp: %s: WARNING: the sandbox is DISABLED (--no-sandbox): the guest is one bug "
                        "away from everything this process may do; development only\n", cfg->name);
                return 0;
        }
        int r = sandbox_new(&a->sandbox, sb, err, errlen);
        if (r < 0)
                return r;
        int keep[1 + VMWP_MAX_FDS];
        size_t n = 0;
        if (a->control_fd >= 0)
                keep[n++] = a->control_fd;
        for (size_t i = 0; i < opt->n_disk_fds; i++)
                keep[n++] = opt->disk_fds[i];
        for (size_t i = 0; i < opt->n_tap_fds; i++)
                keep[n++] = opt->tap_fds[i];
        for (size_t i = 0; i < opt->n_parent_fds; i++)
                keep[n++] = opt->parent_fds[i];
        for (size_t i = 0; i < VM_DVD_DRIVES_MAX; i++)
                if (opt->dvd_fds[i] >= 0)
                        keep[n++] = opt->dvd_fds[i];
        const int files[] = { opt->kernel_fd, opt->initrd_fd, opt->serial_log_fd, opt->saved_state_fd,
                              opt->migrate_incoming_fd };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                if (files[i] >= 0)
                        keep[n++] = files[i];
        char why[384] = "";
        /* a NIC added later needs the TAP's namespace too (docs/sandbox.md) */
        r = sandbox_prepare(*sb, keep, n, cfg->n_nics > 0 || opt->hotplug_nics, why, sizeof why);
        if (r < 0)
                snprintf(err, errlen, "sandbox: %s", why);
        opt->sandbox = *sb;
        return r;
}

/* --timing: every phase's end, raw (read by bench/bench-save.c) and in ms
 * after the worker's start. */
static void print_phases(const char *name, const uint64_t *t) {
        char raw[VMWP_PHASE_COUNT * 32], rel[VMWP_PHASE_COUNT * 32];
        size_t a = 0, b = 0;
        for (int i = 0; i < VMWP_PHASE_COUNT; i++) {
                a += (size_t)snprintf(raw + a, sizeof raw - a, " %s=%llu", vmwp_phase_name(i), (unsigned long long)t[i]);
                if (i > VMWP_PHASE_START && t[i])
                        b += (size_t)snprintf(rel + b, sizeof rel - b, " %s %+.3f", vmwp_phase_name(i),
                                              (double)(t[i] - t[VMWP_PHASE_START]) / 1e6);
        }
        fprintf(stderr, "vmwp: %s: timing: phases (ms after worker start):%s\n", name, rel);
        fprintf(stderr, "vmwp: %s: timing-phases-ns:%s\n", name, raw);
}

int main(int argc, char **argv) {
        struct vmwp_vm_options opt;
        vmwp_vm_options_init(&opt); /* first: the timing reference */
        /* Before any thread exists (VM creation starts service threads), so
         * every thread inherits the mask and SIGTERM/SIGINT only ever arrive
         * through the main loop's signalfd. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        /* A save or migration to a socket whose peer went away gets EPIPE. */
        signal(SIGPIPE, SIG_IGN);
        log_parse_environment();
        struct args a;
        int r = parse_args(argc, argv, &a);
        if (r != 0)
                return r > 0 ? 0 : VMWP_EXIT_USAGE;
        const char *spec = a.serial ? a.serial : a.config_path ? "stdio" : "none";
        if (vmwp_console_spec_parse(spec, &opt.serial) < 0) {
                fprintf(stderr, "vmwp: --serial: invalid value \"%s\"\n", spec);
                return VMWP_EXIT_USAGE;
        }
        if (a.keyboard && (vmwp_console_spec_parse(a.keyboard, &opt.keyboard) < 0 ||
                           (opt.keyboard.kind != VMWP_CONSOLE_SOCKET && opt.keyboard.kind != VMWP_CONSOLE_NONE))) {
                fprintf(stderr, "vmwp: --keyboard: invalid value \"%s\" (socket:PATH or none)\n", a.keyboard);
                return VMWP_EXIT_USAGE;
        }
        opt.timing = a.timing;

        _cleanup_free_ struct vm_config *cfg = calloc(1, sizeof *cfg);
        if (!cfg)
                return VMWP_EXIT_SETUP;
        char err[VM_PATH_MAX + 512] = ""; /* room for a whole path and the cause after it */
        r = a.config_path ? config_from_file(a.config_path, cfg, err, sizeof err)
                          : config_from_vmms(a.control_fd, cfg, &opt, err, sizeof err);
        if (r < 0)
                return fail(a.control_fd, cfg->name[0] ? cfg->name : "-", VMWP_EXIT_USAGE, err);
        opt.phase_ns[VMWP_PHASE_CONFIG] = vmwp_now_ns();
        log_set_prefix("vmwp");
        if (a.restore) { /* like vmms's fd: main's, closed once the VM is built */
                opt.saved_state_fd = open(a.restore, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (opt.saved_state_fd < 0) {
                        snprintf(err, sizeof err, "--restore %s: %s", a.restore, strerror(errno));
                        return fail(a.control_fd, cfg->name, VMWP_EXIT_USAGE, err);
                }
        }
        if (a.incoming && (r = incoming_open(a.incoming, err, sizeof err)) < 0)
                return fail(a.control_fd, cfg->name, r == -EINVAL ? VMWP_EXIT_USAGE : VMWP_EXIT_SETUP, err);
        if (a.incoming)
                opt.migrate_incoming_fd = r;
        _cleanup_(sandbox_freep) struct sandbox *sb = NULL;
        r = sandbox_setup(&a, cfg, &opt, &sb, err, sizeof err);
        if (r < 0)
                return fail(a.control_fd, cfg->name, r == -EINVAL || r == -ENOENT ? VMWP_EXIT_USAGE : VMWP_EXIT_SETUP,
                            err);
        opt.phase_ns[VMWP_PHASE_SANDBOX] = vmwp_now_ns();

        struct vmwp_vm *vm;
        r = vmwp_vm_create(cfg, &opt, &vm, err, sizeof err);
        /* The boot images or the saved state are in guest RAM now (or the VM failed). */
        safe_close(opt.kernel_fd), safe_close(opt.initrd_fd), safe_close(opt.serial_log_fd);
        safe_close(opt.saved_state_fd), safe_close(opt.migrate_incoming_fd);
        if (r < 0)
                return fail(a.control_fd, cfg->name, VMWP_EXIT_SETUP, err);
        const char *pty = vmwp_console_pty_path(vmwp_vm_console(vm));
        if (pty)
                fprintf(stderr, "vmwp: %s: serial console on %s\n", cfg->name, pty);
        char reason[512] = "";
        int status = vmwp_run(vm, a.control_fd, reason, sizeof reason);
        vmwp_vm_free(vm);
        opt.phase_ns[VMWP_PHASE_FREED] = vmwp_now_ns();
        if (a.timing)
                print_phases(cfg->name, opt.phase_ns);
        fprintf(stderr, "vmwp: %s: %s\n", cfg->name, reason);
        return status;
}
