// SPDX-License-Identifier: MIT
/* The synthetic video device (videovsp.h, docs/video.md): one device
 * worker serves the channel's doorbell and a tick under one lock, as the
 * other host-initiated devices do (vsp/ic, vsp/dm), through vmbus/simple.h. The guest speaks
 * first: VERSION_REQUEST (3.5 and 3.2 accepted), RESOLUTION_REQUEST (3.5),
 * VRAM_LOCATION (mapped by the owner, acknowledged), SITUATION_UPDATE
 * (the mode), then DIRT while the host asks for it (FEATURE_CHANGE). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"
#include "vmbus/simple.h"

uint64_t video_now_us(void) {
        return now_us(CLOCK_MONOTONIC);
}

static void changed(struct videovsp *v) {
        if (v->ops->changed)
                v->ops->changed(v->opaque);
}

/* One host message: pipe header, synthvid header, body. */
static int send_msg(struct videovsp *v, uint32_t type, const void *body, size_t len) {
        struct synthvid_pipe_hdr ph = { .type = SYNTHVID_PIPE_DATA,
                                        .size = (uint32_t)(sizeof(struct synthvid_hdr) + len) };
        struct synthvid_hdr vh = { .type = type, .size = ph.size };
        if (SYNTHVID_HEADERS + len > sizeof v->txbuf)
                return -EMSGSIZE;
        memcpy(v->txbuf, &ph, sizeof ph);
        memcpy(v->txbuf + sizeof ph, &vh, sizeof vh);
        memcpy(v->txbuf + SYNTHVID_HEADERS, body, len);
        struct vmbus_ring_pair *rp = vmbus_channel_rings(v->sc.ch);
        vmbus_ring_send_begin(rp);
        int r = vmbus_ring_send_inband(rp, 0, false, v->txbuf, SYNTHVID_HEADERS + len);
        vmbus_ring_send_end(rp);
        return r;
}

void video_send_watch(struct videovsp *v) {
        if (!v->sc.ch || !v->cs.version || v->quiesced || v->cs.dirt_asked == v->watch) {
                v->watch_sent_pending = false;
                return;
        }
        struct synthvid_feature_change f = { .is_dirt_needed = v->watch };
        if (send_msg(v, SYNTHVID_FEATURE_CHANGE, &f, sizeof f) < 0) {
                v->watch_sent_pending = true; /* the tick tries again */
                return;
        }
        v->cs.dirt_asked = v->watch;
        v->watch_sent_pending = false;
}

static void on_version(struct videovsp *v, const struct videovsp_msg *m) {
        bool ok = m->version == SYNTHVID_VERSION_WIN10 || m->version == SYNTHVID_VERSION_WIN8;
        struct synthvid_version_resp r = { .version = m->version, .is_accepted = ok, .max_video_outputs = 1 };
        if (send_msg(v, SYNTHVID_VERSION_RESPONSE, &r, sizeof r) < 0)
                return;
        if (!ok) {
                v->stats.refused_versions++;
                return;
        }
        v->cs.version = m->version;
        v->cs.dirt_asked = false; /* a new driver does not report until asked */
        v->stats.negotiations++;
        video_send_watch(v);
        changed(v);
}

static void on_resolutions(struct videovsp *v, const struct videovsp_msg *m) {
        uint8_t buf[sizeof(struct synthvid_resolution_resp) + SYNTHVID_MAX_RESOLUTION_COUNT * 4];
        uint16_t res[SYNTHVID_MAX_RESOLUTION_COUNT][2];
        struct synthvid_resolution_resp r = { .is_standard = 0 };
        size_t n = videovsp_resolutions(v->cfg.default_width, v->cfg.default_height,
                                        (uint8_t)MIN(m->max_resolutions, SYNTHVID_MAX_RESOLUTION_COUNT), res,
                                        &r.default_resolution_index);
        v->stats.resolution_requests++;
        r.resolution_count = (uint8_t)n;
        memcpy(buf, &r, sizeof r);
        for (size_t i = 0; i < n; i++) {
                struct synthvid_screen_info si = { res[i][0], res[i][1] };
                memcpy(buf + sizeof r + 4 * i, &si, sizeof si);
        }
        (void)send_msg(v, SYNTHVID_RESOLUTION_RESPONSE, buf, sizeof r + 4 * n);
}

