// SPDX-License-Identifier: MIT
/* The RNDIS device state machine and control-message framing
 * (docs/hyperv-guest-interface.md §7.4, §7.5). Every request that carries a
 * request id gets a response of exactly the layout Linux validates; requests
 * we cannot honour get a FAILURE or NOT_SUPPORTED status, never silence. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "rndis-internal.h"

void rndis_config_init_defaults(struct rndis_config *cfg) {
        *cfg = (struct rndis_config){
                .mtu = 1500,
                .link_speed = 100000000u, /* 10 Gbit/s in 100 bps units, as Hyper-V reports */
                .link_up = true,
                .allow_mac_change = true,
                .friendly_name = "Network Adapter", /* the 6.1 guest ignores this default name (§7.5) */
                .max_pkt_per_msg = 8,
                .pkt_alignment_factor = 3,
                .max_xfer_size = 0x4000,
                .rss_queues = 1,
                .caps = { .lso_max_size = 62780 },
        };
}

int rndis_config_validate(const struct rndis_config *cfg) {
        if (!cfg)
                return -EINVAL;
        if (cfg->mtu < 68 || cfg->mtu > 65521)
                return -EINVAL;
        if (cfg->max_pkt_per_msg < 1 || cfg->max_pkt_per_msg > 64)
                return -EINVAL;
        if (cfg->pkt_alignment_factor > 7)
                return -EINVAL;
        if (cfg->rss_queues < 1 || cfg->rss_queues > 64)
                return -EINVAL;
        if (cfg->mac[0] & 1) /* a multicast address cannot be a station address */
                return -EINVAL;
        if ((cfg->caps.lso_ip4 && !cfg->caps.tx_csum_ip4) || (cfg->caps.lso_ip6 && !cfg->caps.tx_csum_ip6))
                return -EINVAL; /* LSO implies the checksum offload it rests on */
        if ((cfg->caps.lso_ip4 || cfg->caps.lso_ip6) && cfg->caps.lso_max_size < 1500)
                return -EINVAL;
        for (const char *c = cfg->friendly_name; *c; c++)
                if (*c < 0x20 || *c > 0x7e)
                        return -EINVAL;
        if (memchr(cfg->friendly_name, 0, sizeof cfg->friendly_name) == NULL)
                return -EINVAL;
        return 0;
}

static void rndis_device_reset_state(struct rndis_device *d) {
        memcpy(d->current_mac, d->cfg.mac, sizeof d->current_mac);
        d->packet_filter = 0;
        d->offload = (struct rndis_offload_state){ 0 };
        d->rss_enabled = false;
        d->rss_table_len = 0;
        d->rss_hashinfo = 0;
}

int rndis_device_init(struct rndis_device *d, const struct rndis_config *cfg) {
        int r = rndis_config_validate(cfg);
        if (r < 0)
                return r;
        *d = (struct rndis_device){ .cfg = *cfg, .state = RNDIS_STATE_UNINITIALIZED };
        d->link_up = cfg->link_up;
        rndis_device_reset_state(d);
        return 0;
}

/* ---- response builders: fixed layouts (§7.4) ---- */

static int reply_hdr(uint8_t *resp, uint32_t type, uint32_t len) {
        rndis_put_u32(resp, type);
        rndis_put_u32(resp + 4, len);
        return (int)len;
}

/* INIT_C: 8 + 44 bytes; on failure only req_id and status are meaningful. */
static int reply_init(struct rndis_device *d, uint8_t *resp, uint32_t req_id, uint32_t status) {
        struct rndis_initialize_complete c = { .req_id = req_id, .status = status };
        if (status == RNDIS_STATUS_SUCCESS) {
                c.major_ver = RNDIS_MAJOR_VERSION;
                c.minor_ver = RNDIS_MINOR_VERSION;
                c.dev_flags = RNDIS_DF_CONNECTIONLESS;
                c.medium = RNDIS_MEDIUM_802_3;
                c.max_pkt_per_msg = d->cfg.max_pkt_per_msg;
                c.max_xfer_size = d->cfg.max_xfer_size;
                c.pkt_alignment_factor = d->cfg.pkt_alignment_factor;
        }
        memcpy(resp + RNDIS_HEADER_SIZE, &c, sizeof c);
        return reply_hdr(resp, RNDIS_MSG_INIT_C, (uint32_t)(RNDIS_HEADER_SIZE + sizeof c));
}

