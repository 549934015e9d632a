// SPDX-License-Identifier: MIT
/* A VM worker's display side, for the vmdisplay tests: listens on a
 * display socket (common/display.h: SOCK_SEQPACKET, one display server;
 * another connection meanwhile is a snapshot: HELLO, MODE, BYE), sends
 * HELLO with a sealed memfd holding the test pattern
 * (display-pattern.h), MODE, STATUS and DIRTY, answers REFRESH, and logs
 * every KEY and POINTER it receives, one line each with a CLOCK_MONOTONIC
 * time stamp in microseconds.
 *
 *   fake-display-worker --socket=PATH --log=FILE [--size=WxH] [--pad=BYTES]
 *       [--offset=BYTES] [--resize=WxH] [--inactive] [--no-video] [--unfit]
 *       [--animate=HZ]
 *
 * Signals: USR1 toggles the change rectangle (a DIRTY of it), USR2 toggles
 * the mode between active and inactive, HUP switches to the --resize size
 * and back, TERM/INT end it (closing the socket). --unfit sends a MODE
 * that does not fit the memfd; --pad and --offset make the stride and the
 * first pixel's offset odd ones (--pad=2: lines not 4-byte aligned);
 * --animate toggles the change rectangle HZ times a second and sends a
 * DIRTY of the whole mode each time (a busy guest, for measurements). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/display.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "display-pattern.h"

struct fake {
        const char *socket_path;
        FILE *log;
        uint32_t size[2][2]; /* [which][w, h] */
        unsigned which;      /* the size in use */
        uint32_t pad, offset;
        bool active, video, unfit;
        unsigned phase;
        int memfd;
        uint8_t *map;
        size_t bytes;
        int listen_fd, client, sig_fd, timer_fd;
        unsigned animate_hz;
};

static uint32_t width(const struct fake *f) { return f->size[f->which][0]; }
static uint32_t height(const struct fake *f) { return f->size[f->which][1]; }
static uint32_t stride(const struct fake *f) { return width(f) * 4 + f->pad; }

static void logf_(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct fake *f, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f->log, fmt, ap);
        va_end(ap);
        fprintf(f->log, " t=%llu\n", (unsigned long long)now_us(CLOCK_MONOTONIC));
        fflush(f->log);
}

static void paint(struct fake *f, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h) {
        for (uint32_t y = y0; y < y0 + h && y < height(f); y++)
                for (uint32_t x = x0; x < x0 + w && x < width(f); x++) {
                        uint32_t p = dp_pixel(x, y, f->phase);
                        uint8_t *px = f->map + f->offset + (size_t)y * stride(f) + (size_t)x * 4;
                        px[0] = (uint8_t)p, px[1] = (uint8_t)(p >> 8), px[2] = (uint8_t)(p >> 16), px[3] = 0;
                }
}

