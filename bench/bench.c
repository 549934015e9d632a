// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "host.h"

void bench_result(const char *metric, double ours, double baseline, const char *unit, const char *target,
                  const char *better) {
        static bool host_said;
        if (!host_said) { /* which host the figures are of, before the first */
                char line[256];
                bench_host_line(line, sizeof line);
                printf("host: %s\n", line);
                host_said = true;
        }
        printf("RESULT\t%s\t%.6g\t%.6g\t%s\t%s\t%s\n", metric, ours, baseline, unit, target ? target : "-",
               better ? better : "-");
        fflush(stdout);
}

long bench_vmrss_kib(int pid) {
        char path[64], line[256];
        long kib = -1;
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        if (f)
                fclose(f);
        return kib;
}

uint64_t bench_env_u64(const char *name, uint64_t def) {
        const char *s = getenv(name);
        return s && *s ? strtoull(s, NULL, 10) : def;
}

uint64_t bench_xorshift(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

int bench_make_image(const char *path, uint64_t size) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        size_t chunk = 4u << 20;
        uint8_t *buf = malloc(chunk);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (size_t i = 0; i < chunk; i++)
                buf[i] = (uint8_t)(i * 31 + 7);
        for (uint64_t off = 0; off < size; off += chunk)
                if (pwrite(fd, buf, chunk, (off_t)off) != (ssize_t)chunk) {
                        free(buf);
                        close(fd);
                        return -EIO;
                }
        free(buf);
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

uint64_t bench_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_udp_sink(int fd, const atomic_bool *stop, atomic_ullong *count) {
        static uint8_t bufs[64][2048];
        struct mmsghdr mm[64];
        struct iovec iov[64];
        for (int i = 0; i < 64; i++) {
                iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
                mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
        }
        while (!atomic_load(stop)) {
                int n = recvmmsg(fd, mm, 64, MSG_DONTWAIT, NULL);
                if (n > 0)
                        atomic_fetch_add(count, (unsigned long long)n);
                else
                        poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 10);
        }
}

uint64_t bench_phase_ns(const char *log, const char *phase) {
        const char *line = strstr(log, "timing-phases-ns:");
        if (!line)
                return 0;
        const char *end = strchr(line, '\n');
        size_t n = strlen(phase);
        for (const char *s = line; (s = strstr(s, phase)) && (!end || s < end); s += n)
                if (s[-1] == ' ' && s[n] == '=')
                        return strtoull(s + n + 1, NULL, 10);
        return 0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

double bench_median(double *v, unsigned n) {
        qsort(v, n, sizeof *v, cmp_double);
        return v[n / 2];
}
