// SPDX-License-Identifier: MIT
/* vRSS (docs/netvsp.md "vRSS and a multi-queue TAP", §7.8) against the
 * simulated guest and a real TAP in a private network namespace: the RSS
 * capabilities report the NIC's queues, SUBCHANNEL offers exactly what it
 * answers, the receive buffer is split per channel, the send table follows
 * the RSS parameters, a sub-channel carries data (its completions on its own
 * ring) and nothing else, a revoke on the primary releases the
 * sub-channel's GPADL references at once, and a NIC with one queue or a
 * guest below NVSP 5 gets no sub-channels. Skips without root. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/rss-steer.h"
#include "tests/unit/test-netvsp-sim.h"

/* The NIC of nc started, opened, NVSP and RNDIS up. */
static void nic_up(struct ns_env *e, const struct netvsp_nic_config *nc) {
        ns_start(e, nc);
        ns_host_setup(e);
        ns_open(e);
        ns_nvsp_init(e);
        ns_rndis_up(e);
}

/* One sub-channel asked for: exactly one offered. */
static void ask_one_sub(struct ns_env *e) {
        uint32_t m[10];
        ns_ask_subchannels(e, 1, m);
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], 1u);
}

/* A fresh environment in the test's namespace and a NIC configuration of
 * queues queues on tap (created by the NIC unless the caller says otherwise). */
static void env_config(struct ns_env *e, struct netvsp_nic_config *nc, const char *tap, uint32_t queues) {
        memset(e, 0, sizeof *e);
        ns_enter_netns();
        ns_nic_config(e, nc, tap);
        nc->dev.queues = queues;
}

static void env_up(struct ns_env *e, const char *tap, uint32_t queues) {
        struct netvsp_nic_config nc;
        env_config(e, &nc, tap, queues);
        nic_up(e, &nc);
}

/* A NIC with two queues, up, with its sub-channel asked for and open. */
static void env_with_sub(struct ns_env *e, const char *tap, struct vmbus_sim_channel *sub) {
        env_up(e, tap, 2);
        ask_one_sub(e);
        ns_open_sub(e, 1, sub);
}

static uint32_t rss_queues(struct ns_env *e) {
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, e->next_req++, RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES, 0, 20, 0 };
        struct ns_msg r;
        ns_control(e, q, sizeof q, RNDIS_MSG_QUERY_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_SUCCESS);
        struct ndis_recv_scale_cap c;
        memcpy(&c, r.data + 24, sizeof c);
        return c.num_recv_que;
}

static void set_rss(struct ns_env *e, uint32_t channels) {
        ns_set_rss(e, channels, NDIS_HASH_FUNC_TOEPLITZ);
}

static bool one_sent_on_sub(const struct netvsp_nic_stats *s) {
        return s->queue[1].tx_packets == 1;
}

static bool bad_on_sub(const struct netvsp_nic_stats *s) {
        return s->queue[1].bad_packets == 1;
}

static bool flows_counted(const struct netvsp_nic_stats *s) {
        return s->queue[1].rx_packets >= 8 && s->queue[1].tx_packets >= 8;
}

