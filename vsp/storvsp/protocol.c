// SPDX-License-Identifier: MIT
/* Parsing of guest packets on a storvsc channel (fact sheet §5.3, §6.2-6.5).
 * Copy-then-validate: the caller hands us a private copy of the ring
 * packet; each field is read once, with every length checked before use. */
#include <errno.h>
#include <string.h>

#include "hv/vmbus.h"
#include "storvsp/protocol.h"

#define PAGE_SIZE_4K 4096u

uint64_t storvsp_buffer_pfn(const struct storvsp_buffer *b, uint32_t i) {
        uint64_t pfn = 0;
        if (i < b->n_pfns)
                memcpy(&pfn, b->pfns + (size_t)i * 8, 8);
        return pfn;
}

/* Validates the GPA-direct header (§5.3): exactly one range whose PFN list
 * exactly fills the space up to the payload. Returns false if malformed. */
static bool parse_gpa_direct(const uint8_t *p, size_t payload_off, struct storvsp_buffer *buf,
                             uint32_t *byte_count) {
        struct vmbus_gpa_direct_header h;
        struct vmbus_gpa_range range;
        if (payload_off < sizeof h + sizeof range)
                return false;
        memcpy(&h, p, sizeof h);
        if (h.range_cnt != 1) /* storvsc sends exactly one range (§6.5) */
                return false;
        memcpy(&range, p + sizeof h, sizeof range);
        if (range.byte_offset >= PAGE_SIZE_4K)
                return false;
        /* u64: offset + count cannot overflow */
        uint64_t pages = ((uint64_t)range.byte_offset + range.byte_count + PAGE_SIZE_4K - 1) / PAGE_SIZE_4K;
        size_t room = payload_off - sizeof h - sizeof range;
        if (room % 8 || room / 8 != pages)
                return false;
        buf->offset = range.byte_offset;
        buf->pfns = p + sizeof h + sizeof range;
        buf->n_pfns = (uint32_t)pages;
        *byte_count = range.byte_count;
        return true;
}

/* Checks the SRB of an EXECUTE_SRB and trims the buffer to the transfer. */
static bool srb_valid(struct storvsp_request *req, bool has_buffer, uint32_t byte_count, uint32_t max_transfer) {
        const struct vmscsi_request *srb = &req->pkt.vm_srb;
        uint32_t xfer = srb->data_transfer_length;
        if (req->payload_len < VSTOR_PACKET_SIZE) /* WIN8+ SRB: we negotiate nothing older */
                return false;
        if (srb->cdb_length == 0 || srb->cdb_length > STORVSC_MAX_CMD_LEN)
                return false;
        if (srb->data_in > UNKNOWN_TYPE)
                return false;
        if (!has_buffer)
                return xfer == 0;
        /* never move more than the guest described, nor more than we offered */
        if (xfer > byte_count || xfer > max_transfer)
                return false;
        req->buf.len = xfer;
        req->buf.n_pfns = (uint32_t)(((uint64_t)req->buf.offset + xfer + PAGE_SIZE_4K - 1) / PAGE_SIZE_4K);
        return true;
}

int storvsp_parse_packet(const void *data, size_t len, uint32_t max_transfer, struct storvsp_request *req) {
        const uint8_t *p = data;
        struct vmpacket_descriptor d;
        memset(req, 0, sizeof *req);
        if (!p || len < sizeof d)
                return -EBADMSG;
        memcpy(&d, p, sizeof d);
        size_t total = (size_t)d.len8 * 8, payload_off = (size_t)d.offset8 * 8;
        if (total != len || payload_off < sizeof d || payload_off > total)
                return -EBADMSG;
        if (max_transfer > STORVSP_MAX_TRANSFER_LIMIT)
                max_transfer = STORVSP_MAX_TRANSFER_LIMIT;
        if (d.type != VM_PKT_DATA_INBAND && d.type != VM_PKT_DATA_USING_GPA_DIRECT)
                return -EBADMSG;
        req->trans_id = d.trans_id;
        req->completion_requested = d.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;

        size_t payload = total - payload_off;
        req->payload_len = payload > UINT32_MAX ? UINT32_MAX : (uint32_t)payload;
        memcpy(&req->pkt, p + payload_off, payload < sizeof req->pkt ? payload : sizeof req->pkt);
        req->operation = payload >= 4 ? req->pkt.operation : 0;

        bool gpa = d.type == VM_PKT_DATA_USING_GPA_DIRECT;
        uint32_t byte_count = 0;
        bool ok = payload >= VSTOR_PACKET_SIZE_V1;
        if (ok && gpa)
                ok = req->operation == VSTOR_OPERATION_EXECUTE_SRB && parse_gpa_direct(p, payload_off, &req->buf, &byte_count);
        if (ok && req->operation == VSTOR_OPERATION_EXECUTE_SRB)
                ok = srb_valid(req, gpa, byte_count, max_transfer);
        if (!ok) {
                memset(&req->buf, 0, sizeof req->buf);
                req->reject = STORVSC_STATUS_INVALID_PARAMETER;
        }
        return 0;
}
