/* SPDX-License-Identifier: MIT */
/* The live-migration stream (docs/migration.md): what a source worker sends
 * a destination worker over a connected stream socket, and what comes back.
 *
 *   source -> destination:  hello  record*  (STATE | ABORT)
 *   destination -> source:  ACCEPT | REFUSE,  then RUNNING | REFUSE
 *
 *   hello  = "VMSTMIG\x1a" u16 major u16 minor u32 page_size u64 ram_bytes
 *            u32 vcpus u32 shape_len u64 flags u32 reserved
 *            u32 crc32c(bytes 0..43, then the shape)              (48 bytes)
 *            shape[shape_len], zero-padded to a multiple of 8
 *   record = u32 type u32 flags u64 addr u64 length u32 crc32c(payload)
 *            u32 crc32c(bytes 0..27)                               (32 bytes)
 *            payload[length] (PAGES, ABORT, REFUSE; none for the others)
 *
 * All integers are little-endian. addr and length of PAGES and ZERO are
 * offsets into guest RAM taken as one array (vid's numbering, the saved
 * state's RAM section's), page-aligned and inside RAM. STATE is followed by
 * a whole saved-state file (docs/saved-state.md), framed by its own header
 * and section headers up to its end section (the source streams it as it
 * writes it, without knowing its length first); its RAM section holds only
 * the pages dirtied since the last pass.
 *
 * Everything here is pure and bounded: the destination parses what a
 * hostile or broken peer sends with these functions, and
 * tests/fuzz/fuzz-migstream.c runs them on any bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_MAGIC "VMSTMIG\x1a"
#define MIG_MAJOR 2 /* 2: READY and COMMIT before the destination runs */
#define MIG_MINOR 0
#define MIG_PAGE_SIZE 4096u
#define MIG_HELLO_HEADER 48u
#define MIG_SHAPE_MAX 1024u /* the device table's row names */
#define MIG_RECORD_HEADER 32u
#define MIG_PAGES_MAX (4u << 20)     /* payload of one PAGES record */
#define MIG_TEXT_MAX 1024u           /* ABORT and REFUSE reasons */
#define MIG_STATE_EXTRA (256ull << 20) /* a STATE may be RAM plus this much */

enum mig_record_type {
        MIG_PAGES = 1,  /* addr: RAM offset; payload: length bytes of RAM */
        MIG_ZERO = 2,   /* addr: RAM offset; length bytes of RAM are zero; no payload */
        MIG_PASS = 3,   /* addr: the pass that just ended; no payload */
        MIG_STATE = 4,  /* a saved-state file follows; the last record */
        MIG_ABORT = 5,  /* the source gave up; payload: why; the last record */
        MIG_COMMIT = 6, /* after READY: the destination runs the VM, the source never again */
        /* destination -> source */
        MIG_ACCEPT = 16,  /* the hello fits: send the pages */
        MIG_REFUSE = 17,  /* payload: why; the destination ends */
        MIG_RUNNING = 18, /* after COMMIT: the destination's vCPUs run (the confirmation) */
        MIG_READY = 19,   /* the state is applied, the devices restored: COMMIT awaited */
};

struct mig_hello {
        uint16_t major, minor;
        uint32_t page_size;
        uint64_t ram_bytes;
        uint32_t vcpus;
        uint32_t shape_len;
        char shape[MIG_SHAPE_MAX + 1]; /* NUL-terminated */
};

struct mig_record {
        uint32_t type;
        uint64_t addr, length;
        uint32_t payload_crc;
};

/* The hello into buf (at least MIG_HELLO_HEADER + MIG_SHAPE_MAX bytes);
 * returns its length or -E2BIG (shape too long). */
int mig_hello_encode(const struct mig_hello *h, uint8_t *buf, size_t cap);
/* The hello at the start of buf: its length (> 0), 0 when len is too
 * short to hold it yet (read more), or -EINVAL / -EPROTONOSUPPORT with a
 * sentence. */
int mig_hello_parse(const void *buf, size_t len, struct mig_hello *out, char *err, size_t errlen);
/* Refuses (-EINVAL, a sentence naming the field) a source VM whose shape
 * is not the destination's. */
int mig_hello_check(const struct mig_hello *src, const struct mig_hello *dst, char *err, size_t errlen);

/* A record header into buf[MIG_RECORD_HEADER]; crc is the payload's. */
void mig_record_encode(uint8_t *buf, uint32_t type, uint64_t addr, uint64_t length, uint32_t payload_crc);
/* Checks a record header (CRC, type, zero flags, a length and address the
 * type allows against ram_bytes) and fills out. 0 or -EINVAL with a
 * sentence. from_source: the types a source sends, else a destination's. */
int mig_record_parse(const void *hdr, uint64_t ram_bytes, bool from_source, struct mig_record *out, char *err,
                     size_t errlen);
/* The bytes of payload the record carries (0 for ZERO, PASS, STATE,
 * ACCEPT, RUNNING). */
uint64_t mig_record_payload(const struct mig_record *r);

/* Framing the saved-state file after STATE as it arrives: a section
 * header (32 bytes) checked far enough to know how many bytes its section
 * spans (header CRC, flags, length; the rest is vmstate_index's job once
 * the file is whole). *span: header, padded payload and bulk trailer; *end:
 * it is the end section. 0 or -EINVAL with a sentence. */
int mig_state_section_span(const void *hdr, uint64_t *span, bool *end, char *err, size_t errlen);
/* A STATE's saved state is at most this long for a VM of ram_bytes. */
uint64_t mig_state_max(uint64_t ram_bytes);

/* A reason the peer sent (ABORT, REFUSE) as printable text in out. */
void mig_text(const uint8_t *p, uint64_t len, char *out, size_t cap);

/* Walks a whole stream in buf as the destination reads it: the hello
 * (checked against dst), then every record, each payload's CRC, up to the
 * STATE record and the saved state after it (framed, not indexed), or an
 * ABORT. fn (may be NULL) gets each record and its payload (for STATE:
 * the saved state, its length in the record's length). Returns the offset after the last record, or a negative errno
 * and a sentence (an ABORT is -ECANCELED with the source's reason). */
int64_t mig_stream_walk(const void *buf, size_t len, const struct mig_hello *dst,
                        void (*fn)(void *opaque, const struct mig_record *r, const uint8_t *payload), void *opaque,
                        char *err, size_t errlen);
