// SPDX-License-Identifier: MIT
/* The storvsp core end to end without VMBus: packets built the way Linux
 * storvsc builds them (fact sheet §6.3-6.8) go into a channel; guest memory
 * is a private arena; disks are temporary image files. Covers the init
 * handshake, discovery commands, zero-copy reads and writes through guest
 * pages, absent LUNs, hot add/remove, several channels, bus reset with I/O
 * in flight, the in-flight limit, bad guest memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "common/test.h"
#include "hv/storvsc.h"
#include "hv/vmbus.h"
#include "storvsp/protocol.h"
#include "storvsp/storvsp.h"

#define ARENA_PAGES 1024u /* 4 MiB of "guest RAM" */

static uint8_t *arena;
static char dir[256];

static int arena_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        (void)opaque;
        if (gpa >= ARENA_PAGES * 4096ull || len > ARENA_PAGES * 4096ull - gpa)
                return -EFAULT;
        *host = arena + gpa;
        return 0;
}

static const struct storvsp_guest_memory gm = { arena_map, NULL };

static void setup(void) {
        if (!arena)
                ASSERT_EQ(posix_memalign((void **)&arena, 4096, ARENA_PAGES * 4096), 0);
        memset(arena, 0, ARENA_PAGES * 4096);
        if (!dir[0]) {
                const char *base = getenv("VM_BUILD_DIR");
                snprintf(dir, sizeof dir, "%s/test-storvsp-XXXXXX", base ? base : "/var/tmp");
                ASSERT_NOT_NULL(mkdtemp(dir));
        }
}

static struct disk *make_disk(const char *name, uint64_t size, uint32_t bs, bool ro) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, (off_t)size), 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .read_only = ro, .block_size = bs };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        return d;
}

/* ---- packets as storvsc sends them ---- */

static uint8_t pkt[4096];

static size_t control_packet(uint32_t op, uint16_t arg) {
        struct vstor_packet v = { .operation = op, .flags = REQUEST_COMPLETION_FLAG };
        if (op == VSTOR_OPERATION_QUERY_PROTOCOL_VERSION)
                v.version.major_minor = arg;
        if (op == VSTOR_OPERATION_CREATE_SUB_CHANNELS)
                v.sub_channel_count = arg;
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 10, .flags = 1,
                                         .trans_id = op == VSTOR_OPERATION_RESET_BUS ? VMBUS_RQST_RESET
                                                                                     : VMBUS_RQST_INIT };
        memcpy(pkt, &d, 16);
        memcpy(pkt + 16, &v, 64);
        return 80;
}

/* An SRB for LUN lun with a buffer of len bytes at guest address gpa
 * (GPA-direct, one range, like vmbus_sendpacket_mpb_desc), or inband. */
static size_t srb_packet(uint64_t trans_id, uint8_t lun, const uint8_t *cdb, uint8_t cdb_len, uint8_t data_in,
                         uint64_t gpa, uint32_t len) {
        struct vstor_packet v = { .operation = VSTOR_OPERATION_EXECUTE_SRB, .flags = REQUEST_COMPLETION_FLAG };
        v.vm_srb.length = 0x34;
        v.vm_srb.lun = lun;
        v.vm_srb.cdb_length = cdb_len;
        v.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
        v.vm_srb.data_in = data_in;
        v.vm_srb.data_transfer_length = len;
        memcpy(v.vm_srb.cdb, cdb, cdb_len);
        if (len == 0) {
                struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 10, .flags = 1,
                                                 .trans_id = trans_id };
                memcpy(pkt, &d, 16);
                memcpy(pkt + 16, &v, 64);
                return 80;
        }
        uint32_t off = (uint32_t)(gpa & 4095), n = (off + len + 4095) / 4096;
        size_t hdr = 32 + 8 * (size_t)n;
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = (uint16_t)(hdr / 8),
                                         .len8 = (uint16_t)((hdr + 64) / 8), .flags = 1, .trans_id = trans_id };
        uint32_t one = 1;
        memset(pkt, 0, hdr);
        memcpy(pkt, &d, 16);
        memcpy(pkt + 20, &one, 4);
        memcpy(pkt + 24, &len, 4);
        memcpy(pkt + 28, &off, 4);
        for (uint32_t i = 0; i < n; i++) {
                uint64_t pfn = (gpa >> 12) + i;
                memcpy(pkt + 32 + 8 * i, &pfn, 8);
        }
        memcpy(pkt + hdr, &v, 64);
        return hdr + 64;
}

struct srb_out {
        uint8_t srb_status, scsi_status, sense_len, asc;
        uint32_t status, dtl;
        uint64_t trans_id;
};

