/* SPDX-License-Identifier: MIT */
/* vsc storage client: a storvsc (synthetic SCSI controller) client that
 * talks to a host exactly as Linux 6.1's drivers/scsi/storvsc_drv.c does
 * (docs/hyperv-guest-interface.md §6): the init handshake on the primary
 * channel (§6.3), optional sub-channels (§6.7), SRBs in GPA-direct packets
 * with one range (§6.4, §6.5), completions matched by trans_id.
 *
 *   struct vsc_stor s;
 *   vsc_stor_open(&s, bus, offer);         CPL0: OPENCHANNEL (128 KiB rings, §6.1)
 *   vsc_stor_init(&s);                     any CPL: BEGIN, VERSION, PROPERTIES, END
 *   vsc_stor_open_subchannels(&s, n);      CPL0, optional: CREATE_SUB_CHANNELS + offers + opens
 *   vsc_stor_exec(&s, &cmd, &res);         one command, waits for it
 *   vsc_stor_submit(&s, ch, &cmd) x n;     queue (unpublished) ...
 *   vsc_stor_flush(&s);                    ... one write_index store and <= 1 doorbell per channel
 *   vsc_stor_poll(&s, res, max);           completions, validated
 *   vsc_stor_close(&s);                    CPL0
 *
 * Every packet the host sends is validated before use (type, size,
 * operation, a trans_id we have outstanding, lengths within what we asked
 * for); a violation is -EPROTO with the bus's error line saying what, and
 * the packet is dropped. Every wait has the bus's deadline. No globals:
 * everything lives in the caller's struct vsc_stor. The SCSI helpers and
 * the pattern functions at the end are plain functions of memory (fuzzed by
 * tests/fuzz/fuzz-vsc-stor.c, also used by the host-side tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/storvsc.h"
#include "vsc/vsc.h"

#define VSC_STOR_RING_BYTES (128u * 1024u) /* each direction, header included (§6.1) */
#define VSC_STOR_MAX_CHANNELS 8u           /* primary + 7 sub-channels */
#define VSC_STOR_MAX_INFLIGHT 256u         /* request slots, all channels together */
#define VSC_STOR_MAX_TRANSFER (1024u * 1024u)
#define VSC_STOR_MAX_PFNS (VSC_STOR_MAX_TRANSFER / 4096u + 1u)

/* ---- commands and results ----------------------------------------------- */

enum vsc_stor_dir {
        VSC_STOR_DIR_NONE, /* UNKNOWN_TYPE, inband packet */
        VSC_STOR_DIR_IN,   /* READ_TYPE: data from the device into buf */
        VSC_STOR_DIR_OUT,  /* WRITE_TYPE: data from buf to the device */
};

struct vsc_stor_cmd {
        uint8_t cdb[STORVSC_MAX_CMD_LEN];
        uint8_t cdb_len;
        uint8_t path_id, target_id, lun;
        enum vsc_stor_dir dir;
        void *buf;    /* any alignment; virtually contiguous (only the first page at an offset) */
        uint32_t len; /* <= the host's max_transfer_bytes */
        uint64_t user; /* handed back in the result */
};

struct vsc_stor_result {
        uint64_t user;
        uint32_t status; /* vstor_packet.status (NTSTATUS, 0 = success) */
        uint8_t srb_status, scsi_status;
        uint8_t sense_len; /* valid bytes in sense[] (CHECK CONDITION + AUTOSENSE_VALID only) */
        uint8_t sense[STORVSC_SENSE_BUFFER_SIZE];
        uint32_t data_len; /* data_transfer_length from the host, <= the request's len */
        uint32_t resid;    /* request len - data_len, as Linux computes it */
        uint16_t channel;
};

/* Good means what Linux treats as success: srb_status exactly SUCCESS. */
static inline bool vsc_stor_result_ok(const struct vsc_stor_result *r) {
        return r->srb_status == SRB_STATUS_SUCCESS && r->scsi_status == 0;
}

/* ---- host replies (pure, fuzzed) ---------------------------------------- */

struct vsc_stor_reply {
        uint64_t trans_id;
        bool unsolicited; /* trans_id 0: ENUMERATE_BUS / REMOVE_DEVICE (§6.6) */
        struct vstor_packet pkt;
};

/* Validates one packet from the host (descriptor first, as vsc_ring_read
 * returns it, len = len8 * 8): a VM_PKT_COMP with a full 64-byte
 * vstor_packet whose operation is COMPLETE_IO, or (trans_id 0) an inband
 * ENUMERATE_BUS / REMOVE_DEVICE (Linux refuses COMPLETE_IO and FCHBA_DATA
 * with id 0, §6.6). -EPROTO and *why otherwise. */
int vsc_stor_parse_reply(const void *pkt, size_t len, struct vsc_stor_reply *out, const char **why);

