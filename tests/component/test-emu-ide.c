// SPDX-License-Identifier: MIT
/* The emulated IDE controller end to end: vmwp with an IDE disk and the
 * emu_ide tiny guest (tests/guests/emu_ide.S), which runs PIO (LBA28,
 * LBA48 above 2^28, READ/WRITE MULTIPLE), bus-master DMA with interrupts,
 * IDNF/ABRT, SRST, nIEN and FLUSH CACHE (EXT) and dumps its IDENTIFY data;
 * the host then checks the IDENTIFY block, the image's content, and reads
 * the same image through storvsp (the VMBus simulator's storvsc steps) to
 * find the same bytes. */
#include <errno.h>
#include <fcntl.h>

#include "common/macro.h"
#include "emu/ata.h"
#include "hv/storvsc.h"
#include "hv/vmbus.h"
#include "storvsp/provider.h"
#include "test-emu-harness.h"
#include "tests/guests/tinyguest.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

TINY_GUEST(emu_ide_elf);

/* Just above the 28-bit range, so the guest's LBA48 step lands beyond it. */
#define DISK_SECTORS (0x10000000ull + 0x100)

/* The guest's fill pattern (emu_ide.S "fill"). */
static uint8_t pattern(uint32_t i, uint32_t seed) {
        return (uint8_t)((i * 13u + seed) ^ (i >> 9));
}

static void check_pattern(const uint8_t *p, size_t len, uint32_t seed) {
        for (uint32_t i = 0; i < len; i++)
                if (p[i] != pattern(i, seed)) {
                        fprintf(stderr, "byte %u: 0x%02x, want 0x%02x (seed 0x%x)\n", i, p[i], pattern(i, seed), seed);
                        ASSERT_EQ(p[i], pattern(i, seed));
                }
}

static char serial[16384];
static char image[600];

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The "id <1024 hex digits>" line as 256 words. */
static void identify_words(uint16_t w[256]) {
        const char *p = strstr(serial, "\nid ");
        ASSERT_NOT_NULL(p);
        p += 4;
        for (unsigned i = 0; i < 512; i++) {
                int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
                ASSERT_GE(hi, 0);
                ASSERT_GE(lo, 0);
                uint8_t b = (uint8_t)(hi << 4 | lo);
                if (i % 2)
                        w[i / 2] |= (uint16_t)(b << 8);
                else
                        w[i / 2] = b;
        }
}

static void ata_string(const uint16_t *w, size_t n_words, char *out) {
        for (size_t i = 0; i < n_words; i++)
                out[2 * i] = (char)(w[i] >> 8), out[2 * i + 1] = (char)w[i];
        out[2 * n_words] = 0;
}

static void check_identify(void) {
        uint16_t w[256];
        identify_words(w);
        ASSERT_EQ(w[0], 0x0040);
        char s[41];
        ata_string(&w[27], 20, s);
        ASSERT_STREQ(s, "Virtual HD                              ");
        ata_string(&w[23], 4, s);
        ASSERT_STREQ(s, "1.1.0   ");
        ata_string(&w[10], 10, s);
        ASSERT_STREQ(s, "571E0E6B1C3C5E4F-0  "); /* the VM id's first 8 bytes (wire order) and the slot */
        ASSERT_EQ(w[1], 16383);                    /* default CHS: 16383/16/63 */
        ASSERT_EQ(w[3], 16);
        ASSERT_EQ(w[6], 63);
        ASSERT_EQ(w[47], 0x8010);                  /* READ/WRITE MULTIPLE: up to 16 */
        ASSERT_EQ(w[49] & 0x0300, 0x0300);         /* LBA and DMA */
        ASSERT_EQ(w[59], 0x0100);                  /* multiple mode: off at power-on */
        ASSERT_EQ(w[60] | (uint32_t)w[61] << 16, 0x0fffffffu); /* LBA28 capacity, capped */
        ASSERT_EQ(w[63], 0x0007);                  /* multiword DMA 0-2, none selected yet */
        ASSERT_EQ(w[88], 0x003f);                  /* Ultra DMA 0-5 */
        ASSERT_EQ(w[80], 0x00f0);                  /* ATA/ATAPI-4..7 */
        ASSERT_EQ(w[82] & 0x0028, 0x0028);         /* write cache, power management */
        ASSERT_EQ(w[85] & 0x0020, 0x0020);         /* write cache enabled */
        ASSERT_EQ(w[83] & 0x3400, 0x3400);         /* FLUSH CACHE, FLUSH CACHE EXT, 48-bit */
        ASSERT_EQ(w[86] & 0x3400, 0x3400);
        uint64_t n48 = 0;
        for (int i = 3; i >= 0; i--)
                n48 = n48 << 16 | w[100 + i];
        ASSERT_EQ(n48, DISK_SECTORS);
        ASSERT_EQ(w[255] & 0xff, 0xa5);            /* integrity word: the bytes sum to 0 */
        uint8_t sum = 0;
        for (int i = 0; i < 256; i++)
                sum = (uint8_t)(sum + (w[i] & 0xff) + (w[i] >> 8));
        ASSERT_EQ(sum, 0);
}

