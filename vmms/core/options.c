// SPDX-License-Identifier: MIT
#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "core/daemon.h"
#include "host/uplink-qos.h"

#define VMMS_DEFAULT_STATE_DIR "/var/lib/vmstack/vms"
#define VMMS_DEFAULT_RUNTIME_DIR "/run/vmstack"
#define VMMS_DEFAULT_LOG_DIR "/var/log/vmstack"
#define VMMS_DEFAULT_GROUP "vmstack"

enum {
        OPT_BUS = 0x100, OPT_STATE, OPT_RUNTIME, OPT_LOGDIR, OPT_WORKER, OPT_GROUP, OPT_MAX_VMS,
        OPT_MAX_USER, OPT_MAX_STARTING, OPT_MAX_PENDING, OPT_START_TIMEOUT, OPT_RESTART_DELAY,
        OPT_RESTART_MAX_DELAY, OPT_RESTART_BURST, OPT_RESTART_WINDOW, OPT_NO_POLKIT, OPT_VERSION,
        OPT_STOP_GRACE, OPT_POOL, OPT_ALLOW_BLOCK, OPT_LOG_MAX_SIZE, OPT_LOG_CHECK, OPT_MIG_LISTEN, OPT_MIG_CERT,
        OPT_MIG_KEY, OPT_MIG_CA, OPT_MIG_ALLOW, OPT_MIG_INSECURE, OPT_MIG_RECOVER, OPT_MEMORY_RESERVE, OPT_MEMORY_INTERVAL,
        OPT_DISPLAY_SERVER, OPT_CONSOLE_ADDRESS, OPT_CONSOLE_CERT, OPT_CONSOLE_KEY,
        OPT_FIRMWARE_DIR, OPT_METERING_INTERVAL, OPT_METRICS_FILE, OPT_CONSOLE_LOGIN, OPT_NIC_UPLINK,
};

static const struct option options[] = {
        { "bus-address", required_argument, NULL, OPT_BUS },
        { "state-dir", required_argument, NULL, OPT_STATE },
        { "runtime-dir", required_argument, NULL, OPT_RUNTIME },
        { "log-dir", required_argument, NULL, OPT_LOGDIR },
        { "worker", required_argument, NULL, OPT_WORKER },
        { "group", required_argument, NULL, OPT_GROUP },
        { "max-vms", required_argument, NULL, OPT_MAX_VMS },
        { "max-vms-per-user", required_argument, NULL, OPT_MAX_USER },
        { "max-starting", required_argument, NULL, OPT_MAX_STARTING },
        { "max-pending", required_argument, NULL, OPT_MAX_PENDING },
        { "start-timeout", required_argument, NULL, OPT_START_TIMEOUT },
        { "stop-grace", required_argument, NULL, OPT_STOP_GRACE },
        { "restart-delay-ms", required_argument, NULL, OPT_RESTART_DELAY },
        { "restart-max-delay-ms", required_argument, NULL, OPT_RESTART_MAX_DELAY },
        { "restart-burst", required_argument, NULL, OPT_RESTART_BURST },
        { "restart-window", required_argument, NULL, OPT_RESTART_WINDOW },
        { "no-polkit", no_argument, NULL, OPT_NO_POLKIT },
        { "storage-pool", required_argument, NULL, OPT_POOL },
        { "allow-block-devices", no_argument, NULL, OPT_ALLOW_BLOCK },
        { "firmware-dir", required_argument, NULL, OPT_FIRMWARE_DIR },
        { "log-max-size", required_argument, NULL, OPT_LOG_MAX_SIZE },
        { "log-check-interval-ms", required_argument, NULL, OPT_LOG_CHECK },
        { "migration-listen", required_argument, NULL, OPT_MIG_LISTEN },
        { "migration-cert", required_argument, NULL, OPT_MIG_CERT },
        { "migration-key", required_argument, NULL, OPT_MIG_KEY },
        { "migration-ca", required_argument, NULL, OPT_MIG_CA },
        { "migration-allow", required_argument, NULL, OPT_MIG_ALLOW },
        { "migration-insecure", no_argument, NULL, OPT_MIG_INSECURE },
        { "migration-recover-ms", required_argument, NULL, OPT_MIG_RECOVER },
        { "memory-reserve", required_argument, NULL, OPT_MEMORY_RESERVE },
        { "memory-interval-ms", required_argument, NULL, OPT_MEMORY_INTERVAL },
        { "display-server", required_argument, NULL, OPT_DISPLAY_SERVER },
        { "console-address", required_argument, NULL, OPT_CONSOLE_ADDRESS },
        { "console-cert", required_argument, NULL, OPT_CONSOLE_CERT },
        { "console-key", required_argument, NULL, OPT_CONSOLE_KEY },
        { "console-login-timeout", required_argument, NULL, OPT_CONSOLE_LOGIN },
        { "metering-interval-ms", required_argument, NULL, OPT_METERING_INTERVAL },
        { "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
        { "nic-uplink", required_argument, NULL, OPT_NIC_UPLINK },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, 'h' },
        {},
};

