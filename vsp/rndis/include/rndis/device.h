/* SPDX-License-Identifier: MIT */
/* rndis: the RNDIS device a netvsc guest talks to, as a pure module (no I/O,
 * no allocation, no threads). The caller copies a guest control message into
 * private memory, hands it to rndis_device_control() and delivers the
 * response it gets back (netvsp: into a receive-buffer section, §7.4).
 *
 * State machine (docs/netvsp.md): UNINITIALIZED --INIT--> INITIALIZED
 * --HALT--> HALTED. QUERY/SET/KEEPALIVE/RESET before INIT and anything after
 * HALT get a FAILURE status response (never silence: the 6.1 guest waits for
 * every request without a timeout, §4.9). HALT itself has no response.
 *
 * All state is plain data (struct rndis_device) so it can be saved and
 * restored with the VM (docs/ARCHITECTURE.md, "What comes next"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/rndis.h"

enum rndis_state {
        RNDIS_STATE_UNINITIALIZED,
        RNDIS_STATE_INITIALIZED,
        RNDIS_STATE_HALTED,
};

/* Offloads the host honours end to end (docs/netvsp.md "Offloads"); the
 * NDIS_OFFLOAD capabilities reported to the guest are derived from these
 * only, so the guest never relies on something we do not do. */
struct rndis_offload_caps {
        bool tx_csum_ip4; /* TCP and UDP checksum of guest frames over IPv4 */
        bool tx_csum_ip6; /* ... over IPv6 */
        bool lso_ip4;     /* TCP segmentation (LSOv2) over IPv4; needs tx_csum_ip4 */
        bool lso_ip6;     /* ... over IPv6; needs tx_csum_ip6 */
        uint32_t lso_max_size; /* largest LSO frame, e.g. 62780 like Hyper-V */
        /* Receive segment coalescing over IPv4 and IPv6 (NDIS 6.30's RSC:
         * large TCP frames handed to the guest in RNDIS_PKTINFO_ID
         * fragments); reported only in a revision 3 NDIS_OFFLOAD (NVSP >= 5). */
        bool rsc;
};

/* What the guest switched on with OID_TCP_OFFLOAD_PARAMETERS (§7.5), always
 * a subset of the capabilities. */
struct rndis_offload_state {
        bool tx_csum_tcp4, tx_csum_udp4, tx_csum_tcp6, tx_csum_udp6;
        bool lso_ip4, lso_ip6;
        bool rsc_ip4, rsc_ip6;
};

#define RNDIS_FRIENDLY_NAME_MAX 64 /* ASCII characters; sent as UTF-16 + NUL (<= 512 bytes, §7.5) */
#define RNDIS_RSS_TABLE_MAX NDIS_RSS_INDIRECTION_MAX_ENTRIES

struct rndis_config {
        uint8_t mac[6];              /* permanent address (stable, from the VM config) */
        uint32_t mtu;                /* OID_GEN_MAXIMUM_FRAME_SIZE: bytes without the 14-byte header */
        uint32_t link_speed;         /* OID_GEN_LINK_SPEED, in 100 bps units */
        bool link_up;                /* initial media state */
        bool allow_mac_change;       /* accept OID_GEN_RNDIS_CONFIG_PARAMETER "NetworkAddress" */
        char friendly_name[RNDIS_FRIENDLY_NAME_MAX + 1]; /* empty: NOT_SUPPORTED */
        uint32_t max_pkt_per_msg;    /* INIT_C: guest batching limit (§7.4), 1..64 */
        uint32_t pkt_alignment_factor; /* INIT_C: alignment = 1 << factor, 0..7 */
        uint32_t max_xfer_size;      /* INIT_C */
        uint32_t rss_queues;         /* RSS capabilities num_recv_que; < 2 keeps one channel (§7.8) */
        struct rndis_offload_caps caps;
};

/* Bits returned by rndis_device_take_events(): what changed since the last call. */
#define RNDIS_EVENT_INITIALIZED (1u << 0)
#define RNDIS_EVENT_HALTED (1u << 1)
#define RNDIS_EVENT_PACKET_FILTER (1u << 2)
#define RNDIS_EVENT_OFFLOAD (1u << 3)
#define RNDIS_EVENT_MAC (1u << 4)
#define RNDIS_EVENT_RSS (1u << 5)

struct rndis_stats {
        uint64_t requests;      /* control messages handled */
        uint64_t malformed;     /* answered with FAILURE (or unanswerable) */
        uint64_t unsupported;   /* unknown OIDs or message types */
        uint64_t bad_state;     /* requests before INIT / after HALT */
};

struct rndis_device {
        struct rndis_config cfg;
        enum rndis_state state;
        uint8_t current_mac[6];
        bool link_up;
        uint32_t packet_filter;  /* NDIS_PACKET_TYPE_*; 0 = guest interface down */
        struct rndis_offload_state offload;
        bool rss_enabled;
        uint8_t rss_key[NDIS_RSS_HASH_KEY_SIZE];
        uint32_t rss_hashinfo;
        uint32_t rss_table_len;
        uint32_t rss_table[RNDIS_RSS_TABLE_MAX];
        uint32_t events;         /* RNDIS_EVENT_* pending for the caller */
        struct rndis_stats stats;
};

/* Fills *cfg with Hyper-V-like defaults: MTU 1500, 10 Gbit/s, link up,
 * "Network Adapter", 8 packets per message, 8-byte alignment, one queue,
 * no offloads. The caller sets the MAC. */
void rndis_config_init_defaults(struct rndis_config *cfg);
/* -EINVAL if cfg is out of range (MTU 68..65521, batching 1..64, ...). */
int rndis_config_validate(const struct rndis_config *cfg);

int rndis_device_init(struct rndis_device *d, const struct rndis_config *cfg);

/* Handles one control message (INIT, QUERY, SET, HALT, RESET, KEEPALIVE).
 * msg/len: the bytes the guest sent, already copied out of shared memory;
 * the header's msg_len must fit in len. resp must hold
 * RNDIS_MAX_RESPONSE_SIZE bytes (-ENOBUFS otherwise).
 * Returns the response length, 0 when none is due (HALT), or -EBADMSG when
 * the message cannot be answered at all (shorter than a request id, or not a
 * request type); both cases are counted in stats. */
int rndis_device_control(struct rndis_device *d, const void *msg, size_t len, void *resp,
                         size_t resp_cap);

/* Link state seen by the guest (OID_GEN_MEDIA_CONNECT_STATUS). Returns true
 * if it changed, i.e. an INDICATE_STATUS is due. */
bool rndis_device_set_link(struct rndis_device *d, bool up);

uint32_t rndis_device_take_events(struct rndis_device *d);

/* True when the current packet filter lets a frame to dst through
 * (directed to current_mac, broadcast, multicast, promiscuous). */
bool rndis_device_accepts(const struct rndis_device *d, const uint8_t dst[6]);

/* Builds INDICATE_STATUS messages (§7.6 "Link changes"). Return the message
 * length or -ENOBUFS. */
int rndis_build_indicate_status(void *buf, size_t cap, uint32_t status, const void *sbuf,
                                uint32_t sbuf_len);
int rndis_build_media_status(void *buf, size_t cap, bool connected);
int rndis_build_link_speed_change(void *buf, size_t cap, uint32_t speed_100bps);

/* Human-readable name of a message type (for logs and tests). */
const char *rndis_msg_type_to_string(uint32_t type);