/* {req_id, status} bodies: SET_C and KEEPALIVE_C. */
static int reply_status(uint8_t *resp, uint32_t type, uint32_t req_id, uint32_t status) {
        rndis_put_u32(resp + 8, req_id);
        rndis_put_u32(resp + 12, status);
        return reply_hdr(resp, type, 16);
}

/* QUERY_C: info_buf_offset is always 16 (>= sizeof body, which the guest
 * checks even on failure), the data follows the body directly. */
static int reply_query(uint8_t *resp, uint32_t req_id, uint32_t status, uint32_t info_len) {
        struct rndis_query_complete c = {
                .req_id = req_id,
                .status = status,
                .info_buflen = status == RNDIS_STATUS_SUCCESS ? info_len : 0,
                .info_buf_offset = sizeof(struct rndis_query_complete),
        };
        memcpy(resp + RNDIS_HEADER_SIZE, &c, sizeof c);
        return reply_hdr(resp, RNDIS_MSG_QUERY_C,
                         (uint32_t)(RNDIS_HEADER_SIZE + sizeof c) + c.info_buflen);
}

/* ---- request handlers; body/body_len is NULL/0 when the framing is bad ---- */

static uint32_t state_status(struct rndis_device *d) {
        if (d->state == RNDIS_STATE_INITIALIZED)
                return RNDIS_STATUS_SUCCESS;
        d->stats.bad_state++;
        return RNDIS_STATUS_FAILURE;
}

static int handle_init(struct rndis_device *d, const uint8_t *body, uint32_t body_len,
                       uint32_t req_id, uint8_t *resp) {
        if (d->state == RNDIS_STATE_HALTED) {
                d->stats.bad_state++;
                return reply_init(d, resp, req_id, RNDIS_STATUS_FAILURE);
        }
        if (!body) {
                d->stats.malformed++;
                return reply_init(d, resp, req_id, RNDIS_STATUS_FAILURE);
        }
        /* Linux sends 1.0 (§7.4); another major version is a different protocol. */
        if (rndis_get_u32(body + offsetof(struct rndis_initialize_request, major_ver)) != RNDIS_MAJOR_VERSION) {
                d->stats.unsupported++;
                return reply_init(d, resp, req_id, RNDIS_STATUS_FAILURE);
        }
        /* A second INIT re-initialises: filter, offloads and RSS start over. */
        rndis_device_reset_state(d);
        d->state = RNDIS_STATE_INITIALIZED;
        d->events |= RNDIS_EVENT_INITIALIZED;
        return reply_init(d, resp, req_id, RNDIS_STATUS_SUCCESS);
}

/* QUERY and SET share the request layout: req_id, oid, info_buflen,
 * info_buf_offset (from the body start), dev_vc_handle. Returns false when
 * the information buffer lies outside the message. */
static bool info_buffer(const uint8_t *body, uint32_t body_len, const uint8_t **in, uint32_t *in_len) {
        uint32_t len = rndis_get_u32(body + offsetof(struct rndis_query_request, info_buflen));
        uint32_t off = rndis_get_u32(body + offsetof(struct rndis_query_request, info_buf_offset));
        *in = NULL;
        *in_len = 0;
        if (len == 0)
                return true; /* Linux queries with offset 20 and no input */
        if (off < sizeof(struct rndis_query_request) || !rndis_range_ok(off, len, body_len))
                return false;
        *in = body + off;
        *in_len = len;
        return true;
}

