// SPDX-License-Identifier: MIT
/* VNC through LibVNCServer 0.9.14 (include/vmdisplay/vnc.h).
 *
 * What its defaults would do that we must not let it:
 *  - listen on TCP 5900 on every interface (port and ipv6port stay 0; we
 *    accept on our own sockets and call rfbNewClient);
 *  - draw its cursor into the framebuffer for viewers without cursor
 *    shapes: our framebuffer is often the worker's memfd, mapped
 *    read-only (cursor = NULL: it then never writes to it);
 *  - let a viewer that asks for exclusive access disconnect the others
 *    (alwaysShared);
 *  - wait 20 s on a viewer that stops halfway through a message, with
 *    every other viewer and the guest's updates stuck behind it
 *    (maxClientWait). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "common/log.h"
#include "vmdisplay/vnc.h"

/* The longest LibVNCServer blocks on one viewer's half-sent message or
 * full socket before it drops that viewer. */
#define VNC_CLIENT_WAIT_MS 5000
/* Failed authentications allowed per window; then every attempt fails
 * until the window has passed (VNC's 8-character DES scheme must not
 * meet a password guesser at full speed). */
#define AUTH_FAILS_MAX 5u
#define AUTH_WINDOW_US (10 * 1000000ull)

struct vmd_vnc {
        rfbScreenInfoPtr screen;
        struct vmd_vnc_ops ops;
        unsigned max_clients;
        unsigned login_ms;
        const struct vmd_keymap *keymap;
        char *passwords[2]; /* rfbCheckPasswordByList's NULL-terminated list */
        uint32_t mode_width, mode_height; /* 0: no guest mode, pointer events go nowhere */
        uint64_t auth_window_us;
        unsigned auth_fails;
};

/* What we keep per viewer (rfbClientRec.clientData). */
struct viewer {
        struct vmd_keys_held held;
        struct vmd_mods mods; /* its Shift, AltGr and shortcut keys, for the guest's levels */
        uint8_t pointer_mask;
        bool ready;
        uint64_t connected_us;
};

static bool vnc_verbose;
static struct ratelimit vnc_err_ratelimit = RATELIMIT_INIT(10 * 1000000ull, 10);

