/* SPDX-License-Identifier: MIT */
/* A display server's side of the display protocol (common/display.h) for
 * tests: the next message from the worker, and the descriptor it carried
 * (HELLO's framebuffer). */
#pragma once

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "common/display.h"
#include "common/test.h"

/* The next message within timeout_ms; its fd (or -1) in *fd when fd is
 * not NULL. Asserts that one came and that it parses. */
static inline struct display_msg display_test_recv(int sock, int *fd, int timeout_ms) {
        struct pollfd p = { .fd = sock, .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, timeout_ms), 1);
        uint8_t buf[DISPLAY_MSG_MAX];
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
                             .msg_controllen = sizeof control.b };
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        ASSERT_GT(n, 0);
        if (fd) {
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                *fd = -1;
                if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(fd, CMSG_DATA(c), sizeof(int));
        }
        struct display_msg m;
        ASSERT_OK(display_msg_parse(buf, (size_t)n, &m));
        return m;
}
