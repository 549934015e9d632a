// SPDX-License-Identifier: MIT
/* The TAP's RSS steering (common/rss-steer.h, docs/netvsp.md "vRSS"):
 * the Toeplitz hash against Microsoft's published verification values, the
 * per-byte lookup table against the hash, the eBPF program against the C
 * version on every kind of frame (BPF_PROG_TEST_RUN), tun's queue order,
 * and a real multi-queue TAP in a private network namespace delivering the
 * host's frames on the queue the guest's table names. The kernel parts
 * skip without the privilege to load BPF programs or make namespaces. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/rss-steer.h"
#include "common/test.h"
#include "hv/rndis.h"

/* The key of Microsoft's "Verifying the RSS Hash Calculation". */
static const uint8_t ms_key[40] = NDIS_RSS_KEY_VERIFICATION;

/* Source address, destination address, source port, destination port. */
static size_t v4_input(uint8_t *in, const char *src, const char *dst, uint16_t sport, uint16_t dport) {
        ASSERT_EQ(inet_pton(AF_INET, src, in), 1);
        ASSERT_EQ(inet_pton(AF_INET, dst, in + 4), 1);
        in[8] = (uint8_t)(sport >> 8), in[9] = (uint8_t)sport;
        in[10] = (uint8_t)(dport >> 8), in[11] = (uint8_t)dport;
        return 12;
}

static size_t v6_input(uint8_t *in, const char *src, const char *dst, uint16_t sport, uint16_t dport) {
        ASSERT_EQ(inet_pton(AF_INET6, src, in), 1);
        ASSERT_EQ(inet_pton(AF_INET6, dst, in + 16), 1);
        in[32] = (uint8_t)(sport >> 8), in[33] = (uint8_t)sport;
        in[34] = (uint8_t)(dport >> 8), in[35] = (uint8_t)dport;
        return 36;
}

