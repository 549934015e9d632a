// SPDX-License-Identifier: MIT
/* GPADLs (§4.5) through the server's message API: header + body
 * accumulation up to the netvsc receive buffer (4096 pages), several
 * ranges, every refusal answered with a failure status and leaving nothing
 * behind, the limits, teardown of unknown/pending/in-use GPADLs, provider
 * references that hold a teardown back, and cleanup on unload/rescind. */
#include "common/macro.h"
#include "common/test.h"
#include "hv/tlfs.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

static int nop_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        return 0;
}
static void nop_close(struct vmbus_channel *ch) {
}
static const struct vmbus_provider_ops nop_ops = {
        .name = "nop",
        .class_id = GUID_INIT(0x22222222, 0x2222, 0x3333, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55),
        .guest_max_packet = 4096, .drive = VMBUS_DRIVE_EVENTFD, .open = nop_open, .close = nop_close,
};

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_device *dev[2];
        struct vmbus_channel_offer_channel offer[2];
};

static void fx_setup_limits(struct fx *f, const struct vmbus_limits *lim) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(48u << 20, 1, &f->sim));
        struct vmbus_server_config cfg = { .vp_count = 1 };
        if (lim)
                cfg.limits = *lim;
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv));
        for (int i = 0; i < 2; i++) {
                struct vmbus_device_config dc = { .ops = &nop_ops };
                dc.instance_id.b[0] = (uint8_t)(i + 1);
                ASSERT_OK(vmbus_server_add_device(f->srv, &dc, &f->dev[i]));
        }
        ASSERT_EQ(vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(f->sim, f->offer, 2), 2);
}

static void fx_setup(struct fx *f) {
        fx_setup_limits(f, NULL);
}

static void usage(struct fx *f, unsigned gpadls, unsigned pages) {
        unsigned g, p;
        vmbus_server_gpadl_usage(f->srv, &g, &p);
        ASSERT_EQ(g, gpadls);
        ASSERT_EQ(p, pages);
}

static void fx_free(struct fx *f) {
        vmbus_server_free(f->srv);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        vmbus_sim_free(f->sim);
}

static uint64_t stat_unexpected(struct fx *f) {
        struct vmbus_server_stats s;
        vmbus_server_get_stats(f->srv, &s);
        return s.unexpected;
}

/* A GPADL of n fresh pages on relid; returns the creation status. */
static int make_gpadl(struct fx *f, uint32_t relid, uint32_t handle, size_t n, uint64_t *first_pfn) {
        uint64_t base = vmbus_sim_alloc_pages(f->sim, n);
        ASSERT_NE(base, 0ull);
        uint64_t *pfns = calloc(n, sizeof *pfns);
        for (size_t i = 0; i < n; i++)
                pfns[i] = base + i;
        int r = vmbus_sim_create_gpadl(f->sim, relid, handle, pfns, n, (uint32_t)(n * 4096));
        free(pfns);
        if (first_pfn)
                *first_pfn = base;
        return r;
}

/* A raw GPADL_HEADER: fields as given, then `carried` bytes of range data. */
static uint16_t post_header(struct fx *f, uint32_t relid, uint32_t handle, uint16_t buflen, uint16_t rangecount,
                            const void *ranges, size_t carried) {
        uint8_t m[240];
        struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
                                                .gpadl = handle, .range_buflen = buflen, .rangecount = rangecount };
        memcpy(m, &h, sizeof h);
        memcpy(m + sizeof h, ranges, carried);
        return vmbus_sim_post(f->sim, 1, 0, m, sizeof h + carried);
}

static uint16_t post_body(struct fx *f, uint32_t handle, const void *data, size_t len) {
        uint8_t m[240];
        struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };
        memcpy(m, &b, sizeof b);
        memcpy(m + sizeof b, data, len);
        return vmbus_sim_post(f->sim, 1, 0, m, sizeof b + len);
}

/* The GPADL_CREATED that must follow: its status. */
static uint32_t created_status(struct fx *f, uint32_t handle) {
        struct vmbus_channel_gpadl_created c;
        ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_GPADL_CREATED, &c, sizeof c), (int)sizeof c);
        ASSERT_EQ(c.gpadl, handle);
        return c.creation_status;
}

