/* SPDX-License-Identifier: MIT */
/* A fake VMBus side and a fake backend for netvsp_dev: guest RAM is a flat
 * array (gpa = offset), GPADLs are windows into it, packets the device sends
 * are recorded, and the guest's half of the protocol is played the way
 * Linux 6.1 netvsc plays it (§7.3-§7.6). Header-only, for the netvsp tests. */
#pragma once

#include "common/test.h"
#include "hv/nvsp.h"
#include "hv/rndis.h"
#include "hv/vmbus.h"
#include "netvsp/netvsp.h"
#include <linux/virtio_net.h>

#define FK_MEM (4u << 20)
#define FK_RECV_GPA 0x100000u /* receive buffer GPADL 1 */
#define FK_SEND_GPA 0x300000u /* send buffer GPADL 2 */
#define FK_SEND_LEN (16u * 6144u)
#define FK_SCRATCH_GPA 0x380000u /* where the "guest" puts RNDIS control messages and frames */
#define FK_MAX_OUT 512
#define FK_MAX_FRAMES 256

struct fk_out {
        int type; /* VM_PKT_COMP or VM_PKT_DATA_USING_XFER_PAGES */
        uint64_t tid;
        uint8_t msg[64];
        size_t len;
        uint32_t n;
        struct vmtransfer_page_range r[NETVSP_RX_BATCH_MAX];
};

struct fk_frame {
        struct virtio_net_hdr vh;
        size_t len;
        uint8_t data[70000];
};

struct fake {
        uint8_t *mem;
        size_t recv_len;
        bool ring_full;
        int unmapped;
        struct fk_out out[FK_MAX_OUT];
        int n_out, n_seen;
        /* backend */
        struct fk_frame *tx;     /* frames the device wrote */
        int n_tx;
        int tx_budget;           /* frames accepted before -EAGAIN; < 0: unlimited */
        int tx_eagains;          /* -EAGAIN answers given */
        bool be_gone;
        unsigned gso;            /* NETVSP_BE_GSO_* last set (fk_backend_gso) */
        int gso_calls;
        struct fk_frame *rx;     /* frames for the device to read */
        int n_rx, rx_pos;
        struct netvsp_dev *nd;
        uint64_t next_tid;
};

static inline int fk_send_completion(void *ctx, uint64_t tid, const void *msg, size_t len) {
        struct fake *f = ctx;
        if (f->ring_full)
                return -EAGAIN;
        ASSERT_LT(f->n_out, FK_MAX_OUT);
        ASSERT_LE(len, sizeof f->out[0].msg);
        struct fk_out *o = &f->out[f->n_out++];
        *o = (struct fk_out){ .type = VM_PKT_COMP, .tid = tid, .len = len };
        memcpy(o->msg, msg, len);
        return 0;
}

static inline int fk_send_xfer(void *ctx, uint64_t tid, const struct vmtransfer_page_range *r, uint32_t n,
                        const void *msg, size_t len) {
        struct fake *f = ctx;
        if (f->ring_full)
                return -EAGAIN;
        ASSERT_LT(f->n_out, FK_MAX_OUT);
        ASSERT_LE(n, (uint32_t)NETVSP_RX_BATCH_MAX);
        /* §7.4: every range within the buffer; NVSP 107 payload */
        for (uint32_t i = 0; i < n; i++) {
                ASSERT_LE((size_t)r[i].byte_offset + r[i].byte_count, f->recv_len);
                ASSERT_LE(r[i].byte_count, netvsp_dev_rxbuf(f->nd)->slot_size);
        }
        ASSERT_GE(len, 16u);
        struct fk_out *o = &f->out[f->n_out++];
        *o = (struct fk_out){ .type = VM_PKT_DATA_USING_XFER_PAGES, .tid = tid, .len = len, .n = n };
        memcpy(o->msg, msg, len);
        memcpy(o->r, r, n * sizeof *r);
        return 0;
}