static void usage(void) {
        printf("Usage: vmms [OPTIONS]\n"
               "The vmstack Virtual Machine Management Service (D-Bus name " VMMS_BUS_NAME ").\n\n"
               "  --bus-address=ADDR       D-Bus address to serve on (default: the system bus)\n"
               "  --state-dir=DIR          VM configurations (default " VMMS_DEFAULT_STATE_DIR ")\n"
               "  --runtime-dir=DIR        runtime records and sockets (default " VMMS_DEFAULT_RUNTIME_DIR ")\n"
               "  --log-dir=DIR            console and worker logs (default " VMMS_DEFAULT_LOG_DIR ")\n"
               "  --worker=PATH            the vmwp binary (default: vmwp next to vmms; run from a\n"
               "                           build tree, <build>/vmwp/vmwp)\n"
               "  --display-server=PATH    the vmdisplay binary, the console of VMs with a display\n"
               "                           (default: vmdisplay next to vmms; run from a build tree,\n"
               "                           <build>/vmdisplay/vmdisplay)\n"
               "  --console-address=ADDR   where the VMs' web consoles listen (numeric IPv4 or IPv6,\n"
               "                           default 127.0.0.1); off loopback only with --console-cert\n"
               "  --console-cert=PEM [--console-key=PEM]  TLS for the web consoles (https, wss);\n"
               "                           the key may be in the certificate's file\n"
               "  --console-login-timeout=SEC  a console viewer that has not logged in within SEC\n"
               "                           is dropped (default 10; 1 to 600)\n"
               "  --group=NAME             members may manage VMs (default " VMMS_DEFAULT_GROUP ", \"\" for none)\n"
               "  --max-vms=N              VMs in total (default 1024)\n"
               "  --max-vms-per-user=N     VMs a non-root user may own (default 32)\n"
               "  --max-starting=N         VMs starting at the same time (default 128)\n"
               "  --max-pending=N          authorization checks in flight (default 256)\n"
               "  --start-timeout=SEC      kill a worker that is not ready by then (default 120)\n"
               "  --stop-grace=SEC         SIGKILL a worker this long after a hard stop (default 10)\n"
               "  --restart-delay-ms=MS    first restart back-off (default 1000, doubling)\n"
               "  --restart-max-delay-ms=MS  back-off ceiling (default 60000)\n"
               "  --restart-burst=N        restarts allowed per window (default 5)\n"
               "  --restart-window=SEC     restart limit window (default 300)\n"
               "  --no-polkit              never ask polkit; root and --group only\n"
               "  --storage-pool=DIR[:ro]  disks, kernels and initrds must be files below DIR\n"
               "                           (repeatable, up to 16; default " VMMS_DEFAULT_POOL ");\n"
               "                           :ro admits read-only use only\n"
               "  --firmware-dir=DIR       firmware images (boot kind firmware) must be files\n"
               "                           below DIR, read by vmms (repeatable, up to 8;\n"
               "                           default " VMMS_DEFAULT_FIRMWARE_DIR ")\n"
               "  --allow-block-devices    block devices under /dev for every VM owner who can\n"
               "                           open them (default: root-owned VMs only)\n"
               "  --log-max-size=BYTES     rotate a console or worker log beyond this size into\n"
               "                           <log>.1 (copy, then truncate; default 1048576, 0: never)\n"
               "  --log-check-interval-ms=MS  how often the logs of running VMs are checked\n"
               "                           (default 5000; also when a worker ends)\n"
               "  --migration-listen=ADDR[:PORT]  accept incoming live migrations there (default: off;\n"
               "                           port 7390; docs/migration.md \"The channel\")\n"
               "  --migration-cert=PEM --migration-key=PEM --migration-ca=PEM\n"
               "                           this host's certificate and key, and the CA that signs\n"
               "                           every peer's (TLS 1.3, both ends authenticated)\n"
               "  --migration-allow=NAME   a source host whose certificate names NAME may migrate\n"
               "                           VMs here (repeatable, up to 16)\n"
               "  --migration-insecure     no TLS, no authentication: loopback addresses only (tests)\n"
               "  --migration-recover-ms=MS  how long a live migration's cut channel may take to\n"
               "                           come back (default 20000; 0: a cut fails the migration)\n"
               "  --memory-reserve=MIB     host memory Dynamic Memory never gives to VMs (default: a\n"
               "                           tenth of the host's, at least 256, at most 4096)\n"
               "  --memory-interval-ms=MS  how often Dynamic Memory balances (default 1000)\n"
               "  --metering-interval-ms=MS  how often metering samples each running VM (default\n"
               "                           10000): the rates' window and the metrics file's period\n"
               "  --metrics-file=PATH      write every VM's metering in Prometheus's text format to\n"
               "                           PATH at each sample, atomically (node_exporter's textfile\n"
               "                           collector; default: none)\n"
               "  --nic-uplink=DEV,rate=BITS  the device where VMs' traffic leaves the host and its\n"
               "                           rate (k, M, G): vmms owns its root qdisc and shares it by\n"
               "                           the NICs' min_weight when congested (default: none)\n"
               "  --version, --help\n"
               "Environment: VM_LOG_LEVEL=err|warning|notice|info|debug\n");
}

