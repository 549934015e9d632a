/* SPDX-License-Identifier: MIT */
/* What vmdisplay knows of the worker's display (common/display.h): the
 * order of its messages checked, its MODE checked against the memfd it
 * sent, its DIRTY rectangles clipped to the mode. Pure: the sockets,
 * the mapping and VNC are the caller's. Fuzzed by fuzz-vmdisplay.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/display.h"

struct vmd_session {
        bool hello;                /* HELLO came (with its memfd) */
        bool mode_known;           /* a MODE came */
        bool serving;              /* STATUS or DIRTY came: the worker's display
                                    * server is us (a snapshot connection gets
                                    * HELLO, MODE and BYE only) */
        uint32_t fb_bytes;         /* the memfd's bytes we may map */
        struct display_mode mode;  /* the mode shown: inactive unless the worker's fits */
        bool mode_unusable;        /* the worker's last MODE is active but does not fit */
        uint32_t status;           /* DISPLAY_STATUS_* */
};

enum vmd_session_event {
        VMD_SESSION_NONE,   /* nothing to do (a DIRTY without a mode) */
        VMD_SESSION_HELLO,  /* map the memfd: fb_bytes of it */
        VMD_SESSION_MODE,   /* the mode shown changed, or its message */
        VMD_SESSION_DIRTY,  /* m->dirty: rectangles of the mode to update */
        VMD_SESSION_STATUS, /* the drivers changed (the message may say so) */
        VMD_SESSION_BYE,    /* the end of a snapshot: another server is connected */
};

/* One message from the worker, parsed by display_msg_parse; with_fd:
 * a file descriptor came with it. Returns an event, or -EPROTO for one
 * out of order (anything but HELLO first, a second HELLO, a memfd with
 * anything but HELLO or HELLO without one, a message only a server
 * sends) and -EPROTONOSUPPORT for a version other than DISPLAY_VERSION.
 * A DIRTY's rectangles are clipped to the mode and the empty ones
 * dropped (with no mode, all). */
int vmd_session_apply(struct vmd_session *s, struct display_msg *m, bool with_fd);

/* What the console says instead of a picture, as a title and a detail
 * line; false while the guest's mode is shown. */
bool vmd_session_message(const struct vmd_session *s, const char **title, const char **detail);
