// SPDX-License-Identifier: MIT
/* The vsc library's channel-management side against a simulated host
 * (test-vsc-fake.h): Hyper-V detection and set-up, version negotiation,
 * offers, GPADLs, OPENCHANNEL, UNLOAD, and what it does when the host
 * answers wrongly or not at all. Time is a fake clock: a test that would
 * loop forever instead fails on its deadline. */
#include "tests/unit/test-vsc-fake.h"

TEST(detect_rejects_non_hyperv) {
        struct fake_host *h = fake_host_new();
        struct vsc_hv_info info;
        const char *why;
        h->hyperv = false;
        ASSERT_ERROR(vsc_hv_detect(&fake_ops, h, &info, &why), ENODEV);
        ASSERT_STREQ(info.vendor, "KVMKVMKVM...");
        ASSERT_NOT_NULL(strstr(why, "Microsoft Hv"));
        h->hyperv = true;
        h->features = HV_MSR_HYPERCALL_AVAILABLE; /* no VP index MSR (§1.1) */
        ASSERT_ERROR(vsc_hv_detect(&fake_ops, h, &info, &why), ENODEV);
        ASSERT_NOT_NULL(strstr(why, "VP index"));
        free(h);
}

TEST(enable_programs_msrs) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->vp_index = 3;
        fake_bus_up(h, &bus, false);
        ASSERT_EQ(h->os_id, VSC_GUEST_OS_ID);
        ASSERT_EQ(h->hypercall, (uint64_t)(uintptr_t)bus.hypercall_page | 1);
        ASSERT_EQ(h->simp, (uint64_t)(uintptr_t)bus.simp | 1);
        ASSERT_EQ(h->siefp, (uint64_t)(uintptr_t)bus.siefp | 1);
        /* §1.8: vector 0xF3, unmasked, no auto-EOI with the deprecate-AEOI hint */
        ASSERT_EQ(h->sint2, 0xf3ull);
        ASSERT_FALSE(bus.auto_eoi);
        ASSERT_EQ(h->scontrol, 1ull);
        ASSERT_EQ(bus.vp_index, 3u);
        vsc_hv_disable(&bus);
        ASSERT_TRUE(h->sint2 & HV_SYNIC_SINT_MASKED);
        ASSERT_EQ(h->simp & 1, 0ull);
        ASSERT_EQ(h->scontrol, 0ull);
        ASSERT_EQ(h->hypercall & 1, 0ull);
        fake_bus_down(h, &bus);
}

TEST(enable_auto_eoi_without_hint) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->hints = 0;
        fake_bus_up(h, &bus, false);
        ASSERT_EQ(h->sint2, 0xf3ull | HV_SYNIC_SINT_AUTO_EOI);
        fake_bus_down(h, &bus);
}

TEST(connect_5_3_on_connection_4) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->msg_conn_id = 0x77;
        fake_bus_up(h, &bus, true);
        ASSERT_EQ(bus.version, VERSION_WIN10_V5_3);
        ASSERT_EQ(h->n_log, 1u);
        const struct vmbus_channel_initiate_contact *ic = (const void *)h->log[0].payload;
        ASSERT_EQ(h->log[0].conn_id, VMBUS_MESSAGE_CONNECTION_ID_4);
        ASSERT_EQ(h->log[0].len, 40u);
        ASSERT_EQ(ic->msg_sint, 2u);
        ASSERT_NE(ic->monitor_page1, 0ull);
        ASSERT_EQ(ic->monitor_page2, ic->monitor_page1 + 4096);
        /* afterwards: VERSION_RESPONSE.msg_conn_id */
        ASSERT_OK(vsc_request_offers(&bus));
        ASSERT_EQ(h->log[1].conn_id, 0x77u);
        fake_bus_down(h, &bus);
}