TEST(toeplitz_matches_microsofts_verification_values) {
        static const struct {
                const char *src, *dst;
                uint16_t sport, dport;
                uint32_t ip, tcp;
        } v4[] = {
                { "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
                { "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
                { "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
                { "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
                { "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
        }, v6[] = {
                { "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d },
                { "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf },
                { "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024, 0x4b61e985,
                  0x02d1feef },
        };
        uint8_t in[36];
        for (size_t i = 0; i < ARRAY_SIZE(v4); i++) {
                v4_input(in, v4[i].src, v4[i].dst, v4[i].sport, v4[i].dport);
                ASSERT_EQ(rss_toeplitz(ms_key, in, 8), v4[i].ip);
                ASSERT_EQ(rss_toeplitz(ms_key, in, 12), v4[i].tcp);
        }
        for (size_t i = 0; i < ARRAY_SIZE(v6); i++) {
                v6_input(in, v6[i].src, v6[i].dst, v6[i].sport, v6[i].dport);
                ASSERT_EQ(rss_toeplitz(ms_key, in, 32), v6[i].ip);
                ASSERT_EQ(rss_toeplitz(ms_key, in, 36), v6[i].tcp);
        }
}

/* ---- frames ---- */

struct frame {
        uint8_t b[128];
        size_t len;
};

static void eth(struct frame *f, uint16_t type) {
        memset(f, 0, sizeof *f);
        static const uint8_t hdr[12] = { 0x00, 0x15, 0x5d, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };
        memcpy(f->b, hdr, 12);
        f->b[12] = (uint8_t)(type >> 8), f->b[13] = (uint8_t)type;
        f->len = 14;
}

/* IPv4 with ihl words of header, protocol proto, fragment field frag, and
 * (TCP/UDP) the ports. */
static void ipv4(struct frame *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport,
                 unsigned ihl, uint16_t frag) {
        eth(f, 0x0800);
        uint8_t *ip = f->b + 14;
        ip[0] = (uint8_t)(0x40 | ihl);
        ip[6] = (uint8_t)(frag >> 8), ip[7] = (uint8_t)frag;
        ip[8] = 64, ip[9] = proto;
        memcpy(ip + 12, &src, 4);
        memcpy(ip + 16, &dst, 4);
        uint8_t *l4 = ip + ihl * 4;
        l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport, l4[2] = (uint8_t)(dport >> 8), l4[3] = (uint8_t)dport;
        size_t tot = ihl * 4 + 8;
        ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
        f->len = 14 + tot;
}

static void ipv6(struct frame *f, const uint8_t src[16], const uint8_t dst[16], uint8_t nh, uint16_t sport,
                 uint16_t dport) {
        eth(f, 0x86dd);
        uint8_t *ip = f->b + 14;
        ip[0] = 0x60, ip[5] = 8, ip[6] = nh, ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
        ip[40] = (uint8_t)(sport >> 8), ip[41] = (uint8_t)sport, ip[42] = (uint8_t)(dport >> 8), ip[43] = (uint8_t)dport;
        f->len = 14 + 48;
}

/* A map with the guest's parameters as Linux sets them (128 entries i mod
 * channels, every hash type it asks for and UDP) and channel k on queue
 * queue_of[k]. */
static void fill(struct rss_steer_map *m, const uint8_t key[40], uint32_t channels, uint32_t types) {
        uint32_t table[128], q[RSS_STEER_CHANNELS];
        for (uint32_t i = 0; i < 128; i++)
                table[i] = i % channels;
        for (uint32_t k = 0; k < RSS_STEER_CHANNELS; k++)
                q[k] = (k * 3 + 1) % RSS_STEER_CHANNELS; /* any order: the program must follow it */
        rss_steer_set_queues(m, q);
        rss_steer_set_params(m, key, types, table, 128);
}

static uint32_t expect(const struct rss_steer_map *m, const uint8_t key[40], const uint8_t *in, size_t n) {
        return m->queue_of[m->table[rss_toeplitz(key, in, n) & 255] & 7];
}

#define ALL_TYPES                                                                                            \
        (RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4 | RSS_HASH_UDP_IPV4 | RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6 |        \
         RSS_HASH_UDP_IPV6)
#define LINUX_TYPES (RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4 | RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6)

TEST(the_lookup_table_is_the_hash) {
        static struct rss_steer_map m;
        uint8_t key[40];
        srand(7);
        for (int round = 0; round < 20; round++) {
                for (unsigned i = 0; i < 40; i++)
                        key[i] = (uint8_t)rand();
                fill(&m, key, 1 + (uint32_t)round % 8, ALL_TYPES);
                for (int k = 0; k < 200; k++) {
                        uint8_t in[36];
                        for (unsigned i = 0; i < 36; i++)
                                in[i] = (uint8_t)rand();
                        for (size_t n = 0; n <= 36; n++) {
                                uint32_t h = 0;
                                for (size_t i = 0; i < n; i++)
                                        h ^= m.lut[i][in[i]];
                                ASSERT_EQ(h, rss_toeplitz(key, in, n));
                        }
                }
        }
}

TEST(the_c_version_hashes_what_ndis_says) {
        static struct rss_steer_map m;
        struct frame f;
        uint8_t in[36];
        fill(&m, ms_key, 8, LINUX_TYPES);
        uint32_t a = inet_addr("66.9.149.187"), b = inet_addr("161.142.100.80");
        ipv4(&f, a, b, 6, 2794, 1766, 5, 0); /* TCP: four fields */
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), expect(&m, ms_key, in, v4_input(in, "66.9.149.187", "161.142.100.80", 2794, 1766)));
        ASSERT_EQ(m.table[0x51ccc178 & 255], (0x51ccc178u & 127) % 8);
        ipv4(&f, a, b, 17, 2794, 1766, 5, 0); /* UDP without UDP hashing: the addresses */
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), expect(&m, ms_key, in, 8));
        ipv4(&f, a, b, 6, 2794, 1766, 5, 0x2000); /* a fragment: the addresses */
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), expect(&m, ms_key, in, 8));
        ipv4(&f, a, b, 6, 2794, 1766, 6, 0); /* options: the ports after them */
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), expect(&m, ms_key, in, 12));
        ipv4(&f, a, b, 6, 2794, 1766, 5, 0); /* the ports cut short: the addresses */
        f.len = 14 + 22;
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), expect(&m, ms_key, in, 8));
        eth(&f, 0x0806); /* ARP: queue 0 */
        f.len = 60;
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), 0u);
        rss_steer_set_params(&m, ms_key, LINUX_TYPES, NULL, 0); /* RSS off: queue 0 */
        ipv4(&f, a, b, 6, 2794, 1766, 5, 0);
        ASSERT_EQ(rss_steer_pick(&m, f.b, f.len), 0u);
}

