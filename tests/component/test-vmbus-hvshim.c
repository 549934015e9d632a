// SPDX-License-Identifier: MIT
/* The VMBus server in production wiring — vmbus_host_hv_ops over hvshim and
 * vid — against a tiny guest on /dev/kvm (tests/guests/test-vmbus-guest.S)
 * that speaks to it the way hv_vmbus does: HvPostMessage through the real
 * hypercall page, replies taken from SIMP slot 2 with EOM, the channel
 * doorbell as a fast HvSignalEvent (an ioeventfd: no exit to user space),
 * and the echo provider's answers signalled back as SIEF bit + SINT 2
 * interrupt. The guest's ring stores are done by the host test through the
 * simulated guest's ring code over the partition's RAM: the rings only
 * need to be in guest memory, not written by guest instructions. */
#include "common/macro.h"
#include "hv/tlfs.h"
#include "tests/component/test-hvshim-harness.h"
#include "tests/guests/test-vmbus-guest.h"
#include "vmbus/server.h"
#include "vmbustest/echo.h"
#include "vmbustest/sim.h"

TINY_GUEST(test_vmbus_guest);

#define VT_ALLOC_START 0x400u /* PFN: pages for rings start at 4 MiB, above the guest */

struct vt {
        struct hg h;
        struct vmbus_host_hv *host;
        struct vmbus_server *srv;
        struct vmbus_sim *ram; /* guest-side ring code over the partition's RAM */
        struct vmbus_echo echo;
};

static void vt_setup(struct vt *t) {
        memset(t, 0, sizeof *t);
        hg_init_image(&t->h, tg_test_vmbus_guest, tg_test_vmbus_guest_len, 1, 0, NULL);
        ASSERT_OK(vmbus_host_hv_new(t->h.hv, t->h.p, &t->host));
        struct vmbus_server_config cfg = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_host_hv_ops, t->host, &t->srv));
        ASSERT_OK(vmbus_echo_init(&t->echo, 0));
        ASSERT_OK(vmbus_server_add_device(t->srv, &(struct vmbus_device_config){ .ops = &vmbus_echo_ops,
                                                                                 .data = &t->echo },
                                          NULL));
        size_t ram = vid_ram_size(t->h.p);
        void *base;
        int fd;
        uint64_t off;
        ASSERT_OK(gm_map(t->h.p, 0, ram, &base));
        ASSERT_OK(gm_fd_offset(t->h.p, 0, ram, &fd, &off));
        ASSERT_OK(vmbus_sim_new_external(fd, base, ram, 1, &t->ram));
        vmbus_sim_set_alloc_start(t->ram, VT_ALLOC_START);
        hg_start(&t->h);
        ASSERT_TRUE(hg_wait_mark(&t->h, HG_MARK_READY, 1, HG_TIMEOUT_MS, NULL));
}

/* The server goes while the VPs are stopped and hvshim still exists. */
static void vt_free(struct vt *t) {
        vid_partition_request_stop(t->h.p, HG_DONE_STATUS, "test done");
        vid_partition_join(t->h.p);
        vmbus_server_free(t->srv);
        vmbus_echo_fini(&t->echo);
        vmbus_host_hv_free(t->host);
        vmbus_sim_free(t->ram);
        ASSERT_EQ(hg_finish(&t->h, 0), HG_DONE_STATUS);
}

static uint64_t guest_op(struct vt *t, uint32_t op, uint32_t arg, uint32_t arg2) {
        hg_mailbox(&t->h, HG_MB_ARG, arg);
        hg_mailbox(&t->h, HG_MB_ARG2, arg2);
        hg_step(&t->h, op);
        return hg_result(&t->h, VG_R_STATUS);
}

/* The guest posts msg on a connection id; returns the hypercall status. */
static uint64_t guest_post(struct vt *t, uint32_t conn, const void *msg, size_t len) {
        uint8_t buf[240] = { 0 };
        memcpy(buf, msg, len);
        ASSERT_OK(gm_write(t->h.p, VG_MSG_OUT, buf, sizeof buf));
        return guest_op(t, VG_OP_POST, conn, (uint32_t)len);
}

