// SPDX-License-Identifier: MIT
/* The synthetic video device's guest-facing parsers (vsp/video): any
 * bytes as a guest message (what parses stays inside the packet; every
 * DIRT rectangle it yields lies inside the mode), a situation's fit, and
 * the saved-state sections: the channel's (what decodes is consistent)
 * and the VRAM's (what decodes names exactly the chunks it carries). */
#include <stdlib.h>
#include <string.h>

#include "hv/synthvid.h"
#include "videovsp/videovsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct videovsp_msg m;
        if (videovsp_parse(data, size, &m) == 0) {
                if (m.type == SYNTHVID_DIRT) {
                        if (m.rects < data || m.rects + 16u * (size_t)m.n_rects > data + size)
                                abort();
                        for (uint32_t i = 0; i < m.n_rects; i++) {
                                struct display_rect r;
                                if (videovsp_dirt_rect(&m, i, 1024, 768, &r) &&
                                    (r.w == 0 || r.h == 0 || r.x + r.w > 1024 || r.y + r.h > 768))
                                        abort();
                        }
                }
                if (m.type == SYNTHVID_SITUATION_UPDATE &&
                    videovsp_situation_fits(m.depth, m.width, m.height, m.pitch, m.offset) &&
                    (uint64_t)m.offset + (uint64_t)m.pitch * m.height > VIDEOVSP_VRAM_BYTES)
                        abort();
        }
        struct vmstate_section s = { .tag = VIDEOVSP_CHANNEL_STATE_TAG, .version = 1, .payload = data,
                                     .length = size };
        struct videovsp_channel_state st;
        char err[256];
        if (videovsp_channel_state_decode(&s, &st, err, sizeof err) == 0 && st.active &&
            !videovsp_situation_fits(st.depth, st.width, st.height, st.pitch, st.offset))
                abort();
        s.tag = VIDEOVSP_VRAM_STATE_TAG;
        uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8];
        const uint8_t *chunks;
        if (videovsp_vram_state_decode(&s, map, &chunks, err, sizeof err) == 0) {
                size_t n = 0;
                for (size_t i = 0; i < VIDEOVSP_VRAM_CHUNKS; i++)
                        n += (map[i / 8] >> (i % 8)) & 1u;
                if (n && (chunks < data || chunks + n * VIDEOVSP_VRAM_CHUNK > data + size))
                        abort();
        }
        return 0;
}
