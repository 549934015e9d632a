// SPDX-License-Identifier: MIT
/* QUERY and SET handlers for the OIDs Linux 6.1 issues
 * (docs/hyperv-guest-interface.md §7.5) plus the usual general ones. Output
 * sizes are exactly what the guest's result buffers hold (a MAC is 6 bytes,
 * not padded: a longer answer fails the probe). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "rndis-internal.h"

static const uint32_t supported_oids[] = {
        RNDIS_OID_GEN_SUPPORTED_LIST,        RNDIS_OID_GEN_HARDWARE_STATUS,
        RNDIS_OID_GEN_MEDIA_SUPPORTED,       RNDIS_OID_GEN_MEDIA_IN_USE,
        RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD,     RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE,
        RNDIS_OID_GEN_LINK_SPEED,            RNDIS_OID_GEN_CURRENT_PACKET_FILTER,
        RNDIS_OID_GEN_CURRENT_LOOKAHEAD,     RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE,
        RNDIS_OID_GEN_MEDIA_CONNECT_STATUS,  RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS,
        RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, RNDIS_OID_GEN_FRIENDLY_NAME,
        RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS,
        RNDIS_OID_802_3_PERMANENT_ADDRESS,   RNDIS_OID_802_3_CURRENT_ADDRESS,
        RNDIS_OID_802_3_MAXIMUM_LIST_SIZE,   RNDIS_OID_TCP_OFFLOAD_CURRENT_CONFIG,
        RNDIS_OID_TCP_OFFLOAD_PARAMETERS,    RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
};

static uint32_t put_bytes(uint8_t *out, uint32_t cap, const void *src, uint32_t n, uint32_t *out_len) {
        if (n > cap)
                return RNDIS_STATUS_BUFFER_OVERFLOW;
        memcpy(out, src, n);
        *out_len = n;
        return RNDIS_STATUS_SUCCESS;
}

static uint32_t put_u32(uint8_t *out, uint32_t cap, uint32_t v, uint32_t *out_len) {
        return put_bytes(out, cap, &v, sizeof v, out_len);
}

/* NDIS_OFFLOAD from a set of offload flags; the revision and size follow
 * the header the guest put into its query (rev 3/156 for NVSP >= 5, 2/144
 * for NVSP 4, 1/112 below, §7.5), defaulting to revision 3. */
static void fill_offload(struct ndis_offload *o, bool csum4, bool udp4, bool csum6, bool udp6, bool lso4, bool lso6,
                         bool rsc4, bool rsc6, uint32_t lso_max, const uint8_t *in, uint32_t in_len) {
        uint8_t rev = 3;
        if (in_len >= sizeof(struct ndis_object_header) && in[0] == NDIS_OBJECT_TYPE_OFFLOAD &&
            in[1] >= 1 && in[1] < 3)
                rev = in[1];
        *o = (struct ndis_offload){ 0 };
        o->header.type = NDIS_OBJECT_TYPE_OFFLOAD;
        o->header.revision = rev;
        o->header.size = rev == 1 ? NDIS_OFFLOAD_SIZE_6_0 : rev == 2 ? NDIS_OFFLOAD_SIZE_6_1 : NDIS_OFFLOAD_SIZE;
        /* Receive checksums: we only ever mark frames the host kernel verified. */
        o->csum.ip4_rxenc = o->csum.ip6_rxenc = NDIS_OFFLOAD_ENCAP_8023;
        o->csum.ip4_rxcsum = NDIS_RXCSUM_CAP_TCP4 | NDIS_RXCSUM_CAP_UDP4;
        o->csum.ip6_rxcsum = NDIS_RXCSUM_CAP_TCP6 | NDIS_RXCSUM_CAP_UDP6;
        if (csum4) {
                o->csum.ip4_txenc = NDIS_OFFLOAD_ENCAP_8023;
                o->csum.ip4_txcsum = NDIS_TXCSUM_ALL_TCP4 | (udp4 ? NDIS_TXCSUM_CAP_UDP4 : 0);
        }
        if (csum6) {
                o->csum.ip6_txenc = NDIS_OFFLOAD_ENCAP_8023;
                o->csum.ip6_txcsum = NDIS_TXCSUM_ALL_TCP6 | (udp6 ? NDIS_TXCSUM_CAP_UDP6 : 0);
        }
        if (lso4) {
                o->lsov2.ip4_encap = NDIS_OFFLOAD_ENCAP_8023;
                o->lsov2.ip4_maxsz = lso_max;
                o->lsov2.ip4_minsg = 2;
        }
        if (lso6) {
                o->lsov2.ip6_encap = NDIS_OFFLOAD_ENCAP_8023;
                o->lsov2.ip6_maxsz = lso_max;
                o->lsov2.ip6_minsg = 2;
                o->lsov2.ip6_opts = NDIS_LSOV2_CAP_IP6;
        }
        /* past a revision 2 structure's size: sent only in revision 3 */
        o->rsc.ip4 = rsc4;
        o->rsc.ip6 = rsc6;
}

