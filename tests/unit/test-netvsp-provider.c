// SPDX-License-Identifier: MIT
/* netvsp's VMBus glue (provider.c, chan.c) against the simulated guest and a
 * real TAP in a private network namespace: the init sequence over rings,
 * frames both ways through the kernel (ARP, UDP), batching (one doorbell and
 * one interrupt per batch), link down/up from the host, a TAP deleted under
 * a running channel, malformed RNDIS that must not stop the NIC, ring
 * corruption, close while traffic flows, reopen, an adopted TAP fd
 * without a virtio_net_hdr, and completions published within a batch of
 * large sends. Skips without root (unshare, TAP). */
#include <netinet/in.h>

#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-sim.h"

/* The sandbox hook (vmwp: sandbox_thread_hook): called first thing on
 * each channel worker's thread with the policy name. */
static char policy_thread[16];

static int record_policy(void *opaque, const char *name) {
        struct ns_env *e = opaque;
        __atomic_fetch_add(&e->policy_calls, 1, __ATOMIC_SEQ_CST);
        snprintf(e->policy_name, sizeof e->policy_name, "%s", name);
        pthread_getname_np(pthread_self(), policy_thread, sizeof policy_thread);
        return 0;
}

static void env_up(struct ns_env *e, const char *tap) {
        struct netvsp_nic_config nc;
        memset(e, 0, sizeof *e);
        ns_enter_netns();
        ns_nic_config(e, &nc, tap);
        nc.thread_policy = record_policy;
        nc.thread_policy_opaque = e;
        ns_start(e, &nc);
        ns_host_setup(e);
        ns_open(e);
        ns_nvsp_init(e);
        ns_rndis_up(e);
}

static bool moved_both_ways(const struct netvsp_nic_stats *s) {
        return s->dev.tx_packets >= 1 && s->dev.rx_packets >= 1;
}

TEST(glue_init_and_arp_through_the_kernel) {
        struct ns_env e;
        env_up(&e, "nvp0");
        ns_arp_roundtrip(&e, 0);
        struct netvsp_nic_stats st;
        ns_stats_when(&e, moved_both_ways, &st);
        ASSERT_EQ(st.opens, 1u);
        ASSERT_TRUE(st.link_up);
        ASSERT_FALSE(st.tap_removed);
        ASSERT_GE(st.dev.tx_packets, 1u);
        ASSERT_GE(st.dev.rx_packets, 1u);
        ASSERT_EQ(st.channels_broken, 0u);
        /* the hook ran once, on the channel's worker, before it served */
        ASSERT_EQ(__atomic_load_n(&e.policy_calls, __ATOMIC_SEQ_CST), 1);
        ASSERT_STREQ(e.policy_name, "netvsp");
        ASSERT_STREQ(policy_thread, "netvsp");
        ASSERT_EQ(st.thread_policy_failures, 0u);
        ns_stop(&e);
}

static int udp_sink(uint16_t port) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(s);
        ASSERT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
        return s;
}

/* A UDP sink on the host's side (udp_sink) and the TAP's MAC, which the
 * guest's frames are addressed to. */
static int sink_and_host_mac(struct ns_env *e, uint16_t port, uint8_t hmac[6]) {
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", e->tap);
        int sink = udp_sink(port);
        ASSERT_OK(ioctl(sink, SIOCGIFHWADDR, &ifr));
        memcpy(hmac, ifr.ifr_hwaddr.sa_data, 6);
        return sink;
}

/* Packets written into the guest's outbound ring and published with one
 * write_index store, signalled as §5.5 says (host not masked, ring empty
 * before the batch): what netvsc's batched sends look like to the host. */
static void write_batch(struct ns_env *e, const uint8_t (*pkts)[56], unsigned n) {
        struct vmbus_sim_ring *r = &e->ch.out;
        uint32_t w = r->hdr->write_index, pos = w;
        for (unsigned i = 0; i < n; i++) {
                uint64_t trailer = (uint64_t)pos << 32;
                vmbus_sim_ring_copy_in(e->sim, r, pos, pkts[i], 56);
                vmbus_sim_ring_copy_in(e->sim, r, pos + 56, &trailer, 8);
                pos = (pos + 64) % r->size;
        }
        __atomic_store_n(&r->hdr->write_index, pos, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&r->hdr->interrupt_mask, __ATOMIC_ACQUIRE) &&
            __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE) == w)
                ASSERT_OK(vmbus_sim_signal(e->sim, e->ch.connection_id));
}