static void send_msg(struct fake *f, const struct display_msg *m, int fd) {
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t n = display_msg_build(m, buf);
        struct iovec iov = { buf, n };
        union {
                struct cmsghdr align;
                char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (fd >= 0) {
                mh.msg_control = &control, mh.msg_controllen = sizeof control;
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        if (f->client >= 0 && sendmsg(f->client, &mh, MSG_NOSIGNAL) < 0)
                fprintf(stderr, "fake-display-worker: send: %s\n", strerror(errno));
}

static void send_mode(struct fake *f) {
        struct display_msg m = { .type = DISPLAY_MODE,
                                 .mode = { .active = f->active, .width = width(f), .height = height(f),
                                           .stride = stride(f), .bpp = 32, .offset = f->offset } };
        if (f->unfit) /* one line more than the memfd holds */
                m.mode.height = (uint32_t)((f->bytes - f->offset) / stride(f)) + 1;
        if (!f->active)
                m.mode = (struct display_mode){ .active = false };
        send_msg(f, &m, -1);
}

static void send_dirty(struct fake *f, uint32_t x, uint32_t y, uint32_t w, uint32_t h) {
        if (!f->active)
                return;
        struct display_msg m = { .type = DISPLAY_DIRTY, .dirty = { .count = 1, .rect = { { x, y, w, h } } } };
        logf_(f, "DIRTY %u %u %u %u", x, y, w, h);
        send_msg(f, &m, -1);
}

static void send_screen(struct fake *f) {
        send_mode(f);
        uint32_t st = DISPLAY_STATUS_KEYBOARD | DISPLAY_STATUS_MOUSE | (f->video ? DISPLAY_STATUS_VIDEO : 0);
        send_msg(f, &(struct display_msg){ .type = DISPLAY_STATUS, .status = st }, -1);
        send_dirty(f, 0, 0, width(f), height(f));
}

static void on_client_message(struct fake *f) {
        uint8_t buf[DISPLAY_MSG_MAX];
        ssize_t n = recv(f->client, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                logf_(f, "CLOSED");
                close(f->client);
                f->client = -1;
                return;
        }
        struct display_msg m;
        if (display_msg_parse(buf, (size_t)n, &m) < 0) {
                logf_(f, "BAD %zd bytes", n);
                return;
        }
        if (m.type == DISPLAY_KEY)
                logf_(f, "KEY 0x%04x %s", m.key.scancode, m.key.down ? "down" : "up");
        else if (m.type == DISPLAY_POINTER)
                logf_(f, "POINTER %u %u %u %d", m.pointer.x, m.pointer.y, m.pointer.buttons, m.pointer.wheel);
        else if (m.type == DISPLAY_REFRESH) {
                logf_(f, "REFRESH");
                send_screen(f);
        } else
                logf_(f, "UNEXPECTED %u", m.type);
}

static struct display_msg hello(const struct fake *f) {
        return (struct display_msg){ .type = DISPLAY_HELLO, .hello = { DISPLAY_VERSION, (uint32_t)f->bytes, 0 } };
}

/* Another connection while a display server is connected: what the
 * framebuffer is now, and goodbye (vmwp/display-server.c does the same). */
static void snapshot(struct fake *f, int fd) {
        int server = f->client;
        f->client = fd;
        struct display_msg h = hello(f);
        send_msg(f, &h, f->memfd);
        send_mode(f);
        send_msg(f, &(struct display_msg){ .type = DISPLAY_BYE }, -1);
        f->client = server;
        close(fd);
        logf_(f, "SNAPSHOT");
}

static void on_connect(struct fake *f) {
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        if (f->client >= 0) { /* one display server at a time */
                snapshot(f, fd);
                return;
        }
        f->client = fd;
        logf_(f, "CONNECTED");
        struct display_msg h = hello(f);
        send_msg(f, &h, f->memfd);
        send_screen(f);
}

/* true: go on */
static bool on_signal(struct fake *f) {
        struct signalfd_siginfo si;
        if (read(f->sig_fd, &si, sizeof si) != (ssize_t)sizeof si)
                return true;
        switch (si.ssi_signo) {
        case SIGUSR1:
                f->phase ^= 1;
                paint(f, DP_CHANGE_X, DP_CHANGE_Y, DP_CHANGE_W, DP_CHANGE_H);
                send_dirty(f, DP_CHANGE_X, DP_CHANGE_Y, DP_CHANGE_W, DP_CHANGE_H);
                return true;
        case SIGUSR2:
                f->active = !f->active;
                logf_(f, "MODE %s", f->active ? "active" : "inactive");
                send_mode(f);
                send_dirty(f, 0, 0, width(f), height(f));
                return true;
        case SIGHUP:
                f->which ^= 1;
                paint(f, 0, 0, width(f), height(f));
                logf_(f, "MODE %ux%u", width(f), height(f));
                send_mode(f);
                send_dirty(f, 0, 0, width(f), height(f));
                return true;
        default:
                return false;
        }
}

static int parse_size(const char *s, uint32_t out[2]) {
        unsigned w, h;
        if (sscanf(s, "%ux%u", &w, &h) != 2 || !w || !h || w > DISPLAY_WIDTH_MAX || h > DISPLAY_HEIGHT_MAX)
                return -EINVAL;
        out[0] = w, out[1] = h;
        return 0;
}

static int parse_args(struct fake *f, int argc, char **argv) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' }, { "log", required_argument, NULL, 'l' },
                { "size", required_argument, NULL, 'z' },   { "resize", required_argument, NULL, 'r' },
                { "pad", required_argument, NULL, 'p' },    { "offset", required_argument, NULL, 'o' },
                { "inactive", no_argument, NULL, 'i' },     { "no-video", no_argument, NULL, 'n' },
                { "unfit", no_argument, NULL, 'u' },        { "animate", required_argument, NULL, 'a' },
                {},
        };
        const char *log_path = NULL;
        for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) >= 0;) {
                switch (c) {
                case 's': f->socket_path = optarg; break;
                case 'l': log_path = optarg; break;
                case 'z': if (parse_size(optarg, f->size[0]) < 0) return -EINVAL; break;
                case 'r': if (parse_size(optarg, f->size[1]) < 0) return -EINVAL; break;
                case 'p': f->pad = (uint32_t)strtoul(optarg, NULL, 10); break;
                case 'o': f->offset = (uint32_t)strtoul(optarg, NULL, 10); break;
                case 'i': f->active = false; break;
                case 'n': f->video = false; f->active = false; break;
                case 'u': f->unfit = true; break;
                case 'a': f->animate_hz = (unsigned)strtoul(optarg, NULL, 10); break;
                default: return -EINVAL;
                }
        }
        if (!f->socket_path || !log_path || f->pad > 64 || f->offset > 4096 || f->animate_hz > 1000)
                return -EINVAL;
        f->log = fopen(log_path, "a");
        return f->log ? 0 : -errno;
}

