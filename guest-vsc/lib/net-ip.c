// SPDX-License-Identifier: MIT
/* Ethernet/ARP/IPv4/ICMP/UDP for the test guest (vsc/net-ip.h): builders
 * and a parser that trusts nothing in a received frame. */
#include "vsc/net-ip.h"

#include "internal.h"

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
        put16(p, (uint16_t)(v >> 16));
        put16(p + 2, (uint16_t)v);
}
static uint16_t get16(const uint8_t *p) {
        return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p) {
        return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* One's complement sum, not yet folded or inverted. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum) {
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += get16(p + i);
        if (len & 1)
                sum += (uint32_t)p[len - 1] << 8;
        return sum;
}
static uint16_t fold(uint32_t sum) {
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)~sum;
}

bool vsc_ip_parse_addr(const char *s, uint32_t *out) {
        uint32_t a = 0;
        for (int part = 0; part < 4; part++) {
                uint32_t v = 0;
                int digits = 0;
                while (*s >= '0' && *s <= '9' && digits < 3) {
                        v = v * 10 + (uint32_t)(*s++ - '0');
                        digits++;
                }
                if (digits == 0 || v > 255 || (part < 3 && *s++ != '.'))
                        return false;
                a = a << 8 | v;
        }
        if (*s)
                return false;
        *out = a;
        return true;
}

static size_t eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type) {
        vsc_memcpy(f, dst, 6);
        vsc_memcpy(f + 6, src, 6);
        put16(f + 12, type);
        return VSC_ETH_HLEN;
}

static size_t arp(uint8_t *f, uint16_t op, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip,
                  const uint8_t tmac[6], uint32_t tip) {
        uint8_t *a = f + eth(f, dmac, smac, 0x0806);
        put16(a, 1);          /* Ethernet */
        put16(a + 2, 0x0800); /* IPv4 */
        a[4] = 6;
        a[5] = 4;
        put16(a + 6, op);
        vsc_memcpy(a + 8, smac, 6);
        put32(a + 14, sip);
        vsc_memcpy(a + 18, tmac, 6);
        put32(a + 24, tip);
        return VSC_ETH_HLEN + 28;
}

size_t vsc_ip_arp_request(uint8_t *f, const uint8_t smac[6], uint32_t sip, uint32_t tip) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6] = { 0 };
        return arp(f, 1, bcast, smac, sip, zero, tip);
}

size_t vsc_ip_arp_reply(uint8_t *f, const uint8_t smac[6], uint32_t sip, const uint8_t tmac[6], uint32_t tip) {
        return arp(f, 2, tmac, smac, sip, tmac, tip);
}

static size_t ip4(uint8_t *ip, uint8_t proto, uint32_t sip, uint32_t dip, uint32_t payload) {
        vsc_memset(ip, 0, 20);
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)(20 + payload));
        ip[6] = 0x40; /* DF */
        ip[8] = 64;
        ip[9] = proto;
        put32(ip + 12, sip);
        put32(ip + 16, dip);
        put16(ip + 10, fold(sum16(ip, 20, 0)));
        return 20;
}

size_t vsc_ip_icmp_echo(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip, uint32_t dip,
                        uint8_t type, uint16_t id, uint16_t seq, const void *data, uint32_t len) {
        size_t n = eth(f, dmac, smac, 0x0800);
        n += ip4(f + n, 1, sip, dip, 8 + len);
        uint8_t *ic = f + n;
        vsc_memset(ic, 0, 8);
        ic[0] = type;
        put16(ic + 4, id);
        put16(ic + 6, seq);
        if (len)
                vsc_memcpy(ic + 8, data, len);
        put16(ic + 2, fold(sum16(ic, 8 + (size_t)len, 0)));
        return n + 8 + len;
}

static uint32_t pseudo4(const uint8_t *ip, uint8_t proto, uint32_t l4len) {
        return sum16(ip + 12, 8, 0) + proto + l4len;
}

