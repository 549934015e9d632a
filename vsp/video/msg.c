// SPDX-License-Identifier: MIT
/* synthvid messages (hv/synthvid.h): what the guest sends, checked, and
 * the resolutions the host offers. Pure: fuzzed by tests/fuzz/fuzz-video.c. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "hv/synthvid.h"
#include "videovsp/videovsp.h"

/* The payload after both headers must be at least `want` bytes; the
 * headers must describe the packet (Linux's sizes: pipe size = synthvid
 * size, synthvid size = its header and the message). */
static int headers(const uint8_t *p, size_t len, uint32_t *type, size_t *body) {
        struct synthvid_pipe_hdr ph;
        struct synthvid_hdr vh;
        if (len < SYNTHVID_HEADERS)
                return -EBADMSG;
        memcpy(&ph, p, sizeof ph);
        memcpy(&vh, p + sizeof ph, sizeof vh);
        if (ph.type != SYNTHVID_PIPE_DATA || vh.size < sizeof vh || ph.size < vh.size ||
            ph.size > len - sizeof ph)
                return -EBADMSG;
        *type = vh.type;
        *body = vh.size - sizeof vh;
        return 0;
}

int videovsp_parse(const uint8_t *p, size_t len, struct videovsp_msg *out) {
        uint32_t type;
        size_t n;
        memset(out, 0, sizeof *out);
        int r = headers(p, len, &type, &n);
        if (r < 0)
                return r;
        const uint8_t *b = p + SYNTHVID_HEADERS;
        out->type = type;
        switch (type) {
        case SYNTHVID_VERSION_REQUEST: {
                struct synthvid_version_req m;
                if (n < sizeof m)
                        return -EBADMSG;
                memcpy(&m, b, sizeof m);
                out->version = m.version;
                return 0;
        }
        case SYNTHVID_VRAM_LOCATION: {
                struct synthvid_vram_location m;
                if (n < sizeof m)
                        return -EBADMSG;
                memcpy(&m, b, sizeof m);
                out->user_ctx = m.user_ctx;
                out->gpa_specified = m.is_vram_gpa_specified != 0;
                out->gpa = m.vram_gpa;
                return 0;
        }
        case SYNTHVID_SITUATION_UPDATE: {
                struct synthvid_situation_update m;
                struct synthvid_output_situation o;
                if (n < sizeof m + sizeof o)
                        return -EBADMSG;
                memcpy(&m, b, sizeof m);
                memcpy(&o, b + sizeof m, sizeof o);
                if (m.video_output_count == 0)
                        return -EBADMSG;
                out->user_ctx = m.user_ctx;
                out->active = o.active != 0;
                out->depth = o.depth_bits;
                out->width = o.width_pixels;
                out->height = o.height_pixels;
                out->pitch = o.pitch_bytes;
                out->offset = o.vram_offset;
                return 0;
        }
        case SYNTHVID_DIRT: {
                struct synthvid_dirt m;
                if (n < sizeof m)
                        return -EBADMSG;
                memcpy(&m, b, sizeof m);
                if (m.video_output != 0 || sizeof m + (size_t)m.dirt_count * sizeof(struct synthvid_rect) > n)
                        return -EBADMSG;
                out->n_rects = m.dirt_count;
                out->rects = b + sizeof m;
                return 0;
        }
        case SYNTHVID_RESOLUTION_REQUEST: {
                struct synthvid_resolution_req m;
                if (n < sizeof m)
                        return -EBADMSG;
                memcpy(&m, b, sizeof m);
                out->max_resolutions = m.maximum_resolution_count;
                return 0;
        }
        case SYNTHVID_POINTER_POSITION:
                return n < sizeof(struct synthvid_pointer_position) ? -EBADMSG : 0;
        case SYNTHVID_POINTER_SHAPE:
                return n < sizeof(struct synthvid_pointer_shape) ? -EBADMSG : 0;
        default:
                return -ENOTSUP;
        }
}

bool videovsp_dirt_rect(const struct videovsp_msg *m, uint32_t i, uint32_t width, uint32_t height,
                        struct display_rect *out) {
        struct synthvid_rect r;
        memcpy(&r, m->rects + (size_t)i * sizeof r, sizeof r);
        int64_t x1 = MAX(r.x1, 0), y1 = MAX(r.y1, 0);
        int64_t x2 = MIN((int64_t)r.x2, (int64_t)width), y2 = MIN((int64_t)r.y2, (int64_t)height);
        if (x1 >= x2 || y1 >= y2)
                return false;
        *out = (struct display_rect){ (uint32_t)x1, (uint32_t)y1, (uint32_t)(x2 - x1), (uint32_t)(y2 - y1) };
        return true;
}

bool videovsp_situation_fits(uint32_t depth, uint32_t width, uint32_t height, uint32_t pitch, uint32_t offset) {
        return depth == 32 && width && height && width <= DISPLAY_WIDTH_MAX && height <= DISPLAY_HEIGHT_MAX &&
               (uint64_t)width * 4u <= pitch && (uint64_t)offset + (uint64_t)pitch * height <= VIDEOVSP_VRAM_BYTES;
}

/* The usual monitor modes, smallest first. */
static const uint16_t standard[][2] = {
        { 640, 480 },   { 800, 600 },   { 1024, 768 },  { 1152, 864 },  { 1280, 720 },  { 1280, 800 },
        { 1280, 1024 }, { 1366, 768 },  { 1440, 900 },  { 1600, 900 },  { 1600, 1200 }, { 1680, 1050 },
        { 1920, 1080 }, { 1920, 1200 }, { 2560, 1440 }, { 2560, 1600 },
};

size_t videovsp_resolutions(uint16_t width, uint16_t height, uint8_t max, uint16_t (*out)[2], uint8_t *def) {
        size_t n = 0;
        uint64_t best = 0;
        *def = 0;
        for (size_t i = 0; i < ARRAY_SIZE(standard) && n < max; i++) {
                uint64_t area = (uint64_t)standard[i][0] * standard[i][1];
                if (area * 4u > VIDEOVSP_VRAM_BYTES)
                        continue;
                out[n][0] = standard[i][0];
                out[n][1] = standard[i][1];
                /* the one asked for, else the largest that fits inside it */
                if ((standard[i][0] == width && standard[i][1] == height) ||
                    (standard[i][0] <= width && standard[i][1] <= height && area > best)) {
                        best = standard[i][0] == width && standard[i][1] == height ? UINT64_MAX : area;
                        *def = (uint8_t)n;
                }
                n++;
        }
        return n;
}
