// SPDX-License-Identifier: MIT
/* RNDIS device: every request of docs/hyperv-guest-interface.md §7.5 with
 * exact response checks, the state machine, and malformed requests. The
 * QUERY_C checks are the ones Linux 6.1 applies (rndis_filter_query_device). */
#include "common/test.h"
#include "hv/rndis.h"
#include "rndis/device.h"

static const uint8_t test_mac[6] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03 };

struct reply {
        uint8_t b[RNDIS_MAX_RESPONSE_SIZE];
        int len;
};

static uint32_t u32_at(const uint8_t *p, size_t off) {
        uint32_t v;
        memcpy(&v, p + off, 4);
        return v;
}
static void put32(uint8_t *p, size_t off, uint32_t v) {
        memcpy(p + off, &v, 4);
}

static void new_device(struct rndis_device *d, bool init) {
        struct rndis_config cfg;
        rndis_config_init_defaults(&cfg);
        memcpy(cfg.mac, test_mac, 6);
        ASSERT_OK(rndis_device_init(d, &cfg));
        if (init) {
                uint8_t m[24] = { 0 };
                struct reply r;
                put32(m, 0, RNDIS_MSG_INIT);
                put32(m, 4, 24);
                put32(m, 8, 1);
                put32(m, 12, 1);
                put32(m, 20, 0x4000);
                r.len = rndis_device_control(d, m, sizeof m, r.b, sizeof r.b);
                ASSERT_EQ(r.len, 52);
                ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_SUCCESS);
        }
}

/* A QUERY as Linux builds it: body offset 20, optional input object. */
static int query(struct rndis_device *d, uint32_t req_id, uint32_t oid, const void *in, uint32_t in_len,
                 struct reply *r) {
        uint8_t m[28 + 256] = { 0 };
        put32(m, 0, RNDIS_MSG_QUERY);
        put32(m, 4, 28 + in_len);
        put32(m, 8, req_id);
        put32(m, 12, oid);
        put32(m, 16, in_len);
        put32(m, 20, 20);
        if (in_len)
                memcpy(m + 28, in, in_len);
        r->len = rndis_device_control(d, m, 28 + in_len, r->b, sizeof r->b);
        return r->len;
}

static int set(struct rndis_device *d, uint32_t req_id, uint32_t oid, const void *in, uint32_t in_len,
               struct reply *r) {
        uint8_t m[28 + 1024] = { 0 };
        put32(m, 0, RNDIS_MSG_SET);
        put32(m, 4, 28 + in_len);
        put32(m, 8, req_id);
        put32(m, 12, oid);
        put32(m, 16, in_len);
        put32(m, 20, 20);
        memcpy(m + 28, in, in_len);
        r->len = rndis_device_control(d, m, 28 + in_len, r->b, sizeof r->b);
        return r->len;
}

/* Linux's acceptance test of a QUERY_C for a result buffer of max bytes;
 * returns the info buffer length and checks the framing exactly. */
static uint32_t check_query_c(const struct reply *r, uint32_t req_id, uint32_t status, uint32_t max) {
        ASSERT_GE(r->len, 24);
        ASSERT_EQ(u32_at(r->b, 0), RNDIS_MSG_QUERY_C);
        uint32_t msg_len = u32_at(r->b, 4), len = u32_at(r->b, 16), off = u32_at(r->b, 20);
        ASSERT_EQ(msg_len, (uint32_t)r->len);
        ASSERT_LE(msg_len, RNDIS_MAX_RESPONSE_SIZE);
        ASSERT_EQ(u32_at(r->b, 8), req_id);
        ASSERT_EQ(u32_at(r->b, 12), status);
        ASSERT_EQ(off, 16u);
        ASSERT_LE(len, max);
        ASSERT_GE(msg_len - 8, off);
        ASSERT_GE(msg_len - 8 - off, len);
        ASSERT_EQ(msg_len, 24 + len); /* no trailing garbage */
        return len;
}

static void check_set_c(const struct reply *r, uint32_t req_id, uint32_t status) {
        ASSERT_EQ(r->len, 16);
        ASSERT_EQ(u32_at(r->b, 0), RNDIS_MSG_SET_C);
        ASSERT_EQ(u32_at(r->b, 4), 16u);
        ASSERT_EQ(u32_at(r->b, 8), req_id);
        ASSERT_EQ(u32_at(r->b, 12), status);
}

