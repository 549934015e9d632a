// SPDX-License-Identifier: MIT
/* The synthetic video channel's saved state (docs/saved-state.md "SVCH"):
 * the negotiated version, where the guest put its VRAM and the mode it
 * set, and whether it was asked to report its dirt. The VRAM's bytes are
 * the owner's memory (videovsp_config), which the device's row (below)
 * saves with videovsp_vram_save ("SVRM"). A restored channel maps the VRAM
 * at the same place again and comes back quiesced. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/device.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/provider.h"

#define F(id_, kind_, type_, m_) VMSTATE_FIELD(id_, kind_, type_, m_)

static const struct vmstate_field_desc channel_fields[] = {
        F(1, VMSTATE_U32, struct videovsp_channel_state, version),
        F(2, VMSTATE_BOOL, struct videovsp_channel_state, vram_mapped),
        F(3, VMSTATE_U64, struct videovsp_channel_state, vram_gpa),
        F(4, VMSTATE_BOOL, struct videovsp_channel_state, active),
        F(5, VMSTATE_U32, struct videovsp_channel_state, width),
        F(6, VMSTATE_U32, struct videovsp_channel_state, height),
        F(7, VMSTATE_U32, struct videovsp_channel_state, pitch),
        F(8, VMSTATE_U32, struct videovsp_channel_state, depth),
        F(9, VMSTATE_U32, struct videovsp_channel_state, offset),
        F(10, VMSTATE_BOOL, struct videovsp_channel_state, dirt_asked),
};
const struct vmstate_desc videovsp_channel_state_desc = {
        .tag = VIDEOVSP_CHANNEL_STATE_TAG, .version = 1, .fields = channel_fields,
        .n_fields = ARRAY_SIZE(channel_fields), .name = "synthetic video channel",
};

static const char *state_bad(const struct videovsp_channel_state *st) {
        if (st->version && st->version != SYNTHVID_VERSION_WIN10 && st->version != SYNTHVID_VERSION_WIN8)
                return "version";
        if (st->vram_mapped ? st->vram_gpa % 4096u || st->vram_gpa > UINT64_MAX - VIDEOVSP_VRAM_BYTES
                            : st->vram_gpa != 0)
                return "vram_gpa";
        if (st->active ? !videovsp_situation_fits(st->depth, st->width, st->height, st->pitch, st->offset)
                       : st->width || st->height || st->pitch || st->depth || st->offset)
                return "the mode";
        if (st->dirt_asked && !st->version)
                return "dirt_asked";
        return NULL;
}

int videovsp_channel_state_decode(const struct vmstate_section *s, struct videovsp_channel_state *out, char *err,
                                  size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &videovsp_channel_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = state_bad(out);
        return bad ? errorf(err, errlen, -EINVAL, "section SVCH #%u: %s out of range", s->instance, bad) : 0;
}

/* ---- the channel's section, through vmbus/simple.h ---- */

int video_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen) {
        *(struct videovsp_channel_state *)st = container_of(sc, struct videovsp, sc)->cs;
        return 0;
}

int video_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen) {
        return videovsp_channel_state_decode(s, st, err, errlen);
}

/* The VRAM where the guest had put it, before the channel is taken. */
int video_channel_check(struct vmbus_simple *sc, const void *state, uint32_t relid, char *err, size_t errlen) {
        struct videovsp *v = container_of(sc, struct videovsp, sc);
        const struct videovsp_channel_state *st = state;
        int r = st->vram_mapped ? v->ops->map_vram(v->opaque, st->vram_gpa) : 0;
        return r < 0 ? errorf(err, errlen, r, "synthetic video: mapping the VRAM at 0x%llx again: %s",
                              (unsigned long long)st->vram_gpa, strerror(-r))
                     : 0;
}

int video_channel_quiesce(struct vmbus_simple *sc) {
        return videovsp_quiesce(container_of(sc, struct videovsp, sc));
}

void video_channel_restore(struct vmbus_simple *sc, const void *st) {
        struct videovsp *v = container_of(sc, struct videovsp, sc);
        v->cs = *(const struct videovsp_channel_state *)st;
        v->n_dirty = 0;
}

static bool chunk_is_zero(const uint8_t *p) {
        static const uint8_t zero[512];
        for (size_t off = 0; off < VIDEOVSP_VRAM_CHUNK; off += sizeof zero)
                if (memcmp(p + off, zero, sizeof zero))
                        return false;
        return true;
}

