// SPDX-License-Identifier: MIT
/* vsc.hostile=rndis and vsc.hostile=link: the synthetic NIC
 * (docs/netvsp.md).
 *
 * rndis: RNDIS control messages with impossible framing (msg_len 0, below
 * the header, past the data; an information buffer outside the message),
 * unknown types, unknown OIDs, SETs with short, huge or garbage payloads,
 * then random messages (vsc.hostile.rndis_random); NVSP packets with
 * send-buffer section indices or sizes out of range, GPA-direct pages
 * outside RAM or too many of them, truncated and unknown NVSP messages,
 * requests out of order (a second INIT, buffers again, sub-channels) and
 * completions of receive buffers the host never sent. Every control message
 * must be completed (its NVSP status, and the RNDIS status of the response
 * where one is due), no request may succeed that should not, and at the end
 * a frame still goes out and is completed, the media state query still
 * works, and the NIC closes cleanly.
 *
 * link: the NIC up, then "hostile_phase=link_wait" — the host removes the
 * TAP under the running VM — and the guest must see the link go down
 * (MEDIA_DISCONNECT, vsc.hostile.link_wait_ms), the media query say
 * disconnected, frames it sends still completed (dropped by the host), and
 * the NIC close and open again. */
#include "hostile.h"
#include "vsc/net-raw.h"
#include "vsc/net.h"

static const uint8_t nic_class[16] = HV_NIC_GUID;

#define NVSP_WAIT_NS 2000000000ull

static uint32_t rd32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}
static void wr32(uint8_t *p, uint32_t v) {
        memcpy(p, &v, 4);
}

static struct vsc_net *net_up(struct hostile *h) {
        const struct vsc_offer *o = hostile_offer(h, nic_class, 0);
        if (!o) {
                guest_fail(-ENODEV, "hostile %s: needs a NIC", h->sub);
                return NULL;
        }
        struct vsc_net *n = mem_alloc_pages((sizeof *n + 4095) / 4096);
        if (!n) {
                guest_fail(-ENOMEM, "no pages for the NIC client");
                return NULL;
        }
        struct vsc_net_config cfg;
        vsc_net_config_default(&cfg);
        cfg.ring_bytes = 64 * 1024;
        cfg.recv_buf_bytes = 1024 * 1024;
        cfg.send_buf_bytes = 256 * 1024;
        int r = vsc_net_open(h->bus, n, o, &cfg);
        if (r == 0)
                r = vsc_net_set_packet_filter(n, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST);
        if (r < 0) {
                guest_fail(r, "hostile %s: NIC: %s", h->sub, vsc_bus_error(h->bus));
                return NULL;
        }
        report("hostile_net=up link=%s sections=%u section=%u", n->link_up ? "up" : "down", n->sections,
               n->section_size);
        return n;
}

static int net_close(struct hostile *h, struct vsc_net *n) {
        int r = vsc_net_close(n);
        if (r < 0)
                return guest_fail(r, "hostile %s: closing the NIC: %s", h->sub, vsc_bus_error(h->bus));
        mem_free_pages(n, (sizeof *n + 4095) / 4096);
        return 0;
}

/* ---- RNDIS control ---- */

/* A QUERY/SET as rndis_filter builds it, with fields to break. */
static uint32_t request(uint8_t *m, uint32_t type, uint32_t msg_len, uint32_t req_id, uint32_t oid, uint32_t info_len,
                        uint32_t info_off, const void *info, uint32_t copy) {
        memset(m, 0, 28 + copy);
        wr32(m, type);
        wr32(m + 4, msg_len);
        wr32(m + 8, req_id);
        wr32(m + 12, oid);
        wr32(m + 16, info_len);
        wr32(m + 20, info_off);
        if (copy)
                memcpy(m + 28, info, copy);
        return 28 + copy;
}

/* Sends one control message; ok if completed with want_nvsp (0: any) and,
 * for want_type, answered with a response whose status is not success
 * (want_fail) or is success (!want_fail). */
