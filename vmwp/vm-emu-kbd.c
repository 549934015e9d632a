// SPDX-License-Identifier: MIT
/* --keyboard socket:PATH: host keystrokes for the emulated i8042. Each
 * byte a client writes is one character typed on a US keyboard (emu/
 * keymap.c: printable ASCII, Enter for CR or LF, Tab, Backspace for BS or
 * DEL, Esc, Ctrl+letter for 01h-1Ah); other bytes are dropped and
 * counted. One client at a time, like the serial socket; the socket and
 * its clients live on the emulated devices' service thread. While the
 * keyboard's queue is full the client is not read (its bytes wait in the
 * socket). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "emu/i8042.h"
#include "emu/service.h"
#include "vm-emu.h"

#define KBD_READ_MAX 64u

struct vmwp_kbd_socket {
        struct i8042 *kbd;
        struct emu_service *svc;
        int listen_fd, client_fd;
        int listen_src, client_src;
        uint8_t pending[KBD_READ_MAX];
        size_t len, off;
};

/* Types what was read; false when the keyboard's queue filled up. */
static bool feed(struct vmwp_kbd_socket *ks) {
        while (ks->off < ks->len) {
                if (i8042_type_char(ks->kbd, ks->pending[ks->off]) == -ENOBUFS)
                        return false;
                ks->off++; /* typed, or no key types it (dropped and counted by the i8042) */
        }
        ks->len = ks->off = 0;
        return true;
}

static void drop_client(struct vmwp_kbd_socket *ks) {
        emu_service_remove(ks->svc, ks->client_src);
        ks->client_fd = safe_close(ks->client_fd);
        ks->client_src = -1;
        ks->len = ks->off = 0;
}

static void client_event(void *opaque, short revents) {
        struct vmwp_kbd_socket *ks = opaque;
        if (ks->len == 0) {
                ssize_t n = read(ks->client_fd, ks->pending, sizeof ks->pending);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return drop_client(ks);
                if (n < 0)
                        return;
                ks->len = (size_t)n;
                ks->off = 0;
        }
        if (!feed(ks))
                emu_service_set_events(ks->svc, ks->client_src, 0); /* until the guest reads */
}

void vmwp_kbd_socket_resume(struct vmwp_kbd_socket *ks) {
        if (ks->client_fd >= 0 && ks->len > 0 && feed(ks))
                emu_service_set_events(ks->svc, ks->client_src, POLLIN);
}

static void resume_hook(void *opaque) {
        vmwp_kbd_socket_resume(opaque);
}

static void listen_event(void *opaque, short revents) {
        struct vmwp_kbd_socket *ks = opaque;
        int fd = accept4(ks->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        if (ks->client_fd >= 0) {
                close(fd); /* one client at a time */
                return;
        }
        int src = emu_service_add(ks->svc, fd, POLLIN, client_event, ks);
        if (src < 0) {
                close(fd);
                return;
        }
        ks->client_fd = fd;
        ks->client_src = src;
}

static void close_all(void *opaque) {
        struct vmwp_kbd_socket *ks = opaque;
        safe_close(ks->client_fd);
        safe_close(ks->listen_fd);
        free(ks);
}

static int open_listener(const char *path, char *err, size_t errlen) {
        int r = unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 1, 0);
        if (r < 0)
                snprintf(err, errlen, "keyboard socket %s: %s", path,
                         r == -EEXIST ? "exists and is not a socket" : strerror(-r));
        return r;
}

int vmwp_kbd_socket_open(const char *path, struct i8042 *k, struct emu_service *svc, struct vmwp_kbd_socket **out,
                         char *err, size_t errlen) {
        struct vmwp_kbd_socket *ks = calloc(1, sizeof *ks);
        if (!ks)
                return -ENOMEM;
        *ks = (struct vmwp_kbd_socket){ .kbd = k, .svc = svc, .client_fd = -1, .client_src = -1 };
        ks->listen_fd = open_listener(path, err, errlen);
        if (ks->listen_fd < 0) {
                int r = ks->listen_fd;
                free(ks);
                return r;
        }
        ks->listen_src = emu_service_add(svc, ks->listen_fd, POLLIN, listen_event, ks);
        int r = ks->listen_src;
        if (r >= 0 && (r = emu_service_on_wake(svc, resume_hook, ks)) >= 0)
                r = emu_service_on_exit(svc, close_all, ks);
        if (r < 0) {
                /* Only reachable with the service's tables full: a bug. */
                snprintf(err, errlen, "keyboard socket %s: %s", path, strerror(-r));
                if (ks->listen_src >= 0)
                        emu_service_remove(svc, ks->listen_src);
                safe_close(ks->listen_fd);
                free(ks);
                return r;
        }
        *out = ks;
        return 0;
}
