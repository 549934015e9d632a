// SPDX-License-Identifier: MIT
/* vRSS of a netvsc client (§7.8), in rndis_filter_device_add's order: once
 * the device is up, NVSP 5 SUBCHANNEL asks for sub-channels, the host
 * offers as many as it granted, each is opened (netvsc_sc_open), and the
 * RSS parameters name them all. A sub-channel carries data only: sends in
 * the shared send buffer, frames in the shared receive buffer, each
 * completed on the channel it came on. Every channel is its own struct
 * vsc_net with its own share of the send sections, so each can run on its
 * own CPU without a lock. */
#include "net-internal.h"

/* Marks [first, end) as this channel's share, everything else busy. */
static void give_share(struct vsc_net *n, uint32_t first, uint32_t end) {
        vsc_memset(n->section_busy, 0xff, sizeof n->section_busy);
        for (uint32_t s = first; s < end; s++)
                n->section_busy[s / 64] &= ~(1ull << (s % 64));
        n->sec_first = first;
        n->sec_end = end;
        n->sections_free = end - first;
}

/* A sub-channel's struct: the primary's device as far as data needs it. */
static void sub_init(struct vsc_net *sub, struct vsc_net *net, uint16_t index) {
        vsc_memset(sub, 0, sizeof *sub);
        sub->bus = net->bus;
        sub->cfg = net->cfg;
        sub->nvsp_version = net->nvsp_version;
        sub->primary = net;
        sub->sub_index = index;
        sub->recv_buf = net->recv_buf;
        sub->recv_len = net->recv_len;
        sub->recv_slot_size = net->recv_slot_size;
        sub->recv_slots = net->recv_slots;
        sub->send_buf = net->send_buf;
        sub->send_len = net->send_len;
        sub->section_size = net->section_size;
        sub->sections = net->sections;
        sub->max_pkt_per_msg = net->max_pkt_per_msg;
        sub->pkt_align = net->pkt_align;
        vsc_memcpy(sub->mac, net->mac, 6);
        sub->max_frame_size = net->max_frame_size;
        sub->link_up = net->link_up;
        vsc_memcpy(sub->if_type, net->if_type, 16);
        vsc_memcpy(sub->if_instance, net->if_instance, 16);
}

int vsc_net_open_subchannels(struct vsc_net *net, struct vsc_net *subs, unsigned max, unsigned want) {
        struct vsc_bus *bus = net->bus;
        if (net->primary || !net->ch.open || !net->send_ok || !net->recv_ok || !net->max_pkt_per_msg)
                return vsc_fail(bus, -ENOTCONN, "netvsc: sub-channels before the device is up");
        if (net->n_subs)
                return vsc_fail(bus, -EBUSY, "netvsc: sub-channels are open already");
        if (vsc_net_tx_pending(net) || net->batch_open || net->batch_unqueued)
                return vsc_fail(bus, -EBUSY, "netvsc: sub-channels while sends are in flight");
        unsigned n = want;
        n = net->rss_queues - 1 < n ? net->rss_queues - 1 : n;
        n = max < n ? max : n;
        n = VSC_NET_MAX_CHANNELS - 1 < n ? VSC_NET_MAX_CHANNELS - 1 : n;
        /* rndis_filter_device_add: only NVSP >= 5 with more than one queue */
        if (net->nvsp_version < NVSP_PROTOCOL_VERSION_5 || n == 0)
                return 0;
        uint32_t w[3] = { NVSP_MSG5_TYPE_SUBCHANNEL, NVSP_SUBCHANNEL_ALLOCATE, n };
        int r = vsc_net_nvsp_send(net, w, 3, NVSP_MSG5_TYPE_SUBCHANNEL, "SUBCHANNEL");
        if (r < 0)
                return r;
        uint32_t status = vsc_net_rd32(net->comp_msg + 4), granted = vsc_net_rd32(net->comp_msg + 8);
        if (status != NVSP_STAT_SUCCESS)
                return vsc_fail(bus, -EIO, "netvsc: host refused %u sub-channels (NVSP status %u)", n, status);
        if (granted > n) /* netvsc would wait forever for offers it never asked for */
                return vsc_fail(bus, -EPROTO, "bad host message: %u sub-channels granted, %u asked", granted, n);
        if (granted == 0)
                return 0;
        r = vsc_wait_sub_offers(bus, net->if_type, net->if_instance, 1, granted, "netvsc");
        if (r < 0)
                return r;
        net->subs = subs;
        for (uint32_t i = 0; i < granted; i++) {
                const struct vsc_offer *o = vsc_find_sub_offer(bus, net->if_type, net->if_instance, (uint16_t)(i + 1));
                sub_init(&subs[i], net, (uint16_t)(i + 1));
                r = vsc_channel_open(bus, &subs[i].ch, o, net->cfg.ring_bytes, net->cfg.ring_bytes, NULL, 0);
                if (r < 0)
                        break;
                net->n_subs++;
        }
        if (r < 0) { /* none half-open: close what opened, the primary goes on alone */
                while (net->n_subs > 0)
                        (void)vsc_net_close(&subs[--net->n_subs]);
                return r;
        }
        /* the send sections in equal shares, the primary's first */
        uint32_t channels = 1 + net->n_subs, share = net->sections / channels;
        give_share(net, 0, share);
        for (uint32_t i = 0; i < net->n_subs; i++) {
                give_share(&subs[i], share * (i + 1), i + 1 == net->n_subs ? net->sections : share * (i + 2));
                subs[i].send_ok = subs[i].recv_ok = true;
        }
        return (int)net->n_subs;
}

