/* SPDX-License-Identifier: MIT */
/* Re-attach (common/proto.h, "reattach-listen"): vmms hands the worker a
 * listening SOCK_SEQPACKET socket; a vmms that restarted connects there and
 * becomes the control peer, so the VM keeps running across a vmms restart
 * or upgrade. Written by the vmms side (issue #9); run.c calls it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct devworker;
struct vmwp_reattach;

/* A new control connection (fd, blocking, close-on-exec) was accepted. */
typedef void (*vmwp_reattach_fn)(int fd, void *userdata);

/* {"op":"reattach-listen"}? */
bool vmwp_reattach_is_request(struct json_object *req);

/* Handles the request: takes fds[0] when it is a listening SOCK_SEQPACKET
 * socket (closing every other fd) and starts accepting on it. Returns the
 * reply to send ({"ok":true} or an error; NULL without memory). A second
 * request replaces the listener. */
struct json_object *vmwp_reattach_take(struct vmwp_reattach **ra, struct devworker *loop, struct json_object *req,
                                       int *fds, size_t n_fds, vmwp_reattach_fn fn, void *userdata);

void vmwp_reattach_free(struct vmwp_reattach *ra);
