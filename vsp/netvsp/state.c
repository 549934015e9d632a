// SPDX-License-Identifier: MIT
/* The device's guest-visible state as plain data (netvsp_dev_state,
 * docs/vm-state.md): what a saved state will hold. */
#include <assert.h>
#include <stddef.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/device.h"
#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "netvsp-internal.h"
#include "provider-internal.h"
#include "netvsp/nvsp.h"

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
                out->recv_first = nd->rb.first;
                out->recv_total = nd->recv_total;
                out->rx_split = nd->rx_split;
        }
        out->sub_index = nd->sub_index;
        out->subs_offered = nd->subs_offered;
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

/* ---- the saved state (netvsp.h "NVCH") ---- */

#define F(id_, kind_, m_) VMSTATE_FIELD(id_, kind_, struct netvsp_saved, m_)
#define A(id_, kind_, m_, n_) VMSTATE_ARRAY(id_, kind_, struct netvsp_saved, m_, n_)
static const struct vmstate_field_desc saved_fields[] = {
        F(1, VMSTATE_BYTES, perm_mac),         F(2, VMSTATE_U32, nvsp_version),
        F(3, VMSTATE_U32, ndis_major),         F(4, VMSTATE_U32, ndis_minor),
        F(5, VMSTATE_U32, guest_mtu),          F(6, VMSTATE_U64, guest_caps),
        F(7, VMSTATE_BOOL, recv_buf),          F(8, VMSTATE_U32, recv_gpadl),
        F(9, VMSTATE_U32, recv_slot_size),     F(10, VMSTATE_U32, recv_slots),
        F(11, VMSTATE_U32, recv_generation),   F(12, VMSTATE_BOOL, send_buf),
        F(13, VMSTATE_U32, send_gpadl),        F(14, VMSTATE_U32, send_sections),
        F(15, VMSTATE_U32, rndis_state),       F(16, VMSTATE_BYTES, current_mac),
        F(17, VMSTATE_BOOL, link_up),          F(18, VMSTATE_BOOL, backend_link_up),
        F(19, VMSTATE_BOOL, link_indication),  F(20, VMSTATE_U32, packet_filter),
        F(21, VMSTATE_U32, offload),           F(22, VMSTATE_BOOL, rss_enabled),
        F(23, VMSTATE_U32, rss_hashinfo),      F(24, VMSTATE_BYTES, rss_key),
        A(25, VMSTATE_U32_ARRAY, rss_table, rss_table_len),
        A(26, VMSTATE_VARBYTES, comps, comps_len),
        A(27, VMSTATE_VARBYTES, ctrl, ctrl_len),
        A(28, VMSTATE_U32_ARRAY, rx_batch_slot, rx_batch_n),
        A(29, VMSTATE_U32_ARRAY, rx_batch_bytes, rx_batch_bytes_n),
        A(30, VMSTATE_U64_ARRAY, posted_tid, n_posted),
        A(31, VMSTATE_U32_ARRAY, posted_len, n_posted_len),
        A(32, VMSTATE_U32_ARRAY, posted_slots, n_posted_slots),
        F(33, VMSTATE_BOOL, stall_comp),       F(34, VMSTATE_U64, stall_trans_id),
        F(35, VMSTATE_U32, stall_status),
        F(36, VMSTATE_U32, recv_first),        F(37, VMSTATE_U32, recv_total),
        F(38, VMSTATE_U32, rx_split),          F(39, VMSTATE_U32, sub_index),
        F(40, VMSTATE_U32, subs_offered),
};
#undef F
#undef A
const struct vmstate_desc netvsp_saved_desc = {
        .tag = NETVSP_STATE_TAG, .version = 1, .fields = saved_fields, .n_fields = ARRAY_SIZE(saved_fields),
        .name = "netvsp channel",
};

