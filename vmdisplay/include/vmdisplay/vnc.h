/* SPDX-License-Identifier: MIT */
/* The VNC side of vmdisplay: a LibVNCServer screen driven by our own
 * poll loop (no LibVNCServer threads, no listening of its own: we accept
 * on our sockets and hand each connection over), its viewers' input as
 * the guest's (include/vmdisplay/input.h). */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/display.h"
#include "vmdisplay/input.h"

struct vmd_vnc;

struct vmd_vnc_ops {
        void (*key)(void *userdata, const struct vmd_key_event *e);
        void (*pointer)(void *userdata, const struct display_msg *pointer);
        /* a viewer is in (authenticated) and about to get its first frame */
        void (*viewer_ready)(void *userdata);
        void *userdata;
};

struct vmd_vnc_config {
        const char *name;     /* the desktop name */
        const char *password; /* NULL: none */
        unsigned max_clients;
        unsigned login_ms; /* 0: VMD_VNC_LOGIN_MS */
        const struct vmd_keymap *keymap; /* the guest's layout (NULL: US); the caller's, outlives the server */
};

/* Routes LibVNCServer's log (process-wide hooks without context) to
 * standard error: its errors rate-limited, the rest with verbose only. */
void vmd_vnc_log_setup(bool verbose);

int vmd_vnc_new(const struct vmd_vnc_config *cfg, const struct vmd_vnc_ops *ops, struct vmd_vnc **out);
void vmd_vnc_free(struct vmd_vnc *v);

/* Serves pixels (XRGB8888, stride bytes a line; LibVNCServer only reads
 * them). guest: they are the guest's mode, so pointer events go to it,
 * clamped to width x height. The previous pixels may be freed after. */
void vmd_vnc_set_framebuffer(struct vmd_vnc *v, const uint8_t *pixels, uint32_t width, uint32_t height,
                             uint32_t stride, bool guest);
/* Viewers get rectangle r again with their next update. */
void vmd_vnc_mark(struct vmd_vnc *v, const struct display_rect *r);

/* A new connection (the fd is ours to close): 0, -EBUSY with
 * max_clients viewers already, -EMFILE for an fd select() cannot take. */
int vmd_vnc_add_client(struct vmd_vnc *v, int fd);
unsigned vmd_vnc_clients(struct vmd_vnc *v);

/* How long a connection may take to authenticate and initialise before
 * it is dropped, unless --login-timeout says otherwise: a connection that
 * never does would keep its place among --max-clients for good. */
#define VMD_VNC_LOGIN_MS 10000

/* Drops the connections past their login time; the milliseconds until the
 * next one would be due, -1 when none is pending (a poll timeout). */
int vmd_vnc_expire(struct vmd_vnc *v);

/* The viewers' sockets to poll for input, at most max: their count. */
size_t vmd_vnc_pollfds(struct vmd_vnc *v, struct pollfd *pfd, size_t max);
/* Reads what viewers sent, sends due updates, drops closed viewers. */
void vmd_vnc_process(struct vmd_vnc *v);
