// SPDX-License-Identifier: MIT
/* Disks of a running VM at the storvsp level (docs/storvsp.md "Hot add,
 * hot remove and resize"), with the guest's storvsc client (vsc/stor.h)
 * on the real VMBus server through the VMBus sim: a LUN attached while the
 * guest runs is announced (ENUMERATE_BUS), listed by REPORT LUNS and
 * serves I/O; a LUN detached with requests in flight has their
 * completions in the guest's ring when storvsp_device_detach returns, is
 * gone (INVALID_LUN, REPORT LUNS) and has let go of its image (lock
 * released); a grown disk reports UNIT ATTENTION, CAPACITY DATA HAS
 * CHANGED once, then its new capacity; a whole controller offered while
 * the guest runs can be opened, and its removal rescinds it. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>

#include "common/macro.h"
#include "common/vmstate.h"
#include "storvsp/provider.h"
#include "tests/lib/vmstate-file.h"
#include "tests/unit/test-vsc-net-bridge.h"
#include "vhdx/vhdx.h"
#include "vmbus/server.h"
#include "vsc/stor.h"

#define MIB (1u << 20)

static char dir[128];

struct rig {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct storvsp_device *sd;
        struct storvsp_controller *ctl;
        struct bridge br;
        struct vsc_bus bus;
        struct vsc_stor s;
        uint8_t *data; /* 4 pages of guest RAM for commands' data */
};

static int sim_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmbus_sim *s = opaque;
        if (gpa >= vmbus_sim_ram_size(s) || len > vmbus_sim_ram_size(s) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(s) + gpa;
        return 0;
}

static void image_path(const char *name, char *path, size_t len) {
        snprintf(path, len, "%s/%s", dir, name);
}

/* A zeroed raw image of size bytes, opened with 512-byte blocks. */
static struct disk *image(const char *name, uint64_t size) {
        char path[256];
        image_path(name, path, sizeof path);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, (off_t)size), 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512 };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        return d;
}

static struct storvsp_device *new_device(struct vmbus_sim *sim) {
        struct storvsp_device_config dc = { .controller = { .max_sub_channels = 1, .queue_depth = 64 },
                                            .gm = { sim_map, sim } };
        struct storvsp_device *sd;
        ASSERT_OK(storvsp_device_new(&dc, &sd));
        return sd;
}

static const uint8_t scsi_class[16] = HV_SCSI_GUID;

/* The offer of the controller with this instance byte. */
static const struct vsc_offer *offer_of(struct vsc_bus *bus, uint8_t instance) {
        for (unsigned i = 0; i < bus->n_offers; i++)
                if (!bus->offers[i].rescinded && !memcmp(bus->offers[i].if_type, scsi_class, 16) &&
                    bus->offers[i].if_instance[0] == instance && bus->offers[i].sub_channel_index == 0)
                        return &bus->offers[i];
        return NULL;
}

/* One controller (instance 0x42) with a 4 MiB disk at LUN 0, offered,
 * opened and initialised by the guest, with a sub-channel. */
static void rig_up(struct rig *r) {
        memset(r, 0, sizeof *r);
        ASSERT_OK(vmbus_sim_new(64u << 20, 2, &r->sim));
        struct vmbus_server_config cfg = { .vp_count = 2 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r->sim, &r->srv));
        r->sd = new_device(r->sim);
        r->ctl = storvsp_device_controller(r->sd);
        struct disk *d = image("lun0.img", 4 * MIB);
        ASSERT_OK(storvsp_controller_attach(r->ctl, 0, d, NULL));
        disk_unref(d);
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = r->sd };
        vc.instance_id.b[0] = 0x42;
        ASSERT_OK(vmbus_server_add_device(r->srv, &vc, NULL));
        r->br.sim = r->sim;
        ASSERT_EQ(br_bus_up(&r->br, &r->bus), 1);
        ASSERT_OK(vsc_stor_open(&r->s, &r->bus, offer_of(&r->bus, 0x42)));
        ASSERT_OK(vsc_stor_init(&r->s));
        ASSERT_EQ(vsc_stor_open_subchannels(&r->s, 1), 1);
        r->data = bridge_ops.alloc_pages(&r->br, 4);
}

