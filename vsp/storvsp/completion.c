// SPDX-License-Identifier: MIT
/* Host -> guest packets of the storvsc protocol (fact sheet §6.2-6.6): the
 * COMPLETE_IO completions for every request and the unsolicited
 * ENUMERATE_BUS. Sizes never exceed the guest's 80-byte maximum (§5.4). */
#include <string.h>

#include "hv/vmbus.h"
#include "storvsp/protocol.h"

/* The reply mirrors the request's vstor_packet size (Windows guests check
 * it; pre-5.19 Linux sends 48-byte packets until WIN8 is negotiated), and
 * is always between the pre-WIN8 and the WIN8 size. */
static size_t reply_payload_len(const struct storvsp_request *req) {
        size_t n = req->payload_len;
        if (n < VSTOR_PACKET_SIZE_V1)
                n = VSTOR_PACKET_SIZE_V1;
        if (n > VSTOR_PACKET_SIZE)
                n = VSTOR_PACKET_SIZE;
        return (n + 7) & ~(size_t)7;
}

static size_t build_packet(void *out, uint16_t type, uint64_t trans_id, const struct vstor_packet *pkt,
                           size_t payload_len) {
        struct vmpacket_descriptor d = {
                .type = type,
                .offset8 = sizeof d / 8,
                .len8 = (uint16_t)((sizeof d + payload_len) / 8),
                .flags = 0,
                .trans_id = trans_id,
        };
        memcpy(out, &d, sizeof d);
        memcpy((uint8_t *)out + sizeof d, pkt, payload_len);
        return sizeof d + payload_len;
}

static size_t complete(void *out, const struct storvsp_request *req, struct vstor_packet *pkt, uint32_t ntstatus) {
        pkt->operation = VSTOR_OPERATION_COMPLETE_IO;
        pkt->flags = 0;
        pkt->status = ntstatus;
        return build_packet(out, VM_PKT_COMP, req->trans_id, pkt, reply_payload_len(req));
}

size_t storvsp_complete_status(void *out, const struct storvsp_request *req, uint32_t ntstatus) {
        struct vstor_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        /* Linux reads only the SRB of an SRB completion: never let a refusal
         * look like srb_status 0 with GOOD (a silent zero-byte success). */
        if (req->operation == VSTOR_OPERATION_EXECUTE_SRB && ntstatus != STORVSC_STATUS_SUCCESS)
                pkt.vm_srb.srb_status = SRB_STATUS_INVALID_REQUEST;
        return complete(out, req, &pkt, ntstatus);
}

bool storvsp_version_supported(uint16_t major_minor) {
        return major_minor == VMSTOR_PROTO_VERSION_WIN10 || major_minor == VMSTOR_PROTO_VERSION_WIN8_1 ||
               major_minor == VMSTOR_PROTO_VERSION_WIN8;
}

size_t storvsp_complete_version(void *out, const struct storvsp_request *req) {
        struct vstor_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        uint16_t v = req->pkt.version.major_minor;
        pkt.version.major_minor = v;
        return complete(out, req, &pkt,
                        storvsp_version_supported(v) ? STORVSC_STATUS_SUCCESS : STORVSC_STATUS_REVISION_MISMATCH);
}

size_t storvsp_complete_properties(void *out, const struct storvsp_request *req, const struct storvsp_properties *p) {
        struct vstor_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.storage_channel_properties.max_channel_cnt = p->max_sub_channels;
        pkt.storage_channel_properties.flags = p->max_sub_channels ? STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL : 0;
        pkt.storage_channel_properties.max_transfer_bytes = p->max_transfer_bytes;
        return complete(out, req, &pkt, STORVSC_STATUS_SUCCESS);
}