TEST(rndis_init_complete_layout) {
        struct rndis_device d;
        uint8_t m[24] = { 0 };
        struct reply r;
        new_device(&d, false);
        put32(m, 0, RNDIS_MSG_INIT);
        put32(m, 4, 24);
        put32(m, 8, 0x1234);
        put32(m, 12, 1);
        put32(m, 20, 0x4000);
        ASSERT_EQ(rndis_device_control(&d, m, sizeof m, r.b, sizeof r.b), 52);
        ASSERT_EQ(u32_at(r.b, 0), RNDIS_MSG_INIT_C);
        ASSERT_EQ(u32_at(r.b, 4), 52u);
        ASSERT_EQ(u32_at(r.b, 8), 0x1234u);           /* req_id */
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_SUCCESS);
        ASSERT_EQ(u32_at(r.b, 16), 1u);               /* major */
        ASSERT_EQ(u32_at(r.b, 20), 0u);               /* minor */
        ASSERT_EQ(u32_at(r.b, 24), RNDIS_DF_CONNECTIONLESS);
        ASSERT_EQ(u32_at(r.b, 28), RNDIS_MEDIUM_802_3);
        ASSERT_EQ(u32_at(r.b, 32), 8u);               /* max_pkt_per_msg */
        ASSERT_EQ(u32_at(r.b, 36), 0x4000u);          /* max_xfer_size */
        ASSERT_EQ(u32_at(r.b, 40), 3u);               /* pkt_alignment_factor: 8 bytes */
        ASSERT_EQ(u32_at(r.b, 44), 0u);
        ASSERT_EQ(u32_at(r.b, 48), 0u);
        ASSERT_EQ(d.state, RNDIS_STATE_INITIALIZED);
        ASSERT_EQ(rndis_device_take_events(&d), RNDIS_EVENT_INITIALIZED);
        ASSERT_EQ(rndis_device_take_events(&d), 0u);
}

TEST(rndis_init_wrong_major_fails) {
        struct rndis_device d;
        uint8_t m[24] = { 0 };
        struct reply r;
        new_device(&d, false);
        put32(m, 0, RNDIS_MSG_INIT);
        put32(m, 4, 24);
        put32(m, 8, 7);
        put32(m, 12, 2);
        ASSERT_EQ(rndis_device_control(&d, m, sizeof m, r.b, sizeof r.b), 52);
        ASSERT_EQ(u32_at(r.b, 8), 7u);
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_FAILURE);
        ASSERT_EQ(d.state, RNDIS_STATE_UNINITIALIZED);
}

TEST(rndis_query_max_frame_size) {
        struct rndis_device d;
        struct reply r;
        new_device(&d, true);
        query(&d, 2, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 2, RNDIS_STATUS_SUCCESS, 4), 4u);
        ASSERT_EQ(u32_at(r.b, 24), 1500u);
        query(&d, 3, RNDIS_OID_GEN_MAXIMUM_TOTAL_SIZE, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 3, RNDIS_STATUS_SUCCESS, 4), 4u);
        ASSERT_EQ(u32_at(r.b, 24), 1514u);
}

TEST(rndis_query_mac_is_exactly_six_bytes) {
        struct rndis_device d;
        struct reply r;
        new_device(&d, true);
        query(&d, 3, RNDIS_OID_802_3_PERMANENT_ADDRESS, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 3, RNDIS_STATUS_SUCCESS, 6), 6u); /* Linux's buffer is 6 bytes */
        ASSERT_MEMEQ(r.b + 24, test_mac, 6);
        query(&d, 4, RNDIS_OID_802_3_CURRENT_ADDRESS, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 4, RNDIS_STATUS_SUCCESS, 6), 6u);
        ASSERT_MEMEQ(r.b + 24, test_mac, 6);
}

TEST(rndis_query_friendly_name_utf16) {
        struct rndis_device d;
        struct reply r;
        static const char want[] = "Network Adapter";
        new_device(&d, true);
        query(&d, 4, RNDIS_OID_GEN_FRIENDLY_NAME, NULL, 0, &r);
        uint32_t n = check_query_c(&r, 4, RNDIS_STATUS_SUCCESS, 512);
        ASSERT_EQ(n, (uint32_t)(2 * sizeof want)); /* UTF-16 including the NUL */
        for (size_t i = 0; i < sizeof want; i++) {
                ASSERT_EQ(r.b[24 + 2 * i], (uint8_t)want[i]);
                ASSERT_EQ(r.b[24 + 2 * i + 1], 0);
        }
        d.cfg.friendly_name[0] = 0;
        query(&d, 5, RNDIS_OID_GEN_FRIENDLY_NAME, NULL, 0, &r);
        check_query_c(&r, 5, RNDIS_STATUS_NOT_SUPPORTED, 512);
}

