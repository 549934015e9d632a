/* SPDX-License-Identifier: MIT */
/* The web console: Debian's websockify serving noVNC's files and
 * bridging its WebSocket to our VNC Unix socket, as our child
 * (docs/console.md has why websockify rather than LibVNCServer's own
 * HTTP server). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct vmd_web {
        pid_t pid;            /* 0: not running */
        char root[PATH_MAX];  /* the directory it serves; "" before */
};

/* Starts websockify listening on listen ("127.0.0.1:6080", "[::1]:6080"),
 * forwarding to unix_target; with cert (PEM; key NULL when the key is in
 * it) over TLS only (https and wss, websockify --ssl-only). It serves a directory of ours, unix_target
 * with ".web" appended: noVNC's files (links to novnc_dir) and an
 * index.html that opens the console, so that http://ADDR:PORT/ is the
 * console (websockify would list a directory without one). It is sent
 * SIGTERM if we die (PR_SET_PDEATHSIG). 0 or -errno (-ENOENT: the program
 * or noVNC is not there). */
int vmd_web_start(struct vmd_web *w, const char *websockify, const char *novnc_dir, const char *listen,
                  const char *unix_target, const char *cert, const char *key);

/* Whether the child ended (reaped): after SIGCHLD. */
bool vmd_web_exited(struct vmd_web *w, int *status);

/* Stops it (SIGTERM, then SIGKILL after 2 s), reaps it, removes its directory. */
void vmd_web_stop(struct vmd_web *w);
