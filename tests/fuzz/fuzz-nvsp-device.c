// SPDX-License-Identifier: MIT
/* The whole netvsp device against a hostile guest: a script of steps
 * (VMBus packets, writes into guest memory, frames arriving from the
 * backend, link changes, full rings and a full backend) run against a fake
 * VMBus side. Whatever the guest does, every packet the device sends must be
 * one the 6.1 guest accepts: completions of at most 40 bytes, transfer-page
 * ranges inside the receive buffer and within a slot, each slot announced
 * once until the guest completes it. With vRSS (setup bit 7: two queues)
 * a sub-channel device can join, sharing the buffers: the two never
 * announce the same slot. The backend hands over GSO frames once asked
 * (RSC): a frame record of kind >= 0x40 starts with its virtio_net_hdr,
 * and the fragments of a coalesced frame must start, continue and end
 * within one transfer-page packet, as netvsc requires.
 * Input: [u8 setup] then records [u8 kind][u16 len][len bytes]; a packet
 * record (kind 0) with bit 7 of kind set goes to the sub-channel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "hv/nvsp.h"
#include "hv/rndis.h"
#include "netvsp/netvsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (256u << 10)
#define RECV_GPA 0u
#define RECV_LEN (64u << 10)
#define SEND_GPA (64u << 10)
#define SEND_LEN (4u * 6144u)

struct fz {
        uint8_t *mem;
        bool ring_full, be_gone;
        int tx_budget;
        uint8_t rx[4][70000];
        size_t rx_len[4];
        struct virtio_net_hdr rx_vh[4];
        unsigned gso; /* what the device asked of the backend */
        unsigned rx_n, rx_pos;
        uint8_t owned[RECV_LEN / 68 + 1]; /* slots announced and not completed: 1 */
        struct netvsp_dev *nd, *sub;
        struct netvsp_config cfg;
};

static int fz_comp(void *ctx, uint64_t tid, const void *msg, size_t len) {
        struct fz *f = ctx;
        if (len > sizeof(struct nvsp_message))
                abort();
        return f->ring_full ? -EAGAIN : 0;
}

static int fz_xfer(void *ctx, uint64_t tid, const struct vmtransfer_page_range *r, uint32_t n, const void *msg,
                   size_t len) {
        struct fz *f = ctx;
        uint32_t slot = netvsp_dev_rxbuf(f->nd)->slot_size;
        if (f->ring_full)
                return -EAGAIN;
        if (n == 0 || n > NETVSP_RX_BATCH_MAX || len < 16)
                abort();
        for (uint32_t i = 0; i < n; i++) {
                if (r[i].byte_offset % slot || r[i].byte_count > slot || r[i].byte_count < 8 ||
                    (uint64_t)r[i].byte_offset + r[i].byte_count > RECV_LEN)
                        abort();
                uint32_t s = r[i].byte_offset / slot;
                if (f->owned[s]) /* announced twice before the guest gave it back */
                        abort();
                f->owned[s] = 1;
        }
        /* RSC: a chain of fragments opens with 1ST_FRAG and closes with
         * LAST_FRAG in this packet (netvsc drops the rest otherwise) */
        bool open = false;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *m = f->mem + RECV_GPA + r[i].byte_offset;
                uint32_t type, ppi_off, ppi_len;
                int frag = -1;
                memcpy(&type, m, 4);
                if (type != RNDIS_MSG_PACKET || r[i].byte_count < 44)
                        continue;
                memcpy(&ppi_off, m + 28, 4);
                memcpy(&ppi_len, m + 32, 4);
                for (uint32_t pos = 0; ppi_off && pos + 16 <= ppi_len && 8 + ppi_off + pos + 16 <= r[i].byte_count;) {
                        uint32_t e[3];
                        memcpy(e, m + 8 + ppi_off + pos, 12);
                        if (e[0] < 16 || e[2] + 2 > e[0])
                                abort();
                        if (e[1] == (RNDIS_PKTINFO_ID | RNDIS_PPI_INTERNAL))
                                frag = m[8 + ppi_off + pos + e[2] + 1];
                        pos += e[0];
                }
                if (frag < 0) {
                        if (open)
                                abort();
                        continue;
                }
                bool first = frag & RNDIS_PKTINFO_1ST_FRAG;
                if (!(frag & RNDIS_PKTINFO_SUBALLOC) || first == open) /* a second first, or a middle with none open */
                        abort();
                open = !(frag & RNDIS_PKTINFO_LAST_FRAG);
        }
        if (open)
                abort();
        /* The fuzzed guest completes (or not) with its own packets; our
         * bookkeeping forgets ownership when the device frees the slots. */
        return 0;
}

