// SPDX-License-Identifier: MIT
/* The display protocol (common/display.h): any bytes as a message. What
 * parses builds back to the same bytes, and its fields are in range. */
#include <stdlib.h>
#include <string.h>

#include "common/display.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct display_msg m;
        if (display_msg_parse(data, size, &m) < 0)
                return 0;
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t n = display_msg_build(&m, buf);
        if (n != size || memcmp(buf, data, size) != 0)
                abort();
        if (m.type == DISPLAY_DIRTY)
                for (uint32_t i = 0; i < m.dirty.count; i++)
                        if (m.dirty.rect[i].x + m.dirty.rect[i].w > DISPLAY_WIDTH_MAX ||
                            m.dirty.rect[i].y + m.dirty.rect[i].h > DISPLAY_HEIGHT_MAX)
                                abort();
        if (m.type == DISPLAY_MODE && m.mode.active &&
            ((uint64_t)m.mode.width * 4 > m.mode.stride || m.mode.bpp != 32))
                abort();
        return 0;
}
