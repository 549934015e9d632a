/* SPDX-License-Identifier: MIT */
/* A simulated netvsc guest thread for the netvsp glue tests (quiesce,
 * save/restore): it sends UDP frames from its send sections, completes the
 * transfer-page packets it receives (optionally handing each received
 * frame to on_frame first) and counts the completions of its sends, so a
 * test can check that each came exactly once. Header-only. */
#pragma once

#include <stdatomic.h>

#include "common/macro.h"
#include "tests/unit/test-netvsp-sim.h"

/* ---- the guest: sends UDP frames from its send sections, completes the
 * transfer-page packets it receives, counts the completions of its sends */

#define G_MAX_SENDS (1u << 20)
#define G_TID_BASE (1ull << 40)
#define G_SINK_PORT 9001

struct guest {
        struct ns_env *e;
        pthread_t th;
        atomic_bool stop;
        bool reuse_sections;  /* send without waiting for completions (fills the host's ring) */
        bool no_reading;      /* leave the inbound ring alone */
        uint32_t sent;        /* tids G_TID_BASE + [0, sent) are in the ring */
        uint8_t *comps;       /* per send: completions seen */
        uint32_t section_seq[NS_SEND_SECTIONS]; /* 1 + the send using it; 0: free */
        unsigned next_section;
        uint64_t xfers, unknown_comps;
        uint64_t owed[512]; /* transfer-page completions the outbound ring had no room for */
        unsigned n_owed;
        atomic_ulong progress; /* sends completed + receives taken, for the main thread */
        int sink;
        /* Each frame of each transfer-page packet, before it is completed. */
        void (*on_frame)(struct guest *g, const uint8_t *frame, size_t len);
        void *opaque;
};

/* Hands the frames of a transfer-page packet (buf, as read) to on_frame. */
static inline void guest_frames(struct guest *g, const uint8_t *buf, const struct vmbus_packet *p) {
        struct vmtransfer_page_packet_header h;
        memcpy(&h, buf, sizeof h);
        ASSERT_GE(p->offset, 24u + 8u * h.range_cnt);
        for (uint32_t i = 0; i < h.range_cnt; i++) {
                struct vmtransfer_page_range rg;
                memcpy(&rg, buf + 24 + 8 * i, sizeof rg);
                ASSERT_LE((uint64_t)rg.byte_offset + rg.byte_count, (uint64_t)NS_RECV_PAGES * 4096);
                const uint8_t *m = ns_ram(g->e, g->e->recv_pfn) + rg.byte_offset;
                uint32_t mt;
                memcpy(&mt, m, 4);
                if (mt != RNDIS_MSG_PACKET)
                        continue;
                struct rndis_packet rp;
                memcpy(&rp, m + 8, sizeof rp);
                ASSERT_LE(8ull + rp.data_offset + rp.data_len, (unsigned long long)rg.byte_count);
                g->on_frame(g, m + 8 + rp.data_offset, rp.data_len);
        }
}

static inline void guest_note_comp(struct guest *g, uint64_t tid) {
        if (tid < G_TID_BASE || tid - G_TID_BASE >= g->sent) {
                g->unknown_comps++;
                return;
        }
        uint32_t seq = (uint32_t)(tid - G_TID_BASE);
        g->comps[seq]++;
        for (unsigned i = 0; i < NS_SEND_SECTIONS; i++)
                if (g->section_seq[i] == seq + 1)
                        g->section_seq[i] = 0;
        atomic_fetch_add(&g->progress, 1);
}

static inline void guest_pay_owed(struct guest *g) {
        uint32_t c[2] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, NVSP_STAT_SUCCESS };
        unsigned i = 0;
        for (; i < g->n_owed; i++) {
                int r = vmbus_sim_ring_write(g->e->sim, &g->e->ch, VM_PKT_COMP, 0, g->owed[i], c, sizeof c);
                if (r == -EAGAIN)
                        break;
                ASSERT_OK(r);
        }
        memmove(g->owed, g->owed + i, (g->n_owed - i) * sizeof g->owed[0]);
        g->n_owed -= i;
}

/* Takes what the host sent (up to 64 packets); false when there was none. */
static inline bool guest_poll(struct guest *g) {
        uint8_t buf[8192];
        struct vmbus_packet p;
        bool any = false;
        guest_pay_owed(g);
        for (int i = 0; i < 64 && g->n_owed < ARRAY_SIZE(g->owed); i++) {
                int r = vmbus_sim_ring_read(g->e->sim, &g->e->ch, buf, sizeof buf, &p);
                ASSERT_GE(r, 0);
                if (r == 0)
                        break;
                any = true;
                if (p.type == VM_PKT_DATA_USING_XFER_PAGES) {
                        if (g->on_frame)
                                guest_frames(g, buf, &p);
                        g->owed[g->n_owed++] = p.trans_id;
                        g->xfers++;
                        atomic_fetch_add(&g->progress, 1);
                } else if (p.type == VM_PKT_COMP) {
                        guest_note_comp(g, p.trans_id);
                }
        }
        guest_pay_owed(g);
        return any;
}

