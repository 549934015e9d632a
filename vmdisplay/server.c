// SPDX-License-Identifier: MIT
/* vmdisplay serving a VM's console: one poll loop over the worker's
 * display socket, our listening sockets, the viewers and a signalfd.
 * Single-threaded on purpose: LibVNCServer's framebuffer switch
 * (rfbNewFramebuffer) is not safe against its own client threads, and a
 * console needs no more than one core's sliver. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "vmdisplay/fb.h"
#include "vmdisplay/link.h"
#include "vmdisplay/session.h"
#include "vmdisplay/vmdisplay.h"
#include "vmdisplay/vnc.h"
#include "vmdisplay/web.h"

/* Messages taken from the worker before viewers get their updates: a
 * burst of DIRTY becomes one update, and viewers are not starved. */
#define LINK_BATCH 64
/* Connections accepted per listening socket and loop. */
#define ACCEPT_BATCH 4
#define POLL_MAX (5 + VMD_MAX_CLIENTS_LIMIT)

struct server {
        const struct vmd_options *opt;
        int link;
        int unix_fd, tcp_fd, sig_fd;
        struct vmd_session session;
        struct vmd_fb fb;
        struct vmd_vnc *vnc;
        struct vmd_keymap *keymap; /* --keymap; NULL: US */
        struct vmd_web web;
        uint64_t input_dropped;
        struct ratelimit drop_rl;
        enum vmd_exit exit;
        bool done;
};

static void finish(struct server *s, enum vmd_exit code) {
        if (!s->done)
                s->exit = code;
        s->done = true;
}

static void send_input(struct server *s, const struct display_msg *m) {
        int r = vmd_link_send(s->link, m);
        if (r == -EAGAIN) {
                s->input_dropped++;
                log_ratelimited(&s->drop_rl, LOG_LEVEL_WARNING,
                                "the worker is not reading the display socket: %llu input events dropped",
                                (unsigned long long)s->input_dropped);
        }
        /* Other errors: the socket is gone, and the loop sees it hang up. */
}

static void on_key(void *userdata, const struct vmd_key_event *e) {
        struct display_msg m = { .type = DISPLAY_KEY, .key = { .scancode = e->scancode, .down = e->down } };
        send_input(userdata, &m);
}

static void on_pointer(void *userdata, const struct display_msg *m) {
        send_input(userdata, m);
}

static void on_viewer_ready(void *userdata) {
        struct server *s = userdata;
        log_info("a viewer is connected (%u in all)", vmd_vnc_clients(s->vnc));
        send_input(s, &(struct display_msg){ .type = DISPLAY_REFRESH });
}

/* Serves the guest's mode, or the message that says why there is none. */
static int show_current(struct server *s) {
        const char *title, *detail;
        int r;
        if (vmd_session_message(&s->session, &title, &detail)) {
                r = vmd_fb_show_message(&s->fb, title, detail);
                if (r >= 0)
                        log_info("no mode to show: %s", title);
        } else {
                const struct display_mode *m = &s->session.mode;
                r = vmd_fb_show_mode(&s->fb, m);
                if (r >= 0)
                        log_info("mode %ux%u (stride %u, offset %u), served %s", m->width, m->height, m->stride,
                                 m->offset, s->fb.direct ? "from the worker's memory" : "from a copy");
        }
        if (r < 0)
                return log_error_errno(r, "cannot serve the screen: %m");
        vmd_vnc_set_framebuffer(s->vnc, s->fb.pixels, s->fb.width, s->fb.height, s->fb.stride, s->fb.guest);
        return 0;
}

static int on_hello(struct server *s, const struct display_msg *m, int fd) {
        bool sealed;
        int r = vmd_link_map(fd, m->hello.fb_bytes, &s->fb.map, &sealed);
        safe_close(fd);
        if (r < 0)
                return log_error_errno(r, "the worker's framebuffer memfd (%u bytes) cannot be mapped: %m",
                                       m->hello.fb_bytes);
        s->fb.map_bytes = m->hello.fb_bytes;
        /* Then a worker that truncates it makes our reads fault: it can
         * only hurt its own VM's console, which vmms starts again. */
        if (!sealed)
                log_debug("the worker's framebuffer memfd is not sealed against shrinking (F_SEAL_SHRINK)");
        log_info("connected to the worker: protocol %u, framebuffer %u bytes", m->hello.version,
                 m->hello.fb_bytes);
        return show_current(s);
}