TEST(gpadl_small_create_and_teardown) {
        struct fx f;
        fx_setup(&f);
        ASSERT_EQ(make_gpadl(&f, 1, 0xe1e10, 8, NULL), 0);
        usage(&f, 1, 8);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 1u);
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, 1, 0xe1e10));
        usage(&f, 0, 0);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        fx_free(&f);
}

TEST(gpadl_netvsc_receive_buffer) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 4, NULL, 0, &ch), 0);
        /* 16 MiB = 4096 pages: one header and 146 bodies (§4.5), pages
         * handed out in reverse so the mapping has to follow the list. */
        size_t n = 4096;
        uint64_t base = vmbus_sim_alloc_pages(f.sim, n);
        ASSERT_NE(base, 0ull);
        uint64_t *pfns = calloc(n, sizeof *pfns);
        for (size_t i = 0; i < n; i++) {
                pfns[i] = base + n - 1 - i;
                memset(vmbus_sim_ram(f.sim) + pfns[i] * 4096, (int)(i & 0xff), 4096);
        }
        ASSERT_EQ(vmbus_sim_create_gpadl(f.sim, 1, 0xabc, pfns, n, (uint32_t)(n * 4096)), 0);
        struct vmbus_channel *hc = vmbus_server_open_channel(f.srv, 1);
        ASSERT_NOT_NULL(hc);
        struct vmbus_gpadl *g;
        ASSERT_OK(vmbus_channel_gpadl_get(hc, 0xabc, &g));
        uint8_t *data;
        size_t len;
        ASSERT_EQ(vmbus_gpadl_range_count(g), 1u);
        ASSERT_OK(vmbus_gpadl_buffer(g, 0, &data, &len));
        ASSERT_EQ(len, (size_t)16 << 20);
        for (size_t i = 0; i < n; i += 97)
                ASSERT_EQ(data[i * 4096 + 123], (uint8_t)(i & 0xff));
        data[5 * 4096] = 0x5a; /* writes land in the guest's page */
        ASSERT_EQ(vmbus_sim_ram(f.sim)[pfns[5] * 4096], 0x5a);
        ASSERT_ERROR(vmbus_gpadl_buffer(g, 1, &data, &len), EINVAL);
        ASSERT_EQ(vmbus_gpadl_handle(g), 0xabcu);
        vmbus_gpadl_put(g);
        free(pfns);
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, 1, 0xabc));
        fx_free(&f);
}

TEST(gpadl_multiple_ranges) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 2, NULL, 0, &ch), 0);
        uint64_t p = vmbus_sim_alloc_pages(f.sim, 8);
        /* range 0: 100 bytes at offset 50 of one page; range 1: 5000 bytes at
         * offset 4000 over three scattered pages. */
        uint64_t r[8] = { 100 | (50ull << 32), p + 7, 5000 | (4000ull << 32), p + 2, p + 5, p + 0 };
        ASSERT_EQ(post_header(&f, 1, 0x77, 48, 2, r, 48), HV_STATUS_SUCCESS);
        ASSERT_EQ(created_status(&f, 0x77), 0u);
        usage(&f, 2, 8); /* the ring (2 x 2 pages) and this one (1 + 3) */
        uint8_t *ram = vmbus_sim_ram(f.sim);
        ram[(p + 7) * 4096 + 50] = 1;
        ram[(p + 2) * 4096 + 4000] = 2;
        ram[(p + 5) * 4096 + 100] = 3;
        ram[p * 4096 + 807] = 4; /* the last byte of range 1: 4000 + 5000 - 1 - 8192 */
        struct vmbus_gpadl *g;
        ASSERT_OK(vmbus_channel_gpadl_get(vmbus_server_open_channel(f.srv, 1), 0x77, &g));
        ASSERT_EQ(vmbus_gpadl_range_count(g), 2u);
        uint8_t *d;
        size_t len;
        ASSERT_OK(vmbus_gpadl_buffer(g, 0, &d, &len));
        ASSERT_EQ(len, 100u);
        ASSERT_EQ(d[0], 1);
        ASSERT_OK(vmbus_gpadl_buffer(g, 1, &d, &len));
        ASSERT_EQ(len, 5000u);
        ASSERT_EQ(d[0], 2);
        ASSERT_EQ(d[96 + 100], 3);
        ASSERT_EQ(d[4999], 4);
        vmbus_gpadl_put(g);
        fx_free(&f);
}