TEST(connect_falls_back_like_linux) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->refuse_conn4 = true; /* a host with connection id 1 only ends at 4.1 (§4.2) */
        h->accept_version = VERSION_WIN10_V4_1;
        h->msg_conn_id = 0x99;   /* ignored below 5.0 */
        fake_bus_up(h, &bus, true);
        ASSERT_EQ(bus.version, VERSION_WIN10_V4_1);
        ASSERT_EQ(bus.msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID);
        ASSERT_EQ(h->n_log, 1u);
        const struct vmbus_channel_initiate_contact *ic = (const void *)h->log[0].payload;
        ASSERT_EQ(h->log[0].conn_id, VMBUS_MESSAGE_CONNECTION_ID);
        ASSERT_EQ(ic->interrupt_page, (uint64_t)(uintptr_t)bus.int_page);
        fake_bus_down(h, &bus);
}

TEST(connect_tries_every_version_in_order) {
        static const uint32_t order[] = { 0x50003, 0x50002, 0x50001, 0x50000, 0x40001, 0x40000, 0x30000, 0x20004 };
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->accept_version = 0;
        fake_bus_up(h, &bus, false);
        ASSERT_ERROR(vsc_connect(&bus), EPROTONOSUPPORT);
        ASSERT_EQ(h->n_log, 8u);
        for (unsigned i = 0; i < 8; i++) {
                const struct vmbus_channel_initiate_contact *ic = (const void *)h->log[i].payload;
                ASSERT_EQ(ic->vmbus_version_requested, order[i]);
                ASSERT_EQ(h->log[i].conn_id, i < 4 ? 4u : 1u);
        }
        ASSERT_ERROR(vsc_unload(&bus), 0); /* nothing negotiated: nothing to send */
        ASSERT_EQ(h->n_log, 8u);
        fake_bus_down(h, &bus);
}

static bool short_version_response(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_VERSION_RESPONSE)
                *len = 12;
        return true;
}

TEST(version_response_too_short) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->mutate = short_version_response;
        fake_bus_up(h, &bus, false);
        ASSERT_ERROR(vsc_connect(&bus), EBADMSG);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "too short"));
        ASSERT_EQ(bus.version, 0u);
        fake_bus_down(h, &bus);
}

TEST(version_response_bad_conn_id) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->msg_conn_id = 0;
        fake_bus_up(h, &bus, false);
        ASSERT_ERROR(vsc_connect(&bus), EPROTO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "msg_conn_id"));
        fake_bus_down(h, &bus);
}

TEST(silent_host_times_out) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        h->silent = true;
        fake_bus_up(h, &bus, false);
        ASSERT_ERROR(vsc_connect(&bus), ETIMEDOUT);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "VERSION_RESPONSE"));
        ASSERT_LT(h->clock_reads, 1000ull); /* bounded by the 100-tick deadline */
        fake_bus_down(h, &bus);
}

static void flood(struct fake_host *h) {
        struct vmbus_channel_message_header m = { .msgtype = CHANNELMSG_UNLOAD_RESPONSE };
        fake_queue_raw(h, &m, sizeof m, HVMSG_VMBUS);
}

TEST(flooding_host_cannot_keep_us_waiting) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        fake_bus_up(h, &bus, true);
        h->silent = true;
        h->on_idle = flood;
        flood(h);
        ASSERT_ERROR(vsc_request_offers(&bus), ETIMEDOUT);
        ASSERT_GT(bus.stats.messages_dropped, 0ull);
        h->on_idle = NULL;
        fake_bus_down(h, &bus);
}

