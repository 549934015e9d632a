// SPDX-License-Identifier: MIT
/* The guest's storvsc client (vsc/stor.h) against the real thing: the VMBus
 * server with storvsp controllers on image files, reached through the
 * VMBus sim (test-vsc-net-bridge.h), so both ends of issue #7 meet
 * without KVM: the handshake, sub-channels, discovery, pattern I/O with
 * many requests in flight over several channels, flush, and refused
 * requests with their sense; the image holds what the guest wrote. */
#include <fcntl.h>
#include <stdlib.h>

#include "common/macro.h"
#include "storvsp/provider.h"
#include "tests/unit/test-vsc-net-bridge.h" /* the vsc library on the VMBus sim, for any client */
#include "vmbus/server.h"
#include "vsc/stor.h"

#define IMAGE_BYTES (4u << 20)

struct rig {
        char dir[64], image[96];
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct bridge br;
        struct vsc_bus bus;
        struct vsc_stor s;
};

static int sim_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmbus_sim *s = opaque;
        if (gpa >= vmbus_sim_ram_size(s) || len > vmbus_sim_ram_size(s) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(s) + gpa;
        return 0;
}

static void rig_up(struct rig *r, uint16_t max_sub_channels, uint32_t block_size) {
        memset(r, 0, sizeof *r);
        snprintf(r->dir, sizeof r->dir, "/tmp/test-storvsp-vsc.XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(r->dir));
        snprintf(r->image, sizeof r->image, "%s/disk.img", r->dir);
        int fd = open(r->image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, IMAGE_BYTES), 0);
        close(fd);
        ASSERT_OK(vmbus_sim_new(32u << 20, 4, &r->sim));
        struct vmbus_server_config cfg = { .vp_count = 4 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r->sim, &r->srv));
        struct storvsp_device_config dc = { .controller = { .max_sub_channels = max_sub_channels },
                                            .gm = { sim_map, r->sim } };
        struct storvsp_device *sd;
        ASSERT_OK(storvsp_device_new(&dc, &sd));
        struct disk_options o = { .path = r->image, .fd = -1, .block_size = block_size };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(sd), 2, d, NULL)); /* no LUN 0 */
        disk_unref(d);
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = sd };
        vc.instance_id.b[0] = 0x42;
        ASSERT_OK(vmbus_server_add_device(r->srv, &vc, NULL));
        r->br.sim = r->sim;
        ASSERT_EQ(br_bus_up(&r->br, &r->bus), 1);
        static const uint8_t scsi[16] = HV_SCSI_GUID;
        ASSERT_OK(vsc_stor_open(&r->s, &r->bus, vsc_find_offer(&r->bus, scsi, 0)));
        ASSERT_OK(vsc_stor_init(&r->s));
}

static void rig_down(struct rig *r) {
        ASSERT_OK(vsc_stor_close(&r->s));
        ASSERT_OK(vsc_unload(&r->bus));
        vsc_hv_disable(&r->bus);
        vmbus_server_free(r->srv);
        ASSERT_EQ(vmbus_sim_live_mappings(r->sim), 0u);
        vmbus_sim_free(r->sim);
        unlink(r->image);
        rmdir(r->dir);
}

static void exec_ok(struct rig *r, struct vsc_stor_cmd *c, struct vsc_stor_result *res) {
        ASSERT_OK(vsc_stor_exec(&r->s, c, res));
        ASSERT_TRUE(vsc_stor_result_ok(res));
}

/* Pattern over [0, bytes) in chunks, up to qd in flight, round-robin over
 * the channels; then reads it back into rbuf. */
static void pattern_io(struct rig *r, uint8_t lun, bool write, uint8_t *buf, uint32_t bytes, uint32_t chunk,
                       unsigned qd) {
        uint32_t next = 0, done = 0, chan = 0;
        while (done < bytes) {
                while (next < bytes && vsc_stor_inflight(&r->s) < qd) {
                        struct vsc_stor_cmd c = { .lun = lun, .buf = buf + next, .len = chunk, .user = next,
                                                  .dir = write ? VSC_STOR_DIR_OUT : VSC_STOR_DIR_IN };
                        c.cdb_len = vsc_scsi_rw(c.cdb, write, next / 512, chunk / 512, (next / chunk) & 1,
                                                (next / chunk) % 3 == 0);
                        ASSERT_OK(vsc_stor_submit(&r->s, chan, &c));
                        chan = (chan + 1) % r->s.n_channels;
                        next += chunk;
                }
                vsc_stor_flush(&r->s);
                struct vsc_stor_result res[16];
                int n = vsc_stor_poll(&r->s, res, 16);
                ASSERT_GE(n, 0);
                for (int i = 0; i < n; i++) {
                        ASSERT_TRUE(vsc_stor_result_ok(&res[i]));
                        ASSERT_EQ(res[i].data_len, chunk);
                        done += chunk;
                }
                if (n == 0)
                        ASSERT_OK(vsc_stor_wait(&r->s, br_now(&r->br) + 5000000000ull));
        }
}

/* Linux's discovery (§6.8): INQUIRY of LUN 0 (absent: PQ 3), REPORT LUNS,
 * READ CAPACITY(16) of what it lists. */
