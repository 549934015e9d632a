// SPDX-License-Identifier: MIT
/* The synthetic video device (vsp/video, docs/video.md) against a
 * simulated guest doing what Linux 6.1's hyperv_drm does on the wire:
 * VERSION_REQUEST 3.5 (then 3.2), RESOLUTION_REQUEST, VRAM_LOCATION with
 * the VRAM's address as its context, SITUATION_UPDATE, and DIRT once the
 * host asked for it with FEATURE_CHANGE. Also what a hostile guest sends:
 * modes that do not fit the VRAM, rectangles outside the mode, floods,
 * messages before the negotiation, malformed headers. */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/synthvid.h"
#include "hv/vmbus.h"
#include "tests/lib/vmstate-file.h"
#include "videovsp/videovsp.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define VRAM_GPA 0xe0000000ull

struct owner {
        pthread_mutex_t lock;
        unsigned maps, changes;
        uint64_t gpa;
        int map_result;
};

struct env {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct videovsp *v;
        struct owner o;
        struct vmbus_sim_channel ch;
        uint32_t relid, connection_id;
};

static int on_map(void *opaque, uint64_t gpa) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->maps++;
        o->gpa = gpa;
        int r = o->map_result;
        pthread_mutex_unlock(&o->lock);
        return r;
}

static void on_changed(void *opaque) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->changes++;
        pthread_mutex_unlock(&o->lock);
}

static const struct videovsp_owner_ops owner_ops = { .map_vram = on_map, .changed = on_changed };

static unsigned owner_maps(struct env *e) {
        pthread_mutex_lock(&e->o.lock);
        unsigned n = e->o.maps;
        pthread_mutex_unlock(&e->o.lock);
        return n;
}

static void build(struct env *e) {
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct videovsp_config c = { 0 };
        ASSERT_OK(videovsp_new(e->srv, &c, &owner_ops, &e->o, &e->v));
}

static void env_init(struct env *e) {
        *e = (struct env){ 0 };
        pthread_mutex_init(&e->o.lock, NULL);
        ASSERT_OK(vmbus_sim_new(16u << 20, 1, &e->sim));
        build(e);
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
}

static void env_free(struct env *e) {
        vmbus_server_free(e->srv);
        videovsp_free(e->v);
        ASSERT_EQ(vmbus_sim_live_mappings(e->sim), 0u);
        vmbus_sim_free(e->sim);
}

static void open_channel(struct env *e) {
        if (!e->relid) {
                struct vmbus_channel_offer_channel offers[4];
                ASSERT_EQ(vmbus_sim_request_offers(e->sim, offers, 4), 1);
                static const uint8_t cls[16] = HV_SYNTHVID_GUID;
                ASSERT_EQ(memcmp(offers[0].if_type, cls, 16), 0);
                ASSERT_EQ(offers[0].mmio_megabytes, VIDEOVSP_VRAM_MIB); /* the VRAM hyperv_drm allocates */
                e->relid = offers[0].child_relid;
                e->connection_id = offers[0].connection_id;
        }
        ASSERT_EQ(vmbus_sim_open(e->sim, e->relid, e->connection_id, 8, NULL, 0, &e->ch), 0);
}

/* A guest message: both headers as Linux writes them, then body. */
static void g_send(struct env *e, uint32_t type, const void *body, size_t len) {
        uint8_t buf[4096];
        struct synthvid_pipe_hdr ph = { SYNTHVID_PIPE_DATA, (uint32_t)(sizeof(struct synthvid_hdr) + len) };
        struct synthvid_hdr vh = { type, ph.size };
        memcpy(buf, &ph, sizeof ph);
        memcpy(buf + sizeof ph, &vh, sizeof vh);
        memcpy(buf + SYNTHVID_HEADERS, body, len);
        ASSERT_OK(vmbus_sim_ring_write(e->sim, &e->ch, VM_PKT_DATA_INBAND, 0, 1, buf, SYNTHVID_HEADERS + len));
}

/* The next host message: its type must be type; its body into out.
 * Returns the body's length. */
