// SPDX-License-Identifier: MIT
/* vsc.mode=video: the synthetic video device's guest side, as Linux's
 * hyperv_fb speaks it (hvdefs/include/hv/synthvid.h, docs/video.md), for
 * the VRAM's live migration (tests/integration/test-guest-video.sh): version
 * 3.2, the VRAM placed at vsc.video.gpa (default 0xe0000000, the start of
 * the VMBus MMIO window vmwp's ACPI describes), a 640x480x32 mode, the
 * vmdisplay test pattern (phase 0, tests/integration/display-pattern.h)
 * drawn on the screen and announced with one DIRT.
 *
 * Then, at CPL3 until vsc.video.seconds pass, the guest keeps the VRAM
 * changing and checks that it holds what it wrote: every 10 ms a sweep
 * over the off-screen part (vsc.video.churn_mib of it, default 4, 0 for a
 * still VRAM) checks
 * that each page's stamp is the previous sweep's and writes the next;
 * every second the screen is compared with the pattern. A VRAM write the
 * host lost (a migration that did not carry the VRAM, or carried a stale
 * page) ends the mode with the page it found.
 *
 * Report lines:
 *   video_ready gpa=0x... mode=640x480 churn_mib=N
 *   video_sweeps n=N          (every second)
 *   video_end sweeps=N */
#include "hv/synthvid.h"
#include "tests/integration/display-pattern.h"

#include "guest.h"

#define PAGE 4096ul
#define RING_BYTES (16u * 1024)
#define WIDTH 640u
#define HEIGHT 480u
#define PITCH (WIDTH * 4u)
#define SCREEN_BYTES (PITCH * HEIGHT)
#define CHURN_AT (2ul << 20) /* off-screen: past the 1.2 MiB of the mode */
#define SWEEP_NS 10000000ull

struct video {
        struct vsc_channel ch;
        uint8_t *vram;
        uint64_t churn_pages, sweeps, deadline_ns;
        uint64_t bad_page, bad_found, bad_want; /* a check that failed */
        int err;
        uint8_t rx[4096], tx[256];
};

static int send(struct video *v, uint32_t type, const void *msg, size_t len) {
        struct synthvid_pipe_hdr *ph = (void *)v->tx;
        struct synthvid_hdr *h = (void *)(v->tx + sizeof *ph);
        ph->type = SYNTHVID_PIPE_DATA;
        ph->size = (uint32_t)(sizeof *h + len);
        h->type = type;
        h->size = (uint32_t)(sizeof *h + len);
        memcpy(v->tx + SYNTHVID_HEADERS, msg, len);
        return guest_channel_send(&v->ch, v->tx, SYNTHVID_HEADERS + len);
}

/* The next host message of `type`, its body at v->rx (others are dropped:
 * a FEATURE_CHANGE can come in between). */
static int expect(struct video *v, uint32_t type, size_t want) {
        uint64_t end = clock_ns() + 10000000000ull;
        for (;;) {
                struct vsc_packet p;
                int r = vsc_channel_wait(&v->ch, end - clock_ns());
                if (r == 0)
                        r = vsc_channel_recv(&v->ch, v->rx, sizeof v->rx, &p);
                if (r < 0)
                        return r;
                const uint8_t *m = v->rx + p.payload_off;
                size_t len = p.len - p.payload_off;
                if (len >= SYNTHVID_HEADERS + want &&
                    ((const struct synthvid_hdr *)(const void *)(m + sizeof(struct synthvid_pipe_hdr)))->type == type) {
                        memmove(v->rx, m + SYNTHVID_HEADERS, len - SYNTHVID_HEADERS);
                        return 0;
                }
                if (clock_ns() >= end)
                        return -ETIMEDOUT;
        }
}

static int negotiate(struct video *v, uint64_t gpa) {
        struct synthvid_version_req ver = { .version = SYNTHVID_VERSION_WIN8 };
        int r = send(v, SYNTHVID_VERSION_REQUEST, &ver, sizeof ver);
        if (r == 0)
                r = expect(v, SYNTHVID_VERSION_RESPONSE, sizeof(struct synthvid_version_resp));
        if (r < 0)
                return guest_fail(r, "video: no version response");
        if (!((struct synthvid_version_resp *)(void *)v->rx)->is_accepted)
                return guest_fail(-EPROTO, "video: version 3.2 refused");
        struct synthvid_vram_location loc = { .user_ctx = gpa, .is_vram_gpa_specified = 1, .vram_gpa = gpa };
        r = send(v, SYNTHVID_VRAM_LOCATION, &loc, sizeof loc);
        if (r == 0)
                r = expect(v, SYNTHVID_VRAM_LOCATION_ACK, sizeof(struct synthvid_vram_location_ack));
        if (r < 0)
                return guest_fail(r, "video: no VRAM location ack");
        if (((struct synthvid_vram_location_ack *)(void *)v->rx)->user_ctx != gpa)
                return guest_fail(-EPROTO, "video: the host did not map the VRAM at 0x%lx", gpa);
        struct {
                struct synthvid_situation_update u;
                struct synthvid_output_situation o;
        } __attribute__((packed)) s = {
                .u = { .video_output_count = 1 },
                .o = { .active = 1, .depth_bits = 32, .width_pixels = WIDTH, .height_pixels = HEIGHT,
                       .pitch_bytes = PITCH },
        };
        if ((r = send(v, SYNTHVID_SITUATION_UPDATE, &s, sizeof s)) < 0)
                return guest_fail(r, "video: sending the mode");
        return 0;
}