static inline int fk_map_gpadl(void *ctx, uint32_t gpadl, void **base, size_t *len) {
        struct fake *f = ctx;
        if (gpadl == 1) {
                *base = f->mem + FK_RECV_GPA;
                *len = f->recv_len;
                return 0;
        }
        if (gpadl == 2) {
                *base = f->mem + FK_SEND_GPA;
                *len = FK_SEND_LEN;
                return 0;
        }
        return -ENOENT;
}

static inline void fk_unmap_gpadl(void *ctx, uint32_t gpadl) {
        ((struct fake *)ctx)->unmapped++;
}

static inline int fk_map_gpa(void *ctx, uint64_t gpa, size_t len, void **host) {
        struct fake *f = ctx;
        if (gpa >= FK_MEM || len > FK_MEM - gpa)
                return -EFAULT;
        *host = f->mem + gpa;
        return 0;
}

static const struct netvsp_host_ops fk_host = {
        .send_completion = fk_send_completion,
        .send_xfer_pages = fk_send_xfer,
        .map_gpadl = fk_map_gpadl,
        .unmap_gpadl = fk_unmap_gpadl,
        .map_gpa = fk_map_gpa,
};

static inline int fk_be_tx(void *ctx, const struct iovec *iov, int n) {
        struct fake *f = ctx;
        if (f->be_gone)
                return -ENODEV;
        if (f->tx_budget == 0) {
                f->tx_eagains++;
                return -EAGAIN;
        }
        if (f->tx_budget > 0)
                f->tx_budget--;
        ASSERT_LT(f->n_tx, FK_MAX_FRAMES);
        ASSERT_EQ(iov[0].iov_len, sizeof(struct virtio_net_hdr));
        struct fk_frame *fr = &f->tx[f->n_tx++];
        memcpy(&fr->vh, iov[0].iov_base, sizeof fr->vh);
        fr->len = 0;
        for (int i = 1; i < n; i++) {
                ASSERT_LE(fr->len + iov[i].iov_len, sizeof fr->data);
                memcpy(fr->data + fr->len, iov[i].iov_base, iov[i].iov_len);
                fr->len += iov[i].iov_len;
        }
        return 0;
}

static inline ssize_t fk_be_rx(void *ctx, const struct iovec *iov, int n) {
        struct fake *f = ctx;
        if (f->be_gone)
                return -ENODEV;
        if (f->rx_pos == f->n_rx)
                return -EAGAIN;
        struct fk_frame *fr = &f->rx[f->rx_pos++];
        ASSERT_GE(n, 2);
        ASSERT_EQ(iov[0].iov_len, sizeof fr->vh);
        memcpy(iov[0].iov_base, &fr->vh, sizeof fr->vh);
        /* scattered over the buffers; tun cuts a frame short to them but
         * reports its whole length */
        size_t done = 0;
        for (int i = 1; i < n && done < fr->len; i++) {
                size_t k = fr->len - done < iov[i].iov_len ? fr->len - done : iov[i].iov_len;
                memcpy(iov[i].iov_base, fr->data + done, k);
                done += k;
        }
        return (ssize_t)(sizeof fr->vh + fr->len);
}

static const struct netvsp_backend_ops fk_backend = { .tx = fk_be_tx, .rx = fk_be_rx };

static inline int fk_be_set_rx_gso(void *ctx, unsigned gso) {
        struct fake *f = ctx;
        f->gso = gso;
        f->gso_calls++;
        return 0;
}
/* A backend that hands over GSO frames on request, as the TAP does (RSC). */
static const struct netvsp_backend_ops fk_backend_gso = { .tx = fk_be_tx, .rx = fk_be_rx,
                                                          .set_rx_gso = fk_be_set_rx_gso };

static inline void fk_put32(uint8_t *p, size_t off, uint32_t v) {
        memcpy(p + off, &v, 4);
}
static inline uint32_t fk_u32(const uint8_t *p, size_t off) {
        uint32_t v;
        memcpy(&v, p + off, 4);
        return v;
}

/* be/be_ctx: another backend (the TAP) instead of the fake one (be_ctx
 * NULL: this fake, e.g. fk_backend_gso). */
