// SPDX-License-Identifier: MIT
/* TAP link state from RTNLGRP_LINK notifications (libnl-route): admin
 * up/down, carrier, MTU, deletion. netvsp turns changes into RNDIS
 * MEDIA_CONNECT / MEDIA_DISCONNECT indications (§7.6 "Link changes"). */
#include <errno.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <poll.h>

#ifndef IFF_LOWER_UP /* <linux/if.h>, which clashes with <net/if.h> */
#define IFF_LOWER_UP 0x10000
#endif

#include "common/log.h"
#include "tap-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);

static void mark_removed_locked(struct tap *t) {
        if (!t->link.removed)
                t->link_changed = true;
        t->link.removed = true;
        t->link.carrier = false;
        t->link.admin_up = false;
        atomic_store(&t->gone, true);
}

void tap_mark_removed(struct tap *t) {
        pthread_mutex_lock(&t->link_lock);
        mark_removed_locked(t);
        pthread_mutex_unlock(&t->link_lock);
}

static void apply_link(struct tap *t, struct rtnl_link *l, bool deleted) {
        if (rtnl_link_get_ifindex(l) != t->ifindex)
                return;
        unsigned flags = rtnl_link_get_flags(l);
        pthread_mutex_lock(&t->link_lock);
        if (deleted) {
                mark_removed_locked(t);
        } else if (!t->link.removed) {
                struct tap_link_state s = t->link;
                s.admin_up = flags & IFF_UP;
                s.carrier = flags & IFF_LOWER_UP;
                s.mtu = rtnl_link_get_mtu(l);
                if (s.admin_up != t->link.admin_up || s.carrier != t->link.carrier || s.mtu != t->link.mtu)
                        t->link_changed = true;
                t->link = s;
        }
        pthread_mutex_unlock(&t->link_lock);
}

struct parse_ctx {
        struct tap *t;
        bool deleted;
};

static void on_object(struct nl_object *obj, void *arg) {
        struct parse_ctx *c = arg;
        apply_link(c->t, (struct rtnl_link *)obj, c->deleted);
}

static int on_valid(struct nl_msg *msg, void *arg) {
        struct parse_ctx c = { arg, nlmsg_hdr(msg)->nlmsg_type == RTM_DELLINK };
        /* other objects (or unparsable ones) are not ours: ignore them */
        (void)nl_msg_parse(msg, on_object, &c);
        return NL_OK;
}

int tap_link_watch(struct tap *t) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        if (t->mon)
                return nl_socket_get_fd(t->mon);
        r = tap_nl_connect(&sk);
        if (r < 0)
                return r;
        nl_socket_disable_seq_check(sk);
        r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, t);
        if (r >= 0)
                r = nl_socket_add_memberships(sk, RTNLGRP_LINK, 0);
        if (r >= 0)
                r = nl_socket_set_nonblocking(sk);
        if (r < 0)
                return tap_nl_errno(r);
        /* Subscribed first, then read: a change in between is not lost. */
        r = rtnl_link_get_kernel(sk, t->ifindex, NULL, &l);
        if (r < 0) {
                if (tap_nl_errno(r) != -ENODEV)
                        return tap_nl_errno(r);
                tap_mark_removed(t);
        } else {
                t->ifindex = rtnl_link_get_ifindex(l);
                apply_link(t, l, false);
        }
        pthread_mutex_lock(&t->link_lock);
        t->link_changed = false;
        pthread_mutex_unlock(&t->link_lock);
        t->mon = TAKE_PTR(sk);
        return nl_socket_get_fd(t->mon);
}

/* Re-reads the link after lost notifications (ENOBUFS on the socket). */
static int refresh(struct tap *t) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r = tap_nl_connect(&sk);
        if (r < 0)
                return r;
        r = rtnl_link_get_kernel(sk, t->ifindex, NULL, &l);
        if (r < 0) {
                r = tap_nl_errno(r);
                if (r == -ENODEV)
                        tap_mark_removed(t);
                return r == -ENODEV ? 0 : r;
        }
        apply_link(t, l, false);
        return 0;
}

int tap_link_process(struct tap *t, struct tap_link_state *st) {
        if (!t->mon)
                return -EINVAL;
        /* Non-blocking: nl_recvmsgs() returns 0 both for "handled a datagram"
         * and "nothing there", so ask poll() whether more is queued. The
         * bound keeps a flood of foreign link events from starving the
         * caller's loop; the rest is read on the next POLLIN. */
        for (int i = 0; i < 64; i++) {
                struct pollfd p = { .fd = nl_socket_get_fd(t->mon), .events = POLLIN };
                if (poll(&p, 1, 0) <= 0)
                        break;
                int r = nl_recvmsgs_default(t->mon);
                if (r == -NLE_NOMEM) { /* ENOBUFS: notifications were lost */
                        r = refresh(t);
                        if (r < 0)
                                return r;
                } else if (r < 0 && r != -NLE_AGAIN) {
                        return tap_nl_errno(r);
                }
        }
        pthread_mutex_lock(&t->link_lock);
        *st = t->link;
        bool changed = t->link_changed;
        t->link_changed = false;
        pthread_mutex_unlock(&t->link_lock);
        return changed ? 1 : 0;
}

void tap_link_state(struct tap *t, struct tap_link_state *st) {
        pthread_mutex_lock(&t->link_lock);
        *st = t->link;
        pthread_mutex_unlock(&t->link_lock);
}

int tap_set_up(struct tap *t, bool up) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL, *change = NULL;
        int r = tap_nl_connect(&sk);
        if (r < 0)
                return r;
        r = rtnl_link_get_kernel(sk, t->ifindex, NULL, &link);
        if (r < 0)
                return tap_nl_errno(r);
        change = rtnl_link_alloc();
        if (!change)
                return -ENOMEM;
        if (up)
                rtnl_link_set_flags(change, IFF_UP);
        else
                rtnl_link_unset_flags(change, IFF_UP);
        return tap_nl_errno(rtnl_link_change(sk, link, change, 0));
}