static uint32_t offload_bits(const struct rndis_offload_state *o) {
        return (uint32_t)o->tx_csum_tcp4 | (uint32_t)o->tx_csum_udp4 << 1 | (uint32_t)o->tx_csum_tcp6 << 2 |
               (uint32_t)o->tx_csum_udp6 << 3 | (uint32_t)o->lso_ip4 << 4 | (uint32_t)o->lso_ip6 << 5 |
               (uint32_t)o->rsc_ip4 << 6 | (uint32_t)o->rsc_ip6 << 7;
}

static struct rndis_offload_state offload_from(uint32_t b) {
        return (struct rndis_offload_state){ .tx_csum_tcp4 = b & 1, .tx_csum_udp4 = b & 2, .tx_csum_tcp6 = b & 4,
                                             .tx_csum_udp6 = b & 8, .lso_ip4 = b & 16, .lso_ip6 = b & 32,
                                             .rsc_ip4 = b & 64, .rsc_ip6 = b & 128 };
}

/* The posted batches from the slot owners (a batch: the slots of one id,
 * its head first, then in next[] order). */
static void saved_posted(const struct netvsp_dev *nd, struct netvsp_saved *st) {
        const struct netvsp_rxbuf *rb = &nd->rb;
        for (uint32_t head = 0; head < rb->n_slots; head++) {
                if (rb->state[head] != NETVSP_SLOT_POSTED || rb->gen[head] == 0)
                        continue;
                uint32_t n = 0;
                for (uint32_t s = head; s != UINT32_MAX; s = rb->next[s], n++)
                        st->posted_slots[st->n_posted_slots++] = s;
                st->posted_tid[st->n_posted] = (uint64_t)rb->gen[head] << 32 | head;
                st->posted_len[st->n_posted++] = n;
        }
        st->n_posted_len = st->n_posted;
}

int netvsp_dev_save(const struct netvsp_dev *nd, const uint8_t perm_mac[6], struct vmstate_writer *w,
                    uint32_t instance) {
        struct netvsp_dev_state *ds = malloc(sizeof *ds);
        struct netvsp_saved *st = calloc(1, sizeof *st);
        int r = ds && st ? 0 : -ENOMEM;
        if (r == 0) {
                netvsp_dev_get_state(nd, ds);
                memcpy(st->perm_mac, perm_mac, 6);
                st->nvsp_version = ds->nvsp_version, st->ndis_major = ds->ndis_major, st->ndis_minor = ds->ndis_minor;
                st->guest_mtu = ds->guest_mtu, st->guest_caps = ds->guest_caps;
                st->recv_buf = ds->recv_buf, st->recv_gpadl = ds->recv_gpadl, st->recv_slot_size = ds->recv_slot_size;
                st->recv_slots = ds->recv_slots, st->recv_generation = ds->recv_generation;
                st->recv_first = ds->recv_first, st->recv_total = ds->recv_total, st->rx_split = ds->rx_split;
                st->sub_index = ds->sub_index, st->subs_offered = ds->subs_offered;
                st->send_buf = ds->send_buf, st->send_gpadl = ds->send_gpadl, st->send_sections = ds->send_sections;
                st->rndis_state = ds->rndis_state;
                memcpy(st->current_mac, ds->current_mac, 6);
                st->link_up = ds->link_up, st->backend_link_up = ds->backend_link_up;
                st->link_indication = ds->link_indication, st->packet_filter = ds->packet_filter;
                st->offload = offload_bits(&ds->offload), st->rss_enabled = ds->rss_enabled;
                st->rss_hashinfo = ds->rss_hashinfo, st->rss_table_len = ds->rss_table_len;
                memcpy(st->rss_key, ds->rss_key, sizeof st->rss_key);
                memcpy(st->rss_table, ds->rss_table, sizeof st->rss_table);
                for (uint32_t i = 0; i < ds->n_comps; i++, st->comps_len += 16u + NVSP_MESSAGE_SIZE) {
                        vmstate_put_le64(st->comps + st->comps_len, ds->comps[i].trans_id);
                        vmstate_put_le32(st->comps + st->comps_len + 8, ds->comps[i].len);
                        memcpy(st->comps + st->comps_len + 16, ds->comps[i].msg, NVSP_MESSAGE_SIZE);
                }
                for (uint32_t i = 0; i < ds->n_ctrl; i++) {
                        vmstate_put_le32(st->ctrl + st->ctrl_len, ds->ctrl[i].len);
                        memcpy(st->ctrl + st->ctrl_len + 8, ds->ctrl[i].data, ds->ctrl[i].len);
                        st->ctrl_len += 8u + ALIGN_UP(ds->ctrl[i].len, 8u);
                }
                st->rx_batch_n = st->rx_batch_bytes_n = ds->rx_batch_n;
                for (uint32_t i = 0; i < ds->rx_batch_n; i++) {
                        st->rx_batch_slot[i] = ds->rx_batch[i].slot;
                        st->rx_batch_bytes[i] = ds->rx_batch[i].byte_count;
                }
                if (nd->recv_ok)
                        saved_posted(nd, st);
                st->stall_comp = ds->stall.active && ds->stall.want_comp;
                st->stall_trans_id = st->stall_comp ? ds->stall.trans_id : 0;
                st->stall_status = st->stall_comp ? ds->stall.status : 0;
                r = vmstate_encode(w, &netvsp_saved_desc, instance, st);
        }
        free(ds);
        free(st);
        return r;
}

