// SPDX-License-Identifier: MIT
/* Fuzz the bus-master PRD table walker (emu/prd.c) over a guest memory
 * made of the input. Checks: never more than BMDMA_MAX_PRD descriptors,
 * segments that add up to what is covered, never more than was asked, a
 * full cover exactly when it returns 0, and reads only inside "RAM".
 *
 * Input: [want u32 le][table address u32 le][RAM ...] */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/bmdma.h"
#include "tests/fuzz/fuzz-check.h"


struct ram {
        const uint8_t *p;
        size_t len;
};

static int rd(void *opaque, uint64_t gpa, void *buf, size_t len) {
        const struct ram *r = opaque;
        if (gpa >= r->len || len > r->len - gpa)
                return -EFAULT;
        memcpy(buf, r->p + gpa, len);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        if (size < 8)
                return 0;
        uint32_t want, table;
        memcpy(&want, in, 4);
        memcpy(&table, in + 4, 4);
        struct ram ram = { in + 8, size - 8 };
        static struct bmdma_walk w;
        int r = bmdma_prd_walk(rd, &ram, table % (uint32_t)(ram.len + 64), want, &w);
        CHECK(r == 0 || r == -ENODATA || r == -E2BIG || r == -EFAULT || r == -EINVAL);
        if (r == -EINVAL) {
                CHECK(want == 0 || want > BMDMA_MAX_BYTES);
                return 0;
        }
        CHECK(w.entries <= BMDMA_MAX_PRD && w.n_seg <= w.entries);
        uint64_t sum = 0;
        for (unsigned i = 0; i < w.n_seg; i++) {
                CHECK(w.seg[i].len <= 0x10000 && (w.seg[i].gpa & 1) == 0);
                sum += w.seg[i].len;
        }
        CHECK(sum == w.bytes && w.bytes <= want);
        CHECK((r == 0) == (w.bytes == want));
        CHECK(!w.exact || r == 0);
        return 0;
}