/* Each refusal: a failure status, and no trace of the GPADL. */
static void refused(struct fx *f, uint32_t handle) {
        ASSERT_NE(created_status(f, handle), 0u);
        usage(f, 0, 0);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        ASSERT_EQ(vmbus_sim_pending_messages(f->sim), 0u);
}

TEST(gpadl_refusals) {
        struct fx f;
        fx_setup(&f);
        uint64_t ram_pages = vmbus_sim_ram_size(f.sim) / 4096;
        uint64_t r[4] = { 4096, ram_pages }; /* PFN past RAM (vid_map_pages -EFAULT) */
        ASSERT_EQ(post_header(&f, 1, 1, 16, 1, r, 16), 0);
        refused(&f, 1);
        r[1] = 1ull << 52;
        ASSERT_EQ(post_header(&f, 1, 2, 16, 1, r, 16), 0);
        refused(&f, 2);
        r[1] = 10;
        ASSERT_EQ(post_header(&f, 1, 3, 24, 1, r, 24), 0); /* buflen says 2 PFNs, byte_count 1 page */
        refused(&f, 3);
        ASSERT_EQ(post_header(&f, 1, 4, 16, 0, r, 16), 0); /* rangecount 0 */
        refused(&f, 4);
        r[0] = 4096 | (4096ull << 32); /* byte_offset past the page */
        ASSERT_EQ(post_header(&f, 1, 5, 16, 1, r, 16), 0);
        refused(&f, 5);
        r[0] = 0; /* byte_count 0 */
        ASSERT_EQ(post_header(&f, 1, 6, 16, 1, r, 16), 0);
        refused(&f, 6);
        r[0] = 4096;
        ASSERT_EQ(post_header(&f, 1, 7, 20, 1, r, 16), 0); /* buflen not whole PFNs */
        refused(&f, 7);
        ASSERT_EQ(post_header(&f, 1, 8, 16, 1, r, 24), 0); /* carries more than buflen */
        refused(&f, 8);
        ASSERT_EQ(post_header(&f, 77, 9, 16, 1, r, 16), 0); /* unknown relid */
        refused(&f, 9);
        ASSERT_EQ(post_header(&f, 0, 10, 16, 1, r, 16), 0);
        refused(&f, 10);
        ASSERT_EQ(post_header(&f, 1, 0, 16, 1, r, 16), 0); /* handle 0 */
        refused(&f, 0);
        ASSERT_EQ(post_header(&f, 1, 11, 16, 2, r, 16), 0); /* 2 ranges need >= 32 bytes */
        refused(&f, 11);
        /* Body overflow: 30 PFNs announced, 26 in the header, 5 in the body. */
        uint64_t big[32] = { 30 * 4096 };
        for (int i = 1; i < 32; i++)
                big[i] = (uint64_t)(100 + i);
        ASSERT_EQ(post_header(&f, 1, 12, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        usage(&f, 1, 30); /* pending */
        ASSERT_EQ(post_body(&f, 12, big + 27, 5 * 8), 0);
        refused(&f, 12);
        ASSERT_EQ(post_body(&f, 12, big + 27, 4 * 8), 0); /* the rest: no header any more */
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        /* Bodies with partial PFNs fail the GPADL as well. */
        ASSERT_EQ(post_header(&f, 1, 13, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_EQ(post_body(&f, 13, big + 27, 12), 0);
        refused(&f, 13);
        fx_free(&f);
}

TEST(gpadl_duplicate_handle_leaves_original) {
        struct fx f;
        fx_setup(&f);
        ASSERT_EQ(make_gpadl(&f, 1, 0x100, 2, NULL), 0);
        ASSERT_NE(make_gpadl(&f, 2, 0x100, 3, NULL), 0);
        usage(&f, 1, 2);
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, 1, 0x100));
        usage(&f, 0, 0);
        fx_free(&f);
}

TEST(gpadl_page_limit_and_wire_maximum) {
        struct vmbus_limits lim = { .max_gpadl_pages = 64 };
        struct fx f;
        fx_setup_limits(&f, &lim);
        ASSERT_EQ(make_gpadl(&f, 1, 0x200, 64, NULL), 0);
        ASSERT_NE(make_gpadl(&f, 1, 0x201, 65, NULL), 0);
        usage(&f, 1, 64);
        fx_free(&f);
        /* The default is the wire maximum (range_buflen is a u16). */
        fx_setup(&f);
        ASSERT_EQ(make_gpadl(&f, 1, 0x300, VMBUS_GPADL_WIRE_MAX_PFNS, NULL), 0);
        usage(&f, 1, VMBUS_GPADL_WIRE_MAX_PFNS);
        fx_free(&f);
}

TEST(gpadl_count_limits) {
        struct vmbus_limits lim = { .max_gpadls_per_channel = 3, .max_gpadls = 5, .max_total_gpadl_pages = 100,
                                    .max_pending_gpadls = 2 };
        struct fx f;
        fx_setup_limits(&f, &lim);
        for (uint32_t i = 0; i < 3; i++)
                ASSERT_EQ(make_gpadl(&f, 1, 0x10 + i, 1, NULL), 0);
        ASSERT_NE(make_gpadl(&f, 1, 0x13, 1, NULL), 0); /* per channel */
        ASSERT_EQ(make_gpadl(&f, 2, 0x20, 60, NULL), 0);
        ASSERT_NE(make_gpadl(&f, 2, 0x21, 60, NULL), 0); /* total pages: 63 + 60 > 100 */
        ASSERT_EQ(make_gpadl(&f, 2, 0x22, 30, NULL), 0);
        usage(&f, 5, 93);
        ASSERT_NE(make_gpadl(&f, 2, 0x23, 1, NULL), 0); /* GPADLs per VM */
        fx_free(&f);

        fx_setup_limits(&f, &lim);
        uint64_t big[27] = { 30 * 4096 };
        ASSERT_EQ(post_header(&f, 1, 0x30, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_EQ(post_header(&f, 2, 0x31, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_EQ(post_header(&f, 2, 0x32, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_NE(created_status(&f, 0x32), 0u); /* a third incomplete one */
        ASSERT_EQ(make_gpadl(&f, 2, 0x33, 1, NULL), 0); /* complete ones still pass */
        usage(&f, 3, 61);
        fx_free(&f);
}

TEST(gpadl_unexpected_bodies_and_teardowns) {
        struct fx f;
        fx_setup(&f);
        uint64_t pfns[2] = { 10, 11 };
        uint64_t before = stat_unexpected(&f);
        ASSERT_EQ(post_body(&f, 0x999, pfns, sizeof pfns), 0); /* body without header */
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        ASSERT_EQ(stat_unexpected(&f), before + 1);
        /* Teardown of an unknown handle is still answered (§4.9). */
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, 1, 0x999));
        /* Teardown naming the wrong channel: refused, the GPADL stays. */
        ASSERT_EQ(make_gpadl(&f, 1, 0x400, 1, NULL), 0);
        ASSERT_ERROR(vmbus_sim_teardown_gpadl(f.sim, 2, 0x400), ENOMSG);
        usage(&f, 1, 1);
        /* Teardown of an incomplete one: answered, and its bodies dropped. */
        uint64_t big[27] = { 30 * 4096 };
        ASSERT_EQ(post_header(&f, 1, 0x401, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, 1, 0x401));
        ASSERT_EQ(post_body(&f, 0x401, big, 4 * 8), 0);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        usage(&f, 1, 1);
        fx_free(&f);
}

TEST(gpadl_ring_teardown_waits_for_close) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 2, NULL, 0, &ch), 0);
        ASSERT_ERROR(vmbus_sim_teardown_gpadl(f.sim, 1, ch.gpadl), ENOMSG); /* in use by the rings */
        struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = 1 };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &cl, sizeof cl), 0);
        struct vmbus_channel_gpadl_torndown t;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_GPADL_TORNDOWN, &t, sizeof t), (int)sizeof t);
        ASSERT_EQ(t.gpadl, ch.gpadl);
        usage(&f, 0, 0);
        fx_free(&f);
}