static void rig_down(struct rig *r) {
        ASSERT_OK(vsc_stor_close(&r->s));
        ASSERT_OK(vsc_unload(&r->bus));
        vsc_hv_disable(&r->bus);
        vmbus_server_free(r->srv);
        ASSERT_EQ(vmbus_sim_live_mappings(r->sim), 0u);
        vmbus_sim_free(r->sim);
}

/* One command with a data-in buffer of len bytes (0: none). */
static void exec(struct vsc_stor *s, uint8_t *data, uint8_t lun, const uint8_t *cdb, uint8_t cdb_len, uint32_t len,
                 struct vsc_stor_result *res) {
        struct vsc_stor_cmd c = { .lun = lun, .cdb_len = cdb_len, .buf = len ? data : NULL, .len = len,
                                  .dir = len ? VSC_STOR_DIR_IN : VSC_STOR_DIR_NONE };
        memcpy(c.cdb, cdb, cdb_len);
        ASSERT_OK(vsc_stor_exec(s, &c, res));
}

static void report_luns(struct rig *r, uint16_t *luns, unsigned *n) {
        uint8_t cdb[16];
        struct vsc_stor_result res;
        exec(&r->s, r->data, 0, cdb, vsc_scsi_report_luns(cdb, 4096), 4096, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_OK(vsc_scsi_parse_report_luns(r->data, res.data_len, luns, 16, n));
}

static uint64_t capacity(struct rig *r, uint8_t lun) {
        uint8_t cdb[16];
        struct vsc_stor_result res;
        struct vsc_scsi_capacity cap;
        exec(&r->s, r->data, lun, cdb, vsc_scsi_read_capacity16(cdb, 32), 32, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_OK(vsc_scsi_parse_capacity16(r->data, res.data_len, &cap));
        ASSERT_EQ(cap.block_size, 512u);
        return cap.blocks;
}

/* The host's unsolicited ENUMERATE_BUS (§6.6), as storvsc's callback sees it. */
static void wait_rescan(struct rig *r) {
        uint64_t end = br_now(&r->br) + 5000000000ull;
        struct vsc_stor_result res[4];
        while (!r->s.rescan) {
                ASSERT_GE(vsc_stor_poll(&r->s, res, 4), 0);
                if (!r->s.rescan)
                        ASSERT_OK(vsc_stor_wait(&r->s, end));
        }
        r->s.rescan = false;
}

/* Writes blocks [lba, lba + n) with a pattern, reads them back. */
static void io_roundtrip(struct rig *r, uint8_t lun, uint64_t lba, uint32_t n, uint8_t seed) {
        struct vsc_stor_cmd c = { .lun = lun, .buf = r->data, .len = n * 512, .dir = VSC_STOR_DIR_OUT };
        struct vsc_stor_result res;
        for (uint32_t i = 0; i < n * 512; i++)
                r->data[i] = (uint8_t)(i * 7 + seed);
        c.cdb_len = vsc_scsi_rw(c.cdb, true, lba, n, false, false);
        ASSERT_OK(vsc_stor_exec(&r->s, &c, &res));
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        memset(r->data, 0, n * 512);
        c.dir = VSC_STOR_DIR_IN;
        c.cdb_len = vsc_scsi_rw(c.cdb, false, lba, n, false, false);
        ASSERT_OK(vsc_stor_exec(&r->s, &c, &res));
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        for (uint32_t i = 0; i < n * 512; i++)
                ASSERT_EQ(r->data[i], (uint8_t)(i * 7 + seed));
}

TEST(lun_attached_while_running_is_found_after_enumerate_bus) {
        struct rig r;
        rig_up(&r);
        uint16_t luns[16];
        unsigned n;
        report_luns(&r, luns, &n);
        ASSERT_EQ(n, 1u);
        struct disk *d = image("hot.img", 2 * MIB);
        ASSERT_OK(storvsp_controller_attach(r.ctl, 5, d, NULL));
        disk_unref(d);
        ASSERT_EQ(storvsp_controller_lun_count(r.ctl), 2u);
        wait_rescan(&r);
        report_luns(&r, luns, &n);
        ASSERT_EQ(n, 2u);
        ASSERT_EQ(luns[0], 0);
        ASSERT_EQ(luns[1], 5);
        ASSERT_EQ(capacity(&r, 5), (uint64_t)2 * MIB / 512);
        io_roundtrip(&r, 5, 100, 8, 3);
        io_roundtrip(&r, 0, 100, 8, 4); /* the other LUN carries on */
        rig_down(&r);
}

/* 48 writes of 64 KiB in flight over two channels, taken by the host; the
 * detach returns with every completion in the guest's rings. */
TEST(lun_detached_with_io_in_flight_completes_it_first) {
        struct rig r;
        rig_up(&r);
        struct disk *d = image("gone.img", 8 * MIB);
        ASSERT_OK(storvsp_controller_attach(r.ctl, 1, d, NULL));
        wait_rescan(&r);
        enum { N = 48, CHUNK = 64 * 1024 };
        uint8_t *buf = bridge_ops.alloc_pages(&r.br, N * CHUNK / 4096);
        for (uint32_t i = 0; i < N * CHUNK; i++)
                buf[i] = (uint8_t)(i / 512 + 11);
        struct storvsp_device_stats st0, st;
        storvsp_device_get_stats(r.sd, &st0);
        for (uint32_t i = 0; i < N; i++) {
                struct vsc_stor_cmd c = { .lun = 1, .buf = buf + (size_t)i * CHUNK, .len = CHUNK,
                                          .dir = VSC_STOR_DIR_OUT, .user = i };
                c.cdb_len = vsc_scsi_rw(c.cdb, true, (uint64_t)i * CHUNK / 512, CHUNK / 512, false, false);
                ASSERT_OK(vsc_stor_submit(&r.s, i % r.s.n_channels, &c));
        }
        vsc_stor_flush(&r.s);
        for (int t = 0; t < 5000; t++) { /* the host has taken them all */
                storvsp_device_get_stats(r.sd, &st);
                if (st.submitted - st0.submitted >= N)
                        break;
                usleep(1000);
        }
        ASSERT_EQ(st.submitted - st0.submitted, (uint64_t)N);
        ASSERT_OK(storvsp_device_detach(r.sd, 1));
        ASSERT_EQ(storvsp_device_detach(r.sd, 1), -ENOENT);
        /* no waiting: every completion is in the rings already */
        struct vsc_stor_result res[N];
        unsigned got = 0;
        for (int k; (k = vsc_stor_poll(&r.s, res + got, N - got)) > 0;)
                got += (unsigned)k;
        ASSERT_EQ(got, (unsigned)N);
        for (unsigned i = 0; i < N; i++)
                ASSERT_TRUE(vsc_stor_result_ok(&res[i]));
        /* the device let go of the image: our reference is the last */
        char path[256];
        image_path("gone.img", path, sizeof path);
        disk_unref(d);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_OK(flock(fd, LOCK_EX | LOCK_NB));
        uint8_t *img = malloc(N * CHUNK);
        ASSERT_EQ(pread(fd, img, N * CHUNK, 0), (ssize_t)(N * CHUNK));
        ASSERT_MEMEQ(img, buf, N * CHUNK);
        free(img);
        close(fd);
        /* the guest is told; the LUN answers INVALID_LUN and is not listed */
        wait_rescan(&r);
        uint8_t cdb[16];
        struct vsc_stor_result one;
        exec(&r.s, r.data, 1, cdb, vsc_scsi_test_unit_ready(cdb), 0, &one);
        ASSERT_EQ(one.srb_status, SRB_STATUS_INVALID_LUN);
        uint16_t luns[16];
        unsigned n;
        report_luns(&r, luns, &n);
        ASSERT_EQ(n, 1u);
        ASSERT_EQ(luns[0], 0);
        io_roundtrip(&r, 0, 0, 8, 9);
        rig_down(&r);
}

static void expect_capacity_changed(struct vsc_stor_result *res) {
        struct vsc_scsi_sense sense;
        ASSERT_EQ(res->srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID); /* storvsc_handle_error's case */
        ASSERT_EQ(res->scsi_status, 2);
        ASSERT_OK(vsc_scsi_parse_sense(res->sense, res->sense_len, &sense));
        ASSERT_EQ(sense.key, 6);
        ASSERT_EQ(sense.asc, 0x2a);
        ASSERT_EQ(sense.ascq, 0x09);
}

TEST(grown_disk_reports_capacity_changed_then_its_new_size) {
        struct rig r;
        rig_up(&r);
        char path[256], why[256];
        struct disk *d = image("grow.img", 4 * MIB);
        ASSERT_OK(storvsp_controller_attach(r.ctl, 2, d, NULL));
        wait_rescan(&r);
        ASSERT_EQ(capacity(&r, 2), (uint64_t)4 * MIB / 512);
        image_path("grow.img", path, sizeof path);
        /* refused: not what the file holds, not whole blocks, smaller */
        ASSERT_EQ(disk_resize(d, 8 * MIB, why, sizeof why), -EINVAL);
        ASSERT_NOT_NULL(strstr(why, "holds"));
        ASSERT_EQ(truncate(path, 8 * MIB), 0);
        ASSERT_EQ(disk_resize(d, 8 * MIB + 100, why, sizeof why), -EINVAL);
        ASSERT_EQ(disk_resize(d, 2 * MIB, why, sizeof why), -EINVAL);
        ASSERT_NOT_NULL(strstr(why, "shrinking"));
        /* a write past the old end fails until the SCSI view grows */
        ASSERT_OK(disk_resize(d, 8 * MIB, why, sizeof why));
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.size, (uint64_t)8 * MIB);
        ASSERT_OK(storvsp_controller_resize(r.ctl, 2));
        ASSERT_EQ(storvsp_controller_resize(r.ctl, 7), -ENOENT);
        wait_rescan(&r); /* an idle guest hears of it too */
        /* INQUIRY and REPORT LUNS do not take the unit attention... */
        uint8_t cdb[16];
        struct vsc_stor_result res;
        exec(&r.s, r.data, 2, cdb, vsc_scsi_inquiry(cdb, false, 0, 36), 36, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        /* ...the next other command does, once (storvsc rescans and retries) */
        exec(&r.s, r.data, 2, cdb, vsc_scsi_test_unit_ready(cdb), 0, &res);
        expect_capacity_changed(&res);
        exec(&r.s, r.data, 2, cdb, vsc_scsi_test_unit_ready(cdb), 0, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_EQ(capacity(&r, 2), (uint64_t)8 * MIB / 512);
        io_roundtrip(&r, 2, 8 * MIB / 512 - 8, 8, 5); /* the new last blocks */
        /* the same size again: nothing to tell */
        ASSERT_OK(disk_resize(d, 8 * MIB, why, sizeof why));
        ASSERT_OK(storvsp_controller_resize(r.ctl, 2));
        exec(&r.s, r.data, 2, cdb, vsc_scsi_test_unit_ready(cdb), 0, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        /* the other LUN was never told */
        exec(&r.s, r.data, 0, cdb, vsc_scsi_test_unit_ready(cdb), 0, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        disk_unref(d);
        rig_down(&r);
}

/* A dynamic VHDX disk grows while attached: disk_resize grows the image
 * itself (vhdx_grow), the guest hears CAPACITY DATA HAS CHANGED and reads
 * and writes its new last blocks; the image reopens at the new size. A
 * differencing image (a disk with checkpoints) is refused. */
TEST(a_vhdx_disk_grows_in_place) {
        struct rig r;
        rig_up(&r);
        char path[256], why[256];
        image_path("grow.vhdx", path, sizeof path);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct vhdx_create_options vo = { .type = VHDX_DYNAMIC, .virtual_size = 4 * MIB, .block_size = 1 << 20 };
        ASSERT_OK(vhdx_create(fd, &vo, why, sizeof why));
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .format = DISK_FORMAT_VHDX,
                                  .err = why, .errlen = sizeof why };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        ASSERT_OK(storvsp_controller_attach(r.ctl, 2, d, NULL));
        wait_rescan(&r);
        io_roundtrip(&r, 2, 4 * MIB / 512 - 8, 8, 3);
        ASSERT_EQ(disk_resize_max_file_size(d, 12 * MIB), disk_resize_max_file_size(d, 4 * MIB) + 8 * MIB);
        ASSERT_EQ(disk_resize(d, 12 * MIB + 100, why, sizeof why), -EINVAL);
        ASSERT_OK(disk_resize(d, 12 * MIB, why, sizeof why));
        struct disk_info info;
        disk_get_info(d, &info);
        ASSERT_EQ(info.size, (uint64_t)12 * MIB);
        ASSERT_GE(info.max_file_size, (uint64_t)12 * MIB);
        ASSERT_OK(storvsp_controller_resize(r.ctl, 2));
        uint8_t cdb[16];
        struct vsc_stor_result res;
        exec(&r.s, r.data, 2, cdb, vsc_scsi_test_unit_ready(cdb), 0, &res);
        expect_capacity_changed(&res);
        ASSERT_EQ(capacity(&r, 2), (uint64_t)12 * MIB / 512);
        io_roundtrip(&r, 2, 12 * MIB / 512 - 8, 8, 4); /* the new last blocks */
        io_roundtrip(&r, 2, 4 * MIB / 512 - 8, 8, 3);  /* the old ones still */
        disk_unref(d);
        rig_down(&r);
        fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct vhdx *v;
        ASSERT_OK(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, why, sizeof why));
        struct vhdx_info vi;
        vhdx_get_info(v, &vi);
        ASSERT_EQ(vi.virtual_size, (uint64_t)12 * MIB);
        /* a checkpoint's child: the disk's size is its parent's */
        char child[256];
        image_path("grow.avhdx", child, sizeof child);
        int cfd = open(child, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(cfd, 0);
        struct vhdx_create_options co = { .type = VHDX_DIFFERENCING, .parent = v, .parent_relative = "grow.vhdx" };
        ASSERT_OK(vhdx_create(cfd, &co, why, sizeof why));
        close(cfd);
        vhdx_close(v);
        close(fd);
        o.path = child;
        ASSERT_OK(disk_open(&o, &d));
        ASSERT_EQ(disk_resize(d, 16 * MIB, why, sizeof why), -EOPNOTSUPP);
        ASSERT_NOT_NULL(strstr(why, "differencing"));
        disk_unref(d);
}

/* A resize the guest has not heard of yet goes into the saved state
 * (STCT field 8) and comes back with a restore: a device rebuilt on the
 * grown image, restored, saves it again; the running one still reports it. */
static int save_device(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return storvsp_device_save(opaque, w, err, errlen);
}

static void saved_attention(struct storvsp_device *sd, uint32_t want_lun3) {
        static struct vmstate_section secs[8];
        uint8_t *map;
        size_t len;
        char why[256];
        int n = vmstate_test_save(save_device, sd, &map, &len, secs, ARRAY_SIZE(secs));
        const struct vmstate_section *sec = vmstate_find(secs, (size_t)n, STORVSP_CONTROLLER_STATE_TAG, 0);
        ASSERT_NOT_NULL(sec);
        ASSERT_EQ(sec->version, 2);
        struct storvsp_controller_state *st = malloc(sizeof *st);
        ASSERT_OK(storvsp_controller_state_decode(sec, st, why, sizeof why));
        ASSERT_EQ(st->n_luns, 2u);
        ASSERT_EQ(st->lun[1], 3u);
        ASSERT_EQ(st->n_blocks[1], (uint64_t)3 * MIB / 512);
        ASSERT_EQ(st->attention_count, 2u);
        ASSERT_EQ(st->attention[0], 0u);
        ASSERT_EQ(st->attention[1], want_lun3);
        free(st);
        munmap(map, len);
}

TEST(pending_capacity_change_is_saved_and_restored) {
        struct rig r;
        rig_up(&r);
        char path[256], why[256];
        struct disk *d = image("saved.img", 1 * MIB);
        ASSERT_OK(storvsp_controller_attach(r.ctl, 3, d, NULL));
        wait_rescan(&r);
        image_path("saved.img", path, sizeof path);
        ASSERT_EQ(truncate(path, 3 * MIB), 0);
        ASSERT_OK(disk_resize(d, 3 * MIB, why, sizeof why));
        ASSERT_OK(storvsp_controller_resize(r.ctl, 3));
        ASSERT_OK(storvsp_device_quiesce(r.sd));
        saved_attention(r.sd, SCSI_ASC_CAPACITY_DATA_CHANGED);
        /* a new worker's device from the same configuration */
        struct storvsp_device *copy = new_device(r.sim);
        struct disk *d0 = image("copy0.img", 4 * MIB);
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(copy), 0, d0, NULL));
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(copy), 3, d, NULL));
        disk_unref(d0);
        static struct vmstate_section secs[8];
        uint8_t *map;
        size_t len;
        int n = vmstate_test_save(save_device, r.sd, &map, &len, secs, ARRAY_SIZE(secs));
        ASSERT_OK(storvsp_device_restore(copy, secs, (size_t)n, why, sizeof why));
        munmap(map, len);
        saved_attention(copy, SCSI_ASC_CAPACITY_DATA_CHANGED);
        storvsp_device_free(copy);
        storvsp_device_resume(r.sd);
        uint8_t cdb[16];
        struct vsc_stor_result res;
        exec(&r.s, r.data, 3, cdb, vsc_scsi_test_unit_ready(cdb), 0, &res);
        expect_capacity_changed(&res);
        ASSERT_OK(storvsp_device_quiesce(r.sd));
        saved_attention(r.sd, 0); /* reported: nothing pending any more */
        storvsp_device_resume(r.sd);
        disk_unref(d);
        rig_down(&r);
}