static long draw(void *arg) {
        struct video *v = arg;
        for (uint32_t y = 0; y < HEIGHT; y++)
                for (uint32_t x = 0; x < WIDTH; x++)
                        ((volatile uint32_t *)(void *)(v->vram + (uint64_t)y * PITCH))[x] = dp_pixel(x, y, 0);
        return 0;
}

static bool screen_ok(struct video *v) {
        for (uint32_t y = 0; y < HEIGHT; y++)
                for (uint32_t x = 0; x < WIDTH; x++) {
                        uint32_t got = ((volatile uint32_t *)(void *)(v->vram + (uint64_t)y * PITCH))[x];
                        if (got != dp_pixel(x, y, 0)) {
                                v->bad_page = ((uint64_t)y * PITCH + x * 4u) / PAGE;
                                v->bad_found = got, v->bad_want = dp_pixel(x, y, 0);
                                return false;
                        }
                }
        return true;
}

/* Page i's stamp after sweep n: both in it, so a page from another sweep
 * or another place is told apart. */
static uint64_t stamp(uint64_t n, uint64_t i) {
        return n << 32 | i;
}

/* One sweep: every churn page holds the last sweep's stamp, gets the next. */
static bool sweep(struct video *v) {
        for (uint64_t i = 0; i < v->churn_pages; i++) {
                volatile uint64_t *w = (volatile uint64_t *)(void *)(v->vram + CHURN_AT + i * PAGE);
                uint64_t want = v->sweeps ? stamp(v->sweeps, i) : 0;
                if (*w != want) {
                        v->bad_page = (CHURN_AT / PAGE) + i, v->bad_found = *w, v->bad_want = want;
                        return false;
                }
                *w = stamp(v->sweeps + 1, i);
        }
        v->sweeps++;
        return true;
}

static long run(void *arg) {
        struct video *v = arg;
        uint64_t next_sweep = 0, next_report = clock_ns() + 1000000000ull;
        while (clock_ns() < v->deadline_ns) {
                uint64_t now = clock_ns();
                if (v->churn_pages && now >= next_sweep) {
                        if (!sweep(v))
                                return -EIO;
                        next_sweep = now + SWEEP_NS;
                }
                if (now >= next_report) {
                        if (!screen_ok(v))
                                return -EIO;
                        report("video_sweeps n=%lu", v->sweeps);
                        next_report = now + 1000000000ull;
                }
                /* What the host sends (acks, feature changes) is read and
                 * dropped: the ring must not fill. */
                struct vsc_packet p;
                if (vsc_ring_has_data(&v->ch.in) > 0 && (v->err = vsc_channel_recv(&v->ch, v->rx, sizeof v->rx, &p)) < 0)
                        return v->err;
                cpu_relax();
        }
        return 0;
}

int mode_video(struct guest *g) {
        static struct video v;
        static const uint8_t video_class[16] = HV_SYNTHVID_GUID;
        uint64_t gpa = guest_opt(g, "vsc.video.gpa", 0xe0000000ull, 1ull << 20, (1ull << 32) - (16ull << 20));
        v.churn_pages = guest_opt(g, "vsc.video.churn_mib", 4, 0, 12) * (1u << 20) / PAGE;
        uint64_t seconds = guest_opt(g, "vsc.video.seconds", 300, 1, 86400);
        if (gpa % PAGE)
                return guest_fail(-EINVAL, "vsc.video.gpa=0x%lx is not page-aligned", gpa);
        int r = guest_vmbus_connect(g);
        if (r < 0)
                return r;
        if ((r = vsc_request_offers(&g->bus)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        const struct vsc_offer *o = vsc_find_offer(&g->bus, video_class, 0);
        if (!o)
                return guest_fail(-ENOENT, "no synthetic video device offered (display.enabled)");
        if ((r = vsc_channel_open(&g->bus, &v.ch, o, RING_BYTES, RING_BYTES, NULL, 0)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        if ((r = negotiate(&v, gpa)) < 0)
                return r;
        v.vram = (uint8_t *)(uintptr_t)gpa; /* identity-mapped: below 4 GiB */
        cpu_run_user(draw, &v, false);
        struct {
                struct synthvid_dirt d;
                struct synthvid_rect rect;
        } __attribute__((packed)) dirt = { .d = { .dirt_count = 1 }, .rect = { .x2 = WIDTH, .y2 = HEIGHT } };
        if ((r = send(&v, SYNTHVID_DIRT, &dirt, sizeof dirt)) < 0)
                return guest_fail(r, "video: sending the dirt");
        report("video_ready gpa=0x%lx mode=%ux%u churn_mib=%lu", gpa, WIDTH, HEIGHT, v.churn_pages * PAGE >> 20);
        vsc_channel_mask(&v.ch, true); /* polling from here on */
        v.deadline_ns = clock_ns() + seconds * 1000000000ull;
        long e = cpu_run_user(run, &v, false);
        if (e == -EIO)
                return guest_fail(-EIO, "video_bad page=%lu found=0x%lx want=0x%lx after %lu sweeps", v.bad_page,
                                  v.bad_found, v.bad_want, v.sweeps);
        if (e < 0)
                return guest_fail((int)e, "video: %s", vsc_bus_error(&g->bus));
        report("video_end sweeps=%lu", v.sweeps);
        return 0;
}
