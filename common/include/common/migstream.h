/* SPDX-License-Identifier: MIT */
/* The live-migration stream (docs/migration.md): what a source worker sends
 * a destination worker over a connected stream socket, and what comes back.
 *
 *   source -> destination:  hello  record*  (STATE | ABORT)
 *   destination -> source:  ACCEPT | REFUSE,  then RUNNING | REFUSE
 *
 *   hello  = "VMSTMIG\x1a" u16 major u16 minor u32 page_size u64 ram_bytes
 *            u32 vcpus u32 shape_len u64 flags u32 cpu_len
 *            u32 crc32c(bytes 0..43, then the shape, then the CPU block)
 *                                                                   (48 bytes)
 *            shape[shape_len], zero-padded to a multiple of 8
 *            cpu[cpu_len]: the CPU features the guest was offered
 *            (common/cpufeat.h; cpu_len is CPUFEAT_BYTES)
 *   record = u32 type u32 flags u64 addr u64 length u32 crc32c(payload)
 *            u32 crc32c(bytes 0..27)                               (32 bytes)
 *            payload[length] (PAGES, DISK, ABORT, REFUSE; none for the others)
 *
 * All integers are little-endian. addr and length of PAGES and ZERO are
 * offsets into guest RAM taken as one array (vid's numbering, the saved
 * state's RAM section's), page-aligned and inside RAM. STATE is followed by
 * a whole saved-state file (docs/saved-state.md), framed by its own header
 * and section headers up to its end section (the source streams it as it
 * writes it, without knowing its length first); its RAM section holds only
 * the pages dirtied since the last pass.
 *
 * Shared-nothing ("storage") migration: a hello with MIG_HELLO_COPY_DISKS
 * says the source also sends the content of its writable disks, as DISK
 * and DISK_ZERO records (flags: the disk's index in the configuration;
 * addr and length: bytes of the disk, multiples of 512), before and
 * between the RAM passes and, for the chunks written last, after the pause
 * and before STATE. The destination's disks are new, empty images: what no
 * record names reads as zeros there.
 *
 * Device memory (docs/migration.md "Device memory"): memory a device owns
 * and the guest writes directly, outside RAM (a synthetic video card's
 * VRAM), goes along like RAM, as DEVMEM and DEVMEM_ZERO records (flags:
 * which device memory, the rows that have one counted in device-table
 * order; addr and length: bytes of it, page-aligned): all of it that is
 * not zero in the first pass, what the guest wrote since in the later ones
 * and, after the pause, before STATE. The STATE then leaves out those
 * devices' own sections of that memory: what the records put there is it.
 *
 * Post-copy (docs/migration.md "Post-copy"): a hello with
 * MIG_HELLO_POSTCOPY says the source may switch to post-copy when the
 * pre-copy passes cannot meet the downtime budget. It then pauses, sends
 * the pages still dirty as POSTCOPY records (a bitmap: addr, the RAM
 * offset of its first page, a multiple of MIG_POSTCOPY_ALIGN; length, the
 * bytes of RAM it covers; payload, a bit per page, set for a page the
 * destination must not use, in little-endian u64 words), then STATE with a
 * RAM section holding no page, and serves the missing pages: the
 * destination asks for those its vCPUs or devices touch (PAGE_REQ) while
 * the source pushes the rest (PAGES, ZERO), interleaved with the commit
 * (READY, COMMIT, RUNNING). POSTCOPY_END follows the last missing page
 * (after RUNNING); POSTCOPY_DONE answers it once every page is in place.
 *
 * Everything here is pure and bounded: the destination parses what a
 * hostile or broken peer sends with these functions, and
 * tests/fuzz/fuzz-migstream.c runs them on any bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cpufeat.h"

#define MIG_MAGIC "VMSTMIG\x1a"
#define MIG_MAJOR 2 /* 2: READY and COMMIT before the destination runs */
/* 1: shared-nothing (MIG_HELLO_COPY_DISKS, DISK, DISK_ZERO); 2: post-copy;
 * 3: device memory (DEVMEM, DEVMEM_ZERO) */
#define MIG_MINOR 3
#define MIG_PAGE_SIZE 4096u
#define MIG_HELLO_HEADER 48u
#define MIG_SHAPE_MAX 1024u /* the device table's row names */
/* The longest hello: header, shape, CPU features. */
#define MIG_HELLO_MAX (MIG_HELLO_HEADER + MIG_SHAPE_MAX + CPUFEAT_BYTES)
#define MIG_RECORD_HEADER 32u
#define MIG_PAGES_MAX (4u << 20)     /* payload of one PAGES record */
#define MIG_TEXT_MAX 1024u           /* ABORT and REFUSE reasons */
#define MIG_STATE_EXTRA (256ull << 20) /* a STATE may be RAM plus this much */
#define MIG_DISKS_MAX 64u            /* a DISK record's index is below this */
#define MIG_DISK_SECTOR 512u         /* DISK offsets and lengths are multiples of this */
#define MIG_DISK_ZERO_MAX (1ull << 40) /* one DISK_ZERO record covers at most this much */
#define MIG_DEVMEM_MAX 4u               /* a DEVMEM record's index is below this */
#define MIG_DEVMEM_BYTES (1ull << 30)   /* DEVMEM records stay inside this much of a device memory */
/* A POSTCOPY record's first page: a multiple of 64 pages (a bitmap word). */
#define MIG_POSTCOPY_ALIGN (64u * MIG_PAGE_SIZE)
/* The RAM one POSTCOPY record covers: a bitmap of at most MIG_PAGES_MAX. */
#define MIG_POSTCOPY_SPAN_MAX ((uint64_t)MIG_PAGES_MAX * 8u * MIG_PAGE_SIZE)
/* One PAGE_REQ asks for at most this much. */
#define MIG_PAGE_REQ_MAX (1u << 20)

