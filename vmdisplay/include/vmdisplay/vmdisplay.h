/* SPDX-License-Identifier: MIT */
/* vmdisplay: the display server of one VM (docs/console.md). Its command
 * line, its exit statuses, and its two ways to run: serving the console,
 * or one screenshot. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Exit statuses: a supervisor (vmms) restarts vmdisplay on 3, and may on 1. */
enum vmd_exit {
        VMD_EXIT_OK = 0,          /* a screenshot written; or stopped by SIGTERM/SIGINT */
        VMD_EXIT_FAILURE = 1,     /* cannot listen, websockify ended, out of memory, a write failed */
        VMD_EXIT_USAGE = 2,       /* a bad command line or password file */
        VMD_EXIT_WORKER_GONE = 3, /* the worker's display socket: cannot connect, or it closed */
        VMD_EXIT_REFUSED = 4,     /* another display server is connected: we got a snapshot (BYE) */
        VMD_EXIT_PROTOCOL = 5,    /* the worker broke the display protocol (common/display.h) */
        VMD_EXIT_NO_MODE = 6,     /* --screenshot: the guest has no display mode (within --timeout) */
};

#define VMD_PASSWORD_MAX 64u
#define VMD_MAX_CLIENTS_LIMIT 64u

struct vmd_addr {
        bool set;
        struct sockaddr_storage sa;
        socklen_t len;
        char text[64]; /* "127.0.0.1:5900", "[::1]:5900" */
};

struct vmd_options {
        const char *connect;       /* the worker's display socket */
        const char *listen;        /* VNC on this Unix socket (mode 0600) */
        struct vmd_addr tcp;       /* VNC on TCP too */
        struct vmd_addr web;       /* the web console (websockify + noVNC) */
        const char *password_file; /* VNC authentication for every viewer */
        const char *screenshot;    /* one screenshot to this PNG ("-": stdout) */
        const char *name;          /* the desktop name viewers show */
        const char *websockify;
        const char *novnc_dir;
        const char *keymap; /* the guest's layout, LAYOUT[:VARIANT] (default "us") */
        const char *web_cert, *web_key; /* the web console over TLS (https, wss); NULL: plain */
        unsigned max_clients;
        unsigned timeout_ms; /* --screenshot: how long to wait for a mode */
        unsigned login_ms;   /* --login-timeout (0: VMD_VNC_LOGIN_MS) */
        bool allow_remote;
        bool copy_framebuffer;
        bool verbose;
};

/* 0: run with *o; 1: --help or --version printed; -EINVAL with a sentence in err. */
int vmd_options_parse(int argc, char **argv, struct vmd_options *o, char *err, size_t errlen);

/* "ADDR:PORT" with a numeric IPv4 address, or "[ADDR]:PORT" with IPv6
 * (no names: nothing to resolve, nothing to spoof). 0 or -EINVAL. */
int vmd_addr_parse(const char *s, struct vmd_addr *a);
/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool vmd_addr_is_loopback(const struct vmd_addr *a);

/* The password in a file: its first line (without "\n" or "\r\n"). The
 * file must be a regular file that neither group nor others may read.
 * Its length, or -errno with a sentence in err. VNC authentication uses
 * the first 8 characters only (RFC 6143 §7.2.2). */
int vmd_password_read(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* Serves the console until the worker goes away or a signal ends it. */
enum vmd_exit vmd_server_run(const struct vmd_options *o);
/* Connects, asks for the screen, writes it as a PNG. */
enum vmd_exit vmd_screenshot_run(const struct vmd_options *o);
