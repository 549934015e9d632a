// SPDX-License-Identifier: MIT
/* vmdisplay's end of the display socket (vmdisplay/link.h) over a
 * socketpair: the memfd with HELLO, descriptors that must be refused,
 * malformed datagrams, a worker that closes with our input unread, and
 * mapping only what the memfd holds. */
#include <dirent.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "common/display.h"
#include "common/macro.h"
#include "common/test.h"
#include "vmdisplay/link.h"

static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds) {
        union {
                struct cmsghdr align;
                char space[CMSG_SPACE(sizeof(int) * 8)];
        } control;
        struct iovec iov = { (void *)buf, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (nfds) {
                mh.msg_control = &control, mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        ASSERT_EQ(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static size_t build(const struct display_msg *m, uint8_t *buf) {
        size_t n = display_msg_build(m, buf);
        ASSERT_GT(n, 0u);
        return n;
}

static int memfd_of(size_t bytes) {
        int fd = memfd_create("test-fb", MFD_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(ftruncate(fd, (off_t)bytes));
        return fd;
}

/* The descriptors open in this process: one received and not kept
 * would be a leak. */
static size_t open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        ASSERT_NOT_NULL(d);
        size_t n = 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

TEST(hello_brings_its_memfd) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv));
        uint8_t buf[DISPLAY_MSG_MAX];
        struct display_msg m = { .type = DISPLAY_HELLO, .hello = { DISPLAY_VERSION, 1 << 20, 0 } }, got;
        int mfd = memfd_of(1 << 20), fd;
        ASSERT_EQ(vmd_link_recv(sv[0], &got, &fd), 0); /* nothing yet */
        send_with_fds(sv[1], buf, build(&m, buf), &mfd, 1);
        ASSERT_EQ(vmd_link_recv(sv[0], &got, &fd), 1);
        ASSERT_EQ(got.type, (uint32_t)DISPLAY_HELLO);
        ASSERT_GE(fd, 0);
        const uint8_t *map;
        bool sealed;
        ASSERT_OK(vmd_link_map(fd, 1 << 20, &map, &sealed));
        ASSERT_FALSE(sealed);
        ASSERT_EQ(map[(1 << 20) - 1], 0); /* all of it readable */
        munmap((void *)map, 1 << 20);
        /* a memfd shorter than HELLO says: refused, not mapped to fault later */
        ASSERT_ERROR(vmd_link_map(fd, (1 << 20) + 1, &map, &sealed), EPROTO);
        close(fd);
        close(mfd);
        /* sealed against shrinking */
        mfd = memfd_create("test-fb", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ASSERT_OK(ftruncate(mfd, 4096));
        ASSERT_OK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK));
        ASSERT_OK(vmd_link_map(mfd, 4096, &map, &sealed));
        ASSERT_TRUE(sealed);
        munmap((void *)map, 4096);
        close(mfd);
        close(sv[0]);
        close(sv[1]);
}

TEST(what_is_refused) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv));
        uint8_t buf[DISPLAY_MSG_MAX + 16];
        struct display_msg m = { .type = DISPLAY_STATUS, .status = DISPLAY_STATUS_VIDEO }, got;
        int fd;
        /* two descriptors: neither is kept */
        int fds[2] = { memfd_of(4096), memfd_of(4096) };
        send_with_fds(sv[1], buf, build(&m, buf), fds, 2);
        size_t before = open_fds();
        ASSERT_ERROR(vmd_link_recv(sv[0], &got, &fd), EPROTO);
        ASSERT_EQ(fd, -1);
        ASSERT_EQ(open_fds(), before);
        close(fds[0]);
        close(fds[1]);
        /* a malformed message, with a descriptor: the descriptor is closed */
        int one = memfd_of(4096);
        memset(buf, 0xff, 16);
        send_with_fds(sv[1], buf, 16, &one, 1);
        before = open_fds();
        ASSERT_ERROR(vmd_link_recv(sv[0], &got, &fd), EBADMSG);
        ASSERT_EQ(fd, -1);
        ASSERT_EQ(open_fds(), before);
        close(one);
        /* longer than any message: truncated, refused */
        size_t n = build(&m, buf);
        memset(buf + n, 0, sizeof buf - n);
        ASSERT_EQ(send(sv[1], buf, sizeof buf, 0), (ssize_t)sizeof buf);
        ASSERT_ERROR(vmd_link_recv(sv[0], &got, &fd), EBADMSG);
        /* and a good one after all that */
        ASSERT_EQ(send(sv[1], buf, n, 0), (ssize_t)n);
        ASSERT_EQ(vmd_link_recv(sv[0], &got, &fd), 1);
        ASSERT_EQ(got.status, DISPLAY_STATUS_VIDEO);
        close(sv[0]);
        close(sv[1]);
}

TEST(a_worker_that_closes_with_our_input_unread) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv));
        uint8_t buf[DISPLAY_MSG_MAX];
        struct display_msg mode = { .type = DISPLAY_MODE, .mode = { .active = false } };
        struct display_msg bye = { .type = DISPLAY_BYE }, got;
        int fd;
        ASSERT_EQ(send(sv[1], buf, build(&mode, buf), 0), 8 + 24);
        ASSERT_EQ(send(sv[1], buf, build(&bye, buf), 0), 8);
        ASSERT_OK(vmd_link_send(sv[0], &(struct display_msg){ .type = DISPLAY_REFRESH }));
        close(sv[1]); /* our REFRESH unread: Linux gives us ECONNRESET first */
        ASSERT_EQ(vmd_link_recv(sv[0], &got, &fd), 1);
        ASSERT_EQ(got.type, (uint32_t)DISPLAY_MODE);
        ASSERT_EQ(vmd_link_recv(sv[0], &got, &fd), 1);
        ASSERT_EQ(got.type, (uint32_t)DISPLAY_BYE);
        ASSERT_ERROR(vmd_link_recv(sv[0], &got, &fd), ECONNRESET);
        ASSERT_ERROR(vmd_link_send(sv[0], &(struct display_msg){ .type = DISPLAY_REFRESH }), EPIPE);
        close(sv[0]);
}

TEST_MAIN();