static void decode(const struct storvsp_reply *r, struct srb_out *o) {
        struct vmpacket_descriptor d;
        struct vstor_packet v;
        ASSERT_EQ(r->len, (size_t)80);
        memcpy(&d, r->data, 16);
        memcpy(&v, r->data + 16, 64);
        ASSERT_EQ(d.type, VM_PKT_COMP);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_COMPLETE_IO);
        *o = (struct srb_out){ v.vm_srb.srb_status, v.vm_srb.scsi_status, v.vm_srb.sense_info_length,
                               v.vm_srb.sense_data[12], v.status, v.vm_srb.data_transfer_length, d.trans_id };
}

/* Sends one packet; returns the decoded reply (waiting for I/O if queued). */
static void send(struct storvsp_channel *ch, size_t len, struct srb_out *o) {
        struct storvsp_reply r;
        int k = storvsp_channel_handle(ch, pkt, len, &r);
        ASSERT_GE(k, STORVSP_REPLY);
        if (k == STORVSP_QUEUED) {
                ASSERT_EQ(storvsp_channel_submit(ch), 1);
                ASSERT_EQ(storvsp_channel_reap(ch, &r, 1, 1), 1);
        }
        decode(&r, o);
}

static uint32_t control(struct storvsp_channel *ch, uint32_t op, uint16_t arg, struct storvsp_reply *r) {
        ASSERT_EQ(storvsp_channel_handle(ch, pkt, control_packet(op, arg), r), STORVSP_REPLY);
        struct vstor_packet v;
        memcpy(&v, r->data + 16, 64);
        return v.status;
}

/* The Linux 6.1 sequence (§6.3), WIN10 refused once to check the fallback. */
static void handshake(struct storvsp_channel *ch, uint16_t sub_channels_wanted, uint16_t *offered) {
        struct storvsp_reply r;
        ASSERT_EQ(control(ch, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0, &r), 0u);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, 0x0700, &r), STORVSC_STATUS_REVISION_MISMATCH);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, VMSTOR_PROTO_VERSION_WIN10, &r), 0u);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_QUERY_PROPERTIES, 0, &r), 0u);
        uint32_t max_xfer;
        memcpy(&max_xfer, r.data + 16 + 24, 4);
        ASSERT_EQ(max_xfer, STORVSP_DEFAULT_MAX_TRANSFER);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_END_INITIALIZATION, 0, &r), 0u);
        if (sub_channels_wanted) {
                ASSERT_EQ(control(ch, VSTOR_OPERATION_CREATE_SUB_CHANNELS, sub_channels_wanted, &r), 0u);
                *offered = r.new_sub_channels;
        }
}

static const uint8_t cdb_inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
static const uint8_t cdb_report_luns[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
static const uint8_t cdb_tur[6] = { 0 };

TEST(handshake_order_and_states) {
        setup();
        struct storvsp_controller *c;
        struct storvsp_controller_config cfg = { .max_sub_channels = 3 };
        ASSERT_OK(storvsp_controller_new(&cfg, &c));
        struct storvsp_channel *ch, *sub;
        ASSERT_OK(storvsp_channel_new(c, 0, &gm, &ch));
        ASSERT_OK(storvsp_channel_new(c, 1, &gm, &sub));
        struct storvsp_reply r;
        struct srb_out o;
        /* before the handshake: SRBs and out-of-order steps are refused */
        ASSERT_EQ(control(ch, VSTOR_OPERATION_QUERY_PROPERTIES, 0, &r), STORVSC_STATUS_INVALID_DEVICE_STATE);
        send(ch, srb_packet(5, 0, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.status, STORVSC_STATUS_INVALID_DEVICE_STATE);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_REQUEST); /* not a silent success */
        ASSERT_EQ(control(sub, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0, &r), STORVSC_STATUS_INVALID_DEVICE_STATE);
        ASSERT_FALSE(storvsp_controller_is_ready(c));
        uint16_t offered = 0;
        handshake(ch, 2, &offered);
        ASSERT_EQ(offered, 2);
        ASSERT_TRUE(storvsp_controller_is_ready(c));
        ASSERT_EQ(storvsp_controller_version(c), (uint16_t)VMSTOR_PROTO_VERSION_WIN10);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 5, &r), STORVSC_STATUS_INVALID_PARAMETER);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 3, &r), 0u);
        ASSERT_EQ(r.new_sub_channels, 1); /* one more than before */
        ASSERT_EQ(control(ch, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0, &r), STORVSC_STATUS_INVALID_DEVICE_STATE);
        /* sub-channels serve SRBs once the controller is ready */
        send(sub, srb_packet(6, 0, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_LUN); /* nothing attached */
        ASSERT_EQ(o.trans_id, 6ull);
        /* operations a guest never sends, or that do not exist */
        ASSERT_EQ(control(ch, VSTOR_OPERATION_COMPLETE_IO, 0, &r), STORVSC_STATUS_INVALID_DEVICE_REQUEST);
        ASSERT_EQ(control(ch, VSTOR_OPERATION_ENUMERATE_BUS, 0, &r), STORVSC_STATUS_INVALID_DEVICE_REQUEST);
        ASSERT_EQ(control(ch, 99, 0, &r), STORVSC_STATUS_INVALID_DEVICE_REQUEST);
        /* a packet that is not storvsc at all */
        ASSERT_ERROR(storvsp_channel_handle(ch, pkt, 12, &r), EBADMSG);
        /* a truncated SRB after the handshake: refused with a whole 64-byte
         * vstor_packet (Linux drops shorter completions), not a mirrored 48 */
        ASSERT_EQ(srb_packet(7, 0, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), (size_t)80);
        struct vmpacket_descriptor d;
        memcpy(&d, pkt, sizeof d);
        d.len8 = 3; /* 8 bytes of vstor_packet */
        memcpy(pkt, &d, sizeof d);
        ASSERT_EQ(storvsp_channel_handle(ch, pkt, 24, &r), STORVSP_REPLY);
        decode(&r, &o);
        ASSERT_EQ(o.trans_id, 7ull);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_REQUEST);
        /* closing the primary channel restarts the protocol */
        storvsp_channel_free(sub);
        storvsp_channel_free(ch);
        ASSERT_FALSE(storvsp_controller_is_ready(c));
        ASSERT_OK(storvsp_channel_new(c, 0, &gm, &ch));
        handshake(ch, 0, NULL);
        storvsp_channel_free(ch);
        storvsp_controller_free(c);
}