/* One SEND_RNDIS_PKT from a free section; false if none is free or the
 * ring is full. */
static inline bool guest_send(struct guest *g) {
        unsigned sec = g->next_section;
        if (!g->reuse_sections) {
                unsigned i = 0;
                while (i < NS_SEND_SECTIONS && g->section_seq[(sec + i) % NS_SEND_SECTIONS])
                        i++;
                if (i == NS_SEND_SECTIONS)
                        return false;
                sec = (sec + i) % NS_SEND_SECTIONS;
        }
        if (g->sent == G_MAX_SENDS)
                return false;
        uint32_t len;
        memcpy(&len, ns_ram(g->e, g->e->send_pfn) + (size_t)sec * NS_SECTION + 4, 4);
        uint32_t m[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, NVSP_RNDIS_CHANNEL_DATA, sec, len };
        int r = vmbus_sim_ring_write(g->e->sim, &g->e->ch, VM_PKT_DATA_INBAND,
                                     VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, G_TID_BASE + g->sent, m, sizeof m);
        if (r == -EAGAIN)
                return false;
        ASSERT_OK(r);
        g->section_seq[sec] = ++g->sent;
        g->next_section = (sec + 1) % NS_SEND_SECTIONS;
        return true;
}

static inline void *guest_main(void *arg) {
        struct guest *g = arg;
        while (!atomic_load(&g->stop)) {
                bool busy = !g->no_reading && guest_poll(g);
                busy |= guest_send(g);
                if (!busy)
                        sched_yield();
        }
        return NULL;
}

/* Every section holds one RNDIS PACKET: a UDP datagram to a host socket
 * nobody reads (the kernel drops it once the socket is full). */
static inline void guest_start(struct ns_env *e, struct guest *g) {
        memset(g, 0, sizeof *g);
        g->e = e;
        g->comps = calloc(G_MAX_SENDS, 1);
        ASSERT_NOT_NULL(g->comps);
        g->sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(G_SINK_PORT) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(bind(g->sink, (struct sockaddr *)&a, sizeof a));
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", e->tap);
        ASSERT_OK(ioctl(g->sink, SIOCGIFHWADDR, &ifr));
        uint8_t f[256], payload[64] = { 0 };
        size_t n = nt_udp(f, (const uint8_t *)ifr.ifr_hwaddr.sa_data, e->mac, NT_GUEST_IP, NT_HOST_IP, 4000,
                          G_SINK_PORT, payload, sizeof payload, false);
        for (unsigned i = 0; i < NS_SEND_SECTIONS; i++) {
                uint8_t *s = ns_ram(e, e->send_pfn) + (size_t)i * NS_SECTION;
                uint32_t h[11] = { RNDIS_MSG_PACKET, (uint32_t)(44 + n), 36, (uint32_t)n };
                memcpy(s, h, sizeof h);
                memcpy(s + 44, f, n);
        }
}

static inline void guest_run(struct guest *g) {
        atomic_store(&g->stop, false);
        ASSERT_OK(-pthread_create(&g->th, NULL, guest_main, g));
}

/* The guest's vCPU parks: from here on it writes nothing. */
static inline void guest_park(struct guest *g) {
        atomic_store(&g->stop, true);
        pthread_join(g->th, NULL);
}

static inline bool guest_all_completed(const struct guest *g) {
        for (uint32_t i = 0; i < g->sent; i++)
                if (!g->comps[i])
                        return false;
        return true;
}

/* On the calling thread: takes everything until each send has its
 * completion, then a while longer; each must have come exactly once. */
static inline void guest_finish(struct guest *g) {
        uint64_t end = nt_now_ms() + 15000;
        g->no_reading = false;
        while (!guest_all_completed(g)) {
                ASSERT_LT(nt_now_ms(), end);
                if (!guest_poll(g))
                        usleep(200);
        }
        for (uint64_t quiet = nt_now_ms() + 200; nt_now_ms() < quiet;)
                if (!guest_poll(g))
                        usleep(200);
        for (uint32_t i = 0; i < g->sent; i++)
                ASSERT_EQ(g->comps[i], 1u);
        ASSERT_EQ(g->unknown_comps, 0u);
        free(g->comps);
        close(g->sink);
}

/* Traffic flows both ways: sends completed and frames received. */
static inline void wait_for_traffic(struct guest *g, unsigned long n) {
        unsigned long p0 = atomic_load(&g->progress);
        for (int i = 0; i < 1000 && atomic_load(&g->progress) < p0 + n; i++)
                usleep(5000);
        ASSERT_GE(atomic_load(&g->progress), p0 + n);
}