static int tcp_listen(const struct vmd_addr *a) {
        _cleanup_close_ int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->sa.ss_family == AF_INET6)
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 || listen(fd, 16) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int start_listening(struct server *s) {
        const struct vmd_options *o = s->opt;
        int r = unix_listen(o->listen, SOCK_STREAM | SOCK_NONBLOCK, 16, 0600);
        if (r < 0)
                return log_error_errno(r, "cannot listen on %s: %m", o->listen);
        s->unix_fd = r;
        if (o->tcp.set && (s->tcp_fd = tcp_listen(&o->tcp)) < 0)
                return log_error_errno(s->tcp_fd, "cannot listen on %s: %m", o->tcp.text);
        if (o->web.set && (r = vmd_web_start(&s->web, o->websockify, o->novnc_dir, o->web.text, o->listen, o->web_cert,
                                             o->web_key)) < 0)
                return log_error_errno(r, "cannot start the web console (%s, %s): %m", o->websockify, o->novnc_dir);
        const char *scheme = !o->web.set ? "" : o->web_cert ? "; web console on https://" : "; web console on http://";
        log_info("serving VNC on %s%s%s%s%s%s", o->listen, o->tcp.set ? " and " : "", o->tcp.set ? o->tcp.text : "",
                 scheme, o->web.set ? o->web.text : "", o->web.set ? "/" : "");
        return 0;
}

/* One message from the worker; false ends the loop. */
static bool on_message(struct server *s, struct display_msg *m, int fd) {
        int ev = vmd_session_apply(&s->session, m, fd >= 0);
        if (ev < 0) {
                safe_close(fd);
                log_error_errno(ev, "the worker broke the display protocol (message type %u): %m", m->type);
                finish(s, VMD_EXIT_PROTOCOL);
                return false;
        }
        switch (ev) {
        case VMD_SESSION_HELLO:
                if (on_hello(s, m, fd) < 0)
                        finish(s, VMD_EXIT_PROTOCOL);
                break;
        case VMD_SESSION_MODE:
                if (show_current(s) < 0)
                        finish(s, VMD_EXIT_FAILURE);
                break;
        case VMD_SESSION_STATUS:
                if (!s->fb.guest && show_current(s) < 0) /* the message names the drivers */
                        finish(s, VMD_EXIT_FAILURE);
                break;
        case VMD_SESSION_DIRTY:
                for (uint32_t i = 0; i < m->dirty.count; i++) {
                        vmd_fb_update(&s->fb, &m->dirty.rect[i]);
                        vmd_vnc_mark(s->vnc, &m->dirty.rect[i]);
                }
                break;
        case VMD_SESSION_BYE:
                log_error("another display server is connected to the worker: this one got a snapshot");
                finish(s, VMD_EXIT_REFUSED);
                break;
        default:
                break;
        }
        /* Listening waits until the worker treats us as its display
         * server: one that got a snapshot must not take over the socket
         * path of the server that is connected. */
        if (!s->done && s->session.serving && s->unix_fd < 0 && start_listening(s) < 0)
                finish(s, VMD_EXIT_FAILURE);
        return !s->done;
}

static void handle_link(struct server *s) {
        for (int i = 0; i < LINK_BATCH && !s->done; i++) {
                struct display_msg m;
                int fd;
                int r = vmd_link_recv(s->link, &m, &fd);
                if (r == 0)
                        return;
                if (r == -ECONNRESET || r == -EPIPE) {
                        log_error("the worker closed the display socket");
                        finish(s, VMD_EXIT_WORKER_GONE);
                } else if (r < 0) {
                        log_error_errno(r, "bad message from the worker: %m");
                        finish(s, r == -EBADMSG || r == -EPROTO ? VMD_EXIT_PROTOCOL : VMD_EXIT_WORKER_GONE);
                } else if (!on_message(s, &m, fd))
                        return;
        }
}

static void handle_accept(struct server *s, int lfd) {
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(-errno, "accept: %m");
                        return;
                }
                int r = vmd_vnc_add_client(s->vnc, fd);
                if (r == -EBUSY)
                        log_notice("a viewer refused: %u are connected (--max-clients)", s->opt->max_clients);
                else if (r < 0)
                        log_debug_errno(r, "a viewer failed to connect: %m");
        }
}

