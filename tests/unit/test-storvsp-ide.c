// SPDX-License-Identifier: MIT
/* IDE accelerator channels (docs/storvsp.md "IDE accelerator channels"),
 * without KVM: the offer Linux's storvsc reads for each IDE location
 * (storvsp_ide_offer), which IDE disks a VM offers on VMBus
 * (vmwp_ide_vmbus_plan), and one image shared by the emulated IDE
 * controller (its real backend on the emulated devices' service thread)
 * and an IDE channel on the VMBus server, which the guest's storvsc client
 * reaches through the VMBus sim: what one path writes the other reads,
 * the disk answers where Linux addresses it (path 0, target = position,
 * lun 0) and nowhere else, and the channel is saved and restored into a
 * new server and device with the guest's client carrying on. */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "tests/lib/fake-ide.h"
#include "tests/lib/fake-ram.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "emu/ata.h"
#include "emu/bmdma.h"
#include "emu/ide-backend.h"
#include "emu/ide.h"
#include "emu/service.h"
#include "hv/vmbus.h"
#include "storvsp/provider.h"
#include "tests/lib/vmstate-file.h"
#include "tests/unit/test-vsc-net-bridge.h" /* the vsc library on the VMBus sim */
#include "vmbus/server.h"
#include "vmwp/ide-vmbus.h"
#include "vsc/stor.h"

/* ---- the offer (pure) ---- */

/* What Linux reads from an IDE-class offer's instance: storvsc_probe's
 * target (b[5] << 8 | b[4]) and the old storvsc_get_ide_info's path
 * (b[3..0]). */
static unsigned linux_target(const struct guid *g) {
        return (unsigned)(g->b[5] << 8 | g->b[4]);
}

static unsigned linux_path(const struct guid *g) {
        return (unsigned)g->b[3] << 24 | (unsigned)g->b[2] << 16 | (unsigned)g->b[1] << 8 | g->b[0];
}

TEST(offer_names_each_ide_location_as_linux_reads_it) {
        struct storvsp_ide_offer all[4];
        for (unsigned ch = 0; ch < 2; ch++)
                for (unsigned pos = 0; pos < 2; pos++) {
                        struct storvsp_ide_offer *o = &all[ch * 2 + pos];
                        ASSERT_OK(storvsp_ide_offer(ch, pos, o));
                        ASSERT_EQ(linux_target(&o->instance), pos);
                        ASSERT_EQ(linux_path(&o->instance), ch);
                        /* data3 = 8899h, data4 zero: Hyper-V's (and OpenVMM's) layout */
                        char s[GUID_STRING_MAX];
                        guid_to_string(&o->instance, s);
                        char want[GUID_STRING_MAX];
                        snprintf(want, sizeof want, "%08x-%04x-8899-0000-000000000000", ch, pos);
                        ASSERT_STREQ(s, want);
                        ASSERT_EQ(o->target, pos);
                        ASSERT_EQ(o->props.path_id, ch);
                        ASSERT_EQ(o->props.target_id, pos);
                        ASSERT_EQ(o->props.flags, STORVSC_OFFER_PROPERTIES_FLAG_IDE_DEVICE);
                        ASSERT_EQ(o->state_instance, STORVSP_IDE_STATE_INSTANCE_BASE + ch * 2 + pos);
                }
        for (unsigned i = 0; i < 4; i++)
                for (unsigned k = i + 1; k < 4; k++)
                        ASSERT_FALSE(guid_equal(&all[i].instance, &all[k].instance));
        struct storvsp_ide_offer o;
        ASSERT_EQ(storvsp_ide_offer(2, 0, &o), -EINVAL);
        ASSERT_EQ(storvsp_ide_offer(0, 2, &o), -EINVAL);
}

