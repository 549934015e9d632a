/* SPDX-License-Identifier: MIT */
/* netvsp as a VMBus provider against the simulated guest (vmbustest/sim.h) and
 * a real TAP in a private network namespace: the guest half is played the
 * way Linux 6.1 netvsc plays it (§7.3-§7.6) with the sim's ring code, guest
 * RAM is the sim's memfd (GPA = offset). Header-only, for the glue tests. */
#pragma once

#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netlink/route/link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/test.h"
#include "hv/nvsp.h"
#include "hv/rndis.h"
#include "hv/vmbus.h"
#include "netvsp/provider.h"
#include "tests/unit/test-netvsp-frames.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define NS_RAM (64u << 20)
#define NS_RING_PAGES 16u
#define NS_RECV_PAGES 256u /* 1 MiB */
#define NS_SEND_SECTIONS 16u
#define NS_SECTION 6144u
#define NS_CTRL_TID_BASE 0x1000u
#define NS_MAX_EVENTS 64

struct ns_env {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct netvsp_nic *nic;
        char tap[16];
        struct vmbus_channel_offer_channel offer;
        struct vmbus_sim_channel ch;
        uint64_t recv_pfn, send_pfn, scratch_pfn;
        uint32_t recv_gpadl, send_gpadl, slot_size, n_slots;
        uint64_t next_tid;
        uint32_t next_req;
        /* what arrived besides what a helper waited for */
        uint32_t indications[NS_MAX_EVENTS]; /* INDICATE_STATUS status codes */
        int n_indications;
        uint64_t comps[NS_MAX_EVENTS]; /* trans ids of NVSP 108 completions */
        uint32_t comp_status[NS_MAX_EVENTS];
        int n_comps;
        uint8_t mac[6];
        uint8_t inband[128]; /* the last in-band packet's payload (the send table) */
        int n_inband;
        int policy_calls; /* the thread_policy hook */
        char policy_name[16];
};

static inline int ns_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct ns_env *e = opaque;
        if (gpa >= vmbus_sim_ram_size(e->sim) || len > vmbus_sim_ram_size(e->sim) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(e->sim) + gpa;
        return 0;
}

static inline uint8_t *ns_ram(struct ns_env *e, uint64_t pfn) {
        return vmbus_sim_ram(e->sim) + pfn * 4096;
}

static inline void ns_enter_netns(void) {
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
}

/* The NIC config of a test: MAC NT_GUEST_MAC, MTU 1500, a TAP to create. */
static inline void ns_nic_config(struct ns_env *e, struct netvsp_nic_config *nc, const char *tap) {
        static const uint8_t mac[6] = NT_GUEST_MAC;
        memset(nc, 0, sizeof *nc);
        netvsp_config_init_defaults(&nc->dev);
        memcpy(nc->dev.rndis.mac, mac, 6);
        memcpy(e->mac, mac, 6);
        nc->dev.rndis.link_up = true;
        nc->tap = (struct tap_config){ .mtu = 1500, .create = true };
        snprintf(nc->tap.name, sizeof nc->tap.name, "%s", tap);
        snprintf(e->tap, sizeof e->tap, "%s", tap);
        nc->tap_fd = -1;
        nc->gm = (struct netvsp_guest_memory){ ns_map, e };
}

/* Server + sim + the NIC as device; connected and offered. */
static inline void ns_start(struct ns_env *e, const struct netvsp_nic_config *nc) {
        ASSERT_OK(vmbus_sim_new(NS_RAM, 1, &e->sim));
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct netvsp_nic_config c = *nc;
        c.gm.opaque = e;
        const char *why = NULL;
        int r = netvsp_nic_new(&c, &e->nic, &why);
        if (r < 0)
                fprintf(stderr, "netvsp_nic_new: %s: %s\n", why, strerror(-r));
        ASSERT_OK(r);
        snprintf(e->tap, sizeof e->tap, "%s", netvsp_nic_tap_name(e->nic));
        struct vmbus_device_config dc = { .ops = &netvsp_provider_ops, .data = e->nic };
        ASSERT_OK(guid_from_string("5e1f0c3a-9a7d-4b1e-8f00-000000000001", &dc.instance_id));
        struct vmbus_device *dev;
        ASSERT_OK(vmbus_server_add_device(e->srv, &dc, &dev));
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel offers[4];
        ASSERT_EQ(vmbus_sim_request_offers(e->sim, offers, 4), 1);
        e->offer = offers[0];
        static const uint8_t nic_class[16] = HV_NIC_GUID;
        ASSERT_MEMEQ(e->offer.if_type, nic_class, 16);
        e->next_tid = 1;
        e->next_req = 1;
        e->scratch_pfn = vmbus_sim_alloc_pages(e->sim, 2);
        ASSERT_NE(e->scratch_pfn, 0u);
}