static uint32_t query_offload(struct rndis_device *d, bool current, const uint8_t *in, uint32_t in_len,
                              uint8_t *out, uint32_t cap, uint32_t *out_len) {
        const struct rndis_offload_caps *c = &d->cfg.caps;
        const struct rndis_offload_state *s = &d->offload;
        struct ndis_offload o;
        if (current)
                fill_offload(&o, s->tx_csum_tcp4, s->tx_csum_udp4, s->tx_csum_tcp6, s->tx_csum_udp6,
                             s->lso_ip4, s->lso_ip6, s->rsc_ip4, s->rsc_ip6, c->lso_max_size, in, in_len);
        else
                fill_offload(&o, c->tx_csum_ip4, c->tx_csum_ip4, c->tx_csum_ip6, c->tx_csum_ip6,
                             c->lso_ip4, c->lso_ip6, c->rsc, c->rsc, c->lso_max_size, in, in_len);
        return put_bytes(out, cap, &o, o.header.size, out_len);
}

static uint32_t query_rss_caps(struct rndis_device *d, uint8_t *out, uint32_t cap, uint32_t *out_len) {
        struct ndis_recv_scale_cap rc = {
                .hdr = { NDIS_OBJECT_TYPE_RSS_CAPABILITIES, NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
                         sizeof(struct ndis_recv_scale_cap) },
                .cap_flag = NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4 | NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6,
                .num_int_msg = 1,
                /* < 2 keeps the guest on one channel (§7.8): no sub-channels offered. */
                .num_recv_que = d->cfg.rss_queues,
                .num_indirect_tabent = 128,
        };
        return put_bytes(out, cap, &rc, sizeof rc, out_len);
}

/* ASCII name as UTF-16LE with a terminating NUL: the guest converts it
 * with ucs2_as_utf8(), which stops at the NUL (§7.5, ≤ 512 bytes). */
static uint32_t query_friendly_name(struct rndis_device *d, uint8_t *out, uint32_t cap, uint32_t *out_len) {
        size_t n = strnlen(d->cfg.friendly_name, RNDIS_FRIENDLY_NAME_MAX);
        if (n == 0)
                return RNDIS_STATUS_NOT_SUPPORTED;
        if ((n + 1) * 2 > cap)
                return RNDIS_STATUS_BUFFER_OVERFLOW;
        for (size_t i = 0; i <= n; i++) {
                out[2 * i] = (uint8_t)d->cfg.friendly_name[i];
                out[2 * i + 1] = 0;
        }
        *out_len = (uint32_t)((n + 1) * 2);
        return RNDIS_STATUS_SUCCESS;
}

