// SPDX-License-Identifier: MIT
/* TAP backend in a private network namespace: both directions with the
 * kernel as the peer (ARP and ICMP echo from a made-up guest), checksum
 * offload on write, MTU and bridge attach, link down detection, removal of
 * the TAP while open, opening a pre-created TAP and adopting an fd.
 * Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (unshare); skips without them. */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netlink/route/link/bridge.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/test.h"
#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-frames.h"

static const uint8_t guest_mac[6] = NT_GUEST_MAC;

static void enter_netns(void) {
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
}

static struct tap *new_tap(const char *name, uint32_t mtu, const char *bridge) {
        struct tap_config cfg = { .create = true, .mtu = mtu };
        struct tap *t = NULL;
        snprintf(cfg.name, sizeof cfg.name, "%s", name);
        snprintf(cfg.bridge, sizeof cfg.bridge, "%s", bridge ? bridge : "");
        ASSERT_OK(tap_open(&cfg, &t));
        ASSERT_STREQ(tap_name(t), name);
        ASSERT_GT(tap_ifindex(t), 0);
        return t;
}

static int tap_send(struct tap *t, const struct virtio_net_hdr *vh, const void *frame, size_t len) {
        struct iovec iov[2] = { { (void *)vh, TAP_VNET_HDR_LEN }, { (void *)frame, len } };
        return tap_writev(t, iov, 2);
}

/* Reads frames until match() accepts one or 3 s pass; returns its length. */
static ssize_t tap_wait(struct tap *t, uint8_t *buf, size_t cap, bool (*match)(const uint8_t *, size_t),
                        struct virtio_net_hdr *vh) {
        uint64_t end = nt_now_ms() + 3000;
        while (nt_now_ms() < end) {
                struct pollfd p = { .fd = tap_fd(t), .events = POLLIN };
                poll(&p, 1, 100);
                struct iovec iov[2] = { { vh, TAP_VNET_HDR_LEN }, { buf, cap } };
                ssize_t n = tap_readv(t, iov, 2);
                if (n == -EAGAIN)
                        continue;
                ASSERT_OK(n);
                ASSERT_GE(n, (ssize_t)TAP_VNET_HDR_LEN);
                if (match(buf, (size_t)n - TAP_VNET_HDR_LEN))
                        return n - TAP_VNET_HDR_LEN;
        }
        return -ETIMEDOUT;
}

static bool is_arp_reply(const uint8_t *f, size_t n) {
        return n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && memcmp(f, guest_mac, 6) == 0;
}
static bool is_echo_reply(const uint8_t *f, size_t n) {
        return n >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 1 && f[34] == 0 &&
               memcmp(f, guest_mac, 6) == 0;
}

TEST(tap_arp_and_icmp_both_directions) {
        enter_netns();
        struct tap *t = new_tap("vmt0", 1500, NULL);
        ASSERT_OK(nt_add_addr(tap_ifindex(t), "vmt0", NT_HOST_IP "/24"));
        struct virtio_net_hdr vh = { 0 };
        uint8_t f[2048], host_mac[6];

        /* guest -> host: ARP request; host -> guest: the kernel's ARP reply */
        size_t n = nt_arp_request(f, guest_mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_OK(tap_send(t, &vh, f, n));
        ssize_t got = tap_wait(t, f, sizeof f, is_arp_reply, &vh);
        ASSERT_EQ(got, (ssize_t)42);
        memcpy(host_mac, f + 22, 6); /* sender hardware address */

        /* ICMP echo request with a 1000-byte payload and its reply */
        n = nt_icmp_echo(f, host_mac, guest_mac, NT_GUEST_IP, NT_HOST_IP, 0x4242, 7, 1000);
        ASSERT_OK(tap_send(t, &(struct virtio_net_hdr){ 0 }, f, n));
        got = tap_wait(t, f, sizeof f, is_echo_reply, &vh);
        ASSERT_EQ(got, (ssize_t)n);
        ASSERT_EQ(f[38], 0x42); /* id */
        ASSERT_EQ(f[41], 7);    /* seq */
        ASSERT_EQ(f[42 + 999], (uint8_t)999);
        ASSERT_EQ(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE); /* TUNSETOFFLOAD(0): no GSO on receive */
        ASSERT_FALSE(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
        tap_close(t);
}

TEST(tap_write_with_partial_checksum) {
        enter_netns();
        struct tap *t = new_tap("vmt1", 1500, NULL);
        ASSERT_OK(nt_add_addr(tap_ifindex(t), "vmt1", NT_HOST_IP "/24"));
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5555) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
        struct timeval tv = { .tv_sec = 3 };
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

        /* The kernel needs a MAC for us only to reply; delivering is enough here. */
        uint8_t f[256], host_mac[6] = { 0 }, buf[64];
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "vmt1");
        ASSERT_OK(ioctl(s, SIOCGIFHWADDR, &ifr));
        memcpy(host_mac, ifr.ifr_hwaddr.sa_data, 6);

        /* NEEDS_CSUM: the checksum field holds only the pseudo-header sum */
        size_t n = nt_udp(f, host_mac, guest_mac, NT_GUEST_IP, NT_HOST_IP, 4444, 5555, "offload!", 8, true);
        struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
        ASSERT_OK(tap_send(t, &vh, f, n));
        ASSERT_EQ(recv(s, buf, sizeof buf, 0), 8);
        ASSERT_MEMEQ(buf, "offload!", 8);
        /* the same partial frame without the offload request is dropped (bad checksum) */
        ASSERT_OK(tap_send(t, &(struct virtio_net_hdr){ 0 }, f, n));
        tv.tv_sec = 0;
        tv.tv_usec = 300000;
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ASSERT_LT(recv(s, buf, sizeof buf, 0), 0);
        close(s);
        tap_close(t);
}

