/* SPDX-License-Identifier: MIT */
/* Shared by tap.c (fd, setup, I/O) and tap-link.c (link watch). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "netvsp/tap.h"

struct nl_sock;

struct tap {
        int fd;
        char name[TAP_IFNAME_MAX];
        int ifindex;
        bool vnet_hdr;       /* IFF_VNET_HDR: frames carry a virtio_net_hdr */
        bool multi_queue;    /* IFF_MULTI_QUEUE: one of the TAP's queues */
        struct nl_sock *mon; /* RTNLGRP_LINK subscription, NULL until tap_link_watch() */
        /* The link watch's thread (the primary channel's) writes the link,
         * an I/O error on any channel's thread marks it removed, and
         * other threads read it (a channel opening, the statistics). */
        pthread_mutex_t link_lock;
        struct tap_link_state link; /* link_lock */
        bool link_changed;          /* link_lock; set by the netlink callback, cleared by tap_link_process() */
        _Atomic bool gone;          /* link.removed, for the I/O paths to read without the lock */
};

/* libnl's positive NLE_* codes as negative errno. */
int tap_nl_errno(int nle);
/* Opens a route netlink socket (caller frees with nl_socket_free). */
int tap_nl_connect(struct nl_sock **out);
/* Marks the TAP gone (I/O saw it, or RTM_DELLINK). */
void tap_mark_removed(struct tap *t);