static inline struct fake *fk_new_be(const struct netvsp_config *cfg_in, size_t recv_len,
                                     const struct netvsp_backend_ops *be, void *be_ctx) {
        struct fake *f = calloc(1, sizeof *f);
        struct netvsp_config cfg;
        ASSERT_NOT_NULL(f);
        f->mem = calloc(1, FK_MEM);
        f->tx = calloc(FK_MAX_FRAMES, sizeof *f->tx);
        f->rx = calloc(FK_MAX_FRAMES, sizeof *f->rx);
        ASSERT_NOT_NULL(f->mem);
        ASSERT_NOT_NULL(f->tx);
        ASSERT_NOT_NULL(f->rx);
        f->recv_len = recv_len;
        f->tx_budget = -1;
        if (cfg_in) {
                cfg = *cfg_in;
        } else {
                netvsp_config_init_defaults(&cfg);
                const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x07 };
                memcpy(cfg.rndis.mac, mac, 6);
        }
        ASSERT_OK(netvsp_dev_new(&cfg, &fk_host, f, be ? be : &fk_backend, be && be_ctx ? be_ctx : f, &f->nd));
        f->next_tid = 1;
        return f;
}

static inline struct fake *fk_new(const struct netvsp_config *cfg_in, size_t recv_len) {
        return fk_new_be(cfg_in, recv_len, NULL, NULL);
}

static inline void fk_free(struct fake *f) {
        netvsp_dev_free(f->nd);
        free(f->mem);
        free(f->tx);
        free(f->rx);
        free(f);
}

/* Next packet the device sent that the test has not looked at yet. */
static inline struct fk_out *fk_next(struct fake *f) {
        ASSERT_LT(f->n_seen, f->n_out);
        return &f->out[f->n_seen++];
}
static inline void fk_expect_nothing(struct fake *f) {
        ASSERT_EQ(f->n_seen, f->n_out);
}

/* An inband NVSP message, 40 bytes as Linux sends it. */
static inline int fk_inband(struct fake *f, const uint32_t *words, unsigned n_words, bool want_comp, uint64_t *tid) {
        uint8_t p[16 + 40] = { 0 };
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 7,
                                         .flags = want_comp ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0,
                                         .trans_id = f->next_tid++ };
        memcpy(p, &d, sizeof d);
        memcpy(p + 16, words, 4 * n_words);
        if (tid)
                *tid = d.trans_id;
        return netvsp_handle_packet(f->nd, p, sizeof p);
}

/* A GPA-direct SEND_RNDIS_PKT: the given pieces of guest memory (each
 * within a page, as 6.1.0 sends them) plus an optional send section. */
