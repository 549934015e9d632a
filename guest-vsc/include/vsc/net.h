/* SPDX-License-Identifier: MIT */
/* vsc_net: a netvsc client (the guest side of the synthetic NIC), in the
 * sequence Linux 6.1's hv_netvsc uses (docs/hyperv-guest-interface.md §7):
 *
 *   vsc_net_open     OPENCHANNEL; NVSP INIT trying 6.1, 6, 5, 4, 2, 1 (§7.3);
 *                    SEND_NDIS_CONFIG, SEND_NDIS_VER; receive buffer GPADL +
 *                    SEND_RECV_BUF; send buffer GPADL + SEND_SEND_BUF; RNDIS
 *                    INIT and the queries/sets of §7.5 (frame size, MAC,
 *                    friendly name, offload capabilities, offload parameters,
 *                    media state, link speed and RSS capabilities with NVSP >= 5)
 *   vsc_net_set_packet_filter   what "ip link set up" sends (0x0D)
 *   vsc_net_send / vsc_net_flush  frames as RNDIS PACKETs in send-buffer
 *                    sections, up to max_pkt_per_msg per section with the
 *                    alignment padding of §7.6; one NVSP 107 per section; the
 *                    packets of a flush become visible with one write_index
 *                    store and at most one doorbell
 *   vsc_net_poll     inbound packets: completions (sections come back),
 *                    transfer-page packets (frames, control responses, link
 *                    indications), each completed with NVSP 108
 *   vsc_net_open_subchannels   vRSS (§7.8): NVSP 5 SUBCHANNEL, the offers,
 *                    one struct vsc_net per sub-channel sharing the buffers
 *                    (each channel its own share of the send sections);
 *   vsc_net_set_rss  then OID_GEN_RECEIVE_SCALE_PARAMETERS over them all
 *   vsc_net_close    RNDIS HALT, REVOKE_RECV_BUF/REVOKE_SEND_BUF,
 *                    CLOSECHANNEL (sub-channels first), then the buffer
 *                    GPADLs (§7.7, VMBus >= 4.0)
 *
 * Everything the host sends is validated (the checks Linux makes, §7.2,
 * §7.4, §7.6) before use; a control request that gets no valid answer in
 * bus->timeout_ns fails with -ETIMEDOUT and an error line naming it. Send,
 * flush and poll need no privilege (the test guest runs them at CPL3 with
 * the inbound interrupt_mask set); open, control requests and close post
 * VMBus messages (CPL0). All state is in struct vsc_net (caller-owned).
 * Each channel's data path (send, flush, poll on its struct vsc_net) may
 * run on its own CPU; one channel is never used by two CPUs at once. */
#pragma once

#include "hv/nvsp.h"
#include "hv/rndis.h"
#include "vsc/vsc.h"

/* Linux 6.1's defaults (§7.1): 512 KiB rings (+ the header page), a 16 MiB
 * receive buffer, 170 send sections of 6144 bytes. */
#define VSC_NET_RING_BYTES (129u * 4096u)
#define VSC_NET_RECV_BUF_BYTES (16u << 20)
#define VSC_NET_SEND_BUF_BYTES (170u * 6144u)
#define VSC_NET_MAX_SECTIONS 1024u   /* send sections we track */
#define VSC_NET_MAX_RX_COMPS 64u     /* receive completions waiting for ring space */
#define VSC_NET_PUBLISH_RANGES 64u   /* completions published at least this often (ranges): netvsc's NAPI weight */
#define VSC_NET_PKT_MAX 4624u        /* netvsc's max inbound packet (§5.4) */
#define VSC_NET_CTRL_TID 0x100000u   /* transaction ids of control/init requests (data: 1 + section) */
#define VSC_NET_MTU_MIN 68u          /* ETH_MIN_MTU: smaller sections are refused (§7.3) */
#define VSC_NET_FRAME_MAX 1522u      /* what we send: 1500 + 14 + a VLAN tag + FCS room */
#define VSC_NET_MAX_CHANNELS 8u      /* primary + sub-channels (the host offers at most 7) */
#define VSC_NET_LSO_SLOTS 16u        /* LSO sends in flight (GPA-direct, vsc_net_send_lso) */
#define VSC_NET_LSO_TID 0x200000u    /* their transaction ids: VSC_NET_LSO_TID + slot */
#define VSC_NET_LSO_FRAME_MAX (14u + 65535u) /* an IPv4 datagram's most, with its Ethernet header */
#define VSC_NET_RSS_TABLE 128u       /* indirection entries, as netvsc sets them (ITAB_NUM) */
#define VSC_NET_RSC_MAX (18u + 65535u) /* a coalesced frame (RSC), reassembled */

