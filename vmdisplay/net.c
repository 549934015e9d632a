// SPDX-License-Identifier: MIT
/* Addresses vmdisplay listens on, and its password file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "vmdisplay/vmdisplay.h"

static int port_parse(const char *s, uint16_t *port) {
        char *end;
        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || v == 0 || v > 65535)
                return -EINVAL;
        *port = (uint16_t)v;
        return 0;
}

int vmd_addr_parse(const char *s, struct vmd_addr *a) {
        char host[INET6_ADDRSTRLEN];
        const char *colon, *h = s;
        size_t hl;
        uint16_t port;
        if (*s == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                h = s + 1, hl = (size_t)(close - h), colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || memchr(s, ':', (size_t)(colon - s)))
                        return -EINVAL; /* an IPv6 address needs its brackets */
                hl = (size_t)(colon - s);
        }
        if (hl == 0 || hl >= sizeof host || port_parse(colon + 1, &port) < 0)
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = 0;
        *a = (struct vmd_addr){ .set = true };
        struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;
        if (*s != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET, v4->sin_port = htons(port), a->len = sizeof *v4;
                snprintf(a->text, sizeof a->text, "%s:%u", host, port);
        } else if (*s == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6, v6->sin6_port = htons(port), a->len = sizeof *v6;
                snprintf(a->text, sizeof a->text, "[%s]:%u", host, port);
        } else {
                *a = (struct vmd_addr){ 0 };
                return -EINVAL;
        }
        return 0;
}

bool vmd_addr_is_loopback(const struct vmd_addr *a) {
        if (a->sa.ss_family == AF_INET) {
                const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;
                return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        }
        if (a->sa.ss_family == AF_INET6) {
                const struct in6_addr *v6 = &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(v6) || (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
        }
        return false;
}

int vmd_password_read(const char *path, char *out, size_t outlen, char *err, size_t errlen) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errorf(err, errlen, -errno, "password file %s: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return errorf(err, errlen, -EINVAL, "password file %s: not a regular file", path);
        if (st.st_mode & 077)
                return errorf(err, errlen, -EPERM, "password file %s: group or others may read it (chmod 600)",
                              path);
        char buf[256];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return errorf(err, errlen, -errno, "password file %s: %s", path, strerror(errno));
        buf[n] = 0;
        size_t len = strcspn(buf, "\r\n");
        if (len == 0)
                return errorf(err, errlen, -EINVAL, "password file %s: the first line is empty", path);
        if (len >= outlen)
                return errorf(err, errlen, -EINVAL, "password file %s: longer than %zu characters", path, outlen - 1);
        memcpy(out, buf, len);
        out[len] = 0;
        explicit_bzero(buf, sizeof buf);
        return (int)len;
}