static inline void ns_stop(struct ns_env *e) {
        vmbus_server_free(e->srv); /* closes the channel, destroys the NIC */
        ASSERT_EQ(vmbus_sim_live_mappings(e->sim), 0u);
        vmbus_sim_free(e->sim);
}

static inline void ns_open(struct ns_env *e) {
        ASSERT_EQ(vmbus_sim_open(e->sim, e->offer.child_relid, e->offer.connection_id, NS_RING_PAGES, NULL, 0,
                                 &e->ch),
                  0);
}

static inline uint64_t ns_send_nvsp(struct ns_env *e, const uint32_t *words, unsigned n, bool completion) {
        uint8_t m[NVSP_MESSAGE_SIZE] = { 0 };
        memcpy(m, words, 4 * n);
        uint64_t tid = completion ? e->next_tid++ : 0xfffffffffffffffdull; /* §5.7 "no response" */
        ASSERT_OK(vmbus_sim_ring_write(e->sim, &e->ch, VM_PKT_DATA_INBAND,
                                       completion ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0, tid, m, sizeof m));
        return tid;
}

/* Completes a transfer-page packet as netvsc does: VM_PKT_COMP {108, 1}. */
static inline void ns_complete_xfer_on(struct ns_env *e, struct vmbus_sim_channel *ch, uint64_t tid) {
        uint32_t c[2] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, NVSP_STAT_SUCCESS };
        ASSERT_OK(vmbus_sim_ring_write(e->sim, ch, VM_PKT_COMP, 0, tid, c, sizeof c));
}
static inline void ns_complete_xfer(struct ns_env *e, uint64_t tid) {
        ns_complete_xfer_on(e, &e->ch, tid);
}

struct ns_msg {
        uint32_t len;
        uint8_t data[RNDIS_MAX_RESPONSE_SIZE];
};

/* Reads the next host packet on channel ch (waiting up to ms).
 * Transfer-page packets are checked (§5.3, §7.4), their RNDIS messages
 * copied to msgs (up to max, *n_msgs set) and completed. Returns the
 * packet type, or -ETIMEDOUT. */