/* 16 frames published at once: one doorbell at most for all of them
 * (§5.5), every one completed and delivered to the socket. */
TEST(glue_batch_of_frames_one_doorbell) {
        struct ns_env e;
        env_up(&e, "nvp1");
        uint8_t hmac[6], pkts[NS_SEND_SECTIONS][56];
        int sink = sink_and_host_mac(&e, 9000, hmac);
        for (unsigned i = 0; i < NS_SEND_SECTIONS; i++) {
                uint8_t f[256], payload[32];
                memset(payload, (int)i, sizeof payload);
                size_t n = nt_udp(f, hmac, e.mac, NT_GUEST_IP, NT_HOST_IP, 4000, 9000, payload, sizeof payload, false);
                uint8_t *s = ns_ram(&e, e.send_pfn) + (size_t)i * NS_SECTION;
                uint32_t h[11] = { RNDIS_MSG_PACKET, (uint32_t)(44 + n), 36, (uint32_t)n };
                memcpy(s, h, sizeof h);
                memcpy(s + 44, f, n);
                uint32_t w[10] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, 0, i, (uint32_t)(44 + n) };
                struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 7,
                                                 .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                                 .trans_id = 100 + i };
                memcpy(pkts[i], &d, 16);
                memcpy(pkts[i] + 16, w, 40);
        }
        usleep(100000); /* let the thread go to sleep: the batch must wake it */
        uint64_t db0 = vmbus_sim_doorbell_count(e.sim), ev0 = vmbus_sim_event_count(e.sim);
        write_batch(&e, pkts, NS_SEND_SECTIONS);
        for (unsigned i = 0; i < NS_SEND_SECTIONS; i++)
                ASSERT_EQ(ns_comp_status(&e, 100 + i, 5000), (int)NVSP_STAT_SUCCESS);
        ASSERT_EQ(vmbus_sim_doorbell_count(e.sim) - db0, 1u);
        /* the 16 completions came as one batch too: one interrupt */
        ASSERT_EQ(vmbus_sim_event_count(e.sim) - ev0, 1u);
        unsigned got = 0;
        uint8_t buf[256];
        for (uint64_t end = nt_now_ms() + 3000; got < NS_SEND_SECTIONS && nt_now_ms() < end;)
                if (recv(sink, buf, sizeof buf, MSG_DONTWAIT) == 32)
                        got++;
                else
                        usleep(1000);
        ASSERT_EQ(got, NS_SEND_SECTIONS);
        close(sink);
        ns_stop(&e);
}

static uint64_t want_tx;

static bool sent_them(const struct netvsp_nic_stats *s) {
        return s->dev.tx_packets >= want_tx;
}

/* A batch of full-size sends, GPA-direct as netvsc sends what does not
 * fit a section, larger in all than a round keeps its completions back
 * for: some are published before the round ends (a guest with every buffer
 * in flight gets them while the rest go out), and every one arrives. */
TEST(glue_large_batch_publishes_completions_early) {
        enum { N = 200 };
        struct ns_env e;
        env_up(&e, "nvp8");
        uint8_t hmac[6];
        int sink = sink_and_host_mac(&e, 9000, hmac);
        uint64_t pfn = vmbus_sim_alloc_pages(e.sim, N);
        uint32_t msg_len = 0;
        for (unsigned i = 0; i < N; i++) {
                uint8_t f[1600], payload[1472];
                memset(payload, (int)i, sizeof payload);
                size_t n = nt_udp(f, hmac, e.mac, NT_GUEST_IP, NT_HOST_IP, 4000, 9000, payload, sizeof payload, false);
                uint8_t *pg = ns_ram(&e, pfn + i);
                uint32_t h[11] = { RNDIS_MSG_PACKET, (uint32_t)(44 + n), 36, (uint32_t)n };
                memcpy(pg, h, sizeof h);
                memcpy(pg + 44, f, n);
                msg_len = (uint32_t)(44 + n);
        }
        ASSERT_EQ(msg_len, 44u + 1514u);
        usleep(100000); /* the thread asleep: the batch wakes it once */
        struct netvsp_nic_stats st0, st;
        netvsp_nic_get_stats(e.nic, &st0);
        for (unsigned i = 0; i < N; i++) {
                uint8_t p[NS_GPA_DIRECT_LEN];
                ns_gpa_direct(p, 500 + i, NVSP_RNDIS_CHANNEL_DATA, pfn + i, msg_len);
                ASSERT_OK(vmbus_sim_ring_write_raw(e.sim, &e.ch, p, sizeof p, false));
        }
        ASSERT_OK(vmbus_sim_signal(e.sim, e.ch.connection_id)); /* one doorbell for the batch */
        for (unsigned i = 0; i < N; i++) {
                ASSERT_EQ(ns_comp_status(&e, 500 + i, 5000), (int)NVSP_STAT_SUCCESS);
                e.n_comps = 0; /* it records 64: those before are seen */
        }
        want_tx = st0.dev.tx_packets + N; /* the worker publishes its counters after the round */
        ns_stats_when(&e, sent_them, &st);
        ASSERT_EQ(st.dev.tx_packets - st0.dev.tx_packets, (uint64_t)N);
        /* 200 x 1514 bytes: past 128 KiB inside a round, even if something
         * woke the worker while the batch was being written */
        ASSERT_GE(st.early_publishes - st0.early_publishes, 1u);
        close(sink);
        ns_stop(&e);
}

