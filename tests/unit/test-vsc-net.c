// SPDX-License-Identifier: MIT
/* The guest's netvsc client (guest-vsc/lib: nvsp.c, rndis.c, net-*.c)
 * against the real VMBus server and netvsp provider (over the sim) and a
 * TAP in a private network namespace: Linux 6.1's init sequence, what it
 * learns from the host, frames both ways through the kernel, batching (one
 * doorbell per flush), link changes, malformed RNDIS answered with errors,
 * close. Plus the client's parsers against hostile host messages. The
 * end-to-end part skips without root. */
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/route/link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/rss-steer.h"
#include "netvsp/provider.h"
#include "tests/unit/test-netvsp-frames.h"
#include "tests/unit/test-vsc-net-bridge.h"
#include "vmbus/server.h"
#include "vsc/net.h"

struct env {
        struct bridge br;
        struct vmbus_server *srv;
        struct netvsp_nic *nic;
        struct vsc_bus bus;
        struct vsc_net net;
        uint8_t host_mac[6];
        /* frames the client received */
        unsigned frames, arp_replies, udp_frames;
        uint8_t last[70000];
        uint32_t last_len;
};

static int map_sim(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct env *e = opaque;
        if (gpa >= vmbus_sim_ram_size(e->br.sim) || len > vmbus_sim_ram_size(e->br.sim) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(e->br.sim) + gpa;
        return 0;
}

static void on_frame(void *opaque, const uint8_t *f, uint32_t len) {
        struct env *e = opaque;
        e->frames++;
        if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2)
                e->arp_replies++;
        if (len >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17)
                e->udp_frames++;
        if (len <= sizeof e->last) {
                memcpy(e->last, f, len);
                e->last_len = len;
        }
}

static const uint8_t nic_class[16] = HV_NIC_GUID;

static void env_up_queues(struct env *e, const char *tap, uint32_t queues) {
        memset(e, 0, sizeof *e);
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
        ASSERT_OK(vmbus_sim_new(64u << 20, queues, &e->br.sim));
        struct vmbus_server_config sc = { .vp_count = queues };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->br.sim, &e->srv));
        static const uint8_t mac[6] = NT_GUEST_MAC;
        struct netvsp_nic_config nc = { .tap_fd = -1, .gm = { map_sim, e } };
        netvsp_config_init_defaults(&nc.dev);
        nc.dev.queues = queues;
        memcpy(nc.dev.rndis.mac, mac, 6);
        nc.dev.rndis.link_up = true;
        nc.tap = (struct tap_config){ .mtu = 1500, .create = true };
        snprintf(nc.tap.name, sizeof nc.tap.name, "%s", tap);
        ASSERT_OK(netvsp_nic_new(&nc, &e->nic, NULL));
        struct vmbus_device_config dc = { .ops = &netvsp_provider_ops, .data = e->nic };
        ASSERT_OK(guid_from_string("5e1f0c3a-9a7d-4b1e-8f00-000000000002", &dc.instance_id));
        struct vmbus_device *dev;
        ASSERT_OK(vmbus_server_add_device(e->srv, &dc, &dev));
        ASSERT_OK(nt_add_addr((int)if_nametoindex(tap), tap, NT_HOST_IP "/24"));
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", tap);
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_OK(ioctl(s, SIOCGIFHWADDR, &ifr));
        memcpy(e->host_mac, ifr.ifr_hwaddr.sa_data, 6);
        close(s);

        ASSERT_OK(br_bus_up(&e->br, &e->bus));
}

static void env_up(struct env *e, const char *tap) {
        env_up_queues(e, tap, 1);
}

static void net_up_rsc(struct env *e, bool rsc) {
        const struct vsc_offer *o = vsc_find_offer(&e->bus, nic_class, 0);
        ASSERT_NOT_NULL(o);
        struct vsc_net_config cfg;
        vsc_net_config_default(&cfg);
        cfg.rsc = rsc;
        cfg.ring_bytes = 32 * 4096;
        cfg.recv_buf_bytes = 1u << 20;
        cfg.send_buf_bytes = 16 * 6144;
        int r = vsc_net_open(&e->bus, &e->net, o, &cfg);
        if (r < 0)
                fprintf(stderr, "vsc_net_open: %s\n", vsc_bus_error(&e->bus));
        ASSERT_OK(r);
        vsc_net_set_rx(&e->net, on_frame, e);
        ASSERT_OK(vsc_net_set_packet_filter(&e->net, 0x0d));
}

static void net_up(struct env *e) {
        net_up_rsc(e, false);
}