static void on_vram(struct videovsp *v, const struct videovsp_msg *m) {
        /* Page-aligned, and the owner maps it (vid refuses RAM, a hole it
         * does not allow, an overlap); a failure is acknowledged with
         * another context, which Linux reports and draws on regardless. */
        int r = !m->gpa_specified || m->gpa % 4096u ? -EINVAL : v->ops->map_vram(v->opaque, m->gpa);
        struct synthvid_vram_location_ack a = { .user_ctx = r == 0 ? m->user_ctx : ~m->user_ctx };
        if (r == 0) {
                v->stats.vram_moves++;
                v->cs.vram_mapped = true;
                v->cs.vram_gpa = m->gpa;
        } else {
                v->stats.vram_map_failures++;
        }
        (void)send_msg(v, SYNTHVID_VRAM_LOCATION_ACK, &a, sizeof a);
        changed(v);
}

static void on_situation(struct videovsp *v, const struct videovsp_msg *m) {
        v->stats.situations++;
        bool fits = videovsp_situation_fits(m->depth, m->width, m->height, m->pitch, m->offset);
        if (m->active && !fits)
                v->stats.bad_situations++;
        v->cs.active = m->active && fits;
        v->cs.depth = v->cs.active ? m->depth : 0;
        v->cs.width = v->cs.active ? m->width : 0;
        v->cs.height = v->cs.active ? m->height : 0;
        v->cs.pitch = v->cs.active ? m->pitch : 0;
        v->cs.offset = v->cs.active ? m->offset : 0;
        v->n_dirty = 0; /* a new mode: the owner reads all of it */
        changed(v);
}

static void add_dirty(struct videovsp *v, const struct display_rect *r) {
        if (v->n_dirty < VIDEO_DIRTY_MAX) {
                v->dirty[v->n_dirty++] = *r;
                return;
        }
        /* a flood: everything so far becomes one rectangle */
        struct display_rect *b = &v->dirty[0];
        uint32_t x1 = b->x, y1 = b->y, x2 = b->x + b->w, y2 = b->y + b->h;
        for (size_t i = 1; i <= v->n_dirty; i++) {
                const struct display_rect *q = i < v->n_dirty ? &v->dirty[i] : r;
                x1 = MIN(x1, q->x), y1 = MIN(y1, q->y);
                x2 = MAX(x2, q->x + q->w), y2 = MAX(y2, q->y + q->h);
        }
        *b = (struct display_rect){ x1, y1, x2 - x1, y2 - y1 };
        v->n_dirty = 1;
        v->stats.dirt_merged++;
}

static void on_dirt(struct videovsp *v, const struct videovsp_msg *m) {
        v->stats.dirt_messages++;
        if (!v->cs.active)
                return;
        bool any = false;
        for (uint32_t i = 0; i < m->n_rects; i++) {
                struct display_rect r;
                if (!videovsp_dirt_rect(m, i, v->cs.width, v->cs.height, &r))
                        continue;
                add_dirty(v, &r);
                v->stats.dirt_rects++;
                any = true;
        }
        if (any)
                changed(v);
}

static void on_message(struct videovsp *v, const uint8_t *p, size_t len) {
        struct videovsp_msg m;
        int r = videovsp_parse(p, len, &m);
        if (r < 0) {
                v->stats.bad_messages++;
                return;
        }
        if (m.type != SYNTHVID_VERSION_REQUEST && !v->cs.version) {
                v->stats.bad_messages++; /* before the negotiation */
                return;
        }
        switch (m.type) {
        case SYNTHVID_VERSION_REQUEST:
                on_version(v, &m);
                break;
        case SYNTHVID_RESOLUTION_REQUEST:
                if (v->cs.version == SYNTHVID_VERSION_WIN10)
                        on_resolutions(v, &m);
                else
                        v->stats.bad_messages++;
                break;
        case SYNTHVID_VRAM_LOCATION:
                on_vram(v, &m);
                break;
        case SYNTHVID_SITUATION_UPDATE:
                on_situation(v, &m);
                break;
        case SYNTHVID_DIRT:
                on_dirt(v, &m);
                break;
        default: /* the pointer: Linux only hides the host's cursor with it */
                v->stats.pointer_messages++;
                break;
        }
}

