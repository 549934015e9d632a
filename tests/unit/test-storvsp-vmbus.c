// SPDX-License-Identifier: MIT
/* storvsp as a VMBus provider, driven through real rings by the simulated
 * guest of vmbus/sim.h doing what Linux storvsc does (fact sheet §6): the
 * handshake, discovery, zero-copy I/O through GPA-direct packets, a batch
 * served from one doorbell and answered with one guest signal, sub-channels
 * on request, hot add with ENUMERATE_BUS, two controllers in one VM,
 * closing and removing devices. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/storvsc.h"
#include "hv/vmbus.h"
#include "storvsp/provider.h"
#include "vmbus/server.h"
#include "vmbus/sim.h"

#define WAIT_MS 5000
#define RING_PAGES 32 /* 128 KiB per ring, like storvsc (§6.1) */

static char dir[256];

struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct storvsp_device *sd[2];
        struct vmbus_device *dev[2];
        struct vmbus_channel_offer_channel offer[8];
};

static int sim_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmbus_sim *s = opaque;
        if (gpa >= vmbus_sim_ram_size(s) || len > vmbus_sim_ram_size(s) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(s) + gpa;
        return 0;
}

static struct disk *make_disk(const char *name) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, 8 << 20), 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512 };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        return d;
}

static void fx_setup(struct fx *f) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(32u << 20, 4, &f->sim));
        struct vmbus_server_config cfg = { .vp_count = 4 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv));
        for (unsigned i = 0; i < 2; i++) {
                struct storvsp_device_config dc = {
                        .controller = { .max_sub_channels = 2, .queue_depth = 32 },
                        .gm = { sim_map, f->sim },
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

static void open_channel(struct fx *f, const struct vmbus_channel_offer_channel *o, struct vmbus_sim_channel *ch) {
        static const uint8_t props[24]; /* storvsc's OPENCHANNEL userdata (§6.1) */
        ASSERT_EQ(vmbus_sim_open(f->sim, o->child_relid, o->connection_id, RING_PAGES, props, sizeof props, ch), 0);
}

/* Waits for one packet from the host; checks the §5.4 size limit. */
static void wait_packet(struct fx *f, struct vmbus_sim_channel *ch, struct vmbus_packet *p, struct vstor_packet *v) {
        static uint8_t buf[256];
        ASSERT_GT(vmbus_sim_ring_wait(f->sim, ch, buf, sizeof buf, p, WAIT_MS), 0);
        ASSERT_LE(p->len, STORVSC_MAX_PKT_SIZE);
        ASSERT_EQ(vmbus_packet_payload_len(p), (uint32_t)sizeof *v);
        memcpy(v, vmbus_packet_payload(p), sizeof *v);
}

static uint32_t control(struct fx *f, struct vmbus_sim_channel *ch, uint32_t op, uint16_t arg) {
        struct vstor_packet v = { .operation = op, .flags = REQUEST_COMPLETION_FLAG };
        if (op == VSTOR_OPERATION_QUERY_PROTOCOL_VERSION)
                v.version.major_minor = arg;
        if (op == VSTOR_OPERATION_CREATE_SUB_CHANNELS)
                v.sub_channel_count = arg;
        ASSERT_OK(vmbus_sim_ring_write(f->sim, ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       VMBUS_RQST_INIT, &v, sizeof v));
        struct vmbus_packet p;
        wait_packet(f, ch, &p, &v);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.trans_id, VMBUS_RQST_INIT);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_COMPLETE_IO);
        return v.status;
}

static void handshake(struct fx *f, struct vmbus_sim_channel *ch) {
        ASSERT_EQ(control(f, ch, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0), 0u);
        ASSERT_EQ(control(f, ch, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, VMSTOR_PROTO_VERSION_WIN10), 0u);
        ASSERT_EQ(control(f, ch, VSTOR_OPERATION_QUERY_PROPERTIES, 0), 0u);
        ASSERT_EQ(control(f, ch, VSTOR_OPERATION_END_INITIALIZATION, 0), 0u);
}

/* Writes an EXECUTE_SRB the way vmbus_sendpacket_mpb_desc does (GPA-direct,
 * one range) or inband without data; signal = ring the doorbell. */