static bool chunk_stored(const uint8_t *map, size_t i) {
        return (map[i / 8] >> (i % 8)) & 1u;
}

static int mark_chunks(void *opaque, uint64_t data, uint64_t hole) {
        uint8_t *map = opaque;
        for (uint64_t i = data / VIDEOVSP_VRAM_CHUNK; i * VIDEOVSP_VRAM_CHUNK < hole; i++)
                map[i / 8] |= (uint8_t)(1u << (i % 8));
        return 0;
}

/* The chunks with data in the memfd (a bit each); all of them without
 * one, or when it cannot tell. */
static void data_chunks(int fd, uint8_t *out) {
        memset(out, 0, VIDEOVSP_VRAM_CHUNKS / 8);
        if (fd < 0 || fd_for_each_data(fd, VIDEOVSP_VRAM_BYTES, mark_chunks, out) < 0)
                memset(out, 0xff, VIDEOVSP_VRAM_CHUNKS / 8);
}

int videovsp_vram_save(struct vmstate_writer *w, const uint8_t *vram, int fd, char *err, size_t errlen) {
        uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8] = { 0 }, data_map[VIDEOVSP_VRAM_CHUNKS / 8];
        size_t n = 0;
        data_chunks(fd, data_map);
        for (size_t i = 0; i < VIDEOVSP_VRAM_CHUNKS; i++)
                if (chunk_stored(data_map, i) && !chunk_is_zero(vram + i * VIDEOVSP_VRAM_CHUNK)) {
                        map[i / 8] |= (uint8_t)(1u << (i % 8));
                        n++;
                }
        _cleanup_free_ uint8_t *data = n ? malloc(n * VIDEOVSP_VRAM_CHUNK) : NULL;
        if (n && !data)
                return errorf(err, errlen, -ENOMEM, "writing section SVRM: out of memory");
        for (size_t i = 0, k = 0; i < VIDEOVSP_VRAM_CHUNKS; i++)
                if (chunk_stored(map, i))
                        memcpy(data + k++ * VIDEOVSP_VRAM_CHUNK, vram + i * VIDEOVSP_VRAM_CHUNK, VIDEOVSP_VRAM_CHUNK);
        int r;
        if ((r = vmstate_begin(w, VIDEOVSP_VRAM_STATE_TAG, 0, 1, 0)) < 0 ||
            (r = vmstate_put_u32(w, 1, VIDEOVSP_VRAM_BYTES)) < 0 ||
            (r = vmstate_put(w, 2, VMSTATE_BYTES, map, sizeof map)) < 0 ||
            (r = vmstate_put(w, 3, VMSTATE_BYTES, data, n * VIDEOVSP_VRAM_CHUNK)) < 0 || (r = vmstate_end(w)) < 0)
                return errorf(err, errlen, r, "writing section SVRM: %s", strerror(-r));
        return 0;
}

int videovsp_vram_state_decode(const struct vmstate_section *s, uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8],
                               const uint8_t **data, char *err, size_t errlen) {
        bool have[4] = { false };
        uint32_t bytes = 0;
        size_t data_len = 0;
        uint64_t off = 0;
        struct vmstate_field f;
        int r;
        *data = NULL;
        memset(map, 0, VIDEOVSP_VRAM_CHUNKS / 8);
        if (s->tag != VIDEOVSP_VRAM_STATE_TAG || s->version == 0)
                return errorf(err, errlen, -EINVAL, "section SVRM: not a VRAM section");
        if (s->version > 1)
                return errorf(err, errlen, -EPROTONOSUPPORT, "section SVRM: version %u is newer than 1",
                              s->version);
        while ((r = vmstate_next_field(s, &off, &f)) > 0) {
                if (f.id == 0 || f.id > 3)
                        return errorf(err, errlen, -EINVAL, "section SVRM: unknown field %u", f.id);
                if (have[f.id])
                        return errorf(err, errlen, -EINVAL, "section SVRM: field %u repeated", f.id);
                have[f.id] = true;
                if (f.id == 1 && f.kind == VMSTATE_U32 && f.length == 4)
                        bytes = vmstate_le32(f.value);
                else if (f.id == 2 && f.kind == VMSTATE_BYTES && f.length == VIDEOVSP_VRAM_CHUNKS / 8)
                        memcpy(map, f.value, VIDEOVSP_VRAM_CHUNKS / 8);
                else if (f.id == 3 && f.kind == VMSTATE_BYTES)
                        *data = f.value, data_len = f.length;
                else
                        return errorf(err, errlen, -EINVAL, "section SVRM: field %u: kind %u, %u bytes", f.id,
                                      f.kind, f.length);
        }
        if (r < 0)
                return errorf(err, errlen, r, "section SVRM: a malformed field");
        if (!have[1] || !have[2] || !have[3])
                return errorf(err, errlen, -EINVAL, "section SVRM: field %u is missing", !have[1] ? 1 : !have[2] ? 2 : 3);
        if (bytes != VIDEOVSP_VRAM_BYTES)
                return errorf(err, errlen, -EINVAL, "section SVRM: %u bytes of VRAM, the device has %u", bytes,
                              VIDEOVSP_VRAM_BYTES);
        size_t n = 0;
        for (size_t i = 0; i < VIDEOVSP_VRAM_CHUNKS; i++)
                n += chunk_stored(map, i);
        if (data_len != n * VIDEOVSP_VRAM_CHUNK)
                return errorf(err, errlen, -EINVAL, "section SVRM: %zu bytes of chunks, the map names %zu chunks",
                              data_len, n);
        return 0;
}

