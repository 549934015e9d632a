// SPDX-License-Identifier: MIT
/* The worker's end of the console (vmwp/display-server.c, docs/console.md):
 * what it adds between the guest's dirt and the display server, and
 * between the server's input and the device.
 *
 * - Dirt: a device reports a changed rectangle (vmwp_dsrv_kick, as the
 *   video device's changed callback does) until the connected display
 *   server has received the DIRTY. Baseline: one DIRTY datagram sent on a
 *   SOCK_SEQPACKET socketpair from one thread and received by another.
 * - Input: the display server sends KEY until the device's key callback
 *   runs on the display thread. Baseline: the same datagram through a
 *   socketpair to a thread blocked in recv.
 * Medians of N (default 2000) rounds.
 *
 * Usage: bench-display-server [rounds] */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "common/display.h"
#include "common/fd-util.h"
#include "vmwp/display-server.h"

static void die(const char *what) {
        fprintf(stderr, "bench-display-server: %s failed: %m\n", what);
        exit(1);
}

static atomic_ullong key_at; /* when the key callback ran, ns */
static atomic_uint dirty_pending;

static void b_state(void *o, struct display_mode *m, uint32_t *st) {
        *m = (struct display_mode){ .active = true, .width = 1024, .height = 768, .stride = 4096, .bpp = 32 };
        *st = DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_KEYBOARD | DISPLAY_STATUS_MOUSE;
}
static size_t b_take_dirty(void *o, struct display_rect *out, size_t max, bool full) {
        if (full) {
                out[0] = (struct display_rect){ 0, 0, 1024, 768 };
                return 1;
        }
        if (!atomic_exchange(&dirty_pending, 0))
                return 0;
        out[0] = (struct display_rect){ 100, 100, 64, 16 };
        return 1;
}
static void b_watch(void *o, bool on) {
}
static int b_key(void *o, uint32_t sc, bool down) {
        atomic_store(&key_at, bench_now_ns());
        return 0;
}
static int b_pointer(void *o, uint32_t x, uint32_t y, uint32_t b, int32_t w) {
        return 0;
}
static const struct vmwp_dsrv_ops ops = { b_state, b_take_dirty, b_watch, b_key, b_pointer, NULL };

static ssize_t recv_msg(int fd, struct display_msg *m) {
        uint8_t buf[DISPLAY_MSG_MAX];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0 || display_msg_parse(buf, (size_t)n, m) < 0)
                die("recv");
        return n;
}

/* Baseline: a datagram from this thread to one blocked in recv. */
struct echo {
        int fd;
        unsigned rounds;
        atomic_ullong got_at;
        atomic_uint got;
};

static void *receiver(void *arg) {
        struct echo *e = arg;
        uint8_t buf[DISPLAY_MSG_MAX];
        for (unsigned i = 0; i < e->rounds; i++) {
                if (recv(e->fd, buf, sizeof buf, 0) <= 0)
                        break;
                atomic_store(&e->got_at, bench_now_ns());
                atomic_fetch_add(&e->got, 1);
        }
        return NULL;
}

static double baseline(unsigned rounds, double *v) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair");
        struct echo e = { .fd = sv[1], .rounds = rounds };
        pthread_t t;
        pthread_create(&t, NULL, receiver, &e);
        uint8_t buf[DISPLAY_MSG_MAX];
        struct display_msg m = { .type = DISPLAY_DIRTY, .dirty = { .count = 1, .rect = { { 100, 100, 64, 16 } } } };
        size_t len = display_msg_build(&m, buf);
        for (unsigned i = 0; i < rounds; i++) {
                uint64_t t0 = bench_now_ns();
                if (send(sv[0], buf, len, 0) != (ssize_t)len)
                        die("send");
                while (atomic_load(&e.got) <= i)
                        ;
                v[i] = (double)(atomic_load(&e.got_at) - t0) / 1e3;
        }
        pthread_join(t, NULL);
        close(sv[0]), close(sv[1]);
        return bench_median(v, rounds);
}

int main(int argc, char **argv) {
        unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
        if (rounds < 10 || rounds > 1000000)
                rounds = 2000;
        double *v = calloc(rounds, sizeof *v);
        char dir[] = "/tmp/bench-display-XXXXXX", path[64];
        if (!v || !mkdtemp(dir))
                die("setup");
        snprintf(path, sizeof path, "%s/display.sock", dir);
        int lfd = unix_listen(path, SOCK_SEQPACKET | SOCK_NONBLOCK, 4, 0600);
        int fb = memfd_create("fb", MFD_CLOEXEC);
        if (lfd < 0 || fb < 0 || ftruncate(fb, 4 << 20) < 0)
                die("listen");
        const struct vmwp_dsrv_config c = { .listen_fd = lfd, .fb_fd = fb, .fb_bytes = 4 << 20, .ops = &ops };
        struct vmwp_dsrv *s;
        if (vmwp_dsrv_new(&c, &s) < 0 || vmwp_dsrv_start(s) < 0)
                die("the display server");
        int cl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (cl < 0 || connect(cl, (struct sockaddr *)&sa, sizeof sa) < 0)
                die("connect");
        struct display_msg m;
        /* HELLO (with the fd), MODE, STATUS, the whole screen */
        uint8_t buf[DISPLAY_MSG_MAX];
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = { buf, sizeof buf };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
                             .msg_controllen = sizeof control.b };
        if (recvmsg(cl, &mh, MSG_CMSG_CLOEXEC) <= 0)
                die("HELLO");
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (cm)
                close(*(int *)CMSG_DATA(cm));
        for (int i = 0; i < 3; i++)
                recv_msg(cl, &m);

        for (unsigned i = 0; i < rounds; i++) {
                uint64_t t0 = bench_now_ns();
                atomic_store(&dirty_pending, 1);
                vmwp_dsrv_kick(s);
                recv_msg(cl, &m);
                if (m.type != DISPLAY_DIRTY)
                        die("DIRTY");
                v[i] = (double)(bench_now_ns() - t0) / 1e3;
        }
        double dirt = bench_median(v, rounds);
        double dirt_base = baseline(rounds, v);

        struct display_msg k = { .type = DISPLAY_KEY, .key = { 0x1e, true } };
        size_t len = display_msg_build(&k, buf);
        for (unsigned i = 0; i < rounds; i++) {
                atomic_store(&key_at, 0);
                uint64_t t0 = bench_now_ns();
                if (send(cl, buf, len, 0) != (ssize_t)len)
                        die("send KEY");
                while (!atomic_load(&key_at))
                        ;
                v[i] = (double)(atomic_load(&key_at) - t0) / 1e3;
        }
        double key = bench_median(v, rounds);
        double key_base = baseline(rounds, v);

        bench_result("display server: guest dirt -> display server has the DIRTY", dirt, dirt_base, "us", "report",
                     "lower");
        bench_result("display server: KEY -> device key callback", key, key_base, "us", "<= 5000 us (key to guest)",
                     "lower");
        close(cl);
        vmwp_dsrv_free(s);
        close(lfd);
        close(fb);
        unlink(path);
        rmdir(dir);
        free(v);
        return 0;
}