static void add_disk(struct vm_config *c, enum vm_disk_bus bus, uint32_t lun) {
        struct vm_disk_config *d = &c->disks[c->n_disks++];
        memset(d, 0, sizeof *d);
        d->bus = bus;
        d->lun = lun;
        snprintf(d->path, sizeof d->path, "/img/%u", c->n_disks);
}

TEST(plan_offers_the_ide_disks_of_firmware_vms) {
        static struct vm_config c;
        memset(&c, 0, sizeof c);
        c.boot_kind = VM_BOOT_FIRMWARE;
        add_disk(&c, VM_DISK_SCSI, 0);
        add_disk(&c, VM_DISK_IDE, 3); /* secondary slave */
        add_disk(&c, VM_DISK_IDE, 0); /* primary master */
        add_disk(&c, VM_DISK_IDE, 7); /* no such location: the emulated controller refuses it */
        add_disk(&c, VM_DISK_IDE, 3); /* taken: likewise */
        c.n_dvds = 1;                 /* secondary master: never on VMBus */
        c.dvds[0] = (struct vm_dvd_config){ .channel = 1, .position = 0 };
        struct vmwp_ide_vmbus_offer o[VMWP_IDE_VMBUS_MAX];
        ASSERT_EQ(vmwp_ide_vmbus_plan(&c, o), 2u);
        ASSERT_EQ(o[0].disk, 1u);
        ASSERT_EQ(o[0].slot, 3u);
        ASSERT_EQ(linux_path(&o[0].offer.instance), 1u);
        ASSERT_EQ(linux_target(&o[0].offer.instance), 1u);
        ASSERT_EQ(o[1].disk, 2u);
        ASSERT_EQ(o[1].slot, 0u);
        ASSERT_EQ(linux_path(&o[1].offer.instance), 0u);
        ASSERT_EQ(linux_target(&o[1].offer.instance), 0u);
        /* a direct kernel boot has no Hyper-V SMBIOS: ata_piix keeps them */
        c.boot_kind = VM_BOOT_LINUX;
        ASSERT_EQ(vmwp_ide_vmbus_plan(&c, o), 0u);
        c.boot_kind = VM_BOOT_PVH;
        ASSERT_EQ(vmwp_ide_vmbus_plan(&c, o), 0u);
}

/* Both paths name a disk alike (the ATA serial is the VPD 80h serial);
 * NAA ids differ per location and VM, and are never a SCSI LUN's 0. */
TEST(disk_ids_are_stable_and_distinct) {
        struct guid a, b;
        ASSERT_OK(guid_from_string("01234567-89ab-cdef-0123-456789abcdef", &a));
        ASSERT_OK(guid_from_string("01234567-89ab-cdef-0123-456789abcdee", &b));
        char s[33];
        vmwp_ide_disk_serial(&a, 3, s, sizeof s);
        ASSERT_STREQ(s, "67452301AB89EFCD-3"); /* the wire bytes, as the ATA identity had them */
        ASSERT_LE(strlen(s), 20u);            /* fits IDENTIFY words 10-19 */
        uint64_t seen[8];
        for (unsigned slot = 0; slot < 4; slot++) {
                seen[slot] = vmwp_ide_disk_naa(&a, slot);
                seen[4 + slot] = vmwp_ide_disk_naa(&b, slot);
                ASSERT_EQ(vmwp_ide_disk_naa(&a, slot), seen[slot]); /* stable */
        }
        for (unsigned i = 0; i < 8; i++) {
                ASSERT_NE(seen[i], 0ull);
                ASSERT_EQ(seen[i] >> 60, 0ull);
                for (unsigned k = i + 1; k < 8; k++)
                        ASSERT_NE(seen[i], seen[k]);
        }
}

/* ---- one image, two paths ---- */

#define SECTORS 2048u /* 1 MiB */
#define RAM_SIZE (1u << 20)
#define SLOT 3u /* secondary slave: channel 1, position 1 */
#define CH (SLOT / 2)
#define DEPTH 16u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct emu_service *svc;