static void env_down(struct env *e) {
        ASSERT_OK(vsc_unload(&e->bus));
        vsc_hv_disable(&e->bus);
        vmbus_server_free(e->srv);
        ASSERT_EQ(vmbus_sim_live_mappings(e->br.sim), 0u);
        vmbus_sim_free(e->br.sim);
}

/* Polls until cond() holds or ms pass. */
static bool poll_until(struct env *e, bool (*cond)(struct env *), int ms) {
        uint64_t end = nt_now_ms() + (uint64_t)ms;
        while (!cond(e) && nt_now_ms() < end) {
                ASSERT_OK(vsc_net_poll(&e->net, 0));
                br_idle(&e->br, 0);
        }
        return cond(e);
}

static bool got_arp_reply(struct env *e) {
        return e->arp_replies > 0;
}

TEST(client_init_sequence_learns_the_device) {
        struct env e;
        env_up(&e, "vscn0");
        net_up(&e);
        struct vsc_net *n = &e.net;
        static const uint8_t mac[6] = NT_GUEST_MAC;
        ASSERT_EQ(n->nvsp_version, NVSP_PROTOCOL_VERSION_61); /* the first one tried (§7.3) */
        /* The receive and send buffers come unzeroed (0xA5-filled here; the
         * test guest saves 0.2 ms a page of emulated CPL0: docs/guest-vsc.md,
         * "NIC open"), and everything below still works with them. */
        ASSERT_EQ(e.br.unzeroed_pages, (uint64_t)(n->recv_len + n->send_len) / 4096);
        ASSERT_MEMEQ(n->mac, mac, 6);
        ASSERT_EQ(n->max_frame_size, 1500u);
        ASSERT_EQ(n->max_pkt_per_msg, 8u);
        ASSERT_EQ(n->pkt_align, 8u);
        ASSERT_EQ(n->section_size, 6144u);
        ASSERT_EQ(n->sections, 16u);
        ASSERT_GE(n->recv_slot_size, 1514u);
        ASSERT_TRUE(n->link_up);
        ASSERT_EQ(n->link_speed, 100000000u); /* 10 Gbit/s in 100 bps units */
        ASSERT_EQ(n->rss_queues, 1u);
        ASSERT_STREQ(n->friendly_name, "Network_Adapter");
        ASSERT_EQ(n->hwcaps.header.type, NDIS_OBJECT_TYPE_OFFLOAD);
        ASSERT_EQ(n->hwcaps.csum.ip4_txcsum & NDIS_TXCSUM_ALL_TCP4, NDIS_TXCSUM_ALL_TCP4);
        struct netvsp_nic_stats st;
        for (int i = 0; i < 100; i++) { /* the provider publishes its counters per round */
                netvsp_nic_get_stats(e.nic, &st);
                if (st.dev.ctrl_requests >= 10)
                        break;
                usleep(10000);
        }
        /* INIT, 4 queries, offload SET, 3 queries (NVSP >= 5), packet filter */
        ASSERT_EQ(st.dev.ctrl_requests, 10u);
        ASSERT_EQ(n->stats.bogus_completions, 0u);
        ASSERT_EQ(n->stats.rx_bad, 0u);
        ASSERT_OK(vsc_net_close(n));
        env_down(&e);
}

