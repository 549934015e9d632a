// SPDX-License-Identifier: MIT
/* netvsp device: lifecycle, NVSP dispatch (§7.2, §7.3), completions and the
 * process loop that retries whatever waits for a resource (docs/netvsp.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/macro.h"
#include "netvsp-internal.h"
#include "netvsp/nvsp.h"
#include "netvsp/tap.h"

void netvsp_config_init_defaults(struct netvsp_config *c) {
        *c = (struct netvsp_config){
                .send_section_size = NETVSP_SEND_SECTION_SIZE,
                .rx_batch_max = 32,
                .rx_budget = 256,
        };
        rndis_config_init_defaults(&c->rndis);
        /* What the data path honours end to end (tests/unit/test-netvsp-tap.c
         * sends netvsc-style LSO frames over IPv4 and IPv6 and checksum-
         * offloaded UDP through a TAP to sockets): TX checksums and LSOv2. */
        c->rndis.caps = (struct rndis_offload_caps){
                .tx_csum_ip4 = true, .tx_csum_ip6 = true, .lso_ip4 = true, .lso_ip6 = true,
                .lso_max_size = 62780, /* Hyper-V's value */
                .rsc = true,
        };
}

int netvsp_config_from_vm_nic(const struct vm_nic_config *nic, struct netvsp_config *c, struct tap_config *tc) {
        netvsp_config_init_defaults(c);
        memcpy(c->rndis.mac, nic->mac, sizeof c->rndis.mac);
        c->rndis.mtu = nic->mtu;
        c->rndis.link_up = nic->link_up;
        c->queues = MAX(nic->queues, 1u);
        *tc = (struct tap_config){ .mtu = nic->mtu, .create = nic->tap[0] == 0 };
        snprintf(tc->name, sizeof tc->name, "%s", nic->tap);
        snprintf(tc->bridge, sizeof tc->bridge, "%s", nic->bridge);
        tc->set_mac = tc->create;
        tc->mac[0] = 0xfe;
        memcpy(tc->mac + 1, nic->mac + 1, 5);
        return rndis_config_validate(&c->rndis);
}

int netvsp_dev_new(const struct netvsp_config *cfg, const struct netvsp_host_ops *host, void *host_ctx,
                   const struct netvsp_backend_ops *be, void *be_ctx, struct netvsp_dev **out) {
        struct netvsp_dev *nd;
        int r;

        if (!cfg || !host || !be || !out || !host->send_completion || !host->send_xfer_pages ||
            !host->map_gpadl || !host->map_gpa || !be->tx || !be->rx)
                return -EINVAL;
        if (cfg->send_section_size < 68 || cfg->rx_batch_max < 1 || cfg->rx_batch_max > NETVSP_RX_BATCH_MAX ||
            cfg->rx_budget < 1 || cfg->queues > NETVSP_MAX_QUEUES)
                return -EINVAL;
        nd = calloc(1, sizeof *nd);
        if (!nd)
                return -ENOMEM;
        nd->cfg = *cfg;
        /* RSC needs a backend that can hand over GSO frames, and slots large
         * enough that the largest fits one transfer-page packet (MTU >= ~1010) */
        if (!be->set_rx_gso || netvsp_rsc_slots(netvsp_rx_slot_size(cfg->rndis.mtu)) > NETVSP_RX_BATCH_MAX)
                nd->cfg.rndis.caps.rsc = false;
        r = rndis_device_init(&nd->rndis, &nd->cfg.rndis);
        if (r < 0) {
                free(nd);
                return r;
        }
        nd->host = host;
        nd->host_ctx = host_ctx;
        nd->be = be;
        nd->be_ctx = be_ctx;
        nd->be_link_up = cfg->rndis.link_up;
        nd->backend_rx = true;
        /* the RSS capabilities report one queue per channel (§7.5, §7.8) */
        nd->rndis.cfg.rss_queues = MAX(cfg->queues, 1u);
        *out = nd;
        return 0;
}

/* ---- vRSS: sub-channels ---- */

void netvsp_dev_get_shared(const struct netvsp_dev *nd, struct netvsp_shared *out) {
        memset(out, 0, sizeof *out);
        out->version = nd->version;
        out->recv_ok = nd->recv_ok;
        if (nd->recv_ok) {
                out->recv_gpadl = nd->recv_gpadl;
                out->recv_slot_size = nd->rb.slot_size;
                out->recv_total = nd->recv_total;
                out->rx_split = nd->rx_split;
        }
        out->send_ok = nd->send_ok;
        if (nd->send_ok) {
                out->send_gpadl = nd->send_gpadl;
                out->send_sections = nd->send_sections;
        }
        out->rndis = nd->rndis;
}