FAKE_RAM_OPS(ram, RAM_SIZE)
FAKE_IDE_OPS(svc)

struct rig {
        char path[64];
        struct disk *disk;
        struct ide_controller *ide;
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct storvsp_device *sd;
        struct storvsp_ide_offer offer;
        struct bridge br;
        struct vsc_bus bus;
        struct vsc_stor s;
        uint8_t *data; /* guest pages of the client's buffers */
};

static const struct guid vm_id = { .b = { 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 } };

static int sim_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmbus_sim *s = opaque;
        if (gpa >= vmbus_sim_ram_size(s) || len > vmbus_sim_ram_size(s) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(s) + gpa;
        return 0;
}

/* The IDE channel's device as vmwp builds it (vm-storage.c
 * add_ide_channel), offered on the rig's server. */
static void offer_channel(struct rig *r) {
        static const struct guid ide_class = { .b = HV_IDE_GUID };
        struct storvsp_device_config dc = { .controller = { .queue_depth = DEPTH, .target = r->offer.target },
                                            .gm = { sim_map, r->sim }, .state_instance = r->offer.state_instance };
        ASSERT_OK(storvsp_device_new(&dc, &r->sd));
        struct scsi_lun_config lc;
        scsi_lun_config_init(&lc, SECTORS, 512);
        vmwp_ide_disk_serial(&vm_id, SLOT, lc.serial, sizeof lc.serial);
        lc.naa_id = vmwp_ide_disk_naa(&vm_id, SLOT);
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(r->sd), 0, r->disk, &lc));
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .class_id = &ide_class,
                                          .instance_id = r->offer.instance, .data = r->sd,
                                          .user_def = (const uint8_t *)&r->offer.props,
                                          .user_def_len = sizeof r->offer.props };
        ASSERT_OK(vmbus_server_add_device(r->srv, &vc, NULL));
}

static void rig_up(struct rig *r) {
        memset(r, 0, sizeof *r);
        snprintf(r->path, sizeof r->path, "/tmp/test-storvsp-ide-XXXXXX");
        int fd = mkstemp(r->path);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, SECTORS * 512), 0);
        close(fd);
        struct disk_options o = { .path = r->path, .fd = -1, .block_size = 512 };
        ASSERT_OK(disk_open(&o, &r->disk));
        /* the emulated controller on its service thread */
        ASSERT_OK(emu_service_new(&svc));
        ASSERT_OK(ide_new(&ide_ops, NULL, &r->ide));
        struct ata_identity id = { .model = "Virtual HD", .firmware = "F", .device1 = true };
        vmwp_ide_disk_serial(&vm_id, SLOT, id.serial, sizeof id.serial); /* as vm-emu.c names it */
        ASSERT_OK(ide_attach(r->ide, SLOT, r->disk, &id));
        ide_bm_claimed(r->ide, 0xc000);
        ide_set_decode(r->ide, true, true, true, true, 0xc000);
        ASSERT_OK(ide_backend_attach(r->ide, svc, NULL));
        ASSERT_OK(emu_service_start(svc));
        /* the VMBus server with the IDE channel, and the guest's client */
        ASSERT_OK(storvsp_ide_offer(CH, SLOT % 2, &r->offer));
        ASSERT_OK(vmbus_sim_new(16u << 20, 2, &r->sim));
        struct vmbus_server_config cfg = { .vp_count = 2 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r->sim, &r->srv));
        offer_channel(r);
        r->br.sim = r->sim;
        ASSERT_EQ(br_bus_up(&r->br, &r->bus), 1);
        r->data = bridge_ops.alloc_pages(&r->br, 16);
        ASSERT_NOT_NULL(r->data);
}