static inline int ns_next_on(struct ns_env *e, struct vmbus_sim_channel *ch, int ms, struct vmbus_packet *p,
                             uint8_t *buf, struct ns_msg *msgs, int max, int *n_msgs) {
        int r = vmbus_sim_ring_wait(e->sim, ch, buf, 8192, p, ms);
        if (r == -ETIMEDOUT)
                return r;
        ASSERT_GT(r, 0);
        if (n_msgs)
                *n_msgs = 0;
        if (p->type == VM_PKT_DATA_INBAND) {
                memset(e->inband, 0, sizeof e->inband);
                memcpy(e->inband, buf + p->offset, MIN(vmbus_packet_payload_len(p), (uint32_t)sizeof e->inband));
                e->n_inband++;
        }
        if (p->type != VM_PKT_DATA_USING_XFER_PAGES)
                return p->type;
        struct vmtransfer_page_packet_header h;
        memcpy(&h, buf, sizeof h);
        ASSERT_EQ(h.xfer_pageset_id, NVSP_RECV_BUF_ID);
        ASSERT_TRUE(p->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
        ASSERT_GE(h.range_cnt, 1u);
        ASSERT_GE(p->offset, 24u + 8u * h.range_cnt);
        uint32_t type;
        memcpy(&type, buf + p->offset, 4);
        ASSERT_EQ(type, (uint32_t)NVSP_MSG1_TYPE_SEND_RNDIS_PKT); /* netvsc checks the NVSP message */
        for (uint32_t i = 0; i < h.range_cnt; i++) {
                struct vmtransfer_page_range rg;
                memcpy(&rg, buf + 24 + 8 * i, sizeof rg);
                ASSERT_LE((uint64_t)rg.byte_offset + rg.byte_count, (uint64_t)NS_RECV_PAGES * 4096);
                ASSERT_LE(rg.byte_count, e->slot_size);
                const uint8_t *m = ns_ram(e, e->recv_pfn) + rg.byte_offset;
                uint32_t ml;
                memcpy(&ml, m + 4, 4);
                ASSERT_LE(ml, rg.byte_count);
                uint32_t mt;
                memcpy(&mt, m, 4);
                if (mt == RNDIS_MSG_INDICATE && e->n_indications < NS_MAX_EVENTS)
                        memcpy(&e->indications[e->n_indications++], m + 8, 4);
                if (msgs && *n_msgs < max) {
                        msgs[*n_msgs].len = ml;
                        memcpy(msgs[*n_msgs].data, m, ml);
                        (*n_msgs)++;
                }
        }
        ns_complete_xfer_on(e, ch, p->trans_id);
        return p->type;
}

/* ns_next_on the primary channel. */
static inline int ns_next(struct ns_env *e, int ms, struct vmbus_packet *p, uint8_t *buf, struct ns_msg *msgs,
                          int max, int *n_msgs) {
        return ns_next_on(e, &e->ch, ms, p, buf, msgs, max, n_msgs);
}

/* Records an NVSP 108 completion (our data or control sends). */
static inline void ns_note_comp(struct ns_env *e, const struct vmbus_packet *p, const uint8_t *buf) {
        uint32_t w[2];
        ASSERT_GE(vmbus_packet_payload_len(p), 8u);
        memcpy(w, buf + p->offset, 8);
        if (w[0] == NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE && e->n_comps < NS_MAX_EVENTS) {
                e->comps[e->n_comps] = p->trans_id;
                e->comp_status[e->n_comps++] = w[1];
        }
}

/* Waits for the VM_PKT_COMP of tid; returns its NVSP message in m. */
static inline void ns_wait_comp(struct ns_env *e, uint64_t tid, uint32_t m[10]) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        for (int i = 0; i < 1000; i++) {
                int t = ns_next(e, 5000, &p, buf, NULL, 0, NULL);
                ASSERT_NE(t, -ETIMEDOUT);
                if (t != VM_PKT_COMP)
                        continue;
                if (p.trans_id == tid) {
                        memset(m, 0, 40);
                        memcpy(m, buf + p.offset, MIN(vmbus_packet_payload_len(&p), 40u));
                        return;
                }
                ns_note_comp(e, &p, buf);
        }
        ASSERT_TRUE(false);
}

/* Did an NVSP 108 for tid arrive (now or earlier)? Returns its status or -1. */
static inline int ns_comp_status(struct ns_env *e, uint64_t tid, int ms) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        for (;;) {
                for (int i = 0; i < e->n_comps; i++)
                        if (e->comps[i] == tid)
                                return (int)e->comp_status[i];
                int t = ns_next(e, ms, &p, buf, NULL, 0, NULL);
                if (t == -ETIMEDOUT)
                        return -1;
                if (t == VM_PKT_COMP)
                        ns_note_comp(e, &p, buf);
        }
}

static inline uint32_t ns_gpadl(struct ns_env *e, uint64_t pfn, unsigned pages) {
        uint64_t pfns[NS_RECV_PAGES];
        uint32_t h = vmbus_sim_next_gpadl_handle(e->sim);
        for (unsigned i = 0; i < pages; i++)
                pfns[i] = pfn + i;
        ASSERT_EQ(vmbus_sim_create_gpadl(e->sim, e->offer.child_relid, h, pfns, pages, pages * 4096u), 0);
        return h;
}