TEST(client_frames_both_ways_through_the_kernel) {
        struct env e;
        env_up(&e, "vscn1");
        net_up(&e);
        uint8_t f[2048];
        size_t len = nt_arp_request(f, e.net.mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_OK(vsc_net_send(&e.net, f, (uint32_t)len));
        ASSERT_OK(vsc_net_flush(&e.net));
        ASSERT_TRUE(poll_until(&e, got_arp_reply, 3000));
        ASSERT_EQ(e.last_len, 42u);
        ASSERT_MEMEQ(e.last, e.net.mac, 6);

        /* 40 datagrams, one flush: 5 sections of 8 (max_pkt_per_msg), one doorbell */
        int sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9000) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(bind(sink, (struct sockaddr *)&a, sizeof a));
        uint64_t db0 = vmbus_sim_doorbell_count(e.br.sim), sec0 = e.net.stats.tx_sections;
        uint8_t payload[100];
        for (unsigned i = 0; i < 40; i++) {
                memset(payload, (int)i, sizeof payload);
                len = nt_udp(f, e.host_mac, e.net.mac, NT_GUEST_IP, NT_HOST_IP, 4000, 9000, payload, sizeof payload,
                             false);
                ASSERT_OK(vsc_net_send(&e.net, f, (uint32_t)len));
        }
        ASSERT_OK(vsc_net_flush(&e.net));
        ASSERT_EQ(e.net.stats.tx_sections - sec0, 5u);
        ASSERT_LE(vmbus_sim_doorbell_count(e.br.sim) - db0, 1u);
        unsigned got = 0;
        uint8_t buf[256];
        for (uint64_t end = nt_now_ms() + 3000; got < 40 && nt_now_ms() < end;) {
                ssize_t k = recv(sink, buf, sizeof buf, MSG_DONTWAIT);
                if (k == 100 && buf[0] == (uint8_t)got && buf[99] == (uint8_t)got)
                        got++;
                else if (k < 0)
                        ASSERT_OK(vsc_net_poll(&e.net, 0));
        }
        ASSERT_EQ(got, 40u); /* every datagram, in order, intact (padding did not leak into frames) */
        /* host -> guest: datagrams from a host socket */
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7) };
        inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
        ASSERT_OK(nt_add_neigh((int)if_nametoindex("vscn1"), NT_GUEST_IP, e.net.mac));
        unsigned before = e.udp_frames;
        for (int i = 0; i < 50; i++)
                ASSERT_OK(sendto(sink, payload, sizeof payload, 0, (struct sockaddr *)&dst, sizeof dst));
        for (uint64_t end = nt_now_ms() + 3000; e.udp_frames - before < 50 && nt_now_ms() < end;) {
                ASSERT_OK(vsc_net_poll(&e.net, 0));
                br_idle(&e.br, 0);
        }
        ASSERT_EQ(e.udp_frames - before, 50u);
        ASSERT_EQ(vsc_net_tx_pending(&e.net), 0u);
        close(sink);
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

/* n datagrams from a host socket to the guest, returned once the provider
 * has posted them all into the receive buffer; the client does not poll. */
static void post_unpolled(struct env *e, const char *tap, unsigned n) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7) };
        inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
        ASSERT_OK(nt_add_neigh((int)if_nametoindex(tap), NT_GUEST_IP, e->net.mac));
        uint8_t payload[100] = { 0 };
        struct netvsp_nic_stats st0, st;
        netvsp_nic_get_stats(e->nic, &st0);
        for (unsigned i = 0; i < n; i++)
                ASSERT_OK(sendto(s, payload, sizeof payload, 0, (struct sockaddr *)&dst, sizeof dst));
        for (uint64_t end = nt_now_ms() + 3000; nt_now_ms() < end; usleep(1000)) {
                netvsp_nic_get_stats(e->nic, &st);
                if (st.dev.rx_packets - st0.dev.rx_packets >= n)
                        break;
        }
        ASSERT_EQ(st.dev.rx_packets - st0.dev.rx_packets, (uint64_t)n);
        close(s);
}

/* A guest that stopped polling and then closes the NIC finds the frames
 * still in flight in its receive buffer: close completes their transfer
 * pages without passing a frame on (the test guest closes at CPL0, where
 * parsing a full 16 MiB buffer took seconds on a PVM host), and HALT's
 * completion behind them is still found. */
TEST(client_close_completes_frames_in_flight_without_passing_them_on) {
        struct env e;
        env_up(&e, "vscc1");
        net_up(&e);
        post_unpolled(&e, "vscc1", 50);
        unsigned frames = e.frames;
        ASSERT_OK(vsc_net_close(&e.net));
        ASSERT_EQ(e.frames, frames);
        ASSERT_EQ(e.net.stats.rx_dropped_closing, 50u);
        ASSERT_EQ(e.net.stats.rx_bad, 0u);
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_EQ(st.dev.bogus_completions, 0u);
        env_down(&e);
}

/* The receive callback's view of a long poll: the outbound ring's
 * published write index when the 70th frame arrived. */
struct publish_probe {
        struct env *e;
        unsigned frames;
        uint32_t published_at_start, published_at_70;
};

static void probe_frame(void *opaque, const uint8_t *f, uint32_t len) {
        struct publish_probe *pp = opaque;
        (void)f, (void)len;
        if (++pp->frames == 70)
                pp->published_at_70 = pp->e->net.ch.out.published;
}

/* One poll that reads a long run of frames sends their completions at
 * least every 64 ranges, as netvsc_poll does at its NAPI weight, not only
 * at its end: the host has slots back while the run is still being read
 * (with coalesced 62 KB frames a 16 MiB buffer held 120 a channel, and a
 * host that delivers as fast as the guest reads saw them all in flight). */