struct vsc_net_config {
        uint32_t ring_bytes;     /* per direction, header page included */
        uint32_t recv_buf_bytes; /* multiple of 4096 */
        uint32_t send_buf_bytes; /* multiple of 4096 */
        uint32_t mtu;            /* SEND_NDIS_CONFIG: mtu + 14 */
        bool rsc;                /* turn RSC (Linux's LRO) on where the host offers it; Linux's probe leaves it off */
};
void vsc_net_config_default(struct vsc_net_config *c);

struct vsc_net_stats {
        uint64_t tx_frames, tx_bytes, tx_sections, tx_busy, tx_completions, tx_errors;
        uint64_t rx_frames, rx_bytes, rx_xfer_packets, rx_bad, rx_unclaimed;
        uint64_t rx_completions_deferred;
        uint64_t rx_coalesced, rx_rsc_dropped; /* RSC frames reassembled; fragments dropped (as netvsc does) */
        uint64_t rx_dropped_closing; /* frames that arrived while the NIC was being closed */
        uint64_t indications, ctrl_responses, bogus_completions, other_packets;
};

/* A received frame; valid only during the call. */
typedef void (*vsc_net_rx_fn)(void *opaque, const uint8_t *frame, uint32_t len);

/* A validated transfer-page packet (§5.3, §7.4). */
struct vsc_net_xfer {
        uint32_t range_cnt;
        const uint8_t *ranges; /* range_cnt x {byte_count, byte_offset}, unaligned */
};

/* A validated host RNDIS message (§7.4, §7.6). */
struct vsc_rndis_msg {
        uint32_t type, len;
        uint32_t req_id, status; /* completions; status also of INDICATE_STATUS */
        const uint8_t *info;     /* QUERY_C information buffer / INDICATE status buffer / PACKET frame */
        uint32_t info_len;
        int frag;                /* PACKET: RNDIS_PKTINFO_ID's flags (an RSC fragment), -1 without */
        /* INIT_C */
        uint32_t max_pkt_per_msg, pkt_alignment_factor;
};

