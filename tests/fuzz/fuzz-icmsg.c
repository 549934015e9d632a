// SPDX-License-Identifier: MIT
/* The integration services' parsers of guest answers (vsp/ic/icmsg.c):
 * icmsg header and negotiate responses. Whatever parses must be in range. */
#include <stdlib.h>
#include <string.h>

#include "vsp/ic/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct ic_version msg_versions[] = { { 3, 2 }, { 3, 0 }, { 1, 0 } };
        struct icmsg_hdr h;
        const uint8_t *body;
        size_t blen;
        if (icmsg_parse(data, size, &h, &body, &blen) == 0) {
                if (body < data || body + blen > data + size)
                        abort();
                struct ic_version fw, msg;
                if (ic_negotiate_parse(body, blen, msg_versions, 3, &fw, &msg) == 0 &&
                    !((fw.major == 3 || fw.major == 1) && fw.minor == 0))
                        abort();
        }
        /* And the builders never overrun a small buffer. */
        uint8_t out[64];
        size_t n = ic_negotiate_build(out, sizeof out, msg_versions, size % 4, 1); /* 0..3 of 3 */
        if (n > sizeof out)
                abort();
        return 0;
}
