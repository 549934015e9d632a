/* SPDX-License-Identifier: MIT */
/* A test's client of a worker's unix sockets: the serial console
 * (--serial socket:PATH), the keyboard (--keyboard socket:PATH). */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Connects to the unix socket at path, retrying while the worker creates
 * it (20 s at most); -1 if it never answered. */
static inline int unix_connect_retry(const char *path) {
        for (int i = 0; i < 4000; i++) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (fd < 0 || strlen(path) >= sizeof sa.sun_path) {
                        if (fd >= 0)
                                close(fd);
                        return -1;
                }
                memcpy(sa.sun_path, path, strlen(path) + 1);
                if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
                        return fd;
                close(fd);
                usleep(5000);
        }
        return -1;
}

/* Reads from fd until `want` appears (or timeout_ms pass); buf holds what
 * came, NUL-terminated. */
static inline bool serial_read_until(int fd, const char *want, char *buf, size_t cap, int timeout_ms) {
        size_t n = 0;
        for (int i = 0; i < timeout_ms / 10 && n < cap - 1; i++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 10) <= 0)
                        continue;
                ssize_t k = read(fd, buf + n, cap - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
                buf[n] = 0;
                if (memmem(buf, n, want, strlen(want)))
                        return true;
        }
        return false;
}