uint32_t rndis_oid_query(struct rndis_device *d, uint32_t oid, const uint8_t *in, uint32_t in_len,
                         uint8_t *out, uint32_t cap, uint32_t *out_len) {
        *out_len = 0;
        switch (oid) {
        case RNDIS_OID_GEN_SUPPORTED_LIST:
                return put_bytes(out, cap, supported_oids, sizeof supported_oids, out_len);
        case RNDIS_OID_GEN_HARDWARE_STATUS: /* NdisHardwareStatusReady */
        case RNDIS_OID_GEN_MEDIA_SUPPORTED:
        case RNDIS_OID_GEN_MEDIA_IN_USE:
                return put_u32(out, cap, RNDIS_MEDIUM_802_3, out_len);
        case RNDIS_OID_GEN_MAXIMUM_LOOKAHEAD:
        case RNDIS_OID_GEN_CURRENT_LOOKAHEAD:
        case RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE: /* without the Ethernet header */
                return put_u32(out, cap, d->cfg.mtu, out_len);
        case RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE:
                return put_u32(out, cap, d->cfg.mtu + 14, out_len);
        case RNDIS_OID_GEN_LINK_SPEED:
                return put_u32(out, cap, d->cfg.link_speed, out_len);
        case RNDIS_OID_GEN_MEDIA_CONNECT_STATUS:
                return put_u32(out, cap, d->link_up ? NDIS_MEDIA_STATE_CONNECTED : NDIS_MEDIA_STATE_DISCONNECTED,
                               out_len);
        case RNDIS_OID_GEN_MAXIMUM_SEND_PACKETS:
                return put_u32(out, cap, d->cfg.max_pkt_per_msg, out_len);
        case RNDIS_OID_GEN_CURRENT_PACKET_FILTER:
                return put_u32(out, cap, d->packet_filter, out_len);
        case RNDIS_OID_802_3_MAXIMUM_LIST_SIZE: /* no multicast list: ALL_MULTICAST is used */
                return put_u32(out, cap, 0, out_len);
        case RNDIS_OID_GEN_FRIENDLY_NAME:
                return query_friendly_name(d, out, cap, out_len);
        case RNDIS_OID_802_3_PERMANENT_ADDRESS:
                return put_bytes(out, cap, d->cfg.mac, 6, out_len);
        case RNDIS_OID_802_3_CURRENT_ADDRESS:
                return put_bytes(out, cap, d->current_mac, 6, out_len);
        case RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
                return query_offload(d, false, in, in_len, out, cap, out_len);
        case RNDIS_OID_TCP_OFFLOAD_CURRENT_CONFIG:
                return query_offload(d, true, in, in_len, out, cap, out_len);
        case RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES:
                return query_rss_caps(d, out, cap, out_len);
        default:
                return RNDIS_STATUS_NOT_SUPPORTED;
        }
}

/* ---- SET ---- */

static uint32_t set_packet_filter(struct rndis_device *d, const uint8_t *in, uint32_t in_len) {
        uint32_t f;
        if (in_len < sizeof f)
                return RNDIS_STATUS_FAILURE;
        f = rndis_get_u32(in);
        if (f != d->packet_filter)
                d->events |= RNDIS_EVENT_PACKET_FILTER;
        d->packet_filter = f;
        return RNDIS_STATUS_SUCCESS;
}

/* One NDIS_OFFLOAD_PARAMETERS checksum field (0 no change, 1 off, 2 TX,
 * 3 RX, 4 TX+RX): 1 when TX turns on, 0 when off, -1 no change, -2 invalid.
 * Receive-side values are accepted: RX checksum reporting is always on. */
static int csum_param(uint8_t v) {
        switch (v) {
        case NDIS_OFFLOAD_PARAMETERS_NO_CHANGE: return -1;
        case NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED:
        case NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED: return 0;
        case NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED:
        case NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED: return 1;
        default: return -2;
        }
}

/* LSOv2/RSC fields: 0 no change, 1 off, 2 on. */
static int onoff_param(uint8_t v) {
        return v == 0 ? -1 : v == 1 ? 0 : v == 2 ? 1 : -2;
}

/* Applies one parsed field to *flag if the capability allows it. */
static uint32_t apply(int want, bool capable, bool *flag) {
        if (want == -2)
                return RNDIS_STATUS_FAILURE;
        if (want == 1 && !capable)
                return RNDIS_STATUS_NOT_SUPPORTED;
        if (want >= 0)
                *flag = want;
        return RNDIS_STATUS_SUCCESS;
}