TEST(vrss_two_channels) {
        struct ns_env e;
        env_up(&e, "vrss0", 2);
        ASSERT_EQ(rss_queues(&e), 2u);
        /* the buffer is split: the primary's range is the first half of what the guest was told */
        struct netvsp_nic_state st;
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_EQ(st.dev.recv_total, e.n_slots);
        ASSERT_EQ(st.dev.rx_split, 2u);
        ASSERT_EQ(st.dev.recv_first, 0u);
        ASSERT_EQ(st.dev.recv_slots, e.n_slots / 2);

        uint32_t m[10];
        ns_ask_subchannels(&e, 7, m); /* more than the NIC has: what it has */
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], 1u);
        struct vmbus_sim_channel sub;
        ns_open_sub(&e, 1, &sub);
        ns_ask_subchannels(&e, 1, m); /* all offered already: none more */
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], 0u);

        /* the send table comes once RSS is on: entry i = i mod 2 */
        int before = e.n_inband;
        set_rss(&e, 2);
        for (int i = 0; i < 50 && e.n_inband == before; i++)
                (void)ns_comp_status(&e, UINT64_MAX, 100);
        ASSERT_EQ(e.n_inband, before + 1);
        uint32_t t[3];
        memcpy(t, e.inband, sizeof t);
        ASSERT_EQ(t[0], (uint32_t)NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE);
        ASSERT_EQ(t[1], 16u);
        ASSERT_EQ(t[2], 40u);
        for (uint32_t i = 0; i < 16; i++) {
                uint32_t v;
                memcpy(&v, e.inband + 40 + 4 * i, 4);
                ASSERT_EQ(v, i % 2);
        }

        /* an ARP request sent on the sub-channel: completed there (the
         * kernel's reply is steered by its hash: either channel) */
        uint8_t f[2048];
        size_t n = nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP);
        uint64_t tid = ns_send_frame_on(&e, &sub, 3, f, (uint32_t)n);
        ASSERT_EQ(ns_sub_comp(&e, &sub, tid), (uint32_t)NVSP_STAT_SUCCESS);
        struct netvsp_nic_stats s;
        ns_stats_when(&e, one_sent_on_sub, &s); /* published after the round */
        ASSERT_EQ(s.queue[1].tx_packets, 1u);
        ASSERT_EQ(s.dev.tx_packets, s.queue[0].tx_packets + 1);

        /* a sub-channel carries data only: an INIT there is counted, not answered */
        uint32_t init[3] = { NVSP_MSG_TYPE_INIT, NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_61 };
        uint8_t w[NVSP_MESSAGE_SIZE] = { 0 };
        memcpy(w, init, sizeof init);
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &sub, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       77, w, sizeof w));
        /* Nothing answers it within 300 ms; a frame received meanwhile (the
         * kernel's ARP reply, steered here by its hash) is not an answer. */
        uint8_t buf[256];
        struct vmbus_packet p;
        uint64_t until = nt_now_ms() + 300;
        for (int r; (r = vmbus_sim_ring_wait(e.sim, &sub, buf, sizeof buf, &p, 300)) != -ETIMEDOUT;) {
                ASSERT_GT(r, 0);
                ASSERT_EQ(p.type, VM_PKT_DATA_USING_XFER_PAGES);
                ASSERT_LT(nt_now_ms(), until + 300);
        }
        ns_stats_when(&e, bad_on_sub, &s);
        ASSERT_EQ(s.queue[1].bad_packets, 1u);

        /* the guest goes: sub-channel first, as Linux closes them */
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ns_stop(&e); /* no GPADL reference is left (live mappings 0) */
}

static uint16_t reply_port;

/* A UDP datagram from the host's echo port 7000 to the guest's reply_port. */
static bool is_udp_reply(const uint8_t *f, size_t n) {
        return n >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 && memcmp(f, ns_guest_mac(), 6) == 0 &&
               (f[34] << 8 | f[35]) == 7000 && (f[36] << 8 | f[37]) == reply_port;
}

static int vmms_queue(const char *name) {
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE };
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        return fd;
}

/* Takes the steering program off the TAP, as where the kernel refused it
 * (no CAP_BPF): tun's flow table steers then (rss_steer_detach, as a NIC
 * does with a program whose map it cannot use). Done through a queue of our
 * own, closed again: it was the last attached, so the others keep their
 * places. */
static void unsteer(const char *tap) {
        int fd = vmms_queue(tap);
        ASSERT_OK(rss_steer_detach(fd));
        close(fd);
}

/* The multi-queue TAP without a steering program: each flow the guest
 * sends on a channel is answered on that channel (the kernel's tun steers
 * a flow to the queue it was last written on, and each channel has its own
 * queue). 8 flows per channel. */