/* --animate: the guest redraws all of its screen, HZ times a second. */
static void on_timer(struct fake *f) {
        uint64_t n;
        if (read(f->timer_fd, &n, sizeof n) != (ssize_t)sizeof n)
                return;
        f->phase ^= 1;
        paint(f, DP_CHANGE_X, DP_CHANGE_Y, DP_CHANGE_W, DP_CHANGE_H);
        if (f->active && f->client >= 0)
                send_msg(f, &(struct display_msg){ .type = DISPLAY_DIRTY,
                                                   .dirty = { .count = 1, .rect = { { 0, 0, width(f), height(f) } } } },
                         -1);
}

static int start_timer(struct fake *f) {
        f->timer_fd = -1;
        if (!f->animate_hz)
                return 0;
        f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        long ns = 1000000000L / f->animate_hz;
        struct itimerspec its = { .it_interval = { ns / 1000000000L, ns % 1000000000L },
                                  .it_value = { ns / 1000000000L, ns % 1000000000L } };
        return f->timer_fd < 0 || timerfd_settime(f->timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* The memfd holds either size, sealed so that it can neither shrink nor grow. */
static int make_framebuffer(struct fake *f) {
        size_t need = 0;
        for (unsigned i = 0; i < 2; i++) {
                size_t b = f->offset + ((size_t)f->size[i][0] * 4 + f->pad) * f->size[i][1];
                need = b > need ? b : need;
        }
        f->bytes = (need + 4095) & ~(size_t)4095;
        f->memfd = memfd_create("fake-display", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (f->memfd < 0 || ftruncate(f->memfd, (off_t)f->bytes) < 0 ||
            fcntl(f->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        f->map = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
        if (f->map == MAP_FAILED)
                return -errno;
        memset(f->map, 0, f->bytes);
        paint(f, 0, 0, width(f), height(f));
        return 0;
}

int main(int argc, char **argv) {
        struct fake f = { .size = { { 640, 480 }, { 800, 600 } }, .active = true, .video = true, .client = -1 };
        if (parse_args(&f, argc, argv) < 0) {
                fprintf(stderr, "usage: fake-display-worker --socket=PATH --log=FILE [--size=WxH] [--resize=WxH]\n"
                                "       [--pad=BYTES] [--offset=BYTES] [--inactive] [--no-video] [--unfit]\n");
                return 2;
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1), sigaddset(&set, SIGUSR2), sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        f.sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
        if (make_framebuffer(&f) < 0 || f.sig_fd < 0 || start_timer(&f) < 0) {
                fprintf(stderr, "fake-display-worker: framebuffer: %s\n", strerror(errno));
                return 1;
        }
        f.listen_fd = unix_listen(f.socket_path, SOCK_SEQPACKET, 4, 0600);
        if (f.listen_fd < 0) {
                fprintf(stderr, "fake-display-worker: %s: %s\n", f.socket_path, strerror(-f.listen_fd));
                return 1;
        }
        logf_(&f, "LISTENING %ux%u", width(&f), height(&f));
        for (;;) {
                struct pollfd p[4] = { { f.sig_fd, POLLIN, 0 }, { f.listen_fd, POLLIN, 0 }, { f.client, POLLIN, 0 },
                                       { f.timer_fd, POLLIN, 0 } };
                if (poll(p, 4, -1) < 0 && errno != EINTR)
                        break;
                if (p[3].revents)
                        on_timer(&f);
                if (p[0].revents && !on_signal(&f))
                        break;
                if (p[1].revents)
                        on_connect(&f);
                if (p[2].revents && f.client >= 0)
                        on_client_message(&f);
        }
        logf_(&f, "EXIT");
        unlink(f.socket_path);
        return 0;
}
