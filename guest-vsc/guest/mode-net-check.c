// SPDX-License-Identifier: MIT
/* vsc.mode=net-check: the synthetic NIC end to end (docs/guest-vsc.md).
 * At CPL0: bring-up (Linux 6.1's sequence), then two malformed RNDIS
 * messages that must be answered with errors. At CPL3, polling with the
 * inbound interrupt_mask set: ARP for the peer, ICMP echo to it, UDP
 * datagrams to vsc.port that the peer echoes back, each checked byte for
 * byte. Options: vsc.ip=, vsc.peer= (required), vsc.port= (7777),
 * vsc.icmp_n= (5), vsc.udp_n= (10), vsc.udp_size= (64), vsc.udp_retries=
 * (0: a datagram without its echo fails the mode; N: sent again up to N
 * times, each after vsc.udp_retry_ms= (200) without its echo, as a UDP
 * application over a lossy network would; counted as "resent"),
 * vsc.udp_ms= (0: none; N: no new datagram once N ms of the guest's time
 * have passed since the first, so that traffic meant to outlast a host's
 * test steps lasts as long on a busy host as on an idle one; "sent=" is
 * then what was sent). */
#include "mode-net.h"

#define ICMP_ID 0x5653
#define UDP_SPORT 40000

struct check {
        struct net_mode *m;
        unsigned icmp_n, udp_n, udp_size, udp_retries, udp_resent, udp_sent;
        uint64_t timeout_ns, retry_ns, udp_window_ns;
        /* what came back */
        uint16_t want_seq;
        bool got;
        uint64_t rtt_min, rtt_sum, arp_us;
        unsigned icmp_ok, udp_ok;
        uint8_t payload[1400];
        int err;
        char why[120];
};

static void fill(uint8_t *p, unsigned n, unsigned seq) {
        for (unsigned i = 0; i < n; i++)
                p[i] = (uint8_t)(seq * 7 + i);
}

/* Frames the responder left: the echo we wait for. */
static void on_frame(struct net_mode *m, const struct vsc_ip_frame *fr, const uint8_t *f, uint32_t len) {
        struct check *c = m->priv;
        if (fr->kind == VSC_IP_ICMP_ECHO_REPLY && fr->sip == m->peer && fr->id == ICMP_ID && fr->seq == c->want_seq)
                c->got = fr->data_len == 56 && !memcmp(fr->data, c->payload, 56);
        else if (fr->kind == VSC_IP_UDP && fr->sip == m->peer && fr->sport == m->port && fr->dport == UDP_SPORT &&
                 fr->data_len == c->udp_size)
                c->got = !memcmp(fr->data, c->payload, c->udp_size);
}

static int fail(struct check *c, int r, const char *what, unsigned i) {
        c->err = r;
        vsc_snprintf(c->why, sizeof c->why, "%s %u: %s", what, i, r == -ETIMEDOUT ? "no answer in time" : "send failed");
        return r;
}

/* Sends frame and polls until on_frame saw the answer. Returns its RTT. */
static long exchange(struct check *c, const uint8_t *frame, uint32_t len, uint64_t *rtt) {
        uint64_t t0 = clock_ns(), deadline = t0 + c->timeout_ns;
        c->got = false;
        int r = net_mode_send_now(c->m, frame, len, deadline);
        if (r < 0)
                return r;
        while (!c->got) {
                if (clock_ns() >= deadline)
                        return -ETIMEDOUT;
                r = net_mode_poll(c->m); /* packets handled, or < 0 */
                if (r < 0)
                        return r;
                cpu_relax();
        }
        *rtt = clock_ns() - t0;
        return 0;
}

static long check_loop(void *arg) {
        struct check *c = arg;
        struct net_mode *m = c->m;
        uint8_t f[1600];
        uint64_t t0 = clock_ns(), rtt;
        long r = net_mode_resolve_peer(m, t0 + c->timeout_ns);
        if (r < 0)
                return fail(c, (int)r, "ARP for the peer, try", 1);
        c->arp_us = (clock_ns() - t0) / 1000;
        c->rtt_min = ~0ull;
        for (unsigned i = 0; i < c->icmp_n; i++) {
                fill(c->payload, 56, i);
                c->want_seq = (uint16_t)i;
                uint32_t len = (uint32_t)vsc_ip_icmp_echo(f, m->peer_mac, m->net.mac, m->ip, m->peer, 8, ICMP_ID,
                                                          (uint16_t)i, c->payload, 56);
                if ((r = exchange(c, f, len, &rtt)) < 0)
                        return fail(c, (int)r, "ICMP echo", i);
                c->icmp_ok++;
                c->rtt_sum += rtt;
                c->rtt_min = rtt < c->rtt_min ? rtt : c->rtt_min;
        }
        uint64_t udp_t0 = clock_ns();
        for (unsigned i = 0; i < c->udp_n; i++) {
                if (c->udp_window_ns && clock_ns() - udp_t0 >= c->udp_window_ns)
                        break;
                c->udp_sent++;
                fill(c->payload, c->udp_size, i + 1000);
                uint32_t len = (uint32_t)vsc_ip_udp(f, m->peer_mac, m->net.mac, m->ip, m->peer, UDP_SPORT, m->port,
                                                    c->payload, c->udp_size);
                for (unsigned t = 0;; t++) {
                        uint64_t full = c->timeout_ns;
                        if (t < c->udp_retries)
                                c->timeout_ns = c->retry_ns;
                        r = exchange(c, f, len, &rtt);
                        c->timeout_ns = full;
                        if (r != -ETIMEDOUT || t >= c->udp_retries)
                                break;
                        c->udp_resent++;
                }
                if (r < 0)
                        return fail(c, (int)r, "UDP echo of datagram", i);
                c->udp_ok++;
        }
        return 0;
}