static bool nvsp_version_known(uint32_t v) {
        return v == 0 || v == NVSP_PROTOCOL_VERSION_1 || v == NVSP_PROTOCOL_VERSION_2 ||
               v == NVSP_PROTOCOL_VERSION_4 || v == NVSP_PROTOCOL_VERSION_5 || v == NVSP_PROTOCOL_VERSION_6 ||
               v == NVSP_PROTOCOL_VERSION_61;
}

#define COMP_RECORD (16u + NVSP_MESSAGE_SIZE)

/* The queued records' framing (pure). The completion queue must hold the
 * saved completions and the one a stalled send owes: a state with more
 * cannot be restored without losing one. */
static bool records_ok(const struct netvsp_saved *st) {
        if (st->comps_len % COMP_RECORD || st->comps_len / COMP_RECORD + st->stall_comp > NETVSP_COMP_QUEUE)
                return false;
        for (uint32_t off = 0; off < st->comps_len; off += COMP_RECORD)
                if (vmstate_le32(st->comps + off + 8) > NVSP_MESSAGE_SIZE)
                        return false;
        uint32_t off = 0, n = 0;
        while (off < st->ctrl_len) {
                if (st->ctrl_len - off < 8 || ++n > NETVSP_CTRL_QUEUE)
                        return false;
                uint32_t len = vmstate_le32(st->ctrl + off);
                if (len == 0 || len > NETVSP_CTRL_MSG_MAX || ALIGN_UP(len, 8u) > st->ctrl_len - off - 8)
                        return false;
                off += 8u + ALIGN_UP(len, 8u);
        }
        return true;
}

/* Marks slot in seen; false when it is out of range or already taken. */
static bool take_slot(uint64_t *seen, uint32_t slot, uint32_t n_slots) {
        if (slot >= n_slots || seen[slot / 64] & (1ull << (slot % 64)))
                return false;
        seen[slot / 64] |= 1ull << (slot % 64);
        return true;
}

/* The receive slots (pure, what netvsp_rxbuf_restore relies on): each
 * posted batch's id names its first slot with a non-zero generation, the
 * lengths add up (64-bit: 65536 lengths of 65536 wrap 32 bits) to the
 * slots given, and no slot, posted or filled, is out of range or used
 * twice. */