TEST(post_message_retries_busy_host) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        fake_bus_up(h, &bus, false);
        h->post_status[0] = HV_STATUS_INSUFFICIENT_BUFFERS;
        h->post_status[1] = HV_STATUS_INSUFFICIENT_MEMORY;
        h->n_post_status = 2;
        ASSERT_OK(vsc_connect(&bus));
        ASSERT_EQ(bus.stats.post_retries, 2ull);
        h->post_status[0] = HV_STATUS_ACCESS_DENIED;
        h->n_post_status = 1;
        ASSERT_ERROR(vsc_request_offers(&bus), EIO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "status 0x6"));
        for (unsigned i = 0; i < 16; i++)
                h->post_status[i] = HV_STATUS_INSUFFICIENT_BUFFERS;
        h->n_post_status = 16;
        bus.timeout_ns = 5 * FAKE_TICK_NS; /* gives up at the deadline, not after 100 tries */
        ASSERT_ERROR(vsc_request_offers(&bus), EAGAIN);
        h->n_post_status = 0;
        fake_bus_down(h, &bus);
}

TEST(offers_collected) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        uint8_t cls[16];
        fake_add_offer(h, 1, 0xaa, 1, 0);
        fake_add_offer(h, 2, 0xbb, 2, 0);
        fake_add_offer(h, 3, 0xbb, 2, 1); /* a sub-channel of relid 2 */
        fake_bus_up(h, &bus, true);
        ASSERT_EQ(vsc_request_offers(&bus), 3);
        ASSERT_TRUE(bus.all_offers_delivered);
        memset(cls, 0xbb, 16);
        const struct vsc_offer *o = vsc_find_offer(&bus, cls, 1);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(o->child_relid, 3u);
        ASSERT_EQ(o->connection_id, 0x2003u);
        /* msg_pending was set while the slot was busy: one EOM per queued message */
        ASSERT_GE(h->eoms, 3u);
        fake_bus_down(h, &bus);
}

static int offers_fail(struct fake_host *h, int expect_errno, const char *expect_text) {
        struct vsc_bus bus;
        fake_bus_up(h, &bus, true);
        int r = vsc_request_offers(&bus);
        ASSERT_ERROR(r, expect_errno);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), expect_text));
        fake_bus_down(h, &bus);
        return r;
}

TEST(offer_relid_zero) {
        struct fake_host *h = fake_host_new();
        fake_add_offer(h, 0, 0xaa, 1, 0);
        offers_fail(h, EPROTO, "child_relid 0");
}

TEST(offer_relid_too_large) {
        struct fake_host *h = fake_host_new();
        fake_add_offer(h, 2048, 0xaa, 1, 0);
        offers_fail(h, EPROTO, ">= 2048");
}

TEST(offer_relid_duplicate) {
        struct fake_host *h = fake_host_new();
        fake_add_offer(h, 5, 0xaa, 1, 0);
        fake_add_offer(h, 5, 0xbb, 2, 0);
        offers_fail(h, EPROTO, "duplicate offer for relid 5");
}

TEST(offer_same_device_twice) {
        struct fake_host *h = fake_host_new();
        fake_add_offer(h, 5, 0xaa, 1, 0);
        fake_add_offer(h, 6, 0xaa, 1, 0);
        offers_fail(h, EPROTO, "repeats the offer of relid 5");
}

static bool truncate_offers(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_OFFERCHANNEL)
                *len = 195;
        return true;
}

TEST(offer_truncated) {
        struct fake_host *h = fake_host_new();
        fake_add_offer(h, 5, 0xaa, 1, 0);
        h->mutate = truncate_offers;
        offers_fail(h, EBADMSG, "too short");
}

static bool retype_offers(struct fake_host *h, uint8_t *msg, uint32_t *len) {
        if (msg[0] == CHANNELMSG_OFFERCHANNEL)
                msg[0] = 25; /* CHANNELMSG_COUNT: unknown */
        return true;
}

TEST(unknown_message_type) {
        struct fake_host *h = fake_host_new();
        fake_add_offer(h, 5, 0xaa, 1, 0);
        h->mutate = retype_offers;
        offers_fail(h, EBADMSG, "unknown message type");
}