/* The channel's packets (vmbus/simple.h serves the ring). */
static void on_packet(struct vmbus_simple *sc, const struct vmbus_packet *p) {
        struct videovsp *v = container_of(sc, struct videovsp, sc);
        if (p && p->type == VM_PKT_DATA_INBAND)
                on_message(v, vmbus_packet_payload(p), vmbus_packet_payload_len(p));
        else if (!p || p->type != VM_PKT_COMP)
                v->stats.bad_messages++;
}

/* ---- the device thread ---- */

static int on_timer(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct videovsp *v = opaque;
        pthread_mutex_lock(&v->lock);
        if (v->sc.ch && !v->paused) {
                vmbus_simple_poll(&v->sc); /* a missed doorbell cannot strand a message */
                if (v->watch_sent_pending)
                        video_send_watch(v);
        }
        pthread_mutex_unlock(&v->lock);
        return 0;
}

/* ---- the channel (vmbus/simple.h) ---- */

/* The VRAM stays where the guest put it until it moves it: only the
 * negotiation is the channel's. */
static int on_opened(struct vmbus_simple *sc) {
        struct videovsp *v = container_of(sc, struct videovsp, sc);
        v->cs.version = 0;
        v->cs.dirt_asked = false;
        return 0;
}

static void on_closed(struct vmbus_simple *sc, bool quiet) {
        struct videovsp *v = container_of(sc, struct videovsp, sc);
        if (quiet) /* a refused restore's undo */
                return;
        v->cs.version = 0;
        v->cs.active = false;
        v->n_dirty = 0;
        changed(v);
}

static const struct vmbus_simple_ops video_simple = {
        .name = "synthetic video",
        .state = &videovsp_channel_state_desc,
        .state_size = sizeof(struct videovsp_channel_state),
        .opened = on_opened,
        .packet = on_packet,
        .closed = on_closed,
        .save = video_channel_save,
        .restore = video_channel_restore,
        .decode = video_channel_decode,
        .check = video_channel_check,
        .quiesce = video_channel_quiesce,
};

static const struct vmbus_provider_ops video_provider = {
        .name = "synthvid",
        .class_id = { HV_SYNTHVID_GUID },
        .mmio_megabytes = VIDEOVSP_VRAM_MIB,
        .guest_max_packet = VIDEO_GUEST_MAX_PACKET,
        VMBUS_SIMPLE_PROVIDER,
};

/* ---- lifecycle and API ---- */

int videovsp_new(struct vmbus_server *srv, const struct videovsp_config *cfg, const struct videovsp_owner_ops *ops,
                 void *opaque, struct videovsp **out) {
        if (!ops || !ops->map_vram)
                return -EINVAL;
        struct videovsp *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        pthread_mutex_init(&v->lock, NULL);
        v->cfg = *cfg;
        if (!v->cfg.default_width || !v->cfg.default_height)
                v->cfg.default_width = 1024, v->cfg.default_height = 768;
        v->ops = ops;
        v->opaque = opaque;
        int r = devworker_new(&(struct devworker_config){ .name = "synthvid" }, &v->w);
        if (r == 0) {
                vmbus_simple_init(&v->sc, &video_simple, &v->lock, v->w, v->rxbuf, sizeof v->rxbuf);
                r = devworker_add_timer(v->w, VIDEO_TICK_MS * 1000ull, VIDEO_TICK_MS * 1000ull, on_timer, v, NULL);
        }
        if (r == 0)
                r = devworker_start(v->w);
        struct vmbus_device_config dc = { .ops = &video_provider, .data = &v->sc };
        /* One device per VM: Hyper-V's instance for it is not published. */
        static const uint8_t instance[16] = HV_GUID_BYTES(0x5620e0c7, 0x8062, 0x4dce, 0xae, 0xb7, 0x52, 0x0c, 0x7e,
                                                          0xf7, 0x61, 0x04);
        memcpy(dc.instance_id.b, instance, 16);
        if (r == 0)
                r = vmbus_server_add_device(srv, &dc, &v->dev);
        if (r < 0) {
                videovsp_free(v);
                return r;
        }
        *out = v;
        return 0;
}

