// SPDX-License-Identifier: MIT
/* The worker's display messages in order (include/vmdisplay/session.h).
 * The worker runs the guest, so everything it sends is checked before it
 * decides what we map, allocate or read. */
#include <errno.h>
#include <string.h>

#include "vmdisplay/session.h"

static bool mode_equal(const struct display_mode *a, const struct display_mode *b) {
        return a->active == b->active && a->width == b->width && a->height == b->height && a->stride == b->stride &&
               a->bpp == b->bpp && a->offset == b->offset;
}

static int apply_mode(struct vmd_session *s, const struct display_mode *m) {
        struct display_mode shown = { .active = false };
        bool unusable = false;
        /* display_msg_parse checked the mode against the protocol's limits;
         * only we know the memfd's size. */
        if (m->active) {
                if (display_mode_fits(m, s->fb_bytes))
                        shown = *m;
                else
                        unusable = true;
        }
        if (s->mode_known && mode_equal(&shown, &s->mode) && unusable == s->mode_unusable)
                return VMD_SESSION_NONE;
        s->mode_known = true;
        s->mode = shown;
        s->mode_unusable = unusable;
        return VMD_SESSION_MODE;
}

/* Clips the rectangles to the mode in place, dropping what is outside. */
static int apply_dirty(const struct vmd_session *s, struct display_msg *m) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < m->dirty.count && i < DISPLAY_RECTS_MAX; i++) {
                struct display_rect r = m->dirty.rect[i];
                if (s->mode.active && display_rect_clip(&r, s->mode.width, s->mode.height))
                        m->dirty.rect[n++] = r;
        }
        m->dirty.count = n;
        return n ? VMD_SESSION_DIRTY : VMD_SESSION_NONE;
}

int vmd_session_apply(struct vmd_session *s, struct display_msg *m, bool with_fd) {
        if (!s->hello && m->type != DISPLAY_HELLO && m->type != DISPLAY_BYE)
                return -EPROTO; /* a worker speaks HELLO first, or refuses us */
        if (with_fd != (m->type == DISPLAY_HELLO))
                return -EPROTO;
        switch (m->type) {
        case DISPLAY_HELLO:
                if (s->hello)
                        return -EPROTO;
                if (m->hello.version != DISPLAY_VERSION)
                        return -EPROTONOSUPPORT;
                s->hello = true;
                s->fb_bytes = m->hello.fb_bytes;
                return VMD_SESSION_HELLO;
        case DISPLAY_MODE:
                return apply_mode(s, &m->mode);
        case DISPLAY_DIRTY:
                s->serving = true;
                return apply_dirty(s, m);
        case DISPLAY_STATUS:
                s->serving = true;
                if (m->status == s->status)
                        return VMD_SESSION_NONE;
                s->status = m->status;
                return VMD_SESSION_STATUS;
        case DISPLAY_BYE:
                return VMD_SESSION_BYE;
        default: /* KEY, POINTER, REFRESH: ours to send */
                return -EPROTO;
        }
}

bool vmd_session_message(const struct vmd_session *s, const char **title, const char **detail) {
        if (s->mode.active)
                return false;
        if (!s->mode_known) {
                *title = "Connecting to the VM's display";
                *detail = s->hello ? "Waiting for the guest's display mode." : "Waiting for the VM worker.";
        } else if (s->mode_unusable) {
                *title = "The guest's display mode is not supported";
                *detail = "It does not fit the VM's video memory.";
        } else if (s->status & DISPLAY_STATUS_VIDEO) {
                *title = "The guest has not set a display mode";
                *detail = "Its synthetic video driver is connected.";
        } else {
                *title = "The guest has no synthetic video driver";
                *detail = s->status & DISPLAY_STATUS_KEYBOARD ? "Its keyboard driver is connected: keys reach it."
                                                               : "It is starting, or runs without Hyper-V drivers.";
        }
        return true;
}