static const char *slots_bad(const struct netvsp_saved *st) {
        if (st->rx_batch_n != st->rx_batch_bytes_n || st->n_posted != st->n_posted_len)
                return "batch counts";
        if (!st->recv_buf)
                return st->n_posted || st->n_posted_slots || st->rx_batch_n ? "receive slots without a buffer" : NULL;
        uint64_t sum = 0;
        for (uint32_t b = 0; b < st->n_posted; b++)
                sum += st->posted_len[b];
        if (sum != st->n_posted_slots)
                return "batch counts";
        static_assert(NETVSP_RXBUF_MAX_SLOTS % 64 == 0, "bitmap words");
        uint64_t seen[NETVSP_RXBUF_MAX_SLOTS / 64] = { 0 };
        uint32_t k = 0;
        for (uint32_t b = 0; b < st->n_posted; b++) {
                uint32_t head = (uint32_t)st->posted_tid[b], gen = (uint32_t)(st->posted_tid[b] >> 32);
                if (st->posted_len[b] == 0 || gen == 0 || st->posted_slots[k] != head)
                        return "posted receive slots";
                for (uint32_t i = 0; i < st->posted_len[b]; i++, k++)
                        if (!take_slot(seen, st->posted_slots[k], st->recv_slots))
                                return "posted receive slots";
        }
        for (uint32_t i = 0; i < st->rx_batch_n; i++)
                if (!take_slot(seen, st->rx_batch_slot[i], st->recv_slots) ||
                    st->rx_batch_bytes[i] > st->recv_slot_size)
                        return "rx_batch";
        return NULL;
}

int netvsp_saved_decode(const struct vmstate_section *s, struct netvsp_saved *out, char *err, size_t errlen) {
        memset(out, 0, offsetof(struct netvsp_saved, posted_tid));
        out->n_posted = out->n_posted_len = out->n_posted_slots = 0;
        out->stall_comp = false, out->stall_trans_id = 0, out->stall_status = 0;
        int r = vmstate_decode(s, &netvsp_saved_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->recv_buf && out->recv_total == 0) /* saved without vRSS: the whole buffer */
                out->recv_total = out->recv_slots, out->recv_first = 0, out->rx_split = 1;
        const char *bad =
                !nvsp_version_known(out->nvsp_version)                                        ? "nvsp_version"
                : out->rndis_state > RNDIS_STATE_HALTED                                       ? "rndis_state"
                : out->offload > 255                                                          ? "offload"
                : out->rss_table_len > RNDIS_RSS_TABLE_MAX                                    ? "rss_table"
                : out->recv_buf && (out->recv_slot_size < NETVSP_RXBUF_MIN_SLOT || out->recv_slots == 0 ||
                                    out->recv_slots > NETVSP_RXBUF_MAX_SLOTS)                 ? "recv_slots"
                : out->recv_buf && (out->recv_total > NETVSP_RXBUF_MAX_SLOTS || out->recv_first > out->recv_total ||
                                    out->recv_slots > out->recv_total - out->recv_first ||
                                    out->rx_split == 0 || out->rx_split > NETVSP_MAX_QUEUES)  ? "recv_total"
                : out->sub_index >= NETVSP_MAX_QUEUES ||
                  (out->sub_index && (out->subs_offered || (out->recv_buf && out->sub_index >= out->rx_split)))
                                                                                              ? "sub_index"
                : out->subs_offered >= NETVSP_MAX_QUEUES ||
                  (out->recv_buf && out->subs_offered >= out->rx_split)                      ? "subs_offered"
                : !records_ok(out)                                                            ? "queued messages"
                                                                                              : slots_bad(out);
        return bad ? errorf(err, errlen, -EINVAL, "section NVCH #%u: %s out of range", s->instance, bad) : 0;
}

