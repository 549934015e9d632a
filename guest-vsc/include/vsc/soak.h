/* SPDX-License-Identifier: MIT */
/* What vsc.mode=soak (docs/guest-vsc.md "Soak mode") writes, reads and
 * counts: pure functions of memory, freestanding, fuzzed by
 * tests/fuzz/fuzz-vsc-soak.c and unit-tested by tests/unit/test-vsc-soak.c.
 *
 * Soak blocks: every write of a disk block carries a 64-byte header (magic,
 * the block's index, the write's sequence number, the round, the seed, a
 * checksum of the whole block) and, after it, the self-describing pattern
 * of vsc/stor.h with the sequence number as its seed. Read back against
 * the sequence number the guest last saw complete for that block, a lost
 * write reads stale, a write landed elsewhere misplaced, a torn one fails
 * the checksum, a write nobody made (a request replayed or doubled after
 * the newer one) stale or from the future.
 *
 * Pings: numbered UDP payloads the host peer echoes (magic, sequence
 * number, length, checksum, filler from the sequence number); a tracker
 * counts each reply once and tells lost, duplicated, late, reordered and
 * corrupt ones apart. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- disk blocks ---------------------------------------------------------- */

#define VSC_SOAK_BLOCK_MAGIC "VSCSOAK1"
#define VSC_SOAK_HDR_BYTES 64u
#define VSC_SOAK_BLOCK_MIN 512u

struct vsc_soak_block_hdr {
        char magic[8];
        uint64_t block; /* index in the soak area */
        uint64_t seq;   /* write sequence number, from 1 */
        uint32_t round;
        uint32_t seed;
        uint64_t sum;   /* vsc_soak_sum of the block with this field zero */
        uint8_t pad[24];
};
_Static_assert(sizeof(struct vsc_soak_block_hdr) == VSC_SOAK_HDR_BYTES, "one pattern record");

enum vsc_soak_verdict {
        VSC_SOAK_OK,
        VSC_SOAK_FOREIGN,   /* no soak header of this seed: never written, or someone else's data */
        VSC_SOAK_TORN,      /* checksum or pattern wrong: a partial or corrupted write */
        VSC_SOAK_MISPLACED, /* another block's data */
        VSC_SOAK_STALE,     /* an older write of this block: the newer one was lost */
        VSC_SOAK_FUTURE,    /* a newer sequence number than any completed write of this block */
};

/* 64-bit checksum over len bytes (a multiply-xor hash of 8-byte words;
 * len a multiple of 8). */
uint64_t vsc_soak_sum(const void *buf, size_t len);
/* Fills a block of len bytes (a multiple of 64, >= VSC_SOAK_BLOCK_MIN):
 * header, then the pattern (seed = (uint32_t)seq, controller c, lun l,
 * offset = the block's byte offset on the disk, disk_off). */
void vsc_soak_block_fill(void *buf, size_t len, uint32_t seed, uint64_t block, uint64_t seq, uint32_t round,
                         unsigned c, unsigned l, uint64_t disk_off);
/* Checks what a read of block `block` returned against the write with
 * sequence number want_seq; *found gets the header's sequence number (0
 * if there is no header). */
enum vsc_soak_verdict vsc_soak_block_check(const void *buf, size_t len, uint32_t seed, uint64_t block,
                                           uint64_t want_seq, unsigned c, unsigned l, uint64_t disk_off,
                                           uint64_t *found);
const char *vsc_soak_verdict_name(enum vsc_soak_verdict v);

/* ---- pings ------------------------------------------------------------------ */

#define VSC_SOAK_PING_MAGIC "VSCPING1"
#define VSC_SOAK_PING_MIN 32u
#define VSC_SOAK_PING_MAX 1400u
/* The datagram that ends a run (vsc.soak.stop_port=): these bytes exactly,
 * an optional trailing newline allowed (what `echo` adds). */
#define VSC_SOAK_STOP "VSCSOAK-STOP"

/* A ping payload of len bytes (VSC_SOAK_PING_MIN..VSC_SOAK_PING_MAX). */
void vsc_soak_ping_build(uint8_t *p, uint32_t len, uint64_t seq);
/* 0 with *seq if p is an intact ping payload of exactly want_len bytes;
 * -EBADMSG otherwise. */
int vsc_soak_ping_parse(const uint8_t *p, uint32_t len, uint32_t want_len, uint64_t *seq);
bool vsc_soak_is_stop(const uint8_t *p, uint32_t len);

/* The ping tracker: sequence numbers 0, 1, ... sent in order, at most
 * `window` (<= VSC_SOAK_PING_HISTORY) unresolved at a time; a ping is
 * resolved when answered or when timeout_ns passed without an answer
 * (lost). Invariant: answered + lost + outstanding == sent. */
#define VSC_SOAK_PING_HISTORY 1024u

enum vsc_soak_reply {
        VSC_SOAK_REPLY_OK,
        VSC_SOAK_REPLY_DUP,     /* answered before */
        VSC_SOAK_REPLY_LATE,    /* after it was counted lost (a second one is a duplicate) */
        VSC_SOAK_REPLY_BOGUS,   /* a sequence number never sent, or too old to tell */
};

struct vsc_soak_pings {
        unsigned window;
        uint64_t timeout_ns;
        uint64_t sent, lo; /* every ping below lo is resolved */
        uint64_t answered, lost, dup, late, reordered, bogus;
        uint64_t max_answered; /* highest answered + 1 */
        uint64_t rtt_max_ns, rtt_sum_ns;
        uint8_t state[VSC_SOAK_PING_HISTORY];
        uint64_t sent_ns[VSC_SOAK_PING_HISTORY];
};

void vsc_soak_pings_init(struct vsc_soak_pings *t, unsigned window, uint64_t timeout_ns);
/* True if another ping may go out now (the window has room). */
bool vsc_soak_pings_can_send(const struct vsc_soak_pings *t);
/* Records the next ping as sent at now; returns its sequence number. */
uint64_t vsc_soak_pings_sent(struct vsc_soak_pings *t, uint64_t now_ns);
/* Counts a reply carrying seq, received at now. */
enum vsc_soak_reply vsc_soak_pings_reply(struct vsc_soak_pings *t, uint64_t seq, uint64_t now_ns);
/* Resolves pings unanswered for timeout_ns as lost; returns how many. */
unsigned vsc_soak_pings_expire(struct vsc_soak_pings *t, uint64_t now_ns);
static inline uint64_t vsc_soak_pings_outstanding(const struct vsc_soak_pings *t) {
        return t->sent - t->answered - t->lost;
}