static size_t g_recv(struct env *e, uint32_t type, void *out, size_t cap) {
        uint8_t pkt[4096];
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(e->sim, &e->ch, pkt, sizeof pkt, &p, 5000), 0);
        const uint8_t *b = vmbus_packet_payload(&p);
        size_t n = vmbus_packet_payload_len(&p);
        struct synthvid_pipe_hdr ph;
        struct synthvid_hdr vh;
        ASSERT_GE(n, SYNTHVID_HEADERS);
        memcpy(&ph, b, sizeof ph);
        memcpy(&vh, b + sizeof ph, sizeof vh);
        ASSERT_EQ(ph.type, SYNTHVID_PIPE_DATA);
        ASSERT_EQ(ph.size, vh.size);
        ASSERT_EQ(vh.type, type);
        size_t body = vh.size - sizeof vh;
        ASSERT_LE(body, cap);
        memcpy(out, b + SYNTHVID_HEADERS, body);
        return body;
}

static void g_nothing(struct env *e, int ms) {
        uint8_t pkt[4096];
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_sim_ring_wait(e->sim, &e->ch, pkt, sizeof pkt, &p, ms), -ETIMEDOUT);
}

static bool g_version(struct env *e, uint32_t version) {
        struct synthvid_version_req q = { version };
        g_send(e, SYNTHVID_VERSION_REQUEST, &q, sizeof q);
        struct synthvid_version_resp r;
        ASSERT_EQ(g_recv(e, SYNTHVID_VERSION_RESPONSE, &r, sizeof r), sizeof r);
        ASSERT_EQ(r.version, version);
        ASSERT_EQ(r.max_video_outputs, 1);
        return r.is_accepted;
}

static bool g_vram(struct env *e, uint64_t gpa) {
        struct synthvid_vram_location l = { .user_ctx = gpa, .is_vram_gpa_specified = 1, .vram_gpa = gpa };
        g_send(e, SYNTHVID_VRAM_LOCATION, &l, sizeof l);
        struct synthvid_vram_location_ack a;
        ASSERT_EQ(g_recv(e, SYNTHVID_VRAM_LOCATION_ACK, &a, sizeof a), sizeof a);
        return a.user_ctx == gpa; /* what hyperv_drm checks */
}

static void g_mode(struct env *e, bool active, uint32_t w, uint32_t h, uint32_t pitch, uint8_t depth) {
        uint8_t b[sizeof(struct synthvid_situation_update) + sizeof(struct synthvid_output_situation)];
        struct synthvid_situation_update s = { .video_output_count = 1 };
        struct synthvid_output_situation o = { .active = active, .depth_bits = depth, .width_pixels = w,
                                               .height_pixels = h, .pitch_bytes = pitch };
        memcpy(b, &s, sizeof s);
        memcpy(b + sizeof s, &o, sizeof o);
        g_send(e, SYNTHVID_SITUATION_UPDATE, b, sizeof b);
}

static void g_dirt(struct env *e, const struct synthvid_rect *r, uint8_t n) {
        uint8_t b[2 + 255 * sizeof *r];
        struct synthvid_dirt d = { .video_output = 0, .dirt_count = n };
        memcpy(b, &d, sizeof d);
        memcpy(b + sizeof d, r, n * sizeof *r);
        g_send(e, SYNTHVID_DIRT, b, sizeof d + n * sizeof *r);
}

static struct videovsp_state state(struct env *e) {
        struct videovsp_state s;
        videovsp_get_state(e->v, &s);
        return s;
}

static struct videovsp_stats stats(struct env *e) {
        struct videovsp_stats s;
        videovsp_get_stats(e->v, &s);
        return s;
}