static void offload_request(uint8_t rev, uint16_t size, uint8_t in[156]) {
        memset(in, 0, 156);
        in[0] = NDIS_OBJECT_TYPE_OFFLOAD;
        in[1] = rev;
        memcpy(in + 2, &size, 2);
}

/* Linux's rndis_query_hwcaps() acceptance, then the features it derives. */
static struct ndis_offload check_hwcaps(const struct reply *r, uint32_t req_id, uint8_t rev, uint16_t size) {
        struct ndis_offload o = { 0 };
        uint32_t n = check_query_c(r, req_id, RNDIS_STATUS_SUCCESS, sizeof o);
        ASSERT_EQ(n, (uint32_t)size);
        memcpy(&o, r->b + 24, n);
        ASSERT_EQ(o.header.type, NDIS_OBJECT_TYPE_OFFLOAD);
        ASSERT_EQ(o.header.revision, rev);
        ASSERT_EQ(o.header.size, size);
        ASSERT_LE(o.header.size, n);
        ASSERT_GE(o.header.size, NDIS_OFFLOAD_SIZE_6_0);
        return o;
}

TEST(rndis_query_offload_caps_all_zero_default) {
        struct rndis_device d;
        struct reply r;
        uint8_t in[156];
        new_device(&d, true);
        offload_request(3, 156, in);
        query(&d, 5, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 156, &r);
        struct ndis_offload o = check_hwcaps(&r, 5, 3, 156);
        ASSERT_EQ(o.csum.ip4_txcsum, 0u);
        ASSERT_EQ(o.csum.ip6_txcsum, 0u);
        ASSERT_EQ(o.lsov2.ip4_encap, 0u);
        ASSERT_EQ(o.lsov2.ip6_encap, 0u);
        ASSERT_EQ(o.rsc.ip4, 0);
        ASSERT_EQ(o.csum.ip4_rxcsum, NDIS_RXCSUM_CAP_TCP4 | NDIS_RXCSUM_CAP_UDP4);
        /* NVSP 4 asks with revision 2 / 144 bytes, older ones with 1 / 112. */
        offload_request(2, 144, in);
        query(&d, 6, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 144, &r);
        check_hwcaps(&r, 6, 2, 144);
        offload_request(1, 112, in);
        query(&d, 7, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 112, &r);
        check_hwcaps(&r, 7, 1, 112);
}

TEST(rndis_query_offload_caps_enabled_features) {
        struct rndis_device d;
        struct reply r;
        uint8_t in[156];
        new_device(&d, true);
        d.cfg.caps = (struct rndis_offload_caps){ true, true, true, true, 62780 };
        offload_request(3, 156, in);
        query(&d, 5, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 156, &r);
        struct ndis_offload o = check_hwcaps(&r, 5, 3, 156);
        /* the conditions under which Linux turns the features on (§7.5) */
        ASSERT_EQ(o.csum.ip4_txcsum & NDIS_TXCSUM_ALL_TCP4, NDIS_TXCSUM_ALL_TCP4);
        ASSERT_TRUE(o.csum.ip4_txcsum & NDIS_TXCSUM_CAP_UDP4);
        ASSERT_EQ(o.csum.ip6_txcsum & NDIS_TXCSUM_ALL_TCP6, NDIS_TXCSUM_ALL_TCP6);
        ASSERT_TRUE(o.lsov2.ip4_encap & NDIS_OFFLOAD_ENCAP_8023);
        ASSERT_EQ(o.lsov2.ip4_maxsz, 62780u);
        ASSERT_TRUE(o.lsov2.ip6_encap & NDIS_OFFLOAD_ENCAP_8023);
        ASSERT_EQ(o.lsov2.ip6_opts & NDIS_LSOV2_CAP_IP6, NDIS_LSOV2_CAP_IP6);
        ASSERT_EQ(o.rsc.ip4, 0); /* no RSC: LRO stays off */
}

/* RSC: reported (both IP versions, as Linux wants them to turn LRO on)
 * only in a revision 3 structure; the guest's on/off lands in the state
 * and the current configuration, NVSP 4's 22 bytes change nothing of it. */
