// SPDX-License-Identifier: MIT
/* The host's decoders of KVP answers (vsp/ic/kvp-msg.c): an ENUMERATE
 * answer body from a guest (any bytes) into UTF-8 key and value, and the
 * UTF-16 <-> UTF-8 conversions both ways. Input: byte 0 the pool, the
 * rest the body after the icmsg header. What decodes is valid UTF-8 that
 * converts back to UTF-16 within the wire limits. */
#include <stdlib.h>
#include <string.h>

#include "vsp/ic/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char key[ICVSP_KVP_KEY_MAX], value[ICVSP_KVP_VALUE_MAX];
        static uint8_t back[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
        if (size < 1)
                return 0;
        if (ic_kvp_parse_enumerate(data + 1, size - 1, data[0], key, value) == 0) {
                if (!key[0] || strlen(key) >= sizeof key || strlen(value) >= sizeof value)
                        abort();
                int k = ic_utf8_to_utf16(key, back, HV_KVP_EXCHANGE_MAX_KEY_SIZE);
                if (k < 4 || k > (int)HV_KVP_EXCHANGE_MAX_KEY_SIZE)
                        abort(); /* a non-empty key within the key limit */
                if (ic_utf8_to_utf16(value, back, sizeof back) < 2)
                        abort();
        }
        /* Raw UTF-16 of any length, into a small buffer: never overruns. */
        char small[32];
        int n = ic_utf16_to_utf8(data, size, small, sizeof small);
        if (n >= 0 && (size_t)n != strlen(small))
                abort();
        /* Any bytes as UTF-8 (NUL-terminated copy) to UTF-16 and back. */
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        uint8_t w[4096 + 2];
        int m = ic_utf8_to_utf16(s, w, sizeof w);
        if (m > 0) {
                char *u = malloc(size + 1);
                if (u && (ic_utf16_to_utf8(w, (size_t)m, u, size + 1) < 0 || strcmp(u, s)))
                        abort(); /* valid UTF-8 round-trips exactly */
                free(u);
        }
        free(s);
        return 0;
}
