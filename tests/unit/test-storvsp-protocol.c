// SPDX-License-Identifier: MIT
/* storvsc packet parsing and completion building (fact sheet §5.3, §6),
 * including malformed packets: short, wrong packet type, GPA-direct range
 * count != 1, PFN count mismatch, transfer length overflow. */
#include <errno.h>

#include "common/test.h"
#include "hv/storvsc.h"
#include "hv/vmbus.h"
#include "storvsp/protocol.h"

#define MAX_XFER (1024u * 1024u)

static uint8_t pkt[8192];

/* An inband packet as Linux sends it: descriptor + payload_len bytes. */
static size_t inband(uint64_t trans_id, const struct vstor_packet *v, size_t payload_len) {
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2,
                                         .len8 = (uint16_t)((16 + payload_len) / 8),
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                         .trans_id = trans_id };
        memcpy(pkt, &d, 16);
        memcpy(pkt + 16, v, payload_len);
        return 16 + payload_len;
}

/* A GPA-direct packet with one range over n_pfns pages. */
static size_t gpa_direct(uint64_t trans_id, const struct vstor_packet *v, uint32_t range_cnt, uint32_t byte_count,
                         uint32_t byte_offset, unsigned n_pfns) {
        size_t hdr = 24 + 8 + 8 * (size_t)n_pfns;
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = (uint16_t)(hdr / 8),
                                         .len8 = (uint16_t)((hdr + 64) / 8),
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                         .trans_id = trans_id };
        memset(pkt, 0, hdr);
        memcpy(pkt, &d, 16);
        memcpy(pkt + 20, &range_cnt, 4);
        memcpy(pkt + 24, &byte_count, 4);
        memcpy(pkt + 28, &byte_offset, 4);
        for (unsigned i = 0; i < n_pfns; i++) {
                uint64_t pfn = 0x1000 + 3 * i;
                memcpy(pkt + 32 + 8 * i, &pfn, 8);
        }
        memcpy(pkt + hdr, v, 64);
        return hdr + 64;
}

static struct vstor_packet srb_packet(uint8_t op, uint32_t xfer, uint8_t data_in) {
        struct vstor_packet v = { .operation = VSTOR_OPERATION_EXECUTE_SRB, .flags = REQUEST_COMPLETION_FLAG };
        v.vm_srb.length = 0x34;
        v.vm_srb.lun = 3;
        v.vm_srb.cdb_length = 10;
        v.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
        v.vm_srb.data_in = data_in;
        v.vm_srb.data_transfer_length = xfer;
        v.vm_srb.cdb[0] = op;
        v.vm_srb.srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER;
        return v;
}