static bool two_link_changes(const struct netvsp_nic_stats *s) {
        return s->link_changes >= 2;
}

TEST(glue_link_down_and_up_from_the_host) {
        struct ns_env e;
        env_up(&e, "nvp2");
        ns_set_admin(e.tap, false);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_DISCONNECT, 5000));
        /* the guest's query agrees */
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, e.next_req++, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, 0, 20, 0 };
        struct ns_msg r;
        ns_control(&e, q, sizeof q, RNDIS_MSG_QUERY_C, &r);
        uint32_t state;
        memcpy(&state, r.data + 8 + 16, 4);
        ASSERT_EQ(state, NDIS_MEDIA_STATE_DISCONNECTED);
        e.n_indications = 0;
        ns_set_admin(e.tap, true);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_CONNECT, 5000));
        struct netvsp_nic_stats st;
        ns_stats_when(&e, two_link_changes, &st);
        ASSERT_GE(st.link_changes, 2u);
        ASSERT_TRUE(st.link_up);
        ns_arp_roundtrip(&e, 1); /* and it still carries frames */
        ns_stop(&e);
}

static void delete_link(const char *ifname) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL;
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, ifname, &l));
        ASSERT_OK(rtnl_link_delete(sk, l));
        rtnl_link_put(l);
        nl_socket_free(sk);
}

/* The TAP deleted under a running channel: MEDIA_DISCONNECT, frames are
 * completed (dropped and counted), the NIC keeps answering, close works. */
TEST(glue_tap_removed_under_a_running_channel) {
        struct ns_env e;
        env_up(&e, "nvp3");
        ns_arp_roundtrip(&e, 0);
        delete_link(e.tap);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_DISCONNECT, 5000));
        uint8_t f[64];
        size_t n = nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP);
        uint64_t tid = ns_send_frame(&e, 2, f, (uint32_t)n);
        ASSERT_EQ(ns_comp_status(&e, tid, 5000), (int)NVSP_STAT_SUCCESS);
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, e.next_req++, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, 0, 20, 0 };
        struct ns_msg r;
        ns_control(&e, q, sizeof q, RNDIS_MSG_QUERY_C, &r);
        uint32_t state;
        memcpy(&state, r.data + 8 + 16, 4);
        ASSERT_EQ(state, NDIS_MEDIA_STATE_DISCONNECTED);
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_TRUE(st.tap_removed);
        ASSERT_FALSE(st.link_up);
        ASSERT_GE(st.dev.tx_dropped, 1u);
        /* no busy loop on the dead fd: the thread sleeps */
        uint64_t sleeps = st.sleeps;
        usleep(200000);
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_LE(st.sleeps - sleeps, 2u);
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        ns_stop(&e);
}

static bool counted_garbage(const struct netvsp_nic_stats *s) {
        return s->dev.tx_malformed >= 1 && s->dev.bad_packets >= 1;
}