/* The next message from slot 2: its payload into buf, returns its msgtype. */
static uint32_t guest_recv(struct vt *t, void *buf, size_t len) {
        guest_op(t, VG_OP_RECV, 0, 0);
        struct hv_message m;
        ASSERT_OK(gm_read(t->h.p, VG_MSG_IN, &m, sizeof m));
        ASSERT_EQ(m.header.message_type, VMBUS_HV_MESSAGE_TYPE);
        ASSERT_GE(m.header.payload_size, (uint8_t)len);
        memcpy(buf, m.payload, len);
        uint32_t type;
        memcpy(&type, m.payload, sizeof type);
        return type;
}

TEST(vmbus_over_hvshim_end_to_end) {
        struct vt t;
        vt_setup(&t);
        /* 6.0 is refused, 5.3 accepted on connection id 4 (§4.2). */
        struct vmbus_channel_initiate_contact ic = { .header.msgtype = CHANNELMSG_INITIATE_CONTACT,
                                                     .vmbus_version_requested = VERSION_WIN_COPPER,
                                                     .msg_sint = VMBUS_MESSAGE_SINT };
        struct vmbus_channel_version_response vr;
        ASSERT_EQ(guest_post(&t, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof ic), (uint64_t)HV_STATUS_SUCCESS);
        ASSERT_EQ(guest_recv(&t, &vr, sizeof vr), (uint32_t)CHANNELMSG_VERSION_RESPONSE);
        ASSERT_EQ(vr.version_supported, 0);
        ic.vmbus_version_requested = VERSION_WIN10_V5_3;
        ASSERT_EQ(guest_post(&t, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof ic), (uint64_t)HV_STATUS_SUCCESS);
        ASSERT_EQ(guest_recv(&t, &vr, sizeof vr), (uint32_t)CHANNELMSG_VERSION_RESPONSE);
        ASSERT_EQ(vr.version_supported, 1);
        ASSERT_EQ(vr.msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID);
        /* Nobody listens on connection id 2 (hvshim answers, §4.2). */
        ASSERT_EQ(guest_post(&t, 2, &ic, sizeof ic), (uint64_t)HV_STATUS_INVALID_CONNECTION_ID);

        /* Offers: the echo device, then ALLOFFERS_DELIVERED. */
        struct vmbus_channel_message_header ro = { .msgtype = CHANNELMSG_REQUESTOFFERS };
        ASSERT_EQ(guest_post(&t, 1, &ro, sizeof ro), (uint64_t)HV_STATUS_SUCCESS);
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(guest_recv(&t, &o, sizeof o), (uint32_t)CHANNELMSG_OFFERCHANNEL);
        static const struct guid echo = VMBUS_ECHO_CLASS_ID;
        ASSERT_MEMEQ(o.if_type, echo.b, 16);
        ASSERT_EQ(o.child_relid, 1u);
        ASSERT_EQ(o.monitor_allocated, 0);
        struct vmbus_channel_message_header done;
        ASSERT_EQ(guest_recv(&t, &done, sizeof done), (uint32_t)CHANNELMSG_ALLOFFERS_DELIVERED);

        /* Ring GPADL (2 x 4 pages, one GPADL_HEADER) and OPENCHANNEL. */
        struct vmbus_sim_channel ch;
        ASSERT_OK(vmbus_sim_channel_alloc(t.ram, 4, &ch));
        ch.relid = o.child_relid;
        ch.connection_id = o.connection_id;
        uint8_t m[240];
        struct vmbus_channel_gpadl_header gh = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = 1,
                                                 .gpadl = 0xe1e10, .range_buflen = 8 + 8 * 8, .rangecount = 1 };
        struct vmbus_gpa_range range = { .byte_count = 8 * 4096 };
        memcpy(m, &gh, sizeof gh);
        memcpy(m + 20, &range, sizeof range);
        memcpy(m + 28, ch.out.pfns, 4 * 8);
        memcpy(m + 60, ch.in.pfns, 4 * 8);
        ASSERT_EQ(guest_post(&t, 1, m, 92), (uint64_t)HV_STATUS_SUCCESS);
        struct vmbus_channel_gpadl_created gc;
        ASSERT_EQ(guest_recv(&t, &gc, sizeof gc), (uint32_t)CHANNELMSG_GPADL_CREATED);
        ASSERT_EQ(gc.creation_status, 0u);
        struct vmbus_channel_open_channel op = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = 1,
                                                 .openid = 1, .ringbuffer_gpadlhandle = 0xe1e10,
                                                 .downstream_ringbuffer_pageoffset = 4 };
        ASSERT_EQ(guest_post(&t, 1, &op, sizeof op), (uint64_t)HV_STATUS_SUCCESS);
        struct vmbus_channel_open_result res;
        ASSERT_EQ(guest_recv(&t, &res, sizeof res), (uint32_t)CHANNELMSG_OPENCHANNEL_RESULT);
        ASSERT_EQ(res.status, 0u);

        /* Data: packet into the ring, doorbell from the guest, echo back with
         * an event on relid 1 and a SINT 2 interrupt. */
        for (uint64_t i = 1; i <= 3; i++) {
                char text[32];
                int n = snprintf(text, sizeof text, "over hvshim %llu", (unsigned long long)i);
                unsigned irqs = hg_count(&t.h, HG_MARK_IRQ);
                uint8_t pkt[64] = { 0 };
                struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2,
                                                 .len8 = (uint16_t)((16 + n + 7) / 8),
                                                 .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = i };
                memcpy(pkt, &d, sizeof d);
                memcpy(pkt + 16, text, (size_t)n);
                ASSERT_OK(vmbus_sim_ring_write_raw(t.ram, &ch, pkt, d.len8 * 8u, false));
                /* Registered before OPENCHANNEL_RESULT: the stub's fast
                 * path completes inside KVM. */
                ASSERT_EQ(guest_op(&t, VG_OP_SIGNAL, o.connection_id, 0), (uint64_t)HV_STATUS_SUCCESS);
                uint8_t in[128];
                struct vmbus_packet p;
                ASSERT_GT(vmbus_sim_ring_wait(t.ram, &ch, in, sizeof in, &p, HG_TIMEOUT_MS), 0);
                ASSERT_EQ(p.type, VM_PKT_COMP);
                ASSERT_EQ(p.trans_id, i);
                ASSERT_MEMEQ(vmbus_packet_payload(&p), text, (size_t)n);
                ASSERT_TRUE(hg_wait_mark(&t.h, HG_MARK_IRQ, irqs + 1, HG_TIMEOUT_MS, NULL));
                ASSERT_EQ(guest_op(&t, VG_OP_SCAN, o.child_relid, 0), 1u);
        }
        ASSERT_EQ(__atomic_load_n(&t.echo.stats.packets, __ATOMIC_RELAXED), 3u);
        /* An unregistered doorbell is refused by the stub's slow path. */
        ASSERT_EQ(guest_op(&t, VG_OP_SIGNAL, o.connection_id + 1, 0), (uint64_t)HV_STATUS_INVALID_CONNECTION_ID);

        /* UNLOAD closes the channel and answers. */
        struct vmbus_channel_message_header ul = { .msgtype = CHANNELMSG_UNLOAD };
        ASSERT_EQ(guest_post(&t, 1, &ul, sizeof ul), (uint64_t)HV_STATUS_SUCCESS);
        ASSERT_EQ(guest_recv(&t, &done, sizeof done), (uint32_t)CHANNELMSG_UNLOAD_RESPONSE);
        ASSERT_EQ(vmbus_server_version(t.srv), 0u);
        /* The doorbell went with the channel. */
        ASSERT_EQ(guest_op(&t, VG_OP_SIGNAL, o.connection_id, 0), (uint64_t)HV_STATUS_INVALID_CONNECTION_ID);
        struct hvshim_stats hs;
        hvshim_get_stats(t.h.hv, &hs);
        ASSERT_GE(hs.events_signaled, 3u);
        vt_free(&t);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