/* §7.3: INIT 6.1, NDIS config and version, receive and send buffers. */
static inline void ns_nvsp_init(struct ns_env *e) {
        uint32_t m[10];
        uint32_t init[3] = { NVSP_MSG_TYPE_INIT, NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_61 };
        ns_wait_comp(e, ns_send_nvsp(e, init, 3, true), m);
        ASSERT_EQ(m[0], (uint32_t)NVSP_MSG_TYPE_INIT_COMPLETE);
        ASSERT_EQ(m[3], (uint32_t)NVSP_STAT_SUCCESS);
        uint32_t cfg[5] = { NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 1514, 0, (uint32_t)NVSP_NDIS_CONFIG_CAP_IEEE8021Q, 0 };
        ns_send_nvsp(e, cfg, 5, false);
        uint32_t ver[3] = { NVSP_MSG1_TYPE_SEND_NDIS_VER, 6, 30 };
        ns_send_nvsp(e, ver, 3, false);
        if (!e->recv_pfn)
                e->recv_pfn = vmbus_sim_alloc_pages(e->sim, NS_RECV_PAGES);
        e->recv_gpadl = ns_gpadl(e, e->recv_pfn, NS_RECV_PAGES);
        uint32_t rb[3] = { NVSP_MSG1_TYPE_SEND_RECV_BUF, e->recv_gpadl, NVSP_RECV_BUF_ID };
        ns_wait_comp(e, ns_send_nvsp(e, rb, 3, true), m);
        ASSERT_EQ(m[0], (uint32_t)NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE);
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], 1u);
        e->slot_size = m[4];
        e->n_slots = m[5];
        ASSERT_GE(e->slot_size, 68u);
        ASSERT_LE((uint64_t)e->slot_size * e->n_slots, (uint64_t)NS_RECV_PAGES * 4096);
        unsigned send_pages = NS_SEND_SECTIONS * NS_SECTION / 4096;
        if (!e->send_pfn)
                e->send_pfn = vmbus_sim_alloc_pages(e->sim, send_pages);
        e->send_gpadl = ns_gpadl(e, e->send_pfn, send_pages);
        uint32_t sb[3] = { NVSP_MSG1_TYPE_SEND_SEND_BUF, e->send_gpadl, NVSP_SEND_BUF_ID };
        ns_wait_comp(e, ns_send_nvsp(e, sb, 3, true), m);
        ASSERT_EQ(m[0], (uint32_t)NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE);
        ASSERT_EQ(m[1], (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(m[2], NS_SECTION);
}

/* An NVSP 107 (RNDIS channel `channel`, no section) as a GPA-direct
 * packet with one single-page range: len bytes at the start of page pfn,
 * completion requested. */
#define NS_GPA_DIRECT_LEN 80u
static inline void ns_gpa_direct(uint8_t p[NS_GPA_DIRECT_LEN], uint64_t tid, uint32_t channel, uint64_t pfn,
                                 uint32_t len) {
        memset(p, 0, NS_GPA_DIRECT_LEN);
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = 5, .len8 = 10,
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = tid };
        memcpy(p, &d, sizeof d);
        uint32_t hdr[4] = { 0, 1, len, 0 }; /* reserved, range_cnt; byte_count, byte_offset */
        memcpy(p + 16, hdr, sizeof hdr);
        memcpy(p + 32, &pfn, 8);
        uint32_t w[4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, channel, NVSP_INVALID_SECTION_INDEX, 0 };
        memcpy(p + 40, w, sizeof w);
}

/* An RNDIS control message sent as netvsc does (§7.4): GPA-direct, one
 * single-page range, NVSP 107 channel 1, no section. Returns its tid. */
static inline uint64_t ns_send_control(struct ns_env *e, const void *msg, uint32_t len) {
        ASSERT_LE(len, 4096u);
        memcpy(ns_ram(e, e->scratch_pfn), msg, len);
        uint8_t p[NS_GPA_DIRECT_LEN];
        uint64_t tid = NS_CTRL_TID_BASE + e->next_tid++;
        ns_gpa_direct(p, tid, NVSP_RNDIS_CHANNEL_CONTROL, e->scratch_pfn, len);
        ASSERT_OK(vmbus_sim_ring_write_raw(e->sim, &e->ch, p, sizeof p, true));
        return tid;
}

/* A control request and its response (type want_type, matching req_id):
 * the NVSP completion of the request must be status 1 too. */
static inline uint32_t ns_control(struct ns_env *e, const void *msg, uint32_t len, uint32_t want_type,
                                  struct ns_msg *resp) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        struct ns_msg msgs[NETVSP_RX_BATCH_MAX];
        uint64_t tid = ns_send_control(e, msg, len);
        uint32_t req_id;
        memcpy(&req_id, (const uint8_t *)msg + 8, 4);
        bool got = false;
        for (int i = 0; i < 1000 && !got; i++) {
                int n, t = ns_next(e, 5000, &p, buf, msgs, NETVSP_RX_BATCH_MAX, &n);
                ASSERT_NE(t, -ETIMEDOUT);
                if (t == VM_PKT_COMP)
                        ns_note_comp(e, &p, buf);
                for (int k = 0; t == VM_PKT_DATA_USING_XFER_PAGES && k < n; k++) {
                        uint32_t mt, id;
                        memcpy(&mt, msgs[k].data, 4);
                        memcpy(&id, msgs[k].data + 8, 4);
                        if (mt == want_type && id == req_id) {
                                *resp = msgs[k];
                                got = true;
                        }
                }
        }
        ASSERT_TRUE(got);
        ASSERT_EQ(ns_comp_status(e, tid, 5000), (int)NVSP_STAT_SUCCESS);
        return resp->len;
}

