// SPDX-License-Identifier: MIT
/* Serial console sinks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/devworker.h"
#include "emu/uart.h"
#include "vmwp/console.h"

#define PENDING_MAX 256u

struct vmwp_console {
        enum vmwp_console_kind kind;
        pthread_mutex_t lock; /* out_fd and the counters: vCPU threads vs main loop */
        int out_fd, in_fd, log_fd;
        int listen_fd, client_fd, pty_slave_fd, ready_efd;
        bool own_out, own_in;
        bool restore_tty;
        struct termios saved_tty;
        char pty_path[64];
        char sock_path[VM_PATH_MAX];

        struct devworker *loop;
        struct uart *uart;
        struct dw_source *in_src, *listen_src, *ready_src;
        uint8_t pending[PENDING_MAX];
        size_t pending_len, pending_off;
        uint64_t client_since_us; /* CLOCK_REALTIME when client_fd connected */
        struct vmwp_console_stats stats;
};

int vmwp_console_spec_parse(const char *s, struct vmwp_console_spec *out) {
        *out = (struct vmwp_console_spec){ 0 };
        const char *path = NULL;
        if (strcmp(s, "stdio") == 0)
                out->kind = VMWP_CONSOLE_STDIO;
        else if (strcmp(s, "pty") == 0)
                out->kind = VMWP_CONSOLE_PTY;
        else if (strcmp(s, "none") == 0)
                out->kind = VMWP_CONSOLE_NONE;
        else if (strncmp(s, "file:", 5) == 0)
                out->kind = VMWP_CONSOLE_FILE, path = s + 5;
        else if (strncmp(s, "socket:", 7) == 0)
                out->kind = VMWP_CONSOLE_SOCKET, path = s + 7;
        else
                return -EINVAL;
        if (path) {
                size_t max = out->kind == VMWP_CONSOLE_SOCKET ? sizeof(((struct sockaddr_un *)0)->sun_path)
                                                             : sizeof out->path;
                if (!*path || strlen(path) >= max)
                        return -EINVAL;
                strcpy(out->path, path);
        }
        return 0;
}

static int seterr(char *err, size_t errlen, int r, const char *what, const char *path) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(-r));
        return r;
}

static int open_socket(struct vmwp_console *c, const char *path, char *err, size_t errlen) {
        c->listen_fd = unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 4, 0);
        if (c->listen_fd == -EEXIST)
                return seterr(err, errlen, -EEXIST, "serial socket: refusing to replace", path);
        if (c->listen_fd < 0)
                return seterr(err, errlen, c->listen_fd, "serial socket: cannot listen on", path);
        snprintf(c->sock_path, sizeof c->sock_path, "%s", path);
        return 0;
}

static int open_pty(struct vmwp_console *c, char *err, size_t errlen) {
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (m < 0)
                return seterr(err, errlen, -errno, "serial pty:", "posix_openpt");
        c->out_fd = c->in_fd = m;
        c->own_out = true;
        if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, c->pty_path, sizeof c->pty_path) != 0)
                return seterr(err, errlen, -errno, "serial pty:", "unlockpt/ptsname");
        /* Raw line discipline: the guest's bytes unchanged in both directions. */
        struct termios t;
        if (tcgetattr(m, &t) == 0) {
                cfmakeraw(&t);
                (void)tcsetattr(m, TCSANOW, &t);
        }
        /* Hold the slave open ourselves: with no slave open the master
         * reports EPOLLHUP without end. */
        c->pty_slave_fd = open(c->pty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (c->pty_slave_fd < 0)
                return seterr(err, errlen, -errno, "serial pty: cannot open", c->pty_path);
        return 0;
}

static void stdio_raw(struct vmwp_console *c) {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved_tty) < 0)
                return;
        struct termios t = c->saved_tty;
        cfmakeraw(&t);
        t.c_lflag |= ISIG; /* Ctrl-C still stops the VM (SIGINT) */
        t.c_oflag |= OPOST | ONLCR;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
                c->restore_tty = true;
}