static int control(struct hostile *h, struct vsc_net *n, const char *name, const uint8_t *m, uint32_t len,
                   uint32_t want_nvsp, uint32_t want_type, bool want_fail) {
        uint32_t st = 0;
        int r = vsc_net_control_raw(n, m, len, want_type, &st);
        uint32_t rs = n->resp_len >= 16 ? rd32(n->resp + 12) : 0;
        bool ok = r == 0 && (!want_nvsp || st == want_nvsp) &&
                  (!want_type || (n->resp_len >= 16 && (rs != RNDIS_STATUS_SUCCESS) == want_fail));
        hostile_case(h, name, ok, "sent=%u nvsp_status=%u response=%s rndis_status=0x%x %s", len, st,
                     want_type && n->resp_len ? "yes" : "none", rs, r < 0 ? vsc_bus_error(h->bus) : "");
        return r == -ETIMEDOUT || r == 0 ? 0 : guest_fail(r, "rndis %s: %s", name, vsc_bus_error(h->bus));
}

static int rndis_framing(struct hostile *h, struct vsc_net *n) {
        uint8_t m[128];
        const uint32_t q = RNDIS_MSG_QUERY, s = RNDIS_MSG_SET, bad = NVSP_STAT_INVALID_RNDIS_PKT;
        uint32_t len = request(m, q, 0, 900, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, 0, 20, NULL, 0);
        int r = control(h, n, "msg_len_0", m, len, bad, 0, false);
        len = request(m, q, 4, 901, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, 0, 20, NULL, 0);
        if (r == 0)
                r = control(h, n, "msg_len_below_header", m, len, bad, 0, false);
        len = request(m, q, 4096, 902, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, 0, 20, NULL, 0);
        if (r == 0)
                r = control(h, n, "msg_len_past_data", m, len, bad, 0, false);
        len = request(m, q, 32, 903, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, 4, 0x7ffffff0u, "abcd", 4);
        if (r == 0)
                r = control(h, n, "query_info_outside_message", m, len, 0, RNDIS_MSG_QUERY_C, true);
        len = request(m, q, 28, 904, 0xdeadbeefu, 0, 20, NULL, 0);
        if (r == 0)
                r = control(h, n, "query_unknown_oid", m, len, 0, RNDIS_MSG_QUERY_C, true);
        len = request(m, s, 32, 905, 0xdeadbeefu, 4, 20, "abcd", 4);
        if (r == 0)
                r = control(h, n, "set_unknown_oid", m, len, 0, RNDIS_MSG_SET_C, true);
        len = request(m, s, 30, 906, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, 2, 20, "ab", 2);
        if (r == 0)
                r = control(h, n, "set_packet_filter_2_bytes", m, len, 0, RNDIS_MSG_SET_C, true);
        len = request(m, s, 32, 907, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, 0xffffffffu, 20, "abcd", 4);
        if (r == 0)
                r = control(h, n, "set_info_len_4g", m, len, 0, RNDIS_MSG_SET_C, true);
        uint8_t junk[64];
        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (uint8_t)hostile_random(h);
        len = request(m, s, 28 + 28, 908, RNDIS_OID_TCP_OFFLOAD_PARAMETERS, 28, 20, junk, 28);
        if (r == 0)
                r = control(h, n, "set_offload_parameters_garbage", m, len, 0, RNDIS_MSG_SET_C, true);
        len = request(m, s, 28 + 64, 909, RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS, 64, 20, junk, 64);
        if (r == 0)
                r = control(h, n, "set_rss_parameters_garbage", m, len, 0, RNDIS_MSG_SET_C, true);
        len = request(m, s, 28 + 64, 910, RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER, 64, 20, junk, 64);
        if (r == 0)
                r = control(h, n, "set_config_parameter_garbage", m, len, 0, RNDIS_MSG_SET_C, true);
        len = request(m, 0x12345678u, 28, 911, 0, 0, 20, NULL, 0);
        if (r == 0)
                r = control(h, n, "unknown_message_type", m, len, 0, 0, false);
        len = request(m, RNDIS_MSG_INDICATE, 28, 912, 0, 0, 20, NULL, 0);
        if (r == 0)
                r = control(h, n, "indicate_from_guest", m, len, 0, 0, false);
        return r;
}