static inline uint32_t ns_status_of(const struct ns_msg *m) {
        uint32_t st;
        memcpy(&st, m->data + 12, 4);
        return st;
}

static inline void ns_set_u32(struct ns_env *e, uint32_t oid, uint32_t v) {
        uint32_t set[8] = { RNDIS_MSG_SET, 32, e->next_req++, oid, 4, 20, 0, v };
        struct ns_msg r;
        ns_control(e, set, sizeof set, RNDIS_MSG_SET_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_SUCCESS);
}

/* RNDIS INIT, the MAC query and the packet filter Linux sets on "ip link up". */
static inline void ns_rndis_up(struct ns_env *e) {
        uint32_t init[6] = { RNDIS_MSG_INIT, 24, e->next_req++, 1, 0, 0x4000 };
        struct ns_msg r;
        ns_control(e, init, sizeof init, RNDIS_MSG_INIT_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_SUCCESS);
        uint32_t q[7] = { RNDIS_MSG_QUERY, 28, e->next_req++, RNDIS_OID_802_3_PERMANENT_ADDRESS, 0, 20, 0 };
        ns_control(e, q, sizeof q, RNDIS_MSG_QUERY_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_SUCCESS);
        ASSERT_MEMEQ(r.data + 8 + 16, e->mac, 6);
        ns_set_u32(e, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, 0x0d);
}

/* RSS parameters as Linux sets them once its sub-channels are open:
 * Toeplitz, 128 entries spread over the channels, a 40-byte key (byte i:
 * 7i + 1), and the hash types in hashinfo. */
static inline void ns_set_rss(struct ns_env *e, uint32_t channels, uint32_t hashinfo) {
        uint8_t m[28 + 40 + 512 + 40] = { 0 };
        uint32_t hdr[7] = { RNDIS_MSG_SET, sizeof m, e->next_req++, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS,
                            40 + 512 + 40, 20, 0 };
        memcpy(m, hdr, sizeof hdr);
        struct ndis_recv_scale_param p = {
                .hdr = { NDIS_OBJECT_TYPE_RSS_PARAMETERS, NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2, 40 },
                .hashinfo = hashinfo,
                .indirect_tabsize = 512, .indirect_taboffset = 40,
                .hashkey_size = 40, .hashkey_offset = 40 + 512,
        };
        memcpy(m + 28, &p, sizeof p);
        for (uint32_t i = 0; i < 128; i++) {
                uint32_t v = i % channels;
                memcpy(m + 28 + 40 + 4 * i, &v, 4);
        }
        for (uint32_t i = 0; i < 40; i++)
                m[28 + 40 + 512 + i] = (uint8_t)(i * 7 + 1);
        struct ns_msg r;
        ns_control(e, m, sizeof m, RNDIS_MSG_SET_C, &r);
        ASSERT_EQ(ns_status_of(&r), RNDIS_STATUS_SUCCESS);
}

/* vRSS (§7.8): SUBCHANNEL {op 1, n}; the completion's status and count
 * are m[1], m[2]. */
static inline void ns_ask_subchannels(struct ns_env *e, uint32_t n, uint32_t m[10]) {
        uint32_t sc[3] = { NVSP_MSG5_TYPE_SUBCHANNEL, NVSP_SUBCHANNEL_ALLOCATE, n };
        ns_wait_comp(e, ns_send_nvsp(e, sc, 3, true), m);
        ASSERT_EQ(m[0], (uint32_t)NVSP_MSG5_TYPE_SUBCHANNEL);
}

