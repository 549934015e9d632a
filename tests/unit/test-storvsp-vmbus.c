// SPDX-License-Identifier: MIT
/* storvsp as a VMBus provider, driven through real rings by the simulated
 * guest of vmbustest/sim.h doing what Linux storvsc does (fact sheet §6): the
 * handshake, discovery, zero-copy I/O through GPA-direct packets, a batch
 * served from one doorbell and answered with one guest signal, sub-channels
 * on request, hot add with ENUMERATE_BUS, two controllers in one VM,
 * closing and removing devices. */
#include "tests/unit/test-storvsp-harness.h"

#define WAIT_MS STH_WAIT_MS

static const char *dir;

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct storvsp_device *sd[2];
        struct vmbus_device *dev[2];
        struct vmbus_channel_offer_channel offer[8];
};

static struct disk *make_disk(const char *name) {
        return sth_disk(dir, name, 8 << 20);
}

static void fx_setup(struct fx *f) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(32u << 20, 4, &f->sim));
        struct vmbus_server_config cfg = { .vp_count = 4 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv));
        for (unsigned i = 0; i < 2; i++) {
                struct storvsp_device_config dc = {
                        .controller = { .max_sub_channels = 2, .queue_depth = 32 },
                        .gm = { sth_map, f->sim },
                        .ram = { { vmbus_sim_ram(f->sim), vmbus_sim_ram_size(f->sim) } },
                        .n_ram = 1,
                };
                ASSERT_OK(storvsp_device_new(&dc, &f->sd[i]));
                char name[32];
                snprintf(name, sizeof name, "ctl%u-lun0.img", i);
                struct disk *d = make_disk(name);
                ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(f->sd[i]), 0, d, NULL));
                disk_unref(d);
                struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = f->sd[i] };
                vc.instance_id.b[0] = (uint8_t)(0x10 + i);
                ASSERT_OK(vmbus_server_add_device(f->srv, &vc, &f->dev[i]));
        }
        ASSERT_EQ(vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(f->sim, f->offer, ARRAY_SIZE(f->offer)), 2);
}

static void fx_free(struct fx *f) {
        vmbus_server_free(f->srv); /* closes channels, destroys the devices */
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        vmbus_sim_free(f->sim);
}

static const uint8_t cdb_inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };

TEST(handshake_discovery_and_io) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        sth_open(f.sim, &f.offer[0], &ch);
        sth_handshake(f.sim, &ch);
        uint8_t *buf;
        uint64_t gpa = sth_guest_buffer(f.sim, 32, &buf);
        sth_srb_send(f.sim, &ch, 1, cdb_inquiry, 6, READ_TYPE, gpa, 36, true);
        sth_srb_wait(f.sim, &ch, 1, SRB_STATUS_SUCCESS);
        ASSERT_MEMEQ(buf + 8, "Msft    Virtual Disk", 20);
        /* 64 KiB written from guest pages starting mid-page, read back */
        for (unsigned i = 0; i < 65536; i++)
                buf[512 + i] = (uint8_t)(i * 13 + 1);
        const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 64, 0, 0, 128, 0 };
        sth_srb_send(f.sim, &ch, 2, w10, 10, WRITE_TYPE, gpa + 512, 65536, true);
        sth_srb_wait(f.sim, &ch, 2, SRB_STATUS_SUCCESS);
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 64, 0, 0, 128, 0 };
        sth_srb_send(f.sim, &ch, 3, r10, 10, READ_TYPE, gpa + 65536 + 4096, 65536, true);
        sth_srb_wait(f.sim, &ch, 3, SRB_STATUS_SUCCESS);
        ASSERT_MEMEQ(buf + 65536 + 4096, buf + 512, 65536);
        const uint8_t tur[6] = { 0 };
        sth_srb_send(f.sim, &ch, 4, tur, 6, UNKNOWN_TYPE, 0, 0, true);
        sth_srb_wait(f.sim, &ch, 4, SRB_STATUS_SUCCESS);
        sth_srb_send(f.sim, &ch, 5, tur, 6, UNKNOWN_TYPE, 0, 0, true);
        sth_srb_wait(f.sim, &ch, 5, SRB_STATUS_SUCCESS);
        /* hot add: ENUMERATE_BUS arrives unasked (§6.6), then the LUN answers */
        struct disk *d = make_disk("hot.img");
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(f.sd[0]), 3, d, NULL));
        disk_unref(d);
        struct vmbus_packet p;
        struct vstor_packet v;
        sth_wait_packet(f.sim, &ch, &p, &v);
        ASSERT_EQ(p.type, VM_PKT_DATA_INBAND);
        ASSERT_EQ(p.trans_id, 0ull);
        ASSERT_EQ(p.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 0);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_ENUMERATE_BUS);
        ASSERT_OK(vmbus_sim_close(f.sim, &ch));
        fx_free(&f);
}

