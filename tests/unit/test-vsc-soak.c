// SPDX-License-Identifier: MIT
/* vsc.mode=soak's checks (vsc/soak.h): a block read back is told apart
 * when it is the right write, an older one (a lost write), one that never
 * completed (a replay), another block's, a torn one or not ours; a ping
 * reply is counted once, and duplicated, late, reordered, never-sent and
 * corrupt replies are each named. */
#include "common/test.h"
#include "vsc/soak.h"

#define BB 4096u
#define SEED 0x5eed

static uint64_t off(uint64_t block) {
        return block * BB;
}

static enum vsc_soak_verdict verdict(const uint8_t *b, uint64_t block, uint64_t want, uint64_t *found) {
        return vsc_soak_block_check(b, BB, SEED, block, want, 0, 0, off(block), found);
}

TEST(block_roundtrip) {
        static uint8_t b[BB];
        uint64_t found;
        vsc_soak_block_fill(b, BB, SEED, 7, 1234, 3, 0, 0, off(7));
        ASSERT_MEMEQ(b, VSC_SOAK_BLOCK_MAGIC, 8);
        ASSERT_EQ(verdict(b, 7, 1234, &found), VSC_SOAK_OK);
        ASSERT_EQ(found, 1234u);
        /* the body is the disk pattern with the sequence number as its seed */
        ASSERT_MEMEQ(b + 64, "VSCDISK s=000004d2 c=0 l=000 o=000000000028736", 46);
}

TEST(block_stale_future_misplaced) {
        static uint8_t b[BB];
        uint64_t found;
        vsc_soak_block_fill(b, BB, SEED, 7, 100, 1, 0, 0, off(7));
        ASSERT_EQ(verdict(b, 7, 101, &found), VSC_SOAK_STALE); /* the write of seq 101 was lost */
        ASSERT_EQ(found, 100u);
        ASSERT_EQ(verdict(b, 7, 99, &found), VSC_SOAK_FUTURE); /* seq 100 never completed for us */
        ASSERT_EQ(verdict(b, 8, 100, &found), VSC_SOAK_MISPLACED);
        /* a block written at the wrong disk offset: header right, pattern not */
        vsc_soak_block_fill(b, BB, SEED, 7, 100, 1, 0, 0, off(9));
        ASSERT_EQ(verdict(b, 7, 100, &found), VSC_SOAK_MISPLACED);
        /* another LUN's write of the same block */
        vsc_soak_block_fill(b, BB, SEED, 7, 100, 1, 0, 1, off(7));
        ASSERT_EQ(verdict(b, 7, 100, &found), VSC_SOAK_MISPLACED);
}

TEST(block_torn_and_foreign) {
        static uint8_t b[BB], old[BB];
        uint64_t found;
        vsc_soak_block_fill(old, BB, SEED, 5, 10, 0, 0, 0, off(5));
        vsc_soak_block_fill(b, BB, SEED, 5, 11, 1, 0, 0, off(5));
        memcpy(b + 2048, old + 2048, 2048); /* the second half of the write never landed */
        ASSERT_EQ(verdict(b, 5, 11, &found), VSC_SOAK_TORN);
        ASSERT_EQ(found, 11u);
        vsc_soak_block_fill(b, BB, SEED, 5, 11, 1, 0, 0, off(5));
        b[BB - 1] ^= 1; /* one bit */
        ASSERT_EQ(verdict(b, 5, 11, &found), VSC_SOAK_TORN);
        memset(b, 0, BB); /* a read that filled nothing */
        ASSERT_EQ(verdict(b, 5, 11, &found), VSC_SOAK_FOREIGN);
        ASSERT_EQ(found, 0u);
        vsc_soak_block_fill(b, BB, SEED + 1, 5, 11, 1, 0, 0, off(5)); /* another run's */
        ASSERT_EQ(verdict(b, 5, 11, &found), VSC_SOAK_FOREIGN);
        ASSERT_EQ(vsc_soak_block_check(b, 100, SEED, 5, 11, 0, 0, off(5), &found), VSC_SOAK_TORN);
        ASSERT_STREQ(vsc_soak_verdict_name(VSC_SOAK_STALE), "stale");
}

TEST(ping_roundtrip_and_corruption) {
        uint8_t p[VSC_SOAK_PING_MAX];
        uint64_t seq = 0;
        vsc_soak_ping_build(p, 64, 0x123456789ull);
        ASSERT_OK(vsc_soak_ping_parse(p, 64, 64, &seq));
        ASSERT_EQ(seq, 0x123456789ull);
        ASSERT_ERROR(vsc_soak_ping_parse(p, 63, 64, &seq), EBADMSG); /* truncated */
        ASSERT_ERROR(vsc_soak_ping_parse(p, 64, 65, &seq), EBADMSG);
        p[40] ^= 0x80;
        ASSERT_ERROR(vsc_soak_ping_parse(p, 64, 64, &seq), EBADMSG);
        p[40] ^= 0x80;
        p[8] ^= 1; /* another sequence number with the old checksum */
        ASSERT_ERROR(vsc_soak_ping_parse(p, 64, 64, &seq), EBADMSG);
        vsc_soak_ping_build(p, VSC_SOAK_PING_MAX, 1);
        ASSERT_OK(vsc_soak_ping_parse(p, VSC_SOAK_PING_MAX, VSC_SOAK_PING_MAX, &seq));
        ASSERT_ERROR(vsc_soak_ping_parse(p, 16, 16, &seq), EBADMSG); /* below the minimum */
}

