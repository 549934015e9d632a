// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"

ssize_t read_full(int fd, void *buf, size_t len) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = read(fd, (char *)buf + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (ssize_t)done;
}

int write_full(int fd, const void *buf, size_t len) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(fd, (const char *)buf + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)n;
        }
        return 0;
}

int read_file(const char *path, size_t max, char **out, size_t *out_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((size_t)st.st_size > max)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_full(fd, buf, (size_t)st.st_size);
        if (n < 0)
                return (int)n;
        buf[n] = 0;
        *out = TAKE_PTR(buf);
        if (out_len)
                *out_len = (size_t)n;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, int mode) {
        char tmp[4096], dir[4096];
        if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp ||
            snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write_full(fd, data, len);
        if (r == 0 && fchmod(fd, (mode_t)mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        /* The rename is durable only once the directory entry is. */
        _cleanup_close_ int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int fd_set_cloexec(int fd, bool on) {
        int f = fcntl(fd, F_GETFD);
        if (f < 0)
                return -errno;
        f = on ? (f | FD_CLOEXEC) : (f & ~FD_CLOEXEC);
        return fcntl(fd, F_SETFD, f) < 0 ? -errno : 0;
}

int unix_listen(const char *path, int type, int backlog, mode_t mode) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        if (n >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n + 1);
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                (void)unlink(path);
        }
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (mode && chmod(path, mode) < 0) ||
            listen(fd, backlog) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        return fd;
}

int fd_set_nonblock(int fd, bool on) {
        int f = fcntl(fd, F_GETFL);
        if (f < 0)
                return -errno;
        f = on ? (f | O_NONBLOCK) : (f & ~O_NONBLOCK);
        return fcntl(fd, F_SETFL, f) < 0 ? -errno : 0;
}

int fd_for_each_data(int fd, uint64_t len, int (*fn)(void *opaque, uint64_t from, uint64_t to), void *opaque) {
        for (uint64_t pos = 0; pos < len;) {
                off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
                if (data < 0)
                        return errno == ENXIO ? 0 : -errno; /* ENXIO: no data after pos */
                off_t hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0)
                        return -errno;
                if ((uint64_t)data >= len)
                        return 0;
                uint64_t to = MIN((uint64_t)hole, len);
                int r = fn(opaque, (uint64_t)data, to);
                if (r != 0)
                        return r;
                pos = to;
        }
        return 0;
}

void fd_zero_range(int fd, uint8_t *map, uint64_t off, uint64_t len) {
        if (fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
                memset(map + off, 0, (size_t)len);
}