/* The next offer is sub-channel index of the NIC: opened. */
static inline void ns_open_sub(struct ns_env *e, uint16_t index, struct vmbus_sim_channel *sub) {
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(e->sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.sub_channel_index, index);
        ASSERT_MEMEQ(o.if_type, e->offer.if_type, 16);
        ASSERT_MEMEQ(o.if_instance, e->offer.if_instance, 16); /* same NIC (§6.7) */
        ASSERT_EQ(vmbus_sim_open(e->sim, o.child_relid, o.connection_id, NS_RING_PAGES, NULL, 0, sub), 0);
}

/* A frame in send section `section`, sent on `ch` (NVSP 107, completion
 * requested). */
static inline uint64_t ns_send_frame_on(struct ns_env *e, struct vmbus_sim_channel *ch, unsigned section,
                                        const void *frame, uint32_t len) {
        uint8_t *s = ns_ram(e, e->send_pfn) + (size_t)section * NS_SECTION;
        uint32_t h[11] = { RNDIS_MSG_PACKET, 44 + len, 36, len };
        memcpy(s, h, sizeof h);
        memcpy(s + 44, frame, len);
        uint32_t w[10] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, NVSP_RNDIS_CHANNEL_DATA, section, 44 + len };
        uint64_t tid = e->next_tid++;
        ASSERT_OK(vmbus_sim_ring_write(e->sim, ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       tid, w, sizeof w));
        return tid;
}

/* The NVSP 108 completion of tid on a sub-channel's ring: its status. */
static inline uint32_t ns_sub_comp(struct ns_env *e, struct vmbus_sim_channel *ch, uint64_t tid) {
        uint8_t buf[512];
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(e->sim, ch, buf, sizeof buf, &p, 5000), 0);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.trans_id, tid);
        uint32_t w[2];
        memcpy(w, buf + p.offset, 8);
        ASSERT_EQ(w[0], (uint32_t)NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
        return w[1];
}

/* One frame in send section `section` (one RNDIS PACKET), NVSP 107 inband
 * with completion requested, on the primary channel. */
static inline uint64_t ns_send_frame(struct ns_env *e, unsigned section, const void *frame, uint32_t len) {
        return ns_send_frame_on(e, &e->ch, section, frame, len);
}

/* Waits for a frame received on channel ch that match() accepts; copies
 * it to out. */
static inline ssize_t ns_wait_frame_on(struct ns_env *e, struct vmbus_sim_channel *ch,
                                       bool (*match)(const uint8_t *, size_t), uint8_t *out, int ms) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        static struct ns_msg msgs[NETVSP_RX_BATCH_MAX];
        uint64_t end = nt_now_ms() + (uint64_t)ms;
        while (nt_now_ms() < end) {
                int n, t = ns_next_on(e, ch, 100, &p, buf, msgs, NETVSP_RX_BATCH_MAX, &n);
                if (t == VM_PKT_COMP)
                        ns_note_comp(e, &p, buf);
                for (int k = 0; t == VM_PKT_DATA_USING_XFER_PAGES && k < n; k++) {
                        struct rndis_packet rp;
                        uint32_t mt;
                        memcpy(&mt, msgs[k].data, 4);
                        if (mt != RNDIS_MSG_PACKET)
                                continue;
                        memcpy(&rp, msgs[k].data + 8, sizeof rp);
                        ASSERT_LE(8ull + rp.data_offset + rp.data_len, (unsigned long long)msgs[k].len);
                        const uint8_t *f = msgs[k].data + 8 + rp.data_offset;
                        if (match(f, rp.data_len)) {
                                memcpy(out, f, rp.data_len);
                                return rp.data_len;
                        }
                }
        }
        return -ETIMEDOUT;
}

static inline ssize_t ns_wait_frame(struct ns_env *e, bool (*match)(const uint8_t *, size_t), uint8_t *out,
                                    int ms) {
        return ns_wait_frame_on(e, &e->ch, match, out, ms);
}

/* Waits until an INDICATE_STATUS with status arrived (now or earlier). */
static inline bool ns_wait_indication(struct ns_env *e, uint32_t status, int ms) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        uint64_t end = nt_now_ms() + (uint64_t)ms;
        do {
                for (int i = 0; i < e->n_indications; i++)
                        if (e->indications[i] == status)
                                return true;
                if (ns_next(e, 100, &p, buf, NULL, 0, NULL) == VM_PKT_COMP)
                        ns_note_comp(e, &p, buf);
        } while (nt_now_ms() < end);
        return false;
}

/* The NIC's counters once cond() holds (the thread publishes them after
 * each round that did something), or after 2 s. */