static void udp_csum(uint8_t *ip, uint8_t *u, uint32_t l4len) {
        put16(u + 6, 0);
        uint16_t c = fold(sum16(u, l4len, pseudo4(ip, 17, l4len)));
        put16(u + 6, c ? c : 0xffff); /* 0 means "no checksum" (RFC 768) */
}

size_t vsc_ip_udp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip, uint32_t dip,
                  uint16_t sport, uint16_t dport, const void *data, uint32_t len) {
        size_t n = eth(f, dmac, smac, 0x0800);
        uint8_t *ip = f + n;
        n += ip4(ip, 17, sip, dip, 8 + len);
        uint8_t *u = f + n;
        put16(u, sport);
        put16(u + 2, dport);
        put16(u + 4, (uint16_t)(8 + len));
        if (len)
                vsc_memcpy(u + 8, data, len);
        udp_csum(ip, u, 8 + len);
        return n + 8 + len;
}

void vsc_ip_udp_refresh(uint8_t *f, uint32_t len) {
        udp_csum(f + VSC_ETH_HLEN, f + VSC_ETH_HLEN + 20, len - VSC_ETH_HLEN - 20);
}

static void parse_arp(const uint8_t *a, uint32_t len, struct vsc_ip_frame *out) {
        if (len < 28 || get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4)
                return;
        uint16_t op = get16(a + 6);
        if (op != 1 && op != 2)
                return;
        vsc_memcpy(out->src_mac, a + 8, 6);
        out->sip = get32(a + 14);
        out->dip = get32(a + 24);
        out->kind = op == 1 ? VSC_IP_ARP_REQUEST : VSC_IP_ARP_REPLY;
}

static void parse_l4(const uint8_t *ip, const uint8_t *l4, uint32_t len, struct vsc_ip_frame *out) {
        if (ip[9] == 1 && len >= 8 && (l4[0] == 0 || l4[0] == 8) && l4[1] == 0 && fold(sum16(l4, len, 0)) == 0) {
                out->kind = l4[0] == 8 ? VSC_IP_ICMP_ECHO_REQUEST : VSC_IP_ICMP_ECHO_REPLY;
                out->id = get16(l4 + 4);
                out->seq = get16(l4 + 6);
                out->data = l4 + 8;
                out->data_len = len - 8;
                return;
        }
        if (ip[9] != 17 || len < 8 || get16(l4 + 4) < 8 || get16(l4 + 4) > len)
                return;
        uint32_t ulen = get16(l4 + 4);
        if (get16(l4 + 6) != 0 && fold(sum16(l4, ulen, pseudo4(ip, 17, ulen))) != 0)
                return;
        out->kind = VSC_IP_UDP;
        out->sport = get16(l4);
        out->dport = get16(l4 + 2);
        out->data = l4 + 8;
        out->data_len = ulen - 8;
}

void vsc_ip_parse(const uint8_t *f, uint32_t len, struct vsc_ip_frame *out) {
        vsc_memset(out, 0, sizeof *out);
        if (len < VSC_ETH_HLEN)
                return;
        vsc_memcpy(out->dst_mac, f, 6);
        vsc_memcpy(out->src_mac, f + 6, 6);
        uint16_t type = get16(f + 12);
        const uint8_t *p = f + VSC_ETH_HLEN;
        uint32_t rest = len - VSC_ETH_HLEN;
        if (type == 0x0806) {
                parse_arp(p, rest, out);
                return;
        }
        if (type != 0x0800 || rest < 20 || p[0] >> 4 != 4)
                return;
        uint32_t ihl = (uint32_t)(p[0] & 15) * 4, tot = get16(p + 2);
        /* no fragments (MF or an offset), header and total length inside */
        if (ihl < 20 || tot < ihl || tot > rest || (get16(p + 6) & 0x3fff) || fold(sum16(p, ihl, 0)) != 0)
                return;
        out->sip = get32(p + 12);
        out->dip = get32(p + 16);
        parse_l4(p, p + ihl, tot - ihl, out);
}