void videovsp_free(struct videovsp *v) {
        if (!v)
                return;
        devworker_free(v->w);
        pthread_mutex_destroy(&v->lock);
        free(v);
}

void videovsp_watch(struct videovsp *v, bool on) {
        pthread_mutex_lock(&v->lock);
        v->watch = on;
        video_send_watch(v);
        pthread_mutex_unlock(&v->lock);
}

void videovsp_get_state(struct videovsp *v, struct videovsp_state *out) {
        pthread_mutex_lock(&v->lock);
        *out = (struct videovsp_state){
                .connected = v->sc.ch && v->cs.version,
                .version = v->cs.version,
                .vram_mapped = v->cs.vram_mapped,
                .vram_gpa = v->cs.vram_gpa,
                .mode = { .active = v->cs.active && v->cs.vram_mapped, .width = v->cs.width,
                          .height = v->cs.height, .stride = v->cs.pitch, .bpp = v->cs.depth,
                          .offset = v->cs.offset },
                .watched = v->cs.dirt_asked,
        };
        pthread_mutex_unlock(&v->lock);
}

size_t videovsp_take_dirty(struct videovsp *v, struct display_rect *out, size_t max, bool full) {
        size_t n = 0;
        pthread_mutex_lock(&v->lock);
        if (full && v->cs.active) {
                v->n_dirty = 0;
                add_dirty(v, &(struct display_rect){ 0, 0, v->cs.width, v->cs.height });
        }
        if (max && v->n_dirty > max) { /* the caller's room: merge the rest into the last */
                while (v->n_dirty > max) {
                        struct display_rect *a = &v->dirty[v->n_dirty - 2], *b = &v->dirty[v->n_dirty - 1];
                        uint32_t x1 = MIN(a->x, b->x), y1 = MIN(a->y, b->y);
                        uint32_t x2 = MAX(a->x + a->w, b->x + b->w), y2 = MAX(a->y + a->h, b->y + b->h);
                        *a = (struct display_rect){ x1, y1, x2 - x1, y2 - y1 };
                        v->n_dirty--;
                }
        }
        n = MIN(v->n_dirty, max);
        memcpy(out, v->dirty, n * sizeof *out);
        v->n_dirty = 0;
        pthread_mutex_unlock(&v->lock);
        return n;
}

void videovsp_get_stats(struct videovsp *v, struct videovsp_stats *out) {
        pthread_mutex_lock(&v->lock);
        *out = v->stats;
        pthread_mutex_unlock(&v->lock);
}

void videovsp_pause(struct videovsp *v) {
        pthread_mutex_lock(&v->lock);
        v->paused = true;
        pthread_mutex_unlock(&v->lock);
}

int videovsp_quiesce(struct videovsp *v) {
        int r = devworker_pause(v->w);
        if (r < 0)
                return r;
        pthread_mutex_lock(&v->lock);
        v->quiesced = v->paused = true;
        pthread_mutex_unlock(&v->lock);
        return 0;
}

void videovsp_resume(struct videovsp *v) {
        pthread_mutex_lock(&v->lock);
        v->paused = v->quiesced = false;
        if (v->sc.ch)
                video_send_watch(v); /* a watch asked for while quiesced */
        vmbus_simple_resumed(&v->sc); /* serve once */
        pthread_mutex_unlock(&v->lock);
        devworker_resume(v->w);
}