static uint32_t set_offload_params(struct rndis_device *d, const uint8_t *in, uint32_t in_len) {
        struct ndis_offload_params p = { 0 };
        const struct rndis_offload_caps *c = &d->cfg.caps;
        struct rndis_offload_state s = d->offload;
        bool unused = false;
        uint32_t st = RNDIS_STATUS_SUCCESS;
        uint16_t size;

        /* Linux sends 28 bytes, or 22 for NVSP <= 4 (with a revision 3 header). */
        if (in_len < NDIS_OFFLOAD_PARAMS_SIZE_V4 || in[0] != NDIS_OBJECT_TYPE_DEFAULT || in[1] < 1)
                return RNDIS_STATUS_FAILURE;
        size = rndis_get_u16(in + 2);
        if (size < NDIS_OFFLOAD_PARAMS_SIZE_V4 || size > in_len)
                return RNDIS_STATUS_FAILURE;
        memcpy(&p, in, MIN((size_t)size, sizeof p)); /* fields past size: 0 = no change */

        /* Validate everything into a copy; commit only if all of it is acceptable. */
        if (st == RNDIS_STATUS_SUCCESS) st = apply(csum_param(p.ip_v4_csum), false, &unused);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(csum_param(p.tcp_ip_v4_csum), c->tx_csum_ip4, &s.tx_csum_tcp4);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(csum_param(p.udp_ip_v4_csum), c->tx_csum_ip4, &s.tx_csum_udp4);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(csum_param(p.tcp_ip_v6_csum), c->tx_csum_ip6, &s.tx_csum_tcp6);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(csum_param(p.udp_ip_v6_csum), c->tx_csum_ip6, &s.tx_csum_udp6);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(onoff_param(p.lso_v2_ipv4), c->lso_ip4, &s.lso_ip4);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(onoff_param(p.lso_v2_ipv6), c->lso_ip6, &s.lso_ip6);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(onoff_param(p.lso_v1), false, &unused);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(onoff_param(p.rsc_ip_v4), c->rsc, &s.rsc_ip4);
        if (st == RNDIS_STATUS_SUCCESS) st = apply(onoff_param(p.rsc_ip_v6), c->rsc, &s.rsc_ip6);
        if (st != RNDIS_STATUS_SUCCESS)
                return st;
        if (memcmp(&s, &d->offload, sizeof s) != 0)
                d->events |= RNDIS_EVENT_OFFLOAD;
        d->offload = s;
        return RNDIS_STATUS_SUCCESS;
}