static int fz_map_gpadl(void *ctx, uint32_t gpadl, void **base, size_t *len) {
        struct fz *f = ctx;
        if (gpadl == 1 || gpadl == 2) {
                *base = f->mem + (gpadl == 1 ? RECV_GPA : SEND_GPA);
                *len = gpadl == 1 ? RECV_LEN : SEND_LEN;
                return 0;
        }
        return -ENOENT;
}

static int fz_map_gpa(void *ctx, uint64_t gpa, size_t len, void **host) {
        struct fz *f = ctx;
        if (gpa >= MEM || len > MEM - gpa)
                return -EFAULT;
        *host = f->mem + gpa;
        return 0;
}

static int fz_offer(void *ctx, uint32_t n) {
        if (n == 0 || n >= NETVSP_MAX_QUEUES)
                abort(); /* the device asks for what it may offer, never nothing */
        return (int)n;
}

static int fz_inband(void *ctx, const void *msg, size_t len) {
        struct fz *f = ctx;
        if (len != NETVSP_SEND_TABLE_MSG_LEN)
                abort();
        return f->ring_full ? -EAGAIN : 0;
}

static const struct netvsp_host_ops fz_host = {
        .send_completion = fz_comp, .send_xfer_pages = fz_xfer, .map_gpadl = fz_map_gpadl, .map_gpa = fz_map_gpa,
        .offer_subchannels = fz_offer, .send_inband = fz_inband,
};

static int fz_tx(void *ctx, const struct iovec *iov, int n) {
        struct fz *f = ctx;
        size_t total = 0;
        if (f->be_gone)
                return -ENODEV;
        if (f->tx_budget == 0)
                return -EAGAIN;
        if (f->tx_budget > 0)
                f->tx_budget--;
        for (int i = 0; i < n; i++) { /* touch every byte: ASan checks the iovecs */
                volatile const uint8_t *p = iov[i].iov_base;
                for (size_t k = 0; k < iov[i].iov_len; k += 64)
                        (void)p[k];
                total += iov[i].iov_len;
        }
        return total > 65535 + 64 ? -EINVAL : 0;
}

static ssize_t fz_rx(void *ctx, const struct iovec *iov, int n) {
        struct fz *f = ctx;
        if (f->be_gone)
                return -ENODEV;
        if (f->rx_pos == f->rx_n)
                return -EAGAIN;
        size_t i = f->rx_pos++ % 4, done = 0;
        if (iov[0].iov_len != sizeof f->rx_vh[i])
                abort();
        memcpy(iov[0].iov_base, &f->rx_vh[i], sizeof f->rx_vh[i]);
        for (int k = 1; k < n && done < f->rx_len[i]; k++) { /* tun: scattered, cut short to the buffers */
                size_t c = f->rx_len[i] - done < iov[k].iov_len ? f->rx_len[i] - done : iov[k].iov_len;
                memcpy(iov[k].iov_base, f->rx[i] + done, c);
                done += c;
        }
        return (ssize_t)(iov[0].iov_len + f->rx_len[i]);
}

static int fz_set_rx_gso(void *ctx, unsigned gso) {
        struct fz *f = ctx;
        if (gso & ~(NETVSP_BE_GSO_TCPV4 | NETVSP_BE_GSO_TCPV6))
                abort();
        f->gso = gso;
        return 0;
}

static const struct netvsp_backend_ops fz_be = { .tx = fz_tx, .rx = fz_rx, .set_rx_gso = fz_set_rx_gso };

/* Slots the device freed (the guest completed them) are ours to reuse. */
static void sync_slots(struct fz *f, const struct netvsp_dev *nd) {
        const struct netvsp_rxbuf *rb = netvsp_dev_rxbuf(nd);
        for (uint32_t s = 0; s < rb->n_slots; s++)
                if (rb->state[s] != NETVSP_SLOT_POSTED && rb->first + s < sizeof f->owned)
                        f->owned[rb->first + s] = 0;
}