TEST(guest_to_host_type_from_host) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vmbus_channel_message_header m = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        fake_bus_up(h, &bus, true);
        h->silent = true;
        fake_queue_raw(h, &m, sizeof m, HVMSG_VMBUS);
        ASSERT_ERROR(vsc_request_offers(&bus), EBADMSG);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "not a host-to-guest"));
        fake_bus_down(h, &bus);
}

TEST(slot_payload_size_too_large) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vmbus_channel_message_header m = { .msgtype = CHANNELMSG_ALLOFFERS_DELIVERED };
        uint8_t big[256] = { CHANNELMSG_ALLOFFERS_DELIVERED };
        fake_bus_up(h, &bus, true);
        h->silent = true;
        fake_queue_raw(h, big, 241, HVMSG_VMBUS);
        ASSERT_ERROR(vsc_request_offers(&bus), EBADMSG);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&bus), "payload_size 241"));
        /* the slot was freed anyway: the next message gets through */
        fake_queue_raw(h, &m, sizeof m, HVMSG_VMBUS);
        ASSERT_EQ(vsc_request_offers(&bus), 0);
        fake_bus_down(h, &bus);
}

TEST(non_vmbus_slot_message_dropped) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        struct vmbus_channel_message_header m = { .msgtype = CHANNELMSG_ALLOFFERS_DELIVERED };
        fake_bus_up(h, &bus, true);
        h->silent = true;
        fake_queue_raw(h, &m, sizeof m, HVMSG_TIMER_EXPIRED);
        fake_queue_raw(h, &m, sizeof m, HVMSG_VMBUS);
        ASSERT_EQ(vsc_request_offers(&bus), 0);
        ASSERT_EQ(bus.stats.messages_dropped, 1ull);
        fake_bus_down(h, &bus);
}

TEST(rescind_marks_offer) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        uint8_t cls[16];
        fake_add_offer(h, 7, 0xaa, 1, 0);
        fake_bus_up(h, &bus, true);
        ASSERT_EQ(vsc_request_offers(&bus), 1);
        struct vmbus_channel_relid_message r = { .header.msgtype = CHANNELMSG_RESCIND_CHANNELOFFER, .child_relid = 7 };
        struct vsc_msg m;
        fake_queue_raw(h, &r, sizeof r, HVMSG_VMBUS);
        ASSERT_EQ(vsc_poll_message(&bus, &m), 1);
        memset(cls, 0xaa, 16);
        ASSERT_NULL(vsc_find_offer(&bus, cls, 0));
        r.child_relid = 8; /* unknown relid */
        fake_queue_raw(h, &r, sizeof r, HVMSG_VMBUS);
        ASSERT_ERROR(vsc_poll_message(&bus, &m), EPROTO);
        /* released: RELID_RELEASED goes out and relid 7 may be offered again */
        ASSERT_ERROR(vsc_offer_release(&bus, 8), ENOENT);
        ASSERT_OK(vsc_offer_release(&bus, 7));
        ASSERT_EQ(h->log[h->n_log - 1].type, (uint32_t)CHANNELMSG_RELID_RELEASED);
        ASSERT_EQ(bus.n_offers, 0u);
        fake_add_offer(h, 7, 0xaa, 1, 0);
        fake_queue_raw(h, &h->offers[h->n_offers - 1], sizeof h->offers[0], HVMSG_VMBUS);
        ASSERT_EQ(vsc_poll_message(&bus, &m), 1);
        ASSERT_NOT_NULL(vsc_find_offer(&bus, cls, 0));
        fake_bus_down(h, &bus);
}

TEST(unload_waits_for_response) {
        struct fake_host *h = fake_host_new();
        struct vsc_bus bus;
        fake_bus_up(h, &bus, true);
        ASSERT_OK(vsc_unload(&bus));
        ASSERT_EQ(h->log[h->n_log - 1].type, (uint32_t)CHANNELMSG_UNLOAD);
        ASSERT_EQ(bus.version, 0u);
        fake_bus_down(h, &bus);
}

TEST_MAIN();