/* hyperv_drm's probe: version, resolutions, VRAM, then a mode. */
static void connect_linux(struct env *e) {
        open_channel(e);
        ASSERT_TRUE(g_version(e, SYNTHVID_VERSION_WIN10));
        struct synthvid_resolution_req q = { SYNTHVID_MAX_RESOLUTION_COUNT };
        g_send(e, SYNTHVID_RESOLUTION_REQUEST, &q, sizeof q);
        uint8_t b[sizeof(struct synthvid_resolution_resp) + SYNTHVID_MAX_RESOLUTION_COUNT * 4];
        size_t n = g_recv(e, SYNTHVID_RESOLUTION_RESPONSE, b, sizeof b);
        struct synthvid_resolution_resp r;
        memcpy(&r, b, sizeof r);
        /* what the 6.1 stable driver demands: a count 1..64, the index in it, exactly that many entries */
        ASSERT_GT(r.resolution_count, 0);
        ASSERT_LT(r.default_resolution_index, r.resolution_count);
        ASSERT_EQ(n, sizeof r + 4u * r.resolution_count);
        struct synthvid_screen_info def;
        memcpy(&def, b + sizeof r + 4u * r.default_resolution_index, sizeof def);
        ASSERT_EQ(def.width, 1024);
        ASSERT_EQ(def.height, 768);
        for (unsigned i = 0; i < r.resolution_count; i++) {
                struct synthvid_screen_info si;
                memcpy(&si, b + sizeof r + 4 * i, sizeof si);
                ASSERT_LE((uint64_t)si.width * si.height * 4, (uint64_t)VIDEOVSP_VRAM_BYTES);
        }
        ASSERT_TRUE(g_vram(e, VRAM_GPA));
        g_mode(e, true, 1024, 768, 4096, 32);
        WAIT_FOR(state(e).mode.active);
}

/* ---- tests ---- */

TEST(negotiates_and_sets_a_mode_as_hyperv_drm_does) {
        static struct env e;
        env_init(&e);
        connect_linux(&e);
        struct videovsp_state s = state(&e);
        ASSERT_TRUE(s.connected);
        ASSERT_EQ(s.version, SYNTHVID_VERSION_WIN10);
        ASSERT_TRUE(s.vram_mapped);
        ASSERT_EQ(s.vram_gpa, VRAM_GPA);
        ASSERT_EQ(owner_maps(&e), 1u);
        ASSERT_EQ(s.mode.width, 1024u);
        ASSERT_EQ(s.mode.stride, 4096u);
        ASSERT_EQ(s.mode.bpp, 32u);
        ASSERT_TRUE(display_mode_fits(&s.mode, VIDEOVSP_VRAM_BYTES));
        g_nothing(&e, 200); /* nobody watches: no FEATURE_CHANGE */
        /* the mode goes away (the driver's pipe disabled) */
        g_mode(&e, false, 0, 0, 0, 32);
        WAIT_FOR(!state(&e).mode.active);
        env_free(&e);
}

TEST(versions_3_2_accepted_3_0_refused) {
        static struct env e;
        env_init(&e);
        open_channel(&e);
        ASSERT_FALSE(g_version(&e, SYNTHVID_VERSION_WIN7));
        ASSERT_TRUE(g_version(&e, SYNTHVID_VERSION_WIN8));
        ASSERT_EQ(stats(&e).refused_versions, 1u);
        /* 3.2 has no resolution request: counted, not answered */
        struct synthvid_resolution_req q = { 8 };
        g_send(&e, SYNTHVID_RESOLUTION_REQUEST, &q, sizeof q);
        g_nothing(&e, 200);
        ASSERT_EQ(stats(&e).bad_messages, 1u);
        env_free(&e);
}

TEST(a_vram_the_host_cannot_map_is_acknowledged_as_failed) {
        static struct env e;
        env_init(&e);
        e.o.map_result = -EEXIST;
        open_channel(&e);
        ASSERT_TRUE(g_version(&e, SYNTHVID_VERSION_WIN10));
        ASSERT_FALSE(g_vram(&e, VRAM_GPA));
        ASSERT_FALSE(state(&e).vram_mapped);
        e.o.map_result = 0;
        ASSERT_FALSE(g_vram(&e, VRAM_GPA + 100)); /* not page-aligned: the owner is not asked */
        ASSERT_EQ(owner_maps(&e), 1u);
        ASSERT_TRUE(g_vram(&e, VRAM_GPA + 0x1000000));
        /* a mode without mapped VRAM is not shown; with it, it is */
        g_mode(&e, true, 800, 600, 3200, 32);
        WAIT_FOR(state(&e).mode.active);
        ASSERT_EQ(state(&e).vram_gpa, VRAM_GPA + 0x1000000);
        env_free(&e);
}