static inline void ns_stats_when(struct ns_env *e, bool (*cond)(const struct netvsp_nic_stats *),
                                 struct netvsp_nic_stats *st) {
        for (int i = 0; i < 200; i++) {
                netvsp_nic_get_stats(e->nic, st);
                if (cond(st))
                        return;
                usleep(10000);
        }
}

static inline const uint8_t *ns_guest_mac(void) {
        static const uint8_t m[6] = NT_GUEST_MAC;
        return m;
}

static inline bool ns_is_arp_reply(const uint8_t *f, size_t n) {
        return n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && memcmp(f, ns_guest_mac(), 6) == 0;
}

/* The host end of the TAP: NT_HOST_IP/24. */
static inline void ns_host_setup(struct ns_env *e) {
        ASSERT_OK(nt_add_addr((int)if_nametoindex(e->tap), e->tap, NT_HOST_IP "/24"));
}

/* An ARP request from the guest in send section `section`: the kernel's
 * reply arrives and the send is completed with status 1. */
static inline void ns_arp_roundtrip(struct ns_env *e, unsigned section) {
        uint8_t f[2048];
        size_t n = nt_arp_request(f, e->mac, NT_GUEST_IP, NT_HOST_IP);
        uint64_t tid = ns_send_frame(e, section, f, (uint32_t)n);
        ASSERT_EQ(ns_wait_frame(e, ns_is_arp_reply, f, 5000), (ssize_t)42);
        ASSERT_EQ(ns_comp_status(e, tid, 5000), (int)NVSP_STAT_SUCCESS);
}

/* Reads (and completes) host packets until none came for 300 ms: the
 * backlog a blaster left in the TAP's queue. A kernel reply queued behind
 * a full queue is dropped, so a test takes the backlog before it expects
 * a specific reply. */
static inline void ns_drain(struct ns_env *e) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        uint64_t end = nt_now_ms() + 20000;
        int t;
        while ((t = ns_next(e, 300, &p, buf, NULL, 0, NULL)) != -ETIMEDOUT) {
                if (t == VM_PKT_COMP)
                        ns_note_comp(e, &p, buf);
                ASSERT_LT(nt_now_ms(), end);
        }
}

/* A host thread sending 512-byte UDP datagrams at the guest as fast as
 * the kernel takes them, or one every gap_us (ns_blast_start adds a
 * neighbour entry for the guest, so they go out of the TAP). */
struct ns_blaster {
        atomic_bool stop;
        atomic_ulong sent;
        atomic_uint gap_us; /* 0: flood */
        pthread_t th;
};

static inline void *ns_blast(void *arg) {
        struct ns_blaster *b = arg;
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
        inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
        uint8_t data[512] = { 0 };
        while (!atomic_load(&b->stop)) {
                if (sendto(s, data, sizeof data, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof dst) > 0)
                        atomic_fetch_add(&b->sent, 1);
                unsigned gap = atomic_load(&b->gap_us);
                if (gap)
                        usleep(gap);
        }
        close(s);
        return NULL;
}

static inline void ns_blast_start(struct ns_env *e, struct ns_blaster *b) {
        ASSERT_OK(nt_add_neigh((int)if_nametoindex(e->tap), NT_GUEST_IP, e->mac));
        atomic_store(&b->stop, false);
        atomic_store(&b->sent, 0);
        atomic_store(&b->gap_us, 0);
        ASSERT_OK(-pthread_create(&b->th, NULL, ns_blast, b));
}

static inline void ns_blast_stop(struct ns_blaster *b) {
        atomic_store(&b->stop, true);
        pthread_join(b->th, NULL);
}

/* The TAP administratively up or down, as the host's admin would. */
static inline void ns_set_admin(const char *ifname, bool up) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *l = NULL, *chg = rtnl_link_alloc();
        ASSERT_OK(nl_connect(sk, NETLINK_ROUTE));
        ASSERT_OK(rtnl_link_get_kernel(sk, 0, ifname, &l));
        if (up)
                rtnl_link_set_flags(chg, IFF_UP);
        else
                rtnl_link_unset_flags(chg, IFF_UP);
        ASSERT_OK(rtnl_link_change(sk, l, chg, 0));
        rtnl_link_put(l);
        rtnl_link_put(chg);
        nl_socket_free(sk);
}