TEST(rndis_rsc_caps_and_params) {
        struct rndis_device d;
        struct reply r;
        uint8_t in[156], p[28];
        new_device(&d, true);
        offload_request(3, 156, in);
        memset(p, 0, sizeof p);
        p[0] = NDIS_OBJECT_TYPE_DEFAULT, p[1] = 3, p[2] = 28;
        p[22] = p[23] = NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED;
        set(&d, 4, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 4, RNDIS_STATUS_NOT_SUPPORTED); /* not advertised */
        ASSERT_FALSE(d.offload.rsc_ip4);

        d.cfg.caps.rsc = true;
        query(&d, 5, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 156, &r);
        struct ndis_offload o = check_hwcaps(&r, 5, 3, 156);
        ASSERT_EQ(o.rsc.ip4, 1);
        ASSERT_EQ(o.rsc.ip6, 1);
        offload_request(2, 144, in); /* NVSP 4: the structure ends before rsc */
        query(&d, 6, RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, in, 144, &r);
        ASSERT_EQ(check_query_c(&r, 6, RNDIS_STATUS_SUCCESS, sizeof o), 144u);

        rndis_device_take_events(&d);
        set(&d, 7, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 7, RNDIS_STATUS_SUCCESS);
        ASSERT_TRUE(d.offload.rsc_ip4);
        ASSERT_TRUE(d.offload.rsc_ip6);
        ASSERT_EQ(rndis_device_take_events(&d), RNDIS_EVENT_OFFLOAD);
        offload_request(3, 156, in);
        query(&d, 8, RNDIS_OID_TCP_OFFLOAD_CURRENT_CONFIG, in, 156, &r);
        o = check_hwcaps(&r, 8, 3, 156);
        ASSERT_EQ(o.rsc.ip4, 1);
        ASSERT_EQ(o.rsc.ip6, 1);

        p[2] = 22; /* NVSP <= 4: no RSC fields, no change */
        set(&d, 9, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 22, &r);
        check_set_c(&r, 9, RNDIS_STATUS_SUCCESS);
        ASSERT_TRUE(d.offload.rsc_ip4);
        p[2] = 28; /* what netvsc_set_features sends for "ethtool -K lro off" */
        p[22] = p[23] = NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED;
        set(&d, 10, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 10, RNDIS_STATUS_SUCCESS);
        ASSERT_FALSE(d.offload.rsc_ip4);
        ASSERT_FALSE(d.offload.rsc_ip6);
        p[22] = 3; /* not a value */
        set(&d, 11, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 11, RNDIS_STATUS_FAILURE);
}

/* NDIS_OFFLOAD_PARAMETERS as rndis_netdev_set_hwcaps() sends it. */
static void offload_params(uint8_t p[28], uint16_t size, uint8_t tcp4, uint8_t lso4) {
        memset(p, 0, 28);
        p[0] = NDIS_OBJECT_TYPE_DEFAULT;
        p[1] = 3;
        memcpy(p + 2, &size, 2);
        p[4] = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED; /* ip_v4_csum: always 1 */
        p[5] = tcp4;
        p[11] = lso4;
}

TEST(rndis_set_offload_params) {
        struct rndis_device d;
        struct reply r;
        uint8_t p[28];
        new_device(&d, true);
        offload_params(p, 28, 0, 0);
        set(&d, 6, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 6, RNDIS_STATUS_SUCCESS);
        offload_params(p, 22, 0, 0); /* NVSP <= 4 */
        set(&d, 7, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 22, &r);
        check_set_c(&r, 7, RNDIS_STATUS_SUCCESS);
        /* enabling what was not advertised is refused and changes nothing */
        offload_params(p, 28, NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED, 0);
        set(&d, 8, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 8, RNDIS_STATUS_NOT_SUPPORTED);
        ASSERT_FALSE(d.offload.tx_csum_tcp4);
        /* with the capability it is applied and reported as an event */
        d.cfg.caps = (struct rndis_offload_caps){ true, false, true, false, 62780 };
        rndis_device_take_events(&d);
        offload_params(p, 28, NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED, NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED);
        set(&d, 9, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 9, RNDIS_STATUS_SUCCESS);
        ASSERT_TRUE(d.offload.tx_csum_tcp4);
        ASSERT_TRUE(d.offload.lso_ip4);
        ASSERT_FALSE(d.offload.tx_csum_udp4);
        ASSERT_EQ(rndis_device_take_events(&d), RNDIS_EVENT_OFFLOAD);
        /* bad header, bad value, short */
        p[0] = 0x81;
        set(&d, 10, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 10, RNDIS_STATUS_FAILURE);
        offload_params(p, 28, 9, 0);
        set(&d, 11, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 11, RNDIS_STATUS_FAILURE);
        offload_params(p, 28, 0, 0);
        set(&d, 12, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 12, &r);
        check_set_c(&r, 12, RNDIS_STATUS_FAILURE);
        offload_params(p, 200, 0, 0); /* header size beyond the buffer */
        set(&d, 13, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, p, 28, &r);
        check_set_c(&r, 13, RNDIS_STATUS_FAILURE);
        ASSERT_TRUE(d.offload.tx_csum_tcp4); /* failed requests changed nothing */
}