static int num(const char *arg, unsigned long long min, unsigned long long max, unsigned long long *out) {
        char *end;
        if (!arg || *arg < '0' || *arg > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno || *end || v < min || v > max)
                return -EINVAL;
        *out = v;
        return 0;
}

/* A program vmms runs (vmwp, vmdisplay): next to vmms where installed
 * (libexec/vmstack/); in a build tree, where each program is in the build
 * directory of its source directory, vmms in <build>/vmms/ and NAME in
 * <build>/NAME/. Neither executable: the installed layout's path, which a
 * start then names in its error. */
static void helper_path(const char *dir, const char *name, char *out, size_t len) {
        char build[PATH_MAX + 64], real[PATH_MAX];
        const char *last = strrchr(dir, '/');
        snprintf(out, len, "%s/%s", dir, name);
        if (access(out, X_OK) == 0 || !last || strcmp(last, "/vmms") != 0)
                return;
        snprintf(build, sizeof build, "%s/../%s/%s", dir, name, name);
        if (access(build, X_OK) == 0 && realpath(build, real) && strlen(real) < len)
                snprintf(out, len, "%s", real);
}

static void defaults(struct vmms_options *o) {
        *o = (struct vmms_options){
                .state_dir = VMMS_DEFAULT_STATE_DIR,
                .runtime_dir = VMMS_DEFAULT_RUNTIME_DIR,
                .log_dir = VMMS_DEFAULT_LOG_DIR,
                .group = VMMS_DEFAULT_GROUP,
                .max_vms = 1024,
                .max_vms_per_user = 32,
                .max_starting = 128,
                .max_pending = 256,
                .max_pending_per_sender = 16,
                .start_timeout_us = 120 * 1000000ull,
                .stop_grace_us = 10 * 1000000ull,
                .request_timeout_us = 10 * 1000000ull,
                .restart = { .base_delay_us = 1000000, .max_delay_us = 60000000, .window_us = 300000000,
                             .burst = 5 },
                .polkit = true,
                .log_max_bytes = 1024 * 1024,
                .log_check_us = 5 * 1000000ull,
                .memory_interval_us = 1000000ull,
                .metering_interval_us = 10 * 1000000ull,
                .migration_recover_ms = 20000,
                .console_address = "127.0.0.1",
        };
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                self[n] = 0;
                const char *dir = dirname(self);
                helper_path(dir, "vmwp", o->worker, sizeof o->worker);
                helper_path(dir, "vmdisplay", o->display_server, sizeof o->display_server);
        } else {
                snprintf(o->worker, sizeof o->worker, "/usr/libexec/vmstack/vmwp");
                snprintf(o->display_server, sizeof o->display_server, "/usr/libexec/vmstack/vmdisplay");
        }
}