static void rig_down(struct rig *r) {
        ASSERT_OK(vsc_stor_close(&r->s));
        ASSERT_OK(vsc_unload(&r->bus));
        vsc_hv_disable(&r->bus);
        vmbus_server_free(r->srv); /* destroys the device */
        ASSERT_EQ(vmbus_sim_live_mappings(r->sim), 0u);
        vmbus_sim_free(r->sim);
        emu_service_free(svc); /* drains the IDE backend, releases the disk */
        ide_free(r->ide);
        disk_unref(r->disk);
        unlink(r->path);
}

/* One command through the client at (path 0, target, lun 0). */
static void exec_at(struct rig *r, uint8_t target, struct vsc_stor_cmd *c, struct vsc_stor_result *res) {
        c->path_id = 0;
        c->target_id = target;
        c->lun = 0;
        ASSERT_OK(vsc_stor_exec(&r->s, c, res));
}

static void vmbus_rw(struct rig *r, bool write, uint32_t lba, uint32_t n) {
        struct vsc_stor_cmd c = { .dir = write ? VSC_STOR_DIR_OUT : VSC_STOR_DIR_IN, .buf = r->data, .len = n * 512 };
        struct vsc_stor_result res;
        c.cdb_len = vsc_scsi_rw(c.cdb, write, lba, n, false, false);
        exec_at(r, (uint8_t)r->s.ide_target, &c, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_EQ(res.data_len, n * 512);
}

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
}

/* READ/WRITE DMA EXT of n (<= 128) sectors at lba on the emulated
 * controller, device 1 of channel CH, one PRD entry at RAM 0x1000 for
 * the buffer at 0x10000; waits for its interrupt. */
static void ide_dma(struct rig *r, bool write, uint32_t lba, uint32_t n) {
        unsigned edges = atomic_load(&ide_edges[CH]), bm = 8 * CH;
        uint32_t prd[2] = { 0x10000, (n * 512) | BM_PRD_EOT };
        memcpy(ram + 0x1000, prd, sizeof prd);
        ide_bm_write(r->ide, bm + 2, 1, BM_STS_INTR | BM_STS_ERROR);
        ide_bm_write(r->ide, bm + 4, 4, 0x1000);
        uint32_t dir = write ? 0 : BM_CMD_WRITE_MEM;
        ide_bm_write(r->ide, bm, 1, dir);
        ide_cmd_write(r->ide, CH, 6, 1, 0x50); /* LBA, device 1 */
        ide_cmd_write(r->ide, CH, 2, 1, 0);    /* HOB count, then the low byte */
        ide_cmd_write(r->ide, CH, 2, 1, n);
        for (unsigned reg = 3; reg <= 5; reg++) {
                ide_cmd_write(r->ide, CH, reg, 1, 0); /* HOB: lba < 2^24 */
                ide_cmd_write(r->ide, CH, reg, 1, (lba >> (8 * (reg - 3))) & 0xff);
        }
        ide_cmd_write(r->ide, CH, 7, 1, write ? ATA_CMD_WRITE_DMA_EXT : ATA_CMD_READ_DMA_EXT);
        ide_bm_write(r->ide, bm, 1, dir | BM_CMD_START);
        for (int i = 0; i < 10000 && atomic_load(&ide_edges[CH]) == edges; i++)
                sleep_ms(1);
        ASSERT_GT(atomic_load(&ide_edges[CH]), edges);
        ASSERT_EQ(ide_cmd_read(r->ide, CH, 7, 1), 0x50u); /* DRDY|DSC: no error */
        ide_bm_write(r->ide, bm, 1, 0);
}

static void fill(uint8_t *p, uint32_t len, uint8_t seed) {
        for (uint32_t i = 0; i < len; i++)
                p[i] = (uint8_t)(i * 31u + seed + (i >> 9));
}

static void expect_filled(const uint8_t *p, uint32_t len, uint8_t seed) {
        for (uint32_t i = 0; i < len; i++)
                if (p[i] != (uint8_t)(i * 31u + seed + (i >> 9)))
                        ASSERT_EQ(p[i], (uint8_t)(i * 31u + seed + (i >> 9)));
}

