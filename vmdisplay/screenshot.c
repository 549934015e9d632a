// SPDX-License-Identifier: MIT
/* vmdisplay --screenshot: connect to the worker and write the mode's
 * pixels as a PNG. The pixels are read from the worker's memfd itself,
 * so the PNG is exactly the guest's. Two ways it goes (common/display.h):
 *  - no display server is connected: we are one. We ask for the screen
 *    (REFRESH) and write it at the first DIRTY of an active mode, waiting
 *    up to --timeout for the guest to set one;
 *  - one is (vmms's console): we get a snapshot, HELLO, MODE and BYE,
 *    and write at the BYE, or say at once that there is no mode. */
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "vmdisplay/link.h"
#include "vmdisplay/png.h"
#include "vmdisplay/session.h"
#include "vmdisplay/vmdisplay.h"

struct shot {
        int link;
        struct vmd_session session;
        const uint8_t *map;
        size_t map_bytes;
        bool ready; /* the pixels are there: a DIRTY of the mode, or the end of a snapshot */
};

static enum vmd_exit write_png(const struct shot *t, const char *path) {
        const struct display_mode *m = &t->session.mode;
        int r = vmd_png_write_file(path, t->map + m->offset, m->width, m->height, m->stride);
        if (r < 0) {
                log_error_errno(r, "cannot write %s: %m", path);
                return VMD_EXIT_FAILURE;
        }
        log_info("%s: %ux%u", path, m->width, m->height);
        return VMD_EXIT_OK;
}

/* One message: -1 to go on, else how to exit. */
static int on_message(struct shot *t, struct display_msg *m, int fd) {
        int ev = vmd_session_apply(&t->session, m, fd >= 0);
        if (ev < 0) {
                safe_close(fd);
                log_error_errno(ev, "the worker broke the display protocol (message type %u): %m", m->type);
                return VMD_EXIT_PROTOCOL;
        }
        if (ev == VMD_SESSION_BYE) { /* a snapshot: all there is to get */
                t->ready = t->session.mode.active;
                return t->ready ? -1 : VMD_EXIT_NO_MODE;
        }
        if (ev == VMD_SESSION_HELLO) {
                bool sealed;
                int r = vmd_link_map(fd, m->hello.fb_bytes, &t->map, &sealed);
                safe_close(fd);
                if (r < 0) {
                        log_error_errno(r, "the worker's framebuffer memfd cannot be mapped: %m");
                        return VMD_EXIT_PROTOCOL;
                }
                t->map_bytes = m->hello.fb_bytes;
                /* A snapshot's worker has closed already (its MODE and BYE
                 * wait for us to read them): the REFRESH is for a server. */
                r = vmd_link_send(t->link, &(struct display_msg){ .type = DISPLAY_REFRESH });
                if (r < 0)
                        log_debug_errno(r, "REFRESH: %m");
        }
        if (ev == VMD_SESSION_DIRTY && t->session.mode.active)
                t->ready = true;
        return -1;
}

static enum vmd_exit receive(struct shot *t, unsigned timeout_ms) {
        uint64_t deadline = now_us(CLOCK_MONOTONIC) + timeout_ms * 1000ull;
        while (!t->ready) {
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return VMD_EXIT_NO_MODE;
                struct pollfd p = { .fd = t->link, .events = POLLIN };
                int n = poll(&p, 1, (int)((deadline - now + 999) / 1000));
                if (n < 0 && errno != EINTR)
                        return log_error_errno(-errno, "poll: %m"), VMD_EXIT_FAILURE;
                for (int r = 1; n > 0 && r > 0 && !t->ready;) {
                        struct display_msg m;
                        int fd;
                        r = vmd_link_recv(t->link, &m, &fd);
                        if (r == -ECONNRESET || r == -EPIPE) {
                                log_error("the worker closed the display socket");
                                return VMD_EXIT_WORKER_GONE;
                        }
                        if (r < 0) {
                                log_error_errno(r, "bad message from the worker: %m");
                                return VMD_EXIT_PROTOCOL;
                        }
                        int e = r > 0 ? on_message(t, &m, fd) : -1;
                        if (e >= 0)
                                return (enum vmd_exit)e;
                }
        }
        return VMD_EXIT_OK;
}

enum vmd_exit vmd_screenshot_run(const struct vmd_options *o) {
        struct shot t = { .link = vmd_link_connect(o->connect) };
        if (t.link < 0) {
                log_error_errno(t.link, "cannot connect to the worker's display socket %s: %m", o->connect);
                return VMD_EXIT_WORKER_GONE;
        }
        enum vmd_exit e = receive(&t, o->timeout_ms);
        if (e == VMD_EXIT_NO_MODE && t.session.mode.active)
                e = VMD_EXIT_OK; /* a mode without its DIRTY: its pixels are there all the same */
        if (e == VMD_EXIT_WORKER_GONE && t.session.mode.active)
                e = VMD_EXIT_OK; /* a snapshot cut short after its MODE (display.h: what fits) */
        if (e == VMD_EXIT_OK)
                e = write_png(&t, o->screenshot);
        else if (e == VMD_EXIT_NO_MODE) {
                const char *title = "no answer from the worker", *detail = "";
                if (t.session.hello)
                        vmd_session_message(&t.session, &title, &detail);
                if (t.session.serving || !t.session.hello)
                        log_error("no display mode within %u s: %s", o->timeout_ms / 1000, title);
                else /* a snapshot says nothing of the drivers */
                        log_error("the guest has set no display mode (no synthetic video driver, or not yet)");
        }
        safe_close(t.link);
        if (t.map)
                munmap((void *)t.map, t.map_bytes);
        return e;
}