static void discover(struct rig *r, uint8_t *data, struct vsc_scsi_capacity *cap) {
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = data, .len = 36 };
        struct vsc_stor_result res;
        struct vsc_scsi_inquiry inq;
        c.cdb_len = vsc_scsi_inquiry(c.cdb, false, 0, 36);
        exec_ok(r, &c, &res);
        ASSERT_OK(vsc_scsi_parse_inquiry(data, res.data_len, &inq));
        ASSERT_EQ(inq.qualifier, 3);
        c.cdb_len = vsc_scsi_report_luns(c.cdb, 4096);
        c.len = 4096;
        exec_ok(r, &c, &res);
        uint16_t luns[8];
        unsigned n;
        ASSERT_OK(vsc_scsi_parse_report_luns(data, res.data_len, luns, 8, &n));
        ASSERT_EQ(n, 1u);
        ASSERT_EQ(luns[0], 2);
        c.lun = 2;
        c.cdb_len = vsc_scsi_read_capacity16(c.cdb, 32);
        c.len = 32;
        exec_ok(r, &c, &res);
        ASSERT_OK(vsc_scsi_parse_capacity16(data, res.data_len, cap));
}

/* Refused requests carry sense; the controller carries on. */
static void refused(struct rig *r, uint8_t *data, uint64_t blocks) {
        struct vsc_stor_cmd c = { .lun = 2, .cdb = { 0x02 }, .cdb_len = 6, .dir = VSC_STOR_DIR_NONE };
        struct vsc_stor_result res;
        struct vsc_scsi_sense sense;
        ASSERT_OK(vsc_stor_exec(&r->s, &c, &res));
        ASSERT_EQ(res.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
        ASSERT_OK(vsc_scsi_parse_sense(res.sense, res.sense_len, &sense));
        ASSERT_EQ(sense.key, 5);
        ASSERT_EQ(sense.asc, 0x20);
        c.cdb_len = vsc_scsi_rw(c.cdb, false, blocks, 1, false, true);
        c.dir = VSC_STOR_DIR_IN;
        c.buf = data;
        c.len = 512;
        ASSERT_OK(vsc_stor_exec(&r->s, &c, &res));
        ASSERT_OK(vsc_scsi_parse_sense(res.sense, res.sense_len, &sense));
        ASSERT_EQ(sense.asc, 0x21);
        c.lun = 9;
        c.cdb_len = vsc_scsi_test_unit_ready(c.cdb);
        c.dir = VSC_STOR_DIR_NONE;
        c.len = 0;
        ASSERT_OK(vsc_stor_exec(&r->s, &c, &res));
        ASSERT_EQ(res.srb_status, SRB_STATUS_INVALID_LUN);
}

TEST(client_meets_storvsp) {
        struct rig r;
        rig_up(&r, 2, 512);
        ASSERT_EQ(r.s.version, (uint16_t)VMSTOR_PROTO_VERSION_WIN10);
        ASSERT_EQ(r.s.max_transfer, 1u << 20);
        ASSERT_TRUE(r.s.props.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
        ASSERT_EQ(vsc_stor_open_subchannels(&r.s, 2), 2);
        ASSERT_EQ(r.s.n_channels, 3u);
        uint8_t *data = bridge_ops.alloc_pages(&r.br, 2);
        struct vsc_scsi_capacity cap;
        discover(&r, data, &cap);
        ASSERT_EQ(cap.blocks, (uint64_t)IMAGE_BYTES / 512);
        ASSERT_EQ(cap.block_size, 512u);
        /* 1 MiB of pattern, 64 KiB requests, 12 in flight over 3 channels; flush; read back */
        uint32_t bytes = 1u << 20;
        uint8_t *w = bridge_ops.alloc_pages(&r.br, bytes / 4096), *rd = bridge_ops.alloc_pages(&r.br, bytes / 4096);
        vsc_stor_pattern_fill(w, bytes, 7, 0, 2, 0);
        pattern_io(&r, 2, true, w, bytes, 64u << 10, 12);
        struct vsc_stor_cmd sync = { .lun = 2 };
        struct vsc_stor_result res;
        sync.cdb_len = vsc_scsi_sync_cache10(sync.cdb);
        exec_ok(&r, &sync, &res);
        pattern_io(&r, 2, false, rd, bytes, 64u << 10, 12);
        uint64_t bad;
        ASSERT_OK(vsc_stor_pattern_check(rd, bytes, 7, 0, 2, 0, &bad));
        /* the image holds it, checked by the host with the same function */
        int fd = open(r.image, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint8_t *img = malloc(bytes);
        ASSERT_EQ(pread(fd, img, bytes, 0), (ssize_t)bytes);
        ASSERT_OK(vsc_stor_pattern_check(img, bytes, 7, 0, 2, 0, &bad));
        free(img);
        close(fd);
        refused(&r, data, cap.blocks);
        ASSERT_EQ(r.s.stats.bad_packets, 0ull);
        rig_down(&r);
}

TEST(client_on_4k_sectors) {
        struct rig r;
        rig_up(&r, 0, 4096);
        ASSERT_EQ(vsc_stor_open_subchannels(&r.s, 3), 0); /* none configured: nothing asked */
        uint8_t *data = bridge_ops.alloc_pages(&r.br, 1);
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = data, .len = 32, .lun = 2 };
        struct vsc_stor_result res;
        c.cdb_len = vsc_scsi_read_capacity16(c.cdb, 32);
        exec_ok(&r, &c, &res);
        struct vsc_scsi_capacity cap;
        ASSERT_OK(vsc_scsi_parse_capacity16(data, res.data_len, &cap));
        ASSERT_EQ(cap.block_size, 4096u);
        ASSERT_EQ(cap.blocks, (uint64_t)IMAGE_BYTES / 4096);
        /* half a block is refused: the transfer is larger than the buffer */
        c.cdb_len = vsc_scsi_rw(c.cdb, false, 0, 1, false, false);
        c.len = 2048;
        ASSERT_OK(vsc_stor_exec(&r.s, &c, &res));
        ASSERT_FALSE(vsc_stor_result_ok(&res));
        c.len = 4096;
        exec_ok(&r, &c, &res);
        ASSERT_EQ(res.data_len, 4096u);
        rig_down(&r);
}

TEST_MAIN();