static int map_buffers(struct netvsp_dev *nd, const struct netvsp_saved *st, char *err, size_t errlen) {
        void *base;
        size_t len;
        if (st->recv_buf) {
                if (nd->host->map_gpadl(nd->host_ctx, st->recv_gpadl, &base, &len) < 0)
                        return errorf(err, errlen, -EINVAL, "NVCH: receive buffer GPADL %u is gone", st->recv_gpadl);
                nd->recv_ok = true, nd->recv_gpadl = st->recv_gpadl, nd->recv_base = base, nd->recv_len = len;
                if (len > NETVSP_MAX_RECV_BUF || st->recv_slot_size < NETVSP_RXBUF_MIN_SLOT ||
                    MIN(len / st->recv_slot_size, (size_t)NETVSP_RXBUF_MAX_SLOTS) != st->recv_total ||
                    st->recv_first > st->recv_total || st->recv_slots > st->recv_total - st->recv_first ||
                    netvsp_rxbuf_init_range(&nd->rb, st->recv_slot_size, st->recv_first, st->recv_slots) < 0)
                        return errorf(err, errlen, -EINVAL, "NVCH: the receive buffer does not hold %u slots of %u",
                                      st->recv_slots, st->recv_slot_size);
                if (netvsp_rxbuf_restore(&nd->rb, st->recv_generation, st->posted_tid, st->posted_len, st->n_posted,
                                         st->posted_slots, st->rx_batch_slot, st->rx_batch_n) < 0)
                        return errorf(err, errlen, -EINVAL, "NVCH: the receive slots the guest holds are inconsistent");
        }
        if (st->send_buf) {
                if (nd->host->map_gpadl(nd->host_ctx, st->send_gpadl, &base, &len) < 0)
                        return errorf(err, errlen, -EINVAL, "NVCH: send buffer GPADL %u is gone", st->send_gpadl);
                nd->send_ok = true, nd->send_gpadl = st->send_gpadl, nd->send_base = base, nd->send_len = len;
                nd->send_sections = (uint32_t)(len / nd->cfg.send_section_size);
                if (len > NETVSP_MAX_SEND_BUF || nd->send_sections != st->send_sections)
                        return errorf(err, errlen, -EINVAL, "NVCH: the send buffer does not hold %u sections",
                                      st->send_sections);
        }
        return 0;
}

/* The decoder bounded every queue: nothing here is dropped. */
static void restore_queues(struct netvsp_dev *nd, const struct netvsp_saved *st) {
        for (uint32_t off = 0; off < st->comps_len; off += COMP_RECORD)
                (void)netvsp_queue_completion(nd, vmstate_le64(st->comps + off), st->comps + off + 16,
                                              vmstate_le32(st->comps + off + 8));
        for (uint32_t off = 0; off < st->ctrl_len;) {
                struct netvsp_ctrl_msg *m = &nd->ctrl[(nd->ctrl_head + nd->ctrl_n++) % NETVSP_CTRL_QUEUE];
                m->len = vmstate_le32(st->ctrl + off);
                memcpy(m->data, st->ctrl + off + 8, m->len);
                off += 8u + ALIGN_UP(m->len, 8u);
        }
        nd->batch_n = st->rx_batch_n;
        for (uint32_t i = 0; i < st->rx_batch_n; i++) {
                nd->batch_slot[i] = st->rx_batch_slot[i];
                nd->batch_range[i] = (struct vmtransfer_page_range){
                        .byte_count = st->rx_batch_bytes[i],
                        .byte_offset = netvsp_rxbuf_slot_offset(&nd->rb, st->rx_batch_slot[i]) };
        }
        /* The stalled send's remaining frames are dropped; its completion is
         * owed. Queued, not sent: a restore writes no guest ring (it is
         * posted with the others in the first round after resume). */
        if (st->stall_comp) {
                struct nvsp_message m;
                size_t n = nvsp_build_rndis_pkt_complete(&m, st->stall_status);
                (void)netvsp_queue_completion(nd, st->stall_trans_id, &m, n);
        }
}