TEST(client_publishes_receive_completions_every_64_ranges) {
        struct env e;
        env_up(&e, "vscc2");
        net_up(&e);
        post_unpolled(&e, "vscc2", 100);
        struct publish_probe pp = { .e = &e, .published_at_start = e.net.ch.out.published };
        vsc_net_set_rx(&e.net, probe_frame, &pp);
        ASSERT_EQ(vsc_net_poll(&e.net, 0) > 0, true);
        ASSERT_EQ(pp.frames, 100u);
        ASSERT_NE(pp.published_at_70, pp.published_at_start); /* published inside the poll */
        ASSERT_NE(e.net.ch.out.published, pp.published_at_70); /* and the rest at its end */
        ASSERT_EQ(e.net.ch.out.published, e.net.ch.out.own);
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

/* vRSS (§7.8): the client asks for a sub-channel, opens it and sets RSS;
 * each channel sends from its own share of the sections and gets its
 * completions; the host's flows land on the channel the guest's table
 * names (the TAP's steering program, where the kernel allows it). */
TEST(client_opens_a_sub_channel_and_both_carry_frames) {
        static struct env e;
        static struct vsc_net sub[2];
        env_up_queues(&e, "vscn5", 2);
        net_up(&e);
        ASSERT_EQ(e.net.rss_queues, 2u);
        int n = vsc_net_open_subchannels(&e.net, sub, 2, 3); /* asks min(3, queues - 1, 2) = 1 */
        if (n < 0)
                fprintf(stderr, "vsc_net_open_subchannels: %s\n", vsc_bus_error(&e.bus));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(e.net.n_subs, 1u);
        ASSERT_EQ(sub[0].sub_index, 1u);
        ASSERT_TRUE(sub[0].ch.open);
        ASSERT_EQ(vsc_net_open_subchannels(&e.net, sub, 2, 1), -EBUSY); /* once */
        /* 16 sections: 0..7 the primary's, 8..15 the sub-channel's */
        ASSERT_EQ(e.net.sec_first, 0u);
        ASSERT_EQ(e.net.sec_end, 8u);
        ASSERT_EQ(sub[0].sec_first, 8u);
        ASSERT_EQ(sub[0].sec_end, 16u);
        static const uint8_t key[40] = NDIS_RSS_KEY_VERIFICATION;
        ASSERT_OK(vsc_net_set_rss(&e.net, key, NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_UDP_IPV4, NULL, 0));
        uint32_t bad[2] = { 0, 2 }; /* channel 2 does not exist */
        ASSERT_EQ(vsc_net_set_rss(&e.net, key, NDIS_HASH_IPV4, bad, 2), -EINVAL);
        ASSERT_EQ(vsc_net_set_rss(&sub[0], key, NDIS_HASH_IPV4, NULL, 0), -EINVAL); /* on the primary only */

        /* ARP first (the primary), so the kernel can answer the guest */
        uint8_t f[2048];
        size_t len = nt_arp_request(f, e.net.mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_OK(vsc_net_send(&e.net, f, (uint32_t)len));
        ASSERT_OK(vsc_net_flush(&e.net));
        ASSERT_TRUE(poll_until(&e, got_arp_reply, 3000));
        /* 24 datagrams on the sub-channel, 24 on the primary */
        int sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9000) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(bind(sink, (struct sockaddr *)&a, sizeof a));
        uint8_t payload[64];
        for (unsigned i = 0; i < 48; i++) {
                struct vsc_net *ch = i < 24 ? &sub[0] : &e.net;
                memset(payload, (int)i, sizeof payload);
                len = nt_udp(f, e.host_mac, e.net.mac, NT_GUEST_IP, NT_HOST_IP, (uint16_t)(4000 + (i < 24)), 9000,
                             payload, sizeof payload, false);
                ASSERT_OK(vsc_net_send(ch, f, (uint32_t)len));
                if (i == 23) {
                        ASSERT_OK(vsc_net_flush(&sub[0]));
                        /* the sub-channel's sends hold only its own sections */
                        ASSERT_EQ(e.net.sections_free, 8u);
                        ASSERT_EQ(sub[0].section_busy[0] & 0xff, 0xffu);   /* the primary's: never taken */
                        ASSERT_EQ(sub[0].section_busy[0] >> 8 & 0x7, 0x7u); /* 24 frames: 3 of its own */
                        ASSERT_GT(vsc_net_tx_pending(&sub[0]), 0u);
                }
        }
        ASSERT_OK(vsc_net_flush(&e.net));
        unsigned got = 0, seen[48] = { 0 };
        uint8_t buf[256];
        for (uint64_t end = nt_now_ms() + 3000; got < 48 && nt_now_ms() < end;) {
                ssize_t k = recv(sink, buf, sizeof buf, MSG_DONTWAIT);
                if (k == 64 && buf[0] < 48 && !seen[buf[0]]++)
                        got++;
                else if (k < 0) {
                        ASSERT_OK(vsc_net_poll(&e.net, 0));
                        ASSERT_OK(vsc_net_poll(&sub[0], 0));
                }
        }
        ASSERT_EQ(got, 48u);
        for (uint64_t end = nt_now_ms() + 3000;
             (vsc_net_tx_pending(&sub[0]) || vsc_net_tx_pending(&e.net)) && nt_now_ms() < end;) {
                ASSERT_OK(vsc_net_poll(&e.net, 0));
                ASSERT_OK(vsc_net_poll(&sub[0], 0));
        }
        ASSERT_EQ(vsc_net_tx_pending(&sub[0]), 0u);
        ASSERT_EQ(vsc_net_tx_pending(&e.net), 0u);
        ASSERT_GE(sub[0].stats.tx_completions, 3u); /* 24 frames in sections of 8: on the sub-channel */
        ASSERT_EQ(sub[0].stats.bogus_completions, 0u);
        ASSERT_EQ(e.net.stats.bogus_completions, 0u);

        /* host -> guest: a flow whose hash the guest's table maps to channel 1 */
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        if (st.rss_steering) {
                struct env *ep = &e;
                unsigned on_sub = 0;
                uint16_t sport = 0;
                for (uint32_t p = 40001; p < 41000 && !sport; p++) {
                        uint8_t in[12];
                        uint16_t sp = htons((uint16_t)p), dp = htons(7);
                        inet_pton(AF_INET, NT_HOST_IP, in);
                        inet_pton(AF_INET, NT_GUEST_IP, in + 4);
                        memcpy(in + 8, &sp, 2);
                        memcpy(in + 10, &dp, 2);
                        if ((rss_toeplitz(key, in, sizeof in) & 255) % VSC_NET_RSS_TABLE % 2 == 1)
                                sport = (uint16_t)p;
                }
                vsc_net_set_rx(&sub[0], on_frame, ep);
                int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(sport) };
                inet_pton(AF_INET, NT_HOST_IP, &src.sin_addr);
                ASSERT_OK(bind(tx, (struct sockaddr *)&src, sizeof src));
                struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7) };
                inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
                ASSERT_OK(nt_add_neigh((int)if_nametoindex("vscn5"), NT_GUEST_IP, e.net.mac));
                uint64_t before = sub[0].stats.rx_frames, prim = e.net.stats.rx_frames;
                for (int i = 0; i < 20; i++)
                        ASSERT_OK(sendto(tx, payload, sizeof payload, 0, (struct sockaddr *)&dst, sizeof dst));
                for (uint64_t end = nt_now_ms() + 3000; on_sub < 20 && nt_now_ms() < end;) {
                        ASSERT_OK(vsc_net_poll(&e.net, 0));
                        ASSERT_OK(vsc_net_poll(&sub[0], 0));
                        on_sub = (unsigned)(sub[0].stats.rx_frames - before);
                }
                ASSERT_EQ(on_sub, 20u);
                ASSERT_EQ(e.net.stats.rx_frames, prim); /* none on the primary */
                close(tx);
        } else {
                fprintf(stderr, "NOTE: the kernel refused the TAP's steering program: host flows not checked\n");
        }
        close(sink);
        ASSERT_OK(vsc_net_close(&e.net)); /* the sub-channel first */
        ASSERT_FALSE(sub[0].ch.open);
        ASSERT_EQ(e.net.n_subs, 0u);
        env_down(&e);
}

