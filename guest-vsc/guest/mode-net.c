// SPDX-License-Identifier: MIT
/* The NIC of the network modes (mode-net.h): bring-up through the netvsc
 * client at CPL0, a responder that keeps the host able to reach us (ARP
 * replies, ICMP echo replies) and polling helpers for the CPL3 loops. */
#include "mode-net.h"

static const uint8_t nic_class[16] = HV_NIC_GUID;

struct net_mode *net_mode_alloc(void) {
        return mem_alloc_pages((sizeof(struct net_mode) + 4095) / 4096);
}

uint64_t net_mode_opt(const struct guest *g, const char *key, uint64_t lo, uint64_t hi, uint64_t dflt) {
        char v[24];
        bool ok = false;
        uint64_t n = 0;
        if (boot_cmdline_get(&g->boot, key, v, sizeof v) == 0)
                n = parse_u64(v, &ok);
        return ok && n >= lo && n <= hi ? n : dflt;
}

static int addr_opt(const struct guest *g, const char *key, uint32_t *out) {
        char v[24];
        if (boot_cmdline_get(&g->boot, key, v, sizeof v) < 0 || !vsc_ip_parse_addr(v, out))
                return guest_fail(-EINVAL, "%s=a.b.c.d is required", key);
        return 0;
}

static void queue_reply(struct net_mode *m, uint32_t len) {
        if (vsc_net_send(&m->net, m->tx, len) == 0)
                m->reply_queued = true;
        else
                m->replies_dropped++; /* the peer retries */
}

/* The responder: what a stack does for the host without being asked. */
static void on_rx(void *opaque, const uint8_t *f, uint32_t len) {
        struct net_mode *m = opaque;
        struct vsc_ip_frame fr;
        vsc_ip_parse(f, len, &fr);
        if (fr.kind == VSC_IP_ARP_REQUEST && fr.dip == m->ip) {
                m->arp_answered++;
                queue_reply(m, (uint32_t)vsc_ip_arp_reply(m->tx, m->net.mac, m->ip, fr.src_mac, fr.sip));
                return;
        }
        if (fr.kind == VSC_IP_ARP_REPLY && fr.sip == m->peer) {
                memcpy(m->peer_mac, fr.src_mac, 6);
                m->peer_mac_ok = true;
                return;
        }
        if (fr.kind == VSC_IP_ICMP_ECHO_REQUEST && fr.dip == m->ip && fr.data_len <= 1400) {
                m->icmp_answered++;
                queue_reply(m, (uint32_t)vsc_ip_icmp_echo(m->tx, fr.src_mac, m->net.mac, m->ip, fr.sip, 0, fr.id, fr.seq,
                                                          fr.data, fr.data_len));
                return;
        }
        if (m->on_frame)
                m->on_frame(m, &fr, f, len);
}

int net_mode_poll(struct net_mode *m) {
        int r = vsc_net_poll(&m->net, 0);
        if (m->reply_queued) {
                m->reply_queued = false;
                (void)vsc_net_flush(&m->net);
        }
        return r;
}

int net_mode_send_now(struct net_mode *m, const void *frame, uint32_t len, uint64_t deadline_ns) {
        for (;;) {
                int r = vsc_net_send(&m->net, frame, len);
                if (r == 0)
                        r = vsc_net_flush(&m->net);
                if (r != -EAGAIN)
                        return r;
                if (clock_ns() >= deadline_ns)
                        return -ETIMEDOUT;
                r = net_mode_poll(m);
                if (r < 0)
                        return r;
        }
}

int net_mode_resolve_peer(struct net_mode *m, uint64_t deadline_ns) {
        uint8_t f[64];
        uint32_t len = (uint32_t)vsc_ip_arp_request(f, m->net.mac, m->ip, m->peer);
        uint64_t next = 0;
        while (!m->peer_mac_ok) {
                uint64_t now = clock_ns();
                if (now >= deadline_ns)
                        return -ETIMEDOUT;
                if (now >= next) {
                        int r = net_mode_send_now(m, f, len, deadline_ns);
                        if (r < 0)
                                return r;
                        next = now + 500000000ull;
                }
                int r = net_mode_poll(m);
                if (r < 0)
                        return r;
                cpu_relax();
        }
        return 0;
}