TEST(modes_that_do_not_fit_the_vram_are_refused) {
        static struct env e;
        env_init(&e);
        connect_linux(&e);
        g_mode(&e, true, 4096, 2160, 16384, 32); /* 35 MiB */
        WAIT_FOR(stats(&e).bad_situations == 1);
        ASSERT_FALSE(state(&e).mode.active);
        g_mode(&e, true, 1024, 768, 2048, 32); /* pitch below width * 4 */
        WAIT_FOR(stats(&e).bad_situations == 2);
        g_mode(&e, true, 1024, 768, 2048, 16); /* 16 bits per pixel */
        WAIT_FOR(stats(&e).bad_situations == 3);
        g_mode(&e, true, 0, 768, 4096, 32);
        WAIT_FOR(stats(&e).bad_situations == 4);
        ASSERT_FALSE(state(&e).mode.active);
        g_mode(&e, true, 2560, 1600, 10240, 32); /* exactly what fits */
        WAIT_FOR(state(&e).mode.active);
        env_free(&e);
}

TEST(dirt_is_asked_for_while_watched_and_clipped_and_bounded) {
        static struct env e;
        env_init(&e);
        connect_linux(&e);
        videovsp_watch(e.v, true);
        struct synthvid_feature_change f;
        ASSERT_EQ(g_recv(&e, SYNTHVID_FEATURE_CHANGE, &f, sizeof f), sizeof f);
        ASSERT_EQ(f.is_dirt_needed, 1);
        videovsp_watch(e.v, true); /* told once */
        g_nothing(&e, 100);
        ASSERT_TRUE(state(&e).watched);

        const struct synthvid_rect r[] = {
                { 10, 20, 110, 70 },       /* inside */
                { 1000, 700, 2000, 2000 }, /* clipped to 1024 x 768 */
                { -50, -50, 5, 5 },        /* clipped at 0 */
                { 500, 500, 400, 600 },    /* inverted: nothing */
                { 2000, 2000, 2100, 2100 },/* outside */
        };
        g_dirt(&e, r, ARRAY_SIZE(r));
        WAIT_FOR(stats(&e).dirt_rects == 3);
        struct display_rect d[DISPLAY_RECTS_MAX];
        ASSERT_EQ(videovsp_take_dirty(e.v, d, DISPLAY_RECTS_MAX, false), 3u);
        ASSERT_EQ(d[0].x, 10u);
        ASSERT_EQ(d[0].w, 100u);
        ASSERT_EQ(d[0].h, 50u);
        ASSERT_EQ(d[1].w, 24u);
        ASSERT_EQ(d[1].h, 68u);
        ASSERT_EQ(d[2].x, 0u);
        ASSERT_EQ(d[2].w, 5u);
        ASSERT_EQ(videovsp_take_dirty(e.v, d, DISPLAY_RECTS_MAX, false), 0u); /* taken */

        /* a flood: 3 x 100 rectangles collapse into their bounding box */
        struct synthvid_rect many[100];
        for (int i = 0; i < 100; i++)
                many[i] = (struct synthvid_rect){ i, i, i + 2, i + 2 };
        for (int k = 0; k < 3; k++)
                g_dirt(&e, many, 100);
        WAIT_FOR(stats(&e).dirt_messages == 4);
        size_t n = videovsp_take_dirty(e.v, d, DISPLAY_RECTS_MAX, false);
        ASSERT_LE(n, (size_t)DISPLAY_RECTS_MAX);
        ASSERT_GT(stats(&e).dirt_merged, 0u);
        uint32_t x2 = 0;
        for (size_t i = 0; i < n; i++)
                x2 = MAX(x2, d[i].x + d[i].w);
        ASSERT_EQ(x2, 101u);
        /* a new viewer: the whole mode */
        ASSERT_EQ(videovsp_take_dirty(e.v, d, DISPLAY_RECTS_MAX, true), 1u);
        ASSERT_EQ(d[0].w, 1024u);
        ASSERT_EQ(d[0].h, 768u);

        videovsp_watch(e.v, false);
        ASSERT_EQ(g_recv(&e, SYNTHVID_FEATURE_CHANGE, &f, sizeof f), sizeof f);
        ASSERT_EQ(f.is_dirt_needed, 0);
        env_free(&e);
}

