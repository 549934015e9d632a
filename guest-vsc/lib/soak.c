// SPDX-License-Identifier: MIT
/* vsc.mode=soak's data (vsc/soak.h): checksummed disk blocks, ping
 * payloads and the ping tracker. Everything a host hands back (a block
 * read from the disk, a datagram the peer echoed) is checked here without
 * trusting any of it: lengths first, then the checksum, then the fields. */
#include "vsc/soak.h"

#include "internal.h"
#include "vsc/stor.h"

#define FNV64_PRIME 0x100000001b3ull
#define FNV64_BASIS 0xcbf29ce484222325ull
#define FNV32_PRIME 0x01000193u
#define FNV32_BASIS 0x811c9dc5u

uint64_t vsc_soak_sum(const void *buf, size_t len) {
        const uint8_t *p = buf;
        uint64_t h = FNV64_BASIS;
        for (size_t i = 0; i + 8 <= len; i += 8) {
                uint64_t w;
                vsc_memcpy(&w, p + i, 8);
                h = (h ^ w) * FNV64_PRIME;
                h ^= h >> 29; /* mix the high bits back down: word order matters */
        }
        return h;
}

/* The checksum of a block as if its sum field were zero. */
static uint64_t block_sum(const uint8_t *p, size_t len) {
        struct vsc_soak_block_hdr h;
        vsc_memcpy(&h, p, sizeof h);
        h.sum = 0;
        uint64_t head = vsc_soak_sum(&h, sizeof h);
        return head ^ vsc_soak_sum(p + sizeof h, len - sizeof h) * FNV64_PRIME;
}

void vsc_soak_block_fill(void *buf, size_t len, uint32_t seed, uint64_t block, uint64_t seq, uint32_t round,
                         unsigned c, unsigned l, uint64_t disk_off) {
        uint8_t *p = buf;
        struct vsc_soak_block_hdr h = { .block = block, .seq = seq, .round = round, .seed = seed };
        vsc_memcpy(h.magic, VSC_SOAK_BLOCK_MAGIC, sizeof h.magic);
        vsc_memset(h.pad, '.', sizeof h.pad);
        h.pad[sizeof h.pad - 1] = '\n';
        vsc_memcpy(p, &h, sizeof h);
        vsc_stor_pattern_fill(p + sizeof h, len - sizeof h, (uint32_t)seq, c, l, disk_off + sizeof h);
        h.sum = block_sum(p, len);
        vsc_memcpy(p, &h, sizeof h);
}

enum vsc_soak_verdict vsc_soak_block_check(const void *buf, size_t len, uint32_t seed, uint64_t block,
                                           uint64_t want_seq, unsigned c, unsigned l, uint64_t disk_off,
                                           uint64_t *found) {
        const uint8_t *p = buf;
        struct vsc_soak_block_hdr h;
        uint64_t bad;
        *found = 0;
        if (len < VSC_SOAK_BLOCK_MIN || len % VSC_STOR_PATTERN_RECORD)
                return VSC_SOAK_TORN;
        vsc_memcpy(&h, p, sizeof h);
        if (vsc_memcmp(h.magic, VSC_SOAK_BLOCK_MAGIC, sizeof h.magic) || h.seed != seed)
                return VSC_SOAK_FOREIGN;
        *found = h.seq;
        if (h.sum != block_sum(p, len))
                return VSC_SOAK_TORN;
        if (h.block != block)
                return VSC_SOAK_MISPLACED;
        if (h.seq < want_seq)
                return VSC_SOAK_STALE;
        if (h.seq > want_seq)
                return VSC_SOAK_FUTURE;
        /* the checksum matched; the pattern also names the disk and offset */
        if (vsc_stor_pattern_check(p + sizeof h, len - sizeof h, (uint32_t)h.seq, c, l, disk_off + sizeof h, &bad))
                return VSC_SOAK_MISPLACED;
        return VSC_SOAK_OK;
}

const char *vsc_soak_verdict_name(enum vsc_soak_verdict v) {
        switch (v) {
        case VSC_SOAK_OK:
                return "ok";
        case VSC_SOAK_FOREIGN:
                return "foreign";
        case VSC_SOAK_TORN:
                return "torn";
        case VSC_SOAK_MISPLACED:
                return "misplaced";
        case VSC_SOAK_STALE:
                return "stale";
        case VSC_SOAK_FUTURE:
                return "future";
        }
        return "unknown";
}

/* ---- pings: magic[8] seq[8, LE] len[4, LE] sum[4, LE] filler ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = n; i > 0; i--)
                v = v << 8 | p[i - 1];
        return v;
}

/* FNV-1a over the payload, its sum field (bytes 20..23) read as zero. */
static uint32_t ping_sum(const uint8_t *p, uint32_t len) {
        uint32_t h = FNV32_BASIS;
        for (uint32_t i = 0; i < len; i++)
                h = (h ^ (i >= 20 && i < 24 ? 0u : p[i])) * FNV32_PRIME;
        return h;
}

