// SPDX-License-Identifier: MIT
/* GPADLs, OPENCHANNEL/CLOSECHANNEL and channel signalling of the vsc
 * library against the simulated host of test-vsc-fake.h. */
#include "tests/unit/test-vsc-fake.h"

static const struct vsc_offer *one_offer(struct fake_host *h, struct vsc_bus *bus) {
        uint8_t cls[16];
        fake_add_offer(h, 9, 0xcc, 3, 0);
        fake_bus_up(h, bus, true);
        ASSERT_EQ(vsc_request_offers(bus), 1);
        memset(cls, 0xcc, 16);
        return vsc_find_offer(bus, cls, 0);
}

TEST(gpadl_header_and_bodies) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        uint32_t handle, handle2;
        fake_bus_up(h, &bus, true);
        void *buf = fake_alloc(h, 64);
        unsigned first = h->n_log;
        ASSERT_OK(vsc_gpadl_create(&bus, 4, buf, 64 * 4096, &handle));
        ASSERT_EQ(handle, 0xe1e10u); /* Linux's first handle (§4.5) */
        /* 64 PFNs: a header with 26, bodies with 28 and 10 */
        ASSERT_EQ(h->n_log - first, 3u);
        const struct fake_posted *hdr = &h->log[first];
        struct vmbus_channel_gpadl_header g;
        memcpy(&g, hdr->payload, sizeof g);
        ASSERT_EQ(hdr->type, (uint32_t)CHANNELMSG_GPADL_HEADER);
        ASSERT_EQ(g.child_relid, 4u);
        ASSERT_EQ(g.rangecount, 1u);
        ASSERT_EQ(g.range_buflen, 8u + 64 * 8);
        ASSERT_EQ(hdr->len, 20u + 8 + 26 * 8);
        struct vmbus_gpa_range range;
        memcpy(&range, hdr->payload + 20, sizeof range);
        ASSERT_EQ(range.byte_count, 64u * 4096);
        ASSERT_EQ(range.byte_offset, 0u);
        uint64_t pfn;
        memcpy(&pfn, hdr->payload + 28 + 25 * 8, 8);
        ASSERT_EQ(pfn, ((uint64_t)(uintptr_t)buf >> 12) + 25);
        ASSERT_EQ(h->log[first + 1].type, (uint32_t)CHANNELMSG_GPADL_BODY);
        ASSERT_EQ(h->log[first + 1].len, 16u + 28 * 8);
        memcpy(&pfn, h->log[first + 1].payload + 16, 8);
        ASSERT_EQ(pfn, ((uint64_t)(uintptr_t)buf >> 12) + 26);
        ASSERT_EQ(h->log[first + 2].len, 16u + 10 * 8);
        ASSERT_OK(vsc_gpadl_create(&bus, 4, buf, 4096, &handle2));
        ASSERT_EQ(handle2, 0xe1e11u);
        ASSERT_OK(vsc_gpadl_teardown(&bus, 4, handle));
        ASSERT_OK(vsc_gpadl_teardown(&bus, 4, handle2));
        fake_free(h, buf, 64);
        fake_bus_down(h, &bus);
}

TEST(gpadl_rejects_bad_buffers) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        uint32_t handle;
        fake_bus_up(h, &bus, true);
        uint8_t *buf = fake_alloc(h, 2);
        ASSERT_ERROR(vsc_gpadl_create(&bus, 4, buf + 8, 4096, &handle), EINVAL);
        ASSERT_ERROR(vsc_gpadl_create(&bus, 4, buf, 100, &handle), EINVAL);
        ASSERT_ERROR(vsc_gpadl_create(&bus, 4, buf, 0, &handle), EINVAL);
        fake_free(h, buf, 2);
        fake_bus_down(h, &bus);
}

static bool wrong_handle(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_GPADL_CREATED || msg[0] == CHANNELMSG_GPADL_TORNDOWN)
                msg[msg[0] == CHANNELMSG_GPADL_CREATED ? 12 : 8] ^= 1; /* the gpadl field */
        return true;
}