TEST(stop_datagram) {
        ASSERT_TRUE(vsc_soak_is_stop((const uint8_t *)"VSCSOAK-STOP", 12));
        ASSERT_TRUE(vsc_soak_is_stop((const uint8_t *)"VSCSOAK-STOP\n", 13));
        ASSERT_FALSE(vsc_soak_is_stop((const uint8_t *)"VSCSOAK-STOP\n\n", 14));
        ASSERT_FALSE(vsc_soak_is_stop((const uint8_t *)"VSCSOAK-STO", 11));
        ASSERT_FALSE(vsc_soak_is_stop((const uint8_t *)"VSCSOAK-STOPX", 13));
}

TEST(pings_answered_once) {
        static struct vsc_soak_pings t;
        vsc_soak_pings_init(&t, 4, 1000);
        for (int i = 0; i < 4; i++) {
                ASSERT_TRUE(vsc_soak_pings_can_send(&t));
                ASSERT_EQ(vsc_soak_pings_sent(&t, 10), (uint64_t)i);
        }
        ASSERT_FALSE(vsc_soak_pings_can_send(&t)); /* the window is full */
        ASSERT_EQ(vsc_soak_pings_reply(&t, 0, 20), VSC_SOAK_REPLY_OK);
        ASSERT_TRUE(vsc_soak_pings_can_send(&t));
        ASSERT_EQ(vsc_soak_pings_reply(&t, 0, 21), VSC_SOAK_REPLY_DUP);
        ASSERT_EQ(vsc_soak_pings_reply(&t, 2, 22), VSC_SOAK_REPLY_OK);
        ASSERT_EQ(vsc_soak_pings_reply(&t, 1, 23), VSC_SOAK_REPLY_OK); /* after 2 */
        ASSERT_EQ(t.reordered, 1u);
        ASSERT_EQ(vsc_soak_pings_reply(&t, 4, 24), VSC_SOAK_REPLY_BOGUS); /* never sent */
        ASSERT_EQ(t.answered, 3u);
        ASSERT_EQ(t.dup, 1u);
        ASSERT_EQ(t.bogus, 1u);
        ASSERT_EQ(vsc_soak_pings_outstanding(&t), 1u);
        ASSERT_EQ(t.rtt_max_ns, 13u);
}

TEST(pings_lost_then_late) {
        static struct vsc_soak_pings t;
        vsc_soak_pings_init(&t, 8, 1000);
        vsc_soak_pings_sent(&t, 0);
        vsc_soak_pings_sent(&t, 100);
        vsc_soak_pings_sent(&t, 200);
        ASSERT_EQ(vsc_soak_pings_reply(&t, 1, 300), VSC_SOAK_REPLY_OK);
        ASSERT_EQ(vsc_soak_pings_expire(&t, 999), 0u);
        ASSERT_EQ(vsc_soak_pings_expire(&t, 1000), 1u); /* ping 0 */
        ASSERT_EQ(vsc_soak_pings_expire(&t, 1200), 1u); /* ping 2; ping 1 was answered */
        ASSERT_EQ(t.lost, 2u);
        ASSERT_EQ(vsc_soak_pings_outstanding(&t), 0u);
        ASSERT_EQ(vsc_soak_pings_reply(&t, 0, 1300), VSC_SOAK_REPLY_LATE);
        ASSERT_EQ(vsc_soak_pings_reply(&t, 0, 1301), VSC_SOAK_REPLY_DUP);
        ASSERT_EQ(t.answered + t.lost, t.sent);
}

TEST(pings_history_wraps) {
        static struct vsc_soak_pings t;
        vsc_soak_pings_init(&t, 16, 1000);
        uint64_t now = 0;
        for (unsigned i = 0; i < 3 * VSC_SOAK_PING_HISTORY; i++) {
                ASSERT_TRUE(vsc_soak_pings_can_send(&t));
                uint64_t seq = vsc_soak_pings_sent(&t, now++);
                ASSERT_EQ(vsc_soak_pings_reply(&t, seq, now++), VSC_SOAK_REPLY_OK);
        }
        /* an answer to a ping older than the history cannot be told from a forgery */
        ASSERT_EQ(vsc_soak_pings_reply(&t, 5, now), VSC_SOAK_REPLY_BOGUS);
        ASSERT_EQ(vsc_soak_pings_reply(&t, t.sent - 1, now), VSC_SOAK_REPLY_DUP);
        ASSERT_EQ(t.answered, 3u * VSC_SOAK_PING_HISTORY);
        vsc_soak_pings_init(&t, 100000, 1); /* the window is clamped to the history */
        ASSERT_EQ(t.window, VSC_SOAK_PING_HISTORY);
}

TEST_MAIN();
