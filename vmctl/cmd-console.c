// SPDX-License-Identifier: MIT
/* vmctl console VM [--read-only] [--timeout=SEC]: the VM's serial console.
 * vmms hands over a socket connected to the worker's console (VM.OpenConsole);
 * this relays it to the terminal. On a terminal: raw mode, Ctrl-] detaches.
 * Otherwise stdin is sent as input and, once it ends, vmctl leaves after a
 * second without output, so that `echo cmd | vmctl console vm` works in
 * scripts. --read-only gets the console log instead and follows it like
 * `tail -f` (from its last 4 KiB). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

static int open_console(struct vmctl *c, const char *path, bool ro, int *fd) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int in;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "OpenConsole", &e, &reply, "b", ro);
        if (r >= 0)
                r = sd_bus_message_read(reply, "h", &in);
        if (r >= 0 && (*fd = fcntl(in, F_DUPFD_CLOEXEC, 3)) < 0)
                r = -errno;
        sd_bus_message_unref(reply);
        if (r < 0) {
                bool busy = sd_bus_error_has_name(&e, VMMS_ERROR_BUSY);
                r = vmctl_fail(&e, r, "console");
                if (busy)
                        fprintf(stderr, "vmctl: `vmctl console VM --read-only` follows the console meanwhile\n");
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

/* Returns 1 when the user detached (escape character seen). */
static int pump_input(int fd, bool tty, bool *in_open) {
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) {
                /* No half-close: the worker drops a client whose input ends,
                 * and the guest's answer is still to come. */
                *in_open = false;
                return 0;
        }
        char *esc = tty ? memchr(buf, CONSOLE_ESCAPE, (size_t)n) : NULL;
        if (write_full(fd, buf, esc ? (size_t)(esc - buf) : (size_t)n) < 0)
                *in_open = false;
        return esc ? 1 : 0;
}

/* Follows the console log (a regular file) until the timeout or Ctrl-C. */
static int follow_log(int fd, uint64_t timeout_us) {
        uint64_t deadline = timeout_us ? now_us(CLOCK_MONOTONIC) + timeout_us : 0;
        char buf[4096];
        off_t end = lseek(fd, 0, SEEK_END);
        (void)lseek(fd, end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0, SEEK_SET);
        while (!deadline || now_us(CLOCK_MONOTONIC) < deadline) {
                ssize_t k = read(fd, buf, sizeof buf);
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k > 0 && write_full(STDOUT_FILENO, buf, (size_t)k) < 0)
                        return 0;
                if (k <= 0)
                        (void)poll(NULL, 0, 200);
        }
        return 0;
}

static int relay(int fd, bool ro, bool tty, uint64_t timeout_us) {
        uint64_t deadline = timeout_us ? now_us(CLOCK_MONOTONIC) + timeout_us : 0;
        bool in_open = !ro;
        char buf[4096];
        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
                int wait_ms = !in_open && !tty && !ro ? 1000 : -1; /* idle exit after the input ended */
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (deadline) {
                        if (now >= deadline)
                                return 0;
                        int left = (int)((deadline - now) / 1000) + 1;
                        wait_ms = wait_ms < 0 || left < wait_ms ? left : wait_ms;
                }
                int n = poll(p, in_open ? 2 : 1, wait_ms);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n == 0 && !in_open && !tty && !ro)
                        return 0;
                if (n <= 0)
                        continue;
                if (p[0].revents) {
                        ssize_t k = read(fd, buf, sizeof buf);
                        if (k <= 0)
                                return 0; /* the console closed: the VM stopped */
                        if (write_full(STDOUT_FILENO, buf, (size_t)k) < 0)
                                return 0;
                }
                if (in_open && p[1].revents && pump_input(fd, tty, &in_open) == 1)
                        return 0;
        }
}

static int run(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = {
                { "read-only", no_argument, NULL, 'r' },
                { "timeout", required_argument, NULL, 't' },
                {},
        };
        bool ro = false;
        uint64_t timeout = 0;
        char *path = NULL;
        int o, fd = -1;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0)
                if (o == 'r')
                        ro = true;
                else if (o != 't')
                        return VMCTL_EXIT_USAGE;
                else if (vmctl_parse_seconds(optarg, &timeout) < 0) {
                        fprintf(stderr, "vmctl console: --timeout: '%s' is not a number of seconds\n", optarg);
                        return VMCTL_EXIT_USAGE;
                }
        if (vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = open_console(c, path, ro, &fd);
        free(path);
        if (r)
                return r;
        bool tty = isatty(STDIN_FILENO) && !ro;
        struct termios saved, raw;
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                fprintf(stderr, "Connected to the console of %s; Ctrl-] detaches.\r\n", argv[optind]);
        } else
                tty = false;
        r = ro ? follow_log(fd, timeout) : relay(fd, ro, tty, timeout);
        if (tty)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        safe_close(fd);
        return r < 0 ? vmctl_fail(NULL, r, "console") : 0;
}

static void help(void) {
        printf("Usage: vmctl console VM [--read-only] [--timeout=SEC]\n"
               "Attaches to the VM's serial console. On a terminal Ctrl-] detaches; with a\n"
               "pipe as input, vmctl sends it and leaves after a second without output.\n"
               "The worker serves one console client at a time: while someone holds it,\n"
               "vmctl says who and since when and exits with 11.\n"
               "--read-only follows the console log instead (like tail -f; needs the read\n"
               "permission, not manage). The log is the VM's ConsoleLog file.\n");
}

const struct vmctl_command vmctl_cmd_console = { "console", "VM [--read-only]", "attach to the serial console", run, help };
