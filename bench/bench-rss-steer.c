// SPDX-License-Identifier: MIT
/* What the RSS steering program (common/rss-steer.h) costs a frame for
 * the guest, beside baselines in the same run:
 *  - the program alone in the kernel (BPF_PROG_TEST_RUN, 1M runs) on an
 *    IPv4 TCP and an IPv6 TCP frame, beside a program that returns 0;
 *  - frames through a 2-queue TAP (a packet socket writes them, both queues
 *    are read), steered by the program, beside the same TAP steered by
 *    tun's own flow table (no program).
 * Needs root (BPF, a network namespace); prints SKIP otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "common/rss-steer.h"
#include "hv/rndis.h"

static const uint8_t key[40] = NDIS_RSS_KEY_VERIFICATION; /* Microsoft's published one */

/* A TCP frame of len bytes, v6 or v4, ports sport -> 80. */
static size_t frame(uint8_t *f, size_t len, bool v6, uint16_t sport) {
        memset(f, 0, len);
        memcpy(f, "\x02\x00\x5e\x10\x00\x02\x02\x00\x5e\x10\x00\x01", 12);
        uint8_t *ip = f + 14, *l4;
        if (v6) {
                f[12] = 0x86, f[13] = 0xdd;
                ip[0] = 0x60, ip[6] = 6, ip[7] = 64;
                ip[5] = (uint8_t)(len - 14 - 40);
                ip[4] = (uint8_t)((len - 14 - 40) >> 8);
                ip[23] = 1, ip[39] = 2, ip[8] = 0xfd, ip[24] = 0xfd;
                l4 = ip + 40;
        } else {
                f[12] = 0x08, f[13] = 0x00;
                ip[0] = 0x45, ip[8] = 64, ip[9] = 6;
                ip[2] = (uint8_t)((len - 14) >> 8), ip[3] = (uint8_t)(len - 14);
                memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
                l4 = ip + 20;
        }
        l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport, l4[3] = 80;
        l4[12] = 0x50;
        return len;
}

static int sys_bpf(int cmd, union bpf_attr *a) {
        return (int)syscall(__NR_bpf, cmd, a, sizeof *a);
}

/* ns per run the kernel measured for 1M runs of prog on f. */
static double prog_ns(int prog, const uint8_t *f, size_t len) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.test.prog_fd = (uint32_t)prog;
        a.test.data_in = (uint64_t)(uintptr_t)f;
        a.test.data_size_in = (uint32_t)len;
        a.test.repeat = 1000000;
        if (sys_bpf(BPF_PROG_TEST_RUN, &a) < 0)
                return -1;
        return a.test.duration;
}

static int return0_prog(void) {
        struct bpf_insn p[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
                                { .code = BPF_JMP | BPF_EXIT } };
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
        a.insns = (uint64_t)(uintptr_t)p;
        a.insn_cnt = 2;
        a.license = (uint64_t)(uintptr_t)"GPL";
        return sys_bpf(BPF_PROG_LOAD, &a);
}

static int tap_queue(const char *name) {
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE };
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0)
                return -1;
        return fd;
}

#define TAP_FRAMES 200000u
#define BATCH 128u

/* Frames per second through a 2-queue TAP named name, written by a packet
 * socket in batches and read from both queues; 64 flows. */
static double tap_rate(const char *name, bool steer, unsigned *per_queue) {
        int fds[2] = { tap_queue(name), tap_queue(name) };
        if (fds[0] < 0 || fds[1] < 0)
                return -1;
        struct rss_steer_map *m = NULL;
        if (steer) {
                char err[256];
                int map = rss_steer_attach(fds[0], err, sizeof err);
                if (map < 0 || rss_steer_mmap(map, &m) < 0) {
                        fprintf(stderr, "%s\n", err);
                        return -1;
                }
                close(map);
                uint32_t q[RSS_STEER_CHANNELS] = { 0, 1 }, table[128];
                for (unsigned i = 0; i < 128; i++)
                        table[i] = i % 2;
                rss_steer_set_queues(m, q);
                rss_steer_set_params(m, key, RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4, table, 128);
        }
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ioctl(s, SIOCGIFFLAGS, &ifr);
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
        close(s);
        int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(name), .sll_halen = 6 };
        uint8_t f[BATCH][128], buf[2048];
        for (unsigned i = 0; i < BATCH; i++)
                frame(f[i], 64, false, (uint16_t)(1000 + i % 64));
        unsigned got = 0;
        uint64_t t0 = bench_now_ns();
        for (unsigned sent = 0; sent < TAP_FRAMES; sent += BATCH) {
                for (unsigned i = 0; i < BATCH; i++)
                        (void)sendto(ps, f[i], 64, 0, (struct sockaddr *)&to, sizeof to);
                for (unsigned q = 0; q < 2; q++)
                        while (read(fds[q], buf, sizeof buf) > 0)
                                got++, per_queue[q]++;
        }
        double secs = (double)(bench_now_ns() - t0) / 1e9;
        rss_steer_munmap(m);
        close(ps), close(fds[0]), close(fds[1]);
        return got / secs;
}

int main(void) {
        char err[256] = "";
        int map = rss_steer_map_create();
        int prog = map < 0 ? map : rss_steer_prog_load(map, err, sizeof err);
        int base = return0_prog();
        if (map < 0 || prog < 0 || base < 0) {
                printf("SKIP: bench-rss-steer: BPF programs cannot be loaded here (%s)\n",
                       err[0] ? err : strerror(errno));
                return 0;
        }
        struct rss_steer_map *m;
        if (rss_steer_mmap(map, &m) < 0)
                return 1;
        uint32_t q[RSS_STEER_CHANNELS] = { 0, 1, 2, 3, 4, 5, 6, 7 }, table[128];
        for (unsigned i = 0; i < 128; i++)
                table[i] = i % 8;
        rss_steer_set_queues(m, q);
        rss_steer_set_params(m, key, RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4 | RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6, table, 128);
        uint8_t f[128];
        size_t n = frame(f, 74, false, 40000);
        bench_result("rss steering program, IPv4 TCP frame (ns; baseline: a program returning 0)", prog_ns(prog, f, n),
                     prog_ns(base, f, n), "ns", "-", "lower");
        n = frame(f, 94, true, 40000);
        bench_result("rss steering program, IPv6 TCP frame (ns; baseline: a program returning 0)", prog_ns(prog, f, n),
                     prog_ns(base, f, n), "ns", "-", "lower");
        rss_steer_munmap(m);
        close(prog), close(map), close(base);

        if (unshare(CLONE_NEWNET) < 0) {
                printf("SKIP: bench-rss-steer: no network namespace (%s)\n", strerror(errno));
                return 0;
        }
        for (int round = 0; round < 3; round++) {
                unsigned pq[2] = { 0 }, pb[2] = { 0 };
                double ours = tap_rate("rssb0", true, pq), flow = tap_rate("rssb1", false, pb);
                bench_result("64-byte frames through a 2-queue TAP, steered by the guest's table (baseline: tun's flow "
                             "table)", ours / 1e3, flow / 1e3, "kframes/s", ">= 0.9x", "higher");
                printf("  round %d: steered %u/%u per queue, flow table %u/%u\n", round, pq[0], pq[1], pb[0], pb[1]);
        }
        return 0;
}