static void handle_signals(struct server *s) {
        struct signalfd_siginfo si;
        while (read(s->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                        int status;
                        if (vmd_web_exited(&s->web, &status)) {
                                log_error("websockify ended (status 0x%x): the web console is gone", status);
                                finish(s, VMD_EXIT_FAILURE);
                        }
                } else {
                        log_info("stopping on signal %u", si.ssi_signo);
                        finish(s, VMD_EXIT_OK);
                }
        }
}

static void loop(struct server *s) {
        while (!s->done) {
                struct pollfd p[POLL_MAX];
                size_t n = 0;
                /* Idle, the loop sleeps until something happens: no timer
                 * runs unless a connection is still logging in. */
                int timeout = vmd_vnc_expire(s->vnc);
                p[n++] = (struct pollfd){ .fd = s->link, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = s->unix_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = s->tcp_fd, .events = POLLIN }; /* -1: ignored */
                n += vmd_vnc_pollfds(s->vnc, p + n, POLL_MAX - n);
                if (poll(p, (nfds_t)n, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(-errno, "poll: %m");
                        finish(s, VMD_EXIT_FAILURE);
                        break;
                }
                if (p[1].revents)
                        handle_signals(s);
                if (p[0].revents && !s->done)
                        handle_link(s);
                if (p[2].revents && !s->done)
                        handle_accept(s, s->unix_fd);
                if (p[3].revents && !s->done)
                        handle_accept(s, s->tcp_fd);
                /* Viewers' input, and the updates the worker's messages made due. */
                if (!s->done)
                        vmd_vnc_process(s->vnc);
        }
}

static int signals_open(void) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        return RET_NERRNO(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
}

static int start_vnc(struct server *s, const char *password) {
        const struct vmd_options *o = s->opt;
        struct vmd_vnc_config cfg = { .name = o->name, .password = password, .max_clients = o->max_clients,
                                      .login_ms = o->login_ms, .keymap = s->keymap };
        struct vmd_vnc_ops ops = { .key = on_key, .pointer = on_pointer, .viewer_ready = on_viewer_ready,
                                   .userdata = s };
        int r = vmd_vnc_new(&cfg, &ops, &s->vnc);
        if (r < 0)
                return log_error_errno(r, "cannot set up VNC: %m");
        return show_current(s);
}

enum vmd_exit vmd_server_run(const struct vmd_options *o) {
        struct server s = { .opt = o, .link = -1, .unix_fd = -1, .tcp_fd = -1, .sig_fd = -1,
                            .fb = { .force_copy = o->copy_framebuffer },
                            .drop_rl = RATELIMIT_INIT(10 * 1000000ull, 1) };
        char password[VMD_PASSWORD_MAX + 1] = "", err[512];
        if (o->password_file && vmd_password_read(o->password_file, password, sizeof password, err, sizeof err) < 0) {
                log_error("%s", err);
                return VMD_EXIT_USAGE;
        }
        if (vmd_keymap_load(o->keymap, &s.keymap, err, sizeof err) < 0) {
                log_error("%s", err);
                explicit_bzero(password, sizeof password);
                return VMD_EXIT_USAGE;
        }
        if (s.keymap)
                log_info("keyboard layout %s: %zu symbols", s.keymap->name, s.keymap->n);
        s.sig_fd = signals_open();
        s.link = vmd_link_connect(o->connect);
        if (s.link < 0) {
                log_error_errno(s.link, "cannot connect to the worker's display socket %s: %m", o->connect);
                s.exit = VMD_EXIT_WORKER_GONE;
        } else if (s.sig_fd < 0) {
                log_error_errno(s.sig_fd, "signalfd: %m");
                s.exit = VMD_EXIT_FAILURE;
        } else if (start_vnc(&s, o->password_file ? password : NULL) < 0) {
                s.exit = VMD_EXIT_FAILURE;
        } else
                loop(&s);
        explicit_bzero(password, sizeof password);
        vmd_web_stop(&s.web);
        vmd_vnc_free(s.vnc);
        vmd_keymap_free(s.keymap);
        if (s.unix_fd >= 0)
                unlink(o->listen);
        safe_close(s.unix_fd);
        safe_close(s.tcp_fd);
        safe_close(s.link);
        safe_close(s.sig_fd);
        if (s.fb.map)
                munmap((void *)s.fb.map, s.fb.map_bytes);
        vmd_fb_done(&s.fb);
        return s.exit;
}