void videovsp_vram_apply(uint8_t *vram, int fd, const uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8], const uint8_t *data) {
        for (size_t i = 0, k = 0; i < VIDEOVSP_VRAM_CHUNKS; i++) {
                uint8_t *dst = vram + i * VIDEOVSP_VRAM_CHUNK;
                if (chunk_stored(map, i))
                        memcpy(dst, data + k++ * VIDEOVSP_VRAM_CHUNK, VIDEOVSP_VRAM_CHUNK);
                else
                        fd_zero_range(fd, vram, i * VIDEOVSP_VRAM_CHUNK, VIDEOVSP_VRAM_CHUNK);
        }
}

/* ---- the row of the worker's device table ---- */

static int row_quiesce(void *dev) {
        return videovsp_quiesce(dev);
}

static void row_resume(void *dev) {
        videovsp_resume(dev);
}

/* The VRAM is guest memory the device has: saved with it (the vCPUs are
 * parked, nothing draws). SVCH, the channel's, goes through the VMBus
 * server's row (the provider's hooks above). */
static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        struct videovsp *v = dev;
        return videovsp_vram_save(w, v->cfg.vram, v->cfg.vram_fd, err, errlen);
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct videovsp *v = dev;
        const struct vmstate_section *s = vmstate_find(secs, n, VIDEOVSP_VRAM_STATE_TAG, 0);
        if (!s) /* no VRAM saved: a blank screen, as after a reset; or a
                 * live migration's state: DEVMEM records filled it */
                return 0;
        uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8];
        const uint8_t *data;
        int r = videovsp_vram_state_decode(s, map, &data, err, errlen);
        if (r < 0)
                return r;
        videovsp_vram_apply(v->cfg.vram, v->cfg.vram_fd, map, data);
        return 0;
}

/* The VRAM, for a live migration to copy ahead (its save writes nothing
 * else). */
static void *row_memory(void *dev, size_t *len, int *fd) {
        struct videovsp *v = dev;
        *len = VIDEOVSP_VRAM_BYTES;
        *fd = v->cfg.vram_fd;
        return v->cfg.vram;
}

/* "video_*" keys in the "display" object (vmwp adds its display
 * server's). */
static void row_stats(void *dev, struct json_object *into) {
        struct json_object *o = device_stat_object(into, "display");
        if (!o)
                return;
        struct videovsp_stats vs;
        videovsp_get_stats(dev, &vs);
#define V(k) device_stat_add(o, "video_" #k, vs.k)
        V(negotiations), V(situations), V(bad_situations), V(dirt_messages), V(dirt_rects), V(dirt_merged);
        V(vram_moves), V(vram_map_failures), V(bad_messages);
#undef V
}

static const uint32_t row_tags[] = { VIDEOVSP_VRAM_STATE_TAG, VIDEOVSP_CHANNEL_STATE_TAG, 0 };

const struct device_ops videovsp_device_ops = {
        .name = "synthetic video", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .memory = row_memory, .stats = row_stats,
};
