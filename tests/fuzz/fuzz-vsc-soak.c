// SPDX-License-Identifier: MIT
/* vsc.mode=soak's checks (vsc/soak.h) against what a hostile host can hand
 * back: a disk block read, an echoed datagram, and the order and timing of
 * replies. Input: byte 0 picks the target, the rest is the host's bytes:
 *   0: byte 1 the block index, byte 2 the sequence number expected, the
 *      rest (a multiple of 64, <= 64 KiB) the block -> vsc_soak_block_check;
 *   1: a UDP payload -> vsc_soak_ping_parse, vsc_soak_is_stop;
 *   2: a script for the ping tracker, two bytes per step: send, reply (to
 *      a sequence number near the last sent), time passes and expire.
 * Invariants: a block passes only if it is byte for byte the write it
 * claims to be; a payload parses only if it is exactly the ping of its
 * sequence number; the tracker never counts a ping twice (answered + lost
 * + outstanding == sent, no more outstanding than the window). */
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"
#include "vsc/soak.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED 1u
#define BLOCK_MAX 65536u

static void block(const uint8_t *d, size_t n) {
        static uint8_t want[BLOCK_MAX];
        if (n < 2)
                return;
        uint64_t idx = d[0], want_seq = d[1], found;
        d += 2;
        n -= 2;
        size_t len = n > BLOCK_MAX ? BLOCK_MAX : n;
        enum vsc_soak_verdict v = vsc_soak_block_check(d, len, SEED, idx, want_seq, 0, 0, idx * len, &found);
        CHECK(vsc_soak_verdict_name(v) != NULL);
        if (v == VSC_SOAK_FOREIGN)
                CHECK(found == 0);
        if (v != VSC_SOAK_OK)
                return;
        struct vsc_soak_block_hdr h;
        memcpy(&h, d, sizeof h);
        CHECK(found == want_seq && h.seq == want_seq && h.block == idx);
        vsc_soak_block_fill(want, len, SEED, idx, want_seq, h.round, 0, 0, idx * len);
        CHECK(memcmp(want, d, len) == 0);
}

static void payload(const uint8_t *d, size_t n) {
        uint8_t want[VSC_SOAK_PING_MAX];
        uint32_t len = n > 65535 ? 65535 : (uint32_t)n;
        uint64_t seq;
        (void)vsc_soak_is_stop(d, len);
        if (vsc_soak_ping_parse(d, len, len, &seq) < 0)
                return;
        CHECK(len >= VSC_SOAK_PING_MIN && len <= VSC_SOAK_PING_MAX);
        vsc_soak_ping_build(want, len, seq);
        CHECK(memcmp(want, d, len) == 0);
}

static void tracker(const uint8_t *d, size_t n) {
        static struct vsc_soak_pings t;
        uint64_t now = 0;
        vsc_soak_pings_init(&t, n ? d[0] % 64u + 1u : 1u, 50);
        for (size_t i = 1; i + 1 < n; i += 2) {
                switch (d[i] & 3) {
                case 0:
                        if (vsc_soak_pings_can_send(&t))
                                vsc_soak_pings_sent(&t, now);
                        break;
                case 1: /* a reply to a ping up to 255 back, or a little ahead */
                        (void)vsc_soak_pings_reply(&t, t.sent + (d[i] >> 2 & 7) - d[i + 1], now);
                        break;
                default:
                        now += d[i + 1];
                        (void)vsc_soak_pings_expire(&t, now);
                        break;
                }
                CHECK(t.answered + t.lost <= t.sent);
                CHECK(vsc_soak_pings_outstanding(&t) <= t.window);
                CHECK(t.lo <= t.sent && t.sent - t.lo <= t.window);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0:
                block(data + 1, size - 1);
                break;
        case 1:
                payload(data + 1, size - 1);
                break;
        default:
                tracker(data + 1, size - 1);
                break;
        }
        return 0;
}
