/* SPDX-License-Identifier: MIT */
/* TAP backend: the host side of a synthetic NIC (docs/netvsp.md).
 *
 * Three ways in: create a TAP (needs CAP_NET_ADMIN; set up with libnl-route:
 * MTU, up, optional bridge master), open a pre-created TAP by name, or adopt
 * a TAP file descriptor vmms hands over (the worker then needs no privilege).
 * The fd is IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, non-blocking, with
 * TUNSETOFFLOAD(0): the kernel hands us complete, checksummed frames, while
 * our writes may carry checksum/GSO requests in the virtio_net_hdr. An
 * adopted fd may lack IFF_VNET_HDR (the flag is fixed when the fd was
 * attached): the callers' frames still start with a virtio_net_hdr, which is
 * dropped on write (it must then request nothing: tap_has_vnet_hdr() tells
 * the device not to offer offloads) and zeroed on read.
 *
 * Reads and writes never block. A TAP deleted under a running VM turns into
 * an error state (tap_removed()), not a crash: I/O returns -ENODEV from then
 * on and the link watch reports it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/macro.h"

#define TAP_IFNAME_MAX 16 /* IFNAMSIZ */
#define TAP_VNET_HDR_LEN 10u /* struct virtio_net_hdr */

struct tap;

struct tap_config {
        char name[TAP_IFNAME_MAX];   /* create: wanted name ("" = kernel picks vmtap%d); open: existing */
        char bridge[TAP_IFNAME_MAX]; /* create/open: make this bridge the master ("" = none) */
        uint32_t mtu;                /* 0 = leave as is */
        bool create;                 /* false: the TAP must exist already */
        /* create: the TAP's own MAC (set_mac), as vmms sets it on the TAPs it
         * creates: FE and the guest's last five bytes, stable across the
         * workers of one VM, so the bridge's address (the lowest of its
         * ports') does not change under a guest that cached it. */
        bool set_mac;
        uint8_t mac[6];
        /* > 1: a multi-queue TAP (IFF_MULTI_QUEUE; vRSS, docs/netvsp.md):
         * tap_open attaches the first queue, tap_open_queue the others. */
        uint32_t queues;
};

int tap_open(const struct tap_config *cfg, struct tap **out);
/* Takes ownership of fd (a TUNSETIFF'd TAP with IFF_NO_PI, with or without
 * IFF_VNET_HDR; -EINVAL for a TUN or a TAP with packet information, the fd
 * is then still the caller's); changes no link settings. */
int tap_adopt_fd(int fd, struct tap **out);
/* Another queue of the multi-queue TAP first was opened with (its name,
 * IFF_MULTI_QUEUE); -EINVAL when first is not multi-queue. */
int tap_open_queue(const struct tap *first, struct tap **out);
/* A queue of a multi-queue TAP taken out of (attach false) or put back
 * into (true) the kernel's choice for frames to read: TUNSETQUEUE. */
int tap_set_queue(struct tap *t, bool attach);
bool tap_multi_queue(const struct tap *t);
/* Closes the fd (a TAP we created disappears with it) and the link watch. */
void tap_close(struct tap *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tap *, tap_close);
#define _cleanup_tap_close_ _cleanup_(tap_closep)

int tap_fd(const struct tap *t);
const char *tap_name(const struct tap *t);
int tap_ifindex(const struct tap *t);
bool tap_removed(const struct tap *t);
/* false for an adopted fd without IFF_VNET_HDR: no checksum/GSO offloads. */
bool tap_has_vnet_hdr(const struct tap *t);

/* One frame: iov[0] must be the TAP_VNET_HDR_LEN-byte virtio_net_hdr.
 * readv returns the bytes read (header included), -EAGAIN when empty,
 * -ENODEV once the TAP is gone, other -errno on error.
 * writev returns 0 when the frame was taken, -EAGAIN when the TAP queue is
 * full (retry after POLLOUT), -ENODEV once the TAP is gone, another -errno
 * when the kernel refused this frame (dropped). */
ssize_t tap_readv(struct tap *t, const struct iovec *iov, int n);
/* Which GSO frames reads may return (TUNSETOFFLOAD; it applies to every
 * queue of the TAP): TCP over IPv4 and/or IPv6, with partial checksums
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM) and ECN; both false: complete, checksummed
 * frames only (how a TAP is opened). -EOPNOTSUPP without IFF_VNET_HDR. */
int tap_set_rx_gso(struct tap *t, bool tcp4, bool tcp6);
int tap_writev(struct tap *t, const struct iovec *iov, int n);

/* ---- link state (tap-link.c) ---- */

struct tap_link_state {
        bool admin_up; /* IFF_UP */
        bool carrier;  /* IFF_LOWER_UP */
        bool removed;  /* RTM_DELLINK seen or I/O said ENODEV */
        uint32_t mtu;
};

/* Starts watching RTNLGRP_LINK; returns the netlink fd to poll (POLLIN),
 * which stays the same until tap_close(). Also reads the current state. */
int tap_link_watch(struct tap *t);
/* Processes pending link notifications for this TAP. Returns 1 when the
 * state changed (st receives it), 0 when not, -errno on error. */
int tap_link_process(struct tap *t, struct tap_link_state *st);
void tap_link_state(struct tap *t, struct tap_link_state *st);
/* Sets the TAP administratively up or down (CAP_NET_ADMIN). */
int tap_set_up(struct tap *t, bool up);