struct vsc_net {
        struct vsc_bus *bus;
        struct vsc_channel ch;
        struct vsc_net_config cfg;
        uint32_t nvsp_version;
        /* receive buffer (§7.3 step 5) */
        uint8_t *recv_buf;
        uint32_t recv_len, recv_gpadl, recv_slot_size, recv_slots;
        bool recv_ok;
        /* send buffer (step 6) */
        uint8_t *send_buf;
        uint32_t send_len, send_gpadl, section_size, sections, sections_free;
        bool send_ok;
        uint32_t sec_first, sec_end; /* the sections this channel uses (a share with vRSS) */
        uint64_t section_busy[VSC_NET_MAX_SECTIONS / 64]; /* sections outside the share: busy */
        /* the section being filled (netvsc's multi-send data) */
        bool batch_open, batch_unqueued;
        uint32_t batch_section, batch_used, batch_count, batch_last;
        /* the RNDIS device (§7.5) */
        uint32_t next_req_id;
        uint32_t max_pkt_per_msg, pkt_align;
        uint8_t mac[6];
        uint32_t max_frame_size, link_speed, rss_queues, packet_filter;
        bool link_up;
        /* vRSS (§7.8): a sub-channel is a struct vsc_net of its own, for data
         * only, using the primary's buffers; the primary closes them */
        struct vsc_net *primary;     /* on a sub-channel */
        struct vsc_net *subs;        /* on the primary: n_subs open ones */
        uint32_t n_subs;
        uint16_t sub_index;
        uint8_t if_type[16], if_instance[16]; /* the primary's offer */
        char friendly_name[64];
        struct ndis_offload hwcaps;
        /* the request being waited for (one at a time, like Linux) */
        uint64_t wait_tid;
        bool wait_comp, wait_resp;
        uint32_t wait_type, wait_req_id;
        uint32_t comp_len; /* its NVSP completion */
        uint8_t comp_msg[NVSP_MESSAGE_SIZE];
        uint32_t resp_len; /* its RNDIS response */
        uint8_t resp[RNDIS_MAX_RESPONSE_SIZE];
        uint32_t next_ctrl;
        uint8_t *ctrl_page; /* outgoing control messages (GPA-direct) */
        uint8_t *lso_page;  /* the RNDIS headers of LSO sends, 256 bytes a slot (primary only) */
        uint32_t lso_busy;  /* LSO slots the host has not completed (bits) */
        uint32_t lso_pending; /* how many */
        bool lso4, lso6;    /* LSOv2 enabled in the offload parameters we set */
        bool rsc;           /* RSC enabled in them */
        bool closing;       /* vsc_net_close under way: received frames are dropped */
        /* the RSC frame being reassembled on this channel (netvsc's nvchan->rsc) */
        uint32_t rsc_cnt, rsc_len;
        /* receive completions that found the outbound ring full */
        uint64_t rx_comp[VSC_NET_MAX_RX_COMPS];
        uint32_t rx_comp_status[VSC_NET_MAX_RX_COMPS];
        uint32_t rx_comp_n;
        uint32_t rx_ranges_unpublished; /* ranges completed since the last publish */
        vsc_net_rx_fn rx;
        void *rx_opaque;
        struct vsc_net_stats stats;
        uint8_t pkt[VSC_NET_PKT_MAX];
        uint8_t rx_copy[RNDIS_MAX_RESPONSE_SIZE]; /* one receive-buffer range, copied out */
        uint8_t rsc_buf[VSC_NET_RSC_MAX];
};

/* ---- lifecycle and control (CPL0) ---- */

/* Opens the NIC offer and brings the device up to "RNDIS initialised" as
 * Linux's probe does. cfg NULL: the defaults. On failure everything is
 * released again (pages the host may still map are kept) and the bus error
 * line says which step failed. */
int vsc_net_open(struct vsc_bus *bus, struct vsc_net *net, const struct vsc_offer *offer,
                 const struct vsc_net_config *cfg);
int vsc_net_close(struct vsc_net *net);
/* CPL0, on an open primary with nothing in flight (-EBUSY otherwise):
 * asks for min(want, rss_queues - 1, max, VSC_NET_MAX_CHANNELS - 1)
 * sub-channels as netvsc does (NVSP 5 SUBCHANNEL, op ALLOCATE), waits for
 * the offers of as many as the host granted and opens each into subs[i]
 * (sub-channel i + 1), then splits the send sections evenly over all the
 * channels. Returns the number opened: 0 with NVSP < 5, one queue, or a
 * host that granted none. Then set the RSS parameters (vsc_net_set_rss);
 * until then the host sends everything on the primary. */
int vsc_net_open_subchannels(struct vsc_net *net, struct vsc_net *subs, unsigned max, unsigned want);
/* OID_GEN_RECEIVE_SCALE_PARAMETERS (§7.8): Toeplitz with key (40 bytes),
 * the NDIS_HASH_* types in hash_types, the indirection table of n entries
 * (channel numbers < 1 + n_subs; NULL: VSC_NET_RSS_TABLE entries, entry i =
 * i mod channels, as netvsc). -EIO if the host refused it. */
int vsc_net_set_rss(struct vsc_net *net, const uint8_t key[NDIS_RSS_HASH_KEY_SIZE], uint32_t hash_types,
                    const uint32_t *table, uint32_t n);

/* OID_GEN_CURRENT_PACKET_FILTER (NDIS_PACKET_TYPE_*; 0x0D = directed,
 * all-multicast, broadcast). Returns the SET_C status mapped to 0/-EIO. */
int vsc_net_set_packet_filter(struct vsc_net *net, uint32_t filter);
/* QUERY oid with an optional input object; *out_len = bytes returned (0
 * on any error). -EIO with the status in the error line if the host refused. */
