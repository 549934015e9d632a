// SPDX-License-Identifier: MIT
/* vmdisplay's command line. The defaults keep the console on the host:
 * a Unix socket only; TCP and the web console on loopback unless
 * --allow-remote says otherwise, and never without a password. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmdisplay/vmdisplay.h"

#define VMD_DEFAULT_WEBSOCKIFY "/usr/bin/websockify"
#define VMD_DEFAULT_NOVNC "/usr/share/novnc"

enum {
        OPT_CONNECT = 0x100, OPT_LISTEN, OPT_LISTEN_TCP, OPT_WEB, OPT_PASSWORD, OPT_SCREENSHOT, OPT_NAME,
        OPT_WEBSOCKIFY, OPT_NOVNC, OPT_MAX_CLIENTS, OPT_TIMEOUT, OPT_ALLOW_REMOTE, OPT_COPY, OPT_VERBOSE,
        OPT_VERSION,
        OPT_KEYMAP,
        OPT_WEB_CERT,
        OPT_WEB_KEY,
        OPT_LOGIN_TIMEOUT,
};

static const struct option options[] = {
        { "connect", required_argument, NULL, OPT_CONNECT },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "listen-tcp", required_argument, NULL, OPT_LISTEN_TCP },
        { "web", required_argument, NULL, OPT_WEB },
        { "password-file", required_argument, NULL, OPT_PASSWORD },
        { "screenshot", required_argument, NULL, OPT_SCREENSHOT },
        { "name", required_argument, NULL, OPT_NAME },
        { "websockify", required_argument, NULL, OPT_WEBSOCKIFY },
        { "novnc-dir", required_argument, NULL, OPT_NOVNC },
        { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
        { "keymap", required_argument, NULL, OPT_KEYMAP },
        { "web-cert", required_argument, NULL, OPT_WEB_CERT },
        { "web-key", required_argument, NULL, OPT_WEB_KEY },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "login-timeout", required_argument, NULL, OPT_LOGIN_TIMEOUT },
        { "allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE },
        { "copy-framebuffer", no_argument, NULL, OPT_COPY },
        { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, 'h' },
        {},
};

static void usage(void) {
        printf("Usage: vmdisplay --connect=SOCKET --listen=PATH [OPTIONS]\n"
               "       vmdisplay --connect=SOCKET --screenshot=FILE.png [--timeout=SEC]\n"
               "The display server of one VM: its console over VNC and in a browser, and\n"
               "screenshots, from the VM worker's display socket (docs/console.md).\n\n"
               "  --connect=SOCKET        the worker's display socket (its \"display.socket\")\n"
               "  --listen=PATH           serve VNC on this Unix socket (created mode 0600)\n"
               "  --listen-tcp=ADDR:PORT  serve VNC on TCP too: a numeric address, [v6]:PORT for\n"
               "                          IPv6; loopback only without --allow-remote; needs\n"
               "                          --password-file\n"
               "  --web=ADDR:PORT         the web console: noVNC in a browser at http://ADDR:PORT/\n"
               "                          (websockify, our child, to the --listen socket; it\n"
               "                          serves PATH.web, made for it); loopback only without\n"
               "                          --allow-remote; needs --password-file\n"
               "  --web-cert=FILE         the web console over TLS only (https, wss): the\n"
               "                          server's certificate chain (PEM; with its key, or\n"
               "  --web-key=FILE          the key here); required for --web off loopback\n"
               "  --password-file=FILE    every viewer must give the password on the file's first\n"
               "                          line (VNC authentication: 8 characters count); the file\n"
               "                          must not be readable by group or others\n"
               "  --allow-remote          allow non-loopback addresses for --listen-tcp and --web\n"
               "                          (VNC authentication is weak: prefer an SSH tunnel; the\n"
               "                          web console then needs --web-cert)\n"
               "  --max-clients=N         viewers at the same time, all sharing the screen and\n"
               "                          the guest's input (default 4, at most %u)\n"
               "  --login-timeout=SEC     drop a viewer that has not logged in within SEC (default\n"
               "                          10; 1 to 600): a slow browser may need more\n"
               "  --name=NAME             the desktop name viewers show (default \"VM\")\n"
               "  --keymap=LAYOUT[:VAR]   the guest's keyboard layout, as XKB names it (de, fr,\n"
               "                          gb, de:nodeadkeys; default us): what a viewer types\n"
               "                          goes to the keys that type it on that layout\n"
               "  --websockify=PATH       default " VMD_DEFAULT_WEBSOCKIFY "\n"
               "  --novnc-dir=DIR         default " VMD_DEFAULT_NOVNC "\n"
               "  --copy-framebuffer      serve a copy of the guest's pixels, not its memory\n"
               "  --screenshot=FILE       write the screen as an 8-bit RGB PNG (\"-\": standard\n"
               "                          output) and exit; beside a connected display server\n"
               "                          the worker gives a snapshot, which is enough\n"
               "  --timeout=SEC           --screenshot: wait this long for a mode (default 5)\n"
               "  --verbose               log LibVNCServer's messages and every viewer\n"
               "  --version, --help\n\n"
               "Exit status: 0 done (a screenshot written, or SIGTERM/SIGINT), 1 failure (cannot\n"
               "listen, websockify ended, a write failed), 2 bad usage or password file, 3 the\n"
               "worker's display socket cannot be reached or closed (restart vmdisplay), 4 another\n"
               "display server is connected to the worker (we got a snapshot), 5 the worker broke\n"
               "the display protocol, 6 --screenshot: no display mode (within the timeout).\n"
               "Logs go to standard error. Environment: VM_LOG_LEVEL=err|warning|notice|info|debug\n",
               VMD_MAX_CLIENTS_LIMIT);
}

static int number(const char *arg, unsigned min, unsigned max, unsigned *out) {
        char *end;
        if (!arg || *arg < '0' || *arg > '9')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(arg, &end, 10);
        if (errno || *end || v < min || v > max)
                return -EINVAL;
        *out = (unsigned)v;
        return 0;
}

/* The rules between options, checked once all are read. */
static int check(const struct vmd_options *o, char *err, size_t errlen) {
        if (!o->connect)
                return errorf(err, errlen, -EINVAL, "--connect=SOCKET is required (see --help)");
        if (o->screenshot) {
                if (o->listen || o->tcp.set || o->web.set)
                        return errorf(err, errlen, -EINVAL, "--screenshot serves nothing: drop --listen, --listen-tcp, --web");
                return 0;
        }
        if (!o->listen)
                return errorf(err, errlen, -EINVAL, "--listen=PATH is required (or --screenshot)");
        const struct vmd_addr *net[] = { &o->tcp, &o->web };
        const char *name[] = { "--listen-tcp", "--web" };
        for (size_t i = 0; i < 2; i++) {
                if (!net[i]->set)
                        continue;
                if (!o->password_file)
                        return errorf(err, errlen, -EINVAL, "%s needs --password-file", name[i]);
                if (!o->allow_remote && !vmd_addr_is_loopback(net[i]))
                        return errorf(err, errlen, -EINVAL, "%s=%s is not a loopback address (--allow-remote)",
                                      name[i], net[i]->text);
        }
        if ((o->web_cert || o->web_key) && !o->web.set)
                return errorf(err, errlen, -EINVAL, "--web-cert and --web-key are the web console's: add --web");
        if (o->web_key && !o->web_cert)
                return errorf(err, errlen, -EINVAL, "--web-key needs --web-cert");
        /* Off loopback the session (keys typed, the screen) would cross the
         * network in the clear, and VNC authentication's DES challenge can
         * be broken offline from a capture. */
        if (o->web.set && !o->web_cert && !vmd_addr_is_loopback(&o->web))
                return errorf(err, errlen, -EINVAL, "--web=%s is not a loopback address: the web console there needs "
                              "TLS (--web-cert)", o->web.text);
        const char *files[] = { o->web_cert, o->web_key };
        for (size_t i = 0; i < 2; i++) /* websockify would fail only at the first connection */
                if (files[i] && access(files[i], R_OK) < 0)
                        return errorf(err, errlen, -EINVAL, "%s=%s: %s", i ? "--web-key" : "--web-cert", files[i],
                                      strerror(errno));
        return 0;
}

