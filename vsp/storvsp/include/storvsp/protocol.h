/* SPDX-License-Identifier: MIT */
/* storvsp protocol as pure functions (docs/hyperv-guest-interface.md §6):
 * parse one guest packet (the bytes of one VMBus ring packet, descriptor
 * included, copied out of the ring) into a request, and build the 80-byte
 * COMPLETE_IO completions and the unsolicited ENUMERATE_BUS packet.
 * No allocation, no I/O; every field of the input is untrusted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/storvsc.h"
#include "scsi/scsi.h"

/* Largest transfer we ever advertise in QUERY_PROPERTIES; bounds the PFN
 * list of one request (fact sheet §6.3: the guest's max_sectors and
 * sg_tablesize derive from it). */
#define STORVSP_MAX_TRANSFER_LIMIT (2u * 1024u * 1024u)
#define STORVSP_MAX_PFNS (STORVSP_MAX_TRANSFER_LIMIT / 4096u + 1u)

/* The guest buffer of an EXECUTE_SRB carried by a GPA-direct packet: one
 * range (fact sheet §6.5), only the first page may start at an offset. */
struct storvsp_buffer {
        uint32_t offset;     /* byte_offset in the first page, < 4096 */
        uint32_t len;        /* bytes the command may move: data_transfer_length */
        uint32_t n_pfns;     /* pages covering [offset, offset + len) */
        const uint8_t *pfns; /* n_pfns little-endian u64, inside the parsed packet */
};
uint64_t storvsp_buffer_pfn(const struct storvsp_buffer *b, uint32_t i);

struct storvsp_request {
        uint64_t trans_id;
        bool completion_requested;
        uint32_t operation;   /* enum vstor_packet_operation (pkt.operation) */
        uint32_t payload_len; /* vstor_packet bytes the guest sent (48 pre-WIN8 init, else 64) */
        /* A request that is well framed but malformed (short, GPA-direct with
         * range count != 1, PFN count mismatch, transfer length beyond the
         * buffer or the limit, bad CDB length): complete it with this status
         * (EXECUTE_SRB: with SRB_STATUS_INVALID_REQUEST). 0 = valid. */
        uint32_t reject;
        struct vstor_packet pkt; /* copy, zero padded to 64 bytes */
        struct storvsp_buffer buf;
};

/* Parses one packet of len bytes (len = len8 * 8). max_transfer is the
 * value we advertised. Returns 0 (check req->reject), or -EBADMSG when the
 * VMBus framing itself is broken (no usable descriptor, a packet type storvsc
 * never sends): drop it and count it. The request's buf.pfns points into
 * data, which must outlive its use. */
int storvsp_parse_packet(const void *data, size_t len, uint32_t max_transfer, struct storvsp_request *req);

/* ---- completions: VM_PKT_COMP, the request's trans_id, a vstor_packet
 * with operation COMPLETE_IO; 80 bytes for every 64-byte request (never
 * more: the guest's max packet is 80, fact sheet §5.4). Each returns the
 * packet length written to out (STORVSC_MAX_PKT_SIZE bytes of room). */

/* A completion carrying only a status (an SRB refused this way carries
 * SRB_STATUS_INVALID_REQUEST too). */
size_t storvsp_complete_status(void *out, const struct storvsp_request *req, uint32_t ntstatus);

/* QUERY_PROTOCOL_VERSION: WIN10 0x0602, WIN8.1 0x0600 and WIN8 0x0501 are
 * accepted; anything else gets REVISION_MISMATCH so the guest tries the
 * next (§6.3 step 2). */
bool storvsp_version_supported(uint16_t major_minor);
size_t storvsp_complete_version(void *out, const struct storvsp_request *req);

struct storvsp_properties {
        uint32_t max_transfer_bytes; /* never 0: the guest would clamp I/O to one page */
        uint16_t max_sub_channels;   /* 0: no multi-channel flag */
};
size_t storvsp_complete_properties(void *out, const struct storvsp_request *req,
                                   const struct storvsp_properties *p);

struct storvsp_srb_result {
        uint8_t srb_status; /* SRB_STATUS_*, flags included */
        uint8_t scsi_status;
        uint8_t sense_len;
        uint8_t sense[STORVSC_SENSE_BUFFER_SIZE];
        uint32_t data_transfer_length;
};

/* SCSI outcome -> SRB result (§6.5): GOOD is exactly SRB_STATUS_SUCCESS
 * with the bytes moved; CHECK CONDITION is ERROR | AUTOSENSE_VALID with the
 * sense (clamped to what the guest's SRB asked for) unless autosense is
 * disabled; at an address without a LUN every error is INVALID_LUN (the
 * guest then removes that device). */
void storvsp_srb_from_scsi(const struct storvsp_request *req, const struct scsi_status *st, bool lun_absent,
                           struct storvsp_srb_result *out);
/* A request refused before SCSI saw it (malformed, bad guest memory). */
void storvsp_srb_invalid(struct storvsp_srb_result *out);
/* The NTSTATUS that goes with an SRB status in vstor_packet.status. */
uint32_t storvsp_srb_ntstatus(uint8_t srb_status);
size_t storvsp_complete_srb(void *out, const struct storvsp_request *req, const struct storvsp_srb_result *res);

/* Unsolicited ENUMERATE_BUS (inband, no completion, trans_id 0, §6.6): the
 * guest re-tests its LUNs and rescans, for hot add and remove. */
size_t storvsp_build_enumerate_bus(void *out);