TEST(gpadl_provider_reference_holds_teardown) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 2, NULL, 0, &ch), 0);
        ASSERT_EQ(make_gpadl(&f, 1, 0x500, 16, NULL), 0);
        struct vmbus_gpadl *g;
        ASSERT_OK(vmbus_channel_gpadl_get(vmbus_server_open_channel(f.srv, 1), 0x500, &g));
        /* netvsc order (§7.7): close, then tear the buffers down. */
        ASSERT_OK(vmbus_sim_close(f.sim, &ch));
        ASSERT_ERROR(vmbus_sim_teardown_gpadl(f.sim, 1, 0x500), ENOMSG);
        usage(&f, 1, 16);
        uint8_t *d;
        size_t len;
        ASSERT_OK(vmbus_gpadl_buffer(g, 0, &d, &len)); /* still mapped */
        d[len - 1] = 1;
        vmbus_gpadl_put(g);
        struct vmbus_channel_gpadl_torndown t;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_GPADL_TORNDOWN, &t, sizeof t), (int)sizeof t);
        ASSERT_EQ(t.gpadl, 0x500u);
        usage(&f, 0, 0);
        fx_free(&f);
}

TEST(gpadl_lookup_rules) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 2, NULL, 0, &ch), 0);
        struct vmbus_channel *hc = vmbus_server_open_channel(f.srv, 1);
        struct vmbus_gpadl *g;
        ASSERT_EQ(make_gpadl(&f, 2, 0x600, 1, NULL), 0);
        ASSERT_ERROR(vmbus_channel_gpadl_get(hc, 0x600, &g), ENOENT); /* another device's */
        ASSERT_ERROR(vmbus_channel_gpadl_get(hc, 0x601, &g), ENOENT); /* unknown */
        uint64_t big[27] = { 30 * 4096 };
        ASSERT_EQ(post_header(&f, 1, 0x602, 8 + 30 * 8, 1, big, 8 + 26 * 8), 0);
        ASSERT_ERROR(vmbus_channel_gpadl_get(hc, 0x602, &g), ENOENT); /* incomplete */
        ASSERT_ERROR(vmbus_sim_teardown_gpadl(f.sim, 1, ch.gpadl), ENOMSG);
        ASSERT_ERROR(vmbus_channel_gpadl_get(hc, ch.gpadl, &g), ENOENT); /* being torn down */
        fx_free(&f);
}