TEST(tuns_queue_order) {
        struct rss_queue_order o;
        uint32_t q[RSS_STEER_CHANNELS];
        rss_queue_order_init(&o, 4); /* vmms attached 0..3 */
        rss_queue_order_detach(&o, 1); /* 3 moves into 1's place */
        rss_queue_order_detach(&o, 2); /* the last (2) goes */
        rss_queue_order_detach(&o, 3);
        rss_queue_order_get(&o, q);
        ASSERT_EQ(o.n, 1u);
        rss_queue_order_attach(&o, 3); /* the sub-channels open in another order */
        rss_queue_order_attach(&o, 1);
        rss_queue_order_attach(&o, 1); /* twice: no change */
        rss_queue_order_get(&o, q);
        ASSERT_EQ(q[0], 0u);
        ASSERT_EQ(q[3], 1u);
        ASSERT_EQ(q[1], 2u);
        ASSERT_EQ(q[2], 0u); /* not attached: the primary's */
        rss_queue_order_detach(&o, 3);
        rss_queue_order_get(&o, q);
        ASSERT_EQ(q[1], 1u);
}

/* ---- the program in the kernel ---- */

static int test_run(int prog, const struct frame *f, uint32_t *ret) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.test.prog_fd = (uint32_t)prog;
        a.test.data_in = (uint64_t)(uintptr_t)f->b;
        a.test.data_size_in = (uint32_t)f->len;
        a.test.repeat = 1;
        if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &a, sizeof a) < 0)
                return -errno;
        *ret = a.test.retval;
        return 0;
}

struct kernel_prog {
        int map, prog;
        struct rss_steer_map *m;
};

static void load_or_skip(struct kernel_prog *k) {
        char err[256] = "";
        k->map = rss_steer_map_create();
        if (k->map == -EPERM || k->map == -ENOSYS)
                TEST_SKIP("no BPF maps here (%s): needs CAP_BPF", strerror(-k->map));
        ASSERT_GE(k->map, 0);
        k->prog = rss_steer_prog_load(k->map, err, sizeof err);
        if (k->prog < 0)
                printf("%s\n", err);
        ASSERT_GE(k->prog, 0);
        ASSERT_OK(rss_steer_mmap(k->map, &k->m));
}

static void kernel_prog_done(struct kernel_prog *k) {
        rss_steer_munmap(k->m);
        close(k->prog);
        close(k->map);
}

/* The kernel's test run refuses an IPv4 or IPv6 frame shorter than its
 * fixed header; the C version must find nothing to hash in those. */
static void agree(int prog, const struct rss_steer_map *m, const struct frame *f) {
        uint32_t ret = 0;
        bool v4 = f->b[12] == 0x08 && f->b[13] == 0x00, v6 = f->b[12] == 0x86 && f->b[13] == 0xdd;
        if ((v4 && f->len < 14 + 20) || (v6 && f->len < 14 + 40)) {
                ASSERT_EQ(rss_steer_pick(m, f->b, f->len), 0u);
                return;
        }
        ASSERT_OK(test_run(prog, f, &ret));
        ASSERT_EQ(ret, rss_steer_pick(m, f->b, f->len));
}

