/* SPDX-License-Identifier: MIT */
/* Where COM1 goes (vmwp --serial): stdio, a file, a unix socket (one client
 * at a time, its input goes to the guest; a second one is refused with a
 * line of text) or a pty; plus, independently,
 * the config's serial_log file. Output is called on vCPU threads; input is
 * read by the worker's main loop and fed to the UART with backpressure
 * (nothing is read while the UART's input queue is full). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct devworker;
struct uart;
struct vmwp_console;

enum vmwp_console_kind {
        VMWP_CONSOLE_NONE,
        VMWP_CONSOLE_STDIO,
        VMWP_CONSOLE_FILE,
        VMWP_CONSOLE_SOCKET,
        VMWP_CONSOLE_PTY,
};

struct vmwp_console_spec {
        enum vmwp_console_kind kind;
        char path[VM_PATH_MAX]; /* file: and socket: */
};

/* "stdio", "file:PATH", "socket:PATH", "pty" or "none". -EINVAL otherwise. */
int vmwp_console_spec_parse(const char *s, struct vmwp_console_spec *out);

struct vmwp_console_stats {
        uint64_t out_bytes, out_dropped, in_bytes, clients;
};

/* The serial_log: log_fd when vmms opened it (taken, also on error), else
 * log_path is opened (may be NULL or "": none). */
int vmwp_console_open(const struct vmwp_console_spec *spec, const char *log_path, int log_fd,
                      struct vmwp_console **out, char *err, size_t errlen);
void vmwp_console_free(struct vmwp_console *c);
/* Starts reading input (and accepting clients) on loop into u. */
int vmwp_console_attach(struct vmwp_console *c, struct devworker *loop, struct uart *u);
/* One byte from the guest (vCPU thread). Never blocks on a socket or pty
 * client: what it cannot take is dropped and counted. */
void vmwp_console_output(struct vmwp_console *c, uint8_t byte);
/* Called from the UART when its input queue has room again (any thread). */
void vmwp_console_input_ready(struct vmwp_console *c);
/* The socket console's client slot, for vmms's "console-status": whether a
 * client holds it, how many were accepted so far (the holder is number
 * `clients`) and since when (CLOCK_REALTIME µs). Accepts queued connections
 * and drops a client that has hung up first. -ENOTSUP for other sinks. */
struct vmwp_console_client {
        bool connected;
        uint64_t clients, since_us;
};
int vmwp_console_client_status(struct vmwp_console *c, struct vmwp_console_client *out);
/* The pty's slave path, or NULL. */
const char *vmwp_console_pty_path(const struct vmwp_console *c);
void vmwp_console_get_stats(struct vmwp_console *c, struct vmwp_console_stats *out);