TEST(tap_mtu_and_bridge_attach) {
        enter_netns();
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL, *br = NULL;
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_bridge_add(sk, "vmbr0"));
        struct tap *t = new_tap("vmt2", 9000, "vmbr0");
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, "vmt2", &l));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, "vmbr0", &br));
        ASSERT_EQ(rtnl_link_get_mtu(l), 9000u);
        ASSERT_EQ(rtnl_link_get_master(l), rtnl_link_get_ifindex(br));
        ASSERT_TRUE(rtnl_link_get_flags(l) & IFF_UP);
        rtnl_link_put(l);
        rtnl_link_put(br);
        tap_close(t);
        /* a bridge that does not exist fails the open and leaves no TAP behind */
        struct tap_config cfg = { .name = "vmt3", .bridge = "nosuchbr", .create = true };
        struct tap *t2 = NULL;
        ASSERT_ERROR(tap_open(&cfg, &t2), ENODEV);
        ASSERT_NULL(t2);
        ASSERT_EQ(if_nametoindex("vmt3"), 0u);
        nl_socket_free(sk);
}

TEST(tap_link_down_detection) {
        enter_netns();
        struct tap *t = new_tap("vmt4", 1500, NULL);
        struct tap_link_state st;
        int fd = tap_link_watch(t);
        ASSERT_OK(fd);
        tap_link_state(t, &st);
        ASSERT_TRUE(st.admin_up);
        ASSERT_TRUE(st.carrier); /* our fd is attached */
        ASSERT_EQ(st.mtu, 1500u);
        ASSERT_EQ(tap_link_process(t, &st), 0);

        ASSERT_OK(tap_set_up(t, false));
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 3000), 1);
        ASSERT_EQ(tap_link_process(t, &st), 1);
        ASSERT_FALSE(st.admin_up);
        ASSERT_FALSE(st.carrier);
        ASSERT_FALSE(st.removed);

        ASSERT_OK(tap_set_up(t, true));
        ASSERT_EQ(poll(&p, 1, 3000), 1);
        ASSERT_EQ(tap_link_process(t, &st), 1);
        ASSERT_TRUE(st.admin_up);
        tap_close(t);
}