static void sync_owned(struct fz *f) {
        sync_slots(f, f->nd);
        if (f->sub)
                sync_slots(f, f->sub);
}

/* vRSS: sub-channel 1 joins with the primary's buffers and RNDIS state,
 * or, once there, takes the primary's current state (a revoke included). */
static void sub_step(struct fz *f, const uint8_t *b, size_t len) {
        struct netvsp_shared *sh = malloc(sizeof *sh);
        if (!sh)
                return;
        netvsp_dev_get_shared(f->nd, sh);
        if (f->sub) {
                netvsp_dev_sync(f->sub, sh);
        } else {
                const struct netvsp_sub_config sc = { .index = 1, .backend_rx = len && (b[0] & 1) };
                if (netvsp_dev_new_sub(&f->cfg, &fz_host, f, &fz_be, f, &sc, sh, &f->sub) < 0)
                        f->sub = NULL;
        }
        free(sh);
}

static void step(struct fz *f, uint8_t kind, const uint8_t *b, size_t len) {
        struct netvsp_dev *nd = (kind & 0x80) && f->sub ? f->sub : f->nd;
        switch ((kind & 0x7f) % 7) {
        case 0: {
                uint8_t *copy = malloc(len ? len : 1);
                if (!copy)
                        return;
                memcpy(copy, b, len);
                if (!netvsp_can_take_packet(nd))
                        netvsp_process(nd);
                (void)netvsp_handle_packet(nd, copy, len);
                free(copy);
                break;
        }
        case 6:
                sub_step(f, b, len);
                break;
        case 1: { /* the guest writes its memory (send sections, RNDIS messages) */
                uint32_t off;
                if (len < 4)
                        return;
                memcpy(&off, b, 4);
                off %= MEM;
                size_t n = len - 4 < MEM - off ? len - 4 : MEM - off;
                memcpy(f->mem + off, b + 4, n);
                break;
        }
        case 2: /* a frame arrives from the network (kind >= 0x40: with a vnet header, GSO or not) */
                if (f->rx_n - f->rx_pos < 4) {
                        size_t i = f->rx_n++ % 4;
                        memset(&f->rx_vh[i], 0, sizeof f->rx_vh[i]);
                        if ((kind & 0x7f) >= 0x40 && len >= sizeof f->rx_vh[i]) {
                                memcpy(&f->rx_vh[i], b, sizeof f->rx_vh[i]);
                                b += sizeof f->rx_vh[i];
                                len -= sizeof f->rx_vh[i];
                        }
                        f->rx_len[i] = len < sizeof f->rx[i] ? len : sizeof f->rx[i];
                        memcpy(f->rx[i], b, f->rx_len[i]);
                }
                break;
        case 3:
                netvsp_process(f->nd);
                if (f->sub)
                        netvsp_process(f->sub);
                break;
        case 4:
                netvsp_set_link(f->nd, len && (b[0] & 1));
                break;
        default:
                f->ring_full = len && (b[0] & 1);
                f->tx_budget = len > 1 ? (int)(b[1] % 4) - 1 : -1;
                f->be_gone = len > 2 && b[2] == 0xff;
                break;
        }
        sync_owned(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz *f = calloc(1, sizeof *f);
        if (!f || size < 1)
                goto out;
        f->mem = calloc(1, MEM);
        if (!f->mem)
                goto out;
        f->tx_budget = -1;
        netvsp_config_init_defaults(&f->cfg);
        f->cfg.rndis.mac[0] = 0x02;
        f->cfg.rx_batch_max = 1 + data[0] % 8;
        f->cfg.queues = data[0] & 0x80 ? 2 : 1;
        if (netvsp_dev_new(&f->cfg, &fz_host, f, &fz_be, f, &f->nd) < 0)
                abort();
        for (size_t pos = 1; pos + 3 <= size;) {
                uint8_t kind = data[pos];
                size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
                pos += 3;
                if (len > size - pos)
                        len = size - pos;
                step(f, kind, data + pos, len);
                pos += len;
        }
        f->ring_full = false;
        f->tx_budget = -1;
        netvsp_process(f->nd);
        netvsp_dev_free(f->sub);
        netvsp_dev_free(f->nd);
out:
        if (f)
                free(f->mem);
        free(f);
        return 0;
}