/* LSOv2 (§7.6): a 30000-byte TCP frame sent GPA-direct from its own pages
 * (no section), as netvsc sends what does not fit one; the host hands the
 * kernel one GSO frame with real IPv4 lengths and a valid header checksum,
 * the payload intact, and completes the send. */
TEST(client_sends_an_lso_frame_gpa_direct) {
        static struct env e;
        env_up(&e, "vscn6");
        net_up(&e);
        if (!e.net.lso4)
                TEST_SKIP("the provider offered no LSOv2 for IPv4 (no vnet header on this TAP)");
        int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x0800));
        ASSERT_GE(ps, 0);
        struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(0x0800),
                                  .sll_ifindex = (int)if_nametoindex("vscn6") };
        ASSERT_OK(bind(ps, (struct sockaddr *)&sa, sizeof sa));
        const uint32_t len = 30000, l4 = 34;
        /* the frame in guest memory (the sim's RAM), crossing pages */
        uint8_t *f = e.bus.ops->alloc_pages(e.bus.ctx, (len + 4095) / 4096 + 1);
        ASSERT_NOT_NULL(f);
        f += 100; /* not page-aligned */
        memcpy(f, e.host_mac, 6);
        memcpy(f + 6, e.net.mac, 6);
        f[12] = 0x08, f[13] = 0x00;
        uint8_t *ip = f + 14, *tcp = f + l4;
        memset(ip, 0, 20);
        ip[0] = 0x45, ip[8] = 64, ip[9] = 6; /* tot_len 0, as netvsc sends LSO frames */
        inet_pton(AF_INET, NT_GUEST_IP, ip + 12);
        inet_pton(AF_INET, NT_HOST_IP, ip + 16);
        memset(tcp, 0, 20);
        tcp[0] = 0x9c, tcp[1] = 0x41, tcp[2] = 0x23, tcp[3] = 0x28; /* 40001 -> 9000 */
        tcp[12] = 5 << 4, tcp[13] = 0x18;                            /* ACK PSH */
        tcp[14] = 0xff, tcp[15] = 0xff;
        for (uint32_t i = l4 + 20; i < len; i++)
                f[i] = (uint8_t)(i * 7);
        /* a datagram in the section being filled goes out first */
        uint8_t u[128], payload[20] = { 0 };
        size_t ulen = nt_udp(u, e.host_mac, e.net.mac, NT_GUEST_IP, NT_HOST_IP, 4000, 9000, payload, sizeof payload,
                             false);
        ASSERT_OK(vsc_net_send(&e.net, u, (uint32_t)ulen));
        int slot = vsc_net_send_lso(&e.net, f, len, 1448, l4, false);
        ASSERT_GE(slot, 0);
        ASSERT_TRUE(vsc_net_lso_busy(&e.net, (unsigned)slot));
        ASSERT_EQ(vsc_net_tx_pending(&e.net), 2u); /* the section and the LSO send */
        ASSERT_OK(vsc_net_flush(&e.net));
        static uint8_t got[65536];
        ssize_t k = -1;
        bool udp_first = false;
        for (uint64_t end = nt_now_ms() + 3000; nt_now_ms() < end;) {
                ASSERT_OK(vsc_net_poll(&e.net, 0));
                struct sockaddr_ll from;
                socklen_t fl = sizeof from;
                k = recvfrom(ps, got, sizeof got, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
                if (k > 0 && from.sll_pkttype != PACKET_OUTGOING && k == (ssize_t)ulen && got[23] == 17)
                        udp_first = true;
                if (k > 0 && from.sll_pkttype != PACKET_OUTGOING && k >= (ssize_t)(l4 + 4) && got[l4 - 20 + 9] == 6 &&
                    got[l4] == 0x9c && got[l4 + 1] == 0x41)
                        break;
                k = -1;
        }
        ASSERT_TRUE(udp_first); /* in the order sent */
        ASSERT_EQ(k, (ssize_t)len); /* one GSO frame, not segments */
        ASSERT_EQ((uint32_t)got[16] << 8 | got[17], len - 14); /* the host set the real length */
        uint32_t sum = 0;
        for (int i = 14; i < 34; i += 2)
                sum += (uint32_t)got[i] << 8 | got[i + 1];
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        ASSERT_EQ(sum, 0xffffu); /* and a valid header checksum */
        ASSERT_MEMEQ(got + l4 + 20, f + l4 + 20, len - l4 - 20);
        for (uint64_t end = nt_now_ms() + 3000; vsc_net_tx_pending(&e.net) && nt_now_ms() < end;)
                ASSERT_OK(vsc_net_poll(&e.net, 0));
        ASSERT_FALSE(vsc_net_lso_busy(&e.net, (unsigned)slot));
        ASSERT_EQ(e.net.stats.tx_errors, 0u);
        ASSERT_EQ(e.net.stats.bogus_completions, 0u);
        /* refused before anything is queued */
        ASSERT_EQ(vsc_net_send_lso(&e.net, f, VSC_NET_LSO_FRAME_MAX + 1, 1448, l4, false), -EMSGSIZE);
        ASSERT_EQ(vsc_net_send_lso(&e.net, f, len, 0, l4, false), -EMSGSIZE);
        close(ps);
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

static bool got_tcp_frame(struct env *e) {
        return e->last_len > 54 && e->last[23] == 6;
}

/* RSC: the client asks for it, the provider turns the TAP's TSO on, and a
 * TCP GSO frame the kernel sends out of the TAP reaches the client whole,
 * reassembled from its fragments, its checksum completed. */
TEST(client_receives_coalesced_frames) {
        static struct env e;
        env_up(&e, "vscn7");
        net_up_rsc(&e, true);
        ASSERT_TRUE(e.net.rsc);
        int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), one = 1;
        ASSERT_GE(ps, 0);
        ASSERT_OK(setsockopt(ps, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one));
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("vscn7"), .sll_halen = 6 };
        memcpy(sll.sll_addr, e.net.mac, 6);
        static uint8_t buf[70000], data[50000];
        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (uint8_t)(i * 11 + 3);
        struct virtio_net_hdr vh;
        uint8_t *f = buf + sizeof vh;
        size_t n = nt_tcp_gso4(f, e.net.mac, e.host_mac, NT_HOST_IP, NT_GUEST_IP, 5001, 9000, 1, data, sizeof data, &vh);
        memcpy(buf, &vh, sizeof vh);
        /* the provider's thread switches the TAP once it handled the SET */
        ssize_t sent = -1;
        for (uint64_t end = nt_now_ms() + 3000; nt_now_ms() < end && !got_tcp_frame(&e);) {
                if (sent < 0)
                        sent = sendto(ps, buf, sizeof vh + n, 0, (struct sockaddr *)&sll, sizeof sll);
                ASSERT_OK(vsc_net_poll(&e.net, 0));
                br_idle(&e.br, 0);
        }
        ASSERT_EQ(sent, (ssize_t)(sizeof vh + n));
        ASSERT_TRUE(got_tcp_frame(&e));
        ASSERT_EQ(e.last_len, (uint32_t)n); /* one frame, not segments */
        ASSERT_EQ(e.net.stats.rx_coalesced, 1u);
        ASSERT_EQ(e.net.stats.rx_rsc_dropped, 0u);
        ASSERT_MEMEQ(e.last + 54, data, sizeof data);
        ASSERT_EQ(nt_csum(e.last + 34, n - 34, nt_pseudo4(e.last + 14, 6, n - 34)), 0);
        close(ps);
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

