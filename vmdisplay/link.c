// SPDX-License-Identifier: MIT
/* The worker's display socket (include/vmdisplay/link.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "vmdisplay/link.h"

int vmd_link_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        if (n >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return -errno;
        int r = fd_set_nonblock(fd, true);
        return r < 0 ? r : TAKE_FD(fd);
}

/* The descriptors that came with a message: exactly one is kept (*fd),
 * anything else is closed and refused. */
static int take_fds(struct msghdr *mh, int *fd) {
        int got = -1, count = 0;
        bool other = (mh->msg_flags & MSG_CTRUNC) != 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
                        other = true;
                        continue;
                }
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int f;
                        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
                        if (count++ == 0)
                                got = f;
                        else
                                safe_close(f);
                }
        }
        if (other || count > 1) {
                safe_close(got);
                return -EPROTO;
        }
        *fd = got;
        return 0;
}

int vmd_link_recv(int sock, struct display_msg *m, int *fd) {
        uint8_t buf[DISPLAY_MSG_MAX];
        union {
                struct cmsghdr align;
                char space[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct iovec iov = { buf, sizeof buf };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        *fd = -1;
        ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        /* A worker that closes with our input unread in its socket leaves
         * us ECONNRESET, which Linux reports before the messages it sent
         * first (a snapshot's MODE and BYE): they are still to be read. */
        if (n < 0 && errno == ECONNRESET) {
                mh.msg_controllen = sizeof control;
                n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        }
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        int r = take_fds(&mh, fd);
        if (r < 0)
                return r;
        /* A datagram of 0 bytes is the end: every message has a header. */
        if (n == 0) {
                *fd = safe_close(*fd);
                return -ECONNRESET;
        }
        if ((mh.msg_flags & MSG_TRUNC) || display_msg_parse(buf, (size_t)n, m) < 0) {
                *fd = safe_close(*fd);
                return -EBADMSG;
        }
        return 1;
}

int vmd_link_send(int sock, const struct display_msg *m) {
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t n = display_msg_build(m, buf);
        if (!n)
                return -EINVAL;
        return send(sock, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int vmd_link_map(int fd, uint32_t bytes, const uint8_t **map, bool *sealed) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < bytes)
                return -EPROTO;
        int seals = fcntl(fd, F_GET_SEALS);
        *sealed = seals >= 0 && (seals & F_SEAL_SHRINK);
        *map = NULL;
        if (!bytes)
                return 0;
        void *p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        *map = p;
        return 0;
}