TEST(gpadl_created_wrong_handle) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        uint32_t handle = 0;
        fake_bus_up(h, &bus, true);
        void *buf = fake_alloc(h, 1);
        h->mutate = wrong_handle;
        ASSERT_ERROR(vsc_gpadl_create(&bus, 4, buf, 4096, &handle), EPROTO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "GPADL_CREATED for handle 0xe1e11"));
        ASSERT_EQ(handle, 0u);
        h->mutate = NULL;
        ASSERT_OK(vsc_gpadl_create(&bus, 4, buf, 4096, &handle));
        h->mutate = wrong_handle;
        ASSERT_ERROR(vsc_gpadl_teardown(&bus, 4, handle), EPROTO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "GPADL_TORNDOWN"));
        fake_free(h, buf, 1);
        fake_bus_down(h, &bus);
}

static bool refuse_gpadl(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_GPADL_CREATED)
                msg[16] = 5; /* creation_status */
        return true;
}

TEST(gpadl_refused) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        uint32_t handle;
        fake_bus_up(h, &bus, true);
        void *buf = fake_alloc(h, 1);
        h->mutate = refuse_gpadl;
        ASSERT_ERROR(vsc_gpadl_create(&bus, 4, buf, 4096, &handle), EIO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "status 0x5"));
        fake_free(h, buf, 1);
        fake_bus_down(h, &bus);
}

TEST(open_channel_message) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        uint8_t ud[24] = { 0x11, 0x22 };
        h->vp_index = 2;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 4 * 4096, 8 * 4096, ud, sizeof ud));
        const struct fake_posted *p = &h->log[h->n_log - 1];
        struct vmbus_channel_open_channel m;
        memcpy(&m, p->payload, sizeof m);
        ASSERT_EQ(p->type, (uint32_t)CHANNELMSG_OPENCHANNEL);
        ASSERT_EQ(p->len, 148u);
        ASSERT_EQ(m.child_relid, 9u);
        ASSERT_EQ(m.openid, 9u);
        ASSERT_EQ(m.ringbuffer_gpadlhandle, ch.gpadl);
        ASSERT_EQ(m.target_vp, 2u);
        ASSERT_EQ(m.downstream_ringbuffer_pageoffset, 4u);
        ASSERT_EQ(m.userdata[1], 0x22u);
        ASSERT_EQ(ch.out.hdr->feature_bits, 1u);
        ASSERT_EQ(ch.in.hdr->feature_bits, 1u);
        ASSERT_EQ((uint8_t *)ch.in.hdr - (uint8_t *)ch.out.hdr, 4 * 4096);
        ASSERT_EQ(ch.in.size, 7u * 4096);
        unsigned before = h->n_log;
        ASSERT_OK(vsc_channel_close(&ch));
        ASSERT_EQ(h->log[before].type, (uint32_t)CHANNELMSG_CLOSECHANNEL);
        ASSERT_EQ(h->log[before + 1].type, (uint32_t)CHANNELMSG_GPADL_TEARDOWN);
        fake_bus_down(h, &bus);
}

static bool bad_open_result(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_OPENCHANNEL_RESULT)
                msg[8] = 10; /* child_relid */
        return true;
}

static bool refused_open(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_OPENCHANNEL_RESULT)
                msg[16] = 1; /* status */
        return true;
}

TEST(open_channel_errors) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_ERROR(vsc_channel_open(&bus, &ch, o, 4096, 8192, NULL, 0), EINVAL); /* no data pages */
        ASSERT_ERROR(vsc_channel_open(&bus, &ch, o, 8192, 8192, NULL, 121), EINVAL);
        ASSERT_ERROR(vsc_channel_open(&bus, &ch, NULL, 8192, 8192, NULL, 0), ENOENT);
        h->mutate = bad_open_result;
        ASSERT_ERROR(vsc_channel_open(&bus, &ch, o, 8192, 8192, NULL, 0), EPROTO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "OPENCHANNEL_RESULT for relid 10"));
        /* the ring GPADL was torn down and its pages freed */
        ASSERT_EQ(h->log[h->n_log - 1].type, (uint32_t)CHANNELMSG_GPADL_TEARDOWN);
        h->mutate = refused_open;
        ASSERT_ERROR(vsc_channel_open(&bus, &ch, o, 8192, 8192, NULL, 0), EIO);
        h->mutate = NULL;
        fake_bus_down(h, &bus);
}