int vsc_net_query(struct vsc_net *net, uint32_t oid, const void *in, uint32_t in_len, void *out, uint32_t out_cap,
                  uint32_t *out_len);
/* SET oid; *status = the SET_C status (RNDIS_STATUS_FAILURE on any error). */
int vsc_net_set(struct vsc_net *net, uint32_t oid, const void *in, uint32_t in_len, uint32_t *status);
/* Sends any control message (a test's malformed one) and waits for the
 * completion of its NVSP packet and, if want_type != 0, for a response of
 * that type with the message's req_id (at offset 8). The response is left
 * in net->resp / net->resp_len; *nvsp_status gets the completion status. */
int vsc_net_control_raw(struct vsc_net *net, const void *msg, uint32_t len, uint32_t want_type,
                        uint32_t *nvsp_status);

/* ---- data path (any CPL) ---- */

void vsc_net_set_rx(struct vsc_net *net, vsc_net_rx_fn fn, void *opaque);
/* Adds a frame (14..VSC_NET_FRAME_MAX bytes) to the current section; a full
 * section is queued on the ring (unpublished). -EAGAIN: no free section or
 * ring space (poll for completions, then retry); -EMSGSIZE. */
int vsc_net_send(struct vsc_net *net, const void *frame, uint32_t len);
/* Queues the open section and publishes everything queued: one write_index
 * store, at most one doorbell (§5.5). -EAGAIN if the section could not be
 * queued (ring full): poll and flush again. */
int vsc_net_flush(struct vsc_net *net);
/* Handles up to budget inbound packets (0 = until empty) and publishes the
 * receive completions. Returns the packets handled or -EPROTO (ring). */
int vsc_net_poll(struct vsc_net *net, unsigned budget);
/* Sends waiting for their completion (on this channel). */
static inline uint32_t vsc_net_tx_pending(const struct vsc_net *net) {
        return net->sec_end - net->sec_first - net->sections_free + net->lso_pending;
}
/* A large TCP frame (IPv4 or IPv6, up to VSC_NET_LSO_FRAME_MAX) for the
 * host to segment into mss-byte segments (LSOv2, §7.6), sent the way
 * netvsc sends what does not fit a section: GPA-direct, the RNDIS header
 * with its TCP_LARGESEND_PKTINFO from a page of ours, then the frame's own
 * pages, no copy (the frame must be in memory the bus can name by
 * physical address, and unchanged until its slot is completed). tcp_off:
 * where the TCP header starts. Needs LSOv2 offered and enabled (net->hwcaps,
 * set at open) and the primary channel. Queued like vsc_net_send (flush to
 * publish). Returns the slot (see vsc_net_lso_busy), -EAGAIN with every
 * slot or the ring busy, -EOPNOTSUPP, -EMSGSIZE. */
int vsc_net_send_lso(struct vsc_net *net, const void *frame, uint32_t len, uint32_t mss, uint32_t tcp_off, bool ipv6);
static inline bool vsc_net_lso_busy(const struct vsc_net *net, unsigned slot) {
        return net->lso_busy >> slot & 1u;
}

/* ---- pure parsers (fuzzed) ---- */

/* A transfer-page packet as read from the ring: pageset 0xCAFE, 1..N ranges
 * that fit before the payload, an NVSP SEND_RNDIS_PKT payload of >= 16
 * bytes (what netvsc_receive checks). -EPROTO otherwise. */
int vsc_net_parse_xfer(const uint8_t *pkt, const struct vsc_packet *p, struct vsc_net_xfer *out);
/* One RNDIS message of avail bytes from the host (a receive-buffer range):
 * msg_len within avail, and per type the offsets Linux checks (PACKET data
 * inside the message, QUERY_C info buffer at >= 16 and inside, INDICATE
 * status buffer inside). -EPROTO malformed, -EOPNOTSUPP a type netvsc does
 * not handle from a host. */
int vsc_rndis_parse(const uint8_t *msg, uint32_t avail, struct vsc_rndis_msg *out);
/* Handles one packet already copied out of the ring (vsc_net_poll's body;
 * exposed for the fuzzer). */
void vsc_net_handle_packet(struct vsc_net *net, const uint8_t *pkt, const struct vsc_packet *p);