static int address_option(struct vmd_addr *a, const char *opt, const char *arg, char *err, size_t errlen) {
        if (vmd_addr_parse(arg, a) < 0)
                return errorf(err, errlen, -EINVAL, "%s=%s: expected ADDR:PORT or [ADDR]:PORT, numeric", opt, arg);
        return 0;
}

static int one_option(struct vmd_options *o, int c, char *err, size_t errlen) {
        switch (c) {
        case OPT_CONNECT: o->connect = optarg; return 0;
        case OPT_LISTEN: o->listen = optarg; return 0;
        case OPT_LISTEN_TCP: return address_option(&o->tcp, "--listen-tcp", optarg, err, errlen);
        case OPT_WEB: return address_option(&o->web, "--web", optarg, err, errlen);
        case OPT_PASSWORD: o->password_file = optarg; return 0;
        case OPT_SCREENSHOT: o->screenshot = optarg; return 0;
        case OPT_NAME: o->name = optarg; return 0;
        case OPT_KEYMAP: o->keymap = optarg; return 0;
        case OPT_WEB_CERT: o->web_cert = optarg; return 0;
        case OPT_WEB_KEY: o->web_key = optarg; return 0;
        case OPT_WEBSOCKIFY: o->websockify = optarg; return 0;
        case OPT_NOVNC: o->novnc_dir = optarg; return 0;
        case OPT_ALLOW_REMOTE: o->allow_remote = true; return 0;
        case OPT_COPY: o->copy_framebuffer = true; return 0;
        case OPT_VERBOSE: o->verbose = true; return 0;
        case OPT_MAX_CLIENTS:
                if (number(optarg, 1, VMD_MAX_CLIENTS_LIMIT, &o->max_clients) < 0)
                        return errorf(err, errlen, -EINVAL, "--max-clients=%s: 1 to %u", optarg, VMD_MAX_CLIENTS_LIMIT);
                return 0;
        case OPT_TIMEOUT: {
                unsigned s;
                if (number(optarg, 1, 3600, &s) < 0)
                        return errorf(err, errlen, -EINVAL, "--timeout=%s: 1 to 3600 seconds", optarg);
                o->timeout_ms = s * 1000u;
                return 0;
        }
        case OPT_LOGIN_TIMEOUT: {
                unsigned s;
                if (number(optarg, 1, 600, &s) < 0)
                        return errorf(err, errlen, -EINVAL, "--login-timeout=%s: 1 to 600 seconds", optarg);
                o->login_ms = s * 1000u;
                return 0;
        }
        default:
                return errorf(err, errlen, -EINVAL, "unknown option (see --help)");
        }
}

int vmd_options_parse(int argc, char **argv, struct vmd_options *o, char *err, size_t errlen) {
        *o = (struct vmd_options){ .name = "VM", .websockify = VMD_DEFAULT_WEBSOCKIFY, .novnc_dir = VMD_DEFAULT_NOVNC,
                                   .keymap = "us", .max_clients = 4, .timeout_ms = 5000 };
        optind = 0; /* a test parses many command lines */
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c == 'h') {
                        usage();
                        return 1;
                }
                if (c == OPT_VERSION) {
                        printf("vmdisplay " VMSTACK_VERSION "\n");
                        return 1;
                }
                if (c == '?')
                        return errorf(err, errlen, -EINVAL, "unknown option or missing argument: %s (see --help)",
                                      argv[optind - 1]);
                int r = one_option(o, c, err, errlen);
                if (r < 0)
                        return r;
        }
        if (optind < argc)
                return errorf(err, errlen, -EINVAL, "unexpected argument: %s", argv[optind]);
        return check(o, err, errlen);
}