static int open_sink(struct vmwp_console *c, const struct vmwp_console_spec *spec, char *err, size_t errlen) {
        switch (spec->kind) {
        case VMWP_CONSOLE_NONE:
                return 0;
        case VMWP_CONSOLE_STDIO:
                c->out_fd = STDOUT_FILENO;
                c->in_fd = STDIN_FILENO;
                stdio_raw(c);
                return 0;
        case VMWP_CONSOLE_FILE:
                c->out_fd = open(spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0640);
                if (c->out_fd < 0)
                        return seterr(err, errlen, -errno, "serial file: cannot open", spec->path);
                c->own_out = true;
                return 0;
        case VMWP_CONSOLE_SOCKET:
                return open_socket(c, spec->path, err, errlen);
        case VMWP_CONSOLE_PTY:
                return open_pty(c, err, errlen);
        }
        return -EINVAL;
}

int vmwp_console_open(const struct vmwp_console_spec *spec, const char *log_path, int log_fd,
                      struct vmwp_console **out, char *err, size_t errlen) {
        struct vmwp_console *c = calloc(1, sizeof *c);
        if (!c) {
                safe_close(log_fd);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->lock, NULL);
        c->kind = spec->kind;
        c->out_fd = c->in_fd = c->listen_fd = c->client_fd = c->pty_slave_fd = c->ready_efd = -1;
        c->log_fd = log_fd; /* vmms opened it; closed with the console */
        int r = open_sink(c, spec, err, errlen);
        if (r >= 0 && c->log_fd < 0 && log_path && log_path[0]) {
                c->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
                if (c->log_fd < 0)
                        r = seterr(err, errlen, -errno, "serial_log: cannot open", log_path);
        }
        if (r >= 0) {
                c->ready_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (c->ready_efd < 0)
                        r = -errno;
        }
        if (r < 0) {
                vmwp_console_free(c);
                return r;
        }
        *out = c;
        return 0;
}

void vmwp_console_free(struct vmwp_console *c) {
        if (!c)
                return;
        if (c->restore_tty)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tty);
        if (c->own_out)
                safe_close(c->out_fd);
        safe_close(c->log_fd);
        safe_close(c->client_fd);
        safe_close(c->listen_fd);
        safe_close(c->pty_slave_fd);
        safe_close(c->ready_efd);
        if (c->sock_path[0])
                unlink(c->sock_path);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

void vmwp_console_output(struct vmwp_console *c, uint8_t byte) {
        pthread_mutex_lock(&c->lock);
        c->stats.out_bytes++;
        if (c->log_fd >= 0)
                (void)write_full(c->log_fd, &byte, 1);
        int fd = c->kind == VMWP_CONSOLE_SOCKET ? c->client_fd : c->out_fd;
        if (fd >= 0) {
                ssize_t n;
                if (c->kind == VMWP_CONSOLE_SOCKET)
                        n = send(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
                else if (c->kind == VMWP_CONSOLE_PTY)
                        n = write(fd, &byte, 1); /* the master is non-blocking */
                else
                        n = write_full(fd, &byte, 1) == 0 ? 1 : -1;
                if (n != 1)
                        c->stats.out_dropped++;
        } else if (c->kind != VMWP_CONSOLE_NONE) {
                c->stats.out_dropped++; /* no client connected */
        }
        pthread_mutex_unlock(&c->lock);
}

/* Offers pending input to the UART; pauses reading while it is refused. */
static void flush_pending(struct vmwp_console *c) {
        size_t n = uart_receive(c->uart, c->pending + c->pending_off, c->pending_len - c->pending_off);
        c->pending_off += n;
        c->stats.in_bytes += n;
        if (c->pending_off == c->pending_len)
                c->pending_len = c->pending_off = 0;
        if (c->in_src)
                (void)dw_source_set_events(c->in_src, c->pending_len ? 0 : EPOLLIN);
}

static void drop_input(struct vmwp_console *c) {
        dw_source_free(c->in_src);
        c->in_src = NULL;
        if (c->kind == VMWP_CONSOLE_SOCKET) {
                pthread_mutex_lock(&c->lock);
                c->client_fd = safe_close(c->client_fd);
                pthread_mutex_unlock(&c->lock);
                c->pending_len = c->pending_off = 0;
                c->client_since_us = 0;
        }
}

/* Whether the client has closed its end (or shut it down), even if the loop
 * has not read its EOF yet: a holder that left must not make the next
 * client "busy". Input it sent but the guest has not taken is dropped. */
static bool client_gone(struct vmwp_console *c) {
        struct pollfd p = { .fd = c->client_fd, .events = POLLIN | POLLRDHUP };
        if (poll(&p, 1, 0) <= 0)
                return false;
        return p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL);
}