static int hex_digit(uint16_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* "NetworkAddress" in UTF-16LE, compared case-insensitively like NDIS does. */
static bool is_network_address(const uint8_t *name, uint32_t len) {
        static const char want[] = "networkaddress";
        if (len != 2 * (sizeof want - 1))
                return false;
        for (uint32_t i = 0; i < sizeof want - 1; i++) {
                uint16_t c = rndis_get_u16(name + 2 * i);
                if (c >= 'A' && c <= 'Z')
                        c = (uint16_t)(c + ('a' - 'A'));
                if (c != (uint8_t)want[i])
                        return false;
        }
        return true;
}

/* OID_GEN_RNDIS_CONFIG_PARAMETER: Linux sets the MAC with "NetworkAddress"
 * = 12 UTF-16 hex digits (§7.5). */
static uint32_t set_config_parameter(struct rndis_device *d, const uint8_t *in, uint32_t in_len) {
        struct rndis_config_parameter_info p;
        uint8_t mac[6];

        if (in_len < sizeof p)
                return RNDIS_STATUS_FAILURE;
        memcpy(&p, in, sizeof p);
        if (!rndis_range_ok(p.parameter_name_offset, p.parameter_name_length, in_len) ||
            !rndis_range_ok(p.parameter_value_offset, p.parameter_value_length, in_len))
                return RNDIS_STATUS_FAILURE;
        if (!is_network_address(in + p.parameter_name_offset, p.parameter_name_length))
                return RNDIS_STATUS_NOT_SUPPORTED;
        if (p.parameter_type != RNDIS_CONFIG_PARAM_TYPE_STRING || p.parameter_value_length != 24)
                return RNDIS_STATUS_FAILURE;
        for (unsigned i = 0; i < 6; i++) {
                int hi = hex_digit(rndis_get_u16(in + p.parameter_value_offset + 4 * i));
                int lo = hex_digit(rndis_get_u16(in + p.parameter_value_offset + 4 * i + 2));
                if (hi < 0 || lo < 0)
                        return RNDIS_STATUS_FAILURE;
                mac[i] = (uint8_t)(hi << 4 | lo);
        }
        /* A station address is unicast and not all-zero. */
        if ((mac[0] & 1) || memcmp(mac, (const uint8_t[6]){ 0 }, 6) == 0 || !d->cfg.allow_mac_change)
                return RNDIS_STATUS_FAILURE;
        if (memcmp(mac, d->current_mac, 6) != 0)
                d->events |= RNDIS_EVENT_MAC;
        memcpy(d->current_mac, mac, 6);
        return RNDIS_STATUS_SUCCESS;
}

/* OID_GEN_RECEIVE_SCALE_PARAMETERS (§7.5): validated and kept; with one
 * queue every indirection entry must name channel 0. */
static uint32_t set_rss_params(struct rndis_device *d, const uint8_t *in, uint32_t in_len) {
        struct ndis_recv_scale_param p;
        uint32_t n;

        if (in_len < sizeof p)
                return RNDIS_STATUS_FAILURE;
        memcpy(&p, in, sizeof p);
        if (p.hdr.type != NDIS_OBJECT_TYPE_RSS_PARAMETERS || p.hdr.size < sizeof p || p.hdr.size > in_len)
                return RNDIS_STATUS_FAILURE;
        if (p.flag & NDIS_RSS_PARAM_FLAG_DISABLE_RSS) {
                d->rss_enabled = false;
                d->events |= RNDIS_EVENT_RSS;
                return RNDIS_STATUS_SUCCESS;
        }
        n = p.indirect_tabsize / 4u;
        if (p.indirect_tabsize % 4u || n == 0 || n > RNDIS_RSS_TABLE_MAX ||
            !rndis_range_ok(p.indirect_taboffset, p.indirect_tabsize, in_len) ||
            p.hashkey_size != NDIS_RSS_HASH_KEY_SIZE || !rndis_range_ok(p.hashkey_offset, p.hashkey_size, in_len))
                return RNDIS_STATUS_FAILURE;
        for (uint32_t i = 0; i < n; i++)
                if (rndis_get_u32(in + p.indirect_taboffset + 4 * i) >= d->cfg.rss_queues)
                        return RNDIS_STATUS_FAILURE;
        for (uint32_t i = 0; i < n; i++)
                d->rss_table[i] = rndis_get_u32(in + p.indirect_taboffset + 4 * i);
        d->rss_table_len = n;
        memcpy(d->rss_key, in + p.hashkey_offset, NDIS_RSS_HASH_KEY_SIZE);
        d->rss_hashinfo = p.hashinfo;
        d->rss_enabled = true;
        d->events |= RNDIS_EVENT_RSS;
        return RNDIS_STATUS_SUCCESS;
}

uint32_t rndis_oid_set(struct rndis_device *d, uint32_t oid, const uint8_t *in, uint32_t in_len) {
        switch (oid) {
        case RNDIS_OID_GEN_CURRENT_PACKET_FILTER:
                return set_packet_filter(d, in, in_len);
        case RNDIS_OID_TCP_OFFLOAD_PARAMETERS:
                return set_offload_params(d, in, in_len);
        case RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER:
                return set_config_parameter(d, in, in_len);
        case RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS:
                return set_rss_params(d, in, in_len);
        default:
                return RNDIS_STATUS_NOT_SUPPORTED;
        }
}