TEST(parse_init_packets) {
        struct storvsp_request req;
        struct vstor_packet v = { .operation = VSTOR_OPERATION_BEGIN_INITIALIZATION, .flags = 1 };
        ASSERT_OK(storvsp_parse_packet(pkt, inband(VMBUS_RQST_INIT, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.operation, (uint32_t)VSTOR_OPERATION_BEGIN_INITIALIZATION);
        ASSERT_EQ(req.trans_id, VMBUS_RQST_INIT);
        ASSERT_TRUE(req.completion_requested);
        ASSERT_EQ(req.reject, 0u);
        ASSERT_EQ(req.payload_len, 64u);
        /* pre-5.19 kernels send 48 bytes until WIN8 is negotiated */
        v.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
        v.version.major_minor = VMSTOR_PROTO_VERSION_WIN8;
        ASSERT_OK(storvsp_parse_packet(pkt, inband(VMBUS_RQST_INIT, &v, 48), MAX_XFER, &req));
        ASSERT_EQ(req.reject, 0u);
        ASSERT_EQ(req.payload_len, 48u);
        ASSERT_EQ(req.pkt.version.major_minor, (uint16_t)VMSTOR_PROTO_VERSION_WIN8);
        uint8_t out[STORVSC_MAX_PKT_SIZE];
        ASSERT_EQ(storvsp_complete_version(out, &req), (size_t)64); /* mirrors the request size */
        /* shorter than any vstor_packet: rejected, still answerable */
        ASSERT_OK(storvsp_parse_packet(pkt, inband(5, &v, 40), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        ASSERT_EQ(req.trans_id, 5ull);
}

TEST(parse_broken_framing) {
        struct storvsp_request req;
        struct vstor_packet v = { .operation = VSTOR_OPERATION_END_INITIALIZATION };
        size_t len = inband(1, &v, 64);
        ASSERT_ERROR(storvsp_parse_packet(pkt, 8, MAX_XFER, &req), EBADMSG);        /* short */
        ASSERT_ERROR(storvsp_parse_packet(pkt, len - 8, MAX_XFER, &req), EBADMSG);  /* len8 mismatch */
        ASSERT_ERROR(storvsp_parse_packet(NULL, len, MAX_XFER, &req), EBADMSG);
        pkt[2] = 1; /* offset8 inside the descriptor */
        ASSERT_ERROR(storvsp_parse_packet(pkt, len, MAX_XFER, &req), EBADMSG);
        pkt[2] = 11; /* offset8 past the end */
        ASSERT_ERROR(storvsp_parse_packet(pkt, len, MAX_XFER, &req), EBADMSG);
        len = inband(1, &v, 64);
        pkt[0] = VM_PKT_COMP; /* a type storvsc never sends to the host */
        ASSERT_ERROR(storvsp_parse_packet(pkt, len, MAX_XFER, &req), EBADMSG);
        pkt[0] = VM_PKT_DATA_USING_XFER_PAGES;
        ASSERT_ERROR(storvsp_parse_packet(pkt, len, MAX_XFER, &req), EBADMSG);
}

TEST(parse_srb_inband_and_gpa) {
        struct storvsp_request req;
        struct vstor_packet v = srb_packet(0x00, 0, UNKNOWN_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, inband(77, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.reject, 0u);
        ASSERT_EQ(req.buf.len, 0u);
        ASSERT_EQ(req.pkt.vm_srb.lun, 3);
        /* inband but claiming data: nowhere to put it */
        v = srb_packet(0x28, 512, READ_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, inband(77, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);

        /* 8 KiB starting 512 bytes into the first page: 3 PFNs */
        v = srb_packet(0x28, 8192, READ_TYPE);
        size_t len = gpa_direct(78, &v, 1, 8192, 512, 3);
        ASSERT_OK(storvsp_parse_packet(pkt, len, MAX_XFER, &req));
        ASSERT_EQ(req.reject, 0u);
        ASSERT_EQ(req.trans_id, 78ull);
        ASSERT_EQ(req.buf.offset, 512u);
        ASSERT_EQ(req.buf.len, 8192u);
        ASSERT_EQ(req.buf.n_pfns, 3u);
        ASSERT_EQ(storvsp_buffer_pfn(&req.buf, 0), 0x1000ull);
        ASSERT_EQ(storvsp_buffer_pfn(&req.buf, 2), 0x1006ull);
        ASSERT_EQ(storvsp_buffer_pfn(&req.buf, 3), 0ull); /* out of range: 0 */
        ASSERT_EQ(req.pkt.vm_srb.cdb[0], 0x28);

        /* a transfer shorter than the range: only the pages it needs */
        v = srb_packet(0x12, 36, READ_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(79, &v, 1, 8192, 0, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, 0u);
        ASSERT_EQ(req.buf.len, 36u);
        ASSERT_EQ(req.buf.n_pfns, 1u);
}

TEST(parse_malformed_gpa_direct) {
        struct storvsp_request req;
        struct vstor_packet v = srb_packet(0x28, 8192, READ_TYPE);
        /* range count != 1 (§6.5: exactly one range) */
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 2, 8192, 0, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        ASSERT_EQ(req.buf.n_pfns, 0u);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 0, 8192, 0, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        /* PFN count mismatch: one missing, one extra */
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, 8192, 512, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, 8192, 0, 3), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        /* byte_offset beyond the first page */
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, 4096, 4096, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        /* transfer length beyond the described buffer */
        v = srb_packet(0x28, 8193, READ_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, 8192, 0, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        /* transfer length overflow: offset + count wraps 32 bits */
        v = srb_packet(0x28, 0xfffffe00u, READ_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, 0xfffffe00u, 0x800, 2), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        /* more than we advertised */
        v = srb_packet(0x28, MAX_XFER + 4096, READ_TYPE);
        unsigned n = (MAX_XFER + 4096) / 4096;
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, MAX_XFER + 4096, 0, n), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        v = srb_packet(0x28, MAX_XFER, READ_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &v, 1, MAX_XFER, 0, MAX_XFER / 4096), MAX_XFER, &req));
        ASSERT_EQ(req.reject, 0u);
        /* GPA-direct for something that is not an SRB */
        struct vstor_packet q = { .operation = VSTOR_OPERATION_QUERY_PROPERTIES };
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(1, &q, 1, 4096, 0, 1), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
}

TEST(parse_malformed_srb) {
        struct storvsp_request req;
        struct vstor_packet v = srb_packet(0x00, 0, UNKNOWN_TYPE);
        v.vm_srb.cdb_length = 0;
        ASSERT_OK(storvsp_parse_packet(pkt, inband(1, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        v.vm_srb.cdb_length = 17;
        ASSERT_OK(storvsp_parse_packet(pkt, inband(1, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        v.vm_srb.cdb_length = 6;
        v.vm_srb.data_in = 3;
        ASSERT_OK(storvsp_parse_packet(pkt, inband(1, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        v.vm_srb.data_in = UNKNOWN_TYPE;
        /* a pre-WIN8 48-byte SRB: we never negotiate that */
        ASSERT_OK(storvsp_parse_packet(pkt, inband(1, &v, 48), MAX_XFER, &req));
        ASSERT_EQ(req.reject, STORVSC_STATUS_INVALID_PARAMETER);
        ASSERT_OK(storvsp_parse_packet(pkt, inband(1, &v, 64), MAX_XFER, &req));
        ASSERT_EQ(req.reject, 0u);
}

static void assert_completion(const uint8_t *out, size_t len, uint64_t trans_id, uint32_t status) {
        struct vmpacket_descriptor d;
        struct vstor_packet v;
        ASSERT_EQ(len, (size_t)STORVSC_MAX_PKT_SIZE);
        memcpy(&d, out, 16);
        memcpy(&v, out + 16, 64);
        ASSERT_EQ(d.type, VM_PKT_COMP);
        ASSERT_EQ(d.offset8, 2);
        ASSERT_EQ(d.len8, 10);
        ASSERT_EQ(d.flags, 0);
        ASSERT_EQ(d.trans_id, trans_id);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_COMPLETE_IO);
        ASSERT_EQ(v.status, status);
}

TEST(build_init_completions) {
        struct storvsp_request req;
        uint8_t out[STORVSC_MAX_PKT_SIZE];
        struct vstor_packet v = { .operation = VSTOR_OPERATION_BEGIN_INITIALIZATION };
        ASSERT_OK(storvsp_parse_packet(pkt, inband(VMBUS_RQST_INIT, &v, 64), MAX_XFER, &req));
        assert_completion(out, storvsp_complete_status(out, &req, 0), VMBUS_RQST_INIT, 0);

        static const struct {
                uint16_t v;
                uint32_t status;
        } versions[] = {
                { VMSTOR_PROTO_VERSION_WIN10, 0 },  { VMSTOR_PROTO_VERSION_WIN8_1, 0 },
                { VMSTOR_PROTO_VERSION_WIN8, 0 },   { VMSTOR_PROTO_VERSION_WIN7, 0xC0000059u },
                { VMSTOR_PROTO_VERSION_WIN6, 0xC0000059u }, { 0x0700, 0xC0000059u },
        };
        for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
                v.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
                v.version.major_minor = versions[i].v;
                ASSERT_OK(storvsp_parse_packet(pkt, inband(VMBUS_RQST_INIT, &v, 64), MAX_XFER, &req));
                assert_completion(out, storvsp_complete_version(out, &req), VMBUS_RQST_INIT, versions[i].status);
                ASSERT_EQ(storvsp_version_supported(versions[i].v), versions[i].status == 0);
        }

        v.operation = VSTOR_OPERATION_QUERY_PROPERTIES;
        ASSERT_OK(storvsp_parse_packet(pkt, inband(VMBUS_RQST_INIT, &v, 64), MAX_XFER, &req));
        struct storvsp_properties p = { .max_transfer_bytes = MAX_XFER, .max_sub_channels = 7 };
        assert_completion(out, storvsp_complete_properties(out, &req, &p), VMBUS_RQST_INIT, 0);
        uint16_t max_ch;
        uint32_t flags, max_xfer;
        memcpy(&max_ch, out + 16 + 16, 2);  /* packet offsets of §6.3 step 3 */
        memcpy(&flags, out + 16 + 20, 4);
        memcpy(&max_xfer, out + 16 + 24, 4);
        ASSERT_EQ(max_ch, 7);
        ASSERT_EQ(flags, STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
        ASSERT_EQ(max_xfer, MAX_XFER);
        p.max_sub_channels = 0;
        storvsp_complete_properties(out, &req, &p);
        memcpy(&flags, out + 16 + 20, 4);
        ASSERT_EQ(flags, 0u);
}

TEST(srb_status_mapping) {
        struct storvsp_request req;
        struct vstor_packet v = srb_packet(0x28, 4096, READ_TYPE);
        ASSERT_OK(storvsp_parse_packet(pkt, gpa_direct(99, &v, 1, 4096, 0, 1), MAX_XFER, &req));
        struct scsi_status st = { .status = SCSI_STATUS_GOOD, .data_len = 4096 };
        struct storvsp_srb_result res;
        storvsp_srb_from_scsi(&req, &st, false, &res);
        ASSERT_EQ(res.srb_status, 0x01); /* exactly SUCCESS */
        ASSERT_EQ(res.data_transfer_length, 4096u);
        uint8_t out[STORVSC_MAX_PKT_SIZE];
        assert_completion(out, storvsp_complete_srb(out, &req, &res), 99, 0);
        ASSERT_EQ(out[16 + 12 + 2], 0x01);                /* srb_status */
        ASSERT_EQ(out[16 + 12 + 7], 3);                   /* lun echoed */
        uint32_t dtl;
        memcpy(&dtl, out + 16 + 12 + 12, 4);
        ASSERT_EQ(dtl, 4096u);

        scsi_set_sense(&st, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
        storvsp_srb_from_scsi(&req, &st, false, &res);
        ASSERT_EQ(res.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
        ASSERT_EQ(res.scsi_status, SCSI_STATUS_CHECK_CONDITION);
        ASSERT_EQ(res.sense_len, SCSI_SENSE_LEN);
        ASSERT_EQ(res.data_transfer_length, 0u);
        assert_completion(out, storvsp_complete_srb(out, &req, &res), 99, STORVSC_STATUS_IO_DEVICE_ERROR);
        ASSERT_EQ(out[16 + 12 + 3], 0x02);                /* scsi_status */
        ASSERT_EQ(out[16 + 12 + 9], SCSI_SENSE_LEN);      /* sense_info_length */
        ASSERT_EQ(out[16 + 12 + 16 + 12], 0x21);          /* sense ASC */

        req.pkt.vm_srb.sense_info_length = 8; /* a small sense buffer */
        storvsp_srb_from_scsi(&req, &st, false, &res);
        ASSERT_EQ(res.sense_len, 8);
        req.pkt.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
        req.pkt.vm_srb.srb_flags |= SRB_FLAGS_DISABLE_AUTOSENSE;
        storvsp_srb_from_scsi(&req, &st, false, &res);
        ASSERT_EQ(res.srb_status, SRB_STATUS_ERROR);
        ASSERT_EQ(res.sense_len, 0);

        scsi_set_sense(&st, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
        storvsp_srb_from_scsi(&req, &st, true, &res);
        ASSERT_EQ(res.srb_status, SRB_STATUS_INVALID_LUN);
        assert_completion(out, storvsp_complete_srb(out, &req, &res), 99, STORVSC_STATUS_DEVICE_DOES_NOT_EXIST);
        /* a missing LUN still answers INQUIRY with data: SUCCESS */
        struct scsi_status good = { .status = SCSI_STATUS_GOOD, .data_len = 36 };
        storvsp_srb_from_scsi(&req, &good, true, &res);
        ASSERT_EQ(res.srb_status, SRB_STATUS_SUCCESS);

        storvsp_srb_invalid(&res);
        ASSERT_EQ(res.srb_status, SRB_STATUS_INVALID_REQUEST);
        assert_completion(out, storvsp_complete_srb(out, &req, &res), 99, STORVSC_STATUS_INVALID_PARAMETER);
}

TEST(enumerate_bus) {
        uint8_t out[STORVSC_MAX_PKT_SIZE];
        ASSERT_EQ(storvsp_build_enumerate_bus(out), (size_t)80);
        struct vmpacket_descriptor d;
        struct vstor_packet v;
        memcpy(&d, out, 16);
        memcpy(&v, out + 16, 64);
        ASSERT_EQ(d.type, VM_PKT_DATA_INBAND);
        ASSERT_EQ(d.flags, 0); /* no completion */
        ASSERT_EQ(d.trans_id, 0ull);
        ASSERT_EQ(d.len8, 10);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_ENUMERATE_BUS);
}

TEST_MAIN();