TEST(rndis_query_link_status_and_speed) {
        struct rndis_device d;
        struct reply r;
        new_device(&d, true);
        query(&d, 7, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 7, RNDIS_STATUS_SUCCESS, 4), 4u);
        ASSERT_EQ(u32_at(r.b, 24), NDIS_MEDIA_STATE_CONNECTED);
        ASSERT_TRUE(rndis_device_set_link(&d, false));
        ASSERT_FALSE(rndis_device_set_link(&d, false));
        query(&d, 8, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &r);
        check_query_c(&r, 8, RNDIS_STATUS_SUCCESS, 4);
        ASSERT_EQ(u32_at(r.b, 24), NDIS_MEDIA_STATE_DISCONNECTED);
        query(&d, 9, RNDIS_OID_GEN_LINK_SPEED, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 9, RNDIS_STATUS_SUCCESS, 4), 4u);
        ASSERT_EQ(u32_at(r.b, 24), 100000000u); /* 10 Gbit/s in 100 bps units */
}

TEST(rndis_query_rss_caps_single_queue) {
        struct rndis_device d;
        struct reply r;
        struct ndis_recv_scale_cap in = { .hdr = { NDIS_OBJECT_TYPE_RSS_CAPABILITIES, 2, 18 } }, c;
        new_device(&d, true);
        query(&d, 10, RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES, &in, sizeof in, &r);
        ASSERT_EQ(check_query_c(&r, 10, RNDIS_STATUS_SUCCESS, sizeof c), (uint32_t)sizeof c);
        memcpy(&c, r.b + 24, sizeof c);
        ASSERT_EQ(c.hdr.type, NDIS_OBJECT_TYPE_RSS_CAPABILITIES);
        ASSERT_EQ(c.hdr.revision, 2);
        ASSERT_EQ(c.hdr.size, 18);
        ASSERT_EQ(c.num_recv_que, 1u); /* < 2: the guest keeps one channel (§7.8) */
}

TEST(rndis_set_packet_filter) {
        struct rndis_device d;
        struct reply r;
        uint32_t f = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_BROADCAST;
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 1 }, mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
        new_device(&d, true);
        rndis_device_take_events(&d);
        ASSERT_FALSE(rndis_device_accepts(&d, test_mac)); /* filter 0: interface down */
        set(&d, 11, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f, 4, &r);
        check_set_c(&r, 11, RNDIS_STATUS_SUCCESS);
        ASSERT_EQ(d.packet_filter, 0x0du);
        ASSERT_EQ(rndis_device_take_events(&d), RNDIS_EVENT_PACKET_FILTER);
        ASSERT_TRUE(rndis_device_accepts(&d, test_mac));
        ASSERT_TRUE(rndis_device_accepts(&d, bcast));
        ASSERT_TRUE(rndis_device_accepts(&d, mcast));
        ASSERT_FALSE(rndis_device_accepts(&d, other));
        query(&d, 12, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, NULL, 0, &r);
        check_query_c(&r, 12, RNDIS_STATUS_SUCCESS, 4);
        ASSERT_EQ(u32_at(r.b, 24), 0x0du);
        f = NDIS_PACKET_TYPE_PROMISCUOUS;
        set(&d, 13, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f, 4, &r);
        ASSERT_TRUE(rndis_device_accepts(&d, other));
        set(&d, 14, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f, 2, &r); /* short */
        check_set_c(&r, 14, RNDIS_STATUS_FAILURE);
}

/* OID_GEN_RNDIS_CONFIG_PARAMETER as rndis_filter_set_device_mac() builds it. */
static uint32_t network_address(uint8_t *p, const char *name, const char *value) {
        uint32_t nlen = (uint32_t)strlen(name) * 2, vlen = (uint32_t)strlen(value) * 2;
        memset(p, 0, 20 + nlen + vlen);
        put32(p, 0, 20);
        put32(p, 4, nlen);
        put32(p, 8, RNDIS_CONFIG_PARAM_TYPE_STRING);
        put32(p, 12, 20 + nlen);
        put32(p, 16, vlen);
        for (uint32_t i = 0; i < nlen / 2; i++)
                p[20 + 2 * i] = (uint8_t)name[i];
        for (uint32_t i = 0; i < vlen / 2; i++)
                p[20 + nlen + 2 * i] = (uint8_t)value[i];
        return 20 + nlen + vlen;
}