/* Checks an SRB completion against the request it answers (len bytes asked
 * for) and fills res: data_transfer_length <= len, sense only for CHECK
 * CONDITION with AUTOSENSE_VALID, clamped to the 20-byte buffer as Linux
 * does. -EPROTO and *why if the host moved more than asked. */
int vsc_stor_parse_srb(const struct vstor_packet *pkt, uint32_t len, struct vsc_stor_result *res, const char **why);

/* ---- the client --------------------------------------------------------- */

struct vsc_stor_slot {
        bool busy;
        uint16_t channel;
        uint32_t len;
        uint64_t user;
};

struct vsc_stor_stats {
        uint64_t submitted, completed, unsolicited, bad_packets, ring_full, doorbells;
};

struct vsc_stor {
        struct vsc_bus *bus;
        struct vsc_channel ch[VSC_STOR_MAX_CHANNELS];
        unsigned n_channels; /* open channels: ch[0] primary, then sub-channels */
        uint8_t instance[16];
        bool ide;            /* an IDE accelerator offer (HV_IDE_GUID): no sub-channels */
        uint16_t ide_target; /* ... its disk's target (instance bytes 4-5), lun 0 */
        uint16_t version; /* negotiated storvsc protocol (§6.3), 0 before */
        struct vmstorage_channel_properties props;
        uint32_t max_transfer; /* what we use: props.max_transfer_bytes in 4 KiB units, <= VSC_STOR_MAX_TRANSFER */
        bool initialized;
        bool rescan; /* the host sent ENUMERATE_BUS / REMOVE_DEVICE */
        int deferred_err; /* a protocol error found after completions poll returned */
        struct vsc_stor_slot slots[VSC_STOR_MAX_INFLIGHT];
        uint16_t free_slots[VSC_STOR_MAX_INFLIGHT];
        unsigned n_free;
        struct vsc_stor_stats stats;
};

/* CPL0: opens the primary channel of the SCSI or IDE accelerator offer
 * (rings of VSC_STOR_RING_BYTES, 24 zero bytes of user data, §6.1). */
int vsc_stor_open(struct vsc_stor *s, struct vsc_bus *bus, const struct vsc_offer *offer);
/* The §6.3 handshake on the primary channel, Linux 6.1's order: BEGIN,
 * QUERY_PROTOCOL_VERSION 0x0602 then 0x0600 then 0x0501 (the next on a
 * non-zero status), QUERY_PROPERTIES, END. Each step waits up to the bus
 * deadline. Any CPL (ring and doorbell only). */
int vsc_stor_init(struct vsc_stor *s);
/* CPL0, after init: if the host offers multi-channel support, asks for
 * min(want, max_channel_cnt, VSC_STOR_MAX_CHANNELS - 1) sub-channels
 * (nothing is sent for 0, as Linux), waits for their offers (same class
 * and instance, indices 1..n) and opens them. Returns the number opened. */
int vsc_stor_open_subchannels(struct vsc_stor *s, unsigned want);
/* CPL0: closes the sub-channels, then the primary. */
int vsc_stor_close(struct vsc_stor *s);

/* Queues an EXECUTE_SRB on channel chan (unpublished until flush): inband
 * without data, GPA-direct with one range and the buffer's PFNs with data.
 * -EAGAIN: no free slot or the ring is full (poll, then retry); -EINVAL:
 * a command we would not send (length, cdb_len, channel). */
int vsc_stor_submit(struct vsc_stor *s, unsigned chan, const struct vsc_stor_cmd *cmd);
/* Publishes what was queued: per channel one write_index store and at most
 * one doorbell (§5.5). */
void vsc_stor_flush(struct vsc_stor *s);
/* Takes up to max completions from all channels. Count, or -EPROTO for a
 * packet that breaks the protocol (dropped; the error line says what), or
 * the ring's error; an error found after some completions is returned by
 * the next call, so no completion is lost. Unsolicited packets set
 * s->rescan. */
int vsc_stor_poll(struct vsc_stor *s, struct vsc_stor_result *out, unsigned max);
/* Waits until a channel has a packet or the deadline (bus clock) passes. */
int vsc_stor_wait(struct vsc_stor *s, uint64_t deadline_ns);
/* Runs one command on the primary channel and waits for its completion
 * (nothing else may be in flight: -EBUSY). -ETIMEDOUT names the command. */
int vsc_stor_exec(struct vsc_stor *s, const struct vsc_stor_cmd *cmd, struct vsc_stor_result *res);
static inline unsigned vsc_stor_inflight(const struct vsc_stor *s) {
        return VSC_STOR_MAX_INFLIGHT - s->n_free;
}
/* Inbound interrupt_mask of every channel (polling at CPL3, §5.6). Unmask
 * also clears the channels' SIEF event flags, so the host's next signal
 * interrupts again (§3.3), and returns > 0 if data arrived meanwhile. */