TEST(vrss_flows_follow_their_channel) {
        struct ns_env e;
        struct vmbus_sim_channel sub;
        env_with_sub(&e, "vrss3", &sub);
        unsteer(e.tap);
        set_rss(&e, 2);
        int ifindex = (int)if_nametoindex(e.tap);
        ASSERT_OK(nt_add_neigh(ifindex, NT_GUEST_IP, e.mac));
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_OK(s);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7000) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", e.tap);
        ASSERT_OK(ioctl(s, SIOCGIFHWADDR, &ifr));
        uint8_t host_mac[6];
        memcpy(host_mac, ifr.ifr_hwaddr.sa_data, 6);
        struct vmbus_sim_channel *chans[2] = { &e.ch, &sub };
        for (unsigned flow = 0; flow < 16; flow++) {
                struct vmbus_sim_channel *ch = chans[flow % 2];
                reply_port = (uint16_t)(40000 + flow);
                uint8_t f[2048], got[2048], buf[64];
                size_t n = nt_udp(f, host_mac, e.mac, NT_GUEST_IP, NT_HOST_IP, reply_port, 7000, "ping", 4, false);
                uint64_t tid = ns_send_frame_on(&e, ch, 5 + flow % 8, f, (uint32_t)n);
                /* The answer only after the completion: tun learns a flow's
                 * queue after it has delivered the frame (tun_get_user), so
                 * an answer sent as soon as the datagram arrives can overtake
                 * the learning and go by hash; the NIC completes a packet
                 * once its write returned. */
                if (ch == &sub)
                        ASSERT_EQ(ns_sub_comp(&e, &sub, tid), (uint32_t)NVSP_STAT_SUCCESS);
                else
                        ASSERT_EQ(ns_comp_status(&e, tid, 5000), (int)NVSP_STAT_SUCCESS);
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ASSERT_EQ(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 4);
                ASSERT_EQ(ntohs(from.sin_port), reply_port);
                ASSERT_EQ(sendto(s, "pong", 4, 0, (struct sockaddr *)&from, fl), 4);
                ASSERT_EQ(ns_wait_frame_on(&e, ch, is_udp_reply, got, 5000), (ssize_t)46);
        }
        struct netvsp_nic_stats st;
        ns_stats_when(&e, flows_counted, &st);
        ASSERT_GE(st.queue[1].rx_packets, 8u);
        ASSERT_GE(st.queue[1].tx_packets, 8u);
        ASSERT_EQ(st.queue_attach_failures, 0u);
        close(s);
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ns_stop(&e);
}

/* Flows the host starts, with the RSS steering program vmms attaches
 * (common/rss-steer.h) on a TAP whose queues come as vmms passes them:
 * each datagram arrives on the channel the guest's own table names for its
 * Toeplitz hash, before the guest sent anything on it; with RSS turned
 * off, all on the primary. */
static uint16_t steer_port;

static bool is_udp_to_steer_port(const uint8_t *f, size_t n) {
        return n >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 && (f[36] << 8 | f[37]) == steer_port;
}

/* The NIC up on a two-queue TAP with steering: its sub-channel opens, the
 * guest turns RSS on over IPv4 and UDP ports, and 24 flows the host starts
 * each arrive on the channel the guest's table names. */
