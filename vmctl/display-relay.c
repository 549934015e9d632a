// SPDX-License-Identifier: MIT
/* vmctl display VM --stdio: the VM's VNC connection (Display.OpenDisplay)
 * relayed to standard input and output, for a program that cannot take a
 * descriptor over D-Bus: the Cockpit page's console runs it in a Cockpit
 * stream channel (docs/cockpit.md "The console"). vmms authorizes the
 * call (the manage action); the bytes are RFB, still asking for the
 * VNC password. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

/* One read from `from`, written whole to `to`. 1: go on; 0: `from` ended
 * or `to` no longer takes bytes; -errno: a read failed otherwise. */
static int pass(int from, int to) {
        char buf[16384];
        ssize_t n = read(from, buf, sizeof buf);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : errno == ECONNRESET ? 0 : -errno;
        if (n == 0)
                return 0;
        return write_full(to, buf, (size_t)n) < 0 ? 0 : 1;
}

int vmctl_display_relay(int sock, int in, int out) {
        bool in_open = true;
        for (;;) {
                struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = in, .events = POLLIN } };
                if (poll(p, in_open ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                int r = 1;
                if (p[0].revents && (r = pass(sock, out)) <= 0)
                        return r; /* the display server closed: the VM stopped, or our reader went */
                if (in_open && p[1].revents && (r = pass(in, sock)) <= 0) {
                        if (r < 0)
                                return r;
                        /* Our input ended: the server is told (it drops the
                         * viewer) and what it still sends is passed on. */
                        in_open = false;
                        (void)shutdown(sock, SHUT_WR);
                }
        }
}

#define OPEN_RETRY_US (5 * 1000000ULL)
#define OPEN_RETRY_STEP_MS 200

/* Display.OpenDisplay() on the VM at path; the descriptor or vmctl_fail()'s
 * exit code (negative, as -code) with vmms's message printed. vmms answers
 * Failed while the display server starts (it runs before it listens) or
 * is started again: asked again for up to 5 s, so that a viewer opened
 * with the VM's start gets the screen rather than an error. */
static int open_display(struct vmctl *c, const char *path) {
        uint64_t until = now_us(CLOCK_MONOTONIC) + OPEN_RETRY_US;
        for (;;) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                int in, fd = -1;
                int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_DISPLAY_IFACE, "OpenDisplay", &e, &reply, "");
                if (r >= 0 && (r = sd_bus_message_read(reply, "h", &in)) >= 0 &&
                    (fd = fcntl(in, F_DUPFD_CLOEXEC, 3)) < 0)
                        r = -errno;
                sd_bus_message_unref(reply);
                bool again = r < 0 && sd_bus_error_has_name(&e, VMMS_ERROR_FAILED) && now_us(CLOCK_MONOTONIC) < until;
                if (r < 0 && !again)
                        fd = -vmctl_fail(&e, r, "display");
                sd_bus_error_free(&e);
                if (!again)
                        return fd;
                (void)poll(NULL, 0, OPEN_RETRY_STEP_MS);
        }
}

int vmctl_display_stdio(struct vmctl *c, const char *path) {
        int fd = open_display(c, path);
        if (fd < 0)
                return -fd;
        /* A reader that goes away is the end, not a signal's death. */
        (void)signal(SIGPIPE, SIG_IGN);
        int r = vmctl_display_relay(fd, STDIN_FILENO, STDOUT_FILENO);
        safe_close(fd);
        return r < 0 ? vmctl_fail(NULL, r, "display") : 0;
}