/* A batch of 16 reads behind one doorbell: all served from that doorbell
 * (the thread drains the ring, masked, and polls while I/O is in flight),
 * handed to io_uring in submits of at most 8 (the device starts on the
 * first ones while the rest are parsed), and, the guest not reading
 * meanwhile, answered with one interrupt. */
TEST(batch_one_doorbell_one_signal) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        sth_open(f.sim, &f.offer[0], &ch);
        sth_handshake(f.sim, &ch);
        uint8_t *buf;
        uint64_t gpa = sth_guest_buffer(f.sim, 16, &buf);
        uint64_t doorbells = vmbus_sim_doorbell_count(f.sim), events = vmbus_sim_event_count(f.sim);
        struct storvsp_device_stats st0, st;
        /* the thread polls briefly after the handshake; wait until it sleeps */
        storvsp_device_get_stats(f.sd[0], &st0);
        for (int t = 0; t < WAIT_MS && st0.polls == 0; t++) {
                usleep(1000);
                storvsp_device_get_stats(f.sd[0], &st0);
        }
        usleep(20 * 1000);
        storvsp_device_get_stats(f.sd[0], &st0);
        for (unsigned i = 0; i < 16; i++) {
                const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, (uint8_t)(8 * i), 0, 0, 8, 0 };
                sth_srb_send(f.sim, &ch, 100 + i, r10, 10, READ_TYPE, gpa + 4096ull * i, 4096, false);
        }
        ASSERT_OK(vmbus_sim_signal(f.sim, ch.connection_id)); /* one HvSignalEvent for the lot */
        /* let the host answer everything before the guest reads anything */
        for (int t = 0; t < WAIT_MS; t++) {
                storvsp_device_get_stats(f.sd[0], &st);
                if (st.replies - st0.replies >= 16) /* counted as the batch is built */
                        break;
                usleep(1000);
        }
        usleep(50 * 1000); /* and published (send_end) */
        bool seen[16] = { false };
        for (unsigned i = 0; i < 16; i++) {
                struct vmbus_packet p;
                struct vstor_packet v;
                sth_wait_packet(f.sim, &ch, &p, &v);
                ASSERT_EQ(v.vm_srb.srb_status, SRB_STATUS_SUCCESS);
                ASSERT_GE(p.trans_id, 100ull);
                ASSERT_LT(p.trans_id, 116ull);
                ASSERT_FALSE(seen[p.trans_id - 100]);
                seen[p.trans_id - 100] = true;
        }
        ASSERT_EQ(vmbus_sim_doorbell_count(f.sim) - doorbells, 1ull);
        ASSERT_EQ(vmbus_sim_event_count(f.sim) - events, 1ull);
        storvsp_device_get_stats(f.sd[0], &st);
        ASSERT_EQ(st.submitted - st0.submitted, 16ull);
        ASSERT_EQ(st.submits - st0.submits, 2ull); /* one drain, two submits of 8 */
        ASSERT_OK(vmbus_sim_close(f.sim, &ch));
        fx_free(&f);
}