/* Malformed RNDIS (§7.4): an error status each, and the NIC goes on. */
static int malformed(struct net_mode *m) {
        struct vsc_rndis_msg resp;
        uint32_t st = 0;
        /* a QUERY whose information buffer lies beyond the message */
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, 0x7fff0001, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, 64, 20, 0 };
        int r = vsc_net_control_raw(&m->net, q, sizeof q, RNDIS_MSG_QUERY_C, &st);
        if (r < 0)
                return guest_fail(r, "malformed QUERY: %s", vsc_bus_error(&m->g->bus));
        if (vsc_rndis_parse(m->net.resp, m->net.resp_len, &resp) < 0 || resp.status == RNDIS_STATUS_SUCCESS)
                return guest_fail(-EPROTO, "malformed QUERY was answered with status 0x%x", resp.status);
        report("net_malformed=query status=0x%x nvsp_status=%u", resp.status, st);
        /* a message claiming more bytes than were sent */
        uint32_t p[4] = { RNDIS_MSG_PACKET, 4000, 36, 3000 };
        r = vsc_net_control_raw(&m->net, p, sizeof p, 0, &st);
        if (r < 0)
                return guest_fail(r, "malformed PACKET: %s", vsc_bus_error(&m->g->bus));
        if (st != NVSP_STAT_INVALID_RNDIS_PKT)
                return guest_fail(-EPROTO, "malformed PACKET was completed with NVSP status %u", st);
        report("net_malformed=packet nvsp_status=%u", st);
        return 0;
}

int mode_net_check(struct guest *g) {
        struct net_mode *m = net_mode_alloc(); /* ~16 KiB: not on the 16 KiB stack */
        if (!m)
                return guest_fail(-ENOMEM, "no pages for the NIC state");
        struct check c = { .m = m, .timeout_ns = g->timeout_ns };
        int r = net_mode_open(g, m);
        if (r < 0)
                return r;
        m->on_frame = on_frame;
        m->priv = &c;
        c.icmp_n = (unsigned)net_mode_opt(g, "vsc.icmp_n", 0, 1000, 5);
        c.udp_n = (unsigned)net_mode_opt(g, "vsc.udp_n", 0, 100000, 10);
        c.udp_size = (unsigned)net_mode_opt(g, "vsc.udp_size", 1, 1400, 64);
        c.udp_retries = (unsigned)net_mode_opt(g, "vsc.udp_retries", 0, 100, 0);
        c.retry_ns = (uint64_t)net_mode_opt(g, "vsc.udp_retry_ms", 1, 60000, 200) * 1000000u;
        c.udp_window_ns = (uint64_t)net_mode_opt(g, "vsc.udp_ms", 0, 3600000, 0) * 1000000u;
        r = malformed(m);
        if (r == 0) {
                vsc_channel_mask(&m->net.ch, true); /* polling from here on (§5.6) */
                long k = cpu_run_user(check_loop, &c, false);
                vsc_channel_mask(&m->net.ch, false);
                if (k < 0)
                        r = guest_fail((int)k, "%s (%s)", c.why, vsc_bus_error(&g->bus));
        }
        if (c.arp_us)
                report("arp=ok peer_mac=%02x:%02x:%02x:%02x:%02x:%02x us=%lu", m->peer_mac[0], m->peer_mac[1],
                       m->peer_mac[2], m->peer_mac[3], m->peer_mac[4], m->peer_mac[5], c.arp_us);
        if (c.icmp_ok)
                report("icmp=%s sent=%u received=%u rtt_us_min=%lu rtt_us_avg=%lu", c.icmp_ok == c.icmp_n ? "ok" : "fail",
                       c.icmp_n, c.icmp_ok, c.rtt_min / 1000, c.rtt_sum / c.icmp_ok / 1000);
        if (r == 0)
                report("udp=ok sent=%u received=%u size=%u port=%u resent=%u", c.udp_sent, c.udp_ok, c.udp_size, m->port,
                       c.udp_resent);
        return net_mode_close(m, r);
}
