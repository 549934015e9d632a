/* SPDX-License-Identifier: MIT */
/* The synthetic video device (docs/video.md): the host side of synthvid
 * (hv/synthvid.h), as Linux's hyperv_drm and hyperv_fb drive it. One
 * device per VM, one device-worker thread. The guest places its VRAM in
 * the VMBus MMIO window (the offer's VIDEOVSP_VRAM_MIB) and tells the host
 * where; the owner maps its VRAM memory there (map_vram), the guest draws
 * into it directly, announces its mode (SITUATION_UPDATE) and, while the
 * host asks for them (videovsp_watch: a console is connected), the
 * rectangles it changed (DIRT). The owner reads the mode and the dirty
 * rectangles; the pixels it reads from its own VRAM memory.
 *
 * Everything the guest sends is checked: a mode must fit the VRAM, a
 * rectangle is clipped to the mode, a flood of rectangles collapses into
 * their bounding box. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/display.h"
#include "common/vmstate.h"

struct vmbus_server;
struct videovsp;

/* The VRAM the device offers (the offer's mmio_megabytes): enough for
 * 2560 x 1600 at 32 bits per pixel. */
#define VIDEOVSP_VRAM_MIB 16u
#define VIDEOVSP_VRAM_BYTES (VIDEOVSP_VRAM_MIB << 20)

struct videovsp_config {
        /* The resolution offered as the guest's preferred one (3.5 on);
         * 0: 1024 x 768. It must be among the supported ones. */
        uint16_t default_width, default_height;
        /* The owner's VRAM (VIDEOVSP_VRAM_BYTES, mapped where the guest
         * puts it through map_vram) and the memfd it maps from offset 0:
         * the device's row saves, restores and offers it as its memory
         * (videovsp_device_ops). */
        uint8_t *vram;
        int vram_fd;
};

/* Called on the device thread with its lock held: record and return,
 * never call back into videovsp. */
struct videovsp_owner_ops {
        /* The guest put its VRAM at gpa (VIDEOVSP_VRAM_BYTES long); the
         * owner maps its VRAM memory there (vid device memory), replacing
         * a former place. 0, or -errno: the guest is told (its ack carries
         * another user context) and draws into memory nobody sees.
         * Required. */
        int (*map_vram)(void *opaque, uint64_t gpa);
        /* The mode, the driver's connection or the dirty area changed
         * (videovsp_get_state, videovsp_take_dirty). Optional. */
        void (*changed)(void *opaque);
};

int videovsp_new(struct vmbus_server *srv, const struct videovsp_config *cfg, const struct videovsp_owner_ops *ops,
                 void *opaque, struct videovsp **out);
/* After vmbus_server_free(srv); stops the thread and frees. NULL ignored. */
void videovsp_free(struct videovsp *v);

/* A console watches (true) or nobody does: the guest is asked, with
 * FEATURE_CHANGE, to report what it draws, or to stop (an idle screen
 * nobody watches costs nothing). Kept across the guest's reconnects. */
void videovsp_watch(struct videovsp *v, bool on);

struct videovsp_state {
        bool connected;         /* the version negotiated */
        uint32_t version;
        bool vram_mapped;       /* the guest placed its VRAM and the owner mapped it */
        uint64_t vram_gpa;
        struct display_mode mode; /* active once the guest set a mode that fits the VRAM */
        bool watched;
};
void videovsp_get_state(struct videovsp *v, struct videovsp_state *out);
/* The rectangles the guest reported since the last call, clipped to the
 * mode (at most max; more are merged into their bounding box), and with
 * full set the whole mode instead (a new viewer). Returns the count. */
size_t videovsp_take_dirty(struct videovsp *v, struct display_rect *out, size_t max, bool full);

struct videovsp_stats {
        uint64_t negotiations, refused_versions, situations, bad_situations, dirt_messages, dirt_rects;
        uint64_t dirt_merged, pointer_messages, resolution_requests, vram_moves, vram_map_failures;
        uint64_t bad_messages;
};
void videovsp_get_stats(struct videovsp *v, struct videovsp_stats *out);

void videovsp_pause(struct videovsp *v);
int videovsp_quiesce(struct videovsp *v);
void videovsp_resume(struct videovsp *v);

/* ---- the pure parts (msg.c): fuzzed ---- */

