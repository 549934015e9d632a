/* SPDX-License-Identifier: MIT */
/* Hyper-V sockets (hv_sock): AF_VSOCK streams between a guest and host
 * processes over VMBus, the host side as Unix sockets ("hybrid vsock", as
 * Firecracker and OpenVMM do it). docs/hvsock.md has the protocol, the
 * lifecycle of a connection and the limits.
 *
 * Every connection is a VMBus device of its own (one channel, offered with
 * the hv_sock flags, class = the service GUID of the listening port,
 * instance = the other end's). The guest connects with TL_CONNECT_REQUEST:
 * the owner's connect callback finds a host socket for the port (vmwp asks
 * vmms, which connects to the Unix socket the operator configured) and
 * hvsock offers the channel; the guest opens it and the bytes flow. A host
 * process connects the other way through the owner (vmwp accepts on the
 * VM's socket) and writes "CONNECT <port>\n"; hvsock offers a channel the
 * guest's listener accepts and answers "OK <host port>\n".
 *
 * One device worker per VM (common/devworker.h) moves the bytes of every
 * connection: the host sockets and the channels' doorbells are its
 * sources, as every VSP serves its channels. */
#pragma once

#include <stdint.h>

#include "common/device.h"
#include "common/guid.h"

struct vmbus_server;
struct hvsock;

#define HVSOCK_OFFER_TIMEOUT_MS 5000u

struct hvsock_config {
        unsigned max_connections;  /* live connections, any state [256] */
        unsigned max_pending;      /* guest connects waiting for connect_done [32] */
        /* An offer the guest has not opened by then is withdrawn
         * [HVSOCK_OFFER_TIMEOUT_MS]: a wait on the guest, so the owner
         * scales it with the guest's clock (vmwp: its time dilation). */
        unsigned offer_timeout_ms;
        unsigned hello_timeout_ms; /* a host client must have sent its CONNECT line by then [5000] */
        /* The guest connects to port (0..0x7fffffff): find the host socket
         * and answer with hvsock_connect_done(token, fd or -errno), at once
         * or later, from any thread. Called on the device worker's thread;
         * must not block. A negative return refuses at once. Required. */
        int (*connect)(void *opaque, uint32_t port, uint64_t token);
        void *connect_opaque;
        /* Called first thing on the worker's thread with the policy name
         * "hvsock" (vmwp: sandbox_thread_hook, docs/sandbox.md); NULL: none. */
        int (*thread_policy)(void *opaque, const char *policy);
        void *thread_policy_opaque;
};

int hvsock_new(const struct hvsock_config *cfg, struct hvsock **out);
/* The vmbus_tl_connect_fn to give the server (opaque = the hvsock). */
void hvsock_tl_connect(void *hs, const struct guid *endpoint, const struct guid *service);
/* Replaces the configuration's offer_timeout_ms (0: the default), from
 * any thread, for offers made from then on: the owner learns the guest's
 * clock again when a restore has run (vmwp: hvshim's time dilation, which
 * a restore takes from the saved state). */
void hvsock_set_offer_timeout(struct hvsock *hs, unsigned ms);
/* Starts the device worker on srv, which must have been created with
 * hvsock_tl_connect. */
int hvsock_start(struct hvsock *hs, struct vmbus_server *srv);
/* The answer to a connect callback: fd (taken, any stream socket) or a
 * negative errno. -ENOENT for an unknown or expired token (fd is closed). */
int hvsock_connect_done(struct hvsock *hs, uint64_t token, int fd);
/* A host process connected to the VM's hv_sock socket: fd (taken) speaks
 * "CONNECT <port>\n" first. -EMFILE past max_connections (fd closed). */
int hvsock_host_client(struct hvsock *hs, int fd);
/* Close every connection (host sockets closed, channels rescinded) and
 * refuse new ones until hvsock_resume: a save or a migration's last pass
 * does this before vmbus_server_quiesce, as connections to host processes
 * cannot be saved. Works on a quiesced hvsock too (a save of a paused
 * VM). Waits up to timeout_ms: 0, or -ETIMEDOUT while a rescind cannot be
 * queued (a guest that takes no messages; the save then fails on the
 * channel still open). */
int hvsock_suspend(struct hvsock *hs, unsigned timeout_ms);
void hvsock_resume(struct hvsock *hs);
/* The device contract's quiesce (its row's, a VM's pause): parks the
 * worker, so no ring is read or written and no byte of a host socket
 * moves until hvsock_unquiesce; requests queue meanwhile. Idempotent. */
int hvsock_quiesce(struct hvsock *hs);
void hvsock_unquiesce(struct hvsock *hs);
/* Stops the device worker (no server calls from it afterwards). Call
 * before vmbus_server_free, then hvsock_free after it. */
void hvsock_stop(struct hvsock *hs);
void hvsock_free(struct hvsock *hs);

struct hvsock_stats {
        uint64_t guest_connects, host_connects; /* requests taken */
        uint64_t refused;                       /* answered with TL_CONNECT_RESULT or a closed client */
        uint64_t opened, closed, timed_out;     /* channels opened, connections ended, offers withdrawn */
        uint64_t protocol_errors;               /* a malformed pipe packet ended the connection */
        uint64_t bytes_to_host, bytes_to_guest;
        unsigned live;
        unsigned offer_timeout_ms; /* in force (hvsock_set_offer_timeout) */
};
void hvsock_get_stats(struct hvsock *hs, struct hvsock_stats *out);

/* Service GUIDs (<port>-facb-11e6-bd58-64006a7986d3). */
void hvsock_service_id(uint32_t port, struct guid *out);
/* The port of a service GUID; -EINVAL if g is not one. */
int hvsock_service_port(const struct guid *g, uint32_t *port);
/* Parses a host client's first line ("CONNECT <port>\n", port a decimal
 * listening port). Returns the bytes consumed (the line), 0 if more bytes
 * are needed (no newline yet in len < 64 bytes), -EINVAL if malformed. */
int hvsock_parse_connect_line(const char *buf, size_t len, uint32_t *port);
/* A pipe packet's payload (after the VMBus descriptor): 0 with *data and
 * *n the bytes it carries (n = 0: the sender shut down), -EBADMSG if it is
 * not a data message within the MTU and the packet. */
int hvsock_parse_pipe(const uint8_t *payload, size_t len, const uint8_t **data, size_t *n);

/* The row of the worker's device table (common/device.h, state.c), after
 * the VMBus server's; its dev is the struct hvsock. It saves nothing: its
 * detach and attach are hvsock_suspend and hvsock_resume. */
extern const struct device_ops hvsock_device_ops;