static void srb_send(struct fx *f, struct vmbus_sim_channel *ch, uint64_t id, const uint8_t *cdb, uint8_t cdb_len,
                     uint8_t data_in, uint64_t gpa, uint32_t len, bool signal) {
        struct vstor_packet v = { .operation = VSTOR_OPERATION_EXECUTE_SRB, .flags = REQUEST_COMPLETION_FLAG };
        v.vm_srb.length = sizeof v.vm_srb;
        v.vm_srb.cdb_length = cdb_len;
        v.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
        v.vm_srb.data_in = data_in;
        v.vm_srb.data_transfer_length = len;
        memcpy(v.vm_srb.cdb, cdb, cdb_len);
        uint8_t pkt[1024];
        uint32_t off = (uint32_t)(gpa & 4095), n = len ? (off + len + 4095) / 4096 : 0;
        size_t hdr = len ? 32 + 8 * (size_t)n : 16;
        struct vmpacket_descriptor d = { .type = len ? VM_PKT_DATA_USING_GPA_DIRECT : VM_PKT_DATA_INBAND,
                                         .offset8 = (uint16_t)(hdr / 8), .len8 = (uint16_t)((hdr + 64) / 8),
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = id };
        memset(pkt, 0, hdr);
        memcpy(pkt, &d, sizeof d);
        if (len) {
                uint32_t range[3] = { 1, len, off }; /* range_cnt, byte_count, byte_offset */
                memcpy(pkt + 20, range, sizeof range);
                for (uint32_t i = 0; i < n; i++) {
                        uint64_t pfn = (gpa >> 12) + i;
                        memcpy(pkt + 32 + 8 * i, &pfn, 8);
                }
        }
        memcpy(pkt + hdr, &v, sizeof v);
        ASSERT_OK(vmbus_sim_ring_write_raw(f->sim, ch, pkt, hdr + 64, signal));
}

static void srb_wait(struct fx *f, struct vmbus_sim_channel *ch, uint64_t id, uint8_t srb_status) {
        struct vmbus_packet p;
        struct vstor_packet v;
        wait_packet(f, ch, &p, &v);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.trans_id, id);
        ASSERT_EQ(v.vm_srb.srb_status, srb_status);
}

static uint64_t guest_buffer(struct fx *f, size_t pages, uint8_t **host) {
        uint64_t pfn = vmbus_sim_alloc_pages(f->sim, pages);
        ASSERT_NE(pfn, 0ull);
        *host = vmbus_sim_ram(f->sim) + pfn * 4096;
        return pfn * 4096;
}

static const uint8_t cdb_inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };

TEST(handshake_discovery_and_io) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        open_channel(&f, &f.offer[0], &ch);
        handshake(&f, &ch);
        uint8_t *buf;
        uint64_t gpa = guest_buffer(&f, 32, &buf);
        srb_send(&f, &ch, 1, cdb_inquiry, 6, READ_TYPE, gpa, 36, true);
        srb_wait(&f, &ch, 1, SRB_STATUS_SUCCESS);
        ASSERT_MEMEQ(buf + 8, "Msft    Virtual Disk", 20);
        /* 64 KiB written from guest pages starting mid-page, read back */
        for (unsigned i = 0; i < 65536; i++)
                buf[512 + i] = (uint8_t)(i * 13 + 1);
        const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 64, 0, 0, 128, 0 };
        srb_send(&f, &ch, 2, w10, 10, WRITE_TYPE, gpa + 512, 65536, true);
        srb_wait(&f, &ch, 2, SRB_STATUS_SUCCESS);
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 64, 0, 0, 128, 0 };
        srb_send(&f, &ch, 3, r10, 10, READ_TYPE, gpa + 65536 + 4096, 65536, true);
        srb_wait(&f, &ch, 3, SRB_STATUS_SUCCESS);
        ASSERT_MEMEQ(buf + 65536 + 4096, buf + 512, 65536);
        const uint8_t tur[6] = { 0 };
        srb_send(&f, &ch, 4, tur, 6, UNKNOWN_TYPE, 0, 0, true);
        srb_wait(&f, &ch, 4, SRB_STATUS_SUCCESS);
        srb_send(&f, &ch, 5, tur, 6, UNKNOWN_TYPE, 0, 0, true);
        srb_wait(&f, &ch, 5, SRB_STATUS_SUCCESS);
        /* hot add: ENUMERATE_BUS arrives unasked (§6.6), then the LUN answers */
        struct disk *d = make_disk("hot.img");
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(f.sd[0]), 3, d, NULL));
        disk_unref(d);
        struct vmbus_packet p;
        struct vstor_packet v;
        wait_packet(&f, &ch, &p, &v);
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
        open_channel(&f, &f.offer[0], &ch);
        handshake(&f, &ch);
        uint8_t *buf;
        uint64_t gpa = guest_buffer(&f, 16, &buf);
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
                srb_send(&f, &ch, 100 + i, r10, 10, READ_TYPE, gpa + 4096ull * i, 4096, false);
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
                wait_packet(&f, &ch, &p, &v);
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
        open_channel(&f, &f.offer[0], &ch);
        handshake(&f, &ch);
        ASSERT_EQ(control(&f, &ch, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 2), 0u);
        struct vmbus_channel_offer_channel o[2];
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &o[i], sizeof o[i]), (int)sizeof o[i]);
                ASSERT_EQ(o[i].sub_channel_index, i + 1);
                ASSERT_MEMEQ(o[i].if_instance, f.offer[0].if_instance, 16); /* same instance (§6.7) */
        }
        ASSERT_EQ(vmbus_device_channel_count(f.dev[0]), 3u);
        open_channel(&f, &o[1], &sub);
        /* no handshake on sub-channels; SRBs complete where they came in */
        uint8_t *buf;
        uint64_t gpa = guest_buffer(&f, 1, &buf);
        srb_send(&f, &sub, 7, cdb_inquiry, 6, READ_TYPE, gpa, 36, true);
        srb_wait(&f, &sub, 7, SRB_STATUS_SUCCESS);
        ASSERT_EQ(buf[0], 0x00);
        ASSERT_OK(vmbus_sim_close(f.sim, &sub));
        ASSERT_OK(vmbus_sim_close(f.sim, &ch));
        fx_free(&f);
}