/* Malformed RNDIS gets an error status; the NIC keeps working. */
TEST(glue_malformed_rndis_then_traffic) {
        struct ns_env e;
        env_up(&e, "nvp4");
        /* a QUERY whose information buffer lies outside the message */
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, e.next_req++, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, 64, 20, 0 };
        struct ns_msg r;
        ns_control(&e, q, sizeof q, RNDIS_MSG_QUERY_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_FAILURE);
        /* a data message that claims more bytes than the section holds */
        uint8_t *s = ns_ram(&e, e.send_pfn);
        uint32_t h[11] = { RNDIS_MSG_PACKET, 4000, 36, 3000 };
        memcpy(s, h, sizeof h);
        uint32_t w[4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, 0, 0, 100 };
        uint64_t tid = ns_send_nvsp(&e, w, 4, true);
        ASSERT_EQ(ns_comp_status(&e, tid, 5000), (int)NVSP_STAT_INVALID_RNDIS_PKT);
        /* garbage that is not NVSP at all */
        uint32_t junk[4] = { 0xdeadbeef, 1, 2, 3 };
        ns_send_nvsp(&e, junk, 4, true);
        ns_arp_roundtrip(&e, 3);
        struct netvsp_nic_stats st;
        ns_stats_when(&e, counted_garbage, &st);
        ASSERT_GE(st.dev.tx_malformed, 1u);
        ASSERT_GE(st.dev.bad_packets, 1u);
        ASSERT_EQ(st.channels_broken, 0u);
        ns_stop(&e);
}

/* A descriptor that cannot be right breaks the ring: the channel is no
 * longer served (counted), the process survives, and a fresh open works. */
TEST(glue_ring_corruption_then_reopen) {
        struct ns_env e;
        env_up(&e, "nvp5");
        uint8_t bad[32] = { 0 };
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 9, .len8 = 4 }; /* offset > len */
        memcpy(bad, &d, sizeof d);
        ASSERT_OK(vmbus_sim_ring_write_raw(e.sim, &e.ch, bad, sizeof bad, true));
        struct netvsp_nic_stats st;
        for (int i = 0; i < 500; i++) {
                netvsp_nic_get_stats(e.nic, &st);
                if (st.channels_broken)
                        break;
                usleep(10000);
        }
        ASSERT_EQ(st.channels_broken, 1u);
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        /* netvsc after a close: buffers torn down, then a new open (§7.7) */
        ASSERT_OK(vmbus_sim_teardown_gpadl(e.sim, e.offer.child_relid, e.recv_gpadl));
        ASSERT_OK(vmbus_sim_teardown_gpadl(e.sim, e.offer.child_relid, e.send_gpadl));
        e.n_comps = e.n_indications = 0;
        ns_open(&e);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        ns_arp_roundtrip(&e, 0);
        struct vmbus_server_stats ss;
        vmbus_server_get_stats(e.srv, &ss);
        ASSERT_EQ(ss.channels_broken, 1u);
        ns_stop(&e);
}

/* Close while frames flow both ways: close returns (the thread is joined),
 * the server unmapped everything, and the NIC opens again. */
TEST(glue_close_during_traffic) {
        struct ns_env e;
        env_up(&e, "nvp6");
        struct ns_blaster b;
        ns_blast_start(&e, &b);
        uint8_t f[64];
        size_t n = nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP);
        for (unsigned i = 0; i < 8; i++)
                ns_send_frame(&e, i, f, (uint32_t)n);
        /* take a few receive batches, leave the rest unread */
        uint8_t buf[8192];
        struct vmbus_packet p;
        for (int i = 0; i < 4; i++)
                ASSERT_NE(ns_next(&e, 5000, &p, buf, NULL, 0, NULL), -ETIMEDOUT);
        uint64_t t0 = nt_now_ms();
        ASSERT_EQ(vmbus_sim_close(e.sim, &e.ch), 0);
        ASSERT_LT(nt_now_ms() - t0, 2000u);
        ASSERT_OK(vmbus_sim_teardown_gpadl(e.sim, e.offer.child_relid, e.recv_gpadl));
        ASSERT_OK(vmbus_sim_teardown_gpadl(e.sim, e.offer.child_relid, e.send_gpadl));
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_EQ(st.closes, 1u);
        ASSERT_GT(st.dev.rx_packets, 0u);
        e.n_comps = e.n_indications = 0;
        ns_open(&e);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        ns_blast_stop(&b);
        /* The blaster filled the TAP's queue while nothing read the guest's
         * ring: the backlog is taken first (the NIC delivers all of it). */
        ns_drain(&e);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