static void report_up(const struct net_mode *m, uint64_t open_us) {
        const struct vsc_net *n = &m->net;
        const struct ndis_offload *c = &n->hwcaps;
        report("net=up nvsp=%u.%u mac=%02x:%02x:%02x:%02x:%02x:%02x mtu=%u link=%s speed_mbps=%u name=%s open_us=%lu",
               n->nvsp_version >> 16, n->nvsp_version & 0xffff, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
               n->mac[5], n->max_frame_size, n->link_up ? "up" : "down", n->link_speed / 10000,
               n->friendly_name[0] ? n->friendly_name : "-", open_us);
        report("net_buffers recv_kib=%u slot=%u slots=%u send_kib=%u section=%u sections=%u max_pkt_per_msg=%u align=%u",
               n->recv_len / 1024, n->recv_slot_size, n->recv_slots, n->send_len / 1024, n->section_size, n->sections,
               n->max_pkt_per_msg, n->pkt_align);
        report("net_offload tx_csum_ip4=0x%x tx_csum_ip6=0x%x lso_ip4=%u lso_ip6=%u rsc=%u rss_queues=%u",
               c->csum.ip4_txcsum, c->csum.ip6_txcsum, c->lsov2.ip4_encap ? c->lsov2.ip4_maxsz : 0,
               c->lsov2.ip6_encap ? c->lsov2.ip6_maxsz : 0, c->rsc.ip4 && c->rsc.ip6, n->rss_queues);
}

int net_mode_open(struct guest *g, struct net_mode *m) {
        m->g = g;
        int r = addr_opt(g, "vsc.ip", &m->ip);
        if (r == 0)
                r = addr_opt(g, "vsc.peer", &m->peer);
        if (r < 0)
                return r;
        m->port = (uint16_t)net_mode_opt(g, "vsc.port", 1, 65535, 7777);
        struct vsc_net_config cfg;
        vsc_net_config_default(&cfg);
        cfg.ring_bytes = (uint32_t)net_mode_opt(g, "vsc.net_ring_kib", 8, 4096, cfg.ring_bytes / 1024) * 1024;
        cfg.recv_buf_bytes = (uint32_t)net_mode_opt(g, "vsc.net_recv_kib", 4, 32768, cfg.recv_buf_bytes / 1024) * 1024;
        cfg.send_buf_bytes = (uint32_t)net_mode_opt(g, "vsc.net_send_kib", 8, 16384, cfg.send_buf_bytes / 1024) * 1024;
        cfg.rsc = net_mode_opt(g, "vsc.rsc", 0, 1, 0) == 1;
        /* a mode with other devices (soak) may have connected already */
        if (!g->bus.version && (r = guest_vmbus_connect(g)) < 0)
                return r;
        if (!g->bus.all_offers_delivered && (r = vsc_request_offers(&g->bus)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        const struct vsc_offer *o = vsc_find_offer(&g->bus, nic_class, 0);
        if (!o)
                return guest_fail(-ENOENT, "no NIC offered (class f8615163-df3e-46c5-913f-f2d2f965ed0e)");
        uint64_t t0 = clock_ns();
        if ((r = vsc_net_open(&g->bus, &m->net, o, &cfg)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        uint64_t open_us = (clock_ns() - t0) / 1000;
        vsc_net_set_rx(&m->net, on_rx, m);
        /* "ip link set up": directed, all-multicast, broadcast */
        if ((r = vsc_net_set_packet_filter(&m->net, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_ALL_MULTICAST |
                                                             NDIS_PACKET_TYPE_BROADCAST)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        report_up(m, open_us);
        return 0;
}

int net_mode_close_nic(struct net_mode *m) {
        const struct vsc_net_stats *s = &m->net.stats;
        report("net_stats tx_frames=%lu tx_sections=%lu tx_busy=%lu tx_errors=%lu rx_frames=%lu rx_xfer=%lu rx_bad=%lu "
               "indications=%lu bogus_completions=%lu arp_answered=%lu icmp_answered=%lu",
               s->tx_frames, s->tx_sections, s->tx_busy, s->tx_errors, s->rx_frames, s->rx_xfer_packets, s->rx_bad,
               s->indications, s->bogus_completions, m->arp_answered, m->icmp_answered);
        int r = vsc_net_close(&m->net);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&m->g->bus));
        report("net_close=ok");
        return 0;
}

int net_mode_close(struct net_mode *m, int status) {
        int r = net_mode_close_nic(m);
        if (r == 0)
                r = guest_vmbus_disconnect(m->g);
        return status < 0 ? status : r;
}