static int handle_query(struct rndis_device *d, const uint8_t *body, uint32_t body_len,
                        uint32_t req_id, uint8_t *resp) {
        const uint8_t *in;
        uint32_t in_len, out_len = 0, status;
        uint8_t *out = resp + RNDIS_HEADER_SIZE + sizeof(struct rndis_query_complete);
        const uint32_t out_cap = RNDIS_MAX_RESPONSE_SIZE - RNDIS_HEADER_SIZE - sizeof(struct rndis_query_complete);

        if (!body || !info_buffer(body, body_len, &in, &in_len)) {
                d->stats.malformed++;
                return reply_query(resp, req_id, RNDIS_STATUS_FAILURE, 0);
        }
        status = state_status(d);
        if (status == RNDIS_STATUS_SUCCESS) {
                uint32_t oid = rndis_get_u32(body + offsetof(struct rndis_query_request, oid));
                status = rndis_oid_query(d, oid, in, in_len, out, out_cap, &out_len);
                if (status == RNDIS_STATUS_NOT_SUPPORTED)
                        d->stats.unsupported++;
                else if (status != RNDIS_STATUS_SUCCESS)
                        d->stats.malformed++;
        }
        return reply_query(resp, req_id, status, MIN(out_len, out_cap));
}

static int handle_set(struct rndis_device *d, const uint8_t *body, uint32_t body_len,
                      uint32_t req_id, uint8_t *resp) {
        const uint8_t *in;
        uint32_t in_len, status;

        if (!body || !info_buffer(body, body_len, &in, &in_len)) {
                d->stats.malformed++;
                return reply_status(resp, RNDIS_MSG_SET_C, req_id, RNDIS_STATUS_FAILURE);
        }
        status = state_status(d);
        if (status == RNDIS_STATUS_SUCCESS) {
                uint32_t oid = rndis_get_u32(body + offsetof(struct rndis_set_request, oid));
                status = rndis_oid_set(d, oid, in, in_len);
                if (status == RNDIS_STATUS_NOT_SUPPORTED)
                        d->stats.unsupported++;
                else if (status != RNDIS_STATUS_SUCCESS)
                        d->stats.malformed++;
        }
        return reply_status(resp, RNDIS_MSG_SET_C, req_id, status);
}

static int handle_reset(struct rndis_device *d, const uint8_t *body, uint8_t *resp) {
        uint32_t status = RNDIS_STATUS_FAILURE;
        if (!body)
                d->stats.malformed++;
        else
                status = state_status(d);
        /* addressing_reset = 0: filter and addresses survive, nothing to resend. */
        rndis_put_u32(resp + 8, status);
        rndis_put_u32(resp + 12, 0);
        return reply_hdr(resp, RNDIS_MSG_RESET_C, 16);
}

/* Smallest body of each request type; 0 for types we do not accept. */
static uint32_t request_body_min(uint32_t type) {
        switch (type) {
        case RNDIS_MSG_INIT:
                return sizeof(struct rndis_initialize_request);
        case RNDIS_MSG_QUERY:
                return sizeof(struct rndis_query_request);
        case RNDIS_MSG_SET:
                return sizeof(struct rndis_set_request);
        case RNDIS_MSG_HALT:
        case RNDIS_MSG_RESET:
        case RNDIS_MSG_KEEPALIVE:
                return 4;
        default:
                return 0;
        }
}

static int dispatch(struct rndis_device *d, uint32_t type, const uint8_t *body, uint32_t body_len,
                    uint32_t req_id, uint8_t *resp) {
        switch (type) {
        case RNDIS_MSG_INIT:
                return handle_init(d, body, body_len, req_id, resp);
        case RNDIS_MSG_QUERY:
                return handle_query(d, body, body_len, req_id, resp);
        case RNDIS_MSG_SET:
                return handle_set(d, body, body_len, req_id, resp);
        case RNDIS_MSG_KEEPALIVE: {
                uint32_t status = body ? state_status(d) : RNDIS_STATUS_FAILURE;
                d->stats.malformed += !body;
                return reply_status(resp, RNDIS_MSG_KEEPALIVE_C, req_id, status);
        }
        case RNDIS_MSG_RESET:
                return handle_reset(d, body, resp);
        default: /* HALT: no response (§7.5 "removal"); the device is done. */
                d->stats.malformed += !body;
                if (d->state != RNDIS_STATE_HALTED)
                        d->events |= RNDIS_EVENT_HALTED;
                d->state = RNDIS_STATE_HALTED;
                return 0;
        }
}