TEST(rndis_set_network_address) {
        struct rndis_device d;
        struct reply r;
        uint8_t p[256];
        static const uint8_t want[6] = { 0x02, 0xab, 0xcd, 0xef, 0x01, 0x23 };
        new_device(&d, true);
        rndis_device_take_events(&d);
        set(&d, 20, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, p, network_address(p, "NetworkAddress", "02abcdef0123"), &r);
        check_set_c(&r, 20, RNDIS_STATUS_SUCCESS);
        ASSERT_MEMEQ(d.current_mac, want, 6);
        ASSERT_EQ(rndis_device_take_events(&d), RNDIS_EVENT_MAC);
        query(&d, 21, RNDIS_OID_802_3_CURRENT_ADDRESS, NULL, 0, &r);
        check_query_c(&r, 21, RNDIS_STATUS_SUCCESS, 6);
        ASSERT_MEMEQ(r.b + 24, want, 6);
        query(&d, 22, RNDIS_OID_802_3_PERMANENT_ADDRESS, NULL, 0, &r);
        ASSERT_MEMEQ(r.b + 24, test_mac, 6); /* the permanent one stays */
        /* multicast, non-hex, unknown name, name outside the buffer */
        set(&d, 23, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, p, network_address(p, "NetworkAddress", "01abcdef0123"), &r);
        check_set_c(&r, 23, RNDIS_STATUS_FAILURE);
        set(&d, 24, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, p, network_address(p, "NetworkAddress", "02abcdefg123"), &r);
        check_set_c(&r, 24, RNDIS_STATUS_FAILURE);
        set(&d, 25, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, p, network_address(p, "Other", "1"), &r);
        check_set_c(&r, 25, RNDIS_STATUS_NOT_SUPPORTED);
        uint32_t n = network_address(p, "NetworkAddress", "02abcdef0124");
        put32(p, 0, 0xfffffff0);
        set(&d, 26, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, p, n, &r);
        check_set_c(&r, 26, RNDIS_STATUS_FAILURE);
        d.cfg.allow_mac_change = false;
        set(&d, 27, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, p, network_address(p, "NetworkAddress", "02abcdef0124"), &r);
        check_set_c(&r, 27, RNDIS_STATUS_FAILURE);
        ASSERT_MEMEQ(d.current_mac, want, 6);
}

/* RSS parameters as rndis_set_rss_param_msg() builds them. */
static uint32_t rss_params(uint8_t *p, uint16_t flag, uint32_t entries, uint32_t entry_value) {
        struct ndis_recv_scale_param h = {
                .hdr = { NDIS_OBJECT_TYPE_RSS_PARAMETERS, 2, 40 },
                .flag = flag,
                .hashinfo = NDIS_HASH_FUNC_TOEPLITZ,
                .indirect_tabsize = (uint16_t)(4 * entries),
                .indirect_taboffset = 40,
                .hashkey_size = 40,
                .hashkey_offset = 40 + 4 * entries,
        };
        memcpy(p, &h, sizeof h);
        for (uint32_t i = 0; i < entries; i++)
                put32(p, 40 + 4 * i, entry_value);
        for (uint32_t i = 0; i < 40; i++)
                p[40 + 4 * entries + i] = (uint8_t)i;
        return 40 + 4 * entries + 40;
}

TEST(rndis_set_rss_params) {
        struct rndis_device d;
        struct reply r;
        uint8_t p[40 + 512 + 40];
        new_device(&d, true);
        set(&d, 30, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, p, rss_params(p, NDIS_RSS_PARAM_FLAG_DISABLE_RSS, 128, 0), &r);
        check_set_c(&r, 30, RNDIS_STATUS_SUCCESS);
        ASSERT_FALSE(d.rss_enabled);
        set(&d, 31, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, p, rss_params(p, 0, 128, 0), &r);
        check_set_c(&r, 31, RNDIS_STATUS_SUCCESS);
        ASSERT_TRUE(d.rss_enabled);
        ASSERT_EQ(d.rss_table_len, 128u);
        ASSERT_EQ(d.rss_key[39], 39);
        /* one queue: an entry naming channel 1 is invalid */
        set(&d, 32, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, p, rss_params(p, 0, 128, 1), &r);
        check_set_c(&r, 32, RNDIS_STATUS_FAILURE);
        /* table past the end of the buffer */
        uint32_t n = rss_params(p, 0, 128, 0);
        set(&d, 33, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, p, n - 41, &r);
        check_set_c(&r, 33, RNDIS_STATUS_FAILURE);
}

TEST(rndis_unknown_oid_not_supported) {
        struct rndis_device d;
        struct reply r;
        uint32_t v = 0;
        new_device(&d, true);
        query(&d, 40, 0x00ff00ffu, NULL, 0, &r);
        ASSERT_EQ(check_query_c(&r, 40, RNDIS_STATUS_NOT_SUPPORTED, 0), 0u);
        set(&d, 41, 0x00ff00ffu, &v, 4, &r);
        check_set_c(&r, 41, RNDIS_STATUS_NOT_SUPPORTED);
        ASSERT_EQ(d.stats.unsupported, 2u);
}