static bool link_down(struct env *e) {
        return !e->net.link_up;
}
static bool link_up(struct env *e) {
        return e->net.link_up;
}

static void set_admin(const char *ifname, bool up) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL, *chg = rtnl_link_alloc();
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, ifname, &l));
        if (up)
                rtnl_link_set_flags(chg, IFF_UP);
        else
                rtnl_link_unset_flags(chg, IFF_UP);
        ASSERT_OK(rtnl_link_change(sk, l, chg, 0));
        rtnl_link_put(l);
        rtnl_link_put(chg);
        nl_socket_free(sk);
}

TEST(client_sees_link_changes) {
        struct env e;
        env_up(&e, "vscn2");
        net_up(&e);
        set_admin("vscn2", false);
        ASSERT_TRUE(poll_until(&e, link_down, 3000));
        set_admin("vscn2", true);
        ASSERT_TRUE(poll_until(&e, link_up, 3000));
        ASSERT_GE(e.net.stats.indications, 2u);
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

/* Malformed RNDIS from the guest: error statuses, and the NIC still works. */
TEST(client_malformed_rndis_gets_errors) {
        struct env e;
        env_up(&e, "vscn3");
        net_up(&e);
        uint32_t st;
        /* QUERY whose info buffer lies beyond the message: FAILURE */
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, 900, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, 64, 20, 0 };
        ASSERT_OK(vsc_net_control_raw(&e.net, q, sizeof q, RNDIS_MSG_QUERY_C, &st));
        ASSERT_EQ(st, (uint32_t)NVSP_STAT_SUCCESS);
        struct vsc_rndis_msg m;
        ASSERT_OK(vsc_rndis_parse(e.net.resp, e.net.resp_len, &m));
        ASSERT_EQ(m.status, RNDIS_STATUS_FAILURE);
        /* a message whose msg_len runs past what was sent: INVALID_RNDIS_PKT */
        uint32_t bad[4] = { RNDIS_MSG_PACKET, 4000, 36, 3000 };
        ASSERT_OK(vsc_net_control_raw(&e.net, bad, sizeof bad, 0, &st));
        ASSERT_EQ(st, (uint32_t)NVSP_STAT_INVALID_RNDIS_PKT);
        /* still a working NIC */
        uint8_t f[64];
        size_t len = nt_arp_request(f, e.net.mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_OK(vsc_net_send(&e.net, f, (uint32_t)len));
        ASSERT_OK(vsc_net_flush(&e.net));
        ASSERT_TRUE(poll_until(&e, got_arp_reply, 3000));
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

/* A request the host completes but never answers (HALT has no response):
 * the wait ends at the deadline with a line that names it. */
TEST(client_times_out_with_a_clear_line) {
        struct env e;
        env_up(&e, "vscn4");
        net_up(&e);
        e.bus.timeout_ns = 300000000ull;
        uint32_t halt[3] = { RNDIS_MSG_HALT, 12, 77 }, st = 0;
        uint64_t t0 = nt_now_ms();
        ASSERT_ERROR(vsc_net_control_raw(&e.net, halt, sizeof halt, RNDIS_MSG_INIT_C, &st), ETIMEDOUT);
        ASSERT_GE(nt_now_ms() - t0, 300u);
        ASSERT_LT(nt_now_ms() - t0, 3000u);
        ASSERT_STREQ(vsc_bus_error(&e.bus), "timeout: no RNDIS HALT response from the host within 300 ms");
        e.bus.timeout_ns = 5000000000ull;
        ASSERT_OK(vsc_net_close(&e.net));
        env_down(&e);
}

/* ---- the client's parsers against a hostile host (no root needed) ---- */

static void put32(uint8_t *p, uint32_t v) {
        memcpy(p, &v, 4);
}

TEST(parse_rndis_packet_bounds) {
        uint8_t m[128] = { 0 };
        struct vsc_rndis_msg r;
        put32(m, RNDIS_MSG_PACKET);
        put32(m + 4, 44 + 60);
        put32(m + 8, 36);
        put32(m + 12, 60);
        ASSERT_OK(vsc_rndis_parse(m, sizeof m, &r));
        ASSERT_EQ(r.info_len, 60u);
        ASSERT_TRUE(r.info == m + 44);
        ASSERT_ERROR(vsc_rndis_parse(m, 100, &r), EPROTO); /* msg_len beyond the range */
        put32(m + 12, 61);
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EPROTO); /* data past msg_len */
        put32(m + 12, 60);
        put32(m + 8, 96);
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EPROTO); /* data_offset >= body */
        put32(m + 8, 36);
        put32(m + 28, 36); /* PPIs at the data, running past the message */
        put32(m + 32, 200);
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EPROTO);
        put32(m + 32, 0);
        put32(m + 4, 4);
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EPROTO); /* msg_len < header */
        put32(m, 0x80000006); /* RESET_C: netvsc does not handle it */
        put32(m + 4, 16);
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EOPNOTSUPP);
}

