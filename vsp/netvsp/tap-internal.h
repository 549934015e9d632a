/* SPDX-License-Identifier: MIT */
/* Shared by tap.c (fd, setup, I/O) and tap-link.c (link watch). */
#pragma once

#include "netvsp/tap.h"

struct nl_sock;

struct tap {
        int fd;
        char name[TAP_IFNAME_MAX];
        int ifindex;
        bool vnet_hdr;       /* IFF_VNET_HDR: frames carry a virtio_net_hdr */
        bool multi_queue;    /* IFF_MULTI_QUEUE: one of the TAP's queues */
        struct nl_sock *mon; /* RTNLGRP_LINK subscription, NULL until tap_link_watch() */
        struct tap_link_state link;
        bool link_changed;   /* set by the netlink callback, cleared by tap_link_process() */
};

/* libnl's positive NLE_* codes as negative errno. */
int tap_nl_errno(int nle);
/* Opens a route netlink socket (caller frees with nl_socket_free). */
int tap_nl_connect(struct nl_sock **out);
/* Marks the TAP gone (I/O saw it, or RTM_DELLINK). */
void tap_mark_removed(struct tap *t);