TEST(malformed_and_early_messages_are_counted) {
        static struct env e;
        env_init(&e);
        open_channel(&e);
        struct synthvid_rect r = { 0, 0, 1, 1 };
        g_dirt(&e, &r, 1); /* before the version */
        WAIT_FOR(stats(&e).bad_messages == 1);
        ASSERT_TRUE(g_version(&e, SYNTHVID_VERSION_WIN10));
        uint8_t bad[64] = { 0 };
        struct synthvid_pipe_hdr ph = { SYNTHVID_PIPE_DATA, 500 }; /* longer than the packet */
        struct synthvid_hdr vh = { SYNTHVID_DIRT, 500 };
        memcpy(bad, &ph, sizeof ph);
        memcpy(bad + sizeof ph, &vh, sizeof vh);
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &e.ch, VM_PKT_DATA_INBAND, 0, 1, bad, 32));
        struct synthvid_dirt d = { .video_output = 0, .dirt_count = 9 }; /* 9 rectangles promised, none sent */
        g_send(&e, SYNTHVID_DIRT, &d, sizeof d);
        struct synthvid_dirt other = { .video_output = 1, .dirt_count = 0 };
        g_send(&e, SYNTHVID_DIRT, &other, sizeof other);
        uint8_t one = 1;
        g_send(&e, SYNTHVID_SITUATION_UPDATE, &one, 1); /* short */
        g_send(&e, SYNTHVID_VERSION_RESPONSE, &one, 1);  /* a host message: ignored */
        WAIT_FOR(stats(&e).bad_messages == 6);
        ASSERT_FALSE(state(&e).mode.active);
        env_free(&e);
}

TEST(a_reopened_channel_negotiates_again_and_keeps_the_vram) {
        static struct env e;
        env_init(&e);
        connect_linux(&e);
        videovsp_watch(e.v, true);
        struct synthvid_feature_change f;
        g_recv(&e, SYNTHVID_FEATURE_CHANGE, &f, sizeof f);
        ASSERT_OK(vmbus_sim_close(e.sim, &e.ch));
        ASSERT_FALSE(state(&e).connected);
        ASSERT_FALSE(state(&e).mode.active);
        open_channel(&e);
        ASSERT_TRUE(g_version(&e, SYNTHVID_VERSION_WIN10));
        /* the viewer still watches: the new driver is asked again */
        ASSERT_EQ(g_recv(&e, SYNTHVID_FEATURE_CHANGE, &f, sizeof f), sizeof f);
        ASSERT_EQ(f.is_dirt_needed, 1);
        ASSERT_TRUE(state(&e).vram_mapped);
        env_free(&e);
}

/* ---- saved state ---- */

static int save_server(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmbus_server_save(opaque, w, err, errlen);
}