/* Random control messages; each must at least be completed. Last: a random
 * HALT stops the device (the survivor check opens the NIC again). */
static int rndis_random(struct hostile *h, struct vsc_net *n) {
        uint64_t count = hostile_opt(h, "rndis_random", 0, 100000, 200), completed = 0;
        uint8_t *m = h->scratch;
        for (uint64_t i = 0; i < count; i++) {
                uint32_t len = 12 + hostile_random(h) % (4096 - 12);
                for (uint32_t k = 0; k < len; k++)
                        m[k] = (uint8_t)hostile_random(h);
                wr32(m, 1 + hostile_random(h) % 9);                                 /* mostly real types */
                wr32(m + 4, hostile_random(h) % 2 ? len : hostile_random(h) % 8192); /* msg_len */
                uint32_t st;
                int r = vsc_net_control_raw(n, m, len, 0, &st);
                if (r == 0)
                        completed++;
                else
                        return guest_fail(r, "random RNDIS message %lu: %s", i, vsc_bus_error(h->bus));
        }
        hostile_case(h, "rndis_random", completed == count, "sent=%lu completed=%lu", count, completed);
        return 0;
}

/* ---- NVSP ---- */

static int nvsp(struct hostile *h, struct vsc_net *n, const char *name, const uint32_t *w, unsigned words,
                uint32_t len, const void *extra, size_t extra_len, uint32_t want_type, uint32_t want_status,
                bool may_drop) {
        uint8_t m[NVSP_MESSAGE_SIZE] = { 0 };
        memcpy(m, w, 4u * words);
        uint8_t comp[NVSP_MESSAGE_SIZE] = { 0 };
        int r = vsc_net_send_raw(n, extra ? VM_PKT_DATA_USING_GPA_DIRECT : VM_PKT_DATA_INBAND, extra, extra_len, m,
                                 len, NVSP_WAIT_NS, comp);
        /* the status word: INIT_COMPLETE has it after the version and the MDL length (§7.2) */
        uint32_t type = rd32(comp), st = rd32(comp + (type == NVSP_MSG_TYPE_INIT_COMPLETE ? 12 : 4));
        if (r < 0 && r != -ETIMEDOUT)
                return guest_fail(r, "nvsp %s: %s", name, vsc_bus_error(h->bus));
        bool ok = r == -ETIMEDOUT ? may_drop : type == want_type && st == want_status;
        hostile_case(h, name, ok, "completion=%s type=%u status=%u", r == 0 ? "yes" : "none", type, st);
        return 0;
}