TEST(discovery_and_io) {
        setup();
        struct storvsp_controller *c;
        ASSERT_OK(storvsp_controller_new(NULL, &c));
        struct disk *d0 = make_disk("lun0.img", 8 << 20, 512, false), *d5 = make_disk("lun5.img", 4 << 20, 4096, true);
        ASSERT_OK(storvsp_controller_attach(c, 0, d0, NULL));
        ASSERT_OK(storvsp_controller_attach(c, 5, d5, NULL));
        ASSERT_FALSE(storvsp_controller_rescan_due(c)); /* not before the handshake */
        ASSERT_ERROR(storvsp_controller_attach(c, 5, d0, NULL), EEXIST);
        disk_unref(d0);
        disk_unref(d5);
        struct storvsp_channel *ch;
        ASSERT_OK(storvsp_channel_new(c, 0, &gm, &ch));
        handshake(ch, 0, NULL);
        struct srb_out o;

        send(ch, srb_packet(10, 0, cdb_inquiry, 6, READ_TYPE, 0x1000, 36), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        ASSERT_EQ(o.dtl, 36u);
        ASSERT_MEMEQ(arena + 0x1000 + 8, "Msft    Virtual Disk", 20);
        /* REPORT LUNS to LUN 0 of target 0 lists 0 and 5 */
        send(ch, srb_packet(11, 0, cdb_report_luns, 12, READ_TYPE, 0x2000, 4096), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        ASSERT_EQ(o.dtl, 24u);
        ASSERT_EQ(arena[0x2000 + 3], 16);
        ASSERT_EQ(arena[0x2000 + 17], 5);
        /* absent LUN: INQUIRY says PQ 3, anything else is INVALID_LUN */
        send(ch, srb_packet(12, 7, cdb_inquiry, 6, READ_TYPE, 0x3000, 36), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        ASSERT_EQ(arena[0x3000], 0x7f);
        send(ch, srb_packet(13, 7, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_LUN);
        ASSERT_EQ(o.status, STORVSC_STATUS_DEVICE_DOES_NOT_EXIST);

        /* write 64 KiB from guest pages starting mid-page, read back elsewhere */
        for (unsigned i = 0; i < 65536; i++)
                arena[0x10200 + i] = (uint8_t)(i * 7 + 3);
        const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 16, 0, 0, 128, 0 };
        send(ch, srb_packet(14, 0, w10, 10, WRITE_TYPE, 0x10200, 65536), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        ASSERT_EQ(o.dtl, 65536u);
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 128, 0 };
        send(ch, srb_packet(15, 0, r10, 10, READ_TYPE, 0x40000, 65536), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        ASSERT_MEMEQ(arena + 0x40000, arena + 0x10200, 65536);
        /* SYNCHRONIZE CACHE goes to the disk and completes */
        const uint8_t sync10[10] = { 0x35 };
        send(ch, srb_packet(16, 0, sync10, 10, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        /* out of range: CHECK CONDITION with autosense */
        const uint8_t past[10] = { 0x28, 0, 0, 0, 0x40, 0, 0, 0, 1, 0 };
        send(ch, srb_packet(17, 0, past, 10, READ_TYPE, 0x40000, 512), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
        ASSERT_EQ(o.scsi_status, 2);
        ASSERT_EQ(o.sense_len, 18);
        ASSERT_EQ(o.asc, 0x21);
        /* read-only LUN 5 (4096-byte blocks): reads work, writes are refused */
        const uint8_t r10b[10] = { 0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0 };
        send(ch, srb_packet(18, 5, r10b, 10, READ_TYPE, 0x50000, 8192), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        const uint8_t w10b[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 2, 0 };
        send(ch, srb_packet(19, 5, w10b, 10, WRITE_TYPE, 0x50000, 8192), &o);
        ASSERT_EQ(o.asc, 0x27);
        /* the SRB's direction must match the CDB's */
        send(ch, srb_packet(20, 0, r10, 10, WRITE_TYPE, 0x40000, 65536), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_REQUEST);
        /* a guest page outside RAM */
        send(ch, srb_packet(21, 0, r10, 10, READ_TYPE, (uint64_t)ARENA_PAGES * 4096 - 4096, 65536), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_REQUEST);
        struct storvsp_channel_stats st;
        storvsp_channel_get_stats(ch, &st);
        ASSERT_EQ(st.disk.bounced, 0ull); /* guest pages went to the disk directly */
        ASSERT_GE(st.io, 4ull);
        storvsp_channel_free(ch);
        storvsp_controller_free(c);
}

TEST(mode_select_and_unmap_through_guest_memory) {
        setup();
        struct storvsp_controller *c;
        ASSERT_OK(storvsp_controller_new(NULL, &c));
        struct disk *d = make_disk("unmap.img", 4 << 20, 4096, false);
        ASSERT_OK(storvsp_controller_attach(c, 0, d, NULL));
        struct disk_info info;
        disk_get_info(d, &info);
        disk_unref(d);
        struct storvsp_channel *ch;
        ASSERT_OK(storvsp_channel_new(c, 0, &gm, &ch));
        handshake(ch, 0, NULL);
        struct srb_out o;
        /* MODE SELECT caching page with WCE = 0, parameter list in guest memory */
        const uint8_t sel[6] = { 0x15, 0x10, 0, 0, 24, 0 };
        memset(arena + 0x6000, 0, 24);
        arena[0x6000 + 4] = 0x08;
        arena[0x6000 + 5] = 0x12;
        send(ch, srb_packet(30, 0, sel, 6, WRITE_TYPE, 0x6000, 24), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        const uint8_t sense[6] = { 0x1a, 0x08, 0x08, 0, 255, 0 };
        send(ch, srb_packet(31, 0, sense, 6, READ_TYPE, 0x7000, 255), &o);
        ASSERT_EQ(arena[0x7000 + 6], 0x00); /* WCE now 0 */
        if (info.discard) {
                /* UNMAP one 4 KiB block after writing it */
                memset(arena + 0x8000, 0xab, 4096);
                const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 3, 0, 0, 1, 0 };
                send(ch, srb_packet(32, 0, w10, 10, WRITE_TYPE, 0x8000, 4096), &o);
                ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
                uint8_t *p = arena + 0x9000;
                memset(p, 0, 24);
                p[1] = 22;
                p[3] = 16;
                p[8 + 7] = 3;  /* LBA 3 */
                p[8 + 11] = 1; /* 1 block */
                const uint8_t unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
                send(ch, srb_packet(33, 0, unmap, 10, WRITE_TYPE, 0x9000, 24), &o);
                ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
                const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0 };
                send(ch, srb_packet(34, 0, r10, 10, READ_TYPE, 0xa000, 4096), &o);
                for (unsigned i = 0; i < 4096; i++)
                        ASSERT_EQ(arena[0xa000 + i], 0);
        }
        storvsp_channel_free(ch);
        storvsp_controller_free(c);
}

TEST(hot_add_remove) {
        setup();
        struct storvsp_controller *c;
        ASSERT_OK(storvsp_controller_new(NULL, &c));
        struct storvsp_channel *ch;
        ASSERT_OK(storvsp_channel_new(c, 0, &gm, &ch));
        handshake(ch, 0, NULL);
        struct srb_out o;
        send(ch, srb_packet(40, 2, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_LUN);
        ASSERT_FALSE(storvsp_controller_rescan_due(c));
        struct disk *d = make_disk("hot.img", 1 << 20, 512, false);
        ASSERT_OK(storvsp_controller_attach(c, 2, d, NULL));
        ASSERT_TRUE(storvsp_controller_rescan_due(c)); /* hot add: tell the guest */
        ASSERT_FALSE(storvsp_controller_rescan_due(c)); /* once */
        /* the rescan notification the provider sends */
        uint8_t enumerate[STORVSC_MAX_PKT_SIZE];
        ASSERT_EQ(storvsp_build_enumerate_bus(enumerate), (size_t)80);
        send(ch, srb_packet(41, 2, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        /* I/O in flight survives the removal; new commands see INVALID_LUN */
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        struct storvsp_reply r;
        ASSERT_EQ(storvsp_channel_handle(ch, pkt, srb_packet(42, 2, r10, 10, READ_TYPE, 0x1000, 4096), &r),
                  STORVSP_QUEUED);
        ASSERT_OK(storvsp_controller_detach(c, 2));
        ASSERT_ERROR(storvsp_controller_detach(c, 2), ENOENT);
        ASSERT_TRUE(storvsp_controller_rescan_due(c));
        ASSERT_EQ(storvsp_channel_submit(ch), 1);
        send(ch, srb_packet(43, 2, cdb_tur, 6, UNKNOWN_TYPE, 0, 0), &o);
        ASSERT_EQ(o.srb_status, SRB_STATUS_INVALID_LUN);
        ASSERT_EQ(storvsp_channel_reap(ch, &r, 1, 1), 1);
        decode(&r, &o);
        ASSERT_EQ(o.trans_id, 42ull);
        ASSERT_EQ(o.srb_status, SRB_STATUS_SUCCESS);
        /* the disk is free again once every user let go: it can be reopened writable */
        storvsp_channel_free(ch);
        disk_unref(d);
        char path[512];
        snprintf(path, sizeof path, "%s/hot.img", dir);
        struct disk_options opt = { .path = path, .fd = -1, .block_size = 512 };
        ASSERT_OK(disk_open(&opt, &d));
        disk_unref(d);
        storvsp_controller_free(c);
}

TEST(reset_bus_waits_and_queue_limit) {
        setup();
        struct storvsp_controller *c;
        struct storvsp_controller_config cfg = { .queue_depth = 4 };
        ASSERT_OK(storvsp_controller_new(&cfg, &c));
        struct disk *d = make_disk("reset.img", 1 << 20, 512, false);
        ASSERT_OK(storvsp_controller_attach(c, 0, d, NULL));
        disk_unref(d);
        struct storvsp_channel *ch;
        ASSERT_OK(storvsp_channel_new(c, 0, &gm, &ch));
        handshake(ch, 0, NULL);
        const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
        struct storvsp_reply r[8];
        for (unsigned i = 0; i < 4; i++) {
                ASSERT_TRUE(storvsp_channel_has_room(ch));
                ASSERT_EQ(storvsp_channel_handle(ch, pkt, srb_packet(100 + i, 0, r10, 10, READ_TYPE, 0x1000, 4096), &r[0]),
                          STORVSP_QUEUED);
        }
        ASSERT_FALSE(storvsp_channel_has_room(ch));
        /* the fifth waits in the ring */
        ASSERT_ERROR(storvsp_channel_handle(ch, pkt, srb_packet(104, 0, r10, 10, READ_TYPE, 0x1000, 4096), &r[0]),
                     EBUSY);
        ASSERT_EQ(storvsp_channel_handle(ch, pkt, control_packet(VSTOR_OPERATION_RESET_BUS, 0), &r[0]),
                  STORVSP_QUEUED);
        ASSERT_EQ(storvsp_channel_inflight(ch), 5u);
        ASSERT_EQ(storvsp_channel_submit(ch), 4);
        int got = 0;
        bool reset_seen = false;
        while (storvsp_channel_inflight(ch) > 0) {
                int n = storvsp_channel_reap(ch, r, 8, 1);
                ASSERT_GE(n, 0);
                for (int i = 0; i < n; i++) {
                        struct srb_out o;
                        decode(&r[i], &o);
                        if (o.trans_id == VMBUS_RQST_RESET) {
                                ASSERT_EQ(got, 4); /* only after the four reads */
                                reset_seen = true;
                        } else {
                                got++;
                        }
                }
        }
        ASSERT_TRUE(reset_seen);
        storvsp_channel_free(ch);
        storvsp_controller_free(c);
}

static void cleanup(void) {
        if (!dir[0])
                return;
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