static void steered_flows(struct ns_env *e) {
        struct vmbus_sim_channel sub;
        ask_one_sub(e);
        ns_open_sub(e, 1, &sub);
        ns_set_rss(e, 2, NDIS_HASH_FUNC_TOEPLITZ | RSS_HASH_IPV4 | RSS_HASH_UDP_IPV4);
        ASSERT_OK(nt_add_neigh((int)if_nametoindex(e->tap), NT_GUEST_IP, e->mac));
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(s, 0);
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9000) }, from = to;
        inet_pton(AF_INET, NT_GUEST_IP, &to.sin_addr);
        inet_pton(AF_INET, NT_HOST_IP, &from.sin_addr);
        ASSERT_OK(bind(s, (struct sockaddr *)&from, sizeof from));
        uint8_t key[40], in[12];
        for (uint32_t i = 0; i < 40; i++)
                key[i] = (uint8_t)(i * 7 + 1);
        struct vmbus_sim_channel *chans[2] = { &e->ch, &sub };
        unsigned per_channel[2] = { 0 };
        for (unsigned flow = 0; flow < 24; flow++) {
                steer_port = (uint16_t)(9100 + flow);
                to.sin_port = htons(steer_port);
                memcpy(in, &from.sin_addr, 4);
                memcpy(in + 4, &to.sin_addr, 4);
                in[8] = 9000 >> 8, in[9] = 9000 & 255, in[10] = (uint8_t)(steer_port >> 8), in[11] = (uint8_t)steer_port;
                unsigned ch = (rss_toeplitz(key, in, 12) & 127) % 2;
                uint8_t got[2048];
                for (int tries = 0;; tries++) { /* retried: the steering map is filled by the primary's next round */
                        ASSERT_EQ(sendto(s, "data", 4, 0, (struct sockaddr *)&to, sizeof to), 4);
                        if (ns_wait_frame_on(e, chans[ch], is_udp_to_steer_port, got, tries < 3 ? 300 : 5000) > 0)
                                break;
                        ASSERT_LT(tries, 3);
                }
                per_channel[ch]++;
        }
        ASSERT_GT(per_channel[0], 0u);
        ASSERT_GT(per_channel[1], 0u);
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e->nic, &st);
        ASSERT_EQ(st.queue_attach_failures, 0u);
        ASSERT_TRUE(st.rss_steering);
        close(s);
        ASSERT_OK(vmbus_sim_close(e->sim, &sub));
}

TEST(vrss_the_guests_table_steers_the_hosts_flows) {
        struct ns_env e;
        struct netvsp_nic_config nc;
        env_config(&e, &nc, "vrss7", 2);
        nc.tap.create = false;
        nc.tap_fd = vmms_queue("vrss7");
        nc.queue_fds[nc.n_queue_fds++] = vmms_queue("vrss7");
        char err[256] = "";
        int map = rss_steer_attach(nc.tap_fd, err, sizeof err);
        if (map == -EPERM)
                TEST_SKIP("%s", err);
        ASSERT_GE(map, 0);
        ASSERT_OK(rss_steer_mmap(map, &nc.steer));
        close(map);
        struct ifreq ifr = { 0 };
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(s, 0);
        snprintf(ifr.ifr_name, IFNAMSIZ, "vrss7");
        ASSERT_OK(ioctl(s, SIOCGIFFLAGS, &ifr));
        ifr.ifr_flags |= IFF_UP;
        ASSERT_OK(ioctl(s, SIOCSIFFLAGS, &ifr));
        close(s);
        nic_up(&e, &nc);
        steered_flows(&e);
        ns_stop(&e);
}

/* The same on a TAP the NIC creates itself (vmwp --config): it attaches
 * the program and fills the map itself. A map handed in with no TAP fds
 * is not the NIC's TAP's: it is dropped, not used. */
TEST(vrss_a_tap_the_nic_creates_steers_too) {
        int probe = rss_steer_map_create();
        if (probe == -EPERM)
                TEST_SKIP("no CAP_BPF");
        ASSERT_GE(probe, 0);
        struct ns_env e;
        struct netvsp_nic_config nc;
        env_config(&e, &nc, "vrss8", 2);
        ASSERT_OK(rss_steer_mmap(probe, &nc.steer)); /* a stranger's map */
        close(probe);
        nic_up(&e, &nc);
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_TRUE(st.rss_steering);
        steered_flows(&e);
        ns_stop(&e);
}

/* One queue: nothing to steer, no program. */
TEST(vrss_one_queue_tap_gets_no_program) {
        struct ns_env e;
        env_up(&e, "vrss9", 1);
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_FALSE(st.rss_steering);
        ns_stop(&e);
}

/* GPADL_TEARDOWN; the host answers once nothing holds the GPADL. */
static void teardown_waiting(struct ns_env *e, uint32_t handle) {
        struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
                                                  .child_relid = e->offer.child_relid, .gpadl = handle };
        ASSERT_EQ(vmbus_sim_post(e->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &t, sizeof t), 0);
        uint64_t end = nt_now_ms() + 5000;
        struct vmbus_channel_gpadl_torndown d;
        while (vmbus_sim_expect(e->sim, CHANNELMSG_GPADL_TORNDOWN, &d, sizeof d) < 0) {
                ASSERT_LT(nt_now_ms(), end);
                usleep(1000);
        }
        ASSERT_EQ(d.gpadl, handle);
}

