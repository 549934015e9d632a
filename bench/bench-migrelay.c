// SPDX-License-Identifier: MIT
/* What the resumable migration channel (vmms/migration/resume.c, docs/migration.md
 * "A cut channel") costs against the plain relay it replaces, in the same
 * run: a source relay and a destination relay over a TCP loopback
 * connection (the insecure mode: TLS costs both the same), a "worker"
 * writing BYTES into the source's socketpair and another reading them from
 * the destination's, a few KiB going back as the real destination's
 * requests do. Rounds alternate plain and resumable; each prints MB/s.
 *
 *   bench-migrelay [MIB] [ROUNDS]      (default 1024 MiB, 3 rounds)
 *
 * RESULT rows: relay_throughput (resumable, against plain, MB/s: median
 * of the rounds; target ≥ 0.9 of plain) and relay_cpu_per_gb (both relays'
 * CPU, seconds per GB). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "vmms/migration/conn.h"

struct side {
        bool resumable, source;
        struct vmms_mig_conn c;
        int wfd;
        int r;
        char err[512];
        uint64_t to, from;
        pthread_t th;
};

static int no_reconnect(void *opaque, uint64_t rx, uint64_t deadline_us, struct vmms_mig_conn *c, uint64_t *peer_rx,
                        char *err, size_t errlen) {
        vmms_mig_conn_close(c);
        return snprintf(err, errlen, "no reconnect in the bench"), -ECONNRESET;
}

static void *relay_main(void *arg) {
        struct side *s = arg;
        struct vmms_mig_resume_ops ops = { .reconnect = no_reconnect, .recover_ms = 0, .stop_fd = -1 };
        s->r = s->resumable ? vmms_mig_relay_resumable(&s->c, s->wfd, &ops, &s->to, &s->from, s->err, sizeof s->err)
                            : vmms_mig_relay(&s->c, s->wfd, &s->to, &s->from, s->err, sizeof s->err);
        close(s->wfd);
        vmms_mig_conn_close(&s->c);
        return NULL;
}

struct pump {
        int fd;
        uint64_t n; /* to write; 0: read until the end */
        uint64_t got;
        pthread_t th;
};

static void *pump_main(void *arg) {
        struct pump *p = arg;
        static __thread char buf[256 * 1024];
        if (p->n) {
                memset(buf, 0x5a, sizeof buf);
                for (uint64_t done = 0; done < p->n;) {
                        ssize_t w = send(p->fd, buf, (size_t)(p->n - done < sizeof buf ? p->n - done : sizeof buf),
                                         MSG_NOSIGNAL);
                        if (w <= 0)
                                break;
                        done += (uint64_t)w;
                }
                (void)shutdown(p->fd, SHUT_WR);
        }
        for (;;) {
                ssize_t g = read(p->fd, buf, sizeof buf);
                if (g <= 0)
                        break;
                p->got += (uint64_t)g;
        }
        return NULL;
}

static void tcp_pair(int fds[2]) {
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *)&a, &len) < 0)
                exit(1);
        fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof a) < 0 || (fds[1] = accept(l, NULL, NULL)) < 0)
                exit(1);
        (void)setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void)setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        close(l);
}

static double cpu_s(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
               ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* One round: MB/s through the two relays, and the process's CPU seconds. */
static double round_mbps(bool resumable, uint64_t bytes, double *cpu) {
        int net[2], ws[2], wd[2];
        tcp_pair(net);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ws) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wd) < 0)
                exit(1);
        struct side s = { .resumable = resumable, .source = true, .c = { .fd = net[0] }, .wfd = ws[1] };
        struct side d = { .resumable = resumable, .c = { .fd = net[1] }, .wfd = wd[1] };
        struct pump up = { .fd = ws[0], .n = bytes }, down = { .fd = wd[0], .n = 64 * 1024 };
        double c0 = cpu_s();
        uint64_t t0 = bench_now_ns();
        pthread_create(&s.th, NULL, relay_main, &s);
        pthread_create(&d.th, NULL, relay_main, &d);
        pthread_create(&up.th, NULL, pump_main, &up);
        pthread_create(&down.th, NULL, pump_main, &down);
        pthread_join(up.th, NULL);
        pthread_join(down.th, NULL);
        uint64_t t1 = bench_now_ns();
        pthread_join(s.th, NULL);
        pthread_join(d.th, NULL);
        *cpu = cpu_s() - c0;
        close(ws[0]), close(wd[0]);
        if (s.r < 0 || d.r < 0 || down.got != bytes || up.got != 64 * 1024) {
                fprintf(stderr, "bench-migrelay: %s round failed: %s / %s (%llu of %llu bytes)\n",
                        resumable ? "resumable" : "plain", s.err, d.err, (unsigned long long)down.got,
                        (unsigned long long)bytes);
                exit(1);
        }
        return (double)bytes / 1e6 / ((double)(t1 - t0) / 1e9);
}

int main(int argc, char **argv) {
        uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
        unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 3;
        if (mib == 0 || rounds == 0 || rounds > 20)
                return fprintf(stderr, "usage: bench-migrelay [MIB] [ROUNDS]\n"), 2;
        uint64_t bytes = mib << 20;
        double plain[20], res[20], cpu_p = 0, cpu_r = 0;
        for (unsigned i = 0; i < rounds; i++) {
                double c;
                plain[i] = round_mbps(false, bytes, &c);
                cpu_p += c;
                res[i] = round_mbps(true, bytes, &c);
                cpu_r += c;
                printf("round %u: plain %.0f MB/s, resumable %.0f MB/s (%.2f)\n", i + 1, plain[i], res[i],
                       res[i] / plain[i]);
        }
        double gb = (double)bytes * rounds / 1e9;
        bench_result("relay_throughput", bench_median(res, rounds), bench_median(plain, rounds), "MB/s", ">=0.9x",
                     "higher");
        bench_result("relay_cpu_per_gb", cpu_r / gb, cpu_p / gb, "s/GB", "-", "lower");
        return 0;
}