/* Reads [lba, lba + n) of the image through storvsp: the simulated guest's
 * storvsc handshake, then READ(16). */
struct sp {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_sim_channel ch;
};

static int sim_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmbus_sim *s = opaque;
        if (gpa >= vmbus_sim_ram_size(s) || len > vmbus_sim_ram_size(s) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(s) + gpa;
        return 0;
}

static void sp_wait(struct sp *sp, struct vmbus_packet *p, struct vstor_packet *v) {
        static uint8_t buf[256];
        ASSERT_GT(vmbus_sim_ring_wait(sp->sim, &sp->ch, buf, sizeof buf, p, 5000), 0);
        memcpy(v, vmbus_packet_payload(p), sizeof *v);
}

static void sp_control(struct sp *sp, uint32_t op, uint16_t arg) {
        struct vstor_packet v = { .operation = op, .flags = REQUEST_COMPLETION_FLAG };
        if (op == VSTOR_OPERATION_QUERY_PROTOCOL_VERSION)
                v.version.major_minor = arg;
        ASSERT_OK(vmbus_sim_ring_write(sp->sim, &sp->ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       1, &v, sizeof v));
        struct vmbus_packet p;
        sp_wait(sp, &p, &v);
        ASSERT_EQ(v.status, 0u);
}

static void sp_open(struct sp *sp) {
        *sp = (struct sp){ 0 };
        ASSERT_OK(vmbus_sim_new(8u << 20, 1, &sp->sim));
        struct vmbus_server_config cfg = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, sp->sim, &sp->srv));
        struct storvsp_device_config dc = { .controller = { .queue_depth = 8 }, .gm = { sim_map, sp->sim } };
        struct storvsp_device *dev;
        ASSERT_OK(storvsp_device_new(&dc, &dev));
        struct disk_options o = { .path = image, .fd = -1, .block_size = 512, .read_only = true };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(dev), 0, d, NULL));
        disk_unref(d);
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = dev };
        ASSERT_OK(vmbus_server_add_device(sp->srv, &vc, NULL));
        ASSERT_EQ(vmbus_sim_connect(sp->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel offer[2];
        ASSERT_EQ(vmbus_sim_request_offers(sp->sim, offer, 2), 1);
        static const uint8_t props[24];
        ASSERT_EQ(vmbus_sim_open(sp->sim, offer[0].child_relid, offer[0].connection_id, 32, props, sizeof props, &sp->ch),
                  0);
        sp_control(sp, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0);
        sp_control(sp, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, VMSTOR_PROTO_VERSION_WIN10);
        sp_control(sp, VSTOR_OPERATION_QUERY_PROPERTIES, 0);
        sp_control(sp, VSTOR_OPERATION_END_INITIALIZATION, 0);
}

static void sp_close(struct sp *sp) {
        ASSERT_OK(vmbus_sim_close(sp->sim, &sp->ch));
        vmbus_server_free(sp->srv);
        vmbus_sim_free(sp->sim);
}

/* READ(16) of n blocks at lba, GPA-direct into guest pages; returns them. */
static const uint8_t *sp_read(struct sp *sp, uint64_t lba, uint32_t n) {
        uint32_t len = n * 512, pages = (len + 4095) / 4096;
        uint64_t pfn = vmbus_sim_alloc_pages(sp->sim, pages);
        ASSERT_NE(pfn, 0ull);
        uint8_t cdb[16] = { 0x88 };
        for (int i = 0; i < 8; i++)
                cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
        for (int i = 0; i < 4; i++)
                cdb[10 + i] = (uint8_t)(n >> (24 - 8 * i));
        struct vstor_packet v = { .operation = VSTOR_OPERATION_EXECUTE_SRB, .flags = REQUEST_COMPLETION_FLAG };
        v.vm_srb.length = sizeof v.vm_srb;
        v.vm_srb.cdb_length = 16;
        v.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
        v.vm_srb.data_in = READ_TYPE;
        v.vm_srb.data_transfer_length = len;
        memcpy(v.vm_srb.cdb, cdb, 16);
        uint8_t pkt[1024] = { 0 };
        size_t hdr = 32 + 8 * (size_t)pages;
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = (uint16_t)(hdr / 8),
                                         .len8 = (uint16_t)((hdr + 64) / 8),
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = 7 };
        memcpy(pkt, &d, sizeof d);
        uint32_t range[3] = { 1, len, 0 };
        memcpy(pkt + 20, range, sizeof range);
        for (uint32_t i = 0; i < pages; i++) {
                uint64_t p = pfn + i;
                memcpy(pkt + 32 + 8 * i, &p, 8);
        }
        memcpy(pkt + hdr, &v, sizeof v);
        ASSERT_OK(vmbus_sim_ring_write_raw(sp->sim, &sp->ch, pkt, hdr + 64, true));
        struct vmbus_packet p;
        sp_wait(sp, &p, &v);
        ASSERT_EQ(p.trans_id, 7ull);
        ASSERT_EQ(v.vm_srb.srb_status, SRB_STATUS_SUCCESS);
        return vmbus_sim_ram(sp->sim) + pfn * 4096;
}