uint32_t storvsp_srb_ntstatus(uint8_t srb_status) {
        switch (srb_status & SRB_STATUS_CODE_MASK) {
        case SRB_STATUS_SUCCESS:
                return STORVSC_STATUS_SUCCESS;
        case SRB_STATUS_BUSY:
                return STORVSC_STATUS_DEVICE_BUSY;
        case SRB_STATUS_INVALID_LUN:
        case SRB_STATUS_INVALID_TARGET_ID:
        case SRB_STATUS_NO_DEVICE:
                return STORVSC_STATUS_DEVICE_DOES_NOT_EXIST;
        case SRB_STATUS_INVALID_REQUEST:
                return STORVSC_STATUS_INVALID_PARAMETER;
        case SRB_STATUS_DATA_OVERRUN:
                return STORVSC_STATUS_BUFFER_OVERFLOW;
        case SRB_STATUS_ABORTED:
                return STORVSC_STATUS_CANCELLED;
        default:
                return STORVSC_STATUS_IO_DEVICE_ERROR;
        }
}

void storvsp_srb_invalid(struct storvsp_srb_result *out) {
        memset(out, 0, sizeof *out);
        out->srb_status = SRB_STATUS_INVALID_REQUEST;
}

void storvsp_srb_from_scsi(const struct storvsp_request *req, const struct scsi_status *st, bool lun_absent,
                           struct storvsp_srb_result *out) {
        const struct vmscsi_request *srb = &req->pkt.vm_srb;
        memset(out, 0, sizeof *out);
        out->scsi_status = st->status;
        if (st->status == SCSI_STATUS_GOOD) {
                out->srb_status = SRB_STATUS_SUCCESS; /* exactly 0x01: Linux compares the byte */
                out->data_transfer_length = st->data_len;
                return;
        }
        if (lun_absent) {
                out->srb_status = SRB_STATUS_INVALID_LUN;
                return;
        }
        out->srb_status = SRB_STATUS_ERROR;
        size_t room = srb->sense_info_length;
        if (room > STORVSC_SENSE_BUFFER_SIZE)
                room = STORVSC_SENSE_BUFFER_SIZE;
        if (st->sense_len == 0 || room == 0 || (srb->srb_flags & SRB_FLAGS_DISABLE_AUTOSENSE))
                return;
        out->sense_len = (uint8_t)(st->sense_len < room ? st->sense_len : room);
        memcpy(out->sense, st->sense, out->sense_len);
        out->srb_status |= SRB_STATUS_AUTOSENSE_VALID;
}

size_t storvsp_complete_srb(void *out, const struct storvsp_request *req, const struct storvsp_srb_result *res) {
        struct vstor_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        /* Echo the addressing of the request; the guest reads only the
         * statuses, sense and transfer length (storvsc_on_io_completion). */
        struct vmscsi_request *srb = &pkt.vm_srb;
        const struct vmscsi_request *in = &req->pkt.vm_srb;
        srb->length = VMSCSI_REQUEST_LEN_V2;
        srb->port_number = in->port_number;
        srb->path_id = in->path_id;
        srb->target_id = in->target_id;
        srb->lun = in->lun;
        srb->cdb_length = in->cdb_length;
        srb->data_in = in->data_in;
        srb->srb_flags = in->srb_flags;
        srb->srb_status = res->srb_status;
        srb->scsi_status = res->scsi_status;
        size_t sense_len = res->sense_len < STORVSC_SENSE_BUFFER_SIZE ? res->sense_len : STORVSC_SENSE_BUFFER_SIZE;
        srb->sense_info_length = (uint8_t)sense_len;
        srb->data_transfer_length = res->data_transfer_length;
        memcpy(srb->sense_data, res->sense, sense_len);
        return complete(out, req, &pkt, storvsp_srb_ntstatus(res->srb_status));
}

size_t storvsp_build_enumerate_bus(void *out) {
        struct vstor_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.operation = VSTOR_OPERATION_ENUMERATE_BUS;
        return build_packet(out, VM_PKT_DATA_INBAND, 0, &pkt, sizeof pkt);
}