TEST(a_saved_channel_comes_back_with_its_vram_and_mode) {
        static struct env e;
        env_init(&e);
        connect_linux(&e);
        videovsp_watch(e.v, true);
        struct synthvid_feature_change f;
        g_recv(&e, SYNTHVID_FEATURE_CHANGE, &f, sizeof f);
        ASSERT_OK(videovsp_quiesce(e.v));
        ASSERT_OK(vmbus_server_quiesce(e.srv));
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[16];
        int n = vmstate_test_save(save_server, e.srv, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(e.srv);
        videovsp_free(e.v);
        unsigned maps = owner_maps(&e);

        build(&e);
        char err[256] = "";
        if (vmbus_server_restore(e.srv, secs, (size_t)n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_EQ(owner_maps(&e), maps + 1); /* the VRAM at the same place again */
        ASSERT_EQ(e.o.gpa, VRAM_GPA);
        /* the new worker's viewer is back before the resume (the display
         * server reconnects): the guest, asked already, is not asked again */
        videovsp_watch(e.v, true);
        vmbus_server_resume(e.srv);
        videovsp_resume(e.v);
        struct videovsp_state s = state(&e);
        ASSERT_TRUE(s.connected);
        ASSERT_TRUE(s.mode.active);
        ASSERT_EQ(s.mode.width, 1024u);
        ASSERT_TRUE(s.watched);
        g_nothing(&e, 200);
        struct synthvid_rect r = { 1, 2, 3, 4 };
        g_dirt(&e, &r, 1); /* no renegotiation: dirt is taken at once */
        WAIT_FOR(stats(&e).dirt_rects == 1);
        /* nobody watches any more: the guest stops reporting */
        videovsp_watch(e.v, false);
        ASSERT_EQ(g_recv(&e, SYNTHVID_FEATURE_CHANGE, &f, sizeof f), sizeof f);
        ASSERT_EQ(f.is_dirt_needed, 0);
        munmap(map, len);
        env_free(&e);
}

static int save_vram(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return videovsp_vram_save(w, opaque, -1, err, errlen);
}

/* SVRM: only the chunks that are not zero are stored, and they come back
 * where they were; the rest comes back zero. A section that does not add
 * up is refused before anything is written. */
TEST(the_vram_is_saved_as_its_nonzero_chunks) {
        uint8_t *vram = calloc(1, VIDEOVSP_VRAM_BYTES), *back = malloc(VIDEOVSP_VRAM_BYTES);
        ASSERT_NOT_NULL(vram);
        ASSERT_NOT_NULL(back);
        vram[0] = 1;
        vram[5 * VIDEOVSP_VRAM_CHUNK + 77] = 0x55;
        vram[VIDEOVSP_VRAM_BYTES - 1] = 0xaa;
        memset(back, 0xcc, VIDEOVSP_VRAM_BYTES);
        uint8_t *file;
        size_t len;
        struct vmstate_section secs[4];
        ASSERT_EQ(vmstate_test_save(save_vram, vram, &file, &len, secs, ARRAY_SIZE(secs)), 1);
        ASSERT_LT(len, 4 * VIDEOVSP_VRAM_CHUNK); /* three chunks and the map */
        uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8];
        const uint8_t *data;
        char err[256] = "";
        if (videovsp_vram_state_decode(&secs[0], map, &data, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_EQ(map[0], 0x21); /* chunks 0 and 5 */
        ASSERT_EQ(map[VIDEOVSP_VRAM_CHUNKS / 8 - 1], 0x80);
        videovsp_vram_apply(back, -1, map, data);
        ASSERT_EQ(memcmp(vram, back, VIDEOVSP_VRAM_BYTES), 0);

        /* A map naming a chunk the section does not carry. */
        struct vmstate_section bad = secs[0];
        uint8_t *copy = malloc(bad.length);
        ASSERT_NOT_NULL(copy);
        memcpy(copy, bad.payload, bad.length);
        bad.payload = copy;
        size_t map_at = 0;
        uint64_t off = 0;
        struct vmstate_field f;
        while (vmstate_next_field(&secs[0], &off, &f) > 0)
                if (f.id == 2)
                        map_at = (size_t)(f.value - secs[0].payload);
        copy[map_at + 1] |= 1; /* chunk 8 too */
        ASSERT_ERROR(videovsp_vram_state_decode(&bad, map, &data, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "the map names 4 chunks"));
        /* A newer version; another VRAM size. */
        bad = secs[0];
        bad.version = 2;
        ASSERT_ERROR(videovsp_vram_state_decode(&bad, map, &data, err, sizeof err), EPROTONOSUPPORT);
        memcpy(copy, secs[0].payload, secs[0].length);
        off = 0;
        while (vmstate_next_field(&secs[0], &off, &f) > 0)
                if (f.id == 1)
                        copy[f.value - secs[0].payload + 2] ^= 1;
        bad = secs[0];
        bad.payload = copy;
        ASSERT_ERROR(videovsp_vram_state_decode(&bad, map, &data, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "bytes of VRAM"));
        free(copy);
        munmap(file, len);
        free(vram);
        free(back);
}

struct memfd_vram {
        uint8_t *vram;
        int fd;
};

static int save_memfd_vram(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        struct memfd_vram *m = opaque;
        return videovsp_vram_save(w, m->vram, m->fd, err, errlen);
}

static uint64_t allocated(int fd) {
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        return (uint64_t)st.st_blocks * 512u;
}

static struct memfd_vram memfd_vram(void) {
        struct memfd_vram m = { .fd = memfd_create("test-vram", MFD_CLOEXEC) };
        ASSERT_GE(m.fd, 0);
        ASSERT_OK(ftruncate(m.fd, VIDEOVSP_VRAM_BYTES));
        m.vram = mmap(NULL, VIDEOVSP_VRAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
        ASSERT_TRUE(m.vram != MAP_FAILED);
        return m;
}

/* A VRAM in a memfd (the worker's): the save reads only the chunks that
 * hold data, so its holes stay holes (a drawn console does not cost the
 * whole 16 MiB on every save); the restore punches out the chunks left
 * out instead of writing zeros. */
TEST(a_memfd_vrams_holes_stay_holes) {
        struct memfd_vram src = memfd_vram(), dst = memfd_vram();
        memset(src.vram + 3 * VIDEOVSP_VRAM_CHUNK, 0x42, 100);
        uint8_t *file;
        size_t len;
        struct vmstate_section secs[4];
        ASSERT_EQ(vmstate_test_save(save_memfd_vram, &src, &file, &len, secs, ARRAY_SIZE(secs)), 1);
        ASSERT_LE(allocated(src.fd), (uint64_t)VIDEOVSP_VRAM_CHUNK); /* the one chunk drawn, nothing read in */
        uint8_t map[VIDEOVSP_VRAM_CHUNKS / 8];
        const uint8_t *data;
        char err[256] = "";
        if (videovsp_vram_state_decode(&secs[0], map, &data, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_EQ(map[0], 0x08); /* chunk 3 */
        memset(dst.vram, 0xcc, VIDEOVSP_VRAM_BYTES); /* every chunk allocated and not zero */
        videovsp_vram_apply(dst.vram, dst.fd, map, data);
        ASSERT_LE(allocated(dst.fd), (uint64_t)VIDEOVSP_VRAM_CHUNK); /* before reading it: a read fills a hole */
        ASSERT_EQ(memcmp(src.vram, dst.vram, VIDEOVSP_VRAM_BYTES), 0);
        munmap(file, len);
        munmap(src.vram, VIDEOVSP_VRAM_BYTES), munmap(dst.vram, VIDEOVSP_VRAM_BYTES);
        close(src.fd), close(dst.fd);
}

TEST(resolutions_offered) {
        uint16_t res[SYNTHVID_MAX_RESOLUTION_COUNT][2];
        uint8_t def;
        size_t n = videovsp_resolutions(1920, 1080, 64, res, &def);
        ASSERT_GT(n, 10u);
        ASSERT_EQ(res[def][0], 1920);
        ASSERT_EQ(res[def][1], 1080);
        n = videovsp_resolutions(1000, 1000, 64, res, &def); /* not standard: the largest inside it */
        ASSERT_EQ(res[def][0], 800);
        ASSERT_EQ(res[def][1], 600);
        ASSERT_EQ(videovsp_resolutions(1024, 768, 3, res, &def), 3u); /* the guest's maximum count */
        ASSERT_LT(def, 3);
}

TEST_MAIN();