int vsc_stor_mask(struct vsc_stor *s, bool masked);

/* ---- SCSI commands (CDB builders) ---------------------------------------- */

/* Each fills cdb and returns the CDB length. */
uint8_t vsc_scsi_inquiry(uint8_t cdb[16], bool evpd, uint8_t page, uint16_t alloc);
uint8_t vsc_scsi_report_luns(uint8_t cdb[16], uint32_t alloc);
uint8_t vsc_scsi_read_capacity10(uint8_t cdb[16]);
uint8_t vsc_scsi_read_capacity16(uint8_t cdb[16], uint32_t alloc);
uint8_t vsc_scsi_test_unit_ready(uint8_t cdb[16]);
uint8_t vsc_scsi_mode_sense6(uint8_t cdb[16], uint8_t page, uint8_t alloc);
uint8_t vsc_scsi_sync_cache10(uint8_t cdb[16]);
/* READ/WRITE(10) while lba and blocks fit it, else (16); force16 always 16. */
uint8_t vsc_scsi_rw(uint8_t cdb[16], bool write, uint64_t lba, uint32_t blocks, bool fua, bool force16);
/* UNMAP with one descriptor: the CDB and its 24-byte parameter list. */
#define VSC_SCSI_UNMAP_PARAM_LEN 24u
uint8_t vsc_scsi_unmap(uint8_t cdb[16], uint8_t param[VSC_SCSI_UNMAP_PARAM_LEN], uint64_t lba, uint32_t blocks);

/* ---- SCSI data parsers (pure, fuzzed) ----------------------------------- */

struct vsc_scsi_inquiry {
        uint8_t qualifier, device_type, version;
        bool cmdque;
        char vendor[9], product[17], revision[5]; /* trailing spaces trimmed, spaces as '_' */
};
/* Standard INQUIRY data: at least 36 bytes. -EBADMSG if shorter. */
int vsc_scsi_parse_inquiry(const uint8_t *d, uint32_t len, struct vsc_scsi_inquiry *out);

#define VSC_SCSI_MAX_LUNS 256u
/* REPORT LUNS data: the list length (a multiple of 8), entries in
 * peripheral (00b) or flat (01b) addressing, LUN < 256, no duplicates;
 * at most what len holds. -EBADMSG otherwise. */
int vsc_scsi_parse_report_luns(const uint8_t *d, uint32_t len, uint16_t *luns, unsigned max, unsigned *n);

struct vsc_scsi_capacity {
        uint64_t blocks; /* last LBA + 1 */
        uint32_t block_size;
        uint8_t phys_exponent; /* RC16: physical blocks = 2^n logical blocks */
        bool lbpme, lbprz;
};
/* RC10 (8 bytes) / RC16 (>= 32 bytes): block size a power of two from 512
 * to 64 KiB, last LBA + 1 without overflow. -EBADMSG otherwise. */
int vsc_scsi_parse_capacity10(const uint8_t *d, uint32_t len, struct vsc_scsi_capacity *out);
int vsc_scsi_parse_capacity16(const uint8_t *d, uint32_t len, struct vsc_scsi_capacity *out);

struct vsc_scsi_sense {
        uint8_t response, key, asc, ascq;
};
/* Fixed (70h/71h, >= 14 bytes) or descriptor (72h/73h, >= 4 bytes) sense. */
int vsc_scsi_parse_sense(const uint8_t *d, uint32_t len, struct vsc_scsi_sense *out);
/* MODE SENSE(6) header: write-protect bit, DPOFUA. >= 4 bytes. */
int vsc_scsi_parse_mode6_header(const uint8_t *d, uint32_t len, bool *wp, bool *dpofua);

/* ---- self-describing data pattern ---------------------------------------- */

/* Disk contents for tests: every 64-byte record at byte offset o of LUN
 * (controller c, lun l), written with seed s, reads
 *   "VSCDISK s=%08x c=%u l=%03u o=%015llu" then '.' up to byte 63, then '\n'
 * so a record found elsewhere, from another run or another disk, is
 * detected, and the host can check an image with printf/awk alone
 * (tests/integration/test-guest-disk.sh). Offsets and lengths are
 * multiples of 64. */
#define VSC_STOR_PATTERN_RECORD 64u
void vsc_stor_pattern_fill(void *buf, size_t len, uint32_t seed, unsigned c, unsigned l, uint64_t offset);
/* 0 if buf holds the pattern; otherwise -EBADMSG with *bad_offset the
 * disk offset of the first record that differs. */
int vsc_stor_pattern_check(const void *buf, size_t len, uint32_t seed, unsigned c, unsigned l, uint64_t offset,
                           uint64_t *bad_offset);