/* hello flags */
#define MIG_HELLO_COPY_DISKS 1u /* the disks' content follows: the destination's are new */
#define MIG_HELLO_POSTCOPY 2u   /* the source may switch to post-copy: a destination that cannot refuses */

enum mig_record_type {
        MIG_PAGES = 1,  /* addr: RAM offset; payload: length bytes of RAM */
        MIG_ZERO = 2,   /* addr: RAM offset; length bytes of RAM are zero; no payload */
        MIG_PASS = 3,   /* addr: the pass that just ended; no payload */
        MIG_STATE = 4,  /* a saved-state file follows; the last record */
        MIG_ABORT = 5,  /* the source gave up; payload: why; the last record */
        MIG_COMMIT = 6, /* after READY: the destination runs the VM, the source never again */
        MIG_DISK = 7,   /* flags: disk; addr: byte offset; payload: length bytes of the disk */
        MIG_DISK_ZERO = 8, /* flags: disk; addr: byte offset; length bytes read as zeros; no payload */
        MIG_POSTCOPY = 9,  /* addr: RAM offset; length: RAM covered; payload: a bit per page, set: missing */
        MIG_POSTCOPY_END = 10, /* every missing page has been sent; no payload */
        MIG_DEVMEM = 11,      /* flags: device memory; addr: byte offset; payload: length bytes of it */
        MIG_DEVMEM_ZERO = 12, /* flags: device memory; addr: byte offset; length bytes are zero; no payload */
        /* destination -> source */
        MIG_ACCEPT = 16,  /* the hello fits: send the pages */
        MIG_REFUSE = 17,  /* payload: why; the destination ends */
        MIG_RUNNING = 18, /* after COMMIT: the destination's vCPUs run (the confirmation) */
        MIG_READY = 19,   /* the state is applied, the devices restored: COMMIT awaited */
        MIG_PAGE_REQ = 20, /* post-copy: addr: RAM offset; length: bytes wanted now; no payload */
        MIG_POSTCOPY_DONE = 21, /* post-copy: every page is here, after POSTCOPY_END */
};

struct mig_hello {
        uint16_t major, minor;
        uint32_t page_size;
        uint64_t ram_bytes;
        uint32_t vcpus;
        uint64_t flags; /* MIG_HELLO_* */
        uint32_t shape_len;
        char shape[MIG_SHAPE_MAX + 1]; /* NUL-terminated */
        /* Source: what its guest was offered; destination: what this
         * host's KVM supports. */
        struct cpufeat cpu;
};

struct mig_record {
        uint32_t type;
        /* The header's flags: DISK, DISK_ZERO: the disk's index;
         * DEVMEM, DEVMEM_ZERO: the device memory's. */
        uint32_t index;
        uint64_t addr, length;
        uint32_t payload_crc;
};

/* The hello into buf (at least MIG_HELLO_MAX bytes); returns its length
 * or -E2BIG (shape too long). */
int mig_hello_encode(const struct mig_hello *h, uint8_t *buf, size_t cap);
/* The hello at the start of buf: its length (> 0), 0 when len is too
 * short to hold it yet (read more: mig_hello_size), or -EINVAL /
 * -EPROTONOSUPPORT with a sentence. */
int mig_hello_parse(const void *buf, size_t len, struct mig_hello *out, char *err, size_t errlen);
/* The whole hello's length from its first MIG_HELLO_HEADER bytes, once
 * mig_hello_parse returned 0 on them (at most MIG_HELLO_MAX). */
size_t mig_hello_size(const void *hdr);
/* Refuses a source VM whose shape is not the destination's (-EINVAL, a
 * sentence naming the field; also a source that copies its disks to a
 * destination on shared storage, or the reverse), or whose guest was offered CPU features
 * the destination lacks (-ENOTSUP, naming them). */
int mig_hello_check(const struct mig_hello *src, const struct mig_hello *dst, char *err, size_t errlen);

/* A record header into buf[MIG_RECORD_HEADER]; crc is the payload's. */
void mig_record_encode(uint8_t *buf, uint32_t type, uint64_t addr, uint64_t length, uint32_t payload_crc);
/* The same for DISK, DISK_ZERO, DEVMEM and DEVMEM_ZERO, whose flags carry
 * the index of the disk or device memory. */
void mig_record_encode_index(uint8_t *buf, uint32_t type, uint32_t index, uint64_t addr, uint64_t length,
                             uint32_t payload_crc);
/* Checks a record header (CRC, type, zero flags but a DISK record's
 * index below MIG_DISKS_MAX, a length and address the type allows against
 * ram_bytes; a DISK record's against the sector size and its limits: the
 * disk's own size is the destination's check; a DEVMEM record's against
 * the page size and MIG_DEVMEM_BYTES: the memory's own size is the
 * destination's) and fills out. 0 or -EINVAL with a
 * sentence. from_source: the types a source sends, else a destination's. */
int mig_record_parse(const void *hdr, uint64_t ram_bytes, bool from_source, struct mig_record *out, char *err,
                     size_t errlen);
/* The bytes of payload the record carries (0 for ZERO, PASS, STATE,
 * ACCEPT, RUNNING; a POSTCOPY record's bitmap: 8 bytes per 64 pages). */
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