static void host_read(uint64_t lba, void *buf, size_t len) {
        int fd = open(image, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(pread(fd, buf, len, (off_t)(lba * 512)), (ssize_t)len);
        close(fd);
}

/* The image and a configuration with it on the IDE controller; the
 * serial output goes to the log (appended: a restored worker goes on). */
static const char *ide_setup(char *out, size_t outlen) {
        snprintf(image, sizeof image, "%s/ide.img", emu_dir);
        int fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, (off_t)(DISK_SECTORS * 512)), 0); /* sparse */
        close(fd);
        snprintf(out, outlen, "%s/serial.out", emu_dir);
        unlink(out);
        char extra[1600];
        snprintf(extra, sizeof extra, ",\"disks\":[{\"path\":\"%s\",\"bus\":\"ide\",\"lun\":0}],\"serial_log\":\"%s\"",
                 image, out);
        return emu_setup(tg_emu_ide_elf, tg_emu_ide_elf_len, extra);
}

static void run_guest(void) {
        char out[600], err[8192];
        const char *args[] = { "--config", ide_setup(out, sizeof out), "--serial", "none", NULL };
        struct vmwp_child c = emu_spawn(args);
        int status = vmwp_child_finish(&c, 240, err, sizeof err);
        test_read_file(out, serial, sizeof serial);
        if (status != 0)
                fprintf(stderr, "vmwp stderr:\n%s\nserial:\n%s\n", err, serial);
        ASSERT_EQ(status, 0);
        ASSERT_NOT_NULL(strstr(err, "powered off (ACPI S5)"));
}

/* The same guest saved and resumed in a new worker every ~150 ms until it
 * powers off (docs/vm-state.md): PIO transfers with data half read or
 * written, DMA with its PRD table, a reset in progress, the PCI function's
 * registers all carry over; the run must end exactly as an uninterrupted
 * one (same steps, same image). */