void vsc_soak_ping_build(uint8_t *p, uint32_t len, uint64_t seq) {
        vsc_memcpy(p, VSC_SOAK_PING_MAGIC, 8);
        put_le(p + 8, seq, 8);
        put_le(p + 16, len, 4);
        put_le(p + 20, 0, 4);
        for (uint32_t i = 24; i < len; i++)
                p[i] = (uint8_t)(seq * 131u + i * 7u + 0x5au);
        put_le(p + 20, ping_sum(p, len), 4);
}

int vsc_soak_ping_parse(const uint8_t *p, uint32_t len, uint32_t want_len, uint64_t *seq) {
        if (len != want_len || len < VSC_SOAK_PING_MIN || len > VSC_SOAK_PING_MAX)
                return -EBADMSG;
        if (vsc_memcmp(p, VSC_SOAK_PING_MAGIC, 8) || get_le(p + 16, 4) != len ||
            get_le(p + 20, 4) != ping_sum(p, len))
                return -EBADMSG;
        *seq = get_le(p + 8, 8);
        return 0;
}

bool vsc_soak_is_stop(const uint8_t *p, uint32_t len) {
        uint32_t n = sizeof VSC_SOAK_STOP - 1;
        if (len == n + 1 && p[n] == '\n')
                len = n;
        return len == n && !vsc_memcmp(p, VSC_SOAK_STOP, n);
}

/* ---- the tracker ---- */

enum { PING_FREE, PING_SENT, PING_ANSWERED, PING_LOST, PING_LATE };

void vsc_soak_pings_init(struct vsc_soak_pings *t, unsigned window, uint64_t timeout_ns) {
        vsc_memset(t, 0, sizeof *t);
        t->window = window == 0 ? 1 : window > VSC_SOAK_PING_HISTORY ? VSC_SOAK_PING_HISTORY : window;
        t->timeout_ns = timeout_ns;
}

/* Moves lo past the pings already answered. */
static void advance(struct vsc_soak_pings *t) {
        while (t->lo < t->sent && t->state[t->lo % VSC_SOAK_PING_HISTORY] != PING_SENT)
                t->lo++;
}

bool vsc_soak_pings_can_send(const struct vsc_soak_pings *t) {
        return t->sent - t->lo < t->window;
}

uint64_t vsc_soak_pings_sent(struct vsc_soak_pings *t, uint64_t now_ns) {
        uint64_t seq = t->sent++;
        t->state[seq % VSC_SOAK_PING_HISTORY] = PING_SENT;
        t->sent_ns[seq % VSC_SOAK_PING_HISTORY] = now_ns;
        return seq;
}

enum vsc_soak_reply vsc_soak_pings_reply(struct vsc_soak_pings *t, uint64_t seq, uint64_t now_ns) {
        /* a slot is reused only for seq + HISTORY, after seq was resolved */
        if (seq >= t->sent || t->sent - seq > VSC_SOAK_PING_HISTORY) {
                t->bogus++;
                return VSC_SOAK_REPLY_BOGUS;
        }
        uint8_t *st = &t->state[seq % VSC_SOAK_PING_HISTORY];
        switch (*st) {
        case PING_SENT: {
                uint64_t at = t->sent_ns[seq % VSC_SOAK_PING_HISTORY], rtt = now_ns > at ? now_ns - at : 0;
                *st = PING_ANSWERED;
                t->answered++;
                t->rtt_sum_ns += rtt;
                t->rtt_max_ns = rtt > t->rtt_max_ns ? rtt : t->rtt_max_ns;
                if (seq + 1 < t->max_answered)
                        t->reordered++;
                else
                        t->max_answered = seq + 1;
                advance(t);
                return VSC_SOAK_REPLY_OK;
        }
        case PING_LOST:
                *st = PING_LATE;
                t->late++;
                return VSC_SOAK_REPLY_LATE;
        default: /* ANSWERED or LATE: this one came before */
                t->dup++;
                return VSC_SOAK_REPLY_DUP;
        }
}

unsigned vsc_soak_pings_expire(struct vsc_soak_pings *t, uint64_t now_ns) {
        unsigned n = 0;
        advance(t);
        /* pings go out in order, so the oldest unresolved one times out first */
        while (t->lo < t->sent && now_ns >= t->sent_ns[t->lo % VSC_SOAK_PING_HISTORY] &&
               now_ns - t->sent_ns[t->lo % VSC_SOAK_PING_HISTORY] >= t->timeout_ns) {
                t->state[t->lo % VSC_SOAK_PING_HISTORY] = PING_LOST;
                t->lost++;
                n++;
                t->lo++;
                advance(t);
        }
        return n;
}