TEST(tap_removed_while_open) {
        enter_netns();
        struct tap *t = new_tap("vmt5", 1500, NULL);
        struct tap_link_state st;
        int fd = tap_link_watch(t);
        ASSERT_OK(fd);
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL;
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, "vmt5", &l));
        ASSERT_OK(rtnl_link_delete(sk, l));
        rtnl_link_put(l);
        nl_socket_free(sk);

        struct pollfd p = { .fd = fd, .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 3000), 1);
        ASSERT_EQ(tap_link_process(t, &st), 1);
        ASSERT_TRUE(st.removed);
        ASSERT_TRUE(tap_removed(t));
        /* I/O is an error now, not a crash or a hang */
        uint8_t f[64] = { 0 };
        struct virtio_net_hdr vh = { 0 };
        ASSERT_ERROR(tap_send(t, &vh, f, sizeof f), ENODEV);
        struct iovec iov[2] = { { &vh, TAP_VNET_HDR_LEN }, { f, sizeof f } };
        ASSERT_ERROR(tap_readv(t, iov, 2), ENODEV);
        tap_close(t);
}

TEST(tap_removed_seen_by_io_first) {
        enter_netns();
        struct tap *t = new_tap("vmt6", 1500, NULL);
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL;
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, "vmt6", &l));
        ASSERT_OK(rtnl_link_delete(sk, l));
        rtnl_link_put(l);
        nl_socket_free(sk);
        uint8_t f[64] = { 0 };
        struct virtio_net_hdr vh = { 0 };
        struct iovec iov[2] = { { &vh, TAP_VNET_HDR_LEN }, { f, sizeof f } };
        ASSERT_ERROR(tap_readv(t, iov, 2), ENODEV);
        ASSERT_TRUE(tap_removed(t));
        tap_close(t);
}

/* A persistent TAP as an administrator (or vmms) would pre-create it. */
static void precreate(const char *name, short flags) {
        struct ifreq ifr = { .ifr_flags = flags };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        ASSERT_OK(ioctl(fd, TUNSETPERSIST, 1));
        close(fd);
}

TEST(tap_open_precreated_and_adopt_fd) {
        enter_netns();
        struct tap *t = NULL;
        struct tap_config cfg = { .name = "pre0", .mtu = 1400 };
        ASSERT_ERROR(tap_open(&cfg, &t), ENODEV); /* does not exist: not created behind our back */
        precreate("pre0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
        ASSERT_OK(tap_open(&cfg, &t));
        ASSERT_OK(tap_link_watch(t));
        struct tap_link_state st;
        tap_link_state(t, &st);
        ASSERT_EQ(st.mtu, 1400u);
        ASSERT_TRUE(st.admin_up);
        tap_close(t);
        ASSERT_NE(if_nametoindex("pre0"), 0u); /* persistent: still there */

        /* an fd handed over by vmms */
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "pre0");
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        ASSERT_OK(tap_adopt_fd(fd, &t));
        ASSERT_STREQ(tap_name(t), "pre0");
        ASSERT_EQ(tap_ifindex(t), (int)if_nametoindex("pre0"));
        ASSERT_TRUE(fcntl(tap_fd(t), F_GETFL) & O_NONBLOCK);
        tap_close(t);
        /* vmms's TAPs have no virtio_net_hdr (common/proto.h): adopted,
         * frames pass without one, checksum/GSO requests are refused */
        precreate("pre1", IFF_TAP | IFF_NO_PI);
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "pre1");
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        ASSERT_OK(tap_adopt_fd(fd, &t));
        ASSERT_FALSE(tap_has_vnet_hdr(t));
        ASSERT_OK(tap_set_up(t, true));
        ASSERT_OK(nt_add_addr(tap_ifindex(t), "pre1", NT_HOST_IP "/24"));
        struct virtio_net_hdr vh = { 0 };
        uint8_t f[2048];
        size_t n = nt_arp_request(f, guest_mac, NT_GUEST_IP, NT_HOST_IP);
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        ASSERT_ERROR(tap_send(t, &vh, f, n), EOPNOTSUPP);
        vh.flags = 0;
        ASSERT_OK(tap_send(t, &vh, f, n));
        memset(&vh, 0xff, sizeof vh); /* the reader gets a zeroed header */
        ASSERT_EQ(tap_wait(t, f, sizeof f, is_arp_reply, &vh), (ssize_t)42);
        ASSERT_EQ(vh.flags, 0);
        ASSERT_EQ(vh.gso_type, 0);
        tap_close(t);
        /* a TUN is refused (a TAP with packet information would be too, but
         * kernels differ in what TUNGETIFF reports for IFF_NO_PI) */
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "tun1");
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        ASSERT_ERROR(tap_adopt_fd(fd, &t), EINVAL);
        close(fd);
}

TEST_MAIN();