static unsigned run_guest_saved(void) {
        char out[600], state[700], json[4096];
        size_t n = test_read_file(ide_setup(out, sizeof out), json, sizeof json);
        ASSERT_GT(n, 0u);
        snprintf(state, sizeof state, "%s/ide.vmrs", emu_dir);
        const char *args[] = { "--control-fd", "3", NULL };
        int sv[2], progress, state_fd = -1;
        unsigned saves = 0;
        for (;;) {
                struct json_object *ev = NULL;
                int disk = open(image, O_RDWR | O_CLOEXEC); /* as vmms opens it */
                ASSERT_GE(disk, 0);
                struct vmwp_child c = vmwp_child_start_controlled(emu_vmwp, args, json, &disk, 1, state_fd, sv, &ev);
                close(disk);
                if (state_fd >= 0)
                        close(state_fd);
                if (ev) {
                        fprintf(stderr, "restore failed: %s\n", vmwp_ctl_str(ev, "reason"));
                        ASSERT_NULL(ev);
                }
                usleep(150 * 1000);
                state_fd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                ASSERT_GE(state_fd, 0);
                struct json_object *m = vmwp_ctl_save(sv[0], state_fd, &progress);
                char err[8192];
                if (!m || strcmp(vmwp_ctl_str(m, "ok"), "true")) { /* the guest powered off meanwhile */
                        json_object_put(m);
                        close(state_fd);
                        close(sv[0]);
                        int st = vmwp_child_finish(&c, 60, err, sizeof err);
                        if (st != 0)
                                fprintf(stderr, "after %u saves:\n%s\n", saves, err);
                        ASSERT_EQ(st, 0);
                        break;
                }
                json_object_put(m);
                saves++;
                json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":2}"));
                close(sv[0]);
                ASSERT_EQ(vmwp_child_finish(&c, 60, err, sizeof err), 14);
                ASSERT_EQ(lseek(state_fd, 0, SEEK_SET), 0);
        }
        test_read_file(out, serial, sizeof serial);
        return saves;
}

static void check_run(void) {
        static const char *const steps[] = { "pci ok\n",  "reset ok\n",    "identify ok\n", "lba28 ok\n",
                                             "idnf ok\n", "abort ok\n",    "lba48 ok\n",    "multiple ok\n",
                                             "dma ok\n",  "nien ok\n",     "flush ok\n",    "xcheck ok\n",
                                             "ide done\n" };
        for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
                if (!strstr(serial, steps[i]))
                        fprintf(stderr, "missing \"%.*s\" in:\n%s\n", (int)strlen(steps[i]) - 1, steps[i], serial);
                ASSERT_NOT_NULL(strstr(serial, steps[i]));
        }
        ASSERT_NULL(strstr(serial, "FAIL"));
        check_identify();

        /* The host's view of the image: what each step wrote, where. */
        static uint8_t buf[65536];
        host_read(1, buf, 1024);
        check_pattern(buf, 1024, 0x11);
        host_read(0x10000005, buf, 1536);
        check_pattern(buf, 1536, 0x48);
        host_read(16, buf, 5120);
        check_pattern(buf, 5120, 0x4d);
        host_read(100, buf, 8192);
        check_pattern(buf, 8192, 0x33);
        host_read(2048, buf, 65536);
        check_pattern(buf, 65536, 0x5a);

        /* The same image through storvsp: identical bytes. */
        struct sp sp;
        sp_open(&sp);
        const uint8_t *d = sp_read(&sp, 2048, 128);
        ASSERT_MEMEQ(d, buf, 65536);
        d = sp_read(&sp, 0x10000005, 3);
        check_pattern(d, 1536, 0x48);
        sp_close(&sp);
}

TEST(ide_guest_pio_dma_and_storvsp_view) {
        run_guest();
        check_run();
        fputs(serial, stdout);
        emu_cost(serial, "status", 1000);
        emu_cost(serial, "pio", 100);
        double dma = emu_cost(serial, "dma", 20);
        printf("cost: 64 KiB DMA reads: %.1f MB/s\n", 65536 / dma);
}

TEST(ide_guest_saved_and_resumed_throughout) {
        unsigned saves = run_guest_saved();
        printf("saved and resumed %u times during the run\n", saves);
        ASSERT_GT(saves, 0u);
        check_run();
}

EMU_TEST_MAIN()