/* Maps a buffer of the primary's: this device's own GPADL reference. */
static int map_shared(struct netvsp_dev *nd, uint32_t gpadl, uint8_t **base, size_t *len) {
        void *b;
        int r = nd->host->map_gpadl(nd->host_ctx, gpadl, &b, len);
        *base = b;
        return r;
}

static int attach_sub(struct netvsp_dev *nd, const struct netvsp_shared *sh) {
        uint32_t idx = nd->sub_index;
        if (sh->version < NVSP_PROTOCOL_VERSION_5 || !sh->recv_ok || !sh->send_ok || sh->rx_split < 2 ||
            idx >= sh->rx_split || sh->recv_slot_size == 0)
                return -EINVAL;
        uint32_t per = sh->recv_total / sh->rx_split;
        int r = map_shared(nd, sh->recv_gpadl, &nd->recv_base, &nd->recv_len);
        if (r < 0)
                return r;
        nd->recv_ok = true; /* from here on netvsp_dev_free unmaps it */
        nd->recv_gpadl = sh->recv_gpadl;
        if (nd->recv_len / sh->recv_slot_size < sh->recv_total ||
            netvsp_rxbuf_init_range(&nd->rb, sh->recv_slot_size, idx * per, per) < 0)
                return -EINVAL;
        nd->recv_total = sh->recv_total;
        nd->rx_split = sh->rx_split;
        r = map_shared(nd, sh->send_gpadl, &nd->send_base, &nd->send_len);
        if (r < 0)
                return r;
        nd->send_ok = true;
        nd->send_gpadl = sh->send_gpadl;
        nd->send_sections = (uint32_t)(nd->send_len / nd->cfg.send_section_size);
        if (nd->send_sections != sh->send_sections)
                return -EINVAL;
        nd->version = sh->version;
        netvsp_dev_sync(nd, sh);
        return 0;
}

int netvsp_dev_new_sub(const struct netvsp_config *cfg, const struct netvsp_host_ops *host, void *host_ctx,
                       const struct netvsp_backend_ops *be, void *be_ctx, const struct netvsp_sub_config *sub,
                       const struct netvsp_shared *sh, struct netvsp_dev **out) {
        if (!sub || sub->index == 0 || sub->index >= NETVSP_MAX_QUEUES)
                return -EINVAL;
        struct netvsp_dev *nd;
        int r = netvsp_dev_new(cfg, host, host_ctx, be, be_ctx, &nd);
        if (r < 0)
                return r;
        nd->sub_index = sub->index;
        nd->backend_rx = sub->backend_rx;
        r = sh ? attach_sub(nd, sh) : 0;
        if (r < 0) {
                netvsp_dev_free(nd);
                return r;
        }
        *out = nd;
        return 0;
}

void netvsp_dev_sync(struct netvsp_dev *nd, const struct netvsp_shared *sh) {
        if (nd->sub_index == 0)
                return;
        struct rndis_stats keep = nd->rndis.stats;
        nd->rndis = sh->rndis;
        nd->rndis.stats = keep;
        nd->rndis.events = 0;
        /* The primary revoked a buffer (§7.7): this channel stops using it too. */
        if (nd->recv_ok && (!sh->recv_ok || sh->recv_gpadl != nd->recv_gpadl))
                netvsp_revoke_recv_buf(nd);
        if (nd->send_ok && (!sh->send_ok || sh->send_gpadl != nd->send_gpadl))
                netvsp_revoke_send_buf(nd);
}

uint16_t netvsp_dev_sub_index(const struct netvsp_dev *nd) {
        return nd->sub_index;
}

size_t netvsp_send_table_build(uint8_t msg[NETVSP_SEND_TABLE_MSG_LEN], uint32_t channels) {
        memset(msg, 0, NETVSP_SEND_TABLE_MSG_LEN);
        uint32_t hdr[3] = { NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE, NVSP_SEND_INDIRECTION_TABLE_ENTRIES,
                            NVSP_MESSAGE_SIZE };
        memcpy(msg, hdr, sizeof hdr);
        for (uint32_t i = 0; i < NVSP_SEND_INDIRECTION_TABLE_ENTRIES; i++) {
                uint32_t e = channels ? i % channels : 0;
                memcpy(msg + NVSP_MESSAGE_SIZE + 4 * i, &e, 4);
        }
        return NETVSP_SEND_TABLE_MSG_LEN;
}