/* Applies one numeric option; the table keeps option parsing flat. */
static int numeric_option(struct vmms_options *o, int c, const char *arg) {
        unsigned long long v;
        static const struct {
                int opt;
                unsigned long long min, max;
        } ranges[] = {
                { OPT_MAX_VMS, 1, 65536 },        { OPT_MAX_USER, 0, 65536 },
                { OPT_MAX_STARTING, 1, 65536 },   { OPT_MAX_PENDING, 1, 65536 },
                { OPT_START_TIMEOUT, 1, 86400 },  { OPT_STOP_GRACE, 1, 3600 },
                { OPT_RESTART_DELAY, 0, 3600000 }, { OPT_RESTART_MAX_DELAY, 0, 86400000 },
                { OPT_RESTART_BURST, 0, 1000 },   { OPT_RESTART_WINDOW, 1, 86400 },
                { OPT_LOG_MAX_SIZE, 0, 1ull << 40 }, { OPT_LOG_CHECK, 10, 3600000 },
                { OPT_MEMORY_RESERVE, 0, 1ull << 30 }, { OPT_MEMORY_INTERVAL, 100, 3600000 },
                { OPT_METERING_INTERVAL, 100, 3600000 },
                { OPT_MIG_RECOVER, 0, 120000 },   { OPT_CONSOLE_LOGIN, 1, 600 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
                if (ranges[i].opt != c)
                        continue;
                if (num(arg, ranges[i].min, ranges[i].max, &v) < 0)
                        return -ERANGE;
                switch (c) {
                case OPT_MAX_VMS: o->max_vms = (unsigned)v; break;
                case OPT_MAX_USER: o->max_vms_per_user = (unsigned)v; break;
                case OPT_MAX_STARTING: o->max_starting = (unsigned)v; break;
                case OPT_MAX_PENDING: o->max_pending = (unsigned)v; break;
                case OPT_START_TIMEOUT: o->start_timeout_us = v * 1000000ull; break;
                case OPT_STOP_GRACE: o->stop_grace_us = v * 1000000ull; break;
                case OPT_RESTART_DELAY: o->restart.base_delay_us = v * 1000ull; break;
                case OPT_RESTART_MAX_DELAY: o->restart.max_delay_us = v * 1000ull; break;
                case OPT_RESTART_BURST: o->restart.burst = (unsigned)v; break;
                case OPT_RESTART_WINDOW: o->restart.window_us = v * 1000000ull; break;
                case OPT_LOG_MAX_SIZE: o->log_max_bytes = v; break;
                case OPT_LOG_CHECK: o->log_check_us = v * 1000ull; break;
                case OPT_MEMORY_RESERVE: o->memory_reserve_mib = v, o->memory_reserve_set = true; break;
                case OPT_MEMORY_INTERVAL: o->memory_interval_us = v * 1000ull; break;
                case OPT_METERING_INTERVAL: o->metering_interval_us = v * 1000ull; break;
                case OPT_MIG_RECOVER: o->migration_recover_ms = (uint32_t)v; break;
                case OPT_CONSOLE_LOGIN: o->console_login_s = (unsigned)v; break;
                }
                return 0;
        }
        return -EINVAL;
}

static int check_dir_option(const char *name, const char *v, char *err, size_t errlen) {
        if (v[0] != '/' || strlen(v) > 64) {
                /* Sockets live below the runtime directory: sun_path is 108 bytes. */
                snprintf(err, errlen, "--%s: needs an absolute path of at most 64 characters", name);
                return -EINVAL;
        }
        return 0;
}

/* The web consoles' address and TLS: a numeric address (IPv6 also in
 * brackets); off loopback only with a certificate, since the console's
 * keys and screen, and VNC authentication's DES challenge, would cross
 * the network in the clear. The files are checked here: vmdisplay (and its
 * websockify) would fail only at a VM's start or a browser's connection. */
static int check_console(struct vmms_options *o, char *err, size_t errlen) {
        char a[sizeof o->console_address];
        size_t n = strlen(o->console_address);
        if (n >= 2 && o->console_address[0] == '[' && o->console_address[n - 1] == ']')
                snprintf(a, sizeof a, "%.*s", (int)(n - 2), o->console_address + 1);
        else
                snprintf(a, sizeof a, "%s", o->console_address);
        struct in_addr v4;
        struct in6_addr v6;
        if (inet_pton(AF_INET, a, &v4) == 1) {
                o->console_v6 = false;
                o->console_remote = ntohl(v4.s_addr) >> 24 != 127;
                o->console_wildcard = v4.s_addr == htonl(INADDR_ANY);
        } else if (inet_pton(AF_INET6, a, &v6) == 1) {
                o->console_v6 = true;
                o->console_remote = !IN6_IS_ADDR_LOOPBACK(&v6) && !(IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
                o->console_wildcard = IN6_IS_ADDR_UNSPECIFIED(&v6);
        } else
                return errorf(err, errlen, -EINVAL, "--console-address=%s: a numeric IPv4 or IPv6 address",
                              o->console_address);
        snprintf(o->console_address, sizeof o->console_address, "%s", a);
        if (o->console_key && !o->console_cert)
                return errorf(err, errlen, -EINVAL, "--console-key needs --console-cert");
        if (o->console_remote && !o->console_cert)
                return errorf(err, errlen, -EINVAL,
                              "--console-address=%s is not a loopback address: the web consoles there need TLS "
                              "(--console-cert)",
                              a);
        const char *files[] = { o->console_cert, o->console_key };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                const char *name = i ? "--console-key" : "--console-cert";
                if (files[i] && (files[i][0] != '/' || strlen(files[i]) >= PATH_MAX))
                        return errorf(err, errlen, -EINVAL, "%s=%s: needs an absolute path", name, files[i]);
                if (files[i] && access(files[i], R_OK) < 0)
                        return errorf(err, errlen, -EINVAL, "%s=%s: %s", name, files[i], strerror(errno));
        }
        return 0;
}

static int add_pool(struct vmms_options *o, const char *arg, char *err, size_t errlen) {
        struct vmms_pool pool;
        int r = vmms_pool_parse(arg, &pool);
        if (r >= 0)
                r = vmms_path_policy_add(&o->paths, &pool);
        if (r == -EINVAL)
                snprintf(err, errlen, "--storage-pool=%s: needs a plain absolute directory other than /, "
                         "optionally followed by :ro", arg);
        else if (r == -EEXIST)
                snprintf(err, errlen, "--storage-pool=%s: given twice", arg);
        else if (r < 0)
                snprintf(err, errlen, "--storage-pool: at most %u pools", VMMS_POOLS_MAX);
        return r;
}

static int add_firmware_dir(struct vmms_options *o, const char *arg, char *err, size_t errlen) {
        int r = vmms_firmware_dir_add(&o->paths, arg);
        if (r == -EINVAL)
                snprintf(err, errlen, "--firmware-dir=%s: needs a plain absolute directory other than /", arg);
        else if (r == -EEXIST)
                snprintf(err, errlen, "--firmware-dir=%s: given twice", arg);
        else if (r < 0)
                snprintf(err, errlen, "--firmware-dir: at most %u directories", VMMS_FIRMWARE_DIRS_MAX);
        return r;
}

/* An option whose value is checked here: 1 taken, 0 not one of these,
 * -EINVAL with err set. */
static int checked_option(struct vmms_options *o, int c, char *arg, char *err, size_t errlen) {
        switch (c) {
        case OPT_NIC_UPLINK:
                if (vmms_uplink_parse(arg, o->nic_uplink, sizeof o->nic_uplink, &o->nic_uplink_bps, err,
                                      errlen) < 0)
                        return -EINVAL;
                return 1;
        case OPT_METRICS_FILE:
                if (arg[0] != '/' || strlen(arg) >= PATH_MAX - 16)
                        return errorf(err, errlen, -EINVAL, "--metrics-file=%s: needs an absolute path",
                                      arg);
                o->metrics_file = arg;
                return 1;
        case OPT_CONSOLE_ADDRESS:
                if (strlen(arg) >= sizeof o->console_address) {
                        snprintf(err, errlen, "--console-address: a numeric IPv4 or IPv6 address");
                        return -EINVAL;
                }
                snprintf(o->console_address, sizeof o->console_address, "%s", arg);
                return 1;
        case OPT_MIG_ALLOW:
                if (o->n_migration_allow >= VMMS_MIGRATION_ALLOW_MAX || !arg[0]) {
                        snprintf(err, errlen, "--migration-allow: 1 to %u non-empty names",
                                 VMMS_MIGRATION_ALLOW_MAX);
                        return -EINVAL;
                }
                o->migration_allow[o->n_migration_allow++] = arg;
                return 1;
        case OPT_POOL:
                if (add_pool(o, arg, err, errlen) < 0)
                        return -EINVAL;
                return 1;
        case OPT_FIRMWARE_DIR:
                if (add_firmware_dir(o, arg, err, errlen) < 0)
                        return -EINVAL;
                return 1;
        case OPT_WORKER:
                if (arg[0] != '/' || strlen(arg) >= sizeof o->worker) {
                        snprintf(err, errlen, "--worker: needs an absolute path");
                        return -EINVAL;
                }
                snprintf(o->worker, sizeof o->worker, "%s", arg);
                return 1;
        case OPT_DISPLAY_SERVER:
                if (arg[0] != '/' || strlen(arg) >= sizeof o->display_server) {
                        snprintf(err, errlen, "--display-server: needs an absolute path");
                        return -EINVAL;
                }
                snprintf(o->display_server, sizeof o->display_server, "%s", arg);
                return 1;
        default:
                return 0;
        }
}

int vmms_options_parse(int argc, char **argv, struct vmms_options *o, char *err, size_t errlen) {
        int c, r;
        defaults(o);
        optind = 0; /* getopt's own state: reset so that tests can parse twice */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h': usage(); return 1;
                case OPT_VERSION: printf("vmms %s\n", VMSTACK_VERSION); return 1;
                case OPT_BUS: o->bus_address = optarg; break;
                case OPT_STATE: o->state_dir = optarg; break;
                case OPT_RUNTIME: o->runtime_dir = optarg; break;
                case OPT_LOGDIR: o->log_dir = optarg; break;
                case OPT_GROUP: o->group = optarg; break;
                case OPT_NO_POLKIT: o->polkit = false; break;
                case OPT_ALLOW_BLOCK: o->paths.allow_block_devices = true; break;
                case OPT_MIG_LISTEN: o->migration_listen = optarg; break;
                case OPT_MIG_CERT: o->migration_cert = optarg; break;
                case OPT_MIG_KEY: o->migration_key = optarg; break;
                case OPT_MIG_CA: o->migration_ca = optarg; break;
                case OPT_MIG_INSECURE: o->migration_insecure = true; break;
                case OPT_CONSOLE_CERT: o->console_cert = optarg; break;
                case OPT_CONSOLE_KEY: o->console_key = optarg; break;
                case '?':
                        snprintf(err, errlen, "unknown option or missing value: %s (see --help)",
                                 argv[optind - 1]);
                        return -EINVAL;
                default:
                        if ((r = checked_option(o, c, optarg, err, errlen)) != 0) {
                                if (r < 0)
                                        return r;
                        } else if (numeric_option(o, c, optarg) < 0) {
                                snprintf(err, errlen, "%s: value out of range (see --help)", argv[optind - 1]);
                                return -EINVAL;
                        }
                }
        }
        if (optind < argc) {
                snprintf(err, errlen, "unexpected argument: %s", argv[optind]);
                return -EINVAL;
        }
        if (check_dir_option("state-dir", o->state_dir, err, errlen) < 0 ||
            check_dir_option("runtime-dir", o->runtime_dir, err, errlen) < 0 ||
            check_dir_option("log-dir", o->log_dir, err, errlen) < 0 || check_console(o, err, errlen) < 0)
                return -EINVAL;
        if (!o->paths.n_pools)
                (void)add_pool(o, VMMS_DEFAULT_POOL, err, errlen);
        if (!o->paths.n_firmware_dirs)
                (void)vmms_firmware_dir_add(&o->paths, VMMS_DEFAULT_FIRMWARE_DIR);
        snprintf(o->paths.seed_dir, sizeof o->paths.seed_dir, "%s", o->state_dir);
        if (o->restart.max_delay_us < o->restart.base_delay_us)
                o->restart.max_delay_us = o->restart.base_delay_us;
        return 0;
}