TEST(the_program_agrees_with_the_c_version) {
        struct kernel_prog k;
        load_or_skip(&k);
        struct frame f;
        uint8_t key[40], s6[16], d6[16];
        srand(11);
        const uint32_t types[] = { ALL_TYPES, LINUX_TYPES, RSS_HASH_IPV4, RSS_HASH_TCP_IPV4, RSS_HASH_IPV6,
                                   RSS_HASH_TCP_IPV6 | RSS_HASH_UDP_IPV4, 0 };
        unsigned steered = 0;
        for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
                for (unsigned i = 0; i < 40; i++)
                        key[i] = (uint8_t)rand();
                fill(k.m, key, 8, types[t]);
                for (int n = 0; n < 64; n++) {
                        uint32_t a = (uint32_t)rand(), b = (uint32_t)rand();
                        uint16_t sp = (uint16_t)rand(), dp = (uint16_t)rand();
                        for (unsigned i = 0; i < 16; i++)
                                s6[i] = (uint8_t)rand(), d6[i] = (uint8_t)rand();
                        const uint8_t protos[] = { 6, 17, 1 };
                        for (size_t p = 0; p < ARRAY_SIZE(protos); p++) {
                                ipv4(&f, a, b, protos[p], sp, dp, 5, 0);
                                agree(k.prog, k.m, &f);
                                steered += rss_steer_pick(k.m, f.b, f.len) != 0;
                                ipv4(&f, a, b, protos[p], sp, dp, 5 + (unsigned)n % 11, 0); /* options */
                                agree(k.prog, k.m, &f);
                                ipv4(&f, a, b, protos[p], sp, dp, 5, (uint16_t)(1 + n)); /* fragments */
                                agree(k.prog, k.m, &f);
                                ipv4(&f, a, b, protos[p], sp, dp, 5, 0x4000); /* DF only: not a fragment */
                                agree(k.prog, k.m, &f);
                                for (size_t cut = 14; cut < 14 + 24; cut += 3) { /* short frames */
                                        f.len = cut;
                                        agree(k.prog, k.m, &f);
                                }
                                ipv6(&f, s6, d6, protos[p] == 1 ? 58 : protos[p], sp, dp);
                                agree(k.prog, k.m, &f);
                                f.len = 14 + 42; /* the ports cut short */
                                agree(k.prog, k.m, &f);
                                ipv6(&f, s6, d6, 0, sp, dp); /* an extension header: addresses only */
                                agree(k.prog, k.m, &f);
                        }
                        ipv4(&f, a, b, 6, sp, dp, 4, 0); /* a bad IHL */
                        agree(k.prog, k.m, &f);
                        f.b[14] = 0x55; /* IPv5 */
                        agree(k.prog, k.m, &f);
                        eth(&f, (uint16_t)rand()); /* anything else, random bytes */
                        for (size_t i = 14; i < sizeof f.b; i++)
                                f.b[i] = (uint8_t)rand();
                        f.len = 15 + (size_t)rand() % (sizeof f.b - 15); /* the kernel's test run wants a byte past the header */
                        agree(k.prog, k.m, &f);
                        eth(&f, 0x8100); /* VLAN: queue 0 */
                        f.len = 64;
                        agree(k.prog, k.m, &f);
                }
        }
        ASSERT_GT(steered, 100u); /* the program did spread flows */
        rss_steer_set_params(k.m, key, ALL_TYPES, NULL, 0);
        ipv4(&f, 1, 2, 6, 3, 4, 5, 0);
        uint32_t ret = 99;
        ASSERT_OK(test_run(k.prog, &f, &ret));
        ASSERT_EQ(ret, 0u); /* off: queue 0 */
        kernel_prog_done(&k);
}

/* ---- a real TAP ---- */

#define TAP_QUEUES 4u

static int tap_queue(const char *name) {
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        ASSERT_GE(fd, 0);
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE };
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        return fd;
}

static void link_up(const char *name) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ASSERT_OK(ioctl(s, SIOCGIFFLAGS, &ifr));
        ifr.ifr_flags |= IFF_UP;
        ASSERT_OK(ioctl(s, SIOCSIFFLAGS, &ifr));
        close(s);
}

/* The queue (index into fds) the frame came out of, or -1. */
static int arrived_on(const int *fds, unsigned n, const struct frame *f) {
        uint8_t buf[2048];
        for (int tries = 0; tries < 2000; tries++) {
                for (unsigned q = 0; q < n; q++) {
                        ssize_t r;
                        while ((r = read(fds[q], buf, sizeof buf)) > 0)
                                if ((size_t)r == f->len && memcmp(buf, f->b, f->len) == 0)
                                        return (int)q;
                }
                usleep(500);
        }
        return -1;
}