/* A second controller offered while the guest runs, opened, used; then
 * removed with its channel open: rescinded, the first one carries on. */
TEST(controller_added_and_removed_while_running) {
        struct rig r;
        rig_up(&r);
        struct storvsp_device *sd2 = new_device(r.sim);
        struct disk *d = image("second.img", 1 * MIB);
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(sd2), 0, d, NULL));
        disk_unref(d);
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = sd2 };
        vc.instance_id.b[0] = 0x43;
        struct vmbus_device *dev2;
        ASSERT_OK(vmbus_server_add_device(r.srv, &vc, &dev2));
        struct vsc_msg m;
        ASSERT_OK(vsc_wait_message(&r.bus, CHANNELMSG_OFFERCHANNEL, &m));
        const struct vsc_offer *o = offer_of(&r.bus, 0x43);
        ASSERT_NOT_NULL(o);
        uint32_t relid = o->child_relid;
        struct vsc_stor s2;
        ASSERT_OK(vsc_stor_open(&s2, &r.bus, o));
        ASSERT_OK(vsc_stor_init(&s2));
        uint8_t cdb[16];
        struct vsc_stor_result res;
        struct vsc_scsi_capacity cap;
        exec(&s2, r.data, 0, cdb, vsc_scsi_read_capacity16(cdb, 32), 32, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_OK(vsc_scsi_parse_capacity16(r.data, res.data_len, &cap));
        ASSERT_EQ(cap.blocks, (uint64_t)MIB / 512);
        ASSERT_OK(vmbus_server_remove_device(r.srv, dev2)); /* frees sd2 */
        ASSERT_OK(vsc_wait_message(&r.bus, CHANNELMSG_RESCIND_CHANNELOFFER, &m));
        ASSERT_EQ(m.u.rescind.child_relid, relid);
        /* the guest closes its side and gives the relid back (§4.7) */
        ASSERT_OK(vsc_stor_close(&s2));
        ASSERT_OK(vsc_offer_release(&r.bus, relid));
        io_roundtrip(&r, 0, 16, 8, 1);
        rig_down(&r);
}

int main(int argc, char **argv) {
        const char *base = getenv("VM_BUILD_DIR");
        snprintf(dir, sizeof dir, "%s/test-storvsp-hotplug-XXXXXX", base ? base : "/var/tmp");
        if (!mkdtemp(dir))
                TEST_SKIP("no temporary directory: %s", strerror(errno));
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return r;
}
