/* SPDX-License-Identifier: MIT */
/* Helpers for the network tests and bench-net: a private network namespace,
 * addresses and neighbours via libnl, and hand-built Ethernet frames (ARP,
 * IPv4 ICMP/UDP/TCP) from a made-up "guest" MAC and IP. Header-only. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define NT_GUEST_MAC { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x02 }
#define NT_GUEST_IP "10.77.0.2"
#define NT_HOST_IP "10.77.0.1"

/* Enters a fresh network namespace (gone when the process exits) with lo
 * up. Returns 0, or -errno when not permitted: the caller skips. */
static inline int nt_netns_enter(void) {
        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *lo = NULL, *chg = rtnl_link_alloc();
        int r = -EIO;
        if (sk && chg && nl_connect(sk, NETLINK_ROUTE) == 0 && rtnl_link_get_kernel(sk, 0, "lo", &lo) == 0) {
                rtnl_link_set_flags(chg, IFF_UP);
                r = rtnl_link_change(sk, lo, chg, 0) == 0 ? 0 : -EIO;
        }
        if (lo)
                rtnl_link_put(lo);
        if (chg)
                rtnl_link_put(chg);
        nl_socket_free(sk);
        return r;
}

/* "10.77.0.1/24" on ifindex, and disable IPv6 there so the kernel's own
 * router solicitations do not show up as noise. */
static inline int nt_add_addr(int ifindex, const char *ifname, const char *cidr) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = NULL;
        int r = -EIO;
        char path[128];
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
        FILE *f = fopen(path, "w");
        if (f) {
                fputs("1", f);
                fclose(f);
        }
        if (sk && a && nl_connect(sk, NETLINK_ROUTE) == 0 && nl_addr_parse(cidr, AF_INET, &local) == 0) {
                rtnl_addr_set_ifindex(a, ifindex);
                rtnl_addr_set_local(a, local);
                r = rtnl_addr_add(sk, a, 0) == 0 ? 0 : -EIO;
        }
        if (local)
                nl_addr_put(local);
        rtnl_addr_put(a);
        nl_socket_free(sk);
        return r;
}

/* A permanent neighbour entry, so the host kernel answers without ARP. */
static inline int nt_add_neigh(int ifindex, const char *ip, const uint8_t mac[6]) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_neigh *n = rtnl_neigh_alloc();
        struct nl_addr *dst = NULL, *ll = nl_addr_build(AF_LLC, mac, 6);
        int r = -EIO;
        if (sk && n && ll && nl_connect(sk, NETLINK_ROUTE) == 0 && nl_addr_parse(ip, AF_INET, &dst) == 0) {
                rtnl_neigh_set_ifindex(n, ifindex);
                rtnl_neigh_set_dst(n, dst);
                rtnl_neigh_set_lladdr(n, ll);
                rtnl_neigh_set_state(n, NUD_PERMANENT);
                r = rtnl_neigh_add(sk, n, NLM_F_CREATE) == 0 ? 0 : -EIO;
        }
        if (dst)
                nl_addr_put(dst);
        if (ll)
                nl_addr_put(ll);
        rtnl_neigh_put(n);
        nl_socket_free(sk);
        return r;
}

static inline uint16_t nt_csum(const void *buf, size_t len, uint32_t sum) {
        const uint8_t *p = buf;
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)(p[i] << 8 | p[i + 1]);
        if (len & 1)
                sum += (uint32_t)p[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)~sum;
}

static inline void nt_put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static inline size_t nt_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type) {
        memcpy(f, dst, 6);
        memcpy(f + 6, src, 6);
        nt_put16(f + 12, type);
        return 14;
}

/* ARP request "who has tip, tell sip" from smac (42 bytes). */
static inline size_t nt_arp_request(uint8_t *f, const uint8_t smac[6], const char *sip, const char *tip) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        uint8_t *a = f + nt_eth(f, bcast, smac, 0x0806);
        static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
        memcpy(a, hdr, 8);
        memcpy(a + 8, smac, 6);
        inet_pton(AF_INET, sip, a + 14);
        memset(a + 18, 0, 6);
        inet_pton(AF_INET, tip, a + 24);
        return 42;
}