TEST(gpadl_orphaned_by_unload_lives_until_put) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.sim, 1, f.offer[0].connection_id, 2, NULL, 0, &ch), 0);
        ASSERT_EQ(make_gpadl(&f, 1, 0x700, 4, NULL), 0);
        struct vmbus_gpadl *g;
        ASSERT_OK(vmbus_channel_gpadl_get(vmbus_server_open_channel(f.srv, 1), 0x700, &g));
        struct vmbus_channel_message_header ul = { .msgtype = CHANNELMSG_UNLOAD };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &ul, sizeof ul), 0);
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_UNLOAD_RESPONSE, &ul, sizeof ul), 8);
        usage(&f, 0, 0); /* forgotten: a new kernel may reuse the handle */
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 1u); /* but still mapped for the provider */
        vmbus_gpadl_put(g);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* no TORNDOWN after UNLOAD */
        /* The next kernel starts its handles from 0xE1E10 again. */
        ASSERT_EQ(vmbus_sim_connect(f.sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(f.sim, f.offer, 2), 2);
        ASSERT_EQ(make_gpadl(&f, 1, 0x700, 4, NULL), 0);
        fx_free(&f);
}

TEST(gpadl_freed_on_relid_release) {
        struct fx f;
        fx_setup(&f);
        ASSERT_EQ(make_gpadl(&f, 2, 0x800, 4, NULL), 0);
        ASSERT_OK(vmbus_server_remove_device(f.srv, f.dev[1]));
        struct vmbus_channel_relid_message m;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &m, sizeof m), 12);
        ASSERT_EQ(m.child_relid, 2u);
        usage(&f, 1, 4); /* the guest may still use its pages until it releases */
        ASSERT_NE(make_gpadl(&f, 2, 0x801, 1, NULL), 0); /* no new GPADLs on a rescinded channel */
        m.header.msgtype = CHANNELMSG_RELID_RELEASED;
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &m, sizeof m), 0);
        usage(&f, 0, 0);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        fx_free(&f);
}

TEST_MAIN();