int rndis_device_control(struct rndis_device *d, const void *msg, size_t len, void *resp,
                         size_t resp_cap) {
        const uint8_t *m = msg;
        uint32_t type, msg_len, body_min, req_id = 0;

        if (!d || (!msg && len) || !resp)
                return -EINVAL;
        if (resp_cap < RNDIS_MAX_RESPONSE_SIZE)
                return -ENOBUFS;
        d->stats.requests++;
        if (len < RNDIS_HEADER_SIZE) {
                d->stats.malformed++;
                return -EBADMSG;
        }
        type = rndis_get_u32(m);
        msg_len = rndis_get_u32(m + 4);
        body_min = request_body_min(type);
        if (body_min == 0) { /* PACKET, completions, INDICATE: not control requests */
                d->stats.unsupported++;
                return -EBADMSG;
        }
        /* Every request but RESET and HALT starts with a request id; without
         * one there is nothing a response could be matched to. */
        if (type != RNDIS_MSG_RESET && type != RNDIS_MSG_HALT) {
                if (len < RNDIS_HEADER_SIZE + 4) {
                        d->stats.malformed++;
                        return -EBADMSG;
                }
                req_id = rndis_get_u32(m + RNDIS_HEADER_SIZE);
        }
        /* msg_len must cover the fixed body and lie within what arrived. */
        if (msg_len < RNDIS_HEADER_SIZE + body_min || msg_len > len)
                return dispatch(d, type, NULL, 0, req_id, resp);
        return dispatch(d, type, m + RNDIS_HEADER_SIZE, msg_len - RNDIS_HEADER_SIZE, req_id, resp);
}

bool rndis_device_set_link(struct rndis_device *d, bool up) {
        if (d->link_up == up)
                return false;
        d->link_up = up;
        return true;
}

uint32_t rndis_device_take_events(struct rndis_device *d) {
        uint32_t e = d->events;
        d->events = 0;
        return e;
}

bool rndis_device_accepts(const struct rndis_device *d, const uint8_t dst[6]) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        uint32_t f = d->packet_filter;

        if (d->state != RNDIS_STATE_INITIALIZED || f == 0)
                return false;
        if (f & NDIS_PACKET_TYPE_PROMISCUOUS)
                return true;
        if (memcmp(dst, bcast, 6) == 0)
                return f & NDIS_PACKET_TYPE_BROADCAST;
        if (dst[0] & 1) /* no multicast list is kept: MULTICAST acts as ALL_MULTICAST */
                return f & (NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_MULTICAST);
        return (f & NDIS_PACKET_TYPE_DIRECTED) && memcmp(dst, d->current_mac, 6) == 0;
}

const char *rndis_msg_type_to_string(uint32_t type) {
        switch (type) {
        case RNDIS_MSG_PACKET: return "PACKET";
        case RNDIS_MSG_INIT: return "INIT";
        case RNDIS_MSG_INIT_C: return "INIT_C";
        case RNDIS_MSG_HALT: return "HALT";
        case RNDIS_MSG_QUERY: return "QUERY";
        case RNDIS_MSG_QUERY_C: return "QUERY_C";
        case RNDIS_MSG_SET: return "SET";
        case RNDIS_MSG_SET_C: return "SET_C";
        case RNDIS_MSG_RESET: return "RESET";
        case RNDIS_MSG_RESET_C: return "RESET_C";
        case RNDIS_MSG_INDICATE: return "INDICATE_STATUS";
        case RNDIS_MSG_KEEPALIVE: return "KEEPALIVE";
        case RNDIS_MSG_KEEPALIVE_C: return "KEEPALIVE_C";
        default: return "unknown";
        }
}