static int nvsp_garbage(struct hostile *h, struct vsc_net *n) {
        const uint32_t pkt = NVSP_MSG1_TYPE_SEND_RNDIS_PKT, done = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE;
        const uint32_t bad = NVSP_STAT_INVALID_RNDIS_PKT, fail = NVSP_STAT_FAIL;
        int r = nvsp(h, n, "section_index_past_end", (uint32_t[]){ pkt, 0, n->sections + 5, 100 }, 4, 40, NULL, 0,
                     done, bad, false);
        if (r == 0)
                r = nvsp(h, n, "section_index_0xfffffffe", (uint32_t[]){ pkt, 0, 0xfffffffeu, 100 }, 4, 40, NULL, 0,
                         done, bad, false);
        if (r == 0)
                r = nvsp(h, n, "section_size_past_section", (uint32_t[]){ pkt, 0, 0, n->section_size + 1 }, 4, 40,
                         NULL, 0, done, bad, false);
        if (r == 0)
                r = nvsp(h, n, "section_size_4g", (uint32_t[]){ pkt, 0, 0, 0xffffffffu }, 4, 40, NULL, 0, done, bad,
                         false);
        if (r == 0) /* no section, no pages: nothing to walk */
                r = nvsp(h, n, "no_section_no_pages", (uint32_t[]){ pkt, 0, 0xffffffffu, 0 }, 4, 40, NULL, 0, done,
                         bad, false);
        uint64_t ex[2 + 65] = { 1ull << 32, 4096 };
        ex[2] = 1ull << 28; /* 1 TiB */
        if (r == 0)
                r = nvsp(h, n, "gpa_page_past_ram", (uint32_t[]){ pkt, 0, 0xffffffffu, 0 }, 4, 40, ex, 24, done, bad,
                         false);
        ex[2] = 0xc0000;
        if (r == 0)
                r = nvsp(h, n, "gpa_page_mmio_hole", (uint32_t[]){ pkt, 0, 0xffffffffu, 0 }, 4, 40, ex, 24, done, bad,
                         false);
        uint64_t pfn = h->bus->ops->virt_to_phys(h->bus->ctx, h->scratch) >> 12;
        ex[0] = 1ull << 32;
        ex[1] = 65ull * 4096;
        for (unsigned i = 0; i < 65; i++)
                ex[2 + i] = pfn + i % HOSTILE_SCRATCH_PAGES;
        if (r == 0) /* 65 pages: over NETVSP_MAX_GPA_PAGES */
                r = nvsp(h, n, "gpa_65_pages", (uint32_t[]){ pkt, 0, 0xffffffffu, 0 }, 4, 40, ex, sizeof ex, done, bad,
                         true);
        if (r == 0)
                r = nvsp(h, n, "nvsp_4_bytes", (uint32_t[]){ pkt }, 1, 4, NULL, 0, done, bad, true);
        if (r == 0)
                r = nvsp(h, n, "nvsp_unknown_type", (uint32_t[]){ 0x9999, 1, 2, 3 }, 4, 40, NULL, 0, 0, 0, true);
        if (r == 0)
                r = nvsp(h, n, "nvsp_init_again", (uint32_t[]){ NVSP_MSG_TYPE_INIT, NVSP_PROTOCOL_VERSION_61,
                                                                NVSP_PROTOCOL_VERSION_61 },
                         3, 40, NULL, 0, NVSP_MSG_TYPE_INIT_COMPLETE, fail, true);
        if (r == 0)
                r = nvsp(h, n, "recv_buf_again", (uint32_t[]){ NVSP_MSG1_TYPE_SEND_RECV_BUF, n->recv_gpadl, NVSP_RECV_BUF_ID },
                         3, 40, NULL, 0, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, fail, false);
        if (r == 0)
                r = nvsp(h, n, "send_buf_unknown_gpadl", (uint32_t[]){ NVSP_MSG1_TYPE_SEND_SEND_BUF, 0x7eadbeefu, 0 }, 3,
                         40, NULL, 0, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE, fail, false);
        /* a NIC with one queue offers none: success with 0 (docs/netvsp.md "vRSS") */
        if (r == 0 && n->nvsp_version >= NVSP_PROTOCOL_VERSION_5)
                r = nvsp(h, n, "subchannels_8", (uint32_t[]){ NVSP_MSG5_TYPE_SUBCHANNEL, NVSP_SUBCHANNEL_ALLOCATE, 8 }, 3,
                         40, NULL, 0, NVSP_MSG5_TYPE_SUBCHANNEL, NVSP_STAT_SUCCESS, true);
        return r;
}