/* The host's side of the inbound ring: one packet. */
static void host_send(struct vsc_channel *ch, const void *body, uint32_t n) {
        struct vsc_ring host = ch->in;
        bool signal;
        host.own = ch->in.hdr->write_index;
        /* vsc_ring_write as the producer; its read of "host" read_index is ours */
        ASSERT_OK(vsc_ring_write(&host, VM_PKT_COMP, 0, 7, NULL, 0, body, n, &signal));
}

TEST(send_signals_on_empty_to_non_empty) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 4 * 4096, 4 * 4096, NULL, 0));
        ASSERT_OK(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 1, "abc", 3));
        ASSERT_EQ(h->n_hypercall_signals, 1u);
        ASSERT_EQ(h->signals[0], 0x2009u);
        ASSERT_OK(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 2, "abc", 3));
        ASSERT_EQ(h->n_hypercall_signals, 1u); /* not empty before: no signal */
        ASSERT_EQ(ch.stats.signals_suppressed, 1ull);
        /* the host drains and masks: still no signal */
        ch.out.hdr->read_index = ch.out.hdr->write_index;
        ch.out.hdr->interrupt_mask = 1;
        ASSERT_OK(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 3, "abc", 3));
        ASSERT_EQ(h->n_signals, 1u);
        /* at CPL3: the doorbell port, never the hypercall page (#UD by TLFS) */
        ch.out.hdr->interrupt_mask = 0;
        ch.out.hdr->read_index = ch.out.hdr->write_index;
        h->cpl = 3;
        ASSERT_OK(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 4, "abc", 3));
        ASSERT_EQ(h->n_doorbells, 1u);
        ASSERT_EQ(h->signals[1], 0x2009u);
        h->cpl = 0;
        ASSERT_OK(vsc_channel_close(&ch));
        fake_bus_down(h, &bus);
}

/* The host raises a channel's interrupt only when its event flag goes
 * 0 -> 1 (hvshim, §3.3): a waiting guest must clear the flag before it
 * idles, or it sleeps through every later signal. */
static struct vsc_channel *flag_ch;
static bool flag_was_clear;
static void idle_check_flag(struct fake_host *h) {
        const uint64_t *w = (const uint64_t *)(const void *)flag_ch->bus->siefp->flags[VMBUS_MESSAGE_SINT];
        flag_was_clear = !(w[flag_ch->relid / 64] & (1ull << (flag_ch->relid % 64)));
        host_send(flag_ch, "late", 4); /* the host answers while the guest sleeps */
        h->on_idle = NULL;
}

TEST(wait_clears_event_flag_before_idle) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 4 * 4096, 4 * 4096, NULL, 0));
        uint64_t *w = (uint64_t *)(void *)bus.siefp->flags[VMBUS_MESSAGE_SINT];
        w[ch.relid / 64] |= 1ull << (ch.relid % 64); /* an earlier signal, never consumed */
        flag_ch = &ch;
        flag_was_clear = false;
        h->on_idle = idle_check_flag;
        ASSERT_OK(vsc_channel_wait(&ch, 1000000000ull));
        ASSERT_TRUE(flag_was_clear);
        /* unmasking clears it as well */
        w[ch.relid / 64] |= 1ull << (ch.relid % 64);
        ASSERT_GE(vsc_channel_mask(&ch, false), 0);
        ASSERT_EQ(w[ch.relid / 64] & (1ull << (ch.relid % 64)), 0ull);
        ASSERT_OK(vsc_channel_close(&ch));
        fake_bus_down(h, &bus);
}

TEST(queue_and_flush_signal_once) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 4 * 4096, 4 * 4096, NULL, 0));
        for (int i = 0; i < 3; i++)
                ASSERT_OK(vsc_channel_queue(&ch, VM_PKT_DATA_INBAND, 0, (uint64_t)i, "abcd", 4));
        ASSERT_EQ(ch.out.hdr->write_index, 0u); /* nothing visible before the flush */
        ASSERT_EQ(h->n_signals, 0u);
        vsc_channel_flush(&ch);
        ASSERT_EQ(ch.out.hdr->write_index, 3u * 32);
        ASSERT_EQ(h->n_signals, 1u); /* one doorbell for the batch */
        vsc_channel_flush(&ch);      /* nothing new: nothing happens */
        ASSERT_EQ(h->n_signals, 1u);
        ASSERT_EQ(ch.stats.signals_suppressed, 0ull);
        /* the host consumed part of the previous batch: it is awake, no signal */
        ch.out.hdr->read_index = 32;
        ASSERT_OK(vsc_channel_queue(&ch, VM_PKT_DATA_INBAND, 0, 9, "abcd", 4));
        vsc_channel_flush(&ch);
        ASSERT_EQ(h->n_signals, 1u);
        ASSERT_EQ(ch.stats.signals_suppressed, 1ull);
        ASSERT_OK(vsc_channel_close(&ch));
        fake_bus_down(h, &bus);
}