/* IPv4 header (20 bytes) with a correct header checksum. */
static inline size_t nt_ip4(uint8_t *ip, uint8_t proto, const char *src, const char *dst, size_t payload) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        nt_put16(ip + 2, (uint16_t)(20 + payload));
        ip[6] = 0x40; /* DF */
        ip[8] = 64;
        ip[9] = proto;
        inet_pton(AF_INET, src, ip + 12);
        inet_pton(AF_INET, dst, ip + 16);
        nt_put16(ip + 10, nt_csum(ip, 20, 0));
        return 20;
}

static inline size_t nt_icmp_echo(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
                                  const char *dip, uint16_t id, uint16_t seq, size_t payload) {
        size_t n = nt_eth(f, dmac, smac, 0x0800);
        n += nt_ip4(f + n, 1, sip, dip, 8 + payload);
        uint8_t *ic = f + n;
        memset(ic, 0, 8);
        ic[0] = 8;
        nt_put16(ic + 4, id);
        nt_put16(ic + 6, seq);
        for (size_t i = 0; i < payload; i++)
                ic[8 + i] = (uint8_t)i;
        nt_put16(ic + 2, nt_csum(ic, 8 + payload, 0));
        return n + 8 + payload;
}

/* Sum of the IPv4 pseudo header (not inverted, not folded). */
static inline uint32_t nt_pseudo4(const uint8_t *ip, uint8_t proto, size_t l4len) {
        uint32_t s = 0;
        for (int i = 12; i < 20; i += 2)
                s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
        return s + proto + (uint32_t)l4len;
}

/* UDP datagram; partial = true leaves the checksum field holding the
 * pseudo-header sum, as a guest using checksum offload sends it. */
static inline size_t nt_udp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
                            const char *dip, uint16_t sport, uint16_t dport, const void *data, size_t len,
                            bool partial) {
        size_t n = nt_eth(f, dmac, smac, 0x0800);
        uint8_t *ip = f + n;
        n += nt_ip4(ip, 17, sip, dip, 8 + len);
        uint8_t *u = f + n;
        nt_put16(u, sport);
        nt_put16(u + 2, dport);
        nt_put16(u + 4, (uint16_t)(8 + len));
        nt_put16(u + 6, 0);
        memcpy(u + 8, data, len);
        uint32_t ps = nt_pseudo4(ip, 17, 8 + len);
        if (partial) {
                uint16_t folded = (uint16_t)~nt_csum(NULL, 0, ps);
                nt_put16(u + 6, folded);
        } else {
                nt_put16(u + 6, nt_csum(u, 8 + len, ps));
        }
        return n + 8 + len;
}

static inline uint64_t nt_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* TCP segment with a full checksum; options (a multiple of 4 bytes) follow
 * the 20-byte header. */
static inline size_t nt_tcp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
                            const char *dip, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                            uint8_t flags, const void *opts, size_t optlen, const void *data, size_t len) {
        size_t n = nt_eth(f, dmac, smac, 0x0800), thl = 20 + optlen;
        uint8_t *ip = f + n, *th = ip + 20;
        n += nt_ip4(ip, 6, sip, dip, thl + len);
        memset(th, 0, thl);
        nt_put16(th, sport);
        nt_put16(th + 2, dport);
        nt_put16(th + 4, (uint16_t)(seq >> 16));
        nt_put16(th + 6, (uint16_t)seq);
        nt_put16(th + 8, (uint16_t)(ack >> 16));
        nt_put16(th + 10, (uint16_t)ack);
        th[12] = (uint8_t)((thl / 4) << 4);
        th[13] = flags;
        nt_put16(th + 14, 65535);
        if (optlen)
                memcpy(th + 20, opts, optlen);
        if (len)
                memcpy(th + thl, data, len);
        nt_put16(th + 16, nt_csum(th, thl + len, nt_pseudo4(ip, 6, thl + len)));
        return n + thl + len;
}

/* A TCP/IPv4 GSO frame (no options, ACK PSH) as the host's stack hands
 * it to a NIC with TSO and the TAP hands it to a reader with TSO on: the
 * whole super-packet, the TCP checksum field holding the pseudo-header's
 * sum (VIRTIO_NET_HDR_F_NEEDS_CSUM), MSS 1448, described by *vh. */