static int on_input(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmwp_console *c = userdata;
        ssize_t n = read(fd, c->pending, sizeof c->pending);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                /* EOF or error (a client went away, stdin closed). */
                drop_input(c);
                return 0;
        }
        c->pending_len = (size_t)n;
        c->pending_off = 0;
        flush_pending(c);
        return 0;
}

/* One client at a time. A second one is told so and closed at once, never
 * left waiting in the backlog (vmms asks first: console_client_status). */
static void refuse_client(int fd) {
        static const char msg[] = "vmwp: the console is in use by another client\r\n";
        (void)!send(fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        safe_close(fd);
}

/* Accepts what is queued on the listening socket: the first gets the free
 * slot, the others are refused. */
static void accept_queued(struct vmwp_console *c) {
        for (unsigned i = 0; i < 16; i++) {
                int cfd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0)
                        return;
                if (c->client_fd >= 0 && client_gone(c))
                        drop_input(c);
                if (c->client_fd >= 0) {
                        refuse_client(cfd);
                        continue;
                }
                pthread_mutex_lock(&c->lock);
                c->client_fd = cfd;
                c->stats.clients++;
                pthread_mutex_unlock(&c->lock);
                c->client_since_us = now_us(CLOCK_REALTIME);
                if (devworker_add_io(c->loop, cfd, EPOLLIN, on_input, c, &c->in_src) < 0)
                        drop_input(c);
        }
}

static int on_accept(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        accept_queued(userdata);
        return 0;
}

int vmwp_console_client_status(struct vmwp_console *c, struct vmwp_console_client *out) {
        if (c->kind != VMWP_CONSOLE_SOCKET || !c->loop)
                return -ENOTSUP;
        /* Connections already made are counted before answering, so that
         * one vmms handed out just before is seen as the holder. */
        if (c->client_fd >= 0 && client_gone(c))
                drop_input(c);
        accept_queued(c);
        *out = (struct vmwp_console_client){ .connected = c->client_fd >= 0, .clients = c->stats.clients,
                                             .since_us = c->client_since_us };
        return 0;
}

static int on_ready(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmwp_console *c = userdata;
        uint64_t v;
        (void)!read(fd, &v, sizeof v);
        if (c->pending_len)
                flush_pending(c);
        return 0;
}

void vmwp_console_input_ready(struct vmwp_console *c) {
        uint64_t one = 1;
        (void)!write(c->ready_efd, &one, sizeof one);
}

int vmwp_console_attach(struct vmwp_console *c, struct devworker *loop, struct uart *u) {
        c->loop = loop;
        c->uart = u;
        int r = devworker_add_io(loop, c->ready_efd, EPOLLIN, on_ready, c, &c->ready_src);
        if (r < 0)
                return r;
        if (c->kind == VMWP_CONSOLE_SOCKET)
                return devworker_add_io(loop, c->listen_fd, EPOLLIN, on_accept, c, &c->listen_src);
        if (c->in_fd < 0)
                return 0;
        r = devworker_add_io(loop, c->in_fd, EPOLLIN, on_input, c, &c->in_src);
        /* stdin that epoll cannot watch (a regular file, /dev/null) gives no input. */
        return r == -EPERM ? 0 : r;
}

const char *vmwp_console_pty_path(const struct vmwp_console *c) {
        return c->kind == VMWP_CONSOLE_PTY ? c->pty_path : NULL;
}

void vmwp_console_get_stats(struct vmwp_console *c, struct vmwp_console_stats *out) {
        pthread_mutex_lock(&c->lock);
        *out = c->stats;
        pthread_mutex_unlock(&c->lock);
}