void netvsp_dev_free(struct netvsp_dev *nd) {
        if (!nd)
                return;
        nd->stall.active = false; /* nothing is sent while tearing down */
        nd->comp_n = 0;
        netvsp_revoke_recv_buf(nd);
        netvsp_revoke_send_buf(nd);
        free(nd);
}

/* ---- completions: VM_PKT_COMP echoing the guest's trans_id ---- */

static bool comp_flush(struct netvsp_dev *nd) {
        while (nd->comp_n) {
                struct netvsp_comp *c = &nd->comp[nd->comp_head];
                int r = nd->host->send_completion(nd->host_ctx, c->trans_id, &c->msg, c->len);
                if (r == -EAGAIN) {
                        nd->stats.ring_full++;
                        return false;
                }
                /* any other error: the channel is going away; the completion is moot */
                nd->comp_head = (nd->comp_head + 1) % NETVSP_COMP_QUEUE;
                nd->comp_n--;
        }
        return true;
}

int netvsp_queue_completion(struct netvsp_dev *nd, uint64_t trans_id, const void *msg, size_t len) {
        if (nd->comp_n == NETVSP_COMP_QUEUE || len > sizeof(struct nvsp_message))
                return -ENOSPC;
        struct netvsp_comp *c = &nd->comp[(nd->comp_head + nd->comp_n) % NETVSP_COMP_QUEUE];
        c->trans_id = trans_id;
        c->len = (uint32_t)len;
        memset(&c->msg, 0, sizeof c->msg);
        if (len)
                memcpy(&c->msg, msg, len);
        nd->comp_n++;
        return 0;
}

void netvsp_complete(struct netvsp_dev *nd, uint64_t trans_id, const void *msg, size_t len) {
        if (netvsp_queue_completion(nd, trans_id, msg, len) < 0) {
                nd->stats.bad_packets++; /* unreachable: packets are refused while the queue is busy */
                return;
        }
        comp_flush(nd);
}

void netvsp_complete_rndis(struct netvsp_dev *nd, uint64_t trans_id, uint32_t status) {
        struct nvsp_message m;
        size_t n = nvsp_build_rndis_pkt_complete(&m, status);
        netvsp_complete(nd, trans_id, &m, n);
}

bool netvsp_can_take_packet(const struct netvsp_dev *nd) {
        return nd->comp_n == 0 && !nd->stall.active;
}

/* ---- NVSP messages ---- */

static void handle_init(struct netvsp_dev *nd, uint64_t tid, bool want_comp, const struct nvsp_request *q) {
        struct nvsp_message m;
        /* Linux tries one version per INIT (min = max); a second INIT once
         * buffers exist would change the protocol under them: refuse it. */
        uint32_t v = (nd->recv_ok || nd->send_ok) ? 0 : nvsp_negotiate(q->init.min_ver, q->init.max_ver);
        if (v)
                nd->version = v;
        if (want_comp)
                netvsp_complete(nd, tid, &m, nvsp_build_init_complete(&m, v, v ? NVSP_STAT_SUCCESS : NVSP_STAT_FAIL));
}

/* SUBCHANNEL (§7.8): the guest waits, holding RTNL, for exactly as many
 * sub-channels as answered, so the answer is what the server offered.
 * Only with the buffers registered and split (NVSP >= 5, queues >= 2);
 * a second request gets what is left. */
static void handle_subchannel(struct netvsp_dev *nd, uint64_t tid, bool want_comp, const struct nvsp_request *q) {
        struct nvsp_message m;
        uint32_t status = q->subchannel.op == NVSP_SUBCHANNEL_ALLOCATE ? NVSP_STAT_SUCCESS : NVSP_STAT_FAIL, n = 0;
        /* Nothing to offer (no split buffer, an offer the server refused) is
         * a success with 0: the guest goes on with one channel. */
        if (status == NVSP_STAT_SUCCESS && nd->recv_ok && nd->send_ok && nd->rx_split >= 2 &&
            nd->subs_offered < nd->rx_split - 1 && nd->host->offer_subchannels) {
                uint32_t want = MIN(q->subchannel.num, nd->rx_split - 1 - nd->subs_offered);
                int r = want ? nd->host->offer_subchannels(nd->host_ctx, want) : 0;
                n = r > 0 ? MIN((uint32_t)r, want) : 0;
                nd->subs_offered += n;
                nd->table_sent = nd->table_sent && n == 0;
        }
        if (want_comp)
                netvsp_complete(nd, tid, &m, nvsp_build_subchannel_complete(&m, status, n));
}