TEST(two_controllers_and_remove) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel a, b;
        open_channel(&f, &f.offer[0], &a);
        open_channel(&f, &f.offer[1], &b);
        handshake(&f, &a);
        handshake(&f, &b);
        uint8_t *buf;
        uint64_t gpa = guest_buffer(&f, 4, &buf);
        memset(buf, 0xaa, 4096);
        memset(buf + 4096, 0xbb, 4096);
        const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        srb_send(&f, &a, 1, w10, 10, WRITE_TYPE, gpa, 4096, true);
        srb_send(&f, &b, 1, w10, 10, WRITE_TYPE, gpa + 4096, 4096, true);
        srb_wait(&f, &a, 1, SRB_STATUS_SUCCESS);
        srb_wait(&f, &b, 1, SRB_STATUS_SUCCESS);
        srb_send(&f, &a, 2, r10, 10, READ_TYPE, gpa + 8192, 4096, true);
        srb_send(&f, &b, 2, r10, 10, READ_TYPE, gpa + 12288, 4096, true);
        srb_wait(&f, &a, 2, SRB_STATUS_SUCCESS);
        srb_wait(&f, &b, 2, SRB_STATUS_SUCCESS);
        for (unsigned i = 0; i < 4096; i++) { /* each controller its own disk */
                ASSERT_EQ(buf[8192 + i], 0xaa);
                ASSERT_EQ(buf[12288 + i], 0xbb);
        }
        /* hot remove of the second controller while its channel is open */
        ASSERT_OK(vmbus_server_remove_device(f.srv, f.dev[1]));
        struct vmbus_channel_relid_message rescind;
        ASSERT_GT(vmbus_sim_expect(f.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &rescind, sizeof rescind), 0);
        ASSERT_EQ(rescind.child_relid, f.offer[1].child_relid);
        srb_send(&f, &a, 3, r10, 10, READ_TYPE, gpa + 8192, 4096, true); /* the other one carries on */
        srb_wait(&f, &a, 3, SRB_STATUS_SUCCESS);
        ASSERT_OK(vmbus_sim_close(f.sim, &a));
        fx_free(&f);
}

static void cleanup(void) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (dir[0] && system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
        const char *base = getenv("VM_BUILD_DIR");
        snprintf(dir, sizeof dir, "%s/test-storvsp-vmbus-XXXXXX", base ? base : "/var/tmp");
        if (!mkdtemp(dir))
                TEST_SKIP("no temporary directory: %s", strerror(errno));
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