TEST(sub_channels_on_request) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch, sub;
        sth_open(f.sim, &f.offer[0], &ch);
        sth_handshake(f.sim, &ch);
        ASSERT_EQ(sth_control(f.sim, &ch, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 2), 0u);
        struct vmbus_channel_offer_channel o[2];
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &o[i], sizeof o[i]), (int)sizeof o[i]);
                ASSERT_EQ(o[i].sub_channel_index, i + 1);
                ASSERT_MEMEQ(o[i].if_instance, f.offer[0].if_instance, 16); /* same instance (§6.7) */
        }
        ASSERT_EQ(vmbus_device_channel_count(f.dev[0]), 3u);
        sth_open(f.sim, &o[1], &sub);
        /* no handshake on sub-channels; SRBs complete where they came in */
        uint8_t *buf;
        uint64_t gpa = sth_guest_buffer(f.sim, 1, &buf);
        sth_srb_send(f.sim, &sub, 7, cdb_inquiry, 6, READ_TYPE, gpa, 36, true);
        sth_srb_wait(f.sim, &sub, 7, SRB_STATUS_SUCCESS);
        ASSERT_EQ(buf[0], 0x00);
        ASSERT_OK(vmbus_sim_close(f.sim, &sub));
        ASSERT_OK(vmbus_sim_close(f.sim, &ch));
        fx_free(&f);
}

TEST(two_controllers_and_remove) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel a, b;
        sth_open(f.sim, &f.offer[0], &a);
        sth_open(f.sim, &f.offer[1], &b);
        sth_handshake(f.sim, &a);
        sth_handshake(f.sim, &b);
        uint8_t *buf;
        uint64_t gpa = sth_guest_buffer(f.sim, 4, &buf);
        memset(buf, 0xaa, 4096);
        memset(buf + 4096, 0xbb, 4096);
        const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        sth_srb_send(f.sim, &a, 1, w10, 10, WRITE_TYPE, gpa, 4096, true);
        sth_srb_send(f.sim, &b, 1, w10, 10, WRITE_TYPE, gpa + 4096, 4096, true);
        sth_srb_wait(f.sim, &a, 1, SRB_STATUS_SUCCESS);
        sth_srb_wait(f.sim, &b, 1, SRB_STATUS_SUCCESS);
        sth_srb_send(f.sim, &a, 2, r10, 10, READ_TYPE, gpa + 8192, 4096, true);
        sth_srb_send(f.sim, &b, 2, r10, 10, READ_TYPE, gpa + 12288, 4096, true);
        sth_srb_wait(f.sim, &a, 2, SRB_STATUS_SUCCESS);
        sth_srb_wait(f.sim, &b, 2, SRB_STATUS_SUCCESS);
        for (unsigned i = 0; i < 4096; i++) { /* each controller its own disk */
                ASSERT_EQ(buf[8192 + i], 0xaa);
                ASSERT_EQ(buf[12288 + i], 0xbb);
        }
        /* hot remove of the second controller while its channel is open */
        ASSERT_OK(vmbus_server_remove_device(f.srv, f.dev[1]));
        struct vmbus_channel_relid_message rescind;
        ASSERT_GT(vmbus_sim_expect(f.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &rescind, sizeof rescind), 0);
        ASSERT_EQ(rescind.child_relid, f.offer[1].child_relid);
        sth_srb_send(f.sim, &a, 3, r10, 10, READ_TYPE, gpa + 8192, 4096, true); /* the other one carries on */
        sth_srb_wait(f.sim, &a, 3, SRB_STATUS_SUCCESS);
        ASSERT_OK(vmbus_sim_close(f.sim, &a));
        fx_free(&f);
}

int main(int argc, char **argv) {
        dir = sth_make_dir("test-storvsp-vmbus");
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
