/* SPDX-License-Identifier: MIT */
/* Shared by tests/unit/test-storvsp-vmbus.c and test-storvsp-quiesce.c:
 * storvsp on a VMBus server over the simulated guest (vmbustest/sim.h), and the
 * guest's side of storvsc done by hand the way Linux does it (fact sheet
 * §6): OPENCHANNEL with storvsc's properties, the init handshake, EXECUTE_SRB
 * as GPA-direct packets (one range) or inband, and its completions. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/storvsc.h"
#include "hv/vmbus.h"
#include "storvsp/provider.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define STH_WAIT_MS 5000
#define STH_RING_PAGES 32 /* 128 KiB per ring, like storvsc (§6.1) */

/* storvsp_device_config.gm over the sim's RAM. */
static inline int sth_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        struct vmbus_sim *s = opaque;
        if (gpa >= vmbus_sim_ram_size(s) || len > vmbus_sim_ram_size(s) - gpa)
                return -EFAULT;
        *host = vmbus_sim_ram(s) + gpa;
        return 0;
}

/* A zeroed image of size bytes at dir/name, opened with 512-byte blocks. */
static inline struct disk *sth_disk(const char *dir, const char *name, off_t size) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, size), 0);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512 };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        return d;
}

static inline void sth_open(struct vmbus_sim *sim, const struct vmbus_channel_offer_channel *o,
                            struct vmbus_sim_channel *ch) {
        static const uint8_t props[24]; /* storvsc's OPENCHANNEL userdata (§6.1) */
        ASSERT_EQ(vmbus_sim_open(sim, o->child_relid, o->connection_id, STH_RING_PAGES, props, sizeof props, ch), 0);
}

/* Waits for one packet from the host; checks the §5.4 size limit. */
static inline void sth_wait_packet(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, struct vmbus_packet *p,
                                   struct vstor_packet *v) {
        static _Thread_local uint8_t buf[256];
        ASSERT_GT(vmbus_sim_ring_wait(sim, ch, buf, sizeof buf, p, STH_WAIT_MS), 0);
        ASSERT_LE(p->len, STORVSC_MAX_PKT_SIZE);
        ASSERT_EQ(vmbus_packet_payload_len(p), (uint32_t)sizeof *v);
        memcpy(v, vmbus_packet_payload(p), sizeof *v);
}

/* One control request on the ring (signalled); its completion's status. */
static inline uint32_t sth_control(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, uint32_t op, uint16_t arg) {
        struct vstor_packet v = { .operation = op, .flags = REQUEST_COMPLETION_FLAG };
        if (op == VSTOR_OPERATION_QUERY_PROTOCOL_VERSION)
                v.version.major_minor = arg;
        if (op == VSTOR_OPERATION_CREATE_SUB_CHANNELS)
                v.sub_channel_count = arg;
        ASSERT_OK(vmbus_sim_ring_write(sim, ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       VMBUS_RQST_INIT, &v, sizeof v));
        struct vmbus_packet p;
        sth_wait_packet(sim, ch, &p, &v);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.trans_id, VMBUS_RQST_INIT);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_COMPLETE_IO);
        return v.status;
}

static inline void sth_handshake(struct vmbus_sim *sim, struct vmbus_sim_channel *ch) {
        ASSERT_EQ(sth_control(sim, ch, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0), 0u);
        ASSERT_EQ(sth_control(sim, ch, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, VMSTOR_PROTO_VERSION_WIN10), 0u);
        ASSERT_EQ(sth_control(sim, ch, VSTOR_OPERATION_QUERY_PROPERTIES, 0), 0u);
        ASSERT_EQ(sth_control(sim, ch, VSTOR_OPERATION_END_INITIALIZATION, 0), 0u);
}

/* Writes an EXECUTE_SRB the way vmbus_sendpacket_mpb_desc does (GPA-direct,
 * one range) or inband without data; signal = ring the doorbell (if the
 * host's mask allows, §5.5). 0, or -EAGAIN when the ring is full. */
static inline int sth_srb_write(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, uint64_t id,
                                const uint8_t *cdb, uint8_t cdb_len, uint8_t data_in, uint64_t gpa, uint32_t len,
                                bool signal) {
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
        ASSERT_LE(hdr + 64, sizeof pkt);
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
        return vmbus_sim_ring_write_raw(sim, ch, pkt, hdr + 64, signal);
}

static inline void sth_srb_send(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, uint64_t id,
                                const uint8_t *cdb, uint8_t cdb_len, uint8_t data_in, uint64_t gpa, uint32_t len,
                                bool signal) {
        ASSERT_OK(sth_srb_write(sim, ch, id, cdb, cdb_len, data_in, gpa, len, signal));
}

/* Waits for the completion of request id; checks its SRB status. */
static inline void sth_srb_wait(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, uint64_t id,
                                uint8_t srb_status) {
        struct vmbus_packet p;
        struct vstor_packet v;
        sth_wait_packet(sim, ch, &p, &v);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        ASSERT_EQ(p.trans_id, id);
        ASSERT_EQ(v.vm_srb.srb_status, srb_status);
}

/* pages of guest RAM for the guest's own buffers: their GPA; *host their bytes. */
static inline uint64_t sth_guest_buffer(struct vmbus_sim *sim, size_t pages, uint8_t **host) {
        uint64_t pfn = vmbus_sim_alloc_pages(sim, pages);
        ASSERT_NE(pfn, 0ull);
        *host = vmbus_sim_ram(sim) + pfn * 4096;
        return pfn * 4096;
}

/* A scratch directory for images under $VM_BUILD_DIR (a real file system:
 * O_DIRECT), removed at exit; skips the test program if none can be made. */
static char sth_dir_[256];

static inline void sth_dir_cleanup_(void) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", sth_dir_);
        if (sth_dir_[0] && system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", sth_dir_);
}

static inline const char *sth_make_dir(const char *name) {
        const char *base = getenv("VM_BUILD_DIR");
        snprintf(sth_dir_, sizeof sth_dir_, "%s/%s-XXXXXX", base ? base : "/var/tmp", name);
        if (!mkdtemp(sth_dir_))
                TEST_SKIP("no temporary directory: %s", strerror(errno));
        atexit(sth_dir_cleanup_);
        return sth_dir_;
}
