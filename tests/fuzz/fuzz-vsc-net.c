// SPDX-License-Identifier: MIT
/* The guest's netvsc client against a hostile host: everything the host
 * controls — the receive buffer's contents and the packets on the inbound
 * ring (completions, transfer-page packets with their ranges, RNDIS
 * messages, frames) — comes from the input, fed through
 * vsc_net_handle_packet the way vsc_net_poll does after vsc_ring_read; the
 * received frames go through the test guest's frame parser (vsc_ip_parse).
 * Input: one control byte (which request the client waits for), 4096 bytes
 * of receive buffer, then packets as {u16 length, bytes}, each starting
 * with a 16-byte descriptor. Invariants (besides ASan/UBSan): the send
 * section accounting stays consistent, a claimed response fits its buffer
 * and parses again, no completion is queued beyond the ring. */
#include <stdlib.h>
#include <string.h>

#include "vsc/net-ip.h"
#include "vsc/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECV 4096u
#define RING 8192u

static uint64_t f_now(void *ctx) {
        return 0;
}
static unsigned f_cpl(void *ctx) {
        return 3; /* signals go to the doorbell */
}
static void f_doorbell(void *ctx, uint32_t conn) {
}
static const struct vsc_ops ops = { .now_ns = f_now, .cpl = f_cpl, .doorbell = f_doorbell };

static void on_frame(void *opaque, const uint8_t *f, uint32_t len) {
        struct vsc_ip_frame fr;
        vsc_ip_parse(f, len, &fr);
        if (fr.data && (fr.data < f || fr.data + fr.data_len > f + len))
                abort();
        ++*(unsigned *)opaque;
}

/* The descriptor checks vsc_ring_read makes before a packet is handled. */
static bool packet_of(const uint8_t *p, size_t len, struct vsc_packet *out) {
        struct vmpacket_descriptor d;
        if (len < sizeof d)
                return false;
        memcpy(&d, p, sizeof d);
        uint32_t plen = d.len8 * 8u, off = d.offset8 * 8u;
        if (plen < sizeof d || off < sizeof d || off > plen || plen > len)
                return false;
        *out = (struct vsc_packet){ .type = d.type, .flags = d.flags, .trans_id = d.trans_id, .len = plen,
                                    .payload_off = off };
        return true;
}

static void setup(struct vsc_net *n, struct vsc_bus *bus, uint8_t *ring, uint8_t *recv, uint8_t ctl) {
        vsc_bus_init(bus, &ops, NULL);
        memset(n, 0, sizeof *n);
        n->bus = bus;
        n->ch.bus = bus;
        n->ch.open = true;
        n->ch.connection_id = 0x2001;
        vsc_ring_init(&n->ch.out, ring, RING - 4096); /* receive completions go here */
        n->recv_buf = recv;
        n->recv_len = RECV;
        n->recv_ok = true;
        n->recv_slot_size = 64u + (ctl & 0x3f) * 64u;
        n->recv_slots = RECV / n->recv_slot_size;
        n->send_ok = true;
        n->section_size = 6144;
        n->sections = 1 + (ctl >> 4);
        n->max_pkt_per_msg = 8;
        n->pkt_align = 8;
        /* ctl bit 2: a sub-channel's share (the upper half), as vRSS splits
         * them; the sections outside it are marked busy and must stay so */
        n->sec_first = ctl & 4 ? n->sections / 2 : 0;
        n->sec_end = n->sections;
        n->sections_free = n->sec_end - n->sec_first;
        for (uint32_t s = 0; s < n->sec_first; s++)
                n->section_busy[s / 64] |= 1ull << (s % 64);
        /* some sends in flight, so completions can free them */
        for (uint32_t s = n->sec_first; s < n->sec_end; s += 2) {
                n->section_busy[s / 64] |= 1ull << (s % 64);
                n->sections_free--;
        }
        /* LSO sends in flight in the odd slots (their completions: VSC_NET_LSO_TID + slot) */
        n->lso_busy = 0xaaaau & ((1u << VSC_NET_LSO_SLOTS) - 1);
        n->lso_pending = VSC_NET_LSO_SLOTS / 2;
        /* ctl bit 3: a NIC being closed (vsc_net_close): no frame passed on */
        n->closing = ctl & 8;
        static const uint32_t types[4] = { 0, RNDIS_MSG_INIT_C, RNDIS_MSG_QUERY_C, RNDIS_MSG_SET_C };
        if (ctl & 3) {
                n->wait_tid = VSC_NET_CTRL_TID + 1;
                n->wait_type = types[ctl & 3];
                n->wait_req_id = 1;
        }
}

static void check(const struct vsc_net *n) {
        uint32_t busy = 0;
        for (uint32_t s = 0; s < n->sections; s++)
                busy += (uint32_t)(n->section_busy[s / 64] >> (s % 64) & 1);
        if (busy + n->sections_free != n->sections || n->rx_comp_n > VSC_NET_MAX_RX_COMPS)
                abort();
        uint32_t lso = 0;
        for (uint32_t b = 0; b < 32; b++)
                lso += n->lso_busy >> b & 1u;
        if (lso != n->lso_pending || (n->lso_busy & ~0xaaaau)) /* only ours, each once */
                abort();
        for (uint32_t s = 0; s < n->sec_first; s++) /* another channel's: never freed here */
                if (!(n->section_busy[s / 64] >> (s % 64) & 1))
                        abort();
        if (n->wait_resp && n->wait_type) {
                struct vsc_rndis_msg m;
                if (n->resp_len > sizeof n->resp || vsc_rndis_parse(n->resp, n->resp_len, &m) < 0 ||
                    m.type != n->wait_type)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 + RECV)
                return 0;
        struct vsc_bus bus;
        struct vsc_net *n = malloc(sizeof *n);
        uint8_t *ring = aligned_alloc(4096, RING), *recv = malloc(RECV);
        unsigned frames = 0;
        if (!n || !ring || !recv)
                abort();
        memset(ring, 0, RING);
        memcpy(recv, data + 1, RECV);
        setup(n, &bus, ring, recv, data[0]);
        vsc_net_set_rx(n, on_frame, &frames);
        for (size_t pos = 1 + RECV; pos + 2 <= size;) {
                size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
                pos += 2;
                if (len > size - pos)
                        len = size - pos;
                uint8_t *pkt = malloc(len ? len : 1); /* exactly len: ASan sees any over-read */
                struct vsc_packet p;
                if (!pkt)
                        abort();
                memcpy(pkt, data + pos, len);
                if (packet_of(pkt, len, &p))
                        vsc_net_handle_packet(n, pkt, &p);
                free(pkt);
                pos += len;
                check(n);
                if (n->closing && frames)
                        abort();
        }
        free(n);
        free(ring);
        free(recv);
        return 0;
}