int vsc_net_set_rss(struct vsc_net *net, const uint8_t key[NDIS_RSS_HASH_KEY_SIZE], uint32_t hash_types,
                    const uint32_t *table, uint32_t n) {
        struct {
                struct ndis_recv_scale_param p;
                uint32_t table[NDIS_RSS_INDIRECTION_MAX_ENTRIES];
                uint8_t key[NDIS_RSS_HASH_KEY_SIZE];
        } m;
        uint32_t channels = 1 + net->n_subs;
        if (net->primary)
                return vsc_fail(net->bus, -EINVAL, "netvsc: RSS parameters go on the primary channel");
        if (!table)
                n = VSC_NET_RSS_TABLE;
        if (n == 0 || n > NDIS_RSS_INDIRECTION_MAX_ENTRIES)
                return vsc_fail(net->bus, -EINVAL, "netvsc: an indirection table of %u entries", n);
        vsc_memset(&m, 0, sizeof m);
        for (uint32_t i = 0; i < n; i++) {
                m.table[i] = table ? table[i] : i % channels;
                if (m.table[i] >= channels)
                        return vsc_fail(net->bus, -EINVAL, "netvsc: indirection entry %u names channel %u of %u", i,
                                        m.table[i], channels);
        }
        /* rndis_set_rss_param_msg: the table right after the structure, the key after it */
        m.p.hdr = (struct ndis_object_header){ NDIS_OBJECT_TYPE_RSS_PARAMETERS, NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2,
                                               sizeof m.p };
        m.p.hashinfo = NDIS_HASH_FUNC_TOEPLITZ | hash_types;
        m.p.indirect_tabsize = (uint16_t)(4 * n);
        m.p.indirect_taboffset = sizeof m.p;
        m.p.hashkey_size = NDIS_RSS_HASH_KEY_SIZE;
        m.p.hashkey_offset = (uint32_t)(sizeof m.p + 4 * n);
        vsc_memcpy((uint8_t *)&m.table + 4 * n, key, NDIS_RSS_HASH_KEY_SIZE);
        uint32_t st;
        int r = vsc_net_set(net, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, &m, (uint32_t)(sizeof m.p + 4 * n) + NDIS_RSS_HASH_KEY_SIZE,
                            &st);
        if (r < 0)
                return r;
        if (st != RNDIS_STATUS_SUCCESS)
                return vsc_fail(net->bus, -EIO, "netvsc: host refused the RSS parameters: status 0x%x", st);
        return 0;
}