int netvsp_dev_restore(struct netvsp_dev *nd, const struct netvsp_saved *st, char *err, size_t errlen) {
        if (nd->version || nd->recv_ok || nd->send_ok)
                return errorf(err, errlen, -EBUSY, "NVCH: the device is in use");
        if (memcmp(st->perm_mac, nd->cfg.rndis.mac, 6))
                return errorf(err, errlen, -EINVAL, "NVCH: saved for another MAC address than this NIC's");
        if (st->sub_index != nd->sub_index)
                return errorf(err, errlen, -EINVAL, "NVCH: saved for sub-channel %u, restored into %u", st->sub_index,
                              nd->sub_index);
        if (st->recv_buf && st->rx_split > MAX(nd->cfg.queues, 1u))
                return errorf(err, errlen, -EINVAL, "NVCH: %u channels saved, this NIC has %u", st->rx_split,
                              MAX(nd->cfg.queues, 1u));
        int r = map_buffers(nd, st, err, errlen);
        if (r < 0) { /* nothing applied: the device is as new (buffers unmapped) */
                netvsp_revoke_recv_buf(nd);
                netvsp_revoke_send_buf(nd);
                return r;
        }
        nd->version = st->nvsp_version, nd->ndis_major = st->ndis_major, nd->ndis_minor = st->ndis_minor;
        nd->recv_total = st->recv_buf ? st->recv_total : 0, nd->rx_split = st->recv_buf ? st->rx_split : 0;
        nd->subs_offered = st->subs_offered; /* the table is sent again (table_sent false) */
        nd->guest_mtu = st->guest_mtu, nd->guest_caps = st->guest_caps;
        struct rndis_device *rd = &nd->rndis;
        rd->state = (enum rndis_state)st->rndis_state;
        memcpy(rd->current_mac, st->current_mac, 6);
        rd->link_up = st->link_up, rd->packet_filter = st->packet_filter, rd->offload = offload_from(st->offload);
        /* RSC the guest turned on where this NIC cannot coalesce (a TAP
         * without a vnet header, a small MTU): it gets plain frames, which a
         * guest with RSC on takes as well */
        rd->offload.rsc_ip4 &= rd->cfg.caps.rsc, rd->offload.rsc_ip6 &= rd->cfg.caps.rsc;
        rd->rss_enabled = st->rss_enabled, rd->rss_hashinfo = st->rss_hashinfo;
        rd->rss_table_len = MIN(st->rss_table_len, (uint32_t)RNDIS_RSS_TABLE_MAX);
        memcpy(rd->rss_key, st->rss_key, sizeof rd->rss_key);
        memcpy(rd->rss_table, st->rss_table, rd->rss_table_len * sizeof rd->rss_table[0]);
        nd->be_link_up = st->backend_link_up, nd->link_indication = st->link_indication;
        restore_queues(nd, st);
        return 0;
}

/* ---- saved state (netvsp.h "NVCH", docs/netvsp.md "Saved state") ---- */

struct save_call {
        struct netvsp_chan *c;
        struct vmstate_writer *w;
};

static int save_on_worker(void *arg) {
        struct save_call *a = arg;
        return netvsp_dev_save(a->c->nd, a->c->nic->cfg.dev.rndis.mac, a->w, vmbus_channel_relid(a->c->ch));
}

int netvsp_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen) {
        struct netvsp_chan *c = vmbus_channel_data(ch);
        /* On the parked worker: the device is the worker's. */
        int r = devworker_call(c->w, save_on_worker, &(struct save_call){ c, w });
        return r < 0 ? errorf(err, errlen, r, "writing section NVCH #%u: %s", vmbus_channel_relid(ch), strerror(-r))
                     : 0;
}

/* Opened as the guest's OPENCHANNEL would have (quiesced: the worker is
 * parked), then the device's state applied on that worker. */
struct restore_call {
        struct netvsp_chan *c;
        const struct netvsp_saved *st;
        char *err;
        size_t errlen;
};

static int restore_on_worker(void *arg) {
        struct restore_call *a = arg;
        int r = netvsp_dev_restore(a->c->nd, a->st, a->err, a->errlen);
        if (r == 0)
                netvsp_chan_share(a->c); /* the primary: its sub-channels' view */
        return r;
}

