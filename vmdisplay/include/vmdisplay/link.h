/* SPDX-License-Identifier: MIT */
/* The display socket to the VM's worker (common/display.h): one
 * SOCK_SEQPACKET datagram per message, the framebuffer memfd with HELLO. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/display.h"

/* Connects to the worker's display socket at path: a non-blocking
 * socket, or -errno. */
int vmd_link_connect(const char *path);

/* Receives one message: 1 with *m parsed and *fd the descriptor that
 * came with it (-1: none; the caller owns it), 0 when there is nothing to
 * read, -ECONNRESET when the worker closed the socket, -EBADMSG for a
 * malformed or truncated message, -EPROTO for control data other than one
 * descriptor (whatever came is closed). */
int vmd_link_recv(int sock, struct display_msg *m, int *fd);

/* Sends one message without waiting: 0, -EAGAIN when the worker is not
 * reading (the caller drops input rather than stall every viewer), or
 * -errno. */
int vmd_link_send(int sock, const struct display_msg *m);

/* Maps the memfd of HELLO read-only: its first bytes (the HELLO's
 * fb_bytes), after checking the file holds them (a shorter one would
 * fault on a read). *sealed: it cannot shrink later either (F_SEAL_SHRINK;
 * without it a worker that truncates the memfd makes our reads fault).
 * -EPROTO when it is too short, or -errno. */
int vmd_link_map(int fd, uint32_t bytes, const uint8_t **map, bool *sealed);