static inline size_t nt_tcp_gso4(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
                                 const char *dip, uint16_t sport, uint16_t dport, uint32_t seq, const void *data,
                                 size_t len, struct virtio_net_hdr *vh) {
        size_t n = nt_tcp(f, dmac, smac, sip, dip, sport, dport, seq, 1, 0x18, NULL, 0, data, len);
        nt_put16(f + 34 + 16, (uint16_t)~nt_csum(NULL, 0, nt_pseudo4(f + 14, 6, 20 + len)));
        *vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                       .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
        return n;
}

static inline uint32_t nt_get32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IPv6 address (no DAD, so it is usable at once) with IPv6 enabled. */
static inline int nt_add_addr6(int ifindex, const char *ifname, const char *cidr) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = NULL;
        int r = -EIO;
        /* No duplicate address detection: a tentative address drops the
         * first packets, and nothing else is on this link anyway. */
        static const char *const knobs[][2] = { { "accept_dad", "0" }, { "dad_transmits", "0" },
                                                { "disable_ipv6", "0" } };
        for (size_t i = 0; i < 3; i++) {
                char path[128];
                snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/%s", ifname, knobs[i][0]);
                FILE *f = fopen(path, "w");
                if (f) {
                        fputs(knobs[i][1], f);
                        fclose(f);
                }
        }
        if (sk && a && nl_connect(sk, NETLINK_ROUTE) == 0 && nl_addr_parse(cidr, AF_INET6, &local) == 0) {
                rtnl_addr_set_ifindex(a, ifindex);
                rtnl_addr_set_local(a, local);
                rtnl_addr_set_flags(a, IFA_F_NODAD);
                r = rtnl_addr_add(sk, a, 0) == 0 ? 0 : -EIO;
        }
        if (local)
                nl_addr_put(local);
        rtnl_addr_put(a);
        nl_socket_free(sk);
        return r;
}

static inline int nt_add_neigh6(int ifindex, const char *ip, const uint8_t mac[6]) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_neigh *n = rtnl_neigh_alloc();
        struct nl_addr *dst = NULL, *ll = nl_addr_build(AF_LLC, mac, 6);
        int r = -EIO;
        if (sk && n && ll && nl_connect(sk, NETLINK_ROUTE) == 0 && nl_addr_parse(ip, AF_INET6, &dst) == 0) {
                rtnl_neigh_set_ifindex(n, ifindex);
                rtnl_neigh_set_dst(n, dst);
                rtnl_neigh_set_lladdr(n, ll);
                rtnl_neigh_set_state(n, NUD_PERMANENT);
                r = rtnl_neigh_add(sk, n, NLM_F_CREATE) == 0 ? 0 : -EIO;
        }
        if (dst)
                nl_addr_put(dst);
        if (ll)
                nl_addr_put(ll);
        rtnl_neigh_put(n);
        nl_socket_free(sk);
        return r;
}

/* Sum of the IPv6 pseudo header for next header 6 (TCP). */
static inline uint32_t nt_pseudo6(const uint8_t *ip6, size_t l4len) {
        uint32_t s = 0;
        for (int i = 8; i < 40; i += 2)
                s += (uint32_t)(ip6[i] << 8 | ip6[i + 1]);
        return s + 6 + (uint32_t)l4len;
}

/* TCP over IPv6 with a full checksum. */
static inline size_t nt_tcp6(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
                             const char *dip, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                             uint8_t flags, const void *data, size_t len) {
        size_t n = nt_eth(f, dmac, smac, 0x86dd);
        uint8_t *ip = f + n, *th = ip + 40;
        memset(ip, 0, 40);
        ip[0] = 0x60;
        nt_put16(ip + 4, (uint16_t)(20 + len));
        ip[6] = 6;
        ip[7] = 64;
        inet_pton(AF_INET6, sip, ip + 8);
        inet_pton(AF_INET6, dip, ip + 24);
        memset(th, 0, 20);
        nt_put16(th, sport);
        nt_put16(th + 2, dport);
        nt_put16(th + 4, (uint16_t)(seq >> 16));
        nt_put16(th + 6, (uint16_t)seq);
        nt_put16(th + 8, (uint16_t)(ack >> 16));
        nt_put16(th + 10, (uint16_t)ack);
        th[12] = 5 << 4;
        th[13] = flags;
        nt_put16(th + 14, 65535);
        if (len)
                memcpy(th + 20, data, len);
        nt_put16(th + 16, nt_csum(th, 20 + len, nt_pseudo6(ip, 20 + len)));
        return n + 40 + 20 + len;
}
