// SPDX-License-Identifier: MIT
/* The device's guest-visible state as plain data (netvsp_dev_state,
 * docs/vm-state.md): what a saved state will hold. */
#include <string.h>

#include "common/macro.h"
#include "netvsp-internal.h"

static void get_rndis(const struct rndis_device *r, struct netvsp_dev_state *out) {
        out->rndis_state = (uint32_t)r->state;
        memcpy(out->current_mac, r->current_mac, sizeof out->current_mac);
        out->link_up = r->link_up;
        out->packet_filter = r->packet_filter;
        out->offload = r->offload;
        out->rss_enabled = r->rss_enabled;
        out->rss_hashinfo = r->rss_hashinfo;
        out->rss_table_len = MIN(r->rss_table_len, (uint32_t)ARRAY_SIZE(out->rss_table));
        memcpy(out->rss_key, r->rss_key, sizeof out->rss_key);
        memcpy(out->rss_table, r->rss_table, out->rss_table_len * sizeof out->rss_table[0]);
}

static void get_queues(const struct netvsp_dev *nd, struct netvsp_dev_state *out) {
        out->n_comps = nd->comp_n;
        for (unsigned i = 0; i < nd->comp_n; i++) {
                const struct netvsp_comp *c = &nd->comp[(nd->comp_head + i) % NETVSP_COMP_QUEUE];
                out->comps[i].trans_id = c->trans_id;
                out->comps[i].len = c->len;
                memcpy(out->comps[i].msg, &c->msg, sizeof out->comps[i].msg);
        }
        out->n_ctrl = nd->ctrl_n;
        for (unsigned i = 0; i < nd->ctrl_n; i++) {
                const struct netvsp_ctrl_msg *m = &nd->ctrl[(nd->ctrl_head + i) % NETVSP_CTRL_QUEUE];
                out->ctrl[i].len = m->len;
                memcpy(out->ctrl[i].data, m->data, m->len);
        }
        out->rx_batch_n = nd->batch_n;
        for (uint32_t i = 0; i < nd->batch_n; i++) {
                out->rx_batch[i].slot = nd->batch_slot[i];
                out->rx_batch[i].byte_count = nd->batch_range[i].byte_count;
        }
}

static void get_stall(const struct netvsp_tx_stall *s, struct netvsp_dev_state *out) {
        if (!s->active)
                return;
        out->stall.active = true;
        out->stall.want_comp = s->want_comp;
        out->stall.trans_id = s->trans_id;
        out->stall.status = s->status;
        out->stall.msgs = s->msgs;
        out->stall.pos = s->pos;
        out->stall.section_index = s->section_index;
        out->stall.section_size = s->section_size;
        out->stall.n_pages = s->n_pages;
        memcpy(out->stall.pages, s->pages, (size_t)s->n_pages * sizeof s->pages[0]);
}

void netvsp_dev_get_state(const struct netvsp_dev *nd, struct netvsp_dev_state *out) {
        memset(out, 0, sizeof *out);
        out->nvsp_version = nd->version;
        out->ndis_major = nd->ndis_major;
        out->ndis_minor = nd->ndis_minor;
        out->guest_mtu = nd->guest_mtu;
        out->guest_caps = nd->guest_caps;
        if (nd->recv_ok) {
                out->recv_buf = true;
                out->recv_gpadl = nd->recv_gpadl;
                out->recv_slot_size = nd->rb.slot_size;
                out->recv_slots = nd->rb.n_slots;
                out->recv_generation = nd->rb.generation;
                out->recv_posted_slots = netvsp_rxbuf_posted_slots(&nd->rb);
        }
        if (nd->send_ok) {
                out->send_buf = true;
                out->send_gpadl = nd->send_gpadl;
                out->send_sections = nd->send_sections;
        }
        get_rndis(&nd->rndis, out);
        out->backend_link_up = nd->be_link_up;
        out->link_indication = nd->link_indication;
        get_queues(nd, out);
        get_stall(&nd->stall, out);
}

uint32_t netvsp_dev_get_rx_slots(const struct netvsp_dev *nd, uint64_t *owner, uint32_t n) {
        if (!nd->recv_ok)
                return 0;
        netvsp_rxbuf_owners(&nd->rb, owner, n);
        return nd->rb.n_slots;
}