static void dispatch(struct netvsp_dev *nd, const struct netvsp_vmbus_packet *p, const struct nvsp_request *q) {
        bool want = p->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
        switch (q->type) {
        case NVSP_MSG_TYPE_INIT:
                handle_init(nd, p->trans_id, want, q);
                break;
        case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG: /* no completion: the guest logs one as an error */
                nd->guest_mtu = q->ndis_config.mtu;
                nd->guest_caps = q->ndis_config.capability;
                break;
        case NVSP_MSG1_TYPE_SEND_NDIS_VER:
                nd->ndis_major = q->ndis_ver.major;
                nd->ndis_minor = q->ndis_ver.minor;
                break;
        case NVSP_MSG1_TYPE_SEND_RECV_BUF:
                netvsp_recv_buf(nd, p->trans_id, want, q->buf.gpadl, q->buf.id);
                break;
        case NVSP_MSG1_TYPE_SEND_SEND_BUF:
                netvsp_send_buf(nd, p->trans_id, want, q->buf.gpadl, q->buf.id);
                break;
        case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
                netvsp_revoke_recv_buf(nd);
                break;
        case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
                netvsp_revoke_send_buf(nd);
                break;
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
                netvsp_rndis_pkt(nd, p, want, q->rndis_pkt.section_index, q->rndis_pkt.section_size);
                break;
        case NVSP_MSG5_TYPE_SUBCHANNEL:
                handle_subchannel(nd, p->trans_id, want, q);
                break;
        case NVSP_MSG4_TYPE_SWITCH_DATA_PATH: /* only with a VF; the only zero-length completion (§7.2) */
                if (want)
                        netvsp_complete(nd, p->trans_id, NULL, 0);
                break;
        default:
                nd->stats.bad_packets++;
                break;
        }
}

/* A completion from the guest: for our transfer-page packets, NVSP 108. */
static void handle_guest_completion(struct netvsp_dev *nd, const struct netvsp_vmbus_packet *p) {
        if (!nd->recv_ok || netvsp_rxbuf_complete(&nd->rb, p->trans_id) < 0)
                nd->stats.bogus_completions++;
}