TEST(rndis_state_machine) {
        struct rndis_device d;
        struct reply r;
        uint8_t m[16] = { 0 };
        uint32_t f = 1;
        new_device(&d, false);
        /* before INIT: answered, with FAILURE */
        query(&d, 1, RNDIS_OID_802_3_PERMANENT_ADDRESS, NULL, 0, &r);
        check_query_c(&r, 1, RNDIS_STATUS_FAILURE, 0);
        set(&d, 2, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f, 4, &r);
        check_set_c(&r, 2, RNDIS_STATUS_FAILURE);
        put32(m, 0, RNDIS_MSG_KEEPALIVE);
        put32(m, 4, 12);
        put32(m, 8, 3);
        ASSERT_EQ(rndis_device_control(&d, m, 12, r.b, sizeof r.b), 16);
        ASSERT_EQ(u32_at(r.b, 0), RNDIS_MSG_KEEPALIVE_C);
        ASSERT_EQ(u32_at(r.b, 8), 3u);
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_FAILURE);
        ASSERT_EQ(d.stats.bad_state, 3u);
        /* initialised: keepalive and reset succeed */
        new_device(&d, true);
        ASSERT_EQ(rndis_device_control(&d, m, 12, r.b, sizeof r.b), 16);
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_SUCCESS);
        put32(m, 0, RNDIS_MSG_RESET);
        ASSERT_EQ(rndis_device_control(&d, m, 12, r.b, sizeof r.b), 16);
        ASSERT_EQ(u32_at(r.b, 0), RNDIS_MSG_RESET_C);
        ASSERT_EQ(u32_at(r.b, 8), RNDIS_STATUS_SUCCESS);
        ASSERT_EQ(u32_at(r.b, 12), 0u); /* addressing_reset */
        /* HALT: no response, then everything fails, INIT included */
        rndis_device_take_events(&d);
        put32(m, 0, RNDIS_MSG_HALT);
        ASSERT_EQ(rndis_device_control(&d, m, 12, r.b, sizeof r.b), 0);
        ASSERT_EQ(d.state, RNDIS_STATE_HALTED);
        ASSERT_EQ(rndis_device_take_events(&d), RNDIS_EVENT_HALTED);
        query(&d, 5, RNDIS_OID_GEN_LINK_SPEED, NULL, 0, &r);
        check_query_c(&r, 5, RNDIS_STATUS_FAILURE, 0);
        uint8_t init[24] = { 0 };
        put32(init, 0, RNDIS_MSG_INIT);
        put32(init, 4, 24);
        put32(init, 8, 6);
        put32(init, 12, 1);
        ASSERT_EQ(rndis_device_control(&d, init, 24, r.b, sizeof r.b), 52);
        ASSERT_EQ(u32_at(r.b, 8), 6u);
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_FAILURE);
        ASSERT_EQ(d.state, RNDIS_STATE_HALTED);
}

TEST(rndis_reinit_resets_filter) {
        struct rndis_device d;
        struct reply r;
        uint32_t f = 0x0d;
        uint8_t init[24] = { 0 };
        new_device(&d, true);
        set(&d, 2, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f, 4, &r);
        ASSERT_EQ(d.packet_filter, 0x0du);
        put32(init, 0, RNDIS_MSG_INIT);
        put32(init, 4, 24);
        put32(init, 8, 9);
        put32(init, 12, 1);
        ASSERT_EQ(rndis_device_control(&d, init, 24, r.b, sizeof r.b), 52);
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_SUCCESS);
        ASSERT_EQ(d.packet_filter, 0u);
}