TEST(send_full_sets_pending_send_sz) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        uint8_t big[3000] = { 0 };
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 2 * 4096, 2 * 4096, NULL, 0));
        ASSERT_OK(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 1, big, sizeof big));
        ASSERT_ERROR(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 2, big, sizeof big), EAGAIN);
        ASSERT_EQ(ch.out.hdr->pending_send_sz, 16u + 3000 + 8);
        ch.out.hdr->read_index = ch.out.hdr->write_index; /* host consumed */
        ASSERT_OK(vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, 2, big, sizeof big));
        ASSERT_EQ(ch.out.hdr->pending_send_sz, 0u);
        ASSERT_OK(vsc_channel_close(&ch));
        fake_bus_down(h, &bus);
}

TEST(recv_wakes_blocked_host_once) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        uint8_t body[1000] = { 0 }, buf[2048];
        struct vsc_packet p;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 2 * 4096, 2 * 4096, NULL, 0));
        for (int i = 0; i < 3; i++)
                host_send(&ch, body, sizeof body);
        /* 3 x 1024 used of 4096: free 1024; the host needs 2000 */
        ch.in.hdr->pending_send_sz = 2000;
        ASSERT_OK(vsc_channel_recv(&ch, buf, sizeof buf, &p));
        ASSERT_EQ(p.len, 1016u);
        ASSERT_EQ(ch.stats.host_pending_signals, 1ull); /* 1024 -> 2048 crosses 2000 */
        ASSERT_EQ(h->n_signals, 1u);
        ch.in.hdr->pending_send_sz = 3500;
        ASSERT_OK(vsc_channel_recv(&ch, buf, sizeof buf, &p));
        ASSERT_EQ(ch.stats.host_pending_signals, 1ull); /* 2048 -> 3072: not yet */
        ch.in.hdr->pending_send_sz = 2500;
        ASSERT_OK(vsc_channel_recv(&ch, buf, sizeof buf, &p));
        ASSERT_EQ(ch.stats.host_pending_signals, 1ull); /* was past 2500 already: no second signal */
        ASSERT_ERROR(vsc_channel_recv(&ch, buf, sizeof buf, &p), EAGAIN);
        ASSERT_OK(vsc_channel_close(&ch));
        fake_bus_down(h, &bus);
}

TEST(mask_and_wait) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vsc_channel ch;
        const struct vsc_offer *o = one_offer(h, &bus);
        ASSERT_OK(vsc_channel_open(&bus, &ch, o, 2 * 4096, 2 * 4096, NULL, 0));
        ASSERT_OK(vsc_channel_mask(&ch, true));
        ASSERT_EQ(ch.in.hdr->interrupt_mask, 1u);
        ASSERT_ERROR(vsc_channel_wait(&ch, 10 * FAKE_TICK_NS), ETIMEDOUT);
        host_send(&ch, "x", 1);
        ASSERT_EQ(vsc_channel_mask(&ch, false), 1); /* data arrived while masked */
        ASSERT_EQ(ch.in.hdr->interrupt_mask, 0u);
        ASSERT_OK(vsc_channel_wait(&ch, 10 * FAKE_TICK_NS));
        ch.in.hdr->write_index = 5; /* a broken host index */
        ASSERT_ERROR(vsc_channel_wait(&ch, 10 * FAKE_TICK_NS), EPROTO);
        ch.in.hdr->write_index = ch.in.own;
        ASSERT_OK(vsc_channel_close(&ch));
        fake_bus_down(h, &bus);
}

TEST_MAIN();