int netvsp_handle_packet(struct netvsp_dev *nd, const void *pkt, size_t len) {
        struct netvsp_vmbus_packet p;
        struct nvsp_request q;

        if (!netvsp_can_take_packet(nd))
                return -EBUSY;
        if (netvsp_vmbus_packet_decode(pkt, len, &p) < 0) {
                nd->stats.bad_packets++;
                return 0;
        }
        if (p.type == VM_PKT_COMP) {
                handle_guest_completion(nd, &p);
                return 0;
        }
        int r = nvsp_parse(p.payload, p.payload_len, nd->version, &q);
        /* A sub-channel carries data only (§7.8): the rest is the primary's. */
        if (r == 0 && nd->sub_index && q.type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT) {
                nd->stats.bad_packets++;
                return 0;
        }
        if (r < 0) {
                nd->stats.bad_packets++;
                /* a SEND_RNDIS_PKT we cannot read still owes its completion */
                if (q.type == NVSP_MSG1_TYPE_SEND_RNDIS_PKT && (p.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
                        netvsp_complete_rndis(nd, p.trans_id, NVSP_STAT_INVALID_RNDIS_PKT);
                return 0;
        }
        if (p.type == VM_PKT_DATA_USING_GPA_DIRECT && q.type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT) {
                nd->stats.bad_packets++; /* page ranges only make sense with RNDIS data */
                return 0;
        }
        dispatch(nd, &p, &q);
        return 0;
}

/* ---- the process loop ---- */

void netvsp_set_link(struct netvsp_dev *nd, bool up) {
        nd->be_link_up = up;
        if (rndis_device_set_link(&nd->rndis, up) && nd->rndis.state == RNDIS_STATE_INITIALIZED)
                nd->link_indication = true;
}

/* The saved link states are the old backend's: the TAP may have changed
 * while the VM was saved, and the new worker's link watch saw nothing of
 * it. The guest is told the current state in any case: a redundant
 * MEDIA_CONNECT makes Linux netvsc notify its peers (gratuitous ARP,
 * unsolicited NA; docs/netvsp.md "Saved state"). */
void netvsp_dev_resume_restored(struct netvsp_dev *nd, bool up) {
        netvsp_set_link(nd, up);
        if (nd->rndis.state == RNDIS_STATE_INITIALIZED)
                nd->link_indication = true;
}

static void deliver_link_indication(struct netvsp_dev *nd) {
        uint8_t m[64];
        int n;
        if (!nd->link_indication || nd->ctrl_n == NETVSP_CTRL_QUEUE)
                return;
        nd->link_indication = false;
        if (nd->rndis.state != RNDIS_STATE_INITIALIZED)
                return;
        n = rndis_build_media_status(m, sizeof m, nd->rndis.link_up);
        if (n > 0)
                netvsp_queue_ctrl(nd, m, (size_t)n);
}

/* The send indirection table, once the guest turned RSS on over the
 * sub-channels it opened (Linux sets the RSS parameters after they are
 * all open): its flows spread over every channel. False: ring full. */
static bool send_table(struct netvsp_dev *nd) {
        if (nd->table_sent || !nd->subs_offered || !nd->rndis.rss_enabled || !nd->host->send_inband)
                return true;
        uint8_t msg[NETVSP_SEND_TABLE_MSG_LEN];
        size_t n = netvsp_send_table_build(msg, nd->subs_offered + 1);
        int r = nd->host->send_inband(nd->host_ctx, msg, n);
        if (r == -EAGAIN) {
                nd->stats.ring_full++;
                return false;
        }
        nd->table_sent = true; /* any other error: the channel is going away */
        return true;
}

/* The primary's device asks the backend for the GSO frames the guest's
 * RSC setting takes (after a restore too: a new TAP starts without). A
 * failure is counted and not retried: the guest then gets plain frames. */
static void rx_gso_sync(struct netvsp_dev *nd) {
        unsigned want = (nd->rndis.offload.rsc_ip4 ? NETVSP_BE_GSO_TCPV4 : 0u) |
                        (nd->rndis.offload.rsc_ip6 ? NETVSP_BE_GSO_TCPV6 : 0u);
        if (nd->sub_index != 0 || want == nd->be_gso || !nd->be->set_rx_gso || nd->be_gone)
                return;
        if (nd->be->set_rx_gso(nd->be_ctx, want) < 0)
                nd->stats.rx_gso_errors++;
        nd->be_gso = want;
}

unsigned netvsp_process(struct netvsp_dev *nd) {
        unsigned want = 0;

        nd->qos_tx_held = false;
        nd->qos_wait_ns = 0;
        if (nd->stall.active && !netvsp_tx_resume(nd))
                want |= nd->qos_tx_held ? NETVSP_WANT_TIMER : NETVSP_WANT_BACKEND_TX;
        if (!comp_flush(nd))
                want |= NETVSP_WANT_RING_SPACE;
        (void)rndis_device_take_events(&nd->rndis);
        rx_gso_sync(nd);
        deliver_link_indication(nd);
        if (!send_table(nd))
                want |= NETVSP_WANT_RING_SPACE;
        if (!netvsp_flush_rx(nd))
                return want | NETVSP_WANT_RING_SPACE; /* no new frames until the ring drains */
        if (nd->backend_rx)
                want |= netvsp_rx_frames(nd);
        if (nd->link_indication) { /* the backend went away while reading */
                deliver_link_indication(nd);
                if (!netvsp_flush_rx(nd))
                        want |= NETVSP_WANT_RING_SPACE;
        }
        return want;
}

void netvsp_dev_set_qos(struct netvsp_dev *nd, struct netvsp_qos *qos) {
        nd->qos = qos;
}

uint64_t netvsp_dev_qos_wait_ns(const struct netvsp_dev *nd) {
        return nd->qos_wait_ns;
}

const struct netvsp_stats *netvsp_dev_stats(const struct netvsp_dev *nd) {
        return &nd->stats;
}
const struct rndis_device *netvsp_dev_rndis(const struct netvsp_dev *nd) {
        return &nd->rndis;
}
uint32_t netvsp_dev_version(const struct netvsp_dev *nd) {
        return nd->version;
}
const struct netvsp_rxbuf *netvsp_dev_rxbuf(const struct netvsp_dev *nd) {
        return &nd->rb;
}