TEST(rndis_malformed_requests) {
        struct rndis_device d;
        struct reply r;
        uint8_t m[64] = { 0 };
        new_device(&d, true);
        /* too short to carry a header or a request id: nothing to answer */
        ASSERT_ERROR(rndis_device_control(&d, m, 7, r.b, sizeof r.b), EBADMSG);
        put32(m, 0, RNDIS_MSG_QUERY);
        put32(m, 4, 28);
        ASSERT_ERROR(rndis_device_control(&d, m, 11, r.b, sizeof r.b), EBADMSG);
        /* not a request type */
        put32(m, 0, RNDIS_MSG_QUERY_C);
        ASSERT_ERROR(rndis_device_control(&d, m, 28, r.b, sizeof r.b), EBADMSG);
        put32(m, 0, 0x99);
        ASSERT_ERROR(rndis_device_control(&d, m, 28, r.b, sizeof r.b), EBADMSG);
        /* response buffer too small is a host bug */
        ASSERT_ERROR(rndis_device_control(&d, m, 28, r.b, 100), ENOBUFS);

        /* msg_len lies (beyond what arrived / shorter than the body) */
        put32(m, 0, RNDIS_MSG_QUERY);
        put32(m, 4, 64);
        put32(m, 8, 77);
        put32(m, 12, RNDIS_OID_802_3_PERMANENT_ADDRESS);
        put32(m, 20, 20);
        ASSERT_EQ(r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b), 24);
        check_query_c(&r, 77, RNDIS_STATUS_FAILURE, 0);
        put32(m, 4, 16);
        r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b);
        check_query_c(&r, 77, RNDIS_STATUS_FAILURE, 0);
        /* info buffer offset past the end, inside the fixed body, huge length */
        put32(m, 4, 28);
        put32(m, 16, 4);
        put32(m, 20, 100);
        r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b);
        check_query_c(&r, 77, RNDIS_STATUS_FAILURE, 0);
        put32(m, 20, 4);
        r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b);
        check_query_c(&r, 77, RNDIS_STATUS_FAILURE, 0);
        put32(m, 16, 0xffffffffu);
        put32(m, 20, 20);
        r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b);
        check_query_c(&r, 77, RNDIS_STATUS_FAILURE, 0);
        put32(m, 20, 0xfffffff0u);
        put32(m, 16, 0x20);
        r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b);
        check_query_c(&r, 77, RNDIS_STATUS_FAILURE, 0);
        /* SET with a lying msg_len, INIT too short */
        put32(m, 0, RNDIS_MSG_SET);
        put32(m, 4, 1000);
        ASSERT_EQ(r.len = rndis_device_control(&d, m, 28, r.b, sizeof r.b), 16);
        check_set_c(&r, 77, RNDIS_STATUS_FAILURE);
        put32(m, 0, RNDIS_MSG_INIT);
        put32(m, 4, 12);
        ASSERT_EQ(rndis_device_control(&d, m, 12, r.b, sizeof r.b), 52);
        ASSERT_EQ(u32_at(r.b, 12), RNDIS_STATUS_FAILURE);
        ASSERT_EQ(d.state, RNDIS_STATE_INITIALIZED); /* a broken INIT does not reset */
        ASSERT_GE(d.stats.malformed, 10u);
}

TEST(rndis_indicate_status_builders) {
        uint8_t b[64];
        ASSERT_EQ(rndis_build_media_status(b, sizeof b, true), 20);
        ASSERT_EQ(u32_at(b, 0), RNDIS_MSG_INDICATE);
        ASSERT_EQ(u32_at(b, 4), 20u);
        ASSERT_EQ(u32_at(b, 8), RNDIS_STATUS_MEDIA_CONNECT);
        ASSERT_EQ(u32_at(b, 12), 0u);
        ASSERT_EQ(u32_at(b, 16), 12u);
        ASSERT_EQ(rndis_build_media_status(b, sizeof b, false), 20);
        ASSERT_EQ(u32_at(b, 8), RNDIS_STATUS_MEDIA_DISCONNECT);
        /* LINK_SPEED_CHANGE: the guest checks buflen >= 4, offset >= 12, inside msg_len */
        ASSERT_EQ(rndis_build_link_speed_change(b, sizeof b, 250000), 24);
        ASSERT_EQ(u32_at(b, 4), 24u);
        ASSERT_EQ(u32_at(b, 8), RNDIS_STATUS_LINK_SPEED_CHANGE);
        ASSERT_EQ(u32_at(b, 12), 4u);
        ASSERT_EQ(u32_at(b, 16), 12u);
        ASSERT_EQ(u32_at(b, 20), 250000u);
        ASSERT_ERROR(rndis_build_link_speed_change(b, 23, 1), ENOBUFS);
}

TEST(rndis_config_validation) {
        struct rndis_config c;
        rndis_config_init_defaults(&c);
        ASSERT_OK(rndis_config_validate(&c));
        c.mtu = 67;
        ASSERT_ERROR(rndis_config_validate(&c), EINVAL);
        rndis_config_init_defaults(&c);
        c.mac[0] = 1;
        ASSERT_ERROR(rndis_config_validate(&c), EINVAL);
        rndis_config_init_defaults(&c);
        c.caps.lso_ip4 = true; /* without tx_csum_ip4 */
        ASSERT_ERROR(rndis_config_validate(&c), EINVAL);
        rndis_config_init_defaults(&c);
        c.friendly_name[0] = '\n';
        ASSERT_ERROR(rndis_config_validate(&c), EINVAL);
}

TEST_MAIN();