static void vnc_log(const char *fmt, ...) _printf_(1, 2);
static void vnc_log(const char *fmt, ...) {
        if (!vnc_verbose)
                return;
        va_list ap;
        va_start(ap, fmt);
        fputs("vmdisplay: vnc: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
}

/* A viewer can make LibVNCServer complain at will: rate-limited. */
static void vnc_err(const char *fmt, ...) _printf_(1, 2);
static void vnc_err(const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* Said of every viewer on the Unix socket. */
        if (!vnc_verbose && strstr(msg, "TCP_NODELAY"))
                return;
        if (vnc_verbose || ratelimit_below(&vnc_err_ratelimit, NULL))
                fprintf(stderr, "vmdisplay: vnc: %s", msg);
}

void vmd_vnc_log_setup(bool verbose) {
        vnc_verbose = verbose;
        rfbLog = vnc_log;
        rfbErr = vnc_err;
}

static void send_key(struct vmd_vnc *v, struct viewer *w, const struct vmd_key_event *e) {
        vmd_keys_note(&w->held, e);
        v->ops.key(v->ops.userdata, e);
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl) {
        struct vmd_vnc *v = cl->screen->screenData;
        struct vmd_key_event ev[VMD_KEY_EVENTS_MAX];
        struct viewer *w = cl->clientData;
        size_t n = vmd_keymap_events(v->keymap, w ? &w->mods : NULL, keysym, down, ev);
        for (size_t i = 0; i < n; i++)
                send_key(v, w, &ev[i]);
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl) {
        struct vmd_vnc *v = cl->screen->screenData;
        struct viewer *w = cl->clientData;
        struct display_msg m;
        if (vmd_pointer_event(&w->pointer_mask, mask, x, y, v->mode_width, v->mode_height, &m))
                v->ops.pointer(v->ops.userdata, &m);
}

/* A viewer that goes away holding keys releases them: the guest would
 * otherwise see Ctrl held until someone presses it again. */
static void on_gone(rfbClientPtr cl) {
        struct vmd_vnc *v = cl->screen->screenData;
        struct viewer *w = cl->clientData;
        if (!w)
                return;
        struct vmd_key_event up[256];
        size_t n = vmd_keys_release_all(&w->held, up, 256);
        for (size_t i = 0; i < n; i++)
                v->ops.key(v->ops.userdata, &up[i]);
        log_debug("viewer %s gone", cl->host ? cl->host : "?");
        free(w);
        cl->clientData = NULL;
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl) {
        struct viewer *w = calloc(1, sizeof *w);
        if (!w)
                return RFB_CLIENT_REFUSE;
        w->connected_us = now_us(CLOCK_MONOTONIC);
        cl->clientData = w;
        cl->clientGoneHook = on_gone;
        return RFB_CLIENT_ACCEPT;
}

/* Called before every update; the first one of a viewer is after its
 * authentication: only then is the worker asked for a REFRESH. */
static void on_display(rfbClientPtr cl) {
        struct vmd_vnc *v = cl->screen->screenData;
        struct viewer *w = cl->clientData;
        if (w && !w->ready) {
                w->ready = true;
                v->ops.viewer_ready(v->ops.userdata);
        }
}

static rfbBool on_password(rfbClientPtr cl, const char *response, int len) {
        struct vmd_vnc *v = cl->screen->screenData;
        uint64_t now = now_us(CLOCK_MONOTONIC);
        if (now - v->auth_window_us >= AUTH_WINDOW_US) {
                v->auth_window_us = now;
                v->auth_fails = 0;
        }
        if (v->auth_fails < AUTH_FAILS_MAX && rfbCheckPasswordByList(cl, response, len))
                return TRUE;
        if (++v->auth_fails == AUTH_FAILS_MAX)
                log_warning("%u failed VNC authentications within %llu s: refusing all until it passes",
                            AUTH_FAILS_MAX, AUTH_WINDOW_US / 1000000ull);
        return FALSE;
}

/* XRGB8888 little-endian: the pixel as a 32-bit word is 0x00RRGGBB.
 * rfbNewFramebuffer resets the format to its own (red in the low byte). */
static void set_format(rfbScreenInfoPtr s) {
        s->serverFormat.redShift = 16;
        s->serverFormat.greenShift = 8;
        s->serverFormat.blueShift = 0;
}

int vmd_vnc_new(const struct vmd_vnc_config *cfg, const struct vmd_vnc_ops *ops, struct vmd_vnc **out) {
        struct vmd_vnc *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        v->ops = *ops;
        v->max_clients = cfg->max_clients;
        v->login_ms = cfg->login_ms ? cfg->login_ms : VMD_VNC_LOGIN_MS;
        v->keymap = cfg->keymap;
        v->screen = rfbGetScreen(NULL, NULL, 8, 8, 8, 3, 4);
        if (!v->screen) {
                free(v);
                return -ENOMEM;
        }
        rfbScreenInfoPtr s = v->screen;
        s->screenData = v;
        s->desktopName = cfg->name;
        s->port = s->ipv6port = 0;
        s->httpPort = s->http6Port = 0;
        s->cursor = NULL;
        s->alwaysShared = TRUE;
        s->maxClientWait = VNC_CLIENT_WAIT_MS;
        s->deferUpdateTime = 0; /* batching is the worker's: one DIRTY, one update */
        s->kbdAddEvent = on_key;
        s->ptrAddEvent = on_pointer;
        s->newClientHook = on_new_client;
        s->displayHook = on_display;
        if (cfg->password) {
                v->passwords[0] = strdup(cfg->password);
                if (!v->passwords[0]) {
                        vmd_vnc_free(v);
                        return -ENOMEM;
                }
                s->authPasswdData = v->passwords;
                s->passwordCheck = on_password;
        }
        set_format(s);
        rfbInitServer(s); /* with no ports: listens nowhere */
        *out = v;
        return 0;
}

void vmd_vnc_free(struct vmd_vnc *v) {
        if (!v)
                return;
        if (v->screen) {
                rfbShutdownServer(v->screen, TRUE);
                rfbScreenCleanup(v->screen);
        }
        if (v->passwords[0])
                explicit_bzero(v->passwords[0], strlen(v->passwords[0]));
        free(v->passwords[0]);
        free(v);
}

void vmd_vnc_set_framebuffer(struct vmd_vnc *v, const uint8_t *pixels, uint32_t width, uint32_t height,
                             uint32_t stride, bool guest) {
        rfbScreenInfoPtr s = v->screen;
        v->mode_width = guest ? width : 0;
        v->mode_height = guest ? height : 0;
        if (s->frameBuffer == (char *)pixels && (uint32_t)s->width == width && (uint32_t)s->height == height &&
            (uint32_t)s->paddedWidthInBytes == stride) {
                rfbMarkRectAsModified(s, 0, 0, (int)width, (int)height);
                return;
        }
        /* LibVNCServer only reads the framebuffer (cursor is NULL). */
        rfbNewFramebuffer(s, (char *)pixels, (int)width, (int)height, 8, 3, 4);
        s->paddedWidthInBytes = (int)stride;
        set_format(s);
        rfbClientIteratorPtr it = rfbGetClientIterator(s);
        for (rfbClientPtr cl; (cl = rfbClientIteratorNext(it));)
                s->setTranslateFunction(cl);
        rfbReleaseClientIterator(it);
}

void vmd_vnc_mark(struct vmd_vnc *v, const struct display_rect *r) {
        rfbMarkRectAsModified(v->screen, (int)r->x, (int)r->y, (int)(r->x + r->w), (int)(r->y + r->h));
}

unsigned vmd_vnc_clients(struct vmd_vnc *v) {
        unsigned n = 0;
        rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
        while (rfbClientIteratorNext(it))
                n++;
        rfbReleaseClientIterator(it);
        return n;
}

int vmd_vnc_add_client(struct vmd_vnc *v, int fd) {
        /* LibVNCServer keeps its viewers in an fd_set */
        if (fd >= FD_SETSIZE) {
                close(fd);
                return -EMFILE;
        }
        if (vmd_vnc_clients(v) >= v->max_clients) {
                close(fd);
                return -EBUSY;
        }
        /* This waits up to 100 ms for a WebSocket handshake (a native
         * viewer says nothing first), and closes fd itself on failure. */
        return rfbNewClient(v->screen, fd) ? 0 : -ECONNABORTED;
}

int vmd_vnc_expire(struct vmd_vnc *v) {
        uint64_t now = now_us(CLOCK_MONOTONIC), next = UINT64_MAX;
        rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
        for (rfbClientPtr cl; (cl = rfbClientIteratorNext(it));) {
                struct viewer *w = cl->clientData;
                if (!w || cl->state == RFB_NORMAL || cl->sock == RFB_INVALID_SOCKET)
                        continue;
                uint64_t due = w->connected_us + v->login_ms * 1000ull;
                if (due <= now) {
                        log_notice("a viewer (%s) did not log in within %u s: dropped", cl->host ? cl->host : "?",
                                   v->login_ms / 1000);
                        rfbCloseClient(cl); /* rfbProcessEvents forgets it */
                } else if (due < next)
                        next = due;
        }
        rfbReleaseClientIterator(it);
        return next == UINT64_MAX ? -1 : (int)((next - now + 999) / 1000);
}

size_t vmd_vnc_pollfds(struct vmd_vnc *v, struct pollfd *pfd, size_t max) {
        size_t n = 0;
        rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
        for (rfbClientPtr cl; (cl = rfbClientIteratorNext(it)) && n < max;)
                if (cl->sock != RFB_INVALID_SOCKET)
                        pfd[n++] = (struct pollfd){ .fd = cl->sock, .events = POLLIN };
        rfbReleaseClientIterator(it);
        return n;
}

void vmd_vnc_process(struct vmd_vnc *v) {
        rfbProcessEvents(v->screen, 0);
}
