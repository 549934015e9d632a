// SPDX-License-Identifier: MIT
/* Fuzz the DVD drive's MMC command set (emu/atapi.c, atapi-mmc.c): a disc
 * size, then CDBs executed one after the other against the state they
 * change, with the host's disc changes in between. Checks the promises:
 * a read lies inside the disc and needs one in the drive, immediate data
 * fits the reply buffer and is never empty, a CHECK CONDITION carries a
 * sense key, a GOOD leaves none (but REQUEST SENSE's), the media event and
 * the sense stay valid values, and a disc is present only with blocks.
 *
 * Input: [n_blocks u32 le] then 13-byte records: [host u8][cdb 12 bytes];
 * host bit 0: the host changes the disc first (bit 1: inserts n_blocks,
 * else ejects). */
#include <stdint.h>
#include <string.h>

#include "emu/atapi.h"
#include "tests/fuzz/fuzz-check.h"

static void check_state(const struct atapi_state *s) {
        CHECK(s->event <= ATAPI_EVENT_MEDIA_REMOVAL);
        CHECK(s->sense_key <= 0x0f);
        CHECK(!atapi_medium_present(s) || s->n_blocks > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        if (size < 4)
                return 0;
        uint32_t n_blocks;
        memcpy(&n_blocks, in, 4);
        struct atapi_state s;
        atapi_init(&s, n_blocks);
        static uint8_t reply[ATAPI_REPLY_MAX];
        for (size_t off = 4; off + 13 <= size; off += 13) {
                const uint8_t *p = in + off;
                if (p[0] & 1)
                        atapi_medium_changed(&s, (p[0] & 2) ? n_blocks : 0);
                bool present = atapi_medium_present(&s);
                struct atapi_result r;
                CHECK(atapi_exec(&s, p + 1, reply, &r) == 0);
                switch (r.action) {
                case ATAPI_READ:
                        CHECK(present && r.blocks >= 1);
                        CHECK(r.lba < s.n_blocks && r.blocks <= s.n_blocks - r.lba);
                        break;
                case ATAPI_DATA_IN:
                        CHECK(r.len >= 1 && r.len <= ATAPI_REPLY_MAX);
                        break;
                case ATAPI_DONE:
                        CHECK(!r.check || s.sense_key != 0);
                        CHECK(r.check || s.sense_key == 0 || p[1] == 0x03);
                        break;
                default:
                        CHECK(0);
                }
                CHECK(r.action != ATAPI_DATA_IN || !r.check);
                check_state(&s);
                CHECK((atapi_error_register(&s) >> 4) == s.sense_key);
        }
        CHECK(atapi_exec(NULL, in, reply, &(struct atapi_result){ 0 }) < 0);
        return 0;
}