TEST(a_tap_delivers_each_flow_on_the_guests_queue) {
        struct kernel_prog k;
        load_or_skip(&k); /* only for the skip */
        kernel_prog_done(&k);
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("cannot create a network namespace (%s)", strerror(errno));
        int fds[TAP_QUEUES];
        for (unsigned q = 0; q < TAP_QUEUES; q++)
                fds[q] = tap_queue("rsstest0");
        char err[256] = "";
        int map = rss_steer_attach(fds[0], err, sizeof err);
        if (map < 0)
                printf("%s\n", err);
        ASSERT_GE(map, 0);
        struct rss_steer_map *m;
        ASSERT_OK(rss_steer_mmap(map, &m));
        close(map); /* the mapping and the program keep it */
        link_up("rsstest0");
        int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        ASSERT_GE(ps, 0);
        struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("rsstest0"),
                                  .sll_halen = 6 };
        ASSERT_GT(to.sll_ifindex, 0);

        /* channel k's queue is attached queue k; the guest's table spreads
         * flows over 4 channels */
        struct rss_queue_order o;
        uint32_t q[RSS_STEER_CHANNELS];
        rss_queue_order_init(&o, TAP_QUEUES);
        rss_queue_order_get(&o, q);
        rss_steer_set_queues(m, q);
        uint32_t table[128];
        for (unsigned i = 0; i < 128; i++)
                table[i] = i % TAP_QUEUES;
        rss_steer_set_params(m, ms_key, LINUX_TYPES, table, 128);
        unsigned per_queue[TAP_QUEUES] = { 0 };
        struct frame f;
        for (uint16_t port = 1000; port < 1064; port++) {
                ipv4(&f, inet_addr("10.0.0.1"), inet_addr("10.0.0.2"), 6, port, 80, 5, 0);
                uint8_t in[12];
                v4_input(in, "10.0.0.1", "10.0.0.2", port, 80);
                unsigned want = table[rss_toeplitz(ms_key, in, 12) & 127];
                ASSERT_EQ(sendto(ps, f.b, f.len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)f.len);
                ASSERT_EQ(arrived_on(fds, TAP_QUEUES, &f), (int)want);
                per_queue[want]++;
        }
        for (unsigned i = 0; i < TAP_QUEUES; i++)
                ASSERT_GT(per_queue[i], 0u);

        /* channel 1 closes (its queue detached: tun moves the last queue
         * into its place): its flows go to the primary, channel 3's still
         * reach channel 3's fd */
        struct ifreq ifr = { .ifr_flags = IFF_DETACH_QUEUE };
        ASSERT_OK(ioctl(fds[1], TUNSETQUEUE, &ifr));
        rss_queue_order_detach(&o, 1);
        rss_queue_order_get(&o, q);
        rss_steer_set_queues(m, q);
        unsigned seen = 0;
        for (uint16_t port = 2000; port < 2064; port++) {
                ipv4(&f, inet_addr("10.0.0.1"), inet_addr("10.0.0.2"), 6, port, 80, 5, 0);
                uint8_t in[12];
                v4_input(in, "10.0.0.1", "10.0.0.2", port, 80);
                unsigned ch = table[rss_toeplitz(ms_key, in, 12) & 127];
                ASSERT_EQ(sendto(ps, f.b, f.len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)f.len);
                ASSERT_EQ(arrived_on(fds, TAP_QUEUES, &f), (int)(ch == 1 ? 0 : ch));
                seen |= 1u << ch;
        }
        ASSERT_EQ(seen, 0xfu);

        /* the guest turns RSS off: everything on the primary */
        rss_steer_set_params(m, ms_key, LINUX_TYPES, NULL, 0);
        ipv4(&f, inet_addr("10.0.0.1"), inet_addr("10.0.0.2"), 6, 3000, 80, 5, 0);
        ASSERT_EQ(sendto(ps, f.b, f.len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)f.len);
        ASSERT_EQ(arrived_on(fds, TAP_QUEUES, &f), 0);
        rss_steer_munmap(m);
        close(ps);
        for (unsigned i = 0; i < TAP_QUEUES; i++)
                close(fds[i]);
}

TEST_MAIN();