/* Revoking the buffers on the primary (§7.7) makes the sub-channel give
 * up its references at once: the guest's GPADL teardown (which waits for
 * them) completes while the sub-channel is still open and idle. */
TEST(vrss_revoke_releases_the_sub_channel) {
        struct ns_env e;
        struct vmbus_sim_channel sub;
        env_with_sub(&e, "vrss1", &sub);
        uint32_t rv[2] = { NVSP_MSG1_TYPE_REVOKE_RECV_BUF, NVSP_RECV_BUF_ID };
        ns_send_nvsp(&e, rv, 2, false);
        uint32_t sv[2] = { NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NVSP_SEND_BUF_ID };
        ns_send_nvsp(&e, sv, 2, false);
        teardown_waiting(&e, e.recv_gpadl);
        teardown_waiting(&e, e.send_gpadl);
        /* a send on the sub-channel without a send buffer fails, completed */
        uint32_t w[10] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, NVSP_RNDIS_CHANNEL_DATA, 0, 64 };
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &sub, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       5, w, sizeof w));
        ASSERT_NE(ns_sub_comp(&e, &sub, 5), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ns_stop(&e);
}

/* The guest re-initialises the NIC (netvsc does on an MTU or channel
 * change: sub-channels closed, then the primary): the server rescinds the
 * sub-channels with the primary's close, and the new SUBCHANNEL gets
 * sub-channel 1 again, which netvsc waits for. */
TEST(vrss_reinit_offers_the_sub_channel_again) {
        struct ns_env e;
        struct vmbus_sim_channel sub;
        env_with_sub(&e, "vrss4", &sub);
        uint32_t m[10];
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ASSERT_OK(vmbus_sim_close(e.sim, &e.ch)); /* (its GPADL teardown skips the rescind) */
        ns_open(&e);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        ns_ask_subchannels(&e, 1, m);
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], 1u);
        ns_open_sub(&e, 1, &sub);
        uint8_t f[2048];
        size_t n = nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_EQ(ns_sub_comp(&e, &sub, ns_send_frame_on(&e, &sub, 1, f, (uint32_t)n)), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ns_stop(&e);
}

/* A TAP that exists without multi_queue, opened by name with two queues
 * configured: one queue; the sub-channel transmits on it and everything
 * for the guest arrives on the primary. */
TEST(vrss_single_queue_tap) {
        struct ns_env e;
        struct netvsp_nic_config nc;
        memset(&e, 0, sizeof e);
        ns_enter_netns();
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "vrss5");
        int keep = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_OK(keep);
        ASSERT_OK(ioctl(keep, TUNSETIFF, &ifr));
        ASSERT_OK(ioctl(keep, TUNSETPERSIST, 1));
        close(keep);
        ns_nic_config(&e, &nc, "vrss5");
        nc.tap.create = false;
        nc.dev.queues = 2;
        nic_up(&e, &nc);
        ask_one_sub(&e);
        struct vmbus_sim_channel sub;
        ns_open_sub(&e, 1, &sub);
        uint8_t f[2048];
        size_t n = nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_EQ(ns_sub_comp(&e, &sub, ns_send_frame_on(&e, &sub, 1, f, (uint32_t)n)), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(ns_wait_frame(&e, ns_is_arp_reply, f, 5000), (ssize_t)42);
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ns_stop(&e);
}

/* One queue: the capabilities say 1 and a SUBCHANNEL gets 0 (success: the
 * guest goes on with one channel). */
TEST(vrss_one_queue_offers_none) {
        struct ns_env e;
        env_up(&e, "vrss2", 1);
        ASSERT_EQ(rss_queues(&e), 1u);
        uint32_t m[10];
        ns_ask_subchannels(&e, 3, m);
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], 0u);
        struct netvsp_nic_state st;
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_EQ(st.dev.rx_split, 1u);
        ASSERT_EQ(st.dev.recv_slots, e.n_slots);
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(e.sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), -ENOMSG);
        ns_stop(&e);
}

TEST_MAIN();
