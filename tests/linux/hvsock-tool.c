// SPDX-License-Identifier: MIT
/* Both ends of the stock-Linux test's Hyper-V socket checks
 * (tests/linux/test-linux.sh, docs/hvsock.md), linked statically so the
 * guest's busybox initramfs can run it:
 *
 *   in the guest (AF_VSOCK over hv_sock):
 *     hvsock-tool connect PORT MSG     connect to the host's PORT, send MSG,
 *                                      shut down, print the reply
 *     hvsock-tool serve PORT           listen; answer each connection with
 *                                      "guest-echo:" and what it sent
 *   on the host (Unix sockets):
 *     hvsock-tool unix-serve PATH      listen; answer each connection with
 *                                      "host-echo:" and what it sent
 *     hvsock-tool unix-connect PATH PORT MSG
 *                                      the VM's socket: "CONNECT PORT\n",
 *                                      expect "OK <n>\n", send MSG, shut
 *                                      down, print the reply
 * Exit status 0 on success, 1 with the reason on stderr. */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int die(const char *what) {
        fprintf(stderr, "hvsock-tool: %s: %s\n", what, strerror(errno));
        return 1;
}

/* Everything until EOF (at most cap - 1 bytes), NUL-terminated. */
static ssize_t read_all(int fd, char *buf, size_t cap) {
        size_t n = 0;
        while (n + 1 < cap) {
                ssize_t r = read(fd, buf + n, cap - 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -1;
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = 0;
        return (ssize_t)n;
}

static int write_all(int fd, const char *s, size_t n) {
        while (n) {
                ssize_t r = write(fd, s, n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                s += r;
                n -= (size_t)r;
        }
        return 0;
}

/* Send msg, shut our side down, print what comes back. */
static int exchange(int fd, const char *msg) {
        char reply[4096];
        if (write_all(fd, msg, strlen(msg)) < 0 || shutdown(fd, SHUT_WR) < 0)
                return die("send");
        if (read_all(fd, reply, sizeof reply) < 0)
                return die("receive");
        printf("%s\n", reply);
        return 0;
}

static int serve(int lfd, const char *prefix) {
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return die("accept");
                }
                char buf[4096], out[4200];
                if (read_all(c, buf, sizeof buf) >= 0) {
                        int n = snprintf(out, sizeof out, "%s%s", prefix, buf);
                        (void)write_all(c, out, (size_t)n);
                }
                close(c);
        }
}

static int unix_addr(const char *path, struct sockaddr_un *sa) {
        memset(sa, 0, sizeof *sa);
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof sa->sun_path) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(sa->sun_path, path);
        return 0;
}

int main(int argc, char **argv) {
        const char *mode = argc > 1 ? argv[1] : "";
        if (!strcmp(mode, "connect") && argc == 4) {
                struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
                                         .svm_port = (unsigned)strtoul(argv[2], NULL, 10) };
                int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
                        return die("connect");
                return exchange(fd, argv[3]);
        }
        if (!strcmp(mode, "serve") && argc == 3) {
                struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                                         .svm_port = (unsigned)strtoul(argv[2], NULL, 10) };
                int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
                if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0)
                        return die("listen");
                return serve(fd, "guest-echo:");
        }
        if (!strcmp(mode, "unix-serve") && argc == 3) {
                struct sockaddr_un a;
                int fd = socket(AF_UNIX, SOCK_STREAM, 0);
                unlink(argv[2]);
                if (fd < 0 || unix_addr(argv[2], &a) < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
                    listen(fd, 16) < 0)
                        return die("listen");
                return serve(fd, "host-echo:");
        }
        if (!strcmp(mode, "unix-connect") && argc == 5) {
                struct sockaddr_un a;
                int fd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (fd < 0 || unix_addr(argv[2], &a) < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
                        return die("connect");
                char line[64];
                int n = snprintf(line, sizeof line, "CONNECT %s\n", argv[3]);
                if (write_all(fd, line, (size_t)n) < 0)
                        return die("CONNECT");
                /* "OK <port>\n", a byte at a time: what follows is the stream's. */
                size_t got = 0;
                while (got + 1 < sizeof line) {
                        ssize_t r = read(fd, line + got, 1);
                        if (r <= 0) {
                                fprintf(stderr, "hvsock-tool: no OK from the VM (nobody listens on %s?)\n", argv[3]);
                                return 1;
                        }
                        if (line[got++] == '\n')
                                break;
                }
                line[got] = 0;
                if (strncmp(line, "OK ", 3)) {
                        fprintf(stderr, "hvsock-tool: the VM answered %s", line);
                        return 1;
                }
                return exchange(fd, argv[4]);
        }
        fprintf(stderr, "usage: hvsock-tool connect PORT MSG | serve PORT | unix-serve PATH | "
                        "unix-connect PATH PORT MSG\n");
        return 2;
}