TEST(parse_query_complete_bounds) {
        uint8_t m[64] = { 0 };
        struct vsc_rndis_msg r;
        put32(m, RNDIS_MSG_QUERY_C);
        put32(m + 4, 30);
        put32(m + 8, 7);
        put32(m + 16, 6);
        put32(m + 20, 16);
        ASSERT_OK(vsc_rndis_parse(m, sizeof m, &r));
        ASSERT_EQ(r.req_id, 7u);
        ASSERT_EQ(r.info_len, 6u);
        put32(m + 20, 12); /* inside the header (§7.4: >= 16) */
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EPROTO);
        put32(m + 20, 16);
        put32(m + 16, 7); /* one byte past msg_len */
        ASSERT_ERROR(vsc_rndis_parse(m, sizeof m, &r), EPROTO);
        put32(m + 4, 5000); /* a response larger than Linux's buffer */
        uint8_t big[5000] = { 0 };
        memcpy(big, m, 24);
        ASSERT_ERROR(vsc_rndis_parse(big, sizeof big, &r), EPROTO);
}

TEST(parse_xfer_packet_checks) {
        uint8_t p[96] = { 0 };
        struct vsc_packet pk = { .type = VM_PKT_DATA_USING_XFER_PAGES, .len = 56, .payload_off = 40 };
        struct vsc_net_xfer x;
        uint16_t id = NVSP_RECV_BUF_ID;
        memcpy(p + 16, &id, 2);
        put32(p + 20, 2);
        put32(p + 40, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        ASSERT_OK(vsc_net_parse_xfer(p, &pk, &x));
        ASSERT_EQ(x.range_cnt, 2u);
        put32(p + 20, 3); /* ranges overlap the payload */
        ASSERT_ERROR(vsc_net_parse_xfer(p, &pk, &x), EPROTO);
        put32(p + 20, 0);
        ASSERT_ERROR(vsc_net_parse_xfer(p, &pk, &x), EPROTO);
        put32(p + 20, 2);
        id = 0xcaff;
        memcpy(p + 16, &id, 2);
        ASSERT_ERROR(vsc_net_parse_xfer(p, &pk, &x), EPROTO); /* not the receive buffer */
        id = NVSP_RECV_BUF_ID;
        memcpy(p + 16, &id, 2);
        put32(p + 40, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE); /* netvsc checks the NVSP type */
        ASSERT_ERROR(vsc_net_parse_xfer(p, &pk, &x), EPROTO);
        put32(p + 40, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        pk.len = 48; /* NVSP message shorter than 16 bytes */
        ASSERT_ERROR(vsc_net_parse_xfer(p, &pk, &x), EPROTO);
}

TEST_MAIN();