/* Completions of receive batches that were never sent: counted, ignored. */
static int bogus_rx_completions(struct hostile *h, struct vsc_net *n) {
        uint8_t m[NVSP_MESSAGE_SIZE] = { 0 };
        wr32(m, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
        wr32(m + 4, NVSP_STAT_SUCCESS);
        for (unsigned i = 0; i < 64; i++) {
                uint64_t tid = (uint64_t)hostile_random(h) << 32 | hostile_random(h);
                if (vsc_ring_put(&n->ch.out, VM_PKT_COMP, 0, tid, NULL, 0, m, sizeof m) < 0)
                        break;
        }
        vsc_channel_flush(&n->ch);
        return 0;
}

/* A broadcast frame goes out and comes back completed; the media query works. */
static int net_still_works(struct hostile *h, struct vsc_net *n, const char *name) {
        uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        memcpy(f + 6, n->mac, 6);
        f[12] = 0x88;
        f[13] = 0xb5; /* IEEE local experimental ethertype */
        uint64_t before = n->stats.tx_completions;
        int r = vsc_net_send(n, f, sizeof f);
        if (r == 0)
                r = vsc_net_flush(n);
        uint64_t deadline = clock_ns() + h->g->timeout_ns;
        while (r == 0 && n->stats.tx_completions == before && clock_ns() < deadline) {
                r = vsc_net_poll(n, 0);
                if (r >= 0)
                        r = vsc_channel_wait(&n->ch, 100000000ull) == -EPROTO ? -EPROTO : 0;
        }
        uint32_t media = 99, got = 0;
        int q = r == 0 ? vsc_net_query(n, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &media, sizeof media, &got) : r;
        hostile_case(h, name, r == 0 && q == 0 && n->stats.tx_completions > before,
                     "frame_completed=%d media_state=%u link=%s tx_errors=%lu", n->stats.tx_completions > before, media,
                     n->link_up ? "up" : "down", n->stats.tx_errors);
        return r < 0 && r != -ETIMEDOUT ? guest_fail(r, "%s: %s", name, vsc_bus_error(h->bus)) : 0;
}

int hostile_rndis(struct hostile *h) {
        int r = hostile_connect(h);
        if (r < 0)
                return r;
        struct vsc_net *n = net_up(h);
        if (!n)
                return -EIO;
        r = rndis_framing(h, n);
        if (r == 0)
                r = nvsp_garbage(h, n);
        if (r == 0)
                r = bogus_rx_completions(h, n);
        if (r == 0)
                r = net_still_works(h, n, "frame_and_query_after_garbage");
        if (r == 0)
                r = rndis_random(h, n);
        if (r == 0)
                r = net_close(h, n);
        return r < 0 ? r : hostile_alive(h, 0);
}

int hostile_link(struct hostile *h) {
        int r = hostile_connect(h);
        if (r < 0)
                return r;
        struct vsc_net *n = net_up(h);
        if (!n)
                return -EIO;
        hostile_case(h, "link_up_at_start", n->link_up, "link=%s", n->link_up ? "up" : "down");
        hostile_phase(h, "link_wait");
        uint64_t t0 = clock_ns(), wait = hostile_opt(h, "link_wait_ms", 100, 600000, 30000) * 1000000ull;
        while (n->link_up && clock_ns() - t0 < wait) {
                r = vsc_net_poll(n, 0);
                if (r < 0)
                        return guest_fail(r, "link: %s", vsc_bus_error(h->bus));
                vsc_channel_wait(&n->ch, 50000000ull);
        }
        hostile_case(h, "link_down_indicated", !n->link_up, "after_ms=%lu indications=%lu",
                     (clock_ns() - t0) / 1000000, n->stats.indications);
        r = net_still_works(h, n, "frame_completed_without_tap");
        if (r == 0 && !n->link_up) {
                uint32_t media = 99, got = 0;
                r = vsc_net_query(n, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &media, sizeof media, &got);
                hostile_case(h, "media_state_disconnected", r == 0 && media == NDIS_MEDIA_STATE_DISCONNECTED,
                             "media_state=%u", media);
                r = r == -ETIMEDOUT ? 0 : r;
        }
        if (r == 0)
                r = net_close(h, n);
        return r < 0 ? r : hostile_alive(h, 0);
}