int netvsp_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                           const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct netvsp_nic *nic = vmbus_device_data(vmbus_channel_device(ch));
        uint32_t relid = vmbus_channel_relid(ch);
        const struct vmstate_section *sec = vmstate_find(secs, n, NETVSP_STATE_TAG, relid);
        if (!sec)
                return errorf(err, errlen, -EINVAL, "the state has no NVCH section for channel %u", relid);
        struct netvsp_saved *st = malloc(sizeof *st);
        int r = !st ? -ENOMEM : netvsp_saved_decode(sec, st, err, errlen);
        if (r == 0) {
                pthread_mutex_lock(&nic->chan_lock);
                nic->quiesced = true; /* restored quiesced: the NIC's resume starts it */
                pthread_mutex_unlock(&nic->chan_lock);
                r = netvsp_chan_open(ch, req, true);
        }
        if (r == 0) {
                struct netvsp_chan *c = vmbus_channel_data(ch);
                r = devworker_call(c->w, restore_on_worker, &(struct restore_call){ c, st, err, errlen });
                if (r < 0) {
                        netvsp_close(ch); /* nothing of the channel is kept */
                } else { /* the guest may have queued packets while saved: serve them at once */
                        (void)eventfd_write(vmbus_channel_event_fd(ch), 1);
                        pthread_mutex_lock(&nic->chan_lock);
                        nic->restored = true;
                        pthread_mutex_unlock(&nic->chan_lock);
                }
        }
        free(st);
        return r;
}

/* ---- the NIC's row of the worker's device table ---- */

/* Quiesce parks its channel workers (no ring read, guest RAM write,
 * interrupt or TAP read). Everything the guest sees of a NIC is its
 * channels' (NVCH, through the VMBus server's row and the hooks above):
 * the row saves nothing of its own, and its restore leaves the NIC
 * quiesced for the first resume. */
static int row_quiesce(void *dev) {
        return netvsp_nic_quiesce(dev);
}

static void row_resume(void *dev) {
        netvsp_nic_resume(dev);
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return 0;
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return netvsp_nic_restored(dev);
}

/* One object per NIC at the end of "nics": the NICs' rows are in
 * configuration order (a hot add appends, a hot remove closes the gap as
 * the configuration does), so the array's index is the NIC's. netvsp's
 * device counters summed over the NIC's channels, and its channel
 * workers' own (docs/netvsp.md). */
static void row_stats(void *dev, struct json_object *into) {
        static const struct {
                const char *key;
                size_t off;
        } counters[] = {
#define D(k) { #k, offsetof(struct netvsp_stats, k) }
                D(tx_packets), D(tx_bytes), D(tx_dropped), D(tx_malformed), D(tx_stalls),
                D(rx_packets), D(rx_bytes), D(rx_filtered), D(rx_dropped), D(rx_truncated),
                D(rx_coalesced), D(rx_buffer_full), D(rx_gso_errors), D(ring_full), D(ctrl_requests),
                D(ctrl_dropped), D(bad_packets), D(bogus_completions), D(announces),
                D(tx_qos_waits), D(rx_qos_waits),
#undef D
        };
        struct json_object *o = device_stat_append(into, "nics");
        if (!o)
                return;
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(dev, &st);
        for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
                uint64_t v;
                memcpy(&v, (const uint8_t *)&st.dev + counters[k].off, sizeof v);
                device_stat_add(o, counters[k].key, v);
        }
        device_stat_add(o, "worker_sleeps", st.sleeps);
        device_stat_add(o, "worker_doorbells", st.doorbells);
        device_stat_add(o, "channels_broken", st.channels_broken);
        device_stat_add(o, "queue_attach_failures", st.queue_attach_failures);
        device_stat_bool(o, "link_up", st.link_up);
}

static const uint32_t row_tags[] = { NETVSP_STATE_TAG, 0 };

const struct device_ops netvsp_nic_device_ops = {
        .name = "netvsp", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .stats = row_stats,
};