/* The client finds the IDE offer as Linux's storvsc does and completes
 * the handshake: no sub-channels on an IDE channel. */
static void client_open(struct rig *r) {
        static const uint8_t ide_class[16] = HV_IDE_GUID;
        const struct vsc_offer *o = vsc_find_offer(&r->bus, ide_class, 0);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(memcmp(o->if_instance, r->offer.instance.b, 16), 0);
        ASSERT_EQ(memcmp(o->user_def, &r->offer.props, sizeof r->offer.props), 0);
        ASSERT_OK(vsc_stor_open(&r->s, &r->bus, o));
        ASSERT_TRUE(r->s.ide);
        ASSERT_EQ(r->s.ide_target, SLOT % 2);
        ASSERT_OK(vsc_stor_init(&r->s));
        ASSERT_FALSE(r->s.props.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
        ASSERT_EQ(vsc_stor_open_subchannels(&r->s, 3), 0);
}

/* scsi_add_device(host, 0, target, 0)'s probe: a disk at the IDE
 * position, nothing at the other target. */
static void probe(struct rig *r) {
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = r->data, .len = 36 };
        struct vsc_stor_result res;
        struct vsc_scsi_inquiry inq;
        c.cdb_len = vsc_scsi_inquiry(c.cdb, false, 0, 36);
        exec_at(r, SLOT % 2, &c, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_OK(vsc_scsi_parse_inquiry(r->data, res.data_len, &inq));
        ASSERT_EQ(inq.qualifier, 0);
        ASSERT_EQ(inq.device_type, 0); /* direct-access block device */
        exec_at(r, 1 - SLOT % 2, &c, &res);
        ASSERT_OK(vsc_scsi_parse_inquiry(r->data, res.data_len, &inq));
        ASSERT_EQ(inq.qualifier, 3); /* not a device at the other position */
        c.len = 32;
        c.cdb_len = vsc_scsi_read_capacity16(c.cdb, 32);
        exec_at(r, SLOT % 2, &c, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        struct vsc_scsi_capacity cap;
        ASSERT_OK(vsc_scsi_parse_capacity16(r->data, res.data_len, &cap));
        ASSERT_EQ(cap.blocks, (uint64_t)SECTORS);
        ASSERT_EQ(cap.block_size, 512u);
        /* VPD 80h: the serial of the emulated disk's IDENTIFY */
        char serial[33];
        vmwp_ide_disk_serial(&vm_id, SLOT, serial, sizeof serial);
        c.len = 64;
        c.cdb_len = vsc_scsi_inquiry(c.cdb, true, 0x80, 64);
        exec_at(r, SLOT % 2, &c, &res);
        ASSERT_TRUE(vsc_stor_result_ok(&res));
        ASSERT_EQ(r->data[1], 0x80);
        ASSERT_EQ(r->data[3], strlen(serial));
        ASSERT_EQ(memcmp(r->data + 4, serial, strlen(serial)), 0);
        /* a read at the other target finds no LUN */
        c.len = 512;
        c.cdb_len = vsc_scsi_rw(c.cdb, false, 0, 1, false, false);
        exec_at(r, 1 - SLOT % 2, &c, &res);
        ASSERT_EQ(res.srb_status, SRB_STATUS_INVALID_LUN);
}

TEST(vmbus_and_emulated_ide_share_the_disk) {
        struct rig r;
        rig_up(&r);
        client_open(&r);
        probe(&r);
        /* the kernel writes through VMBus; the boot loader reads through IDE */
        fill(r.data, 64 * 512, 0x11);
        vmbus_rw(&r, true, 100, 64);
        memset(ram + 0x10000, 0, 64 * 512);
        ide_dma(&r, false, 100, 64);
        expect_filled(ram + 0x10000, 64 * 512, 0x11);
        /* and the other way round */
        fill(ram + 0x10000, 32 * 512, 0x5a);
        ide_dma(&r, true, 500, 32);
        memset(r.data, 0, 32 * 512);
        vmbus_rw(&r, false, 500, 32);
        expect_filled(r.data, 32 * 512, 0x5a);
        /* the image holds both */
        int fd = open(r.path, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        static uint8_t img[64 * 512];
        ASSERT_EQ(pread(fd, img, 64 * 512, 100 * 512), (ssize_t)(64 * 512));
        expect_filled(img, 64 * 512, 0x11);
        ASSERT_EQ(pread(fd, img, 32 * 512, 500 * 512), (ssize_t)(32 * 512));
        expect_filled(img, 32 * 512, 0x5a);
        close(fd);
        ASSERT_EQ(r.s.stats.bad_packets, 0ull);
        rig_down(&r);
}

/* ---- saved state ---- */

static int save_rig(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        struct rig *r = opaque;
        int k = vmbus_server_save(r->srv, w, err, errlen);
        return k < 0 ? k : storvsp_device_save(r->sd, w, err, errlen);
}

static int restore_rig(struct rig *r, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        int k = vmbus_server_restore(r->srv, secs, n, err, errlen);
        return k < 0 ? k : storvsp_device_restore(r->sd, secs, n, err, errlen);
}

/* The channel of a running guest saved (the server's VBCH with the IDE
 * class and instance, the controller's STCT at the IDE instance, the
 * channel's STCH) and restored into a new server and device as a new
 * worker builds them: the guest's client carries on on its open channel.
 * A device at another IDE location finds no section of its own. */
TEST(ide_channel_saved_and_restored) {
        struct rig r;
        rig_up(&r);
        client_open(&r);
        fill(r.data, 8 * 512, 0x77);
        vmbus_rw(&r, true, 40, 8);
        ASSERT_OK(storvsp_device_quiesce(r.sd));
        ASSERT_OK(vmbus_server_quiesce(r.srv));
        static struct vmstate_section secs[32];
        uint8_t *map;
        size_t len;
        int n = vmstate_test_save(save_rig, &r, &map, &len, secs, ARRAY_SIZE(secs));
        ASSERT_GT(n, 0);
        ASSERT_NOT_NULL(vmstate_find(secs, (size_t)n, STORVSP_CONTROLLER_STATE_TAG, r.offer.state_instance));
        ASSERT_NULL(vmstate_find(secs, (size_t)n, STORVSP_CONTROLLER_STATE_TAG, 0)); /* not a SCSI controller's */
        vmbus_server_free(r.srv); /* the old worker ends */
        char err[256] = "";
        /* a worker whose IDE disk sits elsewhere: refused */
        struct vmbus_server_config cfg = { .vp_count = 2 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r.sim, &r.srv));
        struct storvsp_ide_offer here = r.offer;
        ASSERT_OK(storvsp_ide_offer(0, 0, &r.offer));
        offer_channel(&r);
        ASSERT_LT(restore_rig(&r, secs, (size_t)n, err, sizeof err), 0);
        ASSERT_EQ(storvsp_device_restore(r.sd, secs, (size_t)n, err, sizeof err), -EINVAL);
        ASSERT_STREQ(err, "the state has no STCT section for the IDE channel of disk 0:0");
        vmbus_server_free(r.srv);
        /* the same configuration: restored */
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r.sim, &r.srv));
        r.offer = here;
        offer_channel(&r);
        err[0] = 0;
        if (restore_rig(&r, secs, (size_t)n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        munmap(map, len);
        vmbus_server_resume(r.srv);
        storvsp_device_resume(r.sd);
        memset(r.data, 0, 8 * 512);
        vmbus_rw(&r, false, 40, 8);
        expect_filled(r.data, 8 * 512, 0x77);
        memset(ram + 0x10000, 0, 8 * 512);
        ide_dma(&r, false, 40, 8);
        expect_filled(ram + 0x10000, 8 * 512, 0x77);
        rig_down(&r);
}

TEST_MAIN();