/* A TAP fd from vmms made without IFF_VNET_HDR: no offloads are offered,
 * frames still flow both ways. */
TEST(glue_adopted_fd_without_vnet_hdr) {
        struct ns_env e;
        struct netvsp_nic_config nc;
        memset(&e, 0, sizeof e);
        ns_enter_netns();
        ns_nic_config(&e, &nc, "nvp7");
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "nvp7");
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        nc.tap_fd = fd;
        ns_start(&e, &nc);
        ns_set_admin("nvp7", true);
        ns_host_setup(&e);
        ns_open(&e);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        uint32_t q[7 + 39] = { RNDIS_MSG_QUERY, 28 + 156, e.next_req++, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
                               156, 20, 0 };
        struct ndis_object_header oh = { NDIS_OBJECT_TYPE_OFFLOAD, 3, 156 };
        memcpy(&q[7], &oh, sizeof oh);
        struct ns_msg r;
        ns_control(&e, q, 28 + 156, RNDIS_MSG_QUERY_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_SUCCESS);
        struct ndis_offload caps;
        memcpy(&caps, r.data + 8 + 16, sizeof caps);
        ASSERT_EQ(caps.header.type, NDIS_OBJECT_TYPE_OFFLOAD);
        ASSERT_EQ(caps.csum.ip4_txcsum, 0u);
        ASSERT_EQ(caps.lsov2.ip4_encap, 0u);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
}

/* Hot add and remove (docs/netvsp.md "Hot add and remove"): the guest is
 * connected and has its offers (none) when a NIC on a TAP fd from vmms is
 * added: its offer comes unasked, the channel opens and carries frames
 * (the adopted TAP's index found over rtnetlink: the link watch works);
 * removing the device with the channel open rescinds the offer and closes
 * the TAP (a TAP nobody holds is gone), while the guest may still close. */
TEST(glue_hot_add_and_remove) {
        struct ns_env e;
        struct netvsp_nic_config nc;
        memset(&e, 0, sizeof e);
        ns_enter_netns();
        ns_nic_config(&e, &nc, "nvp8");
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "nvp8");
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        nc.tap_fd = fd;
        nc.gm.opaque = &e;
        ASSERT_OK(vmbus_sim_new(NS_RAM, 1, &e.sim));
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e.sim, &e.srv));
        ASSERT_EQ(vmbus_sim_connect(e.sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel none[1];
        ASSERT_EQ(vmbus_sim_request_offers(e.sim, none, 1), 0);
        ASSERT_OK(netvsp_nic_new(&nc, &e.nic, NULL));
        ASSERT_STREQ(netvsp_nic_tap_name(e.nic), "nvp8");
        struct vmbus_device_config dc = { .ops = &netvsp_provider_ops, .data = e.nic };
        ASSERT_OK(guid_from_string("5e1f0c3a-9a7d-4b1e-8f00-000000000009", &dc.instance_id));
        struct vmbus_device *dev;
        ASSERT_OK(vmbus_server_add_device(e.srv, &dc, &dev));
        ASSERT_EQ(vmbus_sim_expect(e.sim, CHANNELMSG_OFFERCHANNEL, &e.offer, sizeof e.offer), (int)sizeof e.offer);
        static const uint8_t nic_class[16] = HV_NIC_GUID;
        ASSERT_MEMEQ(e.offer.if_type, nic_class, 16);
        e.next_tid = e.next_req = 1;
        e.scratch_pfn = vmbus_sim_alloc_pages(e.sim, 2);
        ns_set_admin("nvp8", true);
        ns_host_setup(&e);
        ns_open(&e);
        ns_nvsp_init(&e);
        ns_rndis_up(&e);
        ns_arp_roundtrip(&e, 0);
        /* the host's link change reaches the guest: the watch found the TAP */
        ns_set_admin("nvp8", false);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_DISCONNECT, 5000));
        ASSERT_OK(vmbus_server_remove_device(e.srv, dev)); /* closes the channel, frees the NIC */
        struct vmbus_channel_relid_message rescind;
        ASSERT_GT(vmbus_sim_expect(e.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &rescind, sizeof rescind), 0);
        ASSERT_EQ(rescind.child_relid, e.offer.child_relid);
        ASSERT_EQ(if_nametoindex("nvp8"), 0u); /* its last fd closed */
        ns_stop(&e);
}

TEST_MAIN();