static inline int fk_gpa_direct(struct fake *f, uint32_t channel, uint32_t section, uint32_t section_size,
                         const uint64_t *gpa, const uint32_t *len, unsigned n, uint64_t *tid) {
        uint8_t p[16 + 8 + 64 * 16 + 40] = { 0 };
        size_t off = 24 + 16 * n;
        struct vmpacket_descriptor d = { .type = n ? VM_PKT_DATA_USING_GPA_DIRECT : VM_PKT_DATA_INBAND,
                                         .offset8 = (uint16_t)((n ? off : 16) / 8),
                                         .len8 = (uint16_t)(((n ? off : 16) + 16) / 8),
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                         .trans_id = f->next_tid++ };
        memcpy(p, &d, sizeof d);
        fk_put32(p, 20, n);
        for (unsigned i = 0; i < n; i++) {
                uint64_t pfn = gpa[i] >> 12;
                fk_put32(p, 24 + 16 * i, len[i]);
                fk_put32(p, 28 + 16 * i, (uint32_t)(gpa[i] & 0xfff));
                memcpy(p + 32 + 16 * i, &pfn, 8);
        }
        size_t po = n ? off : 16;
        fk_put32(p, po, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        fk_put32(p, po + 4, channel);
        fk_put32(p, po + 8, section);
        fk_put32(p, po + 12, section_size);
        if (tid)
                *tid = d.trans_id;
        return netvsp_handle_packet(f->nd, p, po + 16);
}

/* The guest completing one of our transfer-page packets (NVSP 108). */
static inline void fk_complete_xfer(struct fake *f, uint64_t tid) {
        uint8_t p[16 + 8] = { 0 };
        struct vmpacket_descriptor d = { .type = VM_PKT_COMP, .offset8 = 2, .len8 = 3, .trans_id = tid };
        memcpy(p, &d, sizeof d);
        fk_put32(p, 16, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
        fk_put32(p, 20, NVSP_STAT_SUCCESS);
        ASSERT_OK(netvsp_handle_packet(f->nd, p, sizeof p));
}

/* Checks a completion for tid with the given NVSP type and returns it. */
static inline struct fk_out *fk_expect_comp(struct fake *f, uint64_t tid, uint32_t type, size_t len) {
        struct fk_out *o = fk_next(f);
        ASSERT_EQ(o->type, VM_PKT_COMP);
        ASSERT_EQ(o->tid, tid);
        ASSERT_EQ(o->len, len);
        ASSERT_EQ(fk_u32(o->msg, 0), type);
        return o;
}

/* §7.3 as netvsc_connect_vsp() + netvsc_init_buf() run it. */
static inline void fk_nvsp_init(struct fake *f) {
        uint64_t tid;
        uint32_t init[3] = { NVSP_MSG_TYPE_INIT, 0x60001, 0x60001 };
        ASSERT_OK(fk_inband(f, init, 3, true, &tid));
        struct fk_out *o = fk_expect_comp(f, tid, NVSP_MSG_TYPE_INIT_COMPLETE, 40);
        ASSERT_EQ(fk_u32(o->msg, 12), (uint32_t)NVSP_STAT_SUCCESS);
        uint32_t cfg[5] = { NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 1514, 0, 0x88, 0 };
        ASSERT_OK(fk_inband(f, cfg, 5, false, NULL));
        uint32_t ver[3] = { NVSP_MSG1_TYPE_SEND_NDIS_VER, 6, 30 };
        ASSERT_OK(fk_inband(f, ver, 3, false, NULL));
        fk_expect_nothing(f); /* no completions for those two */
        uint32_t rb[3] = { NVSP_MSG1_TYPE_SEND_RECV_BUF, 1, 0xcafe };
        ASSERT_OK(fk_inband(f, rb, 3, true, &tid));
        o = fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, 40);
        ASSERT_EQ(fk_u32(o->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(fk_u32(o->msg, 8), 1u);  /* num_sections */
        ASSERT_EQ(fk_u32(o->msg, 12), 0u); /* offset */
        uint32_t sub = fk_u32(o->msg, 16), cnt = fk_u32(o->msg, 20);
        ASSERT_GE(sub, 68u);
        ASSERT_LE((uint64_t)sub * cnt, (uint64_t)f->recv_len);
        uint32_t sb[3] = { NVSP_MSG1_TYPE_SEND_SEND_BUF, 2, 0 };
        ASSERT_OK(fk_inband(f, sb, 3, true, &tid));
        o = fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE, 40);
        ASSERT_EQ(fk_u32(o->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(fk_u32(o->msg, 8), 6144u);
}

/* One RNDIS control request over GPA-direct; returns the response bytes
 * (copied to resp) after checking the completion and the transfer-page
 * packet, and completes that packet as the guest does. */
static inline uint32_t fk_rndis(struct fake *f, const void *req, uint32_t len, uint8_t *resp) {
        uint64_t tid, gpa = FK_SCRATCH_GPA;
        memcpy(f->mem + gpa, req, len);
        ASSERT_OK(fk_gpa_direct(f, NVSP_RNDIS_CHANNEL_CONTROL, NVSP_INVALID_SECTION_INDEX, 0, &gpa, &len, 1, &tid));
        struct fk_out *c = fk_expect_comp(f, tid, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, 8);
        ASSERT_EQ(fk_u32(c->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
        netvsp_process(f->nd);
        struct fk_out *x = fk_next(f);
        ASSERT_EQ(x->type, VM_PKT_DATA_USING_XFER_PAGES);
        ASSERT_EQ(fk_u32(x->msg, 0), (uint32_t)NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        ASSERT_EQ(x->n, 1u);
        uint32_t n = x->r[0].byte_count;
        const uint8_t *m = f->mem + FK_RECV_GPA + x->r[0].byte_offset;
        ASSERT_EQ(fk_u32(m, 4), n); /* msg_len == range */
        memcpy(resp, m, n);
        fk_complete_xfer(f, x->tid);
        return n;
}

/* A query or set request in Linux's layout. */
static inline uint32_t fk_oid_req(uint8_t *m, uint32_t type, uint32_t req_id, uint32_t oid, const void *in, uint32_t in_len) {
        memset(m, 0, 28);
        fk_put32(m, 0, type);
        fk_put32(m, 4, 28 + in_len);
        fk_put32(m, 8, req_id);
        fk_put32(m, 12, oid);
        fk_put32(m, 16, in_len);
        fk_put32(m, 20, 20);
        if (in_len)
                memcpy(m + 28, in, in_len);
        return 28 + in_len;
}

/* RNDIS INIT + SET packet filter 0x0D: the NIC is up and receiving. */
static inline void fk_rndis_up(struct fake *f) {
        uint8_t m[64] = { 0 }, r[RNDIS_MAX_RESPONSE_SIZE];
        fk_put32(m, 0, RNDIS_MSG_INIT);
        fk_put32(m, 4, 24);
        fk_put32(m, 8, 1);
        fk_put32(m, 12, 1);
        fk_put32(m, 20, 0x4000);
        ASSERT_EQ(fk_rndis(f, m, 24, r), 52u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
        uint32_t filter = 0x0d;
        uint32_t n = fk_oid_req(m, RNDIS_MSG_SET, 2, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter, 4);
        ASSERT_EQ(fk_rndis(f, m, n, r), 16u);
        ASSERT_EQ(fk_u32(r, 12), RNDIS_STATUS_SUCCESS);
}

/* An RNDIS PACKET (+ PPIs given as {type, value}) with the frame, at p. */
static inline uint32_t fk_rndis_packet(uint8_t *p, const uint8_t *frame, uint32_t len, const uint32_t (*ppi)[2], unsigned n_ppi,
                                uint32_t align) {
        uint32_t pl = 16 * n_ppi, hdr = 44 + pl, total = hdr + len;
        if (align)
                total = (total + align - 1) / align * align;
        memset(p, 0, hdr);
        fk_put32(p, 0, RNDIS_MSG_PACKET);
        fk_put32(p, 4, total);
        fk_put32(p, 8, 36 + pl);
        fk_put32(p, 12, len);
        fk_put32(p, 28, n_ppi ? 36 : 0);
        fk_put32(p, 32, pl);
        for (unsigned i = 0; i < n_ppi; i++) {
                fk_put32(p, 44 + 16 * i, 16);
                fk_put32(p, 48 + 16 * i, ppi[i][0]);
                fk_put32(p, 52 + 16 * i, 12);
                fk_put32(p, 56 + 16 * i, ppi[i][1]);
        }
        memcpy(p + hdr, frame, len);
        memset(p + hdr + len, 0, total - hdr - len);
        return total;
}

/* The PPIs of a received PACKET as netvsc's rndis_get_ppi finds them:
 * the checksum info (~0u: none) and RNDIS_PKTINFO_ID's flags (-1: none). */
static inline void fk_rx_ppis(const uint8_t *m, uint32_t *csum, int *frag) {
        uint32_t off = fk_u32(m, 28), len = fk_u32(m, 32);
        *csum = ~0u, *frag = -1;
        for (uint32_t pos = 0; off && pos < len;) {
                const uint8_t *e = m + 8 + off + pos;
                uint32_t size = fk_u32(e, 0), type = fk_u32(e, 4), po = fk_u32(e, 8);
                ASSERT_GE(size, po + 4);
                if (type == TCPIP_CHKSUM_PKTINFO)
                        *csum = fk_u32(e, po);
                if (type == (RNDIS_PKTINFO_ID | RNDIS_PPI_INTERNAL)) {
                        ASSERT_EQ(e[po], RNDIS_PKTINFO_ID_V1);
                        *frag = e[po + 1];
                }
                pos += size;
        }
}
