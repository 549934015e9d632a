// SPDX-License-Identifier: MIT
/* Test helper for the vmms integration tests (a test double, not a test):
 *   vmms-test-helper polkit ADDRESS UID ACTION...
 *       owns org.freedesktop.PolicyKit1 on the bus at ADDRESS and answers
 *       CheckAuthorization: authorized if the subject's uid is UID and the
 *       action is one of ACTION..., otherwise not. Logs each check to stdout.
 *   vmms-test-helper notify SOCKET SECONDS
 *       binds a datagram socket like systemd's NOTIFY_SOCKET and prints each
 *       message it receives, until READY=1 arrived or SECONDS passed
 *       (exit 0 if READY=1 was seen, 1 otherwise).
 *   vmms-test-helper listen SOCKET SECONDS
 *       the same for SECONDS, printing every datagram (a stand-in for
 *       journald's native socket), each followed by an empty line. */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

struct polkit {
        uid_t uid;
        char **actions;
        int n_actions;
};

static int check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct polkit *p = userdata;
        const char *kind, *key, *name = NULL, *action;
        int r = sd_bus_message_enter_container(m, 'r', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &kind);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                if ((r = sd_bus_message_read(m, "s", &key)) < 0)
                        break;
                if (!strcmp(key, "name"))
                        r = sd_bus_message_read(m, "v", "s", &name);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0 && (r = sd_bus_message_exit_container(m)) >= 0 && (r = sd_bus_message_exit_container(m)) >= 0)
                r = sd_bus_message_read(m, "s", &action);
        if (r < 0)
                return r;
        uid_t uid = (uid_t)-1;
        sd_bus_creds *c = NULL;
        if (name && sd_bus_get_name_creds(sd_bus_message_get_bus(m), name, SD_BUS_CREDS_EUID, &c) >= 0)
                (void)sd_bus_creds_get_euid(c, &uid);
        sd_bus_creds_unref(c);
        int ok = 0;
        for (int i = 0; i < p->n_actions; i++)
                ok |= uid == p->uid && !strcmp(action, p->actions[i]);
        printf("polkit: %s %s uid=%d -> %s\n", kind, action, (int)uid, ok ? "yes" : "no");
        fflush(stdout);
        return sd_bus_reply_method_return(m, "(bba{ss})", ok, 0, 0);
}

static const sd_bus_vtable authority_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", check_authorization, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int run_polkit(const char *address, uid_t uid, char **actions, int n) {
        struct polkit p = { .uid = uid, .actions = actions, .n_actions = n };
        sd_bus *bus = NULL;
        int r;
        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, address)) < 0 ||
            (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                          "org.freedesktop.PolicyKit1.Authority", authority_vtable, &p)) < 0 ||
            (r = sd_bus_request_name(bus, "org.freedesktop.PolicyKit1", 0)) < 0) {
                fprintf(stderr, "fake polkit: %s\n", strerror(-r));
                return 1;
        }
        printf("polkit: ready\n");
        fflush(stdout);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0)
                        return 1;
        }
}

static int run_dgram(const char *path, int seconds, bool until_ready) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char buf[4096];
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                perror("notify socket");
                return 2;
        }
        for (int waited = 0; waited < seconds * 10;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, 100) <= 0) {
                        waited++;
                        continue;
                }
                ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                printf(until_ready ? "notify: %s\n" : "%s\n\n", buf);
                fflush(stdout);
                if (until_ready && strstr(buf, "READY=1"))
                        return 0;
        }
        return until_ready ? 1 : 0;
}

int main(int argc, char **argv) {
        if (argc >= 5 && !strcmp(argv[1], "polkit"))
                return run_polkit(argv[2], (uid_t)strtoul(argv[3], NULL, 10), argv + 4, argc - 4);
        if (argc == 4 && !strcmp(argv[1], "notify"))
                return run_dgram(argv[2], atoi(argv[3]), true);
        if (argc == 4 && !strcmp(argv[1], "listen"))
                return run_dgram(argv[2], atoi(argv[3]), false);
        fprintf(stderr, "usage: vmms-test-helper polkit ADDRESS UID ACTION... | notify|listen SOCKET SECONDS\n");
        return 2;
}