/* The resolutions offered: the standard ones that fit the VRAM, at most
 * max; *def the index of the preferred (width x height, or the largest
 * that fits inside it; else the first). Returns the count. */
size_t videovsp_resolutions(uint16_t width, uint16_t height, uint8_t max, uint16_t (*out)[2], uint8_t *def);

/* A guest -> host message (the packet's payload). */
struct videovsp_msg {
        uint32_t type;
        uint32_t version;                /* VERSION_REQUEST */
        uint64_t user_ctx;               /* VRAM_LOCATION, SITUATION_UPDATE */
        bool gpa_specified;              /* VRAM_LOCATION */
        uint64_t gpa;
        bool active;                     /* SITUATION_UPDATE: output 0 */
        uint32_t depth, width, height, pitch, offset;
        uint32_t n_rects;                /* DIRT: rectangles at rects, 16 bytes each */
        const uint8_t *rects;
        uint8_t max_resolutions;         /* RESOLUTION_REQUEST */
};
/* 0; -EBADMSG (a pipe or synthvid header that does not match the
 * packet, a message shorter than its type, rectangles past the message,
 * a situation with no output, a DIRT for another output); -ENOTSUP (a
 * type only the host sends, or unknown: ignored). */
int videovsp_parse(const uint8_t *p, size_t len, struct videovsp_msg *out);
/* DIRT rectangle i (< n_rects) as x, y, w, h clipped to width x height;
 * false if nothing of it is inside (or it is inverted). */
bool videovsp_dirt_rect(const struct videovsp_msg *m, uint32_t i, uint32_t width, uint32_t height,
                        struct display_rect *out);
/* A situation the VRAM can hold: 32 bits per pixel, width and height
 * within DISPLAY_*_MAX, width * 4 <= pitch, offset + pitch * height <=
 * VIDEOVSP_VRAM_BYTES. */
bool videovsp_situation_fits(uint32_t depth, uint32_t width, uint32_t height, uint32_t pitch, uint32_t offset);

/* ---- saved state ---- */

/* The open channel ("SVCH", instance: relid). */
#define VIDEOVSP_CHANNEL_STATE_TAG VMSTATE_TAG('S', 'V', 'C', 'H')
struct videovsp_channel_state {
        uint32_t version; /* 0: not negotiated */
        bool vram_mapped;
        uint64_t vram_gpa;
        bool active;
        uint32_t width, height, pitch, depth, offset;
        bool dirt_asked; /* the guest was last told to report its dirt */
};
extern const struct vmstate_desc videovsp_channel_state_desc;
int videovsp_channel_state_decode(const struct vmstate_section *s, struct videovsp_channel_state *out, char *err,
                                  size_t errlen);

/* The VRAM's bytes ("SVRM", instance 0): the owner's memory, saved by it
 * (the VM paused) with these. Its size, a map of the 64 KiB chunks
 * stored (a bit each) and those chunks; all-zero ones are left out. */
#define VIDEOVSP_VRAM_STATE_TAG VMSTATE_TAG('S', 'V', 'R', 'M')
#define VIDEOVSP_VRAM_CHUNK (64u << 10)
#define VIDEOVSP_VRAM_CHUNKS (VIDEOVSP_VRAM_BYTES / VIDEOVSP_VRAM_CHUNK)
/* fd: the memfd vram maps from offset 0, or -1: the chunks in its holes
 * are zero without being read (reading them would fill them). */
int videovsp_vram_save(struct vmstate_writer *w, const uint8_t *vram, int fd, char *err, size_t errlen);
/* Pure: checks the section (its size this device's, the chunks the map
 * names) and points *data at its chunks. 0, or -EINVAL /
 * -EPROTONOSUPPORT with a sentence. */
int videovsp_vram_state_decode(const struct vmstate_section *s, uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8],
                               const uint8_t **data, char *err, size_t errlen);
/* Writes a decoded section into vram (the chunks left out: zeros,
 * punched out of fd, the memfd vram maps, where it is not -1). */
void videovsp_vram_apply(uint8_t *vram, int fd, const uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8], const uint8_t *data);

/* The synthetic video's row of the worker's device table
 * (common/device.h), after the VMBus server's; its dev is the struct
 * videovsp, its memory the VRAM of its configuration. */
extern const struct device_ops videovsp_device_ops;
